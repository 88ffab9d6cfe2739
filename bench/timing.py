"""The timing helper the benchmark scripts share."""

import time
from collections.abc import Callable


def best_seconds(function: Callable[[], object], *, budget: float, min_calls: int = 3) -> float:
    """The best mean time per call over 5 rounds, each sized to take about ``budget / 5`` seconds."""
    function()
    start = time.perf_counter()
    function()
    once = max(time.perf_counter() - start, 1e-7)
    calls = max(min_calls, int(budget / 5 / once))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        best = min(best, (time.perf_counter() - start) / calls)
    return best
