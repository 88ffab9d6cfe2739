"""Dict and Tuple observations: checked part by part by the contract, flattened for the networks in the space's
order (Gymnasium's FlattenObservation), trained on by PPO and REINFORCE, evaluated."""

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
from typedrl.contract import Contract
from typedrl.envs import CheckedVectorEnv
from typedrl.errors import ConfigError, ContractViolation, InputError
from typedrl.evaluation import evaluate

ACTIONS = spaces.Discrete(2)


def test_read_spaces_flattens_dict_and_tuple_observations() -> None:
    space = spaces.Dict({"b": spaces.Box(-1.0, 1.0, (2, 3)), "a": spaces.Discrete(4)})
    layout = read_spaces("E", space, ACTIONS)
    assert (layout.observation_shape, layout.observation_size, layout.flattened_observations) == ((10,), 10, True)
    nested = spaces.Tuple((spaces.Discrete(3), spaces.Dict({"x": spaces.Box(0.0, 1.0, (2,))})))
    assert read_spaces("E", nested, ACTIONS).observation_shape == (5,)
    assert not read_spaces("E", spaces.Box(-1.0, 1.0, (3,)), ACTIONS).flattened_observations


@pytest.mark.parametrize(
    "space",
    [
        spaces.Dict({"text": spaces.Text(5)}),
        spaces.Tuple((spaces.Discrete(2), spaces.MultiBinary(2))),
        spaces.Dict({}),
        spaces.Tuple((spaces.Dict({"g": spaces.Graph(spaces.Box(0, 1, (1,)), None)}),)),
    ],
)
def test_unsupported_parts_are_refused_naming_the_space(space: gym.Space[Any]) -> None:
    with pytest.raises(ConfigError, match=r"env 'E' has .* observations; typedrl's agents support .*Dict or Tuple"):
        read_spaces("E", space, ACTIONS)


class DictEnv(gym.Env[dict[str, Any], np.int64]):
    """``{"b": Box(-1, 1, (2,)), "a": Discrete(3)}`` observations; reward 1 when the action is ``a`` mod 2."""

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (Gymnasium's class attribute)

    def __init__(self, nan_at: int | None = None) -> None:
        self.observation_space = spaces.Dict({"b": spaces.Box(-1.0, 1.0, (2,), np.float32), "a": spaces.Discrete(3)})
        self.action_space = ACTIONS
        self.nan_at = nan_at
        self.steps = 0
        self.state: dict[str, Any] = {}

    def _observe(self) -> dict[str, Any]:
        b = self.np_random.uniform(-1.0, 1.0, 2).astype(np.float32)
        if self.steps == self.nan_at:
            b[1] = np.nan
        self.state = {"b": b, "a": int(self.np_random.integers(3))}
        return dict(self.state)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        super().reset(seed=seed)
        self.steps = 0
        return self._observe(), {}

    def step(self, action: Any) -> Any:
        self.steps += 1
        reward = float(int(action) == self.state["a"] % 2)
        return self._observe(), reward, self.steps >= 10, False, {}


def test_ppo_trains_on_dict_observations_flattened_in_key_order() -> None:
    env = CheckedVectorEnv(gym.vector.SyncVectorEnv([DictEnv] * 4), env_id="DictEnv")
    algorithm = PPO(ppo_preset(num_envs=4, horizon=32, updates=15, epochs=4), env=env)
    for _ in range(15):
        algorithm.update()
    rollout = algorithm.collector.collect()
    assert rollout.observation_shape == (5,)  # "a" one-hot (3), then "b" (2): Gymnasium sorts the keys
    one_hot = rollout.observations[..., :3]
    assert bool((one_hot.sum(dim=-1) == 1).all())
    assert bool(((one_hot == 0) | (one_hot == 1)).all())
    assert bool((rollout.observations[..., 3:].abs() <= 1).all())
    algorithm.close()
    gym.register(id="typedrl-test/Dict-v0", entry_point=lambda **_: DictEnv())
    try:
        result = evaluate(algorithm.actor, "typedrl-test/Dict-v0", episodes=4)
    finally:
        del gym.registry["typedrl-test/Dict-v0"]
    assert result.mean >= 9.0, result  # the best action from the one-hot part: 10; a coin averages 5


def test_the_contract_checks_dict_observations_part_by_part() -> None:
    env = CheckedVectorEnv(gym.vector.SyncVectorEnv([lambda: DictEnv(nan_at=3)] * 2), env_id="DictEnv")
    env.reset(seed=0)
    env.step(np.zeros(2, dtype=np.int64))
    env.step(np.zeros(2, dtype=np.int64))
    with pytest.raises(ContractViolation, match=r"DictEnv step 3, env 0: observation\['b'\]\[1\] is nan"):
        env.step(np.zeros(2, dtype=np.int64))
    contract = Contract(DictEnv().observation_space, ACTIONS, env_id="E")
    with pytest.raises(ContractViolation, match=r"observation is a dict with the keys \['a'\]; expected a dict"):
        contract.check_reset(({"a": 1}, {}))
    with pytest.raises(
        ContractViolation, match=r"E reset: observation\['a'\] is 3; expected an observation in Discrete\(3\)"
    ):
        contract.check_reset(({"a": 3, "b": np.zeros(2, np.float32)}, {}))
    with pytest.raises(InputError, match="observation_bounds is for array spaces"):
        Contract(DictEnv().observation_space, ACTIONS, observation_bounds=(0, 1))


def test_ppo_and_reinforce_train_on_blackjack_tuple_observations() -> None:
    """Blackjack-v1: Tuple(Discrete(32), Discrete(11), Discrete(2)), 45 numbers one-hot in three parts."""
    algorithm = PPO(ppo_preset(env_id="Blackjack-v1", num_envs=4, horizon=16, updates=2))
    algorithm.update()
    rollout = algorithm.collector.collect()
    assert rollout.observation_shape == (45,)
    parts = torch.split(rollout.observations, [32, 11, 2], dim=-1)
    assert all(bool((part.sum(dim=-1) == 1).all()) for part in parts)
    algorithm.close()
    reinforce = Reinforce(reinforce_preset(env_id="Blackjack-v1", num_envs=4, updates=1, min_steps_per_update=32))
    assert reinforce.update().episode_returns
    reinforce.close()
    result = evaluate(algorithm.actor, "Blackjack-v1", episodes=3)
    assert all(value in (-1.0, 0.0, 1.0, 1.5) for value in result.returns)
