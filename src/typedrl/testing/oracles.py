"""Oracles: typedrl's specification (:mod:`typedrl.spec`) run on whole batches, and assertions against it.

Each ``reference_*`` function runs the plain-Python reverse loop of :mod:`typedrl.spec` on every trajectory
(column) of a :class:`~typedrl.testing.TrajectoryBatch` and returns a **float64 CPU** tensor shaped like the
batch's rewards (:func:`reference_vtrace`: a :class:`~typedrl.VTrace` of two). The inputs are read exactly (every
float32/float16 value is a float64 value), so the oracle is the answer in float64 arithmetic for the very numbers
the candidate saw.

The oracles of the masked functions take ``valid`` (a bool tensor shaped like the batch's rewards; ``None``: every
step is valid) and ``mask_mode`` (``"stop"`` or ``"skip"``), passed to the specification column by column, so the
oracle of a masked call is ``0.0`` at the invalid steps, as :mod:`typedrl.spec` is. Log-probabilities
(:func:`reference_vtrace`) are given the same way, shaped like the rewards.
"""

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

import torch
from torch import Tensor

from typedrl import spec
from typedrl.errors import InputError
from typedrl.returns import MaskMode, VTrace
from typedrl.testing.batch import TrajectoryBatch

__all__ = [
    "GaeFunction",
    "assert_close_to_reference",
    "assert_matches_reference",
    "reference_discounted_returns",
    "reference_gae",
    "reference_lambda_returns",
    "reference_n_step_returns",
    "reference_normalized_advantages",
    "reference_td_errors",
    "reference_vtrace",
]


class GaeFunction(Protocol):
    """The signature of :func:`typedrl.gae`, which :func:`assert_matches_reference` calls a candidate with."""

    def __call__(
        self,
        rewards: Tensor,
        values: Tensor,
        next_values: Tensor,
        terminated: Tensor,
        truncated: Tensor,
        *,
        gamma: float | Tensor,
        lam: float,
    ) -> Tensor: ...


class _Column(NamedTuple):
    rewards: list[float]
    values: list[float]
    next_values: list[float]
    terminated: list[bool]
    truncated: list[bool]
    gamma: float | list[float]
    valid: list[bool] | None
    behaviour_log_probs: list[float]
    target_log_probs: list[float]


def _like_rewards(where: str, name: str, tensor: object, batch: TrajectoryBatch, *, flag: bool) -> Tensor:
    """``tensor``, checked to be a tensor shaped like the batch's rewards (bool for a flag, floating otherwise)."""
    if not isinstance(tensor, Tensor):
        raise InputError(f"{where}: {name} is a {type(tensor).__name__}; expected a torch.Tensor")
    if tuple(tensor.shape) != tuple(batch.rewards.shape):
        raise InputError(
            f"{where}: {name} has shape {tuple(tensor.shape)}; expected {tuple(batch.rewards.shape)} (as rewards)"
        )
    if flag and tensor.dtype != torch.bool:
        raise InputError(f"{where}: {name} has dtype {tensor.dtype}; expected torch.bool")
    if not flag and not tensor.dtype.is_floating_point:
        raise InputError(f"{where}: {name} has dtype {tensor.dtype}; expected a floating dtype")
    return tensor


def _per_trajectory_outputs(
    batch: TrajectoryBatch,
    compute: Callable[[_Column], Sequence[list[float]]],
    *,
    outputs: int,
    where: str,
    valid: Tensor | None = None,
    log_probs: tuple[Tensor, Tensor] | None = None,
) -> tuple[Tensor, ...]:
    """Run ``compute`` on every trajectory; each of its outputs stacked back into a float64 CPU tensor."""
    steps, count = batch.horizon, math.prod(batch.batch_shape)

    def numbers(tensor: Tensor) -> list[list[float]]:
        rows: list[list[float]] = tensor.detach().to("cpu", torch.float64).reshape(steps, count).T.tolist()
        return rows

    def flags(tensor: Tensor) -> list[list[bool]]:
        rows: list[list[bool]] = tensor.detach().cpu().reshape(steps, count).T.tolist()
        return rows

    rewards, values, next_values = numbers(batch.rewards), numbers(batch.values), numbers(batch.next_values)
    terminated, truncated = flags(batch.terminated), flags(batch.truncated)
    gammas: list[float] | list[list[float]] = (
        numbers(batch.gamma) if isinstance(batch.gamma, Tensor) else [float(batch.gamma)] * count
    )
    masks: list[list[bool]] | list[None] = (
        [None] * count if valid is None else flags(_like_rewards(where, "valid", valid, batch, flag=True))
    )
    if log_probs is None:
        behaviour: list[list[float]] = [[] for _ in range(count)]
        target: list[list[float]] = [[] for _ in range(count)]
    else:
        behaviour = numbers(_like_rewards(where, "behaviour_log_probs", log_probs[0], batch, flag=False))
        target = numbers(_like_rewards(where, "target_log_probs", log_probs[1], batch, flag=False))
    columns = [
        compute(
            _Column(
                rewards[n],
                values[n],
                next_values[n],
                terminated[n],
                truncated[n],
                gammas[n],
                masks[n],
                behaviour[n],
                target[n],
            )
        )
        for n in range(count)
    ]

    def stacked(index: int) -> Tensor:
        out = torch.tensor([column[index] for column in columns], dtype=torch.float64).reshape(count, steps)
        return out.T.reshape(batch.rewards.shape).contiguous()

    return tuple(stacked(index) for index in range(outputs))


