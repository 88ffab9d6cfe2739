"""Continuous control and Box2D: typedrl's PPO presets against Stable-Baselines3 with the rl-baselines3-zoo settings.

Run: ``pip install -e ".[bench,box2d,mujoco]"`` then ``python bench/bench_continuous.py`` (all three tasks; ``--task
pendulum`` for one, ``--seeds 2`` for fewer, ``--smoke`` for a few seconds); writes ``bench/results/continuous.json``.

Three tasks, each with the zoo's hyperparameters for SB3 and the typedrl preset made from them, the same budget
(the issue's steps rounded up to whole rollouts of both libraries; SB3 itself rounds up to whole rollouts), the
same evaluation grid in environment steps, seeds 0..n−1 **interleaved** (SB3 seed k, then typedrl seed k):

- ``pendulum``: Pendulum-v1, 102,400 steps, 5 seeds; SB3 with gSDE (the zoo's), typedrl's ``pendulum`` preset
  (a plain diagonal Gaussian: typedrl has no gSDE; γ 0.95 where the zoo has 0.9); evaluated every 4096 steps;
- ``lunarlander``: LunarLander-v3 (discrete), 311,296 steps (19 of SB3's rollouts of 16 × 1024, 76 of the
  ``lunarlander`` preset's 16 × 256), 3 seeds; evaluated every 16,384 steps;
- ``halfcheetah``: HalfCheetah-v5, 200,192 steps (391 rollouts of 512), 3 seeds; observations and rewards
  normalized on both sides (SB3's ``VecNormalize`` with the zoo's γ); ``halfcheetah`` preset; evaluated every
  20,480 steps and at the end.

Both libraries are evaluated by the same code, :func:`typedrl.evaluate`: greedy (the categorical's argmax, or the
Gaussian's mean clipped to the bounds), 10 episodes seeded 10000 + k, through each library's own observation
normalization. Training seconds exclude evaluation. The final greedy means get their interquartile mean with a 95%
stratified-bootstrap confidence interval (rliable). ``torch.set_num_threads(1)``.
"""

import argparse
import importlib.util
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import _results
import numpy as np
import torch
from bench_ppo import iqm_interval
from torch import nn

from typedrl.algos.ppo import PPO
from typedrl.config import PPOConfig, ppo_preset
from typedrl.evaluation import evaluate

EPISODES = 10
EVAL_SEED = 10_000
SB3_LABEL = "SB3 (rl-zoo)"
TYPEDRL_LABEL = "typedrl (preset)"
Points = list[tuple[int, float, float]]
"""A learning curve: (environment steps, training seconds, greedy mean return) at each evaluation."""


@dataclass(frozen=True)
class Task:
    """One environment of the benchmark: its budget, seeds, evaluation grid and both libraries' settings."""

    env_id: str
    preset: str
    steps: int  # the budget, rounded up to whole rollouts
    seeds: int
    eval_every: int  # environment steps between evaluations (and after the last): a multiple of both rollouts
    max_steps: int  # evaluation episode cap
    sb3: dict[str, Any]  # rl-baselines3-zoo, hyperparams/ppo.yml
    needs: str = ""  # the module the environment needs ("Box2D", "mujoco")
    extra: str = ""  # the typedrl extra that installs it
    sb3_policy_kwargs: dict[str, Any] = field(default_factory=dict)


TASKS: dict[str, Task] = {
    "pendulum": Task(
        env_id="Pendulum-v1",
        preset="pendulum",
        steps=100_000,
        seeds=5,
        eval_every=4096,
        max_steps=200,
        sb3={
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
        },
    ),
    "lunarlander": Task(
        env_id="LunarLander-v3",
        preset="lunarlander",
        steps=300_000,
        seeds=3,
        eval_every=16384,
        max_steps=1000,
        sb3={
            "n_envs": 16,
            "n_steps": 1024,
            "batch_size": 64,
            "gae_lambda": 0.98,
            "gamma": 0.999,
            "n_epochs": 4,
            "ent_coef": 0.01,
        },
        needs="Box2D",
        extra="box2d",
    ),
    "halfcheetah": Task(
        env_id="HalfCheetah-v5",
        preset="halfcheetah",
        steps=200_000,
        seeds=3,
        eval_every=20480,
        max_steps=1000,
        sb3={
            "normalize": True,
            "n_envs": 1,
            "n_steps": 512,
            "batch_size": 64,
            "gamma": 0.98,
            "learning_rate": 2.0633e-05,
            "ent_coef": 0.000401762,
            "clip_range": 0.1,
            "n_epochs": 20,
            "gae_lambda": 0.92,
            "max_grad_norm": 0.8,
            "vf_coef": 0.58096,
        },
        sb3_policy_kwargs={
            "log_std_init": -2.0,
            "ortho_init": False,
            "activation_fn": "ReLU",
            "net_arch": {"pi": [256, 256], "vf": [256, 256]},
        },
        needs="mujoco",
        extra="mujoco",
    ),
}


