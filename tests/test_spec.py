"""The specification's own cases: hand-computed values, reductions, and the errors it raises."""

import math
from collections.abc import Callable

import pytest

from typedrl import HyperparameterError, InputError, spec

# One three-step rollout used throughout; every result below is worked out by hand (and exact in binary).
REWARDS = [1.0, 2.0, 3.0]
VALUES = [0.5, 1.0, 1.5]
NEXT_VALUES = [1.0, 4.0, 2.0]
NONE = [False, False, False]
AT_1 = [False, True, False]


def test_td_errors_bootstrap_except_at_termination() -> None:
    # δ = r + γ V' − V, with the bootstrap dropped only where terminated.
    assert spec.td_errors(REWARDS, VALUES, NEXT_VALUES, NONE, gamma=0.5) == [1.0, 3.0, 2.5]
    assert spec.td_errors(REWARDS, VALUES, NEXT_VALUES, AT_1, gamma=0.5) == [1.0, 1.0, 2.5]


def test_td_error_golden_value() -> None:
    assert spec.td_errors([1.0], [0.0], [0.0], [False], gamma=0.5) == [1.0]


def test_gae_rollout_ending_mid_episode_bootstraps_the_last_step() -> None:
    # A2 = δ2 = 2.5;  A1 = 3 + 0.25·2.5 = 3.625;  A0 = 1 + 0.25·3.625 = 1.90625
    got = spec.gae(REWARDS, VALUES, NEXT_VALUES, NONE, NONE, gamma=0.5, lam=0.5)
    assert got == [1.90625, 3.625, 2.5]


def test_gae_termination_cuts_and_does_not_bootstrap() -> None:
    # δ1 = 2 − 1 = 1 (no bootstrap), A1 = δ1, A0 = 1 + 0.25·1
    got = spec.gae(REWARDS, VALUES, NEXT_VALUES, AT_1, NONE, gamma=0.5, lam=0.5)
    assert got == [1.25, 1.0, 2.5]


def test_gae_truncation_cuts_but_bootstraps() -> None:
    # δ1 = 2 + 0.5·4 − 1 = 3, A1 = δ1, A0 = 1 + 0.25·3
    got = spec.gae(REWARDS, VALUES, NEXT_VALUES, NONE, AT_1, gamma=0.5, lam=0.5)
    assert got == [1.75, 3.0, 2.5]


def test_gae_terminated_and_truncated_is_terminated() -> None:
    both = spec.gae(REWARDS, VALUES, NEXT_VALUES, AT_1, AT_1, gamma=0.5, lam=0.5)
    assert both == spec.gae(REWARDS, VALUES, NEXT_VALUES, AT_1, NONE, gamma=0.5, lam=0.5)


def test_gae_golden_value() -> None:
    zeros = [0.0, 0.0, 0.0]
    assert spec.gae([1.0, 1.0, 1.0], zeros, zeros, NONE, NONE, gamma=0.5, lam=1.0) == [1.75, 1.5, 1.0]


def test_lambda_returns_are_advantages_plus_values() -> None:
    got = spec.lambda_returns(REWARDS, VALUES, NEXT_VALUES, NONE, AT_1, gamma=0.5, lam=0.5)
    assert got == [1.75 + 0.5, 3.0 + 1.0, 2.5 + 1.5]


def test_discounted_returns_golden_value() -> None:
    assert spec.discounted_returns([1.0, 2.0, 3.0], NONE, NONE, gamma=0.5) == [2.75, 3.5, 3.0]


def test_discounted_returns_with_next_values() -> None:
    # Mid-episode end: G2 = 3 + 0.5·2 = 4, G1 = 2 + 0.5·4 = 4, G0 = 1 + 0.5·4 = 3.
    assert spec.discounted_returns(REWARDS, NONE, NONE, gamma=0.5, next_values=NEXT_VALUES) == [3.0, 4.0, 4.0]
    # Terminated at 1: G1 = 2, G0 = 1 + 0.5·2 = 2.
    assert spec.discounted_returns(REWARDS, AT_1, NONE, gamma=0.5, next_values=NEXT_VALUES) == [2.0, 2.0, 4.0]
    # Truncated at 1: G1 = 2 + 0.5·V'1 = 4, G0 = 1 + 0.5·4 = 3.
    assert spec.discounted_returns(REWARDS, NONE, AT_1, gamma=0.5, next_values=NEXT_VALUES) == [3.0, 4.0, 4.0]


def test_discounted_returns_without_next_values_is_reward_to_go_per_episode() -> None:
    # γ = 1 sums the rest of each episode's rewards; the flag kind does not matter without next values.
    assert spec.discounted_returns(REWARDS, AT_1, NONE, gamma=1.0) == [3.0, 2.0, 3.0]
    assert spec.discounted_returns(REWARDS, NONE, AT_1, gamma=1.0) == [3.0, 2.0, 3.0]


