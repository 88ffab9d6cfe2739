"""PPO on CartPole-v1: typedrl against Stable-Baselines3 with the rl-baselines3-zoo settings, in one run.

Run: ``pip install "stable-baselines3==2.9.2"`` then ``python bench/bench_ppo.py`` (``--seeds 3`` for fewer).

Both are evaluated by the same code (:func:`typedrl.evaluate`: greedy actions, 10 episodes seeded 10000 + k,
undiscounted return) on the same grid, every 2048 environment steps; training seconds exclude evaluation. For
each run it reports the env steps and training seconds when the greedy mean first reaches 500, and from which
evaluation on it stays at 500 for every later one ("stable"). typedrl runs its default preset twice: with the
runtime shape checks on (the default) and off; the environment contract is on in both. The checks' cost is
measured first, by alternating updates of two identical runs (on, off) in one process: separate runs minutes
apart on a shared machine differ by more than the checks do. ``torch.set_num_threads(1)``.
"""

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

import typedrl
from typedrl.algos.ppo import PPO
from typedrl.config import ppo_preset
from typedrl.evaluation import evaluate

GRID = 2048
EPISODES = 10
EVAL_SEED = 10_000
SB3_STEPS = 100_000  # the zoo's n_timesteps for CartPole-v1


@dataclass
class Curve:
    """Evaluations (env steps, training seconds, greedy mean) of one run."""

    label: str
    seed: int
    points: list[tuple[int, float, float]]

    def first(self) -> tuple[int, float] | None:
        return next(((steps, seconds) for steps, seconds, mean in self.points if mean >= 500.0), None)

    def stable(self) -> tuple[int, float] | None:
        for index, (steps, seconds, _) in enumerate(self.points):
            if all(mean >= 500.0 for _, _, mean in self.points[index:]):
                return steps, seconds
        return None


def run_typedrl(seed: int, *, checks: bool) -> Curve:
    config = ppo_preset(seed=seed)
    label = "typedrl" + ("" if checks else " (checks off)")
    points: list[tuple[int, float, float]] = []
    with typedrl.shape_checks(checks):
        algorithm = PPO(config)
        seconds = 0.0
        while algorithm.updates_done < config.updates:
            start = time.perf_counter()
            algorithm.update()
            seconds += time.perf_counter() - start
            if algorithm.env_steps % GRID == 0:
                result = evaluate(
                    algorithm.model.actor, config.env_id, episodes=EPISODES, base_seed=EVAL_SEED, max_steps=500
                )
                points.append((algorithm.env_steps, seconds, result.mean))
    return Curve(label, seed, points)


class _SB3Actor(nn.Module):
    """SB3's policy as an observation → logits module, so typedrl's evaluation runs it unchanged."""

    def __init__(self, policy: nn.Module) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        distribution = self.policy.get_distribution(observations)  # type: ignore[operator]
        logits: torch.Tensor = distribution.distribution.logits
        return logits


def run_sb3(seed: int) -> Curve:
    from stable_baselines3 import PPO as SB3PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    def linear(start: float) -> Callable[[float], float]:
        return lambda remaining: remaining * start

    points: list[tuple[int, float, float]] = []

    class Grid(BaseCallback):  # type: ignore[misc, unused-ignore]  # untyped without the bench extra
        def __init__(self) -> None:
            super().__init__()
            self.eval_seconds = 0.0
            self.start = time.perf_counter()

        def _on_step(self) -> bool:
            if self.num_timesteps % GRID == 0:
                begin = time.perf_counter()
                actor = _SB3Actor(self.model.policy)
                result = evaluate(actor, "CartPole-v1", episodes=EPISODES, base_seed=EVAL_SEED, max_steps=500)
                self.eval_seconds += time.perf_counter() - begin
                points.append((self.num_timesteps, time.perf_counter() - self.start - self.eval_seconds, result.mean))
            return True

    env = make_vec_env("CartPole-v1", n_envs=8, seed=seed)
    model = SB3PPO(
        "MlpPolicy",
        env,
        n_steps=32,
        batch_size=256,
        gae_lambda=0.8,
        gamma=0.98,
        n_epochs=20,
        ent_coef=0.0,
        learning_rate=linear(1e-3),
        clip_range=linear(0.2),
        seed=seed,
        device="cpu",
        verbose=0,
    )
    model.learn(total_timesteps=SB3_STEPS, callback=Grid())
    return Curve("SB3 2.9.2 (zoo)", seed, points)


