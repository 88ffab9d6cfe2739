"""Where a run's records go: the training log always, and TensorBoard, a CSV file and callbacks beside it.

The runner records each update and each evaluation once, in :class:`~typedrl.runlog.RunLog` (``trainlog.json``),
and hands the same records to every sink. Sinks see scalars under the names Stable-Baselines3 and CleanRL users
know (:func:`update_scalars`, :func:`evaluation_scalars`), with the environment step count as the x axis:

=============================  ==========================================================================
``rollout/ep_rew_mean``        mean undiscounted return of the training episodes that ended in the update
``rollout/ep_len_mean``        their mean length
``train/policy_gradient_loss`` the policy loss (PPO's clipped surrogate, REINFORCE's policy gradient)
``train/value_loss``           the value loss (PPO)
``train/entropy_loss``         minus the mean entropy (SB3's sign)
``train/approx_kl``            approximate KL between the old and the new policy (PPO)
``train/clip_fraction``        fraction of ratios clipped (PPO)
``train/clip_range``           the ratio's clipping range ε (PPO)
``train/explained_variance``   ``1 − Var(G − V)/Var(G)`` (PPO)
``train/learning_rate``        the optimizer's learning rate
``train/n_epochs``             passes over the batch made (PPO)
``time/iterations``            updates done
``time/total_timesteps``       environment steps collected
``time/fps``                   environment steps per training second (evaluation excluded)
``eval/mean_reward``           greedy evaluation: mean return (also ``eval/std_reward``, ``eval/min_reward``,
                               ``eval/max_reward``, ``eval/mean_ep_length``)
=============================  ==========================================================================

* :class:`TensorBoardSink` writes TensorBoard event files with PyTorch's ``SummaryWriter`` (the ``tensorboard``
  package: ``pip install "typedrl[tensorboard]"``); a resumed run purges the events past its checkpoint.
* :func:`write_progress_csv` writes ``progress.csv`` (one row per update, SB3's column names), atomically, from
  the log, so it always agrees with ``trainlog.json`` and with the checkpoint a resumed run starts from.
* :class:`Callback`: subclass it and pass it to :func:`typedrl.train` (``callbacks=[...]``) to receive every
  record as the run makes it.
"""

import csv
import importlib.util
import io
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from typedrl._files import atomic_writer
from typedrl.errors import ConfigError
from typedrl.runlog import EvalRecord, TrainLog, UpdateRecord

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

__all__ = ["Callback", "TensorBoardSink", "evaluation_scalars", "update_scalars", "write_progress_csv"]

PROGRESS_NAME = "progress.csv"


def update_scalars(record: UpdateRecord) -> dict[str, float]:
    """The scalars of one update under SB3's names (only those the record has)."""
    scalars: dict[str, float | None] = {
        "rollout/ep_rew_mean": record.episode_return_mean,
        "rollout/ep_len_mean": record.episode_length_mean,
        "train/policy_gradient_loss": record.losses.get("policy", record.losses.get("policy_gradient")),
        "train/value_loss": record.losses.get("value"),
        "train/entropy_loss": -record.entropy,
        "train/approx_kl": record.approx_kl,
        "train/clip_fraction": record.clip_fraction,
        "train/clip_range": record.clip_range,
        "train/explained_variance": record.explained_variance,
        "train/learning_rate": record.learning_rate,
        "train/n_epochs": None if record.epochs is None else float(record.epochs),
        "time/iterations": float(record.update),
        "time/total_timesteps": float(record.env_steps),
        "time/fps": record.env_steps / record.wall_seconds if record.wall_seconds > 0 else None,
    }
    return {name: float(value) for name, value in scalars.items() if value is not None}


def evaluation_scalars(record: EvalRecord) -> dict[str, float]:
    """The scalars of one greedy evaluation under SB3's names."""
    scalars = {
        "eval/mean_reward": record.mean,
        "eval/std_reward": record.std,
        "eval/min_reward": record.min,
        "eval/max_reward": record.max,
    }
    if record.lengths:
        scalars["eval/mean_ep_length"] = sum(record.lengths) / len(record.lengths)
    return scalars


