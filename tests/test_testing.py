"""typedrl.testing: its strategies honour their parameters, its oracles are the spec, and they catch wrong GAEs."""

import dataclasses
import subprocess
import sys
from collections.abc import Callable
from typing import TypeVar

import jaxtyping
import pytest
import torch
from hypothesis import HealthCheck, Phase, assume, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from torch import Tensor

import typedrl
import typedrl.mdp
from typedrl import HyperparameterError, InputError, spec
from typedrl.mdp import FiniteMDP
from typedrl.testing import (
    TrajectoryBatch,
    assert_close_to_reference,
    assert_matches_reference,
    finite_mdps,
    gammas,
    lams,
    reference_bellman_optimality,
    reference_discounted_returns,
    reference_gae,
    reference_lambda_returns,
    reference_normalized_advantages,
    reference_td_errors,
    trajectory_batches,
    value_functions,
)

F64 = torch.float64
Example = TypeVar("Example")
INF = float("inf")
# For find(): the first example that satisfies the condition, reproducibly (no shrinking: it is only evidence).
SEARCH = settings(
    database=None,
    derandomize=True,
    max_examples=1000,
    phases=[Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)


# GAE implementations to test the tools with: one right, two with the mistakes peers make.


def loop_gae(
    rewards: Tensor,
    values: Tensor,
    next_values: Tensor,
    terminated: Tensor,
    truncated: Tensor,
    *,
    gamma: float | Tensor,
    lam: float,
    done_read_at_next_step: bool = False,
    truncation_as_termination: bool = False,
) -> Tensor:
    """A plain torch loop over time; the two flags switch on the two classic mistakes."""
    gammas_ = gamma if isinstance(gamma, Tensor) else torch.full_like(rewards, gamma)
    done = terminated | truncated
    no_bootstrap = done if truncation_as_termination else terminated
    deltas = rewards + gammas_ * torch.where(no_bootstrap, 0.0, next_values) - values
    out = torch.empty_like(rewards)
    following = torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        if done_read_at_next_step:  # the "episode starts" flag of SB3/CleanRL read as if it were done[t]
            cut = done[t + 1] if t + 1 < rewards.shape[0] else torch.zeros_like(done[t])
        else:
            cut = done[t]
        following = deltas[t] + gammas_[t] * lam * torch.where(cut, 0.0, following)
        out[t] = following
    return out


def done_read_at_next_step(
    rewards: Tensor,
    values: Tensor,
    next_values: Tensor,
    terminated: Tensor,
    truncated: Tensor,
    *,
    gamma: float | Tensor,
    lam: float,
) -> Tensor:
    args = (rewards, values, next_values, terminated, truncated)
    return loop_gae(*args, gamma=gamma, lam=lam, done_read_at_next_step=True)


def truncation_as_termination(
    rewards: Tensor,
    values: Tensor,
    next_values: Tensor,
    terminated: Tensor,
    truncated: Tensor,
    *,
    gamma: float | Tensor,
    lam: float,
) -> Tensor:
    args = (rewards, values, next_values, terminated, truncated)
    return loop_gae(*args, gamma=gamma, lam=lam, truncation_as_termination=True)


def fails(candidate: Callable[..., Tensor], batch: TrajectoryBatch, lam: float) -> bool:
    try:
        assert_matches_reference(candidate, batch, lam=lam)
    except AssertionError:
        return True
    return False


def test_gae_reading_done_at_the_next_step_is_caught() -> None:
    batch, lam = find(
        st.tuples(trajectory_batches(), lams()), lambda case: fails(done_read_at_next_step, *case), settings=SEARCH
    )
    assert bool(batch.done.any())  # the mistake only shows where an episode ends
    with pytest.raises(AssertionError, match=r"^gae candidate \(.*\): differs from the reference at"):
        assert_matches_reference(done_read_at_next_step, batch, lam=lam)


def test_gae_treating_truncation_as_termination_is_caught() -> None:
    batch, lam = find(
        st.tuples(trajectory_batches(), lams()), lambda case: fails(truncation_as_termination, *case), settings=SEARCH
    )
    assert bool((batch.truncated & ~batch.terminated).any())  # only a truncation without termination shows it
    with pytest.raises(AssertionError, match=r"^gae candidate \(.*\): differs from the reference at"):
        assert_matches_reference(truncation_as_termination, batch, lam=lam)


@given(batch=trajectory_batches(batched=None, per_step_gamma=None, dtype=None), lam=lams())
def test_typedrl_gae_passes(batch: TrajectoryBatch, lam: float) -> None:
    assert_matches_reference(typedrl.gae, batch, lam=lam)


@given(batch=trajectory_batches(batched=None, per_step_gamma=None), lam=lams())
def test_a_correct_loop_passes(batch: TrajectoryBatch, lam: float) -> None:
    assert_matches_reference(loop_gae, batch, lam=lam)


def test_a_wrong_dtype_is_caught() -> None:
    batch = find(trajectory_batches(dtype=torch.float32), lambda b: True, settings=SEARCH)

    def widening(
        rewards: Tensor,
        values: Tensor,
        next_values: Tensor,
        terminated: Tensor,
        truncated: Tensor,
        *,
        gamma: float | Tensor,
        lam: float,
    ) -> Tensor:
        gamma = gamma.double() if isinstance(gamma, Tensor) else gamma
        args = (rewards.double(), values.double(), next_values.double(), terminated, truncated)
        return typedrl.gae(*args, gamma=gamma, lam=lam)

    with pytest.raises(AssertionError) as caught:
        assert_matches_reference(widening, batch, lam=0.5)
    assert str(caught.value) == "gae candidate returned dtype torch.float64; expected torch.float32 (as rewards)"


# The strategies honour their parameters.


@given(batch=trajectory_batches(horizon=7, batched=False))
def test_fixed_horizon_and_unbatched(batch: TrajectoryBatch) -> None:
    assert batch.rewards.shape == (7,)
    assert batch.batch_shape == ()


@given(batch=trajectory_batches(min_horizon=2, max_horizon=5, batched=True, num_envs=6))
def test_horizon_range_and_fixed_envs(batch: TrajectoryBatch) -> None:
    assert 2 <= batch.horizon <= 5
    assert batch.batch_shape == (6,)
    for field in (batch.values, batch.next_values, batch.terminated, batch.truncated):
        assert field.shape == batch.rewards.shape


@given(batch=trajectory_batches(min_envs=2, max_envs=3, batched=True, reward_bound=0.5, value_bound=2.0))
def test_env_range_and_bounds(batch: TrajectoryBatch) -> None:
    assert 2 <= batch.batch_shape[0] <= 3
    assert float(batch.rewards.abs().max()) <= 0.5
    assert float(batch.values.abs().max()) <= 2.0
    assert float(batch.next_values.abs().max()) <= 2.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_dtype(dtype: torch.dtype) -> None:
    batch = find(trajectory_batches(dtype=dtype, per_step_gamma=True), lambda b: True, settings=SEARCH)
    assert {batch.rewards.dtype, batch.values.dtype, batch.next_values.dtype} == {dtype}
    assert isinstance(batch.gamma, Tensor)
    assert batch.gamma.dtype == dtype
    assert batch.terminated.dtype == batch.truncated.dtype == torch.bool


def test_dtype_none_draws_both_float_types() -> None:
    for dtype in (torch.float32, torch.float64):
        find(trajectory_batches(dtype=None), lambda b, d=dtype: b.rewards.dtype == d, settings=SEARCH)  # type: ignore[misc]


@given(batch=trajectory_batches(terminated_probability=0.0, truncated_probability=1.0, max_envs=80))
def test_flag_probabilities_zero_and_one(batch: TrajectoryBatch) -> None:
    assert not bool(batch.terminated.any())
    assert bool(batch.truncated.all())


def test_both_flags_at_one_step_are_drawn() -> None:
    find(trajectory_batches(), lambda b: bool((b.terminated & b.truncated).any()), settings=SEARCH)


@settings(max_examples=20)
@given(batch=trajectory_batches(horizon=2000, batched=False, terminated_probability=0.3, truncated_probability=0.1))
def test_flag_densities_of_large_batches(batch: TrajectoryBatch) -> None:
    assume(bool(batch.rewards[256:].any()))  # not the all-zero batch of hypothesis's first, simplest tries
    assert 0.25 < float(batch.terminated.double().mean()) < 0.35
    assert 0.06 < float(batch.truncated.double().mean()) < 0.14
    assert float(batch.rewards.abs().max()) <= 10.0


@given(batch=trajectory_batches(per_step_gamma=True, max_horizon=300, batched=None))
def test_per_step_gamma(batch: TrajectoryBatch) -> None:
    assert isinstance(batch.gamma, Tensor)
    assert batch.gamma.shape == batch.rewards.shape
    assert bool(((batch.gamma >= 0) & (batch.gamma <= 1)).all())


@given(batch=trajectory_batches(gamma=0.75))
def test_fixed_gamma(batch: TrajectoryBatch) -> None:
    assert batch.gamma == 0.75


@given(batch=trajectory_batches(consistent_values=True, max_horizon=300, batched=None))
def test_consistent_values(batch: TrajectoryBatch) -> None:
    continues = ~batch.done[:-1]
    assert torch.equal(batch.next_values[:-1][continues], batch.values[1:][continues])


def test_consistent_values_are_what_the_lambda_one_identity_needs() -> None:
    # Without them, GAE(λ=1) + values and the bootstrapped return differ: the option is not decoration.
    def identity_breaks(batch: TrajectoryBatch) -> bool:
        b = batch
        advantages = typedrl.gae(b.rewards, b.values, b.next_values, b.terminated, b.truncated, gamma=b.gamma, lam=1.0)
        returns = typedrl.discounted_returns(
            b.rewards, b.terminated, b.truncated, gamma=b.gamma, next_values=b.next_values
        )
        return not torch.allclose(advantages + b.values, returns)

    find(trajectory_batches(), identity_breaks, settings=SEARCH)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"terminated_probability": 1.5},
        {"truncated_probability": -0.1},
        {"min_horizon": 5, "max_horizon": 4},
        {"horizon": -1},
        {"min_envs": 0},
        {"num_envs": 0},
        {"dtype": torch.int64},
        {"reward_bound": float("inf")},
        {"value_bound": -1.0},
        {"gamma": 1.5},
        {"gamma": 0.9, "per_step_gamma": True},
    ],
)
def test_invalid_strategy_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        trajectory_batches(**kwargs)  # type: ignore[arg-type]


