"""The training runner: what ``typedrl ppo`` and ``typedrl reinforce`` do around the algorithm.

:func:`train` builds the registered algorithm a config names (:mod:`typedrl.algos`), then per update: runs
:meth:`~typedrl.algos.base.Algorithm.update`, times it (training seconds exclude evaluation), records it in the
training log and hands the record to every sink (:mod:`typedrl.sinks`: TensorBoard, callbacks), evaluates
greedily every ``config.eval.every`` updates, and saves the log, ``progress.csv`` and a checkpoint after each
evaluation and every ``config.checkpoint_every`` updates. The best evaluation so far is kept in ``best.pt``
beside ``checkpoint.pt`` (the latest, for ``--resume``). It stops at ``config.target_return`` or when the budget
is spent, then evaluates once more (if the last update was not evaluated) and writes the final log, checkpoint
and ``curve.png``. The runner never asks which algorithm it runs.

Nothing a user does loses work or leaves a run that cannot continue:

* A run directory holds ``trainlog.json``, ``progress.csv``, ``checkpoint.pt``, ``best.pt`` and ``curve.png``.
  A new run refuses a directory that already holds a run (``resume=True`` continues it, ``overwrite=True``
  replaces it), and writes its log and a checkpoint at update 0 before training, so a run killed at any moment
  can be resumed.
* The log is always written before the checkpoint, and the checkpoint is the commit point: ``resume=True`` restores
  network, optimizer, generators and progress from the checkpoint, keeps the log's records up to it and redoes the
  rest. This holds whatever moment the previous process died at, the end of a finished run included.
* ``resume=True`` reads the config from the checkpoint. Only the budget (``updates``), ``device``,
  ``checkpoint_every``, ``vector`` and ``env_timeout`` may differ from it: a larger budget extends a run, finished
  or not (as SB3's ``reset_num_timesteps=False`` does; annealed schedules then anneal over the new budget from
  where they are).
  The environments start new episodes (their mid-episode state is not saved), seeded from the run's seed and the
  update count, so a resumed run never replays the run's first episodes.
* One run at a time per directory (a lock the kernel drops when the process dies); temporary files left by killed
  runs are removed; only regular files are ever replaced (``--log /dev/null`` is refused, not replaced).
* The first SIGINT (Ctrl-C) or SIGTERM asks the run to stop: it saves the log and a checkpoint at the end of the
  update in progress and raises :class:`RunInterrupted` saying what was saved. A second one stops at once, and
  :class:`RunInterrupted` says truthfully which earlier checkpoint is kept.
"""

import contextlib
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, Literal

import numpy as np
from tqdm import tqdm

from typedrl import _validate
from typedrl._files import RunLock, check_replaceable, remove_stale_temporaries
from typedrl.algos import Algorithm, UpdateStats, algorithm_spec
from typedrl.checkpoint import Checkpoint, capture_rng, load_checkpoint, restore, save_checkpoint
from typedrl.config import AlgoConfig, build
from typedrl.errors import CheckpointError, ConfigError, RunLogError, TrainingError
from typedrl.evaluation import EvalResult, evaluate
from typedrl.plot import plot_curve, plot_curves
from typedrl.runlog import RunLog, UpdateRecord, load_trainlog
from typedrl.sinks import PROGRESS_NAME, Callback, TensorBoardSink, feed, write_progress_csv
from typedrl.summary import write_agents_summary

__all__ = [
    "BEST_NAME",
    "CHECKPOINT_NAME",
    "CURVE_NAME",
    "LOG_NAME",
    "SUMMARY_NAME",
    "RunInterrupted",
    "RunResult",
    "build_algorithm",
    "default_run_dir",
    "restart_seed",
    "resumed_config",
    "train",
]

LOG_NAME = "trainlog.json"
CHECKPOINT_NAME = "checkpoint.pt"
BEST_NAME = "best.pt"
CURVE_NAME = "curve.png"
SUMMARY_NAME = "summary.json"
AGENTS_DIRECTORY = "agents"
CURVES_NAME = "curves.png"
AGENT_CURVES_UP_TO = 16
"""Runs of at most this many agents also draw each agent's own ``curve.png`` (a plot takes about 0.1 s); every
run of several agents draws ``agents/curves.png``, all agents' curves overlaid."""

Config = AlgoConfig
# What a resumed run may change; everything else must equal the checkpoint's config.
# vector and env_timeout change how the environments run, not what they return (async gives sync's rollouts).
_CHANGEABLE = frozenset({"updates", "device", "checkpoint_every", "vector", "env_timeout"})


@dataclass(frozen=True)
class RunResult:
    """What a finished run left behind and how it ended."""

    out_dir: Path
    """The run directory."""
    log_path: Path | None
    """The training log, or ``None`` when logging was off."""
    checkpoint_path: Path
    """The last checkpoint: the state at the end of the run."""
    best_path: Path | None
    """The checkpoint of the best greedy evaluation so far (the first of equal bests); ``None`` without one."""
    curve_path: Path | None
    """The learning curve, or ``None`` without a log or without evaluations."""
    updates: int
    """Updates (PPO) or epochs (REINFORCE) done, over the whole run (resumed parts included)."""
    env_steps: int
    """Environment steps collected over the whole run."""
    train_seconds: float
    """Training seconds over the whole run, evaluation excluded."""
    final_evaluation: EvalResult | None
    """The last greedy evaluation, or ``None`` if the run never evaluated."""
    reached_target: bool
    """Whether the run stopped because a greedy evaluation reached ``config.target_return``."""
    best_evaluation: EvalResult | None = None
    """The best greedy evaluation of the run (what ``best.pt`` scored), or ``None``."""