class Callback:
    """A receiver of a run's records: subclass it, override what you need, and pass it to :func:`typedrl.train`.

    The methods are called as the run makes each record, after it is in the training log; an exception raised
    here stops the run like any other (the last saved checkpoint and log are kept).
    """

    def on_update(self, record: UpdateRecord) -> None:
        """One update's record (see :func:`update_scalars` for it under SB3's names)."""

    def on_evaluation(self, record: EvalRecord) -> None:
        """One greedy evaluation's record."""

    def flush(self) -> None:
        """The run is about to save its checkpoint: make what was received durable."""

    def close(self) -> None:
        """The run ended (normally or not)."""


class TensorBoardSink(Callback):
    """TensorBoard event files in ``log_dir``, written with PyTorch's ``SummaryWriter``; x axis: env steps.

    ``purge_step``: a resumed run passes one past its checkpoint's environment step count, so TensorBoard drops
    the events a killed run wrote after the checkpoint instead of showing them twice.

    Raises:
        ConfigError: the ``tensorboard`` package is missing (``pip install "typedrl[tensorboard]"``), or
            ``log_dir`` is a file.
    """

    def __init__(self, log_dir: str | os.PathLike[str], *, purge_step: int | None = None) -> None:
        self.log_dir = Path(log_dir)
        if self.log_dir.exists() and not self.log_dir.is_dir():
            raise ConfigError(f"tensorboard: {str(self.log_dir)!r} is a file; expected a directory", "tensorboard")
        self.writer = _summary_writer(self.log_dir, purge_step)

    def on_update(self, record: UpdateRecord) -> None:
        """Every update scalar at the update's environment step count."""
        self._add(update_scalars(record), record.env_steps)

    def on_evaluation(self, record: EvalRecord) -> None:
        """Every evaluation scalar at the evaluation's environment step count."""
        self._add(evaluation_scalars(record), record.env_steps)

    def _add(self, scalars: dict[str, float], step: int) -> None:
        for name, value in scalars.items():
            self.writer.add_scalar(name, value, global_step=step)

    def flush(self) -> None:
        """Write the buffered events to disk."""
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self.writer.close()


def tensorboard_available() -> bool:
    """Whether the ``tensorboard`` package (which ``SummaryWriter`` needs) is installed."""
    return importlib.util.find_spec("tensorboard") is not None


def _summary_writer(log_dir: Path, purge_step: int | None) -> "SummaryWriter":
    if not tensorboard_available():
        raise ConfigError(
            'tensorboard: the tensorboard package is not installed; pip install "typedrl[tensorboard]"',
            "tensorboard",
        )
    from torch.utils.tensorboard import SummaryWriter

    try:
        return SummaryWriter(log_dir=str(log_dir), purge_step=purge_step)
    except OSError as error:
        raise ConfigError(f"tensorboard: cannot write in {str(log_dir)!r}: {error.strerror or error}") from None


def write_progress_csv(log: TrainLog, path: str | os.PathLike[str]) -> Path:
    """Write ``progress.csv``: one row per update with its :func:`update_scalars`, and the
    :func:`evaluation_scalars` of an evaluation made at that update on the same row (an evaluation at an update
    with no record, such as update 0, gets a row of its own). Columns sorted by name; empty cells where a
    figure does not exist. Written atomically; returns the path.
    """
    evaluations = {record.update: evaluation_scalars(record) for record in log.evaluations}
    rows: dict[int, dict[str, float]] = {}
    for record in log.updates:
        rows[record.update] = update_scalars(record)
    for update, scalars in evaluations.items():
        rows.setdefault(update, {"time/iterations": float(update)}).update(scalars)
    columns = sorted({name for row in rows.values() for name in row})
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for update in sorted(rows):
        writer.writerow({name: _cell(value) for name, value in rows[update].items()})
    target = Path(path)
    with atomic_writer(target, error=ConfigError) as handle:
        handle.write(text.getvalue().encode("utf-8"))
    return target


def _cell(value: float) -> str:
    return repr(value) if math.isfinite(value) else ""


def read_progress_csv(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """``progress.csv`` back as rows of floats (``None`` for empty cells), for tests and notebooks."""
    with Path(path).open(encoding="utf-8", newline="") as handle:
        return [{name: float(cell) if cell else None for name, cell in row.items()} for row in csv.DictReader(handle)]


def feed(callbacks: Iterable[Callback], method: str, record: Any) -> None:
    """Call ``method`` of every callback with ``record``."""
    for callback in callbacks:
        getattr(callback, method)(record)
