"""Step, Rollout and ActorCriticSample: invariants, exact error messages, the sample against typedrl.spec."""

import math
from typing import Any

import jaxtyping
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import Tensor

from typedrl import spec
from typedrl.checks import shape_checks
from typedrl.errors import RolloutError
from typedrl.records import ActorCriticSample, Rollout, Step, _bind_rollout_dimensions
from typedrl.returns import gae, lambda_returns

T, N = 6, 3
FLOATS = ("log_probs", "rewards", "values", "next_values")
TENSOR_FIELDS = ("observations", "actions", *FLOATS, "terminated", "truncated")


def rollout_fields(horizon: int = T, n_envs: int = N, *, seed: int = 0, dtype: torch.dtype = torch.float32) -> Any:
    """Valid random fields for a Rollout, with a termination and a truncation inside (given room)."""
    generator = torch.Generator().manual_seed(seed)
    terminated = torch.zeros(horizon, n_envs, dtype=torch.bool)
    truncated = torch.zeros(horizon, n_envs, dtype=torch.bool)
    terminated[1 % horizon, 0] = True
    truncated[2 % horizon, n_envs - 1] = True

    def floats() -> Tensor:
        return torch.randn(horizon, n_envs, generator=generator, dtype=dtype)

    return {
        "observations": torch.randn(horizon, n_envs, 4, generator=generator),
        "actions": torch.randint(0, 2, (horizon, n_envs), generator=generator),
        "log_probs": -floats().abs(),
        "rewards": floats(),
        "values": floats(),
        "next_values": floats(),
        "terminated": terminated,
        "truncated": truncated,
        "horizon": horizon,
    }


def rollout_error(**changes: Any) -> str:
    fields = rollout_fields()
    fields.update(changes)
    with pytest.raises(RolloutError) as caught:
        Rollout(**fields)
    return str(caught.value)


def make_step(**changes: Any) -> Step:
    fields: dict[str, Any] = {
        "observation": torch.tensor([0.1, -0.2, 0.3, 0.0]),
        "action": 1,
        "log_prob": -0.5,
        "reward": 1.0,
        "value": 2.0,
        "next_value": 2.5,
        "terminated": False,
        "truncated": False,
    }
    fields.update(changes)
    return Step(**fields)


# --- Step ---------------------------------------------------------------------------------------------------------


