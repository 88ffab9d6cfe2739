"""The private recurrence package: its kind codes, its dispatch, and the portable torch loop.

The kind codes exist in C (``_cpu.c``) and in Python (:class:`typedrl._recurrence.Kind`): these tests hold them
equal. The torch loop is the fallback on any device without the Triton kernel; it runs on CPU tensors too, so
it is tested here, on every machine, against the C kernel and against the specification.
"""

import re
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

import typedrl
from typedrl import _recurrence
from typedrl._recurrence import Inputs, Kind, _cpu
from typedrl._recurrence.torch_loop import torch_loop
from typedrl.testing import (
    TrajectoryBatch,
    assert_close_to_reference,
    lams,
    reference_discounted_returns,
    reference_gae,
    trajectory_batches,
)

C_SOURCE = Path(_recurrence.__file__).with_name("_cpu.c")


def gae_inputs(b: TrajectoryBatch, lam: float) -> Inputs:
    return Inputs(Kind.GAE, b.rewards, b.values, b.next_values, b.terminated, b.truncated, b.gamma, lam)


def returns_inputs(b: TrajectoryBatch, *, bootstrap: bool) -> Inputs:
    next_values = b.next_values if bootstrap else None
    return Inputs(Kind.RETURNS, b.rewards, None, next_values, b.terminated, b.truncated, b.gamma, 0.0)


# The kind codes: one meaning in C and in Python.


def test_kind_codes_agree_with_the_compiled_module() -> None:
    assert {kind.name: kind.value for kind in Kind} == {"GAE": _cpu.KIND_GAE, "RETURNS": _cpu.KIND_RETURNS}


@pytest.mark.skipif(not C_SOURCE.exists(), reason="the C source is not installed beside the package")
def test_kind_codes_agree_with_the_c_source() -> None:
    defined = re.findall(r"^#define KIND_(\w+) (\d+)$", C_SOURCE.read_text(), flags=re.MULTILINE)
    assert {name: int(code) for name, code in defined} == {kind.name: kind.value for kind in Kind}


def test_the_c_kernel_refuses_a_kind_it_does_not_know() -> None:
    rewards, done = torch.zeros(3), torch.zeros(3, dtype=torch.bool)
    addresses = (rewards.data_ptr(), rewards.data_ptr(), None, None, done.data_ptr(), done.data_ptr(), None)
    unknown = max(Kind) + 1
    with pytest.raises(ValueError, match="inconsistent arguments"):
        _cpu.recurrence(unknown, False, *addresses, 0.9, 0.0, 3, 1)


# The dispatch.


def test_run_on_cpu_tensors_is_the_c_kernel() -> None:
    generator = torch.Generator().manual_seed(3)
    rewards, values, next_values = (torch.randn(9, 3, generator=generator, dtype=torch.float64) for _ in range(3))
    terminated = torch.rand(9, 3, generator=generator) < 0.2
    truncated = torch.rand(9, 3, generator=generator) < 0.2
    inputs = Inputs(Kind.GAE, rewards, values, next_values, terminated, truncated, 0.9, 0.8)
    expected = typedrl.gae(rewards, values, next_values, terminated, truncated, gamma=0.9, lam=0.8)
    torch.testing.assert_close(_recurrence.run(inputs), expected, rtol=0, atol=0)
    torch.testing.assert_close(_recurrence.on_cpu(*inputs), expected, rtol=0, atol=0)


@pytest.mark.parametrize("kind", list(Kind))
def test_run_elsewhere_is_the_torch_loop(kind: Kind) -> None:
    # A device that is neither the CPU nor CUDA (meta holds shapes, not values) takes the portable loop.
    rewards = torch.zeros(5, 2, device="meta")
    done = torch.zeros(5, 2, dtype=torch.bool, device="meta")
    got = _recurrence.run(Inputs(kind, rewards, rewards, rewards, done, done, 0.9, 0.5))
    assert got.is_meta
    assert got.shape == (5, 2)
    assert got.dtype == torch.float32


def test_triton_available_is_a_bool() -> None:
    assert isinstance(_recurrence.triton_available(), bool)


def test_smallest_subnormal() -> None:
    assert _recurrence.smallest_subnormal(torch.float32) == 2.0**-149
    assert _recurrence.smallest_subnormal(torch.float64) == 2.0**-1074


