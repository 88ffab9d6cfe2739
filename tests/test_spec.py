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
        (
            lambda: spec.td_errors(*ONE_STEP[:4], gamma=1.5),
            "td_errors: gamma is 1.5; expected a finite real number in [0, 1]",
        ),
        (
            lambda: spec.discounted_returns([1.0], [False], [False], gamma=-0.1),
            "discounted_returns: gamma is -0.1; expected a finite real number in [0, 1]",
        ),
        (
            lambda: spec.gae(*ONE_STEP, gamma=math.nan, lam=0.9),
            "gae: gamma is nan; expected a finite real number in [0, 1]",
        ),
        (lambda: spec.gae(*ONE_STEP, gamma=0.9, lam=1.01), "gae: lam is 1.01; expected a finite real number in [0, 1]"),
        (
            lambda: spec.lambda_returns(*ONE_STEP, gamma=0.9, lam=math.nan),
            "lambda_returns: lam is nan; expected a finite real number in [0, 1]",
        ),
        (
            lambda: spec.gae(*TWO_STEPS, gamma=[0.5, 2.0], lam=0.9),
            "gae: gamma[1] is 2.0; expected a finite real number in [0, 1]",
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


# Non-finite numbers: a coefficient that is exactly zero multiplies nothing.

NAN, INF = math.nan, math.inf


def same(got: list[float], expected: list[float]) -> bool:
    """Equal lists, NaN matching NaN."""
    return len(got) == len(expected) and all(
        (math.isnan(g) and math.isnan(e)) or g == e for g, e in zip(got, expected, strict=True)
    )


def test_nan_after_a_termination_does_not_leak_backwards() -> None:
    got = spec.gae([1.0, 0.0], [0.0, NAN], [0.0, 0.0], [True, False], [False, False], gamma=0.9, lam=0.9)
    assert same(got, [1.0, NAN])


def test_lambda_zero_reads_nothing_of_the_next_step() -> None:
    args = ([1.0, 0.0], [0.0, NAN], [0.0, 0.0], [False, False])
    assert same(spec.gae(*args, [False, False], gamma=0.9, lam=0.0), [1.0, NAN])
    assert same(spec.td_errors(*args, gamma=0.9), [1.0, NAN])
    assert same(spec.gae([1.0, INF], [0.0] * 2, [0.0] * 2, [False] * 2, [False] * 2, gamma=0.9, lam=0.0), [1.0, INF])


@pytest.mark.parametrize("bad", [NAN, INF, -INF])
def test_gamma_zero_reads_no_next_value(bad: float) -> None:
    rewards, values, next_values, no = [1.0, 2.0], [0.5, 0.25], [bad, bad], [False, False]
    assert spec.td_errors(rewards, values, next_values, no, gamma=0.0) == [0.5, 1.75]
    assert spec.gae(rewards, values, next_values, no, no, gamma=0.0, lam=0.9) == [0.5, 1.75]
    assert spec.lambda_returns(rewards, values, next_values, no, no, gamma=0.0, lam=0.9) == [1.0, 2.0]
    assert spec.discounted_returns(rewards, no, [True, True], gamma=0.0, next_values=next_values) == [1.0, 2.0]
    assert spec.discounted_returns(rewards, no, no, gamma=[0.0, 0.0], next_values=next_values) == [1.0, 2.0]


def test_terminated_steps_and_the_terminated_last_step_read_no_next_value() -> None:
    terminated = [False, True, False]
    assert spec.td_errors(REWARDS, VALUES, [2.0, NAN, 4.0], terminated, gamma=0.5) == [1.5, 1.0, 3.5]
    got = spec.discounted_returns(REWARDS, [False, False, True], NONE, gamma=0.5, next_values=[0.0, 0.0, NAN])
    assert got == [2.75, 3.5, 3.0]


def test_a_truncation_reads_its_next_value() -> None:
    got = spec.gae(REWARDS, VALUES, [1.0, NAN, 2.0], NONE, AT_1, gamma=0.5, lam=0.5)
    assert same(got, [NAN, NAN, 2.5])


def test_a_product_of_tiny_coefficients_still_carries_an_infinity() -> None:
    # γ·λ = 1e-500 underflows to 0 in float64; γ · (λ · A) keeps the inf that exact arithmetic gives.
    got = spec.gae([1.0, INF], [0.0, 0.0], [0.0, 0.0], [False] * 2, [False] * 2, gamma=1e-250, lam=1e-250)
    assert got == [INF, INF]


def test_infinities_stay_and_opposite_ones_make_nan() -> None:
    assert same(spec.discounted_returns([-INF, INF, 1.0], NONE, NONE, gamma=0.5), [NAN, INF, 1.0])


# Hyperparameters: numpy scalars are numbers, bools and strings are not; per-step lists are checked one by one.


def test_numpy_scalars_are_accepted() -> None:
    numpy = pytest.importorskip("numpy")
    zeros = [0.0, 0.0, 0.0]
    got = spec.gae([1.0] * 3, zeros, zeros, NONE, NONE, gamma=numpy.float32(0.5), lam=numpy.float64(1.0))
    assert got == [1.75, 1.5, 1.0]
    per_step = [numpy.float32(1.0), numpy.float64(0.5), numpy.int64(0)]
    assert spec.discounted_returns(REWARDS, NONE, NONE, gamma=per_step, next_values=[0.0, 0.0, 10.0]) == [4.5, 3.5, 3.0]
    assert spec.discounted_returns(REWARDS, NONE, NONE, gamma=numpy.array([1.0, 0.5, 0.0])) == [4.5, 3.5, 3.0]


@pytest.mark.parametrize(
    ("gamma", "lam", "message"),
    [
        (True, 0.9, "gae: gamma is True (a bool); expected a finite real number in [0, 1]"),
        (0.9, "0.9", "gae: lam is '0.9' (a str); expected a finite real number in [0, 1]"),
        ([0.5, NAN], 0.9, "gae: gamma[1] is nan; expected a finite real number in [0, 1]"),
        ([0.5, False], 0.9, "gae: gamma[1] is False (a bool); expected a finite real number in [0, 1]"),
        ([0.5, "1"], 0.9, "gae: gamma[1] is '1' (a str); expected a finite real number in [0, 1]"),
        ("0.5", 0.9, "gae: gamma is '0.5' (a str); expected a finite real number in [0, 1]"),
        (None, 0.9, "gae: gamma is None (a NoneType); expected a finite real number in [0, 1]"),
        ([0.5, INF], 0.9, "gae: gamma[1] is inf; expected a finite real number in [0, 1]"),
    ],
)
def test_hyperparameters_that_are_not_numbers_in_range(gamma: object, lam: object, message: str) -> None:
    with pytest.raises(HyperparameterError) as caught:
        spec.gae(*TWO_STEPS, gamma=gamma, lam=lam)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_numpy_per_step_discount_out_of_range_names_the_step() -> None:
    numpy = pytest.importorskip("numpy")
    with pytest.raises(HyperparameterError) as caught:
        spec.gae(*TWO_STEPS, gamma=[numpy.float32(0.5), numpy.float32(1.5)], lam=0.9)
    assert str(caught.value) == "gae: gamma[1] is np.float32(1.5) (a float32); expected a finite real number in [0, 1]"


# Advantage normalization refuses non-finite advantages.


@pytest.mark.parametrize(
    ("advantages", "message"),
    [
        ([NAN, 1.0], "normalize_advantages: advantages[0] is nan; expected finite values"),
        ([1.0, 2.0, INF], "normalize_advantages: advantages[2] is inf; expected finite values"),
        ([1.0, -INF, NAN], "normalize_advantages: advantages[1] is -inf; expected finite values"),
        ([NAN], "normalize_advantages: advantages[0] is nan; expected finite values"),
    ],
)
def test_normalize_advantages_rejects_non_finite_advantages(advantages: list[float], message: str) -> None:
    with pytest.raises(InputError) as caught:
        spec.normalize_advantages(advantages)
    assert str(caught.value) == message
