"""The tensor return math on hand-computed cases, odd layouts, and the exact errors it raises."""

from collections.abc import Callable

import jaxtyping
import pytest
import torch
from torch import Tensor

import typedrl
from typedrl import HyperparameterError, InputError

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
        (1.5, 0.9, "gae: gamma is 1.5; expected a float in [0, 1]"),
        (-0.01, 0.9, "gae: gamma is -0.01; expected a float in [0, 1]"),
        (float("nan"), 0.9, "gae: gamma is nan; expected a float in [0, 1]"),
        (float("inf"), 0.9, "gae: gamma is inf; expected a float in [0, 1]"),
        (0.9, 1.0000001, "gae: lam is 1.0000001; expected a float in [0, 1]"),
        (0.9, -1.0, "gae: lam is -1.0; expected a float in [0, 1]"),
        (0.9, float("nan"), "gae: lam is nan; expected a float in [0, 1]"),
        (True, 0.9, "gae: gamma is True; expected a float in [0, 1]"),
    ],
)
def test_gae_hyperparameters_out_of_range(gamma: float, lam: float, message: str) -> None:
    _raises(HyperparameterError, message, lambda: typedrl.gae(R5, R5, R5, F5, F5, gamma=gamma, lam=lam))


def test_other_functions_name_themselves_in_hyperparameter_errors() -> None:
    nan = float("nan")
    _raises(
        HyperparameterError,
        "lambda_returns: lam is nan; expected a float in [0, 1]",
        lambda: typedrl.lambda_returns(R5, R5, R5, F5, F5, gamma=0.9, lam=nan),
    )
    _raises(
        HyperparameterError,
        "discounted_returns: gamma is 2.0; expected a float in [0, 1]",
        lambda: typedrl.discounted_returns(R5, F5, F5, gamma=2.0),
    )
    _raises(
        HyperparameterError,
        "td_errors: gamma is nan; expected a float in [0, 1]",
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
