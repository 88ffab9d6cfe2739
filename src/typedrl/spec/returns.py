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

**Masked sequences.** :func:`gae`, :func:`lambda_returns`, :func:`discounted_returns`, :func:`n_step_returns`
and :func:`vtrace` take ``valid``, one flag per step (``None``: every step is valid). An invalid step contributes
nothing and its outputs are ``0.0``; nothing it holds is read. ``mask_mode`` says what the valid steps are:

- ``"stop"`` (the default): every maximal run of consecutive valid steps is a rollout of its own, so a recursion
  stops at an invalid step, and the valid step before it ends its rollout as the last step of a rollout does
  (it bootstraps from its own ``next_values``);
- ``"skip"``: the valid steps, in order, are one rollout; invalid steps in between are transparent, and the valid
  steps on either side link up as neighbours (``next_values[t]`` of the earlier one is then the value of the
  later one's observation, which the caller supplies).

Both agree where the invalid steps are padding at either end of the sequence (right padding in LLM-RL batches).

No torch, no numpy, no state: this module is the oracle the fast tensor versions in :mod:`typedrl.returns`
are property-tested against.
"""

import math
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple, Protocol, TypeVar

from typedrl._validate import integer, real, unit_interval
from typedrl.errors import HyperparameterError, InputError

__all__ = [
    "MASK_MODES",
    "VTrace",
    "discounted_returns",
    "gae",
    "lambda_returns",
    "n_step_returns",
    "normalize_advantages",
    "td_errors",
    "vtrace",
]

Gamma = float | Sequence[float]
MASK_MODES = ("stop", "skip")
"""The values of ``mask_mode``: ``"stop"`` (each run of valid steps is its own rollout) and ``"skip"`` (the valid
steps are one rollout, invalid steps between them transparent)."""

_Item = TypeVar("_Item")


class _Pick(Protocol):
    """Keeps one rollout's steps of a sequence, in order."""

    def __call__(self, sequence: Sequence[_Item], /) -> list[_Item]: ...


def _whole(sequence: Sequence[_Item], /) -> list[_Item]:
    return list(sequence)


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


def _check_mask_mode(where: str, mask_mode: object) -> None:
    if not isinstance(mask_mode, str) or mask_mode not in MASK_MODES:
        raise HyperparameterError(f"{where}: mask_mode is {mask_mode!r}; expected 'stop' or 'skip'")


def _runs(valid: Sequence[bool], mask_mode: str) -> list[list[int]]:
    """The rollouts a mask leaves, as lists of step indices: ``"skip"``: every valid step, in one;
    ``"stop"``: each maximal run of consecutive valid steps, one rollout per run."""
    if mask_mode == "skip":
        return [[t for t, ok in enumerate(valid) if ok]]
    runs: list[list[int]] = []
    previous = False
    for t, ok in enumerate(valid):
        if ok:
            if not previous:
                runs.append([])
            runs[-1].append(t)
        previous = bool(ok)
    return runs


def _over_runs(
    where: str,
    horizon: int,
    valid: Sequence[bool] | None,
    mask_mode: str,
    outputs: int,
    compute: Callable[[_Pick], Sequence[list[float]]],
) -> list[list[float]]:
    """Run ``compute`` on every rollout the mask leaves and put the results back in place; ``0.0`` elsewhere.

    ``compute(pick)`` computes the unmasked function of one rollout, reading every sequence through ``pick``,
    which keeps the rollout's steps in order. It returns ``outputs`` lists.
    """
    _check_mask_mode(where, mask_mode)
    if valid is None:
        return list(compute(_whole))
    _same_length(where, horizon, valid=valid)
    results = [[0.0] * horizon for _ in range(outputs)]
    for steps in _runs(valid, mask_mode):

        def pick(sequence: Sequence[_Item], /, steps: list[int] = steps) -> list[_Item]:
            return [sequence[t] for t in steps]

        for result, part in zip(results, compute(pick), strict=True):
            for t, x in zip(steps, part, strict=True):
                result[t] = x
    return results


def _bootstrapped(reward: float, terminated: bool, gamma: float, following: float) -> float:
    """``r + γ (1 − terminated) · following``, where a zero coefficient multiplies nothing: ``following`` is not
    read at a termination or where ``γ = 0``."""
    return reward + (0.0 if terminated or gamma == 0.0 else gamma * following)


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
    return _td_errors(rewards, values, next_values, terminated, gammas)


def _td_errors(
    rewards: Sequence[float],
    values: Sequence[float],
    next_values: Sequence[float],
    terminated: Sequence[bool],
    gammas: Sequence[float],
) -> list[float]:
    out: list[float] = []
    for t in range(len(rewards)):
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
    valid: Sequence[bool] | None = None,
    mask_mode: str = "stop",
) -> list[float]:
    """Generalized advantage estimation (Schulman et al. 2016, arXiv:1506.02438).

    ``Aₜ = δₜ + γₜ · λ · (1 − doneₜ) · Aₜ₊₁``,  ``A_T = 0``,  with ``δₜ`` from :func:`td_errors`.

    The last step of a rollout that ends mid-episode (neither flag set) is ``A_{T−1} = δ_{T−1}``, which
    bootstraps from ``next_values[T−1]``. ``Aₜ₊₁`` is not read where ``doneₜ``, ``γₜ = 0`` or ``λ = 0``, so
    nothing non-finite crosses an episode end (``λ = 0`` gives exactly :func:`td_errors`).

    ``valid`` and ``mask_mode`` mask steps out (see the module's docstring): ``0.0`` at invalid steps.

    All sequences have the rewards' length ``T``; another length raises :class:`~typedrl.errors.InputError`,
    and a ``gamma`` (or ``γₜ``) or ``lam`` that is not a real number in ``[0, 1]``, or a ``mask_mode`` other than
    ``"stop"`` or ``"skip"``, raises :class:`~typedrl.errors.HyperparameterError`.
    """
    return _gae(
        "gae",
        rewards,
        values,
        next_values,
        terminated,
        truncated,
        gamma=gamma,
        lam=lam,
        valid=valid,
        mask_mode=mask_mode,
        plus_values=False,
    )


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
    valid: Sequence[bool] | None,
    mask_mode: str,
    plus_values: bool,
) -> list[float]:
    horizon = len(rewards)
    _same_length(where, horizon, values=values, next_values=next_values, terminated=terminated, truncated=truncated)
    lam = unit_interval(where, "lam", lam, error=HyperparameterError)
    gammas = _gammas(where, gamma, horizon)

    def compute(pick: _Pick) -> tuple[list[float]]:
        advantages = _gae_run(
            pick(rewards), pick(values), pick(next_values), pick(terminated), pick(truncated), pick(gammas), lam
        )
        if plus_values:
            return ([a + v for a, v in zip(advantages, pick(values), strict=True)],)
        return (advantages,)

    return _over_runs(where, horizon, valid, mask_mode, 1, compute)[0]


