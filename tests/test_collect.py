"""RolloutCollector on real Gymnasium vector environments, in all three autoreset modes.

The oracle is a replay: each sub-environment of a ``SyncVectorEnv`` seeded with ``seed`` is a plain
``gymnasium.make`` env reset with ``seed + n``; stepping it with the rollout's actions must reproduce every
observation, reward, flag and ``next_value`` (the value of the episode's final observation at a done step).
"""

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorEnv, VectorWrapper
from jaxtyping import Float
from torch import Tensor
from zoo import HostileDict, RaisingArray, RaisingClass, object_array

from typedrl.collect import Policy, PolicyStep, RolloutCollector
from typedrl.envs import CheckedVectorEnv, make_env
from typedrl.errors import ContractViolation, RolloutError
from typedrl.policies import ActorCritic, SampledPolicy
from typedrl.records import Rollout
from typedrl.returns import gae

MODES = (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP, AutoresetMode.DISABLED)
FIELDS = ("observations", "actions", "log_probs", "rewards", "values", "next_values", "terminated", "truncated")
SEED = 7
HORIZON = 64
N_ENVS = 4
RESET_BOUND = 0.05  # CartPole resets every state variable uniformly into [-0.05, 0.05]
_HASH = torch.tensor([73856093, 19349663, 83492791, 2654435761], dtype=torch.int64)


class HashedLinearPolicy:
    """A linear softmax policy over two actions with a linear critic, for CartPole.

    Its sampling noise is a hash of the observation's bits, so it acts like a random policy yet one observation
    always gets the same action, whatever else is in the batch: the condition for identical rollouts across
    autoreset modes. Every operation is row by row (no matmul), so a row's result does not depend on the batch.
    """

    def __init__(self, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.actor = torch.randn(4, 2, generator=generator)
        self.critic = torch.randn(4, generator=generator)
        self.act_calls = 0

    @staticmethod
    def _uniform(observations: Tensor) -> Tensor:
        mixed = (observations.contiguous().view(torch.int32).to(torch.int64) * _HASH).sum(-1) & 0xFFFFFFFF
        for _ in range(2):
            mixed = ((mixed ^ (mixed >> 16)) * 0x45D9F3B) & 0xFFFFFFFF
        return ((mixed ^ (mixed >> 16)) & 0xFFFFFF).to(torch.float32) / float(1 << 24)

    def act(self, observations: Float[Tensor, " N 4"]) -> PolicyStep:
        """Sample by inverse CDF with hashed noise; values from :meth:`value`."""
        if torch.is_grad_enabled():
            raise RuntimeError("the collector must call act under torch.no_grad()")
        self.act_calls += 1
        log_probs = torch.log_softmax((observations[:, :, None] * self.actor).sum(1), dim=-1)
        actions = (self._uniform(observations) < log_probs[:, 1].exp()).to(torch.int64)
        return PolicyStep(actions, log_probs.gather(1, actions[:, None])[:, 0], self.value(observations))

    def value(self, observations: Float[Tensor, " N 4"]) -> Float[Tensor, " N"]:
        """A linear critic."""
        if torch.is_grad_enabled():
            raise RuntimeError("the collector must call value under torch.no_grad()")
        return (observations * self.critic).sum(-1)


def sync_env(mode: AutoresetMode, *, n_envs: int = N_ENVS, max_episode_steps: int = 500) -> SyncVectorEnv:
    """CartPole sub-environments in a SyncVectorEnv with the given autoreset mode."""
    return SyncVectorEnv(
        [lambda: gym.make("CartPole-v1", max_episode_steps=max_episode_steps)] * n_envs, autoreset_mode=mode
    )


def collect(env: VectorEnv[Any, Any, Any], *, rollouts: int = 3, horizon: int = HORIZON) -> list[Rollout]:
    """``rollouts`` consecutive rollouts from one collector seeded with SEED."""
    collector = RolloutCollector(env, HashedLinearPolicy(), horizon=horizon, seed=SEED)
    return [collector.collect() for _ in range(rollouts)]


def concatenate(rollouts: list[Rollout]) -> dict[str, Tensor]:
    """Each field of consecutive rollouts joined along time."""
    return {name: torch.cat([getattr(r, name) for r in rollouts]) for name in FIELDS}


def assert_replays(rollouts: list[Rollout], *, max_episode_steps: int = 500) -> None:
    """Each column of the joined rollouts is exactly what a single env seeded SEED + n does with its actions."""
    joined = concatenate(rollouts)
    policy = HashedLinearPolicy()
    for n in range(rollouts[0].n_envs):
        env = gym.make("CartPole-v1", max_episode_steps=max_episode_steps)
        observation, _ = env.reset(seed=SEED + n)
        for t in range(len(joined["actions"])):
            where = f"step {t}, env {n}"
            assert torch.equal(joined["observations"][t, n], torch.from_numpy(observation)), where
            observation, reward, terminated, truncated, _ = env.step(int(joined["actions"][t, n]))
            assert joined["rewards"][t, n] == reward, where
            assert bool(joined["terminated"][t, n]) == terminated, where
            assert bool(joined["truncated"][t, n]) == truncated, where
            with torch.no_grad():
                final_value = policy.value(torch.from_numpy(observation)[None])[0]
            assert joined["next_values"][t, n] == final_value, where
            if terminated or truncated:
                observation, _ = env.reset()


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.name)
def test_rollout_shapes_and_dtypes(mode: AutoresetMode) -> None:
    (rollout,) = collect(sync_env(mode), rollouts=1)
    assert (rollout.horizon, rollout.n_envs, rollout.observation_shape) == (HORIZON, N_ENVS, (4,))
    assert rollout.observations.dtype is torch.float32
    assert rollout.actions.dtype is torch.int64
    assert rollout.rewards.dtype is torch.float32
    assert rollout.terminated.dtype is torch.bool


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.name)
def test_every_transition_replays_on_a_single_env(mode: AutoresetMode) -> None:
    rollouts = collect(sync_env(mode))
    assert int(concatenate(rollouts)["terminated"].sum()) >= 10  # episodes end inside the horizon
    assert_replays(rollouts)