def _per_trajectory(
    batch: TrajectoryBatch,
    compute: Callable[[_Column], list[float]],
    *,
    where: str = "reference",
    valid: Tensor | None = None,
) -> Tensor:
    (out,) = _per_trajectory_outputs(batch, lambda c: (compute(c),), outputs=1, where=where, valid=valid)
    return out


def reference_td_errors(batch: TrajectoryBatch) -> Tensor:
    """``δₜ = rₜ + γₜ · (1 − terminatedₜ) · V'ₜ − Vₜ`` by :func:`typedrl.spec.td_errors`, per trajectory."""
    return _per_trajectory(
        batch, lambda c: spec.td_errors(c.rewards, c.values, c.next_values, c.terminated, gamma=c.gamma)
    )


def reference_gae(
    batch: TrajectoryBatch, *, lam: float, valid: Tensor | None = None, mask_mode: MaskMode = "stop"
) -> Tensor:
    """``Aₜ = δₜ + γₜ · λ · (1 − doneₜ) · Aₜ₊₁``, ``A_T = 0``, by :func:`typedrl.spec.gae`, per trajectory.

    ``valid`` ([T, *batch] bool, like the rewards) and ``mask_mode`` as in :func:`typedrl.gae`: ``0.0`` at invalid
    steps. Raises :class:`~typedrl.errors.InputError` for a ``valid`` of another shape or dtype.
    """
    return _per_trajectory(
        batch,
        lambda c: spec.gae(
            c.rewards,
            c.values,
            c.next_values,
            c.terminated,
            c.truncated,
            gamma=c.gamma,
            lam=lam,
            valid=c.valid,
            mask_mode=mask_mode,
        ),
        where="reference_gae",
        valid=valid,
    )


def reference_lambda_returns(
    batch: TrajectoryBatch, *, lam: float, valid: Tensor | None = None, mask_mode: MaskMode = "stop"
) -> Tensor:
    """``G^λₜ = Aₜ + Vₜ`` by :func:`typedrl.spec.lambda_returns`, per trajectory.

    ``valid`` and ``mask_mode`` as in :func:`reference_gae` (``0.0`` at invalid steps).
    """
    return _per_trajectory(
        batch,
        lambda c: spec.lambda_returns(
            c.rewards,
            c.values,
            c.next_values,
            c.terminated,
            c.truncated,
            gamma=c.gamma,
            lam=lam,
            valid=c.valid,
            mask_mode=mask_mode,
        ),
        where="reference_lambda_returns",
        valid=valid,
    )


def reference_discounted_returns(
    batch: TrajectoryBatch, *, bootstrap: bool = True, valid: Tensor | None = None, mask_mode: MaskMode = "stop"
) -> Tensor:
    """``Gₜ = rₜ + γₜ · (1 − terminatedₜ) · (V'ₜ if doneₜ else Gₜ₊₁)``, ``G_T = V'_{T−1}``, per trajectory.

    By :func:`typedrl.spec.discounted_returns`; ``bootstrap=False`` leaves ``next_values`` out (``V' ≡ 0``), the
    Monte Carlo reward-to-go ``Gₜ = rₜ + γₜ (1 − doneₜ) Gₜ₊₁``. ``valid`` and ``mask_mode`` as in
    :func:`reference_gae` (``0.0`` at invalid steps).
    """
    return _per_trajectory(
        batch,
        lambda c: spec.discounted_returns(
            c.rewards,
            c.terminated,
            c.truncated,
            gamma=c.gamma,
            next_values=c.next_values if bootstrap else None,
            valid=c.valid,
            mask_mode=mask_mode,
        ),
        where="reference_discounted_returns",
        valid=valid,
    )


