"""Greedy evaluation on real Gymnasium environments.

The oracle is a plain loop: a single ``gymnasium.make`` env reset with ``base_seed + k`` and stepped with the
argmax of the same actor must give episode ``k``'s return and length exactly.
"""

import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from typedrl.errors import ContractViolation, EvaluationError
from typedrl.evaluation import EvalResult, evaluate


def lean_actor() -> nn.Linear:
    """Logits ``(−x, x)`` with ``x = θ + θ̇``: push towards the pole's lean, which balances CartPole well."""
    actor = nn.Linear(4, 2)
    with torch.no_grad():
        actor.weight.copy_(torch.tensor([[0.0, 0.0, -1.0, -1.0], [0.0, 0.0, 1.0, 1.0]]))
        actor.bias.zero_()
    return actor


def random_actor(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 2))


def play_one(actor: nn.Module, env_id: str, seed: int) -> tuple[float, int]:
    """The oracle: one episode in a plain single env, greedy actions, no step cap beyond the env's own."""
    env = gym.make(env_id)
    observation, _ = env.reset(seed=seed)
    total, length, done = 0.0, 0, False
    while not done:
        with torch.no_grad():
            logits = actor(torch.as_tensor(observation, dtype=torch.float32)[None])
        observation, reward, terminated, truncated, _ = env.step(int(logits.argmax()))
        total, length, done = total + float(reward), length + 1, bool(terminated or truncated)
    env.close()
    return total, length


def test_matches_single_env_episodes_seeded_base_seed_plus_k() -> None:
    actor = random_actor(3)
    result = evaluate(actor, "CartPole-v1", episodes=4, base_seed=10)
    expected = [play_one(actor, "CartPole-v1", 10 + k) for k in range(4)]
    assert list(result.returns) == [total for total, _ in expected]
    assert list(result.lengths) == [length for _, length in expected]
    assert result.capped == (False,) * 4


def test_lean_policy_balances_cartpole() -> None:
    result = evaluate(lean_actor(), "CartPole-v1", episodes=10, base_seed=0)
    assert len(result.returns) == 10
    assert result.mean >= 450.0
    assert result.max == 500.0  # the env's own time limit ends the best episodes
    assert all(length == total for length, total in zip(result.lengths, result.returns, strict=True))


def test_same_weights_and_seeds_give_the_same_result() -> None:
    first = evaluate(random_actor(1), "CartPole-v1", episodes=6, base_seed=5)
    second = evaluate(random_actor(1), "CartPole-v1", episodes=6, base_seed=5)
    other = evaluate(random_actor(1), "CartPole-v1", episodes=6, base_seed=6)
    assert first == second
    assert other.returns[:5] == first.returns[1:]  # episode k of base seed 6 is episode k + 1 of base seed 5


def test_max_steps_cuts_episodes_which_count_with_the_return_reached() -> None:
    result = evaluate(lean_actor(), "CartPole-v1", episodes=3, max_steps=25)
    assert result.returns == (25.0, 25.0, 25.0)
    assert result.lengths == (25, 25, 25)
    assert result.capped == (True, True, True)


def test_other_classic_control_env() -> None:
    zero = nn.Linear(6, 3)
    nn.init.zeros_(zero.weight)
    nn.init.zeros_(zero.bias)
    result = evaluate(zero, "Acrobot-v1", episodes=2, max_steps=40)
    assert result.returns == (-40.0, -40.0)  # −1 per step until the cap; a hanging Acrobot never terminates


def test_training_flags_are_restored_and_dropout_is_off() -> None:
    actor = nn.Sequential(nn.Linear(4, 32), nn.Dropout(0.5), nn.Linear(32, 2))
    torch.manual_seed(0)
    actor[2].eval()  # a submodule the caller keeps in eval mode must stay so
    first = evaluate(actor, "CartPole-v1", episodes=3)
    assert actor.training
    assert actor[1].training
    assert not actor[2].training
    assert evaluate(actor, "CartPole-v1", episodes=3) == first  # no dropout noise during evaluation


