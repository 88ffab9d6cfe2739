"""Finite MDPs: the tensor twin equals the specification, both obey what TorchLean proves about the Bellman
operators, a hand-worked MDP comes out as worked, and invalid input is refused with a message that names it.

The properties are TorchLean's theorems for finite stochastic MDPs (``Proofs.RL.FiniteStochastic``):
``bellmanPolicy_monotone`` / ``bellmanOptimality_monotone``, ``bellmanPolicy_contraction`` /
``bellmanOptimality_contraction``, ``bellmanPolicy_le_bellmanOptimality``, the unique fixed points and
``*_iterate_error_to_fixedPoint`` (``‖Tᵏv − v_fixed‖∞ ≤ γᵏ‖v − v_fixed‖∞``), checked on random valid MDPs in both
layers. They hold in real arithmetic, so each comparison allows a rounding slack of about 1e-12 of the numbers'
scale, far below what a wrong operator (a missing ``γ``, a min for a max, a transposed ``P``) gets wrong. ``v*``
is found independently of value iteration, as the best exact value over every deterministic policy.
"""

import math
import re
from collections.abc import Callable

import jaxtyping
import pytest
import torch
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from torch import Tensor

import typedrl
import typedrl.mdp as tensor_mdp
import typedrl.spec.mdp as spec_mdp
from typedrl.errors import HyperparameterError, InputError
from typedrl.testing.mdp import (
    finite_mdps,
    policies,
    reference_bellman_expectation,
    reference_bellman_optimality,
    reference_greedy_policy,
    reference_iterative_policy_evaluation,
    reference_optimal_values,
    reference_policy_evaluation,
    reference_q_from_v,
    reference_value_iteration,
    to_spec_mdp,
    value_functions,
)

F32, F64 = torch.float32, torch.float64
LAYERS = ["spec", "tensor"]
EXAMPLES = settings(max_examples=60)
FEW = settings(max_examples=30)
# For find(): a reproducible search that shrinks, without the example database.
SHRUNK = settings(database=None, derandomize=True, max_examples=500, suppress_health_check=list(HealthCheck))
SEARCH = settings(database=None, derandomize=True, max_examples=500, phases=[Phase.generate])


def scale(mdp: tensor_mdp.FiniteMDP, *tensors: Tensor) -> float:
    """The size of the numbers in play: ``1 + max|R|/(1 − γ) + max|x|`` over the given tensors."""
    size = 1.0 + float(mdp.rewards.abs().max()) / (1.0 - mdp.gamma)
    return size + sum(float(t.abs().max()) for t in tensors)


def slack(mdp: tensor_mdp.FiniteMDP, *tensors: Tensor, rtol: float = 1e-12) -> float:
    """The rounding allowance: ``rtol`` of :func:`scale`."""
    return rtol * scale(mdp, *tensors)


def sup(v: Tensor, w: Tensor) -> float:
    return float((v.double() - w.double()).abs().max())


# Each layer as a function of tensors: the spec through the oracles (float64 CPU results), the tensor twin directly.


def optimality(layer: str, mdp: tensor_mdp.FiniteMDP, v: Tensor) -> Tensor:
    return tensor_mdp.bellman_optimality(mdp, v) if layer == "tensor" else reference_bellman_optimality(mdp, v)


def expectation(layer: str, mdp: tensor_mdp.FiniteMDP, policy: Tensor, v: Tensor) -> Tensor:
    if layer == "tensor":
        return tensor_mdp.bellman_expectation(mdp, policy, v)
    return reference_bellman_expectation(mdp, policy, v)


def evaluation(layer: str, mdp: tensor_mdp.FiniteMDP, policy: Tensor) -> Tensor:
    return tensor_mdp.policy_evaluation(mdp, policy) if layer == "tensor" else reference_policy_evaluation(mdp, policy)


def greedy(layer: str, mdp: tensor_mdp.FiniteMDP, v: Tensor) -> Tensor:
    return tensor_mdp.greedy_policy(mdp, v) if layer == "tensor" else reference_greedy_policy(mdp, v)


def value_iteration(layer: str, mdp: tensor_mdp.FiniteMDP, tol: float) -> Tensor:
    if layer == "tensor":
        return tensor_mdp.value_iteration(mdp, tol=tol)
    return reference_value_iteration(mdp, tol=tol)


def operators(layer: str, mdp: tensor_mdp.FiniteMDP, policy: Tensor) -> dict[str, Callable[[Tensor], Tensor]]:
    """``T^π`` and ``T*`` of one layer, by name."""
    return {
        "expectation": lambda v: expectation(layer, mdp, policy, v),
        "optimality": lambda v: optimality(layer, mdp, v),
    }


@st.composite
def mdp_policy_values(
    draw: st.DrawFn, *, dtype: torch.dtype | None = F64, max_gamma: float = 0.95
) -> tuple[tensor_mdp.FiniteMDP, Tensor, Tensor]:
    """An MDP, a policy for it and a value function, in one dtype."""
    mdp = draw(finite_mdps(dtype=dtype, max_gamma=max_gamma))
    return mdp, draw(policies(mdp), label="policy"), draw(value_functions(mdp), label="values")


# The strategy: valid MDPs, shrinking to the smallest.


