"""The torch classic-control environments (typedrl.envs.classic) against Gymnasium's own.

Dynamics: ``N`` real ``gymnasium.make(id, max_episode_steps=k)`` environments and one tensor env of ``N`` rows start
from the same states (the tensor env's, written into each Gymnasium env's ``unwrapped.state``) and take the same
random actions; every step compares the states, observations, rewards and both flags, and a sub-environment the
tensor env resets (NEXT_STEP) is reset on the Gymnasium side too and given the same state. Short time limits and
chosen start states make every run see terminations (but Pendulum, which has none), truncations, the clips and
the walls.

Tolerances (measured with these seeds, then given about 10x room): Gymnasium computes in float64 on numpy, so the
float64 tensor envs differ only where torch's ``sin``/``cos`` differ from numpy's in the last bit, and Acrobot is
chaotic (the differences grow over an episode); MountainCarContinuous keeps its state in float32 in Gymnasium.
A float32 tensor env rounds every operation to float32 and drifts further, most in CartPole (unstable upright)
and Acrobot (chaotic). Observations and rewards are float32 on both sides, so they are also allowed one float32
rounding (``rtol = 2**-23``).
"""

import math
from typing import Any

import gymnasium as gym
import numpy as np
import numpy.typing as npt
import pytest
import torch
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space
from torch import Tensor

from typedrl.envs.classic import (
    TENSOR_ENVS,
    AcrobotTensorEnv,
    CartPoleTensorEnv,
    ContinuousMountainCarTensorEnv,
    MountainCarTensorEnv,
    PendulumTensorEnv,
    TensorVectorEnv,
    make_tensor_env,
)
from typedrl.errors import ConfigError, HyperparameterError, InputError

N = 6
FLOAT32_ULP = 2.0**-23
ENV_CLASSES = list(TENSOR_ENVS.values())

# Start states that reach what random actions rarely do from a reset: the cart's edge, the acrobot's goal line
# and its wrap and velocity clips, the flag and the left wall of the mountain cars, the pendulum's speed clip.
START_STATES: dict[type[TensorVectorEnv], dict[int, list[float]]] = {
    CartPoleTensorEnv: {0: [2.3, 1.5, 0.0, 0.0], 1: [-2.3, -1.5, 0.0, 0.0]},
    AcrobotTensorEnv: {0: [2.0, 0.0, 2.0, 0.0], 1: [3.0, 0.2, 0.0, 0.0], 2: [3.1, 3.1, 12.0, 30.0]},
    MountainCarTensorEnv: {0: [0.45, 0.06], 1: [-1.19, -0.05], 2: [0.499, 0.002]},
    ContinuousMountainCarTensorEnv: {0: [0.44, 0.03], 1: [-1.19, -0.05]},
    PendulumTensorEnv: {0: [3.0, 7.9], 1: [-3.1, -8.0], 2: [12.0, 0.0]},
}
# Time limits short enough that every run truncates too.
TIME_LIMITS = {
    CartPoleTensorEnv: 25,
    AcrobotTensorEnv: 30,
    MountainCarTensorEnv: 20,
    ContinuousMountainCarTensorEnv: 20,
    PendulumTensorEnv: 20,
}
STEPS = 120

# The largest state difference each comparison may show (measured maxima over seeds 7, 8 and 9 in the comments).
STATE_ATOL: dict[tuple[type[TensorVectorEnv], torch.dtype], float] = {
    (CartPoleTensorEnv, torch.float64): 1e-12,  # 2.2e-16
    (AcrobotTensorEnv, torch.float64): 1e-12,  # 1.1e-15
    (MountainCarTensorEnv, torch.float64): 1e-12,  # 1.1e-19
    (ContinuousMountainCarTensorEnv, torch.float64): 3e-6,  # 3.7e-7: Gymnasium's state is float32
    (PendulumTensorEnv, torch.float64): 1e-12,  # 0
    (CartPoleTensorEnv, torch.float32): 1e-5,  # 7.0e-7
    (AcrobotTensorEnv, torch.float32): 2e-5,  # 1.3e-6
    (MountainCarTensorEnv, torch.float32): 3e-6,  # 2.6e-7
    (ContinuousMountainCarTensorEnv, torch.float32): 1e-6,  # 6.0e-8
    (PendulumTensorEnv, torch.float32): 1e-4,  # 1.0e-5 (|θ| grows past 12 rad)
}


