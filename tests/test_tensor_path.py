"""The tensor path end to end: the contract checked on tensors (CheckedTensorVectorEnv), the tensor rollout
collector, and batched PPO agents on tensor environments.

Every environment here is one of typedrl's real tensor environments; a misbehaving one is a real environment behind
:class:`Tap`, a small wrapper that records what went in and out and injects one fault into one call's result.
"""

import math
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode, VectorWrapper
from torch import Tensor

from typedrl.algos.batched import BatchedPPO, StackedPolicy
from typedrl.collect import PolicyStep
from typedrl.collect_tensor import TensorRolloutCollector
from typedrl.config import PPOConfig
from typedrl.envs.checked_tensor import CheckedTensorVectorEnv
from typedrl.envs.classic import (
    TENSOR_ENVS,
    CartPoleTensorEnv,
    PendulumTensorEnv,
    TensorVectorEnv,
    make_tensor_env,
)
from typedrl.errors import ConfigError, ContractViolation, RolloutError, TypedRLError
from typedrl.records import Rollout

StepResult = tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]]
Fault = Callable[[StepResult], Any]
MODES = list(AutoresetMode)


class Tap(VectorWrapper):
    """A real tensor env that records every reset and step (the actions it was sent, the results it returned) and
    replaces the result of step number ``at`` by ``fault(result)``, or of every reset by ``reset_fault(result)``."""

    def __init__(
        self,
        env: TensorVectorEnv,
        *,
        at: int = 0,
        fault: Fault | None = None,
        reset_fault: Callable[[tuple[Tensor, dict[str, Any]]], Any] | None = None,
    ) -> None:
        super().__init__(env)
        self.inner = env
        self.device = env.device
        self.at, self.fault, self.reset_fault = at, fault, reset_fault
        self.steps = 0
        self.sent: list[Tensor] = []
        self.results: list[Any] = []
        self.resets: list[tuple[int | None, Any]] = []

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        result: Any = self.env.reset(seed=seed, options=options)
        if self.reset_fault is not None:
            result = self.reset_fault(result)
        self.resets.append((seed, result))
        return result

    def step(self, actions: Tensor) -> Any:
        self.steps += 1
        self.sent.append(actions.clone())
        result: Any = self.env.step(actions)
        if self.fault is not None and self.steps == self.at:
            result = self.fault(result)
        self.results.append(result)
        return result


def _random_actions(env: gym.vector.VectorEnv[Any, Any, Any]) -> Tensor:
    return torch.as_tensor(env.action_space.sample())


# -- CheckedTensorVectorEnv: a clean env passes, unchanged --------------------------------------------------------


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.name)
@pytest.mark.parametrize("env_id", list(TENSOR_ENVS))
def test_a_clean_tensor_env_passes_and_its_results_come_back_untouched(env_id: str, mode: AutoresetMode) -> None:
    inner = TENSOR_ENVS[env_id](4, autoreset_mode=mode, max_episode_steps=40)
    tap = Tap(inner)
    env = CheckedTensorVectorEnv(tap, env_id=env_id)
    assert env.env_id == env_id
    observations, info = env.reset(seed=0)
    assert observations is tap.resets[-1][1][0]
    assert info is tap.resets[-1][1][1]
    env.action_space.seed(0)
    episodes = 0
    for step in range(1, 151):
        result = env.step(_random_actions(env))
        inner_result = tap.results[-1]
        assert all(mine is theirs for mine, theirs in zip(result, inner_result, strict=True))
        assert env.steps == tap.steps == step
        done = result[2] | result[3]
        episodes += int(done.sum())
        if mode is AutoresetMode.DISABLED and bool(done.any()):
            observations, _ = env.reset(options={"reset_mask": done})
            assert observations is tap.resets[-1][1][0]
    assert episodes >= 4  # time limits (40 steps) and terminations were crossed


# -- CheckedTensorVectorEnv: each fault is one ContractViolation, named and located -------------------------------


