"""What records and collection cost: building a Rollout, its actor-critic sample, and the collector's overhead.

Run: ``python bench/bench_records.py`` (``--quick`` for shorter rounds, ``--smoke`` for a check that it runs); the
figures go to ``bench/results/records.json`` (``--out PATH`` elsewhere; layout in ``bench/_results.py``), from which
the docs render their tables. Everything is measured in this run, on this machine, single-threaded
(``torch.set_num_threads(1)``), float32, CartPole-shaped observations (4 floats), best of 5 rounds, what is
compared taking turns round by round (``bench/timing.py``), with typedrl's runtime shape checks on (the default)
and off (the speed setting):

* ``Rollout(...)``: the construction checks (always-on invariants, plus jaxtyping when on), at T=128, N=8 and
  T=2048, N=64;
* ``to_actor_critic_sample``: GAE, z-scored advantages, λ-returns, flattening, and the sample's own checks;
* the collector, in microseconds per vector step on ``CartPoleVectorEnv``: its own cost, with a policy that returns
  constant tensors (against a bare loop of ``env.step`` and ``torch.from_numpy``), and with a 64-unit MLP policy
  (against a bare loop doing the same forward and ``env.step`` without recording anything).

Rows of the JSON: ``{"table": "construction", "T", "N", "what", "checks", "calls_per_repeat", "seconds_per_call":
[one per round]}`` and ``{"table": "collection", "N", "policy", "what", "calls_per_repeat",
"seconds_per_vector_step": [one per round]}``; the summary holds the printed tables (best rounds, in µs).
"""

import argparse
from collections.abc import Callable
from typing import Any

import _results  # bench/_results.py (scripts run with bench/ on sys.path)
import numpy as np
import torch
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv
from timing import Contender, interleaved
from torch import Tensor, nn

import typedrl
from typedrl.collect import PolicyStep, RolloutCollector
from typedrl.records import Rollout

SIZES = [(128, 8), (2048, 64)]
COLLECT_ENVS = [8, 64]
COLLECT_HORIZON = 128
GAMMA, LAM = 0.99, 0.95
SMOKE_SIZES, SMOKE_ENVS, SMOKE_HORIZON = [(16, 2)], [2], 16
ROUNDS = 5


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


class CountedCollect:
    """``collect()`` as a function to time, counting collects and ``act`` calls (one per vector step, resets too)."""

    def __init__(self, policy: MLPPolicy | ConstantPolicy, n_envs: int, horizon: int) -> None:
        self.policy = policy
        self.collector = RolloutCollector(CartPoleVectorEnv(num_envs=n_envs), policy, horizon=horizon, seed=0)
        self.collects = 0
        policy.act_calls = 0

    def __call__(self) -> None:
        self.collects += 1
        self.collector.collect()

    def vector_steps(self) -> float:
        """Vector steps per collect, on average over every collect so far."""
        return self.policy.act_calls / self.collects


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


def _checks(enabled: bool) -> Callable[[], Any]:
    return lambda: typedrl.shape_checks(enabled)


