"""Finite discounted MDPs on torch tensors: the tensor twin of :mod:`typedrl.spec.mdp`, equal to it by property test.

A :class:`FiniteMDP` holds ``transitions`` ``[S, A, S]`` (``transitions[s, a, s'] = P(s' | s, a)``), ``rewards``
``[S, A]`` (``R(s, a)``) and ``gamma`` in ``[0, 1)``, checked once, when it is built. Value functions are ``[S]``
tensors and policies ``[S, A]`` tensors (``policy[s, a] = π(a | s)``), in the MDP's dtype (float32 or float64) and
on its device. The functions compute, for every state at once:

* ``Q_v(s, a) = R(s, a) + γ Σ_{s'} P(s' | s, a) v(s')``  (:func:`q_from_v`);
* ``(T^π v)(s) = Σ_a π(a | s) Q_v(s, a)``  (:func:`bellman_expectation`);
* ``(T* v)(s) = max_a Q_v(s, a)``  (:func:`bellman_optimality`);
* ``v_π`` solving ``(I − γ P_π) v = R_π``  (:func:`policy_evaluation`, one :func:`torch.linalg.solve`);
* ``v_π`` and ``v*`` by iteration with a stated stopping rule (:func:`iterative_policy_evaluation`,
  :func:`value_iteration`), and the greedy policy (:func:`greedy_policy`).

The equations, their sources (Puterman 1994; Sutton and Barto 2018, ch. 4) and the proofs are in
:mod:`typedrl.spec.mdp`; the docs page ``mdp.md`` collects them. ``Q_v`` sums over next states with a reduction
over the last axis (``(P · v).sum(-1)``), the same computation for every ``(s, a)``, so two actions with equal rows
get bit-equal action values and the tie rule (lowest index) sees the tie.

**Checks.** Always on (the shape-check switch does not remove them): the record's, and at every public call, that
``values`` and ``policy`` are dense tensors of the MDP's dtype, device and shape, finite, and (a policy) non-negative
with rows summing to 1 within ``mdp.tolerance``; each costs one device sync. Errors are
:class:`~typedrl.errors.InputError` (arrays) and :class:`~typedrl.errors.HyperparameterError` (``gamma``, ``tol``,
``max_iterations``, ``tolerance``), worded as in the specification. While :mod:`typedrl.checks` is on, jaxtyping
and beartype also bind ``S`` and ``A`` across a call's tensor arguments (their ``TypeCheckError`` then comes first).
The code never leaves torch (no ``.numpy()``), so it runs on CUDA tensors as on CPU ones.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from typedrl._validate import article, first_true
from typedrl.checks import checked
from typedrl.errors import HyperparameterError, InputError
from typedrl.spec.mdp import (
    DEFAULT_MAX_ITERATIONS,
    _discount,
    _max_iterations,
    _not_converged,
    _positive_tol,
    _tolerance,
    stopping_threshold,
)

__all__ = [
    "FiniteMDP",
    "bellman_expectation",
    "bellman_optimality",
    "greedy_policy",
    "iterative_policy_evaluation",
    "policy_evaluation",
    "q_from_v",
    "value_iteration",
]

# gamma and tol: a Python float or int, or a numpy real scalar; bools are refused with their own message.
RealScalar: TypeAlias = float | np.floating[Any] | np.integer[Any]

_DTYPES = (torch.float32, torch.float64)
#: The default row-sum tolerance by dtype: float64 rows normalized in float64 are off by ~1e-16, float32 rows by
#: up to ~S · 6e-8.
DEFAULT_TOLERANCES = {torch.float64: 1e-9, torch.float32: 1e-5}


def _index(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(map(str, index)) + "]"


def _check_tensor(where: str, name: str, tensor: object) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise InputError(f"{where}: {name} is {article(type(tensor).__name__)}; expected a torch.Tensor")
    if tensor.is_nested or tensor.layout is not torch.strided:
        raise InputError(f"{where}: {name} is not a dense tensor; expected a dense tensor (torch.strided)")
    if tensor.is_meta:
        raise InputError(f"{where}: {name} is on meta; expected a device that holds values, such as cpu or cuda")
    return tensor


def _check_finite(where: str, name: str, tensor: Tensor) -> None:
    bad = ~torch.isfinite(tensor)
    if bool(bad.any()):
        index = first_true(bad)
        raise InputError(f"{where}: {name}{_index(index)} is {float(tensor[index])!r}; expected a finite real number")


def _check_distributions(where: str, name: str, rows: Tensor, tolerance: float, over: str) -> None:
    """Non-negative entries, and rows (the last axis) whose float64 sum is within ``tolerance`` of 1."""
    negative = rows < 0
    if bool(negative.any()):
        index = first_true(negative)
        raise InputError(f"{where}: {name}{_index(index)} is {float(rows[index])!r}; expected a probability >= 0")
    totals = rows.sum(dim=-1, dtype=torch.float64)  # float32 rows summed in float64, nearly exactly, as the spec
    off = (totals - 1.0).abs() > tolerance
    if bool(off.any()):
        index = first_true(off)
        raise InputError(
            f"{where}: {name}{_index(index)} sums to {float(totals[index])!r}; expected 1 within {tolerance:g} "
            f"(a probability distribution over {over})"
        )


@dataclass(frozen=True, eq=False)
class FiniteMDP:
    """A finite discounted MDP on tensors, checked once, at construction (the twin of
    :class:`typedrl.spec.FiniteMDP`).

    * ``transitions``: ``[S, A, S]``, ``transitions[s, a, s'] = P(s' | s, a)``, ``S, A >= 1``; finite, ``>= 0``,
      each row ``transitions[s, a]`` summing to 1 within ``tolerance`` (summed in float64);
    * ``rewards``: ``[S, A]``, ``R(s, a)``, finite, with the transitions' dtype and device;
    * ``gamma``: a real number in ``[0, 1)`` (Python or numpy scalar, not a bool), stored as a float;
    * ``tolerance`` (keyword-only): the row-sum tolerance for the transitions and for every policy passed with
      this MDP; ``None`` (the default) means ``1e-9`` for float64 and ``1e-5`` for float32. Stored as the float
      used, at most ``1e-3``.

    The dtype is float32 or float64, the same for both tensors; any device (CPU, CUDA). Raises
    :class:`~typedrl.errors.InputError` for a wrong kind, layout, dtype, device or shape, a NaN or ±inf, a negative
    probability or a row that does not sum to 1, naming the element, e.g. ``FiniteMDP: transitions[0, 1] sums to
    0.9; expected 1 within 1e-09 (a probability distribution over next states)``; and
    :class:`~typedrl.errors.HyperparameterError` for a ``gamma`` or ``tolerance`` out of range. Records hold
    tensors, so they compare by identity.
    """

    transitions: Float[Tensor, "S A S"]
    rewards: Float[Tensor, "S A"]
    gamma: float
    tolerance: float | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        where = "FiniteMDP"
        gamma = _discount(where, self.gamma)
        transitions = _check_tensor(where, "transitions", self.transitions)
        rewards = _check_tensor(where, "rewards", self.rewards)
        if transitions.dtype not in _DTYPES:
            raise InputError(f"{where}: transitions has dtype {transitions.dtype}; expected torch.float32 or float64")
        if rewards.dtype is not transitions.dtype:
            raise InputError(
                f"{where}: rewards has dtype {rewards.dtype}; expected {transitions.dtype} (as transitions)"
            )
        if rewards.device != transitions.device:
            raise InputError(f"{where}: rewards is on {rewards.device}; expected {transitions.device} (as transitions)")
        shape = tuple(transitions.shape)
        if len(shape) != 3 or shape[0] != shape[2] or shape[0] == 0 or shape[1] == 0:
            raise InputError(f"{where}: transitions has shape {shape}; expected [S, A, S] with S >= 1 and A >= 1")
        if tuple(rewards.shape) != shape[:2]:
            raise InputError(
                f"{where}: rewards has shape {tuple(rewards.shape)}; expected {shape[:2]} ([S, A], as transitions)"
            )
        default = DEFAULT_TOLERANCES[transitions.dtype]
        tolerance = _tolerance(where, default if self.tolerance is None else self.tolerance)
        _check_finite(where, "transitions", transitions)
        _check_distributions(where, "transitions", transitions, tolerance, "next states")
        _check_finite(where, "rewards", rewards)
        object.__setattr__(self, "gamma", gamma)
        object.__setattr__(self, "tolerance", tolerance)

    @property
    def num_states(self) -> int:
        """``S``, the number of states."""
        return int(self.transitions.shape[0])

    @property
    def num_actions(self) -> int:
        """``A``, the number of actions."""
        return int(self.transitions.shape[1])

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of both tensors, and of every value function and policy used with this MDP."""
        return self.transitions.dtype

    @property
    def device(self) -> torch.device:
        """The device of both tensors, and of every value function and policy used with this MDP."""
        return self.transitions.device


