"""Policy-optimization losses with their gradients written out: one autograd node instead of twenty.

:func:`ppo_loss` is PPO's whole minibatch objective (clipped surrogate, value loss with optional clipping, entropy
bonus) over a categorical policy's logits and the critic's values; :func:`gaussian_ppo_loss` is the same over a
diagonal Gaussian's means and state-independent log-standard deviations (Box actions), tanh-squashed or not. Their
values **and gradients** equal what autograd gives for the same formula written with torch operations
(:func:`ppo_loss_reference`, :func:`ppo_objective`; property-tested against them, ties included), but each
backward pass is a handful of tensor operations: on a CPU, where a small network's step is bound by per-operation
overhead, that is a fifth to a third of a PPO gradient step saved.

The losses one at a time, each equal to its plain-Python specification in :mod:`typedrl.spec.losses` (property
tested, values and gradients): :func:`clipped_surrogate` (PPO's ``L^CLIP``), :func:`value_loss` (with optional
clipping, no ½ factor), :func:`policy_gradient_loss`, :func:`categorical_kl`, :func:`approx_kl_k1` and
:func:`approx_kl_k3` (the KL estimators PPO logs) and :func:`huber_loss` (PyTorch's convention). The entropy and
log-probability of a categorical or diagonal Gaussian policy are in :mod:`typedrl.policies`
(:func:`~typedrl.policies.categorical_entropy`, :func:`~typedrl.policies.categorical_log_prob`,
:func:`~typedrl.policies.gaussian_log_prob`, :func:`~typedrl.policies.gaussian_entropy`). They are differentiable
torch expressions (autograd's gradients), shapes in jaxtyping annotations, inputs checked on every call
(:class:`~typedrl.errors.InputError` naming the argument, :class:`~typedrl.errors.HyperparameterError` for
``clip``, ``clip_range_vf``, ``delta``). Equations, conventions and sources: docs/losses.md.
"""

import math
from typing import Any, NamedTuple

import torch
from jaxtyping import Float, Int
from torch import Tensor
from torch.autograd.function import once_differentiable
from torch.nn.functional import softplus

from typedrl.errors import InputError
from typedrl.policies import _HALF_LOG_TWO_PI, _check_actions, _check_logits, categorical_log_prob_and_entropy
from typedrl.spec.losses import _hyperparameter

__all__ = [
    "PPOLoss",
    "approx_kl_k1",
    "approx_kl_k3",
    "categorical_kl",
    "clipped_surrogate",
    "gaussian_ppo_loss",
    "huber_loss",
    "policy_gradient_loss",
    "ppo_loss",
    "ppo_loss_reference",
    "ppo_objective",
    "value_loss",
]


class PPOLoss(NamedTuple):
    """PPO's minibatch objective and what it measured, each a 0-dim tensor. :attr:`loss` and its three terms are
    differentiable; :attr:`approx_kl` and :attr:`clip_fraction` are not."""

    loss: Tensor
    """``L = L_π + c_v·L_V − c_e·H̄``: what the optimizer minimizes."""
    policy_loss: Tensor
    """``L_π = −mean(min(ρ·Â, clip(ρ, 1−ε, 1+ε)·Â))``."""
    value_loss: Tensor
    """``L_V = mean((V − G)²)``, or its clipped form (see :func:`ppo_loss`)."""
    entropy: Tensor
    """``H̄``: mean entropy of ``π(·|s)`` over the minibatch, in nats."""
    approx_kl: Tensor
    """Schulman's ``k3`` estimate of ``KL(π_old ‖ π)``: ``mean((ρ − 1) − log ρ)``."""
    clip_fraction: Tensor
    """Fraction of rows with ``|ρ − 1| > ε``."""