def test_per_step_gamma() -> None:
    gammas = [1.0, 0.5, 0.0]
    zeros = [0.0, 0.0, 0.0]
    # G2 = 3 + 0·10 = 3, G1 = 2 + 0.5·3 = 3.5, G0 = 1 + 1·3.5 = 4.5
    assert spec.discounted_returns(REWARDS, NONE, NONE, gamma=gammas, next_values=[0.0, 0.0, 10.0]) == [4.5, 3.5, 3.0]
    assert spec.gae(REWARDS, zeros, [0.0, 0.0, 10.0], NONE, NONE, gamma=gammas, lam=1.0) == [4.5, 3.5, 3.0]
    assert spec.td_errors(REWARDS, zeros, [2.0, 2.0, 10.0], NONE, gamma=gammas) == [3.0, 3.0, 3.0]


def test_empty_rollout() -> None:
    assert spec.td_errors([], [], [], [], gamma=0.9) == []
    assert spec.gae([], [], [], [], [], gamma=0.9, lam=0.9) == []
    assert spec.lambda_returns([], [], [], [], [], gamma=0.9, lam=0.9) == []
    assert spec.discounted_returns([], [], [], gamma=0.9, next_values=[]) == []
    assert spec.normalize_advantages([]) == []


def test_normalize_advantages_population_std() -> None:
    got = spec.normalize_advantages([1.0, 2.0, 3.0])
    scale = math.sqrt(2.0 / 3.0)  # population std of [1, 2, 3]
    assert got == pytest.approx([-1.0 / scale, 0.0, 1.0 / scale], rel=1e-15, abs=1e-15)


def test_normalize_advantages_constant_and_single_give_zeros() -> None:
    assert spec.normalize_advantages([0.1, 0.1, 0.1]) == [0.0, 0.0, 0.0]
    assert spec.normalize_advantages([7.0]) == [0.0]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: spec.td_errors([1.0, 2.0], [0.0], [0.0, 0.0], [False, False], gamma=0.9),
            "td_errors: values has 1 steps; expected 2 (as rewards)",
        ),
        (
            lambda: spec.gae([1.0], [0.0], [0.0], [False], [False, True], gamma=0.9, lam=0.9),
            "gae: truncated has 2 steps; expected 1 (as rewards)",
        ),
        (
            lambda: spec.discounted_returns([1.0], [False], [False], gamma=0.9, next_values=[]),
            "discounted_returns: next_values has 0 steps; expected 1 (as rewards)",
        ),
        (
            lambda: spec.gae([1.0, 2.0], [0.0, 0.0], [0.0, 0.0], [False] * 2, [False] * 2, gamma=[0.9], lam=0.9),
            "gae: gamma has 1 steps; expected 2 (one per reward)",
        ),
    ],
    ids=["td_errors values", "gae truncated", "discounted_returns next_values", "gae per-step gamma"],
)
def test_length_mismatch_is_an_input_error(call: Callable[[], object], message: str) -> None:
    with pytest.raises(InputError) as caught:
        call()
    assert str(caught.value) == message


ONE_STEP = ([1.0], [0.0], [0.0], [False], [False])  # rewards, values, next values, terminated, truncated
TWO_STEPS = ([1.0, 1.0], [0.0, 0.0], [0.0, 0.0], [False, False], [False, False])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: spec.td_errors(*ONE_STEP[:4], gamma=1.5), "td_errors: gamma is 1.5; expected a float in [0, 1]"),
        (
            lambda: spec.discounted_returns([1.0], [False], [False], gamma=-0.1),
            "discounted_returns: gamma is -0.1; expected a float in [0, 1]",
        ),
        (lambda: spec.gae(*ONE_STEP, gamma=math.nan, lam=0.9), "gae: gamma is nan; expected a float in [0, 1]"),
        (lambda: spec.gae(*ONE_STEP, gamma=0.9, lam=1.01), "gae: lam is 1.01; expected a float in [0, 1]"),
        (
            lambda: spec.lambda_returns(*ONE_STEP, gamma=0.9, lam=math.nan),
            "lambda_returns: lam is nan; expected a float in [0, 1]",
        ),
        (
            lambda: spec.gae(*TWO_STEPS, gamma=[0.5, 2.0], lam=0.9),
            "gae: gamma[1] is 2.0; expected a float in [0, 1]",
        ),
    ],
    ids=[
        "td_errors gamma",
        "discounted_returns gamma",
        "gae gamma nan",
        "gae lam",
        "lambda_returns lam",
        "gae gamma[1]",
    ],
)
def test_out_of_range_hyperparameter_is_a_hyperparameter_error(call: Callable[[], object], message: str) -> None:
    with pytest.raises(HyperparameterError) as caught:
        call()
    assert str(caught.value) == message


@pytest.mark.parametrize("scale", [1e-200, 1e-30, 1e30, 1e200])
def test_normalize_advantages_does_not_depend_on_the_scale(scale: float) -> None:
    # Every number here and the population std are normal floats, so the z-scores must be those of the unscaled input.
    unscaled = spec.normalize_advantages([1.0, -1.0, 0.5, 0.0])
    got = spec.normalize_advantages([1.0 * scale, -1.0 * scale, 0.5 * scale, 0.0])
    assert got == pytest.approx(unscaled, rel=1e-12)
