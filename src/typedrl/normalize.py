"""Running normalization of observations and scaling of rewards, as SB3's ``VecNormalize`` and Gymnasium's
``NormalizeObservation`` / ``NormalizeReward`` do.

- :class:`ObservationNormalizer` is a module in front of the networks: ``clip((x − μ) / √(σ² + ε), −c, c)`` with
  the running mean ``μ`` and variance ``σ²`` of every observation seen, kept as **buffers** so that they travel
  in the model's ``state_dict`` (checkpoints), are applied by greedy evaluation and ``typedrl eval``, and change
  only when :meth:`ObservationNormalizer.update` is called (never by a forward pass: frozen in evaluation).
- :class:`RewardScaler` divides rewards by the standard deviation of a running discounted return
  ``Rₜ = γ·Rₜ₋₁·(1 − doneₜ₋₁) + rₜ`` per environment (not centred), clipped to ``[−c, c]``. The agent learns
  from the scaled rewards; the environment contract, the logged episode returns and evaluation see the raw ones.

The running statistics use Gymnasium's ``RunningMeanStd`` (Chan et al.'s parallel update, the count starting at
``10⁻⁴``), in float64.
"""

import math
from typing import Any

import numpy as np
import torch
from gymnasium.wrappers.utils import RunningMeanStd
from jaxtyping import Bool, Float
from torch import Tensor, nn

__all__ = ["ObservationNormalizer", "RewardScaler"]


class ObservationNormalizer(nn.Module):
    """``clip((x − μ) / √(σ² + ε), −clip, clip)`` over observations flattened to ``size`` elements, with ``μ`` and
    ``σ²`` the running mean and variance of every row passed to :meth:`update` (buffers ``mean``, ``var`` and
    ``count``, float64; at the start ``μ = 0``, ``σ² = 1``). ``clip = 10`` and ``ε = 10⁻⁸`` are SB3's defaults."""

    mean: Tensor
    var: Tensor
    count: Tensor

    def __init__(self, size: int, *, clip: float = 10.0, epsilon: float = 1e-8) -> None:
        super().__init__()
        self.clip = float(clip)
        self.epsilon = float(epsilon)
        self.register_buffer("mean", torch.zeros(size, dtype=torch.float64))
        self.register_buffer("var", torch.ones(size, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(1e-4, dtype=torch.float64))

    def update(self, observations: Float[Tensor, " B size"]) -> None:
        """Fold a batch of rows into the running mean and variance (Chan et al.'s parallel combination)."""
        batch = observations.detach().to(torch.float64)
        rows = batch.shape[0]
        if rows == 0:
            return
        with torch.no_grad():
            batch_mean = batch.mean(dim=0)
            batch_var = batch.var(dim=0, unbiased=False)
            total = self.count + rows
            delta = batch_mean - self.mean
            combined = self.var * self.count + batch_var * rows + delta.square() * self.count * rows / total
            self.mean += delta * rows / total
            self.var.copy_(combined / total)
            self.count.copy_(total)

    def forward(self, observations: Float[Tensor, " B size"]) -> Float[Tensor, " B size"]:
        """The normalized observations, in the input's dtype."""
        scale = torch.rsqrt(self.var + self.epsilon).to(observations.dtype)
        centred = observations - self.mean.to(observations.dtype)
        return (centred * scale).clamp(-self.clip, self.clip)


class RewardScaler:
    """Scale rewards ``[T, N]`` by ``1 / √(Var[R] + ε)``, ``R`` the running discounted return of each of ``N``
    environments, then clip to ``[−clip, clip]`` (SB3's ``VecNormalize(norm_reward=True)``, Gymnasium's
    ``NormalizeReward``): step by step, ``R ← γ·R + rₜ``, the statistics take in ``R``, ``rₜ`` is scaled with them,
    and ``R`` restarts at 0 after a done step. ``γ`` is the agent's discount."""

    def __init__(self, n_envs: int, *, gamma: float, clip: float = 10.0, epsilon: float = 1e-8) -> None:
        self.gamma = float(gamma)
        self.clip = float(clip)
        self.epsilon = float(epsilon)
        self.returns = np.zeros(n_envs, dtype=np.float64)
        self.statistics = RunningMeanStd(shape=())  # type: ignore[no-untyped-call]  # Gymnasium's, untyped

    def __call__(self, rewards: Float[Tensor, " T N"], done: Bool[Tensor, " T N"]) -> Float[Tensor, " T N"]:
        """The scaled rewards (same shape, dtype and device); updates the running return and statistics."""
        raw = rewards.detach().cpu().numpy().astype(np.float64)
        ended = done.detach().cpu().numpy()
        scaled = np.empty_like(raw)
        for t in range(raw.shape[0]):
            self.returns = self.returns * self.gamma + raw[t]
            self.statistics.update(self.returns)  # type: ignore[no-untyped-call]
            scaled[t] = raw[t] / math.sqrt(float(self.statistics.var) + self.epsilon)
            self.returns[ended[t]] = 0.0
        np.clip(scaled, -self.clip, self.clip, out=scaled)
        return torch.from_numpy(scaled).to(device=rewards.device, dtype=rewards.dtype)

    def state(self) -> dict[str, Any]:
        """The running return per environment and the statistics, as tensors (for a checkpoint)."""
        return {
            "returns": torch.from_numpy(self.returns.copy()),
            "mean": torch.tensor(float(self.statistics.mean), dtype=torch.float64),
            "var": torch.tensor(float(self.statistics.var), dtype=torch.float64),
            "count": torch.tensor(float(self.statistics.count), dtype=torch.float64),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state` returned."""
        returns = np.asarray(torch.as_tensor(state["returns"], dtype=torch.float64).numpy(), dtype=np.float64)
        if returns.shape != self.returns.shape:
            raise ValueError(f"RewardScaler: saved returns have shape {returns.shape}; expected {self.returns.shape}")
        self.returns = returns.copy()
        self.statistics.mean = np.asarray(torch.as_tensor(state["mean"]).item(), dtype=np.float64)
        self.statistics.var = np.asarray(torch.as_tensor(state["var"]).item(), dtype=np.float64)
        self.statistics.count = float(torch.as_tensor(state["count"]).item())