def test_gammas_and_lams_reach_both_endpoints() -> None:
    for strategy in (gammas(), lams()):
        assert find(strategy, lambda x: x == 0.0, settings=SEARCH) == 0.0
        assert find(strategy, lambda x: x == 1.0, settings=SEARCH) == 1.0
        find(strategy, lambda x: 0.0 < x < 1.0 and x not in (0.5, 0.9, 0.99), settings=SEARCH)


@given(gamma=gammas(), lam=lams())
def test_gammas_and_lams_stay_in_the_unit_interval(gamma: float, lam: float) -> None:
    assert 0.0 <= gamma <= 1.0
    assert 0.0 <= lam <= 1.0


def test_without_hypothesis_the_import_error_names_the_extra() -> None:
    code = "import sys; sys.modules['hypothesis'] = None; import typedrl.testing"  # None: the import fails
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 1
    assert 'ImportError: typedrl.testing needs hypothesis: pip install "typedrl[testing]"' in result.stderr


# TrajectoryBatch.

R3 = torch.tensor([1.0, 2.0, 3.0], dtype=F64)
B3 = torch.tensor([False, True, False])


def make(**fields: object) -> TrajectoryBatch:
    defaults: dict[str, object] = {
        "rewards": R3,
        "values": R3,
        "next_values": R3,
        "terminated": B3,
        "truncated": ~B3,
        "gamma": 0.9,
    }
    return TrajectoryBatch(**(defaults | fields))  # type: ignore[arg-type]


