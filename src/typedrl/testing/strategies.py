"""Hypothesis strategies for typedrl's return math: trajectory batches, discounts ``γ`` and GAE's ``λ``.

A batch is drawn shape first (``T`` and ``N`` as integers, which shrink toward their lower bounds), then its
scalars, then its elements from one byte string: a record of a few bytes per element, trajectory after trajectory
and step after step. So a failing property shrinks to the smallest case. A smaller ``T`` or ``N`` shortens that one
string, and hypothesis's shrinker keeps its head or its tail (the first or the last trajectories, the first or the
last steps), so the counterexample keeps the elements that fail. Zero bytes decode to ``0.0``, ``False`` and the
scalar discount, and the byte of a number that the shrinker lowers first takes it to ``0``, then ``±1``, so what is
left is ``0`` and ``±1`` wherever those still fail, one or two steps where the failure needs no more.

Hypothesis holds only a few kilobytes per example, so past the first 256 elements a larger batch (a long horizon,
many environments) is filled from a ``torch.Generator`` whose seed hypothesis draws. Those elements become zeros as
soon as the shrinker zeroes one of the first 256, so a failure among the first 256 shrinks as in a small batch.

Numbers are finite unless asked otherwise (``allow_nan``, ``allow_infinity``): the return math is defined on
non-finite input too (a NaN or inf that a zero coefficient multiplies is never read), but most properties,
linearity for one, hold only for finite numbers. Per-step discounts are ``0``, ``1``, ``0.5``, ``0.9``, ``0.99``,
multiples of ``1/58880`` or the scalar discount, and ``γ`` and ``λ`` any float in ``[0, 1]``: typedrl's float32
kernels keep a nonzero ``γ``, ``λ`` or ``γ·λ`` nonzero even below float32's subnormal range, so float32 results and
the float64 specification agree on which coefficients are zero, and so on where a NaN or inf is read. A candidate
that rounds ``λ = 1e-300`` to float32 ``0`` reads less than the specification, and fails on batches with
non-finite numbers.
"""

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from torch import Tensor

from typedrl.testing.batch import TrajectoryBatch

__all__ = ["gammas", "lams", "trajectory_batches"]

_DECODED_ELEMENTS_MAX = 256  # elements decoded from hypothesis's bytes; the rest of a larger batch is seeded
_GAMMA_GRID = 58_880  # decoded per-step discounts: multiples of 1/58880, the top 8% of codes exactly 1.0
_COMMON_UNIT_VALUES = (0.0, 1.0, 0.5, 0.9, 0.99)
_SMALL_INTEGERS_TO = 5  # decoded numbers: a first byte below this is the integer it is (1 in 50 numbers)
_NON_FINITE_FROM = 224  # one byte per number when non-finite numbers are allowed: codes from here up (1 in 8)


def gammas() -> st.SearchStrategy[float]:
    """Discounts ``γ`` in ``[0, 1]``: both endpoints, the usual ``0.9``/``0.99``, and any float between."""
    return st.one_of(st.sampled_from(_COMMON_UNIT_VALUES), st.floats(0.0, 1.0))


def lams() -> st.SearchStrategy[float]:
    """GAE's ``λ`` in ``[0, 1]``: both endpoints (``λ = 0`` is TD, ``λ = 1`` Monte Carlo) and any float between."""
    return st.one_of(st.sampled_from(_COMMON_UNIT_VALUES), st.floats(0.0, 1.0))


def _check_range(name: str, low: float, high: float, value: float) -> None:
    if not low <= value <= high:
        raise InvalidArgument(f"trajectory_batches: {name} is {value!r}; expected a number in [{low}, {high}]")


def _numbers(head: Tensor, tail: Tensor, bound: float) -> Tensor:
    """Two bytes as a number in ``[−bound, bound]``, with the sign in the low bit of ``tail``: ``head`` 0 is
    ``0.0``, 1 to 4 the integers 1 to 4 (at most ``bound``), and from 5 up, with the rest of ``tail``, a multiple
    of ``bound/32128`` in ``(0, bound]``, evenly. Zero bytes are ``0.0``, and the shrinker, which lowers ``head``
    first, reaches ``±1`` from any number of that sign."""
    magnitude = torch.where(
        head < _SMALL_INTEGERS_TO,
        head.clamp(max=bound),
        ((head - _SMALL_INTEGERS_TO) * 128 + (tail / 2).floor() + 1) / ((256 - _SMALL_INTEGERS_TO) * 128) * bound,
    )
    return torch.where(tail % 2 == 1, 0.0 - magnitude, magnitude)  # 0.0 - 0.0 is +0.0


def _flags(code: Tensor, probability: float) -> Tensor:
    """Byte codes, set where ``code >= 256 · (1 − probability)``; a zero byte is ``False``."""
    if probability <= 0.0:
        return torch.zeros(code.shape, dtype=torch.bool)
    return code >= 256.0 * (1.0 - probability)