def test_step_normalizes_numbers_and_derives_done() -> None:
    step = make_step(action=np.int64(1), reward=np.float32(1.5), truncated=np.bool_(True))
    assert type(step.action) is int
    assert type(step.reward) is float
    assert step.truncated is True
    assert step.done
    assert not make_step().done


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"action": -1}, "Step: action is -1; expected a non-negative int"),
        ({"action": True}, "Step: action is True (bool); expected a non-negative int or a floating tensor"),
        ({"action": 1.0}, "Step: action is 1.0 (float); expected a non-negative int or a floating tensor"),
        ({"reward": math.nan}, "Step: reward is nan; expected a finite float"),
        ({"value": math.inf}, "Step: value is inf; expected a finite float"),
        ({"log_prob": "x"}, "Step: log_prob is 'x' (str); expected a finite float"),
        ({"next_value": False}, "Step: next_value is False (bool); expected a finite float"),
        ({"terminated": 1}, "Step: terminated is 1 (int); expected a bool"),
        ({"observation": [0.0]}, "Step: observation is a list; expected a float torch.Tensor"),
        ({"observation": torch.tensor([1, 2])}, "Step: observation has dtype torch.int64; expected a floating dtype"),
        ({"observation": torch.tensor([0.0, math.nan])}, "Step: observation[1] is nan; expected finite values"),
        (
            {"observation": torch.tensor([[0.0], [-math.inf]])},
            "Step: observation[1, 0] is -inf; expected finite values",
        ),
    ],
)
def test_step_errors(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(RolloutError) as caught:
        make_step(**changes)
    assert str(caught.value) == message


# --- Rollout: the horizon invariant and the other checks ---------------------------------------------------------


def test_valid_rollout_properties() -> None:
    rollout = Rollout(**rollout_fields())
    assert (rollout.horizon, rollout.n_envs, rollout.observation_shape) == (T, N, (4,))
    assert torch.equal(rollout.done, rollout.terminated | rollout.truncated)
    assert repr(rollout) == "Rollout(horizon=6, n_envs=3, observation_shape=(4,), dtype=torch.float32, device=cpu)"


@pytest.mark.parametrize("name", TENSOR_FIELDS)
def test_each_field_with_a_wrong_horizon(name: str) -> None:
    shorter = rollout_fields()[name][:-1]
    assert rollout_error(**{name: shorter}) == f"Rollout: {name} has {T - 1} steps; expected horizon {T}"


def test_horizon_is_checked_even_with_shape_checks_off() -> None:
    with shape_checks(False):
        message = rollout_error(horizon=T + 1)
    assert message == f"Rollout: observations has {T} steps; expected horizon {T + 1}"


@pytest.mark.parametrize("name", TENSOR_FIELDS[1:])
def test_each_field_with_a_different_number_of_envs(name: str) -> None:
    fewer = rollout_fields()[name][:, :-1]
    assert rollout_error(**{name: fewer}) == f"Rollout: {name} has {N - 1} envs; expected {N} (as observations)"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"horizon": 0}, "Rollout: horizon is 0; expected an int >= 1"),
        ({"horizon": True}, "Rollout: horizon is True (a bool); expected an int >= 1"),
        ({"rewards": [1.0] * T}, "Rollout: rewards is a list; expected a torch.Tensor"),
        ({"rewards": torch.zeros(T)}, "Rollout: rewards has shape (6,); expected [T, N]"),
        ({"observations": torch.zeros(T)}, "Rollout: observations has shape (6,); expected [T, N, *obs]"),
        (
            {"actions": torch.zeros(T, N, dtype=torch.int32)},
            "Rollout: actions has dtype torch.int32; expected torch.int64 (discrete) or a floating dtype (Box)",
        ),
        (
            {"observations": torch.zeros(T, N, 4, dtype=torch.int64)},
            "Rollout: observations has dtype torch.int64; expected a floating dtype",
        ),
        (
            {"rewards": torch.zeros(T, N, dtype=torch.int64)},
            "Rollout: rewards has dtype torch.int64; expected a floating dtype",
        ),
        (
            {"values": torch.zeros(T, N, dtype=torch.float64)},
            "Rollout: values has dtype torch.float64; expected torch.float32 (as rewards)",
        ),
        ({"truncated": torch.zeros(T, N)}, "Rollout: truncated has dtype torch.float32; expected torch.bool"),
        ({"values": torch.zeros(T, N, device="meta")}, "Rollout: values is on meta; expected cpu (as observations)"),
    ],
)
def test_rollout_errors(changes: dict[str, Any], message: str) -> None:
    assert rollout_error(**changes) == message


def test_negative_action() -> None:
    actions = torch.zeros(T, N, dtype=torch.int64)
    actions[4, 2] = -1
    assert rollout_error(actions=actions) == "Rollout: actions[4, 2] is -1; expected a non-negative integer"


@pytest.mark.parametrize("name", FLOATS)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_floats(name: str, bad: float) -> None:
    tensor = rollout_fields()[name].clone()
    tensor[3, 1] = bad
    assert rollout_error(**{name: tensor}) == f"Rollout: {name}[3, 1] is {bad}; expected a finite float"


def test_jaxtyping_binds_dimensions_while_checks_are_on() -> None:
    fields = rollout_fields()
    tensors = [fields[name] for name in TENSOR_FIELDS]
    tensors[3] = torch.zeros(T + 1, N)  # rewards: a different T
    with shape_checks(True), pytest.raises(jaxtyping.TypeCheckError, match="rewards"):
        _bind_rollout_dimensions(*tensors)
    with shape_checks(False):
        _bind_rollout_dimensions(*tensors)


