"""Proximal policy optimization (Schulman et al. 2017, arXiv:1707.06347), after TorchLean's PPO CartPole demo.

One update, top to bottom (:meth:`PPO.update`), every decision in this file:

1. collect ``horizon`` steps from each of ``num_envs`` checked environments (:class:`~typedrl.RolloutCollector`;
   with ``env_backend: torch``, typedrl's tensor environments and :class:`~typedrl.TensorRolloutCollector`);
2. advantages by GAE, ``Aₜ = δₜ + γλ(1 − doneₜ)Aₜ₊₁`` with truncation bootstrapped from the final observation's
   value (:func:`~typedrl.gae`); value targets the λ-returns ``G^λₜ = Aₜ + Vₜ`` of the **unnormalized**
   advantages; advantages z-scored over the batch, per minibatch, or not (``normalize_advantage``);
3. ``epochs`` passes over the batch in shuffled minibatches, each one Adam step on :func:`~typedrl.ppo_loss`

   ``L = −mean(min(ρ·Â, clip(ρ, 1−ε, 1+ε)·Â)) + c_v·L_V − c_e·mean(H[π(·|s)])``,  ``ρ = π(a|s) / π_old(a|s)``,

   ``L_V = mean((V(s) − G^λ)²)``, or with value clipping (``clip_range_vf = ε_V``, as in the PPO2 baselines and
   CleanRL's ``clip_vloss``) ``L_V = mean(max((V − G^λ)², (V_old + clip(V − V_old, −ε_V, ε_V) − G^λ)²))``;
   the global gradient norm is clipped to ``max_grad_norm`` before each step (and checked: a non-finite loss or
   gradient stops the run);
4. with ``target_kl``, the epochs stop at the first minibatch whose approximate KL
   ``mean((ρ − 1) − log ρ)`` exceeds ``1.5 · target_kl``, before its step (SB3's rule).

The loss's gradient is written in closed form (one autograd node; equal to autograd's on the same formula, as
:func:`~typedrl.losses.ppo_loss_reference` tests), and the parameters live in one flat buffer
(:class:`~typedrl.algos.flat.FlatParameters`), so zeroing, clipping and the Adam step are one tensor each: together
they make a gradient step about a third cheaper on a CPU, with the same result to rounding.

The learning rate and ``ε`` are annealed linearly to 0 over the budget when the config says so. A non-finite
loss or gradient raises :class:`~typedrl.errors.TrainingError` naming the update and the quantity.

SB3 differs in two details: it clips the value prediction alone (no ``max``), and it normalizes advantages per
minibatch by default (``normalize_advantage="minibatch"`` here).
"""

from typing import Any, NoReturn

import torch
from gymnasium.vector import VectorEnv
from torch import Tensor, nn

from typedrl._spaces import Spaces, agent_env, read_spaces
from typedrl.algos.base import (
    UpdateStats,
    check_squash,
    register,
    resolve_device,
    tensor_training_env,
    training_env,
)
from typedrl.algos.flat import FlatParameters
from typedrl.collect import RolloutCollector
from typedrl.collect_tensor import TensorRolloutCollector
from typedrl.config import PPO_PRESETS, PPOConfig
from typedrl.errors import ConfigError, InputError, RolloutError, TrainingError
from typedrl.losses import PPOLoss, gaussian_ppo_loss, ppo_loss, ppo_objective
from typedrl.masks import mask_logits
from typedrl.normalize import RewardScaler
from typedrl.policies import ActorCritic, SampledPolicy
from typedrl.records import ActorCriticSample
from typedrl.returns import gae, normalize_advantages

__all__ = ["PPO", "build_ppo", "explained_variance"]


