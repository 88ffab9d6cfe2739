"""The specification on plain Python floats (no torch): return and advantage math one trajectory at a time, the
losses (:mod:`typedrl.spec.losses`) and finite MDPs (:mod:`typedrl.spec.mdp`).

These readable reverse loops are the oracle every fast tensor function in :mod:`typedrl` is tested against.
The equations and the meaning of every argument are on the conventions page (docs/conventions.md).
"""

from typedrl.spec.losses import (
    approx_kl_k1,
    approx_kl_k3,
    categorical_entropy,
    categorical_kl,
    categorical_log_prob,
    clipped_surrogate,
    gaussian_entropy,
    gaussian_log_prob,
    huber_loss,
    policy_gradient_loss,
    value_loss,
)
from typedrl.spec.mdp import (
    FiniteMDP,
    bellman_expectation,
    bellman_optimality,
    greedy_policy,
    iterative_policy_evaluation,
    policy_evaluation,
    q_from_v,
    sup_distance,
    value_iteration,
)
from typedrl.spec.returns import (
    MASK_MODES,
    VTrace,
    discounted_returns,
    gae,
    lambda_returns,
    n_step_returns,
    normalize_advantages,
    td_errors,
    vtrace,
)

__all__ = [
    "MASK_MODES",
    "FiniteMDP",
    "VTrace",
    "approx_kl_k1",
    "approx_kl_k3",
    "bellman_expectation",
    "bellman_optimality",
    "categorical_entropy",
    "categorical_kl",
    "categorical_log_prob",
    "clipped_surrogate",
    "discounted_returns",
    "gae",
    "gaussian_entropy",
    "gaussian_log_prob",
    "greedy_policy",
    "huber_loss",
    "iterative_policy_evaluation",
    "lambda_returns",
    "n_step_returns",
    "normalize_advantages",
    "policy_evaluation",
    "policy_gradient_loss",
    "q_from_v",
    "sup_distance",
    "td_errors",
    "value_iteration",
    "value_loss",
    "vtrace",
]