@FEW
@given(mdp=finite_mdps(dtype=None, max_states=6, max_gamma=0.99), data=st.data())
def test_finite_mdps_are_valid_for_both_layers(mdp: tensor_mdp.FiniteMDP, data: st.DataObject) -> None:
    assert mdp.dtype in (F32, F64)
    assert 1 <= mdp.num_states <= 6
    assert 1 <= mdp.num_actions <= 3
    assert 0.0 <= mdp.gamma <= 0.99
    assert bool((mdp.transitions >= 0).all())
    model = to_spec_mdp(mdp)  # the specification checks the same numbers again, exactly
    assert (model.num_states, model.num_actions, model.gamma) == (mdp.num_states, mdp.num_actions, mdp.gamma)
    policy = data.draw(policies(mdp), label="policy")
    spec_mdp.bellman_expectation(model, policy.double().tolist(), [0.0] * mdp.num_states)  # a valid policy


def test_finite_mdps_shrink_to_one_state_and_one_action() -> None:
    smallest = find(finite_mdps(), lambda mdp: True, settings=SHRUNK)
    assert smallest.transitions.tolist() == [[[1.0]]]
    assert smallest.rewards.tolist() == [[0.0]]
    assert smallest.gamma == 0.0
    two_states = find(finite_mdps(), lambda mdp: mdp.num_states >= 2, settings=SHRUNK)
    assert (two_states.num_states, two_states.num_actions) == (2, 1)
    discounted = find(finite_mdps(), lambda mdp: mdp.gamma > 0, settings=SHRUNK)
    assert (discounted.num_states, discounted.num_actions) == (1, 1)


def test_finite_mdps_reach_stochastic_rows_ties_and_both_dtypes() -> None:
    find(finite_mdps(), lambda m: bool(((m.transitions > 0) & (m.transitions < 1)).any()), settings=SEARCH)
    find(finite_mdps(min_actions=2), lambda m: bool((m.rewards[:, 0] == m.rewards[:, 1]).any()), settings=SEARCH)
    find(finite_mdps(dtype=None), lambda m: m.dtype is F32, settings=SEARCH)


