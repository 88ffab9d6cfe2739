"""make_env, the checked wrappers' plumbing, and check_env's report."""

import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv
from zoo import GoodEnv, GoodVectorEnv, NaNObservation, OldGymStep, RaisingClass

from typedrl.envs import CheckedEnv, CheckedVectorEnv, CheckReport, _sub_environment, check_env, make_env
from typedrl.errors import ContractViolation, EnvError, HyperparameterError


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


# An environment that raises: EnvError, naming the env, the call, the step and the sub-environment.


class StepRaises(GoodEnv):
    """Raises from its third step on."""

    def step_result(self) -> Any:
        if self.steps >= 3:
            return 1 / 0
        return super().step_result()


class ResetRaises(GoodEnv):
    """Raises from its second reset on, with a message of two lines."""

    resets = 0

    def reset_result(self) -> Any:
        self.resets += 1
        if self.resets >= 2:
            raise RuntimeError("the simulator\n  lost its state")
        return super().reset_result()


class WrongShapeAtStep2(GoodEnv):
    """Its observation at step 2 has 4 elements: a SyncVectorEnv fails stacking them, after its loop."""

    def observation(self) -> Any:
        return np.zeros(4, np.float32) if self.steps == 2 else super().observation()


def _env_error(call: Any, *args: Any) -> EnvError:
    with pytest.raises(EnvError) as caught:
        call(*args)
    return caught.value


def test_a_single_env_that_raises_in_step_gives_an_env_error() -> None:
    env = CheckedEnv(StepRaises())
    env.reset(seed=0)
    env.step(0)
    env.step(0)
    error = _env_error(env.step, 0)
    assert str(error) == "StepRaises step 3: step raised ZeroDivisionError: division by zero"
    assert (error.env_id, error.call, error.step, error.env_index) == ("StepRaises", "step", 3, None)
    assert error.detail == "ZeroDivisionError: division by zero"
    assert isinstance(error.__cause__, ZeroDivisionError)
    assert isinstance(error, RuntimeError)
    assert env.num_steps == 2  # the failed step is not counted


def test_a_single_env_that_raises_in_reset_gives_an_env_error_on_one_line() -> None:
    env = CheckedEnv(ResetRaises(episode_length=2))
    env.reset(seed=0)
    env.step(0)
    env.step(0)
    error = _env_error(env.reset)
    assert str(error) == "ResetRaises reset after step 2: reset raised RuntimeError: the simulator lost its state"
    assert isinstance(error.__cause__, RuntimeError)


def test_sync_vector_env_names_the_sub_environment_that_raised() -> None:
    env = CheckedVectorEnv(SyncVectorEnv([GoodEnv, GoodEnv, StepRaises, GoodEnv]))
    env.reset(seed=0)
    for _ in range(2):
        env.step(np.zeros(4, np.int64))
    error = _env_error(env.step, np.zeros(4, np.int64))
    assert str(error) == "SyncVectorEnv step 3, env 2: step raised ZeroDivisionError: division by zero"
    assert error.env_index == 2


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP], ids=lambda mode: mode.name)
def test_sync_vector_env_names_the_sub_environment_whose_autoreset_raised(mode: AutoresetMode) -> None:
    # Sub-env 1 ends its episode at step 2; its autoreset (inside step) raises.
    env = CheckedVectorEnv(SyncVectorEnv([GoodEnv, lambda: ResetRaises(episode_length=2)], autoreset_mode=mode))
    env.reset(seed=0)
    env.step(np.zeros(2, np.int64))
    step = 2 if mode is AutoresetMode.SAME_STEP else 3
    if step == 3:
        env.step(np.zeros(2, np.int64))
    error = _env_error(env.step, np.zeros(2, np.int64))
    assert str(error) == (f"SyncVectorEnv step {step}, env 1: step raised RuntimeError: the simulator lost its state")


