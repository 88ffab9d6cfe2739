"""One reader of environment spaces for training and evaluation alike: what the networks see and send.

:func:`read_spaces` checks that the observation and action spaces are ones typedrl's agents support and says what
the networks need (the observation's flat size, the number of actions, the first action's value). An unsupported
space is one :class:`~typedrl.errors.ConfigError` naming the environment and the space and listing what is
supported, whichever command meets it first (training, evaluation).

Discrete actions in records are indices ``k ∈ [0, n)``; a ``Discrete(n, start)`` environment receives
``start + k`` (docs/conventions.md). ``Box`` actions in records are what the policy sampled; the environment
receives them clipped to the space's bounds (what SB3 and CleanRL do). A ``Discrete(n)`` observation reaches the
networks one-hot (``n`` numbers), a ``Dict`` or ``Tuple`` one as one flat vector: its parts flattened (a Box
row-major, a Discrete one-hot) and concatenated in the space's order, a ``Dict``'s being its keys' order (Gymnasium
sorts the keys of a plain ``dict``), all by Gymnasium's ``FlattenObservation``.

:func:`agent_env` wraps a checked vector env so that the agent sees flat observations and sends indices or
unclipped actions, and the environment, checked by the contract, sees and receives its own.
"""

import math
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
from gymnasium import spaces
from gymnasium.vector import VectorEnv
from gymnasium.wrappers.vector import FlattenObservation, TransformAction

from typedrl.errors import ConfigError, TypedRLError

__all__ = ["SUPPORTED", "ActionKind", "Spaces", "agent_env", "read_spaces", "squash_to_bounds"]

SUPPORTED = (
    "Box (numeric) or Discrete observations, or a Dict or Tuple of those (nested too), and Discrete, MultiDiscrete "
    "(one axis, starting at 0) or Box (floating, with at least one element) actions"
)
"""What the agents support today, as the errors say it."""

ActionKind = Literal["discrete", "multi_discrete", "box"]
"""How a policy acts: ``discrete`` (a categorical over ``A`` actions), ``multi_discrete`` (one categorical per
component, independent), ``box`` (a diagonal Gaussian)."""


@dataclass(frozen=True)
class Spaces:
    """What the networks need to know of an environment's spaces."""

    observation_shape: tuple[int, ...]
    """The shape of one observation as the agent sees it (``*obs``): a Box's shape, ``(n,)`` for ``Discrete(n)``."""
    observation_size: int
    """Elements of one observation, flattened for an MLP."""
    n_actions: int
    """The actor's outputs: ``A`` discrete actions (logits), ``Σ nvec`` for MultiDiscrete (each component's
    logits, in order), or the elements of a Box action (the mean)."""
    action_start: int
    """The value of action index 0 (``Discrete.start``; 0 for the other kinds)."""
    action_kind: ActionKind = "discrete"
    """``discrete``, ``multi_discrete`` or ``box``."""
    action_shape: tuple[int, ...] = ()
    """The shape of one action in records (``*act``): ``()`` for Discrete, ``(k,)`` for MultiDiscrete, the Box's."""
    action_nvec: tuple[int, ...] = ()
    """MultiDiscrete: the number of choices of each of the ``k`` components (``nvec``)."""
    action_bounds: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    """Box actions: the bounds ``(low, high)`` of the ``A`` elements, flattened (what a squashed Gaussian scales
    to); ``None`` for the discrete kinds."""
    flattened_observations: bool = False
    """Whether the observations reach the agent flattened by Gymnasium's ``FlattenObservation``: ``Discrete``
    (one-hot), ``Dict`` and ``Tuple`` (the parts flattened and concatenated in the space's order)."""


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

    flattened = not isinstance(observation_space, spaces.Box)
    if not _observable(observation_space):
        raise refuse("observations", observation_space)
    if isinstance(observation_space, spaces.Box):
        shape: tuple[int, ...] = tuple(int(size) for size in observation_space.shape)
    else:
        shape = (int(spaces.flatdim(cast("spaces.Space[Any]", observation_space))),)
    if isinstance(action_space, spaces.Discrete):
        return Spaces(
            observation_shape=shape,
            observation_size=math.prod(shape),
            n_actions=int(action_space.n),
            action_start=int(action_space.start),
            flattened_observations=flattened,
        )
    if (
        isinstance(action_space, spaces.MultiDiscrete)
        and action_space.nvec.ndim == 1
        and action_space.nvec.size >= 1
        and not np.any(action_space.start)
    ):
        nvec = tuple(int(size) for size in action_space.nvec)
        return Spaces(
            observation_shape=shape,
            observation_size=math.prod(shape),
            n_actions=sum(nvec),
            action_start=0,
            action_kind="multi_discrete",
            action_shape=(len(nvec),),
            action_nvec=nvec,
            flattened_observations=flattened,
        )
    if (
        isinstance(action_space, spaces.Box)
        and np.issubdtype(action_space.dtype, np.floating)
        and math.prod(action_space.shape) >= 1
    ):
        action_shape = tuple(int(size) for size in action_space.shape)
        bounds = (
            tuple(float(value) for value in action_space.low.ravel()),
            tuple(float(value) for value in action_space.high.ravel()),
        )
        return Spaces(
            action_bounds=bounds,
            observation_shape=shape,
            observation_size=math.prod(shape),
            n_actions=math.prod(action_shape),
            action_start=0,
            action_kind="box",
            action_shape=action_shape,
            flattened_observations=flattened,
        )
    raise refuse("actions", action_space)