@pytest.mark.parametrize(
    "options",
    [{"max_gamma": 1.0}, {"min_gamma": 0.5, "max_gamma": 0.4}, {"min_states": 0}, {"dtype": torch.float16}],
    ids=["gamma-one", "gamma-range", "no-states", "float16"],
)
def test_finite_mdps_refuse_bad_arguments(options: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        finite_mdps(**options)  # type: ignore[arg-type]


# The tensor twin equals the specification (float64: rounding-order differences only).


@EXAMPLES
@given(case=mdp_policy_values())
def test_operators_equal_the_spec(case: tuple[tensor_mdp.FiniteMDP, Tensor, Tensor]) -> None:
    mdp, policy, v = case
    tight = slack(mdp, v)
    assert sup(tensor_mdp.q_from_v(mdp, v), reference_q_from_v(mdp, v)) <= tight
    assert sup(tensor_mdp.bellman_expectation(mdp, policy, v), reference_bellman_expectation(mdp, policy, v)) <= tight
    assert sup(tensor_mdp.bellman_optimality(mdp, v), reference_bellman_optimality(mdp, v)) <= tight


@EXAMPLES
@given(case=mdp_policy_values())
def test_greedy_policy_equals_the_spec_up_to_rounding_ties(case: tuple[tensor_mdp.FiniteMDP, Tensor, Tensor]) -> None:
    mdp, _, v = case
    got, expected = tensor_mdp.greedy_policy(mdp, v), reference_greedy_policy(mdp, v)
    assert got.dtype is mdp.dtype
    assert bool(((got == 0) | (got == 1)).all())
    assert bool((got.sum(-1) == 1).all())
    q = reference_q_from_v(mdp, v)
    chosen = q.gather(1, got.argmax(-1, keepdim=True).cpu()).squeeze(1)
    best = q.amax(-1)
    # The twin's action is a best one of the spec's Q to rounding; where the best beats the rest by more than
    # rounding, it is the spec's very action.
    assert float((best - chosen).max()) <= slack(mdp, v)
    clear = (q >= best.unsqueeze(-1) - 1e-9 * scale(mdp, v)).sum(-1) == 1
    assert torch.equal(got.double()[clear], expected[clear])


@EXAMPLES
@given(case=mdp_policy_values())
def test_policy_evaluation_equals_the_spec(case: tuple[tensor_mdp.FiniteMDP, Tensor, Tensor]) -> None:
    mdp, policy, _ = case
    got, expected = tensor_mdp.policy_evaluation(mdp, policy), reference_policy_evaluation(mdp, policy)
    assert sup(got, expected) <= slack(mdp, rtol=1e-10)


@FEW
@given(case=mdp_policy_values(), tol=st.sampled_from([1e-2, 1e-6, 1e-9]))
def test_iterations_equal_the_spec_within_tol(case: tuple[tensor_mdp.FiniteMDP, Tensor, Tensor], tol: float) -> None:
    # Both are within tol/2 of the same fixed point, so within tol of each other (they take the same sweeps up to
    # a rounding-close call at the threshold).
    mdp, policy, _ = case
    got = tensor_mdp.iterative_policy_evaluation(mdp, policy, tol=tol)
    assert sup(got, reference_iterative_policy_evaluation(mdp, policy, tol=tol)) <= tol + slack(mdp)
    assert sup(tensor_mdp.value_iteration(mdp, tol=tol), reference_value_iteration(mdp, tol=tol)) <= tol + slack(mdp)


@FEW
@given(case=mdp_policy_values(dtype=F32, max_gamma=0.9))
def test_float32_agrees_with_the_float64_spec(case: tuple[tensor_mdp.FiniteMDP, Tensor, Tensor]) -> None:
    mdp, policy, v = case
    loose = slack(mdp, v, rtol=1e-5)
    results = {
        "q_from_v": (tensor_mdp.q_from_v(mdp, v), reference_q_from_v(mdp, v)),
        "bellman_expectation": (
            tensor_mdp.bellman_expectation(mdp, policy, v),
            reference_bellman_expectation(mdp, policy, v),
        ),
        "bellman_optimality": (tensor_mdp.bellman_optimality(mdp, v), reference_bellman_optimality(mdp, v)),
        "policy_evaluation": (tensor_mdp.policy_evaluation(mdp, policy), reference_policy_evaluation(mdp, policy)),
    }
    for label, (got, expected) in results.items():
        assert got.dtype is F32, label
        assert sup(got, expected) <= loose, label
    # float32 value iteration with a tol above float32's rounding: within tol/2 of v*, to rounding.
    tol = 1e-2
    got = tensor_mdp.value_iteration(mdp, tol=tol)
    assert got.dtype is F32
    assert sup(got, reference_optimal_values(mdp)) <= tol / 2 + slack(mdp, rtol=1e-5)


# What TorchLean proves, in both layers.


@pytest.mark.parametrize("layer", LAYERS)
@EXAMPLES
@given(case=mdp_policy_values(), data=st.data())
def test_bellman_operators_are_monotone(
    layer: str, case: tuple[tensor_mdp.FiniteMDP, Tensor, Tensor], data: st.DataObject
) -> None:
    # v ≤ w pointwise ⇒ T v ≤ T w. Rounding is monotone too, and both evaluations take the same steps, so the
    # inequality holds exactly in floating point.
    mdp, policy, v = case
    increase = data.draw(value_functions(mdp, bound=10.0), label="increase").abs()
    w = v + increase
    assert bool((w >= v).all())
    for name, operator in operators(layer, mdp, policy).items():
        assert bool((operator(v) <= operator(w)).all()), name


@pytest.mark.parametrize("layer", LAYERS)
@EXAMPLES
@given(case=mdp_policy_values(), data=st.data())
def test_bellman_operators_are_gamma_contractions(
    layer: str, case: tuple[tensor_mdp.FiniteMDP, Tensor, Tensor], data: st.DataObject
) -> None:
    # ‖T v − T w‖∞ ≤ γ ‖v − w‖∞
    mdp, policy, v = case
    w = data.draw(value_functions(mdp), label="w")
    for name, operator in operators(layer, mdp, policy).items():
        assert sup(operator(v), operator(w)) <= mdp.gamma * sup(v, w) + slack(mdp, v, w), name


@pytest.mark.parametrize("layer", LAYERS)
@EXAMPLES
@given(case=mdp_policy_values())
def test_expectation_is_at_most_optimality_and_greedy_attains_it(
    layer: str, case: tuple[tensor_mdp.FiniteMDP, Tensor, Tensor]
) -> None:
    # T^π v ≤ T* v for every π, with equality for the greedy π of v.
    mdp, policy, v = case
    best = optimality(layer, mdp, v)
    assert bool((expectation(layer, mdp, policy, v) <= best + slack(mdp, v)).all())
    assert sup(expectation(layer, mdp, greedy(layer, mdp, v), v), best) <= slack(mdp, v)


@pytest.mark.parametrize("layer", LAYERS)
@EXAMPLES
@given(case=mdp_policy_values())
def test_exact_evaluation_is_the_fixed_point_of_the_expectation_operator(
    layer: str, case: tuple[tensor_mdp.FiniteMDP, Tensor, Tensor]
) -> None:
    mdp, policy, _ = case
    values = evaluation(layer, mdp, policy)
    assert sup(expectation(layer, mdp, policy, values), values) <= slack(mdp, rtol=1e-10)


@pytest.mark.parametrize("layer", LAYERS)
@FEW
@given(case=mdp_policy_values(), tol=st.sampled_from([1e-1, 1e-4, 1e-8]))
def test_iterative_evaluation_reaches_the_same_fixed_point_within_half_tol(
    layer: str, case: tuple[tensor_mdp.FiniteMDP, Tensor, Tensor], tol: float
) -> None:
    # Iterating from 0 and solving the linear system find the same v_π: the fixed point is unique.
    mdp, policy, _ = case
    exact = reference_policy_evaluation(mdp, policy)
    if layer == "tensor":
        iterated = tensor_mdp.iterative_policy_evaluation(mdp, policy, tol=tol)
    else:
        iterated = reference_iterative_policy_evaluation(mdp, policy, tol=tol)
    assert sup(iterated, exact) <= tol / 2 + slack(mdp, rtol=1e-10)


@pytest.mark.parametrize("layer", LAYERS)
@FEW
@given(mdp=finite_mdps(), tol=st.sampled_from([1.0, 1e-2, 1e-5, 1e-9]))
def test_value_iteration_is_within_half_tol_of_v_star_and_its_greedy_policy_is_tol_optimal(
    layer: str, mdp: tensor_mdp.FiniteMDP, tol: float
) -> None:
    optimal = reference_optimal_values(mdp)  # the best exact value over all A^S deterministic policies
    rounding = slack(mdp, rtol=1e-10)
    assert sup(optimality(layer, mdp, optimal), optimal) <= rounding  # v* = T* v*
    values = value_iteration(layer, mdp, tol)
    assert sup(values, optimal) <= tol / 2 + rounding
    # The greedy policy's exact value is within tol of v*, so within tol of every deterministic policy's or better.
    achieved = reference_policy_evaluation(mdp, greedy(layer, mdp, values).double().cpu())
    assert bool((achieved >= optimal - tol - rounding).all())
    assert bool((achieved <= optimal + rounding).all())


@pytest.mark.parametrize("layer", LAYERS)
@FEW
@given(case=mdp_policy_values())
def test_iterates_approach_the_fixed_point_geometrically(
    layer: str, case: tuple[tensor_mdp.FiniteMDP, Tensor, Tensor]
) -> None:
    # ‖Tᵏ v − v_fixed‖∞ ≤ γᵏ ‖v − v_fixed‖∞ for T^π (v_fixed = v_π) and T* (v_fixed = v*).
    mdp, policy, v = case
    fixed = {"expectation": reference_policy_evaluation(mdp, policy), "optimality": reference_optimal_values(mdp)}
    for name, operator in operators(layer, mdp, policy).items():
        start = sup(v, fixed[name])
        iterate = v
        for k in range(1, 9):
            iterate = operator(iterate)
            assert sup(iterate, fixed[name]) <= mdp.gamma**k * start + slack(mdp, v, rtol=1e-10), (name, k)


@pytest.mark.parametrize("layer", LAYERS)
@EXAMPLES
@given(case=mdp_policy_values(), data=st.data())
def test_greedy_ties_go_to_the_lowest_action(
    layer: str, case: tuple[tensor_mdp.FiniteMDP, Tensor, Tensor], data: st.DataObject
) -> None:
    # Append a copy of action j as the last action: it ties with j exactly and must never be chosen.
    mdp, _, v = case
    j = data.draw(st.integers(0, mdp.num_actions - 1), label="copied action")
    copied = tensor_mdp.FiniteMDP(
        torch.cat([mdp.transitions, mdp.transitions[:, j : j + 1]], dim=1),
        torch.cat([mdp.rewards, mdp.rewards[:, j : j + 1]], dim=1),
        mdp.gamma,
    )
    chosen = greedy(layer, copied, v).argmax(-1)
    assert bool((chosen < mdp.num_actions).all())


# A hand-worked MDP.
#
# Two states, two actions, γ = 1/2:
#
#   P[0][0] = [1, 0]      R[0][0] = 0      (state 0, "stay")
#   P[0][1] = [0, 1]      R[0][1] = 1      (state 0, "go to 1")
#   P[1][0] = [0, 1]      R[1][0] = 2      (state 1, "stay")
#   P[1][1] = [½, ½]      R[1][1] = 0      (state 1, "coin flip")
#
# Q_v(s, a) = R(s, a) + ½ Σ P v.  At v = [2, 4]:  Q = [[0 + ½·2, 1 + ½·4], [2 + ½·4, 0 + ½(½·2 + ½·4)]]
#                                                  = [[1, 3], [4, 1.5]]
# so T* v = [3, 4], and the uniform policy (½, ½) gives T^π v = [(1 + 3)/2, (4 + 1.5)/2] = [2, 2.75].
#
# Exact value of the uniform policy: P_π = [[½, ½], [¼, ¾]], R_π = [½, 1], and v = R_π + ½ P_π v reads
#   v0 = ½ + ¼ v0 + ¼ v1   ⇒  3 v0 −   v1 = 2
#   v1 = 1 + ⅛ v0 + ⅜ v1   ⇒   −v0 + 5 v1 = 8      ⇒  v0 = 9/7, v1 = 13/7.
#
# v*: staying in state 1 earns 2 forever, 2/(1 − ½) = 4; from state 0, going to 1 earns 1 + ½·4 = 3. Check that no
# action improves: state 0 "stay" gives ½·3 = 1.5 < 3, state 1 "coin flip" gives ½(½·3 + ½·4) = 1.75 < 4. So
# v* = [3, 4] and the greedy policy is (go to 1, stay) = [[0, 1], [1, 0]].
#
# Value iteration from v_0 = 0: v_1 = [1, 2], v_2 = [2, 3], v_3 = [2.5, 3.5], and in general
# v_k = [3 − 2^(2−k), 4 − 2^(2−k)] (k ≥ 1), so ‖v_{k+1} − v_k‖∞ = 2^(1−k) (k ≥ 0). With tol = ¼ the threshold is
# tol·(1 − γ)/(2γ) = ⅛: 2^(1−k) ≤ ⅛ first at k = 4, so it stops after 5 sweeps with v_5 = [2.875, 3.875], exactly
# tol/2 = ⅛ from v*: the bound is attained.

HAND_P = [[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.5, 0.5]]]
HAND_R = [[0.0, 1.0], [2.0, 0.0]]
UNIFORM = [[0.5, 0.5], [0.5, 0.5]]