def _gae_run(
    rewards: list[float],
    values: list[float],
    next_values: list[float],
    terminated: list[bool],
    truncated: list[bool],
    gammas: list[float],
    lam: float,
) -> list[float]:
    horizon = len(rewards)
    deltas = _td_errors(rewards, values, next_values, terminated, gammas)
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
    valid: Sequence[bool] | None = None,
    mask_mode: str = "stop",
) -> list[float]:
    """λ-returns, the value targets: ``G^λₜ = Aₜ + Vₜ`` with ``Aₜ`` from :func:`gae`.

    Where ``values[t+1] == next_values[t]`` at every step that is not done, this is the recursion
    ``G^λₜ = rₜ + γₜ(1 − terminatedₜ)[(1 − λ(1 − doneₜ)) V'ₜ + λ(1 − doneₜ) G^λₜ₊₁]``.

    ``valid`` and ``mask_mode`` mask steps out (see the module's docstring): ``0.0`` at invalid steps.

    All sequences have the rewards' length ``T``; another length raises :class:`~typedrl.errors.InputError`,
    and a ``gamma`` (or ``γₜ``) or ``lam`` that is not a real number in ``[0, 1]``, or a ``mask_mode`` other than
    ``"stop"`` or ``"skip"``, raises :class:`~typedrl.errors.HyperparameterError`.
    """
    return _gae(
        "lambda_returns",
        rewards,
        values,
        next_values,
        terminated,
        truncated,
        gamma=gamma,
        lam=lam,
        valid=valid,
        mask_mode=mask_mode,
        plus_values=True,
    )


