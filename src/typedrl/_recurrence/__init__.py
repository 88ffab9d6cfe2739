"""The backward linear recurrence behind GAE and the discounted returns, on every device.

Both are ``aₜ = dₜ + cₜ · aₜ₊₁``, run from ``t = T−1`` down to ``0`` over time-major ``[T, *batch]`` tensors,
with ``γₜ`` one scalar or one discount per element and ``doneₜ = terminatedₜ ∨ truncatedₜ``:

- :attr:`Kind.GAE`: ``dₜ = rₜ + γₜ (1 − terminatedₜ) V'ₜ − Vₜ``, ``cₜ = γₜ λ (1 − doneₜ)``, ``a_T = 0``;
- :attr:`Kind.RETURNS`: ``dₜ = rₜ + γₜ V'ₜ`` where step ``t`` is truncated and not terminated, else ``rₜ``;
  ``cₜ = γₜ (1 − doneₜ)``; ``a_T = V'_{T−1}`` where step ``T−1`` is not done, else ``0`` (and ``0`` without
  ``V'``).

A coefficient that is exactly zero multiplies nothing: the term it would multiply is not computed, so a NaN or
±inf there cannot reach any output (IEEE makes ``0 · inf`` a NaN). A nonzero ``γ``, ``λ`` or ``γ·λ`` that would
round to zero in the compute dtype is kept at :func:`smallest_subnormal`, so every path agrees with exact
arithmetic on which coefficients are zero.

:func:`run` is the one dispatch: CPU tensors go to the C kernel (``_cpu.c``: one pass, no Python loop over
time), CUDA tensors to one Triton launch where Triton is installed (``triton.py``), anything else to a torch loop
over time (``torch_loop.py``). The caller, :mod:`typedrl.returns`, has checked the :class:`Inputs`; nothing here
checks them again.

Two more entry points build on the same machinery:

- :func:`linear` runs ``aₜ = dₜ + cₜ · aₜ₊₁``, ``a_T = 0``, for ``d`` and ``c`` the caller computed (V-trace's
  ``ρₜ δₜ`` and ``γₜ cₜ (1 − doneₜ)``): it is :attr:`Kind.RETURNS` without flags or next values and with ``c`` as
  the per-step discount, so it takes :func:`run`'s paths, the Triton kernel on CUDA included.
- :func:`n_step` computes n-step bootstrapped returns, which are not one recurrence (each step has its own window):
  the C kernel on the CPU (``n_step`` in ``_cpu.c``), and on every other device, CUDA included, a torch formulation
  with a loop over the ``n − 1`` window offsets (never over time: callers send ``n ≥ T`` to the discounted
  returns, which equal it there).
"""

import functools
from enum import IntEnum
from typing import Any, NamedTuple

import torch
from torch import Tensor

from typedrl._recurrence import _cpu

__all__ = ["Inputs", "Kind", "linear", "n_step", "on_cpu", "run", "smallest_subnormal", "triton_available"]


class Kind(IntEnum):
    """Which recurrence to run: the code every kernel switches on (``_cpu.c`` defines the same numbers)."""

    GAE = 0
    """Generalized advantage estimates ``Aₜ``."""
    RETURNS = 1
    """Discounted returns ``Gₜ``."""


class Inputs(NamedTuple):
    """One call's operands, as :mod:`typedrl.returns` hands them over after its checks.

    Every tensor has the rewards' shape and device, memory whose data can be read, and no lazy negation; the
    floating ones are float32 or float64 (all one dtype), the flags ``torch.bool``. A named tuple, so that it
    unpacks into the parameters of :func:`on_cpu`.
    """

    kind: Kind
    rewards: Tensor
    values: Tensor | None  # Vₜ: GAE only
    next_values: Tensor | None  # V'ₜ: required for GAE; for the returns, None is the Monte Carlo reward-to-go
    terminated: Tensor
    truncated: Tensor
    gamma: float | Tensor  # one discount in [0, 1], or one per element
    lam: float  # λ in [0, 1]: GAE only (0.0 for the returns)


def smallest_subnormal(dtype: torch.dtype) -> float:
    """The smallest positive number of ``dtype``: where a nonzero coefficient that would underflow is kept."""
    info = torch.finfo(dtype)
    return info.smallest_normal * info.eps


def run(inputs: Inputs) -> Tensor:
    """The recurrence's ``a``: a fresh tensor shaped like the rewards, on their device, outside autograd."""
    if inputs.rewards.is_cpu:
        return on_cpu(*inputs)
    kernel = _triton_kernel() if inputs.rewards.is_cuda else None
    with torch.no_grad():
        if kernel is not None:
            return _on_triton(kernel, inputs)
        from typedrl._recurrence.torch_loop import torch_loop  # here, not at the top: it imports this module

        return torch_loop(inputs)


