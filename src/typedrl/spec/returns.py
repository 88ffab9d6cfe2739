"""Reference return and advantage math on plain Python floats: the specification.

Every function here is a readable reverse loop over one trajectory of ``T`` steps, index ``t`` as in
``conventions`` (docs/conventions.md): ``reward[t]`` is what ``env.step(a_t)`` returned, ``terminated[t]`` stops
bootstrapping, ``truncated[t]`` bootstraps from ``next_values[t]``, and ``done[t] = terminated[t] or truncated[t]``
cuts every recursion. ``gamma`` is one number in ``[0, 1]`` or one per step; ``gamma`` and ``lam`` may be Python
or numpy real scalars (never a bool).

**A coefficient that is exactly zero multiplies nothing.** A term multiplied by a zero discount ``γₜ = 0``, a zero
``λ``, or cut by a flag (``1 − terminatedₜ = 0``, ``1 − doneₜ = 0``) is not read at all, so a NaN or ±inf there
cannot reach any output; IEEE arithmetic alone would turn ``0 · NaN`` and ``0 · inf`` into NaN. Every other
non-finite input reaches the outputs that depend on it, by IEEE arithmetic, and stays non-finite there.

No torch, no numpy, no state: this module is the oracle the fast tensor versions in :mod:`typedrl.returns`
are property-tested against.
"""

import math
from collections.abc import Iterable, Sequence

from typedrl._validate import unit_interval
from typedrl.errors import HyperparameterError, InputError

__all__ = ["discounted_returns", "gae", "lambda_returns", "normalize_advantages", "td_errors"]

Gamma = float | Sequence[float]


def _gammas(where: str, gamma: Gamma, horizon: int) -> list[float]:
    """One discount per step, each checked to be a real number in [0, 1] (NaN, bools and strings are not)."""
    if isinstance(gamma, str | bytes) or not isinstance(gamma, Iterable):
        return [unit_interval(where, "gamma", gamma, error=HyperparameterError)] * horizon
    gammas = [unit_interval(where, f"gamma[{t}]", g, error=HyperparameterError) for t, g in enumerate(gamma)]
    if len(gammas) != horizon:
        raise InputError(f"{where}: gamma has {len(gammas)} steps; expected {horizon} (one per reward)")
    return gammas


def _same_length(where: str, horizon: int, **fields: Sequence[float] | Sequence[bool]) -> None:
    for name, values in fields.items():
        if len(values) != horizon:
            raise InputError(f"{where}: {name} has {len(values)} steps; expected {horizon} (as rewards)")


def td_errors(
    rewards: Sequence[float],
    values: Sequence[float],
    next_values: Sequence[float],
    terminated: Sequence[bool],
    *,
    gamma: Gamma,
) -> list[float]:
    """One-step TD errors.

    ``δₜ = rₜ + γₜ · (1 − terminatedₜ) · V'ₜ − Vₜ``

    ``V'ₜ = next_values[t]`` is the value of the observation step ``t`` produced (the final observation of an
    episode at a done step). A truncated step still bootstraps; only termination stops it. ``V'ₜ`` is not read
    where ``terminatedₜ`` or ``γₜ = 0``, so a non-finite value there does not reach ``δₜ``.

    All sequences have the rewards' length ``T``; another length raises :class:`~typedrl.errors.InputError`,
    and a ``gamma`` (or ``γₜ``) or ``lam`` that is not a real number in ``[0, 1]`` raises
    :class:`~typedrl.errors.HyperparameterError`.
    """
    horizon = len(rewards)
    _same_length("td_errors", horizon, values=values, next_values=next_values, terminated=terminated)
    gammas = _gammas("td_errors", gamma, horizon)
    out: list[float] = []
    for t in range(horizon):
        # A zero coefficient multiplies nothing: V'ₜ is not read at a termination or where γₜ = 0.
        bootstrap = 0.0 if terminated[t] or gammas[t] == 0.0 else gammas[t] * next_values[t]
        out.append(rewards[t] + bootstrap - values[t])
    return out


def gae(
    rewards: Sequence[float],
    values: Sequence[float],
    next_values: Sequence[float],
    terminated: Sequence[bool],
    truncated: Sequence[bool],
    *,
    gamma: Gamma,
    lam: float,
) -> list[float]:
    """Generalized advantage estimation (Schulman et al. 2016, arXiv:1506.02438).

    ``Aₜ = δₜ + γₜ · λ · (1 − doneₜ) · Aₜ₊₁``,  ``A_T = 0``,  with ``δₜ`` from :func:`td_errors`.

    The last step of a rollout that ends mid-episode (neither flag set) is ``A_{T−1} = δ_{T−1}``, which
    bootstraps from ``next_values[T−1]``. ``Aₜ₊₁`` is not read where ``doneₜ``, ``γₜ = 0`` or ``λ = 0``, so
    nothing non-finite crosses an episode end (``λ = 0`` gives exactly :func:`td_errors`).

    All sequences have the rewards' length ``T``; another length raises :class:`~typedrl.errors.InputError`,
    and a ``gamma`` (or ``γₜ``) or ``lam`` that is not a real number in ``[0, 1]`` raises
    :class:`~typedrl.errors.HyperparameterError`.
    """
    return _gae("gae", rewards, values, next_values, terminated, truncated, gamma=gamma, lam=lam)


