"""Records: one transition (:class:`Step`), a time-major batch of them (:class:`Rollout`), and the flat training
sample an actor-critic update reads (:class:`ActorCriticSample`).

Each record is a frozen dataclass validated once, at construction. The invariants a user can break (every field
has exactly ``horizon`` steps and the same ``N``, dtypes, one device, non-negative discrete actions, finite Box
actions, rewards, values and log-probabilities) are hand-written, cheap and **always on**, and raise
:class:`~typedrl.errors.RolloutError` naming the field and expected versus got, e.g. ``Rollout: rewards has 63
steps; expected horizon 64``. While :mod:`typedrl.checks` is on, jaxtyping + beartype also bind ``T``, ``N``,
``*obs`` and ``*act`` across the fields.

Actions are int64 indices ``[T, N]`` for Discrete action spaces, ``[T, N, k]`` for MultiDiscrete ones, and floating
``[T, N, *act]`` for Box ones (the sampled action, before clipping to the bounds); docs/conventions.md has the table
of spaces.

Field meanings follow the conventions: ``next_values[t]`` is ``V(s_{t+1})`` for the observation step ``t`` really
produced (the episode's final observation at a done step); ``terminated`` stops bootstrapping, ``truncated``
bootstraps from ``next_values``.
"""

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from numbers import Integral
from typing import Any

import numpy as np
import torch
from jaxtyping import Bool, Float, Shaped
from torch import Tensor

from typedrl import _validate
from typedrl.checks import checked
from typedrl.errors import RolloutError
from typedrl.returns import gae, normalize_advantages

__all__ = ["ActorCriticSample", "Rollout", "Step"]

# The per-step float fields of a Rollout: one dtype, checked finite together.
_ROLLOUT_FLOATS = ("rewards", "log_probs", "values", "next_values")
_ROLLOUT_FLAGS = ("terminated", "truncated")
_ROLLOUT_TENSORS = ("observations", "actions", "log_probs", "rewards", "values", "next_values", *_ROLLOUT_FLAGS)
_SAMPLE_FLOATS = ("log_probs", "advantages", "returns", "values")
_SAMPLE_TENSORS = ("observations", "actions", *_SAMPLE_FLOATS)


def _real(where: str, name: str, value: object) -> float:
    if not _validate.is_real(value):
        raise RolloutError(f"{where}: {name} is {value!r} ({type(value).__name__}); expected a finite float")
    number = float(value)  # type: ignore[arg-type]  # a Real here
    if not math.isfinite(number):
        raise RolloutError(f"{where}: {name} is {value!r}; expected a finite float")
    return number


def _flag(where: str, name: str, value: object) -> bool:
    # numpy.bool_ is accepted (Gymnasium returns it); 0 and 1 are not flags.
    if not isinstance(value, bool | np.bool_):
        raise RolloutError(f"{where}: {name} is {value!r} ({type(value).__name__}); expected a bool")
    return bool(value)


def _first_bad(tensor: Tensor, bad: Tensor) -> tuple[str, str]:
    """The index (as ``[i, j]``) and the value of the first element where ``bad`` is true."""
    index = _validate.first_true(bad)
    return ", ".join(map(str, index)), str(tensor[index].item())


