"""typedrl: typed, shape-checked reinforcement learning on torch and Gymnasium.

The public API is flat: everything below is importable as ``typedrl.NAME``. The plain-Python reference math
(the specification the fast functions are tested against) is :mod:`typedrl.spec`; hypothesis strategies and
oracles for your own property tests are in :mod:`typedrl.testing`; the configs in :mod:`typedrl.config`; the
``typedrl`` command in :mod:`typedrl.cli`.
"""

from typedrl.algos import PPO, EpochStats, Reinforce, UpdateStats
from typedrl.checkpoint import Checkpoint, load_checkpoint, restore, save_checkpoint
from typedrl.checks import set_shape_checks, shape_checks, shape_checks_enabled
from typedrl.collect import Policy, PolicyStep, RolloutCollector
from typedrl.config import EvalConfig, PPOConfig, ReinforceConfig, load_config, ppo_preset, reinforce_preset
from typedrl.contract import Contract, ContractOptions, ContractWarning
from typedrl.envs import CheckedEnv, CheckedVectorEnv, CheckReport, check_env, make_env
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
from typedrl.evaluate import EvalResult, evaluate
from typedrl.plot import plot_curve
from typedrl.policies import ActorCritic, SampledPolicy
from typedrl.records import ActorCriticSample, Rollout, Step
from typedrl.returns import discounted_returns, gae, lambda_returns, normalize_advantages, td_errors
from typedrl.runlog import RunLog, TrainLog, load_trainlog
from typedrl.runner import RunResult, train

__version__ = "0.1.0"

__all__ = [
    "PPO",
    "ActorCritic",
    "ActorCriticSample",
    "CheckReport",
    "CheckedEnv",
    "CheckedVectorEnv",
    "Checkpoint",
    "CheckpointError",
    "ConfigError",
    "Contract",
    "ContractOptions",
    "ContractViolation",
    "ContractWarning",
    "EnvError",
    "EpochStats",
    "EvalConfig",
    "EvalResult",
    "EvaluationError",
    "HyperparameterError",
    "InputError",
    "PPOConfig",
    "Policy",
    "PolicyStep",
    "Reinforce",
    "ReinforceConfig",
    "Rollout",
    "RolloutCollector",
    "RolloutError",
    "RunLog",
    "RunLogError",
    "RunResult",
    "SampledPolicy",
    "Step",
    "TrainLog",
    "TrainingError",
    "TypedRLError",
    "UpdateStats",
    "__version__",
    "check_env",
    "discounted_returns",
    "evaluate",
    "gae",
    "lambda_returns",
    "load_checkpoint",
    "load_config",
    "load_trainlog",
    "make_env",
    "normalize_advantages",
    "plot_curve",
    "ppo_preset",
    "reinforce_preset",
    "restore",
    "save_checkpoint",
    "set_shape_checks",
    "shape_checks",
    "shape_checks_enabled",
    "td_errors",
    "train",
]
