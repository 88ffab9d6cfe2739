"""The training log, ``trainlog.json``: a versioned pydantic schema, an atomic writer, and a checked reader.

A run records one :class:`UpdateRecord` per update (PPO) or epoch (REINFORCE) and one :class:`EvalRecord` per
greedy evaluation. :class:`RunLog` holds the log while the run goes on and rewrites the whole file atomically on
:meth:`RunLog.write`, so a killed run leaves the last complete file. :func:`load_trainlog` reads one back.

Identical runs (same seed, config and device) give identical logs except ``wall_seconds``, ``started_at`` and
``versions``; :meth:`TrainLog.figures` drops those three for comparison. JSON has no NaN or infinity: every float
must be finite, and a record that is not raises :class:`~typedrl.errors.RunLogError` naming the field.
"""

import itertools
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from typedrl._files import atomic_writer
from typedrl._validate import map_nested, population_stats
from typedrl.errors import RunLogError

__all__ = [
    "SCHEMA_VERSION",
    "EvalRecord",
    "RunLog",
    "TrainLog",
    "UpdateRecord",
    "Widget",
    "WidgetSeries",
    "collect_versions",
    "json_schema",
    "load_trainlog",
]

SCHEMA_VERSION: Final = 2
"""The version of the ``trainlog.json`` schema this typedrl writes. It reads version 1 too (version 2 added
optional fields and the top-level ``notes``)."""
_READABLE_VERSIONS: Final = (1, 2)

_COLORS: Final = {"mean": "#1f77b4", "min": "#aec7e8", "max": "#aec7e8"}
_TIMING_FIELDS: Final = frozenset({"wall_seconds", "started_at", "versions"})

_Count = Annotated[int, Field(ge=0)]
_Seconds = Annotated[float, Field(ge=0.0, description="Training seconds so far (evaluation excluded).")]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class UpdateRecord(_Model):
    """What one update (one training iteration: PPO's rollout and epochs, REINFORCE's batch of episodes) did."""

    update: int = Field(ge=1, description="Updates done when this record was made, this one included: 1 first.")
    env_steps: _Count = Field(description="Environment steps collected so far, summed over parallel environments.")
    wall_seconds: _Seconds
    losses: dict[str, float] = Field(description="Loss terms by name (e.g. policy, value, entropy, total).")
    entropy: float = Field(description="Mean entropy of the policy over the update's samples, in nats.")
    approx_kl: float | None = Field(default=None, description="Approximate KL(π_old ‖ π_new); null if not computed.")
    clip_fraction: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Fraction of samples whose ratio was clipped; null if no clipping."
    )
    episodes: _Count = Field(description="Training episodes that ended since the previous record.")
    episode_return_mean: float | None = Field(
        default=None, description="Mean undiscounted return of those episodes; null when none ended."
    )
    learning_rate: float = Field(ge=0.0, description="The optimizer's learning rate during this update.")
    episode_length_mean: float | None = Field(
        default=None, ge=0.0, description="Mean length in steps of the episodes that ended; null when none ended."
    )
    explained_variance: float | None = Field(
        default=None, description="1 − Var(G − V)/Var(G) of the value targets by the values; null if not defined."
    )
    clip_range: float | None = Field(
        default=None, ge=0.0, description="The probability ratio's clipping range ε during this update; null if none."
    )
    epochs: int | None = Field(
        default=None, ge=0, description="Passes over the batch made (PPO; fewer after a target_kl early stop)."
    )

    @model_validator(mode="after")
    def _return_mean_iff_episodes(self) -> Self:
        if (self.episodes == 0) != (self.episode_return_mean is None):
            raise ValueError(
                f"episodes is {self.episodes} and episode_return_mean is {self.episode_return_mean}; "
                "expected a mean exactly when at least one episode ended"
            )
        return self


