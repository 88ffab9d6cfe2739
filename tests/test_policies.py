"""typedrl.policies: categorical sampling, log-probabilities and entropy with masked actions, and the networks."""

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from typedrl import InputError
from typedrl.policies import (
    ActorCritic,
    SampledPolicy,
    categorical_entropy,
    categorical_log_prob,
    greedy_actions,
    mlp,
    sample_categorical,
)

INF = math.inf
LOG2 = math.log(2.0)


def rows(*values: list[float]) -> Tensor:
    return torch.tensor(values, dtype=torch.float64)


def assert_exact(got: Tensor, expected: Tensor) -> None:
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def _raises(message: str, call: Callable[[], object]) -> None:
    with pytest.raises(InputError) as caught:
        call()
    assert str(caught.value) == message


# Entropy.


def test_entropy_of_a_masked_action_is_zero_not_nan() -> None:
    assert_exact(categorical_entropy(torch.tensor([[0.0, -INF]])), torch.tensor([0.0]))
    assert math.copysign(1.0, float(categorical_entropy(torch.tensor([[0.0, -INF]]))[0])) == 1.0  # +0, not −0


def test_entropy_with_masks_is_that_of_the_allowed_actions() -> None:
    logits = rows([0.0, -INF, 0.0], [-INF, 0.0, -INF], [0.0, 0.0, 0.0], [-INF, 5.0, 5.0])
    expected = torch.tensor([LOG2, 0.0, math.log(3.0), LOG2], dtype=torch.float64)
    torch.testing.assert_close(categorical_entropy(logits), expected, rtol=1e-15, atol=1e-15)


def test_entropy_gradient_with_masked_logits_is_finite() -> None:
    logits = rows([0.0, -INF, 1.0], [-INF, -INF, 2.0]).requires_grad_(True)
    (gradient,) = torch.autograd.grad(categorical_entropy(logits).sum(), logits)
    assert bool(gradient.isfinite().all())
    # dH/dz_a = −π_a (log π_a + H): zero at a masked action and everywhere in a row with one allowed action.
    p = torch.softmax(torch.tensor([0.0, 1.0], dtype=torch.float64), dim=0)
    entropy = -(p * p.log()).sum()
    expected = torch.zeros(2, 3, dtype=torch.float64)
    expected[0, [0, 2]] = -p * (p.log() + entropy)
    torch.testing.assert_close(gradient, expected, rtol=1e-12, atol=1e-15)


def test_entropy_of_a_row_without_a_distribution_is_nan() -> None:
    got = categorical_entropy(rows([-INF, -INF], [0.0, math.nan], [INF, 0.0], [0.0, 0.0]))
    assert got[:3].isnan().all()
    assert float(got[3]) == pytest.approx(LOG2, rel=1e-15)


# Log-probabilities.


def test_log_prob_of_a_masked_action_is_minus_inf_and_of_an_allowed_one_finite() -> None:
    logits = rows([0.0, -INF, 0.0], [0.0, -INF, 0.0])
    assert_exact(categorical_log_prob(logits, torch.tensor([1, 2])), torch.tensor([-INF, -LOG2], dtype=torch.float64))


def test_log_prob_gradient_with_masked_logits_is_finite() -> None:
    logits = rows([0.0, -INF, 0.0]).requires_grad_(True)
    (gradient,) = torch.autograd.grad(categorical_log_prob(logits, torch.tensor([2])).sum(), logits)
    assert_exact(gradient, rows([-0.5, 0.0, 0.5]))


def test_log_prob_accepts_any_integer_dtype() -> None:
    logits = rows([0.0, 0.0])
    assert_exact(
        categorical_log_prob(logits, torch.tensor([1], dtype=torch.int32)), torch.tensor([-LOG2], dtype=torch.float64)
    )


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        (torch.tensor([0, 3]), "categorical_log_prob: actions[1] is 3; expected an action in [0, 3)"),
        (torch.tensor([-1, 0]), "categorical_log_prob: actions[0] is -1; expected an action in [0, 3)"),
        (
            torch.tensor([0.0, 1.0]),
            "categorical_log_prob: actions has dtype torch.float32; expected an integer dtype",
        ),
    ],
)
def test_log_prob_rejects_actions_it_cannot_read(actions: Tensor, message: str) -> None:
    _raises(message, lambda: categorical_log_prob(torch.zeros(2, 3), actions))


