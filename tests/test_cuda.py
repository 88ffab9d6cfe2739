"""CUDA tensors against the CPU results: the Triton kernel (or the torch loop without Triton) on a GPU.

The tests are marked ``cuda`` and skip without a device. The portable torch loop runs on CPU tensors too: it is
tested on every machine in test_recurrence.py.
"""

from collections.abc import Callable

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

import typedrl
from typedrl.testing import TrajectoryBatch, assert_close_to_reference, lams, trajectory_batches

requires_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device: torch.cuda.is_available() is False"
)

Function = Callable[[TrajectoryBatch], Tensor]


def functions(lam: float) -> dict[str, Function]:
    """The five public functions, each applied to a whole batch."""

    def gae(b: TrajectoryBatch) -> Tensor:
        return typedrl.gae(b.rewards, b.values, b.next_values, b.terminated, b.truncated, gamma=b.gamma, lam=lam)

    def lambda_returns(b: TrajectoryBatch) -> Tensor:
        return typedrl.lambda_returns(
            b.rewards, b.values, b.next_values, b.terminated, b.truncated, gamma=b.gamma, lam=lam
        )

    def td_errors(b: TrajectoryBatch) -> Tensor:
        return typedrl.td_errors(b.rewards, b.values, b.next_values, b.terminated, gamma=b.gamma)

    def returns(b: TrajectoryBatch) -> Tensor:
        return typedrl.discounted_returns(
            b.rewards, b.terminated, b.truncated, gamma=b.gamma, next_values=b.next_values
        )

    def monte_carlo(b: TrajectoryBatch) -> Tensor:
        return typedrl.discounted_returns(b.rewards, b.terminated, b.truncated, gamma=b.gamma)

    def normalized(b: TrajectoryBatch) -> Tensor:
        finite = b.rewards.nan_to_num(0.0, posinf=0.0, neginf=0.0)  # a non-finite advantage is an InputError
        return typedrl.normalize_advantages(finite)

    return {
        "gae": gae,
        "lambda_returns": lambda_returns,
        "td_errors": td_errors,
        "discounted_returns": returns,
        "discounted_returns without next_values": monte_carlo,
        "normalize_advantages": normalized,
    }


def to_device(batch: TrajectoryBatch, device: str | torch.device) -> TrajectoryBatch:
    gamma = batch.gamma.to(device) if isinstance(batch.gamma, Tensor) else batch.gamma
    return TrajectoryBatch(
        batch.rewards.to(device),
        batch.values.to(device),
        batch.next_values.to(device),
        batch.terminated.to(device),
        batch.truncated.to(device),
        gamma,
    )


def assert_same_on_cuda_as_on_cpu(batch: TrajectoryBatch, lam: float, rtol: float) -> None:
    on_cuda = to_device(batch, "cuda")
    for label, function in functions(lam).items():
        expected = function(batch)
        got = function(on_cuda)
        assert got.is_cuda, label
        assert got.dtype == batch.rewards.dtype, label
        assert got.shape == batch.rewards.shape, label
        assert_close_to_reference(got, expected.double(), rtol=rtol, label=label)


# Block widths of the Triton kernel (32, 64, 128 trajectories per program) and their edges.
WIDTHS = st.sampled_from([1, 2, 31, 32, 33, 64, 65, 200])


@pytest.mark.cuda
@requires_cuda
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@settings(max_examples=40)
@given(data=st.data())
def test_cuda_equals_cpu(dtype: torch.dtype, data: st.DataObject) -> None:
    batch = data.draw(
        trajectory_batches(
            max_horizon=64,
            num_envs=data.draw(WIDTHS),
            dtype=dtype,
            batched=None,
            per_step_gamma=None,
            terminated_probability=data.draw(st.sampled_from([0.0, 0.1, 0.5])),
            truncated_probability=data.draw(st.sampled_from([0.0, 0.1, 0.5])),
            allow_nan=data.draw(st.booleans()),
            allow_infinity=data.draw(st.booleans()),
        ),
        label="batch",
    )
    assert_same_on_cuda_as_on_cpu(batch, data.draw(lams(), label="lam"), rtol=1e-9 if dtype == torch.float64 else 1e-4)


@pytest.mark.cuda
@requires_cuda
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_cuda_half_precision_keeps_dtype_and_device(dtype: torch.dtype) -> None:
    generator = torch.Generator().manual_seed(0)
    shape = (40, 70)
    rewards, values, next_values = (torch.randn(shape, generator=generator).to(dtype) for _ in range(3))
    terminated = torch.rand(shape, generator=generator) < 0.1
    truncated = torch.rand(shape, generator=generator) < 0.1
    gamma = torch.rand(shape, generator=generator).to(dtype)
    batch = TrajectoryBatch(rewards, values, next_values, terminated, truncated, gamma)
    assert_same_on_cuda_as_on_cpu(batch, 0.95, rtol=1e-2)