def test_batch_properties() -> None:
    batch = make()
    assert batch.horizon == 3
    assert batch.batch_shape == ()
    assert torch.equal(batch.done, torch.ones(3, dtype=torch.bool))


def test_batch_trajectories_are_its_columns() -> None:
    rewards = torch.arange(12, dtype=F64).reshape(3, 2, 2)
    flags = torch.zeros(3, 2, 2, dtype=torch.bool)
    flags[1, 0, 1] = True
    gamma = torch.full((3, 2, 2), 0.5, dtype=F64)
    batch = TrajectoryBatch(rewards, -rewards, rewards + 1, flags, ~flags, gamma)
    columns = batch.trajectories()
    assert len(columns) == 4
    assert torch.equal(columns[1].rewards, torch.tensor([1.0, 5.0, 9.0], dtype=F64))
    assert torch.equal(columns[1].terminated, torch.tensor([False, True, False]))
    assert torch.equal(columns[1].values, -columns[1].rewards)
    assert isinstance(columns[3].gamma, Tensor)
    assert columns[3].gamma.shape == (3,)


def test_batch_rejects_a_shape_mismatch_naming_the_field() -> None:
    with pytest.raises(jaxtyping.TypeCheckError, match="parameter 'next_values'"):
        make(next_values=R3[:2])


