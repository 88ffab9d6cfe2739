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
from gymnasium.vector import VectorEnv

from typedrl import _validate
from typedrl._spaces import Spaces, index_actions, read_spaces
from typedrl.collect import RolloutCollector
from typedrl.config import PPOConfig
from typedrl.envs import make_env
from typedrl.errors import ConfigError, InputError, RolloutError, TrainingError
from typedrl.policies import ActorCritic, SampledPolicy, categorical_entropy, categorical_log_prob

__all__ = ["PPO", "UpdateStats", "resolve_device", "training_env"]


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
    """``device`` as a ``torch.device``; a :class:`~typedrl.errors.ConfigError` naming it when this torch cannot
    use it (CUDA asked for and absent, a GPU index past the last)."""
    try:
        return _validate.device("config", device, error=TrainingError)
    except TrainingError as error:
        raise ConfigError(str(error).removeprefix("config: "), "device") from None


def training_env(env_id: str, **kwargs: Any) -> tuple[VectorEnv[Any, Any, Any], Spaces]:
    """``make_env(env_id, **kwargs)`` for an agent: the checked vector env (taking action indices, see
    :func:`~typedrl._spaces.index_actions`) and its spaces.

    Raises:
        ConfigError: the id is unknown or cannot be made (a missing module or dependency, a constructor that
            raises), or its spaces are not ones the agents support.
    """
    try:
        env = make_env(env_id, **kwargs)
    except gymnasium.error.Error as error:
        raise ConfigError(f"env_id is {env_id!r}: {error}", "env_id") from None
    except InputError as error:  # the contract refuses the spaces: say it as the agents do
        spec = gymnasium.spec(env_id)
        probe = gymnasium.make(spec, **kwargs.get("env_kwargs", {}))
        try:
            read_spaces(env_id, probe.observation_space, probe.action_space)
        finally:
            probe.close()
        raise ConfigError(f"env_id is {env_id!r}: {error}", "env_id") from None
    except Exception as error:  # the env's own module or constructor failed
        detail = " ".join(f"{type(error).__name__}: {error}".split())
        raise ConfigError(f"env_id is {env_id!r}: it cannot be made: {detail}", "env_id") from None
    try:
        layout = read_spaces(env_id, env.single_observation_space, env.single_action_space)
    except ConfigError:
        env.close()
        raise
    return index_actions(env, layout), layout


class PPO:
    """A PPO run's state: environment, collector, actor-critic, optimizer and generators.

    Everything random comes from ``config.seed``: the environments' seeds, the network initialisation (under a
    forked global RNG, so the caller's RNG is untouched), the action sampling and the minibatch shuffling.
    """

    def __init__(self, config: PPOConfig, *, env: VectorEnv[Any, Any, Any] | None = None) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        if env is None:
            self.env, layout = training_env(config.env_id, num_envs=config.num_envs, seed=config.seed)
        else:
            self.env, layout = env, read_spaces(config.env_id, env.single_observation_space, env.single_action_space)
        observation_size, n_actions = layout.observation_size, layout.n_actions
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
        except (RolloutError, InputError) as error:  # e.g. NaN logits or values from the networks: say which update
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

    def restart_environments(self, seed: int) -> None:
        """Start new episodes at the next update, the environments reset with ``seed`` (a resumed run passes a
        seed of its own, so it does not replay the first episodes of the run)."""
        self.collector.restart(seed)
