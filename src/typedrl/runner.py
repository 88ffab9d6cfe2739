"""The training runner: what ``typedrl ppo`` and ``typedrl reinforce`` do around the algorithm.

:func:`train` builds the algorithm from a config, then per update (PPO) or epoch (REINFORCE): runs it, times it
(training seconds exclude evaluation), records it in the training log, evaluates greedily every
``config.eval.every`` updates, and saves the log and a checkpoint after each evaluation and every
``config.checkpoint_every`` updates. It stops at ``config.target_return`` (PPO) or when the budget is spent, then
evaluates once more (if the last update was not evaluated) and writes the final log, checkpoint and
``curve.png``.

Nothing a user does loses work or leaves a run that cannot continue:

* A run directory holds ``trainlog.json``, ``checkpoint.pt`` and ``curve.png``. A new run refuses a directory that
  already holds a run (``resume=True`` continues it, ``overwrite=True`` replaces it), and writes its log and a
  checkpoint at update 0 before training, so a run killed at any moment can be resumed.
* The log is always written before the checkpoint, and the checkpoint is the commit point: ``resume=True`` restores
  network, optimizer, generators and progress from the checkpoint, keeps the log's records up to it and redoes the
  rest. This holds whatever moment the previous process died at, the end of a finished run included.
* ``resume=True`` reads the config from the checkpoint. Only the budget (``updates`` / ``epochs``), ``device`` and
  ``checkpoint_every`` may differ from it: a larger budget extends a run, finished or not (as SB3's
  ``reset_num_timesteps=False`` does; annealed schedules then anneal over the new budget from where they are).
  The environments start new episodes (their mid-episode state is not saved), seeded from the run's seed and the
  update count, so a resumed run never replays the run's first episodes.
* One run at a time per directory (a lock the kernel drops when the process dies); temporary files left by killed
  runs are removed; only regular files are ever replaced (``--log /dev/null`` is refused, not replaced).
* The first SIGINT (Ctrl-C) or SIGTERM asks the run to stop: it saves the log and a checkpoint at the end of the
  update in progress and raises :class:`RunInterrupted` saying what was saved. A second one stops at once, and
  :class:`RunInterrupted` says truthfully which earlier checkpoint is kept.
"""

import math
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, Literal

import numpy as np
import torch
from tqdm import tqdm

from typedrl._files import RunLock, check_replaceable, remove_stale_temporaries
from typedrl.algos.ppo import PPO, UpdateStats
from typedrl.algos.reinforce import EpochStats, Reinforce
from typedrl.checkpoint import Checkpoint, capture_rng, load_checkpoint, restore, save_checkpoint
from typedrl.config import PPOConfig, ReinforceConfig, build
from typedrl.errors import CheckpointError, ConfigError, RunLogError, TrainingError
from typedrl.evaluation import EvalResult, evaluate
from typedrl.plot import plot_curve
from typedrl.runlog import RunLog, load_trainlog

__all__ = [
    "CHECKPOINT_NAME",
    "CURVE_NAME",
    "LOG_NAME",
    "RunInterrupted",
    "RunResult",
    "build_algorithm",
    "default_run_dir",
    "greedy_actor",
    "restart_seed",
    "resumed_config",
    "train",
]

LOG_NAME = "trainlog.json"
CHECKPOINT_NAME = "checkpoint.pt"
CURVE_NAME = "curve.png"

Config = PPOConfig | ReinforceConfig
# What a resumed run may change; everything else must equal the checkpoint's config.
_CHANGEABLE = frozenset({"updates", "epochs", "device", "checkpoint_every"})


