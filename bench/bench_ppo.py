"""PPO: typedrl's default preset against Stable-Baselines3 with the rl-baselines3-zoo settings, in one run.

Run: ``pip install -e ".[bench]"`` then ``python bench/bench_ppo.py`` (``--seeds 3`` for fewer, ``--smoke`` for a
few seconds); writes ``bench/results/ppo.json``.

CartPole-v1, seeds 0..n−1, **interleaved**: SB3 seed k, then typedrl seed k, then seed k+1, so a change in the
machine's load hits both. Both are evaluated by the same code (:func:`typedrl.evaluate`: greedy actions, 10 episodes
seeded 10000 + k, undiscounted return) on the same grid, every 2048 environment steps and at the end of the
budget; training seconds exclude evaluation. A run is **stable** from the first evaluation after which every
evaluation to the end of its budget is 500. Acrobot-v1: typedrl's ``acrobot`` preset and SB3 with the zoo's
Acrobot settings, both for the same number of environment steps (the zoo's own budget is 10⁶), final greedy mean
over 10 episodes. The interquartile mean over seeds comes with a 95% stratified-bootstrap confidence interval
(rliable). The shape checks' cost is measured first by alternating the updates of two identical runs (on, off) in
one process. ``torch.set_num_threads(1)``.
"""

import argparse
import importlib.util
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import _results
import torch
from torch import nn

import typedrl
from typedrl.algos.ppo import PPO
from typedrl.config import PPOConfig, ppo_preset
from typedrl.evaluation import evaluate

GRID = 2048
EPISODES = 10
EVAL_SEED = 10_000
THRESHOLD = 500.0
SB3_LABEL = "SB3 (rl-zoo)"
TYPEDRL_LABEL = "typedrl (default preset)"


@dataclass
class Curve:
    """Evaluations (env steps, training seconds, greedy mean) of one run."""

    label: str
    seed: int
    points: list[tuple[int, float, float]]

    def first(self) -> tuple[int, float] | None:
        return next(((steps, seconds) for steps, seconds, mean in self.points if mean >= THRESHOLD), None)

    def stable(self) -> tuple[int, float] | None:
        found = None
        for steps, seconds, mean in reversed(self.points):
            if mean < THRESHOLD:
                break
            found = (steps, seconds)
        return found


def greedy(actor: nn.Module, env_id: str) -> float:
    return evaluate(actor, env_id, episodes=EPISODES, base_seed=EVAL_SEED, max_steps=500).mean


def run_typedrl(config: PPOConfig, label: str) -> Curve:
    """Train ``config``; evaluate on the grid and at the end of the budget."""
    points: list[tuple[int, float, float]] = []
    algorithm = PPO(config)
    seconds = 0.0
    while algorithm.updates_done < config.updates:
        start = time.perf_counter()
        algorithm.update()
        seconds += time.perf_counter() - start
        if algorithm.env_steps % GRID == 0 or algorithm.updates_done == config.updates:
            points.append((algorithm.env_steps, seconds, greedy(algorithm.actor, config.env_id)))
    return Curve(label, config.seed, points)


class _SB3Actor(nn.Module):
    """SB3's policy as an observation → logits module, so typedrl's evaluation runs it unchanged."""

    def __init__(self, policy: nn.Module) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        distribution = self.policy.get_distribution(observations)  # type: ignore[operator]
        logits: torch.Tensor = distribution.distribution.logits
        return logits


