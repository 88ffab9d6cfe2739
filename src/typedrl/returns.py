"""Return and advantage math on torch tensors: the fast layer, equal to :mod:`typedrl.spec` by property test.

All functions are **time-major**: the first axis is time ``T``; any trailing axes (``N`` environments, or more)
are independent trajectories. Flags are ``bool`` tensors; ``gamma`` is a real number in ``[0, 1]`` (a Python or
numpy scalar, not a bool) or a tensor of per-step discounts shaped like ``rewards``; hyperparameters are
keyword-only. float32 and float64 keep their dtype; float16 and bfloat16 are computed in float32 (per-step
discounts too) and cast back once, at the end. Results stay on the inputs' device.

**Non-finite numbers.** A coefficient that is exactly zero multiplies nothing: a term multiplied by a zero
discount ``γₜ = 0``, by ``λ = 0``, or cut by a flag (a terminated step's bootstrap, anything past a done step) is
not read, so a NaN or ±inf there cannot reach any output. Every other NaN or ±inf reaches the outputs that
depend on it and stays non-finite there. This is :mod:`typedrl.spec`'s rule, and the tensor functions equal the
spec on every input, non-finite ones included. ``γ`` and ``λ`` are zero or not as given: a nonzero ``γₜ·λ``
that would underflow in float32 still reads what it multiplies.

GAE and the returns are backward linear recurrences ``aₜ = dₜ + cₜ · aₜ₊₁`` (``typedrl._recurrence``). On the
CPU they run in a small compiled kernel (one pass, no Python loop over time); on CUDA in one Triton kernel launch
per call when Triton is available, else a torch loop over time. They are targets, not differentiable
functions: no gradient flows through :func:`gae`, :func:`lambda_returns` or :func:`discounted_returns`.

Shapes are checked by jaxtyping + beartype while :mod:`typedrl.checks` is on; dtype, device and size checks
that protect the kernels, and the ``gamma``/``lam`` range checks, always run.
"""

from typing import Any, TypeAlias

import numpy as np
import torch
from jaxtyping import Bool, Float
from torch import Tensor

from typedrl import _recurrence
from typedrl._recurrence import Inputs, Kind, on_cpu, smallest_subnormal
from typedrl._validate import first_true, unit_interval, unit_interval_elements
from typedrl.checks import checked
from typedrl.errors import HyperparameterError, InputError

__all__ = ["discounted_returns", "gae", "lambda_returns", "normalize_advantages", "td_errors"]

# A hyperparameter: a Python float or int, or a numpy real scalar (np.float32(0.99)); bools are refused by the
# checks with their own message.
RealScalar: TypeAlias = float | np.floating[Any] | np.integer[Any]

