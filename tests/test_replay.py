"""ReplayBuffer and Transitions: the FIFO ring against a deque model, sampling, errors, a real CartPole, checkpoints.

The oracle for contents and order is ``collections.deque(maxlen=capacity)`` of transition numbers: transition ``i``
has fields made from ``i`` alone (:func:`rows`), so a buffer's contents, read oldest first through
:meth:`ReplayBuffer.state_dict`, must equal the fields of the numbers the deque holds.
"""

import io
import math
from collections import deque
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from hypothesis import given
from hypothesis import strategies as st
from torch import Tensor

from typedrl.checkpoint import load_checkpoint, save_checkpoint
from typedrl.errors import CheckpointError, HyperparameterError, InputError
from typedrl.replay import ReplayBuffer, Transitions

FIELDS = ("observations", "actions", "rewards", "next_observations", "terminated", "truncated")
OBS = (3,)
# One action layout per kind: (action_shape, action_dtype).
KINDS: dict[str, tuple[tuple[int, ...], torch.dtype]] = {
    "discrete": ((), torch.int64),
    "multi_discrete": ((2,), torch.int64),
    "box": ((2,), torch.float32),
}
# Upper 0.1% points of the chi-square distribution (scipy.stats.chi2.ppf(0.999, df)), for the uniformity checks.
CHI2_999 = {9: 27.877, 19: 43.820}


def rows(numbers: list[int], kind: str = "discrete") -> dict[str, Tensor]:
    """The fields of transitions ``numbers``, stacked ``[N, ...]``: each made from its number alone."""
    i = torch.tensor(numbers, dtype=torch.float64).reshape(-1)
    index = torch.tensor(numbers, dtype=torch.int64).reshape(-1)
    observations = torch.stack([i, -i, i / 2], dim=-1).float()
    actions = {
        "discrete": index % 4,
        "multi_discrete": torch.stack([index % 3, index % 5], dim=-1),
        "box": torch.stack([i / 10, -i], dim=-1).float(),
    }[kind]
    return {
        "observations": observations,
        "actions": actions,
        "rewards": i.float(),
        "next_observations": observations + 0.5,
        "terminated": index % 5 == 0,
        "truncated": index % 7 == 3,
    }


def make_buffer(capacity: int = 8, kind: str = "discrete") -> ReplayBuffer:
    action_shape, action_dtype = KINDS[kind]
    return ReplayBuffer(capacity, OBS, action_shape=action_shape, action_dtype=action_dtype)


def push_number(buffer: ReplayBuffer, number: int, kind: str = "discrete") -> None:
    fields = rows([number], kind)
    buffer.push(
        observation=fields["observations"][0],
        action=int(fields["actions"][0]) if kind == "discrete" else fields["actions"][0],
        reward=float(fields["rewards"][0]),
        next_observation=fields["next_observations"][0],
        terminated=bool(fields["terminated"][0]),
        truncated=bool(fields["truncated"][0]),
    )


def held(buffer: ReplayBuffer) -> dict[str, Tensor]:
    """What the buffer holds, oldest first."""
    state = buffer.state_dict()
    return {name: state[name] for name in FIELDS}


def assert_holds(buffer: ReplayBuffer, numbers: list[int], kind: str = "discrete") -> None:
    got = held(buffer)
    expected = rows(numbers, kind)
    for name in FIELDS:
        assert got[name].dtype == expected[name].dtype, name
        assert torch.equal(got[name], expected[name]), (name, got[name], expected[name])


def chi_square(counts: Tensor) -> float:
    """Pearson's statistic of ``counts`` against the uniform distribution over its cells."""
    expected = float(counts.sum()) / counts.numel()
    return float(((counts.double() - expected) ** 2 / expected).sum())


# --- the capacity invariant against a deque -----------------------------------------------------------------------

operations = st.lists(st.one_of(st.just(-1), st.integers(min_value=0, max_value=13)), max_size=12)


