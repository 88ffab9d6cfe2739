"""``TrajectoryBatch``: the arguments of typedrl's return math as one consistent, frozen record."""

import math
from dataclasses import dataclass

from beartype import BeartypeConf, beartype
from jaxtyping import Bool, Float, jaxtyped
from torch import Tensor

from typedrl._validate import unit_interval, unit_interval_elements
from typedrl.errors import HyperparameterError, InputError

__all__ = ["TrajectoryBatch"]


@jaxtyped(typechecker=beartype(conf=BeartypeConf(is_pep484_tower=True)))
@dataclass(frozen=True)
class TrajectoryBatch:
    """Time-major trajectories with every field typedrl's return math reads, consistent at construction.

    All tensors are shaped ``[T]`` or ``[T, *batch]`` (usually ``[T, N]``: ``N`` environments), share ``rewards``'
    dtype and device, and the shapes are bound across fields when the batch is built. ``gamma`` is one discount
    in ``[0, 1]`` (a float, not a bool) or one per step, shaped like ``rewards``. Meanings (conventions page,
    docs/conventions.md):

    * ``rewards[t]``: what ``env.step(a_t)`` returned;  ``values[t] = V(s_t)``;
    * ``next_values[t] = V'_t = V(s_{t+1})``, the value of the observation step ``t`` produced (the episode's
      final observation at a done step);
    * ``terminated[t]``: no bootstrap;  ``truncated[t]``: bootstrap from ``next_values[t]``; both set means
      terminated.

    Pass the fields straight to :func:`typedrl.gae` and friends, e.g.
    ``typedrl.gae(b.rewards, b.values, b.next_values, b.terminated, b.truncated, gamma=b.gamma, lam=0.95)``.
    """

    rewards: Float[Tensor, " T *batch"]
    values: Float[Tensor, " T *batch"]
    next_values: Float[Tensor, " T *batch"]
    terminated: Bool[Tensor, " T *batch"]
    truncated: Bool[Tensor, " T *batch"]
    gamma: float | Float[Tensor, " T *batch"]

    def __post_init__(self) -> None:
        fields = [("values", self.values), ("next_values", self.next_values)]
        if isinstance(self.gamma, Tensor):
            fields.append(("gamma", self.gamma))
        for name, tensor in fields:
            if tensor.dtype != self.rewards.dtype:
                raise InputError(
                    f"TrajectoryBatch: {name} has dtype {tensor.dtype}; expected {self.rewards.dtype} (as rewards)"
                )
        for name, tensor in [*fields, ("terminated", self.terminated), ("truncated", self.truncated)]:
            if tensor.device != self.rewards.device:
                raise InputError(
                    f"TrajectoryBatch: {name} is on {tensor.device}; expected {self.rewards.device} (as rewards)"
                )
        if isinstance(self.gamma, Tensor):
            unit_interval_elements("TrajectoryBatch", "gamma", self.gamma, each="discount", error=HyperparameterError)
        else:
            unit_interval("TrajectoryBatch", "gamma", self.gamma, error=HyperparameterError)

    @property
    def done(self) -> Bool[Tensor, " T *batch"]:
        """``done[t] = terminated[t] or truncated[t]``: where every recursion is cut."""
        return self.terminated | self.truncated

    @property
    def horizon(self) -> int:
        """``T``, the number of time steps."""
        return int(self.rewards.shape[0])

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """The trailing batch dims: ``()`` for a ``[T]`` batch, ``(N,)`` for ``[T, N]``."""
        return tuple(self.rewards.shape[1:])

    def trajectories(self) -> list["TrajectoryBatch"]:
        """The independent trajectories as ``[T]`` batches, in row-major order of the batch dims."""
        count = math.prod(self.batch_shape)

        def column(tensor: Tensor, index: int) -> Tensor:
            return tensor.reshape(self.horizon, count)[:, index].clone()

        return [
            TrajectoryBatch(
                rewards=column(self.rewards, n),
                values=column(self.values, n),
                next_values=column(self.next_values, n),
                terminated=column(self.terminated, n),
                truncated=column(self.truncated, n),
                gamma=column(self.gamma, n) if isinstance(self.gamma, Tensor) else self.gamma,
            )
            for n in range(count)
        ]