def _drive(
    env_id: str = "CartPole-v1",
    *,
    at: int = 3,
    fault: Fault | None = None,
    reset_fault: Callable[[tuple[Tensor, dict[str, Any]]], Any] | None = None,
    action: Tensor | None = None,
    mode: AutoresetMode = AutoresetMode.SAME_STEP,
    prepare: Callable[[TensorVectorEnv], None] | None = None,
    **options: Any,
) -> tuple[ContractViolation, Tap]:
    """Reset (seed 0) and step with seeded random actions, ``action`` at step ``at``, until the one violation;
    ``prepare`` runs on the inner env just before step ``at``."""
    tap = Tap(make_tensor_env(env_id, 4, autoreset_mode=mode), at=at, fault=fault, reset_fault=reset_fault)
    env = CheckedTensorVectorEnv(tap, env_id=env_id, **options)
    env.action_space.seed(0)
    found: ContractViolation | None = None
    try:
        env.reset(seed=0)
        for step in range(1, at + 1):
            if step == at and prepare is not None:
                prepare(tap.inner)
            env.step(action if action is not None and step == at else _random_actions(env))
    except ContractViolation as violation:
        found = violation
    if found is None:
        pytest.fail(f"no violation in {at} steps")
    assert isinstance(found, ValueError)
    assert isinstance(found, TypedRLError)
    return found, tap


def _replace(index: int, make: Callable[[Any], Any]) -> Fault:
    """A fault that replaces item ``index`` of a step's result by ``make(item)``."""

    def fault(result: StepResult) -> tuple[Any, ...]:
        items: list[Any] = list(result)
        items[index] = make(items[index])
        return tuple(items)

    return fault


def _with(index: tuple[int, ...], value: float) -> Callable[[Tensor], Tensor]:
    def make(tensor: Tensor) -> Tensor:
        copy = tensor.clone()
        copy[index] = value
        return copy

    return make


STEP_FAULTS = {
    "nan-observation": (
        _replace(0, _with((2, 1), math.nan)),
        "CartPole-v1 step 3, env 2: observation[1] is nan; expected a finite float32",
    ),
    "nan-observation-in-a-bounded-element": (
        _replace(0, _with((1, 2), math.nan)),
        "CartPole-v1 step 3, env 1: observation[2] is nan; expected a finite float32 in"
        " [-0.41887903213500977, 0.41887903213500977]",
    ),
    "observation-out-of-bounds": (
        _replace(0, _with((3, 0), 5.0)),
        "CartPole-v1 step 3, env 3: observation[0] is 5.0; expected a finite float32 in"
        " [-4.800000190734863, 4.800000190734863]",
    ),
    "observation-float64": (
        _replace(0, lambda observations: observations.double()),
        "CartPole-v1 step 3: observation is a float64 array of shape (4, 4); expected a float32 array of shape (4, 4)",
    ),
    "observation-wrong-shape": (
        _replace(0, lambda observations: observations[:, :3]),
        "CartPole-v1 step 3: observation is a float32 array of shape (4, 3); expected a float32 array of shape (4, 4)",
    ),
    "reward-inf": (
        _replace(1, _with((3,), math.inf)),
        "CartPole-v1 step 3, env 3: reward is inf; expected a finite real number",
    ),
    "reward-nan": (
        _replace(1, _with((0,), math.nan)),
        "CartPole-v1 step 3, env 0: reward is nan; expected a finite real number",
    ),
    "terminated-int": (
        _replace(2, lambda flags: flags.to(torch.int64)),
        "CartPole-v1 step 3: terminated is an int64 array of shape (4,); expected a bool array of shape (4,)",
    ),
    "terminated-wrong-shape": (
        _replace(2, lambda flags: flags[:3]),
        "CartPole-v1 step 3: terminated is a bool array of shape (3,); expected a bool array of shape (4,)",
    ),
    "truncated-on-another-device": (
        _replace(3, lambda flags: flags.to("meta")),
        "CartPole-v1 step 3: truncated is a tensor on meta; expected a tensor on cpu",
    ),
    "final-obs-mask-marks-a-row-not-done": (
        _replace(4, lambda info: {**info, "_final_obs": _with((2,), True)(info["_final_obs"])}),
        "CartPole-v1 step 3, env 2: info['_final_obs'] is [False, False, True, False];"
        " expected terminated | truncated, bool [N]",
    ),
    "final-obs-mask-of-ints": (
        _replace(4, lambda info: {**info, "_final_obs": info["_final_obs"].to(torch.int64)}),
        "CartPole-v1 step 3: info['_final_obs'] is [0, 0, 0, 0]; expected terminated | truncated, bool [N]",
    ),
}


