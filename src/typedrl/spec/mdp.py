"""Finite discounted MDPs on plain Python floats: the specification of :mod:`typedrl.mdp`.

A finite MDP (Puterman 1994, ch. 2 and 6; Sutton and Barto 2018, ch. 3 and 4) has ``S`` states and ``A``
actions, numbered from 0, and

* ``transitions[s][a][s']`` ``= P(s' | s, a)``: for each ``(s, a)`` a probability distribution over next states
  (entries ``>= 0``, each row summing to 1 within the record's ``tolerance``);
* ``rewards[s][a]`` ``= R(s, a)``: the expected reward of taking ``a`` in ``s``;
* ``gamma`` ``= γ`` in ``[0, 1)``: the discount.

A value function ``v`` is a list of ``S`` numbers; a (stochastic, stationary) policy ``π`` is an ``S × A`` table,
``policy[s][a] = π(a | s)``, each row a probability distribution over actions. The operators, for every ``s``:

* ``Q_v(s, a) = R(s, a) + γ Σ_{s'} P(s' | s, a) v(s')``  (:func:`q_from_v`);
* ``(T^π v)(s) = Σ_a π(a | s) Q_v(s, a)``, the Bellman expectation operator (:func:`bellman_expectation`);
* ``(T* v)(s) = max_a Q_v(s, a)``, the Bellman optimality operator (:func:`bellman_optimality`).

Both are monotone (``v ≤ w`` pointwise gives ``Tv ≤ Tw``) and ``γ``-contractions in the sup norm
(``‖Tv − Tw‖∞ ≤ γ ‖v − w‖∞``), so each has exactly one fixed point, ``v_π`` and ``v*``, and iterating either
converges to it geometrically: ``‖Tᵏv − v_fixed‖∞ ≤ γᵏ ‖v − v_fixed‖∞`` (Puterman 1994, Thm. 6.2.3 and 6.3.1;
Sutton and Barto 2018, §4.1 and §4.4). The names follow TorchLean's Lean 4 specification
(``Spec.RL.FiniteStochastic``): ``MDP``/``Valid`` are :class:`FiniteMDP`, ``actionValue`` is :func:`q_from_v`,
``bellmanPolicy`` is :func:`bellman_expectation`, ``bellmanOptimality`` is :func:`bellman_optimality` and
``valueSupDist`` is :func:`sup_distance`.

Every number handed in must be a finite real number (a Python or numpy ``int`` or ``float``, not a ``bool``);
anything else raises :class:`~typedrl.errors.InputError` naming the element, e.g.
``bellman_optimality: values[1] is nan; expected a finite real number``. No torch, no numpy, no state: this
module is the oracle the tensor functions in :mod:`typedrl.mdp` are property-tested against.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from typedrl._validate import article, describe, integer, real
from typedrl.errors import HyperparameterError, InputError

__all__ = [
    "FiniteMDP",
    "bellman_expectation",
    "bellman_optimality",
    "greedy_policy",
    "iterative_policy_evaluation",
    "policy_evaluation",
    "q_from_v",
    "stopping_threshold",
    "sup_distance",
    "value_iteration",
]

#: How far a row of ``transitions`` (or of a policy) may sum from 1 by default: float64 rounding of a
#: normalized row is ~1e-16 per entry, far below this.
DEFAULT_TOLERANCE = 1e-9
#: The largest ``tolerance`` a record accepts: looser rows would no longer be probability distributions.
MAX_TOLERANCE = 1e-3
#: The default cap on the sweeps of :func:`value_iteration` and :func:`iterative_policy_evaluation`.
DEFAULT_MAX_ITERATIONS = 100_000


# Checks shared with typedrl.mdp, so that both layers word their errors alike.


def _discount(where: str, gamma: object) -> float:
    """``gamma`` as a float in ``[0, 1)``; else :class:`HyperparameterError` (``γ = 1`` has no unique fixed point)."""
    expected = "a finite real number in [0, 1)"
    try:
        number = real(where, "gamma", gamma, error=HyperparameterError, low=0.0, high=1.0)
    except HyperparameterError as error:
        raise HyperparameterError(str(error).replace("a finite real number in [0, 1]", expected)) from None
    if number == 1.0:
        raise HyperparameterError(
            f"{where}: gamma is {number!r}; expected {expected} (with gamma = 1 the Bellman operators are not "
            "contractions and need not have a unique fixed point)"
        )
    return number


def _tolerance(where: str, tolerance: object) -> float:
    return real(where, "tolerance", tolerance, error=HyperparameterError, low=0.0, high=MAX_TOLERANCE)


def _positive_tol(where: str, tol: object) -> float:
    try:
        number = real(where, "tol", tol, error=HyperparameterError)
    except HyperparameterError as error:
        raise HyperparameterError(f"{error} > 0") from None
    if number <= 0.0:
        raise HyperparameterError(f"{where}: tol is {number!r}; expected a finite real number > 0")
    return number


def _max_iterations(where: str, max_iterations: object) -> int:
    return integer(where, "max_iterations", max_iterations, error=HyperparameterError, minimum=1)


def stopping_threshold(gamma: float, tol: float) -> float:
    """The stopping threshold of :func:`value_iteration`: ``tol · (1 − γ) / (2γ)``, and ``+inf`` for ``γ = 0``."""
    return math.inf if gamma == 0.0 else tol * (1.0 - gamma) / (2.0 * gamma)


def _not_converged(where: str, change: float, threshold: float, gamma: float, tol: float, iterations: int) -> str:
    return (
        f"{where}: ‖v_(k+1) − v_k‖∞ is {change:.3g} after max_iterations={iterations} sweeps; expected <= "
        f"{threshold:.3g} = tol·(1 − gamma)/(2·gamma) for tol={tol:g}, gamma={gamma:g}. Raise max_iterations, or "
        "tol if it is below the values' rounding error"
    )


def _rows(where: str, name: str, value: object, expected: str) -> Sequence[object]:
    """``value`` as a non-empty list or tuple; else :class:`InputError` (a string is not a row of numbers)."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise InputError(f"{where}: {name} is {describe(value)}; expected {expected}")
    if len(value) == 0:
        raise InputError(f"{where}: {name} is empty; expected {expected}")
    return value


