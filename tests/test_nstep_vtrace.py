"""n-step returns, V-trace and masked sequences: the tensor functions equal the specification, and obey what the
equations imply.

The tensor functions (:mod:`typedrl.returns`) are held to the plain-Python specification (:mod:`typedrl.spec`) on
float64 batches, non-finite numbers included (NaN matching NaN, infinities matching in sign), with and without
a ``valid`` mask in both mask modes. The reductions (``n = 1`` is the one-step target, ``n ≥ T`` the discounted
return, V-trace with ratios 1 is the λ = 1 return), golden values worked by hand, the rule that nothing behind a
mask or a zero coefficient is read, the batch-major layout and the error messages are tested on their own.
"""

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

import typedrl
from typedrl import HyperparameterError, InputError, _recurrence
from typedrl._recurrence import Inputs, Kind
from typedrl._recurrence.torch_loop import n_step_loop, torch_loop
from typedrl.returns import (
    discounted_returns,
    gae,
    lambda_returns,
    n_step_returns,
    td_errors,
    vtrace,
)
from typedrl.spec import returns as spec
from typedrl.testing import (
    TrajectoryBatch,
    assert_close_to_reference,
    lams,
    reference_discounted_returns,
    reference_gae,
    reference_lambda_returns,
    reference_n_step_returns,
    reference_vtrace,
    trajectory_batches,
)

TIGHT = 1e-9  # float64 against float64: only rounding-order differences
INF, NAN = math.inf, math.nan
DENSITIES = st.sampled_from([0.0, 0.05, 0.3, 0.9, 1.0])
# 1 to 7 columns, 8 to 63 and 64 or more take different loops in the recurrence kernel.
ENV_COUNTS = st.sampled_from([1, 2, 3, 7, 8, 9, 17, 64, 65])


# Strategies: one call's worth of arguments.


@dataclasses.dataclass(frozen=True)
class Case:
    """Every argument of the functions under test: a trajectory batch, log-probabilities, a mask and the
    hyperparameters."""

    batch: TrajectoryBatch
    behaviour: Tensor  # log μ(a|s)
    target: Tensor  # log π(a|s)
    valid: Tensor | None
    mask_mode: str
    n: int
    lam: float
    rho_bar: float
    c_bar: float

    def replace(self, **fields: Any) -> "Case":
        batch_fields = {k: v for k, v in fields.items() if k in {f.name for f in dataclasses.fields(TrajectoryBatch)}}
        own = {k: v for k, v in fields.items() if k not in batch_fields}
        return dataclasses.replace(self, batch=dataclasses.replace(self.batch, **batch_fields), **own)


def _generator(draw: st.DrawFn) -> torch.Generator:
    return torch.Generator().manual_seed(draw(st.integers(0, 2**32 - 1), label="seed"))


@st.composite
def log_probs(draw: st.DrawFn, shape: tuple[int, ...], *, non_finite: bool) -> tuple[Tensor, Tensor]:
    """(behaviour, target) log-probabilities in float64: equal, close (ratios near 1, both sides of the clip), or
    far apart; with ``non_finite``, some ``-inf`` (ratio 0 or inf) and NaN."""
    generator = _generator(draw)
    behaviour = -torch.rand(shape, generator=generator, dtype=torch.float64) * 4
    spread = draw(st.sampled_from([0.0, 0.3, 3.0]), label="spread")
    target = behaviour + torch.randn(shape, generator=generator, dtype=torch.float64) * spread
    if non_finite and draw(st.booleans(), label="non-finite log-probs"):
        which = torch.rand(shape, generator=generator)
        target = torch.where(which < 0.15, -INF, target)  # π = 0: ρ = c = 0
        behaviour = torch.where((which > 0.9) & (which < 0.95), -INF, behaviour)  # μ = 0: ratio inf
        target = torch.where(which > 0.97, NAN, target)
    return behaviour, target


@st.composite
def masks(draw: st.DrawFn, shape: tuple[int, ...], *, optional: bool = True) -> Tensor | None:
    """A bool mask: all valid, none, right- or left-padded columns, a gap in the middle, or random; ``optional``
    draws None too. Gaps in the middle (where the two mask modes differ) are drawn most often."""
    patterns = ["all", "nothing", "right", "left", "gap", "gap", "random", "random", "random"]
    pattern = draw(st.sampled_from(["none given", *patterns] if optional else patterns), label="mask")
    if pattern == "none given":
        return None
    generator = _generator(draw)
    horizon = shape[0]
    steps = torch.arange(horizon).reshape((horizon,) + (1,) * (len(shape) - 1)).expand(shape)
    columns = shape[1:]
    if pattern == "all":
        return torch.ones(shape, dtype=torch.bool)
    if pattern == "nothing":
        return torch.zeros(shape, dtype=torch.bool)
    if pattern in ("right", "left", "gap"):
        lengths = torch.randint(0, horizon + 1, columns, generator=generator)
        if pattern == "right":
            return steps < lengths
        if pattern == "left":
            return steps >= horizon - lengths
        starts = torch.randint(0, horizon + 1, columns, generator=generator)
        return (steps < starts) | (steps >= starts + lengths)
    return torch.rand(shape, generator=generator) < draw(st.sampled_from([0.2, 0.5, 0.8]), label="density")


@st.composite
def cases(
    draw: st.DrawFn,
    *,
    dtype: torch.dtype = torch.float64,
    non_finite: bool = False,
    masked: bool | None = None,
    consistent_values: bool = False,
    min_horizon: int = 1,
    max_horizon: int = 20,
) -> Case:
    """A :class:`Case`: [T] or [T, N] batches with any flag density, either kind of gamma, any mask."""
    batch = draw(
        trajectory_batches(
            min_horizon=min_horizon,
            max_horizon=max_horizon,
            num_envs=draw(ENV_COUNTS, label="envs"),
            dtype=dtype,
            terminated_probability=draw(DENSITIES, label="terminated density"),
            truncated_probability=draw(DENSITIES, label="truncated density"),
            per_step_gamma=None,
            consistent_values=consistent_values,
            allow_nan=non_finite and draw(st.booleans(), label="nan"),
            allow_infinity=non_finite and draw(st.booleans(), label="inf"),
        ),
        label="batch",
    )
    shape = tuple(batch.rewards.shape)
    behaviour, target = draw(log_probs(shape, non_finite=non_finite), label="log-probs")
    if masked is None:
        valid = draw(masks(shape), label="valid")
    elif masked:
        valid = draw(masks(shape, optional=False), label="valid")
    else:
        valid = None
    bars = st.one_of(st.sampled_from([1.0, 0.0, 0.5, 2.0, INF]), st.floats(0.0, 3.0))
    return Case(
        batch=batch,
        behaviour=behaviour.to(dtype),
        target=target.to(dtype),
        valid=valid,
        mask_mode=draw(st.sampled_from(["stop", "skip"]), label="mask_mode"),
        n=draw(st.integers(1, batch.horizon + 2), label="n"),
        lam=draw(lams(), label="lam"),
        rho_bar=draw(bars, label="rho_bar"),
        c_bar=draw(bars, label="c_bar"),
    )