def reference_n_step_returns(
    batch: TrajectoryBatch, *, n: int, valid: Tensor | None = None, mask_mode: MaskMode = "stop"
) -> Tensor:
    """n-step returns ``G⁽ⁿ⁾ₜ`` by :func:`typedrl.spec.n_step_returns`, per trajectory; float64 CPU, [T, *batch].

    ``G⁽ⁿ⁾ₜ = Σ_{k<m} (Π_{j<k} γₜ₊ⱼ) rₜ₊ₖ + (Π_{j<m} γₜ₊ⱼ) · Bₜ`` over the window ``t … e`` of ``m ≤ n`` steps
    that ends at the first done step, the ``n``-th step or the rollout's last step; ``Bₜ = V'ₑ`` unless step ``e``
    is terminated (then ``0``). Reads the batch's rewards, next values, flags and gamma (not ``values``).
    ``valid`` and ``mask_mode`` as in :func:`typedrl.n_step_returns` (``0.0`` at invalid steps). Raises
    :class:`~typedrl.errors.HyperparameterError` for an ``n`` that is not an int ``≥ 1`` (from the spec) and
    :class:`~typedrl.errors.InputError` for a ``valid`` of another shape or dtype.
    """
    return _per_trajectory(
        batch,
        lambda c: spec.n_step_returns(
            c.rewards,
            c.next_values,
            c.terminated,
            c.truncated,
            gamma=c.gamma,
            n=n,
            valid=c.valid,
            mask_mode=mask_mode,
        ),
        where="reference_n_step_returns",
        valid=valid,
    )


def reference_vtrace(
    batch: TrajectoryBatch,
    behaviour_log_probs: Tensor,
    target_log_probs: Tensor,
    *,
    rho_bar: float = 1.0,
    c_bar: float = 1.0,
    valid: Tensor | None = None,
    mask_mode: MaskMode = "stop",
) -> VTrace:
    """V-trace targets and policy-gradient advantages by :func:`typedrl.spec.vtrace`, per trajectory.

    ``behaviour_log_probs`` (``log μ(aₜ|sₜ)``) and ``target_log_probs`` (``log π(aₜ|sₜ)``) are floating tensors
    shaped like the batch's rewards ([T, *batch]), read exactly in float64; ``ρₜ = min(ρ̄, π/μ)``,
    ``cₜ = min(c̄, π/μ)``. Returns a :class:`typedrl.VTrace` of two float64 CPU tensors shaped like the rewards:
    ``vs = V + δ + γ c (1 − done) (vs₊₁ − V₊₁)`` and ``pg_advantages = ρ (r + γ (1 − terminated) v' − V)``, as
    :func:`typedrl.vtrace` returns them. ``valid`` and ``mask_mode`` as in :func:`typedrl.vtrace` (``0.0`` at
    invalid steps, in both). Raises :class:`~typedrl.errors.InputError` for log-probabilities or a ``valid`` of
    another shape or dtype, and :class:`~typedrl.errors.HyperparameterError` (from the spec) for a ``rho_bar`` or
    ``c_bar`` that is not a real number ``≥ 0``.
    """

    def compute(c: _Column) -> tuple[list[float], list[float]]:
        out = spec.vtrace(
            c.behaviour_log_probs,
            c.target_log_probs,
            c.rewards,
            c.values,
            c.next_values,
            c.terminated,
            c.truncated,
            gamma=c.gamma,
            rho_bar=rho_bar,
            c_bar=c_bar,
            valid=c.valid,
            mask_mode=mask_mode,
        )
        return out.vs, out.pg_advantages

    vs, pg_advantages = _per_trajectory_outputs(
        batch,
        compute,
        outputs=2,
        where="reference_vtrace",
        valid=valid,
        log_probs=(behaviour_log_probs, target_log_probs),
    )
    return VTrace(vs, pg_advantages)


def reference_normalized_advantages(advantages: Tensor) -> Tensor:
    """``(A − mean(A)) / std(A)`` over all elements (population std; ``A − mean(A)`` where it is 0).

    By :func:`typedrl.spec.normalize_advantages` on the flattened tensor; float64 CPU, shaped like ``advantages``.
    """
    flat: list[float] = advantages.detach().to("cpu", torch.float64).reshape(-1).tolist()
    return torch.tensor(spec.normalize_advantages(flat), dtype=torch.float64).reshape(advantages.shape)