@dataclass(frozen=True, kw_only=True, eq=False)
class Step:
    """One transition of one environment: ``s_t``, ``a_t``, what ``env.step(a_t)`` returned, and the values.

    Validated at construction: ``observation`` is a finite floating tensor (shape ``*obs``), ``action`` a
    non-negative integer (a Discrete action index; not a bool, not a float) or a finite floating tensor (a Box
    action, shape ``*act``), the four floats finite, the flags bools (``numpy.bool_`` accepted). Numbers are
    stored as plain Python ``int``/``float``/``bool``. Equal when every field is equal.
    """

    observation: Float[Tensor, "*obs"]
    action: int | Float[Tensor, "*act"]
    log_prob: float
    reward: float
    value: float
    next_value: float
    terminated: bool
    truncated: bool

    def __post_init__(self) -> None:
        where = "Step"
        obs = self.observation
        if not isinstance(obs, Tensor):
            raise RolloutError(f"{where}: observation is a {type(obs).__name__}; expected a float torch.Tensor")
        if not obs.is_floating_point():
            raise RolloutError(f"{where}: observation has dtype {obs.dtype}; expected a floating dtype")
        bad = ~torch.isfinite(obs)
        if bool(bad.any()):
            index, value = _first_bad(obs, bad)
            raise RolloutError(f"{where}: observation[{index}] is {value}; expected finite values")
        action: object = self.action  # annotated, but a caller can pass anything
        if isinstance(action, Tensor) and action.is_floating_point():
            bad = ~torch.isfinite(action)
            if bool(bad.any()):
                index, value = _first_bad(action, bad)
                raise RolloutError(f"{where}: action[{index}] is {value}; expected finite values")
        elif isinstance(action, bool) or not isinstance(action, Integral):
            raise RolloutError(
                f"{where}: action is {action!r} ({type(action).__name__}); expected a non-negative int or a "
                "floating tensor"
            )
        elif action < 0:
            raise RolloutError(f"{where}: action is {action!r}; expected a non-negative int")
        else:
            object.__setattr__(self, "action", int(action))
        for name in ("log_prob", "reward", "value", "next_value"):
            object.__setattr__(self, name, _real(where, name, getattr(self, name)))
        for name in _ROLLOUT_FLAGS:
            object.__setattr__(self, name, _flag(where, name, getattr(self, name)))

    @property
    def done(self) -> bool:
        """``terminated or truncated``: the episode ended at this step."""
        return self.terminated or self.truncated

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Step):
            return NotImplemented
        same_observation = (
            self.observation.shape == other.observation.shape
            and self.observation.dtype == other.observation.dtype
            and bool(torch.equal(self.observation.cpu(), other.observation.cpu()))
        )
        scalars = ("log_prob", "reward", "value", "next_value", *_ROLLOUT_FLAGS)
        return (
            same_observation
            and _same_action(self.action, other.action)
            and all(getattr(self, name) == getattr(other, name) for name in scalars)
        )

    __hash__ = None  # type: ignore[assignment]  # equal by value, and tensors are mutable: not hashable


def _same_action(first: int | Tensor, second: int | Tensor) -> bool:
    if isinstance(first, Tensor) and isinstance(second, Tensor):
        return first.shape == second.shape and first.dtype == second.dtype and torch.equal(first.cpu(), second.cpu())
    return not isinstance(first, Tensor) and not isinstance(second, Tensor) and first == second


# Why not `@jaxtyped(typechecker=beartype)` on the class (as style.md suggests): that check cannot be switched off,
# and typedrl promises one switch for every jaxtyping check. The same binding of T, N and *obs runs here, through
# `checked`, from __post_init__; with the switch off it is one flag read.
@checked
def _bind_rollout_dimensions(
    observations: Float[Tensor, " T N *obs"],
    actions: Shaped[Tensor, " T N *act"],
    log_probs: Float[Tensor, " T N"],
    rewards: Float[Tensor, " T N"],
    values: Float[Tensor, " T N"],
    next_values: Float[Tensor, " T N"],
    terminated: Bool[Tensor, " T N"],
    truncated: Bool[Tensor, " T N"],
) -> None:
    """jaxtyping binds ``T``, ``N``, ``*obs`` and ``*act`` across every field of a :class:`Rollout`."""


@checked
def _bind_sample_dimensions(
    observations: Float[Tensor, " B *obs"],
    actions: Shaped[Tensor, " B *act"],
    log_probs: Float[Tensor, " B"],
    advantages: Float[Tensor, " B"],
    returns: Float[Tensor, " B"],
    values: Float[Tensor, " B"],
) -> None:
    """jaxtyping binds ``B``, ``*obs`` and ``*act`` across every field of an :class:`ActorCriticSample`."""


def _check_tensor(where: str, name: str, tensor: object, reference: Tensor | None, *, dims: int) -> Tensor:
    """Kind, rank and device of one field; ``dims`` is the exact rank, or minus the minimum rank."""
    if not isinstance(tensor, Tensor):
        raise RolloutError(f"{where}: {name} is a {type(tensor).__name__}; expected a torch.Tensor")
    if (dims > 0 and tensor.dim() != dims) or (dims < 0 and tensor.dim() < -dims):
        layout = {2: "[T, N]", -2: "[T, N, *obs]", 1: "[B]", -1: "[B, *obs]"}[dims]
        if name == "actions":
            layout = layout.replace("obs", "act")
        raise RolloutError(f"{where}: {name} has shape {tuple(tensor.shape)}; expected {layout}")
    if reference is not None and tensor.device != reference.device:
        raise RolloutError(f"{where}: {name} is on {tensor.device}; expected {reference.device} (as observations)")
    return tensor


