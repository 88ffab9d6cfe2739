"""Subprocess environments (``vector: async``): checked as the sync env is, the same rollouts for the same seeds,
and a worker that raises, dies or hangs reported as one error naming its sub-environment, in bounded time, with
nothing saved lost."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import faulty_envs  # noqa: F401  (registers typedrl-test/Faulty*-v0)
import numpy as np
import pytest
import torch
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

from typedrl.algos.ppo import PPO
from typedrl.collect import PolicyStep, RolloutCollector
from typedrl.config import PPOConfig
from typedrl.envs import make_env
from typedrl.errors import EnvError, HyperparameterError
from typedrl.runlog import load_trainlog
from typedrl.runner import train

COMMAND = [sys.executable, "-m", "typedrl.cli"]
# Gymnasium's own words when a worker raises, and when a hung env is closed: expected here.
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*Raising the last exception back to the main process"),
    pytest.mark.filterwarnings("ignore:.*Calling `close` while waiting for a pending call"),
]
TESTS = str(Path(__file__).resolve().parent)
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [TESTS, os.environ.get("PYTHONPATH")]))}


def test_async_training_is_the_sync_training_bit_for_bit() -> None:
    parameters = {}
    for vector in ("sync", "async"):
        algorithm = PPO(PPOConfig(env_id="Pendulum-v1", num_envs=3, horizon=32, updates=3, vector=vector))
        try:
            kind = type(algorithm.env.unwrapped)
            assert kind is (SyncVectorEnv if vector == "sync" else AsyncVectorEnv)
            for _ in range(3):
                algorithm.update()
            parameters[vector] = torch.cat([tensor.detach().flatten() for tensor in algorithm.model.parameters()])
        finally:
            algorithm.close()
    assert torch.equal(parameters["sync"], parameters["async"])


class _ObservationPolicy:
    """A deterministic policy (actions and values from the observations alone): rollouts depend on the env only."""

    def act(self, observations: torch.Tensor) -> PolicyStep:
        actions = (observations[:, 0] > 0).to(torch.int64)
        return PolicyStep(actions, torch.zeros(len(actions)), observations.sum(-1))

    def value(self, observations: torch.Tensor) -> torch.Tensor:
        return observations.sum(-1)


@pytest.mark.parametrize("mode", list(AutoresetMode))
def test_every_autoreset_mode_collects_the_same_rollouts_as_sync(mode: AutoresetMode) -> None:
    rollouts = {}
    for vectorization in ("sync", "async"):
        env = make_env("Acrobot-v1", num_envs=3, seed=5, autoreset_mode=mode, vectorization=vectorization, timeout=30.0)
        try:
            collector = RolloutCollector(env, _ObservationPolicy(), horizon=200, seed=5)
            rollouts[vectorization] = [collector.collect() for _ in range(3)]
        finally:
            env.close()
    for sync, asynchronous in zip(rollouts["sync"], rollouts["async"], strict=True):
        for name in ("observations", "actions", "rewards", "terminated", "truncated", "next_values"):
            assert torch.equal(getattr(sync, name), getattr(asynchronous, name)), name
    assert bool(torch.cat([rollout.truncated for rollout in rollouts["sync"]]).any())  # episodes ended in them


def _stepped(env_id: str, *, timeout: float | None = 30.0, steps: int = 60) -> EnvError:
    env = make_env(env_id, num_envs=3, seed=0, vectorization="async", timeout=timeout)
    try:
        env.reset()

        def run() -> None:
            for _ in range(steps):
                env.step(np.zeros(3, dtype=np.int64))

        with pytest.raises(EnvError) as caught:
            run()
        return caught.value
    finally:
        env.close()  # after a dead or hung worker this must not wait on it


def test_a_worker_that_raises_names_its_sub_environment() -> None:
    error = _stepped("typedrl-test/FaultyRaise-v0")
    assert (error.step, error.env_index) == (40, 1)
    assert "RuntimeError: the simulator lost its state" in str(error)


def test_a_worker_that_dies_is_one_error_naming_it() -> None:
    start = time.perf_counter()
    error = _stepped("typedrl-test/FaultyDie-v0")
    assert time.perf_counter() - start < 20
    assert (error.call, error.step, error.env_index) == ("step", 40, 1)
    assert "exited with code 3" in str(error)


def test_a_worker_that_hangs_is_one_error_after_the_timeout() -> None:
    start = time.perf_counter()
    error = _stepped("typedrl-test/FaultyHang-v0", timeout=2.0)
    elapsed = time.perf_counter() - start
    assert 2.0 <= elapsed < 20
    assert (error.step, error.env_index) == (40, 1)
    assert str(error) == "typedrl-test/FaultyHang-v0 step 40, env 1: its worker did not answer within 2 s (hung)"


def test_a_killed_worker_process_is_reported_not_waited_for() -> None:
    env = make_env("typedrl-test/Faulty-v0", num_envs=2, seed=0, vectorization="async", timeout=30.0)
    try:
        env.reset()
        env.step(np.zeros(2, dtype=np.int64))
        workers = env.unwrapped
        assert isinstance(workers, AsyncVectorEnv)
        victim = workers.processes[0]
        assert victim.pid is not None
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(10)
        with pytest.raises(EnvError) as caught:
            env.step(np.zeros(2, dtype=np.int64))
        assert caught.value.env_index == 0
        assert f"(pid {victim.pid}) exited with code -9" in str(caught.value)
    finally:
        env.close()


def test_the_timeout_is_checked() -> None:
    with pytest.raises(HyperparameterError, match="timeout is 0"):
        make_env("CartPole-v1", num_envs=2, vectorization="async", timeout=0)
    with pytest.raises(HyperparameterError, match="vectorization is 'threads'"):
        make_env("CartPole-v1", num_envs=2, vectorization="threads")  # type: ignore[arg-type]


def test_a_run_whose_worker_hangs_stops_keeps_its_files_and_resumes(tmp_path: Path) -> None:
    armed = tmp_path / "armed"
    armed.write_text("")
    out = tmp_path / "run"
    command = [
        *COMMAND,
        "ppo",
        "--env",
        "faulty_envs:typedrl-test/FaultyHang-v0",
        "--vector",
        "async",
        "--env-timeout",
        "2",
        "--num-envs",
        "3",
        "--updates",
        "4",
        "--eval-every",
        "0",
        "--checkpoint-every",
        "1",
        "--out",
        str(out),
        "--quiet",
    ]
    env = {**ENV, "FAULTY_ONLY_IF": str(armed)}
    config = json.dumps({"horizon": 32})
    (tmp_path / "config.json").write_text(config)
    command += ["--config", str(tmp_path / "config.json")]
    start = time.perf_counter()
    failed = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, check=False)
    assert time.perf_counter() - start < 60
    assert failed.returncode == 1
    message = failed.stderr.strip().splitlines()
    assert len(message) == 1, failed.stderr
    assert "step 40, env 1: its worker did not answer within 2 s (hung)" in message[0]
    log = load_trainlog(out / "trainlog.json")
    assert [record.update for record in log.updates] == [1]  # the first update was saved; the second never ended
    assert (out / "checkpoint.pt").is_file()

    armed.unlink()  # the fault is gone: the run goes on from its checkpoint
    resume = [*COMMAND, "ppo", "--out", str(out), "--resume", "--quiet"]
    resumed = subprocess.run(resume, capture_output=True, text=True, timeout=120, env=env, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert [record.update for record in load_trainlog(out / "trainlog.json").updates] == [1, 2, 3, 4]


def test_the_command_line_takes_the_vector_flags(tmp_path: Path) -> None:
    bad = subprocess.run(
        [*COMMAND, "ppo", "--vector", "threads", "--out", str(tmp_path / "a")],
        capture_output=True,
        text=True,
        timeout=60,
        env=ENV,
        check=False,
    )
    assert bad.returncode == 2
    assert "invalid choice: 'threads'" in bad.stderr
    zero = subprocess.run(
        [*COMMAND, "ppo", "--vector", "async", "--env-timeout", "0", "--out", str(tmp_path / "b")],
        capture_output=True,
        text=True,
        timeout=60,
        env=ENV,
        check=False,
    )
    assert zero.returncode == 2
    assert len(zero.stderr.strip().splitlines()) == 1
    assert "--env-timeout: Input should be greater than 0 (got 0.0)" in zero.stderr


def test_a_short_async_run_trains(tmp_path: Path) -> None:
    result = train(
        PPOConfig(env_id="Pendulum-v1", num_envs=2, horizon=16, updates=2, vector="async"),
        out_dir=tmp_path / "run",
        quiet=True,
    )
    assert result.updates == 2


def test_ctrl_c_reaching_the_workers_too_still_saves_the_update_in_progress(tmp_path: Path) -> None:
    # A terminal's Ctrl-C goes to the whole process group: the workers must not die of it before the trainer saves.
    out = tmp_path / "run"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"horizon": 512, "epochs": 1}))  # most of each update is spent stepping the workers
    command = [*COMMAND, "ppo", "--env", "Pendulum-v1", "--vector", "async", "--num-envs", "2", "--config", str(config)]
    command += ["--updates", "500", "--eval-every", "0", "--checkpoint-every", "1", "--out", str(out), "--quiet"]
    process = subprocess.Popen(command, env=ENV, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out / "progress.csv").is_file():
        time.sleep(0.1)
    time.sleep(1.0)  # a few updates in
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGINT
    assert "the log and a checkpoint at update" in stderr
    assert "interrupted again" not in stderr
    assert "Traceback" not in stderr


def test_a_resumed_run_may_change_how_its_environments_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    config = PPOConfig(env_id="Pendulum-v1", num_envs=2, horizon=16, updates=2, vector="async", env_timeout=0.5)
    train(config, out_dir=out, quiet=True)
    more = config.model_copy(update={"updates": 3, "vector": "sync", "env_timeout": 30.0})
    assert train(more, out_dir=out, resume=True, quiet=True).updates == 3