# The functions under test, and the specification on every column.

OUTPUTS = (
    "gae",
    "lambda_returns",
    "discounted_returns",
    "monte_carlo",
    "n_step_returns",
    "vtrace.vs",
    "vtrace.pg_advantages",
)


def tensor_outputs(case: Case, *, time_axis: int = 0, outputs: Sequence[str] = OUTPUTS) -> dict[str, Tensor]:
    """Every function on the case's tensors (moved so that time is at ``time_axis``)."""
    b = case.batch

    def laid(tensor: Tensor) -> Tensor:
        return tensor.movedim(0, time_axis) if time_axis else tensor

    r, v, nv, te, tr = (laid(x) for x in (b.rewards, b.values, b.next_values, b.terminated, b.truncated))
    g = laid(b.gamma) if isinstance(b.gamma, Tensor) else b.gamma
    mask: dict[str, Any] = {
        "valid": None if case.valid is None else laid(case.valid),
        "mask_mode": case.mask_mode,
        "time_axis": time_axis,
    }
    results: dict[str, Tensor] = {}
    if "gae" in outputs:
        results["gae"] = gae(r, v, nv, te, tr, gamma=g, lam=case.lam, **mask)
    if "lambda_returns" in outputs:
        results["lambda_returns"] = lambda_returns(r, v, nv, te, tr, gamma=g, lam=case.lam, **mask)
    if "discounted_returns" in outputs:
        results["discounted_returns"] = discounted_returns(r, te, tr, gamma=g, next_values=nv, **mask)
    if "monte_carlo" in outputs:
        results["monte_carlo"] = discounted_returns(r, te, tr, gamma=g, **mask)
    if "n_step_returns" in outputs:
        results["n_step_returns"] = n_step_returns(r, nv, te, tr, gamma=g, n=case.n, **mask)
    if "vtrace.vs" in outputs or "vtrace.pg_advantages" in outputs:
        out = vtrace(
            laid(case.behaviour),
            laid(case.target),
            r,
            v,
            nv,
            te,
            tr,
            gamma=g,
            rho_bar=case.rho_bar,
            c_bar=case.c_bar,
            **mask,
        )
        results["vtrace.vs"], results["vtrace.pg_advantages"] = out.vs, out.pg_advantages
    if time_axis:
        results = {name: out.movedim(time_axis, 0) for name, out in results.items()}
    return results


def spec_outputs(case: Case, *, outputs: Sequence[str] = OUTPUTS) -> dict[str, Tensor]:
    """Every function by :mod:`typedrl.spec`, column by column (the oracles of :mod:`typedrl.testing`): float64
    CPU tensors shaped like the rewards."""
    b = case.batch
    mask: dict[str, Any] = {"valid": case.valid, "mask_mode": case.mask_mode}
    oracles: dict[str, Callable[[], Tensor]] = {
        "gae": lambda: reference_gae(b, lam=case.lam, **mask),
        "lambda_returns": lambda: reference_lambda_returns(b, lam=case.lam, **mask),
        "discounted_returns": lambda: reference_discounted_returns(b, **mask),
        "monte_carlo": lambda: reference_discounted_returns(b, bootstrap=False, **mask),
        "n_step_returns": lambda: reference_n_step_returns(b, n=case.n, **mask),
    }
    results = {name: oracles[name]() for name in outputs if name in oracles}
    if "vtrace.vs" in outputs or "vtrace.pg_advantages" in outputs:
        out = reference_vtrace(b, case.behaviour, case.target, rho_bar=case.rho_bar, c_bar=case.c_bar, **mask)
        for name, part in (("vtrace.vs", out.vs), ("vtrace.pg_advantages", out.pg_advantages)):
            if name in outputs:
                results[name] = part
    return results


def assert_all_close(got: dict[str, Tensor], expected: dict[str, Tensor], *, rtol: float = TIGHT) -> None:
    for name in expected:
        assert_close_to_reference(got[name], expected[name], rtol=rtol, label=name)


def assert_identical(got: dict[str, Tensor], expected: dict[str, Tensor]) -> None:
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=0, equal_nan=True, msg=name)


# The tensor functions equal the specification.


@given(case=cases(non_finite=True, masked=False))
def test_unmasked_functions_equal_spec(case: Case) -> None:
    assert_all_close(tensor_outputs(case), spec_outputs(case))


@settings(max_examples=150)
@given(case=cases(non_finite=True, masked=True))
def test_masked_functions_equal_spec(case: Case) -> None:
    assert_all_close(tensor_outputs(case), spec_outputs(case))


@settings(max_examples=8)
@given(
    case=cases(non_finite=True, min_horizon=300, max_horizon=700),
)
def test_long_horizons_equal_spec(case: Case) -> None:
    case = dataclasses.replace(case, n=min(case.n, 40))  # the kernel's windows, not the n >= T shortcut
    outputs = ("n_step_returns", "vtrace.vs", "vtrace.pg_advantages")
    assert_all_close(tensor_outputs(case, outputs=outputs), spec_outputs(case, outputs=outputs))


