"""Continuous control: typedrl's PPO presets against Stable-Baselines3 with the rl-baselines3-zoo settings, in one run.

Run: ``pip install -e ".[bench]"`` then ``python bench/bench_continuous.py`` (``--seeds 3`` for fewer, ``--smoke``
for a few seconds); writes ``bench/results/continuous.json``.

Pendulum-v1 (Box(-2, 2, (1,)) torque), 102,400 steps each (the zoo's 10⁵ rounded up to whole rollouts of 4 × 1024
steps, as SB3 itself does), seeds 0..n−1 **interleaved** (SB3 seed k, then typedrl seed k). SB3 runs the zoo's
settings, gSDE included; typedrl its ``pendulum`` preset (the same settings, a plain diagonal Gaussian). Both are
evaluated by the same code (:func:`typedrl.evaluate`: the policy's mean action, clipped to the bounds, 10 episodes
seeded 10000 + k) after every rollout of 4096 steps; training seconds exclude evaluation. The final greedy means
get their interquartile mean with a 95% stratified-bootstrap confidence interval (rliable). The issue's other
tasks (LunarLander-v3, HalfCheetah-v5) come with their presets. ``torch.set_num_threads(1)``.
"""

import argparse
import importlib.util
import statistics
import time
from collections.abc import Callable
from typing import Any

import _results
import numpy as np
import torch
from bench_ppo import iqm_interval
from torch import nn

from typedrl.algos.ppo import PPO
from typedrl.config import PPOConfig, ppo_preset
from typedrl.evaluation import evaluate

ENV_ID = "Pendulum-v1"
EPISODES = 10
EVAL_SEED = 10_000
MAX_STEPS = 200
SB3_LABEL = "SB3 (rl-zoo)"
TYPEDRL_LABEL = "typedrl (pendulum preset)"
# rl-baselines3-zoo, hyperparams/ppo.yml, Pendulum-v1 ("Tuned").
SB3_PENDULUM: dict[str, Any] = {
    "n_envs": 4,
    "n_steps": 1024,
    "gae_lambda": 0.95,
    "gamma": 0.9,
    "n_epochs": 10,
    "ent_coef": 0.0,
    "learning_rate": 1e-3,
    "clip_range": 0.2,
    "use_sde": True,
    "sde_sample_freq": 4,
}
Points = list[tuple[int, float, float]]
"""A learning curve: (environment steps, training seconds, greedy mean return) after each update."""


def greedy(actor: nn.Module) -> float:
    return evaluate(actor, ENV_ID, episodes=EPISODES, base_seed=EVAL_SEED, max_steps=MAX_STEPS).mean


def run_typedrl(config: PPOConfig) -> list[tuple[int, float, float]]:
    points: list[tuple[int, float, float]] = []
    algorithm = PPO(config)
    seconds = 0.0
    while algorithm.updates_done < config.updates:
        start = time.perf_counter()
        algorithm.update()
        seconds += time.perf_counter() - start
        points.append((algorithm.env_steps, seconds, greedy(algorithm.actor)))
    algorithm.close()
    return points


class _SB3MeanActor(nn.Module):
    """SB3's policy as an observation → mean action module (its deterministic action, before clipping)."""

    def __init__(self, policy: nn.Module) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        actions: torch.Tensor = self.policy._predict(observations, deterministic=True)  # type: ignore[operator]
        return actions.reshape(observations.shape[0], -1).float()


