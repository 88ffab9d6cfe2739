"""Hypothesis strategies for typedrl's return math: trajectory batches, discounts ``γ`` and GAE's ``λ``.

Batches of up to 256 elements are decoded from bytes that hypothesis draws (16 bits per number, 8 per flag),
so a failing property shrinks to a minimal example: few steps, zero rewards and values, no flags but the ones
that matter. Hypothesis holds only a few kilobytes per example, so larger batches (long horizons, many
environments) are filled from a ``torch.Generator`` whose seed hypothesis draws: just as reproducible, but
they shrink only in size and seed.

Numbers are finite unless asked otherwise (``allow_nan``, ``allow_infinity``): the return math is defined on
non-finite input too (a NaN or inf that a zero coefficient multiplies is never read), but most properties,
linearity for one, hold only for finite numbers. Discounts are exactly 0 or at least ``1/60000`` (per-step) and
``λ`` any float in ``[0, 1]``: typedrl's float32 kernels keep a nonzero ``γ``, ``λ`` or ``γ·λ`` nonzero even
below float32's subnormal range, so float32 results and the float64 specification agree on which coefficients
are zero, and so on where a NaN or inf is read. A candidate that rounds ``λ = 1e-300`` to float32 ``0`` reads
less than the specification, and fails on batches with non-finite numbers.
"""

import math
from dataclasses import dataclass

import torch
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from torch import Tensor

from typedrl.testing.batch import TrajectoryBatch

__all__ = ["gammas", "lams", "trajectory_batches"]

_DECODED_ELEMENTS_MAX = 256  # above this many elements a batch is filled from a seeded generator
_GAMMA_ONE_FROM = 60_000  # per-step discounts decoded from 16 bits: codes from here up are exactly 1.0
_COMMON_UNIT_VALUES = (0.0, 1.0, 0.5, 0.9, 0.99)


def gammas() -> st.SearchStrategy[float]:
    """Discounts ``γ`` in ``[0, 1]``: both endpoints, the usual ``0.9``/``0.99``, and any float between."""
    return st.one_of(st.sampled_from(_COMMON_UNIT_VALUES), st.floats(0.0, 1.0))


def lams() -> st.SearchStrategy[float]:
    """GAE's ``λ`` in ``[0, 1]``: both endpoints (``λ = 0`` is TD, ``λ = 1`` Monte Carlo) and any float between."""
    return st.one_of(st.sampled_from(_COMMON_UNIT_VALUES), st.floats(0.0, 1.0))


def _check_range(name: str, low: float, high: float, value: float) -> None:
    if not low <= value <= high:
        raise InvalidArgument(f"trajectory_batches: {name} is {value!r}; expected a number in [{low}, {high}]")


def _codes(raw: bytes, dtype: torch.dtype) -> Tensor:
    """The bytes as integer codes (native byte order), widened to float64."""
    if not raw:
        return torch.zeros(0, dtype=torch.float64)
    return torch.frombuffer(bytearray(raw), dtype=dtype).to(torch.float64)


def _numbers(raw: bytes, bound: float) -> Tensor:
    """Signed 16-bit codes scaled to ``[−bound, bound]``; zero bytes decode to ``0.0``."""
    return (_codes(raw, torch.int16) / 32767.0).clamp(-1.0, 1.0) * bound


def _flags(raw: bytes, probability: float) -> Tensor:
    """Byte codes, set where ``code >= 256 · (1 − probability)``; zero bytes decode to ``False``."""
    if probability <= 0.0:
        return torch.zeros(len(raw), dtype=torch.bool)
    return _codes(raw, torch.uint8) >= 256.0 * (1.0 - probability)


_NON_FINITE_FROM = 224  # one byte per number when non-finite numbers are allowed: codes from here up (1 in 8)


def _replace(numbers: Tensor, replaced: Tensor, which: Tensor, specials: tuple[float, ...]) -> Tensor:
    """``numbers`` with ``specials[which % len(specials)]`` wherever ``replaced`` is set."""
    table = torch.tensor(specials, dtype=torch.float64)
    return torch.where(replaced, table[which.long() % len(specials)], numbers)


def _decoded_non_finite(numbers: Tensor, raw: bytes, specials: tuple[float, ...]) -> Tensor:
    """One byte per number: codes from 224 up (1 in 8) replace it by a special; zero bytes keep every number."""
    codes = _codes(raw, torch.uint8)
    return _replace(numbers, codes >= _NON_FINITE_FROM, codes, specials)


