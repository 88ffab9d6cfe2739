"""REINFORCE with reward-to-go (Williams 1992), after the tch-rs CartPole policy-gradient example.

One epoch, top to bottom (:meth:`Reinforce.epoch`):

1. play whole episodes with the current policy (actions sampled from ``softmax(logits)``, no gradient) in
   ``num_envs`` checked environments until the epoch has more than ``min_steps_per_epoch`` steps; an episode
   running when that count is passed is played to its end, and no new one starts;
2. reward-to-go inside each episode, ``Gₜ = rₜ + γ (1 − doneₜ) Gₜ₊₁`` (:func:`typedrl.discounted_returns`
   without bootstrap values: an episode cut by a time limit ends there, as in the example);
3. one Adam step on ``L = −mean(Gₜ · log π(aₜ|sₜ))`` over every step of the epoch.

The policy is ``Linear(obs → hidden) → Tanh → Linear(hidden → A)``.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv

from typedrl._spaces import read_spaces
from typedrl.algos.ppo import resolve_device, training_env
from typedrl.config import ReinforceConfig
from typedrl.errors import InputError, TrainingError
from typedrl.policies import categorical_entropy, categorical_log_prob, mlp, sample_categorical
from typedrl.returns import discounted_returns

__all__ = ["EpochStats", "Reinforce"]


@dataclass(frozen=True)
class EpochStats:
    """What one REINFORCE epoch measured."""

    epoch: int
    env_steps: int
    steps: int
    episodes: int
    mean_return: float
    loss: float
    entropy: float
    learning_rate: float
    episode_returns: tuple[float, ...]


class Reinforce:
    """A REINFORCE run's state: environments, policy network, optimizer and sampling generator."""

    def __init__(self, config: ReinforceConfig, *, env: VectorEnv[Any, Any, Any] | None = None) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        kwargs = {} if config.max_episode_steps is None else {"max_episode_steps": config.max_episode_steps}
        if env is None:
            # DISABLED autoreset: the epoch decides itself which finished sub-environments start a new episode.
            self.env, layout = training_env(
                config.env_id,
                num_envs=config.num_envs,
                seed=config.seed,
                autoreset_mode=AutoresetMode.DISABLED,
                env_kwargs=kwargs,
            )
        else:
            self.env, layout = env, read_spaces(config.env_id, env.single_observation_space, env.single_action_space)
        if self.env.metadata.get("autoreset_mode") != AutoresetMode.DISABLED:
            raise TrainingError("Reinforce needs a vector env with autoreset_mode DISABLED")
        observation_size, n_actions = layout.observation_size, layout.n_actions
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.model = mlp(observation_size, n_actions, hidden=config.hidden, layers=1).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate, fused=True)
        self.sampling = torch.Generator(self.device).manual_seed(config.seed + 1)
        self.epochs_done = 0
        self.env_steps = 0
        self._reset_seed: int | None = config.seed  # the next epoch's first reset; None: continue the streams

    @property
    def actor(self) -> torch.nn.Module:
        """The policy network (observation → logits): what greedy evaluation runs."""
        return self.model

    def _play(self) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Play whole episodes; return observations, actions, rewards, terminated, truncated, recorded [V, N]."""
        env, n_envs = self.env, self.env.num_envs
        observations_np, _ = env.reset(seed=self._reset_seed)
        self._reset_seed = None
        columns: dict[str, list[Any]] = {k: [] for k in ("obs", "act", "rew", "term", "trunc", "open")}
        open_envs = np.ones(n_envs, dtype=np.bool_)  # sub-environments whose current episode is recorded
        recorded = 0
        while open_envs.any():
            observations = torch.as_tensor(observations_np, dtype=torch.float32, device=self.device)
            with torch.no_grad():
                logits = self.model(observations.flatten(1))
                uniform = torch.rand(n_envs, generator=self.sampling, device=self.device)
                actions = sample_categorical(logits, uniform)
            actions_np = actions.cpu().numpy()
            next_np, rewards, terminated, truncated, _ = env.step(actions_np)
            for key, value in (("obs", observations), ("act", actions), ("rew", rewards), ("open", open_envs)):
                columns[key].append(value)
            columns["term"].append(terminated)
            columns["trunc"].append(truncated)
            recorded += int(open_envs.sum())
            done = np.logical_or(terminated, truncated)
            if recorded > self.config.min_steps_per_epoch:
                open_envs = open_envs & ~done  # past the count: finish the running episodes, start none
            if done.any():
                next_np, _ = env.reset(options={"reset_mask": done})
            observations_np = next_np
        return (
            torch.stack(columns["obs"]),
            torch.stack(columns["act"]),
            np.stack(columns["rew"]).astype(np.float32),
            np.stack(columns["term"]),
            np.stack(columns["trunc"]),
            np.stack(columns["open"]),
        )

    def epoch(self) -> EpochStats:
        """Play one epoch of whole episodes and take one policy-gradient step."""
        epoch = self.epochs_done + 1
        try:
            observations, actions, rewards_np, terminated_np, truncated_np, recorded_np = self._play()
        except InputError as error:  # e.g. NaN logits from the network: say which epoch
            raise TrainingError(f"epoch {epoch}: {error}") from error
        rewards = torch.from_numpy(rewards_np).to(self.device)
        terminated = torch.from_numpy(terminated_np).to(self.device)
        truncated = torch.from_numpy(truncated_np).to(self.device)
        recorded = torch.from_numpy(recorded_np).to(self.device)
        # Every recorded episode ends inside the epoch, so the reward-to-go never crosses into unrecorded steps.
        reward_to_go = discounted_returns(rewards, terminated, truncated, gamma=self.config.gamma)

        logits = self.model(observations[recorded].flatten(1))
        log_probs = categorical_log_prob(logits, actions[recorded])
        loss = -(reward_to_go[recorded] * log_probs).mean()
        if not bool(torch.isfinite(loss)):
            raise TrainingError(f"epoch {epoch}: the policy-gradient loss is {float(loss)}")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), float("inf"))
        if not bool(torch.isfinite(norm)):
            raise TrainingError(f"epoch {epoch}: the gradient norm is {float(norm)}")
        self.optimizer.step()

        ends = recorded_np & (terminated_np | truncated_np)
        episode_returns = _episode_returns(rewards_np, ends, recorded_np)
        steps = int(recorded_np.sum())
        self.epochs_done = epoch
        self.env_steps += steps
        return EpochStats(
            epoch=epoch,
            env_steps=self.env_steps,
            steps=steps,
            episodes=len(episode_returns),
            mean_return=float(np.mean(episode_returns)),
            loss=float(loss.detach()),
            entropy=float(categorical_entropy(logits.detach()).mean()),
            learning_rate=self.config.learning_rate,
            episode_returns=tuple(episode_returns),
        )

    def state(self) -> dict[str, Any]:
        """Progress and the sampling generator's state, for a checkpoint."""
        return {"epochs_done": self.epochs_done, "env_steps": self.env_steps, "sampling": self.sampling.get_state()}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state` returned."""
        self.epochs_done = int(state["epochs_done"])
        self.env_steps = int(state["env_steps"])
        self.sampling.set_state(state["sampling"])

    def restart_environments(self, seed: int) -> None:
        """Reset the environments with ``seed`` at the next epoch (a resumed run passes a seed of its own, so it
        does not replay the first episodes of the run)."""
        self._reset_seed = seed


def _episode_returns(rewards: np.ndarray, ends: np.ndarray, recorded: np.ndarray) -> list[float]:
    """Undiscounted returns of the recorded episodes, in the order (step, env) they end."""
    totals = np.cumsum(np.where(recorded, rewards, 0.0), axis=0, dtype=np.float64)
    returns: list[float] = []
    last_total = np.zeros(rewards.shape[1])
    for t, n in zip(*np.nonzero(ends), strict=True):
        returns.append(float(totals[t, n] - last_total[n]))
        last_total[n] = totals[t, n]
    return returns