@given(
    capacity=st.integers(min_value=1, max_value=9),
    kind=st.sampled_from(sorted(KINDS)),
    plan=operations,
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_ring_equals_a_deque(capacity: int, kind: str, plan: list[int], seed: int) -> None:
    """After any sequence of pushes (-1) and extends (of 0..13 rows), len == min(pushed, capacity) and the buffer
    holds what a deque(maxlen=capacity) holds, in the same order, wrap-around included; sampling draws positions
    counted from the oldest."""
    buffer = make_buffer(capacity, kind)
    model: deque[int] = deque(maxlen=capacity)
    pushed = 0
    for operation in plan:
        if operation < 0:
            push_number(buffer, pushed, kind)
            model.append(pushed)
            pushed += 1
        else:
            numbers = list(range(pushed, pushed + operation))
            buffer.extend(**rows(numbers, kind))
            model.extend(numbers)
            pushed += operation
        assert buffer.pushed == pushed
        assert len(buffer) == min(pushed, capacity) == len(model)
        assert_holds(buffer, list(model), kind)
    if model:
        generator = torch.Generator().manual_seed(seed)
        batch = buffer.sample(5, generator=generator)
        positions = torch.randint(len(model), (5,), generator=torch.Generator().manual_seed(seed))
        expected = rows([model[int(p)] for p in positions], kind)
        for name in FIELDS:
            assert torch.equal(getattr(batch, name), expected[name]), name


@given(
    capacity=st.integers(min_value=1, max_value=12),
    pushes=st.integers(min_value=0, max_value=40),
    length=st.integers(min_value=1, max_value=4),
    stride=st.integers(min_value=1, max_value=3),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_windows_equal_the_deque_windows(capacity: int, pushes: int, length: int, stride: int, seed: int) -> None:
    """sample_sequences: window b is model[j_b + t·stride] for t < length, j_b drawn by the documented randint;
    a window never joins the newest transition to the oldest."""
    buffer = make_buffer(capacity)
    buffer.extend(**rows(list(range(pushes))))
    model = list(range(pushes))[-capacity:]
    span = (length - 1) * stride + 1
    if len(model) < span:
        with pytest.raises(InputError, match="needs"):
            buffer.sample_sequences(length, 3, stride=stride, generator=torch.Generator())
        return
    windows = buffer.sample_sequences(length, 6, stride=stride, generator=torch.Generator().manual_seed(seed))
    starts = torch.randint(len(model) - span + 1, (6,), generator=torch.Generator().manual_seed(seed))
    numbers = [[model[int(j) + t * stride] for j in starts] for t in range(length)]
    expected = rows([n for row in numbers for n in row])
    assert windows.batch_shape == (length, 6)
    for name in FIELDS:
        want = expected[name].reshape(length, 6, *expected[name].shape[1:])
        assert torch.equal(getattr(windows, name), want), name
    # Consecutive in push order, always: each step of a window is `stride` transitions after the one before.
    assert bool((windows.rewards.diff(dim=0) == stride).all())


def test_extend_larger_than_capacity_keeps_the_last_rows() -> None:
    buffer = make_buffer(4)
    push_number(buffer, 0)
    buffer.extend(**rows(list(range(1, 11))))
    assert (len(buffer), buffer.pushed) == (4, 11)
    assert_holds(buffer, [7, 8, 9, 10])
    buffer.extend(**rows([]))  # N = 0 adds nothing
    assert (len(buffer), buffer.pushed) == (4, 11)
    push_number(buffer, 11)  # overwrites the oldest, 7
    assert_holds(buffer, [8, 9, 10, 11])


def test_a_sample_is_a_copy_and_inputs_are_not_kept() -> None:
    buffer = make_buffer(2)
    fields = rows([0, 1])
    buffer.extend(**fields)
    batch = buffer.sample(4, generator=torch.Generator().manual_seed(0))
    before = batch.observations.clone()
    fields["observations"].add_(100.0)  # the caller's tensors are copied in, not kept
    buffer.extend(**rows([2, 3]))  # both rows overwritten
    assert torch.equal(batch.observations, before)
    assert_holds(buffer, [2, 3])


def test_storage_never_joins_an_autograd_graph() -> None:
    buffer = make_buffer(2)
    fields = rows([0])
    observation = fields["observations"][0].clone().requires_grad_()
    buffer.push(
        observation=observation * 2,
        action=0,
        reward=0.0,
        next_observation=observation,
        terminated=False,
        truncated=False,
    )
    batch = buffer.sample(1, generator=torch.Generator())
    assert not batch.observations.requires_grad
    assert not batch.next_observations.requires_grad


def test_push_converts_to_the_storage_dtypes() -> None:
    buffer = ReplayBuffer(3, (2,), action_shape=(1,), action_dtype=torch.float64, dtype=torch.float16)
    buffer.push(
        observation=torch.tensor([0.5, 1.5], dtype=torch.float64),
        action=torch.tensor([0.25], dtype=torch.float32),
        reward=np.float32(2.0),
        next_observation=torch.tensor([1.0, 2.0], dtype=torch.bfloat16),
        terminated=np.bool_(True),
        truncated=torch.tensor(False),
    )
    state = held(buffer)
    assert state["observations"].dtype == torch.float16
    assert state["actions"].dtype == torch.float64
    assert state["rewards"].tolist() == [2.0]
    assert state["terminated"].tolist() == [True]
    assert state["truncated"].tolist() == [False]


# --- sampling -----------------------------------------------------------------------------------------------------


def test_sampling_is_deterministic_in_the_generator() -> None:
    buffer = make_buffer(10)
    buffer.extend(**rows(list(range(25))))
    first = buffer.sample(64, generator=torch.Generator().manual_seed(3))
    second = buffer.sample(64, generator=torch.Generator().manual_seed(3))
    for name in FIELDS:
        assert torch.equal(getattr(first, name), getattr(second, name)), name
    generator = torch.Generator().manual_seed(3)
    buffer.sample(64, generator=generator)
    advanced = buffer.sample(64, generator=generator)  # the generator moved on: another batch
    assert not torch.equal(advanced.rewards, first.rewards)
    other = buffer.sample(64, generator=torch.Generator().manual_seed(4))
    assert not torch.equal(other.rewards, first.rewards)


def test_sampling_is_uniform_over_what_is_held() -> None:
    """Chi-square over the 10 held transitions of a wrapped buffer (a fixed seed: the outcome is reproducible);
    the same statistic rejects a sampler that never draws the oldest one."""
    buffer = make_buffer(10)
    buffer.extend(**rows(list(range(25))))  # holds 15..24, the ring wrapped twice
    draws = 20_000
    batch = buffer.sample(draws, generator=torch.Generator().manual_seed(12345))
    numbers = batch.rewards.long()
    assert int(numbers.min()) >= 15
    assert int(numbers.max()) <= 24
    counts = torch.bincount(numbers - 15, minlength=10)
    assert chi_square(counts) < CHI2_999[9], counts
    # The check has power: skip the oldest transition and it fails.
    biased = torch.randint(1, 10, (draws,), generator=torch.Generator().manual_seed(12345))
    assert chi_square(torch.bincount(biased, minlength=10)) > CHI2_999[9]
    # And the fields of a sampled row belong together (one transition each).
    assert torch.equal(batch.observations[:, 0], batch.rewards)
    assert torch.equal(batch.actions, numbers % 4)


def test_window_starts_are_uniform() -> None:
    buffer = make_buffer(24)
    buffer.extend(**rows(list(range(50))))  # holds 26..49
    windows = buffer.sample_sequences(3, 20_000, stride=2, generator=torch.Generator().manual_seed(99))
    starts = windows.rewards[0].long() - 26
    assert int(starts.min()) >= 0
    assert int(starts.max()) <= 24 - 5  # the last window that fits starts 5 before the end
    assert chi_square(torch.bincount(starts, minlength=20)) < CHI2_999[19]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda b: b.sample(0, generator=torch.Generator()),
            "ReplayBuffer.sample: batch_size is 0; expected an int >= 1",
        ),
        (
            lambda b: b.sample(2.0, generator=torch.Generator()),
            "ReplayBuffer.sample: batch_size is 2.0; expected an int >= 1",
        ),
        (
            lambda b: b.sample(2, generator=7),
            "ReplayBuffer.sample: generator is 7 (an int); expected a torch.Generator",
        ),
        (
            lambda b: b.sample_sequences(0, 2, generator=torch.Generator()),
            "ReplayBuffer.sample_sequences: length is 0; expected an int >= 1",
        ),
        (
            lambda b: b.sample_sequences(2, 2, stride=0, generator=torch.Generator()),
            "ReplayBuffer.sample_sequences: stride is 0; expected an int >= 1",
        ),
        (
            lambda b: b.sample_sequences(3, 2, stride=2, generator=torch.Generator()),
            "ReplayBuffer.sample_sequences: the buffer holds 4 transitions; a window of length 3 at stride 2 needs 5",
        ),
    ],
)
def test_sampling_errors(call: Callable[[ReplayBuffer], Any], message: str) -> None:
    buffer = make_buffer(8)
    buffer.extend(**rows([0, 1, 2, 3]))
    with pytest.raises(InputError) as caught:
        call(buffer)
    assert str(caught.value) == message