def ppo_loss(
    logits: Float[Tensor, " B A"],
    values: Float[Tensor, " B"],
    actions: Int[Tensor, " B"],
    old_log_probs: Float[Tensor, " B"],
    advantages: Float[Tensor, " B"],
    returns: Float[Tensor, " B"],
    *,
    clip: float,
    value_coef: float = 0.5,
    entropy_coef: float = 0.0,
    old_values: Float[Tensor, " B"] | None = None,
    clip_range_vf: float | None = None,
) -> PPOLoss:
    """PPO's loss on one minibatch of ``B`` rows (Schulman et al. 2017, arXiv:1707.06347, eq. 9):

    ``L = −mean(min(ρ·Â, clip(ρ, 1−ε, 1+ε)·Â)) + c_v·L_V − c_e·mean(H[π(·|s)])``,
    ``ρ = exp(log π(a|s) − log π_old(a|s))``, ``log π = log_softmax(logits)``;

    ``L_V = mean((V − G)²)``, or with ``clip_range_vf = ε_V`` (and ``old_values`` ``V_old``, as the PPO2
    baselines and CleanRL's ``clip_vloss``) ``L_V = mean(max((V − G)², (V_old + clip(V − V_old, −ε_V, ε_V) − G)²))``.

    ``logits`` ``[B, A]`` and ``values`` ``[B]`` are the networks' outputs (the gradient flows into both);
    ``actions`` ``[B]`` integer, ``old_log_probs``, ``advantages`` (already normalized, if so) and ``returns``
    ``[B]`` are data (no gradient). A masked action (logit ``−inf``) follows :mod:`typedrl.policies`: it adds 0
    to the entropy and nothing NaN to the gradient. The gradient is autograd's for the same expression, the
    subgradient conventions of ``torch.clamp`` (the bounds inside), ``torch.min`` and ``torch.max`` (a tie splits
    the gradient in halves) included: :func:`ppo_loss_reference` is that expression.

    Raises :class:`~typedrl.errors.InputError` for logits that are not a floating ``[B, A]`` tensor or actions
    that are not integers in ``[0, A)`` (:func:`~typedrl.policies.categorical_log_prob_and_entropy`), and
    :class:`ValueError` for ``clip_range_vf`` without ``old_values``. A non-finite input gives a non-finite loss
    (never a finite one): the caller checks it.
    """
    _check_inputs(
        "ppo_loss",
        logits,
        actions,
        values=values,
        old_log_probs=old_log_probs,
        advantages=advantages,
        returns=returns,
        old_values=old_values,
    )
    if clip_range_vf is not None and old_values is None:
        raise ValueError("ppo_loss: clip_range_vf needs old_values")
    outputs: tuple[Tensor, ...] = _PPOLossFunction.apply(  # type: ignore[no-untyped-call]
        logits,
        values,
        actions,
        old_log_probs,
        advantages,
        returns,
        old_values if clip_range_vf is not None else None,
        float(clip),
        float(value_coef),
        float(entropy_coef),
        math.inf if clip_range_vf is None else float(clip_range_vf),
    )
    return PPOLoss(*outputs)


def gaussian_ppo_loss(
    mean: Float[Tensor, " B A"],
    log_std: Float[Tensor, " A"],
    values: Float[Tensor, " B"],
    actions: Float[Tensor, " B A"],
    old_log_probs: Float[Tensor, " B"],
    advantages: Float[Tensor, " B"],
    returns: Float[Tensor, " B"],
    *,
    clip: float,
    value_coef: float = 0.5,
    entropy_coef: float = 0.0,
    old_values: Float[Tensor, " B"] | None = None,
    clip_range_vf: float | None = None,
    squashed: bool = False,
) -> PPOLoss:
    """:func:`ppo_loss` for a diagonal Gaussian policy ``N(μ(s), diag(σ²))`` with a state-independent ``log σ``
    (Box actions), its gradient in closed form: ``log π(a|s)`` is
    :func:`~typedrl.policies.gaussian_log_prob` and the entropy :func:`~typedrl.policies.gaussian_entropy`; with
    ``squashed`` (a tanh-squashed Gaussian whose stored samples are ``actions``)
    :func:`~typedrl.policies.squashed_gaussian_log_prob`, the entropy estimated by ``−log π(a|s)`` per row.

    With ``z = (a − μ)/σ`` and ``w = ∂L/∂log π`` per row (the surrogate's slope as in :func:`ppo_loss`),
    ``∂L/∂μ = w·z/σ`` and ``∂L/∂log σᵢ = Σ_b w_b (z_bi² − 1) − c_e`` (the log-determinant of the squashing does
    not depend on ``μ`` or ``σ``). Equal to autograd's gradient of :func:`ppo_objective` on the same
    log-probabilities (property-tested); the fused node saves PPO a fifth of a small network's gradient step.

    ``mean`` ``[B, A]``, ``log_std`` ``[A]`` and ``values`` ``[B]`` get gradients; ``actions`` ``[B, A]`` (the
    stored samples), ``old_log_probs``, ``advantages``, ``returns`` ``[B]`` are data. Raises
    :class:`~typedrl.errors.InputError` for shapes other than these or non-floating tensors, :class:`ValueError`
    for ``clip_range_vf`` without ``old_values``.
    """
    where = "gaussian_ppo_loss"
    for name, tensor, rank in (("mean", mean, 2), ("log_std", log_std, 1), ("actions", actions, 2)):
        if not isinstance(tensor, Tensor) or not tensor.is_floating_point() or tensor.dim() != rank:
            got = f"shape {tuple(tensor.shape)}, dtype {tensor.dtype}" if isinstance(tensor, Tensor) else "not a tensor"
            raise InputError(f"{where}: {name} has {got}; expected a floating tensor of rank {rank}")
    if tuple(actions.shape) != tuple(mean.shape) or tuple(log_std.shape) != tuple(mean.shape[1:]):
        raise InputError(
            f"{where}: mean {tuple(mean.shape)}, log_std {tuple(log_std.shape)} and actions"
            f" {tuple(actions.shape)}; expected [B, A], [A] and [B, A]"
        )
    _check_rows(
        where,
        mean,
        values=values,
        old_log_probs=old_log_probs,
        advantages=advantages,
        returns=returns,
        old_values=old_values,
    )
    if clip_range_vf is not None and old_values is None:
        raise ValueError(f"{where}: clip_range_vf needs old_values")
    outputs: tuple[Tensor, ...] = _GaussianPPOLossFunction.apply(  # type: ignore[no-untyped-call]
        mean,
        log_std,
        values,
        actions,
        old_log_probs,
        advantages,
        returns,
        old_values if clip_range_vf is not None else None,
        float(clip),
        float(value_coef),
        float(entropy_coef),
        math.inf if clip_range_vf is None else float(clip_range_vf),
        bool(squashed),
    )
    return PPOLoss(*outputs)


