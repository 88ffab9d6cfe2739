"""GAE speed: typedrl against a numpy loop over T (SB3), a torch loop over T (CleanRL) and the np.add floor.

Run: ``python bench/bench_returns.py`` (add ``--quick`` for fewer sizes and repeats). Everything is measured in
this run, on this machine, single-threaded (``torch.set_num_threads(1)``), float32, best of several repeats.
The floor is ``np.add(rewards, values)`` on the same [T, N] arrays: reading two of GAE's five inputs and writing
one output, the least any implementation must touch. typedrl is measured with the runtime shape checks off
(the speed setting) and on (the default: its fixed cost per call is the jaxtyping/beartype check).

On CUDA (when a GPU is present) it also times typedrl against a device-to-device copy of the same bytes.
"""

import argparse
from collections.abc import Callable

import numpy as np
import torch
from timing import best_seconds  # bench/timing.py (scripts run with bench/ on sys.path)

import typedrl

GAMMA, LAM = 0.99, 0.95
SIZES = [(128, 8), (2048, 8), (2048, 64), (1000, 1024), (100000, 1)]
# Targets from the project's issue: typedrl (checks off) within this many times the floor at each size.
FLOOR_TARGET = {(100000, 1): 20.0}
DEFAULT_FLOOR_TARGET = 5.0
NUMPY_SPEEDUP_TARGET = ((2048, 8), 100.0)


def numpy_loop_gae(
    rewards: np.ndarray,
    values: np.ndarray,
    next_values: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
) -> np.ndarray:
    """Stable-Baselines3's RolloutBuffer style: a Python loop over T of numpy row operations."""
    advantages = np.zeros_like(rewards)
    last = np.zeros_like(rewards[0])
    not_terminated = 1.0 - terminated.astype(rewards.dtype)
    not_done = 1.0 - (terminated | truncated).astype(rewards.dtype)
    for t in reversed(range(rewards.shape[0])):
        delta = rewards[t] + GAMMA * next_values[t] * not_terminated[t] - values[t]
        last = delta + GAMMA * LAM * not_done[t] * last
        advantages[t] = last
    return advantages


def torch_loop_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
) -> torch.Tensor:
    """CleanRL's ppo.py style: a Python loop over T of torch row operations."""
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[0])
    not_terminated = (~terminated).to(rewards.dtype)
    not_done = (~(terminated | truncated)).to(rewards.dtype)
    for t in reversed(range(rewards.shape[0])):
        delta = rewards[t] + GAMMA * next_values[t] * not_terminated[t] - values[t]
        last = delta + GAMMA * LAM * not_done[t] * last
        advantages[t] = last
    return advantages


def make_inputs(horizon: int, n_envs: int, device: str = "cpu") -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(0)
    shape = (horizon, n_envs)
    rewards, values, next_values = (torch.rand(shape, generator=generator) for _ in range(3))
    terminated = torch.rand(shape, generator=generator) < 0.01
    truncated = torch.rand(shape, generator=generator) < 0.005
    return tuple(x.to(device) for x in (rewards, values, next_values, terminated, truncated))


