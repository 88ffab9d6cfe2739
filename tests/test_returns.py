"""The tensor return math on hand-computed cases, odd layouts, and the exact errors it raises."""

from collections.abc import Callable

import jaxtyping
import numpy as np
import pytest
import torch
from torch import Tensor

import typedrl
from typedrl import HyperparameterError, InputError
from typedrl.returns import RealScalar

F64 = torch.float64


def f64(*values: float) -> Tensor:
    return torch.tensor(values, dtype=F64)


def flags(*values: bool) -> Tensor:
    return torch.tensor(values, dtype=torch.bool)


def assert_exact(got: Tensor, expected: Tensor) -> None:
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


# The three-step rollout of test_spec.py: hand-computed results, exact in binary.
REWARDS = f64(1.0, 2.0, 3.0)
VALUES = f64(0.5, 1.0, 1.5)
NEXT_VALUES = f64(1.0, 4.0, 2.0)
NONE = flags(False, False, False)
AT_1 = flags(False, True, False)


# Golden values (the same checks TorchLean's RL specification runs).


def test_golden_discounted_returns() -> None:
    got = typedrl.discounted_returns(f64(1, 2, 3), NONE, NONE, gamma=0.5)
    assert_exact(got, f64(2.75, 3.5, 3.0))


def test_golden_gae() -> None:
    zeros = torch.zeros(3, dtype=F64)
    got = typedrl.gae(f64(1, 1, 1), zeros, zeros, NONE, NONE, gamma=0.5, lam=1.0)
    assert_exact(got, f64(1.75, 1.5, 1.0))


def test_golden_td_error() -> None:
    zero = torch.zeros(1, dtype=F64)
    assert_exact(typedrl.td_errors(f64(1.0), zero, zero, flags(False), gamma=0.5), f64(1.0))


# Hand-computed cases.


def test_gae_rollout_ending_mid_episode_bootstraps_the_last_step() -> None:
    got = typedrl.gae(REWARDS, VALUES, NEXT_VALUES, NONE, NONE, gamma=0.5, lam=0.5)
    assert_exact(got, f64(1.90625, 3.625, 2.5))


def test_gae_termination_does_not_bootstrap() -> None:
    got = typedrl.gae(REWARDS, VALUES, NEXT_VALUES, AT_1, NONE, gamma=0.5, lam=0.5)
    assert_exact(got, f64(1.25, 1.0, 2.5))


def test_gae_truncation_bootstraps() -> None:
    got = typedrl.gae(REWARDS, VALUES, NEXT_VALUES, NONE, AT_1, gamma=0.5, lam=0.5)
    assert_exact(got, f64(1.75, 3.0, 2.5))


def test_gae_terminated_and_truncated_is_terminated() -> None:
    got = typedrl.gae(REWARDS, VALUES, NEXT_VALUES, AT_1, AT_1, gamma=0.5, lam=0.5)
    assert_exact(got, f64(1.25, 1.0, 2.5))


def test_td_errors_bootstrap_except_at_termination() -> None:
    assert_exact(typedrl.td_errors(REWARDS, VALUES, NEXT_VALUES, AT_1, gamma=0.5), f64(1.0, 1.0, 2.5))
    assert_exact(typedrl.td_errors(REWARDS, VALUES, NEXT_VALUES, NONE, gamma=0.5), f64(1.0, 3.0, 2.5))


def test_lambda_returns_truncated() -> None:
    got = typedrl.lambda_returns(REWARDS, VALUES, NEXT_VALUES, NONE, AT_1, gamma=0.5, lam=0.5)
    assert_exact(got, f64(2.25, 4.0, 4.0))


def test_discounted_returns_bootstrap_at_truncation_and_rollout_end_only() -> None:
    mid = typedrl.discounted_returns(REWARDS, NONE, NONE, gamma=0.5, next_values=NEXT_VALUES)
    terminated = typedrl.discounted_returns(REWARDS, AT_1, NONE, gamma=0.5, next_values=NEXT_VALUES)
    truncated = typedrl.discounted_returns(REWARDS, NONE, AT_1, gamma=0.5, next_values=NEXT_VALUES)
    assert_exact(mid, f64(3.0, 4.0, 4.0))
    assert_exact(terminated, f64(2.0, 2.0, 4.0))
    assert_exact(truncated, f64(3.0, 4.0, 4.0))


def test_discounted_returns_without_next_values_sum_each_episode() -> None:
    assert_exact(typedrl.discounted_returns(REWARDS, AT_1, NONE, gamma=1.0), f64(3.0, 2.0, 3.0))
    assert_exact(typedrl.discounted_returns(REWARDS, NONE, AT_1, gamma=1.0), f64(3.0, 2.0, 3.0))


def test_per_step_gamma() -> None:
    gammas = f64(1.0, 0.5, 0.0)
    zeros = torch.zeros(3, dtype=F64)
    bootstrap = f64(0.0, 0.0, 10.0)
    assert_exact(typedrl.discounted_returns(REWARDS, NONE, NONE, gamma=gammas, next_values=bootstrap), f64(4.5, 3.5, 3))
    assert_exact(typedrl.gae(REWARDS, zeros, bootstrap, NONE, NONE, gamma=gammas, lam=1.0), f64(4.5, 3.5, 3.0))
    assert_exact(typedrl.td_errors(REWARDS, zeros, f64(2, 2, 10), NONE, gamma=gammas), f64(3.0, 3.0, 3.0))