class RunInterrupted(KeyboardInterrupt):
    """Training stopped on SIGINT (Ctrl-C) or SIGTERM. A :class:`KeyboardInterrupt`, so code that handles
    Ctrl-C keeps working.

    ``str(error)`` says what was kept, e.g. ``interrupted at update 37: the log and a checkpoint at update 37 are
    saved in runs/x``.

    Attributes:
        signal_number: the signal that stopped the run (``signal.SIGINT`` or ``signal.SIGTERM``).
        saved_update: the update of the checkpoint on disk, or ``None`` when the run saved none.
        out_dir: the run directory.
    """

    def __init__(self, message: str, *, signal_number: int, saved_update: int | None, out_dir: Path) -> None:
        super().__init__(message)
        self.signal_number = signal_number
        self.saved_update = saved_update
        self.out_dir = out_dir


def default_run_dir(config: Config, *, root: Path = Path("runs")) -> Path:
    """``runs/<algo>-<env>-<seed>-<UTC time>-<process id>/``: two runs started in the same second get two
    directories. An env id's ``/`` and ``:`` (``module:Namespace/Env-v0``) become ``-``."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    env = config.env_id.replace("/", "-").replace(":", "-")
    return root / f"{config.algo}-{env}-{config.seed}-{stamp}-{os.getpid()}"


def build_algorithm(config: Config) -> Algorithm:
    """The registered algorithm ``config.algo`` names, built from the config (environments, networks,
    optimizer)."""
    return algorithm_spec(config.algo).algorithm(config)


def restart_seed(seed: int, done: int) -> int:
    """The seed a run resumed after ``done`` updates resets its environments with: a function of the run's seed
    and ``done`` alone (reproducible), and not ``seed`` itself (no replay of the run's first episodes)."""
    return int(np.random.SeedSequence([seed, done, 0x7E5]).generate_state(1, np.uint32)[0])


def _config_data(config: Config) -> dict[str, Any]:
    return config.model_dump(mode="json")


def _kept(data: dict[str, Any]) -> dict[str, Any]:
    """The part of a config's data that a resumed run must keep."""
    return {key: value for key, value in data.items() if key not in _CHANGEABLE}


def resumed_config(checkpoint: Checkpoint, config: Config | None = None) -> Config:
    """The config a run resumed from ``checkpoint`` trains with: the checkpoint's, or ``config`` after checking
    that it changes nothing but the budget (``updates``), ``device`` and ``checkpoint_every``.

    Raises:
        ConfigError: ``config`` changes another field (the message names it, with both values), or the config
            stored in the checkpoint is not a valid config of a registered algorithm.
    """
    saved = dict(checkpoint.config)
    where = f"resume: the config in {checkpoint.path}"
    try:
        model = algorithm_spec(saved.get("algo")).config
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}", "algo") from None
    with warnings.catch_warnings():  # a typedrl 0.1 REINFORCE checkpoint says epochs for updates: read it quietly
        warnings.simplefilter("ignore", DeprecationWarning)
        stored = build(model, [(where, saved)])
    if config is None:
        return stored
    before, after = _kept(_config_data(stored)), _kept(_config_data(config))
    for key in sorted(before.keys() | after.keys()):
        if before.get(key) != after.get(key):
            raise ConfigError(
                f"resume: {key} is {after.get(key)!r}, but the run was trained with {before.get(key)!r}; a resumed "
                "run keeps its config (only updates, device, checkpoint_every, vector and env_timeout may change)",
                key,
            )
    return config