def _discounts(raw: bytes) -> Tensor:
    """Unsigned 16-bit codes scaled to ``[0, 1]``, about 8% of them exactly ``1.0``; zero bytes decode to ``0.0``."""
    return (_codes(raw, torch.int16) % 65536 / _GAMMA_ONE_FROM).clamp(max=1.0)


def trajectory_batches(
    *,
    horizon: int | None = None,
    min_horizon: int = 1,
    max_horizon: int = 32,
    num_envs: int | None = None,
    min_envs: int = 1,
    max_envs: int = 4,
    batched: bool | None = None,
    dtype: torch.dtype | None = torch.float64,
    terminated_probability: float = 0.1,
    truncated_probability: float = 0.1,
    reward_bound: float = 10.0,
    value_bound: float = 10.0,
    gamma: float | None = None,
    per_step_gamma: bool | None = False,
    consistent_values: bool = False,
    allow_nan: bool = False,
    allow_infinity: bool = False,
) -> st.SearchStrategy[TrajectoryBatch]:
    """Batches of consistent trajectories (:class:`TrajectoryBatch`), time-major ``[T]`` or ``[T, N]``, on the CPU.

    * ``horizon`` fixes ``T``; otherwise ``T`` is drawn from ``[min_horizon, max_horizon]`` (``0`` is allowed).
    * ``num_envs`` fixes ``N``; otherwise it is drawn from ``[min_envs, max_envs]``. ``batched=False`` gives
      ``[T]`` batches, ``True`` gives ``[T, N]``, ``None`` draws either.
    * ``dtype`` is any floating dtype (values are drawn in float64 and rounded to it); ``None`` draws float32
      or float64.
    * ``terminated[t]`` and ``truncated[t]`` are set independently with the given probabilities (to the nearest
      1/256 in batches of up to 256 elements), so both can be set at once (typedrl reads that as terminated).
    * rewards lie in ``[−reward_bound, reward_bound]``, values and next values in ``[−value_bound, value_bound]``
      (multiples of ``bound / 32767`` in batches of up to 256 elements).
    * ``gamma`` fixes the scalar discount; otherwise it comes from :func:`gammas`. ``per_step_gamma=True`` gives
      a tensor of per-step discounts in ``[0, 1]`` shaped like the rewards, ``None`` draws either.
    * ``consistent_values=True`` makes ``values[t+1] == next_values[t]`` wherever ``done[t]`` is false (what a
      critic evaluated on the rollout's own observations gives): then ``gae(λ=1) + values`` equals the
      bootstrapped ``discounted_returns`` exactly in real arithmetic.
    * ``allow_nan`` and ``allow_infinity`` put NaN, ``+inf`` and ``−inf`` (those allowed) in place of about one
      in eight rewards, values and next values, each independently; they shrink back to finite numbers. Off by
      default: batches are finite.
    """
    if min_horizon < 0 or max_horizon < min_horizon or (horizon is not None and horizon < 0):
        raise InvalidArgument(
            f"trajectory_batches: horizon {horizon!r}, min_horizon {min_horizon}, max_horizon {max_horizon}; "
            "expected 0 <= min_horizon <= max_horizon and horizon >= 0"
        )
    if min_envs < 1 or max_envs < min_envs or (num_envs is not None and num_envs < 1):
        raise InvalidArgument(
            f"trajectory_batches: num_envs {num_envs!r}, min_envs {min_envs}, max_envs {max_envs}; "
            "expected 1 <= min_envs <= max_envs and num_envs >= 1"
        )
    if dtype is not None and not dtype.is_floating_point:
        raise InvalidArgument(f"trajectory_batches: dtype is {dtype}; expected a floating dtype")
    _check_range("terminated_probability", 0.0, 1.0, terminated_probability)
    _check_range("truncated_probability", 0.0, 1.0, truncated_probability)
    _check_range("reward_bound", 0.0, math.inf, reward_bound)
    _check_range("value_bound", 0.0, math.inf, value_bound)
    if math.isinf(reward_bound) or math.isinf(value_bound):
        raise InvalidArgument("trajectory_batches: reward_bound and value_bound must be finite")
    if gamma is not None:
        _check_range("gamma", 0.0, 1.0, gamma)
        if per_step_gamma:
            raise InvalidArgument("trajectory_batches: gamma fixes a scalar discount; per_step_gamma must not be True")
        per_step_gamma = False

    return _batches(
        _Plan(
            horizon=horizon,
            min_horizon=min_horizon,
            max_horizon=max_horizon,
            num_envs=num_envs,
            min_envs=min_envs,
            max_envs=max_envs,
            batched=batched,
            dtype=dtype,
            terminated_probability=terminated_probability,
            truncated_probability=truncated_probability,
            reward_bound=reward_bound,
            value_bound=value_bound,
            gamma=gamma,
            per_step_gamma=per_step_gamma,
            consistent_values=consistent_values,
            specials=((math.nan,) if allow_nan else ()) + ((math.inf, -math.inf) if allow_infinity else ()),
        )
    )