class EvalRecord(_Model):
    """One greedy evaluation: undiscounted returns of episodes seeded ``base_seed + k``."""

    update: _Count = Field(description="Updates done when the evaluation ran (0: before training).")
    env_steps: _Count = Field(description="Environment steps collected when the evaluation ran.")
    wall_seconds: _Seconds
    mean: float = Field(description="Mean of returns.")
    std: float = Field(ge=0.0, description="Population standard deviation of returns.")
    min: float = Field(description="Lowest of returns.")
    max: float = Field(description="Highest of returns.")
    returns: list[float] = Field(min_length=1, description="Each episode's undiscounted return, in seed order.")
    lengths: list[int] | None = Field(
        default=None, description="Each episode's length in steps, in seed order; null in logs of typedrl 0.1."
    )

    @classmethod
    def from_returns(
        cls,
        *,
        update: int,
        env_steps: int,
        wall_seconds: float,
        returns: Sequence[float],
        lengths: Sequence[int] | None = None,
    ) -> Self:
        """Build the record, computing mean, std, min and max from ``returns``."""
        values = [float(value) for value in returns]
        if values and all(math.isfinite(value) for value in values):
            (mean, std), low, high = population_stats(values), min(values), max(values)
        else:  # leave the error to the returns field alone
            mean = std = low = high = 0.0
        return cls(
            update=update,
            env_steps=env_steps,
            wall_seconds=wall_seconds,
            mean=mean,
            std=std,
            min=low,
            max=high,
            returns=values,
            lengths=None if lengths is None else [int(length) for length in lengths],
        )

    @model_validator(mode="after")
    def _summary_matches_returns(self) -> Self:
        mean, std = population_stats(self.returns)
        if self.min != min(self.returns) or self.max != max(self.returns):
            raise ValueError(f"min {self.min} and max {self.max} do not match the returns")
        if not (
            math.isclose(self.mean, mean, rel_tol=1e-9, abs_tol=1e-9) and math.isclose(self.std, std, abs_tol=1e-9)
        ):
            raise ValueError(f"mean {self.mean} and std {self.std} do not match the returns ({mean}, {std})")
        if self.lengths is not None and len(self.lengths) != len(self.returns):
            raise ValueError(f"{len(self.lengths)} lengths for {len(self.returns)} returns; expected one each")
        return self


class WidgetSeries(_Model):
    """One line of the widget."""

    name: str = Field(description="The legend label.")
    values: list[float] = Field(description="One value per widget step.")
    color: str = Field(pattern=r"^#[0-9a-fA-F]{6}$", description="A CSS hex colour, e.g. #1f77b4.")


class Widget(_Model):
    """TorchLean's chart shape ``{title, steps, series: [{name, values, color}], notes}``: eval return by step."""

    title: str = Field(description="The chart title.")
    steps: list[int] = Field(description="The x axis: environment steps of each evaluation.")
    series: list[WidgetSeries] = Field(description="Lines over steps: eval mean, min and max return.")
    notes: list[str] = Field(description="Short remarks shown under the chart.")

    @model_validator(mode="after")
    def _one_value_per_step(self) -> Self:
        for line in self.series:
            if len(line.values) != len(self.steps):
                raise ValueError(f"series {line.name!r} has {len(line.values)} values for {len(self.steps)} steps")
        return self


def _check_json(data: object, where: str) -> None:
    """Raise ValueError naming the first part of ``data`` that is not JSON data with finite numbers."""

    def key(path: str, name: object) -> None:
        if not isinstance(name, str):
            raise ValueError(f"{path} has the key {name!r}; expected string keys (JSON data)")

    def leaf(path: str, item: object) -> object:
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"{path} is {item}; expected a finite number (JSON has no NaN or infinity)")
        if not isinstance(item, str | int | float | bool | None):
            raise ValueError(f"{path} is a {type(item).__name__}; expected JSON data")
        return item

    map_nested(data, leaf, where=where, key=key, dotted=True)


def _check_order(records: Sequence[UpdateRecord | EvalRecord], what: str) -> None:
    for before, after in itertools.pairwise(records):
        if after.update <= before.update or after.env_steps < before.env_steps:
            raise ValueError(
                f"{what}: update {after.update} at env step {after.env_steps} follows update {before.update} at "
                f"env step {before.env_steps}; expected increasing updates and non-decreasing env steps"
            )