@pytest.mark.parametrize("name", list(STEP_FAULTS))
def test_each_step_fault_is_one_violation_with_the_exact_message(name: str) -> None:
    fault, message = STEP_FAULTS[name]
    violation, tap = _drive(fault=fault)
    assert str(violation) == message
    assert (violation.env_id, violation.call, violation.step) == ("CartPole-v1", "step", 3)
    assert message.startswith(
        f"CartPole-v1 step 3{'' if violation.env_index is None else f', env {violation.env_index}'}: "
    )
    assert message.endswith(f"{violation.field} is {violation.got}; expected {violation.expected}")
    assert tap.steps == 3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a second device (CUDA)")
def test_an_observation_on_another_device_is_refused() -> None:
    violation, _ = _drive(fault=_replace(0, lambda observations: observations.to("cuda")))
    assert str(violation) == "CartPole-v1 step 3: observation is a tensor on cuda:0; expected a tensor on cpu"


@pytest.mark.parametrize(
    ("env_id", "action", "message"),
    [
        (
            "CartPole-v1",
            torch.tensor([0, 1, 2, 0]),
            "CartPole-v1 step 3, env 2: action is 2; expected an action in Discrete(2)",
        ),
        (
            "CartPole-v1",
            torch.tensor([0, -1, 1, 0]),
            "CartPole-v1 step 3, env 1: action is -1; expected an action in Discrete(2)",
        ),
        (
            "CartPole-v1",
            torch.tensor([0.0, 1.0, 1.0, 0.0]),
            "CartPole-v1 step 3: action is a float32 array of shape (4,); expected an int64 array of shape (4,)",
        ),
        (
            "CartPole-v1",
            torch.tensor([True, False, True, False]),
            "CartPole-v1 step 3: action is torch.bool; expected an integer dtype",
        ),
        (
            "CartPole-v1",
            np.array([0, 1, 0, 2]),  # numpy actions are moved to the device, then checked as tensors are
            "CartPole-v1 step 3, env 3: action is 2; expected an action in Discrete(2)",
        ),
        (
            "Pendulum-v1",
            torch.tensor([[0.0], [3.0], [0.0], [1.0]]),
            "Pendulum-v1 step 3, env 1: action[0] is 3.0; expected a finite float32 in [-2.0, 2.0]",
        ),
        (
            "Pendulum-v1",
            torch.tensor([[0.0], [0.0], [math.nan], [1.0]]),
            "Pendulum-v1 step 3, env 2: action[0] is nan; expected a finite float32 in [-2.0, 2.0]",
        ),
    ],
    ids=["discrete-2", "discrete-negative", "float-for-discrete", "bool-for-discrete", "numpy", "box-3", "box-nan"],
)
def test_a_bad_action_is_refused_before_the_env_steps(env_id: str, action: Any, message: str) -> None:
    violation, tap = _drive(env_id, action=action)
    assert str(violation) == message
    assert (violation.call, violation.step) == ("action", 3)
    assert tap.steps == 2  # the inner env never saw step 3
    assert len(tap.sent) == 2


def test_valid_numpy_actions_are_taken() -> None:
    env = CheckedTensorVectorEnv(make_tensor_env("CartPole-v1", 4), env_id="CartPole-v1")
    env.reset(seed=0)
    observations, *_ = env.step(np.array([0, 1, 1, 0]))
    assert isinstance(observations, torch.Tensor)
    assert env.steps == 1


