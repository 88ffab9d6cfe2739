"""Many PPO agents at once: ``K`` independent agents (their own seeds, optionally their own hyperparameter
values) trained in lockstep as batched tensors, the PyTorch counterpart of ``jax.vmap`` over seeds in PureJaxRL
and rejax.

Each agent is exactly a PPO agent of :mod:`typedrl.algos.ppo` (same update, same formulas, same defaults); what is
batched is the arithmetic:

1. one vector env of ``K·N`` sub-environments (agent ``k`` owns sub-environments ``kN … kN+N−1``): typedrl's
   tensor environments (``env_backend: torch``, no numpy anywhere) or one Gymnasium vector env, checked by the
   contract as usual;
2. one forward of a :class:`~typedrl.stacked.StackedActorCritic` per vector step for all agents;
3. GAE, λ-returns and advantage z-scores per agent (each agent's own batch of ``T·N`` rows);
4. per epoch, an independent permutation of each agent's rows, and per minibatch one forward and one backward for
   all agents on the sum of their losses (each agent's gradient is its own loss's), then one
   :class:`~typedrl.stacked.StackedAdam` step with per-agent gradient clipping, learning rate and step count;
5. with ``target_kl``, each agent stops its own epochs at its first minibatch whose approximate KL exceeds
   ``1.5·target_kl`` (SB3's rule), and takes no further step in that update while the others go on.

Agent ``k`` is initialised as ``typedrl ppo --seed seed+k`` would initialise its single agent (the same weights),
samples its actions from its own stream and shuffles its own minibatches. It does not reproduce that single run
bit for bit (its random numbers are drawn batched, and a batched matrix product rounds differently), but it runs
the same algorithm on the same kind of data; a run with ``agents: 1`` is :class:`~typedrl.algos.ppo.PPO` itself.
"""

import itertools
import math
import warnings
from typing import Any, NamedTuple

import torch
from gymnasium.vector import VectorEnv
from torch import Tensor, nn

from typedrl.algos.base import UpdateStats, resolve_device, tensor_training_env, training_env
from typedrl.algos.ppo import _actor_critic, explained_variance
from typedrl.collect import PolicyStep, RolloutCollector
from typedrl.collect_tensor import TensorRolloutCollector
from typedrl.config import PPOConfig, SweepField
from typedrl.errors import ConfigError, InputError, RolloutError, TrainingError
from typedrl.evaluation import EvalResult
from typedrl.policies import ActorCritic
from typedrl.records import Rollout
from typedrl.returns import gae
from typedrl.stacked import StackedActorCritic, StackedAdam
from typedrl.summary import require_statistics