# --- from_steps, step, to -----------------------------------------------------------------------------------------


def test_from_steps_round_trip() -> None:
    generator = torch.Generator().manual_seed(3)
    steps = [
        make_step(
            observation=torch.randn(2, 3, generator=generator),
            action=t % 3,
            log_prob=-0.1 * t,
            reward=float(t),
            value=0.5 * t,
            next_value=0.25 * t,
            terminated=t == 2,
            truncated=t == 4,
        )
        for t in range(5)
    ]
    rollout = Rollout.from_steps(steps, horizon=5, dtype=torch.float64)
    assert (rollout.horizon, rollout.n_envs, rollout.observation_shape) == (5, 1, (2, 3))
    assert rollout.rewards.dtype is torch.float64
    assert [rollout.step(t, 0) for t in range(5)] == steps
    assert rollout.terminated[:, 0].tolist() == [False, False, True, False, False]


def test_from_steps_errors() -> None:
    steps = [make_step(), make_step(observation=torch.zeros(3))]
    with pytest.raises(RolloutError) as caught:
        Rollout.from_steps(steps[:1], horizon=2)
    assert str(caught.value) == "Rollout.from_steps: got 1 steps; expected horizon 2"
    with pytest.raises(RolloutError) as caught:
        Rollout.from_steps(steps, horizon=2)
    assert str(caught.value) == (
        "Rollout.from_steps: steps[1].observation is torch.float32 (3,); expected torch.float32 (4,) (as steps[0])"
    )


def test_step_index_out_of_range() -> None:
    rollout = Rollout(**rollout_fields())
    with pytest.raises(RolloutError) as caught:
        rollout.step(T, 0)
    assert str(caught.value) == "Rollout.step: index (6, 0) is outside [0, 6) x [0, 3)"


def test_to_device() -> None:
    rollout = Rollout(**rollout_fields())
    moved = rollout.to("cpu")
    assert moved is not rollout
    for name in TENSOR_FIELDS:
        assert torch.equal(getattr(moved, name), getattr(rollout, name))
        assert getattr(moved, name).device == torch.device("cpu")


# --- the actor-critic sample --------------------------------------------------------------------------------------