def test_a_numpy_observation_from_reset_is_refused() -> None:
    violation, tap = _drive(reset_fault=lambda result: (result[0].numpy(), result[1]))
    assert str(violation) == (
        "CartPole-v1 reset: observation is a float32 array of shape (4, 4); expected a torch.Tensor"
    )
    assert (violation.call, violation.step, violation.env_index) == ("reset", 0, None)
    assert tap.steps == 0


def test_a_reset_after_steps_is_placed_after_them() -> None:
    tap = Tap(make_tensor_env("CartPole-v1", 4, autoreset_mode=AutoresetMode.DISABLED))
    env = CheckedTensorVectorEnv(tap, env_id="CartPole-v1")
    env.reset(seed=0)
    env.step(torch.tensor([0, 1, 0, 1]))
    env.step(torch.tensor([0, 1, 0, 1]))
    tap.reset_fault = lambda result: (_with((3, 2), math.inf)(result[0]), result[1])
    with pytest.raises(ContractViolation) as caught:
        env.reset(options={"reset_mask": torch.tensor([False, False, False, True])})
    assert str(caught.value) == (
        "CartPole-v1 reset after step 2, env 3: observation[2] is inf; expected a finite float32 in"
        " [-0.41887903213500977, 0.41887903213500977]"
    )


def _tip_over(row: int) -> Callable[[TensorVectorEnv], None]:
    """Put sub-environment ``row`` of a CartPole where its next step terminates (the pole past 12°)."""

    def prepare(env: TensorVectorEnv) -> None:
        state = env.state.clone()
        state[row] = torch.tensor([0.0, 0.0, 0.2, 2.0])
        env.state = state

    return prepare


def test_the_tipped_cartpole_really_terminates_and_passes() -> None:
    tap = Tap(make_tensor_env("CartPole-v1", 4, autoreset_mode=AutoresetMode.SAME_STEP))
    env = CheckedTensorVectorEnv(tap, env_id="CartPole-v1")
    env.reset(seed=0)
    _tip_over(1)(tap.inner)
    _, _, terminated, _, info = env.step(torch.tensor([0, 1, 0, 1]))
    assert terminated.tolist() == [False, True, False, False]
    assert info["_final_obs"].tolist() == [False, True, False, False]
    assert float(info["final_obs"][1, 2]) > 0.2


def test_a_nan_in_a_done_rows_final_observation_is_named() -> None:
    violation, _ = _drive(
        prepare=_tip_over(1),
        fault=_replace(4, lambda info: {**info, "final_obs": _with((1, 3), math.nan)(info["final_obs"])}),
    )
    assert str(violation) == "CartPole-v1 step 3, env 1: final_obs[3] is nan; expected a finite float32"


def test_a_nan_in_a_final_observation_row_that_is_not_done_is_ignored() -> None:
    tap = Tap(
        make_tensor_env("CartPole-v1", 4, autoreset_mode=AutoresetMode.SAME_STEP),
        at=1,
        fault=_replace(4, lambda info: {**info, "final_obs": _with((2, 0), math.nan)(info["final_obs"])}),
    )
    env = CheckedTensorVectorEnv(tap, env_id="CartPole-v1")
    env.reset(seed=0)
    env.step(torch.tensor([0, 1, 0, 1]))  # no violation: row 2 is not done, its final observation is not one


def test_a_done_row_that_the_final_obs_mask_leaves_out_is_named() -> None:
    violation, _ = _drive(
        prepare=_tip_over(1),
        fault=_replace(4, lambda info: {**info, "_final_obs": _with((1,), False)(info["_final_obs"])}),
    )
    assert str(violation) == (
        "CartPole-v1 step 3, env 1: info['_final_obs'] is [False, False, False, False];"
        " expected terminated | truncated, bool [N]"
    )


def test_a_done_row_without_final_observations_is_named() -> None:
    violation, _ = _drive(prepare=_tip_over(1), fault=_replace(4, lambda info: {}))
    assert str(violation) == (
        "CartPole-v1 step 3, env 1: info['final_obs'] is missing; expected a final observation for every done"
        " sub-environment (autoreset mode SAME_STEP)"
    )