# Argument checks at the boundary.


def _check_mdp(where: str, mdp: object) -> FiniteMDP:
    if not isinstance(mdp, FiniteMDP):
        raise InputError(f"{where}: mdp is {article(type(mdp).__name__)}; expected a typedrl.mdp.FiniteMDP")
    return mdp


def _check_like_mdp(where: str, name: str, tensor: object, mdp: FiniteMDP, shape: tuple[int, ...], what: str) -> Tensor:
    tensor = _check_tensor(where, name, tensor)
    if tensor.dtype is not mdp.dtype:
        raise InputError(f"{where}: {name} has dtype {tensor.dtype}; expected {mdp.dtype} (as mdp)")
    if tensor.device != mdp.device:
        raise InputError(f"{where}: {name} is on {tensor.device}; expected {mdp.device} (as mdp)")
    if tuple(tensor.shape) != shape:
        raise InputError(f"{where}: {name} has shape {tuple(tensor.shape)}; expected {shape} ({what})")
    _check_finite(where, name, tensor)
    return tensor


def _check_values(where: str, mdp: FiniteMDP, values: object) -> Tensor:
    return _check_like_mdp(where, "values", values, mdp, (mdp.num_states,), "[S]: one value per state of mdp")


def _check_policy(where: str, mdp: FiniteMDP, policy: object) -> Tensor:
    shape = (mdp.num_states, mdp.num_actions)
    policy = _check_like_mdp(where, "policy", policy, mdp, shape, "[S, A]: one row per state of mdp")
    assert mdp.tolerance is not None  # set in __post_init__
    _check_distributions(where, "policy", policy, mdp.tolerance, "actions")
    return policy


