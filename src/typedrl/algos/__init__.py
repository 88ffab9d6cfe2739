"""The training algorithms, behind one protocol (:class:`~typedrl.algos.base.Algorithm`).

:class:`~typedrl.algos.ppo.PPO` and :class:`~typedrl.algos.reinforce.Reinforce` each read top to bottom like the
paper's pseudo-code in their own module and call typedrl's tensor layer for returns and advantages; importing
this package registers them (:func:`~typedrl.algos.base.register`), so the runner, config files, checkpoints and
the command line find them by name. :func:`typedrl.runner.train` runs any registered algorithm with evaluation,
logs and checkpoints.
"""

from typedrl._spaces import Spaces
from typedrl.algos.base import (
    Algorithm,
    AlgorithmSpec,
    UpdateStats,
    algorithm_names,
    algorithm_spec,
    register,
    resolve_device,
    spaces_of,
    training_env,
)
from typedrl.algos.batched import BatchedPPO
from typedrl.algos.flat import FlatParameters
from typedrl.algos.ppo import PPO
from typedrl.algos.reinforce import Reinforce

__all__ = [
    "PPO",
    "Algorithm",
    "AlgorithmSpec",
    "BatchedPPO",
    "FlatParameters",
    "Reinforce",
    "Spaces",
    "UpdateStats",
    "algorithm_names",
    "algorithm_spec",
    "register",
    "resolve_device",
    "spaces_of",
    "training_env",
]
