"""Hypothesis strategies and oracles for property tests of return and advantage math.

Use them to test your own GAE (or returns) against typedrl's specification::

    from hypothesis import given
    from typedrl.testing import TrajectoryBatch, assert_matches_reference, lams, trajectory_batches

    @given(batch=trajectory_batches(), lam=lams())
    def test_my_gae(batch: TrajectoryBatch, lam: float) -> None:
        assert_matches_reference(my_gae, batch, lam=lam)

This module needs hypothesis, which typedrl does not install by default: ``pip install "typedrl[testing]"``
(docs/property-testing.md). The strategies build CPU tensors; move them with ``.to(device)`` inside your test.
"""

try:
    import hypothesis  # noqa: F401
except ImportError as missing:
    raise ImportError('typedrl.testing needs hypothesis: pip install "typedrl[testing]"') from missing

from typedrl.testing.batch import TrajectoryBatch
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
from typedrl.testing.oracles import (
    GaeFunction,
    assert_close_to_reference,
    assert_matches_reference,
    reference_discounted_returns,
    reference_gae,
    reference_lambda_returns,
    reference_n_step_returns,
    reference_normalized_advantages,
    reference_td_errors,
    reference_vtrace,
)
from typedrl.testing.strategies import gammas, lams, trajectory_batches

__all__ = [
    "GaeFunction",
    "TrajectoryBatch",
    "assert_close_to_reference",
    "assert_matches_reference",
    "finite_mdps",
    "gammas",
    "lams",
    "policies",
    "reference_bellman_expectation",
    "reference_bellman_optimality",
    "reference_discounted_returns",
    "reference_gae",
    "reference_greedy_policy",
    "reference_iterative_policy_evaluation",
    "reference_lambda_returns",
    "reference_n_step_returns",
    "reference_normalized_advantages",
    "reference_optimal_values",
    "reference_policy_evaluation",
    "reference_q_from_v",
    "reference_td_errors",
    "reference_value_iteration",
    "reference_vtrace",
    "to_spec_mdp",
    "trajectory_batches",
    "value_functions",
]
