"""Properties of the tensor return math: it equals the specification, and obeys what the equations imply.

Each test is one property. Batches come from :mod:`typedrl.testing`; flag densities range from "never" to
"every step" (so episodes of every length, and both flags at once), ``N`` crosses the sizes where the compiled
kernel changes its loop (8 and 64 environments), and ``gamma`` is a float or a per-step tensor. ``T = 0`` is
pinned in test_returns.py rather than drawn here.

The tensor functions equal the specification on non-finite input too: the spec-equality properties draw NaN
and ±inf among the rewards, values and next values, and :func:`~typedrl.testing.assert_close_to_reference`
holds NaN to NaN and each infinity to one of the same sign. The other properties (linearity, recursions) are
statements about finite numbers and draw finite batches.
"""

import dataclasses
import math

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import Tensor

import typedrl
from typedrl import InputError
from typedrl.testing import (
    TrajectoryBatch,
    assert_close_to_reference,
    lams,
    reference_discounted_returns,
    reference_gae,
    reference_lambda_returns,
    reference_normalized_advantages,
    reference_td_errors,
    trajectory_batches,
)

DENSITIES = st.sampled_from([0.0, 0.05, 0.3, 0.9, 1.0])
# 1 to 7 columns, 8 to 63 (blocks of 8 plus a remainder) and 64 or more (row at a time) take different loops.
ENV_COUNTS = st.sampled_from([1, 2, 3, 7, 8, 9, 16, 17, 63, 64, 65, 100])


@st.composite
def batches(
    draw: st.DrawFn,
    *,
    min_horizon: int = 1,
    max_horizon: int = 24,
    dtype: torch.dtype = torch.float64,
    consistent_values: bool = False,
    per_step_gamma: bool | None = None,
    env_counts: st.SearchStrategy[int] = ENV_COUNTS,
    non_finite: bool = False,
) -> TrajectoryBatch:
    """[T] or [T, N] batches with any flag density, N across the kernel's loop shapes, either kind of gamma;
    ``non_finite=True`` lets NaN, inf and -inf (each, or none) appear among the numbers."""
    return draw(
        trajectory_batches(
            min_horizon=min_horizon,
            max_horizon=max_horizon,
            num_envs=draw(env_counts),
            dtype=dtype,
            terminated_probability=draw(DENSITIES),
            truncated_probability=draw(DENSITIES),
            per_step_gamma=per_step_gamma,
            consistent_values=consistent_values,
            allow_nan=non_finite and draw(st.booleans()),
            allow_infinity=non_finite and draw(st.booleans()),
        )
    )


@st.composite
def batch_pairs(draw: st.DrawFn) -> tuple[TrajectoryBatch, TrajectoryBatch]:
    """Two batches with the same shape, flags and gamma, and independent rewards, values and next values."""
    first = draw(batches())
    other = draw(
        trajectory_batches(
            horizon=first.horizon,
            batched=bool(first.batch_shape),
            num_envs=first.batch_shape[0] if first.batch_shape else None,
        )
    )
    return first, dataclasses.replace(other, terminated=first.terminated, truncated=first.truncated, gamma=first.gamma)


def gae(batch: TrajectoryBatch, lam: float) -> Tensor:
    b = batch
    return typedrl.gae(b.rewards, b.values, b.next_values, b.terminated, b.truncated, gamma=b.gamma, lam=lam)


def lambda_returns(batch: TrajectoryBatch, lam: float) -> Tensor:
    b = batch
    return typedrl.lambda_returns(b.rewards, b.values, b.next_values, b.terminated, b.truncated, gamma=b.gamma, lam=lam)


def td_errors(batch: TrajectoryBatch) -> Tensor:
    return typedrl.td_errors(batch.rewards, batch.values, batch.next_values, batch.terminated, gamma=batch.gamma)


def discounted_returns(batch: TrajectoryBatch, *, bootstrap: bool) -> Tensor:
    b = batch
    next_values = b.next_values if bootstrap else None
    return typedrl.discounted_returns(b.rewards, b.terminated, b.truncated, gamma=b.gamma, next_values=next_values)