def ppo_objective(
    log_probs: Float[Tensor, " B"],
    entropies: Float[Tensor, " B"],
    values: Float[Tensor, " B"],
    old_log_probs: Float[Tensor, " B"],
    advantages: Float[Tensor, " B"],
    returns: Float[Tensor, " B"],
    *,
    clip: float,
    value_coef: float = 0.5,
    entropy_coef: float = 0.0,
    old_values: Float[Tensor, " B"] | None = None,
    clip_range_vf: float | None = None,
) -> PPOLoss:
    """PPO's loss (the formula of :func:`ppo_loss`) from any policy's ``log π(a|s)`` and entropy per row, in torch
    operations differentiated by autograd: what PPO uses for distributions other than the categorical (the
    diagonal Gaussian of Box actions), and, after :func:`~typedrl.policies.categorical_log_prob_and_entropy`,
    :func:`ppo_loss_reference`. All arguments ``[B]``; the gradient flows into ``log_probs``, ``entropies`` and
    ``values``. Raises :class:`ValueError` for ``clip_range_vf`` without ``old_values``."""
    if clip_range_vf is not None and old_values is None:
        raise ValueError("ppo_objective: clip_range_vf needs old_values")
    log_ratio = log_probs - old_log_probs
    ratio = log_ratio.exp()
    surrogate = torch.min(ratio * advantages, ratio.clamp(1.0 - clip, 1.0 + clip) * advantages)
    policy_loss = -surrogate.mean()
    unclipped = (values - returns).square()
    if clip_range_vf is None or old_values is None:
        value_loss = unclipped.mean()
    else:
        clipped_values = old_values + (values - old_values).clamp(-clip_range_vf, clip_range_vf)
        value_loss = torch.max(unclipped, (clipped_values - returns).square()).mean()
    entropy = entropies.mean()
    loss = policy_loss + value_coef * value_loss - entropy_coef * entropy
    with torch.no_grad():
        approx_kl = ((ratio - 1.0) - log_ratio).mean()
        clip_fraction = ((ratio - 1.0).abs() > clip).to(ratio.dtype).mean()
    return PPOLoss(loss, policy_loss, value_loss, entropy, approx_kl, clip_fraction)


def ppo_loss_reference(
    logits: Float[Tensor, " B A"],
    values: Float[Tensor, " B"],
    actions: Int[Tensor, " B"],
    old_log_probs: Float[Tensor, " B"],
    advantages: Float[Tensor, " B"],
    returns: Float[Tensor, " B"],
    *,
    clip: float,
    value_coef: float = 0.5,
    entropy_coef: float = 0.0,
    old_values: Float[Tensor, " B"] | None = None,
    clip_range_vf: float | None = None,
) -> PPOLoss:
    """:func:`ppo_loss` written with torch operations and differentiated by autograd
    (:func:`~typedrl.policies.categorical_log_prob_and_entropy`, then :func:`ppo_objective`): the oracle the fused
    gradient is tested against (same arguments, same result, up to rounding). About three times slower per
    gradient step on a CPU for classic-control networks."""
    if clip_range_vf is not None and old_values is None:
        raise ValueError("ppo_loss_reference: clip_range_vf needs old_values")
    log_probs, entropies = categorical_log_prob_and_entropy(logits, actions)
    return ppo_objective(
        log_probs,
        entropies,
        values,
        old_log_probs,
        advantages,
        returns,
        clip=clip,
        value_coef=value_coef,
        entropy_coef=entropy_coef,
        old_values=old_values,
        clip_range_vf=clip_range_vf,
    )