def _gym_actions(env_class: type[TensorVectorEnv], rng: np.random.Generator) -> npt.NDArray[Any]:
    """``N`` random actions, Box ones beyond the bounds too (the clips and MountainCarContinuous's reward)."""
    if env_class is CartPoleTensorEnv:
        return rng.integers(0, 2, N)
    if env_class in (AcrobotTensorEnv, MountainCarTensorEnv):
        return rng.integers(0, 3, N)
    width = 1.5 if env_class is ContinuousMountainCarTensorEnv else 3.0
    return rng.uniform(-width, width, (N, 1)).astype(np.float32)


def _gym_state(env: gym.Env[Any, Any]) -> npt.NDArray[np.float64]:
    return np.asarray(env.unwrapped.state, dtype=np.float64)  # type: ignore[attr-defined]


def _gym_observation(env: gym.Env[Any, Any]) -> npt.NDArray[np.float32]:
    base: Any = env.unwrapped
    if isinstance(base, gym.envs.classic_control.AcrobotEnv):
        return base._get_ob()  # type: ignore[no-any-return, no-untyped-call]
    if isinstance(base, gym.envs.classic_control.PendulumEnv):
        return base._get_obs()  # type: ignore[no-any-return, no-untyped-call]
    return np.array(base.state, dtype=np.float32)


def _restart(env: gym.Env[Any, Any], state: npt.NDArray[Any]) -> None:
    """Reset a Gymnasium env (its TimeLimit count too) and put it in ``state``."""
    env.reset()
    env.unwrapped.state = np.array(state, dtype=np.float64)  # type: ignore[attr-defined]


def compare_with_gymnasium(
    env_class: type[TensorVectorEnv], dtype: torch.dtype, *, seed: int, atol: float
) -> tuple[float, dict[str, int]]:
    """Run the tensor env and ``N`` Gymnasium envs side by side (NEXT_STEP) and assert that they agree; return the
    largest state difference seen and how many steps terminated, truncated and autoreset."""
    limit = TIME_LIMITS[env_class]
    env = env_class(N, dtype=dtype, max_episode_steps=limit)
    env.reset(seed=seed)
    state = env.state.clone()
    for row, values in START_STATES[env_class].items():
        state[row] = torch.tensor(values, dtype=dtype)
    env.state = state
    gym_envs = [gym.make(env_class.env_id, max_episode_steps=limit) for _ in range(N)]
    for i, gym_env in enumerate(gym_envs):
        gym_env.reset(seed=seed + i)
        gym_env.unwrapped.state = env.state[i].numpy().astype(np.float64)  # type: ignore[attr-defined]
    rng = np.random.default_rng(seed)
    resetting = np.zeros(N, dtype=np.bool_)
    counts = {"terminated": 0, "truncated": 0, "autoreset": 0}
    worst = 0.0
    for step in range(STEPS):
        actions = _gym_actions(env_class, rng)
        observations, rewards, terminated, truncated, info = env.step(actions)
        assert info == {}
        states = env.state.numpy()
        for i, gym_env in enumerate(gym_envs):
            where = f"{env_class.env_id} {dtype} step {step}, env {i}"
            if resetting[i]:  # NEXT_STEP: the tensor env reset row i and ignored its action
                assert (float(rewards[i]), bool(terminated[i]), bool(truncated[i])) == (0.0, False, False), where
                assert int(env.elapsed_steps[i]) == 0, where
                _restart(gym_env, states[i])
                np.testing.assert_allclose(
                    observations[i].numpy(), _gym_observation(gym_env), rtol=FLOAT32_ULP, atol=0, err_msg=where
                )
                resetting[i] = False
                counts["autoreset"] += 1
                continue
            action = actions[i] if actions.ndim == 2 else int(actions[i])
            gym_obs, gym_reward, gym_terminated, gym_truncated, _ = gym_env.step(action)
            difference = float(np.abs(states[i] - _gym_state(gym_env)).max())
            worst = max(worst, difference)
            assert difference <= atol, f"{where}: state {states[i]} vs Gymnasium's {_gym_state(gym_env)}"
            np.testing.assert_allclose(observations[i].numpy(), gym_obs, rtol=FLOAT32_ULP, atol=atol, err_msg=where)
            np.testing.assert_allclose(
                float(rewards[i]), float(gym_reward), rtol=FLOAT32_ULP, atol=10 * atol, err_msg=where
            )
            assert (bool(terminated[i]), bool(truncated[i])) == (gym_terminated, gym_truncated), where
            assert int(env.elapsed_steps[i]) == gym_env._elapsed_steps, where  # type: ignore[attr-defined]
            counts["terminated"] += int(gym_terminated)
            counts["truncated"] += int(gym_truncated)
            resetting[i] = gym_terminated or gym_truncated
    return worst, counts


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("env_class", ENV_CLASSES, ids=lambda env_class: env_class.env_id)
def test_dynamics_equal_gymnasiums(env_class: type[TensorVectorEnv], dtype: torch.dtype) -> None:
    _worst, counts = compare_with_gymnasium(env_class, dtype, seed=7, atol=STATE_ATOL[env_class, dtype])
    assert counts["truncated"] > 0
    assert counts["autoreset"] > 0
    if env_class is not PendulumTensorEnv:  # Pendulum never terminates
        assert counts["terminated"] > 0


