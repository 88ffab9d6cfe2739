"""Hypothesis strategies for finite MDPs, policies and value functions, and oracles that run the specification.

:func:`finite_mdps` builds valid :class:`typedrl.mdp.FiniteMDP` records (CPU tensors) that **shrink to the
smallest cases**: one state, one action, self-loops, zero rewards, ``γ = 0``, and a failing property keeps only
the states and actions its failure needs, with rewards ``0`` and ``±1`` where those still fail. A transition row is
decoded from small integer weights, ``P(s' | s, a) = w_{s'} / Σ w`` (a row of zero weights is a self-loop,
``P(s | s, a) = 1``), so rows are non-negative, sum to 1 up to one rounding per entry, and are often sparse or
deterministic. Rewards mix small integers (to make ties between actions) with numbers spread evenly over
``[−reward_bound, reward_bound]``. ``γ`` stays in ``[min_gamma, max_gamma]``, by default ``[0, 0.95]``: below 1 by
enough that ``1/(1 − γ)``, which scales the values and the rounding error, stays at most 20.

Each ``reference_*`` oracle converts its tensors to plain Python (:func:`to_spec_mdp`; float32 values are read
exactly), runs :mod:`typedrl.spec.mdp` and returns a **float64 CPU** tensor: the answer in float64 arithmetic for
the very numbers the candidate saw. :func:`reference_optimal_values` finds ``v*`` without value iteration, as the
best exact value over every deterministic policy.
"""

import itertools
import math

import torch
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from torch import Tensor

import typedrl.spec.mdp as spec_layer
from typedrl.mdp import FiniteMDP
from typedrl.spec.mdp import DEFAULT_MAX_ITERATIONS

__all__ = [
    "finite_mdps",
    "policies",
    "reference_bellman_expectation",
    "reference_bellman_optimality",
    "reference_greedy_policy",
    "reference_iterative_policy_evaluation",
    "reference_optimal_values",
    "reference_policy_evaluation",
    "reference_q_from_v",
    "reference_value_iteration",
    "to_spec_mdp",
    "value_functions",
]

_MAX_WEIGHT = 8  # transition and policy weights are integers in [0, 8]
_COMMON_GAMMAS = (0.0, 0.5, 0.9)
_FIRST_CONTINUOUS = 160  # rewards decoded from bytes: a first byte below this is a small integer (5 in 8)
_SMALL_REWARDS = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 2.0, 3.0], dtype=torch.float64)


def _check_count(name: str, low: int, high: int) -> None:
    if not 1 <= low <= high:
        raise InvalidArgument(f"finite_mdps: min_{name} is {low!r}, max_{name} {high!r}; expected 1 <= min <= max")


def _row(weights: list[int], diagonal: int) -> list[float]:
    """``w / Σw`` in float64, or the one-hot row at ``diagonal`` where every weight is 0."""
    total = sum(weights)
    if total == 0:
        return [1.0 if i == diagonal else 0.0 for i in range(len(weights))]
    return [w / total for w in weights]


def _rewards(head: Tensor, tail: Tensor, bound: float) -> Tensor:
    """Two bytes as a reward in ``[−bound, bound]``, with the sign in the low bit of ``tail``. ``head`` 0 to 3 is
    that integer; 4 to 159 a small integer 0, 1, 2 or 3 (half of them 0, so that actions tie); from 160 up, with the
    rest of ``tail``, a multiple of ``bound/12288`` in ``(0, bound]``. Integers above ``bound`` are ``bound``. Zero
    bytes are ``0.0``, and the shrinker, which lowers ``head`` first, reaches ``±1`` from any reward of that sign."""
    small = torch.where(head < 4, head, _SMALL_REWARDS[(head % len(_SMALL_REWARDS)).long()])
    continuous = ((head - _FIRST_CONTINUOUS) * 128 + (tail / 2).floor() + 1) / ((256 - _FIRST_CONTINUOUS) * 128) * bound
    magnitude = torch.where(head < _FIRST_CONTINUOUS, small.clamp(max=bound), continuous)
    return torch.where(tail % 2 == 1, 0.0 - magnitude, magnitude)  # 0.0 - 0.0 is +0.0