def test_a_reward_outside_the_contracts_reward_range_is_named() -> None:
    violation, _ = _drive(at=1, reward_range=(0.0, 0.5))
    assert str(violation) == "CartPole-v1 step 1, env 0: reward is 1.0; expected a finite real number in [0.0, 0.5]"


def test_an_observation_outside_the_contracts_observation_bounds_is_named() -> None:
    bounds = (np.array([-4.8, -0.01, -0.42, -np.inf]), np.array([4.8, 0.01, 0.42, np.inf]))
    violation, _ = _drive(observation_bounds=bounds)
    assert str(violation) == (
        "CartPole-v1 reset, env 0: observation[1] is 0.026822183; expected a finite float32 in"
        " [-0.009999999776482582, 0.009999999776482582]"
    )


def test_options_that_relax_the_contract_relax_the_tensor_check_too() -> None:
    tap = Tap(make_tensor_env("CartPole-v1", 4, autoreset_mode=AutoresetMode.SAME_STEP), at=2)
    tap.fault = _replace(1, _with((1,), math.inf))
    env = CheckedTensorVectorEnv(tap, env_id="CartPole-v1", finite_rewards=False)
    env.reset(seed=0)
    env.step(torch.tensor([0, 1, 0, 1]))
    rewards = env.step(torch.tensor([0, 1, 0, 1]))[1]  # an infinite reward is allowed
    assert rewards.tolist() == [1.0, math.inf, 1.0, 1.0]
    tap.at, tap.fault = 3, _replace(1, _with((2,), math.nan))
    with pytest.raises(ContractViolation) as caught:  # NaN is not
        env.step(torch.tensor([0, 1, 0, 1]))
    assert str(caught.value) == "CartPole-v1 step 3, env 2: reward is nan; expected a real number that is not nan"


def test_reject_terminated_and_truncated_is_enforced_on_tensors() -> None:
    def both(result: StepResult) -> StepResult:
        observations, rewards, terminated, truncated, info = result
        info = {**info, "_final_obs": _with((1,), True)(info["_final_obs"])}
        info["final_obs"] = info["final_obs"].clone()
        info["final_obs"][1] = observations[1]
        return observations, rewards, _with((1,), True)(terminated), _with((1,), True)(truncated), info

    violation, _ = _drive(fault=both, reject_terminated_and_truncated=True)
    assert str(violation) == (
        "CartPole-v1 step 3, env 1: truncated is True while terminated is True; expected at most one of terminated"
        " and truncated true (reject_terminated_and_truncated=True)"
    )


# -- TensorRolloutCollector --------------------------------------------------------------------------------------


class SumPolicy:
    """A real policy whose value is a known function, ``V(s) = sum(s)``; its actions come from a seeded generator
    (Box: ``scale``·N(0, 1), so mostly outside Pendulum's ±2 with scale 3). Records what it sampled."""

    def __init__(self, space: gym.spaces.Space[Any], *, seed: int, scale: float = 1.0) -> None:
        self.space = space
        self.generator = torch.Generator().manual_seed(seed)
        self.scale = scale
        self.sampled: list[Tensor] = []

    def act(self, observations: Tensor) -> PolicyStep:
        rows = observations.shape[0]
        if isinstance(self.space, gym.spaces.Discrete):
            actions = torch.randint(0, int(self.space.n), (rows,), generator=self.generator)
            log_probs = torch.full((rows,), -math.log(int(self.space.n)))
        else:
            assert isinstance(self.space, gym.spaces.Box)
            actions = torch.randn((rows, *self.space.shape), generator=self.generator) * self.scale
            log_probs = torch.zeros(rows)
        self.sampled.append(actions.clone())
        return PolicyStep(actions, log_probs, self.value(observations))

    def value(self, observations: Tensor) -> Tensor:
        return observations.sum(-1)


def _cartpole_tap(num_envs: int, max_episode_steps: int) -> Tap:
    return Tap(CartPoleTensorEnv(num_envs, autoreset_mode=AutoresetMode.SAME_STEP, max_episode_steps=max_episode_steps))