@pytest.mark.cuda
@requires_cuda
@pytest.mark.parametrize("shape", [(3000, 4), (50, 40_000), (0, 5), (7, 0)])
def test_cuda_large_and_empty_shapes(shape: tuple[int, int]) -> None:
    generator = torch.Generator().manual_seed(1)
    rewards, values, next_values = (torch.randn(shape, generator=generator) for _ in range(3))
    terminated = torch.rand(shape, generator=generator) < 0.05
    truncated = torch.rand(shape, generator=generator) < 0.05
    batch = TrajectoryBatch(rewards, values, next_values, terminated, truncated, 0.99)
    on_cuda = to_device(batch, "cuda")
    for label, function in functions(0.95).items():
        got = function(on_cuda)
        assert got.is_cuda, label
        assert got.dtype == torch.float32, label
        assert got.shape == shape, label
        if 0 not in shape:  # empty rollouts on the CPU are pinned in test_returns.py
            assert_close_to_reference(got, function(batch).double(), rtol=1e-4, label=label)


@pytest.mark.cuda
@requires_cuda
def test_cuda_non_contiguous_inputs() -> None:
    generator = torch.Generator().manual_seed(2)
    stored = (70, 33)  # [N, T] in memory, used time-major through .T
    rewards, values, next_values = (torch.randn(stored, generator=generator, dtype=torch.float64) for _ in range(3))
    terminated = torch.rand(stored, generator=generator) < 0.1
    truncated = torch.rand(stored, generator=generator) < 0.1
    batch = TrajectoryBatch(rewards.T, values.T, next_values.T, terminated.T, truncated.T, 0.9)
    assert not batch.rewards.is_contiguous()
    assert_same_on_cuda_as_on_cpu(batch, 0.9, rtol=1e-9)


@pytest.mark.cuda
@requires_cuda
def test_cuda_lazily_negated_inputs_are_read_as_what_they_mean() -> None:
    rewards = torch.complex(torch.zeros(6, 3), torch.full((6, 3), 2.5)).conj().imag  # −2.5, negative bit set
    assert rewards.is_neg()
    done = torch.zeros(6, 3, dtype=torch.bool)
    expected = typedrl.discounted_returns(rewards.resolve_neg(), done, done, gamma=0.9)
    got = typedrl.discounted_returns(rewards.cuda(), done.cuda(), done.cuda(), gamma=0.9)
    assert_close_to_reference(got, expected.double(), rtol=1e-6)
    negated_cuda = torch.complex(torch.zeros(6, 3, device="cuda"), torch.full((6, 3), 2.5, device="cuda")).conj().imag
    got = typedrl.discounted_returns(negated_cuda, done.cuda(), done.cuda(), gamma=0.9)
    assert_close_to_reference(got, expected.double(), rtol=1e-6)


@pytest.mark.cuda
@requires_cuda
def test_cuda_nan_after_a_termination_does_not_leak_backwards() -> None:
    nan = float("nan")
    rewards, values, zeros = (torch.tensor(v, device="cuda") for v in ([1.0, 0.0], [0.0, nan], [0.0, 0.0]))
    at_0, none = torch.tensor([True, False], device="cuda"), torch.tensor([False, False], device="cuda")
    got = typedrl.gae(rewards, values, zeros, at_0, none, gamma=0.9, lam=0.9)
    torch.testing.assert_close(got.cpu(), torch.tensor([1.0, nan]), rtol=0, atol=0, equal_nan=True)
    got = typedrl.gae(rewards, values, zeros, none, none, gamma=0.9, lam=0.0)
    torch.testing.assert_close(got.cpu(), torch.tensor([1.0, nan]), rtol=0, atol=0, equal_nan=True)


@pytest.mark.cuda
@requires_cuda
def test_cuda_mixed_devices_are_an_input_error() -> None:
    rewards = torch.zeros(4, dtype=torch.float64, device="cuda")
    flags = torch.zeros(4, dtype=torch.bool, device="cuda")
    with pytest.raises(typedrl.InputError) as caught:
        typedrl.gae(rewards, rewards.cpu(), rewards, flags, flags, gamma=0.9, lam=0.9)
    assert str(caught.value) == f"gae: values is on cpu; expected {rewards.device} (as rewards)"