def discounted_returns(
    rewards: Sequence[float],
    terminated: Sequence[bool],
    truncated: Sequence[bool],
    *,
    gamma: Gamma,
    next_values: Sequence[float] | None = None,
    valid: Sequence[bool] | None = None,
    mask_mode: str = "stop",
) -> list[float]:
    """Discounted returns (reward-to-go) that bootstrap at truncations and at the end of the rollout.

    ``Gₜ = rₜ + γₜ · (1 − terminatedₜ) · (V'ₜ if doneₜ else Gₜ₊₁)``,  ``G_T = V'_{T−1}``

    Without ``next_values`` (``V' ≡ 0``) this is the Monte Carlo reward-to-go inside the rollout,
    ``Gₜ = rₜ + γₜ (1 − doneₜ) Gₜ₊₁`` (``γ = 1`` gives the undiscounted sum to the episode's end). The
    continuation is not read where ``terminatedₜ`` or ``γₜ = 0``: ``next_values[t]`` only bootstraps a step that
    is truncated, or the last one, and is not terminated.

    ``valid`` and ``mask_mode`` mask steps out (see the module's docstring): ``0.0`` at invalid steps.

    All sequences have the rewards' length ``T``; another length raises :class:`~typedrl.errors.InputError`,
    and a ``gamma`` (or ``γₜ``) that is not a real number in ``[0, 1]``, or a ``mask_mode`` other than ``"stop"``
    or ``"skip"``, raises :class:`~typedrl.errors.HyperparameterError`.
    """
    where = "discounted_returns"
    horizon = len(rewards)
    _same_length(where, horizon, terminated=terminated, truncated=truncated)
    if next_values is not None:
        _same_length(where, horizon, next_values=next_values)
    gammas = _gammas(where, gamma, horizon)
    bootstrap = [0.0] * horizon if next_values is None else [float(v) for v in next_values]

    def compute(pick: _Pick) -> tuple[list[float]]:
        return (_returns_run(pick(rewards), pick(terminated), pick(truncated), pick(gammas), pick(bootstrap)),)

    return _over_runs(where, horizon, valid, mask_mode, 1, compute)[0]


def _returns_run(
    rewards: list[float], terminated: list[bool], truncated: list[bool], gammas: list[float], bootstrap: list[float]
) -> list[float]:
    horizon = len(rewards)
    out = [0.0] * horizon
    following = bootstrap[-1] if horizon else 0.0  # G_T = V'_{T-1}
    for t in reversed(range(horizon)):
        done = terminated[t] or truncated[t]
        # A zero coefficient multiplies nothing: the continuation is not read at a termination or where γₜ = 0.
        following = _bootstrapped(rewards[t], terminated[t], gammas[t], bootstrap[t] if done else following)
        out[t] = following
    return out


def n_step_returns(
    rewards: Sequence[float],
    next_values: Sequence[float],
    terminated: Sequence[bool],
    truncated: Sequence[bool],
    *,
    gamma: Gamma,
    n: int,
    valid: Sequence[bool] | None = None,
    mask_mode: str = "stop",
) -> list[float]:
    """n-step bootstrapped returns: up to ``n`` rewards, then the discounted value of where the window ended.

    ``G⁽ⁿ⁾ₜ = Σ_{k<m} (Π_{j<k} γₜ₊ⱼ) rₜ₊ₖ + (Π_{j<m} γₜ₊ⱼ) · Bₜ``

    The window ``t … e`` (``m = e − t + 1`` steps) stops at the first done step ``e ≤ t + n − 1``, at
    ``e = t + n − 1``, or at the rollout's last step ``e = T − 1``, whichever comes first. ``Bₜ = next_values[e]``,
    except at a terminated ``e``, where nothing is bootstrapped (``Bₜ = 0``): a truncation, a full window and the
    rollout's end all bootstrap from the value of the observation step ``e`` produced. Evaluated as the loop
    ``G = r_e + γ_e (1 − terminated_e) V'_e``, then ``G = rₖ + γₖ G`` for ``k = e − 1`` down to ``t``, so a
    ``γₖ = 0`` multiplies nothing (the window's later rewards and its bootstrap are not read).

    ``n = 1`` is the one-step TD target ``rₜ + γₜ (1 − terminatedₜ) V'ₜ``; ``n ≥ T`` is :func:`discounted_returns`
    with ``next_values``. ``valid`` and ``mask_mode`` mask steps out (see the module's docstring): with
    ``"skip"`` a window counts valid steps only; with ``"stop"`` it ends at the last valid step before an invalid
    one, and bootstraps there. ``0.0`` at invalid steps.

    All sequences have the rewards' length ``T``; another length raises :class:`~typedrl.errors.InputError`; a
    ``gamma`` (or ``γₜ``) that is not a real number in ``[0, 1]``, an ``n`` that is not an int ``≥ 1`` or a
    ``mask_mode`` other than ``"stop"`` or ``"skip"`` raises :class:`~typedrl.errors.HyperparameterError`.
    """
    where = "n_step_returns"
    horizon = len(rewards)
    _same_length(where, horizon, next_values=next_values, terminated=terminated, truncated=truncated)
    n = integer(where, "n", n, error=HyperparameterError, minimum=1)
    gammas = _gammas(where, gamma, horizon)

    def compute(pick: _Pick) -> tuple[list[float]]:
        return (_n_step_run(pick(rewards), pick(next_values), pick(terminated), pick(truncated), pick(gammas), n),)

    return _over_runs(where, horizon, valid, mask_mode, 1, compute)[0]


