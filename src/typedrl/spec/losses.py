"""Reference policy-optimization losses on plain Python floats: the specification.

Each function is a readable loop over ``B`` samples (or rows): the term of each sample first, then, for a loss,
their mean. Losses that PPO minimizes or maximizes over a minibatch return one ``float`` (a mean); quantities of
one distribution per row (entropy, log-probability, KL divergence) and the elementwise Huber loss return one
``float`` per sample, as the tensor versions return ``[B]``. The equations, conventions and sources are on the
losses page (docs/losses.md).

**Conventions.** The value loss is ``mean((V − G)²)`` with no ½: the coefficient ``c_v`` carries it
(``value_coef = 0.5`` in :func:`typedrl.losses.ppo_loss` is SB3's ``vf_coef · F.mse_loss``). The Huber loss has
PyTorch's ½: ``d²/2`` inside ``δ``. Logits of ``−inf`` mask their action (probability exactly 0): it adds 0 to an
entropy or a KL divergence (``0 · log 0 = 0``), its log-probability is ``−inf``; a row with no distribution
(every logit ``−inf``, or a NaN or ``+inf`` logit) gives NaN, as :mod:`typedrl.policies` does.

No torch, no numpy, no state: this module is the oracle the tensor versions in :mod:`typedrl.losses` and
:mod:`typedrl.policies` are property-tested against.
"""

import math
from collections.abc import Sequence

from typedrl._validate import is_integer, real
from typedrl.errors import HyperparameterError, InputError

__all__ = [
    "approx_kl_k1",
    "approx_kl_k3",
    "categorical_entropy",
    "categorical_kl",
    "categorical_log_prob",
    "clipped_surrogate",
    "gaussian_entropy",
    "gaussian_log_prob",
    "huber_loss",
    "policy_gradient_loss",
    "value_loss",
]

_HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


# --- Argument checks (shared with typedrl.losses, so both layers say the same thing) -------------------------------


def _hyperparameter(where: str, name: str, value: object, *, positive: bool = False) -> float:
    """``value`` as a float, checked to be a finite real number ``>= 0`` (``> 0`` if ``positive``); else
    :class:`~typedrl.errors.HyperparameterError`, e.g. ``clipped_surrogate: clip is -0.1; expected a finite real
    number >= 0``."""
    bound = "> 0" if positive else ">= 0"
    number = real(where, name, value, error=HyperparameterError)  # a real number, finite (else its own message)
    if number < 0.0 or (positive and number == 0.0):
        raise HyperparameterError(f"{where}: {name} is {number!r}; expected a finite real number {bound}")
    return number


def _samples(where: str, first: str, values: Sequence[float], **others: Sequence[float]) -> int:
    """The number of samples ``B >= 1`` of ``first``; each of ``others`` has as many, else InputError."""
    count = len(values)
    if count == 0:
        raise InputError(f"{where}: {first} is empty; expected at least one sample")
    for name, other in others.items():
        if len(other) != count:
            raise InputError(f"{where}: {name} has {len(other)} samples; expected {count} (as {first})")
    return count


def _mean(terms: Sequence[float]) -> float:
    """The mean of one or more terms, the sum exactly rounded (``math.fsum``; a plain sum where a term is not
    finite, since ``fsum`` raises on ``inf − inf`` instead of giving NaN)."""
    total = math.fsum(terms) if all(math.isfinite(term) for term in terms) else sum(terms)
    return total / len(terms)


def _rows(where: str, name: str, logits: Sequence[Sequence[float]]) -> int:
    """The number of actions ``A >= 1`` shared by every row of ``logits``; else InputError."""
    if len(logits) == 0:
        return 0
    count = len(logits[0])
    if count == 0:
        raise InputError(f"{where}: {name}[0] has no actions; expected at least one logit per row")
    for row, values in enumerate(logits):
        if len(values) != count:
            raise InputError(f"{where}: {name}[{row}] has {len(values)} logits; expected {count} (as {name}[0])")
    return count


def _log_softmax(logits: Sequence[float]) -> list[float]:
    """``log π_a = z_a − log Σ_k exp(z_k)`` of one row (``−inf`` where ``z_a = −inf``); all NaN for a row with no
    distribution (every logit ``−inf``, or a NaN or ``+inf`` logit)."""
    if any(math.isnan(z) or z == math.inf for z in logits) or all(z == -math.inf for z in logits):
        return [math.nan] * len(logits)
    largest = max(logits)  # subtracted first, so no exp overflows
    log_total = largest + math.log(math.fsum(math.exp(z - largest) for z in logits))
    return [z - log_total for z in logits]


