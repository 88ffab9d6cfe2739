"""Actor and critic networks, categorical sampling for discrete actions, and the diagonal Gaussian for Box actions.

``π(a|s) = softmax(actor(s))_a`` over ``A`` actions; ``V(s) = critic(s)``. The actor and critic are separate
MLPs (no shared trunk), as in SB3's default and TorchLean's PPO demo. Sampling is by inverse CDF from one
uniform number per row, so an action depends only on its observation and its own random number, never on the
other rows of the batch (which keeps collection identical however a vector env is stepped).

**Box actions.** ``π(·|s) = N(μ(s), diag(σ²))``: the actor outputs the mean, ``log σ`` is a learned vector that
does not depend on the state; an action is ``μ + σ·ε`` with ``ε`` standard normal, one row's numbers of its own.
The sampled action is what is stored and scored (:func:`gaussian_log_prob`); the environment receives it clipped
to the space's bounds. Greedy actions are the mean.

**Masked actions.** A logit of ``−inf`` masks its action: its probability is exactly 0, sampling and the greedy
choice never pick it, its log-probability is ``−inf`` (never NaN), it contributes 0 to the entropy (never
``0 · −inf = NaN``), and no gradient through these functions is NaN because of it. A row with no allowed
action (every logit ``−inf``), or with a NaN or ``+inf`` logit, has no distribution: the functions that must
return an action (:func:`sample_categorical`, :func:`greedy_actions`) raise :class:`~typedrl.errors.InputError`
naming the row; :func:`categorical_log_prob` and :func:`categorical_entropy`, which feed losses, give NaN for
that row, which stays visible (a non-finite loss stops training).
"""

import itertools
import math
from collections.abc import Sequence, ValuesView
from typing import Literal, cast

import torch
from jaxtyping import Bool, Float, Int, Shaped
from torch import Tensor, nn

from typedrl._spaces import ActionKind
from typedrl.collect import PolicyStep
from typedrl.errors import InputError
from typedrl.masks import mask_logits
from typedrl.normalize import ObservationNormalizer