def test_sampling_an_empty_buffer_fails() -> None:
    with pytest.raises(InputError) as caught:
        make_buffer().sample(1, generator=torch.Generator())
    assert str(caught.value) == (
        "ReplayBuffer.sample: the buffer is empty; expected at least one transition (push or extend first)"
    )


# --- errors at the boundary ---------------------------------------------------------------------------------------


def batch_with(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = rows(list(range(5)))
    fields.update(changes)
    return fields


def nan_at(name: str, index: tuple[int, ...], value: float = math.nan) -> Tensor:
    tensor: Tensor = rows(list(range(5)))[name].clone()
    tensor[index] = value
    return tensor


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"observations": np.zeros((5, 3), dtype=np.float32)},
            "observations is a float32 array of shape (5, 3); expected a torch.Tensor [N, 3]",
        ),
        ({"observations": torch.zeros(5, 4)}, "observations has shape (5, 4); expected [N, 3]"),
        ({"observations": torch.zeros(3)}, "observations has shape (3,); expected [N, 3]"),
        ({"next_observations": torch.zeros(4, 3)}, "next_observations has 4 rows; expected 5 (as observations)"),
        ({"actions": torch.zeros(5, 1, dtype=torch.int64)}, "actions has shape (5, 1); expected [N]"),
        ({"rewards": torch.zeros(6)}, "rewards has 6 rows; expected 5 (as observations)"),
        ({"terminated": torch.zeros(5, 1, dtype=torch.bool)}, "terminated has shape (5, 1); expected [N]"),
        (
            {"observations": torch.zeros(5, 3, dtype=torch.int64)},
            "observations has dtype torch.int64; expected a floating dtype (stored as torch.float32)",
        ),
        (
            {"rewards": torch.zeros(5, dtype=torch.int32)},
            "rewards has dtype torch.int32; expected a floating dtype (stored as torch.float32)",
        ),
        (
            {"actions": torch.zeros(5, dtype=torch.int32)},
            "actions has dtype torch.int32; expected torch.int64 (discrete action indices)",
        ),
        (
            {"actions": torch.zeros(5)},
            "actions has dtype torch.float32; expected torch.int64 (discrete action indices)",
        ),
        ({"terminated": torch.zeros(5, dtype=torch.uint8)}, "terminated has dtype torch.uint8; expected torch.bool"),
        ({"truncated": torch.zeros(5, dtype=torch.int64)}, "truncated has dtype torch.int64; expected torch.bool"),
        ({"observations": nan_at("observations", (2, 1))}, "observations[2, 1] is nan; expected a finite float"),
        (
            {"next_observations": nan_at("next_observations", (4, 0), math.inf)},
            "next_observations[4, 0] is inf; expected a finite float",
        ),
        ({"rewards": nan_at("rewards", (3,), -math.inf)}, "rewards[3] is -inf; expected a finite float"),
        (
            {"rewards": torch.tensor([0, 1, 1e300, 3, 4], dtype=torch.float64)},
            "rewards[2] is 1e+300; expected a finite float (it overflows torch.float32)",
        ),
        (
            {"actions": torch.tensor([0, 1, 2, -1, 0])},
            "actions[3] is -1; expected a non-negative integer (an action index)",
        ),
        (
            {"observations": torch.zeros(5, 3).to_sparse()},
            "observations has layout torch.sparse_coo; expected a dense tensor (torch.strided)",
        ),
        (
            {"rewards": torch.zeros(5, device="meta")},
            "rewards is on meta; expected a device that holds values, such as cpu or cuda",
        ),
    ],
)
def test_extend_errors(changes: dict[str, Any], message: str) -> None:
    """Each bad input names the field, the row and expected versus got; nothing is written."""
    buffer = make_buffer(4)
    buffer.extend(**rows([100, 101]))
    with pytest.raises(InputError) as caught:
        buffer.extend(**batch_with(**changes))
    assert str(caught.value) == f"ReplayBuffer.extend: {message}"
    assert buffer.pushed == 2
    assert_holds(buffer, [100, 101])


def test_extend_errors_for_box_and_multi_discrete_actions() -> None:
    box = make_buffer(4, "box")
    with pytest.raises(InputError) as caught:
        box.extend(**batch_with(actions=torch.zeros(5, 2, dtype=torch.int64)))
    assert str(caught.value) == (
        "ReplayBuffer.extend: actions has dtype torch.int64; expected a floating dtype (Box actions)"
    )
    actions = torch.zeros(5, 2)
    actions[1, 1] = math.nan
    with pytest.raises(InputError) as caught:
        box.extend(**batch_with(actions=actions))
    assert str(caught.value) == "ReplayBuffer.extend: actions[1, 1] is nan; expected a finite float"
    multi = make_buffer(4, "multi_discrete")
    with pytest.raises(InputError) as caught:
        multi.extend(**batch_with(actions=torch.tensor([[0, 0], [1, 2], [0, -3], [0, 0], [1, 1]])))
    assert str(caught.value) == (
        "ReplayBuffer.extend: actions[2, 1] is -3; expected a non-negative integer (an action index)"
    )
    assert box.pushed == multi.pushed == 0