def _length(where: str, name: str, value: object, length: int, unit: str, reason: str) -> Sequence[object]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise InputError(f"{where}: {name} is {describe(value)}; expected a list of {length} {unit} ({reason})")
    if len(value) != length:
        raise InputError(f"{where}: {name} has {len(value)} {unit}; expected {length} ({reason})")
    return value


def _distribution(where: str, name: str, row: Sequence[object], tolerance: float, over: str) -> tuple[float, ...]:
    """One probability row: finite, non-negative entries whose exact sum is within ``tolerance`` of 1."""
    numbers = tuple(real(where, f"{name}[{i}]", p, error=InputError) for i, p in enumerate(row))
    for i, p in enumerate(numbers):
        if p < 0.0:
            raise InputError(f"{where}: {name}[{i}] is {p!r}; expected a probability >= 0")
    total = math.fsum(numbers)
    if abs(total - 1.0) > tolerance:
        raise InputError(
            f"{where}: {name} sums to {total!r}; expected 1 within {tolerance:g} (a probability distribution over "
            f"{over})"
        )
    return numbers


@dataclass(frozen=True)
class FiniteMDP:
    """A finite discounted MDP, checked once, at construction (TorchLean's ``MDP`` together with ``Valid``).

    Fields (stored as tuples of floats, whatever sequences were passed):

    * ``transitions[s][a][s']`` ``= P(s' | s, a)``: shape ``S × A × S`` with ``S, A >= 1``; every entry a finite
      real number ``>= 0``, every row ``transitions[s][a]`` summing to 1 within ``tolerance`` (the sum is taken
      exactly, with :func:`math.fsum`);
    * ``rewards[s][a]`` ``= R(s, a)``: shape ``S × A``, finite real numbers (expected rewards, any sign);
    * ``gamma``: the discount, a real number in ``[0, 1)`` (``γ = 1`` is refused: the operators are then no
      contractions and the values need not exist);
    * ``tolerance`` (keyword-only, default ``1e-9``, at most ``1e-3``): how far a probability row, here and in the
      policies passed along with this MDP, may sum from 1.

    A ragged or empty table, a NaN or ±inf, a negative probability or a row that does not sum to 1 raise
    :class:`~typedrl.errors.InputError` naming the element and expected versus got, e.g.
    ``FiniteMDP: transitions[0][1] sums to 0.9; expected 1 within 1e-09 (a probability distribution over next
    states)``; a ``gamma`` or ``tolerance`` out of range raises :class:`~typedrl.errors.HyperparameterError`, e.g.
    ``FiniteMDP: gamma is 1.0; expected a finite real number in [0, 1) ...``.
    """

    transitions: Sequence[Sequence[Sequence[float]]]
    rewards: Sequence[Sequence[float]]
    gamma: float
    tolerance: float = field(default=DEFAULT_TOLERANCE, kw_only=True)

    def __post_init__(self) -> None:
        where = "FiniteMDP"
        gamma = _discount(where, self.gamma)
        tolerance = _tolerance(where, self.tolerance)
        table = "a list of S lists (one per state) of A rows of S probabilities"
        states = _rows(where, "transitions", self.transitions, table)
        num_states = len(states)
        first = _rows(where, "transitions[0]", states[0], "a list of A rows (one per action) of S probabilities")
        num_actions = len(first)
        transitions = []
        for s, per_action in enumerate(states):
            actions = _length(where, f"transitions[{s}]", per_action, num_actions, "actions", "as transitions[0]")
            rows = []
            for a, row in enumerate(actions):
                name = f"transitions[{s}][{a}]"
                row = _length(where, name, row, num_states, "next states", "one probability per state")
                rows.append(_distribution(where, name, row, tolerance, "next states"))
            transitions.append(tuple(rows))
        rewards_by_state = _length(where, "rewards", self.rewards, num_states, "states", "as transitions")
        rewards = []
        for s, row in enumerate(rewards_by_state):
            row = _length(where, f"rewards[{s}]", row, num_actions, "actions", "as transitions")
            rewards.append(tuple(real(where, f"rewards[{s}][{a}]", r, error=InputError) for a, r in enumerate(row)))
        object.__setattr__(self, "transitions", tuple(transitions))
        object.__setattr__(self, "rewards", tuple(rewards))
        object.__setattr__(self, "gamma", gamma)
        object.__setattr__(self, "tolerance", tolerance)

    @property
    def num_states(self) -> int:
        """``S``, the number of states."""
        return len(self.transitions)

    @property
    def num_actions(self) -> int:
        """``A``, the number of actions (the same in every state)."""
        return len(self.transitions[0])