def _check_dtypes(where: str, record: Any, float_names: Sequence[str], *, rank: int) -> None:
    """Observations floating, actions int64 (discrete indices, no trailing axes) or floating (Box), the float
    fields one floating dtype (that of the first). ``rank`` is that of discrete actions (2: ``[T, N]``, 1: ``[B]``)."""
    if not record.observations.is_floating_point():
        raise RolloutError(f"{where}: observations has dtype {record.observations.dtype}; expected a floating dtype")
    actions = record.actions
    if not actions.is_floating_point():
        if actions.dtype is not torch.int64:
            raise RolloutError(
                f"{where}: actions has dtype {actions.dtype}; expected torch.int64 (discrete) or a floating dtype (Box)"
            )
        if actions.dim() > rank + 1:
            layout = "[T, N] or [T, N, k]" if rank == 2 else "[B] or [B, k]"
            raise RolloutError(
                f"{where}: actions has shape {tuple(actions.shape)} and dtype torch.int64; expected {layout} "
                "(discrete action indices, one per MultiDiscrete component)"
            )
    first = float_names[0]
    dtype = getattr(record, first).dtype
    if not dtype.is_floating_point:
        raise RolloutError(f"{where}: {first} has dtype {dtype}; expected a floating dtype")
    for name in float_names[1:]:
        if getattr(record, name).dtype is not dtype:
            raise RolloutError(
                f"{where}: {name} has dtype {getattr(record, name).dtype}; expected {dtype} (as {first})"
            )


def _check_masks(where: str, masks: object, reference: Tensor, leading: tuple[int, ...]) -> None:
    """``action_masks`` (when present): a bool tensor ``[*leading, A]`` on ``reference``'s device whose every row
    allows at least one action."""
    if masks is None:
        return
    layout = "[T, N, A]" if len(leading) == 2 else "[B, A]"
    if not isinstance(masks, Tensor):
        raise RolloutError(f"{where}: action_masks is a {type(masks).__name__}; expected a bool tensor {layout}")
    if masks.dtype is not torch.bool:
        raise RolloutError(f"{where}: action_masks has dtype {masks.dtype}; expected torch.bool")
    if masks.dim() != len(leading) + 1 or tuple(masks.shape[:-1]) != leading or masks.shape[-1] == 0:
        expected = layout.replace("T", str(leading[0])).replace("N", str(leading[-1])).replace("B", str(leading[0]))
        raise RolloutError(f"{where}: action_masks has shape {tuple(masks.shape)}; expected {expected}")
    if masks.device != reference.device:
        raise RolloutError(f"{where}: action_masks is on {masks.device}; expected {reference.device} (as observations)")
    empty = ~masks.any(dim=-1)
    if bool(empty.any()):
        index, _ = _first_bad(empty, empty)
        raise RolloutError(f"{where}: action_masks[{index}] allows no action; expected at least one true")


