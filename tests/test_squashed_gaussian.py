"""The tanh-squashed Gaussian for Box actions (``squash_actions``): its density, PPO on Pendulum, errors."""

import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import Normal, TransformedDistribution
from torch.distributions.transforms import TanhTransform

from typedrl._spaces import read_spaces, squash_to_bounds
from typedrl.algos.ppo import PPO, _evaluation_actor
from typedrl.config import ppo_preset
from typedrl.envs import CheckedVectorEnv
from typedrl.errors import ConfigError
from typedrl.evaluation import evaluate
from typedrl.policies import ActorCritic, squashed_gaussian_log_prob


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 5), st.integers(1, 3))
def test_the_density_is_that_of_tanh_of_a_gaussian(seed: int, batch: int, size: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    mean = torch.randn(batch, size, generator=generator, dtype=torch.float64)
    log_std = torch.randn(size, generator=generator, dtype=torch.float64) * 0.5
    samples = mean + log_std.exp() * torch.randn(batch, size, generator=generator, dtype=torch.float64)
    samples = samples.clamp(-6.0, 6.0)  # where atanh(tanh(u)) = u still holds in float64, for the reference
    reference = TransformedDistribution(Normal(mean, log_std.exp()), [TanhTransform()])
    expected = reference.log_prob(torch.tanh(samples)).sum(dim=-1)  # type: ignore[no-untyped-call]
    assert torch.allclose(squashed_gaussian_log_prob(mean, log_std, samples), expected, rtol=1e-9, atol=1e-9)


def test_the_density_stays_finite_where_tanh_rounds_to_one() -> None:
    samples = torch.tensor([[30.0, -30.0]], requires_grad=True)
    log_prob = squashed_gaussian_log_prob(torch.zeros(1, 2), torch.zeros(2), samples)
    # log(1 − tanh²(30)) = 2(log 2 − 30 − softplus(−60)) ≈ −58.6 per element, though tanh(30) is 1.0 in float32.
    assert math.isfinite(float(log_prob.detach()))
    log_prob.sum().backward()  # type: ignore[no-untyped-call]
    assert samples.grad is not None
    assert bool(torch.isfinite(samples.grad).all())


def test_squash_to_bounds_stays_inside_the_bounds() -> None:
    low, high = np.array([-2.0, 0.0], np.float32), np.array([2.0, 1e-3], np.float32)
    samples = np.array([[-50.0, 50.0], [0.0, 0.0], [0.3, -0.7]], np.float32)
    actions = squash_to_bounds(samples, low, high)
    assert actions.dtype == np.float32
    assert bool(((actions >= low) & (actions <= high)).all())
    np.testing.assert_allclose(actions[1], (low + high) / 2)
    np.testing.assert_allclose(actions[0], [-2.0, 1e-3])


def test_ppo_trains_a_squashed_policy_on_pendulum() -> None:
    config = ppo_preset("pendulum", squash_actions=True, updates=2, horizon=128)
    algorithm = PPO(config)
    for _ in range(config.updates):
        stats = algorithm.update()  # the contract checks every action the environment receives: in [-2, 2]
    assert math.isfinite(stats.entropy)
    rollout = algorithm.collector.collect()
    assert rollout.actions.shape == (128, 4, 1)
    assert algorithm.model.squash
    greedy = algorithm.actor(torch.randn(64, 3) * 10)
    assert bool((greedy.abs() <= 2.0).all())
    algorithm.close()
    # typedrl eval builds the actor from the config: the same squashed greedy action, the same returns.
    layout = read_spaces("Pendulum-v1", *_pendulum_spaces())
    modules, actor = _evaluation_actor(config, layout)
    modules["model"].load_state_dict(algorithm.model.state_dict())
    assert evaluate(actor, "Pendulum-v1", episodes=2, max_steps=50) == evaluate(
        algorithm.actor, "Pendulum-v1", episodes=2, max_steps=50
    )


def _pendulum_spaces() -> tuple[Any, Any]:
    env = gym.make("Pendulum-v1")
    spaces_ = env.observation_space, env.action_space
    env.close()
    return spaces_


class Unbounded(gym.Env[np.ndarray, np.ndarray]):
    """Box(-inf, inf) actions."""

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (Gymnasium's class attribute)

    def __init__(self) -> None:
        self.observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = spaces.Box(-np.inf, np.inf, (1,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action: Any) -> Any:
        return np.zeros(2, np.float32), 0.0, False, False, {}


def test_squashing_needs_box_actions_with_finite_bounds() -> None:
    with pytest.raises(ConfigError, match="squash_actions is true but env 'CartPole-v1' has discrete actions"):
        PPO(ppo_preset(squash_actions=True))
    env = CheckedVectorEnv(gym.vector.SyncVectorEnv([Unbounded]), env_id="Unbounded")
    with pytest.raises(ConfigError, match="Box actions with infinite bounds"):
        PPO(ppo_preset(env_id="Unbounded", num_envs=1, squash_actions=True), env=env)
    env.close()
    with pytest.raises(ValueError, match="squash_bounds need box actions"):
        ActorCritic(2, 1, action_kind="box", squash_bounds=([-np.inf], [1.0]))
