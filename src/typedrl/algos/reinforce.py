"""REINFORCE with reward-to-go (Williams 1992), after the tch-rs CartPole policy-gradient example.

One update (the example's "epoch"), top to bottom (:meth:`Reinforce.update`):

1. play whole episodes with the current policy (actions sampled from ``softmax(logits)``, no gradient) in
   ``num_envs`` checked environments until the update has more than ``min_steps_per_update`` steps; an episode
   running when that count is passed is played to its end, and no new one starts;
2. reward-to-go inside each episode, ``Gₜ = rₜ + γ (1 − doneₜ) Gₜ₊₁`` (:func:`typedrl.discounted_returns`
   without bootstrap values: an episode cut by a time limit ends there, as in the example);
3. one Adam step on ``L = −mean(Gₜ · log π(aₜ|sₜ))`` over every step of the update.

The policy is ``Linear(obs → hidden) → Tanh → Linear(hidden → A)``: the logits of a categorical over ``A``
discrete actions, or for a Box action with ``A`` elements the mean of a diagonal Gaussian with a learned,
state-independent ``log σ`` (:class:`GaussianPolicy`); the sampled Box action is stored and scored, the
environment receives it clipped to its bounds. An environment that masks actions (:mod:`typedrl.masks`) has its
masks read after every reset and step: the actions are sampled under them, and scored under the same masks.
"""

import math
from typing import Any

import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from torch import nn

from typedrl._spaces import Spaces, agent_env, read_spaces
from typedrl.algos.base import UpdateStats, register, resolve_device, training_env
from typedrl.algos.flat import FlatParameters
from typedrl.config import REINFORCE_PRESETS, ReinforceConfig
from typedrl.contract import autoreset_mode_of
from typedrl.errors import InputError, TrainingError
from typedrl.masks import ActionMaskReader, mask_logits
from typedrl.policies import (
    categorical_entropy,
    categorical_log_prob,
    gaussian_entropy,
    gaussian_log_prob,
    mlp,
    multi_categorical_log_prob_and_entropy,
    sample_categorical,
    sample_multi_categorical,
)
from typedrl.returns import discounted_returns

__all__ = ["GaussianPolicy", "Reinforce"]