@dataclass(frozen=True)
class RunResult:
    """What a finished run left behind and how it ended."""

    out_dir: Path
    """The run directory."""
    log_path: Path | None
    """The training log, or ``None`` when logging was off."""
    checkpoint_path: Path
    """The last checkpoint: the state at the end of the run."""
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
    """``runs/<algo>-<env>-<seed>-<UTC time>/``."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return root / f"{config.algo}-{config.env_id}-{config.seed}-{stamp}"


def build_algorithm(config: Config) -> PPO | Reinforce:
    """The algorithm a config describes, with its environments, networks and optimizer."""
    return PPO(config) if isinstance(config, PPOConfig) else Reinforce(config)


def greedy_actor(algorithm: PPO | Reinforce) -> torch.nn.Module:
    """The observation → logits module that greedy evaluation runs."""
    return algorithm.model.actor if isinstance(algorithm, PPO) else algorithm.model


def restart_seed(seed: int, done: int) -> int:
    """The seed a run resumed after ``done`` updates resets its environments with: a function of the run's seed
    and ``done`` alone (reproducible), and not ``seed`` itself (no replay of the run's first episodes)."""
    return int(np.random.SeedSequence([seed, done, 0x7E5]).generate_state(1, np.uint32)[0])


def _done(algorithm: PPO | Reinforce) -> int:
    return algorithm.updates_done if isinstance(algorithm, PPO) else algorithm.epochs_done


def _budget_field(config: Config) -> str:
    return "updates" if isinstance(config, PPOConfig) else "epochs"


def _budget(config: Config) -> int:
    return config.updates if isinstance(config, PPOConfig) else config.epochs


def _config_data(config: Config) -> dict[str, Any]:
    return config.model_dump(mode="json")


def _kept(data: dict[str, Any]) -> dict[str, Any]:
    """The part of a config's data that a resumed run must keep."""
    return {key: value for key, value in data.items() if key not in _CHANGEABLE}


def resumed_config(checkpoint: Checkpoint, config: Config | None = None) -> Config:
    """The config a run resumed from ``checkpoint`` trains with: the checkpoint's, or ``config`` after checking
    that it changes nothing but the budget, ``device`` and ``checkpoint_every``.

    Raises:
        ConfigError: ``config`` changes another field (the message names it, with both values), or the config
            stored in the checkpoint is not a valid config.
    """
    saved = dict(checkpoint.config)
    algo = saved.get("algo")
    if algo not in ("ppo", "reinforce"):
        raise ConfigError(
            f"resume: {checkpoint.path} holds the config of algo {algo!r}; expected ppo or reinforce", "algo"
        )
    model: type[Config] = PPOConfig if algo == "ppo" else ReinforceConfig
    stored = build(model, [(f"resume: the config in {checkpoint.path}", saved)])
    if config is None:
        return stored
    before, after = _kept(_config_data(stored)), _kept(_config_data(config))
    for key in sorted(before.keys() | after.keys()):
        if before.get(key) != after.get(key):
            raise ConfigError(
                f"resume: {key} is {after.get(key)!r}, but the run was trained with {before.get(key)!r}; a resumed "
                f"run keeps its config (only {_budget_field(stored)}, device and checkpoint_every may change)",
                key,
            )
    return config


@dataclass(frozen=True)
class _Paths:
    out: Path
    checkpoint: Path
    log: Path | None
    curve: Path

    @classmethod
    def check(cls, out: Path, log: Path | Literal["off"] | None) -> "_Paths":
        """Where the run writes, checked before anything is built: every refusal is a ConfigError naming it."""
        if out.exists() and not out.is_dir():
            raise ConfigError(f"out is {str(out)!r}, which is a file; expected a run directory", "out")
        log_path = None if log == "off" else (Path(log) if log is not None else out / LOG_NAME)
        if log_path is not None:  # a symbolic link is followed: the file it points to is the log
            log_path = check_replaceable(log_path, what="log", error=ConfigError)
        checkpoint, curve = out / CHECKPOINT_NAME, out / CURVE_NAME
        for name, path in (("checkpoint", checkpoint), ("curve", curve)):
            check_replaceable(path, what=name, error=ConfigError)
        return cls(out, checkpoint, log_path, curve)

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
        found = [self.checkpoint, self.curve, *(() if self.log is None else (self.log,))]
        return [path for path in found if path.exists()]


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
) -> RunResult:
    """Train ``config`` to the end of its budget (or its target return) and leave the run's artifacts.

    ``out_dir`` defaults to :func:`default_run_dir`; ``log`` to ``out_dir/trainlog.json`` (``"off"``: no log).
    ``resume=True`` continues the run in ``out_dir`` from its checkpoint; ``config`` may then be ``None`` (the
    checkpoint's) or the checkpoint's with a larger budget (see :func:`resumed_config`). ``overwrite=True`` replaces
    a run already in ``out_dir``. ``echo`` receives one line per evaluation (PPO) or per epoch (REINFORCE) unless
    ``quiet``; ``progress`` shows a progress bar on a terminal.

    Raises:
        ConfigError: a bad directory or log path, a directory that holds a run (without ``resume`` or
            ``overwrite``), nothing to resume, another run using the directory, a config a resumed run cannot take.
        CheckpointError: the checkpoint to resume from is damaged.
        RunLogError: the log to resume is damaged or belongs to another run.
        TrainingError: a non-finite loss or gradient; the last saved log and checkpoint are kept.
        RunInterrupted: SIGINT or SIGTERM; it says what was saved.
    """
    if resume and overwrite:
        raise ConfigError("resume and overwrite exclude each other: continue the run, or replace it", "resume")
    if resume and out_dir is None:
        raise ConfigError("--resume needs --out DIR: the run directory to continue", "resume")
    if out_dir is None:
        if config is None:
            raise ConfigError("train: config is None; expected a config (or resume=True with out_dir)", "config")
        out_dir = default_run_dir(config)
    paths = _Paths.check(Path(out_dir), "off" if log == "off" else None if log is None else Path(log))
    if not resume:
        existing = paths.artifacts()
        if existing and not overwrite:
            raise ConfigError(
                f"{str(paths.out)!r} holds a run ({', '.join(path.name for path in existing)}); continue it with "
                "--resume, or pass --overwrite to replace it",
                "out",
            )
    elif not paths.checkpoint.is_file():
        raise ConfigError(f"--resume: {str(paths.checkpoint)!r} does not exist; nothing to resume", "resume")
    paths.make_directories()
    with RunLock(paths.out, error=ConfigError):
        for directory in {paths.out, *(() if paths.log is None else (paths.log.parent,))}:
            remove_stale_temporaries(directory)
        if resume:
            checkpoint = load_checkpoint(paths.checkpoint)
            run = _Run(resumed_config(checkpoint, config), paths, quiet=quiet, progress=progress, echo=echo)
            return run.resume(checkpoint)
        if config is None:
            raise ConfigError("train: config is None; expected a config (or resume=True)", "config")
        for path in paths.artifacts():  # overwrite: the old run's artifacts go, so none can mix with the new run's
            path.unlink()
        return _Run(config, paths, quiet=quiet, progress=progress, echo=echo).start()


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
        if sys.modules.get("threading") is not None:
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

    def __init__(self, total: int, initial: int, unit: str, *, enabled: bool) -> None:
        enabled = enabled and sys.stderr.isatty()
        # Short fixed text, so the line fits an 80-column terminal (dynamic_ncols shrinks the bar itself).
        self.bar = tqdm(
            desc=unit,
            total=total,
            initial=initial,
            unit=unit,
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

    def __init__(
        self, config: Config, paths: _Paths, *, quiet: bool, progress: bool, echo: Callable[[str], None]
    ) -> None:
        self.config, self.paths, self.quiet, self.show_progress, self.echo = config, paths, quiet, progress, echo
        self.algorithm = build_algorithm(config)
        self.seconds = 0.0
        self.evaluated_at = -1
        self.saved_at: int | None = None
        self.final: EvalResult | None = None
        self.reached = False
        self.log: RunLog | None = None

    # Starting and resuming -----------------------------------------------------------------------------------

    def start(self) -> RunResult:
        config = self.config
        if self.paths.log is not None:
            self.log = RunLog(
                self.paths.log, algo=config.algo, env_id=config.env_id, seed=config.seed, config=_config_data(config)
            )
        self._save(finished=False)  # update 0: the directory now holds a run that --resume can continue
        return self._loop()

    def resume(self, checkpoint: Checkpoint) -> RunResult:
        algorithm, config = self.algorithm, self.config
        restore(checkpoint, modules={"model": algorithm.model}, optimizers={"optimizer": algorithm.optimizer})
        try:
            algorithm.load_state(dict(checkpoint.extra["algorithm"]))
            progress, extra = checkpoint.progress, checkpoint.extra
            self.seconds = float(progress["train_seconds"])
            self.evaluated_at = int(progress["evaluated_at"])
            finished = bool(extra["finished"])
            self.final = _eval_result(extra["last_evaluation"])
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise CheckpointError(f"resume: {checkpoint.path}: the run's progress is malformed: {error}") from None
        done, budget = _done(algorithm), _budget(config)
        self.saved_at = done
        if budget < done:
            raise ConfigError(
                f"resume: {_budget_field(config)} is {budget}, but the run has done {done}; a resumed run can only "
                "grow",
                _budget_field(config),
            )
        stored_budget = int(checkpoint.config.get(_budget_field(config), budget))
        self.log = self._resume_log(checkpoint, done)
        if self.log is not None and budget != stored_budget:
            self.log.note(f"resumed at update {done} with the budget {stored_budget} raised to {budget}")
            self.log.config = _config_data(config)
        if finished and budget == stored_budget:
            if not self.quiet:
                self.echo(
                    f"the run in {self.paths.out} is complete ({done} {_budget_field(config)}); resume with a "
                    f"larger --{_budget_field(config)} to train further"
                )
            return self._result(curve=self._curve())  # drawn again: a kill may have come before it
        algorithm.restart_environments(restart_seed(config.seed, done))
        return self._loop()

    def _resume_log(self, checkpoint: Checkpoint, done: int) -> RunLog | None:
        """The log, continued through the checkpoint's update, after checking it belongs to this run."""
        path = self.paths.log
        if path is None:
            return None
        if not path.exists():
            log = RunLog(
                path,
                algo=self.config.algo,
                env_id=self.config.env_id,
                seed=self.config.seed,
                config=_config_data(self.config),
            )
            log.note(f"log restarted at update {done}: the previous {path.name} was missing")
            return log
        header = load_trainlog(path)
        stored = dict(checkpoint.config)
        mismatch = [
            (name, got, want)
            for name, got, want in (
                ("algo", header.algo, stored.get("algo")),
                ("env_id", header.env_id, stored.get("env_id")),
                ("seed", header.seed, stored.get("seed")),
            )
            if got != want
        ]
        if not mismatch and _kept(dict(header.config)) != _kept(stored):
            mismatch = [("config", "another config", "the checkpoint's")]
        if mismatch:
            name, got, want = mismatch[0]
            raise RunLogError(
                f"resume: {path} belongs to another run: its {name} is {got!r}, the checkpoint's {want!r}; move it "
                "away, or resume with --log pointing at this run's log"
            )
        return RunLog.resume(path, through_update=done, evaluations_through=self.evaluated_at)

    # The loop ------------------------------------------------------------------------------------------------

    def _loop(self) -> RunResult:
        config, algorithm = self.config, self.algorithm
        total = _budget(config)
        unit = "updates" if isinstance(config, PPOConfig) else "epochs"
        bar = _Progress(total, _done(algorithm), unit, enabled=self.show_progress and not self.quiet)
        stop = _StopRequest()
        try:
            with stop.installed():
                try:
                    self._train(bar, stop, total)
                    bar.close()
                    if stop.signal_number is not None:
                        self._save(finished=False)
                        raise self._interrupted(stop.signal_number, saved_now=True)
                    # A first signal from here on lets the run end: the end is the next safe point.
                    if self.evaluated_at != _done(algorithm):
                        self._evaluate()
                    curve = self._finish()
                except KeyboardInterrupt as interrupt:  # a second signal: no saving now, say what is on disk
                    if isinstance(interrupt, RunInterrupted):
                        raise
                    bar.close()
                    raise self._interrupted(stop.signal_number or signal.SIGINT, saved_now=False) from None
        except TrainingError:
            bar.close()
            if self.log is not None:
                self.log.note("stopped: training error; the checkpoint holds the last saved state")
                self.log.write()
            raise
        return self._result(curve=curve)

    def _train(self, bar: _Progress, stop: _StopRequest, total: int) -> None:
        config, algorithm = self.config, self.algorithm
        while _done(algorithm) < total and stop.signal_number is None:
            start = time.perf_counter()
            stats = algorithm.update() if isinstance(algorithm, PPO) else algorithm.epoch()
            self.seconds += time.perf_counter() - start
            self._record(stats)
            done = _done(algorithm)
            if isinstance(stats, EpochStats) and not self.quiet:
                bar.say(
                    self.echo,
                    f"epoch: {stats.epoch:<3} episodes: {stats.episodes:<5} "
                    f"avg reward per episode: {stats.mean_return:.2f}",
                )
            evaluate_now = bool(config.eval.every) and done % config.eval.every == 0
            if evaluate_now:
                result = self._evaluate()
                bar.last_eval = result.mean
                if isinstance(config, PPOConfig) and not self.quiet:
                    bar.say(
                        self.echo,
                        f"update {done}: {algorithm.env_steps} env steps, {self.seconds:.1f}s, "
                        f"greedy return {result.mean:.1f}",
                    )
                target = config.target_return if isinstance(config, PPOConfig) else None
                if target is not None and result.mean >= target:
                    self.reached = True
                    if self.log is not None:
                        self.log.note(f"stopped at update {done}: greedy mean {result.mean:.1f} reached {target:g}")
                    break
            if evaluate_now or done % config.checkpoint_every == 0:
                self._save(finished=False)
            bar.show(done, algorithm.env_steps, self.seconds)

    def _evaluate(self) -> EvalResult:
        config, algorithm = self.config, self.algorithm
        result = evaluate(
            greedy_actor(algorithm),
            config.env_id,
            episodes=config.eval.episodes,
            base_seed=config.eval.seed,
            max_steps=config.eval.max_steps,
            device=algorithm.device,
        )
        self.evaluated_at = _done(algorithm)
        self.final = result
        if self.log is not None:
            self.log.record_evaluation(
                update=self.evaluated_at,
                env_steps=algorithm.env_steps,
                wall_seconds=self.seconds,
                returns=result.returns,
            )
        return result

    def _record(self, stats: UpdateStats | EpochStats) -> None:
        if self.log is None:
            return
        returns = stats.episode_returns
        mean = math.fsum(returns) / len(returns) if returns else None
        if isinstance(stats, UpdateStats):
            self.log.record_update(
                update=stats.update,
                env_steps=stats.env_steps,
                wall_seconds=self.seconds,
                losses={"policy": stats.policy_loss, "value": stats.value_loss},
                entropy=stats.entropy,
                learning_rate=stats.learning_rate,
                episodes=len(returns),
                episode_return_mean=mean,
                approx_kl=stats.approx_kl,
                clip_fraction=stats.clip_fraction,
            )
        else:
            self.log.record_update(
                update=stats.epoch,
                env_steps=stats.env_steps,
                wall_seconds=self.seconds,
                losses={"policy_gradient": stats.loss},
                entropy=stats.entropy,
                learning_rate=stats.learning_rate,
                episodes=stats.episodes,
                episode_return_mean=mean,
            )

    # Saving and ending ---------------------------------------------------------------------------------------

    def _save(self, *, finished: bool) -> None:
        """The log first, then the checkpoint: the checkpoint is the commit point a resumed run starts from."""
        if self.log is not None:
            if finished:
                self.log.finish()
            else:
                self.log.write()
        algorithm = self.algorithm
        save_checkpoint(
            self.paths.checkpoint,
            modules={"model": algorithm.model},
            optimizers={"optimizer": algorithm.optimizer},
            config=_config_data(self.config),
            progress={
                "done": _done(algorithm),
                "env_steps": algorithm.env_steps,
                "train_seconds": self.seconds,
                "evaluated_at": self.evaluated_at,
            },
            rng=capture_rng(),
            extra={
                "algorithm": algorithm.state(),
                "finished": finished,
                "last_evaluation": _eval_payload(self.final),
            },
        )
        self.saved_at = _done(algorithm)

    def _finish(self) -> Path | None:
        self._save(finished=True)
        return self._curve()

    def _curve(self) -> Path | None:
        if self.log is None or not self.log.evaluations:
            return None
        return plot_curve(self.log.snapshot(), self.paths.curve)

    def _interrupted(self, number: int, *, saved_now: bool) -> RunInterrupted:
        done, out = _done(self.algorithm), self.paths.out
        if saved_now:
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
            curve_path=curve,
            updates=_done(algorithm),
            env_steps=algorithm.env_steps,
            train_seconds=self.seconds,
            final_evaluation=self.final,
            reached_target=self.reached,
        )


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
