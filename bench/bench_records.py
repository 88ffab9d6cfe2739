"""What records and collection cost: building a Rollout, its actor-critic sample, and the collector's overhead.

Run: ``python bench/bench_records.py`` (add ``--quick`` for shorter rounds). Everything is measured in this run, on
this machine, single-threaded (``torch.set_num_threads(1)``), float32, CartPole-shaped observations (4 floats),
best of several rounds, with typedrl's runtime shape checks on (the default) and off (the speed setting):

* ``Rollout(...)``: the construction checks (always-on invariants, plus jaxtyping when on), at T=128, N=8 and
  T=2048, N=64;
* ``to_actor_critic_sample``: GAE, z-scored advantages, λ-returns, flattening, and the sample's own checks;
* the collector, in microseconds per vector step on ``CartPoleVectorEnv``: its own cost, with a policy that returns
  constant tensors (against a bare loop of ``env.step`` and ``torch.from_numpy``), and with a 64-unit MLP policy
  (against a bare loop doing the same forward and ``env.step`` without recording anything).
"""

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv
from timing import best_seconds  # bench/timing.py (scripts run with bench/ on sys.path)
from torch import Tensor, nn

import typedrl
from typedrl.collect import PolicyStep, RolloutCollector
from typedrl.records import Rollout

SIZES = [(128, 8), (2048, 64)]
COLLECT_ENVS = [8, 64]
COLLECT_HORIZON = 128


def rollout_fields(horizon: int, n_envs: int) -> dict[str, Any]:
    """Random valid fields of a CartPole-shaped rollout, with some episode ends."""
    generator = torch.Generator().manual_seed(0)
    shape = (horizon, n_envs)
    return {
        "observations": torch.randn(*shape, 4, generator=generator),
        "actions": torch.randint(0, 2, shape, generator=generator),
        "log_probs": -torch.rand(shape, generator=generator),
        "rewards": torch.ones(shape),
        "values": torch.randn(shape, generator=generator),
        "next_values": torch.randn(shape, generator=generator),
        "terminated": torch.rand(shape, generator=generator) < 0.05,
        "truncated": torch.rand(shape, generator=generator) < 0.01,
        "horizon": horizon,
    }


class MLPPolicy:
    """Separate 64-unit tanh actor and critic, categorical sampling: a typical CartPole PPO policy."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        self.actor = nn.Sequential(nn.Linear(4, 64), nn.Tanh(), nn.Linear(64, 2))
        self.critic = nn.Sequential(nn.Linear(4, 64), nn.Tanh(), nn.Linear(64, 1))
        self.act_calls = 0

    def act(self, observations: Tensor) -> PolicyStep:
        """Sample actions; log-probabilities from log-softmax; values from the critic."""
        self.act_calls += 1
        log_probs = torch.log_softmax(self.actor(observations), dim=-1)
        actions = torch.multinomial(log_probs.exp(), 1)
        return PolicyStep(actions[:, 0], log_probs.gather(1, actions)[:, 0], self.value(observations))

    def value(self, observations: Tensor) -> Tensor:
        """The critic's output as ``[N]``."""
        values: Tensor = self.critic(observations)[:, 0]
        return values


class ConstantPolicy:
    """Action 0 everywhere, zero log-probabilities and values: isolates what the collector itself costs."""

    def __init__(self, n_envs: int) -> None:
        self.actions = torch.zeros(n_envs, dtype=torch.int64)
        self.zeros = torch.zeros(n_envs)
        self.act_calls = 0

    def act(self, observations: Tensor) -> PolicyStep:
        """The same constant step every call."""
        self.act_calls += 1
        return PolicyStep(self.actions, self.zeros, self.zeros)

    def value(self, observations: Tensor) -> Tensor:
        """Zeros."""
        return self.zeros


def per_vector_step(policy: MLPPolicy | ConstantPolicy, n_envs: int, budget: float) -> float:
    """Seconds per vector step of ``collect()`` (reset steps included: one act call each)."""
    collector = RolloutCollector(CartPoleVectorEnv(num_envs=n_envs), policy, horizon=COLLECT_HORIZON, seed=0)
    collects = 0

    def counted_collect() -> None:
        nonlocal collects
        collects += 1
        collector.collect()

    policy.act_calls = 0
    seconds = best_seconds(counted_collect, budget=budget)
    return seconds / (policy.act_calls / collects)


def bare_env_loop(n_envs: int, steps: int) -> Callable[[], None]:
    """``env.step`` and ``torch.from_numpy`` only: the floor under the collector with a constant policy."""
    env = CartPoleVectorEnv(num_envs=n_envs)
    env.reset(seed=0)
    zeros = np.zeros(n_envs, dtype=np.int64)

    def run() -> None:
        for _ in range(steps):
            observations, *_ = env.step(zeros)
            torch.from_numpy(observations)

    return run


def bare_loop(env: CartPoleVectorEnv, policy: MLPPolicy, steps: int) -> Callable[[], None]:
    """The same forward and env.step as the collector, recording nothing: the floor for collection."""
    observations, _ = env.reset(seed=0)
    state = {"observations": observations}

    def run() -> None:
        with torch.no_grad():
            for _ in range(steps):
                step = policy.act(torch.from_numpy(state["observations"]))
                state["observations"], *_ = env.step(step.actions.numpy())

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter timing rounds")
    budget = 0.3 if parser.parse_args().quick else 1.5
    torch.set_num_threads(1)

    print("Rollout construction and to_actor_critic_sample (µs per call; best of 5 rounds)")
    print(f"{'T':>6} {'N':>4} {'checks':>7} {'Rollout(...)':>13} {'sample':>10}")
    for horizon, n_envs in SIZES:
        fields = rollout_fields(horizon, n_envs)
        rollout = Rollout(**fields)
        for enabled in (True, False):
            with typedrl.shape_checks(enabled):
                build = best_seconds(lambda: Rollout(**fields), budget=budget)
                sample = best_seconds(lambda: rollout.to_actor_critic_sample(gamma=0.99, lam=0.95), budget=budget)
            label = "on" if enabled else "off"
            print(f"{horizon:>6} {n_envs:>4} {label:>7} {build * 1e6:>13.1f} {sample * 1e6:>10.1f}")

    print()
    print(f"Collection on CartPoleVectorEnv, horizon {COLLECT_HORIZON} (µs per vector step; best of 5 rounds)")
    print(f"{'N':>4} {'policy':>9} {'collect':>9} {'bare loop':>10} {'overhead':>9}")
    for n_envs in COLLECT_ENVS:
        constant = per_vector_step(ConstantPolicy(n_envs), n_envs, budget)
        floor = best_seconds(bare_env_loop(n_envs, COLLECT_HORIZON), budget=budget) / COLLECT_HORIZON
        policy = MLPPolicy()
        mlp = per_vector_step(policy, n_envs, budget)
        bare = best_seconds(bare_loop(CartPoleVectorEnv(num_envs=n_envs), policy, COLLECT_HORIZON), budget=budget)
        bare /= COLLECT_HORIZON
        for name, collect, loop in (("constant", constant, floor), ("MLP", mlp, bare)):
            print(f"{n_envs:>4} {name:>9} {collect * 1e6:>9.1f} {loop * 1e6:>10.1f} {(collect - loop) * 1e6:>9.1f}")
    print()
    print("Per vector step, NEXT_STEP reset steps included. 'bare loop': env.step and from_numpy (constant policy), or")
    print("the same MLP forward and env.step (MLP policy), recording nothing. 'overhead' is what the collector adds:")
    print("buffer writes, compaction, next_values, episode statistics and the Rollout checks.")


if __name__ == "__main__":
    main()
