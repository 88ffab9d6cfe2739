"""The backward recurrences ``aₜ = dₜ + cₜ aₜ₊₁`` on non-CPU devices.

On CUDA with Triton installed (it ships with torch's CUDA builds on Linux) the whole recurrence is one kernel
launch: each program owns a block of trajectories and walks time backwards, so every element is read and
written once. Anywhere else (no Triton, or another device) it falls back to a torch loop over time, which is
correct but launches a few kernels per step. ``d`` and ``c`` are as in ``typedrl/_kernels.c``.
"""

import functools
from typing import Any

import torch
from torch import Tensor

from typedrl.errors import InputError

__all__ = ["recurrence", "triton_available"]

_KIND_GAE = 0


def smallest_subnormal(dtype: torch.dtype) -> float:
    """The smallest positive number of ``dtype``: what a nonzero coefficient that underflows is kept at."""
    info = torch.finfo(dtype)
    return info.smallest_normal * info.eps


def _coefficients(
    kind: int,
    rewards: Tensor,
    values: Tensor | None,
    next_values: Tensor | None,
    terminated: Tensor,
    truncated: Tensor,
    discount: float | Tensor,
    lam: float,
) -> tuple[Tensor, Tensor]:
    """``d`` and ``c``, with every term whose coefficient is exactly zero left out rather than multiplied by 0."""
    done = terminated | truncated
    zero = torch.zeros((), dtype=rewards.dtype, device=rewards.device)
    # Where the bootstrap g · V' is not read: a termination, or a zero discount.
    skip = terminated | (discount == 0) if isinstance(discount, Tensor) else terminated | (discount == 0.0)
    if kind == _KIND_GAE:
        if values is None or next_values is None:
            raise InputError("gae: values and next_values are required")
        d = rewards + discount * torch.where(skip, zero, next_values) - values
        # g · λ is zero exactly where g or λ is; a product that underflows from nonzero factors still reads.
        tiny = smallest_subnormal(rewards.dtype)
        coefficient: float | Tensor
        if isinstance(discount, Tensor):
            coefficient = torch.where((discount == 0) | (lam == 0.0), zero, (discount * lam).clamp(min=tiny))
        else:
            coefficient = 0.0 if discount == 0.0 or lam == 0.0 else max(discount * lam, tiny)
        c = torch.where(done, zero, coefficient)
    else:
        if next_values is None:
            d = rewards
        else:
            d = torch.where(done & ~skip, rewards + discount * torch.where(skip, zero, next_values), rewards)
        c = torch.where(done, zero, discount * torch.ones_like(rewards))
    return d, c


def torch_loop(
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
    """The recurrence as a torch loop over time: the portable fallback (a few launches per step).

    Each step selects ``d`` alone where ``c`` is zero, so a non-finite ``aₜ₊₁`` never reaches ``aₜ`` through
    ``0 · inf``; the bootstrap of the returns, ``V'_{T−1}``, is read only where the last step is not done.
    """
    discount: float | Tensor = scalar_gamma if gammas is None else gammas
    d, c = _coefficients(kind, rewards, values, next_values, terminated, truncated, discount, lam)
    out = torch.empty_like(rewards)
    following = torch.zeros_like(rewards[0])
    if kind != _KIND_GAE and next_values is not None and rewards.shape[0]:
        following = torch.where(terminated[-1] | truncated[-1], following, next_values[-1])
    for t in range(rewards.shape[0] - 1, -1, -1):
        following = torch.where(c[t] == 0, d[t], d[t] + c[t] * following)
        out[t] = following
    return out


@functools.cache
def _triton_kernel() -> Any:  # a triton.JITFunction, or None without Triton
    try:
        from typedrl._triton_kernel import recurrence_kernel
    except ImportError:
        return None
    return recurrence_kernel


def triton_available() -> bool:
    """Whether the one-launch Triton kernel can be used for CUDA tensors in this process."""
    return _triton_kernel() is not None


def recurrence(
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
    """Run the recurrence on ``rewards.device``: one Triton launch on CUDA when possible, else a torch loop."""
    kernel = _triton_kernel() if rewards.is_cuda else None
    if kernel is None:
        return torch_loop(kind, rewards, values, next_values, terminated, truncated, scalar_gamma, gammas, lam)
    rewards = rewards.contiguous()
    horizon = rewards.shape[0]
    width = rewards.numel() // horizon if horizon else 0
    out = torch.empty_like(rewards, memory_format=torch.contiguous_format)
    if out.numel() == 0:
        return out
    block = 128 if width >= 128 * 256 else 64 if width >= 64 else 32
    placeholder = rewards  # never read when the matching HAS_* flag is off
    # Triton passes Python floats as float32 scalars: keep a nonzero gamma, lam or gamma · lam nonzero there.
    tiny = smallest_subnormal(torch.float32)
    g0 = 0.0 if scalar_gamma == 0.0 else max(scalar_gamma, tiny)
    gl = 0.0 if scalar_gamma == 0.0 or lam == 0.0 else max(scalar_gamma * lam, tiny)
    kernel[((width + block - 1) // block,)](
        out,
        rewards,
        placeholder if values is None else values.contiguous(),
        placeholder if next_values is None else next_values.contiguous(),
        terminated.contiguous().view(torch.uint8),
        truncated.contiguous().view(torch.uint8),
        placeholder if gammas is None else gammas.contiguous(),
        g0,
        0.0 if lam == 0.0 else max(lam, tiny),
        gl,
        tiny,
        horizon,
        width,
        KIND=kind,
        HAS_GAM=gammas is not None,
        HAS_NV=next_values is not None,
        BLOCK=block,
    )
    return out