def hand_mdp(dtype: torch.dtype = F64) -> tensor_mdp.FiniteMDP:
    return tensor_mdp.FiniteMDP(torch.tensor(HAND_P, dtype=dtype), torch.tensor(HAND_R, dtype=dtype), 0.5)


def test_hand_worked_mdp_in_the_spec() -> None:
    mdp = spec_mdp.FiniteMDP(HAND_P, HAND_R, 0.5)
    assert spec_mdp.q_from_v(mdp, [2.0, 4.0]) == [[1.0, 3.0], [4.0, 1.5]]
    assert spec_mdp.bellman_optimality(mdp, [2.0, 4.0]) == [3.0, 4.0]
    assert spec_mdp.bellman_expectation(mdp, UNIFORM, [2.0, 4.0]) == [2.0, 2.75]
    assert spec_mdp.policy_evaluation(mdp, UNIFORM) == pytest.approx([9 / 7, 13 / 7], rel=1e-15)
    assert spec_mdp.value_iteration(mdp, tol=0.25) == [2.875, 3.875]
    assert spec_mdp.value_iteration(mdp, tol=0.25, max_iterations=5) == [2.875, 3.875]  # exactly 5 sweeps
    with pytest.raises(HyperparameterError, match=re.escape("‖v_(k+1) − v_k‖∞ is 0.25 after max_iterations=4")):
        spec_mdp.value_iteration(mdp, tol=0.25, max_iterations=4)
    assert spec_mdp.greedy_policy(mdp, [2.875, 3.875]) == [[0.0, 1.0], [1.0, 0.0]]
    assert spec_mdp.policy_evaluation(mdp, [[0.0, 1.0], [1.0, 0.0]]) == pytest.approx([3.0, 4.0], rel=1e-15)
    assert spec_mdp.iterative_policy_evaluation(mdp, UNIFORM, tol=1e-9) == pytest.approx([9 / 7, 13 / 7], abs=5e-10)
    assert spec_mdp.sup_distance([2.875, 3.875], [3.0, 4.0]) == 0.125