def _check_values(where: str, record: Any, float_names: Sequence[str]) -> None:
    """Discrete actions non-negative, Box actions and the float fields finite, in a few vectorized reductions."""
    actions = record.actions
    if actions.is_floating_point():
        float_names = ("actions", *float_names)
    elif actions.numel() and bool(actions.min() < 0):
        index, value = _first_bad(actions, actions < 0)
        raise RolloutError(f"{where}: actions[{index}] is {value}; expected a non-negative integer")
    # A NaN or an infinity anywhere makes a sum non-finite; the element-wise search runs only then (a sum that
    # overflows lands there too, and passes). Sums are ~50x cheaper than isfinite() over every element.
    total = sum(getattr(record, name).sum() for name in float_names)
    if not bool(torch.isfinite(total)):
        for name in float_names:
            tensor = getattr(record, name)
            bad = ~torch.isfinite(tensor)
            if bool(bad.any()):
                index, value = _first_bad(tensor, bad)
                raise RolloutError(f"{where}: {name}[{index}] is {value}; expected a finite float")


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class Rollout:
    """``horizon`` steps of ``N`` environments, stacked time-major: field ``[t, n]`` is step ``t`` of env ``n``.

    Fields: ``observations [T, N, *obs]`` (floating), ``actions`` (``[T, N]`` int64 non-negative indices for discrete
    actions, ``[T, N, *act]`` floating and finite for Box ones), ``log_probs``,
    ``rewards``, ``values``, ``next_values`` (``[T, N]``, one floating dtype, finite), ``terminated``,
    ``truncated`` (``[T, N]`` bool), and ``horizon`` (``T``). All on one device. ``action_masks``: ``None``, or for
    an environment that masks actions (:mod:`typedrl.masks`) the masks ``[T, N, A]`` bool the actions were sampled
    under (true: allowed; each row allows at least one).

    The horizon invariant (every field has exactly ``horizon`` steps and the same ``N``) and the checks above
    always run at construction and raise :class:`~typedrl.errors.RolloutError`, e.g.
    ``Rollout: rewards has 63 steps; expected horizon 64``; jaxtyping binds ``T`` and ``N`` while shape checks
    are on. Treat the tensors as read-only: the record is frozen, its tensors are not copied.
    """

    observations: Float[Tensor, " T N *obs"]
    actions: Shaped[Tensor, " T N *act"]
    log_probs: Float[Tensor, " T N"]
    rewards: Float[Tensor, " T N"]
    values: Float[Tensor, " T N"]
    next_values: Float[Tensor, " T N"]
    terminated: Bool[Tensor, " T N"]
    truncated: Bool[Tensor, " T N"]
    horizon: int
    action_masks: Bool[Tensor, " T N A"] | None = None

    def __post_init__(self) -> None:
        where = "Rollout"
        horizon = _validate.integer(where, "horizon", self.horizon, minimum=1, error=RolloutError)
        object.__setattr__(self, "horizon", horizon)
        observations = _check_tensor(where, "observations", self.observations, None, dims=-2)
        n_envs = observations.shape[1]
        for name in _ROLLOUT_TENSORS:
            tensor = _check_tensor(
                where, name, getattr(self, name), observations, dims=-2 if name in ("observations", "actions") else 2
            )
            if tensor.shape[0] != horizon:
                raise RolloutError(f"{where}: {name} has {tensor.shape[0]} steps; expected horizon {horizon}")
            if tensor.shape[1] != n_envs:
                raise RolloutError(f"{where}: {name} has {tensor.shape[1]} envs; expected {n_envs} (as observations)")
        _check_dtypes(where, self, _ROLLOUT_FLOATS, rank=2)
        for name in _ROLLOUT_FLAGS:
            if getattr(self, name).dtype is not torch.bool:
                raise RolloutError(f"{where}: {name} has dtype {getattr(self, name).dtype}; expected torch.bool")
        _check_values(where, self, _ROLLOUT_FLOATS)
        _check_masks(where, self.action_masks, observations, (horizon, n_envs))
        _bind_rollout_dimensions(*(getattr(self, name) for name in _ROLLOUT_TENSORS))

    @classmethod
    def from_steps(cls, steps: Sequence[Step], *, horizon: int, dtype: torch.dtype = torch.float32) -> "Rollout":
        """Stack the ``Step``\\ s of one environment (``N = 1``); ``dtype`` is that of the per-step float fields.

        ``len(steps)`` must equal ``horizon`` and every observation must have the first one's shape and dtype.
        """
        where = "Rollout.from_steps"
        if len(steps) != horizon:
            raise RolloutError(f"{where}: got {len(steps)} steps; expected horizon {horizon}")
        if horizon < 1:
            raise RolloutError(f"{where}: horizon is {horizon!r}; expected a positive int")
        for t, step in enumerate(steps):
            if not isinstance(step, Step):
                raise RolloutError(f"{where}: steps[{t}] is a {type(step).__name__}; expected a Step")
        first = steps[0].observation
        for t, step in enumerate(steps):
            if step.observation.shape != first.shape or step.observation.dtype != first.dtype:
                raise RolloutError(
                    f"{where}: steps[{t}].observation is {step.observation.dtype} {tuple(step.observation.shape)};"
                    f" expected {first.dtype} {tuple(first.shape)} (as steps[0])"
                )

        def column(name: str, column_dtype: torch.dtype) -> Tensor:
            return torch.tensor([getattr(s, name) for s in steps], dtype=column_dtype, device=first.device)[:, None]

        return cls(
            observations=torch.stack([s.observation for s in steps])[:, None],
            actions=_action_column(where, steps, first.device),
            log_probs=column("log_prob", dtype),
            rewards=column("reward", dtype),
            values=column("value", dtype),
            next_values=column("next_value", dtype),
            terminated=column("terminated", torch.bool),
            truncated=column("truncated", torch.bool),
            horizon=horizon,
        )

    @property
    def n_envs(self) -> int:
        """``N``, the number of parallel environments."""
        return int(self.observations.shape[1])

    @property
    def action_shape(self) -> tuple[int, ...]:
        """``*act``, the shape of one action: ``()`` for discrete action indices."""
        return tuple(self.actions.shape[2:])

    @property
    def observation_shape(self) -> tuple[int, ...]:
        """``*obs``, the shape of one observation."""
        return tuple(self.observations.shape[2:])

    @property
    def done(self) -> Bool[Tensor, " T N"]:
        """``terminated | truncated``, ``[T, N]``."""
        return self.terminated | self.truncated

    def step(self, t: int, n: int) -> Step:
        """Step ``t`` of environment ``n`` as a :class:`Step` (a copy of its observation)."""
        if not (0 <= t < self.horizon and 0 <= n < self.n_envs):
            raise RolloutError(f"Rollout.step: index ({t}, {n}) is outside [0, {self.horizon}) x [0, {self.n_envs})")
        return Step(
            observation=self.observations[t, n].clone(),
            action=int(self.actions[t, n]) if self.actions.dim() == 2 else self.actions[t, n].clone(),
            log_prob=float(self.log_probs[t, n]),
            reward=float(self.rewards[t, n]),
            value=float(self.values[t, n]),
            next_value=float(self.next_values[t, n]),
            terminated=bool(self.terminated[t, n]),
            truncated=bool(self.truncated[t, n]),
        )

    def to(self, device: torch.device | str) -> "Rollout":
        """The same rollout with every tensor on ``device`` (validated again).

        Raises:
            RolloutError: ``device`` is not one this torch can use (e.g. CUDA on a torch without it).
        """
        target = _validate.device("Rollout.to", device, error=RolloutError)
        moved = {name: getattr(self, name).to(target) for name in _ROLLOUT_TENSORS}
        masks = None if self.action_masks is None else self.action_masks.to(target)
        return replace(self, **moved, action_masks=masks)

    def to_actor_critic_sample(self, *, gamma: float | Float[Tensor, " T N"], lam: float) -> "ActorCriticSample":
        """Advantages and value targets, flattened time-major to ``B = T·N`` (row ``t·N + n`` is ``[t, n]``).

        A convenience for a training loop of your own (``examples/custom_loop.py``); typedrl's PPO writes the same
        steps out in :mod:`typedrl.algos.ppo`, where its options (per-minibatch normalization) change them.

        ``advantages``: :func:`~typedrl.gae` (truncation bootstrapped from ``next_values``), then z-scored by
        :func:`~typedrl.normalize_advantages` (population std). ``returns``: the λ-returns ``G^λₜ = Aₜ + Vₜ`` of
        the **unnormalized** advantages (equal to :func:`~typedrl.lambda_returns`, without a second GAE pass).
        Every field is detached: a sample is training data.

        Raises:
            RolloutError: the advantages overflow the dtype (finite rewards and values can sum past float32's
                range); the message names the step and the environment.
        """
        advantages = gae(
            self.rewards, self.values, self.next_values, self.terminated, self.truncated, gamma=gamma, lam=lam
        )
        bad = ~torch.isfinite(advantages)
        if bool(bad.any()):
            index, value = _first_bad(advantages, bad)
            raise RolloutError(
                f"Rollout.to_actor_critic_sample: advantages[{index}] is {value} (GAE overflowed "
                f"{advantages.dtype}); expected finite values"
            )
        values = self.values.detach()
        returns = advantages + values
        batch = self.horizon * self.n_envs
        return ActorCriticSample(
            observations=self.observations.detach().reshape(batch, *self.observation_shape),
            actions=self.actions.reshape(batch, *self.action_shape),
            log_probs=self.log_probs.detach().reshape(batch),
            advantages=normalize_advantages(advantages).reshape(batch),
            returns=returns.reshape(batch),
            values=values.reshape(batch),
            action_masks=None if self.action_masks is None else self.action_masks.reshape(batch, -1),
        )

    def __repr__(self) -> str:
        return (
            f"Rollout(horizon={self.horizon}, n_envs={self.n_envs}, observation_shape={self.observation_shape},"
            f" dtype={self.rewards.dtype}, device={self.observations.device})"
        )