# The operators, unchecked.


def _q(mdp: FiniteMDP, values: Tensor) -> Tensor:
    # A reduction over the last axis: the same computation for every (s, a), so equal rows give equal sums.
    return mdp.rewards + mdp.gamma * (mdp.transitions * values).sum(dim=-1)


def _expectation(mdp: FiniteMDP, policy: Tensor, values: Tensor) -> Tensor:
    return (policy * _q(mdp, values)).sum(dim=-1)


def _optimality(mdp: FiniteMDP, values: Tensor) -> Tensor:
    return _q(mdp, values).amax(dim=-1)


def _iterate(
    where: str, mdp: FiniteMDP, step: Callable[[Tensor], Tensor], tol: object, max_iterations: object
) -> Tensor:
    """``v_{k+1} = step(v_k)`` from ``v_0 = 0`` until ``‖v_{k+1} − v_k‖∞ <= tol·(1 − γ)/(2γ)``; returns ``v_{k+1}``.

    One device sync per sweep (the stopping test); no autograd graph is recorded.
    """
    tol = _positive_tol(where, tol)
    limit = _max_iterations(where, max_iterations)
    threshold = stopping_threshold(mdp.gamma, tol)
    change = math.inf
    with torch.no_grad():
        values = torch.zeros(mdp.num_states, dtype=mdp.dtype, device=mdp.device)
        for _ in range(limit):
            following = step(values)
            change = float((following - values).abs().amax())
            values = following
            if change <= threshold:
                return values
    raise HyperparameterError(_not_converged(where, change, threshold, mdp.gamma, tol, limit))