def push_with(buffer: ReplayBuffer, **changes: Any) -> None:
    fields: dict[str, Any] = {
        "observation": torch.zeros(3),
        "action": 1,
        "reward": 1.0,
        "next_observation": torch.ones(3),
        "terminated": False,
        "truncated": False,
    }
    fields.update(changes)
    buffer.push(**fields)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"observation": [0.0, 0.0, 0.0]}, "observation is [0.0, 0.0, 0.0] (a list); expected a torch.Tensor (3,)"),
        ({"observation": torch.zeros(1, 3)}, "observation has shape (1, 3); expected (3,)"),
        (
            {"next_observation": torch.tensor([0.0, math.nan, 0.0])},
            "next_observation[1] is nan; expected a finite float",
        ),
        (
            {"observation": torch.tensor([0.0, 0.0, 1e39], dtype=torch.float64)},
            "observation[2] is 1e+39; expected a finite float (it overflows torch.float32)",
        ),
        ({"action": -1}, "action is -1; expected an int >= 0"),
        ({"action": True}, "action is True (a bool); expected an int >= 0"),
        ({"action": 1.0}, "action is 1.0; expected an int >= 0"),
        ({"action": 2**63}, "action is 9223372036854775808; expected an int64 action index"),
        ({"action": torch.tensor(-2)}, "action is -2; expected a non-negative integer (an action index)"),
        ({"action": torch.tensor([1])}, "action has shape (1,); expected ()"),
        ({"reward": math.nan}, "reward is nan; expected a finite real number"),
        ({"reward": True}, "reward is True (a bool); expected a finite real number"),
        ({"reward": "1"}, "reward is '1' (a str); expected a finite real number"),
        ({"reward": torch.tensor([1.0])}, "reward has shape (1,); expected ()"),
        ({"reward": torch.tensor(math.inf)}, "reward is inf; expected a finite float"),
        ({"terminated": 1}, "terminated is 1 (an int); expected a bool"),
        ({"truncated": None}, "truncated is None; expected a bool"),
        ({"truncated": torch.tensor(1)}, "truncated has dtype torch.int64; expected torch.bool"),
    ],
)
def test_push_errors(changes: dict[str, Any], message: str) -> None:
    buffer = make_buffer(4)
    push_number(buffer, 7)
    with pytest.raises(InputError) as caught:
        push_with(buffer, **changes)
    assert str(caught.value) == f"ReplayBuffer.push: {message}"
    assert buffer.pushed == 1
    assert_holds(buffer, [7])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"capacity": 0}, "capacity is 0; expected an int >= 1"),
        ({"capacity": 10.0}, "capacity is 10.0; expected an int >= 1"),
        ({"observation_shape": 4}, "observation_shape is 4 (an int); expected a tuple of ints >= 1 (possibly empty)"),
        (
            {"observation_shape": (4, 0)},
            "observation_shape is (4, 0) (a tuple); expected a tuple of ints >= 1 (possibly empty)",
        ),
        ({"action_shape": (2.0,)}, "action_shape is (2.0,) (a tuple); expected a tuple of ints >= 1 (possibly empty)"),
        ({"dtype": torch.int32}, "dtype is torch.int32 (a dtype); expected a floating torch.dtype"),
        (
            {"action_dtype": torch.int32},
            "action_dtype is torch.int32 (a dtype); expected torch.int64 (Discrete, MultiDiscrete) or a floating "
            "torch.dtype (Box)",
        ),
        (
            {"action_shape": (2, 2)},
            "action_shape is (2, 2) with action_dtype torch.int64; expected () (Discrete) or (k,) (MultiDiscrete)",
        ),
        ({"device": "gpu"}, "device is 'gpu'; expected a device torch knows, such as 'cpu' or 'cuda'"),
    ],
)
def test_constructor_errors(arguments: dict[str, Any], message: str) -> None:
    given: dict[str, Any] = {"capacity": 4, "observation_shape": (4,)}
    given.update(arguments)
    with pytest.raises(InputError) as caught:
        ReplayBuffer(**given)
    assert str(caught.value) == f"ReplayBuffer: {message}"


def test_transitions_validate_at_construction() -> None:
    fields = rows([0, 1, 2])
    batch = Transitions(**fields)
    assert batch.batch_shape == (3,)
    assert torch.equal(batch.done, fields["terminated"] | fields["truncated"])
    moved = batch.to("cpu")
    assert all(torch.equal(getattr(moved, name), fields[name]) for name in FIELDS)
    assert repr(batch) == (
        "Transitions(batch_shape=(3,), observation_shape=(3,), action_shape=(), dtype=torch.float32, device=cpu)"
    )
    windows = Transitions(**{name: tensor.reshape(3, 1, *tensor.shape[1:]) for name, tensor in fields.items()})
    assert windows.batch_shape == (3, 1)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"rewards": torch.zeros(())}, "rewards has shape (); expected [B] or [T, B]"),
        (
            {"next_observations": torch.zeros(3, 4)},
            "next_observations has shape (3, 4); expected (3, 3) (as observations)",
        ),
        (
            {"observations": torch.zeros(2, 3)},
            "observations has shape (2, 3); expected [B, *obs] with B = 3 (as rewards)",
        ),
        (
            {"terminated": torch.zeros(3, 1, dtype=torch.bool)},
            "terminated has shape (3, 1); expected (3,) (as rewards)",
        ),
        ({"truncated": torch.zeros(3)}, "truncated has dtype torch.float32; expected torch.bool"),
        (
            {"rewards": torch.zeros(3, dtype=torch.float64)},
            "observations has dtype torch.float32; expected torch.float64 (as rewards)",
        ),
        (
            {"actions": torch.zeros(3, 1, 1, dtype=torch.int64)},
            "actions has shape (3, 1, 1) and dtype torch.int64; expected [B] or [B, k] (discrete action indices, one "
            "per MultiDiscrete component)",
        ),
        ({"actions": torch.tensor([0, -1, 0])}, "actions[1] is -1; expected a non-negative integer (an action index)"),
        ({"rewards": torch.tensor([0.0, 0.0, math.nan])}, "rewards[2] is nan; expected a finite float"),
        (
            {"observations": torch.zeros(3, 3, device="meta")},
            "observations is on meta; expected a device that holds values, such as cpu or cuda",
        ),
    ]
    for changes, message in cases:
        given = dict(fields, **changes)
        with pytest.raises(InputError) as caught:
            Transitions(**given)
        assert str(caught.value) == f"Transitions: {message}", changes


# --- a real CartPole vector env -----------------------------------------------------------------------------------

N_ENVS = 4
X_LIMIT, THETA_LIMIT = 2.4, 12 * 2 * math.pi / 360  # CartPole-v1 terminates beyond these
RESET_BOUND = 0.05  # and resets every state variable into [-0.05, 0.05]


def row_actions(observations: np.ndarray) -> np.ndarray:
    """A row-by-row pseudo-random policy: an action from the observation's bits alone."""
    bits = np.ascontiguousarray(observations, dtype=np.float32).view(np.uint32).astype(np.int64)
    actions: np.ndarray = (((bits * np.array([3, 5, 7, 11])).sum(axis=1) >> 7) % 2).astype(np.int64)
    return actions


def cartpole(mode: AutoresetMode) -> SyncVectorEnv:
    # max_episode_steps=15: episodes end both ways, terminated (the pole falls) and truncated (the time limit).
    makers = [lambda: gym.make("CartPole-v1", max_episode_steps=15) for _ in range(N_ENVS)]
    return SyncVectorEnv(makers, autoreset_mode=mode)


