"""Proximal policy optimization (Schulman et al. 2017, arXiv:1707.06347), after TorchLean's PPO CartPole demo.

One update, top to bottom (:meth:`PPO.update`):

1. collect ``horizon`` steps from each of ``num_envs`` checked environments (:class:`~typedrl.RolloutCollector`);
2. turn the rollout into a training sample: GAE advantages, z-scored, and λ-return value targets, with truncation
   bootstrapped from the final observation's value (:meth:`~typedrl.Rollout.to_actor_critic_sample`);
3. ``epochs`` passes over the sample in ``minibatches`` shuffled minibatches, each one Adam step on

   ``L = −mean(min(ρ·Â, clip(ρ, 1−ε, 1+ε)·Â)) + c_v·mean((V(s) − G^λ)²) − c_e·mean(H[π(·|s)])``,
   ``ρ = π(a|s) / π_old(a|s)``,

   with the global gradient norm clipped to ``max_grad_norm``. The learning rate and ``ε`` are annealed linearly
   to 0 over the run when the config says so.

A non-finite loss or gradient raises :class:`~typedrl.errors.TrainingError` naming the update and the quantity.
"""

from dataclasses import dataclass
from typing import Any

import gymnasium
import torch
from gymnasium import spaces

from typedrl.collect import RolloutCollector
from typedrl.config import PPOConfig
from typedrl.envs import CheckedVectorEnv, make_env
from typedrl.errors import ConfigError, RolloutError, TrainingError
from typedrl.policies import ActorCritic, SampledPolicy, categorical_entropy, categorical_log_prob

__all__ = ["PPO", "UpdateStats", "discrete_spaces", "resolve_device", "training_env"]


@dataclass(frozen=True)
class UpdateStats:
    """What one update measured. Losses, entropy, KL and clip fraction are means over the last epoch."""

    update: int
    env_steps: int
    policy_loss: float
    value_loss: float
    entropy: float
    approx_kl: float
    clip_fraction: float
    learning_rate: float
    episode_returns: tuple[float, ...]


def resolve_device(device: str) -> torch.device:
    """``torch.device(device)``, or a :class:`~typedrl.errors.ConfigError` when CUDA is asked for and absent."""
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device is 'cuda', but torch sees no CUDA device; use --device cpu", "device")
    return torch.device(device)


def training_env(env_id: str, **kwargs: Any) -> CheckedVectorEnv:
    """``make_env(env_id, **kwargs)``, with an unknown or unbuildable env id reported as a ConfigError."""
    try:
        return make_env(env_id, **kwargs)
    except gymnasium.error.Error as error:
        raise ConfigError(f"env_id is {env_id!r}: {error}", "env_id") from None


def discrete_spaces(env: CheckedVectorEnv, env_id: str) -> tuple[int, int]:
    """(observation size, number of actions) of a Box-observation, Discrete-action vector env."""
    observation_space, action_space = env.single_observation_space, env.single_action_space
    if not isinstance(observation_space, spaces.Box):
        raise ConfigError(f"env {env_id!r} has {observation_space} observations; expected a Box space", "env_id")
    if not isinstance(action_space, spaces.Discrete):
        raise ConfigError(f"env {env_id!r} has {action_space} actions; expected a Discrete space", "env_id")
    size = 1
    for dim in observation_space.shape:
        size *= dim
    return size, int(action_space.n)