def _default_rtol(dtype: torch.dtype) -> float:
    if dtype == torch.float64:
        return 1e-9
    if dtype == torch.float32:
        return 1e-4
    return 1e-2  # float16, bfloat16


def assert_close_to_reference(
    got: Tensor,
    expected: Tensor,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    label: str = "result",
) -> None:
    """Assert ``|got − expected| ≤ atol + rtol · |expected|`` elementwise, naming the first bad element if not.

    ``expected`` is an oracle's float64 result; ``got`` is compared on the CPU in float64 and must have the same
    shape. ``rtol`` defaults by ``got``'s dtype: ``1e-9`` for float64, ``1e-4`` for float32, ``1e-2`` for
    float16/bfloat16; ``atol`` defaults to ``rtol · (1 + max|expected|)``, because rounding in a recursion is
    relative to the running sum, not to the element. Equal infinities and NaN against NaN count as equal.
    Raises :class:`AssertionError`.
    """
    if tuple(got.shape) != tuple(expected.shape):
        raise AssertionError(f"{label}: shape {tuple(got.shape)}; expected {tuple(expected.shape)}")
    rtol = _default_rtol(got.dtype) if rtol is None else rtol
    expected = expected.detach().to("cpu", torch.float64)
    scale = float(expected.abs().nan_to_num(0.0, posinf=0.0, neginf=0.0).max()) if expected.numel() else 0.0
    atol = rtol * (1.0 + scale) if atol is None else atol
    wide = got.detach().to("cpu", torch.float64)
    bad = ~((wide - expected).abs() <= atol + rtol * expected.abs())
    bad &= ~((wide == expected) | (wide.isnan() & expected.isnan()))
    if bool(bad.any()):
        first = tuple(int(i) for i in torch.nonzero(bad)[0])
        where = f"t={first[0]}" + (f", batch index {first[1:]}" if len(first) > 1 else "")
        raise AssertionError(
            f"{label}: differs from the reference at {int(bad.sum())} of {bad.numel()} elements "
            f"(rtol={rtol:g}, atol={atol:g}); first at {where}: expected {float(expected[first])!r}, "
            f"got {float(wide[first])!r}"
        )


def assert_matches_reference(
    candidate: GaeFunction,
    batch: TrajectoryBatch,
    *,
    lam: float,
    rtol: float | None = None,
    atol: float | None = None,
) -> None:
    """Assert that a GAE implementation computes typedrl's GAE on ``batch``, within tolerance.

    Calls ``candidate(rewards, values, next_values, terminated, truncated, gamma=..., lam=lam)`` (the
    signature of :func:`typedrl.gae`; wrap your function if it differs) and compares its result with
    :func:`reference_gae`: ``Aₜ = δₜ + γₜ · λ · (1 − doneₜ) · Aₜ₊₁``, ``A_T = 0``,
    ``δₜ = rₜ + γₜ · (1 − terminatedₜ) · V'ₜ − Vₜ``. The result must have the batch's shape and dtype;
    tolerances as in :func:`assert_close_to_reference`. Raises :class:`AssertionError` naming the first
    step that differs. Use it inside a hypothesis test::

        @given(batch=trajectory_batches(), lam=lams())
        def test_my_gae(batch: TrajectoryBatch, lam: float) -> None:
            assert_matches_reference(my_gae, batch, lam=lam)
    """
    got = candidate(
        batch.rewards,
        batch.values,
        batch.next_values,
        batch.terminated,
        batch.truncated,
        gamma=batch.gamma if isinstance(batch.gamma, Tensor) else float(batch.gamma),
        lam=lam,
    )
    if not isinstance(got, Tensor):
        raise AssertionError(f"gae candidate returned a {type(got).__name__}; expected a torch.Tensor")
    if got.dtype != batch.rewards.dtype:
        raise AssertionError(f"gae candidate returned dtype {got.dtype}; expected {batch.rewards.dtype} (as rewards)")
    gamma = "per-step gamma" if isinstance(batch.gamma, Tensor) else f"gamma={batch.gamma!r}"
    assert_close_to_reference(
        got, reference_gae(batch, lam=lam), rtol=rtol, atol=atol, label=f"gae candidate ({gamma}, lam={lam!r})"
    )