# Sampling.


def test_sampling_follows_the_inverse_cdf() -> None:
    logits = torch.log(torch.tensor([[0.25, 0.25, 0.5]])).expand(5, 3)
    uniform = torch.tensor([0.0, 0.2499, 0.25, 0.5, 0.9999])
    assert_exact(sample_categorical(logits, uniform), torch.tensor([0, 0, 1, 2, 2]))


def test_sampling_never_picks_a_masked_action_at_either_end() -> None:
    logits = rows([-INF, 0.0, 0.0, -INF], [-INF, 0.0, 0.0, -INF])
    uniform = torch.tensor([0.0, 1.0 - 2.0**-53], dtype=torch.float64)
    assert_exact(sample_categorical(logits, uniform), torch.tensor([1, 2]))


def test_sampling_u_past_a_total_rounded_below_one_takes_the_last_allowed_action() -> None:
    # In float32 these probabilities sum to 1 − 2⁻²⁴; a u of 1 − 2⁻²⁴ lies at the total. Capping at A − 1 would
    # pick the masked last action; the last action with a nonzero probability is 2.
    logits = torch.tensor([[0.40334683656692505, 0.8380263447761536, -0.7192575931549072, -INF]])
    assert float(torch.softmax(logits, dim=-1).cumsum(dim=-1)[0, -1]) == 1.0 - 2.0**-24
    assert_exact(sample_categorical(logits, torch.tensor([1.0 - 2.0**-24])), torch.tensor([2]))


def test_sampling_distribution_matches_the_probabilities() -> None:
    # Chi-square goodness of fit with a fixed generator: 3 degrees of freedom; the 0.1% critical value is 16.27.
    probabilities = torch.tensor([0.1, 0.0, 0.2, 0.3, 0.4], dtype=torch.float64)
    draws = 40_000
    logits = probabilities.log().float().expand(draws, 5)  # log 0 = −inf masks action 1
    uniform = torch.rand(draws, generator=torch.Generator().manual_seed(7))
    counts = torch.bincount(sample_categorical(logits, uniform), minlength=5).double()
    assert int(counts[1]) == 0
    allowed = probabilities > 0
    expected = probabilities[allowed] * draws
    chi_square = float(((counts[allowed] - expected) ** 2 / expected).sum())
    assert chi_square < 16.27


@pytest.mark.parametrize(
    ("logits", "uniform", "message"),
    [
        (
            rows([0.0, 0.0], [-INF, -INF]),
            torch.tensor([0.5, 0.5]),
            "sample_categorical: logits[1] are all -inf; expected at least one allowed action (a finite logit)",
        ),
        (
            rows([0.0, math.nan]),
            torch.tensor([0.5]),
            "sample_categorical: logits[0] has a NaN; expected finite logits, or -inf for a masked action",
        ),
        (
            rows([0.0, 0.0], [INF, 0.0]),
            torch.tensor([0.5, 0.5]),
            "sample_categorical: logits[1] has +inf; expected finite logits, or -inf for a masked action",
        ),
        (
            rows([0.0, 0.0], [0.0, 0.0]),
            torch.tensor([0.5, 1.0]),
            "sample_categorical: uniform[1] is 1.0; expected a number in [0, 1)",
        ),
        (
            rows([0.0, 0.0]),
            torch.tensor([math.nan]),
            "sample_categorical: uniform[0] is nan; expected a number in [0, 1)",
        ),
        (
            rows([0.0, 0.0]),
            torch.tensor([0.5, 0.5]),
            "sample_categorical: uniform has shape (2,); expected (1,) (one per row)",
        ),
        (
            torch.zeros(2, 0),
            torch.tensor([0.5, 0.5]),
            "sample_categorical: logits has shape (2, 0); expected [B, A] with A >= 1",
        ),
    ],
)
def test_sampling_rejects_rows_without_a_distribution(logits: Tensor, uniform: Tensor, message: str) -> None:
    _raises(message, lambda: sample_categorical(logits, uniform))


# The greedy choice.