def with_fields(batch: TrajectoryBatch, **fields: Tensor | float) -> TrajectoryBatch:
    return dataclasses.replace(batch, **fields)  # type: ignore[arg-type]


TIGHT = 1e-9  # float64 against float64: only rounding-order differences


# The tensor functions equal the specification.


@given(batch=batches(non_finite=True))
def test_td_errors_equal_spec(batch: TrajectoryBatch) -> None:
    assert_close_to_reference(td_errors(batch), reference_td_errors(batch), rtol=TIGHT)


@given(batch=batches(non_finite=True), lam=lams())
def test_gae_equals_spec(batch: TrajectoryBatch, lam: float) -> None:
    assert_close_to_reference(gae(batch, lam), reference_gae(batch, lam=lam), rtol=TIGHT)


@given(batch=batches(non_finite=True), lam=lams())
def test_lambda_returns_equal_spec(batch: TrajectoryBatch, lam: float) -> None:
    assert_close_to_reference(lambda_returns(batch, lam), reference_lambda_returns(batch, lam=lam), rtol=TIGHT)


@given(batch=batches(non_finite=True), bootstrap=st.booleans())
def test_discounted_returns_equal_spec(batch: TrajectoryBatch, bootstrap: bool) -> None:
    expected = reference_discounted_returns(batch, bootstrap=bootstrap)
    assert_close_to_reference(discounted_returns(batch, bootstrap=bootstrap), expected, rtol=TIGHT)


@given(batch=batches(non_finite=True))
def test_normalize_advantages_equals_spec(batch: TrajectoryBatch) -> None:
    advantages = batch.rewards * batch.values  # products: wide spreads, constant batches when shrunk to zeros
    if bool(advantages.isfinite().all()):
        expected = reference_normalized_advantages(advantages)
        assert_close_to_reference(typedrl.normalize_advantages(advantages), expected, rtol=TIGHT)
        return
    # Both layers refuse a non-finite advantage, naming the same first one (the spec by its flat index).
    with pytest.raises(InputError) as by_spec:
        reference_normalized_advantages(advantages)
    with pytest.raises(InputError) as by_tensor:
        typedrl.normalize_advantages(advantages.reshape(-1))
    assert str(by_tensor.value) == str(by_spec.value)


@settings(max_examples=12)
@given(
    batch=batches(min_horizon=1000, max_horizon=3000, env_counts=st.sampled_from([1, 3, 8, 9]), non_finite=True),
    lam=lams(),
)
def test_long_horizons_equal_spec(batch: TrajectoryBatch, lam: float) -> None:
    assert_close_to_reference(td_errors(batch), reference_td_errors(batch), rtol=TIGHT)
    assert_close_to_reference(gae(batch, lam), reference_gae(batch, lam=lam), rtol=TIGHT)
    assert_close_to_reference(lambda_returns(batch, lam), reference_lambda_returns(batch, lam=lam), rtol=TIGHT)
    for bootstrap in (False, True):
        expected = reference_discounted_returns(batch, bootstrap=bootstrap)
        assert_close_to_reference(discounted_returns(batch, bootstrap=bootstrap), expected, rtol=TIGHT)
    advantages = gae(batch, lam)
    if bool(advantages.isfinite().all()):
        expected = reference_normalized_advantages(advantages)
        assert_close_to_reference(typedrl.normalize_advantages(advantages), expected, rtol=TIGHT)


# What the equations imply.


@given(batch=batches(consistent_values=True))
def test_gae_with_lambda_one_is_bootstrapped_return_minus_values(batch: TrajectoryBatch) -> None:
    expected = discounted_returns(batch, bootstrap=True) - batch.values
    assert_close_to_reference(gae(batch, 1.0), expected, rtol=TIGHT)


@given(batch=batches(consistent_values=True))
def test_lambda_returns_with_lambda_one_are_bootstrapped_returns(batch: TrajectoryBatch) -> None:
    assert_close_to_reference(lambda_returns(batch, 1.0), discounted_returns(batch, bootstrap=True), rtol=TIGHT)