GAMMA_OUTSIDE = torch.tensor([0.5, -1.0, 0.5], dtype=F64)


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        (
            {"values": R3.float()},
            InputError,
            "TrajectoryBatch: values has dtype torch.float32; expected torch.float64 (as rewards)",
        ),
        (
            {"next_values": R3.to("meta")},
            InputError,
            "TrajectoryBatch: next_values is on meta; expected cpu (as rewards)",
        ),
        ({"gamma": 1.5}, HyperparameterError, "TrajectoryBatch: gamma is 1.5; expected a finite real number in [0, 1]"),
        (
            {"gamma": float("nan")},
            HyperparameterError,
            "TrajectoryBatch: gamma is nan; expected a finite real number in [0, 1]",
        ),
        (
            {"gamma": GAMMA_OUTSIDE},
            HyperparameterError,
            "TrajectoryBatch: gamma[1] is -1.0; expected every discount in [0, 1]",
        ),
    ],
)
def test_batch_rejects_inconsistent_fields(fields: dict[str, object], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as caught:
        make(**fields)
    assert str(caught.value) == message


# The oracles are the specification, column by column.


def test_reference_functions_on_a_single_trajectory_are_the_spec() -> None:
    batch = make(values=torch.tensor([0.5, 1.0, 1.5], dtype=F64), truncated=torch.zeros(3, dtype=torch.bool))
    args = (R3.tolist(), batch.values.tolist(), R3.tolist(), B3.tolist())
    no_flags = [False] * 3
    assert reference_td_errors(batch).tolist() == spec.td_errors(*args, gamma=0.9)
    assert reference_gae(batch, lam=0.7).tolist() == spec.gae(*args, no_flags, gamma=0.9, lam=0.7)
    assert reference_lambda_returns(batch, lam=0.7).tolist() == spec.lambda_returns(*args, no_flags, gamma=0.9, lam=0.7)
    assert reference_discounted_returns(batch).tolist() == spec.discounted_returns(
        R3.tolist(), B3.tolist(), no_flags, gamma=0.9, next_values=R3.tolist()
    )
    assert reference_discounted_returns(batch, bootstrap=False).tolist() == [1.0 + 0.9 * 2.0, 2.0, 3.0]


@given(batch=trajectory_batches(batched=True, per_step_gamma=None, max_envs=6), lam=lams())
def test_reference_gae_runs_the_spec_per_column(batch: TrajectoryBatch, lam: float) -> None:
    reference = reference_gae(batch, lam=lam)
    assert reference.dtype == F64
    assert reference.shape == batch.rewards.shape
    for n, column in enumerate(batch.trajectories()):
        gamma = column.gamma.tolist() if isinstance(column.gamma, Tensor) else float(column.gamma)
        expected = spec.gae(
            column.rewards.tolist(),
            column.values.tolist(),
            column.next_values.tolist(),
            column.terminated.tolist(),
            column.truncated.tolist(),
            gamma=gamma,
            lam=lam,
        )
        assert reference[:, n].tolist() == expected


def test_reference_normalized_advantages_is_over_all_elements() -> None:
    advantages = torch.tensor([[1.0, 3.0], [1.0, 3.0]], dtype=torch.float32)
    reference = reference_normalized_advantages(advantages)
    assert reference.dtype == F64
    assert reference.tolist() == [[-1.0, 1.0], [-1.0, 1.0]]


def test_references_of_an_empty_batch_are_empty() -> None:
    empty = torch.zeros(0, 3, dtype=F64)
    no_flags = torch.zeros(0, 3, dtype=torch.bool)
    batch = TrajectoryBatch(empty, empty, empty, no_flags, no_flags, 0.9)
    assert reference_gae(batch, lam=0.5).shape == (0, 3)
    assert reference_discounted_returns(batch).shape == (0, 3)


# The comparison helper.


def test_assert_close_to_reference_names_the_first_bad_element() -> None:
    expected = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=F64)
    got = expected.clone()
    got[1, 0] = 3.5
    got[1, 1] = 5.0
    with pytest.raises(AssertionError) as caught:
        assert_close_to_reference(got, expected, rtol=1e-9, atol=1e-9, label="returns")
    assert str(caught.value) == (
        "returns: differs from the reference at 2 of 4 elements (rtol=1e-09, atol=1e-09); "
        "first at t=1, batch index (0,): expected 3.0, got 3.5"
    )


