"""The timing helpers the benchmark scripts share.

``interleaved`` times several contenders in turns: round 1 of each, in the order given (the peers first, then
typedrl), then round 2 of each, and so on, so a change of load on the machine in the middle of a run hits every
contender alike instead of whichever happened to run then. ``best_seconds`` times one function alone.

Each contender is called once to warm up and once more to size its rounds: a round is as many back-to-back calls
as fit in ``budget / rounds`` seconds (at least ``min_calls``). A round's figure is its mean time per call; the
best round is the one that nothing else on the machine interrupted.
"""

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass


@dataclass(frozen=True)
class Contender:
    """One function to time, with how to size its rounds and what to wrap them in.

    Attributes:
        label: the name its figures go under (unique within one call of ``interleaved``).
        function: called with no arguments; what it returns is ignored.
        budget: seconds for all its rounds together; ``None`` takes the budget given to ``interleaved``.
        min_calls: the fewest calls in a round (1 for a function that takes seconds per call).
        setting: entered around each round, never inside it (``lambda: typedrl.shape_checks(False)``).
    """

    label: str
    function: Callable[[], object]
    budget: float | None = None
    min_calls: int = 3
    setting: Callable[[], AbstractContextManager[object]] = nullcontext


@dataclass(frozen=True)
class Timing:
    """What ``interleaved`` measured for one contender: ``calls`` per round, mean seconds per call of each round."""

    label: str
    calls: int
    seconds: list[float]

    @property
    def best(self) -> float:
        """The best round's mean seconds per call."""
        return min(self.seconds)


def _round(function: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def interleaved(contenders: Sequence[Contender], *, budget: float, rounds: int = 5) -> dict[str, Timing]:
    """Time ``contenders`` in turns, ``rounds`` rounds each, each sized to about ``budget / rounds`` seconds."""
    labels = [contender.label for contender in contenders]
    if len(set(labels)) != len(labels):
        raise ValueError(f"interleaved: contender labels must be unique; got {labels}")
    if rounds < 1 or budget <= 0:
        raise ValueError(f"interleaved: rounds is {rounds} and budget {budget}; expected at least 1 and > 0")
    calls = {}
    for contender in contenders:
        with contender.setting():
            contender.function()  # warm-up: caches, lazy imports, first-call compilation
            once = max(_round(contender.function, 1), 1e-7)
        share = (budget if contender.budget is None else contender.budget) / rounds
        calls[contender.label] = max(contender.min_calls, int(share / once))
    seconds: dict[str, list[float]] = {label: [] for label in labels}
    for _ in range(rounds):
        for contender in contenders:
            with contender.setting():
                seconds[contender.label].append(_round(contender.function, calls[contender.label]))
    return {label: Timing(label, calls[label], seconds[label]) for label in labels}


def best_seconds(function: Callable[[], object], *, budget: float, min_calls: int = 3) -> float:
    """The best mean time per call over 5 rounds, each sized to take about ``budget / 5`` seconds."""
    return interleaved([Contender("function", function, min_calls=min_calls)], budget=budget)["function"].best
