"""curve.png from a training log: a real PNG of a sensible size, written atomically, without pyplot."""

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from typedrl.errors import ConfigError, RunLogError
from typedrl.plot import plot_curve, plot_curves
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
    assert png_size(data) == (800, 500)
    assert 10_000 < len(data) < 1_000_000  # lines, band, labels and legend: far more than an empty canvas
    from_log = plot_curve(log.snapshot(), tmp_path / "sub" / "again.png")
    assert from_log.read_bytes() == data  # same log, same bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curve.png", "sub", "trainlog.json"]


def test_a_log_without_returns_still_plots(tmp_path: Path) -> None:
    empty = RunLog(tmp_path / "trainlog.json", algo="reinforce", env_id="Custom-v0", seed=1, config={})
    data = plot_curve(empty.snapshot(), tmp_path / "curve.png").read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert png_size(data) == (800, 500)


def test_overwrites_atomically_and_reports_unreadable_logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "curve.png"
    log = small_run(tmp_path / "trainlog.json").snapshot()
    before = plot_curve(log, out).read_bytes()

    def crash(descriptor: int) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(ConfigError, match=r"curve.png' cannot be written: disk gone$"):
        plot_curve(small_run(tmp_path / "other.json", evaluations=2).snapshot(), out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curve.png"]
    with pytest.raises(RunLogError, match=r"^load_trainlog: .*missing\.json: no such file$"):
        plot_curve(tmp_path / "missing.json", out)


def test_importing_the_plot_module_does_not_import_matplotlib() -> None:
    code = "import sys, typedrl.plot; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_the_format_follows_the_suffix_and_only_files_are_written(tmp_path: Path) -> None:
    log = small_run(tmp_path / "trainlog.json").snapshot()
    assert b"<svg" in plot_curve(log, tmp_path / "curve.svg").read_bytes()[:400]
    assert plot_curve(log, tmp_path / "curve.PDF").read_bytes().startswith(b"%PDF-")
    assert plot_curve(log, tmp_path / "curve.Png").read_bytes().startswith(PNG_SIGNATURE)
    for out, problem in (
        (tmp_path / "curve.txt", f"plot: out is {str(tmp_path / 'curve.txt')!r}; expected a file name ending in"),
        (tmp_path / "curve", f"plot: out is {str(tmp_path / 'curve')!r}; expected a file name ending in"),
        (tmp_path / "dir.png", f"plot: {str(tmp_path / 'dir.png')!r} is a directory; expected a regular file"),
    ):
        if out.name == "dir.png":
            out.mkdir()
        with pytest.raises(ConfigError) as caught:
            plot_curve(log, out)
        assert str(caught.value).startswith(problem)
    assert (tmp_path / "dir.png").is_dir()


def test_the_legend_is_outside_the_axes(tmp_path: Path) -> None:
    """Inside, a legend covers the curve somewhere on every task; below the axes it covers nothing."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from typedrl.plot import _draw

    figure = Figure(figsize=(8.0, 5.0), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    _draw(axes, small_run(tmp_path / "trainlog.json").snapshot())
    figure.canvas.draw()
    assert axes.get_legend() is None
    (legend,) = figure.legends
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    box, plot_area = legend.get_window_extent(renderer), axes.get_window_extent(renderer)
    assert box.y1 <= plot_area.y0  # wholly below the plotting area


def _seed_run(directory: Path, seed: int) -> Path:
    directory.mkdir(parents=True)
    log = RunLog(
        directory / "trainlog.json", algo="ppo", env_id="CartPole-v1", seed=seed, config={}, started_at="2025-01-01"
    )
    for update in range(1, 5):
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
        returns = [30.0 * update * (seed + 1) + offset for offset in (-5.0, 0.0, 5.0)]
        log.record_evaluation(update=update, env_steps=512 * update, wall_seconds=0.1 * update, returns=returns)
    return log.write()


def test_several_seeds_overlay_in_one_figure(tmp_path: Path) -> None:
    logs = [_seed_run(tmp_path / "runs" / f"seed-{seed}", seed) for seed in range(3)]
    one = plot_curves(logs[:1], tmp_path / "one.png").read_bytes()
    three = plot_curves(logs, tmp_path / "three.png").read_bytes()
    assert three.startswith(PNG_SIGNATURE)
    assert png_size(three) == (800, 500)
    assert three != one  # two more curves and bands, two more legend entries
    assert plot_curves(logs, tmp_path / "again.png").read_bytes() == three  # same logs, same bytes
    with pytest.raises(ConfigError, match="no logs given"):
        plot_curves([], tmp_path / "none.png")


def test_the_command_line_overlays_run_directories(tmp_path: Path) -> None:
    for seed in range(2):
        _seed_run(tmp_path / "runs" / f"seed-{seed}", seed)
    result = subprocess.run(
        [sys.executable, "-m", "typedrl", "plot", str(tmp_path / "runs" / "seed-0"), str(tmp_path / "runs" / "seed-1")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str((tmp_path / "runs" / "curves.png").resolve())
    assert (tmp_path / "runs" / "curves.png").read_bytes().startswith(PNG_SIGNATURE)