def test_integer_gamma_and_lam_are_accepted() -> None:
    zeros = torch.zeros(3, dtype=F64)
    got = typedrl.gae(f64(1, 1, 1), zeros, zeros, NONE, NONE, gamma=1, lam=0)
    assert_exact(got, f64(1, 1, 1))


def test_batched_columns_are_independent() -> None:
    # Column 0 is the rollout above truncated at 1; column 1 the same rollout terminated at 1.
    rewards = torch.stack([REWARDS, REWARDS], dim=1)
    values = torch.stack([VALUES, VALUES], dim=1)
    next_values = torch.stack([NEXT_VALUES, NEXT_VALUES], dim=1)
    terminated = torch.stack([NONE, AT_1], dim=1)
    truncated = torch.stack([AT_1, NONE], dim=1)
    got = typedrl.gae(rewards, values, next_values, terminated, truncated, gamma=0.5, lam=0.5)
    assert_exact(got, torch.stack([f64(1.75, 3.0, 2.5), f64(1.25, 1.0, 2.5)], dim=1))


# Layouts: non-contiguous inputs, empty rollouts, gradients.

Recurrence = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor, float], Tensor]
RECURRENCES: dict[str, Recurrence] = {
    "gae": lambda r, v, nv, te, tr, g: typedrl.gae(r, v, nv, te, tr, gamma=g, lam=0.8),
    "lambda_returns": lambda r, v, nv, te, tr, g: typedrl.lambda_returns(r, v, nv, te, tr, gamma=g, lam=0.8),
    "discounted_returns": lambda r, v, nv, te, tr, g: typedrl.discounted_returns(r, te, tr, gamma=g, next_values=nv),
    "td_errors": lambda r, v, nv, te, tr, g: typedrl.td_errors(r, v, nv, te, gamma=g),
}


def _random_rollout(shape: tuple[int, ...], seed: int) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    rewards, values, next_values = (torch.randn(shape, generator=generator, dtype=F64) for _ in range(3))
    terminated = torch.rand(shape, generator=generator) < 0.2
    truncated = torch.rand(shape, generator=generator) < 0.2
    return rewards, values, next_values, terminated, truncated


@pytest.mark.parametrize("name", sorted(RECURRENCES))
def test_transposed_inputs_equal_contiguous_ones(name: str) -> None:
    function = RECURRENCES[name]
    rewards, values, next_values, terminated, truncated = _random_rollout((5, 12), seed=1)  # [N, T] in memory
    assert not rewards.T.is_contiguous()
    got = function(rewards.T, values.T, next_values.T, terminated.T, truncated.T, 0.9)
    expected = function(
        rewards.T.contiguous(),
        values.T.contiguous(),
        next_values.T.contiguous(),
        terminated.T.contiguous(),
        truncated.T.contiguous(),
        0.9,
    )
    assert got.shape == (12, 5)
    assert_exact(got, expected)


@pytest.mark.parametrize("name", sorted(RECURRENCES))
def test_strided_inputs_equal_contiguous_ones(name: str) -> None:
    function = RECURRENCES[name]
    rewards, values, next_values, terminated, truncated = (field[::2, 1::2] for field in _random_rollout((20, 6), 2))
    assert not rewards.is_contiguous()  # [10, 3], strided in both dims
    got = function(rewards, values, next_values, terminated, truncated, 0.95)
    expected = function(
        rewards.contiguous(),
        values.contiguous(),
        next_values.contiguous(),
        terminated.contiguous(),
        truncated.contiguous(),
        0.95,
    )
    assert_exact(got, expected)


@pytest.mark.parametrize("name", sorted(RECURRENCES))
@pytest.mark.parametrize("shape", [(0,), (0, 3), (4, 0)], ids=["T=0", "T=0,N=3", "T=4,N=0"])
def test_empty_inputs_give_empty_outputs(name: str, shape: tuple[int, ...]) -> None:
    rewards, values, next_values, terminated, truncated = _random_rollout(shape, seed=3)
    got = RECURRENCES[name](rewards, values, next_values, terminated, truncated, 0.9)
    assert got.shape == shape
    assert got.dtype == F64


def test_normalize_advantages_empty() -> None:
    assert typedrl.normalize_advantages(torch.zeros(0, 3, dtype=F64)).shape == (0, 3)


@pytest.mark.parametrize("name", ["gae", "lambda_returns", "discounted_returns"])
def test_targets_carry_no_gradient(name: str) -> None:
    rewards, values, next_values, terminated, truncated = _random_rollout((6, 2), seed=4)
    for tensor in (rewards, values, next_values):
        tensor.requires_grad_(True)
    got = RECURRENCES[name](rewards, values, next_values, terminated, truncated, 0.9)
    assert not got.requires_grad


def test_td_errors_are_differentiable() -> None:
    rewards, values, next_values, _, _ = _random_rollout((4,), seed=5)
    terminated = flags(False, True, False, False)
    values.requires_grad_(True)
    next_values.requires_grad_(True)
    total = typedrl.td_errors(rewards, values, next_values, terminated, gamma=0.5).sum()
    by_values, by_next_values = torch.autograd.grad(total, [values, next_values])
    assert_exact(by_values, f64(-1, -1, -1, -1))
    assert_exact(by_next_values, f64(0.5, 0.0, 0.5, 0.5))


def test_normalize_advantages_hand_computed() -> None:
    got = typedrl.normalize_advantages(f64(1.0, 2.0, 3.0))
    torch.testing.assert_close(got, f64(-1.0, 0.0, 1.0) * 1.5**0.5, rtol=1e-15, atol=1e-15)