# --- PPO's minibatch losses: one mean over B samples ------------------------------------------------------------


def clipped_surrogate(ratios: Sequence[float], advantages: Sequence[float], *, clip: float) -> float:
    """PPO's clipped surrogate objective (Schulman et al. 2017, arXiv:1707.06347, eq. 7), to be **maximized**:

    ``L^CLIP = mean_b min(ρ_b·A_b, clip(ρ_b, 1 − ε, 1 + ε)·A_b)``,  ``ρ_b = π(a_b|s_b) / π_old(a_b|s_b)``.

    PPO's policy loss is its negative (``PPOLoss.policy_loss``). Example (TorchLean's golden value): ``ρ = 1.5``,
    ``A = 1``, ``ε = 0.2`` gives ``min(1.5, 1.2) = 1.2``.

    ``ratios`` and ``advantages`` have one number per sample, the same ``B >= 1``; else
    :class:`~typedrl.errors.InputError`. ``clip`` (``ε``) is a finite real number ``>= 0``; else
    :class:`~typedrl.errors.HyperparameterError`.
    """
    where = "clipped_surrogate"
    _samples(where, "ratios", ratios, advantages=advantages)
    clip = _hyperparameter(where, "clip", clip)
    terms = []
    for ratio, advantage in zip(ratios, advantages, strict=True):
        clipped_ratio = min(max(ratio, 1.0 - clip), 1.0 + clip)
        terms.append(min(ratio * advantage, clipped_ratio * advantage))
    return _mean(terms)


def value_loss(
    values: Sequence[float],
    returns: Sequence[float],
    *,
    old_values: Sequence[float] | None = None,
    clip_range_vf: float | None = None,
) -> float:
    """The critic's loss, **no ½ factor** (the value coefficient carries it, as in :func:`typedrl.losses.ppo_loss`):

    ``L_V = mean_b (V_b − G_b)²``, or with ``clip_range_vf = ε_V`` (the PPO2 baselines,
    CleanRL's ``clip_vloss``)

    ``L_V = mean_b max((V_b − G_b)², (V_old,b + clip(V_b − V_old,b, −ε_V, ε_V) − G_b)²)``.

    (SB3's ``clip_range_vf`` is the same ``ε_V`` but takes the clipped term alone, without the ``max``.)

    ``values`` (``V``, the critic's new predictions), ``returns`` (``G``, the targets) and ``old_values``
    (``V_old``, the predictions when the rollout was collected) have one number per sample; ``old_values`` is read
    only with ``clip_range_vf``. Raises :class:`~typedrl.errors.InputError` for lengths that differ, an empty
    batch, or ``clip_range_vf`` without ``old_values``; :class:`~typedrl.errors.HyperparameterError` for a
    ``clip_range_vf`` that is not a finite real number ``>= 0``.
    """
    where = "value_loss"
    _samples(where, "values", values, returns=returns)
    if clip_range_vf is None:
        return _mean([(value - target) ** 2 for value, target in zip(values, returns, strict=True)])
    if old_values is None:
        raise InputError(f"{where}: clip_range_vf needs old_values; expected old_values with clip_range_vf")
    _samples(where, "values", values, old_values=old_values)
    epsilon = _hyperparameter(where, "clip_range_vf", clip_range_vf)
    terms = []
    for value, target, old in zip(values, returns, old_values, strict=True):
        clipped_value = old + min(max(value - old, -epsilon), epsilon)
        terms.append(max((value - target) ** 2, (clipped_value - target) ** 2))
    return _mean(terms)


def policy_gradient_loss(log_probs: Sequence[float], advantages: Sequence[float]) -> float:
    """The vanilla policy-gradient (REINFORCE, A2C) loss ``L = −mean_b log π(a_b|s_b)·A_b``, whose gradient is
    ``−mean_b A_b·∇log π(a_b|s_b)`` (the advantages are data: no gradient through them). Lengths as
    :func:`clipped_surrogate`."""
    _samples("policy_gradient_loss", "log_probs", log_probs, advantages=advantages)
    return -_mean([log_prob * advantage for log_prob, advantage in zip(log_probs, advantages, strict=True)])