def clipped_surrogate(
    ratios: Float[Tensor, " B"], advantages: Float[Tensor, " B"], *, clip: float
) -> Float[Tensor, ""]:
    """PPO's clipped surrogate objective (Schulman et al. 2017, arXiv:1707.06347, eq. 7), to be **maximized**:

    ``L^CLIP = mean(min(ρ·Â, clip(ρ, 1 − ε, 1 + ε)·Â))``,  ``ρ = π(a|s) / π_old(a|s) = exp(log π − log π_old)``.

    PPO's policy loss is its negative (``PPOLoss.policy_loss`` of :func:`ppo_objective` on the same ratios).
    ``ρ = 1.5``, ``Â = 1``, ``ε = 0.2`` gives ``1.2``. Differentiable in ``ratios`` (and ``advantages``) by
    autograd, with torch's subgradients at the kinks (``clamp`` passes its bounds, ``min`` halves a tie).
    :func:`typedrl.spec.losses.clipped_surrogate` is the specification.

    ``ratios`` and ``advantages`` are floating ``[B]`` tensors, ``B >= 1``, on one device; else
    :class:`~typedrl.errors.InputError`. ``clip`` (``ε``): a finite real number ``>= 0``, else
    :class:`~typedrl.errors.HyperparameterError`. Returns a 0-dim tensor.
    """
    where = "clipped_surrogate"
    _check_samples(where, ratios=ratios, advantages=advantages)
    epsilon = _hyperparameter(where, "clip", clip)
    return torch.min(ratios * advantages, ratios.clamp(1.0 - epsilon, 1.0 + epsilon) * advantages).mean()


def value_loss(
    values: Float[Tensor, " B"],
    returns: Float[Tensor, " B"],
    *,
    old_values: Float[Tensor, " B"] | None = None,
    clip_range_vf: float | None = None,
) -> Float[Tensor, ""]:
    """The critic's loss, **no ½ factor** (the value coefficient carries it; ``PPOLoss.value_loss`` is the same):

    ``L_V = mean((V − G)²)``, or with ``clip_range_vf = ε_V`` (the PPO2 baselines,
    CleanRL's ``clip_vloss``) ``L_V = mean(max((V − G)², (V_old + clip(V − V_old, −ε_V, ε_V) − G)²))``. (SB3's
    ``clip_range_vf`` is the same ``ε_V`` but takes the clipped term alone, without the ``max``.)

    ``values`` (the critic's new predictions, which get the gradient), ``returns`` (the targets) and
    ``old_values`` (the rollout's predictions, read only with ``clip_range_vf``) are floating ``[B]`` tensors on
    one device. Raises :class:`~typedrl.errors.InputError` for other shapes, an empty batch, or ``clip_range_vf``
    without ``old_values``; :class:`~typedrl.errors.HyperparameterError` for a ``clip_range_vf`` that is not a
    finite real number ``>= 0``. :func:`typedrl.spec.losses.value_loss` is the specification.
    """
    where = "value_loss"
    _check_samples(where, values=values, returns=returns)
    squared = (values - returns).square()
    if clip_range_vf is None:
        return squared.mean()
    if old_values is None:
        raise InputError(f"{where}: clip_range_vf needs old_values; expected old_values with clip_range_vf")
    _check_samples(where, values=values, old_values=old_values)
    epsilon = _hyperparameter(where, "clip_range_vf", clip_range_vf)
    clipped_values = old_values + (values - old_values).clamp(-epsilon, epsilon)
    return torch.max(squared, (clipped_values - returns).square()).mean()


def policy_gradient_loss(log_probs: Float[Tensor, " B"], advantages: Float[Tensor, " B"]) -> Float[Tensor, ""]:
    """The vanilla policy-gradient (REINFORCE, A2C) loss ``L = −mean(log π(a|s)·Â)``: its gradient in
    ``log_probs`` is ``−Â/B`` (pass the advantages detached; they are data). Floating ``[B]`` tensors, ``B >= 1``,
    on one device, else :class:`~typedrl.errors.InputError`. :func:`typedrl.spec.losses.policy_gradient_loss` is
    the specification."""
    _check_samples("policy_gradient_loss", log_probs=log_probs, advantages=advantages)
    return -(log_probs * advantages).mean()