def run_sb3(env_id: str, seed: int, steps: int, settings: dict[str, Any]) -> Curve:
    """SB3 PPO with ``settings`` (the zoo's, learning rate and clip range linear when given as ``lin_X``)."""
    from stable_baselines3 import PPO as SB3PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    def schedule(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("lin_"):
            start = float(value[4:])
            return lambda remaining: remaining * start
        return value

    points: list[tuple[int, float, float]] = []

    class Grid(BaseCallback):  # type: ignore[misc, unused-ignore]  # untyped without the bench extra
        def __init__(self) -> None:
            super().__init__()
            self.eval_seconds = 0.0
            self.start = time.perf_counter()

        def _evaluate(self) -> None:
            begin = time.perf_counter()
            mean = greedy(_SB3Actor(self.model.policy), env_id)
            self.eval_seconds += time.perf_counter() - begin
            points.append((self.num_timesteps, time.perf_counter() - self.start - self.eval_seconds, mean))

        def _on_step(self) -> bool:
            if self.num_timesteps % GRID == 0:
                self._evaluate()
            return True

        def _on_training_end(self) -> None:
            if not points or points[-1][0] != self.num_timesteps:
                self._evaluate()

    options = {key: schedule(value) for key, value in settings.items() if key != "n_envs"}
    env = make_vec_env(env_id, n_envs=settings["n_envs"], seed=seed)
    model = SB3PPO("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **options)
    model.learn(total_timesteps=steps, callback=Grid())
    return Curve(SB3_LABEL, seed, points)


# rl-baselines3-zoo's hyperparameters (hyperparams/ppo.yml), with the learning rate and clip range linear.
SB3_CARTPOLE = {
    "n_envs": 8,
    "n_steps": 32,
    "batch_size": 256,
    "gae_lambda": 0.8,
    "gamma": 0.98,
    "n_epochs": 20,
    "ent_coef": 0.0,
    "learning_rate": "lin_0.001",
    "clip_range": "lin_0.2",
}
SB3_CARTPOLE_STEPS = 100_000  # the zoo's n_timesteps
SB3_ACROBOT = {"n_envs": 16, "n_steps": 256, "gae_lambda": 0.94, "gamma": 0.99, "n_epochs": 4, "ent_coef": 0.0}


def checks_overhead(updates: int) -> tuple[float, float]:
    """Milliseconds per PPO update with shape checks on and off, alternating updates of two identical runs."""
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


def iqm_interval(values: Sequence[float], *, repetitions: int) -> dict[str, float] | None:
    """The interquartile mean of ``values`` with rliable's 95% stratified-bootstrap interval (``None`` for one
    value, or where rliable is not installed: a smoke run in CI)."""
    if len(values) < 2 or importlib.util.find_spec("rliable") is None:
        return None
    from typedrl.summary import iqm_interval as library_iqm_interval  # the statistic summary.json reports

    return library_iqm_interval(values, repetitions=repetitions)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _print_curve(curve: Curve) -> None:
    first, stable = curve.first(), curve.stable()
    print(
        f"{curve.label:<26} seed {curve.seed}: first 500 at {first[0] if first else '-':>6} steps, stable from"
        f" {stable[0] if stable else '-':>6} steps ({stable[1] if stable else float('nan'):5.1f}s); final"
        f" {curve.points[-1][2]:.1f} after {curve.points[-1][0]} steps",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="CartPole seeds 0..n-1 (default 10)")
    parser.add_argument("--acrobot-seeds", type=int, default=5, help="Acrobot seeds 0..n-1 (default 5)")
    parser.add_argument("--no-sb3", action="store_true", help="typedrl alone (no peer; figures not comparable)")
    _results.add_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    smoke = args.smoke
    if not args.no_sb3 and importlib.util.find_spec("stable_baselines3") is None:
        if not smoke:
            parser.error('the peer is not installed: pip install -e ".[bench]" (or --no-sb3 for typedrl alone)')
        args.no_sb3 = True  # a smoke run checks the script, with or without the peer
        print("stable-baselines3 is not installed: the smoke run measures typedrl alone")
    cartpole = ppo_preset("default", **({"updates": 8} if smoke else {}))
    acrobot = ppo_preset("acrobot", **({"updates": 2} if smoke else {}))
    seeds = range(1 if smoke else args.seeds)
    acrobot_seeds = range(1 if smoke else args.acrobot_seeds)
    sb3_steps = 2048 if smoke else SB3_CARTPOLE_STEPS
    acrobot_steps = acrobot.updates * acrobot.horizon * acrobot.num_envs

    on, off = checks_overhead(4 if smoke else 60)
    print(f"shape checks, interleaved: {on:.1f} ms per update on, {off:.1f} ms off: {on / off - 1:+.1%}")

    curves: list[Curve] = []
    for seed in seeds:  # interleaved: the peer's seed k, then typedrl's
        runs: list[Callable[[], Curve]] = [
            lambda: run_typedrl(cartpole.model_copy(update={"seed": seed}), TYPEDRL_LABEL)
        ]
        if not args.no_sb3:
            runs.insert(0, lambda: run_sb3("CartPole-v1", seed, sb3_steps, SB3_CARTPOLE))
        for run in runs:
            curves.append(run())
            _print_curve(curves[-1])
    finals: dict[str, list[float]] = {}
    for seed in acrobot_seeds:
        runs = [lambda: run_typedrl(acrobot.model_copy(update={"seed": seed}), "typedrl (acrobot preset)")]
        if not args.no_sb3:
            runs.insert(0, lambda: run_sb3("Acrobot-v1", seed, acrobot_steps, SB3_ACROBOT))
        for run in runs:
            curve = run()
            finals.setdefault(curve.label, []).append(curve.points[-1][2])
            print(f"Acrobot-v1 {curve.label:<26} seed {seed}: final greedy mean {curve.points[-1][2]:.1f}", flush=True)

    results = [_results.curve_row(curve.label, curve.seed, curve.points) for curve in curves]
    settings = {
        "threshold": THRESHOLD,
        "grid": GRID,
        "episodes": EPISODES,
        "eval_seed": EVAL_SEED,
        "seeds": list(seeds),
        "typedrl_cartpole": cartpole.model_dump(mode="json"),
        "sb3_cartpole": {**SB3_CARTPOLE, "total_timesteps": sb3_steps},
        "acrobot_seeds": list(acrobot_seeds),
        "typedrl_acrobot": acrobot.model_dump(mode="json"),
        "sb3_acrobot": {**SB3_ACROBOT, "total_timesteps": acrobot_steps},
    }
    repetitions = 200 if smoke else 2000
    summary: dict[str, Any] = {"checks_ms_per_update": {"on": on, "off": off, "overhead": on / off - 1}}
    print(f"\nCartPole-v1, {len(seeds)} seeds: stable at 500 / medians over the runs that reached it")
    for label in dict.fromkeys(curve.label for curve in curves):
        group = [curve for curve in curves if curve.label == label]
        stables = [stable for curve in group if (stable := curve.stable()) is not None]
        entry = {
            "stable_runs": len(stables),
            "runs": len(group),
            "stable_steps_median": _median([float(steps) for steps, _ in stables]),
            "stable_seconds_median": _median([seconds for _, seconds in stables]),
            "final_mean_iqm": iqm_interval([curve.points[-1][2] for curve in group], repetitions=repetitions),
        }
        summary[label] = entry
        print(
            f"  {label:<26} {entry['stable_runs']} of {entry['runs']} stable; median stable from "
            f"{entry['stable_steps_median']} steps, {entry['stable_seconds_median']} s"
        )
    if SB3_LABEL in summary and TYPEDRL_LABEL in summary:
        ours, theirs = summary[TYPEDRL_LABEL], summary[SB3_LABEL]
        if ours["stable_steps_median"] and theirs["stable_steps_median"]:
            summary["ratios"] = {
                "steps": ours["stable_steps_median"] / theirs["stable_steps_median"],
                "seconds": ours["stable_seconds_median"] / theirs["stable_seconds_median"],
            }
            print(
                f"  typedrl / SB3 medians to stable: steps x{summary['ratios']['steps']:.2f} (target <= 1), "
                f"seconds x{summary['ratios']['seconds']:.2f} (target <= 1/3)"
            )
    summary["acrobot"] = {
        label: {"finals": values, "final_mean_iqm": iqm_interval(values, repetitions=repetitions)}
        for label, values in finals.items()
    }
    for label, values in finals.items():
        print(f"Acrobot-v1 {label}: final greedy means {[round(value, 1) for value in values]}")

    _results.write(
        "ppo", args, settings=settings, results=results, summary=summary, peers=("stable-baselines3", "rliable")
    )


if __name__ == "__main__":
    main()