def test_eval_result_statistics_and_str() -> None:
    result = EvalResult(returns=(1.0, 2.0, 6.0), lengths=(1, 2, 6), capped=(False, False, True))
    assert (result.mean, result.min, result.max) == (3.0, 1.0, 6.0)
    assert result.std == pytest.approx((14 / 3) ** 0.5)  # population standard deviation
    assert str(result) == "3 episodes: mean 3.00 ± 2.16 (min 1.00, max 6.00)"
    with pytest.raises(EvaluationError, match="expected one of each per episode"):
        EvalResult(returns=(1.0,), lengths=(1, 2), capped=(False,))
    with pytest.raises(EvaluationError, match="returns is empty"):
        EvalResult(returns=(), lengths=(), capped=())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"episodes": 0}, "evaluate: episodes is 0; expected an int >= 1"),
        ({"episodes": True}, "evaluate: episodes is True (a bool); expected an int >= 1"),
        ({"episodes": 2.0}, "evaluate: episodes is 2.0; expected an int >= 1"),
        ({"device": "cuda:99"}, "evaluate: device is 'cuda:99', but this torch sees no CUDA device; use 'cpu'"),
        ({"device": "gpu"}, "evaluate: device is 'gpu'; expected a device torch knows, such as 'cpu' or 'cuda'"),
        ({"device": 3.5}, "evaluate: device is 3.5; expected a torch.device or a string such as 'cpu' or 'cuda'"),
        ({"max_steps": 0}, "evaluate: max_steps is 0; expected an int >= 1"),
        ({"base_seed": -1}, "evaluate: base_seed is -1; expected an int >= 0"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    if "device" in kwargs and torch.cuda.is_available():
        pytest.skip("the messages are those of a torch without CUDA")
    with pytest.raises(EvaluationError) as caught:
        evaluate(lean_actor(), "CartPole-v1", **kwargs)
    assert str(caught.value) == message


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error shown when CUDA is absent")
def test_cuda_without_cuda_is_a_typed_error() -> None:
    with pytest.raises(EvaluationError) as caught:
        evaluate(lean_actor(), "CartPole-v1", device="cuda")
    assert str(caught.value) == "evaluate: device is 'cuda', but this torch sees no CUDA device; use 'cpu'"


def test_numpy_integers_are_integers() -> None:
    counts: Any = (np.int64(2), np.uint32(7), np.int32(9))  # accepted at run time; annotated as int
    result = evaluate(lean_actor(), "CartPole-v1", episodes=counts[0], base_seed=counts[1], max_steps=counts[2])
    assert result.lengths == (9, 9)


def test_box_actions_are_the_actors_mean_clipped_to_the_bounds() -> None:
    """Pendulum's torque is in [-2, 2]: an actor asking for 10 gets 2, exactly as a clipped actor does."""
    far, clipped = nn.Linear(3, 1), nn.Linear(3, 1)
    with torch.no_grad():
        far.weight.zero_()
        far.bias.fill_(10.0)
        clipped.weight.zero_()
        clipped.bias.fill_(2.0)
    first = evaluate(far, "Pendulum-v1", episodes=2, base_seed=5, max_steps=200)
    second = evaluate(clipped, "Pendulum-v1", episodes=2, base_seed=5, max_steps=200)
    assert first == second
    assert first.lengths == (200, 200)
    assert all(math.isfinite(value) and value < 0 for value in first.returns)


def test_unsupported_environments_and_actors() -> None:
    with pytest.raises(EvaluationError, match=r"^evaluate: cannot make 'NoSuchEnv-v0': "):
        evaluate(lean_actor(), "NoSuchEnv-v0")
    with pytest.raises(EvaluationError) as caught:
        evaluate(nn.Linear(3, 2), "Pendulum-v1", episodes=2)
    assert str(caught.value) == "evaluate: step 0: the actor returned (2, 2); expected action means of shape (2, 1)"
    for env_id in ("unsupported_envs:typedrl-test/TextObservations-v0",):  # Text observations: one message
        with pytest.raises(EvaluationError, match=rf"^env '{env_id}' has Text\(.* observations; typedrl's agents"):
            evaluate(nn.Linear(1, 2), env_id)
    with pytest.raises(EvaluationError) as caught:  # an actor made for other observations: named, not a raw error
        evaluate(nn.Linear(1, 2), "Blackjack-v1", episodes=2)
    assert str(caught.value).startswith(
        "evaluate: step 0: the actor raised RuntimeError on observations of shape (2, 45): mat1 and mat2 shapes"
    )
    with pytest.raises(EvaluationError) as caught:
        evaluate(nn.Linear(4, 3), "CartPole-v1", episodes=2)
    assert str(caught.value) == "evaluate: step 0: the actor returned (2, 3); expected logits of shape (2, 2)"
    with pytest.raises(EvaluationError, match=r"^evaluate: actor is a function; expected a torch.nn.Module$"):
        evaluate(lambda x: x, "CartPole-v1")  # type: ignore[arg-type]


class _NanLogits(nn.Module):
    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(observations.shape[0], 2)
        logits[-1, 0] = float("nan")
        return logits


def test_non_finite_logits_are_refused() -> None:
    with pytest.raises(EvaluationError) as caught:
        evaluate(_NanLogits(), "CartPole-v1", episodes=3)
    assert str(caught.value) == "evaluate: step 0, episode 2: the actor's logits are not finite"


class _Corridor(gym.Env[np.ndarray, np.int64]):
    """Actions are 1 (forward) or 2 (stay); the observation turns NaN at ``nan_at`` steps, the episode ends at 5."""

    def __init__(self, nan_at: int = -1) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2, start=1)
        self.nan_at, self.position, self.steps = nan_at, 0, 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.position, self.steps = 0, 0
        return np.zeros(1, np.float32), {}

    def step(self, action: np.int64) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if action not in (1, 2):
            raise ValueError(f"action {action} outside Discrete(2, start=1)")
        self.steps += 1
        self.position += action == 1
        value = np.nan if self.steps == self.nan_at else float(self.position)
        return np.array([value], np.float32), float(action == 1), self.steps == 5, False, {}


def _make_corridor(**kwargs: Any) -> gym.Env[Any, Any]:
    return _Corridor(**kwargs)


gym.register("TypedRLTest/Corridor-v0", entry_point=_make_corridor)


def test_discrete_start_offset_and_non_finite_observations() -> None:
    forward = nn.Linear(1, 2)  # logits (1, 0): index 0 is action 1, "forward"
    nn.init.zeros_(forward.weight)
    with torch.no_grad():
        forward.bias.copy_(torch.tensor([1.0, 0.0]))
    assert evaluate(forward, "TypedRLTest/Corridor-v0", episodes=2).returns == (5.0, 5.0)
    # Evaluation steps go through the environment contract, as training steps do.
    with pytest.raises(ContractViolation) as caught:
        evaluate(forward, "TypedRLTest/Corridor-v0", episodes=2, env_kwargs={"nan_at": 3})
    message = "TypedRLTest/Corridor-v0 step 3, env 0: observation[0] is nan; expected a finite float32"
    assert str(caught.value).startswith(message)