@st.composite
def _finite_mdps(
    draw: st.DrawFn,
    *,
    states: tuple[int, int],
    actions: tuple[int, int],
    dtype: torch.dtype | None,
    gammas: tuple[float, float],
    reward_bound: float,
) -> FiniteMDP:
    num_states = draw(st.integers(*states), label="num_states")
    num_actions = draw(st.integers(*actions), label="num_actions")
    chosen = dtype if dtype is not None else draw(st.sampled_from([torch.float32, torch.float64]), label="dtype")
    low, high = gammas
    common = [g for g in _COMMON_GAMMAS if low <= g <= high]
    gamma = draw(st.one_of(st.sampled_from([low, *common]), st.floats(low, high)), label="gamma")
    # The tables last, in one byte string: a record per (s, a), state after state, of a reward (2 bytes) and one
    # weight byte per possible next state (max_states of them, the last one for state 0, and only those of the S
    # states used). A smaller S or A only shortens the string, and hypothesis's shrinker keeps its head or its
    # tail: the first or the last states (or actions, once S is 1). Records of a fixed width keep every kept record
    # whole, and the shrinker, which prefers nonzero bytes late, moves weight to the low next states, which stay.
    width = 2 + states[1]
    size = num_states * num_actions * width
    raw = draw(st.binary(min_size=size, max_size=size), label="tables")
    byte = torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(num_states, num_actions, width).double()
    weights = (byte[..., 2:].flip(-1)[..., :num_states] * (_MAX_WEIGHT + 1) / 256).floor()  # integers in [0, 8]
    totals = weights.sum(dim=-1, keepdim=True)
    self_loops = torch.eye(num_states, dtype=torch.float64).unsqueeze(1).expand(-1, num_actions, -1)
    transitions = torch.where(totals == 0, self_loops, weights / totals.clamp(min=1.0))  # w / Σw, as _row
    return FiniteMDP(transitions.to(chosen), _rewards(byte[..., 0], byte[..., 1], reward_bound).to(chosen), gamma)


def finite_mdps(
    *,
    min_states: int = 1,
    max_states: int = 4,
    min_actions: int = 1,
    max_actions: int = 3,
    dtype: torch.dtype | None = torch.float64,
    min_gamma: float = 0.0,
    max_gamma: float = 0.95,
    reward_bound: float = 10.0,
) -> st.SearchStrategy[FiniteMDP]:
    """Valid finite MDPs (:class:`typedrl.mdp.FiniteMDP`, CPU tensors) that shrink to 1 state, 1 action.

    * ``S`` in ``[min_states, max_states]``, ``A`` in ``[min_actions, max_actions]`` (both ``>= 1``);
    * ``dtype`` float32 or float64 (``None`` draws either); the rows are normalized in float64 and rounded once;
    * rewards in ``[−reward_bound, reward_bound]``, often small integers so that actions tie;
    * ``γ`` in ``[min_gamma, max_gamma]`` with ``0 <= min_gamma <= max_gamma < 1``; the endpoints and 0.5, 0.9
      (those in range) are drawn often.

    Raises :class:`hypothesis.errors.InvalidArgument` for arguments out of these ranges.
    """
    _check_count("states", min_states, max_states)
    _check_count("actions", min_actions, max_actions)
    if dtype is not None and dtype not in (torch.float32, torch.float64):
        raise InvalidArgument(f"finite_mdps: dtype is {dtype}; expected torch.float32, torch.float64 or None")
    if not 0.0 <= min_gamma <= max_gamma < 1.0:
        raise InvalidArgument(
            f"finite_mdps: min_gamma is {min_gamma!r}, max_gamma {max_gamma!r}; "
            "expected 0 <= min_gamma <= max_gamma < 1"
        )
    if not (math.isfinite(reward_bound) and reward_bound >= 0.0):
        raise InvalidArgument(f"finite_mdps: reward_bound is {reward_bound!r}; expected a finite number >= 0")
    return _finite_mdps(
        states=(min_states, max_states),
        actions=(min_actions, max_actions),
        dtype=dtype,
        gammas=(min_gamma, max_gamma),
        reward_bound=reward_bound,
    )


@st.composite
def _policies(draw: st.DrawFn, mdp: FiniteMDP, deterministic: bool | None) -> Tensor:
    one_hot = deterministic if deterministic is not None else draw(st.booleans(), label="deterministic")
    if one_hot:
        actions = draw(st.lists(st.integers(0, mdp.num_actions - 1), min_size=mdp.num_states, max_size=mdp.num_states))
        table = [[1.0 if a == chosen else 0.0 for a in range(mdp.num_actions)] for chosen in actions]
    else:
        weights = st.lists(st.integers(0, _MAX_WEIGHT), min_size=mdp.num_actions, max_size=mdp.num_actions)
        table = [_row(draw(weights), diagonal=0) for _ in range(mdp.num_states)]
    return torch.tensor(table, dtype=torch.float64).to(mdp.dtype)


def policies(mdp: FiniteMDP, *, deterministic: bool | None = None) -> st.SearchStrategy[Tensor]:
    """Policies ``[S, A]`` for ``mdp``, in its dtype, on the CPU: non-negative rows summing to 1.

    ``deterministic=True`` gives one-hot rows (one action per state), ``False`` rows decoded from integer weights
    in ``[0, 8]`` (a row of zero weights is action 0), ``None`` draws either. Shrinks to "always action 0".
    """
    return _policies(mdp, deterministic)


