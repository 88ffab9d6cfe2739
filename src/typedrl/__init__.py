"""typedrl: typed, shape-checked reinforcement learning on torch and Gymnasium.

The public API is flat: everything below is importable as ``typedrl.NAME``. The plain-Python reference math
(the specification the fast functions are tested against) is :mod:`typedrl.spec`; hypothesis strategies and
oracles for your own property tests are in :mod:`typedrl.testing`; the configs in :mod:`typedrl.config`; the
``typedrl`` command in :mod:`typedrl.cli`.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names, eagerly, for type checkers and IDEs
    from typedrl.algos import PPO, Algorithm, BatchedPPO, Reinforce, UpdateStats, register
    from typedrl.checkpoint import Checkpoint, load_checkpoint, restore, save_checkpoint
    from typedrl.checks import set_shape_checks, shape_checks, shape_checks_enabled
    from typedrl.collect import Policy, PolicyStep, RolloutCollector
    from typedrl.collect_tensor import TensorRolloutCollector
    from typedrl.config import (
        AlgoConfig,
        EvalConfig,
        PPOConfig,
        ReinforceConfig,
        load_config,
        ppo_preset,
        reinforce_preset,
    )
    from typedrl.contract import Contract, ContractOptions, ContractWarning
    from typedrl.envs import (
        TENSOR_ENVS,
        AcrobotTensorEnv,
        CartPoleTensorEnv,
        CheckedEnv,
        CheckedTensorVectorEnv,
        CheckedVectorEnv,
        CheckReport,
        ContinuousMountainCarTensorEnv,
        MountainCarTensorEnv,
        PendulumTensorEnv,
        TensorVectorEnv,
        check_env,
        make_env,
        make_tensor_env,
    )
    from typedrl.errors import (
        CheckpointError,
        ConfigError,
        ContractViolation,
        EnvError,
        EvaluationError,
        HyperparameterError,
        InputError,
        RolloutError,
        RunLogError,
        TrainingError,
        TypedRLError,
    )
    from typedrl.evaluation import EvalResult, evaluate
    from typedrl.losses import (
        PPOLoss,
        approx_kl_k1,
        approx_kl_k3,
        categorical_kl,
        clipped_surrogate,
        huber_loss,
        policy_gradient_loss,
        ppo_loss,
        value_loss,
    )
    from typedrl.mdp import (
        FiniteMDP,
        bellman_expectation,
        bellman_optimality,
        greedy_policy,
        iterative_policy_evaluation,
        policy_evaluation,
        q_from_v,
        value_iteration,
    )
    from typedrl.plot import plot_curve, plot_curves
    from typedrl.policies import ActorCritic, SampledPolicy
    from typedrl.records import ActorCriticSample, Rollout, Step
    from typedrl.replay import NStepTransitions, ReplayBuffer, Transitions
    from typedrl.returns import (
        MaskMode,
        VTrace,
        discounted_returns,
        gae,
        lambda_returns,
        n_step_returns,
        normalize_advantages,
        td_errors,
        vtrace,
    )
    from typedrl.runlog import RunLog, TrainLog, load_trainlog
    from typedrl.runner import RunInterrupted, RunResult, train
    from typedrl.sinks import Callback, TensorBoardSink
    from typedrl.stacked import StackedActorCritic, StackedAdam

# The public API is imported lazily (PEP 562): `import typedrl` is instant, `typedrl.NAME` imports NAME's module on
# first use. So `typedrl --help` needs no torch, and an interrupt or a bad environment variable while torch loads
# is handled by the command line instead of escaping as a traceback at import.
_LAZY: dict[str, str] = {
    "BatchedPPO": "typedrl.algos",
    "TensorRolloutCollector": "typedrl.collect_tensor",
    "TENSOR_ENVS": "typedrl.envs",
    "AcrobotTensorEnv": "typedrl.envs",
    "CartPoleTensorEnv": "typedrl.envs",
    "CheckedTensorVectorEnv": "typedrl.envs",
    "ContinuousMountainCarTensorEnv": "typedrl.envs",
    "MountainCarTensorEnv": "typedrl.envs",
    "PendulumTensorEnv": "typedrl.envs",
    "TensorVectorEnv": "typedrl.envs",
    "make_tensor_env": "typedrl.envs",
    "StackedActorCritic": "typedrl.stacked",
    "StackedAdam": "typedrl.stacked",
    "ActorCritic": "typedrl.policies",
    "ActorCriticSample": "typedrl.records",
    "CheckReport": "typedrl.envs",
    "CheckedEnv": "typedrl.envs",
    "CheckedVectorEnv": "typedrl.envs",
    "Checkpoint": "typedrl.checkpoint",
    "CheckpointError": "typedrl.errors",
    "ConfigError": "typedrl.errors",
    "Contract": "typedrl.contract",
    "ContractOptions": "typedrl.contract",
    "ContractViolation": "typedrl.errors",
    "ContractWarning": "typedrl.contract",
    "EnvError": "typedrl.errors",
    "Algorithm": "typedrl.algos",
    "AlgoConfig": "typedrl.config",
    "Callback": "typedrl.sinks",
    "RunInterrupted": "typedrl.runner",
    "TensorBoardSink": "typedrl.sinks",
    "register": "typedrl.algos",
    "EvalConfig": "typedrl.config",
    "EvalResult": "typedrl.evaluation",
    "EvaluationError": "typedrl.errors",
    "HyperparameterError": "typedrl.errors",
    "InputError": "typedrl.errors",
    "PPO": "typedrl.algos",
    "PPOConfig": "typedrl.config",
    "PPOLoss": "typedrl.losses",
    "ppo_loss": "typedrl.losses",
    "Policy": "typedrl.collect",
    "PolicyStep": "typedrl.collect",
    "Reinforce": "typedrl.algos",
    "ReinforceConfig": "typedrl.config",
    "Rollout": "typedrl.records",
    "RolloutCollector": "typedrl.collect",
    "RolloutError": "typedrl.errors",
    "RunLog": "typedrl.runlog",
    "RunLogError": "typedrl.errors",
    "RunResult": "typedrl.runner",
    "SampledPolicy": "typedrl.policies",
    "Step": "typedrl.records",
    "TrainLog": "typedrl.runlog",
    "TrainingError": "typedrl.errors",
    "TypedRLError": "typedrl.errors",
    "UpdateStats": "typedrl.algos",
    "check_env": "typedrl.envs",
    "discounted_returns": "typedrl.returns",
    "evaluate": "typedrl.evaluation",
    "gae": "typedrl.returns",
    "lambda_returns": "typedrl.returns",
    "load_checkpoint": "typedrl.checkpoint",
    "load_config": "typedrl.config",
    "load_trainlog": "typedrl.runlog",
    "make_env": "typedrl.envs",
    "normalize_advantages": "typedrl.returns",
    "plot_curve": "typedrl.plot",
    "plot_curves": "typedrl.plot",
    "ppo_preset": "typedrl.config",
    "reinforce_preset": "typedrl.config",
    "restore": "typedrl.checkpoint",
    "save_checkpoint": "typedrl.checkpoint",
    "set_shape_checks": "typedrl.checks",
    "shape_checks": "typedrl.checks",
    "shape_checks_enabled": "typedrl.checks",
    "td_errors": "typedrl.returns",
    "train": "typedrl.runner",
    "MaskMode": "typedrl.returns",
    "VTrace": "typedrl.returns",
    "n_step_returns": "typedrl.returns",
    "vtrace": "typedrl.returns",
    "FiniteMDP": "typedrl.mdp",
    "bellman_expectation": "typedrl.mdp",
    "bellman_optimality": "typedrl.mdp",
    "greedy_policy": "typedrl.mdp",
    "iterative_policy_evaluation": "typedrl.mdp",
    "policy_evaluation": "typedrl.mdp",
    "q_from_v": "typedrl.mdp",
    "value_iteration": "typedrl.mdp",
    "approx_kl_k1": "typedrl.losses",
    "approx_kl_k3": "typedrl.losses",
    "categorical_kl": "typedrl.losses",
    "clipped_surrogate": "typedrl.losses",
    "huber_loss": "typedrl.losses",
    "policy_gradient_loss": "typedrl.losses",
    "value_loss": "typedrl.losses",
    "ReplayBuffer": "typedrl.replay",
    "Transitions": "typedrl.replay",
    "NStepTransitions": "typedrl.replay",
}


if not TYPE_CHECKING:  # hidden from type checkers, so a misspelt name stays an error for them

    def __getattr__(name: str) -> Any:
        """Import the module that defines ``name`` on first use, and keep ``name`` as an attribute."""
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module 'typedrl' has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *_LAZY})


__version__ = "0.1.0"

__all__ = [
    "PPO",
    "TENSOR_ENVS",
    "AcrobotTensorEnv",
    "ActorCritic",
    "ActorCriticSample",
    "AlgoConfig",
    "Algorithm",
    "BatchedPPO",
    "Callback",
    "CartPoleTensorEnv",
    "CheckReport",
    "CheckedEnv",
    "CheckedTensorVectorEnv",
    "CheckedVectorEnv",
    "Checkpoint",
    "CheckpointError",
    "ConfigError",
    "ContinuousMountainCarTensorEnv",
    "Contract",
    "ContractOptions",
    "ContractViolation",
    "ContractWarning",
    "EnvError",
    "EvalConfig",
    "EvalResult",
    "EvaluationError",
    "FiniteMDP",
    "HyperparameterError",
    "InputError",
    "MaskMode",
    "MountainCarTensorEnv",
    "NStepTransitions",
    "PPOConfig",
    "PPOLoss",
    "PendulumTensorEnv",
    "Policy",
    "PolicyStep",
    "Reinforce",
    "ReinforceConfig",
    "ReplayBuffer",
    "Rollout",
    "RolloutCollector",
    "RolloutError",
    "RunInterrupted",
    "RunLog",
    "RunLogError",
    "RunResult",
    "SampledPolicy",
    "StackedActorCritic",
    "StackedAdam",
    "Step",
    "TensorBoardSink",
    "TensorRolloutCollector",
    "TensorVectorEnv",
    "TrainLog",
    "TrainingError",
    "Transitions",
    "TypedRLError",
    "UpdateStats",
    "VTrace",
    "__version__",
    "approx_kl_k1",
    "approx_kl_k3",
    "bellman_expectation",
    "bellman_optimality",
    "categorical_kl",
    "check_env",
    "clipped_surrogate",
    "discounted_returns",
    "evaluate",
    "gae",
    "greedy_policy",
    "huber_loss",
    "iterative_policy_evaluation",
    "lambda_returns",
    "load_checkpoint",
    "load_config",
    "load_trainlog",
    "make_env",
    "make_tensor_env",
    "n_step_returns",
    "normalize_advantages",
    "plot_curve",
    "plot_curves",
    "policy_evaluation",
    "policy_gradient_loss",
    "ppo_loss",
    "ppo_preset",
    "q_from_v",
    "register",
    "reinforce_preset",
    "restore",
    "save_checkpoint",
    "set_shape_checks",
    "shape_checks",
    "shape_checks_enabled",
    "td_errors",
    "train",
    "value_iteration",
    "value_loss",
    "vtrace",
]
