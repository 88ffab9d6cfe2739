"""Sinks: TensorBoard event files and progress.csv with SB3's names, and callbacks, fed the log's records."""

import math
from pathlib import Path
from typing import Any

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import typedrl
from typedrl.config import ppo_preset, reinforce_preset
from typedrl.errors import ConfigError
from typedrl.runlog import EvalRecord, UpdateRecord, load_trainlog
from typedrl.runner import train
from typedrl.sinks import Callback, evaluation_scalars, read_progress_csv, update_scalars


def small(**overrides: Any) -> typedrl.PPOConfig:
    settings: dict[str, Any] = {
        "updates": 4,
        "num_envs": 2,
        "horizon": 16,
        "epochs": 2,
        "eval": {"every": 2, "episodes": 2},
    }
    return ppo_preset(**{**settings, **overrides})


class Recorder(Callback):
    def __init__(self) -> None:
        self.updates: list[UpdateRecord] = []
        self.evaluations: list[EvalRecord] = []
        self.flushes = 0
        self.closed = False

    def on_update(self, record: UpdateRecord) -> None:
        self.updates.append(record)

    def on_evaluation(self, record: EvalRecord) -> None:
        self.evaluations.append(record)

    def flush(self) -> None:
        self.flushes += 1

    def close(self) -> None:
        self.closed = True


def scalars_of(directory: Path) -> dict[str, list[tuple[int, float]]]:
    accumulator = EventAccumulator(str(directory))
    accumulator.Reload()
    return {
        tag: [(event.step, event.value) for event in accumulator.Scalars(tag)] for tag in accumulator.Tags()["scalars"]
    }


def test_callbacks_receive_every_record_the_log_keeps(tmp_path: Path) -> None:
    recorder = Recorder()
    train(small(), out_dir=tmp_path, quiet=True, callbacks=[recorder])
    log = load_trainlog(tmp_path / "trainlog.json")
    assert recorder.updates == log.updates
    assert recorder.evaluations == log.evaluations
    assert recorder.flushes >= 3  # at least at update 2, update 4 and the end
    assert recorder.closed


def test_sb3_names() -> None:
    record = UpdateRecord(
        update=3,
        env_steps=300,
        wall_seconds=1.5,
        losses={"policy": -0.1, "value": 2.0},
        entropy=0.6,
        approx_kl=0.01,
        clip_fraction=0.2,
        episodes=2,
        episode_return_mean=20.0,
        episode_length_mean=20.0,
        learning_rate=1e-3,
        explained_variance=0.5,
        clip_range=0.1,
        epochs=4,
    )
    assert update_scalars(record) == {
        "rollout/ep_rew_mean": 20.0,
        "rollout/ep_len_mean": 20.0,
        "train/policy_gradient_loss": -0.1,
        "train/value_loss": 2.0,
        "train/entropy_loss": -0.6,
        "train/approx_kl": 0.01,
        "train/clip_fraction": 0.2,
        "train/clip_range": 0.1,
        "train/explained_variance": 0.5,
        "train/learning_rate": 1e-3,
        "train/n_epochs": 4.0,
        "time/iterations": 3.0,
        "time/total_timesteps": 300.0,
        "time/fps": 200.0,
    }
    evaluation = EvalRecord.from_returns(update=3, env_steps=300, wall_seconds=1.5, returns=[1, 3], lengths=[5, 7])
    assert evaluation_scalars(evaluation) == {
        "eval/mean_reward": 2.0,
        "eval/std_reward": 1.0,
        "eval/min_reward": 1.0,
        "eval/max_reward": 3.0,
        "eval/mean_ep_length": 6.0,
    }


def test_progress_csv_and_tensorboard_hold_the_logs_figures(tmp_path: Path) -> None:
    board = tmp_path / "tb"
    train(small(), out_dir=tmp_path / "run", quiet=True, tensorboard=board)
    log = load_trainlog(tmp_path / "run" / "trainlog.json")
    rows = read_progress_csv(tmp_path / "run" / "progress.csv")
    assert [row["time/iterations"] for row in rows] == [1.0, 2.0, 3.0, 4.0]
    for row, record in zip(rows, log.updates, strict=True):
        for name, value in update_scalars(record).items():
            assert row[name] == pytest.approx(value, rel=1e-12), name
    assert [row["eval/mean_reward"] for row in rows] == [None, log.evaluations[0].mean, None, log.evaluations[1].mean]
    written = scalars_of(board)
    assert [step for step, _ in written["train/value_loss"]] == [record.env_steps for record in log.updates]
    for (_, value), record in zip(written["train/value_loss"], log.updates, strict=True):
        assert math.isclose(value, record.losses["value"], rel_tol=1e-6)  # TensorBoard keeps float32
    assert [step for step, _ in written["eval/mean_reward"]] == [record.env_steps for record in log.evaluations]


def test_a_resumed_run_purges_the_events_past_its_checkpoint(tmp_path: Path) -> None:
    board, out = tmp_path / "tb", tmp_path / "run"
    config = reinforce_preset(updates=2, min_steps_per_update=100, num_envs=2)
    train(config, out_dir=out, quiet=True, tensorboard=board)
    train(
        reinforce_preset(updates=4, min_steps_per_update=100, num_envs=2),
        out_dir=out,
        resume=True,
        quiet=True,
        tensorboard=board,
    )
    steps = [step for step, _ in scalars_of(board)["time/iterations"]]
    assert steps == sorted(steps)
    assert len(steps) == 4
    rows = read_progress_csv(out / "progress.csv")
    assert [row["time/iterations"] for row in rows] == [1.0, 2.0, 3.0, 4.0]


def test_tensorboard_into_a_file_is_refused_before_training(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(ConfigError, match=r"^tensorboard: .* is a file; expected a directory$"):
        train(small(), out_dir=tmp_path / "run", quiet=True, tensorboard=file)
