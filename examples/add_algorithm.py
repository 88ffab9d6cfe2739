"""Add an algorithm to typedrl: advantage actor-critic (A2C, Mnih et al. 2016) in one file and one config class.

Run: ``python examples/add_algorithm.py``. It registers ``a2c``, then trains it on CartPole-v1 with typedrl's own
runner (checked environments, evaluation, ``trainlog.json``, checkpoints, ``--resume``, best.pt, TensorBoard and
CSV sinks all come with it) and prints the greedy returns.

One update: collect ``horizon`` steps from each of ``num_envs`` environments, then one Adam step on
``L = −mean(log π(aₜ|sₜ) · Aₜ) + c_v · mean((V(sₜ) − G^λₜ)²) − c_e · mean(H[π(·|sₜ)])`` with GAE advantages
``Aₜ`` and λ-return targets ``G^λₜ = Aₜ + Vₜ``.
"""

import tempfile
from typing import Any, Literal

import torch
from pydantic import Field
from torch import nn

import typedrl
from typedrl.algos import Spaces, UpdateStats, register, resolve_device, training_env
from typedrl.collect import RolloutCollector
from typedrl.config import AlgoConfig, EvalConfig
from typedrl.errors import TrainingError
from typedrl.policies import ActorCritic, SampledPolicy, categorical_entropy, categorical_log_prob


class A2CConfig(AlgoConfig):
    """Advantage actor-critic: one gradient step per rollout, GAE advantages."""

    algo: Literal["a2c"] = Field(default="a2c", description="The algorithm (fixed).")
    horizon: int = Field(default=16, ge=1, description="Steps per environment per update.")
    gamma: float = Field(default=0.99, ge=0.0, le=1.0, description="Discount γ.")
    lam: float = Field(default=0.95, ge=0.0, le=1.0, description="GAE λ.")
    learning_rate: float = Field(default=7e-4, gt=0.0, description="Adam learning rate.")
    value_coef: float = Field(default=0.5, ge=0.0, description="Weight of the value loss.")
    entropy_coef: float = Field(default=0.0, ge=0.0, description="Weight of the entropy bonus.")
    hidden: int = Field(default=64, ge=1, le=4096, description="Width of the two hidden layers.")


def _network(config: A2CConfig, spaces: Spaces) -> ActorCritic:
    return ActorCritic(spaces.observation_size, spaces.n_actions, hidden=config.hidden)


class A2C:
    """The algorithm protocol (:class:`typedrl.algos.Algorithm`): built from its config, one ``update()`` per
    iteration, and what a checkpoint needs."""

    def __init__(self, config: A2CConfig) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        self.env, spaces = training_env(config.env_id, num_envs=config.num_envs, seed=config.seed)
        torch.manual_seed(config.seed)
        self.model = _network(config, spaces).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate)
        self.sampling = torch.Generator(self.device).manual_seed(config.seed + 1)
        policy = SampledPolicy(self.model, self.sampling)
        self.collector = RolloutCollector(self.env, policy, horizon=config.horizon, seed=config.seed)
        self.updates_done = 0
        self.env_steps = 0

    def update(self) -> UpdateStats:
        config = self.config
        with torch.no_grad():
            rollout = self.collector.collect()
            advantages = typedrl.gae(
                rollout.rewards,
                rollout.values,
                rollout.next_values,
                rollout.terminated,
                rollout.truncated,
                gamma=config.gamma,
                lam=config.lam,
            )
            returns = advantages + rollout.values
        observations = rollout.observations.flatten(0, 1)
        logits, values = self.model(observations)
        log_probs = categorical_log_prob(logits, rollout.actions.flatten())
        policy_loss = -(log_probs * advantages.flatten()).mean()
        value_loss = (values - returns.flatten()).square().mean()
        entropy = categorical_entropy(logits).mean()
        loss = policy_loss + config.value_coef * value_loss - config.entropy_coef * entropy
        if not bool(torch.isfinite(loss)):
            raise TrainingError(f"update {self.updates_done + 1}: the loss is {float(loss)}")
        self.optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), 0.5)
        self.optimizer.step()
        self.updates_done += 1
        self.env_steps += rollout.horizon * rollout.n_envs
        return UpdateStats(
            update=self.updates_done,
            env_steps=self.env_steps,
            losses={"policy": float(policy_loss.detach()), "value": float(value_loss.detach())},
            entropy=float(entropy.detach()),
            learning_rate=config.learning_rate,
            episode_returns=tuple(self.collector.episode_returns),
            episode_lengths=tuple(self.collector.episode_lengths),
        )

    @property
    def actor(self) -> nn.Module:
        return self.model.actor

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.model}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"optimizer": self.optimizer}

    def state(self) -> dict[str, Any]:
        return {"updates_done": self.updates_done, "env_steps": self.env_steps, "sampling": self.sampling.get_state()}

    def load_state(self, state: dict[str, Any]) -> None:
        self.updates_done, self.env_steps = int(state["updates_done"]), int(state["env_steps"])
        self.sampling.set_state(state["sampling"])

    def restart_environments(self, seed: int) -> None:
        self.collector.restart(seed)

    def close(self) -> None:
        self.env.close()


def _evaluation_actor(config: A2CConfig, spaces: Spaces) -> tuple[dict[str, nn.Module], nn.Module]:
    model = _network(config, spaces)
    return {"model": model}, model.actor


register("a2c", config=A2CConfig, algorithm=A2C, evaluation_actor=_evaluation_actor, description="Train A2C.")


def main() -> None:
    config = A2CConfig(updates=300, eval=EvalConfig(every=100, episodes=5))
    with tempfile.TemporaryDirectory() as out:
        result = typedrl.train(config, out_dir=out, quiet=True, progress=False)
        log = typedrl.load_trainlog(f"{out}/trainlog.json")
    for record in log.evaluations:
        print(f"update {record.update}: greedy return {record.mean:.1f}")
    print(f"a2c: {result.updates} updates, {result.env_steps} env steps")


if __name__ == "__main__":
    main()