def test_cartpole_same_step_fills_the_buffer_with_final_observations() -> None:
    """SAME_STEP autoreset: a done step returns the reset observation; the transition's next observation is
    info["final_obs"][n]. Every row of every step is a transition, so windows at stride N follow one env."""
    env = cartpole(AutoresetMode.SAME_STEP)
    buffer = ReplayBuffer.from_spaces(96, env.single_observation_space, env.single_action_space)
    observations, _ = env.reset(seed=[11, 12, 13, 14])
    for _ in range(60):
        actions = row_actions(observations)
        returned, rewards, terminated, truncated, info = env.step(actions)
        next_observations = returned.copy()
        done = terminated | truncated
        for n in np.flatnonzero(done):
            assert info["_final_obs"][n]
            next_observations[n] = info["final_obs"][n]
        buffer.extend(
            observations=torch.from_numpy(observations),
            actions=torch.from_numpy(actions),
            rewards=torch.from_numpy(rewards),
            next_observations=torch.from_numpy(next_observations),
            terminated=torch.from_numpy(terminated),
            truncated=torch.from_numpy(truncated),
        )
        observations = returned
    env.close()
    assert (len(buffer), buffer.pushed) == (96, 240)
    state = held(buffer)
    terminated_rows, truncated_rows = state["terminated"], state["truncated"] & ~state["terminated"]
    assert bool(terminated_rows.any())
    assert bool(truncated_rows.any())
    assert bool((state["rewards"] == 1.0).all())
    # A terminated transition's next observation is the final one: beyond CartPole's limits, never a reset state.
    finals = state["next_observations"][terminated_rows]
    beyond = (finals[:, 0].abs() > X_LIMIT) | (finals[:, 2].abs() > THETA_LIMIT)
    assert bool(beyond.all()), finals
    # Windows of one env's consecutive steps: where step 0 is not done, its next observation is step 1's
    # observation; where it is done, step 1 starts a new episode (a reset state), not the final observation.
    windows = buffer.sample_sequences(2, 500, stride=N_ENVS, generator=torch.Generator().manual_seed(0))
    ended = windows.done[0]
    continues = windows.next_observations[0] == windows.observations[1]
    assert bool(continues[~ended].all())
    assert bool(ended.any())
    assert not bool(continues[ended].all(dim=-1).any())
    assert bool((windows.observations[1][ended].abs() <= RESET_BOUND).all())


def test_cartpole_next_step_leaves_the_reset_steps_out() -> None:
    """NEXT_STEP autoreset (Gymnasium's default): the done step returns the final observation itself; the next
    step of that sub-environment is the reset (reward 0, action ignored) and is not a transition."""
    env = cartpole(AutoresetMode.NEXT_STEP)
    buffer = ReplayBuffer.from_spaces(500, env.single_observation_space, env.single_action_space)
    observations, _ = env.reset(seed=[11, 12, 13, 14])
    resetting = np.zeros(N_ENVS, dtype=np.bool_)
    for _ in range(60):
        actions = row_actions(observations)
        returned, rewards, terminated, truncated, _ = env.step(actions)
        real = torch.from_numpy(~resetting)
        buffer.extend(
            observations=torch.from_numpy(observations)[real],
            actions=torch.from_numpy(actions)[real],
            rewards=torch.from_numpy(rewards)[real],
            next_observations=torch.from_numpy(returned)[real],
            terminated=torch.from_numpy(terminated)[real],
            truncated=torch.from_numpy(truncated)[real],
        )
        resetting = terminated | truncated
        observations = returned
    env.close()
    state = held(buffer)
    assert 200 < len(buffer) < 240  # the reset steps were left out
    assert bool((state["rewards"] == 1.0).all())  # every stored step is a real CartPole step (a reset step gives 0)
    finals = state["next_observations"][state["terminated"]]
    assert len(finals) > 0
    assert bool(((finals[:, 0].abs() > X_LIMIT) | (finals[:, 2].abs() > THETA_LIMIT)).all())


# --- spaces -------------------------------------------------------------------------------------------------------


def test_from_spaces() -> None:
    box = spaces.Box(-1.0, 1.0, (4,), np.float32)
    cases: list[tuple[Any, Any, tuple[int, ...], tuple[int, ...], torch.dtype]] = [
        (box, spaces.Discrete(2), (4,), (), torch.int64),
        (box, spaces.Discrete(3, start=-1), (4,), (), torch.int64),
        (box, spaces.MultiDiscrete([3, 4]), (4,), (2,), torch.int64),
        (box, spaces.Box(-2.0, 2.0, (1,), np.float32), (4,), (1,), torch.float64),
        (spaces.Discrete(16), spaces.Discrete(4), (16,), (), torch.int64),
        (spaces.Tuple((spaces.Discrete(3), box)), spaces.Discrete(2), (7,), (), torch.int64),
    ]
    for observation_space, action_space, observation_shape, action_shape, action_dtype in cases:
        buffer = ReplayBuffer.from_spaces(5, observation_space, action_space, dtype=torch.float64)
        assert buffer.observation_shape == observation_shape
        assert buffer.action_shape == action_shape
        assert buffer.action_dtype == action_dtype
        assert buffer.dtype == torch.float64
        assert buffer.capacity == 5
    with pytest.raises(InputError) as caught:
        ReplayBuffer.from_spaces(5, spaces.Text(4), spaces.Discrete(2))
    assert str(caught.value).startswith("ReplayBuffer.from_spaces: observation_space is Text(")
    assert "expected Box (numeric) or Discrete observations" in str(caught.value)


# --- checkpoints --------------------------------------------------------------------------------------------------