@settings(max_examples=40)
@given(case=cases(dtype=torch.float32, non_finite=True))
def test_float32_agrees_with_the_float64_spec(case: Case) -> None:
    got = tensor_outputs(case)
    for name, out in got.items():
        assert out.dtype == torch.float32, name
    assert_all_close(got, spec_outputs(case), rtol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_keeps_its_dtype(dtype: torch.dtype) -> None:
    generator = torch.Generator().manual_seed(0)
    shape = (6, 3)
    rewards, values, next_values = (torch.randn(shape, generator=generator).to(dtype) for _ in range(3))
    flags = torch.rand(shape, generator=generator) < 0.2
    valid = torch.rand(shape, generator=generator) < 0.8
    got = n_step_returns(rewards, next_values, flags, ~flags, gamma=0.9, n=2, valid=valid)
    assert got.dtype == dtype
    out = vtrace(values, values, rewards, values, next_values, flags, ~flags, gamma=0.9, valid=valid)
    assert out.vs.dtype == dtype
    assert out.pg_advantages.dtype == dtype
    expected = lambda_returns(rewards, values, next_values, flags, ~flags, gamma=0.9, lam=1.0, valid=valid)
    torch.testing.assert_close(out.vs, expected)


# What the equations imply.


@given(case=cases(masked=False))
def test_one_step_returns_are_the_td_target(case: Case) -> None:
    # G⁽¹⁾ₜ = rₜ + γₜ (1 − terminatedₜ) V'ₜ = δₜ + Vₜ
    b = case.batch
    got = n_step_returns(b.rewards, b.next_values, b.terminated, b.truncated, gamma=b.gamma, n=1)
    expected = td_errors(b.rewards, b.values, b.next_values, b.terminated, gamma=b.gamma) + b.values
    assert_close_to_reference(got, expected, rtol=TIGHT)


@given(case=cases(masked=False), data=st.data())
def test_windows_that_reach_the_end_are_discounted_returns(case: Case, data: st.DataObject) -> None:
    # Without done steps, a window that reaches the rollout's last step is the bootstrapped discounted return:
    # every row for n >= T (the n >= T shortcut), and rows t >= T − n for any n (the kernel's windows).
    b = case.batch
    never = torch.zeros_like(b.terminated)
    returns = discounted_returns(b.rewards, never, never, gamma=b.gamma, next_values=b.next_values)
    n = data.draw(st.integers(1, b.horizon + 3), label="n")
    got = n_step_returns(b.rewards, b.next_values, never, never, gamma=b.gamma, n=n)
    reach = max(b.horizon - n, 0)
    assert_close_to_reference(got[reach:], returns[reach:], rtol=TIGHT)
    if n >= b.horizon:
        torch.testing.assert_close(got, returns, rtol=0, atol=0)


@given(case=cases(masked=False, min_horizon=1), data=st.data())
def test_n_step_returns_obey_their_recursion_in_n(case: Case, data: st.DataObject) -> None:
    # G⁽ⁿ⁾ₜ = rₜ + γₜ (1 − terminatedₜ) (V'ₜ if doneₜ or t = T − 1 else G⁽ⁿ⁻¹⁾ₜ₊₁), G⁽⁰⁾ ≡ V' (a window of 0
    # rewards bootstraps at once): checked on the outputs themselves.
    b = case.batch
    n = data.draw(st.integers(2, b.horizon + 2), label="n")
    shorter = n_step_returns(b.rewards, b.next_values, b.terminated, b.truncated, gamma=b.gamma, n=n - 1)
    got = n_step_returns(b.rewards, b.next_values, b.terminated, b.truncated, gamma=b.gamma, n=n)
    following = torch.where(b.done, b.next_values, torch.cat([shorter[1:], b.next_values[-1:]]))
    expected = b.rewards + b.gamma * (~b.terminated).to(got.dtype) * following
    assert_close_to_reference(got, expected, rtol=TIGHT)


@given(case=cases(masked=False))
def test_vtrace_with_ratios_one_is_the_lambda_one_return(case: Case) -> None:
    # Equal log-probabilities and ρ̄, c̄ ≥ 1: every ρₜ = cₜ = 1, so vs is the λ = 1 return, and the pg advantages
    # are the TD errors against v' (vₜ₊₁ where step t is neither done nor the last, else V'ₜ).
    b = case.batch
    out = vtrace(
        case.behaviour,
        case.behaviour.clone(),
        b.rewards,
        b.values,
        b.next_values,
        b.terminated,
        b.truncated,
        gamma=b.gamma,
        rho_bar=max(case.rho_bar, 1.0),
        c_bar=max(case.c_bar, 1.0),
    )
    expected_vs = lambda_returns(b.rewards, b.values, b.next_values, b.terminated, b.truncated, gamma=b.gamma, lam=1.0)
    assert_close_to_reference(out.vs, expected_vs, rtol=TIGHT, label="vs")
    following = torch.where(b.done, b.next_values, torch.cat([out.vs[1:], b.next_values[-1:]]))
    expected_pg = td_errors(b.rewards, b.values, following, b.terminated, gamma=b.gamma)
    assert_close_to_reference(out.pg_advantages, expected_pg, rtol=TIGHT, label="pg_advantages")


@given(case=cases(masked=False, consistent_values=True))
def test_vtrace_with_ratios_one_and_consistent_values_gives_gae_advantages(case: Case) -> None:
    # With values[t+1] == next_values[t] wherever step t is not done, v' is the λ = 1 return of the next step,
    # so the pg advantages are gae(λ = 1) = G − V.
    b = case.batch
    out = vtrace(
        case.behaviour, case.behaviour, b.rewards, b.values, b.next_values, b.terminated, b.truncated, gamma=b.gamma
    )
    expected = gae(b.rewards, b.values, b.next_values, b.terminated, b.truncated, gamma=b.gamma, lam=1.0)
    assert_close_to_reference(out.pg_advantages, expected, rtol=TIGHT)


@given(case=cases(masked=False))
def test_vtrace_with_zero_trace_clips(case: Case) -> None:
    # c̄ = 0 stops every trace: vs = V + ρ δ. ρ̄ = c̄ = 0 as well: vs = V and no pg advantage.
    b = case.batch
    args = (case.behaviour, case.target, b.rewards, b.values, b.next_values, b.terminated, b.truncated)
    ratio = (case.target - case.behaviour).exp()
    rho = ratio.clamp(max=case.rho_bar)
    one_step = vtrace(*args, gamma=b.gamma, rho_bar=case.rho_bar, c_bar=0.0)
    deltas = td_errors(b.rewards, b.values, b.next_values, b.terminated, gamma=b.gamma)
    expected = torch.where(rho == 0, b.values, b.values + rho * deltas)
    assert_close_to_reference(one_step.vs, expected, rtol=TIGHT)
    nothing = vtrace(*args, gamma=b.gamma, rho_bar=0.0, c_bar=0.0)
    torch.testing.assert_close(nothing.vs, b.values, rtol=0, atol=0)
    torch.testing.assert_close(nothing.pg_advantages, torch.zeros_like(b.values), rtol=0, atol=0)


@given(case=cases(masked=False))
def test_a_mask_of_all_valid_steps_changes_nothing(case: Case) -> None:
    everything = dataclasses.replace(case, valid=torch.ones_like(case.batch.terminated))
    assert_identical(tensor_outputs(everything), tensor_outputs(case))


@given(case=cases(masked=True))
def test_stop_and_skip_agree_on_padding_at_the_ends(case: Case) -> None:
    # Right and left padding (and no padding) leave one run of valid steps per column: the modes coincide.
    valid = case.valid
    assert valid is not None
    first = valid.long().argmax(0)
    count = valid.sum(0)
    steps = torch.arange(case.batch.horizon).reshape((-1,) + (1,) * (valid.dim() - 1))
    one_run = (steps >= first) & (steps < first + count)
    padded = dataclasses.replace(case, valid=one_run)
    stop = tensor_outputs(dataclasses.replace(padded, mask_mode="stop"))
    skip = tensor_outputs(dataclasses.replace(padded, mask_mode="skip"))
    assert_all_close(skip, stop)  # the same arithmetic, though at other positions in the kernel's blocks


@given(case=cases(masked=True))
def test_skip_is_the_valid_steps_alone(case: Case) -> None:
    # mask_mode="skip" on a [T] trajectory equals the unmasked call on its valid steps, scattered back.
    assert case.valid is not None
    column = dataclasses.replace(
        case,
        batch=case.batch.trajectories()[0],
        behaviour=case.behaviour.reshape(case.batch.horizon, -1)[:, 0],
        target=case.target.reshape(case.batch.horizon, -1)[:, 0],
        valid=case.valid.reshape(case.batch.horizon, -1)[:, 0],
        mask_mode="skip",
    )
    assert column.valid is not None
    keep = column.valid.nonzero().reshape(-1)
    b = column.batch
    gamma = b.gamma[keep] if isinstance(b.gamma, Tensor) else b.gamma
    fields = {f.name: getattr(b, f.name)[keep] for f in dataclasses.fields(b) if f.name != "gamma"}
    alone = dataclasses.replace(
        column,
        batch=dataclasses.replace(b, **fields, gamma=gamma),
        behaviour=column.behaviour[keep],
        target=column.target[keep],
        valid=None,
    )
    if keep.numel() == 0:
        for name, out in tensor_outputs(column).items():
            torch.testing.assert_close(out, torch.zeros_like(out), rtol=0, atol=0, msg=name)
        return
    masked, compact = tensor_outputs(column), tensor_outputs(alone)
    for name in OUTPUTS:
        assert_close_to_reference(masked[name][keep], compact[name], rtol=TIGHT, label=name)
        assert bool((masked[name][~column.valid] == 0).all()), name


# Nothing behind a mask or a zero coefficient is read.


def _poisoned(tensor: Tensor, where: Tensor) -> Tensor:
    """``tensor`` with NaN, inf and -inf (in turn) wherever ``where`` is set."""
    specials = torch.tensor([NAN, INF, -INF], dtype=tensor.dtype)[torch.arange(tensor.numel()) % 3]
    return torch.where(where, specials.reshape(tensor.shape), tensor)


@given(case=cases(masked=True), flip=st.booleans())
def test_nothing_an_invalid_step_holds_reaches_a_valid_output(case: Case, flip: bool) -> None:
    assert case.valid is not None
    invalid = ~case.valid
    b = case.batch
    poisoned = case.replace(
        rewards=_poisoned(b.rewards, invalid),
        values=_poisoned(b.values, invalid),
        next_values=_poisoned(b.next_values, invalid),
        terminated=torch.where(invalid, ~b.terminated if flip else b.truncated, b.terminated),
        truncated=torch.where(invalid, ~b.truncated if flip else b.terminated, b.truncated),
        gamma=torch.where(invalid, 1.0 - b.gamma, b.gamma) if isinstance(b.gamma, Tensor) else b.gamma,
        behaviour=_poisoned(case.behaviour, invalid),
        target=_poisoned(case.target, invalid),
    )
    clean, got = tensor_outputs(case), tensor_outputs(poisoned)
    for name in OUTPUTS:
        assert bool(got[name][case.valid].isfinite().all()), name
        assert bool((got[name][invalid] == 0).all()), name
    assert_identical(got, clean)


@given(case=cases(masked=False), n=st.integers(1, 8))
def test_n_step_never_reads_a_next_value_a_zero_coefficient_cuts(case: Case, n: int) -> None:
    # V'ₜ is not read at a termination or where γₜ = 0; rewards after a γ = 0 step are read only by later windows.
    b = case.batch
    cut = b.terminated | (b.gamma == 0) if isinstance(b.gamma, Tensor) else b.terminated | (b.gamma == 0.0)
    clean = n_step_returns(b.rewards, b.next_values, b.terminated, b.truncated, gamma=b.gamma, n=n)
    poisoned = n_step_returns(b.rewards, _poisoned(b.next_values, cut), b.terminated, b.truncated, gamma=b.gamma, n=n)
    assert bool(poisoned.isfinite().all())
    torch.testing.assert_close(poisoned, clean, rtol=0, atol=0)


@given(case=cases(masked=False, non_finite=False))
def test_vtrace_never_reads_what_a_zero_ratio_or_flag_cuts(case: Case) -> None:
    # Where π = 0 (ρₜ = cₜ = 0) the step's reward and next value are not read; at a termination, nor is V'ₜ.
    b = case.batch
    target = torch.where(
        torch.rand(b.rewards.shape, generator=torch.Generator().manual_seed(1)) < 0.3, -INF, case.target
    )
    args: dict[str, Any] = {"gamma": b.gamma, "rho_bar": max(case.rho_bar, 1e-3), "c_bar": case.c_bar}
    clean = vtrace(case.behaviour, target, b.rewards, b.values, b.next_values, b.terminated, b.truncated, **args)
    unread = target == -INF
    poisoned = vtrace(
        case.behaviour,
        target,
        _poisoned(b.rewards, unread),
        b.values,
        _poisoned(b.next_values, unread | b.terminated),
        b.terminated,
        b.truncated,
        **args,
    )
    for name, got, expected in zip(("vs", "pg_advantages"), poisoned, clean, strict=True):
        assert bool(got.isfinite().all()), name
        torch.testing.assert_close(got, expected, rtol=0, atol=0, msg=name)


@pytest.mark.parametrize(("dtype", "gap"), [(torch.float64, 800.0), (torch.float32, 120.0)])
def test_a_ratio_that_underflows_is_not_zero(dtype: torch.dtype, gap: float) -> None:
    # π/μ = e^−gap rounds to 0 in the dtype, yet π > 0: ρ is kept at the smallest positive number, so the step's
    # reward is read (an inf stays visible), as the float64 specification reads it. Where π = 0 it is not read.
    no = flags([0, 0])
    zeros = torch.zeros(2, dtype=dtype)
    rewards = torch.tensor([INF, 0.0], dtype=dtype)
    for target_first, read in ((-gap, True), (-INF, False)):
        target = torch.tensor([target_first, 0.0], dtype=dtype)
        out = vtrace(zeros, target, rewards, zeros, zeros, no, no, gamma=0.5)
        expected = spec.vtrace(
            [0.0, 0.0], [target_first, 0.0], [INF, 0.0], [0.0] * 2, [0.0] * 2, [False] * 2, [False] * 2, gamma=0.5
        )
        assert float(out.pg_advantages[0]) == expected.pg_advantages[0] == (INF if read else 0.0)
        assert float(out.vs[0]) == expected.vs[0] == (INF if read else 0.0)


def test_an_infinite_trace_weight_at_the_last_step_reads_nothing() -> None:
    # μ = 0 at the last step (behaviour log-prob −inf) and c̄ = inf: c = inf there, but nothing follows the last
    # step, so v_T − V_T = 0 is never multiplied by it. ρ₁ = min(1, inf) = 1, ρ₀ = c₀ = 1:
    #   vs₁ = V₁ + (r₁ + .5·V'₁ − V₁) = 2 + (2 + 1 − 2) = 3
    #   vs₀ = V₀ + δ₀ + .5·c₀·(vs₁ − V₁) = 0 + (1 + .5·2 − 0) + .5·1 = 2.5
    # A masked run that ends there (the padding after it all NaN) agrees.
    behaviour, target = f64([0.0, -INF]), f64([0.0, 0.0])
    r, v, nv, no = f64([1, 2]), f64([0, 2]), f64([2, 2]), flags([0, 0])
    out = vtrace(behaviour, target, r, v, nv, no, no, gamma=0.5, c_bar=INF)
    torch.testing.assert_close(out.vs, f64([2.5, 3]), rtol=0, atol=0)
    expected = spec.vtrace(
        [0.0, -INF], [0.0, 0.0], [1, 2], [0, 2], [2, 2], [False] * 2, [False] * 2, gamma=0.5, c_bar=INF
    )
    assert expected.vs == [2.5, 3.0]
    padded = vtrace(
        torch.cat([behaviour, f64([NAN])]),
        torch.cat([target, f64([NAN])]),
        torch.cat([r, f64([NAN])]),
        torch.cat([v, f64([NAN])]),
        torch.cat([nv, f64([NAN])]),
        flags([0, 0, 1]),
        flags([0, 0, 0]),
        gamma=0.5,
        c_bar=INF,
        valid=flags([1, 1, 0]),
    )
    torch.testing.assert_close(padded.vs, f64([2.5, 3, 0]), rtol=0, atol=0)


# Layout: batch-major input, output in the caller's layout.


@given(case=cases(), data=st.data())
def test_batch_major_equals_time_major_transposed(case: Case, data: st.DataObject) -> None:
    if case.batch.rewards.dim() == 1:  # [T] has one layout: time_axis 0 and -1 are the same axis
        assert_identical(tensor_outputs(case, time_axis=-1), tensor_outputs(case))
        return
    axis = data.draw(st.sampled_from([1, -1]), label="time_axis")
    got = tensor_outputs(case, time_axis=axis)
    assert_identical(got, tensor_outputs(case))


def test_batch_major_output_is_in_the_callers_layout() -> None:
    rewards = torch.arange(6, dtype=torch.float64).reshape(2, 3)  # [B = 2, T = 3]
    no = torch.zeros_like(rewards, dtype=torch.bool)
    valid = torch.tensor([[True, True, True], [True, True, False]])
    got = n_step_returns(rewards, rewards, no, no, gamma=1.0, n=1, valid=valid, time_axis=1)
    assert got.shape == (2, 3)
    assert got.is_contiguous()
    # n = 1, γ = 1: rₜ + V'ₜ = 2 rₜ where valid; 0 at the padding.
    torch.testing.assert_close(got, torch.tensor([[0.0, 2.0, 4.0], [6.0, 8.0, 0.0]], dtype=torch.float64))


# Golden values, worked by hand.


def f64(values: Sequence[float]) -> Tensor:
    return torch.tensor(values, dtype=torch.float64)


def flags(values: Sequence[int]) -> Tensor:
    return torch.tensor(values, dtype=torch.bool)


def test_n_step_golden_values() -> None:
    r, nv, no = f64([1, 2, 3, 4]), f64([10, 20, 30, 40]), flags([0, 0, 0, 0])
    # γ = 0.5, n = 2, no done steps:
    #   t=0: 1 + .5·(2 + .5·V'₁=20) = 1 + .5·12 = 7
    #   t=1: 2 + .5·(3 + .5·30)     = 2 + .5·18 = 11
    #   t=2: 3 + .5·(4 + .5·40)     = 3 + .5·24 = 15
    #   t=3: the rollout's end: 4 + .5·40 = 24
    got = n_step_returns(r, nv, no, no, gamma=0.5, n=2)
    torch.testing.assert_close(got, f64([7, 11, 15, 24]), rtol=0, atol=0)
    # Per-step γ = [.5, 0, 1, .5], n = 3 (a γ of 0 cuts the window's rest):
    #   t=0: window 0..2, B = V'₂ = 30: 3 + 1·30 = 33; γ₁ = 0 → 2; 1 + .5·2 = 2
    #   t=1: window 1..3, B = V'₃ = 40: 4 + .5·40 = 24; 3 + 1·24 = 27; γ₁ = 0 → 2
    #   t=2: window 2..3 (the rollout's end): 4 + .5·40 = 24; 3 + 1·24 = 27
    #   t=3: 4 + .5·40 = 24
    got = n_step_returns(r, nv, no, no, gamma=f64([0.5, 0, 1, 0.5]), n=3)
    torch.testing.assert_close(got, f64([2, 2, 27, 24]), rtol=0, atol=0)
    # The conventions' worked example: γ = .5, rewards 1; step 1 terminates, step 3 is truncated (V'₃ = 4), the
    # rollout stops after step 4 at a value of 2. n = 2:
    #   t=0: window 0..1 ends at the termination, B = 0: 1 + .5·1 = 1.5
    #   t=1: terminated: 1
    #   t=2: window 2..3 ends at the truncation, B = V'₃ = 4: 1 + .5·(1 + .5·4) = 2.5
    #   t=3: 1 + .5·4 = 3;   t=4: 1 + .5·2 = 2
    ones, nv = f64([1] * 5), f64([0, 0, 0, 4, 2])
    terminated, truncated = flags([0, 1, 0, 0, 0]), flags([0, 0, 0, 1, 0])
    got = n_step_returns(ones, nv, terminated, truncated, gamma=0.5, n=2)
    torch.testing.assert_close(got, f64([1.5, 1, 2.5, 3, 2]), rtol=0, atol=0)
    # n = 1 is the one-step target: [1, 1 (terminated), 1 + .5·0, 1 + .5·4, 1 + .5·2]
    got = n_step_returns(ones, nv, terminated, truncated, gamma=0.5, n=1)
    torch.testing.assert_close(got, f64([1, 1, 1, 3, 2]), rtol=0, atol=0)


def test_vtrace_golden_values() -> None:
    # γ = 0.9, no done steps, consistent values; ratios π/μ = [.5/.25, .2/.4, .3/.3] = [2, .5, 1], ρ̄ = c̄ = 1:
    # ρ = c = [1, .5, 1].
    #   δ₂ = 1·(2 + .9·2 − 1.5) = 2.3                       A₂ = 2.3                    vs₂ = 1.5 + 2.3 = 3.8
    #   δ₁ = .5·(0 + .9·1.5 − 1) = .175                     A₁ = .175 + .9·.5·2.3 = 1.21 vs₁ = 1 + 1.21 = 2.21
    #   δ₀ = 1·(1 + .9·1 − .5) = 1.4                        A₀ = 1.4 + .9·1·1.21 = 2.489 vs₀ = .5 + 2.489 = 2.989
    #   pg₂ = 1·(2 + .9·V'₂ − 1.5) = 2.3 (the last step bootstraps from V'₂ = 2)
    #   pg₁ = .5·(0 + .9·vs₂ − 1) = .5·(3.42 − 1) = 1.21
    #   pg₀ = 1·(1 + .9·vs₁ − .5) = 1 + 1.989 − .5 = 2.489
    behaviour, target = f64([0.25, 0.4, 0.3]).log(), f64([0.5, 0.2, 0.3]).log()
    r, v, nv, no = f64([1, 0, 2]), f64([0.5, 1, 1.5]), f64([1, 1.5, 2]), flags([0, 0, 0])
    out = vtrace(behaviour, target, r, v, nv, no, no, gamma=0.9)
    torch.testing.assert_close(out.vs, f64([2.989, 2.21, 3.8]), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out.pg_advantages, f64([2.489, 1.21, 2.3]), rtol=1e-12, atol=1e-12)
    # Step 1 truncated (V'₁ = 1.5 still bootstraps, the trace is cut): A₁ = δ₁ = .175, vs₁ = 1.175;
    #   A₀ = δ₀ + .9·c₀·A₁ = 1.4 + .9·.175 = 1.5575, vs₀ = 2.0575;
    #   pg₁ = .5·(0 + .9·V'₁ − 1) = .175;  pg₀ = 1 + .9·vs₁ − .5 = 1 + 1.0575 − .5 = 1.5575
    # Step 1 terminated instead: δ₁ = .5·(0 − 1) = −.5, vs₁ = .5; A₀ = 1.4 + .9·(−.5) = .95, vs₀ = 1.45;
    #   pg₁ = −.5;  pg₀ = 1 + .9·.5 − .5 = .95
    out = vtrace(behaviour, target, r, v, nv, no, flags([0, 1, 0]), gamma=0.9)
    torch.testing.assert_close(out.vs, f64([2.0575, 1.175, 3.8]), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out.pg_advantages, f64([1.5575, 0.175, 2.3]), rtol=1e-12, atol=1e-12)
    out = vtrace(behaviour, target, r, v, nv, flags([0, 1, 0]), no, gamma=0.9)
    torch.testing.assert_close(out.vs, f64([1.45, 0.5, 3.8]), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out.pg_advantages, f64([0.95, -0.5, 2.3]), rtol=1e-12, atol=1e-12)


def test_mask_golden_values() -> None:
    # The conventions' worked example (γ = .5, rewards 1, values 0; step 1 terminates, step 3 is truncated with
    # V'₃ = 4, V'₄ = 2), GAE with λ = 1; unmasked it is [1.5, 1, 2.5, 3, 2].
    ones, zeros, nv = f64([1] * 5), f64([0] * 5), f64([0, 0, 0, 4, 2])
    terminated, truncated = flags([0, 1, 0, 0, 0]), flags([0, 0, 0, 1, 0])

    def advantages(valid: Tensor, mode: str) -> Tensor:
        return gae(ones, zeros, nv, terminated, truncated, gamma=0.5, lam=1.0, valid=valid, mask_mode=mode)  # type: ignore[arg-type]

    # Step 2 invalid, "stop": steps 0-1 and 3-4 are two rollouts; step 2 is 0.
    #   t=1 terminated: 1;  t=0: 1 + .5·1 = 1.5;  t=4: 1 + .5·2 = 2;  t=3 truncated: 1 + .5·4 = 3
    torch.testing.assert_close(advantages(flags([1, 1, 0, 1, 1]), "stop"), f64([1.5, 1, 0, 3, 2]), rtol=0, atol=0)
    # Steps 1 and 3 invalid (their flags with them), "skip": steps 0, 2, 4 are one rollout with no done step:
    #   t=4: 1 + .5·2 = 2;  t=2: 1 + .5·V'₂=0 + .5·A₄ = 1 + 1 = 2;  t=0: 1 + 0 + .5·2 = 2
    torch.testing.assert_close(advantages(flags([1, 0, 1, 0, 1]), "skip"), f64([2, 0, 2, 0, 2]), rtol=0, atol=0)
    # "stop" on the same mask: three one-step rollouts, each its own last step: δₜ = 1 + .5·V'ₜ = [1, 1, 2]
    torch.testing.assert_close(advantages(flags([1, 0, 1, 0, 1]), "stop"), f64([1, 0, 1, 0, 2]), rtol=0, atol=0)
    # Discounted returns, rewards [1, 5, 3], V' = [2, 9, 2], γ = .5, nothing done, step 1 invalid:
    #   "stop": t=0 ends its own rollout: 1 + .5·V'₀ = 2;  t=2: 3 + .5·V'₂ = 4
    #   "skip": t=2: 4;  t=0 links to t=2: 1 + .5·4 = 3
    rewards, nv3, no = f64([1, 5, 3]), f64([2, 9, 2]), flags([0, 0, 0])
    gap = flags([1, 0, 1])
    stop = discounted_returns(rewards, no, no, gamma=0.5, next_values=nv3, valid=gap, mask_mode="stop")
    skip = discounted_returns(rewards, no, no, gamma=0.5, next_values=nv3, valid=gap, mask_mode="skip")
    torch.testing.assert_close(stop, f64([2, 0, 4]), rtol=0, atol=0)
    torch.testing.assert_close(skip, f64([3, 0, 4]), rtol=0, atol=0)
    # n-step, n = 2, "skip": the window of t=0 is the valid steps 0 and 2: 1 + .5·(3 + .5·2) = 3
    got = n_step_returns(rewards, nv3, no, no, gamma=0.5, n=2, valid=gap, mask_mode="skip")
    torch.testing.assert_close(got, f64([3, 0, 4]), rtol=0, atol=0)


# The torch formulations used off the CPU, on CPU tensors here: against the C kernel and the spec.


@settings(max_examples=50)
@given(case=cases(masked=False, non_finite=True))
def test_torch_n_step_loop_equals_the_spec(case: Case) -> None:
    b = case.batch
    n = min(case.n, max(b.horizon - 1, 1))
    got = n_step_loop(b.rewards, b.next_values, b.terminated, b.truncated, b.gamma, n)
    kernel = _recurrence.n_step(b.rewards, b.next_values, b.terminated, b.truncated, b.gamma, n)
    expected = spec_outputs(dataclasses.replace(case, n=n), outputs=("n_step_returns",))["n_step_returns"]
    assert_close_to_reference(got, expected, rtol=TIGHT, label="torch loop")
    assert_close_to_reference(kernel, expected, rtol=TIGHT, label="C kernel")


@settings(max_examples=30)
@given(case=cases(masked=False), scale=st.sampled_from([0.0, 1.0, 3.0]))
def test_the_linear_recurrence_takes_coefficients_above_one(case: Case, scale: float) -> None:
    # V-trace's γₜ·cₜ can exceed 1 (c̄ > 1): the C kernel and the torch loop agree on any coefficient.
    b = case.batch
    coefficients = torch.rand(b.rewards.shape, generator=torch.Generator().manual_seed(0), dtype=b.rewards.dtype)
    coefficients = torch.where(b.done, 0.0, coefficients * scale)
    never = torch.zeros_like(b.terminated)
    got = _recurrence.linear(b.rewards, coefficients)
    expected = torch_loop(Inputs(Kind.RETURNS, b.rewards, None, None, never, never, coefficients, 0.0))
    assert_close_to_reference(got, expected, rtol=TIGHT)


# Targets: no gradient.


def test_no_gradient_flows_through_the_targets() -> None:
    rewards = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)
    no = torch.zeros(4, 2, dtype=torch.bool)
    valid = torch.ones(4, 2, dtype=torch.bool)
    assert not n_step_returns(rewards, rewards, no, no, gamma=0.9, n=2).requires_grad
    assert not n_step_returns(rewards, rewards, no, no, gamma=0.9, n=2, valid=valid, time_axis=1).requires_grad
    out = vtrace(rewards, rewards, rewards, rewards, rewards, no, no, gamma=0.9)
    assert not out.vs.requires_grad
    assert not out.pg_advantages.requires_grad
    assert not gae(rewards, rewards, rewards, no, no, gamma=0.9, lam=0.9, valid=valid).requires_grad


