"""One reader of environment spaces for training and evaluation alike: what the networks see and send.

:func:`read_spaces` checks that the observation and action spaces are ones typedrl's agents support and says what
the networks need (the observation's flat size, the number of actions, the first action's value). An unsupported
space is one :class:`~typedrl.errors.ConfigError` naming the environment and the space and listing what is
supported, whichever command meets it first (training, evaluation).

Discrete actions in records are indices ``k ∈ [0, n)``; a ``Discrete(n, start)`` environment receives
``start + k`` (docs/conventions.md). ``Box`` actions in records are what the policy sampled; the environment
receives them clipped to the space's bounds (what SB3 and CleanRL do). :func:`agent_actions` wraps a vector env so
that the agent sends indices or unclipped actions and the wrapped env receives ``start + k`` or the clipped ones.
"""

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from gymnasium import spaces
from gymnasium.vector import VectorEnv
from gymnasium.wrappers.vector import ClipAction, TransformAction

from typedrl.errors import ConfigError, TypedRLError

__all__ = ["SUPPORTED", "ActionKind", "Spaces", "agent_actions", "read_spaces"]

SUPPORTED = "Box observations, and Discrete or Box (floating, with at least one element) actions"
"""What the agents support today, as the errors say it."""

ActionKind = Literal["discrete", "box"]
"""How a policy acts: ``discrete`` (a categorical over ``A`` actions), ``box`` (a diagonal Gaussian)."""


@dataclass(frozen=True)
class Spaces:
    """What the networks need to know of an environment's spaces."""

    observation_shape: tuple[int, ...]
    """The shape of one observation (``*obs``)."""
    observation_size: int
    """Elements of one observation, flattened for an MLP."""
    n_actions: int
    """The actor's outputs: ``A`` discrete actions (logits), or the elements of a Box action (the mean)."""
    action_start: int
    """The value of action index 0 (``Discrete.start``; 0 for Box actions)."""
    action_kind: ActionKind = "discrete"
    """``discrete`` or ``box``."""
    action_shape: tuple[int, ...] = ()
    """The shape of one action in records (``*act``): ``()`` for Discrete, the Box's shape."""


def read_spaces(
    env_id: str,
    observation_space: object,
    action_space: object,
    *,
    error: type[TypedRLError] = ConfigError,
) -> Spaces:
    """Read ``observation_space`` and ``action_space`` (of one sub-environment); raise ``error`` when unsupported.

    A :class:`ConfigError` gets ``field="env_id"``.
    """

    def refuse(kind: str, space: object) -> TypedRLError:
        message = f"env {env_id!r} has {space} {kind}; typedrl's agents support {SUPPORTED}"
        return ConfigError(message, "env_id") if error is ConfigError else error(message)

    if not isinstance(observation_space, spaces.Box):
        raise refuse("observations", observation_space)
    if not np.issubdtype(observation_space.dtype, np.number) or observation_space.dtype == np.bool_:
        raise refuse("observations", observation_space)
    shape = tuple(int(size) for size in observation_space.shape)
    if isinstance(action_space, spaces.Discrete):
        return Spaces(
            observation_shape=shape,
            observation_size=math.prod(shape),
            n_actions=int(action_space.n),
            action_start=int(action_space.start),
        )
    if (
        isinstance(action_space, spaces.Box)
        and np.issubdtype(action_space.dtype, np.floating)
        and math.prod(action_space.shape) >= 1
    ):
        action_shape = tuple(int(size) for size in action_space.shape)
        return Spaces(
            observation_shape=shape,
            observation_size=math.prod(shape),
            n_actions=math.prod(action_shape),
            action_start=0,
            action_kind="box",
            action_shape=action_shape,
        )
    raise refuse("actions", action_space)


def agent_actions(env: VectorEnv[Any, Any, Any], layout: Spaces) -> VectorEnv[Any, Any, Any]:
    """``env`` taking the agent's actions: Discrete action indices ``k ∈ [0, n)`` sent as ``start + k`` (``env``
    itself when ``start`` is 0); Box actions of any value, sent clipped to the bounds (Gymnasium's ``ClipAction``).

    Wrap a checked env with this (not the other way round), so the contract checks what the environment receives.
    """
    if layout.action_kind == "box":
        return ClipAction(env)
    if layout.action_start == 0:
        return env
    start = layout.action_start
    single = spaces.Discrete(layout.n_actions)
    batch = spaces.MultiDiscrete(np.full(env.num_envs, layout.n_actions))
    return TransformAction(env, lambda actions: actions + start, action_space=batch, single_action_space=single)