@dataclass(frozen=True)
class _Paths:
    out: Path
    checkpoint: Path
    best: Path
    log: Path | None
    curve: Path
    progress: Path

    @classmethod
    def check(cls, out: Path, log: Path | Literal["off"] | None) -> "_Paths":
        """Where the run writes, checked before anything is built: every refusal is a ConfigError naming it."""
        try:
            return cls._check(out, log)
        except OSError as error:  # a name too long, a path through a file: the file system refuses to look
            raise ConfigError(f"out: {str(out)!r} cannot be used: {error.strerror or error}", "out") from None

    @classmethod
    def _check(cls, out: Path, log: Path | Literal["off"] | None) -> "_Paths":
        if out.exists() and not out.is_dir():
            raise ConfigError(f"out is {str(out)!r}, which is a file; expected a run directory", "out")
        log_path = None if log == "off" else (Path(log) if log is not None else out / LOG_NAME)
        if log_path is not None:  # a symbolic link is followed: the file it points to is the log
            log_path = check_replaceable(log_path, what="log", error=ConfigError)
        names = {"checkpoint": CHECKPOINT_NAME, "best": BEST_NAME, "curve": CURVE_NAME, "progress": PROGRESS_NAME}
        for what, name in names.items():
            check_replaceable(out / name, what=what, error=ConfigError)
        return cls(out, out / CHECKPOINT_NAME, out / BEST_NAME, log_path, out / CURVE_NAME, out / PROGRESS_NAME)

    def _agent_directory(self, agent: int) -> Path:
        directory = self.out / AGENTS_DIRECTORY / f"agent-{agent}"
        directory.mkdir(parents=True, exist_ok=True)
        return directory

    def agent_logs(self, agents: int) -> list[Path | None]:
        """Each agent's ``trainlog.json`` (``None`` each when the run's log is off); none for one agent."""
        if agents <= 1:
            return []
        return [
            None if self.log is None else self.out / AGENTS_DIRECTORY / f"agent-{k}" / LOG_NAME for k in range(agents)
        ]

    def agent_progress(self, agents: int) -> list[Path]:
        """Each agent's ``progress.csv`` (its directory made if missing); none for one agent."""
        return [self._agent_directory(k) / PROGRESS_NAME for k in range(agents)] if agents > 1 else []

    def agent_curves(self, agents: int) -> list[Path]:
        """Each agent's ``curve.png``; none for one agent."""
        return [self._agent_directory(k) / CURVE_NAME for k in range(agents)] if agents > 1 else []

    def remove_agent_directories(self) -> None:
        """Remove an earlier run's ``agents/agent-K`` directories and their files (``--overwrite``), so that no
        agent of a run with more agents is left beside the new run's. Anything else found there is left alone."""
        root = self.out / AGENTS_DIRECTORY
        if root.is_symlink() or not root.is_dir():
            return
        for directory in root.glob("agent-*"):
            if directory.is_symlink() or not directory.is_dir():
                continue
            for name in (LOG_NAME, PROGRESS_NAME, CURVE_NAME):
                (directory / name).unlink(missing_ok=True)
            remove_stale_temporaries(directory)
            with contextlib.suppress(OSError):  # not empty: something that is not ours stays, with its directory
                directory.rmdir()
        (root / CURVES_NAME).unlink(missing_ok=True)
        remove_stale_temporaries(root)
        with contextlib.suppress(OSError):
            root.rmdir()

    @property
    def summary(self) -> Path:
        """``summary.json``: the agents' latest greedy evaluation and its statistics (several agents only)."""
        return self.out / SUMMARY_NAME

    def make_directories(self) -> None:
        for directory in {self.out, *(() if self.log is None else (self.log.parent,))}:
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise ConfigError(f"cannot create {str(directory)!r}: {error.strerror or error}", "out") from None
            if not os.access(directory, os.W_OK | os.X_OK):
                raise ConfigError(f"cannot write in {str(directory)!r}: permission denied", "out")

    def artifacts(self) -> list[Path]:
        """The run artifacts already there."""
        found = [self.checkpoint, self.best, self.curve, self.progress, *(() if self.log is None else (self.log,))]
        found += [self.summary]
        return [path for path in found if path.exists()]

    def log_outside(self) -> bool:
        """Whether the log is written outside the run directory (``--log PATH``)."""
        return self.log is not None and self.log.parent.resolve() != self.out.resolve()

    def refuse_to_replace(self, *, overwrite: bool) -> None:
        """Refuse a new run where it would replace another run's files, or write among files that are not a run's.

        ``overwrite`` replaces a run in the run directory; it never replaces a log outside it (another run's?).
        """
        if self.log_outside() and self.log is not None and self.log.exists():
            raise ConfigError(
                f"log: {str(self.log)!r} exists (another run's log?); choose a new --log path, or remove it", "log"
            )
        inside = [path.name for path in self.artifacts() if path.parent == self.out]
        if inside and not overwrite:
            raise ConfigError(
                f"{str(self.out)!r} holds a run ({', '.join(inside)}); continue it with --resume, or pass "
                "--overwrite to replace it",
                "out",
            )
        ours = {CHECKPOINT_NAME, BEST_NAME, CURVE_NAME, PROGRESS_NAME, LOG_NAME, RunLock.NAME, AGENTS_DIRECTORY}
        ours.add(SUMMARY_NAME)
        others = (
            sorted(entry.name for entry in self.out.iterdir() if entry.name not in ours) if self.out.is_dir() else []
        )
        if others and not inside and not overwrite:
            shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
            raise ConfigError(
                f"{str(self.out)!r} holds other files ({shown}); a run writes into a directory of its own: choose a "
                "new --out, or pass --overwrite to write into this one anyway",
                "out",
            )

    def remove_if_empty(self) -> None:
        """Remove the lock file and the run directory when nothing else is in it (a run that saved nothing)."""
        try:
            (self.out / RunLock.NAME).unlink(missing_ok=True)
            self.out.rmdir()
        except OSError:  # not empty, or already gone: leave it
            pass


