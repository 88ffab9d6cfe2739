"""The training algorithms: :class:`~typedrl.algos.ppo.PPO` and :class:`~typedrl.algos.reinforce.Reinforce`.

Each module reads top to bottom like the paper's pseudo-code and calls typedrl's tensor layer for returns and
advantages. :func:`typedrl.runner.train` runs either with evaluation, logs and checkpoints.
"""

from typedrl.algos.ppo import PPO, UpdateStats
from typedrl.algos.reinforce import EpochStats, Reinforce

__all__ = ["PPO", "EpochStats", "Reinforce", "UpdateStats"]