def checks_overhead(updates: int = 60) -> tuple[float, float]:
    """Milliseconds per PPO update with shape checks on and off, alternating updates of two identical runs.

    Interleaving makes both see the same machine: separate runs minutes apart differ by more than the checks.
    """
    runs = {checks: PPO(ppo_preset(seed=0)) for checks in (True, False)}
    totals = {True: 0.0, False: 0.0}
    for run in runs.values():
        run.update()
    for index in range(updates):
        for checks in (True, False) if index % 2 else (False, True):
            with typedrl.shape_checks(checks):
                start = time.perf_counter()
                runs[checks].update()
                totals[checks] += time.perf_counter() - start
    return totals[True] / updates * 1e3, totals[False] / updates * 1e3


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.0f}" if values else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..n-1 (default 5)")
    parser.add_argument("--overhead-only", action="store_true", help="only the interleaved checks on/off timing")
    args = parser.parse_args()
    torch.set_num_threads(1)
    on, off = checks_overhead()
    print(f"shape checks, interleaved: {on:.1f} ms per update on, {off:.1f} ms off: ", end="")
    print(f"{on / off - 1:+.1%} (target <= +5%)")
    if args.overhead_only:
        return
    seeds = list(range(args.seeds))
    runners: list[tuple[str, Callable[[int], Curve]]] = [
        ("SB3", run_sb3),
        ("typedrl", lambda seed: run_typedrl(seed, checks=True)),
        ("typedrl off", lambda seed: run_typedrl(seed, checks=False)),
    ]
    curves: dict[str, list[Curve]] = {}
    for name, runner in runners:
        curves[name] = []
        for seed in seeds:
            curve = runner(seed)
            curves[name].append(curve)
            first, stable = curve.first(), curve.stable()
            print(
                f"{curve.label:<24} seed {seed}: first 500 at {first[0] if first else '-':>6} steps"
                f" ({first[1] if first else float('nan'):5.1f}s), stable from {stable[0] if stable else '-':>6} steps"
                f" ({stable[1] if stable else float('nan'):5.1f}s); trained {curve.points[-1][0]} steps"
                f" in {curve.points[-1][1]:.1f}s",
                flush=True,
            )

    print(f"\nmedians over {len(seeds)} seeds (stable: runs that end stable at 500)")
    header = f"{'':<24} {'stable runs':>11} {'first steps':>11} {'first s':>8} {'stable steps':>12} {'stable s':>9}"
    print(header)
    print("-" * len(header))
    summary: dict[str, tuple[float, float]] = {}
    for name, group in curves.items():
        firsts = [c.first() for c in group]
        stables = [c.stable() for c in group]
        f_steps = [float(f[0]) for f in firsts if f]
        f_secs = [f[1] for f in firsts if f]
        s_steps = [float(s[0]) for s in stables if s]
        s_secs = [s[1] for s in stables if s]
        if s_steps:
            summary[name] = (statistics.median(s_steps), statistics.median(s_secs))
        print(
            f"{group[0].label:<24} {sum(s is not None for s in stables):>5} of {len(group):<3} {_median(f_steps):>11}"
            f" {statistics.median(f_secs) if f_secs else float('nan'):>8.1f} {_median(s_steps):>12}"
            f" {statistics.median(s_secs) if s_secs else float('nan'):>9.1f}"
        )
    if "SB3" in summary and "typedrl" in summary:
        steps_ratio = summary["typedrl"][0] / summary["SB3"][0]
        time_ratio = summary["typedrl"][1] / summary["SB3"][1]
        print(
            f"\ntypedrl / SB3, median to stable 500: env steps x{steps_ratio:.2f}, training seconds x{time_ratio:.2f}"
        )
    if "typedrl" in summary and "typedrl off" in summary:
        overhead = summary["typedrl"][1] / summary["typedrl off"][1] - 1.0
        print(
            f"shape checks on vs off, median training seconds to stable 500 (separate runs): {overhead:+.1%}; "
            "the interleaved figure at the top is the controlled one"
        )


if __name__ == "__main__":
    main()