def test_assert_close_to_reference_default_tolerance_scales_with_the_result() -> None:
    expected = torch.tensor([1000.0, 0.0], dtype=F64)
    assert_close_to_reference(expected + torch.tensor([0.0, 5e-7], dtype=F64), expected)  # within 1e-9 · 1001
    with pytest.raises(AssertionError):
        assert_close_to_reference(expected + torch.tensor([0.0, 5e-6], dtype=F64), expected)
    assert_close_to_reference(expected.float() + torch.tensor([0.0, 0.05]), expected)  # float32: 1e-4 · 1001


def test_assert_close_to_reference_checks_shape_and_special_values() -> None:
    with pytest.raises(AssertionError, match=r"^result: shape \(2,\); expected \(3,\)$"):
        assert_close_to_reference(torch.zeros(2), torch.zeros(3, dtype=F64))
    special = torch.tensor([float("nan"), float("inf"), -float("inf")], dtype=F64)
    assert_close_to_reference(special.clone(), special)
    with pytest.raises(AssertionError):
        assert_close_to_reference(torch.zeros(3, dtype=F64), special)


def test_replace_keeps_batches_checked() -> None:
    with pytest.raises(InputError):
        dataclasses.replace(make(), values=R3.float())


# Non-finite numbers, on request.


@given(batch=trajectory_batches(max_horizon=300, batched=None))
def test_batches_are_finite_by_default(batch: TrajectoryBatch) -> None:
    for field in (batch.rewards, batch.values, batch.next_values):
        assert bool(field.isfinite().all())


@pytest.mark.parametrize(
    ("kwargs", "present", "absent"),
    [
        ({"allow_nan": True}, ["nan"], ["inf", "-inf"]),
        ({"allow_infinity": True}, ["inf", "-inf"], ["nan"]),
        ({"allow_nan": True, "allow_infinity": True}, ["nan", "inf", "-inf"], []),
    ],
)
@pytest.mark.parametrize("horizon", [20, 400], ids=["decoded", "seeded"])
def test_allowed_non_finite_numbers_appear_in_every_field(
    kwargs: dict[str, bool], present: list[str], absent: list[str], horizon: int
) -> None:
    def kinds(tensor: Tensor) -> set[str]:
        found = {"nan"} if bool(tensor.isnan().any()) else set()
        return found | {name for name, value in (("inf", 1), ("-inf", -1)) if bool((tensor == value * INF).any())}

    def shows_all(batch: TrajectoryBatch) -> bool:
        return all(set(present) <= kinds(field) for field in (batch.rewards, batch.values, batch.next_values))

    strategy = trajectory_batches(
        horizon=horizon,
        batched=True,
        num_envs=4 if horizon < 100 else 8,
        allow_nan=kwargs.get("allow_nan", False),
        allow_infinity=kwargs.get("allow_infinity", False),
    )
    batch = find(strategy, shows_all, settings=SEARCH)
    for field in (batch.rewards, batch.values, batch.next_values):
        assert not (kinds(field) & set(absent))
        assert 0.02 < float((~field.isfinite()).double().mean()) < 0.3  # about one in eight


def test_non_finite_numbers_shrink_away() -> None:
    batch = find(
        trajectory_batches(allow_nan=True, allow_infinity=True),
        lambda b: bool(b.rewards.isnan().any()),
        settings=settings(database=None, derandomize=True, max_examples=1000),
    )
    assert batch.rewards.numel() == 1  # one step, one element: the NaN the condition needs
    assert bool(batch.values.isfinite().all())
    assert bool(batch.next_values.isfinite().all())


