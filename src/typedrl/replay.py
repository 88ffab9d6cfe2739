"""A typed, fixed-capacity FIFO replay buffer (:class:`ReplayBuffer`) and the batches it samples (:class:`Transitions`,
:class:`NStepTransitions`).

Experience replay (Lin 1992, "Self-improving reactive agents based on reinforcement learning, planning and
teaching", Machine Learning 8; Mnih et al. 2015, "Human-level control through deep reinforcement learning", Nature
518) keeps the last ``C`` transitions an agent made and trains on uniform samples of them. Peers: Stable-Baselines3's
``ReplayBuffer`` (``stable_baselines3.common.buffers``; CleanRL's DQN uses it) and TorchRL's ``ReplayBuffer`` over a
``LazyTensorStorage``.

A transition is ``(observation, action, reward, next_observation, terminated, truncated)`` with the meanings of
docs/conventions.md: ``reward`` is what ``env.step(action)`` returned, ``terminated`` stops bootstrapping,
``truncated`` bootstraps, and ``next_observation`` is the observation the step really produced: **at a done step,
the episode's final observation, never the one an automatic reset put in its place** (under Gymnasium's
``SAME_STEP`` autoreset it is ``info["final_obs"][n]``; under ``NEXT_STEP`` it is what ``step`` returned, and the
following reset step of that sub-environment is no transition and must not be stored).

The storage is preallocated at construction: ``C`` rows of each field, on one device, in fixed dtypes. Rows are
written as a ring in push order, overwriting the oldest, so after ``pushed`` transitions in all the buffer holds the
last ``min(pushed, C)`` of them, oldest first (the invariant TorchLean's replay buffer lemmas ``push_size_of_room``
and ``push_size_of_full`` state for one push).

Everything a caller hands in is checked at the boundary, always (the shape-check switch does not remove these
checks), in a few vectorized reductions per call, never a Python loop over elements: tensors, shapes, dtypes, finite
floats, non-negative discrete actions, bool flags. A bad input raises :class:`~typedrl.errors.InputError` naming the
method, the field, the row and expected versus got, and writes nothing, e.g.
``ReplayBuffer.extend: rewards[3] is nan; expected a finite float``. While :mod:`typedrl.checks` is on, jaxtyping +
beartype also bind ``N``, ``*obs`` and ``*act`` across the fields of each call.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, NamedTuple

import numpy as np
import torch
from jaxtyping import Bool, Float, Int64, Shaped
from torch import Tensor

from typedrl import _validate
from typedrl._spaces import SUPPORTED, read_spaces
from typedrl._validate import describe, first_true
from typedrl.checks import checked
from typedrl.errors import CheckpointError, HyperparameterError, InputError
from typedrl.returns import n_step_returns

__all__ = ["NStepTransitions", "ReplayBuffer", "Transitions"]

# The fields of a transition, in the order of the dataclass and of the state dict.
_FIELDS: Final = ("observations", "actions", "rewards", "next_observations", "terminated", "truncated")
_FLAGS: Final = ("terminated", "truncated")
# What push calls each field (one transition).
_SINGULAR: Final = {
    "observations": "observation",
    "actions": "action",
    "rewards": "reward",
    "next_observations": "next_observation",
    "terminated": "terminated",
    "truncated": "truncated",
}
_STATE_FORMAT: Final = "typedrl.ReplayBuffer"
_STATE_VERSION: Final = 1
_STATE_KEYS: Final = (
    "format",
    "version",
    "capacity",
    "pushed",
    "observation_shape",
    "action_shape",
    "action_dtype",
    "dtype",
    *_FIELDS,
)


# --- Transitions -------------------------------------------------------------------------------------------------


@checked
def _bind_flat_dimensions(
    observations: Float[Tensor, " B *obs"],
    actions: Shaped[Tensor, " B *act"],
    rewards: Float[Tensor, " B"],
    next_observations: Float[Tensor, " B *obs"],
    terminated: Bool[Tensor, " B"],
    truncated: Bool[Tensor, " B"],
) -> None:
    """jaxtyping binds ``B``, ``*obs`` and ``*act`` across the fields of a flat batch (and of one ``extend``)."""


@checked
def _bind_window_dimensions(
    observations: Float[Tensor, " T B *obs"],
    actions: Shaped[Tensor, " T B *act"],
    rewards: Float[Tensor, " T B"],
    next_observations: Float[Tensor, " T B *obs"],
    terminated: Bool[Tensor, " T B"],
    truncated: Bool[Tensor, " T B"],
) -> None:
    """jaxtyping binds ``T``, ``B``, ``*obs`` and ``*act`` across the fields of a time-major batch of windows."""


def _at(name: str, index: Sequence[int]) -> str:
    """``name[i, j]``, or ``name`` alone for a scalar."""
    return f"{name}[{', '.join(map(str, index))}]" if len(index) else name


def _check_dense(where: str, name: str, tensor: object, *, expected: str) -> Tensor:
    """A dense torch tensor on a device that holds values; ``expected`` describes the wanted tensor."""
    if not isinstance(tensor, Tensor):
        raise InputError(f"{where}: {name} is {describe(tensor)}; expected a torch.Tensor {expected}")
    if tensor.is_nested:
        raise InputError(f"{where}: {name} is a nested tensor; expected a dense tensor (torch.strided)")
    if tensor.layout is not torch.strided:
        raise InputError(f"{where}: {name} has layout {tensor.layout}; expected a dense tensor (torch.strided)")
    if tensor.is_meta:
        raise InputError(f"{where}: {name} is on meta; expected a device that holds values, such as cpu or cuda")
    return tensor


def _check_values(
    where: str, checked_tensors: Mapping[str, Tensor], originals: Mapping[str, Tensor], *, single: bool = False
) -> None:
    """Floats finite and discrete actions non-negative, in a few reductions; the element search runs only on failure.

    ``checked_tensors`` are the tensors as they will be stored (converted), ``originals`` what the caller passed
    (for the message); ``single`` drops the leading row index (one transition, unsqueezed) and names the field in
    the singular.
    """
    actions = checked_tensors["actions"]
    floats = ["observations", "rewards", "next_observations"]
    if actions.is_floating_point():
        floats.insert(1, "actions")
    elif actions.numel() and bool(actions.min() < 0):
        index = first_true(actions < 0)
        name = _SINGULAR["actions"] if single else "actions"
        shown = index[1:] if single else index
        raise InputError(
            f"{where}: {_at(name, shown)} is {int(actions[index])}; expected a non-negative integer (an action index)"
        )
    # A NaN or an infinity anywhere makes a sum non-finite; the element-wise search runs only then (a finite sum
    # that overflows lands there too, and passes). As in typedrl.records: sums are far cheaper than isfinite().
    total = sum(checked_tensors[name].sum() for name in floats)
    if bool(torch.isfinite(torch.as_tensor(total))):
        return
    for name in floats:
        tensor = checked_tensors[name]
        bad = ~torch.isfinite(tensor)
        if bool(bad.any()):
            index = first_true(bad)
            original = float(originals[name][index])
            shown = index[1:] if single else index
            label = _SINGULAR[name] if single else name
            overflow = "" if not math.isfinite(original) else f" (it overflows {tensor.dtype})"
            raise InputError(f"{where}: {_at(label, shown)} is {original!r}; expected a finite float{overflow}")


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class Transitions:
    """A batch of transitions: flat ``[B, ...]`` from :meth:`ReplayBuffer.sample`, or time-major ``[T, B, ...]``
    windows from :meth:`ReplayBuffer.sample_sequences`. ``*batch`` below is ``B`` or ``T, B``.

    Fields: ``observations [*batch, *obs]`` (``s_t``), ``actions [*batch, *act]`` (int64 indices ``≥ 0`` for
    Discrete actions, int64 ``[*batch, k]`` for MultiDiscrete ones, floating and finite for Box ones), ``rewards
    [*batch]`` (``r_t``), ``next_observations [*batch, *obs]`` (``s_{t+1}``: the final observation at a done step),
    ``terminated``, ``truncated`` (``[*batch]`` bool). ``observations``, ``next_observations`` and ``rewards`` share
    one floating dtype and are finite; everything is on one device. Meanings as in docs/conventions.md.

    Validated at construction (a batch the buffer samples is valid by construction and skips it); the checks raise
    :class:`~typedrl.errors.InputError` naming the field and expected versus got, e.g.
    ``Transitions: next_observations has shape (8, 3); expected (8, 4) (as observations)``. While
    :mod:`typedrl.checks` is on, jaxtyping + beartype also bind ``B`` (and ``T``), ``*obs`` and ``*act``.

    Peers: the ``ReplayBufferSamples`` named tuple of Stable-Baselines3 (``observations``, ``actions``,
    ``next_observations``, ``dones``, ``rewards``; with ``handle_timeout_termination`` its ``dones`` are
    typedrl's ``terminated``).
    """

    # jaxtyping allows one variadic axis per annotation: "..." stands for "*batch *obs" (and "*batch *act").
    observations: Float[Tensor, "..."]
    actions: Shaped[Tensor, "..."]
    rewards: Float[Tensor, " *batch"]
    next_observations: Float[Tensor, "..."]
    terminated: Bool[Tensor, " *batch"]
    truncated: Bool[Tensor, " *batch"]

    def __post_init__(self) -> None:
        where = "Transitions"
        rewards = _check_dense(where, "rewards", self.rewards, expected="[B] or [T, B]")
        if rewards.dim() not in (1, 2):
            raise InputError(f"{where}: rewards has shape {tuple(rewards.shape)}; expected [B] or [T, B]")
        lead = tuple(rewards.shape)
        layout = "[B" if len(lead) == 1 else "[T, B"
        for name in _FIELDS:
            tensor = _check_dense(where, name, getattr(self, name), expected=f"{layout}, ...]")
            if tensor.device != rewards.device:
                raise InputError(f"{where}: {name} is on {tensor.device}; expected {rewards.device} (as rewards)")
            if tensor.dim() < len(lead) or tuple(tensor.shape[: len(lead)]) != lead:
                trailing = "]" if name in ("rewards", *_FLAGS) else (", *act]" if name == "actions" else ", *obs]")
                raise InputError(
                    f"{where}: {name} has shape {tuple(tensor.shape)}; expected {layout}{trailing} with "
                    f"{'B' if len(lead) == 1 else 'T, B'} = {', '.join(map(str, lead))} (as rewards)"
                )
            if name in _FLAGS:
                if tensor.dim() != len(lead):
                    raise InputError(f"{where}: {name} has shape {tuple(tensor.shape)}; expected {lead} (as rewards)")
                if tensor.dtype is not torch.bool:
                    raise InputError(f"{where}: {name} has dtype {tensor.dtype}; expected torch.bool")
        observations = self.observations
        if self.next_observations.shape != observations.shape:
            raise InputError(
                f"{where}: next_observations has shape {tuple(self.next_observations.shape)}; expected "
                f"{tuple(observations.shape)} (as observations)"
            )
        if not rewards.is_floating_point():
            raise InputError(f"{where}: rewards has dtype {rewards.dtype}; expected a floating dtype")
        for name in ("observations", "next_observations"):
            if getattr(self, name).dtype is not rewards.dtype:
                raise InputError(
                    f"{where}: {name} has dtype {getattr(self, name).dtype}; expected {rewards.dtype} (as rewards)"
                )
        actions = self.actions
        if not actions.is_floating_point():
            if actions.dtype is not torch.int64:
                raise InputError(
                    f"{where}: actions has dtype {actions.dtype}; expected torch.int64 (discrete) or a floating "
                    "dtype (Box)"
                )
            if actions.dim() > len(lead) + 1:
                raise InputError(
                    f"{where}: actions has shape {tuple(actions.shape)} and dtype torch.int64; expected {layout}] "
                    f"or {layout}, k] (discrete action indices, one per MultiDiscrete component)"
                )
        tensors = {name: getattr(self, name) for name in _FIELDS}
        _check_values(where, tensors, tensors)
        bind = _bind_flat_dimensions if len(lead) == 1 else _bind_window_dimensions
        bind(*(tensors[name] for name in _FIELDS))

    @classmethod
    def _trusted(cls, **fields: Tensor) -> "Transitions":
        """A batch gathered from a buffer's validated storage: valid by construction, so not checked again."""
        batch = object.__new__(cls)
        for name in _FIELDS:
            object.__setattr__(batch, name, fields[name])
        return batch

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """``(B,)`` for a flat batch, ``(T, B)`` for windows: the shape of ``rewards``."""
        return tuple(self.rewards.shape)

    @property
    def done(self) -> Bool[Tensor, " *batch"]:
        """``terminated | truncated``: the episode ended at this transition."""
        return self.terminated | self.truncated

    def to(self, device: torch.device | str) -> "Transitions":
        """The same batch with every tensor on ``device``.

        Raises:
            InputError: ``device`` is not one this torch can use (e.g. CUDA on a torch without it).
        """
        target = _validate.device("Transitions.to", device, error=InputError)
        return replace(self, **{name: getattr(self, name).to(target) for name in _FIELDS})

    def __repr__(self) -> str:
        lead = len(self.batch_shape)
        return (
            f"Transitions(batch_shape={self.batch_shape}, observation_shape={tuple(self.observations.shape[lead:])},"
            f" action_shape={tuple(self.actions.shape[lead:])}, dtype={self.rewards.dtype},"
            f" device={self.rewards.device})"
        )


# --- NStepTransitions --------------------------------------------------------------------------------------------


class NStepTransitions(NamedTuple):
    """A batch of n-step transitions from :meth:`ReplayBuffer.sample_n_step`: ``B`` start transitions, each with
    what the next ``m ≤ n`` stored steps of its environment add to it. Everything is on the buffer's device.

    For the window ``t … e`` of start ``t`` (``m = e − t + 1`` steps; ``e`` the first done step, the ``n``-th
    step, or the last step held before the write head, whichever comes first) the n-step target of a value
    ``V`` (or ``max_a Q``) is::

        target = rewards + discounts · V(next_observations)

    which is :func:`typedrl.returns.n_step_returns` of the window with ``V(next_observations)`` as the window's
    last ``next_values``. With ``n = 1`` the fields are those :meth:`ReplayBuffer.sample` gives for the same
    generator state, plus ``discounts = γ · (1 − terminated)`` and ``steps = 1``.

    Peers: the ``ReplayBufferSamples`` of Stable-Baselines3's ``NStepReplayBuffer`` (``rewards`` the n-step sums,
    ``discounts`` the bootstrap discounts).
    """

    observations: Float[Tensor, " B *obs"]
    """``s_t``: the start transition's observation."""
    actions: Shaped[Tensor, " B *act"]
    """``a_t``: the start transition's action (int64 indices, or floating Box actions)."""
    rewards: Float[Tensor, " B"]
    """``Σ_{k<m} γᵏ r_{t+k}``: the window's discounted rewards, without the bootstrap (``r_t`` when ``m = 1``)."""
    next_observations: Float[Tensor, " B *obs"]
    """``s_{e+1}``: the next observation of the window's last step (the episode's final one if it is done)."""
    terminated: Bool[Tensor, " B"]
    """``terminated_e``: the window ended in a termination (then ``discounts`` is ``0``)."""
    truncated: Bool[Tensor, " B"]
    """``truncated_e``: the window ended in a truncation (it still bootstraps)."""
    discounts: Float[Tensor, " B"]
    """``γᵐ · (1 − terminated_e)``: what multiplies ``V(next_observations)`` in the target."""
    steps: Int64[Tensor, " B"]
    """``m``, the transitions summed, ``1 … n``: fewer than ``n`` where a done step or the write head ended the
    window (at the write head both flags are false)."""


@checked
def _bind_n_step_dimensions(
    observations: Float[Tensor, " B *obs"],
    actions: Shaped[Tensor, " B *act"],
    rewards: Float[Tensor, " B"],
    next_observations: Float[Tensor, " B *obs"],
    terminated: Bool[Tensor, " B"],
    truncated: Bool[Tensor, " B"],
    discounts: Float[Tensor, " B"],
    steps: Int64[Tensor, " B"],
) -> None:
    """jaxtyping binds ``B``, ``*obs`` and ``*act`` across the fields of an n-step batch."""


# --- ReplayBuffer ------------------------------------------------------------------------------------------------


def _shape(where: str, name: str, value: object, *, error: type[InputError | CheckpointError]) -> tuple[int, ...]:
    """A shape given as a tuple, list or ``torch.Size`` of ints ``>= 1``."""
    if isinstance(value, tuple | list) and all(_validate.is_integer(size) and int(size) >= 1 for size in value):
        return tuple(int(size) for size in value)
    raise error(f"{where}: {name} is {describe(value)}; expected a tuple of ints >= 1 (possibly empty)")


class ReplayBuffer:
    """A fixed-capacity FIFO ring of transitions, preallocated on one device, sampled uniformly with replacement.

    Storage, preallocated at construction, ``C = capacity`` rows each: ``observations`` and ``next_observations``
    ``[C, *obs]`` and ``rewards [C]`` in ``dtype``, ``actions [C, *act]`` in ``action_dtype``, ``terminated`` and
    ``truncated`` ``[C]`` bool, all on ``device``. :meth:`push` adds one transition, :meth:`extend` a batch of ``N``
    (one vector-env step); each overwrites the oldest transitions once the buffer is full. After ``pushed``
    transitions in all, ``len(buffer) == min(pushed, capacity)`` and the buffer holds the last ``len(buffer)`` of
    them, in push order: a ``collections.deque(maxlen=capacity)`` of the same transitions is the model the tests
    hold it to.

    Inputs are torch tensors on any device; they are copied into the storage, converted to its device and dtypes
    (a float64 observation is stored as ``dtype``; a finite value that overflows ``dtype`` is refused), and are not
    kept. Discrete actions must be int64 (as in :class:`~typedrl.records.Rollout`), flags ``torch.bool``.

    Args:
        capacity: ``C``, the number of transitions kept, an int ``>= 1``.
        observation_shape: ``*obs``, one observation's shape (CartPole: ``(4,)``).
        action_shape: ``*act``, one action's shape: ``()`` for Discrete, ``(k,)`` for MultiDiscrete, the Box's shape.
        action_dtype: ``torch.int64`` (Discrete, MultiDiscrete: action indices from 0, as records store them) or a
            floating dtype (Box: the sampled action).
        device: where the storage lives (``"cpu"``, ``"cuda"``, a ``torch.device``).
        dtype: the floating dtype of observations, next observations and rewards.

    Raises:
        InputError: a bad argument: ``capacity`` not an int ``>= 1``, a shape that is not a tuple of ints ``>= 1``,
            ``action_dtype`` neither int64 nor floating, int64 actions of more than one axis, a non-floating
            ``dtype``, a device this torch cannot use.

    Use :meth:`from_spaces` to take the shapes from a Gymnasium observation and action space.
    """

    def __init__(
        self,
        capacity: int,
        observation_shape: Sequence[int],
        *,
        action_shape: Sequence[int] = (),
        action_dtype: torch.dtype = torch.int64,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        where = "ReplayBuffer"
        self._capacity = _validate.integer(where, "capacity", capacity, minimum=1, error=InputError)
        self._observation_shape = _shape(where, "observation_shape", observation_shape, error=InputError)
        self._action_shape = _shape(where, "action_shape", action_shape, error=InputError)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise InputError(f"{where}: dtype is {describe(dtype)}; expected a floating torch.dtype")
        if not isinstance(action_dtype, torch.dtype) or not (
            action_dtype is torch.int64 or action_dtype.is_floating_point
        ):
            raise InputError(
                f"{where}: action_dtype is {describe(action_dtype)}; expected torch.int64 (Discrete, MultiDiscrete) "
                "or a floating torch.dtype (Box)"
            )
        if action_dtype is torch.int64 and len(self._action_shape) > 1:
            raise InputError(
                f"{where}: action_shape is {self._action_shape} with action_dtype torch.int64; expected () "
                "(Discrete) or (k,) (MultiDiscrete)"
            )
        self._dtype = dtype
        self._action_dtype = action_dtype
        self._device = _validate.device(where, device, error=InputError)
        capacity_ = self._capacity
        self._storage: dict[str, Tensor] = {
            "observations": torch.zeros(capacity_, *self._observation_shape, dtype=dtype, device=self._device),
            "actions": torch.zeros(capacity_, *self._action_shape, dtype=action_dtype, device=self._device),
            "rewards": torch.zeros(capacity_, dtype=dtype, device=self._device),
            "next_observations": torch.zeros(capacity_, *self._observation_shape, dtype=dtype, device=self._device),
            "terminated": torch.zeros(capacity_, dtype=torch.bool, device=self._device),
            "truncated": torch.zeros(capacity_, dtype=torch.bool, device=self._device),
        }
        self._pushed = 0

    @classmethod
    def from_spaces(
        cls,
        capacity: int,
        observation_space: object,
        action_space: object,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> "ReplayBuffer":
        """A buffer for one sub-environment's spaces (a vector env's ``single_observation_space`` and
        ``single_action_space``), laid out as typedrl's agents see them (docs/conventions.md):

        * observations: a Box's shape; ``(n,)`` for ``Discrete(n)`` (one-hot) and the flat size of a ``Dict`` or
          ``Tuple`` (what Gymnasium's ``FlattenObservation`` gives);
        * actions: ``Discrete`` → ``()`` int64 indices from 0 (the environment receives ``start + k``),
          ``MultiDiscrete(nvec)`` → ``(k,)`` int64, a floating ``Box`` → its shape, in ``dtype``.

        Raises:
            InputError: a space typedrl's agents do not support (the message lists what is supported), or a bad
                ``capacity``, ``device`` or ``dtype`` (as the constructor).
        """
        try:
            layout = read_spaces("", observation_space, action_space, error=InputError)
        except InputError:
            raise InputError(
                f"ReplayBuffer.from_spaces: observation_space is {_validate.brief_repr(observation_space, limit=80)}"
                f" and action_space is {_validate.brief_repr(action_space, limit=80)}; expected {SUPPORTED}"
            ) from None
        box = layout.action_kind == "box"
        return cls(
            capacity,
            layout.observation_shape,
            action_shape=layout.action_shape,
            action_dtype=dtype if box else torch.int64,
            device=device,
            dtype=dtype,
        )

    # --- what it is ---------------------------------------------------------------------------------------------

    @property
    def capacity(self) -> int:
        """``C``: the most transitions the buffer holds."""
        return self._capacity

    @property
    def pushed(self) -> int:
        """Every transition ever added (by :meth:`push`, :meth:`extend`, or in a loaded state), kept or not."""
        return self._pushed

    def __len__(self) -> int:
        """The transitions held: ``min(pushed, capacity)``."""
        return min(self._pushed, self._capacity)

    @property
    def observation_shape(self) -> tuple[int, ...]:
        """``*obs``, one observation's shape."""
        return self._observation_shape

    @property
    def action_shape(self) -> tuple[int, ...]:
        """``*act``, one action's shape."""
        return self._action_shape

    @property
    def action_dtype(self) -> torch.dtype:
        """``torch.int64`` (discrete) or the floating dtype of Box actions."""
        return self._action_dtype

    @property
    def dtype(self) -> torch.dtype:
        """The floating dtype of observations, next observations and rewards."""
        return self._dtype

    @property
    def device(self) -> torch.device:
        """Where the storage lives."""
        return self._device

    def __repr__(self) -> str:
        return (
            f"ReplayBuffer(capacity={self._capacity}, len={len(self)}, pushed={self._pushed},"
            f" observation_shape={self._observation_shape}, action_shape={self._action_shape},"
            f" action_dtype={self._action_dtype}, dtype={self._dtype}, device={self._device})"
        )

    # --- adding -------------------------------------------------------------------------------------------------

    def push(
        self,
        *,
        observation: Float[Tensor, " *obs"],
        action: int | np.integer[Any] | Shaped[Tensor, " *act"],
        reward: float | np.floating[Any] | Float[Tensor, ""],
        next_observation: Float[Tensor, " *obs"],
        terminated: bool | np.bool_ | Bool[Tensor, ""],
        truncated: bool | np.bool_ | Bool[Tensor, ""],
    ) -> None:
        """Add one transition, overwriting the oldest when the buffer is full.

        Keyword-only, as every field: an observation and a next observation have the same shape and dtype, and a
        swap could not be caught.

        Args:
            observation: ``s_t``, a floating tensor ``[*obs]``.
            action: ``a_t``: a non-negative int (numpy integers too) or a 0-dim int64 tensor for Discrete actions,
                an int64 tensor ``[k]`` (MultiDiscrete), a floating tensor ``[*act]`` (Box).
            reward: ``r_t``, a finite real number (not a bool) or a 0-dim floating tensor.
            next_observation: ``s_{t+1}``: at a done step, the episode's final observation, never the reset one.
            terminated: a ``bool``, ``numpy.bool_`` or 0-dim bool tensor.
            truncated: as ``terminated``.

        Raises:
            InputError: a field of the wrong kind, shape or dtype, a non-finite float (one that overflows
                ``dtype`` too), a negative action; the message names the field and the element, e.g.
                ``ReplayBuffer.push: observation[2] is nan; expected a finite float``. Nothing is written.
        """
        where = "ReplayBuffer.push"
        discrete = self._action_dtype is torch.int64
        if discrete and not self._action_shape and not isinstance(action, Tensor):
            index = _validate.integer(where, "action", action, minimum=0, error=InputError)
            if index > torch.iinfo(torch.int64).max:
                raise InputError(f"{where}: action is {index}; expected an int64 action index")
            action = torch.tensor(index, dtype=torch.int64)
        if not isinstance(reward, Tensor):
            reward = torch.tensor(_validate.real(where, "reward", reward, error=InputError), dtype=torch.float64)
        flags: dict[str, object] = {"terminated": terminated, "truncated": truncated}
        for name, flag in flags.items():
            if isinstance(flag, bool | np.bool_):
                flags[name] = torch.tensor(bool(flag))
            elif not isinstance(flag, Tensor):
                raise InputError(f"{where}: {name} is {describe(flag)}; expected a bool")
        given = {
            "observations": observation,
            "actions": action,
            "rewards": reward,
            "next_observations": next_observation,
            **flags,
        }
        self._add(where, given, single=True)

    def extend(
        self,
        *,
        observations: Float[Tensor, " N *obs"],
        actions: Shaped[Tensor, " N *act"],
        rewards: Float[Tensor, " N"],
        next_observations: Float[Tensor, " N *obs"],
        terminated: Bool[Tensor, " N"],
        truncated: Bool[Tensor, " N"],
    ) -> None:
        """Add ``N`` transitions (e.g. one step of a vector env of ``N`` sub-environments), row ``0`` first.

        The same as ``N`` calls of :meth:`push` in row order, in one write of at most two slices per field: when
        ``N`` exceeds the room left, the oldest transitions are overwritten, and when ``N > capacity`` only the
        last ``capacity`` rows are kept (``pushed`` still grows by ``N``). ``N = 0`` adds nothing.

        From a vector env, row ``n`` is sub-environment ``n``'s transition, and ``next_observations[n]`` at a done
        row is its **final** observation: ``info["final_obs"][n]`` under Gymnasium's ``SAME_STEP`` autoreset, the
        observation ``step`` returned under ``NEXT_STEP``, where the next step of that sub-environment is the reset
        (reward 0, its action ignored) and must be left out: pass the rows that are transitions only.

        Args:
            observations: ``[N, *obs]`` floating.
            actions: ``[N]`` int64 ``>= 0`` (Discrete), ``[N, k]`` int64 ``>= 0`` (MultiDiscrete), ``[N, *act]``
                floating (Box).
            rewards: ``[N]`` floating.
            next_observations: ``[N, *obs]`` floating.
            terminated: ``[N]`` ``torch.bool``.
            truncated: ``[N]`` ``torch.bool``.

        Raises:
            InputError: a field that is not a dense tensor, has the wrong shape (``N`` is read from
                ``observations``) or dtype, a non-finite float (one that overflows ``dtype`` too), a negative
                discrete action; the message names the field, the row and expected versus got, e.g.
                ``ReplayBuffer.extend: next_observations[3, 1] is inf; expected a finite float``. Nothing is
                written.
        """
        given = {
            "observations": observations,
            "actions": actions,
            "rewards": rewards,
            "next_observations": next_observations,
            "terminated": terminated,
            "truncated": truncated,
        }
        self._add("ReplayBuffer.extend", given, single=False)

    def _add(self, where: str, given: Mapping[str, object], *, single: bool) -> None:
        """Check ``given`` (one transition if ``single``, else ``N`` rows), convert it, then write it."""
        item_shapes = {
            "observations": self._observation_shape,
            "actions": self._action_shape,
            "rewards": (),
            "next_observations": self._observation_shape,
            "terminated": (),
            "truncated": (),
        }
        rows: int | None = None
        tensors: dict[str, Tensor] = {}
        for name in _FIELDS:
            label = _SINGULAR[name] if single else name
            item = item_shapes[name]
            layout = str(item) if single else f"[{', '.join(('N', *map(str, item)))}]"
            tensor = _check_dense(where, label, given[name], expected=layout)
            shape = tuple(tensor.shape)
            if single:
                if shape != item:
                    raise InputError(f"{where}: {label} has shape {shape}; expected {item}")
            elif tensor.dim() != len(item) + 1 or shape[1:] != item:
                raise InputError(f"{where}: {label} has shape {shape}; expected {layout}")
            elif rows is None:
                rows = shape[0]
            elif shape[0] != rows:
                raise InputError(f"{where}: {label} has {shape[0]} rows; expected {rows} (as observations)")
            tensors[name] = tensor
        for name, tensor in tensors.items():
            label = _SINGULAR[name] if single else name
            if name in _FLAGS:
                if tensor.dtype is not torch.bool:
                    raise InputError(f"{where}: {label} has dtype {tensor.dtype}; expected torch.bool")
            elif name == "actions" and self._action_dtype is torch.int64:
                if tensor.dtype is not torch.int64:
                    raise InputError(
                        f"{where}: {label} has dtype {tensor.dtype}; expected torch.int64 (discrete action indices)"
                    )
            elif not tensor.is_floating_point():
                kind = "Box actions" if name == "actions" else "stored as " + str(self._dtype)
                raise InputError(f"{where}: {label} has dtype {tensor.dtype}; expected a floating dtype ({kind})")
        if single:
            tensors = {name: tensor[None] for name, tensor in tensors.items()}
        dtypes = {name: self._storage[name].dtype for name in _FIELDS}
        # detach(): the storage must never join an autograd graph; .to() copies only where needed.
        converted = {
            name: tensor.detach().to(device=self._device, dtype=dtypes[name]) for name, tensor in tensors.items()
        }
        _check_values(where, converted, tensors, single=single)
        _bind_flat_dimensions(*(converted[name] for name in _FIELDS))
        self._write(converted, int(converted["rewards"].shape[0]))

    def _write(self, rows: Mapping[str, Tensor], count: int) -> None:
        """Write ``count`` checked rows at the head of the ring (row 0 first) and advance ``pushed`` by ``count``."""
        capacity = self._capacity
        if count == 0:
            return
        skip = max(count - capacity, 0)  # rows that would be overwritten within this very write
        kept = count - skip
        start = (self._pushed + skip) % capacity
        first = min(kept, capacity - start)
        for name, storage in self._storage.items():
            source = rows[name][skip:]
            storage[start : start + first].copy_(source[:first])
            if kept > first:
                storage[: kept - first].copy_(source[first:])
        self._pushed += count

    # --- sampling -----------------------------------------------------------------------------------------------

    def _oldest(self) -> int:
        """The physical row of the oldest transition held: the write head once the buffer is full, else 0."""
        return (self._pushed - len(self)) % self._capacity

    def _gather(self, logical: Tensor) -> Transitions:
        """The transitions at ``logical`` positions (0 = the oldest held), any shape, as a batch of that shape."""
        physical = (logical.to(self._device) + self._oldest()) % self._capacity
        return Transitions._trusted(**{name: storage[physical] for name, storage in self._storage.items()})

    def _check_generator(self, where: str, generator: object) -> torch.Generator:
        if not isinstance(generator, torch.Generator):
            raise InputError(f"{where}: generator is {describe(generator)}; expected a torch.Generator")
        return generator

    def sample(self, batch_size: int, *, generator: torch.Generator) -> Transitions:
        """``batch_size`` transitions drawn uniformly, with replacement, from the ``len(self)`` held.

        The draw is ``torch.randint(len(self), (batch_size,), generator=generator, device=generator.device)``, the
        position of each transition counted from the oldest held. So it is deterministic: the same generator state
        and the same transitions held, in the same order, give the same batch (on the same torch version and
        generator device: CPU and CUDA generators give different streams), wherever the ring's write head is: a
        buffer restored by :meth:`load_state_dict` samples what the saved one would have. ``generator`` advances.

        Returns a :class:`Transitions` ``[B, ...]`` on the buffer's device: copies, not views of the storage, so
        later pushes do not change it.

        Raises:
            InputError: ``batch_size`` is not an int ``>= 1``; the buffer is empty; ``generator`` is not a
                ``torch.Generator``.
        """
        where = "ReplayBuffer.sample"
        batch_size = _validate.integer(where, "batch_size", batch_size, minimum=1, error=InputError)
        generator = self._check_generator(where, generator)
        size = len(self)
        if size == 0:
            raise InputError(f"{where}: the buffer is empty; expected at least one transition (push or extend first)")
        logical = torch.randint(size, (batch_size,), generator=generator, device=generator.device)
        return self._gather(logical)

    def sample_sequences(
        self, length: int, batch_size: int, *, generator: torch.Generator, stride: int = 1
    ) -> Transitions:
        """``batch_size`` windows of ``length`` transitions each, consecutive in push order, time-major ``[T, B]``.

        For n-step targets: window ``b`` holds the transitions at positions ``j_b, j_b + stride, …,
        j_b + (length − 1)·stride`` counted from the oldest held, its start ``j_b`` drawn uniformly with
        replacement from every start whose window fits in what is held:
        ``torch.randint(len(self) − (length − 1)·stride, (batch_size,), generator=generator,
        device=generator.device)``. A window therefore follows the ring across its physical wrap but never crosses
        the write head (it never joins the newest transition to the oldest), and the same generator state and the
        same transitions held give the same windows, as :meth:`sample`.

        ``stride``: 1 for a buffer filled one environment's transition at a time (:meth:`push` from one env). A
        buffer filled only by :meth:`extend` calls of ``N`` rows, row ``n`` always sub-environment ``n``, holds
        each sub-environment's transitions ``N`` apart: ``stride=N`` gives windows of one sub-environment's
        consecutive steps (anything else mixes environments).

        A window is not cut at episode ends: it may hold a done step followed by the first steps of the next
        episode. Field ``[t, b]`` keeps its flags, so a consumer cuts there as the recursions of
        docs/conventions.md do (``done_t`` stops ``G_{t+1}`` from being read).

        Returns a :class:`Transitions` with fields ``[T, B, ...]``, ``T = length``, on the buffer's device (copies).

        Raises:
            InputError: ``length``, ``batch_size`` or ``stride`` not an int ``>= 1``; fewer than
                ``(length − 1)·stride + 1`` transitions held; ``generator`` not a ``torch.Generator``.
        """
        where = "ReplayBuffer.sample_sequences"
        length = _validate.integer(where, "length", length, minimum=1, error=InputError)
        batch_size = _validate.integer(where, "batch_size", batch_size, minimum=1, error=InputError)
        stride = _validate.integer(where, "stride", stride, minimum=1, error=InputError)
        generator = self._check_generator(where, generator)
        span = (length - 1) * stride + 1
        size = len(self)
        if size < span:
            raise InputError(
                f"{where}: the buffer holds {size} transitions; a window of length {length} at stride {stride} "
                f"needs {span}"
            )
        starts = torch.randint(size - span + 1, (batch_size,), generator=generator, device=generator.device)
        offsets = torch.arange(length, device=starts.device)[:, None] * stride
        return self._gather(starts[None, :] + offsets)

    def sample_n_step(
        self,
        n: int,
        batch_size: int,
        *,
        gamma: float | np.floating[Any],
        generator: torch.Generator,
        stride: int = 1,
    ) -> NStepTransitions:
        """``batch_size`` n-step transitions for DQN-style n-step targets: start transitions drawn as
        :meth:`sample` draws, each with up to ``n`` of its environment's steps summed.

        The starts are ``torch.randint(len(self), (batch_size,), generator=generator, device=generator.device)``,
        positions counted from the oldest held: the very draw of :meth:`sample`, so every transition held can be a
        start, uniformly, and the same generator state gives the same starts. Start ``j`` reads the window
        ``j, j + stride, …, j + (n − 1)·stride`` (``stride`` as in :meth:`sample_sequences`: ``N`` for a buffer
        filled by ``extend`` calls of ``N`` sub-environments) and ends it at ``e``, the first of:

        * its first done step (terminated or truncated): a window never reaches into the next episode;
        * its ``n``-th step;
        * the last step held before the write head. A window near the head that has fewer than ``n`` steps
          left is a rollout that ends there: it bootstraps from that last step's next observation, with
          ``γᵐ``, as :func:`~typedrl.returns.n_step_returns` does at the end of a rollout (its flags are both
          false and ``steps < n``). So recent transitions are sampled as often as old ones.

        Computed through :func:`~typedrl.returns.n_step_returns` on the ``[n, B]`` window, with ``valid`` false
        past the write head (``mask_mode="stop"``: the last valid step ends the rollout), in one call on two
        halves: the window's rewards with ``next_values = 0`` give ``rewards`` (the reward part
        ``Σ_{k<m} γᵏ r_{t+k}``), and zero rewards with ``next_values = 1`` give ``discounts``
        (``γᵐ (1 − terminated_e)``). The function reads ``next_values`` only at the window's last step and is
        linear in rewards and ``next_values``, so ``rewards + discounts · V(next_observations)`` is its n-step
        return with ``V(next_observations)`` there: the discount ends each window where the reward sum does, by
        the same rule and the same kernel. A float16 or bfloat16 buffer is computed in float32 and rounded once,
        as ``n_step_returns`` does. ``n = 1`` is :meth:`sample` with ``discounts = γ (1 − terminated)``.

        Args:
            n: the most transitions summed, an int ``>= 1``.
            batch_size: ``B``, an int ``>= 1``.
            gamma: ``γ``, a real number in ``[0, 1]``.
            generator: the ``torch.Generator`` the starts are drawn with (it advances).
            stride: how far apart one environment's consecutive transitions are, an int ``>= 1``.

        Returns an :class:`NStepTransitions` with fields ``[B, ...]`` on the buffer's device (copies), in the
        buffer's dtypes (``steps`` int64).

        Raises:
            HyperparameterError: ``n`` not an int ``>= 1``; ``gamma`` not a real number in ``[0, 1]``.
            InputError: ``batch_size`` or ``stride`` not an int ``>= 1``; ``generator`` not a
                ``torch.Generator``; the buffer is empty.
        """
        where = "ReplayBuffer.sample_n_step"
        n = _validate.integer(where, "n", n, minimum=1, error=HyperparameterError)
        batch_size = _validate.integer(where, "batch_size", batch_size, minimum=1, error=InputError)
        gamma = _validate.unit_interval(where, "gamma", gamma, error=HyperparameterError)
        stride = _validate.integer(where, "stride", stride, minimum=1, error=InputError)
        generator = self._check_generator(where, generator)
        size = len(self)
        if size == 0:
            raise InputError(f"{where}: the buffer is empty; expected at least one transition (push or extend first)")
        starts = torch.randint(size, (batch_size,), generator=generator, device=generator.device).to(self._device)
        offsets = torch.arange(n, device=self._device)[:, None]
        logical = starts[None, :] + offsets * stride  # [n, B]
        valid = logical < size  # a prefix of each window: the steps before the write head
        physical = (logical.clamp(max=size - 1) + self._oldest()) % self._capacity
        storage = self._storage
        rewards = storage["rewards"][physical]
        terminated = storage["terminated"][physical]
        truncated = storage["truncated"][physical]
        zeros, ones = torch.zeros_like(rewards), torch.ones_like(rewards)

        def halves(first: Tensor, second: Tensor) -> Tensor:
            return torch.cat([first, second], dim=1)

        targets = n_step_returns(
            halves(rewards, zeros),
            halves(zeros, ones),
            halves(terminated, terminated),
            halves(truncated, truncated),
            gamma=gamma,
            n=n,
            valid=halves(valid, valid),
        )[0]
        # The window's last step, by the rule n_step_returns follows: the first done step, or the last one held.
        last_held = valid & ~torch.cat([valid[1:], torch.zeros_like(valid[:1])])
        ends = valid & (terminated | truncated | last_held)
        last = torch.where(ends, offsets, n).amin(dim=0)  # [B], in 0 … n − 1: step 0 is always held
        columns = torch.arange(batch_size, device=self._device)
        first_rows, last_rows = physical[0], physical[last, columns]
        batch = NStepTransitions(
            observations=storage["observations"][first_rows],
            actions=storage["actions"][first_rows],
            rewards=targets[:batch_size].clone(),
            next_observations=storage["next_observations"][last_rows],
            terminated=terminated[last, columns],
            truncated=truncated[last, columns],
            discounts=targets[batch_size:].clone(),
            steps=last + 1,
        )
        _bind_n_step_dimensions(*batch)
        return batch

    # --- checkpoints --------------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to restore the buffer, as plain data that weights-only loading reads
        (:func:`~typedrl.checkpoint.save_checkpoint` can take it in ``extra``).

        Keys: ``format`` (``"typedrl.ReplayBuffer"``), ``version`` (1), ``capacity``, ``pushed`` (ints),
        ``observation_shape``, ``action_shape`` (lists of ints), ``action_dtype``, ``dtype`` (strings such as
        ``"torch.float32"``), and the six fields, each holding the ``len(self)`` transitions held, oldest first
        (so ``[len, *obs]``, …), as copies on the buffer's device.
        """
        held = self._gather(torch.arange(len(self), device=self._device))
        return {
            "format": _STATE_FORMAT,
            "version": _STATE_VERSION,
            "capacity": self._capacity,
            "pushed": self._pushed,
            "observation_shape": list(self._observation_shape),
            "action_shape": list(self._action_shape),
            "action_dtype": str(self._action_dtype),
            "dtype": str(self._dtype),
            **{name: getattr(held, name) for name in _FIELDS},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Replace the contents with what :meth:`state_dict` returned, after checking all of it.

        The state must come from a buffer of the same capacity, shapes and dtypes; its tensors may be on any device
        (they are copied to this buffer's). Afterwards ``pushed``, ``len`` and the transitions held, in order, are
        the saved buffer's, and :meth:`sample` with the same generator state gives the same batch.

        Raises:
            CheckpointError: ``state`` is not a mapping; a key is missing or unknown; the format or version is not
                this one; the capacity, a shape or a dtype differs from this buffer's; ``pushed`` is not an int
                ``>= 0``; a field is not a tensor of shape ``[min(pushed, capacity), ...]`` and the stored dtype;
                a non-finite float or a negative discrete action. The message names the key. Nothing is changed.
        """
        where = "ReplayBuffer.load_state_dict"
        if not isinstance(state, Mapping):
            raise CheckpointError(f"{where}: state is {describe(state)}; expected a dict from ReplayBuffer.state_dict")
        missing = [key for key in _STATE_KEYS if key not in state]
        if missing:
            raise CheckpointError(f"{where}: state has no key {missing[0]!r}; expected the keys {list(_STATE_KEYS)}")
        unknown = [key for key in state if key not in _STATE_KEYS]
        if unknown:
            raise CheckpointError(f"{where}: state has an unknown key {unknown[0]!r}; expected {list(_STATE_KEYS)}")
        form, version = state["format"], state["version"]
        if not (type(form) is str and form == _STATE_FORMAT and type(version) is int and version == _STATE_VERSION):
            raise CheckpointError(
                f"{where}: state is format {describe(form)} version {describe(version)}; "
                f"expected {_STATE_FORMAT!r} version {_STATE_VERSION}"
            )
        expected: dict[str, object] = {
            "capacity": self._capacity,
            "observation_shape": self._observation_shape,
            "action_shape": self._action_shape,
            "action_dtype": str(self._action_dtype),
            "dtype": str(self._dtype),
        }
        for key, mine in expected.items():
            saved = state[key]
            if key.endswith("shape"):
                saved = _shape(where, key, saved, error=CheckpointError)
            if type(saved) is not type(mine) or saved != mine:  # the type first: a tensor has no one truth value
                raise CheckpointError(f"{where}: {key} is {describe(saved)}; expected {mine!r} (this buffer's)")
        pushed = _validate.integer(where, "pushed", state["pushed"], minimum=0, error=CheckpointError)
        size = min(pushed, self._capacity)
        held: dict[str, Tensor] = {}
        for name in _FIELDS:
            tensor = state[name]
            storage = self._storage[name]
            shape = (size, *storage.shape[1:])
            if not isinstance(tensor, Tensor) or tensor.is_nested or tensor.layout is not torch.strided:
                raise CheckpointError(f"{where}: {name} is {describe(tensor)}; expected a dense tensor {shape}")
            if tensor.is_meta:
                raise CheckpointError(f"{where}: {name} is on meta; expected a device that holds values")
            if tuple(tensor.shape) != shape:
                raise CheckpointError(
                    f"{where}: {name} has shape {tuple(tensor.shape)}; expected {shape} (min(pushed, capacity) rows)"
                )
            if tensor.dtype is not storage.dtype:
                raise CheckpointError(f"{where}: {name} has dtype {tensor.dtype}; expected {storage.dtype}")
            held[name] = tensor.detach().to(self._device)
        try:
            _check_values(where, held, held)
        except InputError as error:
            raise CheckpointError(str(error)) from None
        self._pushed = pushed - size
        self._write(held, size)