# Errors: the always-on checks, with shape checks off (with them on, jaxtyping may speak first).

T4 = f64([1, 2, 3, 4])
NO4 = flags([0, 0, 0, 0])
CALLS: dict[str, Callable[..., object]] = {
    "gae": lambda **kw: gae(T4, T4, T4, NO4, NO4, gamma=0.9, lam=0.9, **kw),
    "lambda_returns": lambda **kw: lambda_returns(T4, T4, T4, NO4, NO4, gamma=0.9, lam=0.9, **kw),
    "discounted_returns": lambda **kw: discounted_returns(T4, NO4, NO4, gamma=0.9, **kw),
    "n_step_returns": lambda **kw: n_step_returns(T4, T4, NO4, NO4, gamma=0.9, **{"n": 2, **kw}),
    "vtrace": lambda **kw: vtrace(T4, T4, T4, T4, T4, NO4, NO4, gamma=0.9, **kw),
}


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        pytest.param({"valid": T4}, InputError, "valid has dtype torch.float64; expected torch.bool", id="mask-dtype"),
        pytest.param(
            {"valid": flags([1, 1, 1])},
            InputError,
            r"valid has shape \(3,\); expected \(4,\) \(as rewards\)",
            id="mask-shape",
        ),
        pytest.param({"valid": [True] * 4}, InputError, "valid is a list; expected a torch.Tensor", id="mask-list"),
        pytest.param(
            {"mask_mode": "middle"}, HyperparameterError, "mask_mode is 'middle'; expected 'stop' or 'skip'", id="mode"
        ),
        pytest.param({"time_axis": 1}, InputError, r"time_axis is 1; expected an int in \[-1, 0\]", id="axis"),
        pytest.param({"time_axis": True}, InputError, r"time_axis is True \(a bool\)", id="axis-bool"),
    ],
)
def test_bad_mask_and_layout_arguments(name: str, kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with typedrl.shape_checks(False), pytest.raises(error, match=f"^{name}: {message}"):
        CALLS[name](**kwargs)
    with pytest.raises((TypeError, ValueError)):  # the same mistakes with shape checks on
        CALLS[name](**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"n": 0}, r"n_step_returns: n is 0; expected an int >= 1", id="zero"),
        pytest.param({"n": -3}, r"n_step_returns: n is -3; expected an int >= 1", id="negative"),
        pytest.param({"n": True}, r"n_step_returns: n is True \(a bool\); expected an int >= 1", id="bool"),
        pytest.param({"n": 2.0}, r"n_step_returns: n is 2.0; expected an int >= 1", id="float"),
    ],
)
def test_bad_n(kwargs: dict[str, Any], message: str) -> None:
    with typedrl.shape_checks(False), pytest.raises(HyperparameterError, match=f"^{message}"):
        CALLS["n_step_returns"](**kwargs)
    with pytest.raises(HyperparameterError, match=f"^{message}"):
        spec.n_step_returns([1.0], [1.0], [False], [False], gamma=0.9, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"rho_bar": -1.0}, r"vtrace: rho_bar is -1.0; expected a real number in \[0, inf\]", id="rho"),
        pytest.param({"c_bar": -0.5}, r"vtrace: c_bar is -0.5; expected a real number in \[0, inf\]", id="c"),
        pytest.param({"c_bar": NAN}, r"vtrace: c_bar is nan; expected a real number in \[0, inf\]", id="nan"),
        pytest.param({"rho_bar": True}, r"vtrace: rho_bar is True \(a bool\)", id="bool"),
        pytest.param({"gamma": 1.5}, r"vtrace: gamma is 1.5; expected a finite real number in \[0, 1\]", id="gamma"),
    ],
)
def test_bad_vtrace_hyperparameters(kwargs: dict[str, Any], message: str) -> None:
    with typedrl.shape_checks(False), pytest.raises(HyperparameterError, match=f"^{message}"):
        vtrace(T4, T4, T4, T4, T4, NO4, NO4, **{"gamma": 0.9, **kwargs})
    with pytest.raises(HyperparameterError, match=f"^{message}"):
        spec.vtrace([0.0], [0.0], [1.0], [1.0], [1.0], [False], [False], **{"gamma": 0.9, **kwargs})


