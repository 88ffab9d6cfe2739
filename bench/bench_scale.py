"""Scaling out on one machine: HalfCheetah-v5 environment steps per second, Gymnasium's SyncVectorEnv against its
AsyncVectorEnv (one worker process per sub-environment), both through typedrl's checked vector env.

Run: ``python bench/bench_scale.py`` alone on the machine (``--smoke`` for a check that it runs; ``--repeats``);
writes ``bench/results/scale.json``, from which the docs ("Scaling out") render their table.

For N = 2, 4 and 8 sub-environments: ``make_env("HalfCheetah-v5", num_envs=N, vectorization="sync" | "async")``
(the contract on every step, as in training), reset with seed 0, then :data:`WARMUP` vector steps untimed and
:data:`STEPS` timed, with actions drawn in advance (uniform in the action space, one fixed array per step, the same
for both). The two are measured alternately, ``--repeats`` times each; the median is reported and every repeat is
kept. The figure is environment steps per second (``N`` per vector step); the ratio is async over sync. The target
(the scaling issue): at least 1.6× with two workers. The torch thread count is 1; the workers are Gymnasium's,
started with the platform's default method (fork on Linux) and kept for the whole measurement (their start-up is
not timed). No policy runs: this is the environment side of a rollout, where the workers help.
"""

import argparse
import statistics
import time
from typing import Any

import _results  # bench/_results.py (scripts run with bench/ on sys.path)
import numpy as np
import torch

from typedrl.envs import make_env

ENV_ID = "HalfCheetah-v5"
SIZES = (2, 4, 8)
WARMUP = 50
STEPS = 1000
TARGET = 1.6  # async over sync with two workers
SMOKE_SIZES, SMOKE_WARMUP, SMOKE_STEPS = (2,), 5, 20  # --smoke: one size, one repeat, a few steps


def measure(vector: str, num_envs: int, *, warmup: int, steps: int) -> float:
    """Environment steps per second of ``steps`` vector steps after ``warmup`` untimed ones."""
    env = make_env(ENV_ID, num_envs=num_envs, seed=0, vectorization=vector, timeout=60.0)  # type: ignore[arg-type]
    try:
        space = env.single_action_space
        generator = np.random.default_rng(0)
        low, high = np.asarray(space.low), np.asarray(space.high)  # type: ignore[attr-defined]
        actions = generator.uniform(low, high, size=(warmup + steps, num_envs, *low.shape)).astype(np.float32)
        env.reset()
        for index in range(warmup):
            env.step(actions[index])
        start = time.perf_counter()
        for index in range(warmup, warmup + steps):
            env.step(actions[index])
        seconds = time.perf_counter() - start
    finally:
        env.close()
    return num_envs * steps / seconds


def main(argv: list[str] | None = None) -> None:
    """Measure sync and async at every size, print, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="measurements of each setting (default: 5)")
    _results.add_arguments(parser)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    sizes: tuple[int, ...] = SMOKE_SIZES if args.smoke else SIZES
    warmup = SMOKE_WARMUP if args.smoke else WARMUP
    steps = SMOKE_STEPS if args.smoke else STEPS
    repeats = 1 if args.smoke else int(args.repeats)
    print(f"{ENV_ID}, checked vector env, {steps} vector steps after {warmup}, {repeats} repeats, alternating")
    rows: list[dict[str, Any]] = []
    table: list[dict[str, Any]] = []
    for num_envs in sizes:
        figures: dict[str, list[float]] = {"sync": [], "async": []}
        for _ in range(repeats):
            for vector in ("sync", "async"):
                figures[vector].append(measure(vector, num_envs, warmup=warmup, steps=steps))
        for vector, values in figures.items():
            rows.append({"N": num_envs, "vector": vector, "steps_per_second": values})
        sync, asynchronous = statistics.median(figures["sync"]), statistics.median(figures["async"])
        line = {"N": num_envs, "sync": sync, "async": asynchronous, "ratio": asynchronous / sync}
        table.append(line)
        print(f"  N={num_envs}: sync {sync:,.0f} steps/s, async {asynchronous:,.0f} steps/s: x{line['ratio']:.2f}")
    two = next((line for line in table if line["N"] == 2), None)
    met = None if two is None else two["ratio"] >= TARGET
    print(f"target: async >= {TARGET}x sync with two workers: {'met' if met else 'missed'}")
    settings = {
        "env_id": ENV_ID,
        "sizes": list(sizes),
        "warmup": warmup,
        "steps": steps,
        "repeats": repeats,
        "target_ratio_two_workers": TARGET,
    }
    _results.write("scale", args, settings=settings, results=rows, summary={"table": table, "target_met": met})


if __name__ == "__main__":
    main()
