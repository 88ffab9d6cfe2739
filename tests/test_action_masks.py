"""Action masks: read from ``action_masks()`` or ``info["action_mask"]``, recorded, and honoured by PPO, REINFORCE
and evaluation (sb3-contrib's MaskablePPO convention)."""

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from torch import Tensor, nn

from typedrl.algos.ppo import PPO
from typedrl.algos.reinforce import Reinforce
from typedrl.collect import PolicyStep, RolloutCollector
from typedrl.config import ppo_preset, reinforce_preset
from typedrl.envs import CheckedVectorEnv
from typedrl.errors import EvaluationError, RolloutError
from typedrl.evaluation import evaluate
from typedrl.masks import ActionMaskReader, mask_logits
from typedrl.policies import ActorCritic
from typedrl.records import Rollout

ACTIONS = 4
LENGTH = 8


class MaskedChoice(gym.Env[np.ndarray, np.int64]):
    """Each step allows a random non-empty subset of 4 actions (the observation is that subset as 0/1); reward 1
    for the highest allowed action. A masked action is refused with an exception: any agent that ignores the masks
    fails. The masks come from ``action_masks()``; 8-step episodes."""

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (Gymnasium's class attribute)

    def __init__(self, mask: list[bool] | None = None) -> None:
        self.observation_space = spaces.Box(0.0, 1.0, (ACTIONS,), np.float32)
        self.action_space = spaces.Discrete(ACTIONS)
        self.fixed = None if mask is None else np.array(mask, dtype=np.bool_)
        self.allowed = np.ones(ACTIONS, dtype=np.bool_)
        self.steps = 0

    def _draw(self) -> tuple[np.ndarray, dict[str, Any]]:
        if self.fixed is not None:
            self.allowed = self.fixed.copy()
        else:
            self.allowed = self.np_random.random(ACTIONS) < 0.5
            self.allowed[self.np_random.integers(ACTIONS)] = True
        return self.allowed.astype(np.float32), self.info()

    def info(self) -> dict[str, Any]:
        return {}

    def action_masks(self) -> np.ndarray:
        return self.allowed.copy()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        super().reset(seed=seed)
        self.steps = 0
        return self._draw()

    def step(self, action: Any) -> Any:
        if not self.allowed[int(action)]:
            raise ValueError(f"action {int(action)} is masked; allowed {self.allowed.tolist()}")
        self.steps += 1
        reward = float(int(action) == int(np.flatnonzero(self.allowed)[-1]))
        observation, info = self._draw()
        return observation, reward, self.steps >= LENGTH, False, info


def _masked(**kwargs: Any) -> MaskedChoice:
    return MaskedChoice(**kwargs)


class InfoMaskedChoice(MaskedChoice):
    """:class:`MaskedChoice` with its masks in ``info["action_mask"]`` (int8, as Taxi), no method."""

    action_masks = None  # type: ignore[assignment]  # not a method: not read

    def info(self) -> dict[str, Any]:
        return {"action_mask": self.allowed.astype(np.int8)}


def _vector(env: type[MaskedChoice], count: int, mode: AutoresetMode = AutoresetMode.NEXT_STEP) -> CheckedVectorEnv:
    return CheckedVectorEnv(gym.vector.SyncVectorEnv([env] * count, autoreset_mode=mode), env_id=env.__name__)


@pytest.mark.parametrize("env", [MaskedChoice, InfoMaskedChoice])
def test_ppo_sends_only_allowed_actions_and_learns_the_best_one(env: type[MaskedChoice]) -> None:
    config = ppo_preset(num_envs=8, horizon=32, updates=12, epochs=4, minibatches=2, eval={"every": 0})
    algorithm = PPO(config, env=_vector(env, 8))
    for _ in range(config.updates):
        algorithm.update()  # MaskedChoice raises on any masked action
    rollout = algorithm.collector.collect()
    assert rollout.action_masks is not None
    assert rollout.action_masks.shape == (32, 8, ACTIONS)
    assert bool(rollout.action_masks.gather(-1, rollout.actions.unsqueeze(-1)).all())
    # The observation is the mask: the recorded masks are those of the observations they were recorded with.
    assert torch.equal(rollout.action_masks, rollout.observations.bool())
    algorithm.close()
    # Greedy evaluation through a registered id: it reads the masks too, and the policy picks the best allowed.
    gym.register(id="typedrl-test/MaskedChoice-v0", entry_point=lambda **_: env())
    try:
        result = evaluate(algorithm.actor, "typedrl-test/MaskedChoice-v0", episodes=5, max_steps=LENGTH)
    finally:
        del gym.registry["typedrl-test/MaskedChoice-v0"]
    assert result.mean >= LENGTH - 1, result  # a uniform allowed choice averages about 4.4


def test_without_the_masks_the_strict_environment_refuses_an_action() -> None:
    """The check of the test above can fail: an agent that ignores masks is refused."""
    config = ppo_preset(num_envs=8, horizon=32, updates=1)
    algorithm = PPO(config, env=_vector(MaskedChoice, 8))
    assert isinstance(algorithm.collector, RolloutCollector)
    algorithm.collector._mask_groups = None  # as a collector that does not read masks
    with pytest.raises(Exception, match="is masked"):
        algorithm.update()
    algorithm.close()


class LowestAllowed:
    """A deterministic policy: the lowest allowed action, value = the observation's sum (rows independent)."""

    def act(self, observations: Tensor, action_masks: Tensor | None = None) -> PolicyStep:
        assert action_masks is not None
        actions = action_masks.long().argmax(dim=-1)
        return PolicyStep(actions, torch.zeros(len(actions)), observations.sum(dim=-1))

    def value(self, observations: Tensor) -> Tensor:
        return observations.sum(dim=-1)


@pytest.mark.parametrize("env", [MaskedChoice, InfoMaskedChoice])
def test_masks_are_recorded_the_same_in_every_autoreset_mode(env: type[MaskedChoice]) -> None:
    rollouts: list[list[Rollout]] = []
    for mode in AutoresetMode:
        collector = RolloutCollector(_vector(env, 3, mode), LowestAllowed(), horizon=11, seed=5)
        rollouts.append([collector.collect() for _ in range(3)])
        collector.env.close()
    for other in rollouts[1:]:
        for first, second in zip(rollouts[0], other, strict=True):
            assert first.action_masks is not None
            assert second.action_masks is not None
            assert torch.equal(first.action_masks, second.action_masks)
            assert torch.equal(first.actions, second.actions)
            assert torch.equal(first.observations, second.observations)
    for rollout in rollouts[0]:
        assert rollout.action_masks is not None
        assert torch.equal(rollout.action_masks, rollout.observations.bool())


def test_taxi_masks_are_the_environments_own() -> None:
    """Taxi-v4 (Discrete observations, one-hot) puts its mask in info: the records hold Taxi's own masks."""
    config = ppo_preset(env_id="Taxi-v4", num_envs=4, horizon=64, updates=2)
    algorithm = PPO(config)
    algorithm.update()
    rollout = algorithm.collector.collect()
    taxi = gym.make("Taxi-v4").unwrapped
    assert rollout.action_masks is not None
    states = rollout.observations.argmax(dim=-1)
    for t in range(rollout.horizon):
        for n in range(rollout.n_envs):
            expected = torch.from_numpy(taxi.action_mask(int(states[t, n])).astype(bool))  # type: ignore[attr-defined]
            assert torch.equal(rollout.action_masks[t, n], expected)
    assert bool(rollout.action_masks.gather(-1, rollout.actions.unsqueeze(-1)).all())
    algorithm.close()


def test_reinforce_sends_only_allowed_actions() -> None:
    config = reinforce_preset(num_envs=4, updates=3, min_steps_per_update=64)
    algorithm = Reinforce(config, env=_vector(MaskedChoice, 4))
    for _ in range(config.updates):
        stats = algorithm.update()
    assert 0.0 < stats.entropy < np.log(ACTIONS)  # masked actions take no probability
    algorithm.close()


class MaskedMultiDiscrete(gym.Env[np.ndarray, np.ndarray]):
    """MultiDiscrete([3, 2]); component 0 may only take 2, component 1 only 0: a masked choice is refused."""

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (Gymnasium's class attribute)

    def __init__(self) -> None:
        self.observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = spaces.MultiDiscrete([3, 2])
        self.steps = 0

    def action_masks(self) -> np.ndarray:
        return np.array([False, False, True, True, False])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        super().reset(seed=seed)
        self.steps = 0
        return np.zeros(2, dtype=np.float32), {}

    def step(self, action: Any) -> Any:
        if tuple(int(a) for a in action) != (2, 0):
            raise ValueError(f"action {action} is masked")
        self.steps += 1
        return np.zeros(2, dtype=np.float32), 1.0, self.steps >= 5, False, {}


def test_multi_discrete_masks_cover_each_component() -> None:
    env = CheckedVectorEnv(gym.vector.SyncVectorEnv([MaskedMultiDiscrete] * 2), env_id="MaskedMultiDiscrete")
    algorithm = PPO(ppo_preset(num_envs=2, horizon=16, updates=2), env=env)
    for _ in range(2):
        stats = algorithm.update()
    assert stats.entropy == 0.0  # one allowed choice per component
    algorithm.close()


class _Masks(MaskedChoice):
    """Masks that break the rules at the third step of env 1 (``bad`` is what ``action_masks()`` returns)."""

    bad: Any = np.zeros(ACTIONS, dtype=np.bool_)

    def action_masks(self) -> Any:
        index = int(self.np_random_seed or 0) % 2
        return self.bad if index == 1 and self.steps == 3 else super().action_masks()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros(ACTIONS, dtype=np.bool_), r"step 3, env 1: action_masks\(\) allows no action; expected at least one"),
        (np.array([0, 2, 1, 0]), r"step 3, env 1: action_masks\(\)\[1\] is 2; expected 0 or 1"),
        (
            np.ones(ACTIONS + 1, dtype=np.bool_),
            r"step 3, env 1: action_masks\(\) returned a bool array of shape \(5,\); expected 4 flags",
        ),
    ],
)
def test_a_bad_mask_is_an_error_naming_the_step_and_the_env(bad: Any, message: str) -> None:
    class Bad(_Masks):
        pass

    Bad.bad = bad
    env = CheckedVectorEnv(gym.vector.SyncVectorEnv([Bad, Bad]), env_id="Bad")
    collector = RolloutCollector(env, LowestAllowed(), horizon=8, seed=0)
    with pytest.raises(RolloutError, match=f"RolloutCollector: {message}"):
        collector.collect()
    env.close()