def _action_column(where: str, steps: Sequence[Step], device: torch.device) -> Tensor:
    """The steps' actions as ``[T, 1]`` int64 (all ints) or ``[T, 1, *act]`` (all tensors of one shape and dtype)."""
    actions = [step.action for step in steps]
    if all(not isinstance(action, Tensor) for action in actions):
        return torch.tensor(actions, dtype=torch.int64, device=device)[:, None]
    first = actions[0]
    for t, action in enumerate(actions):
        if (
            not isinstance(first, Tensor)
            or not isinstance(action, Tensor)
            or action.shape != first.shape
            or action.dtype != first.dtype
        ):
            expected = f"{first.dtype} {tuple(first.shape)}" if isinstance(first, Tensor) else "an int"
            got = f"{action.dtype} {tuple(action.shape)}" if isinstance(action, Tensor) else "an int"
            raise RolloutError(f"{where}: steps[{t}].action is {got}; expected {expected} (as steps[0])")
    return torch.stack(actions).to(device)[:, None]  # type: ignore[arg-type]  # all tensors, checked above


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class ActorCriticSample:
    """A flat batch for an actor-critic update: ``observations [B, *obs]``, ``actions [B, *act]`` and ``[B]`` fields.

    ``actions`` (int64 indices, or floating Box actions), ``log_probs`` (``log π_old(a|s)``), ``advantages``
    (z-scored), ``returns`` (λ-returns, the value targets), ``values`` (``V_old(s)``, for value clipping),
    ``action_masks`` (``None``, or ``[B, A]`` bool: the masks the actions were sampled under). Built by
    :meth:`Rollout.to_actor_critic_sample`; validated like a :class:`Rollout` (same ``B`` everywhere, dtypes, one
    device, finite, discrete actions non-negative).
    """

    observations: Float[Tensor, " B *obs"]
    actions: Shaped[Tensor, " B *act"]
    log_probs: Float[Tensor, " B"]
    advantages: Float[Tensor, " B"]
    returns: Float[Tensor, " B"]
    values: Float[Tensor, " B"]
    action_masks: Bool[Tensor, " B A"] | None = None

    def __post_init__(self) -> None:
        where = "ActorCriticSample"
        observations = _check_tensor(where, "observations", self.observations, None, dims=-1)
        batch = observations.shape[0]
        for name in _SAMPLE_TENSORS:
            tensor = _check_tensor(
                where, name, getattr(self, name), observations, dims=-1 if name in ("observations", "actions") else 1
            )
            if tensor.shape[0] != batch:
                raise RolloutError(f"{where}: {name} has {tensor.shape[0]} rows; expected {batch} (as observations)")
        _check_dtypes(where, self, _SAMPLE_FLOATS, rank=1)
        _check_values(where, self, _SAMPLE_FLOATS)
        _check_masks(where, self.action_masks, observations, (batch,))
        _bind_sample_dimensions(*(getattr(self, name) for name in _SAMPLE_TENSORS))

    @property
    def batch_size(self) -> int:
        """``B``, the number of rows."""
        return int(self.observations.shape[0])

    def __len__(self) -> int:
        return self.batch_size

    def minibatches(self, count: int, *, generator: torch.Generator) -> Iterator["ActorCriticSample"]:
        """Split one random permutation of the rows into ``count`` minibatches: every row exactly once.

        The permutation is drawn now, from ``generator`` (``torch.randperm``), so the same generator state gives
        the same minibatches. Sizes differ by at most one when ``count`` does not divide ``B``.
        ``1 <= count <= B`` is required.
        """
        batch = self.batch_size
        count = _validate.integer(
            "ActorCriticSample.minibatches", "count", count, minimum=1, maximum=batch, error=RolloutError
        )
        permutation = torch.randperm(batch, generator=generator, device=generator.device)
        # One gather of every row in permuted order, then contiguous slices of it (views): the minibatches of
        # torch.tensor_split(permutation, count), at one gather per field instead of one per field and minibatch.
        shuffled = self._rows(permutation.to(self.observations.device))
        size, larger = divmod(batch, count)
        bounds = [index * size + min(index, larger) for index in range(count + 1)]
        return (shuffled._rows(slice(start, stop)) for start, stop in itertools.pairwise(bounds))

    def _rows(self, indices: Tensor | slice) -> "ActorCriticSample":
        # Rows of a validated sample are valid: skip the checks (they would run once per minibatch otherwise).
        sample = object.__new__(ActorCriticSample)
        for name in _SAMPLE_TENSORS:
            object.__setattr__(sample, name, getattr(self, name)[indices])
        object.__setattr__(sample, "action_masks", None if self.action_masks is None else self.action_masks[indices])
        return sample

    def __repr__(self) -> str:
        observation_shape = tuple(self.observations.shape[1:])
        return (
            f"ActorCriticSample(batch_size={self.batch_size}, observation_shape={observation_shape},"
            f" dtype={self.returns.dtype}, device={self.observations.device})"
        )