def test_normalize_advantages_is_over_all_elements() -> None:
    got = typedrl.normalize_advantages(torch.tensor([[1.0, 3.0], [1.0, 3.0]], dtype=F64))
    assert_exact(got, torch.tensor([[-1.0, 1.0], [-1.0, 1.0]], dtype=F64))


# Errors: shape errors come from jaxtyping (naming the argument); the always-on checks raise typedrl's errors.

R5 = torch.zeros(5, dtype=F64)
F5 = torch.zeros(5, dtype=torch.bool)


def _type_check_error_names(call: Callable[[], object], parameter: str) -> None:
    with pytest.raises(jaxtyping.TypeCheckError) as caught:
        call()
    assert f"parameter '{parameter}'" in str(caught.value)


def test_mismatched_horizon_names_the_argument() -> None:
    short = torch.zeros(4, dtype=F64)
    _type_check_error_names(lambda: typedrl.gae(R5, short, R5, F5, F5, gamma=0.9, lam=0.9), "values")
    _type_check_error_names(lambda: typedrl.td_errors(R5, R5, short, F5, gamma=0.9), "next_values")
    _type_check_error_names(lambda: typedrl.discounted_returns(R5, F5, F5[:3], gamma=0.9), "truncated")


def test_mismatched_batch_names_the_argument() -> None:
    rewards = torch.zeros(5, 3, dtype=F64)
    flags_5x3 = torch.zeros(5, 3, dtype=torch.bool)
    values = torch.zeros(5, 2, dtype=F64)
    _type_check_error_names(
        lambda: typedrl.lambda_returns(rewards, values, rewards, flags_5x3, flags_5x3, gamma=0.9, lam=0.9), "values"
    )


def test_per_step_gamma_of_wrong_shape_names_the_argument() -> None:
    gamma = torch.full((4,), 0.9, dtype=F64)
    _type_check_error_names(lambda: typedrl.gae(R5, R5, R5, F5, F5, gamma=gamma, lam=0.9), "gamma")


def test_non_bool_flags_name_the_argument() -> None:
    _type_check_error_names(lambda: typedrl.gae(R5, R5, R5, R5, F5, gamma=0.9, lam=0.9), "terminated")
    _type_check_error_names(lambda: typedrl.discounted_returns(R5, F5, F5.int(), gamma=0.9), "truncated")


def test_integer_rewards_name_the_argument() -> None:
    _type_check_error_names(lambda: typedrl.gae(R5.long(), R5, R5, F5, F5, gamma=0.9, lam=0.9), "rewards")
    _type_check_error_names(lambda: typedrl.normalize_advantages(R5.long()), "advantages")


def test_non_tensor_input_names_the_argument() -> None:
    _type_check_error_names(lambda: typedrl.gae([0.0] * 5, R5, R5, F5, F5, gamma=0.9, lam=0.9), "rewards")  # type: ignore[arg-type]


def _raises(error: type[Exception], message: str, call: Callable[[], object]) -> None:
    with pytest.raises(error) as caught:
        call()
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("gamma", "lam", "message"),
    [
        (1.5, 0.9, "gae: gamma is 1.5; expected a finite real number in [0, 1]"),
        (-0.01, 0.9, "gae: gamma is -0.01; expected a finite real number in [0, 1]"),
        (float("nan"), 0.9, "gae: gamma is nan; expected a finite real number in [0, 1]"),
        (float("inf"), 0.9, "gae: gamma is inf; expected a finite real number in [0, 1]"),
        (0.9, 1.0000001, "gae: lam is 1.0000001; expected a finite real number in [0, 1]"),
        (0.9, -1.0, "gae: lam is -1.0; expected a finite real number in [0, 1]"),
        (0.9, float("nan"), "gae: lam is nan; expected a finite real number in [0, 1]"),
        (True, 0.9, "gae: gamma is True (a bool); expected a finite real number in [0, 1]"),
    ],
)
def test_gae_hyperparameters_out_of_range(gamma: float, lam: float, message: str) -> None:
    _raises(HyperparameterError, message, lambda: typedrl.gae(R5, R5, R5, F5, F5, gamma=gamma, lam=lam))


def test_other_functions_name_themselves_in_hyperparameter_errors() -> None:
    nan = float("nan")
    _raises(
        HyperparameterError,
        "lambda_returns: lam is nan; expected a finite real number in [0, 1]",
        lambda: typedrl.lambda_returns(R5, R5, R5, F5, F5, gamma=0.9, lam=nan),
    )
    _raises(
        HyperparameterError,
        "discounted_returns: gamma is 2.0; expected a finite real number in [0, 1]",
        lambda: typedrl.discounted_returns(R5, F5, F5, gamma=2.0),
    )
    _raises(
        HyperparameterError,
        "td_errors: gamma is nan; expected a finite real number in [0, 1]",
        lambda: typedrl.td_errors(R5, R5, R5, F5, gamma=nan),
    )


@pytest.mark.parametrize(
    ("gamma", "message"),
    [
        (f64(0.5, 0.5, 1.5, 0.5, 0.5), "gae: gamma[2] is 1.5; expected every discount in [0, 1]"),
        (f64(-0.5, 0.5, 0.5, 0.5, 0.5), "gae: gamma[0] is -0.5; expected every discount in [0, 1]"),
        (f64(0.5, 0.5, 0.5, 0.5, float("nan")), "gae: gamma[4] is nan; expected every discount in [0, 1]"),
    ],
)
def test_per_step_gamma_out_of_range(gamma: Tensor, message: str) -> None:
    _raises(HyperparameterError, message, lambda: typedrl.gae(R5, R5, R5, F5, F5, gamma=gamma, lam=0.9))