__all__ = [
    "ActorCritic",
    "SampledPolicy",
    "categorical_entropy",
    "categorical_log_prob",
    "categorical_log_prob_and_entropy",
    "gaussian_entropy",
    "gaussian_log_prob",
    "greedy_actions",
    "mlp",
    "multi_categorical_log_prob_and_entropy",
    "sample_categorical",
    "sample_multi_categorical",
    "squashed_gaussian_log_prob",
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


def _row_problem(row: Tensor) -> str:
    """What keeps one row of logits from being a distribution (it has one of these problems)."""
    if bool(row.isnan().any()):
        return "has a NaN; expected finite logits, or -inf for a masked action"
    if bool((row == math.inf).any()):
        return "has +inf; expected finite logits, or -inf for a masked action"
    return "are all -inf; expected at least one allowed action (a finite logit)"


def _check_logits(where: str, logits: object) -> None:
    """A floating ``[B, A]`` tensor with at least one action (no values are read: no device sync)."""
    if not isinstance(logits, Tensor):
        raise InputError(f"{where}: logits is a {type(logits).__name__}; expected a floating tensor [B, A]")
    if not logits.is_floating_point():
        raise InputError(f"{where}: logits has dtype {logits.dtype}; expected a floating dtype")
    if logits.dim() != 2 or logits.shape[-1] == 0:
        raise InputError(f"{where}: logits has shape {tuple(logits.shape)}; expected [B, A] with A >= 1")


def _check_actions(where: str, logits: Tensor, actions: object) -> None:
    """An integer tensor ``[B]`` of actions in ``[0, A)`` for logits ``[B, A]`` (one device sync)."""
    if not isinstance(actions, Tensor):
        raise InputError(f"{where}: actions is a {type(actions).__name__}; expected an integer tensor")
    if actions.dtype.is_floating_point or actions.dtype is torch.bool or actions.is_complex():
        raise InputError(f"{where}: actions has dtype {actions.dtype}; expected an integer dtype")
    if tuple(actions.shape) != tuple(logits.shape[:1]):
        raise InputError(
            f"{where}: actions has shape {tuple(actions.shape)}; expected ({logits.shape[0]},) (one per row of "
            f"logits {tuple(logits.shape)})"
        )
    count = logits.shape[-1]
    outside = (actions < 0) | (actions >= count)
    if bool(outside.any()):
        row = int(torch.nonzero(outside)[0, 0])
        raise InputError(f"{where}: actions[{row}] is {int(actions[row])}; expected an action in [0, {count})")


def _check_distributions(where: str, logits: Tensor, uniform: Tensor | None = None) -> None:
    """Every row of ``logits`` a distribution (and every ``uniform`` in ``[0, 1)``), with one device sync."""
    _check_logits(where, logits)
    if uniform is not None and uniform.shape != logits.shape[:1]:
        raise InputError(
            f"{where}: uniform has shape {tuple(uniform.shape)}; expected ({logits.shape[0]},) (one per row)"
        )
    # The common case in a few reductions: every logit finite (a finite sum), every u in [0, 1). Anything else
    # (a masked -inf, a sum that overflows) takes the exact check below.
    fine = logits.sum().isfinite()
    if uniform is not None:
        low, high = torch.aminmax(uniform)
        fine = fine & (low >= 0) & (high < 1)
    if bool(fine):
        return
    valid = logits.amax(dim=-1).isfinite()  # amax is NaN for a NaN row, +inf for +inf, -inf for all -inf
    if uniform is not None:
        valid = valid & (uniform >= 0) & (uniform < 1)
    if bool(valid.all()):
        return
    row = int(torch.nonzero(~valid)[0, 0])
    if not bool(logits[row].amax().isfinite()):
        raise InputError(f"{where}: logits[{row}] {_row_problem(logits[row])}")
    if uniform is not None:
        raise InputError(f"{where}: uniform[{row}] is {float(uniform[row])!r}; expected a number in [0, 1)")


def sample_categorical(logits: Float[Tensor, " B A"], uniform: Float[Tensor, " B"]) -> Int[Tensor, " B"]:
    """Sample ``a ~ softmax(logits)`` by inverse CDF: the first ``a`` with ``Σ_{k≤a} π_k > u``.

    ``logits`` is ``[B, A]``, ``uniform`` ``[B]`` with every ``u`` in ``[0, 1)``; the result is ``[B]`` int64.
    A masked action (logit ``−inf``, probability 0) is never picked, whatever ``u``: where rounding leaves the
    last cumulative probability below ``u``, the action is the last one with a nonzero probability, not the last
    one. Raises :class:`~typedrl.errors.InputError` for a row without a distribution (all ``−inf``, or a NaN
    or ``+inf`` logit), a ``u`` outside ``[0, 1)``, or shapes other than ``[B, A]`` and ``[B]``.
    """
    _check_distributions("sample_categorical", logits, uniform)
    cumulative = torch.softmax(logits, dim=-1).cumsum(dim=-1)
    # Action a is picked where u falls in [Σ_{k<a} π_k, Σ_{k≤a} π_k): a masked action's interval is empty. The
    # first cumulative that reaches the row's total belongs to the last action with nonzero probability; not
    # counting it or anything after caps the action there, for a u at or past the rounded total too.
    before = (cumulative <= uniform.unsqueeze(-1)) & (cumulative < cumulative[:, -1:])
    return before.sum(dim=-1)


def greedy_actions(logits: Float[Tensor, " B A"]) -> Int[Tensor, " B"]:
    """``argmax_a π(a|s)`` per row, ``[B, A]`` to ``[B]`` int64 (the first of equal maxima): never a masked
    action. Raises :class:`~typedrl.errors.InputError` for a row without a distribution (all ``−inf``, or a NaN
    or ``+inf`` logit, where ``argmax`` would return an arbitrary action)."""
    _check_distributions("greedy_actions", logits)
    return logits.argmax(dim=-1)


def categorical_log_prob(logits: Float[Tensor, " B A"], actions: Int[Tensor, " B"]) -> Float[Tensor, " B"]:
    """``log π(a|s) = log_softmax(logits)_a``, ``[B, A]`` and ``[B]`` integer actions to ``[B]``.

    Finite for an allowed action (unless its probability underflows the dtype, as ``π = e^{−6·10³⁸}`` does:
    then ``−inf``), ``−inf`` for a masked one (logit ``−inf``), NaN for a row without a distribution; its gradient
    is finite wherever its value is. Raises :class:`~typedrl.errors.InputError` for logits that are not a floating
    ``[B, A]`` tensor, actions that are not an integer tensor of shape ``[B]``, or an action outside ``[0, A)``.
    """
    _check_logits("categorical_log_prob", logits)
    _check_actions("categorical_log_prob", logits, actions)
    return torch.log_softmax(logits, dim=-1).gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)