def test_info_masks_that_stop_coming_are_an_error() -> None:
    class Stops(InfoMaskedChoice):
        def info(self) -> dict[str, Any]:
            return super().info() if self.steps < 2 else {}

    collector = RolloutCollector(_vector(Stops, 2), LowestAllowed(), horizon=8, seed=0)
    with pytest.raises(RolloutError, match=r"step 2, env 0: info has no 'action_mask'"):
        collector.collect()


def test_evaluation_takes_the_best_allowed_action() -> None:
    """An actor that prefers action 0 above all, on an env that never allows it, gets action 3 next."""
    actor = nn.Linear(ACTIONS, ACTIONS)
    with torch.no_grad():
        actor.weight.zero_()
        actor.bias.copy_(torch.tensor([9.0, 1.0, 2.0, 3.0]))
    gym.register(id="typedrl-test/Masked-v0", entry_point=_masked, kwargs={"mask": [False, True, False, True]})
    try:
        result = evaluate(actor, "typedrl-test/Masked-v0", episodes=2, max_steps=LENGTH)
    finally:
        del gym.registry["typedrl-test/Masked-v0"]
    assert result.returns == (LENGTH, LENGTH)  # action 3, the best allowed, every step


def test_evaluation_names_a_bad_mask() -> None:
    gym.register(id="typedrl-test/NoAction-v0", entry_point=_masked, kwargs={"mask": [False] * ACTIONS})
    try:
        with pytest.raises(EvaluationError, match=r"evaluate: step 0, env 0: action_masks\(\) allows no action"):
            evaluate(nn.Linear(ACTIONS, ACTIONS), "typedrl-test/NoAction-v0", episodes=2)
    finally:
        del gym.registry["typedrl-test/NoAction-v0"]