def test_the_rollout_is_what_the_env_returned_and_next_values_are_v_of_the_next_observation() -> None:
    n, horizon, limit, seed = 6, 9, 18, 3
    tap = _cartpole_tap(n, limit)
    policy = SumPolicy(tap.single_action_space, seed=0)
    collector = TensorRolloutCollector(tap, policy, horizon=horizon, seed=seed)
    rollouts = [collector.collect() for _ in range(5)]
    assert [tap_seed for tap_seed, _ in tap.resets] == [seed]
    # An independent twin: the same task in DISABLED mode with the same seed and actions, its done rows reset after
    # each step. Its done step returns the episode's final observation itself.
    twin = CartPoleTensorEnv(n, autoreset_mode=AutoresetMode.DISABLED, max_episode_steps=limit)
    twin_observations, _ = twin.reset(seed=seed)
    counts = {"terminated": 0, "truncated": 0, "running": 0}
    for index, rollout in enumerate(rollouts):
        assert isinstance(rollout, Rollout)
        assert rollout.horizon == horizon
        for t in range(horizon):
            k = index * horizon + t
            observations, rewards, terminated, truncated, info = tap.results[k]
            assert torch.equal(rollout.observations[t], twin_observations)
            assert torch.equal(rollout.actions[t], tap.sent[k])
            assert torch.equal(rollout.actions[t], policy.sampled[k])
            assert torch.equal(rollout.rewards[t], rewards)
            assert torch.equal(rollout.terminated[t], terminated)
            assert torch.equal(rollout.truncated[t], truncated)
            assert torch.equal(rollout.values[t], twin_observations.sum(-1))
            twin_next, twin_rewards, twin_terminated, twin_truncated, _ = twin.step(tap.sent[k])
            assert torch.equal(twin_rewards, rewards)
            assert torch.equal(twin_terminated, terminated)
            assert torch.equal(twin_truncated, truncated)
            done = terminated | truncated
            assert torch.equal(info["final_obs"][done], twin_next[done])
            for row in range(n):
                next_value = rollout.next_values[t, row]
                if terminated[row]:
                    assert next_value == 0.0  # never bootstrapped; never V(the reset observation)
                    counts["terminated"] += 1
                elif truncated[row]:
                    # V(final observation), never V(the reset observation that took its place).
                    assert next_value == twin_next[row].sum()
                    assert next_value != observations[row].sum()
                    counts["truncated"] += 1
                else:
                    assert next_value == twin_next[row].sum() == observations[row].sum()
                    if t + 1 < horizon:
                        assert next_value == rollout.values[t + 1, row]
                    counts["running"] += 1
            if bool(done.any()):
                reset_observations, _ = twin.reset(options={"reset_mask": done})
                twin_next = torch.where(done[:, None], reset_observations, twin_next)
            assert torch.equal(twin_next, observations)
            twin_observations = twin_next
    assert min(counts.values()) >= 3, counts


def _expected_episodes(tap: Tap, collects: int, horizon: int) -> list[tuple[list[float], list[int], list[int]]]:
    """From the env's own results: per collect, the (returns, lengths, envs) of every episode ended in it, by step
    then env, counted from the last reset of the whole env."""
    n = tap.num_envs
    running_return, running_length = [0.0] * n, [0] * n
    out = []
    for index in range(collects):
        returns, lengths, envs = [], [], []
        for k in range(index * horizon, (index + 1) * horizon):
            _, rewards, terminated, truncated, _ = tap.results[k]
            for row in range(n):
                running_return[row] += float(rewards[row])
                running_length[row] += 1
                if terminated[row] or truncated[row]:
                    returns.append(running_return[row])
                    lengths.append(running_length[row])
                    envs.append(row)
                    running_return[row], running_length[row] = 0.0, 0
        out.append((returns, lengths, envs))
    return out