def train(
    config: Config | None = None,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    log: str | os.PathLike[str] | Literal["off"] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    quiet: bool = False,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    tensorboard: str | os.PathLike[str] | None = None,
    callbacks: Sequence[Callback] = (),
) -> RunResult:
    """Train ``config`` to the end of its budget (or its target return) and leave the run's artifacts.

    ``out_dir`` defaults to :func:`default_run_dir`; ``log`` to ``out_dir/trainlog.json`` (``"off"``: no log
    file; the records still reach the sinks). ``resume=True`` continues the run in ``out_dir`` from its
    checkpoint; ``config`` may then be ``None`` (the checkpoint's) or the checkpoint's with a larger budget (see
    :func:`resumed_config`). ``overwrite=True`` replaces a run already in ``out_dir``. ``echo`` receives one line
    per evaluation (and the algorithm's own per-update lines) unless ``quiet``; ``progress`` shows a progress bar
    on a terminal. ``tensorboard`` is a directory for TensorBoard event files; ``callbacks`` receive every update
    and evaluation record (:class:`~typedrl.sinks.Callback`).

    Raises:
        ConfigError: a bad directory or log path, a directory that holds a run (without ``resume`` or
            ``overwrite``), nothing to resume, another run using the directory, a config a resumed run cannot take,
            TensorBoard asked for without the ``tensorboard`` package.
        CheckpointError: the checkpoint to resume from is damaged.
        RunLogError: the log to resume is damaged or belongs to another run.
        TrainingError: a non-finite loss or gradient; the last saved log and checkpoint are kept.
        RunInterrupted: SIGINT or SIGTERM; it says what was saved.
    """
    config = _checked_config(config)
    if resume and overwrite:
        raise ConfigError("resume and overwrite exclude each other: continue the run, or replace it", "resume")
    if resume and out_dir is None:
        raise ConfigError("--resume needs --out DIR: the run directory to continue", "resume")
    if out_dir is None:
        if config is None:
            raise ConfigError("train: config is None; expected a config (or resume=True with out_dir)", "config")
        out_dir = default_run_dir(config)
    out = _path_argument("out", out_dir)
    chosen_log = _log_argument(log)
    if tensorboard is not None:
        _check_tensorboard(_path_argument("tensorboard", tensorboard))
    checkpoint: Checkpoint | None = None
    if resume:
        if not (out / CHECKPOINT_NAME).is_file():
            raise ConfigError(f"--resume: {str(out / CHECKPOINT_NAME)!r} does not exist; nothing to resume", "resume")
        checkpoint = load_checkpoint(out / CHECKPOINT_NAME)
        config = resumed_config(checkpoint, config)
        chosen_log = _resumed_log(checkpoint, chosen_log, out)
    if config is None:
        raise ConfigError("train: config is None; expected a config (or resume=True)", "config")
    paths = _Paths.check(out, chosen_log)
    if checkpoint is None:
        paths.refuse_to_replace(overwrite=overwrite)
    options = _Options(quiet=quiet, progress=progress, echo=echo, tensorboard=tensorboard, callbacks=callbacks)
    # The algorithm first (environments, spaces, device): a bad env id, space or device is refused before anything
    # is written.
    run = _Run(config, paths, options)
    created = not paths.out.exists()
    paths.make_directories()
    try:
        with RunLock(paths.out, error=ConfigError):
            agent_directories = [paths.out / AGENTS_DIRECTORY, *sorted((paths.out / AGENTS_DIRECTORY).glob("agent-*"))]
            for directory in {paths.out, *(() if paths.log is None else (paths.log.parent,)), *agent_directories}:
                remove_stale_temporaries(directory)
            if checkpoint is not None:
                resumed = checkpoint
                return run.guarded(lambda: run.resume(resumed))
            for path in paths.artifacts():  # overwrite: the old run's files go, so none can mix with the new run's
                path.unlink()
            paths.remove_agent_directories()
            return run.guarded(run.start)
    finally:
        run.close()
        if created and run.saved_at is None:  # stopped before its first save: leave no empty run directory behind
            paths.remove_if_empty()


def _checked_config(config: object) -> Config | None:
    """``config`` validated again (a ``model_copy(update=...)`` skips validation), or ``None``."""
    if config is None:
        return None
    if not isinstance(config, AlgoConfig):
        raise ConfigError(
            f"train: config is {_validate.describe(config)}; expected a config such as ppo_preset(...) or "
            "load_config(path)",
            "config",
        )
    return build(type(config), [("train: config", config.model_dump(mode="json"))])


def _path_argument(name: str, value: object) -> Path:
    if not isinstance(value, str | os.PathLike) or isinstance(value, bytes):
        raise ConfigError(f"train: {name} is {_validate.describe(value)}; expected a path (str or Path)", name)
    path = Path(value)
    if not str(value).strip():
        raise ConfigError(f"{name} is an empty path; expected a directory name", name)
    return path


def _log_argument(log: object) -> Path | Literal["off"] | None:
    if log is None:
        return None
    if isinstance(log, str) and log.strip().lower() == "off":
        return "off"
    return _path_argument("log", log)


def _check_tensorboard(directory: Path) -> None:
    from typedrl.sinks import tensorboard_available

    if not tensorboard_available():
        raise ConfigError(
            'tensorboard: the tensorboard package is not installed; pip install "typedrl[tensorboard]"', "tensorboard"
        )
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"tensorboard: {str(directory)!r} is a file; expected a directory", "tensorboard")


def _resumed_log(checkpoint: Checkpoint, given: Path | Literal["off"] | None, out: Path) -> Path | Literal["off"]:
    """Where a resumed run logs: where it logged before (the checkpoint says), so a log is never split in two.

    ``--log off`` is always allowed (the log stops being written); another path is refused.
    """
    stored = checkpoint.extra.get("log", str(out / LOG_NAME))  # typedrl 0.1 checkpoints: the default place
    previous: Path | Literal["off"] = "off" if stored == "off" else Path(stored)
    if given is None or given == "off":
        return previous if given is None else "off"
    if previous == "off" or os.path.realpath(given) != os.path.realpath(previous):
        where = "no log (--log off)" if previous == "off" else f"its log to {str(previous)!r}"
        raise ConfigError(
            f"--resume: the run wrote {where}; resume without --log (or with --log off), so the log is not split",
            "log",
        )
    return previous