def round_trip(state: dict[str, Any]) -> dict[str, Any]:
    """Through torch.save and weights-only loading, as a checkpoint is read."""
    stream = io.BytesIO()
    torch.save(state, stream)
    stream.seek(0)
    loaded: dict[str, Any] = torch.load(stream, weights_only=True)
    return loaded


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("pushes", [0, 3, 13])
def test_state_dict_round_trip(kind: str, pushes: int) -> None:
    """The restored buffer holds the same transitions in the same order, samples the same batches, and goes on
    overwriting the oldest first, though its write head is elsewhere in its storage."""
    original = make_buffer(5, kind)
    original.extend(**rows(list(range(pushes)), kind))
    restored = make_buffer(5, kind)
    push_number(restored, 99, kind)  # replaced by the load
    restored.load_state_dict(round_trip(original.state_dict()))
    assert (len(restored), restored.pushed) == (len(original), original.pushed)
    model = list(range(pushes))[-5:]
    assert_holds(restored, model, kind)
    if pushes:
        a = original.sample(32, generator=torch.Generator().manual_seed(5))
        b = restored.sample(32, generator=torch.Generator().manual_seed(5))
        for name in FIELDS:
            assert torch.equal(getattr(a, name), getattr(b, name)), name
    for number in range(pushes, pushes + 4):
        push_number(original, number, kind)
        push_number(restored, number, kind)
    assert_holds(restored, list(range(pushes + 4))[-5:], kind)
    assert_holds(original, list(range(pushes + 4))[-5:], kind)


def test_state_dict_goes_into_a_checkpoint(tmp_path: Any) -> None:
    buffer = make_buffer(6)
    buffer.extend(**rows(list(range(9))))
    path = save_checkpoint(
        tmp_path / "run.pt", modules={}, optimizers={}, config={}, progress={}, extra={"replay": buffer.state_dict()}
    )
    restored = make_buffer(6)
    restored.load_state_dict(load_checkpoint(path).extra["replay"])
    assert restored.pushed == 9
    assert_holds(restored, list(range(3, 9)))


def changed_state(key: str, value: Any) -> dict[str, Any]:
    buffer = make_buffer(5)
    buffer.extend(**rows(list(range(7))))
    state = buffer.state_dict()
    if value is KeyError:
        del state[key]
    else:
        state[key] = value
    return state


def with_nan() -> Tensor:
    tensor: Tensor = changed_state("pushed", 7)["next_observations"]
    tensor[1, 2] = math.nan
    return tensor


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "pushed",
            KeyError,
            "state has no key 'pushed'; expected the keys ['format', 'version', 'capacity', "
            "'pushed', 'observation_shape', 'action_shape', 'action_dtype', 'dtype', 'observations', 'actions', "
            "'rewards', 'next_observations', 'terminated', 'truncated']",
        ),
        (
            "extra",
            1,
            "state has an unknown key 'extra'; expected ['format', 'version', 'capacity', 'pushed', "
            "'observation_shape', 'action_shape', 'action_dtype', 'dtype', 'observations', 'actions', 'rewards', "
            "'next_observations', 'terminated', 'truncated']",
        ),
        (
            "version",
            2,
            "state is format 'typedrl.ReplayBuffer' (a str) version 2 (an int); expected "
            "'typedrl.ReplayBuffer' version 1",
        ),
        ("capacity", 6, "capacity is 6 (an int); expected 5 (this buffer's)"),
        ("capacity", torch.tensor([5, 5]), "capacity is tensor([5, 5]) (a Tensor); expected 5 (this buffer's)"),
        ("observation_shape", [4], "observation_shape is (4,) (a tuple); expected (3,) (this buffer's)"),
        ("observation_shape", "3", "observation_shape is '3' (a str); expected a tuple of ints >= 1 (possibly empty)"),
        ("dtype", "torch.float64", "dtype is 'torch.float64' (a str); expected 'torch.float32' (this buffer's)"),
        ("pushed", -1, "pushed is -1; expected an int >= 0"),
        ("pushed", 4, "observations has shape (5, 3); expected (4, 3) (min(pushed, capacity) rows)"),
        ("rewards", torch.zeros(5, dtype=torch.float64), "rewards has dtype torch.float64; expected torch.float32"),
        (
            "terminated",
            [False] * 5,
            "terminated is [False, False, False, False, False] (a list); expected a dense tensor (5,)",
        ),
        (
            "actions",
            torch.tensor([0, 1, -1, 0, 0]),
            "actions[2] is -1; expected a non-negative integer (an action index)",
        ),
        ("next_observations", with_nan(), "next_observations[1, 2] is nan; expected a finite float"),
    ],
)
def test_load_state_dict_errors(key: str, value: Any, message: str) -> None:
    buffer = make_buffer(5)
    push_number(buffer, 42)
    with pytest.raises(CheckpointError) as caught:
        buffer.load_state_dict(changed_state(key, value))
    assert str(caught.value) == f"ReplayBuffer.load_state_dict: {message}"
    assert buffer.pushed == 1  # nothing changed
    assert_holds(buffer, [42])


def test_load_state_dict_refuses_a_non_mapping() -> None:
    with pytest.raises(CheckpointError) as caught:
        make_buffer().load_state_dict([])  # type: ignore[arg-type]
    assert str(caught.value) == (
        "ReplayBuffer.load_state_dict: state is [] (a list); expected a dict from ReplayBuffer.state_dict"
    )


# --- CUDA ---------------------------------------------------------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device: torch.cuda.is_available() is False")
def test_cuda_buffer_takes_cpu_inputs_and_samples_on_the_device() -> None:
    buffer = ReplayBuffer(6, OBS, device="cuda")
    buffer.extend(**rows(list(range(9))))
    batch = buffer.sample(16, generator=torch.Generator(device="cuda").manual_seed(0))
    assert batch.rewards.is_cuda
    assert bool((batch.rewards >= 3).all())
    on_cpu = buffer.sample(16, generator=torch.Generator().manual_seed(0))
    expected = torch.randint(6, (16,), generator=torch.Generator().manual_seed(0)) + 3
    assert torch.equal(on_cpu.rewards.cpu(), expected.float())
    restored = ReplayBuffer(6, OBS)
    restored.load_state_dict(buffer.state_dict())
    assert_holds(restored, list(range(3, 9)))
    bad = rows([0, 1])
    bad["rewards"] = torch.tensor([0.0, math.nan], device="cuda")
    with pytest.raises(InputError, match=r"rewards\[1\] is nan"):
        buffer.extend(**bad)


# --- n-step sampling ----------------------------------------------------------------------------------------------


def model_n_step(
    held_rewards: list[float],
    held_terminated: list[bool],
    held_truncated: list[bool],
    start: int,
    *,
    n: int,
    gamma: float,
    stride: int,
) -> tuple[float, int, float]:
    """The n-step target of the transition at position ``start`` of what is held, by a plain loop:
    ``(reward sum, position of the window's last step, bootstrap discount)``.

    The window walks ``start, start + stride, …`` and stops after a done step, after ``n`` steps, or at the last
    position held; the discount is ``γᵐ`` for ``m`` steps, ``0`` where the last step is terminated.
    """
    total, scale, position, steps = 0.0, 1.0, start, 0
    while True:
        total += scale * held_rewards[position]
        scale *= gamma
        steps += 1
        done = held_terminated[position] or held_truncated[position]
        if done or steps == n or position + stride >= len(held_rewards):
            break
        position += stride
    discount = 0.0 if held_terminated[position] else gamma**steps
    return total, position, discount


