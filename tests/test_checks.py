"""The shape-check switch: the function, the context manager, the environment variable, and what stays on."""

import os
import subprocess
import sys

import jaxtyping
import pytest
import torch

import typedrl
from typedrl import InputError

REWARDS = torch.zeros(5, 3, dtype=torch.float64)
FLAGS = torch.zeros(5, 3, dtype=torch.bool)
WRONG_BATCH = torch.zeros(5, 2, dtype=torch.float64)  # same T, wrong N


def wrong_batch_gae() -> object:
    return typedrl.gae(REWARDS, WRONG_BATCH, REWARDS, FLAGS, FLAGS, gamma=0.9, lam=0.9)


def test_checks_are_on_by_default_in_the_tests() -> None:
    assert typedrl.shape_checks_enabled()


def test_set_shape_checks_switches_for_the_process() -> None:
    try:
        typedrl.set_shape_checks(False)
        assert not typedrl.shape_checks_enabled()
        typedrl.set_shape_checks(True)
        assert typedrl.shape_checks_enabled()
    finally:
        typedrl.set_shape_checks(True)


def test_set_shape_checks_wants_a_bool() -> None:
    with pytest.raises(TypeError) as caught:
        typedrl.set_shape_checks(0)  # type: ignore[arg-type]
    assert str(caught.value) == "set_shape_checks: enabled is 0; expected a bool"
    assert typedrl.shape_checks_enabled()


def test_context_manager_restores_the_previous_setting() -> None:
    with typedrl.shape_checks(False):
        assert not typedrl.shape_checks_enabled()
        with typedrl.shape_checks(True):
            assert typedrl.shape_checks_enabled()
        assert not typedrl.shape_checks_enabled()
    assert typedrl.shape_checks_enabled()


def test_context_manager_restores_after_an_exception() -> None:
    with pytest.raises(RuntimeError), typedrl.shape_checks(False):
        raise RuntimeError("inside")
    assert typedrl.shape_checks_enabled()


def test_checks_on_a_wrong_batch_dim_is_a_jaxtyping_error_naming_the_argument() -> None:
    with pytest.raises(jaxtyping.TypeCheckError) as caught:
        wrong_batch_gae()
    message = str(caught.value)
    assert "parameter 'values'" in message
    assert "batch=torch.Size([3])" in message  # the bound dimensions are named too


def test_checks_off_a_wrong_batch_dim_is_still_an_input_error() -> None:
    with typedrl.shape_checks(False), pytest.raises(InputError) as caught:
        wrong_batch_gae()
    assert str(caught.value) == "gae: values has shape (5, 2); expected (5, 3) (as rewards)"


def test_checks_off_a_wrong_per_step_gamma_is_still_an_input_error() -> None:
    gamma = torch.full((5, 2), 0.9, dtype=torch.float64)
    with typedrl.shape_checks(False), pytest.raises(InputError) as caught:
        typedrl.discounted_returns(REWARDS, FLAGS, FLAGS, gamma=gamma)
    assert str(caught.value) == "discounted_returns: gamma has shape (5, 2); expected (5, 3) (as rewards)"


def test_checks_off_give_the_same_results() -> None:
    generator = torch.Generator().manual_seed(0)
    rewards, values, next_values = (torch.randn(6, 2, generator=generator, dtype=torch.float64) for _ in range(3))
    terminated = torch.rand(6, 2, generator=generator) < 0.3
    truncated = torch.rand(6, 2, generator=generator) < 0.3
    on = typedrl.gae(rewards, values, next_values, terminated, truncated, gamma=0.9, lam=0.8)
    with typedrl.shape_checks(False):
        off = typedrl.gae(rewards, values, next_values, terminated, truncated, gamma=0.9, lam=0.8)
    torch.testing.assert_close(on, off, rtol=0, atol=0)


SCRIPT = """
import torch, typedrl
print(typedrl.shape_checks_enabled())
r = torch.zeros(5, 3, dtype=torch.float64)
f = torch.zeros(5, 3, dtype=torch.bool)
try:
    typedrl.gae(r, torch.zeros(5, 2, dtype=torch.float64), r, f, f, gamma=0.9, lam=0.9)
except Exception as error:
    print(type(error).__name__)
"""


@pytest.fixture(scope="module")
def fresh_processes() -> dict[str, subprocess.CompletedProcess[str]]:
    """For each TYPEDRL_SHAPE_CHECKS setting, a new interpreter that imports typedrl and makes a mis-shaped call.

    The interpreters run side by side: each spends most of its time importing torch.
    """
    started = {
        setting: subprocess.Popen(
            [sys.executable, "-c", SCRIPT],
            env={**os.environ, "TYPEDRL_SHAPE_CHECKS": setting},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for setting in ("0", "1", "maybe")
    }
    finished = {}
    for setting, process in started.items():
        stdout, stderr = process.communicate(timeout=300)
        finished[setting] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return finished


def test_environment_variable_zero_switches_checks_off(
    fresh_processes: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    result = fresh_processes["0"]
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "InputError"]


def test_environment_variable_one_keeps_checks_on(fresh_processes: dict[str, subprocess.CompletedProcess[str]]) -> None:
    result = fresh_processes["1"]
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "TypeCheckError"]


def test_environment_variable_invalid_fails_at_import(
    fresh_processes: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    result = fresh_processes["maybe"]
    assert result.returncode != 0
    assert (
        "typedrl.errors.ConfigError: the environment variable TYPEDRL_SHAPE_CHECKS is 'maybe'; expected one of 1, 0,"
        " true, false, yes, no, on, off (or unset)"
    ) in result.stderr