def categorical_log_prob_and_entropy(
    logits: Float[Tensor, " B A"], actions: Int[Tensor, " B"]
) -> tuple[Float[Tensor, " B"], Float[Tensor, " B"]]:
    """:func:`categorical_log_prob` and :func:`categorical_entropy` of the same logits from one ``log_softmax``
    (what a policy-gradient loss needs, for about half the operations of the two calls). Same values, same
    masked-action rules, same errors."""
    _check_logits("categorical_log_prob_and_entropy", logits)
    _check_actions("categorical_log_prob_and_entropy", logits, actions)
    log_probs = torch.log_softmax(logits, dim=-1)
    safe = torch.where(log_probs == -math.inf, 0.0, log_probs)
    entropy = 0.0 - (safe.exp() * safe).sum(dim=-1)
    return log_probs.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1), entropy


def categorical_entropy(logits: Float[Tensor, " B A"]) -> Float[Tensor, " B"]:
    """``H[π] = −Σ_a π_a log π_a`` per row, ``[B, A]`` to ``[B]``, with ``0 · log 0 = 0``.

    A masked action (logit ``−inf``) contributes exactly 0, and no NaN to the gradient; a row without a
    distribution gives NaN. Raises :class:`~typedrl.errors.InputError` for logits that are not a floating
    ``[B, A]`` tensor with ``A ≥ 1``.
    """
    _check_logits("categorical_entropy", logits)
    log_probs = torch.log_softmax(logits, dim=-1)
    # log π = −inf only where π = 0: replace it before the product, so neither 0 · −inf nor its gradient is
    # formed (a where after the product would still send NaN back through it).
    safe = torch.where(log_probs == -math.inf, 0.0, log_probs)
    return 0.0 - (safe.exp() * safe).sum(dim=-1)  # 0 − x, not −x: a certain action has entropy +0, not −0


def sample_multi_categorical(
    logits: Float[Tensor, " B A"], nvec: Sequence[int], uniform: Float[Tensor, " B k"]
) -> Int[Tensor, " B k"]:
    """Sample each of ``k = len(nvec)`` independent categoricals (a MultiDiscrete action): the logits ``[B, A]``
    are ``k`` consecutive groups of ``nvec[i]`` (``A = Σ nvec``), component ``i`` is drawn from group ``i`` by
    :func:`sample_categorical` with ``uniform[:, i]``. Returns ``[B, k]`` int64; errors as
    :func:`sample_categorical`."""
    parts = torch.split(logits, list(nvec), dim=-1)
    return torch.stack([sample_categorical(part, uniform[:, index]) for index, part in enumerate(parts)], dim=-1)


def multi_categorical_log_prob_and_entropy(
    logits: Float[Tensor, " B A"], nvec: Sequence[int], actions: Int[Tensor, " B k"]
) -> tuple[Float[Tensor, " B"], Float[Tensor, " B"]]:
    """``log π(a|s) = Σᵢ log πᵢ(aᵢ|s)`` and ``H[π] = Σᵢ H[πᵢ]`` of the product of ``k = len(nvec)`` independent
    categoricals (SB3's ``MultiCategoricalDistribution``), logits grouped as in :func:`sample_multi_categorical`,
    actions ``[B, k]``. Each component follows :func:`categorical_log_prob_and_entropy` (masked actions,
    errors)."""
    log_probs = torch.zeros(logits.shape[0], dtype=logits.dtype, device=logits.device)
    entropies = torch.zeros_like(log_probs)
    for index, part in enumerate(torch.split(logits, list(nvec), dim=-1)):
        log_prob, entropy = categorical_log_prob_and_entropy(part, actions[:, index])
        log_probs, entropies = log_probs + log_prob, entropies + entropy
    return log_probs, entropies


_HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


def gaussian_log_prob(
    mean: Float[Tensor, " B A"], log_std: Float[Tensor, " A"], actions: Float[Tensor, " B A"]
) -> Float[Tensor, " B"]:
    """``log N(a; μ, diag(σ²)) = −Σ_i ((a_i − μ_i)² / (2σ_i²) + log σ_i + ½ log 2π)``, ``[B, A]`` to ``[B]``.

    ``mean`` ``[B, A]``, ``log_std`` (``log σ``) ``[A]`` (state-independent, as SB3's and CleanRL's PPO) or
    ``[B, A]``, ``actions`` ``[B, A]``. The density of the unclipped action: the action that was sampled and stored
    (the environment receives it clipped to its bounds, docs/conventions.md). A non-finite input gives a
    non-finite result.
    """
    scaled = (actions - mean) * torch.exp(-log_std)
    return -(0.5 * scaled.square() + log_std + _HALF_LOG_TWO_PI).sum(dim=-1)


def squashed_gaussian_log_prob(
    mean: Float[Tensor, " B A"], log_std: Float[Tensor, " A"], samples: Float[Tensor, " B A"]
) -> Float[Tensor, " B"]:
    """``log π(a|s)`` of ``a = tanh(u)``, ``u ~ N(μ, diag(σ²))`` (the tanh-squashed Gaussian of SAC, Haarnoja et al.
    2018, appendix C; SB3's ``SquashedDiagGaussianDistribution``), from the Gaussian's sample ``u`` ``[B, A]``:

    ``log π(a|s) = log N(u; μ, σ²) − Σᵢ log(1 − tanh²(uᵢ))``, with ``log(1 − tanh²(u)) = 2(log 2 − u −
    softplus(−2u))`` (exact, and finite for every finite ``u``, where ``1 − tanh²(u)`` rounds to 0 past
    ``|u| ≈ 9`` in float32).

    The density is that of ``a ∈ (−1, 1)ᴬ``; the environment receives ``a`` mapped affinely to its bounds, which
    adds a constant that cancels in every probability ratio. Storing ``u`` (not ``a``) keeps it exact: no
    ``atanh`` of a rounded ±1.
    """
    log_det = 2.0 * (math.log(2.0) - samples - torch.nn.functional.softplus(-2.0 * samples))
    return gaussian_log_prob(mean, log_std, samples) - log_det.sum(dim=-1)


def gaussian_entropy(log_std: Float[Tensor, " A"], batch: int) -> Float[Tensor, " B"]:
    """``H[N(μ, diag(σ²))] = Σ_i (½ + ½ log 2π + log σ_i)`` in nats, the same for each of ``batch`` rows (the
    standard deviation does not depend on the state): ``[A]`` to ``[B]``."""
    return (0.5 + _HALF_LOG_TWO_PI + log_std).sum(dim=-1).expand(batch)