def approx_kl_k1(log_ratios: Float[Tensor, " B"]) -> Float[Tensor, ""]:
    """The plain estimator of ``KL(π_old ‖ π)`` from actions sampled by ``π_old`` (Schulman 2020, "Approximating KL
    Divergence", ``k1``): ``mean(−log ρ)``, ``log ρ = log π(a|s) − log π_old(a|s)``. Unbiased; one sample's term can
    be negative (CleanRL's ``old_approx_kl``). ``log_ratios``: a floating ``[B]`` tensor, ``B >= 1``, else
    :class:`~typedrl.errors.InputError`. :func:`typedrl.spec.losses.approx_kl_k1` is the specification."""
    _check_samples("approx_kl_k1", log_ratios=log_ratios)
    return (-log_ratios).mean()


def approx_kl_k3(log_ratios: Float[Tensor, " B"]) -> Float[Tensor, ""]:
    """The low-variance estimator of ``KL(π_old ‖ π)`` PPO logs (Schulman 2020, ``k3``; SB3's and CleanRL's
    ``approx_kl``, ``PPOLoss.approx_kl``): ``mean((ρ − 1) − log ρ)``, each term ``>= 0``. ``ρ − 1`` is
    ``expm1(log ρ)``, exact to rounding when ``ρ`` is close to 1 (``PPOLoss.approx_kl`` computes ``exp(log ρ) − 1``:
    the same to within a few ulps of 1). Arguments as :func:`approx_kl_k1`;
    :func:`typedrl.spec.losses.approx_kl_k3` is the specification."""
    _check_samples("approx_kl_k3", log_ratios=log_ratios)
    return (torch.expm1(log_ratios) - log_ratios).mean()


def categorical_kl(p_logits: Float[Tensor, " B A"], q_logits: Float[Tensor, " B A"]) -> Float[Tensor, " B"]:
    """``KL(p ‖ q) = Σ_a p_a (log p_a − log q_a)`` per row, ``p = softmax(p_logits)``, ``q = softmax(q_logits)``,
    ``[B, A]`` twice to ``[B]``, in nats (torch's ``kl_divergence`` of two ``Categorical``, masks included).

    Masked actions (logit ``−inf``): where ``p_a = 0`` the term is exactly 0, whatever ``q_a``; where ``p_a > 0``
    and ``q_a = 0`` it is ``+inf`` (``p`` is not absolutely continuous with respect to ``q``), and so is the row. No
    gradient is NaN because of a mask: a zero term and a ``+inf`` term pass none (the rest of the row still
    does). A row with no distribution in ``p`` or ``q`` (every logit ``−inf``, a NaN or ``+inf``) gives NaN.
    Raises :class:`~typedrl.errors.InputError` for logits that are not floating ``[B, A]`` tensors of one shape
    on one device. :func:`typedrl.spec.losses.categorical_kl` is the specification.
    """
    where = "categorical_kl"
    for name, logits in (("p_logits", p_logits), ("q_logits", q_logits)):
        if not isinstance(logits, Tensor):
            raise InputError(f"{where}: {name} is a {type(logits).__name__}; expected a floating tensor [B, A]")
        if not logits.is_floating_point():
            raise InputError(f"{where}: {name} has dtype {logits.dtype}; expected a floating dtype")
    if p_logits.dim() != 2 or p_logits.shape[-1] == 0:
        raise InputError(f"{where}: p_logits has shape {tuple(p_logits.shape)}; expected [B, A] with A >= 1")
    if q_logits.shape != p_logits.shape:
        raise InputError(
            f"{where}: q_logits has shape {tuple(q_logits.shape)}; expected {tuple(p_logits.shape)} (as p_logits)"
        )
    if q_logits.device != p_logits.device:
        raise InputError(f"{where}: q_logits is on {q_logits.device}; expected {p_logits.device} (as p_logits)")
    log_p = torch.log_softmax(p_logits, dim=-1)
    log_q = torch.log_softmax(q_logits, dim=-1)
    p_zero = log_p == -math.inf
    q_zero = log_q == -math.inf
    # Both log-probabilities replaced before the product where either is −inf, so neither 0 · −inf nor −inf + inf
    # is formed, in the value or in the gradient; the +inf terms are put in afterwards, as constants.
    unsafe = p_zero | q_zero
    safe_p = torch.where(unsafe, 0.0, log_p)
    safe_q = torch.where(unsafe, 0.0, log_q)
    terms = safe_p.exp() * (safe_p - safe_q)  # exactly 0 where unsafe: e⁰ · (0 − 0)
    terms = torch.where(q_zero & ~p_zero, math.inf, terms)
    return terms.sum(dim=-1)