@pytest.mark.parametrize("dtype", [F32, F64])
def test_hand_worked_mdp_in_the_tensor_twin(dtype: torch.dtype) -> None:
    mdp = hand_mdp(dtype)
    v, uniform = torch.tensor([2.0, 4.0], dtype=dtype), torch.tensor(UNIFORM, dtype=dtype)
    assert tensor_mdp.q_from_v(mdp, v).tolist() == [[1.0, 3.0], [4.0, 1.5]]
    assert tensor_mdp.bellman_optimality(mdp, v).tolist() == [3.0, 4.0]
    assert tensor_mdp.bellman_expectation(mdp, uniform, v).tolist() == [2.0, 2.75]
    rtol = 1e-6 if dtype is F32 else 1e-15
    assert tensor_mdp.policy_evaluation(mdp, uniform).tolist() == pytest.approx([9 / 7, 13 / 7], rel=rtol)
    assert tensor_mdp.value_iteration(mdp, tol=0.25, max_iterations=5).tolist() == [2.875, 3.875]
    with pytest.raises(HyperparameterError, match=re.escape("‖v_(k+1) − v_k‖∞ is 0.25 after max_iterations=4")):
        tensor_mdp.value_iteration(mdp, tol=0.25, max_iterations=4)
    best = tensor_mdp.greedy_policy(mdp, torch.tensor([2.875, 3.875], dtype=dtype))
    assert best.dtype is dtype
    assert best.tolist() == [[0.0, 1.0], [1.0, 0.0]]
    assert tensor_mdp.policy_evaluation(mdp, best).tolist() == pytest.approx([3.0, 4.0], rel=rtol)


def test_gamma_zero_takes_one_sweep_to_the_best_reward() -> None:
    mdp = spec_mdp.FiniteMDP(HAND_P, HAND_R, 0.0)
    assert spec_mdp.value_iteration(mdp, tol=1e-12, max_iterations=1) == [1.0, 2.0]
    twin = tensor_mdp.FiniteMDP(torch.tensor(HAND_P), torch.tensor(HAND_R), 0)
    assert tensor_mdp.value_iteration(twin, tol=1e-12, max_iterations=1).tolist() == [1.0, 2.0]


def test_greedy_breaks_an_exact_tie_to_action_zero() -> None:
    mdp = spec_mdp.FiniteMDP([[[1.0], [1.0], [1.0]]], [[1.0, 1.0, 0.5]], 0.9)
    assert spec_mdp.greedy_policy(mdp, [0.0]) == [[1.0, 0.0, 0.0]]
    twin = tensor_mdp.FiniteMDP(torch.tensor([[[1.0], [1.0], [1.0]]]), torch.tensor([[0.5, 1.0, 1.0]]), 0.9)
    assert tensor_mdp.greedy_policy(twin, torch.zeros(1)).tolist() == [[0.0, 1.0, 0.0]]


def test_the_spec_solver_pivots() -> None:
    # I − γ P_π never needs a row exchange (it is diagonally dominant), so the solver's pivoting is checked on a
    # system that does: a zero leading entry, and a tiny one that would lose every digit without the exchange.
    assert spec_mdp._solve([[0.0, 1.0], [1.0, 0.0]], [2.0, 3.0]) == [3.0, 2.0]
    assert spec_mdp._solve([[1e-20, 1.0], [1.0, 1.0]], [1.0, 2.0]) == pytest.approx([1.0, 1.0], rel=1e-15)
    assert spec_mdp._solve([[1.0, 2.0], [2.0, 4.0]], [1.0, 2.0]) is None  # singular


# Invalid input: typed errors that name the element, with expected versus got.