def assert_sample_matches_spec(rollout: Rollout, *, gamma: float, lam: float) -> None:
    """Column by column against typedrl.spec; the sample is flattened time-major (row t·N + n is [t, n])."""
    sample = rollout.to_actor_critic_sample(gamma=gamma, lam=lam)
    horizon, n_envs = rollout.horizon, rollout.n_envs
    advantages = torch.zeros(horizon, n_envs, dtype=torch.float64)
    for n in range(n_envs):
        column = {name: getattr(rollout, name)[:, n].tolist() for name in (*FLOATS, "terminated", "truncated")}
        advantages[:, n] = torch.tensor(
            spec.gae(
                column["rewards"],
                column["values"],
                column["next_values"],
                column["terminated"],
                column["truncated"],
                gamma=gamma,
                lam=lam,
            ),
            dtype=torch.float64,
        )
        expected_returns = spec.lambda_returns(
            column["rewards"],
            column["values"],
            column["next_values"],
            column["terminated"],
            column["truncated"],
            gamma=gamma,
            lam=lam,
        )
        got_returns = sample.returns.reshape(horizon, n_envs)[:, n].double()
        torch.testing.assert_close(got_returns, torch.tensor(expected_returns, dtype=torch.float64))
    normalized = torch.tensor(spec.normalize_advantages(advantages.reshape(-1).tolist()), dtype=torch.float64)
    torch.testing.assert_close(sample.advantages.double(), normalized, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(sample.returns.double(), (advantages + rollout.values.double()).reshape(-1))
    assert torch.equal(sample.observations, rollout.observations.reshape(horizon * n_envs, -1))
    assert torch.equal(sample.actions, rollout.actions.reshape(-1))
    assert torch.equal(sample.log_probs, rollout.log_probs.reshape(-1))
    assert torch.equal(sample.values, rollout.values.reshape(-1))


def test_sample_against_spec() -> None:
    assert_sample_matches_spec(Rollout(**rollout_fields(dtype=torch.float64)), gamma=0.9, lam=0.8)


@given(
    horizon=st.integers(1, 12),
    n_envs=st.integers(1, 4),
    seed=st.integers(0, 2**16),
    gamma=st.floats(0.0, 1.0),
    lam=st.floats(0.0, 1.0),
)
def test_sample_against_spec_property(horizon: int, n_envs: int, seed: int, gamma: float, lam: float) -> None:
    fields = rollout_fields(horizon, n_envs, seed=seed, dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    fields["terminated"] = torch.rand(horizon, n_envs, generator=generator) < 0.2
    fields["truncated"] = torch.rand(horizon, n_envs, generator=generator) < 0.2
    assert_sample_matches_spec(Rollout(**fields), gamma=gamma, lam=lam)


def test_returns_are_the_lambda_returns_of_the_unnormalized_advantages() -> None:
    rollout = Rollout(**rollout_fields())
    sample = rollout.to_actor_critic_sample(gamma=0.99, lam=0.95)
    args = (rollout.rewards, rollout.values, rollout.next_values, rollout.terminated, rollout.truncated)
    assert torch.equal(sample.returns, lambda_returns(*args, gamma=0.99, lam=0.95).reshape(-1))
    advantages = gae(*args, gamma=0.99, lam=0.95)
    assert torch.equal(sample.returns, (advantages + rollout.values).reshape(-1))
    assert float(sample.advantages.mean()) == pytest.approx(0.0, abs=1e-6)
    assert float(sample.advantages.std(correction=0)) == pytest.approx(1.0, abs=1e-5)


def test_truncation_bootstraps_from_next_values() -> None:
    # One env, three steps: a truncation at t = 1 with V(final observation) = 10, then a fresh episode.
    rollout = Rollout(
        observations=torch.zeros(3, 1, 1),
        actions=torch.zeros(3, 1, dtype=torch.int64),
        log_probs=torch.zeros(3, 1),
        rewards=torch.ones(3, 1),
        values=torch.zeros(3, 1),
        next_values=torch.tensor([[0.0], [10.0], [0.0]]),
        terminated=torch.zeros(3, 1, dtype=torch.bool),
        truncated=torch.tensor([[False], [True], [False]]),
        horizon=3,
    )
    returns = rollout.to_actor_critic_sample(gamma=0.5, lam=1.0).returns
    assert returns.tolist() == [1.0 + 0.5 * (1.0 + 0.5 * 10.0), 1.0 + 0.5 * 10.0, 1.0]
    terminated = Rollout(**{**vars(rollout), "terminated": rollout.truncated, "truncated": rollout.terminated})
    assert terminated.to_actor_critic_sample(gamma=0.5, lam=1.0).returns.tolist() == [1.5, 1.0, 1.0]


def test_sample_is_never_nan() -> None:
    fields = rollout_fields(horizon=1, n_envs=1)
    sample = Rollout(**fields).to_actor_critic_sample(gamma=0.9, lam=0.9)
    assert sample.advantages.tolist() == [0.0]


# --- ActorCriticSample and minibatches ----------------------------------------------------------------------------


def indexed_sample(batch: int) -> ActorCriticSample:
    """A sample whose row b holds b in every field, so a minibatch shows which rows it took."""
    rows = torch.arange(batch)
    return ActorCriticSample(
        observations=rows.float()[:, None],
        actions=rows,
        log_probs=rows.float(),
        advantages=rows.float(),
        returns=rows.float(),
        values=rows.float(),
    )


@pytest.mark.parametrize(("batch", "count"), [(12, 4), (10, 3), (7, 7), (5, 1)])
def test_minibatches_cover_every_row_once(batch: int, count: int) -> None:
    minibatches = list(indexed_sample(batch).minibatches(count, generator=torch.Generator().manual_seed(0)))
    assert len(minibatches) == count
    sizes = [len(minibatch) for minibatch in minibatches]
    assert max(sizes) - min(sizes) <= 1
    taken = torch.cat([minibatch.actions for minibatch in minibatches])
    assert sorted(taken.tolist()) == list(range(batch))
    for minibatch in minibatches:  # every field of a row stays together
        assert torch.equal(minibatch.returns, minibatch.actions.float())
        assert torch.equal(minibatch.observations[:, 0], minibatch.actions.float())


def test_minibatches_are_reproducible_and_shuffled() -> None:
    sample = indexed_sample(64)

    def order(seed: int) -> list[int]:
        generator = torch.Generator().manual_seed(seed)
        return torch.cat([m.actions for m in sample.minibatches(4, generator=generator)]).tolist()

    assert order(1) == order(1)
    assert order(1) != order(2)
    assert order(1) != list(range(64))


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        (0, "0"),
        (13, "13"),
        (-1, "-1"),
        (True, "True (a bool)"),
        (2.0, "2.0"),
        (np.int64(13), "np.int64(13) (an int64)"),
    ],
)
def test_minibatch_count_errors(count: Any, shown: str) -> None:
    with pytest.raises(RolloutError) as caught:
        indexed_sample(12).minibatches(count, generator=torch.Generator())
    assert str(caught.value) == f"ActorCriticSample.minibatches: count is {shown}; expected an int in [1, 12]"
    three: Any = np.int64(3)  # accepted at run time; annotated as int
    assert len(list(indexed_sample(12).minibatches(three, generator=torch.Generator()))) == 3


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"returns": torch.zeros(11)}, "ActorCriticSample: returns has 11 rows; expected 12 (as observations)"),
        ({"advantages": torch.zeros(12, 1)}, "ActorCriticSample: advantages has shape (12, 1); expected [B]"),
        (
            {"values": torch.zeros(12, dtype=torch.float64)},
            "ActorCriticSample: values has dtype torch.float64; expected torch.float32 (as log_probs)",
        ),
        (
            {"advantages": torch.full((12,), math.nan)},
            "ActorCriticSample: advantages[0] is nan; expected a finite float",
        ),
        ({"actions": -torch.arange(12)}, "ActorCriticSample: actions[1] is -1; expected a non-negative integer"),
    ],
)
def test_sample_errors(changes: dict[str, Any], message: str) -> None:
    sample = indexed_sample(12)
    fields = {
        name: getattr(sample, name)
        for name in ("observations", "actions", "log_probs", "advantages", "returns", "values")
    }
    fields.update(changes)
    with pytest.raises(RolloutError) as caught:
        ActorCriticSample(**fields)
    assert str(caught.value) == message


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error shown when CUDA is absent")
def test_moving_to_a_device_this_torch_lacks_is_a_typed_error() -> None:
    rollout = Rollout(**rollout_fields())
    with pytest.raises(RolloutError) as caught:
        rollout.to("cuda")
    assert str(caught.value) == "Rollout.to: device is 'cuda', but this torch sees no CUDA device; use 'cpu'"
    assert rollout.to("cpu").horizon == rollout.horizon


def test_advantages_that_overflow_are_a_rollout_error_naming_the_step() -> None:
    fields = rollout_fields()
    fields["rewards"] = torch.full_like(fields["rewards"], 3e38)
    fields["terminated"] = torch.zeros_like(fields["terminated"])
    fields["truncated"] = torch.zeros_like(fields["truncated"])
    with pytest.raises(RolloutError, match=r"^Rollout.to_actor_critic_sample: advantages\[\d+, \d+\] is inf \(GAE"):
        Rollout(**fields).to_actor_critic_sample(gamma=1.0, lam=1.0)