def bench_cpu(sizes: list[tuple[int, int]], budget: float) -> bool:
    print("CPU, float32, 1 thread. ns per element (T*N); ratios against the np.add floor measured here.")
    header = (
        f"{'T':>7} {'N':>5} | {'numpy loop':>10} {'torch loop':>10} {'typedrl':>9} {'checked':>9} {'floor':>7} |"
        f" {'x floor':>7} {'target':>6} {'vs numpy':>9}"
    )
    print(header)
    print("-" * len(header))
    all_met = True
    for horizon, n_envs in sizes:
        inputs = make_inputs(horizon, n_envs)
        arrays = tuple(x.numpy() for x in inputs)
        elements = horizon * n_envs
        slow_budget = budget if elements * horizon < 10**9 else budget / 4
        numpy_loop = best_seconds(lambda: numpy_loop_gae(*arrays), budget=slow_budget, min_calls=1)
        torch_loop = best_seconds(lambda: torch_loop_gae(*inputs), budget=slow_budget, min_calls=1)
        with typedrl.shape_checks(False):
            fast = best_seconds(lambda: typedrl.gae(*inputs, gamma=GAMMA, lam=LAM), budget=budget)
        with typedrl.shape_checks(True):
            checked = best_seconds(lambda: typedrl.gae(*inputs, gamma=GAMMA, lam=LAM), budget=budget)
        floor = best_seconds(lambda: np.add(arrays[0], arrays[1]), budget=budget)
        target = FLOOR_TARGET.get((horizon, n_envs), DEFAULT_FLOOR_TARGET)
        ratio = fast / floor
        met = ratio <= target
        all_met &= met

        def ns(seconds: float, elements: int = elements) -> str:
            return f"{seconds / elements * 1e9:.2f}"

        print(
            f"{horizon:>7} {n_envs:>5} | {ns(numpy_loop):>10} {ns(torch_loop):>10} {ns(fast):>9} {ns(checked):>9}"
            f" {ns(floor):>7} | {ratio:>6.1f}x {'<=' + format(target, '.0f'):>6} {numpy_loop / fast:>8.0f}x"
            f"{'' if met else '  (target missed)'}"
        )
        if (horizon, n_envs) == NUMPY_SPEEDUP_TARGET[0]:
            speedup_met = numpy_loop / fast >= NUMPY_SPEEDUP_TARGET[1]
            all_met &= speedup_met
            print(
                f"{'':>15}typedrl is {numpy_loop / fast:.0f}x faster than the numpy loop here "
                f"(target >= {NUMPY_SPEEDUP_TARGET[1]:.0f}x: {'met' if speedup_met else 'missed'})"
            )
        print(f"{'':>15}shape checks cost {(checked - fast) * 1e6:.1f} us per call at this size")
    return all_met


def bench_cuda(budget: float) -> None:
    if not torch.cuda.is_available():
        print("\nCUDA: no device here; the GPU figures need a machine with one.")
        return
    print(f"\nCUDA ({torch.cuda.get_device_name()}), float32. us per call; copy = device copy of the same bytes.")
    for horizon, n_envs in [(256, 65536), (2048, 64)]:
        inputs = make_inputs(horizon, n_envs, "cuda")
        source = torch.empty(horizon * n_envs * 4 * 3 + horizon * n_envs * 2, dtype=torch.uint8, device="cuda")
        target = torch.empty_like(source)

        def timed(function: Callable[[], object]) -> float:
            for _ in range(3):
                function()
            torch.cuda.synchronize()
            start = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
            end = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
            repeats = 50
            start.record()
            for _ in range(repeats):
                function()
            end.record()
            torch.cuda.synchronize()
            return float(start.elapsed_time(end)) / repeats * 1e3

        with typedrl.shape_checks(False):
            ours = timed(lambda: typedrl.gae(*inputs, gamma=GAMMA, lam=LAM))
        copy = timed(lambda: target.copy_(source))
        loop = timed(lambda: torch_loop_gae(*inputs)) if horizon <= 2048 else float("nan")
        print(
            f"  (T, N) = ({horizon}, {n_envs}): typedrl {ours:.0f} us, torch loop {loop:.0f} us, copy {copy:.0f} us,"
            f" typedrl / copy = {ours / copy:.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three sizes and a shorter time budget")
    args = parser.parse_args()
    torch.set_num_threads(1)
    sizes = SIZES[:3] if args.quick else SIZES
    budget = 0.1 if args.quick else 0.5
    all_met = bench_cpu(sizes, budget)
    bench_cuda(budget)
    print("\nall CPU targets met" if all_met else "\nsome CPU targets missed (marked above)")


if __name__ == "__main__":
    main()