@pytest.mark.parametrize("max_episode_steps", [9, 1])
@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.name)
def test_truncation_next_values_are_of_the_final_observation(mode: AutoresetMode, max_episode_steps: int) -> None:
    # One-step episodes: NEXT_STEP needs two vector steps per transition, past the preallocated slack.
    rollouts = collect(sync_env(mode, max_episode_steps=max_episode_steps))
    assert int(concatenate(rollouts)["truncated"].sum()) >= 10
    assert_replays(rollouts, max_episode_steps=max_episode_steps)


@pytest.mark.parametrize("max_episode_steps", [500, 9, 1])
def test_same_rollouts_and_advantages_in_every_mode(max_episode_steps: int) -> None:
    by_mode = {mode: collect(sync_env(mode, max_episode_steps=max_episode_steps)) for mode in MODES}
    reference = by_mode[AutoresetMode.NEXT_STEP]
    assert int((concatenate(reference)["terminated"] | concatenate(reference)["truncated"]).sum()) > 0
    for mode in MODES[1:]:
        for index, (expected, got) in enumerate(zip(reference, by_mode[mode], strict=True)):
            for name in FIELDS:
                assert torch.equal(getattr(expected, name), getattr(got, name)), f"{mode.name} rollout {index} {name}"
            expected_sample = expected.to_actor_critic_sample(gamma=0.99, lam=0.95)
            got_sample = got.to_actor_critic_sample(gamma=0.99, lam=0.95)
            assert torch.equal(expected_sample.advantages, got_sample.advantages)
            assert torch.equal(expected_sample.returns, got_sample.returns)


def test_next_step_reset_transitions_never_enter_a_rollout() -> None:
    rollouts = collect(sync_env(AutoresetMode.NEXT_STEP))
    joined = concatenate(rollouts)
    done = joined["terminated"] | joined["truncated"]
    assert bool((joined["rewards"] == 1.0).all())  # CartPole pays 1 per real step; the reset step pays 0
    after_done = done[:-1].nonzero()
    assert len(after_done) >= 10
    for t, n in after_done.tolist():  # the step after a done starts from a fresh reset state
        assert bool((joined["observations"][t + 1, n].abs() <= RESET_BOUND).all())


