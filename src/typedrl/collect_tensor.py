"""Rollout collection from an environment that steps in tensors (:mod:`typedrl.envs.classic`): no numpy, no copy
to the host, and no synchronisation with the device inside the loop.

:class:`TensorRolloutCollector` is :class:`~typedrl.collect.RolloutCollector`'s counterpart for a vector env whose
``reset`` and ``step`` take and return tensors on one device, in Gymnasium's ``SAME_STEP`` autoreset mode: a done
sub-environment is reset within the step, the step returns its reset observation, and ``info["final_obs"]``
``[N, *obs]`` (with ``info["_final_obs"]`` ``[N]`` bool) holds the final observations of the done rows. So
every vector step is one real transition of every sub-environment, and a rollout is ``[T, N]`` with no padding.

``next_values[t]`` is ``V(s_{t+1})``: the values of the next step's forward, and at a truncated step the value
of the episode's final observation, from one ``policy.value`` call on all ``N`` rows of each step that has a
truncated row; at a terminated step it is 0 (never bootstrapped, so its final observation needs no value, and the
value of the reset observation would be wrong). The one
synchronisation per rollout is finding those steps, and the episode statistics.

Same conventions as the numpy collector (docs/conventions.md): ``rewards`` are what ``env.step`` returned,
``terminated`` stops bootstrapping, ``truncated`` bootstraps from ``next_values``; Box actions are stored as
sampled and sent clipped to the action space's bounds.
"""

from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from torch import Tensor

from typedrl import _validate
from typedrl.collect import Policy
from typedrl.contract import autoreset_mode_of
from typedrl.errors import RolloutError
from typedrl.records import Rollout

__all__ = ["TensorRolloutCollector"]


class TensorRolloutCollector:
    """Collect ``horizon`` steps of every sub-environment of a tensor vector env per :meth:`collect`.

    Args:
        env: a vector env in ``SAME_STEP`` autoreset mode whose ``reset``/``step`` return tensors on ``device``
            (a :class:`~typedrl.envs.classic.TensorVectorEnv`, bare or checked).
        policy: the :class:`~typedrl.collect.Policy` that acts (called under ``torch.no_grad()``).
        horizon: ``T``, steps per sub-environment per rollout.
        seed: the seed of the first reset (and of :meth:`restart`'s, when it gets none).
        device: where the rollout's tensors live (the env's device).

    After each :meth:`collect`, :attr:`episode_returns`, :attr:`episode_lengths` and :attr:`episode_envs` describe
    the episodes that ended in it, ordered by the step they ended at, then by sub-environment.

    Raises:
        RolloutError: the env is not in ``SAME_STEP`` mode, or ``horizon`` is not a positive integer.
    """

    def __init__(
        self,
        env: VectorEnv[Any, Any, Any],
        policy: Policy,
        *,
        horizon: int,
        seed: int | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        where = "TensorRolloutCollector"
        self.horizon = _validate.integer(where, "horizon", horizon, minimum=1, error=RolloutError)
        mode = autoreset_mode_of(env)
        if mode is not AutoresetMode.SAME_STEP:
            raise RolloutError(f"{where}: the env's autoreset mode is {mode.value}; expected same-step")
        self.env = env
        self.policy = policy
        self.seed = seed
        self.device = torch.device(device)
        self.n_envs = int(env.num_envs)
        space = env.single_action_space
        self._box = isinstance(space, gymnasium.spaces.Box)
        if self._box:
            assert isinstance(space, gymnasium.spaces.Box)
            self._low = torch.as_tensor(np.asarray(space.low, dtype=np.float32), device=self.device)
            self._high = torch.as_tensor(np.asarray(space.high, dtype=np.float32), device=self.device)
        self._observations: Tensor | None = None
        self._running_return = torch.zeros(self.n_envs, dtype=torch.float64, device=self.device)
        self._running_length = torch.zeros(self.n_envs, dtype=torch.int64, device=self.device)
        self.episode_returns: list[float] = []
        self.episode_lengths: list[int] = []
        self.episode_envs: list[int] = []

    def restart(self, seed: int | None = None) -> None:
        """Start new episodes at the next :meth:`collect`, resetting with ``seed`` (default: the collector's)."""
        self._observations = None
        if seed is not None:
            self.seed = seed
        self._running_return.zero_()
        self._running_length.zero_()

    @torch.no_grad()
    def collect(self) -> Rollout:
        """The next ``horizon`` transitions of every sub-environment, as a validated :class:`Rollout`."""
        env, policy, horizon = self.env, self.policy, self.horizon
        if self._observations is None:
            observations, _ = env.reset(seed=self.seed)
            self._observations = observations
        observations = self._observations
        steps: list[tuple[Tensor, ...]] = []
        finals: list[Tensor] = []
        ended_returns: list[Tensor] = []
        ended_lengths: list[Tensor] = []
        running_return, running_length = self._running_return, self._running_length
        for _ in range(horizon):
            step = policy.act(observations)
            actions = step.actions
            sent = torch.clamp(actions, self._low, self._high) if self._box else actions
            next_observations, rewards, terminated, truncated, info = env.step(sent)
            done = terminated | truncated
            running_return += rewards
            running_length += 1
            ended_returns.append(torch.where(done, running_return, torch.nan))
            ended_lengths.append(running_length.clone())
            running_return.masked_fill_(done, 0.0)
            running_length.masked_fill_(done, 0)
            steps.append((observations, actions, step.log_probs, step.values, rewards, terminated, truncated))
            finals.append(info["final_obs"])
            observations = next_observations
        self._observations = observations
        last_values = policy.value(observations)
        columns = [torch.stack(column) for column in zip(*steps, strict=True)]
        obs, actions, log_probs, values, rewards, terminated, truncated = columns
        next_values = torch.cat([values[1:], last_values.unsqueeze(0)])
        # The one synchronisation: which steps have truncated rows, whose final observations need a value. Each such
        # step's value call takes all N rows (zeros where nothing ended), as act does: a policy may tell the rows
        # apart by their position (StackedPolicy: row n is agent n // N's), so a subset of rows would be misread.
        for t in truncated.any(1).nonzero().flatten().tolist():
            final_values = policy.value(finals[t]).to(next_values.dtype)
            next_values[t] = torch.where(truncated[t], final_values, next_values[t])
        # A terminated step never bootstraps: 0, never the value of the observation its reset put in its place.
        next_values = next_values.masked_fill(terminated, 0.0)
        self._episodes(torch.stack(ended_returns), torch.stack(ended_lengths))
        return Rollout(
            observations=obs,
            actions=actions,
            log_probs=log_probs,
            rewards=rewards.to(values.dtype),
            values=values,
            next_values=next_values,
            terminated=terminated,
            truncated=truncated,
            horizon=horizon,
        )

    def _episodes(self, returns: Tensor, lengths: Tensor) -> None:
        ended = ~torch.isnan(returns)
        where = ended.nonzero()  # row-major: by step, then by sub-environment
        self.episode_returns = returns[ended].tolist()
        self.episode_lengths = lengths[ended].tolist()
        self.episode_envs = where[:, 1].tolist()