class PPO:
    """A PPO run's state: environment, collector, actor-critic, optimizer and generators.

    Everything random comes from ``config.seed``: the environments' seeds, the network initialisation (under a
    forked global RNG, so the caller's RNG is untouched), the action sampling and the minibatch shuffling.
    """

    def __init__(self, config: PPOConfig, *, env: VectorEnv[Any, Any, Any] | None = None) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        tensors = env is None and config.env_backend == "torch"
        if tensors:  # typedrl's tensor environments, collected without numpy (TensorRolloutCollector)
            if config.squash_actions:
                raise ConfigError(
                    "squash_actions is true; env_backend torch sends Box actions clipped, not squashed",
                    "squash_actions",
                )
            self.env, layout = tensor_training_env(config.env_id, config.num_envs, device=self.device)
        elif env is None:
            self.env, layout = training_env(
                config.env_id,
                num_envs=config.num_envs,
                seed=config.seed,
                squash=config.squash_actions,
                vectorization=config.vector,
                timeout=config.env_timeout,
            )
        else:
            layout = read_spaces(config.env_id, env.single_observation_space, env.single_action_space)
            if config.squash_actions:
                check_squash(config.env_id, layout)
            # Flat observations, action indices, clipping or squashing, as training_env.
            self.env = agent_env(env, layout, squash=config.squash_actions)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.model = _actor_critic(config, layout).to(self.device)
        # The parameters as views of one buffer: zeroing, clipping and the Adam step are one tensor op each, and
        # the fused Adam kernel one op per step. Adam's epsilon is SB3's for PPO.
        self.flat = FlatParameters(self.model)
        self.optimizer = torch.optim.Adam([self.flat.parameter], lr=config.learning_rate, eps=1e-5, fused=True)
        self.flat.attach(self.optimizer)
        self.sampling = torch.Generator(self.device).manual_seed(config.seed + 1)
        self.shuffling = torch.Generator().manual_seed(config.seed + 2)
        collector = TensorRolloutCollector if tensors else RolloutCollector
        self.collector: RolloutCollector | TensorRolloutCollector = collector(
            self.env,
            SampledPolicy(self.model, self.sampling),
            horizon=config.horizon,
            seed=config.seed,
            device=self.device,
        )
        # The agent learns from rewards scaled by the running return's std; logs and evaluation see raw ones.
        self.reward_scaler = RewardScaler(self.env.num_envs, gamma=config.gamma) if config.normalize_rewards else None
        self.updates_done = 0
        self.env_steps = 0

    @property
    def actor(self) -> nn.Module:
        """The actor alone (observation → logits), what greedy evaluation runs."""
        return self.model.actor

    def modules(self) -> dict[str, nn.Module]:
        """``{"model": the actor-critic}`` for checkpoints."""
        return {"model": self.model}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """``{"optimizer": Adam}`` for checkpoints."""
        return {"optimizer": self.optimizer}

    def _schedule(self) -> tuple[float, float]:
        """(learning rate, clip ε) for the next update: linear from the start value to 0 when annealed."""
        remaining = 1.0 - self.updates_done / self.config.updates
        learning_rate = self.config.learning_rate * (remaining if self.config.anneal_lr else 1.0)
        clip = self.config.clip * (remaining if self.config.anneal_clip else 1.0)
        return learning_rate, clip

    def _sample(self, update: int) -> ActorCriticSample:
        """Collect a rollout; GAE advantages and λ-return targets, flattened to ``B = T·N`` rows."""
        config = self.config
        try:
            with torch.no_grad():
                rollout = self.collector.collect()
                rewards = rollout.rewards
                if self.reward_scaler is not None:
                    rewards = self.reward_scaler(rewards, rollout.done)
                advantages = gae(
                    rewards,
                    rollout.values,
                    rollout.next_values,
                    rollout.terminated,
                    rollout.truncated,
                    gamma=config.gamma,
                    lam=config.lam,
                )
                returns = advantages + rollout.values  # λ-returns of the unnormalized advantages: the value targets
                if config.normalize_advantage == "batch":
                    advantages = normalize_advantages(advantages)
            batch = rollout.horizon * rollout.n_envs
            return ActorCriticSample(
                observations=rollout.observations.reshape(batch, *rollout.observation_shape),
                actions=rollout.actions.reshape(batch, *rollout.action_shape),
                log_probs=rollout.log_probs.reshape(batch),
                advantages=advantages.reshape(batch),
                returns=returns.reshape(batch),
                values=rollout.values.reshape(batch),
                action_masks=None if rollout.action_masks is None else rollout.action_masks.reshape(batch, -1),
            )
        except (RolloutError, InputError) as error:  # e.g. NaN logits or values from the networks: say which update
            raise TrainingError(f"update {update}: {error}") from error

    def update(self) -> UpdateStats:
        """Collect one rollout and run the PPO epochs on it."""
        config, model = self.config, self.model
        update = self.updates_done + 1
        learning_rate, clip = self._schedule()
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate
        sample = self._sample(update)

        model.train()
        self.flat.check_layout()
        epochs_done, stopped = 0, False
        watch_kl = config.target_kl is not None
        no_clip = float("inf")  # the norm is still computed (and checked) when clipping is off
        max_norm = config.max_grad_norm if config.max_grad_norm is not None else no_clip
        # Sums over the last pass (or the part of it before an early stop): policy loss, value loss, entropy,
        # approx KL, clip fraction. Without target_kl the last pass is known, and only it is measured.
        totals, minibatches = torch.zeros(5, device=self.device), 0
        for epoch in range(config.epochs):
            measure = watch_kl or epoch == config.epochs - 1
            totals, minibatches = torch.zeros(5, device=self.device), 0
            # One minibatch is the whole batch: no permutation to draw or rows to gather (the loss is a mean).
            count = config.minibatch_count
            batches = (sample,) if count == 1 else sample.minibatches(count, generator=self.shuffling)
            for batch in batches:
                advantages = batch.advantages
                if config.normalize_advantage == "minibatch":
                    advantages = normalize_advantages(advantages)
                outputs, values = model(batch.observations)
                terms = self._loss(outputs, values, batch, advantages, clip)
                if watch_kl and float(terms.approx_kl) > 1.5 * config.target_kl:  # type: ignore[operator]
                    stopped = True  # SB3's rule: this minibatch takes no step, and the epochs end
                    break

                self.flat.zero_grad()
                terms.loss.backward()  # type: ignore[no-untyped-call]
                # One check for the loss and the gradients: a non-finite loss makes a non-finite norm.
                grad_norm = self.flat.clip_grad_norm_(max_norm)
                if not bool(torch.isfinite(grad_norm)):
                    _raise_not_finite(update, terms, grad_norm)
                self.optimizer.step()

                if measure:
                    totals += torch.stack(terms[1:]).detach()  # policy, value, entropy, approx KL, clip fraction
                    minibatches += 1
            if stopped:
                break
            epochs_done += 1
        means = (totals / max(minibatches, 1)).cpu().tolist()
        if model.normalizer is not None:
            # After the update: collection and update of one rollout see the same statistics (the ratio starts at
            # 1), and the next rollout is normalized with this one's observations folded in.
            model.normalizer.update(sample.observations.flatten(1))

        self.updates_done = update
        self.env_steps += sample.batch_size
        return UpdateStats(
            update=update,
            env_steps=self.env_steps,
            losses={"policy": means[0], "value": means[1]},
            entropy=means[2],
            learning_rate=learning_rate,
            episode_returns=tuple(self.collector.episode_returns),
            episode_lengths=tuple(self.collector.episode_lengths),
            approx_kl=means[3],
            clip_fraction=means[4],
            clip_range=clip,
            explained_variance=explained_variance(sample.values, sample.returns),
            epochs=epochs_done + (1 if stopped and minibatches else 0),
        )

    def _loss(
        self, outputs: Tensor, values: Tensor, batch: ActorCriticSample, advantages: Tensor, clip: float
    ) -> PPOLoss:
        """PPO's loss on one minibatch: :func:`~typedrl.ppo_loss` for discrete actions and
        :func:`~typedrl.losses.gaussian_ppo_loss` for Box ones (closed-form gradients), and
        :func:`~typedrl.losses.ppo_objective` on the policy's log-probabilities and entropy for MultiDiscrete ones
        (the product of categoricals)."""
        config = self.config
        options: dict[str, Any] = {
            "clip": clip,
            "value_coef": config.value_coef,
            "entropy_coef": config.entropy_coef,
            "old_values": batch.values,
            "clip_range_vf": config.clip_range_vf,
        }
        if batch.action_masks is not None:  # the masks the actions were sampled under: masked logits are -inf
            outputs = mask_logits(outputs, batch.action_masks)
        if self.model.action_kind == "discrete":
            return ppo_loss(outputs, values, batch.actions, batch.log_probs, advantages, batch.returns, **options)
        if self.model.action_kind == "box":
            samples = batch.actions.reshape(outputs.shape)
            return gaussian_ppo_loss(
                outputs,
                self.model.log_std,
                values,
                samples,
                batch.log_probs,
                advantages,
                batch.returns,
                squashed=self.model.squash,
                **options,
            )
        log_probs, entropies = self.model.log_prob_and_entropy(outputs, batch.actions)
        return ppo_objective(log_probs, entropies, values, batch.log_probs, advantages, batch.returns, **options)

    def state(self) -> dict[str, Any]:
        """Progress and generator states, for a checkpoint (modules and optimizer are saved separately)."""
        state: dict[str, Any] = {
            "updates_done": self.updates_done,
            "env_steps": self.env_steps,
            "sampling": self.sampling.get_state(),
            "shuffling": self.shuffling.get_state(),
        }
        if self.reward_scaler is not None:
            state["reward_scaler"] = self.reward_scaler.state()
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state` returned."""
        self.updates_done = int(state["updates_done"])
        self.env_steps = int(state["env_steps"])
        self.sampling.set_state(state["sampling"])
        self.shuffling.set_state(state["shuffling"])
        if self.reward_scaler is not None and "reward_scaler" in state:
            self.reward_scaler.load_state(state["reward_scaler"])

    def close(self) -> None:
        """Close the training environments."""
        self.env.close()

    def restart_environments(self, seed: int) -> None:
        """Start new episodes at the next update, the environments reset with ``seed`` (a resumed run passes a
        seed of its own, so it does not replay the first episodes of the run)."""
        self.collector.restart(seed)
        if self.reward_scaler is not None:
            self.reward_scaler.returns[:] = 0.0  # new episodes: their discounted returns start at 0


def explained_variance(values: Tensor, targets: Tensor) -> float | None:
    """``1 − Var(G − V) / Var(G)``: how much of the targets' variance the values explain (1 is perfect, 0 is no
    better than a constant, negative is worse); ``None`` where ``Var(G) = 0``. As SB3 logs it."""
    variance = targets.var(unbiased=False)
    if not bool(variance > 0):
        return None
    return float(1.0 - (targets - values).var(unbiased=False) / variance)


def _raise_not_finite(update: int, terms: PPOLoss, grad_norm: Tensor) -> NoReturn:
    """TrainingError naming the first non-finite loss term, else the loss, else the gradient norm."""
    loss = terms.loss
    named = {"policy": terms.policy_loss, "value": terms.value_loss, "entropy": terms.entropy}
    for name, quantity in named.items():
        if not bool(torch.isfinite(quantity)):
            raise TrainingError(
                f"update {update}: the {name} {'loss ' if name != 'entropy' else ''}is {float(quantity)}"
            )
    if not bool(torch.isfinite(loss)):
        raise TrainingError(f"update {update}: the loss is {float(loss)}")
    raise TrainingError(f"update {update}: the gradient norm is {float(grad_norm)}")


def _actor_critic(config: PPOConfig, layout: Spaces) -> ActorCritic:
    return ActorCritic(
        layout.observation_size,
        layout.n_actions,
        hidden=config.hidden,
        layers=config.layers,
        activation=config.activation,
        action_kind=layout.action_kind,
        action_shape=layout.action_shape,
        log_std_init=config.log_std_init,
        ortho_init=config.ortho_init,
        normalize_observations=config.normalize_observations,
        action_nvec=layout.action_nvec,
        squash_bounds=layout.action_bounds if config.squash_actions else None,
    )


def _evaluation_actor(config: PPOConfig, layout: Spaces) -> tuple[dict[str, nn.Module], nn.Module]:
    if config.agents > 1:  # BatchedPPO's checkpoint: agent 0's actor
        from typedrl.stacked import StackedActorCritic

        stacked = StackedActorCritic([_actor_critic(config, layout) for _ in range(config.agents)])
        return {"model": stacked}, stacked.head(0)
    model = _actor_critic(config, layout)
    return {"model": model}, model.actor


def build_ppo(config: PPOConfig) -> Any:
    """The PPO trainer ``config`` asks for: :class:`PPO` for one agent (on Gymnasium environments, today's run bit
    for bit; on the tensor environments, collected by :class:`~typedrl.collect_tensor.TensorRolloutCollector`),
    :class:`~typedrl.algos.batched.BatchedPPO` for ``agents > 1``."""
    if config.agents > 1:
        from typedrl.algos.batched import BatchedPPO

        return BatchedPPO(config)
    return PPO(config)


register(
    "ppo",
    config=PPOConfig,
    algorithm=build_ppo,
    evaluation_actor=_evaluation_actor,
    presets=PPO_PRESETS,
    description="Train PPO (default: CartPole-v1, tuned preset).",
)