def test_cartpole_vector_env_matches_a_lockstep_replay() -> None:
    """CartPoleVectorEnv (NEXT_STEP, one shared RNG): replay it in lockstep with the rollout's actions."""
    rollouts = collect(CartPoleVectorEnv(num_envs=8))
    joined = concatenate(rollouts)
    assert bool((joined["rewards"] == 1.0).all())
    policy = HashedLinearPolicy()
    replay = CartPoleVectorEnv(num_envs=8)
    observations, _ = replay.reset(seed=SEED)
    cursor = np.zeros(8, dtype=np.int64)
    resetting = np.zeros(8, dtype=np.bool_)
    checked = 0
    while (cursor < len(joined["actions"])).all():  # past that, an env's actions are unknown and RNG use differs
        actions = np.array([0 if resetting[n] else int(joined["actions"][cursor[n], n]) for n in range(8)])
        for n in np.flatnonzero(~resetting):
            assert torch.equal(joined["observations"][cursor[n], n], torch.from_numpy(observations[n]))
        observations, _, terminated, truncated, _ = replay.step(actions)
        with torch.no_grad():
            values = policy.value(torch.from_numpy(observations))
        for n in np.flatnonzero(~resetting):
            t = cursor[n]
            assert bool(joined["terminated"][t, n]) == terminated[n]
            assert bool(joined["truncated"][t, n]) == truncated[n]
            assert joined["next_values"][t, n] == values[n], f"step {t}, env {n}"
            checked += 1
        cursor += ~resetting
        resetting = (terminated | truncated) & ~resetting
    assert checked > 0.9 * joined["actions"].numel()


@pytest.mark.parametrize(
    "make_env",
    [lambda: sync_env(AutoresetMode.NEXT_STEP), lambda: sync_env(AutoresetMode.SAME_STEP), CartPoleVectorEnv],
    ids=["sync-next-step", "sync-same-step", "cartpole-vector"],
)
def test_consecutive_collects_continue_one_stream(make_env: Callable[[], VectorEnv[Any, Any, Any]]) -> None:
    short = collect(make_env(), rollouts=3, horizon=32)
    (long,) = collect(make_env(), rollouts=1, horizon=96)
    joined = concatenate(short)
    for name in FIELDS:
        assert torch.equal(joined[name], getattr(long, name)), name


@pytest.mark.parametrize("sutton_barto_reward", [False, True])
@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.name)
def test_episode_statistics(mode: AutoresetMode, sutton_barto_reward: bool) -> None:
    # Sutton and Barto's reward is 0 per step and -1 at a termination: returns then differ from lengths.
    env = SyncVectorEnv(
        [lambda: gym.make("CartPole-v1", max_episode_steps=30, sutton_barto_reward=sutton_barto_reward)] * N_ENVS,
        autoreset_mode=mode,
    )
    collector = RolloutCollector(env, HashedLinearPolicy(), horizon=HORIZON, seed=SEED)
    rollouts: list[Rollout] = []
    returns: list[float] = []
    lengths: list[int] = []
    for _ in range(3):
        rollouts.append(collector.collect())
        if not sutton_barto_reward:  # CartPole pays 1 per step
            assert collector.episode_returns == [float(length) for length in collector.episode_lengths]
        returns += collector.episode_returns
        lengths += collector.episode_lengths
    # Expected from the joined rollouts: episodes in the order (step, env) they end, counted from step 0.
    joined = concatenate(rollouts)
    done = joined["terminated"] | joined["truncated"]
    expected: list[tuple[int, int, float, int]] = []
    for n in range(N_ENVS):
        ends = done[:, n].nonzero()[:, 0].tolist()
        for start, end in zip([-1, *ends], ends, strict=False):
            episode_return = float(joined["rewards"][start + 1 : end + 1, n].double().sum())
            expected.append((end, n, episode_return, end - start))
    expected.sort()
    assert lengths == [length for *_, length in expected]
    assert returns == [episode_return for _, _, episode_return, _ in expected]
    assert len(lengths) >= 10
    assert set(returns) != {0.0}


