"""The backward recurrence as a torch loop over time: the portable path, for devices without the Triton kernel.

Correct on any device, but a few kernel launches per time step. ``d`` and ``c`` are the package's (see
:mod:`typedrl._recurrence`). It runs on CPU tensors too, which is how the tests hold it to the C kernel.
"""

import torch
from torch import Tensor

from typedrl._recurrence import Inputs, Kind, smallest_subnormal
from typedrl.errors import InputError

__all__ = ["coefficients", "n_step_loop", "torch_loop"]


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


def n_step_loop(
    rewards: Tensor, next_values: Tensor, terminated: Tensor, truncated: Tensor, gamma: float | Tensor, n: int
) -> Tensor:
    """n-step bootstrapped returns as torch operations over whole tensors: a loop over the ``n − 1`` offsets inside
    a window, never over time (the caller sends ``n ≥ T`` to the discounted returns).

    Each step's window ends at ``e``: the first done step at or after ``t`` (a reversed running minimum of the
    done steps' indices), the step ``t + n − 1``, or the last step. ``G`` starts as ``r_e`` plus the bootstrap
    ``γ_e V'_e`` (left out where step ``e`` is terminated or ``γ_e = 0``) and takes one more step, Horner-wise,
    for every offset ``k`` still inside the window, from the far end: ``G = rₜ₊ₖ`` where ``γₜ₊ₖ = 0``, else
    ``rₜ₊ₖ + γₜ₊ₖ · G``. Steps inside a window before ``e`` are never done, so no flag is read there.
    """
    horizon = rewards.shape[0]
    if horizon == 0:
        return torch.empty_like(rewards)
    tiny = smallest_subnormal(rewards.dtype)
    discount: float | Tensor = gamma
    if not isinstance(discount, Tensor) and discount != 0.0:
        discount = max(discount, tiny)  # a nonzero γ stays nonzero in the tensors' dtype
    steps = torch.arange(horizon, device=rewards.device).reshape((horizon,) + (1,) * (rewards.dim() - 1))
    steps = steps.expand(rewards.shape)
    done_at = torch.where(terminated | truncated, steps, horizon - 1)
    next_done = done_at.flip(0).cummin(0).values.flip(0)  # the first done step at or after t, else T − 1
    end = torch.minimum(next_done, steps + (n - 1))

    def at(tensor: Tensor, index: Tensor) -> Tensor:
        return tensor.gather(0, index)

    g_end: float | Tensor = discount
    if isinstance(discount, Tensor):
        g_end = at(discount, end)
        skip = at(terminated, end) | (g_end == 0)
    else:
        skip = at(terminated, end) | (discount == 0.0)
    r_end = at(rewards, end)
    following = torch.where(skip, r_end, r_end + g_end * torch.where(skip, 0.0, at(next_values, end)))
    for k in range(min(n, horizon) - 2, -1, -1):  # offsets from the far end; offset 0 is t itself
        inside = steps + k < end
        index = (steps + k).clamp(max=horizon - 1)
        r_k = at(rewards, index)
        if isinstance(discount, Tensor):
            g_k = at(discount, index)
            stepped = torch.where(g_k == 0, r_k, r_k + g_k * following)
        else:
            stepped = r_k if discount == 0.0 else r_k + discount * following
        following = torch.where(inside, stepped, following)
    return following