def run_sb3(seed: int, steps: int) -> list[tuple[int, float, float]]:
    from stable_baselines3 import PPO as SB3PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    points: list[tuple[int, float, float]] = []

    class Grid(BaseCallback):  # type: ignore[misc, unused-ignore]  # untyped without the bench extra
        def __init__(self) -> None:
            super().__init__()
            self.eval_seconds = 0.0
            self.start = time.perf_counter()

        def _on_step(self) -> bool:
            return True

        def evaluate_now(self) -> None:
            begin = time.perf_counter()
            mean = greedy(_SB3MeanActor(self.model.policy))
            self.eval_seconds += time.perf_counter() - begin
            points.append((self.num_timesteps, time.perf_counter() - self.start - self.eval_seconds, mean))

    options = {key: value for key, value in SB3_PENDULUM.items() if key != "n_envs"}
    env = make_vec_env(ENV_ID, n_envs=SB3_PENDULUM["n_envs"], seed=seed)
    model = SB3PPO("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **options)
    callback = Grid()
    rollout = SB3_PENDULUM["n_envs"] * SB3_PENDULUM["n_steps"]
    # One rollout and its update per learn() call (with reset_num_timesteps=False, SB3 adds total_timesteps to the
    # steps done and keeps the environments' state), then the evaluation: typedrl's grid, after each update.
    while model.num_timesteps < steps:
        model.learn(total_timesteps=rollout, callback=callback, reset_num_timesteps=False)
        callback.evaluate_now()
    env.close()
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="Pendulum seeds 0..n-1 (default 5)")
    parser.add_argument("--no-sb3", action="store_true", help="typedrl alone (no peer; figures not comparable)")
    _results.add_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    smoke = args.smoke
    if not args.no_sb3 and importlib.util.find_spec("stable_baselines3") is None:
        if not smoke:
            parser.error('the peer is not installed: pip install -e ".[bench]" (or --no-sb3 for typedrl alone)')
        args.no_sb3 = True
        print("stable-baselines3 is not installed: the smoke run measures typedrl alone")
    config = ppo_preset("pendulum", **({"updates": 1, "horizon": 64} if smoke else {}))
    steps = config.updates * config.horizon * config.num_envs
    seeds = range(1 if smoke else args.seeds)
    rows: list[dict[str, Any]] = []
    for seed in seeds:
        runs: list[tuple[str, Callable[[], Points]]] = [
            (TYPEDRL_LABEL, lambda: run_typedrl(config.model_copy(update={"seed": seed})))
        ]
        if not args.no_sb3:
            runs.insert(0, (SB3_LABEL, lambda: run_sb3(seed, steps)))
        for label, run in runs:
            points = run()
            rows.append(_results.curve_row(label, seed, points))
            print(
                f"{label:<26} seed {seed}: final greedy mean {points[-1][2]:8.1f} after {points[-1][0]} steps,"
                f" {points[-1][1]:5.1f} s training",
                flush=True,
            )
    summary: dict[str, Any] = {}
    for label in dict.fromkeys(row["label"] for row in rows):
        group = [row for row in rows if row["label"] == label]
        finals = [row["points"][-1]["mean"] for row in group]
        seconds = [row["points"][-1]["seconds"] for row in group]
        summary[label] = {
            "finals": finals,
            "final_mean_iqm": iqm_interval(finals, repetitions=200 if smoke else 2000),
            "seconds_median": statistics.median(seconds),
        }
        print(f"{label:<26} finals {np.round(finals, 1).tolist()}; IQM {summary[label]['final_mean_iqm']}")
    if SB3_LABEL in summary and TYPEDRL_LABEL in summary:
        summary["seconds_ratio"] = summary[TYPEDRL_LABEL]["seconds_median"] / summary[SB3_LABEL]["seconds_median"]
        print(f"typedrl / SB3 median training seconds: x{summary['seconds_ratio']:.2f} (target <= 0.5)")
    settings = {
        "env_id": ENV_ID,
        "episodes": EPISODES,
        "eval_seed": EVAL_SEED,
        "max_steps": MAX_STEPS,
        "seeds": list(seeds),
        "typedrl": config.model_dump(mode="json"),
        "sb3": {**SB3_PENDULUM, "total_timesteps": steps},
    }
    _results.write(
        "continuous", args, settings=settings, results=rows, summary=summary, peers=("stable-baselines3", "rliable")
    )


if __name__ == "__main__":
    main()