@given(
    batch=trajectory_batches(allow_nan=True, allow_infinity=True, batched=None, per_step_gamma=None, dtype=None),
    lam=lams(),
)
def test_typedrl_gae_passes_with_non_finite_numbers(batch: TrajectoryBatch, lam: float) -> None:
    assert_matches_reference(typedrl.gae, batch, lam=lam)


def test_a_gae_that_multiplies_by_a_zero_coefficient_is_caught() -> None:
    # 0 · NaN = NaN: a loop that multiplies the next advantage by (1 − done) leaks a NaN across an episode end.
    batch, lam = find(
        st.tuples(trajectory_batches(allow_nan=True), lams()),
        lambda case: fails(loop_gae, *case),
        settings=SEARCH,
    )
    assert bool(batch.done.any()) or lam == 0.0 or (not isinstance(batch.gamma, Tensor) and batch.gamma == 0.0)
    with pytest.raises(AssertionError, match=r"^gae candidate \(.*\): differs from the reference at"):
        assert_matches_reference(loop_gae, batch, lam=lam)


def test_batch_refuses_a_bool_gamma_for_its_type() -> None:
    with pytest.raises(HyperparameterError) as caught:
        make(gamma=True)
    assert str(caught.value) == "TrajectoryBatch: gamma is True (a bool); expected a finite real number in [0, 1]"


# A failing property shrinks to the smallest case: one or two steps of one trajectory, numbers 0 and ±1, no flag that
# the failure does not need (and the same for finite MDPs: one state, one action where the failure allows).

SHRINK = settings(
    database=None, derandomize=True, max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck)
)


def shrunk_failure(strategy: st.SearchStrategy[Example], check: Callable[[Example], None]) -> Example:
    """The example that a failing hypothesis test reports: ``check`` raises on it (hypothesis runs it last)."""
    seen: list[Example] = []

    @SHRINK
    @given(example=strategy)
    def failing(example: Example) -> None:
        seen.append(example)
        check(example)

    with pytest.raises(AssertionError):
        failing()
    return seen[-1]


def numbers_in(batch: TrajectoryBatch) -> set[float]:
    tensors = [batch.rewards, batch.values, batch.next_values]
    tensors += [batch.gamma] if isinstance(batch.gamma, Tensor) else []
    return {float(x) for tensor in tensors for x in tensor.double().reshape(-1).tolist()}


@pytest.mark.parametrize("batched", [False, True, None])
def test_a_reward_above_one_half_shrinks_to_one_step_with_reward_one(batched: bool | None) -> None:
    batch = find(
        trajectory_batches(batched=batched, per_step_gamma=None, dtype=None),
        lambda b: bool((b.rewards > 0.5).any()),
        settings=SHRINK,
    )
    assert tuple(batch.rewards.shape) == ((1, 1) if batched else (1,))
    assert batch.rewards.double().reshape(-1).tolist() == [1.0]  # not 0.5000153, the first code above one half
    assert numbers_in(batch) == {0.0, 1.0}
    assert not bool(batch.done.any())
    assert batch.gamma == 0.0


@pytest.mark.parametrize("batched", [False, True])
def test_a_long_enough_horizon_shrinks_to_exactly_that_horizon(batched: bool) -> None:
    batch = find(trajectory_batches(batched=batched), lambda b: b.horizon >= 3, settings=SHRINK)
    assert tuple(batch.rewards.shape) == ((3, 1) if batched else (3,))
    assert numbers_in(batch) == {0.0}
    assert not bool(batch.done.any())


def test_a_failure_in_one_trajectory_of_many_shrinks_to_that_trajectory_alone() -> None:
    # Two fields at one step: a truncation whose next value is above one half.
    batch = find(
        trajectory_batches(batched=True, min_envs=2, max_envs=4),
        lambda b: bool((b.truncated & (b.next_values > 0.5)).any()),
        settings=SHRINK,
    )
    assert tuple(batch.rewards.shape) == (1, 2)  # one step; min_envs trajectories
    assert sorted(batch.next_values.reshape(-1).tolist()) == [0.0, 1.0]
    assert int(batch.truncated.sum()) == 1
    assert not bool(batch.terminated.any())