class _FailingPolicy(HashedLinearPolicy):
    """Raises on its ``fail_at``-th act call (a policy bug in the middle of a rollout)."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at = fail_at

    def act(self, observations: Float[Tensor, " N 4"]) -> PolicyStep:
        if self.act_calls + 1 == self.fail_at:
            self.act_calls += 1
            raise RuntimeError("policy failed")
        return super().act(observations)


class _FailingEnv(VectorWrapper):
    """Raises ValueError from its ``fail_at``-th step, as a contract check would."""

    def __init__(self, env: VectorEnv[Any, Any, Any], fail_at: int) -> None:
        super().__init__(env)
        self.fail_at = fail_at
        self.steps = 0

    def step(self, actions: Any) -> Any:
        self.steps += 1
        if self.steps == self.fail_at:
            raise ValueError("observation is nan")
        return self.env.step(actions)


def _assert_fresh_full_rollout(rollout: Rollout) -> None:
    assert rollout.horizon == HORIZON
    assert bool((rollout.observations[0].abs() <= RESET_BOUND).all())


def test_a_policy_error_mid_collection_returns_nothing_and_the_next_collect_starts_afresh() -> None:
    policy = _FailingPolicy(fail_at=40)
    collector = RolloutCollector(sync_env(AutoresetMode.NEXT_STEP), policy, horizon=HORIZON, seed=SEED)
    with pytest.raises(RuntimeError, match="policy failed"):
        collector.collect()
    _assert_fresh_full_rollout(collector.collect())


def test_an_env_error_mid_collection_returns_nothing_and_the_next_collect_starts_afresh() -> None:
    env = _FailingEnv(sync_env(AutoresetMode.SAME_STEP), fail_at=100)
    collector = RolloutCollector(env, HashedLinearPolicy(), horizon=HORIZON, seed=SEED)
    collector.collect()
    with pytest.raises(ValueError, match="observation is nan"):
        collector.collect()
    _assert_fresh_full_rollout(collector.collect())
    assert collector.episode_lengths == [float(x) for x in collector.episode_returns]


class _NoFinalObs(VectorWrapper):
    """Drops ``final_obs`` from the step info (a broken SAME_STEP environment)."""

    def step(self, actions: Any) -> Any:
        observations, rewards, terminated, truncated, _ = self.env.step(actions)
        return observations, rewards, terminated, truncated, {}


def test_same_step_without_final_obs_is_an_error() -> None:
    env = _NoFinalObs(sync_env(AutoresetMode.SAME_STEP))
    collector = RolloutCollector(env, HashedLinearPolicy(), horizon=HORIZON, seed=SEED)
    with pytest.raises(RolloutError, match=r"RolloutCollector: env \d is done but info has no final_obs for it;"):
        collector.collect()


class _BadShapePolicy(HashedLinearPolicy):
    def act(self, observations: Float[Tensor, " N 4"]) -> PolicyStep:
        step = super().act(observations)
        return PolicyStep(step.actions[:, None], step.log_probs, step.values)


class _IntActionsPolicy(HashedLinearPolicy):
    def act(self, observations: Float[Tensor, " N 4"]) -> PolicyStep:
        step = super().act(observations)
        return PolicyStep(step.actions.to(torch.int32), step.log_probs, step.values)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (_BadShapePolicy(), "RolloutCollector: policy.act returned actions (4, 1); expected shape (4,)"),
        (
            _IntActionsPolicy(),
            "RolloutCollector: policy.act returned actions of dtype torch.int32; expected torch.int64",
        ),
    ],
)
def test_policy_outputs_are_checked(policy: Policy, message: str) -> None:
    collector = RolloutCollector(sync_env(AutoresetMode.NEXT_STEP), policy, horizon=8, seed=SEED)
    with pytest.raises(RolloutError) as caught:
        collector.collect()
    assert str(caught.value) == message


@pytest.mark.parametrize("horizon", [0, -3, True, 2.0])
def test_horizon_must_be_a_positive_int(horizon: Any) -> None:
    with pytest.raises(RolloutError) as caught:
        RolloutCollector(sync_env(AutoresetMode.NEXT_STEP), HashedLinearPolicy(), horizon=horizon)
    assert str(caught.value) == f"RolloutCollector: horizon is {horizon!r}; expected a positive int"


def test_make_vec_environments_in_every_mode() -> None:
    for mode in MODES:
        env = gym.make_vec(
            "CartPole-v1", num_envs=N_ENVS, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode}
        )
        collector = RolloutCollector(env, HashedLinearPolicy(), horizon=HORIZON, seed=SEED)
        assert collector.autoreset_mode is mode
        rollouts = [collector.collect() for _ in range(3)]
        assert_replays(rollouts)


def test_advantages_use_the_collected_next_values() -> None:
    (rollout,) = collect(sync_env(AutoresetMode.NEXT_STEP, max_episode_steps=9), rollouts=1)
    sample = rollout.to_actor_critic_sample(gamma=0.9, lam=0.8)
    advantages = gae(
        rollout.rewards, rollout.values, rollout.next_values, rollout.terminated, rollout.truncated, gamma=0.9, lam=0.8
    )
    assert torch.equal(sample.returns, (advantages + rollout.values).reshape(-1))


class _CountingPolicy(HashedLinearPolicy):
    def __init__(self) -> None:
        super().__init__()
        self.value_calls = 0

    def value(self, observations: Float[Tensor, " N 4"]) -> Float[Tensor, " N"]:
        self.value_calls += 1
        return super().value(observations)


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.name)
def test_one_act_per_vector_step_and_value_calls_only_where_needed(mode: AutoresetMode) -> None:
    policy = _CountingPolicy()
    env = sync_env(mode)
    collector = RolloutCollector(env, policy, horizon=HORIZON, seed=SEED)
    rollout = collector.collect()
    done_steps = int(rollout.done.any(dim=1).sum())
    collector_calls = policy.value_calls - policy.act_calls  # act calls value once itself
    if mode is AutoresetMode.NEXT_STEP:  # the reset steps' act calls give V(final observation): no value calls
        assert collector_calls == 1
        assert policy.act_calls > HORIZON
    else:  # one value call per vector step with a done, and one at the end
        assert collector_calls == done_steps + 1
        assert policy.act_calls == HORIZON


class _Metadata(VectorWrapper):
    """Overrides the wrapped environment's metadata."""

    def __init__(self, env: VectorEnv[Any, Any, Any], metadata: dict[str, Any]) -> None:
        super().__init__(env)
        self.metadata = metadata