# -- spaces, types, devices --------------------------------------------------------------------------------------


@pytest.mark.parametrize("env_class", ENV_CLASSES, ids=lambda env_class: env_class.env_id)
def test_spaces_and_spec_equal_gymnasiums(env_class: type[TensorVectorEnv]) -> None:
    env = env_class(3)
    gym_env = gym.make(env_class.env_id)
    assert env.single_observation_space == gym_env.observation_space
    assert env.single_action_space == gym_env.action_space
    assert env.observation_space == batch_space(gym_env.observation_space, 3)
    assert env.action_space == batch_space(gym_env.action_space, 3)
    assert env.spec is not None
    assert gym_env.spec is not None
    assert env.spec.id == env_class.env_id
    assert env.max_episode_steps == env.spec.max_episode_steps == gym_env.spec.max_episode_steps
    assert env.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    assert repr(env) == f"{env_class.__name__}({env_class.env_id}, num_envs=3)"


OBSERVATION_SIZES = {
    CartPoleTensorEnv: 4,
    AcrobotTensorEnv: 6,
    MountainCarTensorEnv: 2,
    ContinuousMountainCarTensorEnv: 2,
    PendulumTensorEnv: 3,
}


@pytest.mark.parametrize("mode", list(AutoresetMode), ids=lambda mode: mode.value)
@pytest.mark.parametrize("env_class", ENV_CLASSES, ids=lambda env_class: env_class.env_id)
def test_results_have_the_documented_types(env_class: type[TensorVectorEnv], mode: AutoresetMode) -> None:
    env = env_class(5, dtype=torch.float64, autoreset_mode=mode.value, max_episode_steps=2)
    size = OBSERVATION_SIZES[env_class]
    observations, info = env.reset(seed=1)
    assert (observations.dtype, observations.shape, observations.device.type, info) == (
        torch.float32,
        (5, size),
        "cpu",
        {},
    )
    assert env.observation_space.contains(observations.numpy())
    assert (env.state.dtype, env.state.shape) == (torch.float64, (5, env.state_size))
    assert (env.elapsed_steps.dtype, env.elapsed_steps.shape) == (torch.int64, (5,))
    for step in range(3):  # past the time limit
        actions: Tensor | npt.NDArray[Any] = env.action_space.sample()
        if step > 0:  # numpy arrays and tensors both, any integer dtype
            tensor = torch.as_tensor(actions)
            actions = tensor if tensor.is_floating_point() else tensor.to([torch.int32, torch.uint8][step - 1])
        observations, rewards, terminated, truncated, info = env.step(actions)
        assert (observations.dtype, observations.shape) == (torch.float32, (5, size))
        assert (rewards.dtype, rewards.shape) == (torch.float32, (5,))
        assert (terminated.dtype, terminated.shape, truncated.dtype, truncated.shape) == (
            torch.bool,
            (5,),
            torch.bool,
            (5,),
        )
        assert {tensor.device.type for tensor in (observations, rewards, terminated, truncated)} == {"cpu"}
        if mode is AutoresetMode.SAME_STEP:
            assert set(info) == {"final_obs", "_final_obs"}
            assert (info["final_obs"].dtype, info["final_obs"].shape) == (torch.float32, (5, size))
            assert (info["_final_obs"].dtype, info["_final_obs"].shape) == (torch.bool, (5,))
        else:
            assert info == {}
    assert observations.data_ptr() != env.state.data_ptr()