def test_per_step_gamma_out_of_range_names_step_and_env() -> None:
    rewards = torch.zeros(3, 2, dtype=F64)
    done = torch.zeros(3, 2, dtype=torch.bool)
    gamma = torch.full((3, 2), 0.9, dtype=F64)
    gamma[1, 1] = 1.25
    _raises(
        HyperparameterError,
        "discounted_returns: gamma[1, 1] is 1.25; expected every discount in [0, 1]",
        lambda: typedrl.discounted_returns(rewards, done, done, gamma=gamma),
    )


def test_dtype_mismatch_is_an_input_error_even_with_checks_on() -> None:
    _raises(
        InputError,
        "gae: values has dtype torch.float32; expected torch.float64 (as rewards)",
        lambda: typedrl.gae(R5, R5.float(), R5, F5, F5, gamma=0.9, lam=0.9),
    )


# With the shape checks off, the always-on checks still guard the kernels, with typedrl's own messages.


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: typedrl.gae(R5, R5.to("meta"), R5, F5, F5, gamma=0.9, lam=0.9),
            "gae: values is on meta; expected cpu (as rewards)",
        ),
        (
            lambda: typedrl.discounted_returns(R5, F5, F5, gamma=0.9, next_values=R5.to("meta")),
            "discounted_returns: next_values is on meta; expected cpu (as rewards)",
        ),
        (
            lambda: typedrl.gae(R5, R5, R5.float(), F5, F5, gamma=0.9, lam=0.9),
            "gae: next_values has dtype torch.float32; expected torch.float64 (as rewards)",
        ),
        (
            lambda: typedrl.gae(R5, R5[:4], R5, F5, F5, gamma=0.9, lam=0.9),
            "gae: values has shape (4,); expected (5,) (as rewards)",
        ),
        (
            lambda: typedrl.td_errors(R5, R5, R5, R5, gamma=0.9),
            "td_errors: terminated has dtype torch.float64; expected torch.bool",
        ),
        (
            lambda: typedrl.lambda_returns(R5, R5, R5, F5, F5.to(torch.uint8), gamma=0.9, lam=0.9),
            "lambda_returns: truncated has dtype torch.uint8; expected torch.bool",
        ),
        (
            lambda: typedrl.gae(R5.long(), R5, R5, F5, F5, gamma=0.9, lam=0.9),
            "gae: rewards has dtype torch.int64; expected a floating dtype",
        ),
        (
            lambda: typedrl.gae(torch.tensor(1.0, dtype=F64), R5, R5, F5, F5, gamma=0.9, lam=0.9),
            "gae: rewards is a scalar; expected shape [T] or [T, *batch]",
        ),
        (
            lambda: typedrl.gae([0.0] * 5, R5, R5, F5, F5, gamma=0.9, lam=0.9),  # type: ignore[arg-type]
            "gae: rewards is a list; expected a torch.Tensor",
        ),
        (
            lambda: typedrl.gae(R5, R5, R5, [False] * 5, F5, gamma=0.9, lam=0.9),  # type: ignore[arg-type]
            "gae: terminated is a list; expected a torch.Tensor",
        ),
        (
            lambda: typedrl.gae(R5, R5, R5, F5, F5, gamma=torch.ones(5, dtype=torch.int64), lam=0.9),
            "gae: gamma has dtype torch.int64; expected a floating dtype",
        ),
        (
            lambda: typedrl.gae(R5, R5, R5, F5, F5, gamma=torch.ones(4, dtype=F64), lam=0.9),
            "gae: gamma has shape (4,); expected (5,) (as rewards)",
        ),
        (
            lambda: typedrl.normalize_advantages(R5.long()),
            "normalize_advantages: advantages is torch.int64; expected a floating tensor",
        ),
    ],
)
def test_always_on_checks_with_shape_checks_off(call: Callable[[], object], message: str) -> None:
    with typedrl.shape_checks(False):
        _raises(InputError, message, call)


# Non-finite numbers: a coefficient that is exactly zero multiplies nothing (conventions, "Non-finite numbers").

NAN, INF = float("nan"), float("inf")


def assert_same(got: Tensor, expected: Tensor) -> None:
    """Equal values, NaN where NaN is expected (and nowhere else), infinities of the same sign."""
    torch.testing.assert_close(got, expected, rtol=0, atol=0, equal_nan=True)


def test_nan_value_after_a_termination_does_not_leak_backwards() -> None:
    # The issue's example: step 0 terminates, so A_0 = δ_0 = 1 never reads A_1 = NaN.
    args = (f64(1, 0), f64(0, NAN), f64(0, 0), flags(True, False), flags(False, False))
    assert_same(typedrl.gae(*args, gamma=0.9, lam=0.9), f64(1, NAN))
    assert_same(typedrl.lambda_returns(*args, gamma=0.9, lam=0.9), f64(1, NAN))


def test_lambda_zero_reads_nothing_of_the_next_step() -> None:
    args = (f64(1, 0), f64(0, NAN), f64(0, 0), flags(False, False), flags(False, False))
    assert_same(typedrl.gae(*args, gamma=0.9, lam=0.0), f64(1, NAN))
    assert_same(typedrl.td_errors(*args[:4], gamma=0.9), f64(1, NAN))
    assert_same(typedrl.gae(f64(1, INF), R2, R2, NO2, NO2, gamma=0.9, lam=0.0), f64(1, INF))


R2 = torch.zeros(2, dtype=F64)
NO2 = flags(False, False)