def value_functions(mdp: FiniteMDP, *, bound: float = 100.0) -> st.SearchStrategy[Tensor]:
    """Value functions ``[S]`` for ``mdp``, in its dtype, on the CPU: finite numbers in ``[−bound, bound]``,
    shrinking to zeros."""
    if not (math.isfinite(bound) and bound >= 0.0):
        raise InvalidArgument(f"value_functions: bound is {bound!r}; expected a finite number >= 0")
    number = st.floats(-bound, bound, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    return st.lists(number, min_size=mdp.num_states, max_size=mdp.num_states).map(
        lambda values: torch.tensor(values, dtype=torch.float64).to(mdp.dtype)
    )


# Oracles.


def _numbers(tensor: Tensor) -> list[float]:
    values: list[float] = tensor.detach().to("cpu", torch.float64).tolist()
    return values


def _table(tensor: Tensor) -> list[list[float]]:
    table: list[list[float]] = tensor.detach().to("cpu", torch.float64).tolist()
    return table


def _tensor(values: list[float] | list[list[float]]) -> Tensor:
    return torch.tensor(values, dtype=torch.float64)


def to_spec_mdp(mdp: FiniteMDP) -> spec_layer.FiniteMDP:
    """The same MDP as a :class:`typedrl.spec.FiniteMDP` of Python floats, with the same ``gamma`` and
    ``tolerance`` (float32 entries are read exactly)."""
    transitions: list[list[list[float]]] = mdp.transitions.detach().to("cpu", torch.float64).tolist()
    assert mdp.tolerance is not None  # set when the record was built
    return spec_layer.FiniteMDP(transitions, _table(mdp.rewards), mdp.gamma, tolerance=mdp.tolerance)


def reference_q_from_v(mdp: FiniteMDP, values: Tensor) -> Tensor:
    """``Q[s, a] = R(s, a) + γ Σ_{s'} P(s' | s, a) v(s')`` by :func:`typedrl.spec.q_from_v`; float64 ``[S, A]``."""
    return _tensor(spec_layer.q_from_v(to_spec_mdp(mdp), _numbers(values)))


def reference_bellman_expectation(mdp: FiniteMDP, policy: Tensor, values: Tensor) -> Tensor:
    """``T^π v`` by :func:`typedrl.spec.bellman_expectation`; float64 ``[S]``."""
    return _tensor(spec_layer.bellman_expectation(to_spec_mdp(mdp), _table(policy), _numbers(values)))


def reference_bellman_optimality(mdp: FiniteMDP, values: Tensor) -> Tensor:
    """``T* v`` by :func:`typedrl.spec.bellman_optimality`; float64 ``[S]``."""
    return _tensor(spec_layer.bellman_optimality(to_spec_mdp(mdp), _numbers(values)))


def reference_greedy_policy(mdp: FiniteMDP, values: Tensor) -> Tensor:
    """The greedy one-hot policy (ties to the lowest action) by :func:`typedrl.spec.greedy_policy`; float64
    ``[S, A]``."""
    return _tensor(spec_layer.greedy_policy(to_spec_mdp(mdp), _numbers(values)))


def reference_policy_evaluation(mdp: FiniteMDP, policy: Tensor) -> Tensor:
    """``v_π`` solving ``(I − γ P_π) v = R_π`` by :func:`typedrl.spec.policy_evaluation`; float64 ``[S]``."""
    return _tensor(spec_layer.policy_evaluation(to_spec_mdp(mdp), _table(policy)))


def reference_iterative_policy_evaluation(
    mdp: FiniteMDP, policy: Tensor, *, tol: float, max_iterations: int = DEFAULT_MAX_ITERATIONS
) -> Tensor:
    """``v_π`` to within ``tol/2`` by :func:`typedrl.spec.iterative_policy_evaluation`; float64 ``[S]``."""
    return _tensor(
        spec_layer.iterative_policy_evaluation(to_spec_mdp(mdp), _table(policy), tol=tol, max_iterations=max_iterations)
    )


def reference_value_iteration(mdp: FiniteMDP, *, tol: float, max_iterations: int = DEFAULT_MAX_ITERATIONS) -> Tensor:
    """``v*`` to within ``tol/2`` by :func:`typedrl.spec.value_iteration` (same stopping rule); float64 ``[S]``."""
    return _tensor(spec_layer.value_iteration(to_spec_mdp(mdp), tol=tol, max_iterations=max_iterations))


def reference_optimal_values(mdp: FiniteMDP, *, max_policies: int = 4096) -> Tensor:
    """``v*`` without value iteration: the pointwise maximum of the exact values :func:`typedrl.spec.policy_evaluation`
    gives every deterministic policy, float64 ``[S]``.

    A discounted finite MDP has a deterministic stationary policy whose value is ``>=`` every policy's in every
    state (Puterman 1994, Thm. 6.2.10), so this maximum is ``v*``, to the rounding of one linear solve. There are
    ``A^S`` deterministic policies: more than ``max_policies`` raises :class:`ValueError`.
    """
    count = mdp.num_actions**mdp.num_states
    if count > max_policies:
        raise ValueError(
            f"reference_optimal_values: {count} deterministic policies (A^S = {mdp.num_actions}^{mdp.num_states}); "
            f"expected at most max_policies={max_policies}"
        )
    model = to_spec_mdp(mdp)
    best = [-math.inf] * mdp.num_states
    for choice in itertools.product(range(mdp.num_actions), repeat=mdp.num_states):
        policy = [[1.0 if a == chosen else 0.0 for a in range(mdp.num_actions)] for chosen in choice]
        values = spec_layer.policy_evaluation(model, policy)
        best = [max(b, v) for b, v in zip(best, values, strict=True)]
    return _tensor(best)