def test_observations_do_not_alias_the_state() -> None:
    env = CartPoleTensorEnv(2, dtype=torch.float32)
    observations, _ = env.reset(seed=0)
    observations += 1.0
    assert (env.state.abs() < 0.05).all()
    observations, *_ = env.step(np.zeros(2, np.int64))
    before = env.state.clone()
    observations.zero_()
    assert torch.equal(env.state, before)


def test_the_state_can_be_written() -> None:
    env = PendulumTensorEnv(2, dtype=torch.float64)
    env.reset(seed=0)
    env.state = np.array([[0.0, 0.0], [math.pi, 1.0]])
    assert env.state.dtype == torch.float64
    observations, *_ = env.step(np.zeros((2, 1), np.float32))
    assert observations[0].tolist() == [1.0, 0.0, 0.0]  # upright and still: stays
    with pytest.raises(InputError, match=r"PendulumTensorEnv\.state: the new state is a float64 tensor of shape"):
        env.state = torch.zeros(2, 3, dtype=torch.float64)


# -- reset distributions and seeding -----------------------------------------------------------------------------

# Gymnasium's reset ranges of the state, per variable (``None``: fixed at 0).
RESET_RANGES: dict[type[TensorVectorEnv], list[tuple[float, float] | None]] = {
    CartPoleTensorEnv: [(-0.05, 0.05)] * 4,
    AcrobotTensorEnv: [(-0.1, 0.1)] * 4,
    MountainCarTensorEnv: [(-0.6, -0.4), None],
    ContinuousMountainCarTensorEnv: [(-0.6, -0.4), None],
    PendulumTensorEnv: [(-math.pi, math.pi), (-1.0, 1.0)],
}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("env_class", ENV_CLASSES, ids=lambda env_class: env_class.env_id)
def test_resets_draw_from_gymnasiums_distribution(env_class: type[TensorVectorEnv], dtype: torch.dtype) -> None:
    env = env_class(2000, dtype=dtype)
    first, _ = env.reset(seed=3)
    state = env.state.double()
    for column, bounds in enumerate(RESET_RANGES[env_class]):
        values = state[:, column]
        if bounds is None:
            assert (values == 0).all()
            continue
        low, high = bounds
        width = high - low
        assert low <= values.min() < low + 0.01 * width
        assert high - 0.01 * width < values.max() <= high
        assert abs(float(values.mean()) - (low + high) / 2) < 0.05 * width  # uniform: the mean is the middle
    if env_class is AcrobotTensorEnv:  # Gymnasium rounds the reset state to float32
        assert torch.equal(state, state.float().double())
    again, _ = env.reset(seed=3)
    assert torch.equal(first, again)
    assert not torch.equal(env.reset(seed=4)[0], first)
    assert not torch.equal(env.reset()[0], env.reset()[0])  # without a seed the generator continues


def test_reset_options_are_gymnasiums() -> None:
    cartpole = CartPoleTensorEnv(500)
    cartpole.reset(seed=0, options={"low": 0.2, "high": 0.3})
    assert ((cartpole.state >= 0.2) & (cartpole.state <= 0.3)).all()
    with pytest.raises(ValueError, match="Lower bound"):
        cartpole.reset(options={"low": 0.3, "high": 0.2})
    pendulum = PendulumTensorEnv(500)
    pendulum.reset(seed=0, options={"x_init": 0.5, "y_init": 0.0})
    assert (pendulum.state[:, 0].abs() <= 0.5).all()
    assert (pendulum.state[:, 1] == 0).all()


def test_the_same_seed_and_actions_repeat_exactly() -> None:
    runs = []
    for _ in range(2):
        env = AcrobotTensorEnv(4, max_episode_steps=5)
        observations = [env.reset(seed=11)[0]]
        for step in range(20):
            observations.append(env.step(torch.full((4,), step % 3))[0])
        runs.append(torch.stack(observations))
    assert torch.equal(runs[0], runs[1])


