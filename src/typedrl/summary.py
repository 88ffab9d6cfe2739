"""Statistics over agents trained together: the interquartile mean of their greedy returns with a bootstrap
confidence interval (rliable; Agarwal et al. 2021, "Deep Reinforcement Learning at the Edge of the Statistical
Precipice", arXiv:2108.13264), written as a run's ``summary.json``.
"""

import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from typedrl.config import AlgoConfig
from typedrl.errors import ConfigError, RunLogError
from typedrl.evaluation import EvalResult

__all__ = ["AGENTS_EXTRA", "iqm_interval", "require_statistics", "write_agents_summary"]

AGENTS_EXTRA = 'pip install "typedrl[agents]"'
"""What installs the statistics several agents need (rliable)."""

BOOTSTRAP_REPETITIONS = 2000
"""Bootstrap resamples of the summary's confidence interval (rliable's default is 50,000; 2,000 keeps a summary
under a second while the interval's ends move by well under 1% of the spread)."""


def require_statistics(field: str = "agents") -> None:
    """Raise :class:`~typedrl.errors.ConfigError` on ``field`` when rliable is not installed."""
    import importlib.util

    if importlib.util.find_spec("rliable") is None:
        raise ConfigError(f"{field}: training several agents needs rliable for its summary: {AGENTS_EXTRA}", field)


def iqm_interval(
    values: Sequence[float], *, repetitions: int = BOOTSTRAP_REPETITIONS, seed: int = 0
) -> dict[str, float]:
    """The interquartile mean (the mean of the middle 50%, rliable's ``aggregate_iqm``) of ``values`` (one score per
    agent) with its 95% percentile-bootstrap interval over the agents (``low == high`` for one value).

    Raises:
        ValueError: no values, or a value that is not finite.
    """
    scores = np.asarray(values, dtype=np.float64)
    if scores.size == 0 or not np.isfinite(scores).all():
        raise ValueError(f"iqm_interval: values are {list(values)!r}; expected at least one, all finite")
    from rliable import library, metrics

    if scores.size == 1:
        value = float(scores[0])
        return {"iqm": value, "low": value, "high": value}
    with warnings.catch_warnings():
        # rliable hands arch a RandomState, which arch 7 deprecates (a FutureWarning per call); seeded on purpose.
        warnings.filterwarnings("ignore", message="random_state is deprecated", category=FutureWarning)
        estimates, intervals = library.get_interval_estimates(
            {"agents": scores.reshape(-1, 1)},
            lambda x: np.array([metrics.aggregate_iqm(x)]),
            reps=repetitions,
            random_state=np.random.RandomState(seed),
        )
    return {
        "iqm": float(estimates["agents"][0]),
        "low": float(intervals["agents"][0, 0]),
        "high": float(intervals["agents"][1, 0]),
    }


def write_agents_summary(path: Path, config: AlgoConfig, results: Sequence[EvalResult], *, update: int) -> Path:
    """Write ``summary.json`` atomically: the agents' greedy evaluation at ``update`` (per agent: seed, swept
    values, mean, std, returns), the interquartile mean over agents of their mean returns with its 95% bootstrap
    interval, how many reached ``target_return``, and, for a sweep, the same statistic for each point of the grid
    over its own agents (``per_point``).

    Raises:
        RunLogError: the file cannot be written.
    """
    from typedrl._files import atomic_writer

    means = [result.mean for result in results]
    sweep: dict[str, list[float]] = getattr(config, "sweep", None) or {}
    agents_values: list[dict[str, Any]] = []
    for agent, result in enumerate(results):
        entry: dict[str, Any] = {"agent": agent, "seed": config.seed + agent}
        for name in sweep:
            entry[name] = config.agent_values(name)[agent]  # type: ignore[attr-defined]
        entry.update(mean=result.mean, std=result.std, returns=list(result.returns))
        agents_values.append(entry)
    target = config.target_return
    points: list[dict[str, Any]] = []
    if sweep:  # the grid's points: each one's agents (seeds) and their statistic
        values = {name: config.agent_values(name) for name in sweep}  # type: ignore[attr-defined]
        groups: dict[tuple[float, ...], list[int]] = {}
        for agent in range(len(results)):
            groups.setdefault(tuple(values[name][agent] for name in sweep), []).append(agent)
        for point, members in groups.items():
            points.append(
                {
                    **dict(zip(sweep, point, strict=True)),
                    "agents": members,
                    "greedy_return": iqm_interval([means[agent] for agent in members]),
                }
            )
    summary: dict[str, Any] = {
        "update": update,
        "algo": config.algo,
        "env_id": config.env_id,
        "agents": len(results),
        "episodes_per_agent": len(results[0].returns) if results else 0,
        "greedy_return": iqm_interval(means) if means else None,
        "statistic": f"interquartile mean over agents of each agent's mean greedy return, 95% percentile bootstrap "
        f"interval ({BOOTSTRAP_REPETITIONS} resamples, rliable)",
        "target_return": target,
        "reached_target": None if target is None else sum(1 for mean in means if mean >= target),
        "per_point": points,
        "per_agent": agents_values,
    }
    text = json.dumps(summary, indent=2, allow_nan=False, default=_plain)
    try:
        with atomic_writer(path, error=RunLogError) as handle:
            handle.write(text.encode() + b"\n")
    except OSError as error:
        raise RunLogError(f"summary: cannot write {str(path)!r}: {error.strerror or error}") from None
    return path


def _plain(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(f"not JSON: {type(value).__name__}")