def test_vtrace_log_probs_must_match_the_rewards() -> None:
    with typedrl.shape_checks(False):
        with pytest.raises(
            InputError, match=r"^vtrace: behaviour_log_probs has dtype torch.float32; expected torch\.float64"
        ):
            vtrace(T4.float(), T4, T4, T4, T4, NO4, NO4, gamma=0.9)
        with pytest.raises(InputError, match=r"^vtrace: target_log_probs has shape \(3,\); expected \(4,\)"):
            vtrace(T4, T4[:3], T4, T4, T4, NO4, NO4, gamma=0.9)


def test_spec_mask_errors() -> None:
    with pytest.raises(InputError, match=r"^gae: valid has 3 steps; expected 4 \(as rewards\)"):
        spec.gae([1.0] * 4, [0.0] * 4, [0.0] * 4, [False] * 4, [False] * 4, gamma=0.9, lam=0.9, valid=[True] * 3)
    with pytest.raises(
        HyperparameterError, match=r"^discounted_returns: mask_mode is 'both'; expected 'stop' or 'skip'"
    ):
        spec.discounted_returns([1.0], [False], [False], gamma=0.9, mask_mode="both")


# The oracles of typedrl.testing are the specification, column by column.


@settings(max_examples=30)
@given(case=cases(non_finite=True))
def test_the_oracles_run_the_spec_on_each_column(case: Case) -> None:
    expected = spec_outputs(case)
    b = case.batch
    count = math.prod(b.batch_shape)

    def column(tensor: Tensor, k: int) -> list[Any]:
        return list(tensor.reshape(b.horizon, count)[:, k].tolist())

    for k in range(count):
        gamma = column(b.gamma, k) if isinstance(b.gamma, Tensor) else float(b.gamma)
        mask: dict[str, Any] = {
            "valid": None if case.valid is None else column(case.valid, k),
            "mask_mode": case.mask_mode,
        }
        r, v, nv = column(b.rewards.double(), k), column(b.values.double(), k), column(b.next_values.double(), k)
        te, tr = column(b.terminated, k), column(b.truncated, k)
        n_step = spec.n_step_returns(r, nv, te, tr, gamma=gamma, n=case.n, **mask)
        out = spec.vtrace(
            column(case.behaviour.double(), k),
            column(case.target.double(), k),
            r,
            v,
            nv,
            te,
            tr,
            gamma=gamma,
            rho_bar=case.rho_bar,
            c_bar=case.c_bar,
            **mask,
        )
        for name, values in (
            ("n_step_returns", n_step),
            ("vtrace.vs", out.vs),
            ("vtrace.pg_advantages", out.pg_advantages),
        ):
            got = column(expected[name], k)
            assert all(a == e or (math.isnan(a) and math.isnan(e)) for a, e in zip(got, values, strict=True)), name


def test_the_oracles_refuse_a_mask_or_log_probs_unlike_the_rewards() -> None:
    batch = TrajectoryBatch(T4, T4, T4, NO4, NO4, 0.9)
    with pytest.raises(InputError, match=r"^reference_vtrace: target_log_probs has shape \(3,\); expected \(4,\)"):
        reference_vtrace(batch, T4, T4[:3])
    with pytest.raises(InputError, match=r"^reference_n_step_returns: valid has dtype torch.float64; expected"):
        reference_n_step_returns(batch, n=2, valid=T4)
    with pytest.raises(InputError, match=r"^reference_gae: valid is a list; expected a torch.Tensor"):
        reference_gae(batch, lam=0.9, valid=[True] * 4)  # type: ignore[arg-type]
    # n = 2, "stop": steps 0-1 are a rollout of their own (step 1 bootstraps from V'₁ = 2), step 2 is padding.
    got = reference_n_step_returns(batch, n=2, valid=flags([1, 1, 0, 1]))
    assert got.tolist() == pytest.approx([1 + 0.9 * (2 + 0.9 * 2), 2 + 0.9 * 2, 0, 4 + 0.9 * 4])