_KERNEL_DTYPES = (torch.float32, torch.float64)
# The kinds as globals: loading an enum member as Kind.GAE costs 0.1 µs a call on the fast path, a global far less.
_GAE, _RETURNS = Kind.GAE, Kind.RETURNS


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype the math runs in: float32 for the half types, else the dtype itself."""
    return dtype if dtype in _KERNEL_DTYPES else torch.float32


def _check_dense(where: str, name: str, tensor: Tensor) -> None:
    """A dense (strided) tensor: sparse, nested and MKL-DNN tensors have no array of values to read."""
    if tensor.is_nested:
        raise InputError(f"{where}: {name} is a nested tensor; expected a dense tensor (torch.strided)")
    if tensor.layout is not torch.strided:
        raise InputError(f"{where}: {name} has layout {tensor.layout}; expected a dense tensor (torch.strided)")


def _check_like(where: str, name: str, tensor: Tensor, rewards: Tensor, *, flag: bool, dtype: bool = True) -> None:
    """The always-on checks: right kind, layout, dtype family, device and shape (they protect the kernels)."""
    if not isinstance(tensor, Tensor):
        raise InputError(f"{where}: {name} is a {type(tensor).__name__}; expected a torch.Tensor")
    _check_dense(where, name, tensor)
    if flag:
        if tensor.dtype is not torch.bool:
            raise InputError(f"{where}: {name} has dtype {tensor.dtype}; expected torch.bool")
    elif dtype and tensor.dtype is not rewards.dtype:
        raise InputError(f"{where}: {name} has dtype {tensor.dtype}; expected {rewards.dtype} (as rewards)")
    if tensor.device != rewards.device:
        raise InputError(f"{where}: {name} is on {tensor.device}; expected {rewards.device} (as rewards)")
    if tensor.shape != rewards.shape:
        raise InputError(
            f"{where}: {name} has shape {tuple(tensor.shape)}; expected {tuple(rewards.shape)} (as rewards)"
        )


def _check_rewards(where: str, rewards: Tensor) -> None:
    if not isinstance(rewards, Tensor):
        raise InputError(f"{where}: rewards is a {type(rewards).__name__}; expected a torch.Tensor")
    _check_dense(where, "rewards", rewards)
    if not rewards.is_floating_point():
        raise InputError(f"{where}: rewards has dtype {rewards.dtype}; expected a floating dtype")
    if rewards.is_meta:
        raise InputError(f"{where}: rewards is on meta; expected a device that holds values, such as cpu or cuda")
    if rewards.dim() == 0:
        raise InputError(f"{where}: rewards is a scalar; expected shape [T] or [T, *batch]")


def _check_gamma(where: str, gamma: RealScalar | Tensor, rewards: Tensor) -> tuple[float, Tensor | None]:
    """Return ``(scalar_gamma, per_step_gammas_or_None)`` after checking range, dtype, device and shape.

    Per-step discounts come back in the dtype the math runs in (float32 for half-precision rewards).
    """
    if not isinstance(gamma, Tensor):
        return unit_interval(where, "gamma", gamma, error=HyperparameterError), None
    _check_dense(where, "gamma", gamma)
    if not gamma.is_floating_point():
        raise InputError(f"{where}: gamma has dtype {gamma.dtype}; expected a floating dtype")
    _check_like(where, "gamma", gamma, rewards, flag=False, dtype=False)
    # The range is checked on the discounts as given: rounding to a narrower dtype could carry 1 + 1e-12 to 1
    # or -1e-50 to 0 (the spec, on the same numbers, refuses both).
    unit_interval_elements(where, "gamma", gamma, each="discount", error=HyperparameterError)
    given, gamma = gamma, gamma.to(_compute_dtype(rewards.dtype))
    if given.dtype.itemsize > gamma.dtype.itemsize:  # narrowed: a nonzero discount must stay nonzero
        gamma = torch.where((gamma == 0) & (given != 0), smallest_subnormal(gamma.dtype), gamma)
    return 0.0, gamma


def _readable(where: str, name: str, tensor: Tensor) -> Tensor:
    """``tensor`` with memory that holds what it means, for code that reads its data pointer.

    Lazy negation and conjugation are resolved (a ``conj().imag`` view stores ``+x`` and means ``-x``); a zero
    tensor without storage (forward-mode AD makes them) is materialised; a tensor whose data cannot be read at
    all (inside a ``torch.func`` transform such as ``vmap``) is an :class:`InputError`. Contiguity is the
    caller's business.
    """
    tensor = tensor.resolve_conj().resolve_neg()
    try:
        address = tensor.data_ptr()
    except RuntimeError:
        raise InputError(
            f"{where}: {name} has no storage to read (is it inside a torch.func transform such as vmap?); "
            "expected a plain dense tensor"
        ) from None
    if address == 0 and tensor.numel():
        tensor = tensor.clone()
    return tensor


def _check_and_run(
    where: str,
    kind: Kind,
    rewards: Tensor,
    values: Tensor | None,
    next_values: Tensor | None,
    terminated: Tensor,
    truncated: Tensor,
    gamma: RealScalar | Tensor,
    lam: float,
    *,
    plus_values: bool = False,
) -> Tensor:
    """Check the arguments and run ``aₜ = dₜ + cₜ aₜ₊₁`` backwards (see :mod:`typedrl._recurrence` for d and c).

    ``plus_values`` adds ``values`` to the result in the compute dtype, before the one cast back (λ-returns).
    """
    # Fast path: one predicate for the common case (CPU, float32/64, matching shapes, bool flags, float gamma, no
    # lazy negation). It costs about half of the named checks below, which run only when it fails and say what
    # is wrong. Real tensors cannot carry the conjugate bit, and bool tensors cannot carry the negative bit.
    try:
        shape = rewards.shape
        dtype = rewards.dtype
        fast = (
            type(gamma) is float
            and 0.0 <= gamma <= 1.0
            and (dtype is torch.float32 or dtype is torch.float64)
            and rewards.is_cpu
            and len(shape) > 0
            and not rewards.is_neg()
            and terminated.dtype is torch.bool
            and truncated.dtype is torch.bool
            and terminated.shape == shape
            and truncated.shape == shape
            and terminated.is_cpu
            and truncated.is_cpu
            and (
                values is None
                or (values.dtype is dtype and values.shape == shape and values.is_cpu and not values.is_neg())
            )
            and (
                next_values is None
                or (
                    next_values.dtype is dtype
                    and next_values.shape == shape
                    and next_values.is_cpu
                    and not next_values.is_neg()
                )
            )
        )
    except (AttributeError, RuntimeError):  # not a tensor, or a nested one: the named checks below say which
        fast = False
    if fast:
        try:  # straight to the C kernel, without the Inputs record (see on_cpu)
            out = on_cpu(kind, rewards, values, next_values, terminated, truncated, gamma, lam)  # type: ignore[arg-type]
        except (RuntimeError, ValueError):  # a tensor whose memory cannot be read as is (sparse, no storage)
            pass
        else:
            return out.add_(values.detach()) if plus_values and values is not None else out

    _check_rewards(where, rewards)
    for name, tensor in (("values", values), ("next_values", next_values)):
        if tensor is not None:
            _check_like(where, name, tensor, rewards, flag=False)
    _check_like(where, "terminated", terminated, rewards, flag=True)
    _check_like(where, "truncated", truncated, rewards, flag=True)
    scalar_gamma, gammas = _check_gamma(where, gamma, rewards)

    dtype = rewards.dtype
    wide = _compute_dtype(dtype)  # float16 / bfloat16: compute in float32, hand back the caller's dtype once

    def prepared(name: str, tensor: Tensor) -> Tensor:
        return _readable(where, name, tensor.detach().to(wide))

    operands = Inputs(  # prepared in argument order, so the first unreadable argument is the one named
        kind,
        prepared("rewards", rewards),
        None if values is None else prepared("values", values),
        None if next_values is None else prepared("next_values", next_values),
        _readable(where, "terminated", terminated),
        _readable(where, "truncated", truncated),
        scalar_gamma if gammas is None else prepared("gamma", gammas),
        lam,
    )
    out = _recurrence.run(operands)
    if plus_values and operands.values is not None:
        out.add_(operands.values)
    return out.to(dtype)


@checked
def td_errors(
    rewards: Float[Tensor, " T *batch"],
    values: Float[Tensor, " T *batch"],
    next_values: Float[Tensor, " T *batch"],
    terminated: Bool[Tensor, " T *batch"],
    *,
    gamma: RealScalar | Float[Tensor, " T *batch"],
) -> Float[Tensor, " T *batch"]:
    """One-step TD errors, elementwise (differentiable in ``rewards``, ``values`` and ``next_values``).

    ``δₜ = rₜ + γₜ · (1 − terminatedₜ) · V'ₜ − Vₜ``

    ``next_values[t]`` is ``V(s_{t+1})`` for the observation step ``t`` really produced (at a done step, the
    episode's final observation). Truncation bootstraps; only termination stops it. ``V'ₜ`` is not read where
    ``terminatedₜ`` or ``γₜ = 0``: a NaN or inf there changes neither the result nor any gradient.

    Shapes: every tensor argument is ``[T]`` or ``[T, *batch]`` like ``rewards``, dense, with the rewards'
    dtype and device (flags ``torch.bool``); the result has the rewards' shape, dtype and device.

    Raises :class:`~typedrl.errors.InputError` for a wrong kind, layout, dtype, device or shape (while shape
    checks are on, jaxtyping's ``TypeCheckError`` comes first for shapes and dtypes), and
    :class:`~typedrl.errors.HyperparameterError` for a ``gamma``, ``γₜ`` or ``lam`` that is not a real number in
    ``[0, 1]``.
    """
    where = "td_errors"
    _check_rewards(where, rewards)
    _check_like(where, "values", values, rewards, flag=False)
    _check_like(where, "next_values", next_values, rewards, flag=False)
    _check_like(where, "terminated", terminated, rewards, flag=True)
    scalar_gamma, gammas = _check_gamma(where, gamma, rewards)
    dtype, wide = rewards.dtype, _compute_dtype(rewards.dtype)
    if gammas is None:  # a nonzero gamma stays nonzero in the compute dtype, as in the kernels
        discount: float | Tensor = 0.0 if scalar_gamma == 0.0 else max(scalar_gamma, smallest_subnormal(wide))
        skip = terminated if scalar_gamma != 0.0 else torch.ones_like(terminated)
    else:
        discount, skip = gammas, terminated | (gammas == 0)
    # Zeroing V' before the product (rather than the product after) keeps 0 · inf out of the gradients too.
    bootstrap = discount * torch.where(skip, 0.0, next_values.to(wide))
    return (rewards.to(wide) + bootstrap - values.to(wide)).to(dtype)


@checked
def gae(
    rewards: Float[Tensor, " T *batch"],
    values: Float[Tensor, " T *batch"],
    next_values: Float[Tensor, " T *batch"],
    terminated: Bool[Tensor, " T *batch"],
    truncated: Bool[Tensor, " T *batch"],
    *,
    gamma: RealScalar | Float[Tensor, " T *batch"],
    lam: RealScalar,
) -> Float[Tensor, " T *batch"]:
    """Generalized advantage estimation (Schulman et al. 2016, arXiv:1506.02438).

    - ``Aₜ = δₜ + γₜ · λ · (1 − doneₜ) · Aₜ₊₁``,  ``A_T = 0``
    - ``δₜ = rₜ + γₜ · (1 − terminatedₜ) · V'ₜ − Vₜ``,  ``doneₜ = terminatedₜ ∨ truncatedₜ``

    A truncated step bootstraps from ``next_values[t]`` and cuts the recursion; a terminated step does not
    bootstrap (terminated wins when both flags are set). The last step of a rollout that ends mid-episode is
    ``A_{T−1} = δ_{T−1}``. ``λ = 0`` gives the TD errors; ``λ = 1`` gives the bootstrapped discounted returns
    minus the values wherever the values agree with the next values (``values[t+1] == next_values[t]`` at every
    step that is not done). ``Aₜ₊₁`` is not read where ``doneₜ``, ``γₜ = 0`` or ``λ = 0``, so a NaN or inf never
    crosses an episode end.

    Compared with the paper: rewards are indexed by the step that produced them (``rₜ`` from ``env.step(aₜ)``),
    and bootstrap values come from ``next_values`` rather than from ``values[t+1]``, which is what lets
    truncation and autoreset be handled exactly.

    Shapes: every tensor argument is ``[T]`` or ``[T, *batch]`` like ``rewards``, dense, with the rewards'
    dtype and device (flags ``torch.bool``); the result has the rewards' shape, dtype and device.

    Raises :class:`~typedrl.errors.InputError` for a wrong kind, layout, dtype, device or shape (while shape
    checks are on, jaxtyping's ``TypeCheckError`` comes first for shapes and dtypes), and
    :class:`~typedrl.errors.HyperparameterError` for a ``gamma``, ``γₜ`` or ``lam`` that is not a real number in
    ``[0, 1]``.
    """
    if type(lam) is not float or not 0.0 <= lam <= 1.0:
        lam = unit_interval("gae", "lam", lam, error=HyperparameterError)
    return _check_and_run("gae", _GAE, rewards, values, next_values, terminated, truncated, gamma, lam)


@checked
def lambda_returns(
    rewards: Float[Tensor, " T *batch"],
    values: Float[Tensor, " T *batch"],
    next_values: Float[Tensor, " T *batch"],
    terminated: Bool[Tensor, " T *batch"],
    truncated: Bool[Tensor, " T *batch"],
    *,
    gamma: RealScalar | Float[Tensor, " T *batch"],
    lam: RealScalar,
) -> Float[Tensor, " T *batch"]:
    """λ-returns, the value targets: ``G^λₜ = Aₜ + Vₜ`` with ``Aₜ`` the unnormalized :func:`gae`.

    Where the values agree with the next values (``values[t+1] == next_values[t]`` at every step that is not
    done) this is the recursion
    ``G^λₜ = rₜ + γₜ(1 − terminatedₜ)[(1 − λ(1 − doneₜ)) V'ₜ + λ(1 − doneₜ) G^λₜ₊₁]``:
    ``λ = 0`` is the one-step TD target, ``λ = 1`` the bootstrapped discounted return. Half precision adds the
    values in float32 too, and rounds once.

    Shapes: every tensor argument is ``[T]`` or ``[T, *batch]`` like ``rewards``, dense, with the rewards'
    dtype and device (flags ``torch.bool``); the result has the rewards' shape, dtype and device.

    Raises :class:`~typedrl.errors.InputError` for a wrong kind, layout, dtype, device or shape (while shape
    checks are on, jaxtyping's ``TypeCheckError`` comes first for shapes and dtypes), and
    :class:`~typedrl.errors.HyperparameterError` for a ``gamma``, ``γₜ`` or ``lam`` that is not a real number in
    ``[0, 1]``.
    """
    lam = unit_interval("lambda_returns", "lam", lam, error=HyperparameterError)
    return _check_and_run(
        "lambda_returns",
        _GAE,
        rewards,
        values,
        next_values,
        terminated,
        truncated,
        gamma,
        lam,
        plus_values=True,
    )


@checked
def discounted_returns(
    rewards: Float[Tensor, " T *batch"],
    terminated: Bool[Tensor, " T *batch"],
    truncated: Bool[Tensor, " T *batch"],
    *,
    gamma: RealScalar | Float[Tensor, " T *batch"],
    next_values: Float[Tensor, " T *batch"] | None = None,
) -> Float[Tensor, " T *batch"]:
    """Discounted returns (reward-to-go), bootstrapped at truncations and at the end of the rollout.

    ``Gₜ = rₜ + γₜ · (1 − terminatedₜ) · (V'ₜ if doneₜ else Gₜ₊₁)``,  ``G_T = V'_{T−1}``

    The return continues with ``Gₜ₊₁`` while the episode goes on, bootstraps from ``next_values[t]`` at a
    truncation and at the last step, and stops at a termination. Without ``next_values`` (``V' ≡ 0``) this is
    the Monte Carlo reward-to-go inside the rollout, ``Gₜ = rₜ + γₜ (1 − doneₜ) Gₜ₊₁``: what REINFORCE on whole
    episodes uses (``γ = 1`` sums the rest of the episode's rewards). The continuation is not read where
    ``terminatedₜ`` or ``γₜ = 0``, and ``next_values[t]`` only where step ``t`` is truncated, or the last one,
    and not terminated.

    Shapes: every tensor argument is ``[T]`` or ``[T, *batch]`` like ``rewards``, dense, with the rewards'
    dtype and device (flags ``torch.bool``); the result has the rewards' shape, dtype and device.

    Raises :class:`~typedrl.errors.InputError` for a wrong kind, layout, dtype, device or shape (while shape
    checks are on, jaxtyping's ``TypeCheckError`` comes first for shapes and dtypes), and
    :class:`~typedrl.errors.HyperparameterError` for a ``gamma``, ``γₜ`` or ``lam`` that is not a real number in
    ``[0, 1]``.
    """
    return _check_and_run("discounted_returns", _RETURNS, rewards, None, next_values, terminated, truncated, gamma, 0.0)


@checked
def normalize_advantages(advantages: Float[Tensor, "*batch"]) -> Float[Tensor, "*batch"]:
    """Z-score advantages over **all** elements with the population standard deviation.

    ``Âᵢ = (Aᵢ − mean(A)) / std(A)``,  ``std(A) = sqrt(mean((A − mean(A))²))``.
    Where ``std(A) = 0`` (all advantages equal, or one element) the result is ``A − mean(A) = 0``; finite input
    never gives a NaN, at any magnitude. An empty tensor comes back empty. Any shape; the result has the input's
    shape, dtype and device (half precision is computed in float32 and rounded once). Differentiable.

    A NaN or ±inf advantage has no z-score, and would make every other one NaN, so it raises
    :class:`~typedrl.errors.InputError` naming the first, e.g.
    ``normalize_advantages: advantages[0] is nan; expected finite values`` (one device sync per call to find
    out). A non-floating, non-dense or meta tensor is an :class:`~typedrl.errors.InputError` too.
    """
    where = "normalize_advantages"
    if not isinstance(advantages, Tensor) or not advantages.is_floating_point():
        got = advantages.dtype if isinstance(advantages, Tensor) else type(advantages).__name__
        raise InputError(f"{where}: advantages is {got}; expected a floating tensor")
    _check_dense(where, "advantages", advantages)
    if advantages.is_meta:
        raise InputError(f"{where}: advantages is on meta; expected a device that holds values, such as cpu or cuda")
    if advantages.numel() == 0:
        return advantages.clone()
    dtype = advantages.dtype
    values = advantages.to(_compute_dtype(dtype))
    # Dividing by max|A| first makes the result independent of the scale: no overflow when squaring (a float16
    # advantage of 300 would), no underflow for tiny advantages, no overflow in the mean near the dtype's limit.
    scale = values.abs().amax()
    if not bool(scale.isfinite()):  # amax propagates NaN, so this finds NaN and ±inf alike
        index = first_true(~values.isfinite())
        raise InputError(f"{where}: advantages{list(index)} is {float(values[index])!r}; expected finite values")
    varies = values.amax() > values.amin()
    scaled = values / torch.where(varies, scale, torch.ones_like(scale))
    centred = scaled - scaled.mean()
    centred = centred - centred.mean()  # a second pass removes the rounding left in the first mean
    # All-equal input: A − mean(A) is exactly 0, though rounding in mean() can leave a tiny residue whose
    # "std" would blow it up to ±1. Dividing by 1 where the spread is 0 keeps the result finite and exact.
    centred = torch.where(varies, centred, torch.zeros_like(centred))
    std = centred.square().mean().sqrt()
    normalized = centred / torch.where(varies & (std > 0), std, torch.ones_like(std))
    return normalized.to(dtype)
