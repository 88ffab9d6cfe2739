"""A user's own pipeline, type-checked by CI from outside the repository with ``mypy --strict`` and no config.

It proves that the README's install gives a package mypy can see (``py.typed``, a ``src/`` layout), and that
the public API's annotations are precise enough for a strict user: every line below must type-check as written.
"""

import torch

import typedrl
import typedrl.spec
from typedrl.testing import strategies

rewards = torch.ones(3)
values = next_values = torch.zeros(3)
flags = torch.zeros(3, dtype=torch.bool)
advantages: torch.Tensor = typedrl.gae(rewards, values, next_values, flags, flags, gamma=0.5, lam=1.0)
targets: torch.Tensor = typedrl.lambda_returns(rewards, values, next_values, flags, flags, gamma=0.5, lam=1.0)
reference: list[float] = typedrl.spec.gae([1.0], [0.0], [0.0], [False], [False], gamma=0.5, lam=1.0)
config: typedrl.PPOConfig = typedrl.ppo_preset("default", updates=2)
env: typedrl.CheckedVectorEnv = typedrl.make_env("CartPole-v1", num_envs=2, seed=0)
error: type[typedrl.TypedRLError] = typedrl.ContractViolation
_ = strategies