# Argument checks.


def _check_mdp(where: str, mdp: object) -> FiniteMDP:
    if not isinstance(mdp, FiniteMDP):
        raise InputError(f"{where}: mdp is {article(type(mdp).__name__)}; expected a typedrl.spec.FiniteMDP")
    return mdp


def _check_values(where: str, mdp: FiniteMDP, values: object, name: str = "values") -> list[float]:
    row = _length(where, name, values, mdp.num_states, "states", "one value per state of mdp")
    return [real(where, f"{name}[{s}]", v, error=InputError) for s, v in enumerate(row)]


def _check_policy(where: str, mdp: FiniteMDP, policy: object) -> list[tuple[float, ...]]:
    rows = _length(where, "policy", policy, mdp.num_states, "states", "one row per state of mdp")
    checked = []
    for s, row in enumerate(rows):
        row = _length(where, f"policy[{s}]", row, mdp.num_actions, "actions", "one probability per action of mdp")
        checked.append(_distribution(where, f"policy[{s}]", row, mdp.tolerance, "actions"))
    return checked


# The operators, unchecked: readable loops.


def _q(mdp: FiniteMDP, values: Sequence[float]) -> list[list[float]]:
    """``Q_v(s, a) = R(s, a) + γ Σ_{s'} P(s' | s, a) v(s')``, summed over ``s'`` in order."""
    q = []
    for s in range(mdp.num_states):
        row = []
        for a in range(mdp.num_actions):
            expected_next_value = 0.0
            for next_state, probability in enumerate(mdp.transitions[s][a]):
                expected_next_value += probability * values[next_state]
            row.append(mdp.rewards[s][a] + mdp.gamma * expected_next_value)
        q.append(row)
    return q


def _expectation(mdp: FiniteMDP, policy: Sequence[Sequence[float]], values: Sequence[float]) -> list[float]:
    out = []
    for s, q_row in enumerate(_q(mdp, values)):
        total = 0.0
        for a, q in enumerate(q_row):
            total += policy[s][a] * q
        out.append(total)
    return out


def _optimality(mdp: FiniteMDP, values: Sequence[float]) -> list[float]:
    return [max(q_row) for q_row in _q(mdp, values)]


