"""Discrete observations (FrozenLake, Taxi) reach the networks one-hot; the contract checks the raw integers."""

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from typedrl._spaces import read_spaces
from typedrl.algos.ppo import PPO
from typedrl.algos.reinforce import Reinforce
from typedrl.config import ppo_preset, reinforce_preset
from typedrl.evaluation import evaluate


def test_read_spaces_one_hots_discrete_observations() -> None:
    layout = read_spaces("E", spaces.Discrete(16), spaces.Discrete(4))
    assert layout.flattened_observations
    assert layout.observation_shape == (16,)
    assert layout.observation_size == 16
    assert not read_spaces("E", spaces.Box(-1.0, 1.0, (3,)), spaces.Discrete(2)).flattened_observations


def test_ppo_collects_one_hot_observations_on_frozen_lake() -> None:
    algorithm = PPO(ppo_preset(env_id="FrozenLake-v1", num_envs=4, horizon=32, updates=2, seed=0))
    rollout = algorithm.collector.collect()
    assert rollout.observation_shape == (16,)
    assert torch.equal(rollout.observations.sum(-1), torch.ones(32, 4))  # one 1 per row, the rest 0
    assert bool(((rollout.observations == 0) | (rollout.observations == 1)).all())
    assert bool(rollout.observations[0, :, 0].eq(1).all())  # every episode starts in state 0
    stats = algorithm.update()
    algorithm.close()
    assert stats.env_steps == 128


def test_taxi_trains_with_ppo_and_reinforce() -> None:
    ppo = PPO(ppo_preset(env_id="Taxi-v4", num_envs=2, horizon=16, updates=1, seed=1))
    assert ppo.update().env_steps == 32
    ppo.close()
    reinforce = Reinforce(reinforce_preset(env_id="Taxi-v4", num_envs=2, min_steps_per_update=50, updates=1))
    assert reinforce.update().env_steps > 50
    reinforce.close()


def test_evaluation_one_hots_the_observation_for_the_actor() -> None:
    """An actor that moves right (action 2) exactly in state 0 and down (1) elsewhere: it sees state 0 only as
    the one-hot row e_0."""
    actor = nn.Linear(16, 4)
    with torch.no_grad():
        actor.weight.zero_()
        actor.bias.copy_(torch.tensor([0.0, 1.0, 0.0, 0.0]))
        actor.weight[2, 0] = 5.0
    result = evaluate(actor, "FrozenLake-v1", episodes=3, base_seed=0, max_steps=100, env_kwargs={"is_slippery": False})
    # Right to state 1, then down: 1 → 5, a hole on the 4x4 map. Two steps, reward 0.
    assert result.lengths == (2, 2, 2)
    assert result.returns == (0.0, 0.0, 0.0)
    assert np.isfinite(result.mean)
