"""ppo_loss: its value and its closed-form gradient equal autograd's on the same formula (ppo_loss_reference)."""

import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from typedrl.errors import InputError
from typedrl.losses import gaussian_ppo_loss, ppo_loss, ppo_loss_reference, ppo_objective
from typedrl.policies import gaussian_entropy, gaussian_log_prob, squashed_gaussian_log_prob


def _both(
    logits: torch.Tensor,
    values: torch.Tensor,
    data: tuple[torch.Tensor, ...],
    weights: tuple[float, float, float, float],
    **options: Any,
) -> list[tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]]:
    """Each loss's outputs and the gradients of ``w·(loss, policy, value, entropy)`` in logits and values."""
    results = []
    for function in (ppo_loss, ppo_loss_reference):
        z = logits.clone().requires_grad_()
        v = values.clone().requires_grad_()
        out = function(z, v, *data, **options)
        objective = sum(weight * term for weight, term in zip(weights, out[:4], strict=True))
        objective.backward()  # type: ignore[union-attr]
        assert z.grad is not None
        assert v.grad is not None
        results.append(([term.detach() for term in out], z.grad, v.grad))
    return results


@st.composite
def minibatches(draw: st.DrawFn) -> tuple[torch.Tensor, ...]:
    """Logits (some actions masked with -inf, never a whole row), values, actions, old log-probs (sometimes equal
    to the new ones, or at the clip bounds exactly), advantages (some 0), returns, old values (some ties)."""
    rows = draw(st.integers(1, 12))
    actions_count = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**31 - 1))
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(rows, actions_count, generator=generator, dtype=torch.float64) * 3
    masked = torch.rand(rows, actions_count, generator=generator) < 0.3
    masked[:, 0] = False  # every row keeps an action
    logits = logits.masked_fill(masked, -math.inf)
    actions = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator).squeeze(-1)
    log_probs = torch.log_softmax(logits, -1).gather(-1, actions[:, None]).squeeze(-1)
    clip = 0.2
    shift = torch.randn(rows, generator=generator, dtype=torch.float64) * 0.4
    kind = torch.randint(0, 4, (rows,), generator=generator)
    old_log_probs = torch.where(kind == 0, log_probs, log_probs + shift)
    old_log_probs = torch.where(kind == 1, log_probs - math.log(1 + clip), old_log_probs)  # ratio at 1 + ε
    old_log_probs = torch.where(kind == 2, log_probs - math.log(1 - clip), old_log_probs)  # ratio at 1 − ε
    advantages = torch.randn(rows, generator=generator, dtype=torch.float64)
    advantages = torch.where(torch.rand(rows, generator=generator) < 0.2, 0.0, advantages)
    values = torch.randn(rows, generator=generator, dtype=torch.float64)
    returns = torch.randn(rows, generator=generator, dtype=torch.float64)
    old_values = values + torch.randn(rows, generator=generator, dtype=torch.float64) * 0.5
    old_values = torch.where(torch.rand(rows, generator=generator) < 0.2, values, old_values)
    return logits, values, actions, old_log_probs, advantages, returns, old_values


weights = st.tuples(*(st.sampled_from([0.0, 1.0, -0.5, 2.0]) for _ in range(4)))


