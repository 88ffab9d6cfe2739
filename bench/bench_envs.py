"""What the environment contract costs: raw Gymnasium vector env against the checked one, in the same run.

For each setting, a raw env and a checked env (same id, same seed) step through the same pre-generated random
actions (so sampling is not measured); the best of several interleaved repeats is kept. Printed: µs per vector
step raw and checked, the checks' cost per vector step, the throughput ratio checked/raw, and the checks alone
(what the checked wrapper adds to an env that replays one recorded step), which shows what bounds the ratio.

Run: ``python bench/bench_envs.py`` (``--quick`` for fewer repeats, ``--smoke`` for a check that it runs); the
figures go to ``bench/results/envs.json`` (``--out PATH`` elsewhere; layout in ``bench/_results.py``), from which
the docs render their table. Rows of the JSON: ``{"env", "N", "variant", "us_per_vector_step": [one per block]}``
with variants ``raw`` and ``checked`` (taking turns), ``replay`` and ``replay_checked`` (the checks alone, taking
turns); the summary holds the printed table (best blocks).
"""

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import _results  # bench/_results.py (scripts run with bench/ on sys.path)
import gymnasium as gym
import numpy as np
import torch

from typedrl.envs import CheckedVectorEnv

# Timing one thread: with 2 cores, stray torch threads stall everything else.
torch.set_num_threads(1)


def _native(num_envs: int) -> gym.vector.VectorEnv[Any, Any, Any]:
    return gym.make_vec("CartPole-v1", num_envs, vectorization_mode="vector_entry_point")


def _sync(num_envs: int) -> gym.vector.VectorEnv[Any, Any, Any]:
    return gym.make_vec("CartPole-v1", num_envs, vectorization_mode="sync")


def _sync_same_step(num_envs: int) -> gym.vector.VectorEnv[Any, Any, Any]:
    """SAME_STEP autoreset: the contract also holds every done sub-environment to a final observation in info."""
    kwargs = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}
    return gym.make_vec("CartPole-v1", num_envs, vectorization_mode="sync", vector_kwargs=kwargs)


SETTINGS: list[tuple[str, Callable[[int], gym.vector.VectorEnv[Any, Any, Any]], int]] = [
    ("CartPoleVectorEnv", _native, 8),
    ("CartPoleVectorEnv", _native, 64),
    ("make_vec sync", _sync, 8),
    ("make_vec sync, SAME_STEP", _sync_same_step, 8),
]


def _time_steps(env: gym.vector.VectorEnv[Any, Any, Any], actions: np.ndarray) -> float:
    """Seconds per vector step over ``actions`` (one row per step)."""
    step = env.step
    start = time.perf_counter()
    for action in actions:
        step(action)
    return (time.perf_counter() - start) / len(actions)


class _Replay(gym.vector.VectorEnv[Any, Any, Any]):
    """A vector env that answers every step with one recorded result: stepping it costs next to nothing."""

    def __init__(self, env: gym.vector.VectorEnv[Any, Any, Any], result: tuple[Any, ...]) -> None:
        self.num_envs, self.metadata = env.num_envs, env.metadata
        self.single_observation_space, self.single_action_space = env.single_observation_space, env.single_action_space
        self.observation_space, self.action_space = env.observation_space, env.action_space
        self.result = result

    def step(self, actions: Any) -> Any:
        return self.result


def _time_checks(env: gym.vector.VectorEnv[Any, Any, Any], actions: np.ndarray, repeats: int) -> dict[str, list[float]]:
    """Seconds per vector step of an env that replays one recorded step, bare and checked, taking turns."""
    env.reset(seed=0)
    replay = _Replay(env, env.step(actions[0]))
    checked = CheckedVectorEnv(_Replay(env, replay.result))
    times: dict[str, list[float]] = {"replay": [], "replay_checked": []}
    for _ in range(3 * repeats):  # short blocks: more of them, for the same confidence
        times["replay"].append(_time_steps(replay, actions))
        times["replay_checked"].append(_time_steps(checked, actions))
    return times


