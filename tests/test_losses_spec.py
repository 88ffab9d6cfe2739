"""The losses in two layers: typedrl.spec.losses (plain Python, the specification) and the tensor versions in
typedrl.losses and typedrl.policies, held equal by property tests (float64), their gradients checked against
finite differences of the spec (away from kinks) and by gradcheck, and both checked against torch's own
distributions and huber_loss, golden values worked by hand, masked logits and error messages."""

import math
from collections.abc import Callable, Sequence

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st
from torch.distributions import Categorical, Normal, kl_divergence

from typedrl import losses
from typedrl.errors import HyperparameterError, InputError
from typedrl.losses import ppo_objective
from typedrl.policies import categorical_entropy, categorical_log_prob, gaussian_entropy, gaussian_log_prob
from typedrl.spec import losses as spec

F64 = torch.float64
INF = math.inf


def tensor(values: object) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


def assert_equal_to_spec(got: torch.Tensor, expected: float | Sequence[float]) -> None:
    """float64 tensor against the spec's floats: equal to rounding, infinities and NaNs in the same places."""
    torch.testing.assert_close(got.detach(), tensor(expected), rtol=1e-12, atol=1e-12, equal_nan=True)


def spec_gradient(function: Callable[[list[float]], float], point: Sequence[float], step: float = 1e-6) -> list[float]:
    """Central finite differences of a plain-Python function of a flat list (a −inf entry stays −inf: slope 0)."""
    slopes = []
    for index in range(len(point)):
        up, down = list(point), list(point)
        up[index] += step
        down[index] -= step
        slopes.append((function(up) - function(down)) / (2.0 * step))
    return slopes


def assert_gradient_matches_spec(grad: torch.Tensor | None, expected: Sequence[float]) -> None:
    assert grad is not None
    assert bool(torch.isfinite(grad).all()), f"a non-finite gradient: {grad}"
    torch.testing.assert_close(grad.reshape(-1), tensor(expected), rtol=1e-6, atol=1e-6)


def rows_of(flat: Sequence[float], width: int) -> list[list[float]]:
    return [list(flat[start : start + width]) for start in range(0, len(flat), width)]


def torch_categorical_entropy(logits: torch.Tensor) -> torch.Tensor:
    entropy: torch.Tensor = Categorical(logits=logits).entropy()  # type: ignore[no-untyped-call]
    return entropy