def huber_loss(
    inputs: Float[Tensor, " *shape"], targets: Float[Tensor, " *shape"], *, delta: float = 1.0
) -> Float[Tensor, " *shape"]:
    """The Huber loss (Huber 1964) of each element, ``d = input − target``:

    ``ℓ(d) = d²/2`` if ``|d| < δ``, else ``δ·(|d| − δ/2)`` (the two agree at ``|d| = δ``, and so do their slopes).

    PyTorch's convention: equal to ``torch.nn.functional.huber_loss(inputs, targets, reduction='none',
    delta=delta)`` (``smooth_l1_loss`` for ``δ = 1``); take ``.mean()`` for the usual loss (SB3's DQN). No
    broadcasting: ``inputs`` and ``targets`` are floating tensors of one shape on one device, else
    :class:`~typedrl.errors.InputError`; ``delta``, a finite real number ``> 0``, else
    :class:`~typedrl.errors.HyperparameterError`. :func:`typedrl.spec.losses.huber_loss` is the specification.
    """
    where = "huber_loss"
    _check_samples(where, inputs=inputs, targets=targets, any_shape=True)
    threshold = _hyperparameter(where, "delta", delta, positive=True)
    difference = inputs - targets
    size = difference.abs()
    return torch.where(size < threshold, 0.5 * difference * difference, threshold * (size - 0.5 * threshold))


def _check_samples(where: str, *, any_shape: bool = False, **tensors: object) -> None:
    """Each of ``tensors`` a floating tensor on the device and of the shape of the first, which is ``[B]`` with
    ``B >= 1`` (any shape with ``any_shape``). No values are read."""
    first_name, first = "", None
    for name, tensor in tensors.items():
        if not isinstance(tensor, Tensor):
            expected = "a floating tensor" if any_shape else "a floating tensor [B]"
            raise InputError(f"{where}: {name} is a {type(tensor).__name__}; expected {expected}")
        if not tensor.is_floating_point():
            raise InputError(f"{where}: {name} has dtype {tensor.dtype}; expected a floating dtype")
        if first is None:
            if not any_shape and (tensor.dim() != 1 or tensor.shape[0] == 0):
                raise InputError(
                    f"{where}: {name} has shape {tuple(tensor.shape)}; expected [B] with B >= 1 (one number per sample)"
                )
            first_name, first = name, tensor
        elif tensor.shape != first.shape:
            raise InputError(
                f"{where}: {name} has shape {tuple(tensor.shape)}; expected {tuple(first.shape)} (as {first_name})"
            )
        elif tensor.device != first.device:
            raise InputError(f"{where}: {name} is on {tensor.device}; expected {first.device} (as {first_name})")


def _check_inputs(where: str, logits: Tensor, actions: Tensor, **rows: Tensor | None) -> None:
    """Logits ``[B, A]``, actions ``[B]`` in ``[0, A)`` (one device sync), and each of ``rows`` a floating
    ``[B]`` tensor on the logits' device (no values read)."""
    _check_logits(where, logits)
    _check_actions(where, logits, actions)
    _check_rows(where, logits, **rows)


def _check_rows(where: str, logits: Tensor, **rows: Tensor | None) -> None:
    """Each of ``rows`` a floating ``[B]`` tensor on the device of ``logits`` ``[B, A]`` (no values read)."""
    expected = tuple(logits.shape[:1])
    for name, tensor in rows.items():
        if tensor is None:
            continue
        if not isinstance(tensor, Tensor) or not tensor.is_floating_point():
            kind = f"dtype {tensor.dtype}" if isinstance(tensor, Tensor) else f"a {type(tensor).__name__}"
            raise InputError(f"{where}: {name} is {kind}; expected a floating tensor [B]")
        if tuple(tensor.shape) != expected:
            raise InputError(
                f"{where}: {name} has shape {tuple(tensor.shape)}; expected {expected} (one per row of logits "
                f"{tuple(logits.shape)})"
            )
        if tensor.device != logits.device:
            raise InputError(f"{where}: {name} is on {tensor.device}; expected {logits.device}, where logits are")


class _Terms(NamedTuple):
    policy_loss: Tensor
    value_loss: Tensor
    policy_slope: Tensor  # ∂(−B·L_π)/∂log π per row: the surrogate's slope in ρ, times ρ
    value_slope: Tensor  # ∂(B·L_V)/∂V per row
    approx_kl: Tensor
    clip_fraction: Tensor