@pytest.mark.parametrize("bad", [NAN, INF, -INF])
def test_gamma_zero_reads_no_next_value(bad: float) -> None:
    next_values = f64(bad, bad)
    rewards, values = f64(1, 2), f64(0.5, 0.25)
    assert_same(typedrl.td_errors(rewards, values, next_values, NO2, gamma=0.0), f64(0.5, 1.75))
    assert_same(typedrl.gae(rewards, values, next_values, NO2, NO2, gamma=0.0, lam=0.9), f64(0.5, 1.75))
    assert_same(typedrl.lambda_returns(rewards, values, next_values, NO2, NO2, gamma=0.0, lam=0.9), f64(1, 2))
    assert_same(typedrl.discounted_returns(rewards, NO2, NO2, gamma=0.0, next_values=next_values), f64(1, 2))
    assert_same(
        typedrl.discounted_returns(rewards, NO2, flags(True, True), gamma=0.0, next_values=next_values), f64(1, 2)
    )


def test_per_step_zero_discounts_read_nothing_they_multiply() -> None:
    # γ_1 = 0: neither V'_1 = inf nor anything after step 1 reaches steps 0 and 1.
    rewards, values, next_values = f64(1, 2, NAN), f64(0, 0, 0), f64(1, INF, 3)
    gammas = f64(0.5, 0.0, 0.5)
    none = flags(False, False, False)
    assert_same(typedrl.td_errors(rewards, values, next_values, none, gamma=gammas), f64(1.5, 2, NAN))
    assert_same(typedrl.gae(rewards, values, next_values, none, none, gamma=gammas, lam=1.0), f64(2.5, 2, NAN))
    returns = typedrl.discounted_returns(rewards, none, none, gamma=gammas, next_values=next_values)
    assert_same(returns, f64(2, 2, NAN))


def test_terminated_steps_do_not_read_their_next_value() -> None:
    # A NaN next value at a terminal step, as some collectors write for "no next observation".
    terminated = flags(False, True, False)
    next_values = f64(2, NAN, 4)
    assert_same(typedrl.td_errors(REWARDS, VALUES, next_values, terminated, gamma=0.5), f64(1.5, 1, 3.5))
    assert_same(typedrl.gae(REWARDS, VALUES, next_values, terminated, NONE, gamma=0.5, lam=1.0), f64(2, 1, 3.5))
    assert_same(typedrl.discounted_returns(REWARDS, terminated, NONE, gamma=0.5, next_values=next_values), f64(2, 2, 5))
    last = flags(False, False, True)  # the rollout's last step terminated: G_T = V'_{T−1} is not read
    assert_same(
        typedrl.discounted_returns(REWARDS, NONE, last, gamma=0.5, next_values=f64(0, 0, NAN)), f64(NAN, NAN, NAN)
    )
    assert_same(
        typedrl.discounted_returns(REWARDS, last, NONE, gamma=0.5, next_values=f64(0, 0, NAN)), f64(2.75, 3.5, 3)
    )


def test_a_truncation_reads_its_next_value_and_the_nan_reaches_its_episode() -> None:
    truncated = flags(False, True, False)
    got = typedrl.gae(REWARDS, VALUES, f64(1, NAN, 2), NONE, truncated, gamma=0.5, lam=0.5)
    assert_same(got, f64(NAN, NAN, 2.5))


def test_infinities_stay_infinite_and_opposite_ones_make_nan() -> None:
    zeros = torch.zeros(3, dtype=F64)
    assert_same(typedrl.discounted_returns(f64(1, INF, 1), NONE, NONE, gamma=0.5), f64(INF, INF, 1))
    assert_same(typedrl.discounted_returns(f64(-INF, INF, 1), NONE, NONE, gamma=0.5), f64(NAN, INF, 1))
    assert_same(typedrl.gae(f64(1, 1, 1), zeros, zeros, NONE, NONE, gamma=1.0, lam=0.5), f64(1.75, 1.5, 1))
    assert_same(typedrl.gae(f64(1, 1, -INF), zeros, zeros, AT_1, NONE, gamma=1.0, lam=0.5), f64(1.5, 1, -INF))