class TrainLog(_Model):
    """The whole training log, as written to ``trainlog.json``."""

    schema_version: Literal[1, 2] = Field(
        default=SCHEMA_VERSION, description="The schema's version: 2 (typedrl writes 2 and reads 1 and 2)."
    )
    algo: str = Field(description="The algorithm: ppo or reinforce.")
    env_id: str = Field(description="The Gymnasium environment id, e.g. CartPole-v1.")
    seed: int = Field(description="The run's seed.")
    config: dict[str, Any] = Field(description="The run's full configuration, as JSON data.")
    versions: dict[str, str] = Field(description="Versions of typedrl, torch, gymnasium, numpy and python.")
    started_at: str = Field(description="When the run started, an ISO 8601 time with its UTC offset.")
    updates: list[UpdateRecord] = Field(description="One record per update, in order.")
    evaluations: list[EvalRecord] = Field(description="One record per greedy evaluation, in order.")
    widget: Widget = Field(description="Eval return against env steps, in TorchLean's widget shape.")
    finished: bool = Field(description="Whether the run ended normally; false while it runs or if it was killed.")
    notes: list[str] = Field(
        default_factory=list,
        description="What the run noted (why it stopped, a resumed budget), in order; also under the widget.",
    )

    @field_validator("config")
    @classmethod
    def _config_is_json(cls, config: dict[str, Any]) -> dict[str, Any]:
        _check_json(config, "config")
        return config

    @model_validator(mode="after")
    def _records_in_order(self) -> Self:
        _check_order(self.updates, "updates")
        _check_order(self.evaluations, "evaluations")
        datetime.fromisoformat(self.started_at)  # raises ValueError naming the bad string
        return self

    def figures(self) -> dict[str, Any]:
        """The log as JSON data without ``wall_seconds``, ``started_at`` and ``versions``: equal for equal runs."""
        figures: dict[str, Any] = _drop_timing(self.model_dump(mode="json"))
        return figures


def _drop_timing(data: Any) -> Any:
    if isinstance(data, dict):
        return {key: _drop_timing(value) for key, value in data.items() if key not in _TIMING_FIELDS}
    if isinstance(data, list):
        return [_drop_timing(value) for value in data]
    return data


