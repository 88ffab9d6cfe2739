"""GAE speed: typedrl against a numpy loop over T (SB3), a torch loop over T (CleanRL) and the np.add floor.

Run: ``python bench/bench_returns.py`` (``--quick`` for three sizes and a shorter budget, ``--smoke`` for a check
that it runs); the figures go to ``bench/results/returns.json`` (``--out PATH`` elsewhere; layout in
``bench/_results.py``), from which the docs render their table. Everything is measured in this run, on this machine,
single-threaded (``torch.set_num_threads(1)``), float32, best of 5 rounds, the contenders taking turns round by
round (the peers first, then typedrl: ``bench/timing.py``). The floor is ``np.add(rewards, values)`` on the same
[T, N] arrays: reading two of GAE's five inputs and writing one output, the least any implementation must touch.
typedrl is measured with the runtime shape checks off (the speed setting) and on (the default: its fixed cost per
call is the jaxtyping/beartype check).

Then, at the first three sizes (``--quick`` and the full run alike), the other operations, each with the checks off
and on, in turns with one ``np.add`` floor measured in the same rotation: ``n_step_returns`` (n = 5), ``vtrace``
(ρ̄ = c̄ = 1), ``gae`` with a ``valid`` mask (``mask_mode="stop"``, time-major [T, N]), and ``gae`` on batch-major
[B, T] = [N, T] arrays with ``time_axis=1`` and the same mask. The mask right-pads every column (its valid steps
are a prefix of a length drawn from [T/2, T]). The issue's target for each: within 5x the floor at (2048, 8).

On CUDA (when a GPU is present) it also times typedrl against the torch loop and a device-to-device copy of the same
bytes as the inputs.

Rows of the JSON: ``{"device", "operation", "T", "N", "implementation", "calls_per_repeat", "seconds_per_call": [one
per round]}``. ``operation`` is ``"gae"`` for the GAE table (implementations as in ``IMPLEMENTATIONS``; CUDA's
``"copy"``, ``"torch_loop"``, ``"typedrl"``); for the other operations it is one of ``OPERATIONS``, with
implementations ``"typedrl"`` and ``"typedrl_checked"``, and ``"floor"`` for their shared floor, whose row has
``"operation": "floor"``. The summary holds the printed tables (best rounds, in ns per element) and the targets:
``summary["cpu"]`` and ``summary["cuda"]`` for GAE, ``summary["operations"]`` for the others.
"""

import argparse
from collections.abc import Callable
from typing import Any

import _results  # bench/_results.py (scripts run with bench/ on sys.path)
import numpy as np
import torch
from timing import Contender, interleaved

import typedrl

GAMMA, LAM = 0.99, 0.95
SIZES = [(128, 8), (2048, 8), (2048, 64), (1000, 1024), (100000, 1)]
SMOKE_SIZES = [(64, 4), (512, 2)]
CUDA_SIZES = [(256, 65536), (2048, 64)]
ROUNDS = 5
# Targets from the project's issue: typedrl (checks off) within this many times the floor at each size.
FLOOR_TARGET = {(100000, 1): 20.0}
DEFAULT_FLOOR_TARGET = 5.0
NUMPY_SPEEDUP_TARGET = ((2048, 8), 100.0)
# In the order they take turns: the peers and the floor first, then typedrl.
IMPLEMENTATIONS = {
    "numpy_loop": "numpy loop",
    "torch_loop": "torch loop",
    "floor": "np.add floor",
    "typedrl": "typedrl (checks off)",
    "typedrl_checked": "typedrl (checks on)",
}
# The other operations, timed at OPERATION_SIZES (the smoke run's sizes with --smoke) against one np.add floor.
N_STEP = 5
RHO_BAR = C_BAR = 1.0
OPERATIONS = {
    "n_step_returns": f"n_step_returns (n = {N_STEP})",
    "vtrace": f"vtrace (rho_bar = c_bar = {RHO_BAR:g})",
    "gae_masked": "gae, valid mask, stop mode, [T, N]",
    "gae_batch_major": "gae, valid mask, stop mode, [B, T], time_axis=1",
}
OPERATION_SIZES = SIZES[:3]
# The target for each of them: typedrl (checks off) within this many times the floor at this size.
OPERATION_TARGET = ((2048, 8), 5.0)


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


def _checks(enabled: bool) -> Callable[[], Any]:
    return lambda: typedrl.shape_checks(enabled)


