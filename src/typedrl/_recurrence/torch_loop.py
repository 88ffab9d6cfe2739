"""The backward recurrence as a torch loop over time: the portable path, for devices without the Triton kernel.

Correct on any device, but a few kernel launches per time step. ``d`` and ``c`` are the package's (see
:mod:`typedrl._recurrence`). It runs on CPU tensors too, which is how the tests hold it to the C kernel.
"""

import torch
from torch import Tensor

from typedrl._recurrence import Inputs, Kind, smallest_subnormal
from typedrl.errors import InputError

__all__ = ["coefficients", "torch_loop"]


def coefficients(inputs: Inputs) -> tuple[Tensor, Tensor]:
    """``d`` and ``c``, with every term whose coefficient is exactly zero left out rather than multiplied by 0."""
    kind, rewards, values, next_values, terminated, truncated, discount, lam = inputs
    done = terminated | truncated
    zero = torch.zeros((), dtype=rewards.dtype, device=rewards.device)
    tiny = smallest_subnormal(rewards.dtype)
    if not isinstance(discount, Tensor) and discount != 0.0:
        # torch rounds a scalar to the tensors' dtype: a nonzero γ stays nonzero there, as in the kernels.
        discount = max(discount, tiny)
    # Where the bootstrap g · V' is not read: a termination, or a zero discount.
    skip = terminated | (discount == 0) if isinstance(discount, Tensor) else terminated | (discount == 0.0)
    if kind == Kind.GAE:
        if values is None or next_values is None:
            raise InputError("gae: values and next_values are required")
        d = rewards + discount * torch.where(skip, zero, next_values) - values
        # g · λ is zero exactly where g or λ is; a product that underflows from nonzero factors still reads.
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


def torch_loop(inputs: Inputs) -> Tensor:
    """The recurrence, one time step per iteration: ``aₜ = dₜ`` where ``cₜ = 0``, else ``dₜ + cₜ · aₜ₊₁``.

    Selecting ``d`` alone where ``c`` is zero keeps a non-finite ``aₜ₊₁`` from reaching ``aₜ`` through
    ``0 · inf``; the returns' bootstrap ``a_T = V'_{T−1}`` is read only where the last step is not done.
    """
    rewards, next_values, terminated, truncated = (
        inputs.rewards,
        inputs.next_values,
        inputs.terminated,
        inputs.truncated,
    )
    horizon = rewards.shape[0]
    d, c = coefficients(inputs)
    out = torch.empty_like(rewards)
    following = rewards.new_zeros(rewards.shape[1:])  # not zeros_like(rewards[0]): T may be 0
    if inputs.kind == Kind.RETURNS and next_values is not None and horizon:
        following = torch.where(terminated[-1] | truncated[-1], following, next_values[-1])
    for t in range(horizon - 1, -1, -1):
        following = torch.where(c[t] == 0, d[t], d[t] + c[t] * following)
        out[t] = following
    return out