def _iterate(
    where: str, mdp: FiniteMDP, step: Callable[[list[float]], list[float]], tol: object, max_iterations: object
) -> list[float]:
    """``v_{k+1} = step(v_k)`` from ``v_0 = 0`` until ``‖v_{k+1} − v_k‖∞ <= tol·(1 − γ)/(2γ)``; returns ``v_{k+1}``."""
    tol = _positive_tol(where, tol)
    limit = _max_iterations(where, max_iterations)
    threshold = stopping_threshold(mdp.gamma, tol)
    values = [0.0] * mdp.num_states
    change = math.inf
    for _ in range(limit):
        following = step(values)
        change = sup_distance(following, values)
        values = following
        if change <= threshold:
            return values
    raise HyperparameterError(_not_converged(where, change, threshold, mdp.gamma, tol, limit))


# The public functions.


def sup_distance(v: Sequence[float], w: Sequence[float]) -> float:
    """``‖v − w‖∞ = max_s |v(s) − w(s)|``, the sup-norm distance of two value functions (TorchLean's
    ``valueSupDist``); ``0.0`` for two empty ones.

    Raises :class:`~typedrl.errors.InputError` if the lengths differ or an element is not a finite real number.
    """
    where = "sup_distance"
    if isinstance(v, str | bytes) or not isinstance(v, Sequence):
        raise InputError(f"{where}: v is {describe(v)}; expected a list of numbers, one per state")
    first = [real(where, f"v[{s}]", x, error=InputError) for s, x in enumerate(v)]
    second = _length(where, "w", w, len(first), "states", "as v")
    distance = 0.0
    for s, x in enumerate(second):
        distance = max(distance, abs(first[s] - real(where, f"w[{s}]", x, error=InputError)))
    return distance


def q_from_v(mdp: FiniteMDP, values: Sequence[float]) -> list[list[float]]:
    """The action values of a value function: ``Q[s][a] = R(s, a) + γ Σ_{s'} P(s' | s, a) v(s')``.

    ``values`` has one finite number per state; the result is an ``S × A`` table (TorchLean's ``actionValue``;
    Sutton and Barto 2018, eq. 4.6). Raises :class:`~typedrl.errors.InputError` for a ``values`` of the wrong length
    or a non-finite element, or an ``mdp`` that is not a :class:`FiniteMDP`.
    """
    where = "q_from_v"
    mdp = _check_mdp(where, mdp)
    return _q(mdp, _check_values(where, mdp, values))


def bellman_expectation(mdp: FiniteMDP, policy: Sequence[Sequence[float]], values: Sequence[float]) -> list[float]:
    """The Bellman expectation operator: ``(T^π v)(s) = Σ_a π(a | s) [R(s, a) + γ Σ_{s'} P(s' | s, a) v(s')]``.

    ``policy[s][a] = π(a | s)``: ``S`` rows of ``A`` probabilities, each row non-negative and summing to 1 within
    ``mdp.tolerance``; ``values``: ``S`` finite numbers. Returns ``S`` numbers. Puterman (1994) §6.1; Sutton and
    Barto (2018) eq. 4.5; TorchLean's ``bellmanPolicy`` (for a deterministic policy, a one-hot row).

    Raises :class:`~typedrl.errors.InputError` for a table of the wrong shape, a non-finite element, a negative
    probability or a policy row that does not sum to 1, naming it, e.g.
    ``bellman_expectation: policy[1] sums to 0.5; expected 1 within 1e-09 (a probability distribution over
    actions)``.
    """
    where = "bellman_expectation"
    mdp = _check_mdp(where, mdp)
    checked_policy = _check_policy(where, mdp, policy)
    return _expectation(mdp, checked_policy, _check_values(where, mdp, values))


def bellman_optimality(mdp: FiniteMDP, values: Sequence[float]) -> list[float]:
    """The Bellman optimality operator: ``(T* v)(s) = max_a [R(s, a) + γ Σ_{s'} P(s' | s, a) v(s')]``.

    ``values``: ``S`` finite numbers; returns ``S`` numbers. Puterman (1994) §6.2; Sutton and Barto (2018)
    eq. 4.10; TorchLean's ``bellmanOptimality``. Raises :class:`~typedrl.errors.InputError` for a ``values`` of the
    wrong length or a non-finite element.
    """
    where = "bellman_optimality"
    mdp = _check_mdp(where, mdp)
    return _optimality(mdp, _check_values(where, mdp, values))