def measure(
    make: Callable[[int], gym.vector.VectorEnv[Any, Any, Any]], num_envs: int, *, steps: int, repeats: int
) -> dict[str, list[float]]:
    """Seconds per vector step of each block of ``steps``: the raw and the checked env, then the checks alone.

    Short blocks, raw and checked taking turns; the figure is the best block of each: on a shared machine the best
    block is the one nothing else interrupted.
    """
    raw, checked = make(num_envs), CheckedVectorEnv(make(num_envs))
    actions = np.random.default_rng(0).integers(0, 2, size=(steps, num_envs))
    raw.reset(seed=0)
    checked.reset(seed=0)
    times: dict[str, list[float]] = {"raw": [], "checked": []}
    for _ in range(repeats):
        times["raw"].append(_time_steps(raw, actions))
        times["checked"].append(_time_steps(checked, actions))
    times.update(_time_checks(raw, actions, repeats))
    raw.close()
    checked.close()
    return times


def main(argv: list[str] | None = None) -> None:
    """Measure every setting, print one line each, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    _results.add_arguments(parser)
    args = parser.parse_args(argv)
    steps, repeats = (20, 3) if args.smoke else (500, 10) if args.quick else (500, 100)
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, gymnasium {gym.__version__}, torch threads 1")
    print(f"blocks of {steps} vector steps of random CartPole-v1 actions, best of {repeats}; µs per vector step")
    print(f"{'env':<24} {'N':>3} {'raw':>8} {'checked':>8} {'checks':>7} {'ratio':>6} {'checks alone':>13}")
    rows: list[dict[str, Any]] = []
    table: list[dict[str, Any]] = []
    for name, make, num_envs in SETTINGS:
        times = measure(make, num_envs, steps=steps, repeats=repeats)
        for variant, seconds in times.items():
            rows.append(
                {"env": name, "N": num_envs, "variant": variant, "us_per_vector_step": [s * 1e6 for s in seconds]}
            )
        raw, checked = min(times["raw"]) * 1e6, min(times["checked"]) * 1e6
        alone = (min(times["replay_checked"]) - min(times["replay"])) * 1e6
        line = {"env": name, "N": num_envs, "raw_us": raw, "checked_us": checked, "checks_us": checked - raw}
        line |= {"throughput_ratio": raw / checked, "checks_alone_us": alone}
        table.append(line)
        cost, ratio = checked - raw, raw / checked
        print(f"{name:<24} {num_envs:>3} {raw:8.2f} {checked:8.2f} {cost:7.2f} {ratio:6.1%} {alone:13.2f}")
    print("checks = checked − raw; ratio = checked throughput / raw throughput;")
    print("checks alone = what CheckedVectorEnv adds to an env that replays one recorded step (no env cost).")
    alone_by = {(line["env"], line["N"]): line["checks_alone_us"] for line in table}
    small, large = alone_by["CartPoleVectorEnv", 8], alone_by["CartPoleVectorEnv", 64]
    per_env = (large - small) / 56 * 1000
    fixed = large < 1.5 * small
    bound = (
        "a fixed cost per vector step (a handful of numpy calls and the wrapper's Python), not the work per element"
        if fixed
        else "the cost grows with N: the work per element counts"
    )
    print(
        f"N=64: the checks alone cost {large:.2f} µs against {small:.2f} µs at N=8 ({per_env:.1f} ns per extra "
        f"sub-environment): {bound}."
    )
    settings = {
        "env_id": "CartPole-v1",
        "steps_per_block": steps,
        "repeats": repeats,
        "checks_alone_repeats": 3 * repeats,
        "quick": args.quick,
        "envs": [{"env": name, "N": num_envs} for name, _, num_envs in SETTINGS],
    }
    summary = {"table": table, "checks_alone_ns_per_extra_env": per_env, "checks_alone_fixed": fixed}
    _results.write("envs", args, settings=settings, results=rows, summary=summary)


if __name__ == "__main__":
    main()
