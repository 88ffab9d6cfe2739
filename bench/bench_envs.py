"""What the environment contract costs: raw Gymnasium vector env against the checked one, in the same run.

For each setting, a raw env and a checked env (same id, same seed) step through the same pre-generated random
actions (so sampling is not measured); the best of several interleaved repeats is kept. Printed: µs per vector
step raw and checked, the checks' cost per vector step, the throughput ratio checked/raw, and the checks alone
(what the checked wrapper adds to an env that replays one recorded step), which shows what bounds the ratio.

Run: ``python bench/bench_envs.py`` (``--quick`` for a short run).
"""

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

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
    ("sync, SAME_STEP", _sync_same_step, 8),
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


def _time_checks(env: gym.vector.VectorEnv[Any, Any, Any], actions: np.ndarray, repeats: int) -> float:
    """Seconds per vector step that the checked wrapper adds to an env that replays one recorded step."""
    env.reset(seed=0)
    replay = _Replay(env, env.step(actions[0]))
    checked = CheckedVectorEnv(_Replay(env, replay.result))
    best_raw = best_checked = float("inf")
    for _ in range(3 * repeats):  # short blocks: more of them, for the same confidence
        best_raw = min(best_raw, _time_steps(replay, actions))
        best_checked = min(best_checked, _time_steps(checked, actions))
    return best_checked - best_raw


def measure(
    make: Callable[[int], gym.vector.VectorEnv[Any, Any, Any]], num_envs: int, *, steps: int, repeats: int
) -> dict[str, float]:
    """Best-of-``repeats`` µs per vector step of the raw and the checked env, and of the checks alone.

    Short blocks of ``steps``, raw and checked taking turns, and the best block of each: on a shared machine
    the best block is the one nothing else interrupted.
    """
    raw, checked = make(num_envs), CheckedVectorEnv(make(num_envs))
    actions = np.random.default_rng(0).integers(0, 2, size=(steps, num_envs))
    raw.reset(seed=0)
    checked.reset(seed=0)
    best_raw = best_checked = float("inf")
    for _ in range(repeats):
        best_raw = min(best_raw, _time_steps(raw, actions))
        best_checked = min(best_checked, _time_steps(checked, actions))
    checks = _time_checks(raw, actions, repeats)
    raw.close()
    checked.close()
    return {"raw": best_raw * 1e6, "checked": best_checked * 1e6, "checks_alone": checks * 1e6}


def main(argv: list[str] | None = None) -> None:
    """Measure every setting and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats")
    args = parser.parse_args(argv)
    steps, repeats = (500, 10) if args.quick else (500, 100)
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, gymnasium {gym.__version__}, torch threads 1")
    print(f"blocks of {steps} vector steps of random CartPole-v1 actions, best of {repeats}; µs per vector step")
    print(f"{'env':<18} {'N':>3} {'raw':>8} {'checked':>8} {'checks':>7} {'ratio':>6} {'checks alone':>13}")
    alone = {}
    for name, make, num_envs in SETTINGS:
        r = measure(make, num_envs, steps=steps, repeats=repeats)
        cost, ratio = r["checked"] - r["raw"], r["raw"] / r["checked"]
        alone[name, num_envs] = r["checks_alone"]
        print(
            f"{name:<18} {num_envs:>3} {r['raw']:8.2f} {r['checked']:8.2f} {cost:7.2f} {ratio:6.1%}"
            f" {r['checks_alone']:13.2f}"
        )
    print("checks = checked − raw; ratio = checked throughput / raw throughput;")
    print("checks alone = what CheckedVectorEnv adds to an env that replays one recorded step (no env cost).")
    small, large = alone["CartPoleVectorEnv", 8], alone["CartPoleVectorEnv", 64]
    per_env = (large - small) / 56 * 1000
    bound = (
        "a fixed cost per vector step (a handful of numpy calls and the wrapper's Python), not the work per element"
        if large < 1.5 * small
        else "the cost grows with N: the work per element counts"
    )
    print(
        f"N=64: the checks alone cost {large:.2f} µs against {small:.2f} µs at N=8 ({per_env:.1f} ns per extra "
        f"sub-environment): {bound}."
    )


if __name__ == "__main__":
    main()