def approx_kl_k1(log_ratios: Sequence[float]) -> float:
    """The plain estimator of ``KL(π_old ‖ π)`` from samples ``a ~ π_old`` (Schulman 2020, "Approximating KL
    Divergence", ``k1``): ``mean_b −log ρ_b``, ``log ρ_b = log π(a_b|s_b) − log π_old(a_b|s_b)``.

    Unbiased, but a single sample's term can be negative (CleanRL logs it as ``old_approx_kl``). Raises
    :class:`~typedrl.errors.InputError` for an empty ``log_ratios``."""
    _samples("approx_kl_k1", "log_ratios", log_ratios)
    return _mean([-log_ratio for log_ratio in log_ratios])


def approx_kl_k3(log_ratios: Sequence[float]) -> float:
    """The low-variance estimator of ``KL(π_old ‖ π)`` PPO logs (Schulman 2020, ``k3``; SB3's and CleanRL's
    ``approx_kl``, ``PPOLoss.approx_kl``): ``mean_b (ρ_b − 1) − log ρ_b``.

    Unbiased, and each term is ``>= 0`` (``log ρ <= ρ − 1``). ``ρ − 1`` is computed as ``expm1(log ρ)``, which
    keeps the term's few significant digits when ``ρ`` is close to 1. Raises :class:`~typedrl.errors.InputError`
    for an empty ``log_ratios``."""
    _samples("approx_kl_k3", "log_ratios", log_ratios)
    return _mean([math.expm1(log_ratio) - log_ratio for log_ratio in log_ratios])


# --- Distributions: one number per row ---------------------------------------------------------------------------


def categorical_log_prob(logits: Sequence[Sequence[float]], actions: Sequence[int]) -> list[float]:
    """``log π(a_b|s_b) = z_{b,a} − log Σ_k exp(z_{b,k})`` per row: ``−inf`` for a masked action (logit ``−inf``),
    NaN for a row with no distribution.

    ``logits`` has ``B`` rows of ``A >= 1`` numbers; ``actions`` one integer in ``[0, A)`` per row. Raises
    :class:`~typedrl.errors.InputError` for ragged rows, a row count other than the actions', or an action that is
    not an integer in ``[0, A)``.
    """
    where = "categorical_log_prob"
    count = _rows(where, "logits", logits)
    if len(actions) != len(logits):
        raise InputError(f"{where}: actions has {len(actions)} samples; expected {len(logits)} (one per row of logits)")
    out = []
    for row, action in enumerate(actions):
        if not is_integer(action) or not 0 <= action < count:
            raise InputError(f"{where}: actions[{row}] is {action!r}; expected an action in [0, {count})")
        out.append(_log_softmax(logits[row])[action])
    return out


def categorical_entropy(logits: Sequence[Sequence[float]]) -> list[float]:
    """``H[π_b] = −Σ_a π_{b,a} log π_{b,a}`` per row, in nats, with ``0 · log 0 = 0``: a masked action (logit
    ``−inf``) contributes exactly 0, never NaN; a row with no distribution gives NaN. Raises
    :class:`~typedrl.errors.InputError` for ragged rows."""
    _rows("categorical_entropy", "logits", logits)
    out = []
    for row in logits:
        terms = []
        for log_prob in _log_softmax(row):
            if log_prob == -math.inf:  # π = 0: the term is 0 (skipped), not 0 · −inf
                continue
            terms.append(math.exp(log_prob) * log_prob)
        out.append(0.0 - (math.fsum(terms) if all(math.isfinite(t) for t in terms) else sum(terms)))
    return out