@dataclass(frozen=True)
class _Options:
    quiet: bool
    progress: bool
    echo: Callable[[str], None]
    tensorboard: str | os.PathLike[str] | None
    callbacks: Sequence[Callback]


class _StopRequest:
    """SIGINT/SIGTERM handlers for the training loop: the first signal asks for a stop at the next safe point;
    a second one raises KeyboardInterrupt at once. Installed only in the main thread (where Python runs them)."""

    def __init__(self) -> None:
        self.signal_number: int | None = None

    def _handle(self, number: int, frame: FrameType | None) -> None:
        if self.signal_number is not None:
            raise KeyboardInterrupt
        self.signal_number = number

    @contextmanager
    def installed(self) -> Iterator["_StopRequest"]:
        import threading

        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
        for number in previous:
            signal.signal(number, self._handle)
        try:
            yield self
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)


class _Progress:
    """A tqdm progress bar on a terminal (stderr); nothing when stderr is not a terminal or when quiet."""

    def __init__(self, total: int, initial: int, *, enabled: bool) -> None:
        enabled = enabled and sys.stderr.isatty()
        # Short fixed text, so the line fits an 80-column terminal (dynamic_ncols shrinks the bar itself).
        self.bar = tqdm(
            desc="updates",
            total=total,
            initial=initial,
            unit="update",
            disable=not enabled,
            dynamic_ncols=True,
            leave=False,
            file=sys.stderr,
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]",
        )
        self.last_eval: float | None = None

    def show(self, done: int, env_steps: int, seconds: float) -> None:
        if self.bar.disable:
            return
        rate = env_steps / seconds if seconds > 0 else 0.0
        last = "-" if self.last_eval is None else f"{self.last_eval:.1f}"
        self.bar.set_postfix_str(f"eval {last}, {rate:,.0f} steps/s", refresh=False)
        self.bar.update(done - self.bar.n)

    def say(self, echo: Callable[[str], None], line: str) -> None:
        """Print ``line`` above the bar (the bar is cleared and redrawn around it)."""
        with self.bar.external_write_mode():
            echo(line)

    def close(self) -> None:
        self.bar.close()