def torch_categorical_log_prob(logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    log_prob: torch.Tensor = Categorical(logits=logits).log_prob(actions)  # type: ignore[no-untyped-call]
    return log_prob


def torch_normal(
    mean: list[list[float]], log_std: list[float], actions: list[list[float]]
) -> tuple[torch.Tensor, torch.Tensor]:
    """torch's ``Normal`` per element, summed over the action: log-probabilities and entropies ``[B]``."""
    normal = Normal(tensor(mean), tensor(log_std).exp().expand(len(mean), -1))
    log_prob: torch.Tensor = normal.log_prob(tensor(actions))  # type: ignore[no-untyped-call]
    entropy: torch.Tensor = normal.entropy()  # type: ignore[no-untyped-call]
    return log_prob.sum(-1), entropy.sum(-1)


def weighted(per_row: Sequence[float]) -> float:
    """A scalar from per-row results with a different weight per row (so a gradient mixed up between rows shows)."""
    return math.fsum((row + 1.0) * value for row, value in enumerate(per_row))


# --- Strategies -------------------------------------------------------------------------------------------------


def finite(bound: float) -> st.SearchStrategy[float]:
    return st.floats(-bound, bound, allow_nan=False, allow_infinity=False)


@st.composite
def columns(draw: st.DrawFn, *elements: st.SearchStrategy[float]) -> list[list[float]]:
    """One list per strategy, all of one length B in [1, 8]."""
    size = draw(st.integers(1, 8))
    return [draw(st.lists(element, min_size=size, max_size=size)) for element in elements]


ratios = st.one_of(st.floats(0.0, 3.0), st.sampled_from([0.8, 1.0, 1.2]))  # some exactly at 1 ± ε for ε = 0.2
clips = st.sampled_from([0.0, 0.1, 0.2, 0.3])


@st.composite
def logits(draw: st.DrawFn, shape: tuple[int, int] | None = None, masked: bool = True) -> list[list[float]]:
    """``B`` rows of ``A`` logits in [−8, 8], some −inf (masked) when ``masked``, every row with an allowed action."""
    rows, count = shape if shape is not None else (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    element = st.one_of(finite(8.0), st.just(-INF)) if masked else finite(8.0)
    drawn = [draw(st.lists(element, min_size=count, max_size=count)) for _ in range(rows)]
    return [row if any(z > -INF for z in row) else [0.0, *row[1:]] for row in drawn]


@st.composite
def logits_with_allowed_actions(draw: st.DrawFn) -> tuple[list[list[float]], list[int]]:
    table = draw(logits())
    actions = [draw(st.sampled_from([a for a, z in enumerate(row) if z > -INF])) for row in table]
    return table, actions


@st.composite
def logit_pairs(draw: st.DrawFn, q_masks: str) -> tuple[list[list[float]], list[list[float]]]:
    """``p`` and ``q`` logits of one shape. ``q_masks``: ``"p's"`` masks ``q`` where ``p`` is masked (and
    nowhere else: a finite divergence), ``"any"`` masks ``q`` independently (a +inf divergence where it masks an
    action ``p`` allows)."""
    p = draw(logits())
    shape = (len(p), len(p[0]))
    q = draw(logits(shape, masked=q_masks == "any"))
    if q_masks == "p's":
        q = [
            [-INF if zp == -INF else zq for zp, zq in zip(p_row, q_row, strict=True)]
            for p_row, q_row in zip(p, q, strict=True)
        ]
    return p, q


# --- PPO's minibatch losses -------------------------------------------------------------------------------------


@given(columns(ratios, finite(3.0)), clips)
def test_clipped_surrogate_equals_the_spec(data: list[list[float]], clip: float) -> None:
    rho, advantages = data
    assert_equal_to_spec(
        losses.clipped_surrogate(tensor(rho), tensor(advantages), clip=clip),
        spec.clipped_surrogate(rho, advantages, clip=clip),
    )


@given(columns(ratios, finite(3.0)), st.sampled_from([0.1, 0.2, 0.3]))
def test_clipped_surrogate_gradient_is_the_specs_slope_away_from_the_clip_bounds(
    data: list[list[float]], clip: float
) -> None:
    rho, advantages = data
    assume(all(min(abs(r - (1.0 - clip)), abs(r - (1.0 + clip))) > 1e-4 for r in rho))
    r = tensor(rho).requires_grad_()
    losses.clipped_surrogate(r, tensor(advantages), clip=clip).backward()  # type: ignore[no-untyped-call]
    expected = spec_gradient(lambda x: spec.clipped_surrogate(x, advantages, clip=clip), rho)
    assert_gradient_matches_spec(r.grad, expected)


@given(columns(finite(2.0), finite(3.0), finite(3.0), finite(3.0), finite(3.0)), st.sampled_from([None, 0.1, 0.5]))
def test_clipped_surrogate_value_loss_and_k3_are_what_ppo_objective_computes(
    data: list[list[float]], clip_range_vf: float | None
) -> None:
    """The one-at-a-time losses against :func:`ppo_objective` (what the PPO agent uses), on the same numbers."""
    log_ratios, advantages, values, returns, old_values = (tensor(column) for column in data)
    zeros = torch.zeros_like(log_ratios)
    out = ppo_objective(
        log_ratios,
        zeros,
        values,
        zeros,
        advantages,
        returns,
        clip=0.2,
        old_values=old_values,
        clip_range_vf=clip_range_vf,
    )
    assert torch.equal(-losses.clipped_surrogate(log_ratios.exp(), advantages, clip=0.2), out.policy_loss)
    value = losses.value_loss(values, returns, old_values=old_values, clip_range_vf=clip_range_vf)
    assert torch.equal(value, out.value_loss)
    torch.testing.assert_close(losses.approx_kl_k3(log_ratios), out.approx_kl, rtol=1e-12, atol=1e-15)


@given(columns(finite(5.0), finite(5.0), finite(5.0)), st.sampled_from([None, 0.0, 0.2, 1.0]))
def test_value_loss_equals_the_spec(data: list[list[float]], clip_range_vf: float | None) -> None:
    values, returns, old_values = data
    got = losses.value_loss(tensor(values), tensor(returns), old_values=tensor(old_values), clip_range_vf=clip_range_vf)
    assert_equal_to_spec(got, spec.value_loss(values, returns, old_values=old_values, clip_range_vf=clip_range_vf))


@given(columns(finite(5.0), finite(5.0), finite(5.0)), st.sampled_from([None, 0.2, 1.0]))
def test_value_loss_gradient_is_the_specs_slope_away_from_the_kinks(
    data: list[list[float]], clip_range_vf: float | None
) -> None:
    values, returns, old_values = data
    if clip_range_vf is not None:
        for value, target, old in zip(values, returns, old_values, strict=True):
            assume(abs(abs(value - old) - clip_range_vf) > 1e-4)  # clamp's kink
            if abs(value - old) > clip_range_vf:  # outside the range, max's kink where the two squares tie
                clipped = old + math.copysign(clip_range_vf, value - old)
                assume(abs((value - target) ** 2 - (clipped - target) ** 2) > 1e-4)
    v = tensor(values).requires_grad_()
    loss = losses.value_loss(v, tensor(returns), old_values=tensor(old_values), clip_range_vf=clip_range_vf)
    loss.backward()  # type: ignore[no-untyped-call]
    expected = spec_gradient(
        lambda x: spec.value_loss(x, returns, old_values=old_values, clip_range_vf=clip_range_vf), values
    )
    assert_gradient_matches_spec(v.grad, expected)


@given(columns(finite(10.0), finite(3.0)))
def test_policy_gradient_loss_and_its_gradient_equal_the_spec(data: list[list[float]]) -> None:
    log_probs, advantages = data
    lp = tensor(log_probs).requires_grad_()
    got = losses.policy_gradient_loss(lp, tensor(advantages))
    assert_equal_to_spec(got, spec.policy_gradient_loss(log_probs, advantages))
    got.backward()  # type: ignore[no-untyped-call]
    assert_gradient_matches_spec(lp.grad, spec_gradient(lambda x: spec.policy_gradient_loss(x, advantages), log_probs))


@given(columns(finite(3.0)))
def test_the_kl_estimators_equal_the_spec_and_k3_is_never_negative(data: list[list[float]]) -> None:
    (log_ratios,) = data
    lr = tensor(log_ratios).requires_grad_()
    k1, k3 = losses.approx_kl_k1(lr), losses.approx_kl_k3(lr)
    assert_equal_to_spec(k1, spec.approx_kl_k1(log_ratios))
    assert_equal_to_spec(k3, spec.approx_kl_k3(log_ratios))
    assert float(k3.detach()) >= 0.0
    assert spec.approx_kl_k3(log_ratios) >= 0.0
    k3.backward()  # type: ignore[no-untyped-call]
    assert_gradient_matches_spec(lr.grad, spec_gradient(spec.approx_kl_k3, log_ratios))


@given(logit_pairs("p's"))
def test_k1_and_k3_are_unbiased_estimates_of_the_kl_divergence(
    pair: tuple[list[list[float]], list[list[float]]],
) -> None:
    """``E_{a~π_old}[k(a)] = KL(π_old ‖ π)`` for both estimators: each action's single-sample estimate, weighted by
    ``π_old(a)``, against :func:`categorical_kl` (Schulman 2020: ``E[ρ] = 1`` makes ``k3``'s extra term vanish,
    which needs ``π`` masked wherever ``π_old`` is: the same action masks, as PPO has)."""
    old_row, new_row = pair[0][0], pair[1][0]
    log_old = [spec.categorical_log_prob([old_row], [a])[0] for a in range(len(old_row))]
    log_new = [spec.categorical_log_prob([new_row], [a])[0] for a in range(len(new_row))]
    kl = spec.categorical_kl([old_row], [new_row])[0]
    for estimator in (spec.approx_kl_k1, spec.approx_kl_k3):
        sampled = [(lo, ln) for lo, ln in zip(log_old, log_new, strict=True) if lo > -INF]  # π_old(a) > 0
        expectation = math.fsum(math.exp(lo) * estimator([ln - lo]) for lo, ln in sampled)
        assert expectation == pytest.approx(kl, rel=1e-9, abs=1e-12)


# --- Categorical distributions ----------------------------------------------------------------------------------


@given(logits())
def test_categorical_entropy_equals_the_spec_and_torch_with_masked_actions(table: list[list[float]]) -> None:
    z = tensor(table).requires_grad_()
    got = categorical_entropy(z)
    assert_equal_to_spec(got, spec.categorical_entropy(table))
    torch.testing.assert_close(got.detach(), torch_categorical_entropy(tensor(table)), rtol=1e-10, atol=1e-12)
    got.backward(torch.arange(1.0, len(table) + 1.0, dtype=F64))  # type: ignore[no-untyped-call]
    width = len(table[0])
    flat = [x for row in table for x in row]
    expected = spec_gradient(lambda x: weighted(spec.categorical_entropy(rows_of(x, width))), flat)
    assert_gradient_matches_spec(z.grad, expected)  # finite, 0 at the masked logits


@given(logits_with_allowed_actions())
def test_categorical_log_prob_equals_the_spec_and_torch_with_masked_actions(
    case: tuple[list[list[float]], list[int]],
) -> None:
    table, actions = case
    z = tensor(table).requires_grad_()
    chosen = torch.tensor(actions)
    got = categorical_log_prob(z, chosen)
    assert_equal_to_spec(got, spec.categorical_log_prob(table, actions))
    torch.testing.assert_close(got.detach(), torch_categorical_log_prob(tensor(table), chosen), rtol=1e-10, atol=1e-12)
    got.backward(torch.arange(1.0, len(table) + 1.0, dtype=F64))  # type: ignore[no-untyped-call]
    width = len(table[0])
    flat = [x for row in table for x in row]
    expected = spec_gradient(lambda x: weighted(spec.categorical_log_prob(rows_of(x, width), actions)), flat)
    assert_gradient_matches_spec(z.grad, expected)


def test_a_masked_actions_log_prob_is_minus_inf_in_both_layers() -> None:
    table = [[0.0, -INF, 1.0]]
    assert spec.categorical_log_prob(table, [1]) == [-INF]
    assert float(categorical_log_prob(tensor(table), torch.tensor([1]))) == -INF


@given(logit_pairs("p's"))
def test_categorical_kl_with_shared_masks_is_finite_and_equals_the_spec_and_torch(
    pair: tuple[list[list[float]], list[list[float]]],
) -> None:
    p_table, q_table = pair
    p, q = tensor(p_table).requires_grad_(), tensor(q_table).requires_grad_()
    got = losses.categorical_kl(p, q)
    expected = spec.categorical_kl(p_table, q_table)
    assert all(math.isfinite(x) and x >= -1e-12 for x in expected)
    assert_equal_to_spec(got, expected)
    reference = kl_divergence(Categorical(logits=tensor(p_table)), Categorical(logits=tensor(q_table)))
    torch.testing.assert_close(got.detach(), reference, rtol=1e-9, atol=1e-11)
    got.backward(torch.arange(1.0, len(p_table) + 1.0, dtype=F64))  # type: ignore[no-untyped-call]
    width, p_flat, q_flat = len(p_table[0]), [x for r in p_table for x in r], [x for r in q_table for x in r]
    assert_gradient_matches_spec(
        p.grad, spec_gradient(lambda x: weighted(spec.categorical_kl(rows_of(x, width), q_table)), p_flat)
    )
    assert_gradient_matches_spec(
        q.grad, spec_gradient(lambda x: weighted(spec.categorical_kl(p_table, rows_of(x, width))), q_flat)
    )


@given(logit_pairs("any"))
def test_categorical_kl_is_plus_inf_where_q_masks_an_action_p_allows(
    pair: tuple[list[list[float]], list[list[float]]],
) -> None:
    p_table, q_table = pair
    p, q = tensor(p_table).requires_grad_(), tensor(q_table).requires_grad_()
    got = losses.categorical_kl(p, q)
    expected = spec.categorical_kl(p_table, q_table)
    for p_row, q_row, value in zip(p_table, q_table, expected, strict=True):
        unsupported = any(zp > -INF and zq == -INF for zp, zq in zip(p_row, q_row, strict=True))
        assert value == INF if unsupported else math.isfinite(value)
    assert_equal_to_spec(got, expected)
    reference = kl_divergence(Categorical(logits=tensor(p_table)), Categorical(logits=tensor(q_table)))
    torch.testing.assert_close(got.detach(), reference, rtol=1e-9, atol=1e-11)
    got.sum().backward()  # type: ignore[no-untyped-call]
    assert p.grad is not None
    assert q.grad is not None
    assert bool(torch.isfinite(p.grad).all())
    assert bool(torch.isfinite(q.grad).all())


def test_a_row_without_a_distribution_gives_nan_in_both_layers() -> None:
    """Every logit −inf, or a NaN, or +inf: no distribution, NaN (visible in a loss), in both layers alike."""
    table = [[-INF, -INF], [math.nan, 0.0], [INF, 0.0], [0.0, 1.0]]
    fine = [[0.0, 0.0]] * 4
    for got, expected in (
        (categorical_entropy(tensor(table)), spec.categorical_entropy(table)),
        (categorical_log_prob(tensor(table), torch.tensor([1, 1, 1, 1])), spec.categorical_log_prob(table, [1] * 4)),
        (losses.categorical_kl(tensor(table), tensor(fine)), spec.categorical_kl(table, fine)),
        (losses.categorical_kl(tensor(fine), tensor(table)), spec.categorical_kl(fine, table)),
    ):
        assert [math.isnan(x) for x in expected] == [True, True, True, False]
        assert_equal_to_spec(got, expected)


def test_masked_logits_give_finite_gradients_by_gradcheck() -> None:
    """Entropy, log-probability and KL of logits with −inf entries (a fixed mask over free logits): gradcheck
    passes, and the masked logits get exactly 0."""
    generator = torch.Generator().manual_seed(7)
    free = torch.randn(4, 5, generator=generator, dtype=F64, requires_grad=True)
    other = torch.randn(4, 5, generator=generator, dtype=F64, requires_grad=True)
    mask = torch.tensor([[0, 1, 0, 0, 1], [1, 1, 1, 1, 0], [0, 0, 0, 0, 0], [0, 0, 1, 0, 0]], dtype=torch.bool)
    actions = torch.tensor([0, 4, 2, 3])

    def masked(z: torch.Tensor) -> torch.Tensor:
        return torch.where(mask, -INF, z)

    def functions(z: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (
            categorical_entropy(masked(z)),
            categorical_log_prob(masked(z), actions),
            losses.categorical_kl(masked(z), masked(w)),  # shared mask: finite
            losses.categorical_kl(masked(z), w),  # q unmasked: finite
        )

    assert torch.autograd.gradcheck(functions, (free, other))
    for out in functions(free, other):
        (grad,) = torch.autograd.grad(out.sum(), free)
        assert bool(torch.isfinite(grad).all())
        assert bool((grad[mask] == 0).all())


# --- Diagonal Gaussian ------------------------------------------------------------------------------------------


@st.composite
def gaussians(draw: st.DrawFn) -> tuple[list[list[float]], list[float], list[list[float]]]:
    rows, size = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    mean = [draw(st.lists(finite(5.0), min_size=size, max_size=size)) for _ in range(rows)]
    log_std = draw(st.lists(finite(2.0), min_size=size, max_size=size))
    actions = [draw(st.lists(finite(8.0), min_size=size, max_size=size)) for _ in range(rows)]
    return mean, log_std, actions


@given(gaussians())
def test_gaussian_log_prob_and_entropy_equal_the_spec_and_torch_normal(
    case: tuple[list[list[float]], list[float], list[list[float]]],
) -> None:
    mean, log_std, actions = case
    m, s = tensor(mean).requires_grad_(), tensor(log_std).requires_grad_()
    got = gaussian_log_prob(m, s, tensor(actions))
    assert_equal_to_spec(got, spec.gaussian_log_prob(mean, log_std, actions))
    torch.testing.assert_close(got.detach(), torch_normal(mean, log_std, actions)[0], rtol=1e-10, atol=1e-10)
    entropy = gaussian_entropy(tensor(log_std), len(mean))
    assert_equal_to_spec(entropy, [spec.gaussian_entropy(log_std)] * len(mean))
    torch.testing.assert_close(entropy, torch_normal(mean, log_std, actions)[1], rtol=1e-12, atol=1e-12)
    got.backward(torch.arange(1.0, len(mean) + 1.0, dtype=F64))  # type: ignore[no-untyped-call]
    size, flat_mean = len(log_std), [x for row in mean for x in row]
    assert_gradient_matches_spec(
        m.grad, spec_gradient(lambda x: weighted(spec.gaussian_log_prob(rows_of(x, size), log_std, actions)), flat_mean)
    )
    assert_gradient_matches_spec(
        s.grad, spec_gradient(lambda x: weighted(spec.gaussian_log_prob(mean, x, actions)), log_std)
    )


# --- Huber ------------------------------------------------------------------------------------------------------


@given(columns(finite(6.0), finite(6.0)), st.sampled_from([0.5, 1.0, 2.0]))
def test_huber_loss_equals_the_spec_and_torch_values_and_gradients(data: list[list[float]], delta: float) -> None:
    inputs, targets = data
    x = tensor(inputs).requires_grad_()
    got = losses.huber_loss(x, tensor(targets), delta=delta)
    assert_equal_to_spec(got, spec.huber_loss(inputs, targets, delta=delta))
    y = tensor(inputs).requires_grad_()
    theirs = F.huber_loss(y, tensor(targets), reduction="none", delta=delta)
    assert torch.equal(got, theirs)
    weights = torch.arange(1.0, len(inputs) + 1.0, dtype=F64)
    got.backward(weights)  # type: ignore[no-untyped-call]
    theirs.backward(weights)  # type: ignore[no-untyped-call]
    assert x.grad is not None
    assert y.grad is not None
    torch.testing.assert_close(x.grad, y.grad, rtol=1e-15, atol=0.0)
    # Against the spec's slope, away from |d| = δ (where the second derivative jumps).
    assume(all(abs(abs(a - b) - delta) > 1e-4 for a, b in zip(inputs, targets, strict=True)))
    expected = spec_gradient(lambda v: weighted(spec.huber_loss(v, targets, delta=delta)), inputs)
    assert_gradient_matches_spec(x.grad, expected)


def test_huber_loss_keeps_any_shape() -> None:
    inputs = torch.linspace(-3.0, 3.0, 24, dtype=F64).reshape(2, 3, 4)
    got = losses.huber_loss(inputs, torch.zeros_like(inputs), delta=1.5)
    assert got.shape == (2, 3, 4)
    assert torch.equal(got, F.huber_loss(inputs, torch.zeros_like(inputs), reduction="none", delta=1.5))


# --- Golden values, worked by hand ------------------------------------------------------------------------------

LN2, LN3 = math.log(2.0), math.log(3.0)
HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


def test_torchlean_golden_value_in_both_layers() -> None:
    """TorchLean's PPO golden: ρ = 1.5, A = 1, ε = 0.2 → min(1.5·1, clip(1.5, 0.8, 1.2)·1) = min(1.5, 1.2) = 1.2."""
    assert spec.clipped_surrogate([1.5], [1.0], clip=0.2) == pytest.approx(1.2, abs=1e-15)
    assert float(losses.clipped_surrogate(tensor([1.5]), tensor([1.0]), clip=0.2)) == pytest.approx(1.2, abs=1e-15)


GOLDEN: list[tuple[str, Callable[[], float | list[float]], float | list[float]]] = [
    # ρ = 0.5, A = −1: min(−0.5, clip(0.5)·(−1) = −0.8) = −0.8; with the golden row, mean((1.2 − 0.8)/2) = 0.2.
    ("surrogate, two rows", lambda: spec.clipped_surrogate([1.5, 0.5], [1.0, -1.0], clip=0.2), 0.2),
    # ρ = 1.1 inside [0.8, 1.2]: both terms 1.1·2 = 2.2.
    ("surrogate, inside", lambda: spec.clipped_surrogate([1.1], [2.0], clip=0.2), 2.2),
    # (V − G)² = (1 − 0)² = 1 and (3 − 1)² = 4: mean 2.5, no ½.
    ("value, unclipped", lambda: spec.value_loss([1.0, 3.0], [0.0, 1.0]), 2.5),
    # V = 1, V_old = 0, G = 0, ε_V = 0.2: max(1², (0 + 0.2 − 0)²) = 1.
    # V = 1, V_old = 0, G = 1.1: max(0.1², (0.2 − 1.1)² = 0.81) = 0.81. Mean (1 + 0.81)/2 = 0.905.
    (
        "value, clipped",
        lambda: spec.value_loss([1.0, 1.0], [0.0, 1.1], old_values=[0.0, 0.0], clip_range_vf=0.2),
        0.905,
    ),
    # −mean(−0.5·2, −2·1) = −(−1 − 2)/2 = 1.5.
    ("policy gradient", lambda: spec.policy_gradient_loss([-0.5, -2.0], [2.0, 1.0]), 1.5),
    # ρ = 1.5, 0.5: k1 = mean(−ln 1.5, ln 2) = (ln 2 − ln 1.5)/2 = ln(4/3)/2.
    ("k1", lambda: spec.approx_kl_k1([math.log(1.5), math.log(0.5)]), 0.5 * math.log(4.0 / 3.0)),
    # k3 = mean(0.5 − ln 1.5, −0.5 + ln 2) = (ln 2 − ln 1.5)/2 as well (the ρ − 1 terms cancel here).
    ("k3", lambda: spec.approx_kl_k3([math.log(1.5), math.log(0.5)]), 0.5 * math.log(4.0 / 3.0)),
    # ρ = 1.5 alone: k3 = 0.5 − ln 1.5 ≈ 0.0945.
    ("k3, one sample", lambda: spec.approx_kl_k3([math.log(1.5)]), 0.5 - math.log(1.5)),
    # [0, 0, −inf]: π = [½, ½, 0], H = ln 2 (the masked action adds 0); [0, ln 3, −inf]: π = [¼, ¾, 0],
    # H = −(¼ ln ¼ + ¾ ln ¾) = ln 4 − ¾ ln 3.
    (
        "entropy",
        lambda: spec.categorical_entropy([[0.0, 0.0, -INF], [0.0, LN3, -INF]]),
        [LN2, 2.0 * LN2 - 0.75 * LN3],
    ),
    # [0, ln 3]: π_1 = ¾, log ¾ = ln 3 − 2 ln 2; a masked action: −inf.
    ("log-prob", lambda: spec.categorical_log_prob([[0.0, LN3], [0.0, -INF]], [1, 1]), [LN3 - 2.0 * LN2, -INF]),
    # p = [½, ½], q = [¼, ¾]: ½ ln(½/¼) + ½ ln(½/¾) = ½ ln 2 + ½ ln(2/3) = ½ ln(4/3).
    # p = [1, 0] (masked), q = [½, ½]: 1·ln(1/½) = ln 2. p = [½, ½], q = [1, 0]: +inf. Same mask: 0.
    (
        "kl",
        lambda: spec.categorical_kl(
            [[0.0, 0.0], [0.0, -INF], [0.0, 0.0], [0.0, -INF]], [[0.0, LN3], [0.0, 0.0], [0.0, -INF], [5.0, -INF]]
        ),
        [0.5 * math.log(4.0 / 3.0), LN2, INF, 0.0],
    ),
    # μ = 0, σ = 1, a = 1: z = 1, −(½·1² + 0 + ½ ln 2π). μ = 1, σ = 1, a = 3: z = 2, −(½·2² + ½ ln 2π).
    # μ = 1, σ = 2 (log σ = ln 2), a = 3: z = (3 − 1)/2 = 1, −(½ + ln 2 + ½ ln 2π).
    (
        "gaussian log-prob",
        lambda: (
            spec.gaussian_log_prob([[0.0], [1.0]], [0.0], [[1.0], [3.0]])
            + spec.gaussian_log_prob([[1.0]], [LN2], [[3.0]])
        ),
        [-(0.5 + HALF_LOG_TWO_PI), -(2.0 + HALF_LOG_TWO_PI), -(0.5 + LN2 + HALF_LOG_TWO_PI)],
    ),
    # log σ = [0, ln 2]: 2·(½ + ½ ln 2π) + ln 2 = 1 + ln 2π + ln 2 = 1 + ln 4π.
    ("gaussian entropy", lambda: spec.gaussian_entropy([0.0, LN2]), 1.0 + math.log(4.0 * math.pi)),
    # δ = 1: d = 0.5 → 0.125; d = 3 → 1·(3 − 0.5) = 2.5; d = −1 (at δ) → 0.5 either way.
    ("huber, δ = 1", lambda: spec.huber_loss([0.5, 3.0, -1.0], [0.0, 0.0, 0.0]), [0.125, 2.5, 0.5]),
    # δ = 2: d = −3 → 2·(3 − 1) = 4; d = 2 (at δ) → ½·4 = 2 = 2·(2 − 1).
    ("huber, δ = 2", lambda: spec.huber_loss([-3.0, 2.0], [0.0, 0.0], delta=2.0), [4.0, 2.0]),
]


@pytest.mark.parametrize(("name", "compute", "expected"), GOLDEN, ids=[case[0] for case in GOLDEN])
def test_golden_values_of_the_spec(
    name: str, compute: Callable[[], float | list[float]], expected: float | list[float]
) -> None:
    assert compute() == pytest.approx(expected, rel=1e-14, abs=1e-15)


def test_golden_values_of_the_tensor_layer() -> None:
    """The same hand-worked numbers through the tensor functions."""
    z = tensor([[0.0, 0.0, -INF], [0.0, LN3, -INF]])
    torch.testing.assert_close(categorical_entropy(z), tensor([LN2, 2.0 * LN2 - 0.75 * LN3]))
    torch.testing.assert_close(categorical_log_prob(z, torch.tensor([1, 1])), tensor([-LN2, LN3 - 2.0 * LN2]))
    p = tensor([[0.0, 0.0], [0.0, -INF], [0.0, 0.0], [0.0, -INF]])
    q = tensor([[0.0, LN3], [0.0, 0.0], [0.0, -INF], [5.0, -INF]])
    torch.testing.assert_close(losses.categorical_kl(p, q), tensor([0.5 * math.log(4.0 / 3.0), LN2, INF, 0.0]))
    torch.testing.assert_close(
        losses.value_loss(tensor([1.0, 1.0]), tensor([0.0, 1.1]), old_values=tensor([0.0, 0.0]), clip_range_vf=0.2),
        tensor(0.905),
    )
    torch.testing.assert_close(losses.policy_gradient_loss(tensor([-0.5, -2.0]), tensor([2.0, 1.0])), tensor(1.5))
    log_ratios = tensor([math.log(1.5), math.log(0.5)])
    torch.testing.assert_close(losses.approx_kl_k1(log_ratios), tensor(0.5 * math.log(4.0 / 3.0)))
    torch.testing.assert_close(losses.approx_kl_k3(log_ratios), tensor(0.5 * math.log(4.0 / 3.0)))
    torch.testing.assert_close(
        losses.huber_loss(tensor([-3.0, 2.0]), tensor([0.0, 0.0]), delta=2.0), tensor([4.0, 2.0])
    )


# --- gradcheck (float64) at smooth points -------------------------------------------------------------------------


def test_the_tensor_losses_pass_gradcheck() -> None:
    generator = torch.Generator().manual_seed(11)

    def draw(*shape: int, scale: float = 1.0) -> torch.Tensor:
        return (scale * torch.randn(*shape, generator=generator, dtype=F64)).requires_grad_()

    advantages, returns, old_values = (draw(6).detach() for _ in range(3))
    rho = torch.tensor([0.5, 0.9, 1.0, 1.1, 1.3, 2.0], dtype=F64, requires_grad=True)  # none at 1 ± 0.2
    values = (old_values + torch.tensor([-0.5, -0.1, 0.05, 0.15, 0.4, 1.0], dtype=F64)).requires_grad_()
    cases: list[tuple[Callable[..., torch.Tensor], tuple[torch.Tensor, ...]]] = [
        (lambda r: losses.clipped_surrogate(r, advantages, clip=0.2), (rho,)),
        (lambda v: losses.value_loss(v, returns, old_values=old_values, clip_range_vf=0.3), (values,)),
        (lambda v: losses.value_loss(v, returns), (values,)),
        (losses.policy_gradient_loss, (draw(6), draw(6))),
        (losses.approx_kl_k1, (draw(6),)),
        (losses.approx_kl_k3, (draw(6),)),
        (losses.categorical_kl, (draw(4, 3, scale=2.0), draw(4, 3, scale=2.0))),
        (lambda x, y: losses.huber_loss(x, y, delta=0.7), (draw(3, 4, scale=2.0), draw(3, 4))),
    ]
    for function, inputs in cases:
        assert torch.autograd.gradcheck(function, inputs)


# --- Errors: the argument, expected versus got -------------------------------------------------------------------

ONE = torch.ones(3)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: losses.clipped_surrogate(ONE, torch.ones(2), clip=0.2),
            InputError,
            r"^clipped_surrogate: advantages has shape \(2,\); expected \(3,\) \(as ratios\)$",
        ),
        (
            lambda: losses.clipped_surrogate(torch.ones(3, 1), torch.ones(3, 1), clip=0.2),
            InputError,
            r"^clipped_surrogate: ratios has shape \(3, 1\); expected \[B\] with B >= 1",
        ),
        (
            lambda: losses.clipped_surrogate(torch.ones(0), torch.ones(0), clip=0.2),
            InputError,
            r"^clipped_surrogate: ratios has shape \(0,\); expected \[B\] with B >= 1",
        ),
        (
            lambda: losses.clipped_surrogate([1.0], ONE, clip=0.2),  # type: ignore[arg-type]
            InputError,
            r"^clipped_surrogate: ratios is a list; expected a floating tensor \[B\]$",
        ),
        (
            lambda: losses.clipped_surrogate(ONE, torch.ones(3, dtype=torch.int64), clip=0.2),
            InputError,
            r"^clipped_surrogate: advantages has dtype torch.int64; expected a floating dtype$",
        ),
        (
            lambda: losses.clipped_surrogate(ONE, ONE, clip=-0.1),
            HyperparameterError,
            r"^clipped_surrogate: clip is -0.1; expected a finite real number >= 0$",
        ),
        (
            lambda: losses.clipped_surrogate(ONE, ONE, clip=math.nan),
            HyperparameterError,
            r"^clipped_surrogate: clip is nan; expected a finite real number$",
        ),
        (
            lambda: losses.clipped_surrogate(ONE, ONE, clip=True),
            HyperparameterError,
            r"^clipped_surrogate: clip is True \(a bool\); expected a finite real number$",
        ),
        (
            lambda: losses.value_loss(ONE, ONE, clip_range_vf=0.2),
            InputError,
            r"^value_loss: clip_range_vf needs old_values",
        ),
        (
            lambda: losses.value_loss(ONE, ONE, old_values=torch.ones(4), clip_range_vf=0.2),
            InputError,
            r"^value_loss: old_values has shape \(4,\); expected \(3,\) \(as values\)$",
        ),
        (
            lambda: losses.value_loss(ONE, ONE, old_values=ONE, clip_range_vf=-1.0),
            HyperparameterError,
            r"^value_loss: clip_range_vf is -1.0; expected a finite real number >= 0$",
        ),
        (
            lambda: losses.policy_gradient_loss(ONE, torch.ones(2)),
            InputError,
            r"^policy_gradient_loss: advantages has shape \(2,\); expected \(3,\) \(as log_probs\)$",
        ),
        (lambda: losses.approx_kl_k3(torch.ones(0)), InputError, r"^approx_kl_k3: log_ratios has shape \(0,\)"),
        (
            lambda: losses.approx_kl_k1(torch.ones(3, dtype=torch.int32)),
            InputError,
            r"^approx_kl_k1: log_ratios has dtype torch.int32; expected a floating dtype$",
        ),
        (
            lambda: losses.categorical_kl(torch.zeros(2, 3), torch.zeros(2, 4)),
            InputError,
            r"^categorical_kl: q_logits has shape \(2, 4\); expected \(2, 3\) \(as p_logits\)$",
        ),
        (
            lambda: losses.categorical_kl(torch.zeros(3), torch.zeros(3)),
            InputError,
            r"^categorical_kl: p_logits has shape \(3,\); expected \[B, A\] with A >= 1$",
        ),
        (
            lambda: losses.categorical_kl(torch.zeros(2, 3), "q"),  # type: ignore[arg-type]
            InputError,
            r"^categorical_kl: q_logits is a str; expected a floating tensor \[B, A\]$",
        ),
        (
            lambda: losses.huber_loss(torch.zeros(2, 3), torch.zeros(3)),
            InputError,
            r"^huber_loss: targets has shape \(3,\); expected \(2, 3\) \(as inputs\)$",
        ),
        (
            lambda: losses.huber_loss(ONE, ONE, delta=0.0),
            HyperparameterError,
            r"^huber_loss: delta is 0.0; expected a finite real number > 0$",
        ),
        (
            lambda: losses.huber_loss(ONE, ONE, delta=math.inf),
            HyperparameterError,
            r"^huber_loss: delta is inf; expected a finite real number$",
        ),
    ],
)
def test_tensor_errors_name_the_argument(call: Callable[[], object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: spec.clipped_surrogate([1.0, 1.0, 1.0], [1.0, 1.0], clip=0.2),
            InputError,
            r"^clipped_surrogate: advantages has 2 samples; expected 3 \(as ratios\)$",
        ),
        (
            lambda: spec.clipped_surrogate([], [], clip=0.2),
            InputError,
            r"^clipped_surrogate: ratios is empty; expected at least one sample$",
        ),
        (
            lambda: spec.clipped_surrogate([1.0], [1.0], clip=-0.1),
            HyperparameterError,
            r"^clipped_surrogate: clip is -0.1; expected a finite real number >= 0$",
        ),
        (
            lambda: spec.value_loss([1.0], [1.0], clip_range_vf=0.2),
            InputError,
            r"^value_loss: clip_range_vf needs old_values",
        ),
        (
            lambda: spec.value_loss([1.0], [1.0], old_values=[1.0, 2.0], clip_range_vf=0.2),
            InputError,
            r"^value_loss: old_values has 2 samples; expected 1 \(as values\)$",
        ),
        (
            lambda: spec.policy_gradient_loss([1.0], []),
            InputError,
            r"^policy_gradient_loss: advantages has 0 samples; expected 1 \(as log_probs\)$",
        ),
        (lambda: spec.approx_kl_k1([]), InputError, r"^approx_kl_k1: log_ratios is empty"),
        (
            lambda: spec.categorical_log_prob([[0.0, 0.0]], [2]),
            InputError,
            r"^categorical_log_prob: actions\[0\] is 2; expected an action in \[0, 2\)$",
        ),
        (
            lambda: spec.categorical_log_prob([[0.0, 0.0]], [True]),
            InputError,
            r"^categorical_log_prob: actions\[0\] is True; expected an action in \[0, 2\)$",
        ),
        (
            lambda: spec.categorical_log_prob([[0.0, 0.0]], [0, 1]),
            InputError,
            r"^categorical_log_prob: actions has 2 samples; expected 1 \(one per row of logits\)$",
        ),
        (
            lambda: spec.categorical_entropy([[0.0, 0.0], [0.0]]),
            InputError,
            r"^categorical_entropy: logits\[1\] has 1 logits; expected 2 \(as logits\[0\]\)$",
        ),
        (
            lambda: spec.categorical_entropy([[]]),
            InputError,
            r"^categorical_entropy: logits\[0\] has no actions; expected at least one logit per row$",
        ),
        (
            lambda: spec.categorical_kl([[0.0, 0.0]], [[0.0, 0.0, 0.0]]),
            InputError,
            r"^categorical_kl: q_logits has shape \[1, 3\]; expected \[1, 2\] \(as p_logits\)$",
        ),
        (
            lambda: spec.gaussian_log_prob([[0.0, 0.0]], [0.0], [[0.0, 0.0]]),
            InputError,
            r"^gaussian_log_prob: mean\[0\] has 2 elements; expected 1 \(as log_std\)$",
        ),
        (
            lambda: spec.gaussian_log_prob([[0.0]], [0.0], []),
            InputError,
            r"^gaussian_log_prob: actions has 0 rows; expected 1 \(as mean\)$",
        ),
        (
            lambda: spec.huber_loss([1.0], [1.0, 2.0]),
            InputError,
            r"^huber_loss: targets has 2 elements; expected 1 \(as inputs\)$",
        ),
        (
            lambda: spec.huber_loss([1.0], [1.0], delta=-1.0),
            HyperparameterError,
            r"^huber_loss: delta is -1.0; expected a finite real number > 0$",
        ),
    ],
)
def test_spec_errors_name_the_argument(call: Callable[[], object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()


def test_tensors_on_another_device_are_refused() -> None:
    elsewhere = torch.ones(3, device="meta")
    with pytest.raises(InputError, match=r"^value_loss: returns is on meta; expected cpu \(as values\)$"):
        losses.value_loss(ONE, elsewhere)
    with pytest.raises(InputError, match=r"^categorical_kl: q_logits is on meta; expected cpu \(as p_logits\)$"):
        losses.categorical_kl(torch.zeros(2, 3), torch.zeros(2, 3, device="meta"))


def test_float32_keeps_its_dtype_and_agrees_with_float64() -> None:
    generator = torch.Generator().manual_seed(5)
    wide = [torch.randn(16, generator=generator, dtype=F64) for _ in range(3)]
    logits_pair = [torch.randn(16, 4, generator=generator, dtype=F64) for _ in range(2)]
    calls: list[Callable[[Callable[[torch.Tensor], torch.Tensor]], torch.Tensor]] = [
        lambda c: losses.clipped_surrogate(c(wide[0]).exp(), c(wide[1]), clip=0.2),
        lambda c: losses.value_loss(c(wide[0]), c(wide[1]), old_values=c(wide[2]), clip_range_vf=0.3),
        lambda c: losses.policy_gradient_loss(c(wide[0]), c(wide[1])),
        lambda c: losses.approx_kl_k1(c(wide[0])),
        lambda c: losses.approx_kl_k3(c(wide[0])),
        lambda c: losses.categorical_kl(c(logits_pair[0]), c(logits_pair[1])),
        lambda c: losses.huber_loss(c(wide[0]), c(wide[1]), delta=0.5),
    ]
    for call in calls:
        narrow = call(lambda t: t.float())
        assert narrow.dtype == torch.float32
        torch.testing.assert_close(narrow, call(lambda t: t).float(), rtol=1e-5, atol=1e-6)


def test_errors_are_value_errors() -> None:
    """Both error classes are ValueErrors, so code that does not know typedrl still catches them."""
    with pytest.raises(ValueError, match="clip is"):
        losses.clipped_surrogate(ONE, ONE, clip=-1.0)
    with pytest.raises(ValueError, match="has shape"):
        losses.huber_loss(ONE, torch.ones(2))