def _n_step_run(
    rewards: list[float],
    next_values: list[float],
    terminated: list[bool],
    truncated: list[bool],
    gammas: list[float],
    n: int,
) -> list[float]:
    horizon = len(rewards)
    out: list[float] = []
    for t in range(horizon):
        end = t  # the window's last step: the first done one, the n-th, or the rollout's last
        while end < t + n - 1 and end < horizon - 1 and not (terminated[end] or truncated[end]):
            end += 1
        following = _bootstrapped(rewards[end], terminated[end], gammas[end], next_values[end])
        for k in reversed(range(t, end)):  # no step before `end` is done
            following = _bootstrapped(rewards[k], False, gammas[k], following)
        out.append(following)
    return out


class VTrace(NamedTuple):
    """What :func:`vtrace` returns: the value targets and the policy-gradient advantages, one per step."""

    vs: list[float]
    """``vₜ``, the V-trace targets of ``V(sₜ)``."""
    pg_advantages: list[float]
    """``ρₜ (rₜ + γₜ (1 − terminatedₜ) v'ₜ − Vₜ)``, the policy-gradient advantages."""


def vtrace(
    behaviour_log_probs: Sequence[float],
    target_log_probs: Sequence[float],
    rewards: Sequence[float],
    values: Sequence[float],
    next_values: Sequence[float],
    terminated: Sequence[bool],
    truncated: Sequence[bool],
    *,
    gamma: Gamma,
    rho_bar: float = 1.0,
    c_bar: float = 1.0,
    valid: Sequence[bool] | None = None,
    mask_mode: str = "stop",
) -> VTrace:
    """V-trace targets and policy-gradient advantages (Espeholt et al. 2018, arXiv:1802.01561, eq. 1 and §4.2).

    With ``ratioₜ = exp(target_log_probsₜ − behaviour_log_probsₜ) = π(aₜ|sₜ) / μ(aₜ|sₜ)``,
    ``ρₜ = min(ρ̄, ratioₜ)`` and ``cₜ = min(c̄, ratioₜ)`` (λ = 1):

    - ``δₜ = ρₜ (rₜ + γₜ (1 − terminatedₜ) V'ₜ − Vₜ)``
    - ``vₜ − Vₜ = δₜ + γₜ cₜ (1 − doneₜ) (vₜ₊₁ − Vₜ₊₁)``,  ``v_T − V_T = 0``
    - ``pg_advantagesₜ = ρₜ (rₜ + γₜ (1 − terminatedₜ) v'ₜ − Vₜ)``, with ``v'ₜ = vₜ₊₁`` where step ``t`` is not
      done and not the last, else ``V'ₜ`` (the value of the observation step ``t`` produced).

    Episode ends as in :func:`gae`: the recursion is cut at every done step; a truncation bootstraps from
    ``next_values``, a termination does not. A ratio is NaN where the log-probabilities make it so (both
    ``−inf``), ``0`` only where the target's log-probability is ``−inf`` (a ratio that underflows from finite
    log-probabilities is kept at the smallest positive float), and ``inf`` where the behaviour's is ``−inf`` and
    the target's is not. A zero coefficient multiplies nothing: where ``ρₜ = 0`` the step's TD error and
    advantage are ``0`` without reading its reward or values; where ``γₜ = 0`` or ``cₜ = 0`` the trace does not
    read ``vₜ₊₁``. Nothing follows the last step: its trace is not read either (``v_T − V_T = 0`` is never
    multiplied, so an infinite ``c_{T−1}`` does not make it NaN), exactly as after a done step.

    ``valid`` and ``mask_mode`` mask steps out (see the module's docstring): ``0.0`` at invalid steps, in both
    outputs.

    All sequences have the rewards' length ``T``; another length raises :class:`~typedrl.errors.InputError`; a
    ``gamma`` (or ``γₜ``) that is not a real number in ``[0, 1]``, a ``rho_bar`` or ``c_bar`` that is not a real
    number ``≥ 0`` (``inf`` is allowed: no truncation) or a ``mask_mode`` other than ``"stop"`` or ``"skip"``
    raises :class:`~typedrl.errors.HyperparameterError`.
    """
    where = "vtrace"
    horizon = len(rewards)
    _same_length(
        where,
        horizon,
        behaviour_log_probs=behaviour_log_probs,
        target_log_probs=target_log_probs,
        values=values,
        next_values=next_values,
        terminated=terminated,
        truncated=truncated,
    )
    gammas = _gammas(where, gamma, horizon)
    rho_bar = real(where, "rho_bar", rho_bar, error=HyperparameterError, low=0.0, finite=False)
    c_bar = real(where, "c_bar", c_bar, error=HyperparameterError, low=0.0, finite=False)

    def compute(pick: _Pick) -> tuple[list[float], list[float]]:
        return _vtrace_run(
            pick(behaviour_log_probs),
            pick(target_log_probs),
            pick(rewards),
            pick(values),
            pick(next_values),
            pick(terminated),
            pick(truncated),
            pick(gammas),
            rho_bar,
            c_bar,
        )

    vs, pg_advantages = _over_runs(where, horizon, valid, mask_mode, 2, compute)
    return VTrace(vs, pg_advantages)


