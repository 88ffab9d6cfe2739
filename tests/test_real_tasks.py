"""The Box2D and MuJoCo tasks through the command line, with their presets: LunarLander-v3 (discrete actions) and
HalfCheetah-v5 (Box actions, normalized observations and rewards), trained, saved and evaluated; and the one-line
message when their extra is missing."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

TASKS = [
    ("LunarLander-v3", "lunarlander", ["--num-envs", "1"]),
    ("HalfCheetah-v5", "halfcheetah", []),
]


@pytest.mark.parametrize(("env_id", "preset", "flags"), TASKS)
def test_a_task_trains_from_its_preset_and_evaluates(
    env_id: str, preset: str, flags: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    command = [sys.executable, "-m", "typedrl", "ppo", "--env", env_id, "--updates", "1", "--out", str(out)]
    command += ["--eval-episodes", "2", "--eval-max-steps", "50", "--quiet", *flags]
    train = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert train.returncode == 0, train.stderr
    log = json.loads((out / "trainlog.json").read_text(encoding="utf-8"))
    assert log["config"]["env_id"] == env_id
    assert log["config"]["gamma"] == {"lunarlander": 0.999, "halfcheetah": 0.98}[preset]  # the preset's own
    evaluation = subprocess.run(
        [sys.executable, "-m", "typedrl", "eval", str(out), "--episodes", "2", "--max-steps", "50"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert evaluation.returncode == 0, evaluation.stderr
    assert "2 episodes" in evaluation.stdout


BLOCKED = """
import runpy, sys
sys.modules[{module!r}] = None  # as if the extra were not installed: importing it fails
sys.argv = ["typedrl", "ppo", "--env", {env_id!r}, "--out", {out!r}]
runpy.run_module("typedrl", run_name="__main__")
"""


@pytest.mark.parametrize(
    ("module", "env_id", "extra"), [("mujoco", "HalfCheetah-v5", "mujoco"), ("Box2D", "LunarLander-v3", "box2d")]
)
def test_a_missing_extra_is_one_line_naming_the_pip_install(
    module: str, env_id: str, extra: str, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    script = BLOCKED.format(module=module, env_id=env_id, out=str(out))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        f"typedrl ppo: error: env_id is '{env_id}': it needs an extra: pip install \"typedrl[{extra}]\"\n"
    )
    assert not out.exists()
