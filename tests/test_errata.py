"""Space errata: LunarLander-v3's height passes its declared bound in normal play (Gymnasium #377, #752); the
contract holds it to what it really does, and still checks the rest."""

from typing import cast

import gymnasium as gym
import numpy as np
import pytest
from torch import nn

from typedrl.envs import SPACE_ERRATA, CheckedVectorEnv, errata_options, make_env
from typedrl.errors import ContractViolation
from typedrl.evaluation import evaluate

MAIN_ENGINE = 2


def _fly_up(env: gym.vector.VectorEnv, steps: int = 117) -> float:
    env.reset(seed=1)  # seed 1: firing the main engine takes the lander to a height of about 5.3
    top = 0.0
    for _ in range(steps):
        observations, *_ = env.step(np.full(env.num_envs, MAIN_ENGINE))
        top = max(top, float(observations[0, 1]))
    return top


def test_the_declared_bound_is_broken_in_play_and_the_contract_says_so_without_the_erratum() -> None:
    raw = gym.make_vec("LunarLander-v3", num_envs=1, vectorization_mode="sync")
    space = cast("gym.spaces.Box", raw.single_observation_space)
    strict = CheckedVectorEnv(raw, env_id="LunarLander-v3", observation_bounds=(space.low, space.high))
    with pytest.raises(
        ContractViolation, match=r"LunarLander-v3 step \d+, env 0: observation\[1\] is 2\.5\d*; expected"
    ):
        _fly_up(strict)
    strict.close()


def test_make_env_applies_the_erratum_and_checks_everything_else() -> None:
    env = make_env("LunarLander-v3", num_envs=1)
    assert _fly_up(env) > 2.5  # no violation: the height is unbounded above
    assert env.contract.observation_bounds is not None
    low, high = (np.asarray(bound) for bound in env.contract.observation_bounds)
    space = cast("gym.spaces.Box", env.single_observation_space)
    assert np.isinf(high[1])
    assert np.array_equal(np.delete(high, 1), np.delete(space.high, 1))
    assert np.array_equal(low, space.low)
    env.close()


def test_evaluation_applies_it_too() -> None:
    actor = nn.Linear(8, 4)
    actor.weight.data.zero_()
    actor.bias.data.zero_()
    actor.bias.data[MAIN_ENGINE] = 1.0  # always the main engine: the lander climbs past 2.5
    result = evaluate(actor, "LunarLander-v3", episodes=2, base_seed=1, max_steps=200)
    assert len(result.returns) == 2


def test_errata_are_keyed_by_registered_id() -> None:
    assert set(SPACE_ERRATA) == {"LunarLander-v3"}
    assert errata_options("CartPole-v1", gym.spaces.Box(-1, 1, (4,))) == {}
    assert errata_options("LunarLander-v3", gym.spaces.Discrete(3)) == {}  # not the space it is about