# The portable torch loop, on CPU tensors, against the C kernel.


@settings(max_examples=60)
@given(
    batch=trajectory_batches(min_horizon=0, max_horizon=40, batched=None, max_envs=70, per_step_gamma=None, dtype=None),
    lam=lams(),
)
def test_torch_loop_gae_equals_the_c_kernel(batch: TrajectoryBatch, lam: float) -> None:
    b = batch
    got = torch_loop(gae_inputs(b, lam))
    expected = typedrl.gae(b.rewards, b.values, b.next_values, b.terminated, b.truncated, gamma=b.gamma, lam=lam)
    assert got.dtype == b.rewards.dtype
    assert got.shape == b.rewards.shape
    assert_close_to_reference(got, expected.double(), rtol=1e-9 if got.dtype == torch.float64 else 1e-5)


@settings(max_examples=60)
@given(
    batch=trajectory_batches(min_horizon=0, max_horizon=40, batched=None, max_envs=70, per_step_gamma=None, dtype=None),
    bootstrap=st.booleans(),
)
def test_torch_loop_returns_equal_the_c_kernel(batch: TrajectoryBatch, bootstrap: bool) -> None:
    b = batch
    got = torch_loop(returns_inputs(b, bootstrap=bootstrap))
    next_values = b.next_values if bootstrap else None
    expected = typedrl.discounted_returns(b.rewards, b.terminated, b.truncated, gamma=b.gamma, next_values=next_values)
    assert got.dtype == b.rewards.dtype
    assert got.shape == b.rewards.shape
    assert_close_to_reference(got, expected.double(), rtol=1e-9 if got.dtype == torch.float64 else 1e-5)


# The torch loop on non-finite numbers: against the specification itself.


@settings(max_examples=60)
@given(
    batch=trajectory_batches(
        max_horizon=40,
        batched=None,
        max_envs=70,
        per_step_gamma=None,
        dtype=None,
        allow_nan=True,
        allow_infinity=True,
        terminated_probability=0.3,
    ),
    lam=lams(),
    bootstrap=st.booleans(),
)
def test_torch_loop_equals_the_spec_on_non_finite_numbers(batch: TrajectoryBatch, lam: float, bootstrap: bool) -> None:
    b = batch
    rtol = 1e-9 if b.rewards.dtype == torch.float64 else 1e-4
    got = torch_loop(gae_inputs(b, lam))
    assert_close_to_reference(got, reference_gae(b, lam=lam), rtol=rtol, label="gae")
    got = torch_loop(returns_inputs(b, bootstrap=bootstrap))
    assert_close_to_reference(got, reference_discounted_returns(b, bootstrap=bootstrap), rtol=rtol, label="returns")


def test_torch_loop_keeps_a_nonzero_coefficient_that_underflows_float32() -> None:
    inf = float("inf")
    rewards = torch.tensor([1.0, inf])
    zeros = torch.zeros(2)
    no = torch.zeros(2, dtype=torch.bool)
    gammas: list[float | Tensor] = [1e-30, torch.full((2,), 1e-30)]
    for gamma in gammas:
        got = torch_loop(Inputs(Kind.GAE, rewards, zeros, zeros, no, no, gamma, 1e-30))
        torch.testing.assert_close(got, torch.tensor([inf, inf]), rtol=0, atol=0)
    # A scalar γ that rounds to 0 in float32 still reads what it multiplies: γ·V' and γ·G₁ are inf, not NaN or 0.
    got = torch_loop(Inputs(Kind.GAE, zeros, zeros, torch.tensor([inf, inf]), no, no, 1e-300, 0.0))
    torch.testing.assert_close(got, torch.tensor([inf, inf]), rtol=0, atol=0)
    got = torch_loop(Inputs(Kind.RETURNS, rewards, None, None, no, no, 1e-300, 0.0))
    torch.testing.assert_close(got, torch.tensor([inf, inf]), rtol=0, atol=0)
    expected = typedrl.discounted_returns(rewards, no, no, gamma=1e-300)  # the C kernel agrees
    torch.testing.assert_close(expected, torch.tensor([inf, inf]), rtol=0, atol=0)
