"""Return and advantage math on torch tensors: the fast layer, equal to :mod:`typedrl.spec` by property test.

All functions are **time-major**: the first axis is time ``T``; any trailing axes (``N`` environments, or more)
are independent trajectories. Flags are ``bool`` tensors; ``gamma`` is a float in ``[0, 1]`` or a tensor of
per-step discounts shaped like ``rewards``; hyperparameters are keyword-only. float32 and float64 keep their
dtype (float16 and bfloat16 are computed in float32 and cast back), and results stay on the inputs' device.

GAE and the returns are backward linear recurrences ``aₜ = dₜ + cₜ · aₜ₊₁``. On the CPU they run in a small
compiled kernel (``typedrl._kernels``: one pass, no Python loop over time); on CUDA in one Triton kernel launch
per call when Triton is available, else a torch loop over time. They are targets, not differentiable
functions: no gradient flows through :func:`gae`, :func:`lambda_returns` or :func:`discounted_returns`.

Shapes are checked by jaxtyping + beartype while :mod:`typedrl.checks` is on; dtype, device and size checks
that protect the kernels, and the ``gamma``/``lam`` range checks, always run.
"""

import torch
from jaxtyping import Bool, Float
from torch import Tensor

from typedrl import _kernels
from typedrl.checks import checked
from typedrl.errors import HyperparameterError, InputError

__all__ = ["discounted_returns", "gae", "lambda_returns", "normalize_advantages", "td_errors"]

_KIND_GAE = 0
_KIND_RETURNS = 1
_KERNEL_DTYPES = (torch.float32, torch.float64)
# Below this many elements the kernel runs with the GIL held: releasing it costs more than it saves.
_GIL_FREE_MIN = 1 << 14