SPEC_RECORD_ERRORS = [
    ("row-sum", [[[0.9, 0.0]], [[0.0, 1.0]]], [[0.0], [0.0]], 0.5, InputError,
     "FiniteMDP: transitions[0][0] sums to 0.9; expected 1 within 1e-09 (a probability distribution over next states)"),
    ("negative", [[[1.5, -0.5]], [[0.0, 1.0]]], [[0.0], [0.0]], 0.5, InputError,
     "FiniteMDP: transitions[0][0][1] is -0.5; expected a probability >= 0"),
    ("nan-probability", [[[math.nan, 1.0]], [[0.0, 1.0]]], [[0.0], [0.0]], 0.5, InputError,
     "FiniteMDP: transitions[0][0][0] is nan; expected a finite real number"),
    ("inf-reward", [[[1.0]]], [[math.inf]], 0.5, InputError,
     "FiniteMDP: rewards[0][0] is inf; expected a finite real number"),
    ("gamma-one", [[[1.0]]], [[0.0]], 1.0, HyperparameterError,
     "FiniteMDP: gamma is 1.0; expected a finite real number in [0, 1) (with gamma = 1"),
    ("gamma-nan", [[[1.0]]], [[0.0]], math.nan, HyperparameterError,
     "FiniteMDP: gamma is nan; expected a finite real number in [0, 1)"),
    ("gamma-negative", [[[1.0]]], [[0.0]], -0.1, HyperparameterError,
     "FiniteMDP: gamma is -0.1; expected a finite real number in [0, 1)"),
    ("ragged-actions", [[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0]]], [[0.0, 0.0], [0.0, 0.0]], 0.5, InputError,
     "FiniteMDP: transitions[1] has 1 actions; expected 2 (as transitions[0])"),
    ("short-row", [[[1.0]], [[1.0]]], [[0.0], [0.0]], 0.5, InputError,
     "FiniteMDP: transitions[0][0] has 1 next states; expected 2 (one probability per state)"),
    ("rewards-states", [[[1.0]]], [[0.0], [0.0]], 0.5, InputError,
     "FiniteMDP: rewards has 2 states; expected 1 (as transitions)"),
    ("rewards-actions", [[[1.0], [1.0]]], [[0.0]], 0.5, InputError,
     "FiniteMDP: rewards[0] has 1 actions; expected 2 (as transitions)"),
    ("empty", [], [], 0.5, InputError,
     "FiniteMDP: transitions is empty; expected a list of S lists"),
    ("no-actions", [[]], [[]], 0.5, InputError,
     "FiniteMDP: transitions[0] is empty; expected a list of A rows"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("transitions", "rewards", "gamma", "error", "message"),
    [case[1:] for case in SPEC_RECORD_ERRORS],
    ids=[case[0] for case in SPEC_RECORD_ERRORS],
)
def test_spec_record_refuses_invalid_mdps(
    transitions: object, rewards: object, gamma: float, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        spec_mdp.FiniteMDP(transitions, rewards, gamma)  # type: ignore[arg-type]
    assert type(caught.value) is error
    assert str(caught.value).startswith(message)


def test_spec_record_tolerance_is_stated_and_bounded() -> None:
    loose = [[[0.9999]]]
    with pytest.raises(InputError, match=re.escape("sums to 0.9999; expected 1 within 1e-09")):
        spec_mdp.FiniteMDP(loose, [[0.0]], 0.5)
    assert spec_mdp.FiniteMDP(loose, [[0.0]], 0.5, tolerance=1e-3).tolerance == 1e-3
    with pytest.raises(HyperparameterError, match=re.escape("FiniteMDP: tolerance is 0.1; expected")):
        spec_mdp.FiniteMDP(loose, [[0.0]], 0.5, tolerance=0.1)


def with_entry(tensor: Tensor, index: tuple[int, ...], value: float | list[float]) -> Tensor:
    """A copy of ``tensor`` with ``tensor[index] = value``."""
    changed = tensor.clone()
    changed[index] = torch.tensor(value, dtype=tensor.dtype)
    return changed


TENSOR_RECORD_ERRORS = [
    ("row-sum", lambda p, r: (p * 0.9, r), InputError,
     "FiniteMDP: transitions[0, 0] sums to 0.9; expected 1 within 1e-09 (a probability distribution over next states)"),
    ("negative", lambda p, r: (with_entry(p, (1, 1), [1.5, -0.5]), r),
     InputError, "FiniteMDP: transitions[1, 1, 1] is -0.5; expected a probability >= 0"),
    ("nan", lambda p, r: (with_entry(p, (1, 1), [math.nan, 1.0]), r),
     InputError, "FiniteMDP: transitions[1, 1, 0] is nan; expected a finite real number"),
    ("inf-reward", lambda p, r: (p, with_entry(r, (0, 1), -math.inf)),
     InputError, "FiniteMDP: rewards[0, 1] is -inf; expected a finite real number"),
    ("shape", lambda p, r: (p[:, :, :1], r), InputError,
     "FiniteMDP: transitions has shape (2, 2, 1); expected [S, A, S] with S >= 1 and A >= 1"),
    ("rewards-shape", lambda p, r: (p, r[:, :1]), InputError,
     "FiniteMDP: rewards has shape (2, 1); expected (2, 2) ([S, A], as transitions)"),
    ("dtype", lambda p, r: (p, r.float()), InputError,
     "FiniteMDP: rewards has dtype torch.float32; expected torch.float64 (as transitions)"),
    ("half", lambda p, r: (p.half(), r.half()), InputError,
     "FiniteMDP: transitions has dtype torch.float16; expected torch.float32 or float64"),
    ("not-a-tensor", lambda p, r: (p.tolist(), r), InputError,
     "FiniteMDP: transitions is a list; expected a torch.Tensor"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [case[1:] for case in TENSOR_RECORD_ERRORS],
    ids=[case[0] for case in TENSOR_RECORD_ERRORS],
)
def test_tensor_record_refuses_invalid_mdps(
    change: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]], error: type[Exception], message: str
) -> None:
    transitions, rewards = change(torch.tensor(HAND_P, dtype=F64), torch.tensor(HAND_R, dtype=F64))
    with pytest.raises(error) as caught:
        tensor_mdp.FiniteMDP(transitions, rewards, 0.5)
    assert type(caught.value) is error
    assert str(caught.value) == message


