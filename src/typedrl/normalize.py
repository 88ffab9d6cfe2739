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
        shift, scale = self._affine(observations)
        return torch.addcmul(shift, observations, scale).clamp_(-self.clip, self.clip)

    def _affine(self, like: Tensor) -> tuple[Tensor, Tensor]:
        """``(−μ/s, 1/s)`` with ``s = √(σ² + ε)``, in ``like``'s dtype and on its device, so that a forward pass is
        one fused multiply-add and a clamp. Cached until the buffers change: the cache holds the buffers
        themselves (``module.to`` replaces them) and their version counters, which every in-place write
        (:meth:`update`, ``load_state_dict``) moves on."""
        cached = self.__dict__.get("_affine_cache")
        if (
            cached is not None
            and cached[0] is self.mean
            and cached[1] is self.var
            and cached[2] == (self.mean._version, self.var._version, like.dtype, like.device)
        ):
            return cached[3]  # type: ignore[no-any-return]
        with torch.inference_mode(False), torch.no_grad():  # plain tensors, even when called in inference mode
            scale = torch.rsqrt(self.var + self.epsilon)
            affine = ((-self.mean * scale).to(like.device, like.dtype), scale.to(like.device, like.dtype))
        key = (self.mean._version, self.var._version, like.dtype, like.device)
        self.__dict__["_affine_cache"] = (self.mean, self.var, key, affine)
        return affine


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
        steps, n_envs = raw.shape
        if steps == 0:
            return rewards.clone()
        returns = np.empty_like(raw)
        running = self.returns
        for t in range(steps):  # the recursion itself; the statistics below take all steps at once
            running = running * self.gamma + raw[t]
            returns[t] = running
            running = np.where(ended[t], 0.0, running)
        self.returns = running
        # Folding step t's N returns into the statistics one step at a time (Chan et al.'s combination, as
        # RunningMeanStd.update does) gives, after step t, the statistics of the prior and of every return up to t:
        # prefix sums of the returns, centred on the prior's mean, give all T at once.
        prior_count, prior_mean = float(self.statistics.count), float(self.statistics.mean)
        centred = returns - prior_mean
        counts = n_envs * np.arange(1, steps + 1, dtype=np.float64)
        sums = np.cumsum(centred.sum(axis=1))
        squares = np.cumsum(np.square(centred).sum(axis=1))
        batch_mean = sums / counts  # relative to the prior's mean
        batch_m2 = squares - sums * batch_mean
        total = prior_count + counts
        var = float(self.statistics.var) * prior_count + batch_m2 + np.square(batch_mean) * prior_count * counts / total
        var /= total
        self.statistics.mean = np.asarray(prior_mean + batch_mean[-1] * counts[-1] / total[-1], dtype=np.float64)
        self.statistics.var = np.asarray(var[-1], dtype=np.float64)
        self.statistics.count = float(total[-1])
        scaled = raw / np.sqrt(var + self.epsilon)[:, None]
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