def on_cpu(
    kind: Kind,
    rewards: Tensor,
    values: Tensor | None,
    next_values: Tensor | None,
    terminated: Tensor,
    truncated: Tensor,
    gamma: float | Tensor,
    lam: float,
) -> Tensor:
    """:func:`run` for CPU tensors, called as ``on_cpu(*inputs)``: the C kernel, which writes a fresh tensor that
    autograd never sees.

    Its parameters are the fields of :class:`Inputs`, so that the fast path of :mod:`typedrl.returns` can call it
    without building the record, which would add a tenth to a call of a few microseconds. Raises ``ValueError``
    or ``RuntimeError`` for a tensor whose memory cannot be read as is (no storage).
    """
    # The kernel reads raw addresses: every contiguous copy is held in a local until it returns.
    rewards = rewards.contiguous()
    values = None if values is None else values.contiguous()
    next_values = None if next_values is None else next_values.contiguous()
    terminated = terminated.contiguous()
    truncated = truncated.contiguous()
    if isinstance(gamma, float):  # not isinstance(gamma, Tensor), which costs a tenth of a microsecond
        gammas, scalar_gamma = None, gamma
    else:
        gammas, scalar_gamma = gamma.contiguous(), 0.0
    out = torch.empty_like(rewards)  # rewards is contiguous here, so out is too
    horizon = rewards.shape[0]
    _cpu.recurrence(
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


def linear(d: Tensor, c: Tensor) -> Tensor:
    """``aₜ = dₜ + cₜ · aₜ₊₁`` backwards from ``a_T = 0``, selecting ``dₜ`` alone where ``cₜ == 0``.

    ``d`` and ``c`` are one dtype (float32 or float64), shape and device, readable as :func:`run` requires;
    ``c`` may be any real number, above 1 too. A fresh tensor outside autograd.
    """
    never = torch.zeros(d.shape, dtype=torch.bool, device=d.device)
    return run(Inputs(Kind.RETURNS, d, None, None, never, never, c, 0.0))


def n_step(
    rewards: Tensor, next_values: Tensor, terminated: Tensor, truncated: Tensor, gamma: float | Tensor, n: int
) -> Tensor:
    """n-step bootstrapped returns (``n ≥ 1``) of checked, readable operands, as :mod:`typedrl.returns` hands them
    over (the dtype float32 or float64, ``gamma`` a discount in ``[0, 1]`` or one per element).

    ``Gₜ = rₜ + γₜ(rₜ₊₁ + γₜ₊₁(… (r_e + γ_e B)))``, evaluated from the window's end ``e`` (the first done step at
    or after ``t``, the step ``t + n − 1``, or the rollout's last step, whichever comes first), with
    ``B = V'_e`` unless step ``e`` is terminated; a zero ``γ`` multiplies nothing. A fresh tensor outside autograd.
    """
    if not rewards.is_cpu:
        from typedrl._recurrence.torch_loop import n_step_loop  # here, not at the top: it imports this module

        with torch.no_grad():
            return n_step_loop(rewards, next_values, terminated, truncated, gamma, n)
    rewards, next_values = rewards.contiguous(), next_values.contiguous()
    terminated, truncated = terminated.contiguous(), truncated.contiguous()
    if isinstance(gamma, float):
        gammas, scalar_gamma = None, gamma
    else:
        gammas, scalar_gamma = gamma.contiguous(), 0.0
    out = torch.empty_like(rewards)
    horizon = rewards.shape[0]
    _cpu.n_step(
        rewards.dtype is torch.float64,
        out.data_ptr(),
        rewards.data_ptr(),
        next_values.data_ptr(),
        terminated.data_ptr(),
        truncated.data_ptr(),
        None if gammas is None else gammas.data_ptr(),
        scalar_gamma,
        n,
        horizon,
        rewards.numel() // horizon if horizon else 0,
    )
    return out


@functools.cache
def _triton_kernel() -> Any:  # a triton.JITFunction, or None without Triton
    try:
        from typedrl._recurrence.triton import recurrence_kernel
    except ImportError:
        return None
    return recurrence_kernel


def triton_available() -> bool:
    """Whether CUDA tensors get the one-launch Triton kernel in this process (whether Triton is installed)."""
    return _triton_kernel() is not None


def _on_triton(kernel: Any, inputs: Inputs) -> Tensor:
    """:func:`run` on CUDA: one launch, each program owning a block of trajectories (see ``triton.py``)."""
    kind, rewards, values, next_values, terminated, truncated, gamma, lam = inputs
    rewards = rewards.contiguous()
    horizon = rewards.shape[0]
    width = rewards.numel() // horizon if horizon else 0
    out = torch.empty_like(rewards, memory_format=torch.contiguous_format)
    if out.numel() == 0:
        return out
    if isinstance(gamma, Tensor):
        gammas: Tensor | None = gamma.contiguous()
        scalar_gamma = 0.0
    else:
        gammas, scalar_gamma = None, gamma
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
        placeholder if gammas is None else gammas,
        g0,
        0.0 if lam == 0.0 else max(lam, tiny),
        gl,
        tiny,
        horizon,
        width,
        GAE=kind == Kind.GAE,
        HAS_GAM=gammas is not None,
        HAS_NV=next_values is not None,
        BLOCK=block,
    )
    return out