def test_unknown_autoreset_mode_is_an_error() -> None:
    env = _Metadata(sync_env(AutoresetMode.NEXT_STEP), {"autoreset_mode": "Sometimes"})
    with pytest.raises(RolloutError) as caught:
        RolloutCollector(env, HashedLinearPolicy(), horizon=HORIZON)
    assert str(caught.value) == (
        "RolloutCollector: env.metadata['autoreset_mode'] is 'Sometimes'; expected a gymnasium AutoresetMode"
    )


def test_a_string_autoreset_mode_is_read() -> None:
    env = _Metadata(sync_env(AutoresetMode.SAME_STEP), {"autoreset_mode": "SameStep"})
    collector = RolloutCollector(env, HashedLinearPolicy(), horizon=HORIZON, seed=SEED)
    assert collector.autoreset_mode is AutoresetMode.SAME_STEP
    assert_replays([collector.collect()])


def test_a_single_env_is_refused() -> None:
    with pytest.raises(RolloutError) as caught:
        RolloutCollector(gym.make("CartPole-v1"), HashedLinearPolicy(), horizon=HORIZON)  # type: ignore[arg-type]
    assert str(caught.value) == (
        "RolloutCollector: env is a TimeLimit; expected a Gymnasium vector environment (num_envs)"
    )


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.name)
def test_checked_environments_give_the_same_rollouts(mode: AutoresetMode) -> None:
    checked = make_env("CartPole-v1", num_envs=N_ENVS, autoreset_mode=mode)
    unchecked: VectorEnv[Any, Any, Any] = (
        CartPoleVectorEnv(num_envs=N_ENVS) if mode is AutoresetMode.NEXT_STEP else sync_env(mode)
    )
    for expected, got in zip(collect(unchecked), collect(checked), strict=True):
        for name in FIELDS:
            assert torch.equal(getattr(expected, name), getattr(got, name)), name


