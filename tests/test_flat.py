"""FlatParameters: the module trains exactly as before, its gradients land in the flat buffer, and a broken
layout or an old optimizer state is handled."""

import copy
import math

import pytest
import torch
from torch import nn

from typedrl.algos.flat import FlatParameters
from typedrl.errors import TrainingError


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))


def _loss(module: nn.Module, step: int) -> torch.Tensor:
    inputs = torch.linspace(-1, 1, 12).reshape(4, 3) * (step + 1)
    outputs: torch.Tensor = module(inputs)
    return outputs.square().mean()


def test_parameters_and_gradients_are_views_of_the_buffers() -> None:
    module = _net()
    before = [parameter.detach().clone() for parameter in module.parameters()]
    flat = FlatParameters(module)
    assert flat.parameter.shape == (sum(p.numel() for p in before),)
    torch.testing.assert_close(flat.parameter.detach(), torch.cat([p.reshape(-1) for p in before]))
    _loss(module, 0).backward()  # type: ignore[no-untyped-call]
    gradients = torch.cat([p.grad.reshape(-1) for p in module.parameters()])  # type: ignore[union-attr]
    torch.testing.assert_close(flat.grad, gradients)
    assert flat.grad.abs().sum() > 0
    flat.zero_grad()
    assert all(bool((p.grad == 0).all()) for p in module.parameters())  # type: ignore[union-attr]


def test_training_matches_adam_over_the_separate_parameters() -> None:
    plain = _net()
    flattened = copy.deepcopy(plain)
    flat = FlatParameters(flattened)
    plain_adam = torch.optim.Adam(plain.parameters(), lr=1e-2)
    flat_adam = torch.optim.Adam([flat.parameter], lr=1e-2, fused=True)
    for step in range(20):
        plain_adam.zero_grad()
        _loss(plain, step).backward()  # type: ignore[no-untyped-call]
        plain_norm = nn.utils.clip_grad_norm_(plain.parameters(), 0.1)
        plain_adam.step()
        flat.zero_grad()
        _loss(flattened, step).backward()  # type: ignore[no-untyped-call]
        flat_norm = flat.clip_grad_norm_(0.1)
        flat_adam.step()
        torch.testing.assert_close(flat_norm, plain_norm)
    for ours, theirs in zip(flattened.parameters(), plain.parameters(), strict=True):
        torch.testing.assert_close(ours, theirs)


def test_an_infinite_max_norm_only_measures() -> None:
    module = _net()
    flat = FlatParameters(module)
    _loss(module, 3).backward()  # type: ignore[no-untyped-call]
    before = flat.grad.clone()
    norm = flat.clip_grad_norm_(math.inf)
    torch.testing.assert_close(norm, torch.linalg.vector_norm(before))
    assert torch.equal(flat.grad, before)


def test_a_replaced_gradient_is_reported() -> None:
    module = _net()
    flat = FlatParameters(module)
    flat.check_layout()
    module.zero_grad()  # sets every .grad to None: the next backward would write outside the buffer
    with pytest.raises(TrainingError, match=r"parameter 0 \(shape \(5, 3\)\) no longer lives in the flat buffer"):
        flat.check_layout()


def test_a_moved_parameter_is_reported() -> None:
    module = _net()
    flat = FlatParameters(module)
    module.double()  # copies the parameters out of the buffer
    with pytest.raises(TrainingError, match="no longer lives in the flat buffer"):
        flat.check_layout()


def test_load_state_dict_keeps_the_layout() -> None:
    module = _net()
    flat = FlatParameters(module)
    module.load_state_dict({name: torch.ones_like(value) for name, value in module.state_dict().items()})
    flat.check_layout()
    assert bool((flat.parameter == 1).all())


def test_adam_state_saved_per_tensor_loads_into_the_flat_optimizer() -> None:
    plain = _net()
    flattened = copy.deepcopy(plain)
    plain_adam = torch.optim.Adam(plain.parameters(), lr=1e-2)
    for step in range(3):
        plain_adam.zero_grad()
        _loss(plain, step).backward()  # type: ignore[no-untyped-call]
        plain_adam.step()
    flattened.load_state_dict(plain.state_dict())
    flat = FlatParameters(flattened)
    flat_adam = torch.optim.Adam([flat.parameter], lr=1e-2)
    flat.attach(flat_adam)
    flat_adam.load_state_dict(plain_adam.state_dict())
    state = flat_adam.state[flat.parameter]
    expected = torch.cat([plain_adam.state[p]["exp_avg_sq"].reshape(-1) for p in plain.parameters()])
    torch.testing.assert_close(state["exp_avg_sq"], expected)
    assert float(state["step"]) == 3.0
    # ...and the next steps agree.
    for step in range(3, 6):
        plain_adam.zero_grad()
        _loss(plain, step).backward()  # type: ignore[no-untyped-call]
        plain_adam.step()
        flat.zero_grad()
        _loss(flattened, step).backward()  # type: ignore[no-untyped-call]
        flat_adam.step()
    for ours, theirs in zip(flattened.parameters(), plain.parameters(), strict=True):
        torch.testing.assert_close(ours, theirs)


def test_a_state_of_another_shape_is_left_for_torch_to_refuse() -> None:
    module = _net()
    flat = FlatParameters(module)
    adam = torch.optim.Adam([flat.parameter])
    flat.attach(adam)
    other = torch.optim.Adam([nn.Parameter(torch.zeros(2)), nn.Parameter(torch.zeros(3))])
    with pytest.raises(ValueError, match="parameter"):
        adam.load_state_dict(other.state_dict())


def test_mixed_dtypes_and_empty_modules_are_refused() -> None:
    with pytest.raises(ValueError, match="no parameters"):
        FlatParameters(nn.Tanh())
    mixed = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2).double())
    with pytest.raises(ValueError, match="expected one device and dtype"):
        FlatParameters(mixed)