@pytest.mark.parametrize("gamma", [1.0, 1, math.nan, math.inf, -0.5, True, "0.9"])
def test_both_records_refuse_a_gamma_outside_zero_to_one(gamma: object) -> None:
    with pytest.raises(HyperparameterError) as by_spec:
        spec_mdp.FiniteMDP(HAND_P, HAND_R, gamma)  # type: ignore[arg-type]
    with pytest.raises(HyperparameterError) as by_tensor:
        tensor_mdp.FiniteMDP(torch.tensor(HAND_P), torch.tensor(HAND_R), gamma)  # type: ignore[arg-type]
    assert str(by_spec.value) == str(by_tensor.value)
    assert "expected a finite real number in [0, 1)" in str(by_spec.value)


def test_float32_rows_get_the_float32_tolerance() -> None:
    rows = torch.tensor([[[0.999995, 0.0]], [[0.0, 1.0]]])
    assert tensor_mdp.FiniteMDP(rows, torch.zeros(2, 1), 0.5).tolerance == 1e-5
    with pytest.raises(InputError, match=r"transitions\[0, 0\] sums to 0\.99999\d+; expected 1 within 1e-09"):
        tensor_mdp.FiniteMDP(rows.double(), torch.zeros(2, 1, dtype=F64), 0.5)