def greedy_policy(mdp: FiniteMDP, values: Sequence[float]) -> list[list[float]]:
    """The deterministic policy greedy with respect to ``values``, as one-hot rows: ``policy[s][a] = 1`` for
    ``a = argmax_a Q_v(s, a)`` (:func:`q_from_v`), ``0`` elsewhere.

    Ties go to the **lowest** action index: of several actions with equal ``Q_v(s, a)`` (as computed), the first
    wins, so the result is a function of the inputs alone. ``T^π v = T* v`` for this ``π`` (Puterman 1994 §6.2.4;
    Sutton and Barto 2018 eq. 4.9). Raises :class:`~typedrl.errors.InputError` as :func:`q_from_v`.
    """
    where = "greedy_policy"
    mdp = _check_mdp(where, mdp)
    policy = []
    for q_row in _q(mdp, _check_values(where, mdp, values)):
        best = 0
        for a, q in enumerate(q_row):
            if q > q_row[best]:  # strictly greater: a tie keeps the lower index
                best = a
        policy.append([1.0 if a == best else 0.0 for a in range(mdp.num_actions)])
    return policy


def _solve(matrix: list[list[float]], rhs: list[float]) -> list[float] | None:
    """``x`` with ``matrix · x = rhs``, by Gaussian elimination with partial pivoting; ``None`` if a pivot is 0."""
    n = len(rhs)
    rows = [[*row, b] for row, b in zip(matrix, rhs, strict=True)]  # the augmented matrix [M | b]
    for column in range(n):
        # Partial pivoting: the row with the largest |entry| in this column (the first such on a tie).
        pivot = max(range(column, n), key=lambda r: abs(rows[r][column]))
        if rows[pivot][column] == 0.0:
            return None
        rows[column], rows[pivot] = rows[pivot], rows[column]
        for r in range(column + 1, n):
            factor = rows[r][column] / rows[column][column]
            for c in range(column, n + 1):
                rows[r][c] -= factor * rows[column][c]
    x = [0.0] * n
    for r in reversed(range(n)):
        total = rows[r][n]
        for c in range(r + 1, n):
            total -= rows[r][c] * x[c]
        x[r] = total / rows[r][r]
    return x


def policy_evaluation(mdp: FiniteMDP, policy: Sequence[Sequence[float]]) -> list[float]:
    """The exact value of a policy: the solution ``v_π`` of ``(I − γ P_π) v = R_π``.

    ``P_π[s][s'] = Σ_a π(a | s) P(s' | s, a)`` and ``R_π[s] = Σ_a π(a | s) R(s, a)``; ``v_π`` is the unique fixed
    point of :func:`bellman_expectation` (Puterman 1994, Thm. 6.1.1; Sutton and Barto 2018 eq. 4.4). Solved by
    Gaussian elimination with partial pivoting. ``I − γ P_π`` is strictly diagonally dominant by rows (diagonal
    minus the off-diagonal row sum is at least ``1 − γ > 0``), so it is invertible, elimination is stable, and its
    ∞-norm condition number is at most ``(1 + γ)/(1 − γ)``.

    Checks ``policy`` as :func:`bellman_expectation` does. Raises :class:`~typedrl.errors.HyperparameterError`
    if a pivot is exactly 0, which only a ``gamma`` within about ``tolerance`` of 1 allows.
    """
    where = "policy_evaluation"
    mdp = _check_mdp(where, mdp)
    pi = _check_policy(where, mdp, policy)
    states, actions = range(mdp.num_states), range(mdp.num_actions)
    matrix, rhs = [], []
    for s in states:
        row = []
        for next_state in states:
            p_pi = 0.0
            for a in actions:
                p_pi += pi[s][a] * mdp.transitions[s][a][next_state]
            row.append((1.0 if next_state == s else 0.0) - mdp.gamma * p_pi)
        matrix.append(row)
        r_pi = 0.0
        for a in actions:
            r_pi += pi[s][a] * mdp.rewards[s][a]
        rhs.append(r_pi)
    solution = _solve(matrix, rhs)
    if solution is None:
        raise HyperparameterError(
            f"{where}: I − gamma·P_pi is singular to working precision (gamma is {mdp.gamma!r}); expected a gamma "
            "further from 1"
        )
    return solution