class _Run:
    """One training run in a locked directory: start or resume, the loop, saving, and the end."""

    def __init__(self, config: Config, paths: _Paths, options: _Options) -> None:
        self.config, self.paths, self.options = config, paths, options
        self.algorithm = build_algorithm(config)
        self.seconds = 0.0
        self.evaluated_at = -1
        self.saved_at: int | None = None
        self.final: EvalResult | None = None
        self.best: EvalResult | None = None
        self.best_at = -1  # the update of the best evaluation; -1: none yet
        self.reached = False
        self.log = RunLog(
            paths.log, algo=config.algo, env_id=config.env_id, seed=config.seed, config=_config_data(config)
        )
        # Several agents at once: each one's log, progress.csv and curve in agents/agent-K/ (its seed seed + K).
        self.agent_logs = [
            RunLog(path, algo=config.algo, env_id=config.env_id, seed=config.seed + agent, config=_config_data(config))
            for agent, path in enumerate(paths.agent_logs(_agent_count(self.algorithm)))
        ]
        self.agent_results: list[EvalResult] = []
        self.summarized_at = -1  # the evaluation summary.json holds
        self.sinks: list[Callback] = []
        self.stop = _StopRequest()

    def close(self) -> None:
        """Release the algorithm's environments; a failure to close is a warning, not a failed run (its files
        are written by then)."""
        try:
            self.algorithm.close()
        except Exception as error:  # the env's own close: report it, keep what the run made
            warnings.warn(f"closing the environments raised {type(error).__name__}: {error}", RuntimeWarning, 2)

    def _open_sinks(self, purge_step: int | None) -> None:
        if self.options.tensorboard is not None:
            self.sinks.append(TensorBoardSink(self.options.tensorboard, purge_step=purge_step))
        self.sinks.extend(self.options.callbacks)

    def _say(self, bar: _Progress | None, line: str) -> None:
        if self.options.quiet:
            return
        if bar is None:
            self.options.echo(line)
        else:
            bar.say(self.options.echo, line)

    # Starting and resuming -----------------------------------------------------------------------------------

    def start(self) -> RunResult:
        self._open_sinks(purge_step=None)
        self._save(finished=False)  # update 0: the directory now holds a run that --resume can continue
        return self._loop()

    def resume(self, checkpoint: Checkpoint) -> RunResult:
        algorithm, config = self.algorithm, self.config
        restore(checkpoint, modules=algorithm.modules(), optimizers=algorithm.optimizers())
        where = f"resume: {checkpoint.path}"
        try:
            algorithm.load_state(dict(checkpoint.extra["algorithm"]))
            progress, extra = checkpoint.progress, checkpoint.extra
            done = _validate.integer(where, "progress['done']", progress["done"], error=CheckpointError)
            _validate.integer(where, "progress['env_steps']", progress["env_steps"], error=CheckpointError)
            self.seconds = _validate.real(
                where, "progress['train_seconds']", progress["train_seconds"], low=0.0, error=CheckpointError
            )
            self.evaluated_at = _validate.integer(
                where,
                "progress['evaluated_at']",
                progress["evaluated_at"],
                minimum=-1,
                maximum=done,
                error=CheckpointError,
            )
            self.best_at = _validate.integer(
                where,
                "progress['best_at']",
                progress.get("best_at", -1),
                minimum=-1,
                maximum=done,
                error=CheckpointError,
            )
            finished = extra["finished"]
            if not isinstance(finished, bool):
                raise CheckpointError(f"{where}: extra['finished'] is {_validate.describe(finished)}; expected a bool")
            self.final = _eval_result(extra["last_evaluation"])
            self.best = _eval_result(extra.get("best_evaluation"))
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as error:
            if isinstance(error, CheckpointError):
                raise
            detail = " ".join(f"{type(error).__name__}: {error}".split())
            raise CheckpointError(f"{where}: the run's progress is malformed ({detail})") from None
        if (algorithm.updates_done, algorithm.env_steps) != (done, progress["env_steps"]) or done < 0:
            raise CheckpointError(
                f"{where}: the algorithm's state says {algorithm.updates_done} updates and {algorithm.env_steps} env "
                f"steps, its progress {done} and {progress['env_steps']}; expected the same"
            )
        budget = config.updates
        self.saved_at = done
        if budget < done:
            raise ConfigError(
                f"resume: updates is {budget}, but the run has done {done}; a resumed run can only grow", "updates"
            )
        stored_budget = int(checkpoint.config.get("updates", checkpoint.config.get("epochs", budget)))
        self.log = self._resume_log(checkpoint, done)
        self.agent_logs = [self._resume_agent_log(log, done) for log in self.agent_logs]
        if budget != stored_budget:
            change = "raised" if budget > stored_budget else "lowered"
            for log in (self.log, *self.agent_logs):
                log.note(f"resumed at update {done} with the budget {stored_budget} {change} to {budget}")
                log.config = _config_data(config)
        if self.best_at == done and not _holds_update(self.paths.best, done):
            # Killed between the checkpoint and best.pt: the checkpoint is the best state, so it is written again.
            self._save_best()
        if finished and budget == stored_budget:
            self._say(
                None,
                f"the run in {self.paths.out} is complete ({done} updates); resume with a larger --updates to "
                "train further",
            )
            return self._result(curve=self._curve())  # drawn again: a kill may have come before it
        # Events at the checkpoint's own step are its records and stay; TensorBoard drops those at later steps.
        self._open_sinks(purge_step=algorithm.env_steps + 1)
        algorithm.restart_environments(restart_seed(config.seed, done))
        return self._loop()

    def _resume_log(self, checkpoint: Checkpoint, done: int) -> RunLog:
        """The log, continued through the checkpoint's update, after checking it belongs to this run."""
        path = self.paths.log
        if path is None:
            return self.log
        if not path.exists():
            raise RunLogError(
                f"resume: the run's log {str(path)!r} is missing; restore it, or resume with --log off (the run then "
                "goes on without a log)"
            )
        header = load_trainlog(path)
        stored = dict(checkpoint.config)
        mismatch: list[tuple[str, Any, Any]] = [
            (name, got, want)
            for name, got, want in (
                ("algo", header.algo, stored.get("algo")),
                ("env_id", header.env_id, stored.get("env_id")),
                ("seed", header.seed, stored.get("seed")),
            )
            if got != want
        ]
        if not mismatch:
            ours, theirs = _kept(stored), _kept(dict(header.config))
            mismatch = [
                (f"config's {key}", theirs.get(key), ours.get(key))
                for key in sorted(ours.keys() | theirs.keys())
                if ours.get(key) != theirs.get(key)
            ][:1]
        if mismatch:
            name, got, want = mismatch[0]
            raise RunLogError(
                f"resume: {path} belongs to another run: its {name} is {got!r}, the checkpoint's {want!r}; move it "
                "away and resume with --log off, or restore this run's log"
            )
        log = RunLog.resume(path, through_update=done, evaluations_through=self.evaluated_at)
        held = [record.update for record in log.updates]
        if held != list(range(1, done + 1)):
            missing = sorted(set(range(1, done + 1)) - set(held))
            shown = f"updates {missing[0]}–{missing[-1]}" if missing else "records out of order"
            raise RunLogError(
                f"resume: {path} lacks {shown} of the {done} the checkpoint has done: it is not this run's whole log;"
                " move it away and resume with --log off, or restore it"
            )
        return log

    def _resume_agent_log(self, log: RunLog, done: int) -> RunLog:
        """An agent's log, continued through the checkpoint's update (a missing one: the run's log is off, or the
        agent logs were lost, and the agent's records start again from here)."""
        if log.path is None or not log.path.exists():
            return log
        resumed = RunLog.resume(log.path, through_update=done, evaluations_through=self.evaluated_at)
        if [record.update for record in resumed.updates] != list(range(1, done + 1)):
            raise RunLogError(
                f"resume: {log.path} does not hold updates 1–{done} of the checkpoint: it is not this run's agent "
                "log; move it away and resume with --log off, or restore it"
            )
        return resumed

    # The loop ------------------------------------------------------------------------------------------------

    def guarded(self, body: Callable[[], RunResult]) -> RunResult:
        """Run ``body`` (start or resume) with the stop handlers installed, from the first file written to the
        last: a first signal stops at the next safe point, a second at once, both said truthfully."""
        stop = self.stop
        try:
            with stop.installed():
                try:
                    return body()
                except KeyboardInterrupt as interrupt:  # a second signal: no saving now, say what is on disk
                    if isinstance(interrupt, RunInterrupted):
                        raise
                    raise self._interrupted(stop.signal_number or signal.SIGINT, saved_now=False) from None
        finally:
            for sink in self.sinks:
                sink.close()

    def _loop(self) -> RunResult:
        algorithm, stop = self.algorithm, self.stop
        bar = _Progress(
            self.config.updates, algorithm.updates_done, enabled=self.options.progress and not self.options.quiet
        )
        try:
            self._train(bar, stop)
            bar.close()
            if stop.signal_number is not None:
                self._save(finished=False)
                raise self._interrupted(stop.signal_number, saved_now=True)
            # A first signal from here on lets the run end: the end is the next safe point.
            if self.config.eval.every and self.evaluated_at != algorithm.updates_done:
                self._evaluate(None)
            curve = self._finish()
        except TrainingError:
            self.log.note("stopped: training error; the checkpoint holds the last saved state")
            if self.log.path is not None:
                self.log.write()
            raise
        finally:
            bar.close()
        return self._result(curve=curve)

    def _train(self, bar: _Progress, stop: _StopRequest) -> None:
        config, algorithm = self.config, self.algorithm
        while algorithm.updates_done < config.updates and stop.signal_number is None:
            start = time.perf_counter()
            stats = algorithm.update()
            self.seconds += time.perf_counter() - start
            self._record(stats)
            if stats.line is not None:
                self._say(bar, stats.line)
            done = algorithm.updates_done
            evaluate_now = bool(config.eval.every) and done % config.eval.every == 0
            if evaluate_now:
                result = self._evaluate(bar)
                target = config.target_return
                # With several agents, every agent's greedy mean must reach the target.
                lowest = min((one.mean for one in self.agent_results), default=result.mean)
                if target is not None and min(result.mean, lowest) >= target:
                    self.reached = True
                    note = f"stopped at update {done}: greedy mean {result.mean:.1f} reached the target {target:g}"
                    if self.agent_logs:
                        note = f"stopped at update {done}: every agent's greedy mean reached the target {target:g}"
                    self.log.note(note)
                    self._say(bar, note)
                    break
            if evaluate_now or done % config.checkpoint_every == 0:
                self._save(finished=False)
            bar.show(done, algorithm.env_steps, self.seconds)

    def _evaluate(self, bar: _Progress | None) -> EvalResult:
        config, algorithm = self.config, self.algorithm
        if self.agent_logs:
            self.agent_results = algorithm.evaluate_agents(  # type: ignore[attr-defined]
                episodes=config.eval.episodes, seed=config.eval.seed, max_steps=config.eval.max_steps
            )
            for log, agent_result in zip(self.agent_logs, self.agent_results, strict=True):
                log.record_evaluation(
                    update=algorithm.updates_done,
                    env_steps=algorithm.env_steps // len(self.agent_logs),
                    wall_seconds=self.seconds,
                    returns=agent_result.returns,
                    lengths=agent_result.lengths,
                )
            # The run's own record pools every agent's episodes (its mean is the mean of the agents' means).
            result = EvalResult(
                returns=tuple(value for one in self.agent_results for value in one.returns),
                lengths=tuple(value for one in self.agent_results for value in one.lengths),
                capped=tuple(value for one in self.agent_results for value in one.capped),
            )
        else:
            result = evaluate(
                algorithm.actor,
                config.env_id,
                episodes=config.eval.episodes,
                base_seed=config.eval.seed,
                max_steps=config.eval.max_steps,
                device=algorithm.device,
            )
        self.evaluated_at = algorithm.updates_done
        self.final = result
        if self.best is None or result.mean > self.best.mean:
            self.best, self.best_at = result, self.evaluated_at
        record = self.log.record_evaluation(
            update=self.evaluated_at,
            env_steps=algorithm.env_steps,
            wall_seconds=self.seconds,
            returns=result.returns,
            lengths=result.lengths,
        )
        feed(self.sinks, "on_evaluation", record)
        if bar is not None:
            bar.last_eval = result.mean
        if self.agent_logs:
            means = [one.mean for one in self.agent_results]
            detail = f"greedy return {result.mean:.1f} over {len(means)} agents (lowest {min(means):.1f})"
        else:
            detail = f"greedy return {result.mean:.1f}"
        self._say(bar, f"update {self.evaluated_at}: {algorithm.env_steps} env steps, {self.seconds:.1f}s, {detail}")
        return result

    def _record(self, stats: UpdateStats) -> None:
        record = self._record_into(self.log, stats)
        for log, agent_stats in zip(self.agent_logs, stats.agents, strict=True):
            self._record_into(log, agent_stats)
        feed(self.sinks, "on_update", record)

    def _record_into(self, log: RunLog, stats: UpdateStats) -> UpdateRecord:
        return log.record_update(
            update=stats.update,
            env_steps=stats.env_steps,
            wall_seconds=self.seconds,
            losses=stats.losses,
            entropy=stats.entropy,
            learning_rate=stats.learning_rate,
            episodes=len(stats.episode_returns),
            episode_return_mean=stats.episode_return_mean,
            episode_length_mean=stats.episode_length_mean,
            approx_kl=stats.approx_kl,
            clip_fraction=stats.clip_fraction,
            clip_range=stats.clip_range,
            explained_variance=stats.explained_variance,
            epochs=stats.epochs,
        )

    # Saving and ending ---------------------------------------------------------------------------------------

    def _save(self, *, finished: bool) -> None:
        """The log, progress.csv and the sinks first, then the checkpoint, then best.pt: the checkpoint is the
        commit point a resumed run starts from (and it rewrites best.pt if a kill came between the two)."""
        for log, progress in zip(self.agent_logs, self.paths.agent_progress(len(self.agent_logs)), strict=True):
            if finished:
                log.finish()
            elif log.path is not None:
                log.write()
            write_progress_csv(log.snapshot(), progress)
        if self.agent_results and self.summarized_at != self.evaluated_at:  # once per evaluation: a bootstrap
            write_agents_summary(self.paths.summary, self.config, self.agent_results, update=self.evaluated_at)
            self.summarized_at = self.evaluated_at
        if finished:
            self.log.finish()
        elif self.log.path is not None:
            self.log.write()
        write_progress_csv(self.log.snapshot(), self.paths.progress)
        for sink in self.sinks:
            sink.flush()
        save_checkpoint(self.paths.checkpoint, **self._checkpoint_contents(finished))
        self.saved_at = self.algorithm.updates_done
        if self.best_at == self.saved_at and not _holds_update(self.paths.best, self.saved_at):
            self._save_best()

    def _checkpoint_contents(self, finished: bool) -> dict[str, Any]:
        algorithm = self.algorithm
        return {
            "modules": algorithm.modules(),
            "optimizers": algorithm.optimizers(),
            "config": _config_data(self.config),
            "progress": {
                "done": algorithm.updates_done,
                "env_steps": algorithm.env_steps,
                "train_seconds": self.seconds,
                "evaluated_at": self.evaluated_at,
                "best_at": self.best_at,
            },
            "rng": capture_rng(),
            "extra": {
                "algorithm": algorithm.state(),
                "finished": finished,
                "last_evaluation": _eval_payload(self.final),
                "best_evaluation": _eval_payload(self.best),
                "log": "off" if self.paths.log is None else str(self.paths.log),
            },
        }

    def _save_best(self) -> None:
        """best.pt: a checkpoint of the current state, which is the best evaluation's."""
        save_checkpoint(self.paths.best, **self._checkpoint_contents(finished=False))

    def _finish(self) -> Path | None:
        self._save(finished=True)
        return self._curve()

    def _curve(self) -> Path | None:
        if not self.log.evaluations:
            return None
        if self.agent_logs:
            snapshots = [log.snapshot() for log in self.agent_logs]
            if len(snapshots) <= AGENT_CURVES_UP_TO:
                for snapshot, curve in zip(snapshots, self.paths.agent_curves(len(snapshots)), strict=True):
                    plot_curve(snapshot, curve)
            plot_curves(snapshots, self.paths.out / AGENTS_DIRECTORY / CURVES_NAME)
        return plot_curve(self.log.snapshot(), self.paths.curve)

    def _interrupted(self, number: int, *, saved_now: bool) -> RunInterrupted:
        done, out, log = self.algorithm.updates_done, self.paths.out, self.paths.log
        if saved_now:
            if log is None:
                what = f"a checkpoint at update {done} is saved in {out} (the log is off)"
            elif self.paths.log_outside():
                what = f"a checkpoint at update {done} is saved in {out}, the log in {log}"
            else:
                what = f"the log and a checkpoint at update {done} are saved in {out}"
        elif self.saved_at is not None:
            what = f"interrupted again before saving; the checkpoint at update {self.saved_at} in {out} is kept"
        else:
            what = "nothing was saved"
        return RunInterrupted(
            f"interrupted at update {done}: {what}",
            signal_number=number,
            saved_update=self.saved_at,
            out_dir=out,
        )

    def _result(self, *, curve: Path | None) -> RunResult:
        algorithm = self.algorithm
        return RunResult(
            out_dir=self.paths.out,
            log_path=self.paths.log,
            checkpoint_path=self.paths.checkpoint,
            best_path=self.paths.best if self.best is not None and self.paths.best.exists() else None,
            curve_path=curve,
            updates=algorithm.updates_done,
            env_steps=algorithm.env_steps,
            train_seconds=self.seconds,
            final_evaluation=self.final,
            reached_target=self.reached,
            best_evaluation=self.best,
        )


def _agent_count(algorithm: Algorithm) -> int:
    """How many agents ``algorithm`` trains at once (1 unless it says more: :class:`~typedrl.BatchedPPO`)."""
    agents = getattr(algorithm, "agents", 1)
    return agents if isinstance(agents, int) and agents > 1 else 1


def _holds_update(path: Path, update: int) -> bool:
    """Whether the checkpoint at ``path`` exists, loads, and was taken after ``update`` updates."""
    if not path.is_file():
        return False
    try:
        return int(load_checkpoint(path).progress["done"]) == update
    except (CheckpointError, KeyError, ValueError):
        return False


def _eval_payload(result: EvalResult | None) -> dict[str, list[Any]] | None:
    if result is None:
        return None
    return {"returns": list(result.returns), "lengths": list(result.lengths), "capped": list(result.capped)}


def _eval_result(payload: Any) -> EvalResult | None:
    if payload is None:
        return None
    return EvalResult(
        returns=tuple(float(value) for value in payload["returns"]),
        lengths=tuple(int(value) for value in payload["lengths"]),
        capped=tuple(bool(value) for value in payload["capped"]),
    )