flags = st.sampled_from([False, False, False, True])


@given(
    capacity=st.integers(min_value=1, max_value=12),
    steps=st.lists(st.tuples(st.floats(min_value=-10.0, max_value=10.0), flags, flags), min_size=1, max_size=30),
    chunk=st.integers(min_value=1, max_value=7),
    n=st.integers(min_value=1, max_value=5),
    stride=st.integers(min_value=1, max_value=3),
    gamma=st.one_of(st.sampled_from([0.0, 0.5, 0.99, 1.0]), st.floats(min_value=0.0, max_value=1.0)),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_n_step_equals_a_plain_model(
    capacity: int,
    steps: list[tuple[float, bool, bool]],
    chunk: int,
    n: int,
    stride: int,
    gamma: float,
    seed: int,
) -> None:
    """sample_n_step over random pushes with random rewards and dones, through every wrap of the ring, equals a
    plain loop over what a deque holds, for starts drawn by the documented randint: start observation and action,
    the discounted reward sum to the first done step, n steps or the write head, the next observation and flags
    of the window's last step, and γᵐ (0 after a termination)."""
    buffer = ReplayBuffer(capacity, OBS, dtype=torch.float64)
    for begin in range(0, len(steps), chunk):
        numbers = list(range(begin, min(begin + chunk, len(steps))))
        fields = rows(numbers)
        fields["rewards"] = torch.tensor([steps[i][0] for i in numbers], dtype=torch.float64)
        fields["terminated"] = torch.tensor([steps[i][1] for i in numbers], dtype=torch.bool)
        fields["truncated"] = torch.tensor([steps[i][2] for i in numbers], dtype=torch.bool)
        buffer.extend(**fields)
    model = list(range(len(steps)))[-capacity:]  # transition numbers held, oldest first
    held_rewards = [steps[i][0] for i in model]
    held_terminated = [steps[i][1] for i in model]
    held_truncated = [steps[i][2] for i in model]
    batch = buffer.sample_n_step(n, 8, gamma=gamma, stride=stride, generator=torch.Generator().manual_seed(seed))
    starts = torch.randint(len(model), (8,), generator=torch.Generator().manual_seed(seed))
    for b, start in enumerate(starts.tolist()):
        total, end, discount = model_n_step(
            held_rewards, held_terminated, held_truncated, start, n=n, gamma=gamma, stride=stride
        )
        first, last = rows([model[start]]), rows([model[end]])
        assert torch.equal(batch.observations[b], first["observations"][0].double())
        assert torch.equal(batch.actions[b], first["actions"][0])
        assert torch.equal(batch.next_observations[b], last["next_observations"][0].double())
        assert bool(batch.terminated[b]) == held_terminated[end]
        assert bool(batch.truncated[b]) == held_truncated[end]
        assert int(batch.steps[b]) == (end - start) // stride + 1 <= n
        assert float(batch.rewards[b]) == pytest.approx(total, rel=1e-12, abs=1e-12)
        assert float(batch.discounts[b]) == pytest.approx(discount, rel=1e-12, abs=1e-300)
    assert batch.rewards.dtype == batch.discounts.dtype == torch.float64
    assert batch.steps.dtype == torch.int64


def test_n_step_worked_example() -> None:
    """Six transitions, rewards 1…6, transition 2 terminated and 4 truncated, n = 3, γ = 0.5: every start's
    target, including the window cut by the write head (start 5)."""
    buffer = make_buffer(10)
    fields = rows(list(range(6)))
    fields["rewards"] = torch.arange(1.0, 7.0)
    fields["terminated"] = torch.tensor([False, False, True, False, False, False])
    fields["truncated"] = torch.tensor([False, False, False, False, True, False])
    buffer.extend(**fields)
    batch = buffer.sample_n_step(3, 200, gamma=0.5, generator=torch.Generator().manual_seed(0))
    expected = {  # start: (reward sum, last step, discount, terminated, truncated, steps)
        0: (1 + 0.5 * 2 + 0.25 * 3, 2, 0.0, True, False, 3),
        1: (2 + 0.5 * 3, 2, 0.0, True, False, 2),
        2: (3.0, 2, 0.0, True, False, 1),
        3: (4 + 0.5 * 5, 4, 0.25, False, True, 2),
        4: (5.0, 4, 0.5, False, True, 1),
        5: (6.0, 5, 0.5, False, False, 1),  # the write head: a rollout's end, bootstraps
    }
    starts = batch.observations[:, 0].long()
    assert set(starts.tolist()) == set(expected)
    for start, (total, last, discount, terminated, truncated, steps) in expected.items():
        picked = starts == start
        assert bool((batch.rewards[picked] == total).all()), start
        assert bool((batch.next_observations[picked, 0] == last + 0.5).all()), start
        assert bool((batch.discounts[picked] == discount).all()), start
        assert bool((batch.terminated[picked] == terminated).all()), start
        assert bool((batch.truncated[picked] == truncated).all()), start
        assert bool((batch.steps[picked] == steps).all()), start


@pytest.mark.parametrize("stride", [1, 3])
def test_n_step_with_n_1_is_the_plain_transition(stride: int) -> None:
    """n = 1 draws what sample draws, field for field; the discount is γ, or 0 at a termination."""
    buffer = make_buffer(10)
    buffer.extend(**rows(list(range(25))))  # wrapped: holds 15..24, with terminations and truncations
    plain = buffer.sample(64, generator=torch.Generator().manual_seed(7))
    batch = buffer.sample_n_step(1, 64, gamma=0.9, stride=stride, generator=torch.Generator().manual_seed(7))
    for name in FIELDS:
        assert torch.equal(getattr(batch, name), getattr(plain, name)), name
    gamma = torch.tensor(0.9, dtype=torch.float32)
    assert torch.equal(batch.discounts, torch.where(plain.terminated, torch.zeros(()), gamma))
    assert bool(plain.terminated.any())
    assert bool((plain.truncated & ~plain.terminated).any())
    assert torch.equal(batch.steps, torch.ones(64, dtype=torch.int64))


def test_n_step_from_a_cartpole_vector_env() -> None:
    """A SAME_STEP CartPole vector env fills the buffer; windows at stride N follow one sub-environment: every
    step before a window's last continues into the next (its next observation is the next step's observation),
    CartPole's rewards of 1 sum to (1 − γᵐ) / (1 − γ), a terminated window ends beyond CartPole's limits with
    discount 0, and every start's target equals the plain model over what is held."""
    env = cartpole(AutoresetMode.SAME_STEP)
    buffer = ReplayBuffer.from_spaces(100, env.single_observation_space, env.single_action_space)
    observations, _ = env.reset(seed=[21, 22, 23, 24])
    for _ in range(60):
        actions = row_actions(observations)
        returned, rewards, terminated, truncated, info = env.step(actions)
        next_observations = returned.copy()
        done = terminated | truncated
        if done.any():
            next_observations[done] = np.stack(info["final_obs"][done])
        buffer.extend(
            observations=torch.from_numpy(observations),
            actions=torch.from_numpy(actions),
            rewards=torch.from_numpy(rewards),
            next_observations=torch.from_numpy(next_observations),
            terminated=torch.from_numpy(terminated),
            truncated=torch.from_numpy(truncated),
        )
        observations = returned
    env.close()
    n, gamma = 4, 0.9
    batch = buffer.sample_n_step(n, 400, gamma=gamma, stride=N_ENVS, generator=torch.Generator().manual_seed(1))
    state = held(buffer)
    assert batch.observations.shape == (400, 4)
    # CartPole gives 1 per step: the sum of m rewards is 1 + γ + … + γ^(m−1).
    m = batch.steps.double()
    assert torch.allclose(batch.rewards.double(), (1 - gamma**m) / (1 - gamma), rtol=1e-6)
    ended = batch.terminated
    assert bool(ended.any())
    assert bool((batch.truncated & ~ended).any())
    assert bool((batch.steps < n).any())
    assert bool((batch.steps == n).any())
    assert bool((batch.discounts[ended] == 0).all())
    assert torch.allclose(batch.discounts[~ended].double(), gamma ** m[~ended], rtol=1e-6)
    finals = batch.next_observations[ended]
    assert bool(((finals[:, 0].abs() > X_LIMIT) | (finals[:, 2].abs() > THETA_LIMIT)).all())
    # Each sampled start found among what is held (CartPole observations do not repeat), then held to the model.
    held_rewards = state["rewards"].tolist()
    held_terminated = state["terminated"].tolist()
    held_truncated = state["truncated"].tolist()
    for b in range(400):
        (matches,) = torch.nonzero((state["observations"] == batch.observations[b]).all(dim=1), as_tuple=True)
        assert len(matches) == 1
        start = int(matches[0])
        total, end, discount = model_n_step(
            held_rewards, held_terminated, held_truncated, start, n=n, gamma=gamma, stride=N_ENVS
        )
        for position in range(start, end, N_ENVS):  # one sub-environment's consecutive steps, no done before end
            assert torch.equal(state["next_observations"][position], state["observations"][position + N_ENVS])
        assert torch.equal(batch.actions[b], state["actions"][start])
        assert torch.equal(batch.next_observations[b], state["next_observations"][end])
        assert float(batch.rewards[b]) == pytest.approx(total, rel=1e-6)
        assert float(batch.discounts[b]) == pytest.approx(discount, rel=1e-6)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda b: b.sample_n_step(0, 2, gamma=0.9, generator=torch.Generator()),
            HyperparameterError,
            "ReplayBuffer.sample_n_step: n is 0; expected an int >= 1",
        ),
        (
            lambda b: b.sample_n_step(True, 2, gamma=0.9, generator=torch.Generator()),
            HyperparameterError,
            "ReplayBuffer.sample_n_step: n is True (a bool); expected an int >= 1",
        ),
        (
            lambda b: b.sample_n_step(3, 0, gamma=0.9, generator=torch.Generator()),
            InputError,
            "ReplayBuffer.sample_n_step: batch_size is 0; expected an int >= 1",
        ),
        (
            lambda b: b.sample_n_step(3, 2, gamma=1.5, generator=torch.Generator()),
            HyperparameterError,
            "ReplayBuffer.sample_n_step: gamma is 1.5; expected a finite real number in [0, 1]",
        ),
        (
            lambda b: b.sample_n_step(3, 2, gamma=0.9, stride=0, generator=torch.Generator()),
            InputError,
            "ReplayBuffer.sample_n_step: stride is 0; expected an int >= 1",
        ),
        (
            lambda b: b.sample_n_step(3, 2, gamma=0.9, generator=7),
            InputError,
            "ReplayBuffer.sample_n_step: generator is 7 (an int); expected a torch.Generator",
        ),
    ],
)
def test_n_step_errors(call: Callable[[ReplayBuffer], Any], error: type[Exception], message: str) -> None:
    buffer = make_buffer(8)
    buffer.extend(**rows([0, 1, 2, 3]))
    with pytest.raises(error) as caught:
        call(buffer)
    assert type(caught.value) is error
    assert str(caught.value) == message