def test_sync_vector_env_reset_names_the_sub_environment() -> None:
    env = CheckedVectorEnv(SyncVectorEnv([GoodEnv, GoodEnv, ResetRaises]))
    env.reset(seed=0)
    error = _env_error(env.reset)
    assert str(error) == "SyncVectorEnv reset, env 2: reset raised RuntimeError: the simulator lost its state"


def test_an_error_outside_the_loop_over_sub_environments_names_none() -> None:
    # SyncVectorEnv stacks the observations after its loop: which one broke the stack is not known there.
    env = CheckedVectorEnv(SyncVectorEnv([GoodEnv, WrongShapeAtStep2, GoodEnv]))
    env.reset(seed=0)
    env.step(np.zeros(3, np.int64))
    error = _env_error(env.step, np.zeros(3, np.int64))
    assert error.env_index is None
    assert str(error).startswith("SyncVectorEnv step 2: step raised ValueError: ")
    # Nor is an error from the loop's own iteration (too few actions for the sub-environments).
    sync = SyncVectorEnv([GoodEnv, GoodEnv])
    sync.reset(seed=0)
    with pytest.raises(ValueError, match="zip") as caught:
        sync.step(np.zeros(1, np.int64))
    assert _sub_environment(sync, caught.value) is None


def test_a_native_vector_env_names_no_sub_environment() -> None:
    class NativeRaises(CartPoleVectorEnv):
        def step(self, actions: Any) -> Any:
            raise ValueError("native step failed")

    env = CheckedVectorEnv(NativeRaises(num_envs=4))
    env.reset(seed=0)
    error = _env_error(env.step, np.zeros(4, np.int64))
    assert str(error) == "NativeRaises step 1: step raised ValueError: native step failed"


def test_async_vector_env_names_the_worker_that_raised() -> None:
    env = CheckedVectorEnv(AsyncVectorEnv([GoodEnv, StepRaises]))
    try:
        env.reset(seed=0)
        env.step(np.zeros(2, np.int64))
        env.step(np.zeros(2, np.int64))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # gymnasium logs the worker's traceback as warnings
            error = _env_error(env.step, np.zeros(2, np.int64))
    finally:
        env.close(terminate=True)
    assert str(error) == "AsyncVectorEnv step 3, env 1: step raised ZeroDivisionError: division by zero"


def test_a_violation_from_an_inner_checked_env_passes_through_unchanged() -> None:
    env = CheckedVectorEnv(SyncVectorEnv([lambda: CheckedEnv(GoodEnv()), lambda: CheckedEnv(NaNObservation())]))
    env.reset(seed=0)
    env.step(np.zeros(2, np.int64))
    env.step(np.zeros(2, np.int64))
    with pytest.raises(ContractViolation) as caught:
        env.step(np.zeros(2, np.int64))
    assert str(caught.value) == (
        "NaNObservation step 3: observation[1] is nan; expected a finite float32 in [-1.0, 1.0]"
    )
    inner = CheckedEnv(CheckedEnv(StepRaises()))
    inner.reset(seed=0)
    inner.step(0)
    inner.step(0)
    assert str(_env_error(inner.step, 0)) == "StepRaises step 3: step raised ZeroDivisionError: division by zero"


def test_keyboard_interrupt_is_never_wrapped() -> None:
    class Interrupted(GoodEnv):
        def step_result(self) -> Any:
            raise KeyboardInterrupt

    env = CheckedEnv(Interrupted())
    env.reset(seed=0)
    with pytest.raises(KeyboardInterrupt):
        env.step(0)


def test_an_exception_whose_message_cannot_be_read() -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no message")

    class RaisesUnprintable(GoodEnv):
        def step_result(self) -> Any:
            raise Unprintable

    env = CheckedEnv(RaisesUnprintable())
    env.reset(seed=0)
    assert str(_env_error(env.step, 0)) == (
        "RaisesUnprintable step 1: step raised Unprintable: (its message could not be read)"
    )