def test_a_contract_violation_mid_collection_returns_nothing() -> None:
    # Cart velocity beyond ±0.5 breaks these (narrower than CartPole's own) bounds after a few steps.
    bounds = (np.array([-4.8, -0.5, -0.42, -np.inf]), np.array([4.8, 0.5, 0.42, np.inf]))
    env = make_env("CartPole-v1", num_envs=N_ENVS, observation_bounds=bounds)
    collector = RolloutCollector(env, HashedLinearPolicy(), horizon=HORIZON, seed=SEED)
    with pytest.raises(ContractViolation) as caught:
        collector.collect()
    assert caught.value.step > 1
    assert collector.episode_returns == []


def test_episodes_spanning_many_short_rollouts_are_counted_whole() -> None:
    short = RolloutCollector(sync_env(AutoresetMode.NEXT_STEP), HashedLinearPolicy(), horizon=2, seed=SEED)
    first = short.collect()
    assert not bool(first.done.any())
    assert (short.episode_returns, short.episode_lengths) == ([], [])
    returns, lengths = [], []
    for _ in range(39):
        short.collect()
        returns += short.episode_returns
        lengths += short.episode_lengths
    long = RolloutCollector(sync_env(AutoresetMode.NEXT_STEP), HashedLinearPolicy(), horizon=80, seed=SEED)
    long.collect()
    assert lengths == long.episode_lengths
    assert returns == long.episode_returns
    assert min(lengths) > 2


class _BreakInfo(VectorWrapper):
    """SAME_STEP: hands the info of the first step with a done through ``change(info, done)``, and remembers it."""

    def __init__(self, env: VectorEnv[Any, Any, Any], change: Callable[[dict[str, Any], np.ndarray], Any]) -> None:
        super().__init__(env)
        self.change = change
        self.steps = 0
        self.broken_at: tuple[int, int] | None = None  # (step, first done env)

    def step(self, actions: Any) -> Any:
        observations, rewards, terminated, truncated, info = self.env.step(actions)
        self.steps += 1
        done = terminated | truncated
        if done.any() and self.broken_at is None:
            self.broken_at = (self.steps, int(np.flatnonzero(done)[0]))
            info = self.change(dict(info), done)
        return observations, rewards, terminated, truncated, info


def _replace(key: str, value: Any) -> Callable[[dict[str, Any], np.ndarray], Any]:
    def change(info: dict[str, Any], done: np.ndarray) -> Any:
        info[key] = value(done) if callable(value) else value
        return info

    return change


def _drop(key: str) -> Callable[[dict[str, Any], np.ndarray], Any]:
    def change(info: dict[str, Any], done: np.ndarray) -> Any:
        del info[key]
        return info

    return change


def _entry(value: Any) -> Callable[[dict[str, Any], np.ndarray], Any]:
    """Puts ``value`` as the final observation of the first done sub-environment."""

    def change(info: dict[str, Any], done: np.ndarray) -> Any:
        final = info["final_obs"].copy()
        final[int(np.flatnonzero(done)[0])] = value
        info["final_obs"] = final
        return info

    return change


