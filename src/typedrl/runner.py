"""The training runner: what ``typedrl ppo`` and ``typedrl reinforce`` do around the algorithm.

:func:`train` builds the algorithm from a config, then per update (PPO) or epoch (REINFORCE): runs it, times it
(training seconds exclude evaluation), records it in the training log, evaluates greedily every
``config.eval.every`` updates, rewrites ``trainlog.json`` atomically and saves a checkpoint after each evaluation,
and stops at ``config.target_return`` (PPO) or when the budget is spent. At the end it evaluates once more (if the
last update was not evaluated), writes the final log, checkpoint and ``curve.png``.

A run directory holds ``trainlog.json``, ``checkpoint.pt`` and ``curve.png``. ``resume=True`` continues the run in
that directory from its checkpoint: network, optimizer, generators and progress are restored, the log keeps the
records up to the checkpoint, and the environments start new episodes (their mid-episode state is not saved).
"""

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TextIO

import torch

from typedrl.algos.ppo import PPO, UpdateStats
from typedrl.algos.reinforce import EpochStats, Reinforce
from typedrl.checkpoint import capture_rng, load_checkpoint, restore, save_checkpoint
from typedrl.config import PPOConfig, ReinforceConfig
from typedrl.errors import ConfigError, TrainingError
from typedrl.evaluate import EvalResult, evaluate
from typedrl.plot import plot_curve
from typedrl.runlog import RunLog

__all__ = ["RunResult", "build_algorithm", "default_run_dir", "greedy_actor", "train"]

LOG_NAME = "trainlog.json"
CHECKPOINT_NAME = "checkpoint.pt"
CURVE_NAME = "curve.png"


@dataclass(frozen=True)
class RunResult:
    """What a finished run left behind and how it ended."""

    out_dir: Path
    log_path: Path | None
    checkpoint_path: Path
    curve_path: Path | None
    updates: int
    env_steps: int
    train_seconds: float
    final_evaluation: EvalResult | None
    reached_target: bool


def default_run_dir(config: PPOConfig | ReinforceConfig, *, root: Path = Path("runs")) -> Path:
    """``runs/<algo>-<env>-<seed>-<UTC time>/``."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return root / f"{config.algo}-{config.env_id}-{config.seed}-{stamp}"


class _Progress:
    """A one-line progress bar on a terminal (stderr); silent when stderr is a pipe or a file."""

    def __init__(self, total: int, unit: str, *, enabled: bool, stream: TextIO = sys.stderr) -> None:
        self.total, self.unit, self.stream = total, unit, stream
        self.enabled = enabled and stream.isatty()
        self.last_eval: float | None = None

    def show(self, done: int, env_steps: int, seconds: float) -> None:
        if not self.enabled:
            return
        width = 24
        filled = int(width * done / self.total)
        rate = env_steps / seconds if seconds > 0 else 0.0
        last = "-" if self.last_eval is None else f"{self.last_eval:.1f}"
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} {self.unit} | {env_steps} env steps"
            f" | eval {last} | {rate:,.0f} steps/s "
        )
        self.stream.flush()

    def clear(self) -> None:
        """Erase the bar's line, so a line printed next starts at the left margin (the next show redraws it)."""
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _config_data(config: PPOConfig | ReinforceConfig) -> dict[str, Any]:
    return config.model_dump(mode="json")


def build_algorithm(config: PPOConfig | ReinforceConfig) -> PPO | Reinforce:
    """The algorithm a config describes, with its environments, networks and optimizer."""
    return PPO(config) if isinstance(config, PPOConfig) else Reinforce(config)


def greedy_actor(algorithm: PPO | Reinforce) -> torch.nn.Module:
    """The observation → logits module that greedy evaluation runs."""
    return algorithm.model.actor if isinstance(algorithm, PPO) else algorithm.model


def _done(algorithm: PPO | Reinforce) -> int:
    return algorithm.updates_done if isinstance(algorithm, PPO) else algorithm.epochs_done


def _total(config: PPOConfig | ReinforceConfig) -> int:
    return config.updates if isinstance(config, PPOConfig) else config.epochs


def _save(path: Path, algorithm: PPO | Reinforce, config: PPOConfig | ReinforceConfig, seconds: float) -> Path:
    return save_checkpoint(
        path,
        modules={"model": algorithm.model},
        optimizers={"optimizer": algorithm.optimizer},
        config=_config_data(config),
        progress={"done": _done(algorithm), "env_steps": algorithm.env_steps, "train_seconds": seconds},
        rng=capture_rng(),
        extra={"algorithm": algorithm.state()},
    )


def _record(log: RunLog | None, stats: UpdateStats | EpochStats, seconds: float) -> None:
    if log is None:
        return
    returns = stats.episode_returns
    mean = sum(returns) / len(returns) if returns else None
    if isinstance(stats, UpdateStats):
        log.record_update(
            update=stats.update,
            env_steps=stats.env_steps,
            wall_seconds=seconds,
            losses={"policy": stats.policy_loss, "value": stats.value_loss},
            entropy=stats.entropy,
            learning_rate=stats.learning_rate,
            episodes=len(returns),
            episode_return_mean=mean,
            approx_kl=stats.approx_kl,
            clip_fraction=stats.clip_fraction,
        )
    else:
        log.record_update(
            update=stats.epoch,
            env_steps=stats.env_steps,
            wall_seconds=seconds,
            losses={"policy_gradient": stats.loss},
            entropy=stats.entropy,
            learning_rate=stats.learning_rate,
            episodes=stats.episodes,
            episode_return_mean=mean,
        )