def test_check_env_reports_an_env_error() -> None:
    report = check_env(StepRaises(episode_length=1), steps=10)
    assert not report.passed
    assert report.violations == ()
    assert isinstance(report.error, EnvError)
    assert isinstance(report.error.__cause__, ZeroDivisionError)
    assert (report.steps, report.episodes) == (2, 2)  # a run stopped early still counts its episodes
    assert str(report) == (
        "check_env StepRaises: 2 steps, 2 episodes, no violations, stopped by an environment error:\n"
        "  StepRaises step 3: step raised ZeroDivisionError: division by zero"
    )


def test_check_env_reports_violations_and_then_the_env_error() -> None:
    class NaNThenRaises(NaNObservation):
        def step_result(self) -> Any:
            if self.steps >= 5:
                raise OSError("disk full")
            return super().step_result()

    report = check_env(NaNThenRaises(), steps=10, on_violation="warn")
    assert str(report).splitlines() == [
        "check_env NaNThenRaises: 4 steps, 0 episodes, 2 violations, stopped by an environment error:",
        "  NaNThenRaises step 3: observation[1] is nan; expected a finite float32 in [-1.0, 1.0]",
        "  NaNThenRaises step 4: observation[1] is nan; expected a finite float32 in [-1.0, 1.0]",
        "  NaNThenRaises step 5: step raised OSError: disk full",
    ]


def test_check_env_reports_an_action_space_that_cannot_sample() -> None:
    class BrokenSpace(spaces.Discrete):
        def sample(self, mask: Any = None, probability: Any = None) -> Any:
            raise NotImplementedError("no sampling here")

    class BrokenActions(GoodEnv):
        def __init__(self) -> None:
            super().__init__()
            self.action_space = BrokenSpace(2)

    report = check_env(BrokenActions(), steps=5)
    assert str(report.error) == (
        "BrokenActions step 1: action_space.sample raised NotImplementedError: no sampling here"
    )
    assert not report.passed


def test_check_env_reports_a_close_that_raises() -> None:
    class CloseRaises(GoodEnv):
        def close(self) -> None:
            raise OSError("cannot close")

    gym.register("typedrl-test/CloseRaises-v0", entry_point=lambda **kwargs: CloseRaises(), max_episode_steps=100)
    try:
        report = check_env("typedrl-test/CloseRaises-v0", steps=3)
    finally:
        del gym.registry["typedrl-test/CloseRaises-v0"]
    assert report.steps == 3
    assert str(report.error) == "typedrl-test/CloseRaises-v0 step 3: close raised OSError: cannot close"
    assert not report.passed


def test_check_env_in_warn_mode_goes_on_past_unreadable_flags() -> None:
    class HostileFlags(GoodEnv):
        def terminated(self) -> Any:
            return RaisingClass() if self.steps == 2 else super().terminated()

    class HostileVectorFlags(GoodVectorEnv):
        def step_result(self) -> Any:
            observations, reward, terminated, truncated, info = super().step_result()
            return observations, reward, RaisingClass() if self.steps == 2 else terminated, truncated, info

    for env in (HostileFlags(), HostileVectorFlags()):
        report = check_env(env, steps=5, on_violation="warn")
        assert [(violation.step, violation.field) for violation in report.violations] == [(2, "terminated")]
        assert report.steps == 5
        assert report.error is None


class _Exits(gym.Env[np.ndarray, np.int64]):
    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        return np.zeros(1, np.float32), {}

    def step(self, action: np.int64) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        raise SystemExit(3)


def test_an_env_that_calls_sys_exit_is_an_env_error() -> None:
    checked = CheckedEnv(_Exits())
    checked.reset(seed=0)
    with pytest.raises(EnvError) as caught:
        checked.step(np.int64(0))
    assert str(caught.value) == "_Exits step 1: step raised SystemExit: 3"