class ActorCritic(nn.Module):
    """Separate actor (observation → ``A`` outputs) and critic (observation → value) MLPs.

    ``action_kind="discrete"``: the outputs are the logits of a categorical over ``A`` actions.
    ``"multi_discrete"``: they are the logits of ``k`` independent categoricals, ``action_nvec[i]`` each, in order
    (``A = Σ nvec``); an action is ``[k]`` int64, its log-probability and entropy the sums over the components
    (a product distribution, as SB3's ``MultiCategoricalDistribution``). ``"box"``: they are
    the mean ``μ`` of a diagonal Gaussian over a Box action with ``A`` elements (shape ``action_shape``), whose
    log-standard deviation is one learned parameter vector ``log_std`` ``[A]`` (initialised to ``log_std_init``),
    independent of the state, as in SB3's and CleanRL's PPO; greedy actions are the mean. With ``squash_bounds``
    ``(low, high)`` (finite, ``A`` each), the Gaussian is tanh-squashed: the stored action is the Gaussian's
    sample ``u``, its log-probability that of ``tanh(u)`` (:func:`squashed_gaussian_log_prob`), its entropy
    estimated by ``−log π``, and the environment receives :meth:`squashed` ``(u)``; greedy actions are
    ``squashed(μ)``.

    ``normalize_observations``: both networks see the observations through an
    :class:`~typedrl.normalize.ObservationNormalizer` (``normalizer``), whose running statistics are buffers of
    this module (saved with it, applied by :attr:`actor` too) and change only when its ``update`` is called.

    The two networks share no parameters; each of their layers is stored as a stacked pair (``weights[0]`` the
    actor's, ``weights[1]`` the critic's) so that one batched matrix product (``torch.baddbmm``) runs a layer of
    both. One forward therefore costs about half the operator calls of two separate MLPs, which is what bounds
    small networks on a CPU. Initialisation (``ortho_init``, SB3's name) is orthogonal with gain √2 in the hidden
    layers, 0.01 for the actor's output (a near-uniform first policy) and 1 for the critic's, biases at zero; with
    ``ortho_init=False`` each layer is initialised as ``nn.Linear`` is (weights and biases uniform in
    ``±1/√fan_in``).

    ``hidden`` is each hidden layer's width, ``layers`` the number of hidden layers, ``activation`` tanh or ReLU.
    """

    actor: "_Head"

    def __init__(
        self,
        observation_size: int,
        n_actions: int,
        *,
        hidden: int = 64,
        layers: int = 2,
        activation: Activation = "tanh",
        action_kind: ActionKind = "discrete",
        action_shape: tuple[int, ...] | None = None,
        log_std_init: float = 0.0,
        ortho_init: bool = True,
        normalize_observations: bool = False,
        action_nvec: tuple[int, ...] = (),
        squash_bounds: tuple[Sequence[float], Sequence[float]] | None = None,
    ) -> None:
        super().__init__()
        self.normalizer = ObservationNormalizer(observation_size) if normalize_observations else None
        self.observation_size = observation_size
        self.n_actions = n_actions
        self.action_kind: ActionKind = action_kind
        self.action_nvec: tuple[int, ...] = tuple(action_nvec)
        if action_kind == "multi_discrete":
            if not self.action_nvec or sum(self.action_nvec) != n_actions or min(self.action_nvec) < 1:
                raise ValueError(f"ActorCritic: action_nvec {self.action_nvec} does not split {n_actions} logits")
            self.action_shape: tuple[int, ...] = (len(self.action_nvec),)
        else:
            self.action_shape = () if action_kind == "discrete" else (action_shape or (n_actions,))
            if math.prod(self.action_shape) != (1 if action_kind == "discrete" else n_actions):
                raise ValueError(f"ActorCritic: action_shape {self.action_shape} does not hold {n_actions} elements")
        if action_kind == "box":
            self.log_std = nn.Parameter(torch.full((n_actions,), float(log_std_init)))
        self.squash = squash_bounds is not None
        if squash_bounds is not None:
            low, high = (torch.as_tensor(bound, dtype=torch.float32).reshape(-1) for bound in squash_bounds)
            finite = bool(torch.isfinite(low).all() and torch.isfinite(high).all() and (low < high).all())
            if action_kind != "box" or low.numel() != n_actions or not finite:
                raise ValueError(
                    f"ActorCritic: squash_bounds need box actions and {n_actions} finite bounds with low < high"
                )
            self.register_buffer("action_low", low)
            self.register_buffer("action_high", high)
        self.activation = torch.tanh if activation == "tanh" else torch.relu
        widths = [observation_size] + [hidden] * layers + [n_actions]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.empty(2, fan_in, fan_out)) for fan_in, fan_out in itertools.pairwise(widths)
        )
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(2, 1, fan_out)) for fan_out in widths[1:])
        with torch.no_grad():
            for index, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
                last = index == len(self.weights) - 1
                for net, output_gain in ((0, 0.01), (1, 1.0)):
                    # nn.init works on [out, in]; the stored layout is [in, out] for baddbmm.
                    block = torch.empty(weight.shape[2], weight.shape[1])
                    if ortho_init:
                        nn.init.orthogonal_(block, gain=output_gain if last else math.sqrt(2.0))
                    else:  # nn.Linear's reset_parameters: weights and biases uniform in ±1/√fan_in
                        nn.init.kaiming_uniform_(block, a=math.sqrt(5.0))
                        bound = 1.0 / math.sqrt(weight.shape[1])
                        nn.init.uniform_(bias[net], -bound, bound)
                    weight[net].copy_(block.T)
        # A view, not a submodule: it owns no parameters, and registering it would make train() recurse.
        object.__setattr__(self, "actor", _Head(self))

    def forward(self, observations: Float[Tensor, " B *obs"]) -> tuple[Float[Tensor, " B A"], Float[Tensor, " B"]]:
        """Both networks at once: ``(logits, values)``."""
        flat = observations.flatten(1)
        if self.normalizer is not None:
            flat = self.normalizer(flat)
        hidden = flat.unsqueeze(0).expand(2, -1, -1)
        # The lists' own dicts: iterating a ParameterList indexes it by position, a Python call per element.
        weights = cast("ValuesView[Tensor]", self.weights._parameters.values())
        biases = cast("ValuesView[Tensor]", self.biases._parameters.values())
        last = len(weights) - 1
        for index, (weight, bias) in enumerate(zip(weights, biases, strict=True)):
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

    def noise(self, batch: int, generator: torch.Generator, like: Tensor) -> Tensor:
        """The random numbers :meth:`act` needs for ``batch`` rows, drawn from ``generator`` on ``like``'s device
        in its dtype: one uniform number in ``[0, 1)`` per row (discrete, ``[B]``), or ``A`` standard normal
        numbers per row (box, ``[B, A]``); one uniform number per component (multi_discrete, ``[B, k]``)."""
        if self.action_kind == "discrete":
            return torch.rand(batch, generator=generator, device=like.device, dtype=like.dtype)
        if self.action_kind == "multi_discrete":
            return torch.rand(batch, len(self.action_nvec), generator=generator, device=like.device, dtype=like.dtype)
        return torch.randn(batch, self.n_actions, generator=generator, device=like.device, dtype=like.dtype)

    def act(
        self,
        observations: Float[Tensor, " B *obs"],
        noise: Float[Tensor, " B *noise"],
        action_masks: Bool[Tensor, " B A"] | None = None,
    ) -> PolicyStep:
        """Sample actions from :meth:`noise`'s numbers, with their log-probabilities and the values: discrete,
        by inverse CDF from one uniform number per row (:func:`sample_categorical`); box, ``a = μ + σ·ε`` with
        ``ε`` standard normal ``[B, A]``, stored unclipped and reshaped to ``[B, *action_shape]``.

        ``action_masks`` (discrete kinds): ``[B, A]`` bool, true where an action is allowed; masked actions get
        the logit ``−inf`` (:func:`~typedrl.masks.mask_logits`) and are never sampled."""
        outputs, values = self(observations)
        if action_masks is not None and self.action_kind != "box":
            outputs = mask_logits(outputs, action_masks)
        if self.action_kind == "discrete":
            actions = sample_categorical(outputs, noise)
            return PolicyStep(actions, categorical_log_prob(outputs, actions), values)
        if self.action_kind == "multi_discrete":
            chosen = sample_multi_categorical(outputs, self.action_nvec, noise)
            log_prob, _ = multi_categorical_log_prob_and_entropy(outputs, self.action_nvec, chosen)
            return PolicyStep(chosen, log_prob, values)
        flat = outputs + self.log_std.exp() * noise
        if self.squash:
            log_probs = squashed_gaussian_log_prob(outputs, self.log_std, flat)
        else:
            log_probs = gaussian_log_prob(outputs, self.log_std, flat)
        return PolicyStep(flat.reshape(-1, *self.action_shape), log_probs, values)

    def log_prob_and_entropy(
        self, outputs: Float[Tensor, " B A"], actions: Shaped[Tensor, " B *act"]
    ) -> tuple[Float[Tensor, " B"], Float[Tensor, " B"]]:
        """``log π(a|s)`` of stored ``actions`` and the entropy ``H[π(·|s)]`` per row, from the actor's
        ``outputs`` (:func:`categorical_log_prob_and_entropy`, or :func:`gaussian_log_prob` and
        :func:`gaussian_entropy`)."""
        if self.action_kind == "discrete":
            return categorical_log_prob_and_entropy(outputs, actions)
        if self.action_kind == "multi_discrete":
            return multi_categorical_log_prob_and_entropy(outputs, self.action_nvec, actions)
        flat = actions.reshape(outputs.shape)
        if self.squash:  # no closed-form entropy: −log π(a|s) of the stored sample estimates it, as SB3 does
            log_probs = squashed_gaussian_log_prob(outputs, self.log_std, flat)
            return log_probs, -log_probs
        return gaussian_log_prob(outputs, self.log_std, flat), gaussian_entropy(self.log_std, outputs.shape[0])

    def greedy(
        self, observations: Float[Tensor, " B *obs"], action_masks: Bool[Tensor, " B A"] | None = None
    ) -> Shaped[Tensor, " B *act"]:
        """The evaluation policy: ``argmax_a π(a|s)`` for discrete actions (:func:`greedy_actions`, which raises
        :class:`~typedrl.errors.InputError` for logits without a distribution, e.g. NaN weights), among the
        allowed ones where ``action_masks`` is given; the mean ``μ``, ``[B, *action_shape]``, for box actions."""
        outputs = self.logits(observations)
        if action_masks is not None and self.action_kind != "box":
            outputs = mask_logits(outputs, action_masks)
        if self.action_kind == "discrete":
            return greedy_actions(outputs)
        if self.action_kind == "multi_discrete":
            return torch.stack(
                [greedy_actions(part) for part in torch.split(outputs, list(self.action_nvec), dim=-1)], dim=-1
            )
        if self.squash:
            outputs = self.squashed(outputs)
        return outputs.reshape(-1, *self.action_shape)

    def squashed(self, samples: Float[Tensor, " B A"]) -> Float[Tensor, " B A"]:
        """A squashing policy's Gaussian samples (or mean) ``u`` as environment actions:
        ``low + (tanh(u) + 1)·(high − low)/2``, inside the bounds."""
        low, high = cast("Tensor", self.action_low), cast("Tensor", self.action_high)
        return torch.minimum(torch.maximum(low + (torch.tanh(samples) + 1.0) * ((high - low) / 2.0), low), high)