def train(
    config: PPOConfig | ReinforceConfig,
    *,
    out_dir: Path | None = None,
    log: Path | Literal["off"] | None = None,
    resume: bool = False,
    quiet: bool = False,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> RunResult:
    """Train ``config`` to the end of its budget (or its target return) and leave the run's artifacts.

    ``out_dir`` defaults to :func:`default_run_dir`; ``log`` to ``out_dir/trainlog.json`` (``"off"``: no log).
    ``echo`` receives one line per evaluation (PPO) or per epoch (REINFORCE) unless ``quiet``.
    """
    out = out_dir if out_dir is not None else default_run_dir(config)
    checkpoint_path = out / CHECKPOINT_NAME
    log_path = None if log == "off" else (log if log is not None else out / LOG_NAME)
    algorithm = build_algorithm(config)
    seconds = 0.0

    if resume:
        if not checkpoint_path.is_file():
            raise ConfigError(f"--resume: {str(checkpoint_path)!r} does not exist; nothing to resume", "resume")
        checkpoint = load_checkpoint(checkpoint_path)
        if dict(checkpoint.config) != _config_data(config):
            raise ConfigError(
                f"--resume: the config differs from the one {str(checkpoint_path)!r} was trained with; "
                "resume with the same flags (or none but --out and --resume)",
                "resume",
            )
        restore(checkpoint, modules={"model": algorithm.model}, optimizers={"optimizer": algorithm.optimizer})
        algorithm.load_state(dict(checkpoint.extra["algorithm"]))
        seconds = float(checkpoint.progress["train_seconds"])
        run_log = RunLog.resume(log_path, through_update=_done(algorithm)) if log_path is not None else None
    else:
        out.mkdir(parents=True, exist_ok=True)
        run_log = (
            RunLog(log_path, algo=config.algo, env_id=config.env_id, seed=config.seed, config=_config_data(config))
            if log_path is not None
            else None
        )

    total = _total(config)
    bar = _Progress(total, "updates" if isinstance(config, PPOConfig) else "epochs", enabled=progress and not quiet)
    final: EvalResult | None = None
    evaluated_at = -1
    reached = False

    def run_evaluation() -> EvalResult:
        nonlocal evaluated_at
        result = evaluate(
            greedy_actor(algorithm),
            config.env_id,
            episodes=config.eval.episodes,
            base_seed=config.eval.seed,
            max_steps=config.eval.max_steps,
            device=algorithm.device,
        )
        evaluated_at = _done(algorithm)
        bar.last_eval = result.mean
        if run_log is not None:
            run_log.record_evaluation(
                update=evaluated_at, env_steps=algorithm.env_steps, wall_seconds=seconds, returns=result.returns
            )
            run_log.write()
        _save(checkpoint_path, algorithm, config, seconds)
        return result

    try:
        while _done(algorithm) < total:
            start = time.perf_counter()
            stats = algorithm.update() if isinstance(algorithm, PPO) else algorithm.epoch()
            seconds += time.perf_counter() - start
            _record(run_log, stats, seconds)
            if isinstance(stats, EpochStats) and not quiet:
                bar.clear()
                echo(
                    f"epoch: {stats.epoch:<3} episodes: {stats.episodes:<5} "
                    f"avg reward per episode: {stats.mean_return:.2f}"
                )
            done = _done(algorithm)
            if config.eval.every and done % config.eval.every == 0:
                final = run_evaluation()
                if isinstance(config, PPOConfig) and not quiet:
                    bar.clear()
                    echo(
                        f"update {done}: {algorithm.env_steps} env steps, {seconds:.1f}s, "
                        f"greedy return {final.mean:.1f}"
                    )
                target = config.target_return if isinstance(config, PPOConfig) else None
                if target is not None and final.mean >= target:
                    reached = True
                    if run_log is not None:
                        run_log.note(f"stopped at update {done}: greedy mean {final.mean:.1f} reached {target:g}")
                    break
            bar.show(done, algorithm.env_steps, seconds)
    except TrainingError:
        bar.close()
        if run_log is not None:
            run_log.note("stopped: training error; the checkpoint holds the last evaluated state")
            run_log.write()
        raise
    bar.close()
    if evaluated_at != _done(algorithm):
        final = run_evaluation()
    _save(checkpoint_path, algorithm, config, seconds)
    curve: Path | None = None
    if run_log is not None:
        run_log.finish()
        if run_log.evaluations:
            curve = plot_curve(run_log.snapshot(), out / CURVE_NAME)
    return RunResult(
        out_dir=out,
        log_path=log_path,
        checkpoint_path=checkpoint_path,
        curve_path=curve,
        updates=_done(algorithm),
        env_steps=algorithm.env_steps,
        train_seconds=seconds,
        final_evaluation=final,
        reached_target=reached,
    )