@pytest.mark.parametrize("envs", [1, 3, 8, 9, 64, 65])
@pytest.mark.parametrize("horizon", [5, 70, 200])
def test_non_finite_values_past_a_done_step_stay_there_in_every_loop_shape(envs: int, horizon: int) -> None:
    # Both kernel loop shapes (rows for N >= 64, chunks of 64 steps with 8-lane blocks below) and chunk edges.
    cut = horizon // 2
    rewards = torch.ones(horizon, envs, dtype=F64)
    rewards[cut + 1] = torch.tensor([NAN, INF, -INF] * envs, dtype=F64)[:envs]
    zeros = torch.zeros_like(rewards)
    terminated = torch.zeros(horizon, envs, dtype=torch.bool)
    terminated[cut] = True
    truncated = torch.zeros_like(terminated)
    expected = torch.ones_like(rewards)  # γ = 0.5, λ = 1: A_t = 2 − 2^{t−cut} up to the cut
    expected[: cut + 1] = (2.0 - 0.5 ** torch.arange(cut, -1, -1, dtype=F64)).unsqueeze(1)
    expected[cut + 1 :] = float("nan")  # everything the non-finite reward reaches
    after = typedrl.discounted_returns(rewards[cut + 1 :], terminated[cut + 1 :], truncated[cut + 1 :], gamma=0.5)
    expected[cut + 1 :] = after
    for dtype in (F64, torch.float32):
        args = (rewards.to(dtype), zeros.to(dtype), zeros.to(dtype), terminated, truncated)
        got = typedrl.gae(*args, gamma=0.5, lam=1.0)
        assert_same(got[: cut + 1], expected[: cut + 1].to(dtype))
        assert not bool(got[cut + 1 : cut + 2].isfinite().any())
        returns = typedrl.discounted_returns(rewards.to(dtype), terminated, truncated, gamma=0.5)
        assert_same(returns[: cut + 1], expected[: cut + 1].to(dtype))
        assert_same(returns[cut + 1 :], after.to(dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_a_nonzero_lambda_that_underflows_float32_still_reads(dtype: torch.dtype) -> None:
    # λ = 1e-300 rounds to 0 in float32, and γ·λ = 1e-40 · 1e-30 underflows there; both must still carry an inf.
    rewards = torch.tensor([1.0, INF], dtype=dtype)
    zeros = torch.zeros(2, dtype=dtype)
    assert_same(
        typedrl.gae(rewards, zeros, zeros, NO2, NO2, gamma=0.9, lam=1e-300), torch.tensor([INF, INF], dtype=dtype)
    )
    assert_same(
        typedrl.gae(rewards, zeros, zeros, NO2, NO2, gamma=1e-30, lam=1e-30), torch.tensor([INF, INF], dtype=dtype)
    )
    if dtype is torch.float32:  # per-step discounts hold 1e-30 (a float16 tensor cannot)
        gammas = torch.full((2,), 1e-30)
        got = typedrl.gae(rewards, zeros, zeros, NO2, NO2, gamma=gammas, lam=1e-30)
        assert_same(got, torch.tensor([INF, INF]))
    next_values = torch.tensor([0.0, INF], dtype=dtype)
    assert_same(typedrl.td_errors(zeros, zeros, next_values, NO2, gamma=1e-300), torch.tensor([0, INF], dtype=dtype))


def test_per_step_discounts_narrowed_to_float32_keep_their_zeros_and_nonzeros() -> None:
    # A float64 per-step gamma with float32 rewards is converted; 1e-300 becomes float32's smallest subnormal, not 0.
    rewards = torch.tensor([1.0, INF, 2.0, INF])
    gammas = torch.tensor([1e-300, 1.0, 0.0, 1.0], dtype=F64)
    got = typedrl.discounted_returns(rewards, flags(*[False] * 4), flags(*[False] * 4), gamma=gammas)
    assert_same(got, torch.tensor([INF, INF, 2.0, INF]))


# What a kernel reads must be what a tensor means (lazy negation, strides, no storage, other layouts).


def negated_view(values: Tensor) -> Tensor:
    """A tensor equal to ``values`` whose memory holds ``−values`` under torch's lazy negation bit."""
    view = torch.complex(torch.zeros_like(values), -values).conj().imag
    assert view.is_neg()
    return view


@pytest.mark.parametrize("name", sorted(RECURRENCES))
@pytest.mark.parametrize("field", ["rewards", "values", "next_values"])
@pytest.mark.parametrize("shape", [(1,), (5,), (6, 3)], ids=["T=1", "T=5", "T=6,N=3"])
def test_lazily_negated_inputs_are_read_as_what_they_mean(name: str, field: str, shape: tuple[int, ...]) -> None:
    names = ["rewards", "values", "next_values", "terminated", "truncated"]
    inputs = dict(zip(names, _random_rollout(shape, 9), strict=True))
    r, v, nv, te, tr = inputs.values()
    expected = RECURRENCES[name](r, v, nv, te, tr, 0.9)
    inputs[field] = negated_view(inputs[field])
    r, v, nv, te, tr = inputs.values()
    assert_exact(RECURRENCES[name](r, v, nv, te, tr, 0.9), expected)


def test_the_issues_negated_reward() -> None:
    rewards = torch.complex(torch.zeros(1), torch.full((1,), 2.5)).conj().imag  # −2.5
    done = torch.zeros(1, dtype=torch.bool)
    assert_exact(typedrl.discounted_returns(rewards, done, done, gamma=0.9), torch.tensor([-2.5]))
    gammas = negated_view(torch.tensor([0.5]))
    assert_exact(
        typedrl.discounted_returns(rewards, done, done, gamma=gammas, next_values=-rewards), torch.tensor([-1.25])
    )


def test_expanded_offset_and_dtype_view_inputs_are_read_as_what_they_mean() -> None:
    none = flags(False, False, False, False)
    expanded = torch.ones(1, dtype=F64).expand(4)  # stride 0
    assert_exact(typedrl.discounted_returns(expanded, none, none, gamma=0.5), f64(1.875, 1.75, 1.5, 1))
    offset = torch.arange(8, dtype=F64)[4:]  # storage offset 4
    assert_exact(typedrl.discounted_returns(offset, none, none, gamma=1.0), f64(22, 18, 13, 7))
    as_float = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=F64).view(torch.int64).view(F64)
    assert_exact(typedrl.discounted_returns(as_float, none, none, gamma=1.0), f64(10, 9, 7, 4))


def test_flags_stored_as_other_nonzero_bytes_are_true() -> None:
    # torch reads any nonzero byte of a bool tensor as True; so do typedrl's kernels.
    odd = torch.tensor([0, 2, 0], dtype=torch.uint8).view(torch.bool)
    assert_exact(typedrl.gae(REWARDS, VALUES, NEXT_VALUES, odd, NONE, gamma=0.5, lam=0.5), f64(1.25, 1.0, 2.5))
    assert_exact(typedrl.gae(REWARDS, VALUES, NEXT_VALUES, NONE, odd, gamma=0.5, lam=0.5), f64(1.75, 3.0, 2.5))
    assert_exact(typedrl.td_errors(REWARDS, VALUES, NEXT_VALUES, odd, gamma=0.5), f64(1.0, 1.0, 2.5))
    assert_exact(typedrl.discounted_returns(REWARDS, odd, NONE, gamma=1.0), f64(3.0, 2.0, 3.0))


def test_inputs_that_require_grad_give_targets_without_grad() -> None:
    values = VALUES.clone().requires_grad_(True)
    got = typedrl.lambda_returns(REWARDS, values, NEXT_VALUES, NONE, AT_1, gamma=0.5, lam=0.5)
    assert not got.requires_grad
    assert_exact(got, f64(2.25, 4.0, 4.0))


def test_a_zero_tensor_without_storage_is_read_as_zeros() -> None:
    zeros = torch._efficientzerotensor(3, dtype=F64)  # what forward-mode AD makes: data pointer 0
    assert_exact(typedrl.gae(f64(1, 1, 1), zeros, zeros, NONE, NONE, gamma=0.5, lam=1.0), f64(1.75, 1.5, 1.0))
    assert_exact(typedrl.discounted_returns(zeros, NONE, NONE, gamma=0.5, next_values=zeros), zeros.clone())


@pytest.mark.parametrize("checks", [True, False], ids=["shape checks on", "shape checks off"])
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: typedrl.discounted_returns(R5.to_sparse(), F5, F5, gamma=0.9),
            "discounted_returns: rewards has layout torch.sparse_coo; expected a dense tensor (torch.strided)",
        ),
        (
            lambda: typedrl.gae(R5.float(), R5.float().to_mkldnn(), R5.float(), F5, F5, gamma=0.9, lam=0.9),
            "gae: values has layout torch._mkldnn; expected a dense tensor (torch.strided)",
        ),
        (
            lambda: typedrl.td_errors(R5, R5, R5.to_sparse(), F5, gamma=0.9),
            "td_errors: next_values has layout torch.sparse_coo; expected a dense tensor (torch.strided)",
        ),
        (
            lambda: typedrl.gae(R5, R5, R5, F5, F5, gamma=R5.to_sparse(), lam=0.9),
            "gae: gamma has layout torch.sparse_coo; expected a dense tensor (torch.strided)",
        ),
        (
            lambda: typedrl.normalize_advantages(R5.to_sparse()),
            "normalize_advantages: advantages has layout torch.sparse_coo; expected a dense tensor (torch.strided)",
        ),
        (
            lambda: typedrl.discounted_returns(R5.to("meta"), F5.to("meta"), F5.to("meta"), gamma=0.9),
            "discounted_returns: rewards is on meta; expected a device that holds values, such as cpu or cuda",
        ),
        (
            lambda: typedrl.normalize_advantages(R5.to("meta")),
            "normalize_advantages: advantages is on meta; expected a device that holds values, such as cpu or cuda",
        ),
    ],
)
def test_tensors_without_a_dense_array_of_values_are_input_errors(
    checks: bool, call: Callable[[], object], message: str
) -> None:
    with typedrl.shape_checks(checks):
        _raises(InputError, message, call)


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors")
def test_a_nested_tensor_is_an_input_error() -> None:
    nested = torch.nested.nested_tensor([torch.ones(2, dtype=F64), torch.ones(3, dtype=F64)])
    with typedrl.shape_checks(False):
        _raises(
            InputError,
            "discounted_returns: rewards is a nested tensor; expected a dense tensor (torch.strided)",
            lambda: typedrl.discounted_returns(nested, F5, F5, gamma=0.9),
        )