def _surrogate_and_value(
    log_probs: Tensor,
    old_log_probs: Tensor,
    advantages: Tensor,
    values: Tensor,
    returns: Tensor,
    old_values: Tensor | None,
    *,
    clip: float,
    clip_range_vf: float,
) -> _Terms:
    """The clipped surrogate and the value loss, with their slopes in ``log π`` and ``V`` by torch's rules:
    ``min`` sends the gradient to the smaller term (halves on a tie), ``clamp`` passes it inside its bounds
    (included), ``max`` as ``min``. Inside ``[1 − ε, 1 + ε]`` the terms tie and the slope is ``Â``."""
    log_ratio = log_probs - old_log_probs
    ratio = log_ratio.exp()
    unclipped = ratio * advantages
    clipped = ratio.clamp(1.0 - clip, 1.0 + clip) * advantages
    policy_loss = -torch.min(unclipped, clipped).mean()
    difference = values - returns
    squared = difference.square()
    if old_values is None:
        value_loss = squared.mean()
        value_slope = 2.0 * difference
    else:
        offset = values - old_values
        clipped_difference = old_values + offset.clamp(-clip_range_vf, clip_range_vf) - returns
        clipped_squared = clipped_difference.square()
        value_loss = torch.max(squared, clipped_squared).mean()
        inside = offset.abs() <= clip_range_vf
        slope_unclipped = 2.0 * difference
        slope_clipped = torch.where(inside, 2.0 * clipped_difference, 0.0)
        value_slope = torch.where(
            squared > clipped_squared,
            slope_unclipped,
            torch.where(squared < clipped_squared, slope_clipped, 0.5 * (slope_unclipped + slope_clipped)),
        )
    # The slope in ρ: Â where the unclipped term is the smaller one; 0 where the clipped one is strictly smaller
    # (then ρ is outside the range, where clamp passes nothing); on a tie, min's halves add up to Â inside the
    # range (clamp passes its bounds too), and outside it a tie needs Â = 0. So Â wherever unclipped <= clipped.
    slope = advantages * (unclipped <= clipped)
    with torch.no_grad():
        approx_kl = ((ratio - 1.0) - log_ratio).mean()
        clip_fraction = ((ratio - 1.0).abs() > clip).to(ratio.dtype).mean()
    return _Terms(policy_loss, value_loss, slope * ratio, value_slope, approx_kl, clip_fraction)


def _weights(grads: tuple[Tensor | None, ...], rows: int, ctx: Any) -> tuple[Tensor | float, ...]:
    """The weights of the policy, value and entropy terms per row in ``L = L_π + c_v·L_V − c_e·H̄``, from the
    gradients of the loss and of each term (``None`` for an output nobody differentiated: a zero, without a
    tensor operation)."""
    grad_loss, grad_policy, grad_value, grad_entropy = grads[:4]
    loss: Tensor | float = 0.0 if grad_loss is None else grad_loss
    policy_weight = loss if grad_policy is None else loss + grad_policy
    value_weight = loss * ctx.value_coef if grad_value is None else loss * ctx.value_coef + grad_value
    entropy_weight = -(loss * ctx.entropy_coef) if grad_entropy is None else grad_entropy - loss * ctx.entropy_coef
    return policy_weight / rows, value_weight / rows, entropy_weight / rows


class _GaussianPPOLossFunction(torch.autograd.Function):
    """Forward: :func:`gaussian_ppo_loss` and its statistics; backward: ``∂L/∂μ``, ``∂L/∂log σ``, ``∂L/∂V``."""

    @staticmethod
    def forward(
        ctx: Any,
        mean: Tensor,
        log_std: Tensor,
        values: Tensor,
        actions: Tensor,
        old_log_probs: Tensor,
        advantages: Tensor,
        returns: Tensor,
        old_values: Tensor | None,
        clip: float,
        value_coef: float,
        entropy_coef: float,
        clip_range_vf: float,
        squashed: bool,
    ) -> tuple[Tensor, ...]:
        inverse_std = torch.exp(-log_std)
        z = (actions - mean) * inverse_std
        log_probs = -(0.5 * z.square() + log_std + _HALF_LOG_TWO_PI).sum(dim=-1)
        if squashed:
            log_probs = log_probs - (2.0 * (math.log(2.0) - actions - softplus(-2.0 * actions))).sum(dim=-1)
            entropy = -log_probs.mean()
        else:
            entropy = (0.5 + _HALF_LOG_TWO_PI + log_std).sum()
        terms = _surrogate_and_value(
            log_probs, old_log_probs, advantages, values, returns, old_values, clip=clip, clip_range_vf=clip_range_vf
        )
        loss = terms.policy_loss + value_coef * terms.value_loss - entropy_coef * entropy
        ctx.save_for_backward(z, inverse_std, terms.policy_slope, terms.value_slope)
        ctx.entropy_coef, ctx.value_coef, ctx.squashed = entropy_coef, value_coef, squashed
        ctx.mark_non_differentiable(terms.approx_kl, terms.clip_fraction)
        return loss, terms.policy_loss, terms.value_loss, entropy, terms.approx_kl, terms.clip_fraction

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, *grads: Tensor | None) -> tuple[Tensor | None, ...]:
        z, inverse_std, policy_slope, value_slope = ctx.saved_tensors
        rows = z.shape[0]
        policy_weight, value_weight, entropy_weight = _weights(grads, rows, ctx)
        # ∂L/∂log π per row; a squashed policy's entropy is −mean(log π), which adds −(its weight) to every row.
        log_prob_weight = -(policy_slope * policy_weight)
        if ctx.squashed:
            log_prob_weight = log_prob_weight - entropy_weight
        weighted_z = log_prob_weight.unsqueeze(-1) * z
        grad_mean = weighted_z * inverse_std  # ∂log π/∂μ = z/σ
        grad_log_std = (weighted_z * z).sum(dim=0) - log_prob_weight.sum()  # ∂log π/∂log σᵢ = zᵢ² − 1
        if not ctx.squashed:
            grad_log_std = grad_log_std + entropy_weight * rows  # ∂H̄/∂log σᵢ = 1
        grad_values = value_slope * value_weight
        return grad_mean, grad_log_std, grad_values, *([None] * 10)


