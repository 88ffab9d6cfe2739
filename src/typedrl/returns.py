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

:func:`n_step_returns` (each step's own window of up to ``n`` rewards) runs in a compiled kernel on the CPU, and
:func:`vtrace` computes its ratios and TD errors elementwise and its trace with the same recurrence kernel as GAE.
On CUDA, V-trace takes the Triton kernel where Triton is installed; n-step returns take a torch formulation with a
loop over the ``n − 1`` offsets inside a window (``n ≥ T`` is computed as the discounted returns it equals).

**Masked sequences and layouts.** :func:`gae`, :func:`lambda_returns`, :func:`discounted_returns`,
:func:`n_step_returns` and :func:`vtrace` take ``valid``, a bool mask shaped like the rewards (``None``: every step
is valid); an invalid step contributes nothing, its outputs are ``0``, and nothing it holds (NaN and inf included)
reaches a valid output. ``mask_mode="stop"`` (the default) makes every run of consecutive valid steps a rollout of
its own; ``"skip"`` makes the valid steps one rollout, so padding in the middle is transparent. ``time_axis``
names the time axis (``1`` or ``-1`` for the batch-major ``[B, T]`` of LLM-RL batches); the result comes back in
the caller's layout. Both are done with whole-tensor operations (a stable sort for ``"skip"``) around the same
kernels: no Python loop over time.

Shapes are checked by jaxtyping + beartype while :mod:`typedrl.checks` is on; dtype, device and size checks
that protect the kernels, and the ``gamma``/``lam`` range checks, always run.
"""

from collections.abc import Callable
from typing import Any, Literal, NamedTuple, TypeAlias

import numpy as np
import torch
from jaxtyping import Bool, Float
from torch import Tensor

from typedrl import _recurrence
from typedrl._recurrence import Inputs, Kind, on_cpu, smallest_subnormal
from typedrl._validate import first_true, integer, real, unit_interval, unit_interval_elements
from typedrl.checks import checked
from typedrl.errors import HyperparameterError, InputError

__all__ = [
    "MaskMode",
    "VTrace",
    "discounted_returns",
    "gae",
    "lambda_returns",
    "n_step_returns",
    "normalize_advantages",
    "td_errors",
    "vtrace",
]

# A hyperparameter: a Python float or int, or a numpy real scalar (np.float32(0.99)); bools are refused by the
# checks with their own message.
RealScalar: TypeAlias = float | np.floating[Any] | np.integer[Any]
IntScalar: TypeAlias = int | np.integer[Any]
MaskMode: TypeAlias = Literal["stop", "skip"]
"""What an invalid step does to the recursions: ``"stop"`` cuts them there (each run of valid steps is a rollout
of its own), ``"skip"`` passes over it (the valid steps are one rollout)."""
_MASK_MODES = ("stop", "skip")

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


# Masked sequences and layouts: whole-tensor operations around the kernels, no Python loop over time.

_Run: TypeAlias = Callable[[dict[str, Tensor], Tensor, Tensor, "RealScalar | Tensor"], tuple[Tensor, ...]]


def _sequences(
    where: str,
    numbers: dict[str, Tensor | None],
    terminated: Tensor,
    truncated: Tensor,
    gamma: RealScalar | Tensor,
    valid: Tensor | None,
    mask_mode: object,
    time_axis: object,
    run: _Run,
) -> tuple[Tensor, ...]:
    """Check one call's arguments, bring them to time-major rollouts without a mask, ``run`` them, and put the
    results back where the caller's steps were.

    ``numbers`` are the floating arguments in argument order, ``rewards`` first (``None`` for an absent optional
    one). ``run(numbers, terminated, truncated, gamma)`` computes the unmasked, time-major function (with its own
    checks, which pass again) and returns its outputs in the caller's dtype; the ``numbers`` it gets hold the
    arguments given (an absent one is left out).

    The mask becomes flags, so every kernel handles it as it is:

    - ``"skip"``: a stable sort moves each column's valid steps to its front, in order (so they are neighbours),
      and the invalid ones behind them; the results are scattered back through the same permutation.
    - then, for both modes: the last valid step before an invalid one is marked truncated, which is exactly how
      the last step of a rollout is treated (it bootstraps from its own next value, and nothing after it is read):
      that is what keeps every valid output from reading an invalid step. An invalid step is marked terminated
      and its numbers replaced by ``0``, so that it computes ``0`` from nothing it holds (and the kernels' fast
      loops never meet its NaN); its outputs are set to ``0`` once more at the end.
    """
    rewards = numbers["rewards"]
    if not isinstance(rewards, Tensor):
        raise InputError(f"{where}: rewards is a {type(rewards).__name__}; expected a torch.Tensor")
    _check_rewards(where, rewards)
    for name, tensor in numbers.items():
        if name != "rewards" and tensor is not None:
            _check_like(where, name, tensor, rewards, flag=False)
    _check_like(where, "terminated", terminated, rewards, flag=True)
    _check_like(where, "truncated", truncated, rewards, flag=True)
    _check_gamma(where, gamma, rewards)
    if valid is not None:
        _check_like(where, "valid", valid, rewards, flag=True)
    if not isinstance(mask_mode, str) or mask_mode not in _MASK_MODES:
        raise HyperparameterError(f"{where}: mask_mode is {mask_mode!r}; expected 'stop' or 'skip'")
    ndim = rewards.dim()
    axis = integer(where, "time_axis", time_axis, error=InputError, minimum=-ndim, maximum=ndim - 1) % ndim

    def time_major(tensor: Tensor) -> Tensor:
        return tensor.detach().movedim(axis, 0) if axis else tensor.detach()

    with torch.no_grad():
        moved = {name: time_major(tensor) for name, tensor in numbers.items() if tensor is not None}
        terminated, truncated = time_major(terminated), time_major(truncated)
        if isinstance(gamma, Tensor):
            gamma = time_major(gamma)
        order: Tensor | None = None
        if valid is not None:
            valid = time_major(valid)
            if mask_mode == "skip":
                order = torch.sort((~valid).to(torch.uint8), dim=0, stable=True).indices
                moved = {name: tensor.gather(0, order) for name, tensor in moved.items()}
                terminated, truncated = terminated.gather(0, order), truncated.gather(0, order)
                valid = valid.gather(0, order)
                if isinstance(gamma, Tensor):
                    gamma = gamma.gather(0, order)
            ends = valid & ~torch.cat([valid[1:], torch.ones_like(valid[:1])])
            truncated = truncated | ends
            terminated = terminated | ~valid
            moved = {name: torch.where(valid, tensor, tensor.new_zeros(())) for name, tensor in moved.items()}
        outputs = run(moved, terminated, truncated, gamma)

        def restored(out: Tensor) -> Tensor:
            if valid is not None:
                out = out.masked_fill(~valid, 0.0)
                if order is not None:
                    out = torch.empty_like(out).scatter_(0, order, out)
            return out.movedim(0, axis).contiguous() if axis else out

        return tuple(restored(out) for out in outputs)


def _kept(number: float, dtype: torch.dtype) -> float:
    """A nonzero hyperparameter kept nonzero in ``dtype`` (at its smallest positive number); zero stays zero."""
    return 0.0 if number == 0.0 else max(number, smallest_subnormal(dtype))


def _n_step(
    where: str,
    rewards: Tensor,
    next_values: Tensor,
    terminated: Tensor,
    truncated: Tensor,
    gamma: RealScalar | Tensor,
    n: int,
) -> Tensor:
    """n-step returns of checked, time-major, unmasked arguments, in the rewards' dtype."""
    if n >= rewards.shape[0]:  # every window reaches the first done step or the rollout's end
        return _check_and_run(where, _RETURNS, rewards, None, next_values, terminated, truncated, gamma, 0.0)
    scalar_gamma, gammas = _check_gamma(where, gamma, rewards)
    dtype = rewards.dtype
    wide = _compute_dtype(dtype)

    def prepared(name: str, tensor: Tensor) -> Tensor:
        return _readable(where, name, tensor.detach().to(wide))

    out = _recurrence.n_step(
        prepared("rewards", rewards),
        prepared("next_values", next_values),
        _readable(where, "terminated", terminated),
        _readable(where, "truncated", truncated),
        scalar_gamma if gammas is None else prepared("gamma", gammas),
        n,
    )
    return out.to(dtype)


def _vtrace(
    where: str,
    behaviour_log_probs: Tensor,
    target_log_probs: Tensor,
    rewards: Tensor,
    values: Tensor,
    next_values: Tensor,
    terminated: Tensor,
    truncated: Tensor,
    gamma: RealScalar | Tensor,
    rho_bar: float,
    c_bar: float,
) -> tuple[Tensor, Tensor]:
    """V-trace of checked, time-major, unmasked arguments: ``(vs, pg_advantages)`` in the rewards' dtype."""
    scalar_gamma, gammas = _check_gamma(where, gamma, rewards)
    dtype = rewards.dtype
    wide = _compute_dtype(dtype)
    tiny = smallest_subnormal(wide)
    zero = torch.zeros((), dtype=wide, device=rewards.device)

    def prepared(tensor: Tensor) -> Tensor:
        return tensor.detach().to(wide)

    behaviour, target, r, v, nv = map(prepared, (behaviour_log_probs, target_log_probs, rewards, values, next_values))
    difference = target - behaviour
    ratio = difference.exp()
    # π/μ is zero only where π is: a ratio that underflows from a finite difference is kept at the smallest number.
    ratio = torch.where((ratio == 0) & (difference > -torch.inf), tiny, ratio)
    rho = ratio.clamp(max=_kept(rho_bar, wide))  # clamp keeps a NaN ratio NaN
    c = ratio.clamp(max=_kept(c_bar, wide))
    done = terminated | truncated
    g: float | Tensor
    if gammas is None:
        g = _kept(scalar_gamma, wide)
        skip = terminated if g != 0.0 else torch.ones_like(terminated)
        cut = done | (c == 0) if g != 0.0 else torch.ones_like(done)
    else:
        g = gammas
        skip = terminated | (g == 0)
        cut = done | (g == 0) | (c == 0)
    # Nothing follows the last step: its trace is cut as after a done step (an infinite c must not meet a_T = 0).
    cut[-1:] = True

    def corrected(following: Tensor) -> Tensor:
        """``ρₜ (rₜ + γₜ (1 − terminatedₜ) followingₜ − Vₜ)``, selecting ``0`` where ``ρₜ = 0`` and leaving the
        bootstrap out where it is cut (never multiplying a zero into a NaN or inf)."""
        target_value = r + g * torch.where(skip, zero, following)
        return torch.where(rho == 0, zero, rho * (target_value - v))

    # vₜ − Vₜ = ρₜ δₜ + γₜ cₜ (1 − doneₜ)(vₜ₊₁ − Vₜ₊₁): the linear recurrence, with γₜ·cₜ kept nonzero where both are.
    coefficient = torch.where(cut, zero, (g * c).clamp(min=tiny))
    advantages = _recurrence.linear(corrected(nv), coefficient)
    vs = advantages + v
    following = torch.where(done, nv, torch.cat([vs[1:], nv[-1:]]))
    return vs.to(dtype), corrected(following).to(dtype)


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
    valid: Bool[Tensor, " T *batch"] | None = None,
    mask_mode: MaskMode = "stop",
    time_axis: int = 0,
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

    **Masked sequences** (``valid``, a bool tensor shaped like the rewards; ``None`` means every step is valid):
    an invalid step contributes nothing, its output is ``0``, and nothing it holds (NaN and inf included) reaches
    a valid output. ``mask_mode="stop"`` (the default) cuts the recursion at an invalid step: every run of
    consecutive valid steps is a rollout of its own, and the valid step before an invalid one is treated as the
    last step of a rollout (it bootstraps from its own ``next_values``). ``mask_mode="skip"`` passes over invalid
    steps: the valid steps are one rollout, and the valid steps on either side of a gap are neighbours (the
    earlier one's ``next_values`` should then be the value of the later one's observation). The two agree on
    padding at either end of a sequence (the right padding of LLM-RL batches). Per-step discounts are
    hyperparameters, range-checked at every step, valid or not.

    **Layout** (``time_axis``): the axis that is time, ``0`` by default (time-major ``[T, *batch]``); ``1`` or
    ``-1`` takes the batch-major ``[B, T]`` of LLM-RL without the caller transposing. Every tensor argument has
    that layout, and so has the result (a contiguous tensor). Masks and layouts are whole-tensor operations
    around the same kernels (a stable sort per call for ``"skip"``), with no Python loop over time.

    Shapes: every tensor argument is ``[T]`` or ``[T, *batch]`` like ``rewards`` (time at ``time_axis``), dense,
    with the rewards' dtype and device (flags and ``valid`` ``torch.bool``); the result has the rewards' shape,
    dtype and device.

    Raises :class:`~typedrl.errors.InputError` for a wrong kind, layout, dtype, device or shape (``valid`` too;
    while shape checks are on, jaxtyping's ``TypeCheckError`` comes first for shapes and dtypes) or a
    ``time_axis`` outside the rewards' dimensions, and :class:`~typedrl.errors.HyperparameterError` for a
    ``gamma``, ``γₜ`` or ``lam`` that is not a real number in ``[0, 1]``, or a ``mask_mode`` other than ``"stop"``
    or ``"skip"``.
    """
    if type(lam) is not float or not 0.0 <= lam <= 1.0:
        lam = unit_interval("gae", "lam", lam, error=HyperparameterError)
    if valid is None and type(time_axis) is int and time_axis == 0 and mask_mode == "stop":
        return _check_and_run("gae", _GAE, rewards, values, next_values, terminated, truncated, gamma, lam)
    (out,) = _sequences(
        "gae",
        {"rewards": rewards, "values": values, "next_values": next_values},
        terminated,
        truncated,
        gamma,
        valid,
        mask_mode,
        time_axis,
        lambda x, te, tr, g: (
            _check_and_run("gae", _GAE, x["rewards"], x["values"], x["next_values"], te, tr, g, lam),
        ),
    )
    return out


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
    valid: Bool[Tensor, " T *batch"] | None = None,
    mask_mode: MaskMode = "stop",
    time_axis: int = 0,
) -> Float[Tensor, " T *batch"]:
    """λ-returns, the value targets: ``G^λₜ = Aₜ + Vₜ`` with ``Aₜ`` the unnormalized :func:`gae`.

    Where the values agree with the next values (``values[t+1] == next_values[t]`` at every step that is not
    done) this is the recursion
    ``G^λₜ = rₜ + γₜ(1 − terminatedₜ)[(1 − λ(1 − doneₜ)) V'ₜ + λ(1 − doneₜ) G^λₜ₊₁]``:
    ``λ = 0`` is the one-step TD target, ``λ = 1`` the bootstrapped discounted return. Half precision adds the
    values in float32 too, and rounds once.

    ``valid``, ``mask_mode`` and ``time_axis``: as in :func:`gae` (``0`` at invalid steps).

    Shapes: every tensor argument is ``[T]`` or ``[T, *batch]`` like ``rewards`` (time at ``time_axis``), dense,
    with the rewards' dtype and device (flags and ``valid`` ``torch.bool``); the result has the rewards' shape,
    dtype and device.

    Raises :class:`~typedrl.errors.InputError` for a wrong kind, layout, dtype, device or shape (``valid`` too;
    while shape checks are on, jaxtyping's ``TypeCheckError`` comes first for shapes and dtypes) or a
    ``time_axis`` outside the rewards' dimensions, and :class:`~typedrl.errors.HyperparameterError` for a
    ``gamma``, ``γₜ`` or ``lam`` that is not a real number in ``[0, 1]``, or a ``mask_mode`` other than ``"stop"``
    or ``"skip"``.
    """
    where = "lambda_returns"
    lam = unit_interval(where, "lam", lam, error=HyperparameterError)
    if valid is None and type(time_axis) is int and time_axis == 0 and mask_mode == "stop":
        return _check_and_run(
            where, _GAE, rewards, values, next_values, terminated, truncated, gamma, lam, plus_values=True
        )
    (out,) = _sequences(
        where,
        {"rewards": rewards, "values": values, "next_values": next_values},
        terminated,
        truncated,
        gamma,
        valid,
        mask_mode,
        time_axis,
        lambda x, te, tr, g: (
            _check_and_run(where, _GAE, x["rewards"], x["values"], x["next_values"], te, tr, g, lam, plus_values=True),
        ),
    )
    return out


@checked
def discounted_returns(
    rewards: Float[Tensor, " T *batch"],
    terminated: Bool[Tensor, " T *batch"],
    truncated: Bool[Tensor, " T *batch"],
    *,
    gamma: RealScalar | Float[Tensor, " T *batch"],
    next_values: Float[Tensor, " T *batch"] | None = None,
    valid: Bool[Tensor, " T *batch"] | None = None,
    mask_mode: MaskMode = "stop",
    time_axis: int = 0,
) -> Float[Tensor, " T *batch"]:
    """Discounted returns (reward-to-go), bootstrapped at truncations and at the end of the rollout.

    ``Gₜ = rₜ + γₜ · (1 − terminatedₜ) · (V'ₜ if doneₜ else Gₜ₊₁)``,  ``G_T = V'_{T−1}``

    The return continues with ``Gₜ₊₁`` while the episode goes on, bootstraps from ``next_values[t]`` at a
    truncation and at the last step, and stops at a termination. Without ``next_values`` (``V' ≡ 0``) this is
    the Monte Carlo reward-to-go inside the rollout, ``Gₜ = rₜ + γₜ (1 − doneₜ) Gₜ₊₁``: what REINFORCE on whole
    episodes uses (``γ = 1`` sums the rest of the episode's rewards). The continuation is not read where
    ``terminatedₜ`` or ``γₜ = 0``, and ``next_values[t]`` only where step ``t`` is truncated, or the last one,
    and not terminated.

    ``valid``, ``mask_mode`` and ``time_axis``: as in :func:`gae` (``0`` at invalid steps).

    Shapes: every tensor argument is ``[T]`` or ``[T, *batch]`` like ``rewards`` (time at ``time_axis``), dense,
    with the rewards' dtype and device (flags and ``valid`` ``torch.bool``); the result has the rewards' shape,
    dtype and device.

    Raises :class:`~typedrl.errors.InputError` for a wrong kind, layout, dtype, device or shape (``valid`` too;
    while shape checks are on, jaxtyping's ``TypeCheckError`` comes first for shapes and dtypes) or a
    ``time_axis`` outside the rewards' dimensions, and :class:`~typedrl.errors.HyperparameterError` for a
    ``gamma``, ``γₜ`` or ``lam`` that is not a real number in ``[0, 1]``, or a ``mask_mode`` other than ``"stop"``
    or ``"skip"``.
    """
    where = "discounted_returns"
    if valid is None and type(time_axis) is int and time_axis == 0 and mask_mode == "stop":
        return _check_and_run(where, _RETURNS, rewards, None, next_values, terminated, truncated, gamma, 0.0)
    (out,) = _sequences(
        where,
        {"rewards": rewards, "next_values": next_values},
        terminated,
        truncated,
        gamma,
        valid,
        mask_mode,
        time_axis,
        lambda x, te, tr, g: (
            _check_and_run(where, _RETURNS, x["rewards"], None, x.get("next_values"), te, tr, g, 0.0),
        ),
    )
    return out


@checked
def n_step_returns(
    rewards: Float[Tensor, " T *batch"],
    next_values: Float[Tensor, " T *batch"],
    terminated: Bool[Tensor, " T *batch"],
    truncated: Bool[Tensor, " T *batch"],
    *,
    gamma: RealScalar | Float[Tensor, " T *batch"],
    n: IntScalar,
    valid: Bool[Tensor, " T *batch"] | None = None,
    mask_mode: MaskMode = "stop",
    time_axis: int = 0,
) -> Float[Tensor, " T *batch"]:
    """n-step bootstrapped returns: up to ``n`` rewards, then the discounted value of where the window ended.

    ``G⁽ⁿ⁾ₜ = Σ_{k<m} (Π_{j<k} γₜ₊ⱼ) rₜ₊ₖ + (Π_{j<m} γₜ₊ⱼ) · Bₜ``

    The window ``t … e`` (``m = e − t + 1`` steps) stops at the first done step ``e ≤ t + n − 1``, at
    ``e = t + n − 1``, or at the rollout's last step ``e = T − 1``, whichever comes first. ``Bₜ = next_values[e]``
    unless step ``e`` is terminated (then ``0``, and ``next_values[e]`` is not read): a truncation inside the
    window, a full window and the rollout's end all bootstrap from the value of the observation step ``e``
    produced. ``n = 1`` is the one-step TD target ``rₜ + γₜ (1 − terminatedₜ) V'ₜ``; ``n ≥ T`` is
    :func:`discounted_returns` with ``next_values``, and is computed as it. Per-step ``γₜ`` as in :func:`gae`.
    A zero ``γₖ`` multiplies nothing: the window's later rewards and its bootstrap are not read.

    On the CPU, a compiled kernel (cost ``T · N · min(n, episode length)``); on other devices a torch
    formulation with a loop over the ``n − 1`` offsets within a window. A target: no gradient flows through it.

    ``valid``, ``mask_mode``, ``time_axis``: as in :func:`gae`. With ``mask_mode="skip"`` a window counts valid
    steps only; with ``"stop"`` it ends at the last valid step before an invalid one and bootstraps from that
    step's ``next_values``.

    Raises :class:`~typedrl.errors.InputError` for a wrong kind, layout, dtype, device or shape (``valid`` too)
    or a ``time_axis`` outside the rewards' dimensions, and :class:`~typedrl.errors.HyperparameterError` for a
    ``gamma`` or ``γₜ`` outside ``[0, 1]``, an ``n`` that is not an int ``≥ 1`` (a bool is not), or a ``mask_mode``
    other than ``"stop"`` or ``"skip"``.
    """
    where = "n_step_returns"
    n = integer(where, "n", n, error=HyperparameterError, minimum=1)
    (out,) = _sequences(
        where,
        {"rewards": rewards, "next_values": next_values},
        terminated,
        truncated,
        gamma,
        valid,
        mask_mode,
        time_axis,
        lambda x, te, tr, g: (_n_step(where, x["rewards"], x["next_values"], te, tr, g, n),),
    )
    return out


class VTrace(NamedTuple):
    """What :func:`vtrace` returns: two tensors shaped like the rewards, in their dtype and on their device."""

    vs: Tensor
    """``vₜ``, the V-trace value targets."""
    pg_advantages: Tensor
    """``ρₜ (rₜ + γₜ (1 − terminatedₜ) v'ₜ − Vₜ)``, the advantages of the policy-gradient term."""


@checked
def vtrace(
    behaviour_log_probs: Float[Tensor, " T *batch"],
    target_log_probs: Float[Tensor, " T *batch"],
    rewards: Float[Tensor, " T *batch"],
    values: Float[Tensor, " T *batch"],
    next_values: Float[Tensor, " T *batch"],
    terminated: Bool[Tensor, " T *batch"],
    truncated: Bool[Tensor, " T *batch"],
    *,
    gamma: RealScalar | Float[Tensor, " T *batch"],
    rho_bar: RealScalar = 1.0,
    c_bar: RealScalar = 1.0,
    valid: Bool[Tensor, " T *batch"] | None = None,
    mask_mode: MaskMode = "stop",
    time_axis: int = 0,
) -> VTrace:
    """V-trace targets and policy-gradient advantages (Espeholt et al. 2018, arXiv:1802.01561, eq. 1 and §4.2).

    ``behaviour_log_probs[t] = log μ(aₜ|sₜ)`` (the policy that acted), ``target_log_probs[t] = log π(aₜ|sₜ)``
    (the policy being learned); ``ratioₜ = π/μ = exp(target − behaviour)``, ``ρₜ = min(ρ̄, ratioₜ)``,
    ``cₜ = min(c̄, ratioₜ)``, λ = 1:

    - ``δₜ = ρₜ (rₜ + γₜ (1 − terminatedₜ) V'ₜ − Vₜ)``
    - ``vₜ = Vₜ + δₜ + γₜ cₜ (1 − doneₜ) (vₜ₊₁ − Vₜ₊₁)``,  ``v_T − V_T = 0``
    - ``pg_advantagesₜ = ρₜ (rₜ + γₜ (1 − terminatedₜ) v'ₜ − Vₜ)``, where ``v'ₜ = vₜ₊₁`` if step ``t`` is neither
      done nor the last, else ``V'ₜ = next_values[t]``.

    That is GAE with ``λ = cₜ`` per step and TD errors weighted by ``ρₜ``, cut at every done step as GAE is: a
    truncation bootstraps from ``next_values[t]``, a termination does not. With equal log-probabilities and
    ``ρ̄, c̄ ≥ 1`` (every ``ρₜ = cₜ = 1``), ``vs`` is :func:`lambda_returns` with ``lam=1`` and
    ``pg_advantages`` is :func:`td_errors` with ``v'`` in place of ``next_values``, which is ``gae(lam=1)`` where
    the values are consistent (``values[t+1] == next_values[t]`` at every step that is not done).

    A ratio is NaN where its log-probabilities make it so (both ``−inf``: NaN stays visible), zero only where
    ``target_log_probs`` is ``−inf`` (one that underflows from a finite difference is kept at the dtype's smallest
    positive number), and ``inf`` where only ``behaviour_log_probs`` is ``−inf``. A zero coefficient multiplies
    nothing: where ``ρₜ = 0`` both outputs' correction at ``t`` is ``0`` without reading the step's reward or
    values; where ``γₜ = 0``, ``cₜ = 0`` or ``doneₜ``, ``vₜ₊₁`` is not read, nor at the last step (nothing follows
    it, so an infinite ``c_{T−1}`` never meets ``v_T − V_T = 0``).

    **Compared with rlax** (``rlax.vtrace_td_error_and_advantage(v_tm1, v_t, r_t, discount_t, rho_tm1,
    lambda_=1.0, clip_rho_threshold, clip_pg_rho_threshold)``): ``rho_tm1`` is the ratio itself, ``v_tm1`` are
    our ``values``, and ``v_t`` is the values array of ``T + 1`` entries shifted by one, so its last entry (index
    ``T`` of the unshifted array) is the bootstrap value; typedrl's ``next_values`` stands where ``v_t`` does, one
    per step, so that a done step's entry is the value of the episode's **final** observation
    (docs/conventions.md). rlax's ``discount_t = γₜ (1 − doneₜ)`` cuts the bootstrap and the trace together, so it
    cannot bootstrap a truncation; typedrl cuts the trace at both flags and drops the bootstrap only at a
    termination. rlax fixes ``c̄ = 1`` (``c = min(1, ratio) · λ``) and clips the policy-gradient ratio with its own
    ``clip_pg_rho_threshold``; typedrl takes ``c_bar`` and uses ``rho_bar`` for both ``ρ``. With no truncation,
    ``c̄ = 1`` and ``clip_pg_rho_threshold = clip_rho_threshold = ρ̄``, rlax's ``errors + v_tm1`` is ``vs`` and
    its ``pg_advantage`` is ``pg_advantages``.

    ``valid``, ``mask_mode``, ``time_axis``: as in :func:`gae`; both outputs are ``0`` at invalid steps. Every
    tensor argument has the rewards' shape, dtype and device (flags ``torch.bool``). Targets: no gradient flows
    through either output (``vs`` is a regression target, ``pg_advantages`` weights ``log π``).

    Raises :class:`~typedrl.errors.InputError` for a wrong kind, layout, dtype, device or shape, or a
    ``time_axis`` outside the rewards' dimensions, and :class:`~typedrl.errors.HyperparameterError` for a
    ``gamma`` or ``γₜ`` outside ``[0, 1]``, a ``rho_bar`` or ``c_bar`` that is not a real number ``≥ 0``
    (``inf`` is allowed: no truncation), or a ``mask_mode`` other than ``"stop"`` or ``"skip"``.
    """
    where = "vtrace"
    rho_bar = real(where, "rho_bar", rho_bar, error=HyperparameterError, low=0.0, finite=False)
    c_bar = real(where, "c_bar", c_bar, error=HyperparameterError, low=0.0, finite=False)
    vs, pg_advantages = _sequences(
        where,
        {
            "rewards": rewards,
            "behaviour_log_probs": behaviour_log_probs,
            "target_log_probs": target_log_probs,
            "values": values,
            "next_values": next_values,
        },
        terminated,
        truncated,
        gamma,
        valid,
        mask_mode,
        time_axis,
        lambda x, te, tr, g: _vtrace(
            where,
            x["behaviour_log_probs"],
            x["target_log_probs"],
            x["rewards"],
            x["values"],
            x["next_values"],
            te,
            tr,
            g,
            rho_bar,
            c_bar,
        ),
    )
    return VTrace(vs, pg_advantages)


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
