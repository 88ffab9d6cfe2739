"""MultiDiscrete actions: a product of independent categoricals, records [T, N, k] int64, PPO and REINFORCE."""

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from typedrl._spaces import read_spaces
from typedrl.algos.ppo import PPO
from typedrl.algos.reinforce import Reinforce
from typedrl.config import ppo_preset, reinforce_preset
from typedrl.envs import CheckedVectorEnv
from typedrl.errors import ConfigError, RolloutError
from typedrl.policies import ActorCritic
from typedrl.records import Rollout


class MatchTarget(gym.Env[np.ndarray, np.ndarray]):
    """Two components, 3 and 4 choices: reward 1 for each that matches the target (2, 1); 8-step episodes."""

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (Gymnasium's class attribute)

    def __init__(self) -> None:
        self.observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = spaces.MultiDiscrete([3, 4])
        self.steps = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        super().reset(seed=seed)
        self.steps = 0
        return np.zeros(2, dtype=np.float32), {}

    def step(self, action: Any) -> Any:
        self.steps += 1
        reward = float(action[0] == 2) + float(action[1] == 1)
        return np.zeros(2, dtype=np.float32), reward, self.steps >= 8, False, {}


def _env(count: int) -> CheckedVectorEnv:
    return CheckedVectorEnv(gym.vector.SyncVectorEnv([MatchTarget for _ in range(count)]), env_id="MatchTarget")


def test_read_spaces_takes_one_axis_multi_discrete_starting_at_zero() -> None:
    observations = spaces.Box(-1.0, 1.0, (2,), np.float32)
    layout = read_spaces("E", observations, spaces.MultiDiscrete([3, 4]))
    assert (layout.action_kind, layout.action_nvec, layout.action_shape, layout.n_actions) == (
        "multi_discrete",
        (3, 4),
        (2,),
        7,
    )
    for space in (spaces.MultiDiscrete(np.full((2, 2), 2)), spaces.MultiDiscrete([3, 3], start=[1, 0])):
        with pytest.raises(ConfigError, match=r"MultiDiscrete \(one axis, starting at 0\)"):
            read_spaces("E", observations, space)


def test_the_product_distribution_equals_torch_categoricals() -> None:
    torch.manual_seed(0)
    model = ActorCritic(2, 7, hidden=8, action_kind="multi_discrete", action_nvec=(3, 4))
    with torch.no_grad():  # a policy far from uniform, so the components matter
        model.biases[-1][0].copy_(torch.tensor([[0.5, -1.0, 2.0, 0.0, 1.5, -0.5, 0.3]]))
    observations = torch.randn(64, 2)
    noise = model.noise(64, torch.Generator().manual_seed(1), observations)
    assert noise.shape == (64, 2)
    step = model.act(observations, noise)
    assert step.actions.shape == (64, 2)
    assert step.actions.dtype == torch.int64
    logits, _ = model(observations)
    first = torch.distributions.Categorical(logits=logits[:, :3])
    second = torch.distributions.Categorical(logits=logits[:, 3:])
    expected = first.log_prob(step.actions[:, 0]) + second.log_prob(step.actions[:, 1])  # type: ignore[no-untyped-call]
    torch.testing.assert_close(step.log_probs, expected)
    log_probs, entropies = model.log_prob_and_entropy(logits, step.actions)
    torch.testing.assert_close(log_probs, expected)
    torch.testing.assert_close(entropies, first.entropy() + second.entropy())  # type: ignore[no-untyped-call]
    greedy = model.greedy(observations)
    torch.testing.assert_close(greedy, torch.stack([logits[:, :3].argmax(-1), logits[:, 3:].argmax(-1)], -1))
    with pytest.raises(ValueError, match=r"action_nvec \(3, 3\) does not split 7 logits"):
        ActorCritic(2, 7, action_kind="multi_discrete", action_nvec=(3, 3))


def test_records_take_int64_actions_with_one_component_axis() -> None:
    base: dict[str, Any] = {
        "observations": torch.zeros(2, 3, 2),
        "log_probs": torch.zeros(2, 3),
        "rewards": torch.zeros(2, 3),
        "values": torch.zeros(2, 3),
        "next_values": torch.zeros(2, 3),
        "terminated": torch.zeros(2, 3, dtype=torch.bool),
        "truncated": torch.zeros(2, 3, dtype=torch.bool),
        "horizon": 2,
    }
    rollout = Rollout(actions=torch.ones(2, 3, 2, dtype=torch.int64), **base)
    assert rollout.action_shape == (2,)
    with pytest.raises(RolloutError, match=r"expected \[T, N\] or \[T, N, k\]"):
        Rollout(actions=torch.ones(2, 3, 2, 1, dtype=torch.int64), **base)
    negative = torch.ones(2, 3, 2, dtype=torch.int64)
    negative[0, 1, 0] = -1
    with pytest.raises(RolloutError, match=r"actions\[0, 1, 0\] is -1; expected a non-negative integer"):
        Rollout(actions=negative, **base)


def test_ppo_learns_to_match_both_components() -> None:
    config = ppo_preset(env_id="MatchTarget", num_envs=4, horizon=32, updates=30, seed=0, target_kl=None)
    algorithm = PPO(config, env=_env(4))
    for _ in range(config.updates):
        algorithm.update()
    greedy = algorithm.model.greedy(torch.zeros(5, 2))
    algorithm.close()
    assert greedy.tolist() == [[2, 1]] * 5


def test_reinforce_samples_and_scores_every_component() -> None:
    algorithm = Reinforce(reinforce_preset(env_id="MatchTarget", min_steps_per_update=64, updates=3), env=_env(4))
    first = algorithm.update()
    for _ in range(2):
        last = algorithm.update()
    algorithm.close()
    assert last.env_steps > first.env_steps >= 64
    # Both components' entropies: more than one component can have (log 4), at most log 3 + log 4.
    assert float(np.log(4)) < first.entropy <= float(np.log(3) + np.log(4))