# The public functions.


@checked
def q_from_v(mdp: FiniteMDP, values: Float[Tensor, " S"]) -> Float[Tensor, "S A"]:
    """The action values of a value function: ``Q[s, a] = R(s, a) + γ Σ_{s'} P(s' | s, a) v(s')``.

    ``values``: ``[S]``; the result is ``[S, A]``, in the MDP's dtype and on its device. Differentiable in the
    MDP's tensors and ``values``. The spec is :func:`typedrl.spec.q_from_v`. Raises
    :class:`~typedrl.errors.InputError` for a ``values`` of the wrong kind, dtype, device or shape, or not finite.
    """
    where = "q_from_v"
    mdp = _check_mdp(where, mdp)
    return _q(mdp, _check_values(where, mdp, values))


@checked
def bellman_expectation(
    mdp: FiniteMDP, policy: Float[Tensor, "S A"], values: Float[Tensor, " S"]
) -> Float[Tensor, " S"]:
    """The Bellman expectation operator: ``(T^π v)(s) = Σ_a π(a | s) [R(s, a) + γ Σ_{s'} P(s' | s, a) v(s')]``.

    ``policy``: ``[S, A]``, ``policy[s, a] = π(a | s)``, non-negative rows summing to 1 within ``mdp.tolerance``;
    ``values``: ``[S]``. Returns ``[S]``. Differentiable. The spec is :func:`typedrl.spec.bellman_expectation`.
    Raises :class:`~typedrl.errors.InputError` for a wrong kind, dtype, device or shape, a non-finite element, a
    negative probability, or a policy row that does not sum to 1 (naming the first).
    """
    where = "bellman_expectation"
    mdp = _check_mdp(where, mdp)
    policy = _check_policy(where, mdp, policy)
    return _expectation(mdp, policy, _check_values(where, mdp, values))


@checked
def bellman_optimality(mdp: FiniteMDP, values: Float[Tensor, " S"]) -> Float[Tensor, " S"]:
    """The Bellman optimality operator: ``(T* v)(s) = max_a [R(s, a) + γ Σ_{s'} P(s' | s, a) v(s')]``.

    ``values``: ``[S]``; returns ``[S]``. The spec is :func:`typedrl.spec.bellman_optimality`. Raises
    :class:`~typedrl.errors.InputError` as :func:`q_from_v`.
    """
    where = "bellman_optimality"
    mdp = _check_mdp(where, mdp)
    return _optimality(mdp, _check_values(where, mdp, values))


@checked
def greedy_policy(mdp: FiniteMDP, values: Float[Tensor, " S"]) -> Float[Tensor, "S A"]:
    """The deterministic policy greedy with respect to ``values``, one-hot ``[S, A]`` in the MDP's dtype:
    ``policy[s, a] = 1`` for ``a = argmax_a Q_v(s, a)``.

    Ties (equal ``Q_v(s, a)`` as computed) go to the **lowest** action index (:func:`torch.argmax` returns the first
    maximal index). ``policy.argmax(-1)`` gives the actions as indices. The spec is
    :func:`typedrl.spec.greedy_policy`. Raises :class:`~typedrl.errors.InputError` as :func:`q_from_v`.
    """
    where = "greedy_policy"
    mdp = _check_mdp(where, mdp)
    actions = _q(mdp, _check_values(where, mdp, values)).argmax(dim=-1)
    return torch.nn.functional.one_hot(actions, mdp.num_actions).to(mdp.dtype)