def _ratio(behaviour_log_prob: float, target_log_prob: float) -> float:
    """``π/μ = exp(target − behaviour)``: NaN where the difference is, zero only where the target's log-probability
    is ``−inf``; a ratio that underflows from a finite difference is the smallest positive float."""
    difference = target_log_prob - behaviour_log_prob
    if math.isnan(difference):
        return math.nan
    try:
        ratio = math.exp(difference)
    except OverflowError:
        return math.inf
    return math.ulp(0.0) if ratio == 0.0 and difference > -math.inf else ratio


def _clipped(ratio: float, bar: float) -> float:
    """``min(bar, ratio)``, with a NaN ratio staying NaN."""
    return ratio if math.isnan(ratio) else min(bar, ratio)


def _vtrace_run(
    behaviour_log_probs: list[float],
    target_log_probs: list[float],
    rewards: list[float],
    values: list[float],
    next_values: list[float],
    terminated: list[bool],
    truncated: list[bool],
    gammas: list[float],
    rho_bar: float,
    c_bar: float,
) -> tuple[list[float], list[float]]:
    horizon = len(rewards)
    ratios = [_ratio(b, p) for b, p in zip(behaviour_log_probs, target_log_probs, strict=True)]
    rhos = [_clipped(ratio, rho_bar) for ratio in ratios]
    cs = [_clipped(ratio, c_bar) for ratio in ratios]

    def corrected(step: int, following: float) -> float:
        """``ρₜ (rₜ + γₜ (1 − terminatedₜ) following − Vₜ)``; ``0`` where ``ρₜ = 0``, reading nothing."""
        if rhos[step] == 0.0:
            return 0.0
        return rhos[step] * (_bootstrapped(rewards[step], terminated[step], gammas[step], following) - values[step])

    advantages = [0.0] * horizon
    advantage = 0.0  # v_T − V_T, never read: nothing follows the last step (an infinite c would make 0 · inf NaN)
    for t in reversed(range(horizon)):
        cut = terminated[t] or truncated[t] or t == horizon - 1
        trace = 0.0 if cut or gammas[t] == 0.0 or cs[t] == 0.0 else gammas[t] * (cs[t] * advantage)
        advantage = corrected(t, next_values[t]) + trace
        advantages[t] = advantage
    vs = [a + v for a, v in zip(advantages, values, strict=True)]
    pg_advantages = []
    for t in range(horizon):
        last = terminated[t] or truncated[t] or t == horizon - 1
        pg_advantages.append(corrected(t, next_values[t] if last else vs[t + 1]))
    return vs, pg_advantages


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