# -- autoreset modes ---------------------------------------------------------------------------------------------


def _cartpole_actions(steps: int, seed: int = 0) -> list[Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 2, (N,), generator=generator) for _ in range(steps)]


@pytest.mark.parametrize("env_class", [CartPoleTensorEnv, PendulumTensorEnv], ids=["CartPole", "Pendulum"])
def test_next_step_resets_a_done_row_in_the_following_step_and_ignores_its_action(
    env_class: type[TensorVectorEnv],
) -> None:
    envs = [env_class(N, max_episode_steps=8) for _ in range(2)]
    for env in envs:
        env.reset(seed=5)
    rng = np.random.default_rng(0)
    done = torch.zeros(N, dtype=torch.bool)
    resets = 0
    for _ in range(40):
        actions = torch.as_tensor(_gym_actions(env_class, rng))
        other = actions.clone()
        other[done] = torch.nan if other.is_floating_point() else 1 - other[done]  # what the reset step ignores
        first, second = envs[0].step(actions), envs[1].step(other)
        for got, expected in zip(first[:4], second[:4], strict=True):
            assert torch.equal(got, expected)
        observations, rewards, terminated, truncated, _ = first
        if done.any():
            resets += 1
            assert (rewards[done] == 0).all()
            assert not terminated[done].any()
            assert not truncated[done].any()
            assert (envs[0].elapsed_steps[done] == 0).all()
            assert torch.isfinite(observations[done]).all()
        done = terminated | truncated
    assert resets > 0


@pytest.mark.parametrize("lazy_draws", [True, False], ids=["cpu-draws", "gpu-draws"])
@pytest.mark.parametrize("env_class", [CartPoleTensorEnv, AcrobotTensorEnv], ids=["CartPole", "Acrobot"])
def test_same_step_equals_disabled_with_the_done_rows_reset_after_each_step(
    env_class: type[TensorVectorEnv], lazy_draws: bool
) -> None:
    same = env_class(N, autoreset_mode=AutoresetMode.SAME_STEP, max_episode_steps=12)
    disabled = env_class(N, autoreset_mode=AutoresetMode.DISABLED, max_episode_steps=12)
    for env in (same, disabled):
        env._lazy_draws = lazy_draws  # False: the sync-free path a GPU takes
    assert torch.equal(same.reset(seed=9)[0], disabled.reset(seed=9)[0])
    finished = 0
    for actions in _cartpole_actions(60):
        actions = actions if env_class is CartPoleTensorEnv else actions + 1
        observations, rewards, terminated, truncated, info = same.step(actions)
        final, disabled_rewards, disabled_terminated, disabled_truncated, disabled_info = disabled.step(actions)
        done = terminated | truncated
        assert disabled_info == {}
        assert torch.equal(rewards, disabled_rewards)
        assert torch.equal(terminated, disabled_terminated)
        assert torch.equal(truncated, disabled_truncated)
        assert torch.equal(info["_final_obs"], done)
        assert torch.equal(info["final_obs"], torch.where(done[:, None], final, 0.0))
        if done.any():
            finished += int(done.sum())
            reset_observations, reset_info = disabled.reset(options={"reset_mask": done.numpy()})
            assert reset_info == {}
            assert torch.equal(reset_observations[~done], final[~done])
            final = reset_observations
        assert torch.equal(observations, final)
        assert torch.equal(same.elapsed_steps, disabled.elapsed_steps)
    assert finished > 0


def test_next_step_and_same_step_agree_until_the_first_reset() -> None:
    next_step = CartPoleTensorEnv(N)
    same_step = CartPoleTensorEnv(N, autoreset_mode="SameStep")
    assert torch.equal(next_step.reset(seed=2)[0], same_step.reset(seed=2)[0])
    for actions in _cartpole_actions(100, seed=1):
        observations, rewards, terminated, truncated, _ = next_step.step(actions)
        same_observations, same_rewards, same_terminated, same_truncated, info = same_step.step(actions)
        assert torch.equal(rewards, same_rewards)
        assert torch.equal(terminated, same_terminated)
        assert torch.equal(truncated, same_truncated)
        done = terminated | truncated
        assert torch.equal(observations[~done], same_observations[~done])
        if done.any():
            assert torch.equal(observations[done], info["final_obs"][done])
            assert (same_observations[done].abs() < 0.05).all()  # reset already
            break
    else:
        pytest.fail("no episode ended")