class _PPOLossFunction(torch.autograd.Function):
    """Forward: the loss and its statistics; backward: ``∂L/∂logits`` and ``∂L/∂values`` in closed form.

    With ``p = softmax(z)``, ``ℓ = log p`` (0 where ``p = 0``), ``H = −Σ p·ℓ`` and ``g`` the surrogate's slope in
    ``ρ`` (``Â`` where the unclipped term is the minimum or ``ρ`` is inside the clip range, 0 elsewhere; a tie
    outside the range, possible only for ``Â = 0``, gives 0 as well):

    ``∂L/∂z = (−g·ρ/B)·(onehot(a) − p) + (c_e/B)·p·(ℓ + H)``,  ``∂L/∂V = (c_v/B)·∂Σ(…)²/∂V``.
    """

    @staticmethod
    def forward(
        ctx: Any,
        logits: Tensor,
        values: Tensor,
        actions: Tensor,
        old_log_probs: Tensor,
        advantages: Tensor,
        returns: Tensor,
        old_values: Tensor | None,
        clip: float,
        value_coef: float,
        entropy_coef: float,
        clip_range_vf: float,
    ) -> tuple[Tensor, ...]:
        log_probs_all = torch.log_softmax(logits, dim=-1)
        safe = torch.where(log_probs_all == -math.inf, 0.0, log_probs_all)
        probs = safe.exp() * (log_probs_all != -math.inf)  # exactly 0 for a masked action
        entropies = 0.0 - (probs * safe).sum(dim=-1)
        index = actions.long().unsqueeze(-1)
        log_probs = log_probs_all.gather(-1, index).squeeze(-1)
        terms = _surrogate_and_value(
            log_probs, old_log_probs, advantages, values, returns, old_values, clip=clip, clip_range_vf=clip_range_vf
        )
        entropy = entropies.mean()
        loss = terms.policy_loss + value_coef * terms.value_loss - entropy_coef * entropy
        ctx.save_for_backward(probs, safe, entropies, index, terms.policy_slope, terms.value_slope)
        ctx.entropy_coef = entropy_coef
        ctx.value_coef = value_coef
        ctx.mark_non_differentiable(terms.approx_kl, terms.clip_fraction)
        return loss, terms.policy_loss, terms.value_loss, entropy, terms.approx_kl, terms.clip_fraction

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, *grads: Tensor | None) -> tuple[Tensor | None, ...]:
        probs, safe, entropies, index, policy_slope, value_slope = ctx.saved_tensors
        rows = probs.shape[0]
        # Each output's gradient, combined: L = L_π + c_v·L_V − c_e·H̄.
        policy_weight, value_weight, entropy_weight = _weights(grads, rows, ctx)
        # ∂L_π/∂ℓ_a = −g·ρ/B, through log_softmax: (onehot(a) − p) scaled; ∂H/∂z = −p·(ℓ + H).
        action_weight = -(policy_slope * policy_weight)
        grad_logits = probs * (-action_weight).unsqueeze(-1)
        grad_logits.scatter_add_(-1, index, action_weight.unsqueeze(-1))
        grad_logits -= probs * (safe + entropies.unsqueeze(-1)) * entropy_weight
        grad_values = value_slope * value_weight
        return grad_logits, grad_values, None, None, None, None, None, None, None, None, None