def test_a_tensor_inside_vmap_is_an_input_error() -> None:
    def returns(rewards: Tensor) -> Tensor:
        return typedrl.discounted_returns(rewards, F5, F5, gamma=0.9)

    _raises(
        InputError,
        "discounted_returns: rewards has no storage to read (is it inside a torch.func transform such as vmap?); "
        "expected a plain dense tensor",
        lambda: torch.func.vmap(returns)(torch.zeros(2, 5, dtype=F64)),
    )


# Half precision: computed in float32 and rounded once.


def test_half_precision_td_errors_do_not_overflow_in_between() -> None:
    big = torch.full((1,), 60000.0, dtype=torch.float16)
    no = flags(False)
    assert_exact(typedrl.td_errors(big, big, big, no, gamma=0.99), torch.tensor([59392.0], dtype=torch.float16))
    assert_exact(typedrl.gae(big, big, big, no, no, gamma=0.99, lam=0.0), torch.tensor([59392.0], dtype=torch.float16))
    bf = big.to(torch.bfloat16)
    assert_exact(typedrl.td_errors(bf, bf, bf, no, gamma=0.99), torch.tensor([59392.0], dtype=torch.bfloat16))


def test_half_precision_per_step_gamma_is_not_rounded_to_half_first() -> None:
    # γ = 0.99 as a float32 tensor with float16 rewards: 0.99 · 1000 = 990, where float16's 0.99 (0.990234375)
    # would give 990.234375 → 990.0 too, so use a reward that separates them: 0.99 · 2000 = 1980 (float16: 1980).
    rewards = torch.tensor([0.0, 2000.0], dtype=torch.float16)
    gamma = torch.tensor([0.99, 0.99])
    got = typedrl.discounted_returns(rewards, NO2, NO2, gamma=gamma)
    assert_exact(got, torch.tensor([1980.0, 2000.0], dtype=torch.float16))