@pytest.mark.parametrize("lazy_draws", [True, False], ids=["cpu-draws", "gpu-draws"])
def test_disabled_resets_only_the_masked_rows(lazy_draws: bool) -> None:
    env = MountainCarTensorEnv(4, autoreset_mode=AutoresetMode.DISABLED, max_episode_steps=3, dtype=torch.float64)
    env._lazy_draws = lazy_draws
    with pytest.raises(ResetNeeded, match="needs a full reset"):
        env.reset(options={"reset_mask": np.ones(4, np.bool_)})
    env.reset(seed=0)
    for _ in range(3):
        _, _, _, truncated, _ = env.step(torch.full((4,), 2))
    assert truncated.all()
    _, _, _, truncated, _ = env.step(torch.full((4,), 2))  # not reset: carries on, still past the limit
    assert truncated.all()
    assert env.elapsed_steps.tolist() == [4] * 4
    before = env.state.clone()
    mask = torch.tensor([True, False, True, False])
    options = {"reset_mask": mask}
    observations, _ = env.reset(options=options)
    assert options == {"reset_mask": mask}  # not changed
    assert torch.equal(env.state[~mask], before[~mask])
    assert torch.equal(observations, env.state.float())
    assert env.elapsed_steps.tolist() == [0, 4, 0, 4]
    assert ((env.state[mask, 0] >= -0.6) & (env.state[mask, 0] < -0.4)).all()
    assert (env.state[mask, 1] == 0).all()
    first = env.state.clone()
    env.reset(options={"reset_mask": mask.numpy()})  # again before a step: new initial states
    assert not torch.equal(env.state[mask], first[mask])
    assert torch.equal(env.state[~mask], first[~mask])
    env.reset(options={"reset_mask": np.zeros(4, np.bool_)})  # nothing to reset
    assert env.elapsed_steps.tolist() == [0, 4, 0, 4]
    for bad in (np.ones(3, np.bool_), np.ones(4, np.int64), [True] * 4, torch.ones(4)):
        with pytest.raises(InputError, match=r"options\['reset_mask'\] is .*; expected a bool numpy array or tensor"):
            env.reset(options={"reset_mask": bad})


def test_a_masked_reset_clears_a_pending_autoreset() -> None:
    env = CartPoleTensorEnv(2, max_episode_steps=1)
    env.reset(seed=0)
    env.step(torch.zeros(2, dtype=torch.int64))  # both truncated: NEXT_STEP will reset them
    env.reset(options={"reset_mask": torch.tensor([True, False])})
    _, rewards, _, truncated, _ = env.step(torch.zeros(2, dtype=torch.int64))
    assert rewards.tolist() == [1.0, 0.0]
    assert truncated.tolist() == [True, False]


# -- errors ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("env_class", ENV_CLASSES, ids=lambda env_class: env_class.env_id)
def test_stepping_before_reset_raises_reset_needed(env_class: type[TensorVectorEnv]) -> None:
    env = env_class(2)
    with pytest.raises(ResetNeeded, match=rf"{env_class.__name__}\.step: called before reset\(\)"):
        env.step(env.action_space.sample())
    env.close()
    assert env.closed


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_envs": 0}, "CartPoleTensorEnv: num_envs is 0; expected an int >= 1"),
        ({"num_envs": 2.0}, "CartPoleTensorEnv: num_envs is 2.0; expected an int >= 1"),
        ({"num_envs": True}, r"CartPoleTensorEnv: num_envs is True \(a bool\); expected an int >= 1"),
        (
            {"num_envs": 2, "dtype": torch.float16},
            r"CartPoleTensorEnv: dtype is torch.float16 \(a dtype\); expected torch.float32 or torch.float64",
        ),
        (
            {"num_envs": 2, "autoreset_mode": "next_step"},
            r"CartPoleTensorEnv: autoreset_mode is 'next_step' \(a str\); expected one of AutoresetMode.NEXT_STEP",
        ),
        ({"num_envs": 2, "max_episode_steps": 0}, "CartPoleTensorEnv: max_episode_steps is 0; expected an int >= 1"),
        ({"num_envs": 2, "device": "tpu"}, "CartPoleTensorEnv: device is 'tpu'; expected a device torch knows"),
    ],
)
def test_constructor_arguments_are_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(HyperparameterError, match=message):
        CartPoleTensorEnv(**kwargs)


