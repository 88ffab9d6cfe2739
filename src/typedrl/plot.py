"""``curve.png`` (or ``.svg``, ``.pdf``): greedy evaluation return against environment steps, from a training log;
:func:`plot_curves` overlays several runs (``typedrl plot LOG LOG ...``).

matplotlib is imported inside :func:`plot_curve` and drives its Agg canvas directly (no :mod:`matplotlib.pyplot`),
so ``import typedrl`` stays light, plotting works without a display, and the caller's pyplot backend is untouched.
"""

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from typedrl._files import atomic_writer, check_replaceable
from typedrl.errors import ConfigError
from typedrl.runlog import TrainLog, load_trainlog

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["FORMATS", "plot_curve", "plot_curves"]

_MEAN_COLOR = "#1f77b4"
_TRAIN_COLOR = "#ff7f0e"


# The formats by suffix, and the metadata that would make the same log give different bytes (a version or a
# date stamp), switched off.
FORMATS: Final = {
    ".png": ("png", {"Software": None}),
    ".svg": ("svg", {"Date": None, "Creator": None}),
    ".pdf": ("pdf", {"CreationDate": None, "Creator": None, "Producer": None}),
}


def plot_curve(log: TrainLog | str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    """Draw ``log`` (a :class:`~typedrl.runlog.TrainLog` or the path of a ``trainlog.json``) into ``out``.

    The format follows the suffix of ``out``: ``.png``, ``.svg`` or ``.pdf`` (any case). The plot shows the
    greedy evaluation mean return against environment steps with its min–max band, the mean return of training
    episodes per update (sampled policy) for comparison, and the environment's reward threshold where Gymnasium
    knows it; the legend sits below the axes, where it never hides a curve. The file is written atomically;
    returns its path.

    Raises:
        RunLogError: ``log`` is a path that :func:`~typedrl.runlog.load_trainlog` cannot read.
        ConfigError: ``out`` has another suffix, is not a regular file (``/dev/null``, a directory), or cannot
            be written.
    """
    target = _target(out)
    trainlog = log if isinstance(log, TrainLog) else load_trainlog(log)
    figure, axes = _figure()
    _draw(axes, trainlog)
    return _save(figure, target)


def plot_curves(logs: Sequence[TrainLog | str | os.PathLike[str]], out: str | os.PathLike[str]) -> Path:
    """Overlay the greedy evaluation curves of several runs (seeds, or settings) in ``out``: each run's mean return
    against environment steps with its min–max band, in a colour of its own, labelled by its seed (and
    algorithm and environment where those differ), with the reward threshold where Gymnasium knows it. Formats,
    atomic writing and errors as :func:`plot_curve`; ``logs`` must hold at least one log.
    """
    target = _target(out)
    if not logs:
        raise ConfigError("plot: no logs given; expected at least one trainlog.json", field="log")
    trainlogs = [log if isinstance(log, TrainLog) else load_trainlog(log) for log in logs]
    figure, axes = _figure()
    kinds = {(log.algo, log.env_id) for log in trainlogs}
    palette = [f"C{index % 10}" for index in range(len(trainlogs))]
    for log, color in zip(trainlogs, palette, strict=True):
        if not log.evaluations:
            continue
        name = f"seed {log.seed}" if len(kinds) == 1 else f"{log.algo} on {log.env_id}, seed {log.seed}"
        steps = [record.env_steps for record in log.evaluations]
        lows, highs = [record.min for record in log.evaluations], [record.max for record in log.evaluations]
        axes.fill_between(steps, lows, highs, color=color, alpha=0.12, lw=0)
        axes.plot(steps, [record.mean for record in log.evaluations], color=color, marker="o", ms=2, label=name)
    thresholds = {_reward_threshold(log.env_id) for log in trainlogs}
    if len(thresholds) == 1 and (threshold := thresholds.pop()) is not None:
        axes.axhline(threshold, color="grey", ls="--", lw=1, label=f"reward threshold {threshold:g}")
    if not any(log.evaluations for log in trainlogs):
        axes.text(0.5, 0.5, "no evaluations recorded yet", ha="center", va="center", transform=axes.transAxes)
    axes.set_xlabel("environment steps")
    axes.set_ylabel("greedy evaluation return (mean, min–max band)")
    (algo, env_id), *others = sorted(kinds)
    axes.set_title(f"{algo} on {env_id}, {len(trainlogs)} runs" if not others else f"{len(trainlogs)} runs")
    axes.grid(alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.figure.legend(loc="outside lower center", ncols=min(4, len(trainlogs) + 1), frameon=False)
    return _save(figure, target)


def _target(out: str | os.PathLike[str]) -> Path:
    target = Path(out)
    if target.suffix.lower() not in FORMATS:
        raise ConfigError(
            f"plot: out is {str(target)!r}; expected a file name ending in {', '.join(FORMATS)}", field="out"
        )
    check_replaceable(target, what="plot", error=ConfigError)
    return target


def _figure() -> tuple["Figure", "Axes"]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8.0, 5.0), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _save(figure: "Figure", target: Path) -> Path:
    file_format, metadata = FORMATS[target.suffix.lower()]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_writer(target, error=ConfigError) as handle:
            figure.savefig(handle, format=file_format, metadata=metadata)
    except OSError as error:
        raise ConfigError(f"plot: {str(target)!r} cannot be written: {error.strerror or error}", field="out") from None
    return target


def _draw(axes: "Axes", log: TrainLog) -> None:
    trained = [(record.env_steps, record.episode_return_mean) for record in log.updates]
    train_points = [(steps, value) for steps, value in trained if value is not None]
    if train_points:
        axes.plot(
            *zip(*train_points, strict=True),
            color=_TRAIN_COLOR,
            alpha=0.5,
            lw=1,
            label="training episodes (mean per update)",
        )
    if log.evaluations:
        steps = [record.env_steps for record in log.evaluations]
        axes.fill_between(
            steps,
            [record.min for record in log.evaluations],
            [record.max for record in log.evaluations],
            color=_MEAN_COLOR,
            alpha=0.2,
            lw=0,
            label="greedy eval min–max",
        )
        means = [record.mean for record in log.evaluations]
        axes.plot(steps, means, color=_MEAN_COLOR, marker="o", ms=3, label="greedy eval mean")
    threshold = _reward_threshold(log.env_id)
    if threshold is not None and (train_points or log.evaluations):
        axes.axhline(threshold, color="grey", ls="--", lw=1, label=f"reward threshold {threshold:g}")
    if not (train_points or log.evaluations):
        axes.text(0.5, 0.5, "no returns recorded yet", ha="center", va="center", transform=axes.transAxes)
    axes.set_xlabel("environment steps")
    axes.set_ylabel("episode return (undiscounted)")
    agents = log.config.get("agents", 1)
    if isinstance(agents, int) and agents > 1:  # a run of several agents: its log pools them
        who = f"seeds {log.seed}–{log.seed + agents - 1}, {agents} agents pooled"
    else:
        who = f"seed {log.seed}"
    axes.set_title(f"{log.algo} on {log.env_id} ({who})")
    axes.grid(alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        # Outside the axes: a legend inside covers the curve wherever it climbs (CartPole's top right, the
        # bottom right of Acrobot's and MountainCar's negative returns).
        axes.figure.legend(loc="outside lower center", ncols=2, frameon=False)


def _reward_threshold(env_id: str) -> float | None:
    import gymnasium

    try:
        threshold = gymnasium.spec(env_id).reward_threshold
    except gymnasium.error.Error:
        return None
    return None if threshold is None else float(threshold)