@settings(max_examples=300, deadline=None)
@given(minibatches(), weights, st.sampled_from([None, 0.05, 0.3]), st.sampled_from([0.0, 0.01, 0.5]))
def test_value_and_gradient_equal_autograd_of_the_formula(
    batch: tuple[torch.Tensor, ...],
    weights: tuple[float, float, float, float],
    clip_range_vf: float | None,
    entropy_coef: float,
) -> None:
    logits, values, actions, old_log_probs, advantages, returns, old_values = batch
    options = {
        "clip": 0.2,
        "value_coef": 0.7,
        "entropy_coef": entropy_coef,
        "old_values": old_values,
        "clip_range_vf": clip_range_vf,
    }
    data = (actions, old_log_probs, advantages, returns)
    (fused, fused_z, fused_v), (reference, reference_z, reference_v) = _both(logits, values, data, weights, **options)
    for got, expected in zip(fused, reference, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    assert bool(torch.isfinite(fused_z).all()), "a masked action put a non-finite number in the gradient"
    torch.testing.assert_close(fused_z, reference_z, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(fused_v, reference_v, rtol=1e-10, atol=1e-12)


def test_float32_agrees_with_autograd_to_rounding() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(256, 2, generator=generator)
    values, returns, advantages = (torch.randn(256, generator=generator) for _ in range(3))
    actions = torch.randint(0, 2, (256,), generator=generator)
    old = torch.log_softmax(logits, -1).gather(-1, actions[:, None]).squeeze(-1) + 0.2 * torch.randn(256)
    data = (actions, old, advantages, returns)
    (fused, fz, fv), (reference, rz, rv) = _both(logits, values, data, (1.0, 0.0, 0.0, 0.0), clip=0.2)
    for got, expected in zip(fused, reference, strict=True):
        torch.testing.assert_close(got, expected)
    torch.testing.assert_close(fz, rz)
    torch.testing.assert_close(fv, rv)


def test_gradcheck_in_float64() -> None:
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(6, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    values = torch.randn(6, generator=generator, dtype=torch.float64, requires_grad=True)
    actions = torch.randint(0, 3, (6,), generator=generator)
    old = torch.randn(6, generator=generator, dtype=torch.float64) * 0.1 - 1.0
    advantages, returns = (torch.randn(6, generator=generator, dtype=torch.float64) for _ in range(2))
    old_values = values.detach() + 0.5 * torch.randn(6, generator=generator, dtype=torch.float64)

    def terms(z: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = ppo_loss(
            z,
            v,
            actions,
            old,
            advantages,
            returns,
            clip=0.2,
            entropy_coef=0.1,
            old_values=old_values,
            clip_range_vf=0.3,
        )
        return tuple(out[:4])

    assert torch.autograd.gradcheck(terms, (logits, values))


def test_torchlean_golden_value() -> None:
    """TorchLean's PPO golden: ratio 1.5, advantage 1, ε 0.2 → clipped objective 1.2 (policy loss −1.2)."""
    logits = torch.tensor([[0.0, 0.0]])
    old = torch.log(torch.tensor([0.5 / 1.5]))
    out = ppo_loss(logits, torch.zeros(1), torch.tensor([0]), old, torch.ones(1), torch.zeros(1), clip=0.2)
    assert float(out.policy_loss) == pytest.approx(-1.2)
    assert float(out.clip_fraction) == 1.0
    assert float(out.entropy) == pytest.approx(math.log(2))
    assert float(out.approx_kl) == pytest.approx(0.5 - math.log(1.5))


def test_only_the_statistics_are_not_differentiable() -> None:
    logits = torch.zeros(2, 2, requires_grad=True)
    out = ppo_loss(logits, torch.zeros(2), torch.tensor([0, 1]), torch.zeros(2), torch.ones(2), torch.ones(2), clip=0.2)
    assert out.loss.requires_grad
    assert out.policy_loss.requires_grad
    assert not out.approx_kl.requires_grad
    assert not out.clip_fraction.requires_grad


def test_second_derivatives_are_refused_not_wrong() -> None:
    logits = torch.zeros(2, 2, requires_grad=True)
    out = ppo_loss(logits, torch.zeros(2), torch.tensor([0, 1]), torch.zeros(2), torch.ones(2), torch.ones(2), clip=0.2)
    (gradient,) = torch.autograd.grad(out.loss, logits, create_graph=True)
    with pytest.raises(RuntimeError, match=r"does not require grad|once_differentiable"):
        torch.autograd.grad(gradient.sum(), logits)


def test_non_finite_input_gives_a_non_finite_loss() -> None:
    out = ppo_loss(
        torch.zeros(2, 2),
        torch.tensor([0.0, math.nan]),
        torch.tensor([0, 1]),
        torch.zeros(2),
        torch.ones(2),
        torch.ones(2),
        clip=0.2,
    )
    assert math.isnan(float(out.loss))
    assert math.isnan(float(out.value_loss))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"logits": torch.zeros(3)}, r"ppo_loss: logits has shape \(3,\); expected \[B, A\]"),
        ({"actions": torch.tensor([0, 2, 0])}, r"ppo_loss: actions\[1\] is 2; expected an action in \[0, 2\)"),
        ({"actions": torch.zeros(3)}, r"ppo_loss: actions has dtype torch.float32; expected an integer dtype"),
        ({"values": torch.zeros(2)}, r"ppo_loss: values has shape \(2,\); expected \(3,\)"),
        ({"returns": torch.zeros(3, dtype=torch.int64)}, r"ppo_loss: returns is dtype torch.int64; expected a float"),
        ({"advantages": [0.0, 0.0, 0.0]}, r"ppo_loss: advantages is a list; expected a floating tensor \[B\]"),
        ({"old_values": torch.zeros(3, 1)}, r"ppo_loss: old_values has shape \(3, 1\); expected \(3,\)"),
    ],
)
def test_bad_inputs_name_the_argument(change: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {
        "logits": torch.zeros(3, 2),
        "values": torch.zeros(3),
        "actions": torch.zeros(3, dtype=torch.int64),
        "old_log_probs": torch.zeros(3),
        "advantages": torch.zeros(3),
        "returns": torch.zeros(3),
        "old_values": None,
    }
    arguments.update(change)
    with pytest.raises(InputError, match=message):
        ppo_loss(**arguments, clip=0.2)  # type: ignore[arg-type]


def test_value_clipping_needs_the_old_values() -> None:
    with pytest.raises(ValueError, match="clip_range_vf needs old_values"):
        ppo_loss(
            torch.zeros(1, 2),
            torch.zeros(1),
            torch.zeros(1, dtype=torch.int64),
            torch.zeros(1),
            torch.zeros(1),
            torch.zeros(1),
            clip=0.2,
            clip_range_vf=0.1,
        )


def test_a_value_tie_outside_the_clip_range_splits_the_gradient_as_torch_max_does() -> None:
    """V = 1, V_old = −1, ε_V = 0.5, G = 0.25: clipped V = −0.5, and (1 − 0.25)² = (−0.5 − 0.25)² exactly."""
    data = (torch.tensor([0]), torch.zeros(1), torch.zeros(1), torch.tensor([0.25]))
    options = {"clip": 0.2, "old_values": torch.tensor([-1.0]), "clip_range_vf": 0.5}
    (fused, _, fused_v), (reference, _, reference_v) = _both(
        torch.zeros(1, 2), torch.tensor([1.0]), data, (0.0, 0.0, 1.0, 0.0), **options
    )
    assert float(reference_v[0]) == pytest.approx(0.75)  # half of 2·(1 − 0.25); the clipped side passes none
    torch.testing.assert_close(fused_v, reference_v)
    torch.testing.assert_close(fused[2], reference[2])


@st.composite
def gaussian_minibatches(draw: st.DrawFn) -> tuple[torch.Tensor, ...]:
    """Means, log-stds, values, sampled actions (the stored samples), old log-probs (some at the clip bounds),
    advantages (some 0), returns, old values (some ties)."""
    rows = draw(st.integers(1, 12))
    size = draw(st.integers(1, 3))
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    mean = torch.randn(rows, size, generator=generator, dtype=torch.float64) * 2
    log_std = torch.randn(size, generator=generator, dtype=torch.float64) * 0.5
    samples = mean + log_std.exp() * torch.randn(rows, size, generator=generator, dtype=torch.float64)
    log_probs = gaussian_log_prob(mean, log_std, samples)
    kind = torch.randint(0, 4, (rows,), generator=generator)
    shift = torch.randn(rows, generator=generator, dtype=torch.float64) * 0.4
    old_log_probs = torch.where(kind == 0, log_probs, log_probs + shift)
    old_log_probs = torch.where(kind == 1, log_probs - math.log(1.2), old_log_probs)
    old_log_probs = torch.where(kind == 2, log_probs - math.log(0.8), old_log_probs)
    advantages = torch.randn(rows, generator=generator, dtype=torch.float64)
    advantages = torch.where(torch.rand(rows, generator=generator) < 0.2, 0.0, advantages)
    values = torch.randn(rows, generator=generator, dtype=torch.float64)
    returns = torch.randn(rows, generator=generator, dtype=torch.float64)
    old_values = torch.where(
        torch.rand(rows, generator=generator) < 0.2,
        values,
        values + torch.randn(rows, generator=generator, dtype=torch.float64) * 0.5,
    )
    return mean, log_std, values, samples, old_log_probs, advantages, returns, old_values


@settings(max_examples=300, deadline=None)
@given(
    gaussian_minibatches(),
    weights,
    st.sampled_from([None, 0.05, 0.3]),
    st.sampled_from([0.0, 0.01, 0.5]),
    st.booleans(),
)
def test_the_gaussian_loss_and_gradient_equal_autograd_of_the_formula(
    batch: tuple[torch.Tensor, ...],
    weights: tuple[float, float, float, float],
    clip_range_vf: float | None,
    entropy_coef: float,
    squashed: bool,
) -> None:
    mean, log_std, values, samples, old_log_probs, advantages, returns, old_values = batch
    if squashed:  # the old log-probabilities of the squashed density, shifted the same way
        old_log_probs = old_log_probs - (
            gaussian_log_prob(mean, log_std, samples) - squashed_gaussian_log_prob(mean, log_std, samples)
        )
    options: dict[str, Any] = {
        "clip": 0.2,
        "value_coef": 0.7,
        "entropy_coef": entropy_coef,
        "old_values": old_values,
        "clip_range_vf": clip_range_vf,
    }
    results = []
    for fused in (True, False):
        m, s, v = (tensor.clone().requires_grad_() for tensor in (mean, log_std, values))
        if fused:
            out = gaussian_ppo_loss(m, s, v, samples, old_log_probs, advantages, returns, squashed=squashed, **options)
        else:
            if squashed:
                log_probs = squashed_gaussian_log_prob(m, s, samples)
                entropies = -log_probs
            else:
                log_probs, entropies = gaussian_log_prob(m, s, samples), gaussian_entropy(s, len(samples))
            out = ppo_objective(log_probs, entropies, v, old_log_probs, advantages, returns, **options)
        objective = sum(weight * term for weight, term in zip(weights, out[:4], strict=True))
        if isinstance(objective, torch.Tensor) and objective.requires_grad:
            objective.backward()  # type: ignore[no-untyped-call]
        grads = [tensor.grad if tensor.grad is not None else torch.zeros_like(tensor) for tensor in (m, s, v)]
        results.append(([term.detach() for term in out], grads))
    (fused_terms, fused_grads), (reference_terms, reference_grads) = results
    for ours, theirs in zip(fused_terms, reference_terms, strict=True):
        assert torch.allclose(ours, theirs, rtol=1e-9, atol=1e-9)
    for ours, theirs in zip(fused_grads, reference_grads, strict=True):
        assert torch.allclose(ours, theirs, rtol=1e-7, atol=1e-9)


def test_the_gaussian_loss_passes_gradcheck() -> None:
    generator = torch.Generator().manual_seed(3)
    mean = torch.randn(5, 2, dtype=torch.float64, generator=generator, requires_grad=True)
    log_std = torch.randn(2, dtype=torch.float64, generator=generator, requires_grad=True)
    values = torch.randn(5, dtype=torch.float64, generator=generator, requires_grad=True)
    samples = torch.randn(5, 2, dtype=torch.float64, generator=generator)
    data = [torch.randn(5, dtype=torch.float64, generator=generator) for _ in range(3)]

    def loss(m: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return gaussian_ppo_loss(m, s, v, samples, *data, clip=0.2, entropy_coef=0.1).loss

    assert torch.autograd.gradcheck(loss, (mean, log_std, values))


def test_the_gaussian_loss_refuses_mismatched_shapes() -> None:
    data = [torch.zeros(4) for _ in range(4)]
    with pytest.raises(InputError, match=r"mean \(4, 2\), log_std \(3,\) and actions \(4, 2\); expected"):
        gaussian_ppo_loss(torch.zeros(4, 2), torch.zeros(3), data[0], torch.zeros(4, 2), *data[1:], clip=0.2)
    with pytest.raises(InputError, match="log_std has shape"):
        gaussian_ppo_loss(torch.zeros(4, 2), torch.zeros(1, 2), data[0], torch.zeros(4, 2), *data[1:], clip=0.2)