def construction(sizes: list[tuple[int, int]], budget: float, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rollout construction and its sample, checks off and on taking turns; print, append rows, return the table."""
    print("Rollout construction and to_actor_critic_sample (µs per call; best of 5 rounds)")
    print(f"{'T':>6} {'N':>4} {'checks':>7} {'Rollout(...)':>13} {'sample':>10}")
    table = []
    for horizon, n_envs in sizes:
        fields = rollout_fields(horizon, n_envs)
        rollout = Rollout(**fields)
        contenders = []
        for checks in ("off", "on"):
            setting = _checks(checks == "on")
            contenders.append(Contender(f"rollout {checks}", lambda: Rollout(**fields), setting=setting))
            contenders.append(
                Contender(
                    f"sample {checks}", lambda: rollout.to_actor_critic_sample(gamma=GAMMA, lam=LAM), setting=setting
                )
            )
        timings = interleaved(contenders, budget=budget, rounds=ROUNDS)
        for label, timing in timings.items():
            what, checks = label.split()
            rows.append(
                {
                    "table": "construction",
                    "T": horizon,
                    "N": n_envs,
                    "what": what,
                    "checks": checks,
                    "calls_per_repeat": timing.calls,
                    "seconds_per_call": timing.seconds,
                }
            )
        for checks in ("on", "off"):
            build, sample_us = timings[f"rollout {checks}"].best * 1e6, timings[f"sample {checks}"].best * 1e6
            table.append({"T": horizon, "N": n_envs, "checks": checks, "rollout_us": build, "sample_us": sample_us})
            print(f"{horizon:>6} {n_envs:>4} {checks:>7} {build:>13.1f} {sample_us:>10.1f}")
    return table


def collection(envs: list[int], horizon: int, budget: float, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The collector against bare loops, taking turns (bare loop first); print, append rows, return the table."""
    print(f"Collection on CartPoleVectorEnv, horizon {horizon} (µs per vector step; best of 5 rounds)")
    print(f"{'N':>4} {'policy':>9} {'collect':>9} {'bare loop':>10} {'overhead':>9}")
    table = []
    for n_envs in envs:
        constant = CountedCollect(ConstantPolicy(n_envs), n_envs, horizon)
        mlp = CountedCollect(MLPPolicy(), n_envs, horizon)
        # The same weights (MLPPolicy seeds them) in a policy of its own: act calls are counted per policy.
        timings = interleaved(
            [
                Contender("constant bare_loop", bare_env_loop(n_envs, horizon)),
                Contender("constant collect", constant),
                Contender("MLP bare_loop", bare_loop(CartPoleVectorEnv(num_envs=n_envs), MLPPolicy(), horizon)),
                Contender("MLP collect", mlp),
            ],
            budget=budget,
            rounds=ROUNDS,
        )
        steps = {"constant collect": constant.vector_steps(), "MLP collect": mlp.vector_steps()}
        per_step: dict[str, list[float]] = {}
        for label, timing in timings.items():
            name, what = label.split()
            per_step[label] = [seconds / steps.get(label, horizon) for seconds in timing.seconds]
            rows.append(
                {
                    "table": "collection",
                    "N": n_envs,
                    "policy": name,
                    "what": what,
                    "calls_per_repeat": timing.calls,
                    "seconds_per_vector_step": per_step[label],
                }
            )
        for name in ("constant", "MLP"):
            collect, loop = min(per_step[f"{name} collect"]) * 1e6, min(per_step[f"{name} bare_loop"]) * 1e6
            table.append({"N": n_envs, "policy": name, "collect_us": collect, "bare_loop_us": loop})
            print(f"{n_envs:>4} {name:>9} {collect:>9.1f} {loop:>10.1f} {collect - loop:>9.1f}")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter timing rounds")
    _results.add_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.smoke:
        sizes, envs, horizon, budget = SMOKE_SIZES, SMOKE_ENVS, SMOKE_HORIZON, 0.01
    else:
        sizes, envs, horizon, budget = SIZES, COLLECT_ENVS, COLLECT_HORIZON, 0.3 if args.quick else 1.5

    rows: list[dict[str, Any]] = []
    built = construction(sizes, budget, rows)
    print()
    collected = collection(envs, horizon, budget, rows)
    print()
    print("Per vector step, NEXT_STEP reset steps included. 'bare loop': env.step and from_numpy (constant policy), or")
    print("the same MLP forward and env.step (MLP policy), recording nothing. 'overhead' is what the collector adds:")
    print("buffer writes, compaction, next_values, episode statistics and the Rollout checks.")
    settings = {
        "sizes": sizes,
        "collect_envs": envs,
        "collect_horizon": horizon,
        "budget_seconds": budget,
        "rounds": ROUNDS,
        "gamma": GAMMA,
        "lam": LAM,
        "quick": args.quick,
    }
    summary = {"construction": built, "collection": collected}
    _results.write("records", args, settings=settings, results=rows, summary=summary)


if __name__ == "__main__":
    main()