def bench_cpu(sizes: list[tuple[int, int]], budget: float, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Time every implementation at every size, print the table, append the raw rows; return the summary."""
    print("CPU, float32, 1 thread. ns per element (T*N); ratios against the np.add floor measured here.")
    header = (
        f"{'T':>7} {'N':>5} | {'numpy loop':>10} {'torch loop':>10} {'typedrl':>9} {'checked':>9} {'floor':>7} |"
        f" {'x floor':>7} {'target':>6} {'vs numpy':>9}"
    )
    print(header)
    print("-" * len(header))
    summary: list[dict[str, Any]] = []
    all_met = True
    speedup: dict[str, Any] | None = None
    for horizon, n_envs in sizes:
        inputs = make_inputs(horizon, n_envs)
        arrays = tuple(x.numpy() for x in inputs)
        elements = horizon * n_envs
        slow_budget = budget if elements * horizon < 10**9 else budget / 4
        timings = interleaved(
            [
                Contender("numpy_loop", lambda: numpy_loop_gae(*arrays), budget=slow_budget, min_calls=1),
                Contender("torch_loop", lambda: torch_loop_gae(*inputs), budget=slow_budget, min_calls=1),
                Contender("floor", lambda: np.add(arrays[0], arrays[1])),
                Contender("typedrl", lambda: typedrl.gae(*inputs, gamma=GAMMA, lam=LAM), setting=_checks(False)),
                Contender("typedrl_checked", lambda: typedrl.gae(*inputs, gamma=GAMMA, lam=LAM), setting=_checks(True)),
            ],
            budget=budget,
            rounds=ROUNDS,
        )
        for label, timing in timings.items():
            rows.append(
                {
                    "device": "cpu",
                    "operation": "gae",
                    "T": horizon,
                    "N": n_envs,
                    "implementation": label,
                    "calls_per_repeat": timing.calls,
                    "seconds_per_call": timing.seconds,
                }
            )
        best = {label: timing.best for label, timing in timings.items()}
        target = FLOOR_TARGET.get((horizon, n_envs), DEFAULT_FLOOR_TARGET)
        ratio = best["typedrl"] / best["floor"]
        met = ratio <= target
        all_met &= met
        summary.append(
            {
                "T": horizon,
                "N": n_envs,
                "ns_per_element": {label: seconds / elements * 1e9 for label, seconds in best.items()},
                "typedrl_over_floor": ratio,
                "floor_target": target,
                "floor_target_met": met,
                "numpy_loop_over_typedrl": best["numpy_loop"] / best["typedrl"],
                "checks_us_per_call": (best["typedrl_checked"] - best["typedrl"]) * 1e6,
            }
        )

        def ns(label: str, elements: int = elements) -> str:
            return f"{best[label] / elements * 1e9:.2f}"

        print(
            f"{horizon:>7} {n_envs:>5} | {ns('numpy_loop'):>10} {ns('torch_loop'):>10} {ns('typedrl'):>9}"
            f" {ns('typedrl_checked'):>9} {ns('floor'):>7} | {ratio:>6.1f}x {'<=' + format(target, '.0f'):>6}"
            f" {best['numpy_loop'] / best['typedrl']:>8.0f}x{'' if met else '  (target missed)'}"
        )
        if (horizon, n_envs) == NUMPY_SPEEDUP_TARGET[0]:
            factor = best["numpy_loop"] / best["typedrl"]
            speedup_met = factor >= NUMPY_SPEEDUP_TARGET[1]
            all_met &= speedup_met
            speedup = {"T": horizon, "N": n_envs, "speedup": factor, "target": NUMPY_SPEEDUP_TARGET[1]}
            speedup["met"] = speedup_met
            print(
                f"{'':>15}typedrl is {factor:.0f}x faster than the numpy loop here "
                f"(target >= {NUMPY_SPEEDUP_TARGET[1]:.0f}x: {'met' if speedup_met else 'missed'})"
            )
        print(f"{'':>15}shape checks cost {(best['typedrl_checked'] - best['typedrl']) * 1e6:.1f} us per call here")
    return {"sizes": summary, "numpy_speedup": speedup, "all_targets_met": all_met}


def operation_calls(horizon: int, n_envs: int) -> dict[str, Callable[[], object]]:
    """The call each of ``OPERATIONS`` is timed by, on inputs made once (the GAE inputs, log-probabilities, a mask).

    ``gae_batch_major`` gets [N, T] contiguous copies of the same arrays and mask, as a batch-major LLM-RL batch
    would hold them.
    """
    inputs = make_inputs(horizon, n_envs)
    rewards, _, next_values, terminated, truncated = inputs
    generator = torch.Generator().manual_seed(1)
    behaviour = -2.0 * torch.rand((horizon, n_envs), generator=generator)  # log mu(a|s)
    target = behaviour + 0.3 * torch.randn((horizon, n_envs), generator=generator)  # log pi(a|s): ratios near 1
    lengths = torch.randint(horizon // 2, horizon + 1, (n_envs,), generator=generator)
    valid = torch.arange(horizon).unsqueeze(1) < lengths  # right padding: a prefix of each column is valid
    major = [x.T.contiguous() for x in inputs]
    valid_major = valid.T.contiguous()
    return {
        "n_step_returns": lambda: typedrl.n_step_returns(
            rewards, next_values, terminated, truncated, gamma=GAMMA, n=N_STEP
        ),
        "vtrace": lambda: typedrl.vtrace(behaviour, target, *inputs, gamma=GAMMA, rho_bar=RHO_BAR, c_bar=C_BAR),
        "gae_masked": lambda: typedrl.gae(*inputs, gamma=GAMMA, lam=LAM, valid=valid, mask_mode="stop"),
        "gae_batch_major": lambda: typedrl.gae(
            *major, gamma=GAMMA, lam=LAM, valid=valid_major, mask_mode="stop", time_axis=1
        ),
    }


def bench_operations(sizes: list[tuple[int, int]], budget: float, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Time the other operations (checks off and on) in turns with one floor at every size; return the summary."""
    print(
        "\nOther operations: CPU, float32, 1 thread. ns per element (T*N); ratios against one np.add floor timed in"
        " the same turns."
    )
    (target_horizon, target_envs), target = OPERATION_TARGET
    header = (
        f"{'T':>7} {'N':>5} | {'operation':<48} | {'typedrl':>9} {'checked':>9} {'floor':>7} | {'x floor':>7}"
        f" {'checks':>9}"
    )
    print(header)
    print("-" * len(header))
    summary: list[dict[str, Any]] = []
    targets: dict[str, dict[str, Any]] = {
        operation: {
            "T": target_horizon,
            "N": target_envs,
            "max_over_floor": target,
            "typedrl_over_floor": None,
            "met": None,
        }
        for operation in OPERATIONS
    }
    for horizon, n_envs in sizes:
        calls = operation_calls(horizon, n_envs)
        rewards, values = (x.numpy() for x in make_inputs(horizon, n_envs)[:2])
        elements = horizon * n_envs
        contenders = [Contender("floor", lambda: np.add(rewards, values))]
        for operation, call in calls.items():
            contenders.append(Contender(operation, call, setting=_checks(False)))
            contenders.append(Contender(f"{operation}_checked", call, setting=_checks(True)))
        timings = interleaved(contenders, budget=budget, rounds=ROUNDS)
        for label, timing in timings.items():
            operation, checked = (label.removesuffix("_checked"), label.endswith("_checked"))
            rows.append(
                {
                    "device": "cpu",
                    "operation": operation,
                    "T": horizon,
                    "N": n_envs,
                    "implementation": "floor" if label == "floor" else "typedrl_checked" if checked else "typedrl",
                    "calls_per_repeat": timing.calls,
                    "seconds_per_call": timing.seconds,
                }
            )
        best = {label: timing.best for label, timing in timings.items()}

        def ns(label: str, elements: int = elements) -> str:
            return f"{best[label] / elements * 1e9:.2f}"

        per_operation: dict[str, Any] = {}
        for operation in OPERATIONS:
            ratio = best[operation] / best["floor"]
            checks_us = (best[f"{operation}_checked"] - best[operation]) * 1e6
            per_operation[operation] = {
                "ns_per_element": {
                    "typedrl": best[operation] / elements * 1e9,
                    "typedrl_checked": best[f"{operation}_checked"] / elements * 1e9,
                },
                "typedrl_over_floor": ratio,
                "checks_us_per_call": checks_us,
            }
            mark = ""
            if (horizon, n_envs) == (target_horizon, target_envs):
                met = ratio <= target
                targets[operation].update(typedrl_over_floor=ratio, met=met)
                mark = f"  (target <= {target:g}x: {'met' if met else 'missed'})"

            print(
                f"{horizon:>7} {n_envs:>5} | {OPERATIONS[operation]:<48} | {ns(operation):>9}"
                f" {ns(operation + '_checked'):>9} {ns('floor'):>7} | {ratio:>6.1f}x {checks_us:>6.1f} us{mark}"
            )
        summary.append(
            {
                "T": horizon,
                "N": n_envs,
                "floor_ns_per_element": best["floor"] / elements * 1e9,
                "operations": per_operation,
            }
        )
    measured = [entry["met"] for entry in targets.values() if entry["met"] is not None]
    all_met = all(measured) if measured else None
    if all_met is None:
        print(f"{'':>15}target (within {target:g}x the floor at {OPERATION_TARGET[0]}): that size was not run")
    else:
        verdicts = ", ".join(
            f"{operation} {entry['typedrl_over_floor']:.1f}x {'met' if entry['met'] else 'missed'}"
            for operation, entry in targets.items()
        )
        print(f"{'':>15}target (within {target:g}x the floor at {OPERATION_TARGET[0]}): {verdicts}")
    return {"sizes": summary, "targets": targets, "all_targets_met": all_met}


def bench_cuda(sizes: list[tuple[int, int]], rows: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """On a GPU: typedrl, the torch loop and a device copy of the inputs' bytes, interleaved; ``None`` without one."""
    if not torch.cuda.is_available():
        print("\nCUDA: no device here; the GPU figures need a machine with one.")
        return None
    print(f"\nCUDA ({torch.cuda.get_device_name()}), float32. us per call; copy = device copy of the same bytes.")
    summary = []
    for horizon, n_envs in sizes:
        inputs = make_inputs(horizon, n_envs, "cuda")
        source = torch.empty(horizon * n_envs * 4 * 3 + horizon * n_envs * 2, dtype=torch.uint8, device="cuda")
        target = torch.empty_like(source)
        repeats = 50

        def timed(function: Callable[[], object]) -> float:
            """Mean seconds per call over ``repeats`` calls, by CUDA events."""
            torch.cuda.synchronize()
            start = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
            end = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
            start.record()
            for _ in range(repeats):
                function()
            end.record()
            torch.cuda.synchronize()
            return float(start.elapsed_time(end)) / repeats * 1e-3

        contenders: dict[str, Callable[[], object]] = {"copy": lambda: target.copy_(source)}
        if horizon <= 2048:  # a Python loop over 2048 steps is already slow enough to make the point
            contenders["torch_loop"] = lambda: torch_loop_gae(*inputs)
        contenders["typedrl"] = lambda: typedrl.gae(*inputs, gamma=GAMMA, lam=LAM)
        seconds: dict[str, list[float]] = {label: [] for label in contenders}
        with typedrl.shape_checks(False):  # the speed setting; the other contenders are not typedrl's
            for function in contenders.values():
                for _ in range(3):
                    function()
            for _ in range(ROUNDS):
                for label, function in contenders.items():
                    seconds[label].append(timed(function))
        for label, values in seconds.items():
            rows.append(
                {
                    "device": "cuda",
                    "operation": "gae",
                    "T": horizon,
                    "N": n_envs,
                    "implementation": label,
                    "calls_per_repeat": repeats,
                    "seconds_per_call": values,
                }
            )
        us = {label: min(values) * 1e6 for label, values in seconds.items()}
        summary.append({"T": horizon, "N": n_envs, "us_per_call": us, "typedrl_over_copy": us["typedrl"] / us["copy"]})
        loop = f"{us['torch_loop']:.0f} us" if "torch_loop" in us else "not run"
        print(
            f"  (T, N) = ({horizon}, {n_envs}): typedrl {us['typedrl']:.0f} us, torch loop {loop},"
            f" copy {us['copy']:.0f} us, typedrl / copy = {us['typedrl'] / us['copy']:.2f}x"
        )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three sizes and a shorter time budget")
    _results.add_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.smoke:
        sizes, budget, cuda_sizes = SMOKE_SIZES, 0.01, [(64, 256)]
    else:
        sizes, budget = (SIZES[:3], 0.1) if args.quick else (SIZES, 0.5)
        cuda_sizes = CUDA_SIZES
    rows: list[dict[str, Any]] = []
    cpu = bench_cpu(sizes, budget, rows)
    operation_sizes = SMOKE_SIZES if args.smoke else OPERATION_SIZES
    operations = bench_operations(operation_sizes, budget, rows)
    cuda = bench_cuda(cuda_sizes, rows)
    print("\nall CPU targets met" if cpu["all_targets_met"] else "\nsome CPU targets missed (marked above)")
    if operations["all_targets_met"] is not None:
        met = operations["all_targets_met"]
        print("other operations: all targets met" if met else "other operations: some targets missed (marked above)")
    settings = {
        "gamma": GAMMA,
        "lam": LAM,
        "dtype": "float32",
        "sizes": sizes,
        "cuda_sizes": cuda_sizes if cuda is not None else [],
        "budget_seconds": budget,
        "rounds": ROUNDS,
        "quick": args.quick,
        "implementations": IMPLEMENTATIONS,
        "default_floor_target": DEFAULT_FLOOR_TARGET,
        "operations": OPERATIONS,
        "operation_sizes": operation_sizes,
        "n_step_n": N_STEP,
        "rho_bar": RHO_BAR,
        "c_bar": C_BAR,
        "mask": "right padding: each column valid for a prefix of a length drawn from [T/2, T]; mask_mode='stop'",
        "operation_target": {
            "T": OPERATION_TARGET[0][0],
            "N": OPERATION_TARGET[0][1],
            "max_over_floor": OPERATION_TARGET[1],
        },
    }
    _results.write(
        "returns", args, settings=settings, results=rows, summary={"cpu": cpu, "cuda": cuda, "operations": operations}
    )


if __name__ == "__main__":
    main()