def _gae(
    where: str,
    rewards: Sequence[float],
    values: Sequence[float],
    next_values: Sequence[float],
    terminated: Sequence[bool],
    truncated: Sequence[bool],
    *,
    gamma: Gamma,
    lam: float,
) -> list[float]:
    horizon = len(rewards)
    _same_length(where, horizon, values=values, next_values=next_values, terminated=terminated, truncated=truncated)
    lam = unit_interval(where, "lam", lam, error=HyperparameterError)
    gammas = _gammas(where, gamma, horizon)
    deltas = td_errors(rewards, values, next_values, terminated, gamma=gammas)
    out = [0.0] * horizon
    advantage = 0.0  # A_T
    for t in reversed(range(horizon)):
        done = terminated[t] or truncated[t]
        # A zero coefficient multiplies nothing: Aₜ₊₁ is not read past a done step, or where γₜ = 0 or λ = 0.
        # (γₜ · (λ · A), not (γₜ · λ) · A: a product of two tiny factors must not underflow to 0 and make inf NaN.)
        advantage = deltas[t] + (0.0 if done or gammas[t] == 0.0 or lam == 0.0 else gammas[t] * (lam * advantage))
        out[t] = advantage
    return out


def lambda_returns(
    rewards: Sequence[float],
    values: Sequence[float],
    next_values: Sequence[float],
    terminated: Sequence[bool],
    truncated: Sequence[bool],
    *,
    gamma: Gamma,
    lam: float,
) -> list[float]:
    """λ-returns, the value targets: ``G^λₜ = Aₜ + Vₜ`` with ``Aₜ`` from :func:`gae`.

    Where ``values[t+1] == next_values[t]`` at every step that is not done, this is the recursion
    ``G^λₜ = rₜ + γₜ(1 − terminatedₜ)[(1 − λ(1 − doneₜ)) V'ₜ + λ(1 − doneₜ) G^λₜ₊₁]``.

    All sequences have the rewards' length ``T``; another length raises :class:`~typedrl.errors.InputError`,
    and a ``gamma`` (or ``γₜ``) or ``lam`` that is not a real number in ``[0, 1]`` raises
    :class:`~typedrl.errors.HyperparameterError`.
    """
    advantages = _gae("lambda_returns", rewards, values, next_values, terminated, truncated, gamma=gamma, lam=lam)
    return [a + v for a, v in zip(advantages, values, strict=True)]


def discounted_returns(
    rewards: Sequence[float],
    terminated: Sequence[bool],
    truncated: Sequence[bool],
    *,
    gamma: Gamma,
    next_values: Sequence[float] | None = None,
) -> list[float]:
    """Discounted returns (reward-to-go) that bootstrap at truncations and at the end of the rollout.

    ``Gₜ = rₜ + γₜ · (1 − terminatedₜ) · (V'ₜ if doneₜ else Gₜ₊₁)``,  ``G_T = V'_{T−1}``

    Without ``next_values`` (``V' ≡ 0``) this is the Monte Carlo reward-to-go inside the rollout,
    ``Gₜ = rₜ + γₜ (1 − doneₜ) Gₜ₊₁`` (``γ = 1`` gives the undiscounted sum to the episode's end). The
    continuation is not read where ``terminatedₜ`` or ``γₜ = 0``: ``next_values[t]`` only bootstraps a step that
    is truncated, or the last one, and is not terminated.

    All sequences have the rewards' length ``T``; another length raises :class:`~typedrl.errors.InputError`,
    and a ``gamma`` (or ``γₜ``) or ``lam`` that is not a real number in ``[0, 1]`` raises
    :class:`~typedrl.errors.HyperparameterError`.
    """
    horizon = len(rewards)
    _same_length("discounted_returns", horizon, terminated=terminated, truncated=truncated)
    if next_values is not None:
        _same_length("discounted_returns", horizon, next_values=next_values)
    gammas = _gammas("discounted_returns", gamma, horizon)
    bootstrap = [0.0] * horizon if next_values is None else [float(v) for v in next_values]
    out = [0.0] * horizon
    following = bootstrap[-1] if horizon else 0.0  # G_T = V'_{T-1}
    for t in reversed(range(horizon)):
        done = terminated[t] or truncated[t]
        continuation = bootstrap[t] if done else following
        # A zero coefficient multiplies nothing: the continuation is not read at a termination or where γₜ = 0.
        following = rewards[t] + (0.0 if terminated[t] or gammas[t] == 0.0 else gammas[t] * continuation)
        out[t] = following
    return out


def normalize_advantages(advantages: Sequence[float]) -> list[float]:
    """Z-score advantages with the population standard deviation; finite input never gives NaN.

    ``Âᵢ = (Aᵢ − mean(A)) / std(A)``  with  ``std(A) = sqrt(mean((A − mean(A))²))``;
    where ``std(A) = 0`` (all advantages equal, or a single element) the result is ``A − mean(A) = 0``.
    An empty input gives an empty output.

    A NaN or ±inf advantage has no z-score (the mean and spread it would enter are undefined), so it raises
    :class:`~typedrl.errors.InputError` naming the first one, e.g.
    ``normalize_advantages: advantages[0] is nan; expected finite values``.
    """
    count = len(advantages)
    for i, a in enumerate(advantages):
        if not math.isfinite(a):
            raise InputError(f"normalize_advantages: advantages[{i}] is {float(a)!r}; expected finite values")
    if count == 0:
        return []
    if max(advantages) == min(advantages):  # std is 0; A − mean(A) is exactly 0 (rounding aside)
        return [0.0] * count
    # Scale by max|A| first, so neither the sum nor the squares overflow or underflow at any magnitude.
    scale = max(abs(a) for a in advantages)
    scaled = [a / scale for a in advantages]
    mean = math.fsum(scaled) / count
    centred = [a - mean for a in scaled]
    residue = math.fsum(centred) / count  # a second pass removes the rounding left in the first mean
    centred = [c - residue for c in centred]
    std = math.sqrt(math.fsum(c * c for c in centred) / count)
    if std == 0.0:
        return centred
    return [c / std for c in centred]