@dataclass(frozen=True)
class _Plan:
    """The arguments of :func:`trajectory_batches`, checked."""

    horizon: int | None
    min_horizon: int
    max_horizon: int
    num_envs: int | None
    min_envs: int
    max_envs: int
    batched: bool | None
    dtype: torch.dtype | None
    terminated_probability: float
    truncated_probability: float
    reward_bound: float
    value_bound: float
    gamma: float | None
    per_step_gamma: bool | None
    consistent_values: bool
    specials: tuple[float, ...]  # the non-finite numbers allowed: NaN, inf, -inf, or none


# rewards, values, next values, terminated, truncated, per-step discounts (or None); all flat, float64 or bool
_Fields = tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor | None]


def _decoded(draw: st.DrawFn, plan: _Plan, size: int, stepwise: bool) -> _Fields:
    def raw(width: int) -> bytes:
        return draw(st.binary(min_size=width * size, max_size=width * size))

    def numbers(bound: float) -> Tensor:
        finite = _numbers(raw(2), bound)
        return _decoded_non_finite(finite, raw(1), plan.specials) if plan.specials else finite

    return (
        numbers(plan.reward_bound),
        numbers(plan.value_bound),
        numbers(plan.value_bound),
        _flags(raw(1), plan.terminated_probability),
        _flags(raw(1), plan.truncated_probability),
        _discounts(raw(2)) if stepwise else None,
    )


def _seeded(seed: int, plan: _Plan, size: int, stepwise: bool) -> _Fields:
    generator = torch.Generator().manual_seed(seed)

    def uniform() -> Tensor:
        return torch.rand(size, generator=generator, dtype=torch.float64)

    def numbers(bound: float) -> Tensor:
        finite = (uniform() * 2 - 1) * bound
        if not plan.specials:
            return finite
        which = torch.randint(0, len(plan.specials), (size,), generator=generator)
        return _replace(finite, uniform() < 1 / 8, which, plan.specials)

    discounts = None
    if stepwise:  # with the endpoints 1 and 0 mixed in, as the decoded ones have them
        discounts = torch.where(uniform() < 0.08, 1.0, torch.where(uniform() < 0.02, 0.0, uniform()))
    return (
        numbers(plan.reward_bound),
        numbers(plan.value_bound),
        numbers(plan.value_bound),
        uniform() < plan.terminated_probability,
        uniform() < plan.truncated_probability,
        discounts,
    )


@st.composite
def _batches(draw: st.DrawFn, plan: _Plan) -> TrajectoryBatch:
    steps = plan.horizon if plan.horizon is not None else draw(st.integers(plan.min_horizon, plan.max_horizon))
    batched = plan.batched if plan.batched is not None else draw(st.booleans())
    envs = 1
    if batched:
        envs = plan.num_envs if plan.num_envs is not None else draw(st.integers(plan.min_envs, plan.max_envs))
    shape = (steps, envs) if batched else (steps,)
    dtype = plan.dtype if plan.dtype is not None else draw(st.sampled_from([torch.float32, torch.float64]))
    stepwise = plan.per_step_gamma if plan.per_step_gamma is not None else draw(st.booleans())

    size = steps * envs
    if size <= _DECODED_ELEMENTS_MAX:
        fields = _decoded(draw, plan, size, stepwise)
    else:
        fields = _seeded(draw(st.integers(0, 2**63 - 1)), plan, size, stepwise)
    rewards, values, next_values, terminated, truncated = (field.reshape(shape) for field in fields[:5])
    if plan.consistent_values and steps > 1:
        done = terminated | truncated
        next_values[:-1] = torch.where(done[:-1], next_values[:-1], values[1:])
    discounts = fields[5]
    gamma: float | Tensor
    if discounts is not None:
        gamma = discounts.reshape(shape).to(dtype)
    else:
        gamma = plan.gamma if plan.gamma is not None else draw(gammas())
    return TrajectoryBatch(
        rewards=rewards.to(dtype),
        values=values.to(dtype),
        next_values=next_values.to(dtype),
        terminated=terminated,
        truncated=truncated,
        gamma=gamma,
    )