def test_masked_sampling_log_probs_and_entropy_stay_finite() -> None:
    model = ActorCritic(3, 5)
    observations = torch.randn(64, 3)
    masks = torch.rand(64, 5) < 0.4
    masks[:, 2] = True
    noise = torch.rand(64)
    step = model.act(observations, noise, masks)
    assert bool(masks.gather(1, step.actions[:, None]).all())
    logits = mask_logits(model.logits(observations), masks)
    log_probs, entropy = model.log_prob_and_entropy(logits, step.actions)
    assert torch.allclose(log_probs, step.log_probs)
    assert bool(torch.isfinite(log_probs).all() and torch.isfinite(entropy).all())
    entropy.sum().backward()  # type: ignore[no-untyped-call]
    assert all(bool(torch.isfinite(p.grad).all()) for p in model.parameters() if p.grad is not None)
    greedy = model.greedy(observations, masks)
    assert bool(masks.gather(1, greedy[:, None]).all())


def test_records_check_their_masks() -> None:
    base: dict[str, Any] = {
        "observations": torch.zeros(2, 3, 1),
        "actions": torch.zeros(2, 3, dtype=torch.int64),
        **{name: torch.zeros(2, 3) for name in ("log_probs", "rewards", "values", "next_values")},
        "terminated": torch.zeros(2, 3, dtype=torch.bool),
        "truncated": torch.zeros(2, 3, dtype=torch.bool),
        "horizon": 2,
    }
    assert Rollout(**base, action_masks=torch.ones(2, 3, 4, dtype=torch.bool)).action_masks is not None
    cases = [
        (torch.ones(2, 3, 4), "action_masks has dtype torch.float32; expected torch.bool"),
        (torch.ones(2, 2, 4, dtype=torch.bool), r"action_masks has shape \(2, 2, 4\); expected \[2, 3, A\]"),
        (torch.zeros(2, 3, 4, dtype=torch.bool), r"action_masks\[0, 0\] allows no action"),
    ]
    for masks, message in cases:
        with pytest.raises(RolloutError, match=message):
            Rollout(**base, action_masks=masks)
    sample = Rollout(**base, action_masks=torch.ones(2, 3, 4, dtype=torch.bool)).to_actor_critic_sample(
        gamma=0.9, lam=0.9
    )
    assert sample.action_masks is not None
    assert sample.action_masks.shape == (6, 4)


def test_a_reader_finds_no_masks_where_there_are_none() -> None:
    env = gym.make_vec("CartPole-v1", num_envs=2)
    _, info = env.reset(seed=0)
    assert ActionMaskReader.detect(env, info, (2,), where="t", error=RolloutError) is None
    env.close()


def test_masks_are_read_from_an_async_vector_env() -> None:
    """AsyncVectorEnv workers answer ``action_masks()`` through ``call``; an env without it is asked quietly."""
    env = CheckedVectorEnv(gym.vector.AsyncVectorEnv([MaskedChoice] * 2), env_id="MaskedChoice")
    collector = RolloutCollector(env, LowestAllowed(), horizon=6, seed=1)
    rollout = collector.collect()
    assert collector.masks is not None
    assert collector.masks.source == "action_masks()"
    assert rollout.action_masks is not None
    assert torch.equal(rollout.action_masks, rollout.observations.bool())
    env.close()
    plain = gym.vector.AsyncVectorEnv([lambda: gym.make("CartPole-v1")] * 2)
    _, info = plain.reset(seed=0)
    assert ActionMaskReader.detect(plain, info, (2,), where="t", error=RolloutError) is None
    plain.close()