def categorical_kl(p_logits: Sequence[Sequence[float]], q_logits: Sequence[Sequence[float]]) -> list[float]:
    """``KL(p_b ‖ q_b) = Σ_a p_{b,a} (log p_{b,a} − log q_{b,a})`` per row, ``p = softmax(p_logits)``,
    ``q = softmax(q_logits)``, in nats.

    Masked actions: where ``p_a = 0`` (``p``'s logit ``−inf``) the term is 0, whatever ``q_a`` (so two rows with
    the same mask have a finite divergence); where ``p_a > 0`` but ``q_a = 0`` (``q``'s logit ``−inf``) the term,
    and the row's divergence, is ``+inf`` (``p`` is not absolutely continuous with respect to ``q``; torch's
    ``kl_divergence`` of two ``Categorical`` gives the same). A row with no distribution in ``p`` or ``q`` gives
    NaN. Raises :class:`~typedrl.errors.InputError` for ragged rows or shapes that differ.
    """
    where = "categorical_kl"
    count = _rows(where, "p_logits", p_logits)
    other = _rows(where, "q_logits", q_logits)
    if len(q_logits) != len(p_logits) or (len(p_logits) > 0 and other != count):
        raise InputError(
            f"{where}: q_logits has shape [{len(q_logits)}, {other}]; expected [{len(p_logits)}, {count}] (as p_logits)"
        )
    out = []
    for p_row, q_row in zip(p_logits, q_logits, strict=True):
        log_p, log_q = _log_softmax(p_row), _log_softmax(q_row)
        if any(math.isnan(x) for x in log_p + log_q):
            out.append(math.nan)
            continue
        terms = []
        for lp, lq in zip(log_p, log_q, strict=True):
            if lp == -math.inf:  # p_a = 0: contributes 0
                continue
            terms.append(math.inf if lq == -math.inf else math.exp(lp) * (lp - lq))
        out.append(math.fsum(terms) if all(math.isfinite(t) for t in terms) else sum(terms))
    return out


def gaussian_log_prob(
    mean: Sequence[Sequence[float]], log_std: Sequence[float], actions: Sequence[Sequence[float]]
) -> list[float]:
    """``log N(a_b; μ_b, diag(σ²)) = −Σ_i ((a_{b,i} − μ_{b,i})² / (2σ_i²) + log σ_i + ½ log 2π)`` per row: a
    diagonal Gaussian with a state-independent ``log σ`` (one per action element).

    ``mean`` and ``actions`` have ``B`` rows of ``A`` numbers, ``log_std`` has ``A``. Raises
    :class:`~typedrl.errors.InputError` for other lengths."""
    where = "gaussian_log_prob"
    size = len(log_std)
    if len(actions) != len(mean):
        raise InputError(f"{where}: actions has {len(actions)} rows; expected {len(mean)} (as mean)")
    out = []
    for row, (mu, action) in enumerate(zip(mean, actions, strict=True)):
        for name, values in (("mean", mu), ("actions", action)):
            if len(values) != size:
                raise InputError(f"{where}: {name}[{row}] has {len(values)} elements; expected {size} (as log_std)")
        terms = []
        for a, m, s in zip(action, mu, log_std, strict=True):
            z = (a - m) / math.exp(s)  # the standardized action
            terms.append(0.5 * z * z + s + _HALF_LOG_TWO_PI)
        out.append(-math.fsum(terms) if all(math.isfinite(t) for t in terms) else -sum(terms))
    return out


def gaussian_entropy(log_std: Sequence[float]) -> float:
    """``H[N(μ, diag(σ²))] = Σ_i (½ + ½ log 2π + log σ_i)`` in nats: the same for every state (``σ`` does not
    depend on it), so one number (the tensor version repeats it ``B`` times)."""
    return math.fsum(0.5 + _HALF_LOG_TWO_PI + s for s in log_std)


def huber_loss(inputs: Sequence[float], targets: Sequence[float], *, delta: float = 1.0) -> list[float]:
    """The Huber loss (Huber 1964) of each element, PyTorch's convention (``torch.nn.functional.huber_loss`` with
    ``reduction='none'``), ``d = input − target``:

    ``ℓ(d) = d²/2`` if ``|d| < δ``, else ``δ·(|d| − δ/2)`` (the two agree at ``|d| = δ``).

    Quadratic near 0, linear (slope ``±δ``) past ``δ``, continuous with a continuous slope at ``|d| = δ``. With
    ``δ = 1`` it is also ``smooth_l1_loss``; SB3's DQN takes the mean of it. Raises
    :class:`~typedrl.errors.InputError` for lengths that differ, :class:`~typedrl.errors.HyperparameterError` for a
    ``delta`` that is not a finite real number ``> 0``.
    """
    where = "huber_loss"
    if len(targets) != len(inputs):
        raise InputError(f"{where}: targets has {len(targets)} elements; expected {len(inputs)} (as inputs)")
    delta = _hyperparameter(where, "delta", delta, positive=True)
    out = []
    for prediction, target in zip(inputs, targets, strict=True):
        difference = prediction - target
        if abs(difference) < delta:  # (at |d| = δ both pieces are δ²/2)
            out.append(0.5 * difference * difference)
        else:
            out.append(delta * (abs(difference) - 0.5 * delta))
    return out