@checked
def policy_evaluation(mdp: FiniteMDP, policy: Float[Tensor, "S A"]) -> Float[Tensor, " S"]:
    """The exact value of a policy: ``v_π = (I − γ P_π)⁻¹ R_π`` by one :func:`torch.linalg.solve`.

    ``P_π[s, s'] = Σ_a π(a | s) P(s' | s, a)``, ``R_π[s] = Σ_a π(a | s) R(s, a)``; ``I − γ P_π`` is strictly
    diagonally dominant (margin ``1 − γ``), so the solve is well posed, with ∞-norm condition number at most
    ``(1 + γ)/(1 − γ)``. Returns ``[S]``; differentiable. The spec is :func:`typedrl.spec.policy_evaluation`
    (Gaussian elimination with partial pivoting). Checks ``policy`` as :func:`bellman_expectation`; raises
    :class:`~typedrl.errors.HyperparameterError` if the solver finds the system singular (only a ``gamma`` within
    about ``tolerance`` of 1 allows it).
    """
    where = "policy_evaluation"
    mdp = _check_mdp(where, mdp)
    policy = _check_policy(where, mdp, policy)
    p_pi = torch.einsum("sa,sat->st", policy, mdp.transitions)
    r_pi = (policy * mdp.rewards).sum(dim=-1)
    system = torch.eye(mdp.num_states, dtype=mdp.dtype, device=mdp.device) - mdp.gamma * p_pi
    try:
        solution: Tensor = torch.linalg.solve(system, r_pi)
    except torch.linalg.LinAlgError:  # type: ignore[attr-defined]  # exported at run time, not in the stubs
        raise HyperparameterError(
            f"{where}: I − gamma·P_pi is singular to working precision (gamma is {mdp.gamma!r}); expected a gamma "
            "further from 1"
        ) from None
    return solution


@checked
def iterative_policy_evaluation(
    mdp: FiniteMDP,
    policy: Float[Tensor, "S A"],
    *,
    tol: RealScalar,
    max_iterations: int | np.integer[Any] = DEFAULT_MAX_ITERATIONS,
) -> Float[Tensor, " S"]:
    """``v_π`` by iterating :func:`bellman_expectation` from ``v_0 = 0``, with :func:`value_iteration`'s stopping
    rule: stop at the first ``k`` with ``‖v_{k+1} − v_k‖∞ <= tol·(1 − γ)/(2γ)`` and return ``v_{k+1}``, which is
    within ``tol/2`` of ``v_π`` in exact arithmetic.

    Not differentiable (no graph is recorded). One device sync per sweep. The spec is
    :func:`typedrl.spec.iterative_policy_evaluation`; errors as there, and as :func:`bellman_expectation` for
    ``policy``.
    """
    where = "iterative_policy_evaluation"
    mdp = _check_mdp(where, mdp)
    policy = _check_policy(where, mdp, policy)
    return _iterate(where, mdp, lambda v: _expectation(mdp, policy, v), tol, max_iterations)


@checked
def value_iteration(
    mdp: FiniteMDP, *, tol: RealScalar, max_iterations: int | np.integer[Any] = DEFAULT_MAX_ITERATIONS
) -> Float[Tensor, " S"]:
    """``v*`` to within ``tol/2`` by value iteration, ``v_{k+1} = T* v_k`` from ``v_0 = 0``.

    **Stopping rule** (the spec's, proved in :func:`typedrl.spec.value_iteration`): stop at the first ``k`` with
    ``‖v_{k+1} − v_k‖∞ <= tol·(1 − γ)/(2γ)`` (``+inf`` for ``γ = 0``: one sweep) and return ``v_{k+1}``. Then
    ``‖v_{k+1} − v*‖∞ <= tol/2`` and the :func:`greedy_policy` of ``v_{k+1}`` is ``tol``-optimal, in exact
    arithmetic. Each sweep adds rounding of about ``S · ε · max|v|``: float32 (``ε ≈ 1.2e-7``) needs a ``tol`` well
    above ``2γ/(1 − γ)`` times that, or the rule is never met.

    Not differentiable (no graph is recorded). One device sync per sweep. Raises
    :class:`~typedrl.errors.HyperparameterError` for a ``tol`` that is not a real number ``> 0``, a
    ``max_iterations`` that is not an int ``>= 1``, or a rule not met within ``max_iterations`` sweeps (the message
    gives the last ``‖v_{k+1} − v_k‖∞``).
    """
    where = "value_iteration"
    mdp = _check_mdp(where, mdp)
    return _iterate(where, mdp, lambda v: _optimality(mdp, v), tol, max_iterations)