class _Head(nn.Module):
    """The actor alone, as an observation → logits module (what greedy evaluation runs); for Box actions the mean,
    and for a squashing policy the squashed mean (:meth:`ActorCritic.squashed`: the environment's action)."""

    def __init__(self, model: ActorCritic) -> None:
        super().__init__()
        object.__setattr__(self, "model", model)  # not a submodule: no second copy in state_dict()

    def forward(self, observations: Float[Tensor, " B *obs"]) -> Float[Tensor, " B A"]:
        model: ActorCritic = self.__dict__["model"]
        outputs = model.logits(observations)
        return model.squashed(outputs) if model.squash else outputs


class SampledPolicy:
    """An :class:`ActorCritic` that draws its sampling noise from an explicit generator: the collector's
    :class:`~typedrl.collect.Policy`.

    The numbers :meth:`ActorCritic.noise` asks for (one uniform per row for discrete actions, ``A`` standard
    normals per row for box actions), from ``generator`` on each call (seed it for reproducible runs).
    """

    def __init__(self, model: ActorCritic, generator: torch.Generator) -> None:
        self.model = model
        self.generator = generator

    def act(
        self, observations: Float[Tensor, " B *obs"], action_masks: Bool[Tensor, " B A"] | None = None
    ) -> PolicyStep:
        """Sample one action per observation (an allowed one, under ``action_masks``), with its log-probability
        and the state's value."""
        noise = self.model.noise(observations.shape[0], self.generator, observations)
        return self.model.act(observations, noise, action_masks)

    def value(self, observations: Float[Tensor, " B *obs"]) -> Float[Tensor, " B"]:
        """``V(s)`` for each observation."""
        return self.model.value(observations)
