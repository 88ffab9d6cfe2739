"""The ``typedrl`` command, run as a subprocess the way a user runs it."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from typedrl.runlog import load_trainlog

COMMAND = [sys.executable, "-m", "typedrl.cli"]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=timeout, env=ENV, check=False)


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("ppo", "reinforce", "eval", "check-env", "plot"):
        assert command in result.stdout
    ppo_help = run("ppo", "--help")
    for flag in ("--env", "--num-envs", "--seed", "--device", "--updates", "--eval-every", "--config", "--resume"):
        assert flag in ppo_help.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ppo", "--bogus"), "typedrl: error: unrecognized arguments: --bogus (see typedrl --help)"),
        (("ppo", "--num-envs", "0"), "typedrl ppo: error: argument --num-envs: 0 is not a positive integer"),
        (("ppo", "--updates", "many"), "typedrl ppo: error: argument --updates: 'many' is not an integer"),
        (("ppo", "--preset", "nope"), "typedrl ppo: error: preset is 'nope'; expected one of default, sb3-zoo"),
        (("reinforce", "--device", "tpu"), "typedrl reinforce: error: argument --device: invalid choice: 'tpu'"),
        (("ppo", "--resume"), "typedrl ppo: error: --resume needs --out DIR"),
        (("ppo", "--env", "CartPole-v9"), "typedrl ppo: error: env_id is 'CartPole-v9': Environment version `v9`"),
        (
            ("ppo", "--env", "Pendulum-v1"),
            "typedrl ppo: error: env 'Pendulum-v1' has Box(-2.0, 2.0, (1,), float32) actions",
        ),
        (("check-env", "NoSuchEnv-v0"), "typedrl check-env: error: Environment `NoSuchEnv` doesn't exist."),
    ],
)
def test_bad_flags_print_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(message)
    assert "Traceback" not in result.stderr


def test_bad_config_file_value(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("num_envs = 0\n")
    result = run("ppo", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.strip().endswith("num_envs: Input should be greater than or equal to 1 (got 0)")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error shown when CUDA is absent")
def test_cuda_without_cuda_is_a_clear_error() -> None:
    result = run("ppo", "--device", "cuda")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "typedrl ppo: error: device is 'cuda', but torch sees no CUDA device; use --device cpu"
    )


def test_full_short_run_leaves_every_artifact(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run("ppo", "--updates", "4", "--eval-every", "2", "--eval-episodes", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "update 2:" in result.stdout
    assert "update 4:" in result.stdout
    assert "\r" not in result.stdout + result.stderr  # no progress bar in a pipe
    for name in ("trainlog.json", "checkpoint.pt", "curve.png"):
        assert (out / name).stat().st_size > 0
    log = load_trainlog(out / "trainlog.json")
    assert [record.update for record in log.updates] == [1, 2, 3, 4]
    assert [record.update for record in log.evaluations] == [2, 4]
    assert log.finished

    evaluated = run("eval", str(out / "checkpoint.pt"), "--episodes", "3", "--max-steps", "50")
    assert evaluated.returncode == 0, evaluated.stderr
    assert evaluated.stdout.startswith(f"CartPole-v1, ppo checkpoint {out / 'checkpoint.pt'}: ")

    plotted = run("plot", str(out / "trainlog.json"), "--out", str(tmp_path / "again.png"))
    assert plotted.returncode == 0, plotted.stderr
    assert (tmp_path / "again.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_resume_after_an_interruption(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["ppo", "--updates", "60", "--eval-every", "2", "--eval-episodes", "2", "--eval-max-steps", "100"]
    process = subprocess.Popen([*COMMAND, *args, "--out", str(out)], env=ENV, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.pt").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGKILL)  # a hard kill: the log and checkpoint must still be whole
    process.wait(timeout=30)
    interrupted = load_trainlog(out / "trainlog.json")
    assert not interrupted.finished
    assert interrupted.updates, "the run was killed before its first update was logged"

    result = run(*args, "--out", str(out), "--resume", timeout=300)
    assert result.returncode == 0, result.stderr
    log = load_trainlog(out / "trainlog.json")
    assert log.finished
    assert [record.update for record in log.updates] == list(range(1, 61))
    steps = [record.env_steps for record in log.updates]
    assert steps == sorted(steps)
    assert steps[-1] == 60 * 256


def test_resume_with_other_flags_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert run("ppo", "--updates", "2", "--eval-every", "0", "--out", str(out), "--quiet").returncode == 0
    result = run("ppo", "--updates", "3", "--out", str(out), "--resume")
    assert result.returncode == 2
    assert "the config differs" in result.stderr


def test_reinforce_prints_one_line_per_epoch(tmp_path: Path) -> None:
    result = run("reinforce", "--epochs", "2", "--out", str(tmp_path / "r"), "--log", str(tmp_path / "log.json"))
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("epoch:")]
    assert len(lines) == 2
    assert lines[0].startswith("epoch: 1   episodes: ")
    assert json.loads((tmp_path / "log.json").read_text())["algo"] == "reinforce"


def test_check_env_reports_a_good_env() -> None:
    result = run("check-env", "CartPole-v1", "--steps", "300")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "CartPole-v1" in result.stdout


def test_quiet_prints_nothing(tmp_path: Path) -> None:
    result = run("ppo", "--updates", "2", "--eval-every", "1", "--out", str(tmp_path / "q"), "--quiet")
    assert result.returncode == 0
    assert result.stdout == ""
    assert result.stderr == ""