@given(batch=batches(consistent_values=True), lam=lams())
def test_lambda_returns_obey_their_recursion(batch: TrajectoryBatch, lam: float) -> None:
    # G^λ_t = r_t + γ_t (1 − terminated_t) [(1 − λ(1 − done_t)) V'_t + λ (1 − done_t) G^λ_{t+1}], G^λ_T = V'_{T−1}
    targets = lambda_returns(batch, lam)
    following = torch.cat([targets[1:], batch.next_values[-1:]])
    continues = (~batch.done).to(targets.dtype)
    mixed = (1 - lam * continues) * batch.next_values + lam * continues * following
    expected = batch.rewards + batch.gamma * (~batch.terminated).to(targets.dtype) * mixed
    assert_close_to_reference(targets, expected, rtol=TIGHT)


@given(batch=batches())
def test_gae_with_lambda_zero_is_td_errors(batch: TrajectoryBatch) -> None:
    assert_close_to_reference(gae(batch, 0.0), td_errors(batch), rtol=TIGHT)


@given(batch=batches(), lam=lams())
def test_lambda_returns_are_advantages_plus_values(batch: TrajectoryBatch, lam: float) -> None:
    assert_close_to_reference(lambda_returns(batch, lam), gae(batch, lam) + batch.values, rtol=TIGHT)


@given(batch=batches(per_step_gamma=False), lam=lams())
def test_gamma_zero_leaves_only_the_immediate_reward(batch: TrajectoryBatch, lam: float) -> None:
    batch = with_fields(batch, gamma=0.0)
    torch.testing.assert_close(discounted_returns(batch, bootstrap=True), batch.rewards, rtol=0, atol=0)
    torch.testing.assert_close(discounted_returns(batch, bootstrap=False), batch.rewards, rtol=0, atol=0)
    torch.testing.assert_close(td_errors(batch), batch.rewards - batch.values, rtol=0, atol=0)
    torch.testing.assert_close(gae(batch, lam), batch.rewards - batch.values, rtol=0, atol=0)
    assert_close_to_reference(lambda_returns(batch, lam), batch.rewards, rtol=TIGHT)


@given(batch=batches(min_horizon=2), data=st.data())
def test_splitting_at_a_done_step_changes_nothing(batch: TrajectoryBatch, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, batch.horizon - 2), label="cut")  # done at `cut` in every column
    flag = data.draw(st.sampled_from(["terminated", "truncated"]), label="flag")
    flags = getattr(batch, flag).clone()
    flags[cut] = True
    whole = with_fields(batch, **{flag: flags})

    def part(steps: slice) -> TrajectoryBatch:
        gamma = whole.gamma[steps] if isinstance(whole.gamma, Tensor) else whole.gamma
        fields = {f.name: getattr(whole, f.name)[steps] for f in dataclasses.fields(whole) if f.name != "gamma"}
        return with_fields(whole, **fields, gamma=gamma)

    head, tail = part(slice(0, cut + 1)), part(slice(cut + 1, None))
    lam = data.draw(lams(), label="lam")
    for function in (
        td_errors,
        lambda b: gae(b, lam),
        lambda b: lambda_returns(b, lam),
        lambda b: discounted_returns(b, bootstrap=True),
        lambda b: discounted_returns(b, bootstrap=False),
    ):
        joined = torch.cat([function(head), function(tail)])
        assert_close_to_reference(joined, function(whole), rtol=TIGHT)


@given(batch=batches(), lam=lams())
def test_batched_call_equals_one_call_per_trajectory(batch: TrajectoryBatch, lam: float) -> None:
    columns = batch.trajectories()
    for function in (
        td_errors,
        lambda b: gae(b, lam),
        lambda b: lambda_returns(b, lam),
        lambda b: discounted_returns(b, bootstrap=True),
        lambda b: discounted_returns(b, bootstrap=False),
    ):
        one_by_one = torch.stack([function(column) for column in columns], dim=-1)
        assert_close_to_reference(function(batch), one_by_one.reshape(batch.rewards.shape), rtol=TIGHT)