def _check_unit(where: str, name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise HyperparameterError(f"{where}: {name} is {value!r}; expected a float in [0, 1]")
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise HyperparameterError(f"{where}: {name} is {value!r}; expected a float in [0, 1]")
    return float(value)


def _check_like(where: str, name: str, tensor: Tensor, rewards: Tensor, *, flag: bool) -> None:
    """The always-on checks: right kind, dtype family, device and shape (they protect the kernels)."""
    if not isinstance(tensor, Tensor):
        raise InputError(f"{where}: {name} is a {type(tensor).__name__}; expected a torch.Tensor")
    if flag:
        if tensor.dtype is not torch.bool:
            raise InputError(f"{where}: {name} has dtype {tensor.dtype}; expected torch.bool")
    elif tensor.dtype is not rewards.dtype:
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
    if not rewards.is_floating_point():
        raise InputError(f"{where}: rewards has dtype {rewards.dtype}; expected a floating dtype")
    if rewards.dim() == 0:
        raise InputError(f"{where}: rewards is a scalar; expected shape [T] or [T, *batch]")


def _check_gamma(where: str, gamma: float | Tensor, rewards: Tensor) -> tuple[float, Tensor | None]:
    """Return ``(scalar_gamma, per_step_gammas_or_None)`` after checking range, dtype, device and shape."""
    if not isinstance(gamma, Tensor):
        return _check_unit(where, "gamma", gamma), None
    if not gamma.is_floating_point():
        raise InputError(f"{where}: gamma has dtype {gamma.dtype}; expected a floating dtype")
    gamma = gamma.to(rewards.dtype)
    _check_like(where, "gamma", gamma, rewards, flag=False)
    outside = ~((gamma >= 0) & (gamma <= 1))  # NaN is outside
    if bool(outside.any()):
        index = tuple(int(i) for i in torch.nonzero(outside)[0])
        raise HyperparameterError(
            f"{where}: gamma{list(index)} is {float(gamma[index])!r}; expected every discount in [0, 1]"
        )
    return 0.0, gamma


def _recurrence(
    where: str,
    kind: int,
    rewards: Tensor,
    values: Tensor | None,
    next_values: Tensor | None,
    terminated: Tensor,
    truncated: Tensor,
    gamma: float | Tensor,
    lam: float,
) -> Tensor:
    """Check the arguments and run ``aₜ = dₜ + cₜ aₜ₊₁`` backwards (see typedrl/_kernels.c for d and c)."""
    # Fast path: one predicate for the common case (CPU, float32/64, matching shapes, bool flags, float gamma).
    # It costs about half of the named checks below, which run only when it fails and say what is wrong.
    try:
        shape = rewards.shape
        dtype = rewards.dtype
        fast = (
            type(gamma) is float
            and 0.0 <= gamma <= 1.0
            and (dtype is torch.float32 or dtype is torch.float64)
            and rewards.is_cpu
            and len(shape) > 0
            and terminated.dtype is torch.bool
            and truncated.dtype is torch.bool
            and terminated.shape == shape
            and truncated.shape == shape
            and terminated.is_cpu
            and truncated.is_cpu
            and (values is None or (values.dtype is dtype and values.shape == shape and values.is_cpu))
            and (
                next_values is None
                or (next_values.dtype is dtype and next_values.shape == shape and next_values.is_cpu)
            )
        )
    except AttributeError:  # not a tensor: the named checks below say which argument
        fast = False
    if fast:
        return _cpu_recurrence(kind, rewards, values, next_values, terminated, truncated, gamma, None, lam)  # type: ignore[arg-type]

    _check_rewards(where, rewards)
    for name, tensor in (("values", values), ("next_values", next_values)):
        if tensor is not None:
            _check_like(where, name, tensor, rewards, flag=False)
    _check_like(where, "terminated", terminated, rewards, flag=True)
    _check_like(where, "truncated", truncated, rewards, flag=True)
    scalar_gamma, gammas = _check_gamma(where, gamma, rewards)

    dtype = rewards.dtype
    if dtype not in _KERNEL_DTYPES:  # float16 / bfloat16: compute in float32, hand back the caller's dtype
        wide = _recurrence(
            where,
            kind,
            rewards.float(),
            None if values is None else values.float(),
            None if next_values is None else next_values.float(),
            terminated,
            truncated,
            scalar_gamma if gammas is None else gammas.float(),
            lam,
        )
        return wide.to(dtype)

    if rewards.is_cpu:  # the kernel writes a fresh tensor that autograd never sees: no no_grad() needed (~1 µs)
        return _cpu_recurrence(kind, rewards, values, next_values, terminated, truncated, scalar_gamma, gammas, lam)
    from typedrl import _device

    with torch.no_grad():
        return _device.recurrence(kind, rewards, values, next_values, terminated, truncated, scalar_gamma, gammas, lam)


def _cpu_recurrence(
    kind: int,
    rewards: Tensor,
    values: Tensor | None,
    next_values: Tensor | None,
    terminated: Tensor,
    truncated: Tensor,
    scalar_gamma: float,
    gammas: Tensor | None,
    lam: float,
) -> Tensor:
    rewards = rewards.contiguous()
    values = None if values is None else values.contiguous()
    next_values = None if next_values is None else next_values.contiguous()
    terminated = terminated.contiguous()
    truncated = truncated.contiguous()
    gammas = None if gammas is None else gammas.contiguous()
    out = torch.empty_like(rewards)  # rewards is contiguous here, so out is too
    horizon = rewards.shape[0]
    _kernels.recurrence(
        kind,
        rewards.dtype is torch.float64,
        out.data_ptr(),
        rewards.data_ptr(),
        None if values is None else values.data_ptr(),
        None if next_values is None else next_values.data_ptr(),
        terminated.data_ptr(),
        truncated.data_ptr(),
        None if gammas is None else gammas.data_ptr(),
        scalar_gamma,
        lam,
        horizon,
        rewards.numel() // horizon if horizon else 0,
    )
    return out


@checked
def td_errors(
    rewards: Float[Tensor, " T *batch"],
    values: Float[Tensor, " T *batch"],
    next_values: Float[Tensor, " T *batch"],
    terminated: Bool[Tensor, " T *batch"],
    *,
    gamma: float | Float[Tensor, " T *batch"],
) -> Float[Tensor, " T *batch"]:
    """One-step TD errors, elementwise (differentiable in ``rewards``, ``values`` and ``next_values``).

    ``δₜ = rₜ + γₜ · (1 − terminatedₜ) · V'ₜ − Vₜ``

    ``next_values[t]`` is ``V(s_{t+1})`` for the observation step ``t`` really produced (at a done step, the
    episode's final observation). Truncation bootstraps; only termination stops it.
    """
    where = "td_errors"
    _check_rewards(where, rewards)
    _check_like(where, "values", values, rewards, flag=False)
    _check_like(where, "next_values", next_values, rewards, flag=False)
    _check_like(where, "terminated", terminated, rewards, flag=True)
    scalar_gamma, gammas = _check_gamma(where, gamma, rewards)
    discount = scalar_gamma if gammas is None else gammas
    bootstrap = torch.where(terminated, torch.zeros_like(next_values), next_values)
    return rewards + discount * bootstrap - values


@checked
def gae(
    rewards: Float[Tensor, " T *batch"],
    values: Float[Tensor, " T *batch"],
    next_values: Float[Tensor, " T *batch"],
    terminated: Bool[Tensor, " T *batch"],
    truncated: Bool[Tensor, " T *batch"],
    *,
    gamma: float | Float[Tensor, " T *batch"],
    lam: float,
) -> Float[Tensor, " T *batch"]:
    """Generalized advantage estimation (Schulman et al. 2016, arXiv:1506.02438).

    - ``Aₜ = δₜ + γₜ · λ · (1 − doneₜ) · Aₜ₊₁``,  ``A_T = 0``
    - ``δₜ = rₜ + γₜ · (1 − terminatedₜ) · V'ₜ − Vₜ``,  ``doneₜ = terminatedₜ ∨ truncatedₜ``

    A truncated step bootstraps from ``next_values[t]`` and cuts the recursion; a terminated step does not
    bootstrap (terminated wins when both flags are set). The last step of a rollout that ends mid-episode is
    ``A_{T−1} = δ_{T−1}``. ``λ = 0`` gives the TD errors; ``λ = 1`` gives the bootstrapped discounted returns
    minus the values wherever the values agree with the next values (``values[t+1] == next_values[t]`` at every
    step that is not done).

    Compared with the paper: rewards are indexed by the step that produced them (``rₜ`` from ``env.step(aₜ)``),
    and bootstrap values come from ``next_values`` rather than from ``values[t+1]``, which is what lets
    truncation and autoreset be handled exactly.
    """
    if type(lam) is not float or not 0.0 <= lam <= 1.0:
        lam = _check_unit("gae", "lam", lam)
    return _recurrence("gae", _KIND_GAE, rewards, values, next_values, terminated, truncated, gamma, lam)


@checked
def lambda_returns(
    rewards: Float[Tensor, " T *batch"],
    values: Float[Tensor, " T *batch"],
    next_values: Float[Tensor, " T *batch"],
    terminated: Bool[Tensor, " T *batch"],
    truncated: Bool[Tensor, " T *batch"],
    *,
    gamma: float | Float[Tensor, " T *batch"],
    lam: float,
) -> Float[Tensor, " T *batch"]:
    """λ-returns, the value targets: ``G^λₜ = Aₜ + Vₜ`` with ``Aₜ`` the unnormalized :func:`gae`.

    Where the values agree with the next values (``values[t+1] == next_values[t]`` at every step that is not
    done) this is the recursion
    ``G^λₜ = rₜ + γₜ(1 − terminatedₜ)[(1 − λ(1 − doneₜ)) V'ₜ + λ(1 − doneₜ) G^λₜ₊₁]``:
    ``λ = 0`` is the one-step TD target, ``λ = 1`` the bootstrapped discounted return.
    """
    lam = _check_unit("lambda_returns", "lam", lam)
    advantages = _recurrence(
        "lambda_returns", _KIND_GAE, rewards, values, next_values, terminated, truncated, gamma, lam
    )
    return advantages.add_(values.detach())


@checked
def discounted_returns(
    rewards: Float[Tensor, " T *batch"],
    terminated: Bool[Tensor, " T *batch"],
    truncated: Bool[Tensor, " T *batch"],
    *,
    gamma: float | Float[Tensor, " T *batch"],
    next_values: Float[Tensor, " T *batch"] | None = None,
) -> Float[Tensor, " T *batch"]:
    """Discounted returns (reward-to-go), bootstrapped at truncations and at the end of the rollout.

    ``Gₜ = rₜ + γₜ · (1 − terminatedₜ) · (V'ₜ if doneₜ else Gₜ₊₁)``,  ``G_T = V'_{T−1}``

    The return continues with ``Gₜ₊₁`` while the episode goes on, bootstraps from ``next_values[t]`` at a
    truncation and at the last step, and stops at a termination. Without ``next_values`` (``V' ≡ 0``) this is
    the Monte Carlo reward-to-go inside the rollout, ``Gₜ = rₜ + γₜ (1 − doneₜ) Gₜ₊₁``: what REINFORCE on whole
    episodes uses (``γ = 1`` sums the rest of the episode's rewards).
    """
    return _recurrence(
        "discounted_returns", _KIND_RETURNS, rewards, None, next_values, terminated, truncated, gamma, 0.0
    )


@checked
def normalize_advantages(advantages: Float[Tensor, "*batch"]) -> Float[Tensor, "*batch"]:
    """Z-score advantages over **all** elements with the population standard deviation; never NaN.

    ``Âᵢ = (Aᵢ − mean(A)) / std(A)``,  ``std(A) = sqrt(mean((A − mean(A))²))``.
    Where ``std(A) = 0`` (all advantages equal, or one element) the result is ``A − mean(A) = 0``; an empty
    tensor comes back empty. Differentiable; keeps dtype and device.
    """
    if not isinstance(advantages, Tensor) or not advantages.is_floating_point():
        got = advantages.dtype if isinstance(advantages, Tensor) else type(advantages).__name__
        raise InputError(f"normalize_advantages: advantages is {got}; expected a floating tensor")
    if advantages.numel() == 0:
        return advantages.clone()
    dtype = advantages.dtype
    values = advantages.float() if dtype in (torch.float16, torch.bfloat16) else advantages
    # Dividing by max|A| first makes the result independent of the scale: no overflow when squaring (a float16
    # advantage of 300 would), no underflow for tiny advantages, no overflow in the mean near the dtype's limit.
    scale = values.abs().amax()
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
