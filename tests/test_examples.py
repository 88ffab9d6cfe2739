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


def test_the_added_algorithm_trains_with_typedrls_runner() -> None:
    """docs/add-algorithm.md's A2C: registered in one file, trained by typedrl.train, and it learns."""
    lines = run_example("add_algorithm.py").splitlines()
    evaluations = [line for line in lines if line.startswith("update ")]
    assert [line.split(":")[0] for line in evaluations] == ["update 100", "update 200", "update 300"]
    assert float(evaluations[-1].rsplit(" ", 1)[1]) >= 200.0  # a random CartPole policy averages about 22
    assert lines[-1] == "a2c: 300 updates, 38400 env steps"