def test_a_failure_in_a_large_seeded_batch_shrinks_to_a_small_decoded_one() -> None:
    # Batches of 40 to 2400 elements: above 256 the tail of a batch comes from a seed, and the failing example
    # hypothesis finds first is that large. The failure still shrinks to the smallest batch, decoded whole.
    sizes: list[int] = []

    def fails(batch: TrajectoryBatch) -> bool:
        failed = bool((batch.terminated & (batch.rewards < -0.5)).any())
        sizes.extend([batch.rewards.numel()] if failed else [])
        return failed

    batch = find(trajectory_batches(min_horizon=40, max_horizon=300, batched=True, max_envs=8), fails, settings=SHRINK)
    assert sizes[0] > 256  # the first failure had a seeded tail
    assert tuple(batch.rewards.shape) == (40, 1)
    assert batch.rewards.reshape(-1).tolist().count(-1.0) == 1
    assert numbers_in(batch) == {0.0, -1.0}
    assert int(batch.terminated.sum()) == 1
    assert not bool(batch.truncated.any())


def test_per_step_discounts_shrink_to_the_simple_ones() -> None:
    batch = find(
        trajectory_batches(per_step_gamma=True),
        lambda b: isinstance(b.gamma, Tensor) and bool(((b.gamma > 0) & (b.gamma < 1)).any()),
        settings=SHRINK,
    )
    assert isinstance(batch.gamma, Tensor)
    assert batch.gamma.tolist() == [0.5]


@pytest.mark.parametrize(
    ("candidate", "steps"), [(truncation_as_termination, 1), (done_read_at_next_step, 2)], ids=["truncation", "done"]
)
def test_a_wrong_gae_shrinks_to_the_steps_its_mistake_needs(candidate: Callable[..., Tensor], steps: int) -> None:
    def check(case: tuple[TrajectoryBatch, float]) -> None:
        assert_matches_reference(candidate, case[0], lam=case[1])

    strategy = st.tuples(trajectory_batches(batched=None, per_step_gamma=None, dtype=None), lams())
    batch, lam = shrunk_failure(strategy, check)
    assert tuple(batch.rewards.shape) == (steps,)
    assert numbers_in(batch) <= {0.0, 1.0, -1.0}
    assert int(batch.done.sum()) == 1  # the one episode end the mistake is about
    assert lam in (0.0, 1.0)


def test_finite_mdps_shrink_to_one_state_and_action_where_the_failure_allows() -> None:
    mdp = find(finite_mdps(), lambda m: m.gamma > 0 and bool((m.rewards < 0).any()), settings=SHRINK)
    assert (mdp.num_states, mdp.num_actions) == (1, 1)
    assert mdp.rewards.tolist() == [[-1.0]]
    assert mdp.gamma == 0.5  # the simplest discount above 0 that the strategy draws often
    stochastic = find(finite_mdps(), lambda m: bool(((m.transitions > 0) & (m.transitions < 1)).any()), settings=SHRINK)
    assert (stochastic.num_states, stochastic.num_actions) == (2, 1)
    assert sorted(stochastic.transitions.reshape(-1).tolist()) == [0.0, 0.5, 0.5, 1.0]
    assert stochastic.rewards.tolist() == [[0.0], [0.0]]


def test_a_wrong_bellman_optimality_operator_shrinks_to_one_state_and_two_actions() -> None:
    def min_over_actions(mdp: FiniteMDP, values: Tensor) -> Tensor:  # a min for the max
        return typedrl.mdp.q_from_v(mdp, values).min(dim=1).values

    def check(case: tuple[FiniteMDP, Tensor]) -> None:
        mdp, values = case
        assert_close_to_reference(min_over_actions(mdp, values), reference_bellman_optimality(mdp, values))

    mdp_and_values = finite_mdps().flatmap(lambda m: st.tuples(st.just(m), value_functions(m)))
    mdp, values = shrunk_failure(mdp_and_values, check)
    assert (mdp.num_states, mdp.num_actions) == (1, 2)
    assert sorted(mdp.rewards.reshape(-1).tolist()) == [0.0, 1.0]
    assert values.tolist() == [0.0]