def test_episode_statistics_list_every_ended_episode_across_rollout_boundaries() -> None:
    n, horizon = 4, 5
    tap = _cartpole_tap(n, 12)
    collector = TensorRolloutCollector(tap, SumPolicy(tap.single_action_space, seed=1), horizon=horizon, seed=0)
    seen = []
    for _ in range(6):
        collector.collect()
        seen.append((collector.episode_returns, collector.episode_lengths, collector.episode_envs))
    expected = _expected_episodes(tap, 6, horizon)
    assert seen == expected
    # Some episode began in an earlier rollout than the one it ended in: longer than the rollout itself.
    assert any(length > horizon for _, lengths, _ in seen for length in lengths)
    assert sum(len(envs) for _, _, envs in seen) >= 6
    for returns, lengths, envs in seen:
        assert returns == [float(length) for length in lengths]  # CartPole: reward 1 on every step
        assert all(0 <= env < n for env in envs)


def test_restart_starts_new_episodes_from_a_seeded_reset() -> None:
    n, horizon = 4, 13
    tap = _cartpole_tap(n, 12)
    collector = TensorRolloutCollector(tap, SumPolicy(tap.single_action_space, seed=2), horizon=horizon, seed=0)
    collector.collect()
    collector.collect()
    collector.restart(11)
    rollout = collector.collect()
    assert [seed for seed, _ in tap.resets] == [0, 11]
    fresh, _ = CartPoleTensorEnv(n, autoreset_mode=AutoresetMode.SAME_STEP, max_episode_steps=12).reset(seed=11)
    assert torch.equal(rollout.observations[0], fresh)
    # Every episode that ends counts its steps from the restart: at most t + 1 at step t.
    running = [0] * n
    lengths = []
    for t in range(horizon):
        for row in range(n):
            running[row] += 1
            if rollout.terminated[t, row] or rollout.truncated[t, row]:
                lengths.append(running[row])
                running[row] = 0
    assert collector.episode_lengths == lengths
    assert lengths
    collector.restart()  # no seed: the last one
    again = collector.collect()
    assert [seed for seed, _ in tap.resets] == [0, 11, 11]
    assert torch.equal(again.observations[0], fresh)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.DISABLED], ids=lambda mode: mode.name)
def test_the_collector_refuses_an_env_that_is_not_same_step(mode: AutoresetMode) -> None:
    env = make_tensor_env("CartPole-v1", 2, autoreset_mode=mode)
    with pytest.raises(RolloutError) as caught:
        TensorRolloutCollector(env, SumPolicy(env.single_action_space, seed=0), horizon=4)
    assert str(caught.value) == (
        f"TensorRolloutCollector: the env's autoreset mode is {mode.value}; expected same-step"
    )


def test_box_actions_are_stored_as_sampled_and_sent_clipped() -> None:
    inner = PendulumTensorEnv(3, autoreset_mode=AutoresetMode.SAME_STEP)
    tap = Tap(inner)
    env = CheckedTensorVectorEnv(tap, env_id="Pendulum-v1")  # the contract refuses any action outside ±2
    policy = SumPolicy(env.single_action_space, seed=0, scale=3.0)
    collector = TensorRolloutCollector(env, policy, horizon=8, seed=0)
    rollout = collector.collect()
    sampled = torch.stack(policy.sampled)
    sent = torch.stack(tap.sent)
    assert torch.equal(rollout.actions, sampled)
    assert torch.equal(sent, sampled.clamp(-2.0, 2.0))
    assert bool((sampled.abs() > 2.0).any())
    assert bool((sampled.abs() < 2.0).any())
    assert sent.dtype == torch.float32
    assert tuple(sent.shape) == (8, 3, 1)
    # The rewards are what the env returned for the clipped actions.
    assert torch.equal(rollout.rewards, torch.stack([result[1] for result in tap.results]))