def test_half_precision_lambda_returns_round_once() -> None:
    # A = 0.1 and V = 1000.3 in float32 sum to 1000.4 → float16 1000.5; rounding A and the sum separately gives 1000.0.
    rewards = torch.tensor([1000.4], dtype=torch.float16)  # 1000.5 in float16
    values = torch.tensor([1000.0], dtype=torch.float16)
    no = flags(False)
    got = typedrl.lambda_returns(rewards, values, values, no, no, gamma=0.0, lam=0.5)
    assert_exact(got, torch.tensor([1000.5], dtype=torch.float16))


# Hyperparameters: numpy scalars are numbers; bools and other kinds are not.


@pytest.mark.parametrize("checks", [True, False], ids=["shape checks on", "shape checks off"])
def test_numpy_scalar_hyperparameters_are_accepted(checks: bool) -> None:
    zeros = torch.zeros(3, dtype=F64)
    with typedrl.shape_checks(checks):
        pairs: list[tuple[RealScalar, RealScalar]] = [
            (np.float32(0.5), np.float64(1.0)),
            (np.float64(0.5), np.int64(1)),
            (np.float16(0.5), 1),
        ]
        for gamma, lam in pairs:
            assert_exact(typedrl.gae(f64(1, 1, 1), zeros, zeros, NONE, NONE, gamma=gamma, lam=lam), f64(1.75, 1.5, 1))
            got = typedrl.lambda_returns(f64(1, 1, 1), zeros, zeros, NONE, NONE, gamma=gamma, lam=lam)
            assert_exact(got, f64(1.75, 1.5, 1))
            assert_exact(typedrl.discounted_returns(f64(1, 2, 3), NONE, NONE, gamma=gamma), f64(2.75, 3.5, 3.0))
            assert_exact(typedrl.td_errors(f64(1, 1, 1), zeros, f64(2, 2, 2), NONE, gamma=gamma), f64(2, 2, 2))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: typedrl.gae(R5, R5, R5, F5, F5, gamma=np.float32(1.5), lam=0.9),
            "gae: gamma is np.float32(1.5) (a float32); expected a finite real number in [0, 1]",
        ),
        (
            lambda: typedrl.gae(R5, R5, R5, F5, F5, gamma=0.9, lam=np.bool_(True)),  # type: ignore[arg-type]
            "gae: lam is np.True_ (a bool); expected a finite real number in [0, 1]",
        ),
        (
            lambda: typedrl.discounted_returns(R5, F5, F5, gamma="0.9"),  # type: ignore[arg-type]
            "discounted_returns: gamma is '0.9' (a str); expected a finite real number in [0, 1]",
        ),
        (
            lambda: typedrl.td_errors(R5, R5, R5, F5, gamma=None),  # type: ignore[arg-type]
            "td_errors: gamma is None (a NoneType); expected a finite real number in [0, 1]",
        ),
        (
            lambda: typedrl.lambda_returns(R5, R5, R5, F5, F5, gamma=0.9, lam=False),
            "lambda_returns: lam is False (a bool); expected a finite real number in [0, 1]",
        ),
    ],
)
def test_hyperparameters_of_the_wrong_kind_say_their_type(call: Callable[[], object], message: str) -> None:
    with typedrl.shape_checks(False):
        _raises(HyperparameterError, message, call)


# Advantage normalization refuses non-finite advantages, in every dtype.


@pytest.mark.parametrize(
    ("advantages", "message"),
    [
        (f64(NAN, 1.0), "normalize_advantages: advantages[0] is nan; expected finite values"),
        (f64(1.0, 2.0, INF), "normalize_advantages: advantages[2] is inf; expected finite values"),
        (
            torch.tensor([[1.0, 2.0], [-INF, NAN]]),
            "normalize_advantages: advantages[1, 0] is -inf; expected finite values",
        ),
        (
            torch.tensor([1.0, NAN], dtype=torch.float16),
            "normalize_advantages: advantages[1] is nan; expected finite values",
        ),
        (
            torch.tensor([INF], dtype=torch.bfloat16),
            "normalize_advantages: advantages[0] is inf; expected finite values",
        ),
    ],
)
def test_normalize_advantages_rejects_non_finite_advantages(advantages: Tensor, message: str) -> None:
    _raises(InputError, message, lambda: typedrl.normalize_advantages(advantages))


def test_normalize_advantages_of_finite_extremes_is_finite() -> None:
    largest = torch.finfo(torch.float16).max
    got = typedrl.normalize_advantages(torch.tensor([largest, -largest], dtype=torch.float16))
    assert_exact(got, torch.tensor([1.0, -1.0], dtype=torch.float16))


def test_per_step_discounts_are_range_checked_as_given_not_after_rounding() -> None:
    """1 + 1e-12 and -1e-50 in float64 round to 1 and -0 in float32; the spec refuses them, and so does gae."""
    ones, zeros = torch.ones(3), torch.zeros(3)
    flags = torch.zeros(3, dtype=torch.bool)
    for bad in (1 + 1e-12, -1e-50):
        gamma = torch.full((3,), bad, dtype=torch.float64)
        with pytest.raises(HyperparameterError, match=r"^gae: gamma\[0\] is "):
            typedrl.gae(ones, zeros, zeros, flags, flags, gamma=gamma, lam=1.0)
        with pytest.raises(HyperparameterError, match=r"^td_errors: gamma\[0\] is "):
            typedrl.td_errors(ones, zeros, zeros, flags, gamma=gamma)