def greedy(task: Task, actor: nn.Module) -> float:
    return evaluate(actor, task.env_id, episodes=EPISODES, base_seed=EVAL_SEED, max_steps=task.max_steps).mean


def run_typedrl(task: Task, config: PPOConfig) -> Points:
    points: Points = []
    algorithm = PPO(config)
    seconds = 0.0
    while algorithm.updates_done < config.updates:
        start = time.perf_counter()
        algorithm.update()
        seconds += time.perf_counter() - start
        if algorithm.env_steps % task.eval_every == 0 or algorithm.updates_done == config.updates:
            points.append((algorithm.env_steps, seconds, greedy(task, algorithm.actor)))
    algorithm.close()
    return points


class _SB3Actor(nn.Module):
    """SB3's policy as typedrl's evaluation sees an actor: observations (normalized as SB3's ``VecNormalize`` does,
    when training had it) to the categorical's logits, or to the deterministic action (the Gaussian's mean)."""

    def __init__(self, policy: Any, normalizer: Any, *, discrete: bool) -> None:
        super().__init__()
        self.policy = policy
        self.normalizer = normalizer
        self.discrete = discrete

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        if self.normalizer is not None:
            normalized = self.normalizer.normalize_obs(observations.cpu().numpy())
            observations = torch.as_tensor(normalized, dtype=torch.float32)
        distribution = self.policy.get_distribution(observations)
        if self.discrete:
            logits: torch.Tensor = distribution.distribution.logits
            return logits
        mode: torch.Tensor = distribution.mode()
        return mode.reshape(observations.shape[0], -1).float()


def run_sb3(task: Task, seed: int, steps: int) -> Points:
    from gymnasium import spaces
    from stable_baselines3 import PPO as SB3PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    points: Points = []
    options = {key: value for key, value in task.sb3.items() if key not in ("n_envs", "normalize")}
    env = make_vec_env(task.env_id, n_envs=task.sb3["n_envs"], seed=seed)
    normalizer = None
    if task.sb3.get("normalize"):
        env = normalizer = VecNormalize(env, gamma=task.sb3["gamma"])
    policy_kwargs = dict(task.sb3_policy_kwargs)
    if "activation_fn" in policy_kwargs:
        policy_kwargs["activation_fn"] = getattr(nn, policy_kwargs["activation_fn"])
    model = SB3PPO("MlpPolicy", env, seed=seed, device="cpu", verbose=0, policy_kwargs=policy_kwargs, **options)
    discrete = isinstance(env.action_space, spaces.Discrete)
    seconds = 0.0
    # One evaluation grid step per learn() call (with reset_num_timesteps=False, SB3 adds total_timesteps to the
    # steps done and keeps the environments' state), then the evaluation: typedrl's grid.
    while model.num_timesteps < steps:
        start = time.perf_counter()
        model.learn(total_timesteps=min(task.eval_every, steps - model.num_timesteps), reset_num_timesteps=False)
        seconds += time.perf_counter() - start
        actor = _SB3Actor(model.policy, normalizer, discrete=discrete)
        points.append((model.num_timesteps, seconds, greedy(task, actor)))
    env.close()
    return points


def available(task: Task) -> bool:
    return not task.needs or importlib.util.find_spec(task.needs) is not None