def _discounts(choice: Tensor, fine: Tensor, scalar: float) -> Tensor:
    """Two bytes as a discount in ``[0, 1]``. ``choice`` 0 is ``scalar`` (zero bytes make per-step discounts all
    equal to the scalar one), 1 to 5 are ``0, 1, 0.5, 0.9, 0.99``, and from 6 up, with ``fine``, a multiple of
    ``1/58880`` up to exactly ``1.0`` (about 8% of them)."""
    named = torch.tensor((scalar, *_COMMON_UNIT_VALUES), dtype=torch.float64)
    grid = (((choice - len(named)) * 256 + fine) / _GAMMA_GRID).clamp(max=1.0)
    return torch.where(choice < len(named), named[choice.long().clamp(max=len(named) - 1)], grid)


def _replace(numbers: Tensor, replaced: Tensor, which: Tensor, specials: tuple[float, ...]) -> Tensor:
    """``numbers`` with ``specials[which % len(specials)]`` wherever ``replaced`` is set."""
    table = torch.tensor(specials, dtype=torch.float64)
    return torch.where(replaced, table[which.long() % len(specials)], numbers)


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
      1/256 among the first 256 elements), so both can be set at once (typedrl reads that as terminated).
    * rewards lie in ``[−reward_bound, reward_bound]``, values and next values in ``[−value_bound, value_bound]``,
      spread evenly (among the first 256 elements: multiples of ``bound/32128``, and about one in fifty a small
      integer, ``0`` to ``±4`` within the bound).
    * ``gamma`` fixes the scalar discount; otherwise it comes from :func:`gammas`. ``per_step_gamma=True`` gives
      a tensor of per-step discounts in ``[0, 1]`` shaped like the rewards (about 8% of them exactly ``1``), ``None``
      draws either.
    * a failing property shrinks to the fewest steps and trajectories it needs, with rewards and values ``0`` and
      ``±1`` and flags unset wherever those still fail (see the module's description).
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


class _Elements(NamedTuple):
    """A batch's elements as flat float64 (numbers) and bool (flags) tensors in column-major order: element
    ``n·T + t`` is step ``t`` of trajectory ``n``. ``discounts`` is ``None`` where the plan has no per-step ones."""

    rewards: Tensor
    values: Tensor
    next_values: Tensor
    terminated: Tensor
    truncated: Tensor
    discounts: Tensor | None

    def followed_by(self, tail: "_Elements") -> "_Elements":
        discounts = None
        if self.discounts is not None and tail.discounts is not None:
            discounts = torch.cat([self.discounts, tail.discounts])
        return _Elements(
            torch.cat([self.rewards, tail.rewards]),
            torch.cat([self.values, tail.values]),
            torch.cat([self.next_values, tail.next_values]),
            torch.cat([self.terminated, tail.terminated]),
            torch.cat([self.truncated, tail.truncated]),
            discounts,
        )


def _record_width(plan: _Plan) -> int:
    """Bytes per decoded element: reward, value, next value (2 each), terminated, truncated (1 each), a per-step
    discount (2) wherever the plan may draw one, and one byte per number (3) where non-finite numbers are allowed."""
    return 8 + (2 if plan.per_step_gamma is not False else 0) + (3 if plan.specials else 0)


def _decoded(raw: bytes, plan: _Plan, width: int, gamma: float) -> _Elements:
    """The elements of one flat byte string, ``width`` bytes each, element after element; ``gamma`` is the scalar
    discount that a per-step discount's code 0 stands for."""
    count = len(raw) // width
    codes = torch.frombuffer(bytearray(raw), dtype=torch.uint8) if raw else torch.zeros(0, dtype=torch.uint8)
    byte = codes.reshape(count, width).to(torch.float64).T  # byte[i] is the i-th byte of every element
    numbers = [
        _numbers(byte[0], byte[1], plan.reward_bound),
        _numbers(byte[2], byte[3], plan.value_bound),
        _numbers(byte[4], byte[5], plan.value_bound),
    ]
    if plan.specials:
        numbers = [
            _replace(finite, code >= _NON_FINITE_FROM, code - _NON_FINITE_FROM, plan.specials)  # shrinks to NaN
            for finite, code in zip(numbers, byte[width - 3 :], strict=True)
        ]
    rewards, values, next_values = numbers
    return _Elements(
        rewards,
        values,
        next_values,
        terminated=_flags(byte[6], plan.terminated_probability),
        truncated=_flags(byte[7], plan.truncated_probability),
        discounts=_discounts(byte[8], byte[9], gamma) if plan.per_step_gamma is not False else None,
    )


def _seeded(seed: int, plan: _Plan, count: int) -> _Elements:
    """``count`` elements from a ``torch.Generator``, with the densities of the decoded ones; element ``i`` depends
    only on the seed and ``i`` (its uniforms are the ``i``-th row of a ``[count, k]`` draw, ``k`` fixed by the
    plan), so a smaller batch keeps the leading elements of a larger one."""
    specials = 3 if plan.specials else 0
    discounts = 3 if plan.per_step_gamma is not False else 0
    generator = torch.Generator().manual_seed(seed)
    uniform = torch.rand((count, 5 + specials + discounts), generator=generator, dtype=torch.float64).T

    def numbers(column: int, bound: float) -> Tensor:
        finite = (uniform[column] * 2 - 1) * bound
        if not specials:
            return finite
        chance = uniform[5 + column]  # below 1/8: replaced, by each allowed special equally often
        return _replace(finite, chance < 1 / 8, (chance * 8 * len(plan.specials)).floor(), plan.specials)

    stepwise = None
    if discounts:  # with the endpoints 1 and 0 mixed in, as the decoded ones have them
        one, zero, value = uniform[5 + specials :]
        stepwise = torch.where(one < 0.08, 1.0, torch.where(zero < 0.02, 0.0, value))
    return _Elements(
        numbers(0, plan.reward_bound),
        numbers(1, plan.value_bound),
        numbers(2, plan.value_bound),
        terminated=uniform[3] < plan.terminated_probability,
        truncated=uniform[4] < plan.truncated_probability,
        discounts=stepwise,
    )


@st.composite
def _batches(draw: st.DrawFn, plan: _Plan) -> TrajectoryBatch:
    # The shape first, then the scalars, then every element in one byte string. Shrinking N or T then shortens
    # that one string, and hypothesis's shrinker keeps its head or its tail: the first or the last trajectories
    # (elements are column-major), or the first or the last steps of a single one. Separate strings per field
    # would all have to be cut at once, which the shrinker does not do.
    batched = plan.batched if plan.batched is not None else draw(st.booleans())
    envs = 1
    if plan.batched is not False and plan.num_envs is None:
        drawn_envs = draw(st.integers(plan.min_envs, plan.max_envs))  # drawn even when unbatched: keeps alignment
        envs = drawn_envs if batched else 1
    elif batched and plan.num_envs is not None:
        envs = plan.num_envs
    steps = plan.horizon if plan.horizon is not None else draw(st.integers(plan.min_horizon, plan.max_horizon))
    dtype = plan.dtype if plan.dtype is not None else draw(st.sampled_from([torch.float32, torch.float64]))
    stepwise = plan.per_step_gamma if plan.per_step_gamma is not None else draw(st.booleans())
    # A scalar discount even for per-step discounts: a per-step code of 0 stands for it (see _discounts).
    scalar_gamma = plan.gamma if plan.gamma is not None else draw(gammas())

    size = steps * envs
    decoded = min(size, _DECODED_ELEMENTS_MAX)
    width = _record_width(plan)
    raw = draw(st.binary(min_size=decoded * width, max_size=decoded * width))
    elements = _decoded(raw, plan, width, scalar_gamma)
    if size > decoded:
        # Elements past the first 256 come from a seeded generator while every one of the first 256 has a nonzero
        # byte (practically always, but in hypothesis's first, simplest tries, where all are zero); otherwise
        # they are what zero bytes decode to. The shrinker's first moves zero elements, so the rest of the batch
        # goes with the first of them, and a failure among the first 256 stays: then a smaller T or N keeps it,
        # down to a batch decoded whole. (A failure only past them shrinks in T, N and the seed.)
        seed = draw(st.integers(0, 2**63 - 1))
        records = torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(decoded, width)
        if bool((records != 0).any(dim=1).all()):
            elements = elements.followed_by(_seeded(seed, plan, size - decoded))
        else:
            elements = elements.followed_by(_decoded(bytes((size - decoded) * width), plan, width, scalar_gamma))

    def shaped(flat: Tensor) -> Tensor:
        time_major = flat.reshape(envs, steps).T
        return time_major.contiguous() if batched else time_major.reshape(steps).clone()

    rewards, values, next_values = shaped(elements.rewards), shaped(elements.values), shaped(elements.next_values)
    terminated, truncated = shaped(elements.terminated), shaped(elements.truncated)
    if plan.consistent_values and steps > 1:
        done = terminated | truncated
        next_values[:-1] = torch.where(done[:-1], next_values[:-1], values[1:])
    gamma: float | Tensor = scalar_gamma
    if stepwise and elements.discounts is not None:  # the plan has per-step discounts wherever stepwise is drawn
        gamma = shaped(elements.discounts).to(dtype)
    return TrajectoryBatch(
        rewards=rewards.to(dtype),
        values=values.to(dtype),
        next_values=next_values.to(dtype),
        terminated=terminated,
        truncated=truncated,
        gamma=gamma,
    )
