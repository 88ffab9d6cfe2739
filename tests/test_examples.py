"""The examples in examples/ run as a user runs them, and say what they promise."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_gae_demo_agrees_with_the_specification() -> None:
    output = run_example("gae_demo.py")
    assert "rollout: 128 steps x 8 envs" in output
    difference = float(output.strip().splitlines()[-1].rsplit(" ", 1)[1])
    assert difference <= 1e-9


@pytest.mark.parametrize("name", ["custom_loop.py"])
def test_custom_loop_trains(name: str) -> None:
    lines = [line for line in run_example(name).splitlines() if line.startswith("update ")]
    assert [line.split(":")[0] for line in lines] == ["update 20", "update 40", "update 60"]
    returns = [float(line.rsplit(" ", 1)[1]) for line in lines]
    assert returns[-1] > 50.0  # a random CartPole policy averages about 22
