"""Many independent agents as one set of batched tensors: :class:`StackedActorCritic` runs ``K`` actor-critics in
one forward, and :class:`StackedAdam` steps all of them at once, each agent with its own learning rate, gradient
clipping and step count.

This is what JAX libraries get from ``jax.vmap`` over seeds (PureJaxRL, rejax): one forward and one optimizer
step for ``K`` agents, so the per-operator overhead of a small network is paid once rather than ``K`` times.
Here the batching is explicit: every parameter of agent ``k`` is row ``k`` of a tensor ``[K, …]``, and all of
them live in one agent-major buffer ``[K, P]`` (``P`` scalars per agent), so that anything per agent (a gradient
norm, a learning rate, an early stop) is one broadcast operation over that buffer.

The agents never mix: agent ``k``'s outputs depend only on row ``k`` of every parameter and of the
observations, and its gradient only on its own loss. Summing the agents' losses and calling ``backward`` once
gives each agent the gradient of its own loss.
"""

import contextlib
import math
from collections.abc import Callable, Sequence
from typing import Any, cast

import torch
from jaxtyping import Float
from torch import Tensor, nn

from typedrl.policies import ActorCritic

__all__ = ["StackedActorCritic", "StackedAdam"]


class StackedActorCritic(nn.Module):
    """``K`` :class:`~typedrl.policies.ActorCritic` networks of one architecture as one module.

    Built from ``K`` models (each initialised as a single-agent run with its own seed initialises it), whose
    parameters are copied into one agent-major buffer :attr:`flat` ``[K, P]``; the module's parameters are views
    of it: ``weights[i]`` ``[K, 2, in, out]`` (``[:, 0]`` the actor's layer ``i``, ``[:, 1]`` the critic's, as in
    :class:`~typedrl.policies.ActorCritic`), ``biases[i]`` ``[K, 2, 1, out]`` and, for Box actions, ``log_std``
    ``[K, A]``. Their gradients are views of :attr:`flat_grad` ``[K, P]``, into which autograd accumulates.

    Supported: discrete and Box actions (a diagonal Gaussian with a state-independent ``log_std`` per agent),
    tanh or ReLU, any widths. Not supported (the single-agent model's options that keep per-model state):
    observation normalization, tanh squashing and MultiDiscrete actions; a model with one raises ``ValueError``.

    Raises:
        ValueError: no models, or models whose architectures, devices or dtypes differ, or an unsupported option.
    """

    def __init__(self, models: Sequence[ActorCritic]) -> None:
        super().__init__()
        if not models:
            raise ValueError("StackedActorCritic: no models; expected at least one")
        first = models[0]
        if first.normalizer is not None or first.squash or first.action_kind == "multi_discrete":
            raise ValueError(
                "StackedActorCritic: observation normalization, squashing and MultiDiscrete actions are not "
                "supported; expected a discrete or Box actor-critic without them"
            )
        layout = [(name, tuple(tensor.shape)) for name, tensor in first.named_parameters()]
        for model in models[1:]:
            if [(name, tuple(tensor.shape)) for name, tensor in model.named_parameters()] != layout or (
                model.action_kind != first.action_kind or model.activation is not first.activation
            ):
                raise ValueError("StackedActorCritic: the models' architectures differ; expected one architecture")
        reference = next(first.parameters())
        agents = len(models)
        self.agents = agents
        """``K``: the number of agents."""
        self.action_kind = first.action_kind
        self.n_actions = first.n_actions
        self.observation_size = first.observation_size
        self.action_shape = first.action_shape
        self.activation: Callable[[Tensor], Tensor] = first.activation
        size = sum(math.prod(shape) for _, shape in layout)
        self.flat = torch.empty(agents, size, dtype=reference.dtype, device=reference.device)
        """Every agent's parameters ``[K, P]``: row ``k`` is agent ``k``'s, in the single model's parameter order."""
        self.flat_grad = torch.zeros_like(self.flat)
        """Their gradients ``[K, P]``, the same layout (what :class:`StackedAdam` reads)."""
        parameters: dict[str, nn.Parameter] = {}
        offset = 0
        for name, shape in layout:
            width = math.prod(shape)
            rows = self.flat[:, offset : offset + width]
            for agent, model in enumerate(models):
                rows[agent].copy_(model.get_parameter(name).detach().reshape(-1))
            parameter = nn.Parameter(rows.view(agents, *shape))
            parameter.grad = self.flat_grad[:, offset : offset + width].view(agents, *shape)
            parameters[name] = parameter
            offset += width
        count = sum(1 for name, _ in layout if name.startswith("weights."))
        self.weights = nn.ParameterList(parameters[f"weights.{index}"] for index in range(count))
        self.biases = nn.ParameterList(parameters[f"biases.{index}"] for index in range(count))
        if "log_std" in parameters:
            self.log_std = parameters["log_std"]
        self._views = [(parameter, parameter.grad) for parameter in parameters.values()]
        self._cache: tuple[tuple[int, int], list[tuple[Tensor, Tensor]]] | None = None
        self._changes = 0  # bumped by changed(): a fused kernel may write the buffer without bumping its version

    def _layers(self, *, frozen: bool) -> list[tuple[Tensor, Tensor]]:
        """Each layer's ``(bias [2K, 1, out], weight [2K, in, out])``, contiguous for ``torch.baddbmm`` (agent
        ``k``'s actor at ``2k``, critic at ``2k + 1``). ``frozen``: a copy without autograd, reused until the
        parameters change (the collection forward); else the differentiable reshape of the views."""
        key = (self.flat._version, self._changes)
        if frozen and self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        weights = cast("Sequence[Tensor]", list(self.weights._parameters.values()))
        biases = cast("Sequence[Tensor]", list(self.biases._parameters.values()))
        pairs = []
        with torch.no_grad() if frozen else contextlib.nullcontext():
            for weight, bias in zip(weights, biases, strict=True):
                double = 2 * self.agents
                pairs.append((bias.reshape(double, 1, -1), weight.reshape(double, weight.shape[-2], -1)))
        if frozen:
            self._cache = (key, pairs)
        return pairs

    def forward(
        self, observations: Float[Tensor, " K B *obs"], *, frozen: bool = False
    ) -> tuple[Float[Tensor, " K B A"], Float[Tensor, " K B"]]:
        """Every agent on its own observations: ``(outputs [K, B, A], values [K, B])`` from ``[K, B, *obs]``.
        ``outputs`` are logits (discrete) or the Gaussian's mean (Box). ``frozen=True`` (under
        ``torch.no_grad``) reuses a contiguous copy of the parameters made since their last change."""
        agents, batch = observations.shape[0], observations.shape[1]
        flat = observations.reshape(agents, batch, -1)
        hidden = flat.unsqueeze(1).expand(agents, 2, batch, flat.shape[-1]).reshape(2 * agents, batch, -1)
        layers = self._layers(frozen=frozen)
        last = len(layers) - 1
        for index, (bias, weight) in enumerate(layers):
            hidden = torch.baddbmm(bias, hidden, weight)
            if index < last:
                hidden = self.activation(hidden)
        both = hidden.view(agents, 2, batch, -1)
        return both[:, 0], both[:, 1, :, 0]

    def changed(self) -> None:
        """Say that :attr:`flat` was written by something autograd's version counter does not see (torch's
        fused Adam kernel): the frozen copy is remade at the next forward. In-place tensor operations need not."""
        self._changes += 1

    def check_layout(self) -> None:
        """``RuntimeError`` if something replaced a parameter's storage or gradient (``module.zero_grad()``,
        ``module.to()``): the optimizer would no longer see them."""
        for parameter, gradient in self._views:
            if parameter.grad is not gradient or parameter.untyped_storage().data_ptr() != (
                self.flat.untyped_storage().data_ptr()
            ):
                raise RuntimeError(
                    "StackedActorCritic: a parameter's gradient or storage was replaced (e.g. by module.zero_grad() "
                    "or module.to()); zero the gradients with flat_grad.zero_()"
                )

    def head(self, agent: int) -> nn.Module:
        """Agent ``agent``'s actor alone as an observation ``[B, *obs]`` → outputs ``[B, A]`` module (logits, or
        the Gaussian's mean): what greedy evaluation runs. It reads the live parameters (no copy).

        Raises:
            IndexError: ``agent`` is not in ``[0, K)``.
        """
        if not 0 <= agent < self.agents:
            raise IndexError(f"StackedActorCritic.head: agent is {agent}; expected 0 <= agent < {self.agents}")
        return _AgentHead(self, agent)

    def agent_state(self, agent: int) -> dict[str, Tensor]:
        """Agent ``agent``'s parameters as a single :class:`~typedrl.policies.ActorCritic`'s ``state_dict``
        (copies): load it into a model built from the same config to evaluate or fine-tune that agent alone."""
        state = {}
        for name, parameter in self.named_parameters():
            state[name] = parameter[agent].detach().clone()
        return state