def test_n_step_from_an_empty_buffer_fails() -> None:
    with pytest.raises(InputError) as caught:
        make_buffer().sample_n_step(3, 1, gamma=0.9, generator=torch.Generator())
    assert str(caught.value) == (
        "ReplayBuffer.sample_n_step: the buffer is empty; expected at least one transition (push or extend first)"
    )


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device: torch.cuda.is_available() is False")
def test_cuda_n_step_equals_the_cpu_buffer() -> None:
    """On CUDA n_step_returns takes its torch formulation: the same starts (a CPU generator) give the same batch."""
    fields = rows(list(range(23)))
    fields["rewards"] = torch.linspace(-1.0, 2.0, 23)
    on_cpu, on_cuda = ReplayBuffer(16, OBS), ReplayBuffer(16, OBS, device="cuda")
    on_cpu.extend(**fields)
    on_cuda.extend(**fields)
    expected = on_cpu.sample_n_step(4, 64, gamma=0.9, stride=2, generator=torch.Generator().manual_seed(3))
    got = on_cuda.sample_n_step(4, 64, gamma=0.9, stride=2, generator=torch.Generator().manual_seed(3))
    assert got.rewards.is_cuda
    for name, tensor in got._asdict().items():
        assert torch.allclose(tensor.cpu().double(), getattr(expected, name).double(), rtol=1e-6, atol=1e-6), name