def test_bad_actions_and_seeds_are_rejected() -> None:
    cartpole = CartPoleTensorEnv(3)
    cartpole.reset(seed=0)
    with pytest.raises(
        InputError, match=r"CartPoleTensorEnv\.step: actions is an int64 tensor of shape \(3, 1\); expected an integer"
    ):
        cartpole.step(torch.zeros(3, 1, dtype=torch.int64))
    with pytest.raises(InputError, match=r"actions is a float32 array of shape \(3,\); expected an integer"):
        cartpole.step(np.zeros(3, np.float32))
    pendulum = PendulumTensorEnv(3)
    pendulum.reset(seed=0)
    with pytest.raises(InputError, match=r"actions is a float32 tensor of shape \(3,\); expected a real tensor"):
        pendulum.step(torch.zeros(3))
    with pytest.raises(HyperparameterError, match=r"PendulumTensorEnv\.reset: seed is -1; expected an int in"):
        pendulum.reset(seed=-1)


def test_make_tensor_env() -> None:
    for env_id, env_class in TENSOR_ENVS.items():
        env = make_tensor_env(env_id, 2, dtype=torch.float64, autoreset_mode="Disabled")
        assert type(env) is env_class
        assert (env.num_envs, env.dtype, env.autoreset_mode) == (2, torch.float64, AutoresetMode.DISABLED)
        assert env.max_episode_steps == gym.spec(env_id).max_episode_steps
    with pytest.raises(
        ConfigError, match=r"env_id is 'CartPole-v0' \(a str\); expected one of .*'Pendulum-v1'"
    ) as info:
        make_tensor_env("CartPole-v0", 2)
    assert info.value.field == "env_id"


def test_the_spec_remakes_the_env_with_make_vec() -> None:
    env = PendulumTensorEnv(2, dtype=torch.float64, autoreset_mode="SameStep", max_episode_steps=7)
    assert env.spec is not None
    again = gym.make_vec(env.spec, num_envs=3, vectorization_mode="vector_entry_point")
    assert isinstance(again, PendulumTensorEnv)
    assert (again.num_envs, again.dtype, again.autoreset_mode, again.max_episode_steps) == (
        3,
        torch.float64,
        AutoresetMode.SAME_STEP,
        7,
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("env_class", ENV_CLASSES, ids=lambda env_class: env_class.env_id)
def test_cuda_steps_as_the_cpu_does(env_class: type[TensorVectorEnv]) -> None:
    envs = [env_class(64, device=device, dtype=torch.float64, max_episode_steps=10) for device in ("cpu", "cuda")]
    envs[0].reset(seed=0)
    envs[1].reset(seed=0)
    assert envs[1].state.is_cuda
    space = envs[0].single_action_space
    space.seed(0)
    for _ in range(30):
        envs[1].state = envs[0].state  # the random streams differ between devices; the dynamics do not
        envs[1].elapsed_steps = envs[0].elapsed_steps.cuda()
        envs[1]._autoreset = envs[0]._autoreset.cuda()
        actions = np.stack([space.sample() for _ in range(64)])
        on_cpu, on_cuda = envs[0].step(actions), envs[1].step(actions)
        resetting = envs[0].elapsed_steps == 0
        for got, expected in zip(on_cuda[:4], on_cpu[:4], strict=True):
            assert got.is_cuda
            torch.testing.assert_close(got.cpu()[~resetting], expected[~resetting], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("env_class", [AcrobotTensorEnv, MountainCarTensorEnv], ids=["Acrobot", "MountainCar"])
def test_unsigned_actions_step_as_signed_ones(env_class: type[TensorVectorEnv]) -> None:
    envs = [env_class(3, dtype=torch.float64) for _ in range(2)]
    for env in envs:
        env.reset(seed=0)
    actions = torch.tensor([0, 1, 2])
    signed, unsigned = envs[0].step(actions), envs[1].step(actions.to(torch.uint8))
    for got, expected in zip(unsigned[:4], signed[:4], strict=True):
        assert torch.equal(got, expected)