def test_a_stacked_policy_bootstraps_each_truncated_row_with_its_own_agents_value() -> None:
    """StackedPolicy reads row n as agent n // N's: the final observations' values must come from the right agent,
    whatever number of rows is truncated at a step."""
    config = PPOConfig(env_id="CartPole-v1", agents=2, env_backend="torch", num_envs=3, horizon=8, seed=0)
    batched = BatchedPPO(config)
    try:
        tap = _cartpole_tap(6, 14)
        policy = StackedPolicy(batched.model, torch.Generator().manual_seed(0))
        collector = TensorRolloutCollector(tap, policy, horizon=8, seed=0)
        models = [batched.agent_model(agent) for agent in range(2)]
        truncated_rows: list[int] = []
        partial_steps = 0  # steps where some rows but not all were truncated
        for index in range(6):
            rollout = collector.collect()
            for t in range(8):
                _, _, terminated, truncated, info = tap.results[index * 8 + t]
                rows = truncated.nonzero().flatten().tolist()
                partial_steps += 0 < len(rows) < 6
                for row in rows:
                    if terminated[row]:  # both flags: terminated wins, nothing is bootstrapped
                        assert float(rollout.next_values[t, row]) == 0.0
                        continue
                    truncated_rows.append(row)
                    with torch.no_grad():
                        own = models[row // 3].value(info["final_obs"][row : row + 1])[0]
                    torch.testing.assert_close(rollout.next_values[t, row], own)
        assert {row // 3 for row in truncated_rows} == {0, 1}
        assert partial_steps >= 2
    finally:
        batched.close()


# -- BatchedPPO on the tensor backend ----------------------------------------------------------------------------


def _copy_agent(batched: BatchedPPO, source: int, target: int) -> None:
    with torch.no_grad():
        batched.model.flat[target].copy_(batched.model.flat[source])


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_batched_ppo_updates_and_evaluates_on_tensor_envs(env_id: str) -> None:
    agents, num_envs, horizon = 3, 4, 16
    config = PPOConfig(
        env_id=env_id, agents=agents, env_backend="torch", num_envs=num_envs, horizon=horizon, seed=0, epochs=2
    )
    batched = BatchedPPO(config)
    try:
        assert isinstance(batched.collector, TensorRolloutCollector)
        before = batched.model.flat.clone()
        stats = batched.update()
        assert stats.update == 1
        assert batched.updates_done == 1
        assert stats.env_steps == batched.env_steps == agents * num_envs * horizon
        assert len(stats.agents) == agents
        for agent, own in enumerate(stats.agents):
            assert own.update == 1
            assert own.env_steps == num_envs * horizon
            assert math.isfinite(own.losses["policy"])
            assert math.isfinite(own.losses["value"])
            assert math.isfinite(own.entropy)
            assert own.epochs == 2
            assert not torch.equal(batched.model.flat[agent], before[agent])  # every agent stepped
        assert sorted(stats.episode_returns) == sorted(r for own in stats.agents for r in own.episode_returns)
        # Agent 1 given agent 0's weights plays agent 0's episodes exactly; agent 2 keeps its own.
        _copy_agent(batched, 0, 1)
        results = batched.evaluate_agents(episodes=3, seed=7, max_steps=60)
        assert len(results) == agents
        assert all(len(result.returns) == len(result.lengths) == len(result.capped) == 3 for result in results)
        assert results[1].returns == results[0].returns
        assert results[1].lengths == results[0].lengths
        assert results[1].capped == results[0].capped
        if env_id == "Pendulum-v1":  # never terminates: every episode is cut at max_steps
            assert all(result.capped == (True, True, True) and result.lengths == (60, 60, 60) for result in results)
        # The same seed gives the same evaluation.
        assert batched.evaluate_agents(episodes=3, seed=7, max_steps=60) == results
    finally:
        batched.close()


def test_an_env_without_a_tensor_implementation_is_refused() -> None:
    config = PPOConfig(env_id="Taxi-v3", agents=2, env_backend="torch", num_envs=2, horizon=4)
    with pytest.raises(ConfigError) as caught:
        BatchedPPO(config)
    assert caught.value.field == "env_id"
    assert str(caught.value) == (
        "env_id is 'Taxi-v3', which has no tensor implementation; env_backend torch runs CartPole-v1, Acrobot-v1,"
        " MountainCar-v0, MountainCarContinuous-v0, Pendulum-v1 (or use env_backend gymnasium)"
    )