def _describe(err: ValidationError, limit: int = 3) -> str:
    """``field.path: message (got value)`` for the first few errors of ``err``."""
    parts = []
    for error in err.errors()[:limit]:
        where = ".".join(str(part) for part in error["loc"])
        if error["type"] == "value_error":  # raised by our own validators: the message says it all
            message = str(error["ctx"]["error"]) if "ctx" in error else error["msg"]
        elif error["type"] == "missing":
            message = error["msg"]
        else:
            message = f"{error['msg']} (got {_short(error['input'])})"
        parts.append(f"{where}: {message}" if where else message)
    more = err.error_count() - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _short(value: object, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def collect_versions() -> dict[str, str]:
    """Versions of typedrl, torch, gymnasium, numpy and Python, for :attr:`TrainLog.versions`."""
    import gymnasium
    import numpy
    import torch

    import typedrl

    python = ".".join(str(part) for part in sys.version_info[:3])
    return {
        "typedrl": typedrl.__version__,
        "torch": torch.__version__,
        "gymnasium": gymnasium.__version__,
        "numpy": numpy.__version__,
        "python": python,
    }


def json_schema() -> dict[str, Any]:
    """The JSON schema of ``trainlog.json`` (:class:`TrainLog`'s)."""
    return TrainLog.model_json_schema()


def load_trainlog(path: str | os.PathLike[str]) -> TrainLog:
    """Read and validate a ``trainlog.json``.

    Raises:
        RunLogError: the file is missing or unreadable, is not valid JSON, has another schema version, or fails
            validation; the message names the file and the field.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunLogError(f"load_trainlog: {file}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise RunLogError(f"load_trainlog: {file}: cannot read it: {err}") from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise RunLogError(f"load_trainlog: {file}: invalid JSON: {err}") from err
    if not isinstance(data, dict):
        raise RunLogError(f"load_trainlog: {file}: the top level is a {type(data).__name__}; expected an object")
    version = data.get("schema_version")
    if version not in _READABLE_VERSIONS:
        raise RunLogError(
            f"load_trainlog: {file}: schema_version is {version!r}; expected one of "
            f"{', '.join(map(str, _READABLE_VERSIONS))} (the versions this typedrl reads)"
        )
    try:
        return TrainLog.model_validate(data)
    except ValidationError as err:
        raise RunLogError(f"load_trainlog: {file}: {_describe(err)}") from err


def _auto_notes(seed: int, evaluations: Sequence[EvalRecord]) -> list[str]:
    notes = [f"seed {seed}; greedy policy, undiscounted return"]
    if evaluations:
        best = max(evaluations, key=lambda record: record.mean)  # the first of equal bests
        notes.append(f"best eval mean {best.mean:g} at env step {best.env_steps} (update {best.update})")
    return notes


def _widget(algo: str, env_id: str, seed: int, evaluations: Sequence[EvalRecord], notes: Sequence[str]) -> Widget:
    steps = [record.env_steps for record in evaluations]
    series = [
        WidgetSeries(name=f"eval {key} return", values=[getattr(record, key) for record in evaluations], color=color)
        for key, color in _COLORS.items()
    ]
    title = f"{algo} on {env_id}: eval return"
    return Widget(title=title, steps=steps, series=series, notes=[*_auto_notes(seed, evaluations), *notes])


class RunLog:
    """The training log of a run in progress, written to ``path`` (``trainlog.json``) on :meth:`write`; with
    ``path=None`` it is kept in memory only (a run with ``--log off`` still feeds its sinks and curve from it).

    Records must come in order: increasing ``update`` and non-decreasing ``env_steps`` within updates and within
    evaluations. After :meth:`finish`, nothing more can be recorded.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        *,
        algo: str,
        env_id: str,
        seed: int,
        config: Mapping[str, Any],
        versions: Mapping[str, str] | None = None,
        started_at: str | None = None,
    ) -> None:
        try:
            _check_json(config, "config")
        except ValueError as err:
            raise RunLogError(f"RunLog: {err}") from err
        self.path = None if path is None else Path(path)
        self.algo, self.env_id, self.seed = algo, env_id, seed
        self.config = dict(config)
        self.versions = dict(versions) if versions is not None else collect_versions()
        self.started_at = started_at or datetime.now(UTC).isoformat(timespec="seconds")
        try:
            datetime.fromisoformat(self.started_at)
        except ValueError as err:
            raise RunLogError(f"RunLog: started_at is {self.started_at!r}; expected an ISO 8601 time") from err
        self.updates: list[UpdateRecord] = []
        self.evaluations: list[EvalRecord] = []
        self.notes: list[str] = []
        self.finished = False

    @classmethod
    def resume(
        cls, path: str | os.PathLike[str], *, through_update: int, evaluations_through: int | None = None
    ) -> "RunLog":
        """Continue the log at ``path``, keeping only records with ``update <= through_update`` (and evaluations
        with ``update <= evaluations_through``, which defaults to ``through_update``).

        ``through_update`` is the checkpoint's update count and ``evaluations_through`` the update of its last
        evaluation, so records made after that checkpoint (by a run that was then killed) are dropped and the
        resumed run makes them again. The log is open again (not finished).
        """
        evaluations_through = through_update if evaluations_through is None else evaluations_through
        log = load_trainlog(path)
        run = cls(
            path,
            algo=log.algo,
            env_id=log.env_id,
            seed=log.seed,
            config=log.config,
            versions=log.versions,
            started_at=log.started_at,
        )
        run.updates = [record for record in log.updates if record.update <= through_update]
        run.evaluations = [record for record in log.evaluations if record.update <= evaluations_through]
        # Version 1 kept the run's notes only under the widget, after the automatic ones.
        run.notes = (
            list(log.notes)
            if log.schema_version >= 2
            else log.widget.notes[len(_auto_notes(log.seed, log.evaluations)) :]
        )
        return run

    def _check_record(self, where: str, build: Any, fields: dict[str, Any], previous: list[Any]) -> Any:
        if self.finished:
            raise RunLogError(f"{where}: the log is finished; nothing more can be recorded")
        try:
            record = build(**fields)
        except ValidationError as err:
            raise RunLogError(f"{where}: update {fields['update']!r}: {_describe(err)}") from err
        try:
            _check_order([*previous[-1:], record], where)
        except ValueError as err:
            raise RunLogError(str(err)) from err
        return record

    def record_update(
        self,
        *,
        update: int,
        env_steps: int,
        wall_seconds: float,
        losses: Mapping[str, float],
        entropy: float,
        learning_rate: float,
        episodes: int,
        episode_return_mean: float | None = None,
        approx_kl: float | None = None,
        clip_fraction: float | None = None,
        episode_length_mean: float | None = None,
        explained_variance: float | None = None,
        clip_range: float | None = None,
        epochs: int | None = None,
    ) -> UpdateRecord:
        """Append an :class:`UpdateRecord` (see its fields); raises :class:`RunLogError` naming a bad field."""
        fields = {
            "episode_length_mean": episode_length_mean,
            "explained_variance": explained_variance,
            "clip_range": clip_range,
            "epochs": epochs,
            "update": update,
            "env_steps": env_steps,
            "wall_seconds": wall_seconds,
            "losses": dict(losses),
            "entropy": entropy,
            "learning_rate": learning_rate,
            "episodes": episodes,
            "episode_return_mean": episode_return_mean,
            "approx_kl": approx_kl,
            "clip_fraction": clip_fraction,
        }
        record: UpdateRecord = self._check_record("RunLog.record_update", UpdateRecord, fields, self.updates)
        self.updates.append(record)
        return record

    def record_evaluation(
        self,
        *,
        update: int,
        env_steps: int,
        wall_seconds: float,
        returns: Sequence[float],
        lengths: Sequence[int] | None = None,
    ) -> EvalRecord:
        """Append an :class:`EvalRecord` for ``returns`` (e.g. an :class:`~typedrl.evaluation.EvalResult`'s)."""
        fields = {
            "update": update,
            "env_steps": env_steps,
            "wall_seconds": wall_seconds,
            "returns": returns,
            "lengths": lengths,
        }
        where = "RunLog.record_evaluation"
        record: EvalRecord = self._check_record(where, EvalRecord.from_returns, fields, self.evaluations)
        self.evaluations.append(record)
        return record

    def note(self, text: str) -> None:
        """Add a line to the log's notes (e.g. why training stopped); the widget shows them too."""
        self.notes.append(str(text))

    def snapshot(self) -> TrainLog:
        """The log as it stands, as a validated :class:`TrainLog`."""
        return TrainLog(
            algo=self.algo,
            env_id=self.env_id,
            seed=self.seed,
            config=self.config,
            versions=self.versions,
            started_at=self.started_at,
            updates=list(self.updates),
            evaluations=list(self.evaluations),
            widget=_widget(self.algo, self.env_id, self.seed, self.evaluations, self.notes),
            finished=self.finished,
            notes=list(self.notes),
        )

    def write(self) -> Path:
        """Rewrite the file atomically (temporary file, fsync, rename); returns its path.

        Raises:
            RunLogError: the log is kept in memory only (``path=None``).
        """
        if self.path is None:
            raise RunLogError("RunLog.write: this log is kept in memory only (path None); there is no file to write")
        text = self.snapshot().model_dump_json(indent=2) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_writer(self.path, error=RunLogError) as handle:
            handle.write(text.encode("utf-8"))
        return self.path

    def finish(self) -> Path | None:
        """Mark the run as ended normally and write the file a last time, if it has one; returns its path (or
        ``None`` for a log kept in memory)."""
        self.finished = True
        return None if self.path is None else self.write()