class PPO:
    """A PPO run's state: environment, collector, actor-critic, optimizer and generators.

    Everything random comes from ``config.seed``: the environments' seeds, the network initialisation (under a
    forked global RNG, so the caller's RNG is untouched), the action sampling and the minibatch shuffling.
    """

    def __init__(self, config: PPOConfig, *, env: CheckedVectorEnv | None = None) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        self.env = env if env is not None else training_env(config.env_id, num_envs=config.num_envs, seed=config.seed)
        observation_size, n_actions = discrete_spaces(self.env, config.env_id)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.model = ActorCritic(
                observation_size,
                n_actions,
                hidden=config.hidden,
                layers=config.layers,
                activation=config.activation,
            ).to(self.device)
        # SB3's Adam epsilon for PPO; the fused kernel is one op per step instead of one per tensor.
        self.parameters = list(self.model.parameters())
        self.optimizer = torch.optim.Adam(self.parameters, lr=config.learning_rate, eps=1e-5, fused=True)
        self.sampling = torch.Generator(self.device).manual_seed(config.seed + 1)
        self.shuffling = torch.Generator().manual_seed(config.seed + 2)
        self.collector = RolloutCollector(
            self.env,
            SampledPolicy(self.model, self.sampling),
            horizon=config.horizon,
            seed=config.seed,
            device=self.device,
        )
        self.updates_done = 0
        self.env_steps = 0

    def _schedule(self) -> tuple[float, float]:
        """(learning rate, clip ε) for the next update: linear from the start value to 0 when annealed."""
        remaining = 1.0 - self.updates_done / self.config.updates
        learning_rate = self.config.learning_rate * (remaining if self.config.anneal_lr else 1.0)
        clip = self.config.clip * (remaining if self.config.anneal_clip else 1.0)
        return learning_rate, clip

    def update(self) -> UpdateStats:
        """Collect one rollout and run the PPO epochs on it."""
        config, model = self.config, self.model
        update = self.updates_done + 1
        learning_rate, clip = self._schedule()
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate

        try:
            with torch.no_grad():
                rollout = self.collector.collect()
            sample = rollout.to_actor_critic_sample(gamma=config.gamma, lam=config.lam)
        except RolloutError as error:  # e.g. the critic produced NaN values: say which update
            raise TrainingError(f"update {update}: {error}") from error

        model.train()
        for epoch in range(config.epochs):
            last_epoch = epoch == config.epochs - 1
            totals = torch.zeros(5)  # policy loss, value loss, entropy, approx KL, clip fraction (sums)
            for batch in sample.minibatches(config.minibatches, generator=self.shuffling):
                logits, values = model(batch.observations)
                log_probs = categorical_log_prob(logits, batch.actions)
                log_ratio = log_probs - batch.log_probs
                ratio = log_ratio.exp()
                surrogate = torch.min(ratio * batch.advantages, ratio.clamp(1.0 - clip, 1.0 + clip) * batch.advantages)
                policy_loss = -surrogate.mean()
                value_loss = (values - batch.returns).square().mean()
                entropy = categorical_entropy(logits).mean()
                loss = policy_loss + config.value_coef * value_loss - config.entropy_coef * entropy

                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self._check_finite(update, loss, policy_loss, value_loss, entropy)
                self.optimizer.step()
                if last_epoch:
                    with torch.no_grad():
                        approx_kl = ((ratio - 1.0) - log_ratio).mean()
                        clipped = ((ratio - 1.0).abs() > clip).float().mean()
                        totals += torch.stack([policy_loss, value_loss, entropy, approx_kl, clipped]).detach().cpu()
        means = (totals / config.minibatches).tolist()

        self.updates_done = update
        self.env_steps += rollout.horizon * rollout.n_envs
        return UpdateStats(
            update=update,
            env_steps=self.env_steps,
            policy_loss=means[0],
            value_loss=means[1],
            entropy=means[2],
            approx_kl=means[3],
            clip_fraction=means[4],
            learning_rate=learning_rate,
            episode_returns=tuple(self.collector.episode_returns),
        )

    def _check_finite(
        self, update: int, loss: torch.Tensor, policy: torch.Tensor, value: torch.Tensor, entropy: torch.Tensor
    ) -> None:
        """Raise TrainingError on a non-finite loss or gradient norm (and clip the norm when configured)."""
        if not bool(torch.isfinite(loss)):
            for name, quantity in (("policy loss", policy), ("value loss", value), ("entropy", entropy)):
                if not bool(torch.isfinite(quantity)):
                    raise TrainingError(f"update {update}: the {name} is {float(quantity)}")
            raise TrainingError(f"update {update}: the loss is {float(loss)}")
        max_norm = self.config.max_grad_norm if self.config.max_grad_norm is not None else float("inf")
        norm = torch.nn.utils.clip_grad_norm_(self.parameters, max_norm)
        if not bool(torch.isfinite(norm)):
            raise TrainingError(f"update {update}: the gradient norm is {float(norm)}")

    def state(self) -> dict[str, Any]:
        """Progress and generator states, for a checkpoint (modules and optimizer are saved separately)."""
        return {
            "updates_done": self.updates_done,
            "env_steps": self.env_steps,
            "sampling": self.sampling.get_state(),
            "shuffling": self.shuffling.get_state(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state` returned."""
        self.updates_done = int(state["updates_done"])
        self.env_steps = int(state["env_steps"])
        self.sampling.set_state(state["sampling"])
        self.shuffling.set_state(state["shuffling"])