SPEC_CALL_ERRORS = [
    ("values-length", lambda m: spec_mdp.bellman_optimality(m, [0.0]), InputError,
     "bellman_optimality: values has 1 states; expected 2 (one value per state of mdp)"),
    ("values-nan", lambda m: spec_mdp.q_from_v(m, [0.0, math.nan]), InputError,
     "q_from_v: values[1] is nan; expected a finite real number"),
    ("policy-sum", lambda m: spec_mdp.bellman_expectation(m, [[0.5, 0.5], [0.25, 0.25]], [0.0, 0.0]), InputError,
     "bellman_expectation: policy[1] sums to 0.5; expected 1 within 1e-09 (a probability distribution over actions)"),
    ("policy-negative", lambda m: spec_mdp.policy_evaluation(m, [[1.5, -0.5], [0.0, 1.0]]), InputError,
     "policy_evaluation: policy[0][1] is -0.5; expected a probability >= 0"),
    ("policy-shape", lambda m: spec_mdp.policy_evaluation(m, [[1.0], [1.0]]), InputError,
     "policy_evaluation: policy[0] has 1 actions; expected 2 (one probability per action of mdp)"),
    ("tol-zero", lambda m: spec_mdp.value_iteration(m, tol=0.0), HyperparameterError,
     "value_iteration: tol is 0.0; expected a finite real number > 0"),
    ("tol-nan", lambda m: spec_mdp.value_iteration(m, tol=math.nan), HyperparameterError,
     "value_iteration: tol is nan; expected a finite real number > 0"),
    ("max-iterations", lambda m: spec_mdp.iterative_policy_evaluation(m, UNIFORM, tol=1e-3, max_iterations=0),
     HyperparameterError, "iterative_policy_evaluation: max_iterations is 0; expected an int >= 1"),
    ("not-an-mdp", lambda m: spec_mdp.value_iteration(HAND_P, tol=1e-3), InputError,  # type: ignore[arg-type]
     "value_iteration: mdp is a list; expected a typedrl.spec.FiniteMDP"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "error", "message"), [case[1:] for case in SPEC_CALL_ERRORS], ids=[case[0] for case in SPEC_CALL_ERRORS]
)
def test_spec_functions_refuse_invalid_arguments(
    call: Callable[[spec_mdp.FiniteMDP], object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        call(spec_mdp.FiniteMDP(HAND_P, HAND_R, 0.5))
    assert type(caught.value) is error
    assert str(caught.value) == message


def f64(values: object) -> Tensor:
    return torch.tensor(values, dtype=F64)


TENSOR_CALL_ERRORS = [
    ("values-shape", lambda m: tensor_mdp.bellman_optimality(m, f64([0.0, 0.0, 0.0])), InputError,
     "bellman_optimality: values has shape (3,); expected (2,) ([S]: one value per state of mdp)"),
    ("values-nan", lambda m: tensor_mdp.q_from_v(m, f64([0.0, math.nan])), InputError,
     "q_from_v: values[1] is nan; expected a finite real number"),
    ("values-dtype", lambda m: tensor_mdp.greedy_policy(m, torch.zeros(2)), InputError,
     "greedy_policy: values has dtype torch.float32; expected torch.float64 (as mdp)"),
    ("policy-sum", lambda m: tensor_mdp.bellman_expectation(m, f64([[0.5, 0.5], [0.25, 0.25]]), f64([0.0, 0.0])),
     InputError, "bellman_expectation: policy[1] sums to 0.5; expected 1 within 1e-09 (a probability distribution "
     "over actions)"),
    ("policy-negative", lambda m: tensor_mdp.policy_evaluation(m, f64([[1.5, -0.5], [0.0, 1.0]])), InputError,
     "policy_evaluation: policy[0, 1] is -0.5; expected a probability >= 0"),
    ("policy-shape", lambda m: tensor_mdp.policy_evaluation(m, f64([[1.0], [1.0]])), InputError,
     "policy_evaluation: policy has shape (2, 1); expected (2, 2) ([S, A]: one row per state of mdp)"),
    ("tol-zero", lambda m: tensor_mdp.value_iteration(m, tol=0.0), HyperparameterError,
     "value_iteration: tol is 0.0; expected a finite real number > 0"),
    ("max-iterations", lambda m: tensor_mdp.iterative_policy_evaluation(m, f64(UNIFORM), tol=1e-3, max_iterations=0),
     HyperparameterError, "iterative_policy_evaluation: max_iterations is 0; expected an int >= 1"),
]  # fmt: skip


@pytest.mark.parametrize("shape_checks", [True, False], ids=["checks-on", "checks-off"])
@pytest.mark.parametrize(
    ("call", "error", "message"),
    [case[1:] for case in TENSOR_CALL_ERRORS],
    ids=[case[0] for case in TENSOR_CALL_ERRORS],
)
def test_tensor_functions_refuse_invalid_arguments(
    call: Callable[[tensor_mdp.FiniteMDP], object], error: type[Exception], message: str, shape_checks: bool
) -> None:
    # The boundary checks are always on: the shape-check switch changes nothing here.
    with typedrl.shape_checks(shape_checks), pytest.raises(error) as caught:
        call(hand_mdp())
    assert type(caught.value) is error
    assert str(caught.value) == message


def test_tensor_shape_checks_bind_states_across_arguments() -> None:
    # policy [2, 2] and values [3]: jaxtyping sees S = 2 and S = 3 while the checks are on.
    mdp, policy, values = hand_mdp(), f64(UNIFORM), f64([0.0, 0.0, 0.0])
    with pytest.raises(jaxtyping.TypeCheckError):
        tensor_mdp.bellman_expectation(mdp, policy, values)
    with typedrl.shape_checks(False), pytest.raises(InputError, match=re.escape("values has shape (3,)")):
        tensor_mdp.bellman_expectation(mdp, policy, values)


def test_both_layers_word_an_unmet_stopping_rule_alike() -> None:
    mdp = hand_mdp()
    with pytest.raises(HyperparameterError) as by_tensor:
        tensor_mdp.value_iteration(mdp, tol=1e-6, max_iterations=3)
    with pytest.raises(HyperparameterError) as by_spec:
        spec_mdp.value_iteration(to_spec_mdp(mdp), tol=1e-6, max_iterations=3)
    assert str(by_tensor.value) == str(by_spec.value)
    assert str(by_spec.value) == (
        "value_iteration: ‖v_(k+1) − v_k‖∞ is 0.5 after max_iterations=3 sweeps; expected <= 5e-07 = "
        "tol·(1 − gamma)/(2·gamma) for tol=1e-06, gamma=0.5. Raise max_iterations, or tol if it is below the values' "
        "rounding error"
    )


requires_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device: torch.cuda.is_available() is False"
)


@pytest.mark.cuda
@requires_cuda
@FEW
@given(case=mdp_policy_values(dtype=None))
def test_cuda_equals_cpu(case: tuple[tensor_mdp.FiniteMDP, Tensor, Tensor]) -> None:
    mdp, policy, v = case
    gpu = tensor_mdp.FiniteMDP(mdp.transitions.cuda(), mdp.rewards.cuda(), mdp.gamma)
    policy_gpu, v_gpu = policy.cuda(), v.cuda()
    rtol = 1e-10 if mdp.dtype is F64 else 1e-5
    pairs = {
        "q_from_v": (tensor_mdp.q_from_v(gpu, v_gpu), tensor_mdp.q_from_v(mdp, v)),
        "bellman_expectation": (
            tensor_mdp.bellman_expectation(gpu, policy_gpu, v_gpu),
            tensor_mdp.bellman_expectation(mdp, policy, v),
        ),
        "bellman_optimality": (tensor_mdp.bellman_optimality(gpu, v_gpu), tensor_mdp.bellman_optimality(mdp, v)),
        "policy_evaluation": (tensor_mdp.policy_evaluation(gpu, policy_gpu), tensor_mdp.policy_evaluation(mdp, policy)),
        "value_iteration": (tensor_mdp.value_iteration(gpu, tol=1e-2), tensor_mdp.value_iteration(mdp, tol=1e-2)),
    }
    for label, (on_gpu, on_cpu) in pairs.items():
        assert on_gpu.device.type == "cuda", label
        tolerance = 1e-2 if label == "value_iteration" else slack(mdp, v, rtol=rtol)
        assert sup(on_gpu.cpu(), on_cpu) <= tolerance, label


def test_tensor_functions_refuse_something_that_is_not_an_mdp() -> None:
    with pytest.raises(jaxtyping.TypeCheckError):  # the annotation, while the shape checks are on
        tensor_mdp.value_iteration(HAND_P, tol=1e-3)  # type: ignore[arg-type]
    with typedrl.shape_checks(False), pytest.raises(InputError) as caught:
        tensor_mdp.value_iteration(HAND_P, tol=1e-3)  # type: ignore[arg-type]
    assert str(caught.value) == "value_iteration: mdp is a list; expected a typedrl.mdp.FiniteMDP"