def summarize(rows: list[dict[str, Any]], *, smoke: bool) -> dict[str, Any]:
    """Per label: each seed's final greedy mean, their IQM with its 95% interval, the median training seconds;
    then SB3's and typedrl's comparison (the issue's targets)."""
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
    if SB3_LABEL in summary and TYPEDRL_LABEL in summary:
        ours, theirs = summary[TYPEDRL_LABEL], summary[SB3_LABEL]
        summary["seconds_ratio"] = ours["seconds_median"] / theirs["seconds_median"]
        if ours["final_mean_iqm"] is not None and theirs["final_mean_iqm"] is not None:
            a, b = ours["final_mean_iqm"], theirs["final_mean_iqm"]
            summary["iqm_at_least_sb3"] = a["iqm"] >= b["iqm"]
            summary["intervals_overlap"] = a["low"] <= b["high"] and b["low"] <= a["high"]
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=[*TASKS, "all"], default="all", help="which task (default: all three)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..n-1 (default: each task's own)")
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
    names = list(TASKS) if args.task == "all" else [args.task]
    missing = [name for name in names if not available(TASKS[name])]
    if missing and not smoke:
        extras = ",".join(TASKS[name].extra for name in missing)
        parser.error(f'{", ".join(missing)} need their environments: pip install -e ".[{extras}]"')
    for name in missing:
        print(f"{name}: {TASKS[name].needs} is not installed: the smoke run leaves it out")
    rows: list[dict[str, Any]] = []
    settings: dict[str, Any] = {"episodes": EPISODES, "eval_seed": EVAL_SEED, "tasks": {}}
    summary: dict[str, Any] = {}
    for name in (name for name in names if name not in missing):
        task = TASKS[name]
        tiny = {"updates": 1, "horizon": 64, "eval": {"max_steps": 50}} if smoke else {}
        config = ppo_preset(task.preset, **tiny)
        rollout = config.horizon * config.num_envs
        if smoke:
            task = replace(task, eval_every=rollout, max_steps=50)
        steps = config.updates * rollout
        if not smoke:
            # Whole rollouts of both libraries (SB3 itself rounds up to whole rollouts), on the evaluation grid.
            unit = math.lcm(rollout, task.sb3["n_envs"] * task.sb3["n_steps"])
            if task.eval_every % unit:
                raise SystemExit(f"{name}: evaluating every {task.eval_every} steps splits a rollout of {unit}")
            steps = -(-task.steps // unit) * unit
            config = config.model_copy(update={"updates": steps // rollout})
        seeds = range(1 if smoke else (args.seeds or task.seeds))
        task_rows: list[dict[str, Any]] = []
        for seed in seeds:
            runs: list[tuple[str, Callable[[], Points]]] = [
                (TYPEDRL_LABEL, lambda: run_typedrl(task, config.model_copy(update={"seed": seed})))
            ]
            if not args.no_sb3:
                runs.insert(0, (SB3_LABEL, lambda: run_sb3(task, seed, steps)))
            for label, run in runs:
                points = run()
                task_rows.append(_results.curve_row(label, seed, points, task=name))
                print(
                    f"{task.env_id:<15} {label:<18} seed {seed}: final greedy mean {points[-1][2]:8.1f} after"
                    f" {points[-1][0]} steps, {points[-1][1]:6.1f} s training",
                    flush=True,
                )
        rows += task_rows
        summary[name] = summarize(task_rows, smoke=smoke)
        for label in (SB3_LABEL, TYPEDRL_LABEL):
            if label in summary[name]:
                entry = summary[name][label]
                print(
                    f"{task.env_id:<15} {label:<18} finals {np.round(entry['finals'], 1).tolist()};"
                    f" IQM {entry['final_mean_iqm']}"
                )
        if "seconds_ratio" in summary[name]:
            print(f"{task.env_id:<15} typedrl / SB3 median training seconds: x{summary[name]['seconds_ratio']:.2f}")
        settings["tasks"][name] = {
            "env_id": task.env_id,
            "steps": steps,
            "seeds": list(seeds),
            "eval_every_steps": task.eval_every,
            "max_steps": task.max_steps,
            "typedrl": config.model_dump(mode="json"),
            "sb3": {**task.sb3, "policy_kwargs": task.sb3_policy_kwargs, "total_timesteps": steps},
        }
    peers = ("stable-baselines3", "rliable", "box2d", "mujoco")
    _results.write("continuous", args, settings=settings, results=rows, summary=summary, peers=peers)


if __name__ == "__main__":
    main()