__all__ = ["BatchedPPO", "StackedPolicy"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_SWEPT_IN_THE_UPDATE: tuple[SweepField, ...] = (
    "learning_rate",
    "clip",
    "entropy_coef",
    "value_coef",
    "max_grad_norm",
    "target_kl",
)


class StackedPolicy:
    """A :class:`~typedrl.stacked.StackedActorCritic` as the collectors' :class:`~typedrl.collect.Policy` for a
    vector env of ``K·N`` sub-environments: rows ``kN … kN+N−1`` are agent ``k``'s.

    Sampling is unchecked (it runs once per vector step): discrete actions by inverse CDF from one uniform number
    per row, Box actions ``μ + σ·ε``. Non-finite logits show up as non-finite log-probabilities, which the rollout
    record refuses once per rollout.
    """

    def __init__(self, model: StackedActorCritic, generator: torch.Generator) -> None:
        self.model = model
        self.generator = generator

    def _split(self, observations: Tensor) -> Tensor:
        agents = self.model.agents
        return observations.reshape(agents, observations.shape[0] // agents, *observations.shape[1:])

    def act(self, observations: Tensor, action_masks: Tensor | None = None) -> PolicyStep:
        """Sample every row's action; return actions, log-probabilities and values, ``[K·N]`` each.

        Raises:
            ConfigError: the environment masks actions (``action_masks`` given): several agents do not support
                masks.
        """
        if action_masks is not None:
            raise ConfigError("agents > 1 does not support environments that mask actions; train one agent", "agents")
        model = self.model
        outputs, values = model(self._split(observations), frozen=True)
        agents, rows = outputs.shape[0], outputs.shape[1]
        if model.action_kind == "discrete":
            log_all = outputs.log_softmax(-1)
            uniform = torch.rand(agents, rows, 1, generator=self.generator, device=outputs.device)
            cumulative = log_all.exp().cumsum(-1)
            actions = (cumulative < uniform).sum(-1).clamp_(max=outputs.shape[-1] - 1)
            log_probs = log_all.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
            return PolicyStep(actions.reshape(-1), log_probs.reshape(-1), values.reshape(-1))
        noise = torch.randn(outputs.shape, generator=self.generator, device=outputs.device)
        log_std = model.log_std.unsqueeze(1)
        actions = outputs + log_std.exp() * noise
        log_probs = (-0.5 * noise.square() - log_std - _LOG_SQRT_2PI).sum(-1)
        flat = actions.reshape(agents * rows, *model.action_shape)
        return PolicyStep(flat, log_probs.reshape(-1), values.reshape(-1))

    def value(self, observations: Tensor) -> Tensor:
        """``V(s)`` for each row ``[K·N]`` (any multiple of ``K`` rows)."""
        values: Tensor = self.model(self._split(observations), frozen=True)[1]
        return values.reshape(-1)


class _Losses(NamedTuple):
    """Per-agent loss terms ``[K]``."""

    loss: Tensor
    policy: Tensor
    value: Tensor
    entropy: Tensor
    approx_kl: Tensor
    clip_fraction: Tensor


class BatchedPPO:
    """``config.agents`` PPO agents in one process (see the module docstring); the runner's
    :class:`~typedrl.algos.base.Algorithm`, with per-agent statistics in :attr:`UpdateStats.agents`.

    Raises:
        ConfigError: an option the batched agents do not support (observation normalization, squashing,
            MultiDiscrete actions, action masks), or ``env_backend: torch`` for an environment without a tensor
            implementation.
    """

    def __init__(self, config: PPOConfig) -> None:
        _refuse_unsupported(config)
        if config.agents > 1:
            require_statistics()
        self.config = config
        self.device = resolve_device(config.device)
        agents, per_agent = config.agents, config.num_envs
        self.agents = agents
        total = agents * per_agent
        env: VectorEnv[Any, Any, Any]
        if config.env_backend == "torch":
            env, layout = tensor_training_env(config.env_id, total, device=self.device)
        else:
            env, layout = training_env(
                config.env_id, num_envs=total, seed=config.seed, vectorization=config.vector, timeout=config.env_timeout
            )
        self.env = env
        self.layout = layout
        if layout.action_kind not in ("discrete", "box"):
            env.close()
            raise ConfigError(
                f"env_id is {config.env_id!r}: it has {layout.action_kind} actions; agents > 1 supports discrete "
                "and Box actions",
                "agents",
            )
        models = []
        for agent in range(agents):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(config.seed + agent)
                models.append(_actor_critic(config, layout).to(self.device))
        self.model = StackedActorCritic(models)
        self.optimizer = StackedAdam(self.model, lr=config.learning_rate, eps=1e-5)
        self.sampling = torch.Generator(self.device).manual_seed(config.seed + 1)
        self.shuffling = torch.Generator(self.device).manual_seed(config.seed + 2)
        policy = StackedPolicy(self.model, self.sampling)
        self.collector: RolloutCollector | TensorRolloutCollector
        if config.env_backend == "torch":
            self.collector = TensorRolloutCollector(
                env, policy, horizon=config.horizon, seed=config.seed, device=self.device
            )
        else:
            self.collector = RolloutCollector(env, policy, horizon=config.horizon, seed=config.seed, device=self.device)
        self._hyper = {
            name: torch.tensor(config.agent_values(name), dtype=torch.float32, device=self.device)
            for name in _SWEPT_IN_THE_UPDATE
        }
        self._gammas = config.agent_values("gamma")
        self._lams = config.agent_values("lam")
        self.updates_done = 0
        self.env_steps = 0

    # The runner's protocol -------------------------------------------------------------------------------------

    @property
    def actor(self) -> nn.Module:
        """Agent 0's actor as a single module (the runner's protocol); :meth:`evaluate_agents` evaluates all."""
        return self.agent_model(0).actor

    def agent_model(self, agent: int) -> ActorCritic:
        """Agent ``agent`` as a single :class:`~typedrl.policies.ActorCritic` (a copy of its current weights)."""
        model = _actor_critic(self.config, self.layout).to(self.device)
        model.load_state_dict(self.model.agent_state(agent))
        return model

    def modules(self) -> dict[str, nn.Module]:
        """``{"model": the stacked actor-critics}`` for checkpoints."""
        return {"model": self.model}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """``{"optimizer": the stacked Adam}`` for checkpoints."""
        return {"optimizer": self.optimizer}

    def state(self) -> dict[str, Any]:
        """Progress and generator states, for a checkpoint."""
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
        """Start new episodes at the next update, the environments reset with ``seed``."""
        self.collector.restart(seed)

    def close(self) -> None:
        """Close the training environments."""
        self.env.close()

    # Training --------------------------------------------------------------------------------------------------

    def _remaining(self) -> float:
        return 1.0 - self.updates_done / self.config.updates

    def _sample(self, update: int) -> tuple[dict[str, Tensor], Rollout]:
        """Collect; per-agent GAE, λ-return targets and z-scored advantages, agent-major ``[K, B, …]``."""
        config, agents = self.config, self.agents
        try:
            with torch.no_grad():
                rollout = self.collector.collect()
        except (RolloutError, InputError) as error:
            raise TrainingError(f"update {update}: {error}") from error
        horizon, per_agent = rollout.horizon, config.num_envs
        with torch.no_grad():
            if len(set(self._gammas)) == 1 and len(set(self._lams)) == 1:
                advantages = gae(
                    rollout.rewards,
                    rollout.values,
                    rollout.next_values,
                    rollout.terminated,
                    rollout.truncated,
                    gamma=self._gammas[0],
                    lam=self._lams[0],
                )
            else:  # swept discounts: one call per agent, on its columns
                parts = []
                for agent in range(agents):
                    columns = slice(agent * per_agent, (agent + 1) * per_agent)
                    parts.append(
                        gae(
                            rollout.rewards[:, columns],
                            rollout.values[:, columns],
                            rollout.next_values[:, columns],
                            rollout.terminated[:, columns],
                            rollout.truncated[:, columns],
                            gamma=self._gammas[agent],
                            lam=self._lams[agent],
                        )
                    )
                advantages = torch.cat(parts, dim=1)
            returns = advantages + rollout.values

        def agent_major(tensor: Tensor) -> Tensor:
            """``[T, K·N, …]`` → ``[K, T·N, …]``: agent ``k``'s rows, time-major within."""
            rest = tensor.shape[2:]
            return tensor.reshape(horizon, agents, per_agent, *rest).transpose(0, 1).reshape(agents, -1, *rest)

        batch = {
            "observations": agent_major(rollout.observations.flatten(2)),
            "actions": agent_major(rollout.actions),
            "log_probs": agent_major(rollout.log_probs),
            "advantages": agent_major(advantages),
            "returns": agent_major(returns),
            "values": agent_major(rollout.values),
        }
        if config.normalize_advantage == "batch":
            batch["advantages"] = _z_scores(batch["advantages"])
        return batch, rollout

    def _losses(self, batch: dict[str, Tensor], clip: Tensor) -> _Losses:
        config, model = self.config, self.model
        outputs, values = model(batch["observations"])
        advantages = batch["advantages"]
        if config.normalize_advantage == "minibatch":
            advantages = _z_scores(advantages)
        actions = batch["actions"]
        if model.action_kind == "discrete":
            log_all = outputs.log_softmax(-1)
            log_probs = log_all.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
            entropy = -(log_all.exp() * log_all).sum(-1).mean(1)
        else:
            log_std = model.log_std.unsqueeze(1)
            flat = actions.reshape(outputs.shape)
            log_probs = (-0.5 * ((flat - outputs) / log_std.exp()).square() - log_std - _LOG_SQRT_2PI).sum(-1)
            entropy = (0.5 + _LOG_SQRT_2PI + model.log_std).sum(-1)
        log_ratio = log_probs - batch["log_probs"]
        ratio = log_ratio.exp()
        clip_rows = clip.unsqueeze(1)
        surrogate = torch.minimum(ratio * advantages, ratio.clamp(1.0 - clip_rows, 1.0 + clip_rows) * advantages)
        policy = -surrogate.mean(1)
        errors = (values - batch["returns"]).square()
        if config.clip_range_vf is not None:
            old = batch["values"]
            clipped = old + (values - old).clamp(-config.clip_range_vf, config.clip_range_vf)
            errors = torch.maximum(errors, (clipped - batch["returns"]).square())
        value = errors.mean(1)
        hyper = self._hyper
        loss = policy + hyper["value_coef"] * value - hyper["entropy_coef"] * entropy
        with torch.no_grad():
            approx_kl = ((ratio - 1.0) - log_ratio).mean(1)
            clip_fraction = ((ratio - 1.0).abs() > clip_rows).to(ratio.dtype).mean(1)
        return _Losses(loss, policy, value, entropy, approx_kl, clip_fraction)

    def update(self) -> UpdateStats:
        """Collect one rollout for every agent and run the PPO epochs on each agent's batch at once."""
        config, agents = self.config, self.agents
        update = self.updates_done + 1
        remaining = self._remaining()
        hyper = self._hyper
        learning_rates = hyper["learning_rate"] * (remaining if config.anneal_lr else 1.0)
        clip = hyper["clip"] * (remaining if config.anneal_clip else 1.0)
        self.optimizer.learning_rates = learning_rates
        self.optimizer.max_grad_norms = hyper["max_grad_norm"]
        batch, rollout = self._sample(update)
        self.model.check_layout()
        rows = batch["advantages"].shape[1]
        count = config.minibatch_count
        size, larger = divmod(rows, count)
        bounds = [index * size + min(index, larger) for index in range(count + 1)]
        watch_kl = bool(torch.isfinite(hyper["target_kl"]).any())
        kl_limit = 1.5 * hyper["target_kl"]
        active = torch.ones(agents, dtype=torch.bool, device=self.device)
        epochs_done = torch.zeros(agents, dtype=torch.int64, device=self.device)
        partial = torch.zeros(agents, dtype=torch.bool, device=self.device)  # stopped after a step in its epoch
        # Per agent, sums over its last pass (or the part of it before its early stop), as PPO measures.
        totals = torch.zeros(5, agents, device=self.device)
        counts = torch.zeros(agents, device=self.device)
        all_active, everyone_stopped = True, False
        # The gradients are strided views of the flat buffer, by design: autograd's note about it is silenced for the
        # update's backward passes (one filter per update, not per minibatch).
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="grad and param do not obey the gradient layout")
            for epoch in range(config.epochs):
                if watch_kl or epoch == config.epochs - 1:
                    keep = (~active).to(totals.dtype)  # stopped agents keep the sums of their last pass
                    totals.mul_(keep)
                    counts.mul_(keep)
                steps_in_epoch = torch.zeros(agents, dtype=torch.bool, device=self.device)
                shuffled = batch
                if count > 1:
                    order = torch.rand(agents, rows, generator=self.shuffling, device=self.device).argsort(dim=1)
                    shuffled = {name: _take_rows(tensor, order) for name, tensor in batch.items()}
                for start, stop in itertools.pairwise(bounds):
                    minibatch = {name: tensor[:, start:stop] for name, tensor in shuffled.items()}
                    terms = self._losses(minibatch, clip)
                    if watch_kl:
                        stopping = active & (terms.approx_kl > kl_limit)
                        if bool(stopping.any()):  # SB3's rule, per agent: this minibatch takes no step, epochs end
                            partial |= stopping & steps_in_epoch
                            active &= ~stopping
                            all_active = False
                            if not bool(active.any()):
                                everyone_stopped = True
                                break
                    self.model.flat_grad.zero_()
                    terms.loss.sum().backward()  # type: ignore[no-untyped-call]
                    norms = self.optimizer.clip_and_measure()
                    finite = torch.isfinite(norms) | ~active
                    if not bool(finite.all()):
                        _raise_not_finite(update, terms, norms, finite)
                    self.optimizer.step(active=None if all_active else active)
                    steps_in_epoch |= active
                    if watch_kl or epoch == config.epochs - 1:
                        weight = active.to(totals.dtype)
                        totals += torch.stack(terms[1:]).detach() * weight
                        counts += weight
                if everyone_stopped:
                    break
                epochs_done += active.to(torch.int64)
        means = (totals / counts.clamp(min=1.0)).cpu().tolist()
        epochs = (epochs_done + partial.to(torch.int64)).tolist()
        self.updates_done = update
        steps = rollout.horizon * config.num_envs
        self.env_steps += steps * agents
        return self._stats(update, means, epochs, learning_rates, clip, batch)

    def _stats(
        self,
        update: int,
        means: list[list[float]],
        epochs: list[int],
        learning_rates: Tensor,
        clip: Tensor,
        batch: dict[str, Tensor],
    ) -> UpdateStats:
        config, agents = self.config, self.agents
        per_agent_steps = self.env_steps // agents
        returns: list[list[float]] = [[] for _ in range(agents)]
        lengths: list[list[int]] = [[] for _ in range(agents)]
        collector = self.collector
        for episode_return, length, env in zip(
            collector.episode_returns, collector.episode_lengths, collector.episode_envs, strict=True
        ):
            returns[env // config.num_envs].append(episode_return)
            lengths[env // config.num_envs].append(length)
        rates, clips = learning_rates.tolist(), clip.tolist()
        stats = tuple(
            UpdateStats(
                update=update,
                env_steps=per_agent_steps,
                losses={"policy": means[0][agent], "value": means[1][agent]},
                entropy=means[2][agent],
                learning_rate=rates[agent],
                episode_returns=tuple(returns[agent]),
                episode_lengths=tuple(lengths[agent]),
                approx_kl=means[3][agent],
                clip_fraction=means[4][agent],
                clip_range=clips[agent],
                explained_variance=explained_variance(batch["values"][agent], batch["returns"][agent]),
                epochs=epochs[agent],
            )
            for agent in range(agents)
        )
        return UpdateStats(
            update=update,
            env_steps=self.env_steps,
            losses={
                "policy": sum(means[0]) / agents,
                "value": sum(means[1]) / agents,
            },
            entropy=sum(means[2]) / agents,
            learning_rate=sum(rates) / agents,
            episode_returns=tuple(collector.episode_returns),
            episode_lengths=tuple(collector.episode_lengths),
            approx_kl=sum(means[3]) / agents,
            clip_fraction=sum(means[4]) / agents,
            clip_range=sum(clips) / agents,
            explained_variance=None,
            epochs=None,
            agents=stats,
        )

    # Evaluation ------------------------------------------------------------------------------------------------

    @torch.no_grad()
    def evaluate_agents(self, *, episodes: int, seed: int, max_steps: int) -> list[EvalResult]:
        """Every agent's greedy evaluation, ``episodes`` episodes each (the same episodes for every agent), at most
        ``max_steps`` steps; one :class:`EvalResult` per agent. As ``typedrl eval RUN --agent K`` evaluates agent
        ``K``: with Gymnasium, :func:`typedrl.evaluate` (episode ``i`` seeded ``seed + i``); with the tensor backend,
        :func:`typedrl.evaluation.evaluate_tensor_envs`, all ``K·episodes`` episodes in one batch on the device
        (the initial states drawn from ``seed``).
        """
        if self.config.env_backend != "torch":
            from typedrl.evaluation import evaluate

            return [
                evaluate(
                    self.agent_model(agent).actor,
                    self.config.env_id,
                    episodes=episodes,
                    base_seed=seed,
                    max_steps=max_steps,
                    device=self.device,
                )
                for agent in range(self.agents)
            ]
        from typedrl.evaluation import evaluate_tensor_envs

        agents = self.agents

        def greedy_outputs(observations: Tensor) -> Tensor:
            scores: Tensor = self.model(observations, frozen=True)[0]
            return scores

        return evaluate_tensor_envs(
            greedy_outputs,
            self.config.env_id,
            agents=agents,
            episodes=episodes,
            base_seed=seed,
            max_steps=max_steps,
            device=self.device,
        )


def _take_rows(tensor: Tensor, order: Tensor) -> Tensor:
    """``tensor[k, order[k]]`` for every agent ``k``: ``[K, B, …]`` rows permuted by ``order`` ``[K, B]``."""
    index = order.reshape(*order.shape, *([1] * (tensor.dim() - 2))).expand(*order.shape, *tensor.shape[2:])
    return tensor.gather(1, index)


def _z_scores(advantages: Tensor) -> Tensor:
    """Each agent's advantages ``[K, B]`` z-scored over its own rows (population std; a constant row becomes 0)."""
    centred = advantages - advantages.mean(1, keepdim=True)
    std = centred.square().mean(1, keepdim=True).sqrt()
    return centred / torch.where(std > 0, std, torch.ones_like(std))


def _raise_not_finite(update: int, terms: _Losses, norms: Tensor, finite: Tensor) -> None:
    agent = int((~finite).nonzero()[0, 0])
    for name in ("policy", "value", "entropy"):
        quantity = float(getattr(terms, name)[agent])
        if not math.isfinite(quantity):
            raise TrainingError(f"update {update}, agent {agent}: the {name} term is {quantity}")
    raise TrainingError(f"update {update}, agent {agent}: the gradient norm is {float(norms[agent])}")


def _refuse_unsupported(config: PPOConfig) -> None:
    """A ConfigError naming the first option that batched agents do not support."""
    for name, text in (
        ("normalize_observations", "observation normalization"),
        ("normalize_rewards", "reward scaling"),
        ("squash_actions", "squashed Gaussian actions"),
    ):
        if getattr(config, name):
            raise ConfigError(f"{name} is true; agents > 1 does not support {text} yet: set it false", name)