def iterative_policy_evaluation(
    mdp: FiniteMDP,
    policy: Sequence[Sequence[float]],
    *,
    tol: float,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
) -> list[float]:
    """``v_π`` by iterating :func:`bellman_expectation` from ``v_0 = 0`` (Sutton and Barto 2018 §4.1).

    The stopping rule is :func:`value_iteration`'s, with ``T^π`` for ``T*``: stop at the first ``k`` with
    ``‖v_{k+1} − v_k‖∞ <= tol·(1 − γ)/(2γ)`` and return ``v_{k+1}``, which then satisfies
    ``‖v_{k+1} − v_π‖∞ <= tol/2`` (the proof there uses only that the operator is a ``γ``-contraction).

    ``tol`` is a real number ``> 0`` and ``max_iterations`` an int ``>= 1`` (else
    :class:`~typedrl.errors.HyperparameterError`); :class:`~typedrl.errors.HyperparameterError` too if the rule
    is not met within ``max_iterations`` sweeps. Checks ``policy`` as :func:`bellman_expectation` does.
    """
    where = "iterative_policy_evaluation"
    mdp = _check_mdp(where, mdp)
    pi = _check_policy(where, mdp, policy)
    return _iterate(where, mdp, lambda v: _expectation(mdp, pi, v), tol, max_iterations)


def value_iteration(mdp: FiniteMDP, *, tol: float, max_iterations: int = DEFAULT_MAX_ITERATIONS) -> list[float]:
    """``v*`` to within ``tol/2`` by value iteration: ``v_{k+1} = T* v_k`` from ``v_0 = 0`` (Puterman 1994 §6.3.2,
    Sutton and Barto 2018 §4.4).

    **Stopping rule.** Stop at the first ``k`` with ``‖v_{k+1} − v_k‖∞ <= tol·(1 − γ)/(2γ)`` (for ``γ = 0`` the
    threshold is ``+inf``: one sweep, ``v_1 = max_a R(·, a) = v*``) and return ``v_{k+1}``. Then

    * ``‖v_{k+1} − v*‖∞ <= tol/2``, and
    * the greedy policy ``π`` of ``v_{k+1}`` (:func:`greedy_policy`) is ``tol``-optimal: ``‖v_π − v*‖∞ <= tol``
      (Puterman 1994, Thm. 6.3.1).

    *Proof.* Write ``‖·‖`` for ``‖·‖∞`` and ``δ = ‖v_{k+1} − v_k‖``. ``T*`` is a ``γ``-contraction with fixed point
    ``v*``, so ``‖v_{k+1} − v*‖ = ‖T* v_k − T* v*‖ <= γ ‖v_k − v*‖ <= γ (δ + ‖v_{k+1} − v*‖)``, hence
    ``‖v_{k+1} − v*‖ <= γδ/(1 − γ) <= tol/2``. For the greedy ``π``, ``T^π v_{k+1} = T* v_{k+1}``, so
    ``‖v_π − v_{k+1}‖ <= ‖T^π v_π − T^π v_{k+1}‖ + ‖T* v_{k+1} − T* v_k‖ <= γ ‖v_π − v_{k+1}‖ + γδ``, hence
    ``‖v_π − v_{k+1}‖ <= γδ/(1 − γ) <= tol/2``, and the triangle inequality gives ``‖v_π − v*‖ <= tol``. ∎

    The bound is for exact arithmetic; each sweep adds rounding of about ``S · ε · max|v|`` (``ε`` the float's
    machine epsilon), so ``tol`` must stay well above ``2γ/(1 − γ)`` times that or the rule is never met.
    ``tol`` is a real number ``> 0`` and ``max_iterations`` an int ``>= 1`` (else
    :class:`~typedrl.errors.HyperparameterError`); :class:`~typedrl.errors.HyperparameterError` too if the rule
    is not met within ``max_iterations`` sweeps, with the last ``‖v_{k+1} − v_k‖∞`` in the message. Starting from
    ``v_0 = 0`` it takes at most about ``log((1 − γ) tol / (2γ max|R|)) / log γ + 1`` sweeps.
    """
    where = "value_iteration"
    mdp = _check_mdp(where, mdp)
    return _iterate(where, mdp, lambda v: _optimality(mdp, v), tol, max_iterations)