def test_greedy_actions_never_pick_a_masked_action() -> None:
    assert_exact(greedy_actions(rows([-INF, -5.0, -INF], [1.0, 1.0, -INF])), torch.tensor([1, 0]))


def test_greedy_actions_reject_a_row_without_a_distribution() -> None:
    message = "greedy_actions: logits[0] has a NaN; expected finite logits, or -inf for a masked action"
    _raises(message, lambda: greedy_actions(rows([math.nan, 0.0])))
    message = "greedy_actions: logits[0] are all -inf; expected at least one allowed action (a finite logit)"
    _raises(message, lambda: greedy_actions(rows([-INF, -INF])))


def test_actor_critic_greedy_rejects_nan_weights() -> None:
    model = ActorCritic(3, 2, hidden=4, layers=1)
    with torch.no_grad():
        model.weights[-1][0, 0, 0] = math.nan
    message = "greedy_actions: logits[0] has a NaN; expected finite logits, or -inf for a masked action"
    _raises(message, lambda: model.greedy(torch.ones(1, 3)))


# The networks.


def _plain_mlps(model: ActorCritic, hidden: int, layers: int) -> tuple[nn.Sequential, nn.Sequential]:
    """Two ordinary MLPs holding the stacked network's weights: net 0 the actor, net 1 the critic."""
    nets = (
        mlp(model.observation_size, model.n_actions, hidden=hidden, layers=layers),
        mlp(model.observation_size, 1, hidden=hidden, layers=layers),
    )
    with torch.no_grad():
        for index, net in enumerate(nets):
            linears = [module for module in net if isinstance(module, nn.Linear)]
            for linear, weight, bias in zip(linears, model.weights, model.biases, strict=True):
                width = linear.out_features
                linear.weight.copy_(weight[index, :, :width].T)  # stored [in, out]; nn.Linear holds [out, in]
                linear.bias.copy_(bias[index, 0, :width])
    return nets


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_stacked_actor_critic_equals_two_plain_mlps(layers: int) -> None:
    torch.manual_seed(0)
    model = ActorCritic(4, 3, hidden=8, layers=layers).double()
    actor, critic = (net.double() for net in _plain_mlps(model, hidden=8, layers=layers))
    observations = torch.randn(6, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    logits, values = model(observations)
    torch.testing.assert_close(logits, actor(observations), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(values, critic(observations)[:, 0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(model.logits(observations), logits, rtol=0, atol=0)
    torch.testing.assert_close(model.value(observations), values, rtol=0, atol=0)


def test_stacked_actor_critic_with_relu_equals_two_plain_mlps() -> None:
    torch.manual_seed(2)
    model = ActorCritic(4, 2, hidden=5, layers=2, activation="relu").double()
    nets = _plain_mlps(model, hidden=5, layers=2)
    actor, critic = (nn.Sequential(*[nn.ReLU() if isinstance(m, nn.Tanh) else m for m in net]).double() for net in nets)
    observations = torch.randn(7, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    logits, values = model(observations)
    torch.testing.assert_close(logits, actor(observations), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(values, critic(observations)[:, 0], rtol=1e-12, atol=1e-12)


def test_actor_view_returns_the_logits_and_owns_no_parameters() -> None:
    model = ActorCritic(3, 2, hidden=4, layers=1)
    observations = torch.randn(5, 3, generator=torch.Generator().manual_seed(4))
    assert_exact(model.actor(observations), model.logits(observations))
    assert list(model.actor.parameters()) == []
    assert not any(key.startswith("actor") for key in model.state_dict())
    assert "actor" not in dict(model.named_children())
    model.train(False)  # must not recurse through the view
    assert not model.training


def test_actor_critic_has_its_docstring() -> None:
    assert ActorCritic.__doc__ is not None
    assert ActorCritic.__doc__.startswith("Separate actor (observation → ``A`` outputs) and critic")


def test_initialisation_is_near_uniform_with_zero_biases() -> None:
    model = ActorCritic(4, 3)
    assert all(bool((bias == 0).all()) for bias in model.biases)
    with torch.no_grad():
        logits = model.logits(torch.randn(10, 4, generator=torch.Generator().manual_seed(5)))
    assert float(logits.abs().max()) < 0.1  # the actor's output gain is 0.01


def test_without_ortho_init_each_layer_is_initialised_as_nn_linear() -> None:
    """``ortho_init=False`` (SB3's option): weights and biases uniform in ±1/√fan_in in every layer of both
    networks, biases not zero, and the orthogonal default unchanged."""
    torch.manual_seed(0)
    model = ActorCritic(17, 6, hidden=256, action_kind="box", ortho_init=False)
    for weight, bias in zip(model.weights, model.biases, strict=True):
        bound = 1.0 / math.sqrt(weight.shape[1])
        for net in (0, 1):
            assert float(weight[net].abs().max()) <= bound
            assert float(weight[net].abs().max()) > 0.9 * bound  # spread over the whole range, not orthogonal
            assert float(bias[net].abs().max()) <= bound
            assert float(bias[net].abs().max()) > 0.5 * bound
    torch.manual_seed(0)
    orthogonal = ActorCritic(17, 6, hidden=256, action_kind="box")
    first = orthogonal.weights[1][0].detach()
    torch.testing.assert_close(first.T @ first, 2.0 * torch.eye(256), atol=1e-4, rtol=0)  # gain √2
    assert all(float(bias.abs().max()) == 0.0 for bias in orthogonal.biases)


def test_act_samples_with_the_given_uniform_numbers() -> None:
    model = ActorCritic(3, 4, hidden=8, layers=2)
    observations = torch.randn(6, 3, generator=torch.Generator().manual_seed(6))
    uniform = torch.rand(6, generator=torch.Generator().manual_seed(7))
    step = model.act(observations, uniform)
    logits, values = model(observations)
    assert_exact(step.actions, sample_categorical(logits, uniform))
    assert_exact(step.log_probs, categorical_log_prob(logits, step.actions))
    assert_exact(step.values, values)


def test_sampled_policy_is_reproducible_from_its_generator() -> None:
    model = ActorCritic(3, 4, hidden=8, layers=1)
    observations = torch.randn(16, 3, generator=torch.Generator().manual_seed(8))
    first = SampledPolicy(model, torch.Generator().manual_seed(11))
    second = SampledPolicy(model, torch.Generator().manual_seed(11))
    for _ in range(3):
        a, b = first.act(observations), second.act(observations)
        assert_exact(a.actions, b.actions)
        assert_exact(a.log_probs, b.log_probs)
    # The noise is one uniform number per row, drawn from the generator in order.
    replay = torch.Generator().manual_seed(11)
    for _ in range(3):
        torch.rand(16, generator=replay)
    expected = model.act(observations, torch.rand(16, generator=replay))
    assert_exact(first.act(observations).actions, expected.actions)
    assert_exact(first.value(observations), model.value(observations))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: categorical_log_prob(torch.zeros(3, 2), torch.zeros(4, dtype=torch.long)),
            "categorical_log_prob: actions has shape (4,); expected (3,) (one per row of logits (3, 2))",
        ),
        (
            lambda: categorical_log_prob(torch.zeros(2), torch.zeros(2, dtype=torch.long)),
            "categorical_log_prob: logits has shape (2,); expected [B, A] with A >= 1",
        ),
        (
            lambda: categorical_log_prob(torch.zeros(3, 2), [0, 1, 0]),  # type: ignore[arg-type]
            "categorical_log_prob: actions is a list; expected an integer tensor",
        ),
        (
            lambda: categorical_entropy(torch.zeros(2, 2, dtype=torch.long)),
            "categorical_entropy: logits has dtype torch.int64; expected a floating dtype",
        ),
        (
            lambda: categorical_entropy(torch.zeros(2, 0)),
            "categorical_entropy: logits has shape (2, 0); expected [B, A] with A >= 1",
        ),
        (
            lambda: sample_categorical(torch.zeros(2, 0), torch.zeros(2)),
            "sample_categorical: logits has shape (2, 0); expected [B, A] with A >= 1",
        ),
    ],
)
def test_arguments_of_the_wrong_kind_or_shape_are_input_errors(call: Any, message: str) -> None:
    with pytest.raises(InputError) as caught:
        call()
    assert str(caught.value) == message
