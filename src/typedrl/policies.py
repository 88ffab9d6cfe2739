"""Actor and critic networks for discrete actions, and categorical sampling.

``π(a|s) = softmax(actor(s))_a`` over ``A`` actions; ``V(s) = critic(s)``. The actor and critic are separate
MLPs (no shared trunk), as in SB3's default and TorchLean's PPO demo. Sampling is by inverse CDF from one
uniform number per row, so an action depends only on its observation and its own random number, never on the
other rows of the batch (which keeps collection identical however a vector env is stepped).
"""

import itertools
import math
from typing import Literal

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from typedrl.collect import PolicyStep

__all__ = [
    "ActorCritic",
    "SampledPolicy",
    "categorical_entropy",
    "categorical_log_prob",
    "mlp",
    "sample_categorical",
]

Activation = Literal["tanh", "relu"]


def mlp(inputs: int, outputs: int, *, hidden: int, layers: int, activation: Activation = "tanh") -> nn.Sequential:
    """``layers`` hidden layers of width ``hidden`` with ``activation``, then a linear output layer."""
    act: type[nn.Module] = nn.Tanh if activation == "tanh" else nn.ReLU
    modules: list[nn.Module] = []
    width = inputs
    for _ in range(layers):
        modules += [nn.Linear(width, hidden), act()]
        width = hidden
    modules.append(nn.Linear(width, outputs))
    return nn.Sequential(*modules)


def sample_categorical(logits: Float[Tensor, " B A"], uniform: Float[Tensor, " B"]) -> Int[Tensor, " B"]:
    """Sample ``a ~ softmax(logits)`` by inverse CDF: the first ``a`` with ``Σ_{k≤a} π_k > u``."""
    cumulative = torch.softmax(logits, dim=-1).cumsum(dim=-1)
    actions = (cumulative <= uniform.unsqueeze(-1)).sum(dim=-1)
    return actions.clamp_(max=logits.shape[-1] - 1)  # u within rounding of 1 at the last bucket


def categorical_log_prob(logits: Float[Tensor, " B A"], actions: Int[Tensor, " B"]) -> Float[Tensor, " B"]:
    """``log π(a|s) = log_softmax(logits)_a``."""
    return torch.log_softmax(logits, dim=-1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)


def categorical_entropy(logits: Float[Tensor, " B A"]) -> Float[Tensor, " B"]:
    """``H[π] = −Σ_a π_a log π_a``."""
    log_probs = torch.log_softmax(logits, dim=-1)
    return -(log_probs.exp() * log_probs).sum(dim=-1)


class ActorCritic(nn.Module):
    actor: "_Head"

    """Separate actor (observation → logits over ``A`` actions) and critic (observation → value) MLPs.

    The two networks share no parameters; each of their layers is stored as a stacked pair (``weights[0]`` the
    actor's, ``weights[1]`` the critic's) so that one batched matrix product (``torch.baddbmm``) runs a layer of
    both. One forward therefore costs about half the operator calls of two separate MLPs, which is what bounds
    small networks on a CPU. Initialisation is orthogonal with gain √2 in the hidden layers, 0.01 for the
    actor's output (a near-uniform first policy) and 1 for the critic's; biases start at zero.

    ``hidden`` is each hidden layer's width, ``layers`` the number of hidden layers, ``activation`` tanh or ReLU.
    """

    def __init__(
        self,
        observation_size: int,
        n_actions: int,
        *,
        hidden: int = 64,
        layers: int = 2,
        activation: Activation = "tanh",
    ) -> None:
        super().__init__()
        self.observation_size = observation_size
        self.n_actions = n_actions
        self.activation = torch.tanh if activation == "tanh" else torch.relu
        widths = [observation_size] + [hidden] * layers + [n_actions]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.empty(2, fan_in, fan_out)) for fan_in, fan_out in itertools.pairwise(widths)
        )
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(2, 1, fan_out)) for fan_out in widths[1:])
        with torch.no_grad():
            for index, weight in enumerate(self.weights):
                last = index == len(self.weights) - 1
                for net, output_gain in ((0, 0.01), (1, 1.0)):
                    # nn.init works on [out, in]; the stored layout is [in, out] for baddbmm.
                    block = torch.empty(weight.shape[2], weight.shape[1])
                    nn.init.orthogonal_(block, gain=output_gain if last else math.sqrt(2.0))
                    weight[net].copy_(block.T)
        # A view, not a submodule: it owns no parameters, and registering it would make train() recurse.
        object.__setattr__(self, "actor", _Head(self))

    def forward(self, observations: Float[Tensor, " B *obs"]) -> tuple[Float[Tensor, " B A"], Float[Tensor, " B"]]:
        """Both networks at once: ``(logits, values)``."""
        hidden = observations.flatten(1).unsqueeze(0).expand(2, -1, -1)
        last = len(self.weights) - 1
        for index, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            hidden = torch.baddbmm(bias, hidden, weight)
            if index < last:
                hidden = self.activation(hidden)
        return hidden[0], hidden[1, :, 0]

    def logits(self, observations: Float[Tensor, " B *obs"]) -> Float[Tensor, " B A"]:
        """The actor's logits."""
        return self(observations)[0]  # type: ignore[no-any-return]

    def value(self, observations: Float[Tensor, " B *obs"]) -> Float[Tensor, " B"]:
        """``V(s)`` for each observation."""
        return self(observations)[1]  # type: ignore[no-any-return]

    def act(self, observations: Float[Tensor, " B *obs"], uniform: Float[Tensor, " B"]) -> PolicyStep:
        """Sample actions (one uniform number per row), with their log-probabilities and the values."""
        logits, values = self(observations)
        actions = sample_categorical(logits, uniform)
        return PolicyStep(actions, categorical_log_prob(logits, actions), values)

    def greedy(self, observations: Float[Tensor, " B *obs"]) -> Int[Tensor, " B"]:
        """``argmax_a π(a|s)``: the evaluation policy."""
        return self.logits(observations).argmax(dim=-1)


class _Head(nn.Module):
    """The actor alone, as an observation → logits module (what greedy evaluation runs)."""

    def __init__(self, model: ActorCritic) -> None:
        super().__init__()
        object.__setattr__(self, "model", model)  # not a submodule: no second copy in state_dict()

    def forward(self, observations: Float[Tensor, " B *obs"]) -> Float[Tensor, " B A"]:
        model: ActorCritic = self.__dict__["model"]
        return model.logits(observations)


class SampledPolicy:
    """An :class:`ActorCritic` that draws its sampling noise from an explicit generator: the collector's
    :class:`~typedrl.collect.Policy`.

    One uniform number per row per call, from ``generator`` (seed it for reproducible runs).
    """

    def __init__(self, model: ActorCritic, generator: torch.Generator) -> None:
        self.model = model
        self.generator = generator

    def act(self, observations: Float[Tensor, " B *obs"]) -> PolicyStep:
        """Sample one action per observation, with its log-probability and the state's value."""
        uniform = torch.rand(
            observations.shape[0], generator=self.generator, device=observations.device, dtype=observations.dtype
        )
        return self.model.act(observations, uniform)

    def value(self, observations: Float[Tensor, " B *obs"]) -> Float[Tensor, " B"]:
        """``V(s)`` for each observation."""
        return self.model.value(observations)
