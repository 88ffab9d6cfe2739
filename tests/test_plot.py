"""curve.png from a training log: a real PNG of a sensible size, written atomically, without pyplot."""

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from typedrl.errors import RunLogError
from typedrl.plot import plot_curve
from typedrl.runlog import RunLog

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which follows the signature."""
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def small_run(path: Path, evaluations: int = 5) -> RunLog:
    log = RunLog(path, algo="ppo", env_id="CartPole-v1", seed=0, config={}, started_at="2025-01-01T00:00:00+00:00")
    for update in range(1, 2 * evaluations + 1):
        log.record_update(
            update=update,
            env_steps=512 * update,
            wall_seconds=0.1 * update,
            losses={"total": 0.1},
            entropy=0.6,
            learning_rate=3e-4,
            episodes=4,
            episode_return_mean=20.0 * update,
        )
        if update % 2 == 0:
            returns = [40.0 * update - 10, 40.0 * update, 40.0 * update + 10]
            log.record_evaluation(update=update, env_steps=512 * update, wall_seconds=0.1 * update, returns=returns)
    return log


def test_plot_from_a_file_and_from_a_log(tmp_path: Path) -> None:
    log = small_run(tmp_path / "trainlog.json")
    from_file = plot_curve(log.write(), tmp_path / "curve.png")
    data = from_file.read_bytes()
    assert from_file == tmp_path / "curve.png"
    assert data.startswith(PNG_SIGNATURE)
    assert png_size(data) == (800, 450)
    assert 10_000 < len(data) < 1_000_000  # lines, band, labels and legend: far more than an empty canvas
    from_log = plot_curve(log.snapshot(), tmp_path / "sub" / "again.png")
    assert from_log.read_bytes() == data  # same log, same bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curve.png", "sub", "trainlog.json"]


def test_a_log_without_returns_still_plots(tmp_path: Path) -> None:
    empty = RunLog(tmp_path / "trainlog.json", algo="reinforce", env_id="Custom-v0", seed=1, config={})
    data = plot_curve(empty.snapshot(), tmp_path / "curve.png").read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert png_size(data) == (800, 450)


def test_overwrites_atomically_and_reports_unreadable_logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "curve.png"
    log = small_run(tmp_path / "trainlog.json").snapshot()
    before = plot_curve(log, out).read_bytes()

    def crash(descriptor: int) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk gone"):
        plot_curve(small_run(tmp_path / "other.json", evaluations=2).snapshot(), out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curve.png"]
    with pytest.raises(RunLogError, match=r"^load_trainlog: .*missing\.json: no such file$"):
        plot_curve(tmp_path / "missing.json", out)


def test_importing_the_plot_module_does_not_import_matplotlib() -> None:
    code = "import sys, typedrl.plot; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