_SAME_STEP = "in autoreset mode SAME_STEP"
MALFORMED_INFO: dict[str, tuple[Callable[[dict[str, Any], np.ndarray], Any], str, str]] = {
    # name: (change, the collector's message ({n}: the first done env), the contract's field)
    "long-mask": (
        _replace("_final_obs", lambda done: np.append(done, True)),
        f"RolloutCollector: info['_final_obs'] is a bool array of shape (5,); expected a bool array of shape (4,)"
        f" {_SAME_STEP}",
        "info['_final_obs']",
    ),
    "int-mask": (
        _replace("_final_obs", lambda done: done.astype(np.int64)),
        f"RolloutCollector: info['_final_obs'] is an int64 array of shape (4,); expected a bool array of shape (4,)"
        f" {_SAME_STEP}",
        "info['_final_obs']",
    ),
    "hostile-mask": (
        _replace("_final_obs", RaisingClass()),
        f"RolloutCollector: info['_final_obs'] is RaisingClass() (a RaisingClass); expected a bool array of shape"
        f" (4,) {_SAME_STEP}",
        "info['_final_obs']",
    ),
    "no-mask": (
        _drop("_final_obs"),
        "RolloutCollector: env {n} is done but info has no final_obs for it; expected info['final_obs'] and"
        f" info['_final_obs'] {_SAME_STEP}",
        "info['_final_obs']",
    ),
    "false-mask": (
        _replace("_final_obs", lambda done: np.zeros_like(done)),
        "RolloutCollector: env {n} is done but info has no final_obs for it; expected info['final_obs'] and"
        f" info['_final_obs'] {_SAME_STEP}",
        "info['_final_obs']",
    ),
    "no-final-obs": (
        _drop("final_obs"),
        f"RolloutCollector: info['final_obs'] is missing; expected an array of shape (4,) {_SAME_STEP}",
        "info['final_obs']",
    ),
    "batched-final-obs": (
        _replace("final_obs", np.zeros((4, 4), np.float32)),
        "RolloutCollector: info['final_obs'] is a float32 array of shape (4, 4); expected an array of shape (4,)"
        f" {_SAME_STEP}",
        "info['final_obs']",
    ),
    "none-entry": (
        _entry(None),
        "RolloutCollector: env {n} is done but info['final_obs'][{n}] is None; expected a numeric observation of"
        f" shape (4,) {_SAME_STEP}",
        "final_obs",
    ),
    "short-entry": (
        _entry(np.zeros(3, np.float32)),
        "RolloutCollector: env {n} is done but info['final_obs'][{n}] is a float32 array of shape (3,); expected a"
        f" numeric observation of shape (4,) {_SAME_STEP}",
        "final_obs",
    ),
    "hostile-entry": (
        _entry(RaisingArray()),
        "RolloutCollector: env {n} is done but info['final_obs'][{n}] is RaisingArray() (a RaisingArray); expected"
        f" a numeric observation of shape (4,) {_SAME_STEP}",
        "final_obs",
    ),
    "string-entry": (
        _entry(np.array(["a", "b", "c", "d"])),
        "RolloutCollector: env {n} is done but info['final_obs'][{n}] is a <U1 array of shape (4,); expected a"
        f" numeric observation of shape (4,) {_SAME_STEP}",
        "final_obs",
    ),
    "list-info": (
        lambda info, done: [],
        f"RolloutCollector: info is [] (a list); expected a dict with 'final_obs' and '_final_obs' {_SAME_STEP}",
        "info",
    ),
}


@pytest.mark.parametrize("name", MALFORMED_INFO)
def test_malformed_same_step_info_is_a_rollout_error_naming_the_key(name: str) -> None:
    change, message, _ = MALFORMED_INFO[name]
    env = _BreakInfo(sync_env(AutoresetMode.SAME_STEP), change)
    collector = RolloutCollector(env, HashedLinearPolicy(), horizon=HORIZON, seed=SEED)
    with pytest.raises(RolloutError) as caught:
        collector.collect()
    assert env.broken_at is not None
    assert str(caught.value) == message.format(n=env.broken_at[1])


@pytest.mark.parametrize("name", MALFORMED_INFO)
def test_malformed_same_step_info_from_a_checked_env_is_a_contract_violation(name: str) -> None:
    change, _, field = MALFORMED_INFO[name]
    env = _BreakInfo(sync_env(AutoresetMode.SAME_STEP), change)
    collector = RolloutCollector(CheckedVectorEnv(env), HashedLinearPolicy(), horizon=HORIZON, seed=SEED)
    with pytest.raises(ContractViolation) as caught:
        collector.collect()
    assert env.broken_at is not None
    assert (caught.value.step, caught.value.field) == (env.broken_at[0], field)