def _observable(space: object) -> bool:
    """A numeric Box, a Discrete, or a Dict or Tuple (with at least one part) of those, nested to any depth."""
    if isinstance(space, spaces.Box):
        return bool(np.issubdtype(space.dtype, np.number)) and space.dtype != np.bool_
    if isinstance(space, spaces.Discrete):
        return True
    if isinstance(space, spaces.Dict | spaces.Tuple):
        parts = list(space.spaces.values()) if isinstance(space, spaces.Dict) else list(space.spaces)
        return bool(parts) and all(_observable(part) for part in parts)
    return False


def squash_to_bounds(actions: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """``low + (tanh(u) + 1)·(high − low)/2``, clipped to ``[low, high]`` against rounding: a tanh-squashed
    Gaussian's sample ``u`` (any real) as the environment's action, in ``actions``' dtype."""
    squashed = low + (np.tanh(actions) + 1.0) * ((high - low) / 2.0)
    clipped: np.ndarray = np.clip(squashed, low, high).astype(actions.dtype, copy=False)
    return clipped


def agent_env(env: VectorEnv[Any, Any, Any], layout: Spaces, *, squash: bool = False) -> VectorEnv[Any, Any, Any]:
    """``env`` as the agent sees it: ``Discrete`` observations one-hot and ``Dict`` / ``Tuple`` ones flattened
    (Gymnasium's ``FlattenObservation``), and taking the agent's actions: Discrete action indices ``k ∈ [0, n)``
    sent as ``start + k``, Box actions of any value sent clipped to the bounds (what Gymnasium's ``ClipAction``
    does, as one ``np.clip`` of the batch: its vector version clips each sub-environment's action apart), or
    with ``squash`` (a tanh-squashed Gaussian's samples ``u``) sent as :func:`squash_to_bounds` of them. ``env``
    itself when nothing needs changing.

    Wrap a checked env with this (not the other way round), so the contract checks what the environment returns
    and receives.
    """
    if layout.flattened_observations:
        env = FlattenObservation(env)
    if layout.action_kind == "box":
        box = cast("spaces.Box", env.single_action_space)
        low, high, dtype = box.low, box.high, box.dtype
        shape = tuple(box.shape)

        def to_bounds(actions: Any) -> np.ndarray:
            batch = np.asarray(actions, dtype=dtype)
            return squash_to_bounds(batch, low, high) if squash else np.clip(batch, low, high)

        return TransformAction(
            env,
            to_bounds,
            action_space=spaces.Box(-np.inf, np.inf, (env.num_envs, *shape), dtype),
            single_action_space=spaces.Box(-np.inf, np.inf, shape, dtype),
        )
    if layout.action_start == 0:
        return env
    start = layout.action_start
    indices = spaces.Discrete(layout.n_actions)
    batch = spaces.MultiDiscrete(np.full(env.num_envs, layout.n_actions))
    return TransformAction(env, lambda actions: actions + start, action_space=batch, single_action_space=indices)