class Reinforce:
    """A REINFORCE run's state: environments, policy network, optimizer and sampling generator."""

    def __init__(self, config: ReinforceConfig, *, env: VectorEnv[Any, Any, Any] | None = None) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        kwargs = {} if config.max_episode_steps is None else {"max_episode_steps": config.max_episode_steps}
        if env is None:
            # DISABLED autoreset: the update decides itself which finished sub-environments start a new episode.
            self.env, layout = training_env(
                config.env_id,
                num_envs=config.num_envs,
                seed=config.seed,
                env_kwargs=kwargs,
                vectorization=config.vector,
                timeout=config.env_timeout,
            )
        else:
            layout = read_spaces(config.env_id, env.single_observation_space, env.single_action_space)
            self.env = agent_env(env, layout)  # one-hot observations, action indices or clipping, as training_env
        self.layout = layout
        # Any autoreset mode: the environment's own (Gymnasium's native vector envs, the fastest, run NEXT_STEP).
        self._mode = autoreset_mode_of(self.env)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.model = _policy(config, layout).to(self.device)
        self.flat = FlatParameters(self.model)  # one tensor to zero, measure and step
        self.optimizer = torch.optim.Adam([self.flat.parameter], lr=config.learning_rate, fused=True)
        self.flat.attach(self.optimizer)
        self.sampling = torch.Generator(self.device).manual_seed(config.seed + 1)
        self.updates_done = 0
        self.env_steps = 0
        self._reset_seed: int | None = config.seed  # the next epoch's first reset; None: continue the streams
        self._masks: ActionMaskReader | None = None  # the environment's action masks, found at the first reset
        self._masks_found = False

    @property
    def actor(self) -> nn.Module:
        """The policy network (observation → logits, or the Gaussian's mean for Box actions): what greedy
        evaluation runs."""
        return _actor(self.model)

    def modules(self) -> dict[str, nn.Module]:
        """``{"model": the policy}`` for checkpoints."""
        return {"model": self.model}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """``{"optimizer": Adam}`` for checkpoints."""
        return {"optimizer": self.optimizer}

    def _play(
        self,
    ) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray, np.ndarray, np.ndarray, torch.Tensor | None]:
        """Play whole episodes; return observations, actions, rewards, terminated, truncated, recorded [V, N], and
        the action masks [V, N, A] (``None`` for an environment without them)."""
        env, n_envs = self.env, self.env.num_envs
        observations_np, info = env.reset(seed=self._reset_seed)
        self._reset_seed = None
        if not self._masks_found and self.layout.action_kind != "box":
            self._masks_found = True
            groups = self.layout.action_nvec or (self.layout.n_actions,)
            self._masks = ActionMaskReader.detect(env, info, groups, where="Reinforce", error=TrainingError)
        reader = self._masks
        masks_np = None if reader is None else reader.read(info, step=0)
        columns: dict[str, list[Any]] = {k: [] for k in ("obs", "act", "rew", "term", "trunc", "open", "mask")}
        open_envs = np.ones(n_envs, dtype=np.bool_)  # sub-environments whose current episode is recorded
        resetting = np.zeros(n_envs, dtype=np.bool_)  # NEXT_STEP: this step only resets these (not the agent's)
        recorded = 0
        while open_envs.any():
            # Copies: a vector env may hand back the same buffers at every step.
            observations = torch.tensor(observations_np, dtype=torch.float32, device=self.device)
            with torch.no_grad():
                outputs = self.model(observations.flatten(1))
                if masks_np is not None:
                    masks = torch.from_numpy(masks_np).to(self.device)
                    columns["mask"].append(masks)
                    outputs = mask_logits(outputs, masks)
                if isinstance(self.model, GaussianPolicy):
                    noise = torch.randn(outputs.shape, generator=self.sampling, device=self.device)
                    actions = (outputs + self.model.log_std.exp() * noise).reshape(n_envs, *self.layout.action_shape)
                elif self.layout.action_kind == "multi_discrete":
                    nvec = self.layout.action_nvec
                    uniform = torch.rand(n_envs, len(nvec), generator=self.sampling, device=self.device)
                    actions = sample_multi_categorical(outputs, nvec, uniform)
                else:
                    uniform = torch.rand(n_envs, generator=self.sampling, device=self.device)
                    actions = sample_categorical(outputs, uniform)
            actions_np = actions.cpu().numpy()
            next_np, rewards, terminated, truncated, info = env.step(actions_np)
            steps = len(columns["obs"]) + 1
            recording = open_envs & ~resetting
            for key, value in (("obs", observations), ("act", actions), ("open", recording)):
                columns[key].append(value)
            columns["rew"].append(np.array(rewards, dtype=np.float32))
            columns["term"].append(np.array(terminated, dtype=np.bool_))
            columns["trunc"].append(np.array(truncated, dtype=np.bool_))
            recorded += int(recording.sum())
            done = (terminated | truncated) & ~resetting
            if recorded > self.config.min_steps_per_update:
                open_envs = open_envs & ~done  # past the count: finish the running episodes, start none
            if reader is not None:
                masks_np = reader.read(info, step=steps)
            if self._mode is AutoresetMode.NEXT_STEP:
                resetting = done
            elif self._mode is AutoresetMode.DISABLED and done.any():
                next_np, info = env.reset(options={"reset_mask": done})
                if reader is not None:
                    masks_np = reader.read(info, step=steps, rows=done, previous=masks_np)
            observations_np = next_np
        return (
            torch.stack(columns["obs"]),
            torch.stack(columns["act"]),
            np.stack(columns["rew"]).astype(np.float32),
            np.stack(columns["term"]),
            np.stack(columns["trunc"]),
            np.stack(columns["open"]),
            torch.stack(columns["mask"]) if columns["mask"] else None,
        )

    def update(self) -> UpdateStats:
        """Play one batch of whole episodes and take one policy-gradient step."""
        update = self.updates_done + 1
        try:
            observations, actions, rewards_np, terminated_np, truncated_np, recorded_np, masks = self._play()
        except InputError as error:  # e.g. NaN logits from the network: say which update
            raise TrainingError(f"update {update}: {error}") from error
        rewards = torch.from_numpy(rewards_np).to(self.device)
        terminated = torch.from_numpy(terminated_np).to(self.device)
        truncated = torch.from_numpy(truncated_np).to(self.device)
        recorded = torch.from_numpy(recorded_np).to(self.device)
        # Every recorded episode ends inside the update, so the reward-to-go never crosses into unrecorded steps.
        reward_to_go = discounted_returns(rewards, terminated, truncated, gamma=self.config.gamma)

        outputs = self.model(observations[recorded].flatten(1))
        if masks is not None:  # the masks the actions were sampled under
            outputs = mask_logits(outputs, masks[recorded])
        if isinstance(self.model, GaussianPolicy):
            log_std = self.model.log_std
            log_probs = gaussian_log_prob(outputs, log_std, actions[recorded].reshape(outputs.shape))
            entropy = gaussian_entropy(log_std.detach(), outputs.shape[0])
        elif self.layout.action_kind == "multi_discrete":  # a product of categoricals: sums over components
            log_probs, entropy = multi_categorical_log_prob_and_entropy(
                outputs, self.layout.action_nvec, actions[recorded]
            )
            entropy = entropy.detach()
        else:
            log_probs = categorical_log_prob(outputs, actions[recorded])
            entropy = categorical_entropy(outputs.detach())
        loss = -(reward_to_go[recorded] * log_probs).mean()
        if not bool(torch.isfinite(loss)):
            raise TrainingError(f"update {update}: the policy-gradient loss is {float(loss)}")
        self.flat.check_layout()
        self.flat.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        # No clipping (as the example); the norm is only checked, so a non-finite gradient stops the run.
        grad_norm = self.flat.clip_grad_norm_(math.inf)
        if not bool(torch.isfinite(grad_norm)):
            raise TrainingError(f"update {update}: the gradient norm is {float(grad_norm)}")
        self.optimizer.step()

        ends = recorded_np & (terminated_np | truncated_np)
        episode_returns, episode_lengths = _episodes(rewards_np, ends, recorded_np)
        self.updates_done = update
        self.env_steps += int(recorded_np.sum())
        mean_return = float(np.mean(episode_returns))
        return UpdateStats(
            update=update,
            env_steps=self.env_steps,
            losses={"policy_gradient": float(loss.detach())},
            entropy=float(entropy.mean()),
            learning_rate=self.config.learning_rate,
            episode_returns=tuple(episode_returns),
            episode_lengths=tuple(episode_lengths),
            # The tch-rs example's line, under its own name for an update.
            line=f"epoch: {update:<3} episodes: {len(episode_returns):<5} avg reward per episode: {mean_return:.2f}",
        )

    def state(self) -> dict[str, Any]:
        """Progress and the sampling generator's state, for a checkpoint."""
        return {"updates_done": self.updates_done, "env_steps": self.env_steps, "sampling": self.sampling.get_state()}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state` returned (``epochs_done`` is what typedrl 0.1 called ``updates_done``)."""
        self.updates_done = int(state["updates_done"] if "updates_done" in state else state["epochs_done"])
        self.env_steps = int(state["env_steps"])
        self.sampling.set_state(state["sampling"])

    def close(self) -> None:
        """Close the training environments."""
        self.env.close()

    def restart_environments(self, seed: int) -> None:
        """Reset the environments with ``seed`` at the next update (a resumed run passes a seed of its own, so it
        does not replay the first episodes of the run)."""
        self._reset_seed = seed


def _episodes(rewards: np.ndarray, ends: np.ndarray, recorded: np.ndarray) -> tuple[list[float], list[int]]:
    """Undiscounted returns and lengths of the recorded episodes, in the order (step, env) they end."""
    totals = np.cumsum(np.where(recorded, rewards, 0.0), axis=0, dtype=np.float64)
    lengths = np.cumsum(recorded, axis=0)
    returns: list[float] = []
    steps: list[int] = []
    last_total = np.zeros(rewards.shape[1])
    last_length = np.zeros(rewards.shape[1], dtype=np.int64)
    for t, n in zip(*np.nonzero(ends), strict=True):
        returns.append(float(totals[t, n] - last_total[n]))
        steps.append(int(lengths[t, n] - last_length[n]))
        last_total[n], last_length[n] = totals[t, n], lengths[t, n]
    return returns, steps


class GaussianPolicy(nn.Module):
    """REINFORCE's policy for Box actions: ``N(mean(s), diag(σ²))`` with ``mean`` the example's MLP (``A`` outputs,
    the Box's elements) and ``log σ`` a learned vector ``[A]`` that does not depend on the state, starting at
    ``log_std_init`` (as :class:`~typedrl.policies.ActorCritic` for PPO)."""

    def __init__(self, mean: nn.Sequential, size: int, log_std_init: float) -> None:
        super().__init__()
        self.mean = mean
        self.log_std = nn.Parameter(torch.full((size,), float(log_std_init)))

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """The mean ``[B, A]`` of flat observations ``[B, obs]``."""
        means: torch.Tensor = self.mean(observations)
        return means


def _policy(config: ReinforceConfig, layout: Spaces) -> nn.Module:
    network = mlp(layout.observation_size, layout.n_actions, hidden=config.hidden, layers=1)
    if layout.action_kind == "box":
        return GaussianPolicy(network, layout.n_actions, config.log_std_init)
    return network


def _actor(policy: nn.Module) -> nn.Module:
    """What greedy evaluation runs: the logits network, or the Gaussian's mean network."""
    return policy.mean if isinstance(policy, GaussianPolicy) else policy


def _evaluation_actor(config: ReinforceConfig, layout: Spaces) -> tuple[dict[str, nn.Module], nn.Module]:
    policy = _policy(config, layout)
    return {"model": policy}, _actor(policy)


register(
    "reinforce",
    config=ReinforceConfig,
    algorithm=Reinforce,
    evaluation_actor=_evaluation_actor,
    presets=REINFORCE_PRESETS,
    description="Train REINFORCE (the tch-rs CartPole example).",
)