class _AgentHead(nn.Module):
    """One agent's actor of a :class:`StackedActorCritic` (see :meth:`StackedActorCritic.head`)."""

    def __init__(self, model: StackedActorCritic, agent: int) -> None:
        super().__init__()
        object.__setattr__(self, "model", model)  # not a submodule: no second copy in state_dict()
        self.agent = agent

    def forward(self, observations: Float[Tensor, " B *obs"]) -> Float[Tensor, " B A"]:
        model: StackedActorCritic = self.__dict__["model"]
        flat = observations.flatten(1)
        # Both networks of the agent, as ActorCritic.forward runs them: the same products, the same rounding.
        hidden = flat.unsqueeze(0).expand(2, -1, -1)
        last = len(model.weights) - 1
        for index, (weight, bias) in enumerate(zip(model.weights, model.biases, strict=True)):
            hidden = torch.baddbmm(bias[self.agent], hidden, weight[self.agent])
            if index < last:
                hidden = model.activation(hidden)
        return hidden[0]


class StackedAdam(torch.optim.Optimizer):
    """Adam (Kingma & Ba 2015) over a :class:`StackedActorCritic`'s buffer ``[K, P]``, each agent on its own:

    ``g ← g·min(1, c_k / (‖g_k‖₂ + 10⁻⁶))`` (global-norm clipping per agent, ``nn.utils.clip_grad_norm_``'s
    formula), then ``m ← β₁m + (1−β₁)g``, ``v ← β₂v + (1−β₂)g²``, ``θ ← θ − α_k·m̂ / (√v̂ + ε)`` with
    ``m̂ = m / (1 − β₁^{t_k})`` and ``v̂ = v / (1 − β₂^{t_k})``: torch's ``Adam`` (no weight decay, no amsgrad) with
    per-agent learning rates ``α_k``, clipping norms ``c_k`` and step counts ``t_k``. An agent that is not
    ``active`` in a step (a PPO agent stopped early by its approximate KL) takes no step: its parameters, moments
    and ``t_k`` stay as they are.

    Set :attr:`learning_rates` and :attr:`max_grad_norms` (``[K]``; ``inf`` norms only measure) before
    :meth:`step`. The state (``exp_avg``, ``exp_avg_sq`` ``[K, P]``, ``step`` ``[K]``) is in ``state_dict()``.
    """

    def __init__(
        self, model: StackedActorCritic, *, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ) -> None:
        self.model = model
        self._parameter = nn.Parameter(model.flat, requires_grad=False)  # the same storage: what state_dict keys
        super().__init__([self._parameter], {"lr": lr, "betas": betas, "eps": eps})
        agents = model.agents
        device, dtype = model.flat.device, model.flat.dtype
        self.learning_rates = torch.full((agents,), float(lr), device=device, dtype=dtype)
        """``α_k`` ``[K]`` for the next steps."""
        self.max_grad_norms = torch.full((agents,), math.inf, device=device, dtype=dtype)
        """``c_k`` ``[K]`` for the next steps (``inf``: no clipping)."""
        state = self.state[self._parameter]
        state["step"] = torch.zeros(agents, device=device, dtype=dtype)
        state["exp_avg"] = torch.zeros_like(model.flat)
        state["exp_avg_sq"] = torch.zeros_like(model.flat)
        self._row_cache: tuple[tuple[int, int, int], list[list[Tensor]]] | None = None

    @torch.no_grad()
    def clip_and_measure(self) -> Tensor:
        """Clip every agent's gradient to its :attr:`max_grad_norms` in place; return the norms before
        clipping ``[K]`` (non-finite where an agent's loss or gradient is)."""
        gradient = self.model.flat_grad
        norms: Tensor = torch.linalg.vector_norm(gradient, dim=1)
        scale = (self.max_grad_norms / (norms + 1e-6)).clamp_(max=1.0)
        gradient.mul_(scale.unsqueeze(1))
        return norms

    @torch.no_grad()
    def step(self, closure: Any = None, *, active: Tensor | None = None) -> None:  # type: ignore[override]
        """One Adam step for every agent (``active`` ``[K]`` bool: only those; ``None``: all). No closure."""
        if closure is not None:
            raise ValueError("StackedAdam.step: a closure is not supported")
        group = self.param_groups[0]
        beta1, beta2 = group["betas"]
        state = self.state[self._parameter]
        rows = self._rows(state)
        chosen = list(range(self.model.agents)) if active is None else active.nonzero().flatten().tolist()
        if not chosen:
            return
        # torch's fused Adam kernel (the one Adam(fused=True) runs), one call per distinct learning rate, with each
        # agent's rows as tensors of their own and each agent's own step count: the bias corrections per agent.
        by_rate: dict[float, list[int]] = {}
        rates = self.learning_rates.tolist()
        for agent in chosen:
            by_rate.setdefault(rates[agent], []).append(agent)
        steps: Tensor = state["step"]
        if len(chosen) == self.model.agents:
            steps += 1
        else:
            steps[chosen] += 1
        for rate, agents in by_rate.items():
            torch._fused_adam_(
                [rows[0][agent] for agent in agents],
                [rows[1][agent] for agent in agents],
                [rows[2][agent] for agent in agents],
                [rows[3][agent] for agent in agents],
                [],
                [rows[4][agent] for agent in agents],
                lr=rate,
                beta1=beta1,
                beta2=beta2,
                weight_decay=0.0,
                eps=group["eps"],
                amsgrad=False,
                maximize=False,
            )
        self.model.changed()

    def _rows(self, state: dict[str, Any]) -> list[list[Tensor]]:
        """Per agent: parameter, gradient, first and second moment rows ``[P]`` and step count (views), cached
        until ``load_state_dict`` replaces the state's tensors."""
        key = (id(state["exp_avg"]), id(state["exp_avg_sq"]), id(state["step"]))
        if self._row_cache is None or self._row_cache[0] != key:
            tensors = (self.model.flat, self.model.flat_grad, state["exp_avg"], state["exp_avg_sq"], state["step"])
            self._row_cache = (key, [list(tensor.unbind(0)) for tensor in tensors])
        return self._row_cache[1]