@given(batch=trajectory_batches(batched=True, min_envs=4, max_envs=24), lam=lams(), data=st.data())
def test_trailing_batch_dims_are_independent_trajectories(
    batch: TrajectoryBatch, lam: float, data: st.DataObject
) -> None:
    envs = batch.batch_shape[0]
    split = data.draw(st.sampled_from([d for d in range(1, envs + 1) if envs % d == 0]), label="split")

    def nested(b: TrajectoryBatch) -> TrajectoryBatch:
        fields = {f.name: getattr(b, f.name) for f in dataclasses.fields(b)}
        shaped = {
            k: v.reshape(b.horizon, split, envs // split) if isinstance(v, Tensor) else v for k, v in fields.items()
        }
        return TrajectoryBatch(**shaped)

    flat_result = gae(batch, lam)
    nested_result = gae(nested(batch), lam)
    assert nested_result.shape == (batch.horizon, split, envs // split)
    assert_close_to_reference(nested_result.reshape(flat_result.shape), flat_result, rtol=TIGHT)
    flat_returns = discounted_returns(batch, bootstrap=True)
    nested_returns = discounted_returns(nested(batch), bootstrap=True)
    assert_close_to_reference(nested_returns.reshape(flat_returns.shape), flat_returns, rtol=TIGHT)


@given(pair=batch_pairs(), a=st.floats(-3, 3), b=st.floats(-3, 3))
def test_discounted_returns_without_next_values_are_linear_in_rewards(
    pair: tuple[TrajectoryBatch, TrajectoryBatch], a: float, b: float
) -> None:
    first, second = pair
    mixed = with_fields(first, rewards=a * first.rewards + b * second.rewards)
    g1, g2 = discounted_returns(first, bootstrap=False), discounted_returns(second, bootstrap=False)
    scale = 1.0 + abs(a) * float(g1.abs().max()) + abs(b) * float(g2.abs().max())
    assert_close_to_reference(
        discounted_returns(mixed, bootstrap=False), a * g1 + b * g2, rtol=TIGHT, atol=TIGHT * scale
    )


@given(pair=batch_pairs(), a=st.floats(-3, 3), b=st.floats(-3, 3), lam=lams())
def test_gae_is_linear_in_rewards_values_and_next_values_together(
    pair: tuple[TrajectoryBatch, TrajectoryBatch], a: float, b: float, lam: float
) -> None:
    first, second = pair
    mixed = with_fields(
        first,
        rewards=a * first.rewards + b * second.rewards,
        values=a * first.values + b * second.values,
        next_values=a * first.next_values + b * second.next_values,
    )
    g1, g2 = gae(first, lam), gae(second, lam)
    scale = 1.0 + abs(a) * float(g1.abs().max()) + abs(b) * float(g2.abs().max())
    assert_close_to_reference(gae(mixed, lam), a * g1 + b * g2, rtol=TIGHT, atol=TIGHT * scale)


@given(pair=batch_pairs(), lam=lams())
def test_gae_is_affine_in_rewards(pair: tuple[TrajectoryBatch, TrajectoryBatch], lam: float) -> None:
    # gae(r1 + r2, V, V') − gae(r2, V, V') = gae(r1, 0, 0): the values enter only through the TD errors.
    first, second = pair
    summed = with_fields(second, rewards=first.rewards + second.rewards)
    zeros = torch.zeros_like(first.rewards)
    rewards_only = with_fields(first, values=zeros, next_values=zeros)
    difference = gae(summed, lam) - gae(second, lam)
    scale = 1.0 + float(gae(summed, lam).abs().max()) + float(gae(second, lam).abs().max())
    assert_close_to_reference(difference, gae(rewards_only, lam), rtol=TIGHT, atol=TIGHT * scale)


@given(batch=batches(), lam=lams())
def test_gae_of_rewards_alone_is_the_return_discounted_by_gamma_lambda(batch: TrajectoryBatch, lam: float) -> None:
    zeros = torch.zeros_like(batch.rewards)
    rewards_only = with_fields(batch, values=zeros, next_values=zeros)
    discounted = with_fields(batch, gamma=batch.gamma * lam)
    assert_close_to_reference(gae(rewards_only, lam), discounted_returns(discounted, bootstrap=False), rtol=TIGHT)


@given(batch=batches())
def test_discounted_returns_without_next_values_obey_the_recursion(batch: TrajectoryBatch) -> None:
    # G_t = r_t + γ_t (1 − done_t) G_{t+1}, G_T = 0, checked on the output itself.
    returns = discounted_returns(batch, bootstrap=False)
    following = torch.cat([returns[1:], torch.zeros_like(returns[:1])])
    expected = batch.rewards + batch.gamma * (~batch.done).to(returns.dtype) * following
    assert_close_to_reference(returns, expected, rtol=TIGHT)


@given(batch=batches())
def test_bootstrapped_discounted_returns_obey_the_recursion(batch: TrajectoryBatch) -> None:
    # G_t = r_t + γ_t (1 − terminated_t) (V'_t if done_t else G_{t+1}), G_T = V'_{T−1}.
    returns = discounted_returns(batch, bootstrap=True)
    following = torch.cat([returns[1:], batch.next_values[-1:]])
    continuation = torch.where(batch.done, batch.next_values, following)
    expected = batch.rewards + batch.gamma * (~batch.terminated).to(returns.dtype) * continuation
    assert_close_to_reference(returns, expected, rtol=TIGHT)


@given(batch=batches(), lam=lams())
def test_terminated_and_truncated_behaves_as_terminated(batch: TrajectoryBatch, lam: float) -> None:
    both = with_fields(batch, truncated=batch.truncated | batch.terminated)
    only = with_fields(batch, truncated=batch.truncated & ~batch.terminated)
    for function in (
        td_errors,
        lambda b: gae(b, lam),
        lambda b: lambda_returns(b, lam),
        lambda b: discounted_returns(b, bootstrap=True),
        lambda b: discounted_returns(b, bootstrap=False),
    ):
        torch.testing.assert_close(function(both), function(only), rtol=0, atol=0)


# Advantage normalization.


@st.composite
def advantage_tensors(draw: st.DrawFn) -> Tensor:
    """Advantages of float32 or float64 at scales from 1e-6 to 1e6, including constant and one-element ones."""
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    base = draw(trajectory_batches(min_horizon=1, max_horizon=40, dtype=torch.float64)).rewards
    if draw(st.booleans()):
        base = torch.full_like(base, draw(st.floats(-10, 10)))
    return (base * 10.0 ** draw(st.integers(-6, 6))).to(dtype)


@given(advantages=advantage_tensors())
def test_normalized_advantages_have_mean_zero_and_unit_std(advantages: Tensor) -> None:
    out = typedrl.normalize_advantages(advantages)
    assert out.dtype == advantages.dtype
    assert out.shape == advantages.shape
    assert not bool(out.isnan().any())
    wide, source = out.double(), advantages.double()
    spread = float(source.max() - source.min())
    if spread == 0.0:  # constant, or a single element: A − mean(A) = 0
        torch.testing.assert_close(out, torch.zeros_like(out), rtol=0, atol=0)
        return
    # A spread within a few ulps of the mean's magnitude cannot be centred exactly in floating point.
    assume(spread > 1e3 * torch.finfo(advantages.dtype).eps * float(source.abs().max()))
    tolerance = 1e-9 if advantages.dtype == torch.float64 else 1e-3
    assert abs(float(wide.mean())) <= tolerance
    assert math.isclose(float(wide.std(correction=0)), 1.0, rel_tol=tolerance)


@pytest.mark.parametrize(
    ("dtype", "scale"),
    [
        pytest.param(torch.float64, 1e-200, id="float64-1e-200"),
        pytest.param(torch.float64, 1e-30, id="float64-1e-30"),
        pytest.param(torch.float64, 1e30, id="float64-1e30"),
        pytest.param(torch.float64, 1e200, id="float64-1e200"),
        pytest.param(torch.float32, 1e-25, id="float32-1e-25"),
        pytest.param(torch.float32, 1e-10, id="float32-1e-10"),
        pytest.param(torch.float32, 1e10, id="float32-1e10"),
        pytest.param(torch.float32, 1e25, id="float32-1e25"),
        pytest.param(torch.float16, 1e-3, id="float16-1e-3"),
        pytest.param(torch.float16, 1e3, id="float16-1e3"),
        pytest.param(torch.bfloat16, 1e-25, id="bfloat16-1e-25"),
        pytest.param(torch.bfloat16, 1e25, id="bfloat16-1e25"),
    ],
)
def test_normalized_advantages_at_huge_and_tiny_magnitudes(dtype: torch.dtype, scale: float) -> None:
    # Every input here and its population std are normal numbers of the dtype, so (A − mean) / std is exact
    # enough to hold: the result must not depend on the scale.
    advantages = (torch.tensor([1.0, -1.0, 0.5, 0.0], dtype=torch.float64) * scale).to(dtype)
    expected = typedrl.normalize_advantages(torch.tensor([1.0, -1.0, 0.5, 0.0], dtype=torch.float64))
    got = typedrl.normalize_advantages(advantages)
    assert got.dtype == dtype
    assert_close_to_reference(got, expected, rtol=1e-2 if dtype in (torch.float16, torch.bfloat16) else 1e-5)


@given(
    values=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=20),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_normalized_advantages_are_never_nan(values: list[float], dtype: torch.dtype) -> None:
    advantages = torch.tensor(values, dtype=torch.float64).to(dtype)
    assume(bool(advantages.isfinite().all()))  # values beyond float32's range round to inf
    assert not bool(typedrl.normalize_advantages(advantages).isnan().any())


# Precision: float32 against the float64 specification, and the half-precision types.


@given(batch=batches(dtype=torch.float32, non_finite=True), lam=lams())
def test_float32_agrees_with_the_float64_spec(batch: TrajectoryBatch, lam: float) -> None:
    results = {
        "td_errors": (td_errors(batch), reference_td_errors(batch)),
        "gae": (gae(batch, lam), reference_gae(batch, lam=lam)),
        "lambda_returns": (lambda_returns(batch, lam), reference_lambda_returns(batch, lam=lam)),
        "discounted_returns": (discounted_returns(batch, bootstrap=True), reference_discounted_returns(batch)),
    }
    for label, (got, expected) in results.items():
        assert got.dtype == torch.float32, label
        assert_close_to_reference(got, expected, rtol=1e-4, label=label)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@settings(max_examples=40)
@given(data=st.data())
def test_half_precision_keeps_its_dtype_and_agrees_with_the_spec(dtype: torch.dtype, data: st.DataObject) -> None:
    batch = data.draw(batches(dtype=dtype, non_finite=True), label="batch")
    lam = data.draw(lams(), label="lam")
    results = {
        "td_errors": (td_errors(batch), reference_td_errors(batch)),
        "gae": (gae(batch, lam), reference_gae(batch, lam=lam)),
        "lambda_returns": (lambda_returns(batch, lam), reference_lambda_returns(batch, lam=lam)),
        "discounted_returns": (discounted_returns(batch, bootstrap=True), reference_discounted_returns(batch)),
    }
    if bool(batch.rewards.isfinite().all()):
        results["normalize_advantages"] = (
            typedrl.normalize_advantages(batch.rewards),
            reference_normalized_advantages(batch.rewards),
        )
    # Rounding to the half type happens on intermediate results as large as the values, so the absolute
    # tolerance scales with the (finite) inputs too.
    fields = (batch.rewards, batch.values, batch.next_values)
    scale = 1.0 + sum(float(field.nan_to_num(0.0, posinf=0.0, neginf=0.0).abs().max()) for field in fields)
    for label, (got, expected) in results.items():
        assert got.dtype == dtype, label
        atol = 1e-2 * (scale + float(expected.nan_to_num(0.0, posinf=0.0, neginf=0.0).abs().max()))
        assert_close_to_reference(got, expected, rtol=1e-2, atol=atol, label=label)