def test_a_dict_subclass_info_is_read_past_its_own_methods() -> None:
    env = _BreakInfo(sync_env(AutoresetMode.SAME_STEP), lambda info, done: HostileDict(info))
    for wrapped in (env, CheckedVectorEnv(env)):
        RolloutCollector(wrapped, HashedLinearPolicy(), horizon=HORIZON, seed=SEED).collect()


class _BreakStep(VectorWrapper):
    """Hands the result of step ``at`` through ``change``."""

    def __init__(self, env: VectorEnv[Any, Any, Any], change: Callable[[tuple[Any, ...]], Any], at: int = 3) -> None:
        super().__init__(env)
        self.change, self.at, self.steps = change, at, 0

    def step(self, actions: Any) -> Any:
        result = self.env.step(actions)
        self.steps += 1
        return self.change(result) if self.steps == self.at else result


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda result: result[:4],
            "RolloutCollector: env.step returned (array([[",
        ),
        (
            lambda result: (result[0], "one", *result[2:]),
            "RolloutCollector: env.step returned rewards='one' (a str); expected an array of shape (4,)",
        ),
        (
            lambda result: (*result[:2], np.zeros(5, np.bool_), *result[3:]),
            "RolloutCollector: env.step returned terminated=a bool array of shape (5,); expected an array of"
            " shape (4,)",
        ),
        (
            lambda result: (*result[:3], RaisingArray(), result[4]),
            "RolloutCollector: env.step returned truncated=RaisingArray() (a RaisingArray); expected an array of"
            " shape (4,)",
        ),
        (
            lambda result: (object_array(*[None] * 4), *result[1:]),
            "RolloutCollector: env.step returned observations=an object array of shape (4,); expected a numeric"
            " array of shape (4, *obs)",
        ),
        (
            lambda result: (result[0][:, :3], *result[1:]),
            "RolloutCollector: env.step returned observations=a float32 array of shape (4, 3); expected an array of"
            " shape (4, 4), as before",
        ),
    ],
    ids=["four-tuple", "string-rewards", "long-terminated", "hostile-truncated", "object-observations", "short-obs"],
)
def test_an_unchecked_env_step_the_collector_cannot_record_is_a_rollout_error(
    change: Callable[[tuple[Any, ...]], Any], message: str
) -> None:
    collector = RolloutCollector(_BreakStep(sync_env(AutoresetMode.NEXT_STEP), change), HashedLinearPolicy(), horizon=8)
    with pytest.raises(RolloutError) as caught:
        collector.collect()
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_an_unchecked_env_reset_the_collector_cannot_record_is_a_rollout_error() -> None:
    class BadReset(VectorWrapper):
        def reset(self, **kwargs: Any) -> Any:
            return self.env.reset(**kwargs)[0]

    collector = RolloutCollector(BadReset(sync_env(AutoresetMode.NEXT_STEP)), HashedLinearPolicy(), horizon=8)
    with pytest.raises(RolloutError) as caught:
        collector.collect()
    assert str(caught.value) == (
        "RolloutCollector: env.reset returned a float32 array of shape (4, 4); expected (observations, info)"
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error shown when CUDA is absent")
@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("cuda", "RolloutCollector: device is 'cuda', but this torch sees no CUDA device; use 'cpu'"),
        ("meta", "RolloutCollector: device is 'meta'; expected 'cpu', 'cuda' or 'mps'"),
        ("gpu", "RolloutCollector: device is 'gpu'; expected a device torch knows, such as 'cpu' or 'cuda'"),
        (3, "RolloutCollector: device is 3; expected a torch.device or a string such as 'cpu' or 'cuda'"),
    ],
)
def test_the_device_is_checked(device: Any, message: str) -> None:
    env = make_env("CartPole-v1", num_envs=2, seed=0)
    policy = SampledPolicy(ActorCritic(4, 2), torch.Generator().manual_seed(0))
    with pytest.raises(RolloutError) as caught:
        RolloutCollector(env, policy, horizon=4, device=device)
    assert str(caught.value) == message
