"""make_env, the checked wrappers' plumbing, and check_env's report."""

import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from zoo import GoodEnv, NaNObservation, OldGymStep

from typedrl.envs import CheckedEnv, CheckedVectorEnv, CheckReport, check_env, make_env
from typedrl.errors import ContractViolation, HyperparameterError


def _rollout(env: CheckedVectorEnv, steps: int) -> list[np.ndarray]:
    observations = [env.reset()[0]]
    for _ in range(steps):
        observations.append(env.step(env.action_space.sample())[0])
    return observations


def test_make_env_uses_the_native_cartpole_vector_env() -> None:
    env = make_env("CartPole-v1", num_envs=8)
    assert isinstance(env, CheckedVectorEnv)
    assert isinstance(env.unwrapped, CartPoleVectorEnv)
    assert env.num_envs == env.contract.num_envs == 8
    assert env.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    assert env.observation_space.shape == (8, 4)


@pytest.mark.parametrize("mode", [AutoresetMode.SAME_STEP, AutoresetMode.DISABLED, "SameStep"])
def test_make_env_falls_back_to_sync_for_modes_the_native_env_lacks(mode: AutoresetMode | str) -> None:
    env = make_env("CartPole-v1", num_envs=3, autoreset_mode=mode)
    assert isinstance(env.unwrapped, SyncVectorEnv)
    assert env.metadata["autoreset_mode"] is AutoresetMode(mode)
    assert env.autoreset_mode is AutoresetMode(mode)


def test_make_env_uses_sync_where_there_is_no_native_env() -> None:
    env = make_env("Acrobot-v1", num_envs=3)
    assert isinstance(env.unwrapped, SyncVectorEnv)
    assert env.num_envs == 3
    assert env.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    assert env.contract.env_id == "Acrobot-v1"


def test_metadata_is_forwarded_unchanged() -> None:
    raw = gym.make_vec("CartPole-v1", 2, vectorization_mode="sync")
    assert CheckedVectorEnv(raw).metadata is raw.metadata


def test_make_env_passes_env_kwargs() -> None:
    env = make_env("CartPole-v1", num_envs=4, seed=0, env_kwargs={"max_episode_steps": 3})
    env.reset()
    for _ in range(3):
        _, _, terminated, truncated, _ = env.step(np.zeros(4, np.int64))
    assert (terminated | truncated).all()


def test_a_seed_makes_runs_reproducible() -> None:
    first, second = (
        _rollout(make_env("CartPole-v1", num_envs=4, seed=7), 50),
        _rollout(make_env("CartPole-v1", num_envs=4, seed=7), 50),
    )
    other = _rollout(make_env("CartPole-v1", num_envs=4, seed=8), 50)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert not np.array_equal(first[0], other[0])


def test_an_explicit_reset_seed_wins() -> None:
    a, b = make_env("Acrobot-v1", num_envs=2, seed=1), make_env("Acrobot-v1", num_envs=2, seed=2)
    assert np.array_equal(a.reset(seed=3)[0], b.reset(seed=3)[0])


def test_make_env_rejects_bad_arguments() -> None:
    with pytest.raises(HyperparameterError, match="num_envs is 0"):
        make_env("CartPole-v1", num_envs=0)
    with pytest.raises(ValueError, match="Sometimes"):
        make_env("CartPole-v1", autoreset_mode="Sometimes")


def test_checked_env_counts_steps_across_episodes() -> None:
    env = CheckedEnv(GoodEnv(episode_length=2), seed=0)
    env.reset()
    for _ in range(5):
        _, _, terminated, _, _ = env.step(0)
        if terminated:
            env.reset()
    assert env.num_steps == 5


def test_an_action_violation_stops_before_the_env_steps() -> None:
    inner = GoodEnv()
    env = CheckedEnv(inner)
    env.reset(seed=0)
    with pytest.raises(ContractViolation):
        env.step(2)
    assert inner.steps == env.num_steps == 0


def test_check_env_on_an_id() -> None:
    report = check_env("CartPole-v1", steps=1000, seed=0)
    assert isinstance(report, CheckReport)
    assert report.passed
    assert report.violations == ()
    assert (report.env_id, report.num_envs, report.steps) == ("CartPole-v1", None, 1000)
    assert report.episodes > 10
    assert str(report) == f"check_env CartPole-v1: 1000 steps, {report.episodes} episodes, no violations"


def test_check_env_on_a_vector_env_is_seeded() -> None:
    first = check_env(make_env("CartPole-v1", num_envs=8), steps=300, seed=3)
    second = check_env(make_env("CartPole-v1", num_envs=8), steps=300, seed=3)
    assert first.passed
    assert first.num_envs == 8
    assert first.episodes == second.episodes > 0
    assert str(first).startswith("check_env CartPole-v1 (8 envs): 300 steps, ")


def test_check_env_stops_at_the_first_violation() -> None:
    report = check_env(NaNObservation(), steps=100)
    assert not report.passed
    assert report.steps == 3
    assert str(report) == (
        "check_env NaNObservation: 3 steps, 0 episodes, 1 violation:\n"
        "  NaNObservation step 3: observation[1] is nan; expected a finite float32 in [-1.0, 1.0]"
    )


def test_check_env_in_warn_mode_collects_every_violation() -> None:
    report = check_env(NaNObservation(), steps=25, on_violation="warn")
    assert report.steps == 25
    # From step 3 on every observation is NaN, the ones the resets after steps 10 and 20 return too.
    steps = [violation.step for violation in report.violations if violation.call == "step"]
    resets = [violation.step for violation in report.violations if violation.call == "reset"]
    assert (steps, resets) == (list(range(3, 26)), [10, 20])
    assert report.episodes == 2
    assert str(report).splitlines()[0] == "check_env NaNObservation: 25 steps, 2 episodes, 25 violations:"


def test_check_env_reports_a_broken_structure_in_warn_mode() -> None:
    report = check_env(OldGymStep(), steps=10, on_violation="warn")
    assert report.steps == 1
    assert [violation.field for violation in report.violations] == ["result"]


def test_check_env_passes_other_warnings_on() -> None:
    class Warns(GoodEnv):
        def info(self) -> Any:
            warnings.warn("from the env", UserWarning, stacklevel=1)
            return {}

    with pytest.warns(UserWarning, match="from the env"):
        assert check_env(Warns(), steps=2).passed


def test_check_env_rejects_bad_steps() -> None:
    with pytest.raises(HyperparameterError, match="steps is -1"):
        check_env("CartPole-v1", steps=-1)
