"""Rollout collection from a Gymnasium 1.x vector environment: one batched policy forward per vector step.

A :class:`RolloutCollector` keeps the environment's state across calls; each :meth:`RolloutCollector.collect`
returns a :class:`~typedrl.records.Rollout` holding, for every sub-environment ``n``, its next ``horizon`` **real**
transitions, in order. Every Gymnasium autoreset mode (``env.metadata["autoreset_mode"]``) is handled:

* ``NEXT_STEP`` (the default): the ``env.step`` after a done resets that sub-environment, returns reward 0 and
  ignores its action. The collector steps it with the others but records nothing for it, so that sub-environment
  falls one vector step behind. Transitions that a sub-environment makes beyond ``horizon`` while the slowest one
  catches up are kept and open the next rollout: nothing is dropped and nothing is recorded twice.
* ``SAME_STEP``: the done step returns the reset observation; the final one comes from ``info["final_obs"]``.
* ``DISABLED``: the collector resets the done sub-environments itself (``options={"reset_mask": done}``).

``next_values[t]`` is ``V(s_{t+1})`` exactly, and costs no extra forward on most steps: it is the ``values`` that
the sub-environment's next ``policy.act`` produced, because that call saw ``s_{t+1}``. In ``NEXT_STEP`` this holds
at a done step too (the reset step acts on the final observation); in ``SAME_STEP`` and ``DISABLED`` a vector step
with a done sub-environment adds one batched ``policy.value`` call on the observations with the final ones put in.
After the last step of a rollout, one ``policy.value`` call on the current observations supplies the rest.

An environment without the contract's checks (a bare ``gymnasium.make_vec``) that hands back something the
collector cannot record, such as a malformed ``info["final_obs"]`` / ``info["_final_obs"]`` in SAME_STEP, raises a
:class:`~typedrl.errors.RolloutError` naming the field or key, never a raw numpy or torch exception. A checked
environment (:func:`typedrl.envs.make_env`) reports the same as a ``ContractViolation`` one step earlier.

Because each sub-environment's transitions are the same in every mode, the same environment, seeds and policy give
the **same** rollouts in all three modes, provided (1) ``policy.act`` and ``policy.value`` treat each row of the
batch on its own, without randomness that depends on the other rows or on how many times they were called (for
example, draw a sampling policy's noise from the observation, or accept that stochastic policies only agree in
distribution), and (2) ``act(...).values`` equals ``value(...)`` on the same observations.
"""

from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol, cast

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from jaxtyping import Bool, Float, Shaped
from torch import Tensor

from typedrl import _validate
from typedrl._validate import describe, first_true, is_integer
from typedrl.errors import RolloutError
from typedrl.masks import ActionMaskReader
from typedrl.records import Rollout

__all__ = ["MaskablePolicy", "Policy", "PolicyStep", "RolloutCollector"]


class PolicyStep(NamedTuple):
    """What :meth:`Policy.act` returns for a batch of ``N`` observations."""

    actions: Shaped[Tensor, " N *act"]
    """The sampled actions: int64 ``[N]`` indices for a Discrete action space, floating ``[N, *act]`` for a Box one
    (unclipped: what the policy sampled)."""
    log_probs: Float[Tensor, " N"]
    """``log π(a|s)`` of the sampled actions."""
    values: Float[Tensor, " N"]
    """``V(s)``: must equal :meth:`Policy.value` on the same observations."""


class Policy(Protocol):
    """What the collector needs from a policy; both methods are called under ``torch.no_grad()``.

    ``act(observations).values`` must equal ``value(observations)``: the collector uses either as ``V(s)``. For
    rollouts that do not depend on the autoreset mode, each row's result must not depend on the other rows.

    For an environment that masks actions (:mod:`typedrl.masks`), the collector calls
    ``act(observations, action_masks=masks)`` with ``masks`` ``[N, A]`` bool (a :class:`MaskablePolicy`), and the
    policy must sample only allowed actions.
    """

    def act(self, observations: Float[Tensor, " N *obs"]) -> PolicyStep:
        """Sample one action per observation (row), with its log-probability and the state's value."""
        ...

    def value(self, observations: Float[Tensor, " N *obs"]) -> Float[Tensor, " N"]:
        """``V(s)`` for each observation (row)."""
        ...


class MaskablePolicy(Policy, Protocol):
    """A :class:`Policy` whose ``act`` also takes the action masks ``[N, A]`` (true: allowed), as the collector
    passes them for an environment that masks actions."""

    def act(
        self, observations: Float[Tensor, " N *obs"], action_masks: Bool[Tensor, " N A"] | None = None
    ) -> PolicyStep:
        """Sample one allowed action per observation (row), with its log-probability and the state's value."""
        ...


class _Rows:
    """Preallocated per-vector-step buffers ``[capacity, N]``; ``valid[v, n]`` marks a real transition.

    A row that is not valid (the reset step of ``NEXT_STEP``, or padding after carried transitions) never enters
    a rollout. ``final_values[v, n]`` is ``V(final observation)`` where a ``SAME_STEP``/``DISABLED`` step was done;
    ``next_values`` is filled when collection ends (or was, for rows carried over from the previous rollout).
    """

    _ARRAYS = ("rewards", "terminated", "truncated", "valid")
    action_masks: Tensor | None

    def __init__(
        self,
        capacity: int,
        n_envs: int,
        observation_shape: Sequence[int],
        device: torch.device,
        action: tuple[tuple[int, ...], torch.dtype] = ((), torch.int64),
        mask_width: int | None = None,
    ) -> None:
        def floats() -> Tensor:
            return torch.zeros((capacity, n_envs), dtype=torch.float32, device=device)

        self._tensors: tuple[str, ...] = (
            "observations",
            "actions",
            "log_probs",
            "values",
            "final_values",
            "next_values",
        )
        self.action_masks = None
        if mask_width is not None:
            self.action_masks = torch.ones((capacity, n_envs, mask_width), dtype=torch.bool, device=device)
            self._tensors += ("action_masks",)

        self.observations = torch.zeros((capacity, n_envs, *observation_shape), dtype=torch.float32, device=device)
        action_shape, action_dtype = action
        self.actions = torch.zeros((capacity, n_envs, *action_shape), dtype=action_dtype, device=device)
        self.log_probs, self.values, self.final_values, self.next_values = floats(), floats(), floats(), floats()
        self.rewards = np.zeros((capacity, n_envs), dtype=np.float32)
        self.terminated = np.zeros((capacity, n_envs), dtype=np.bool_)
        self.truncated = np.zeros((capacity, n_envs), dtype=np.bool_)
        self.valid = np.zeros((capacity, n_envs), dtype=np.bool_)
        # Row views, for writes in the collection loop cheaper than tensor[v] = x.
        recorded = ("observations", "actions", "log_probs", "values", *(("action_masks",) if mask_width else ()))
        self.rows = {name: getattr(self, name).unbind(0) for name in recorded}

    @property
    def capacity(self) -> int:
        return int(self.valid.shape[0])

    @property
    def action(self) -> tuple[tuple[int, ...], torch.dtype]:
        """(shape of one action, dtype), to build buffers like these."""
        return tuple(self.actions.shape[2:]), self.actions.dtype

    @property
    def mask_width(self) -> int | None:
        """``A`` of the action masks held, or ``None``: to build buffers like these."""
        return None if self.action_masks is None else int(self.action_masks.shape[2])

    def copy_from(self, other: "_Rows", rows: int, *, start: int = 0) -> None:
        """Copy rows ``[start, start + rows)`` of ``other`` into the top of these buffers."""
        for name in self._tensors + self._ARRAYS:
            getattr(self, name)[:rows] = getattr(other, name)[start : start + rows]

    def compact(self, used: int) -> "_Rows":
        """Buffers whose column ``n`` holds the valid rows of column ``n`` first, in order (a stable sort)."""
        order = np.argsort(~self.valid[:used], axis=0, kind="stable")
        out = object.__new__(_Rows)
        out._tensors, out.action_masks = self._tensors, None
        index = torch.from_numpy(order).to(self.actions.device)
        for name in self._tensors:
            tensor = getattr(self, name)[:used]
            trailing = tensor.shape[2:]
            expanded = index.view(*index.shape, *([1] * len(trailing))).expand(-1, -1, *trailing)
            setattr(out, name, torch.gather(tensor, 0, expanded))
        for name in self._ARRAYS:
            setattr(out, name, np.take_along_axis(getattr(self, name)[:used], order, axis=0))
        return out


def _action_layout(space: object) -> tuple[tuple[int, ...], torch.dtype]:
    """How the actions of one sub-environment's ``space`` are recorded: a Box's shape in float32; a MultiDiscrete's
    shape in int64; otherwise int64 indices (Discrete, and any other space whose policy acts with one integer per
    row)."""
    if isinstance(space, spaces.Box) and np.issubdtype(space.dtype, np.floating):
        return tuple(int(size) for size in space.shape), torch.float32
    if isinstance(space, spaces.MultiDiscrete):
        return tuple(int(size) for size in space.shape), torch.int64
    return (), torch.int64


def _mask_groups(space: object) -> tuple[int, ...] | None:
    """The action-mask layout of ``space``: ``(A,)`` for ``Discrete(A)``, ``nvec`` for a one-axis MultiDiscrete;
    ``None`` for spaces without masks (Box)."""
    if isinstance(space, spaces.Discrete):
        return (int(space.n),)
    if isinstance(space, spaces.MultiDiscrete) and space.nvec.ndim == 1:
        return tuple(int(size) for size in space.nvec)
    return None


_MISSING: Any = object()  # a key not in info


def _is_bool_array(value: object, shape: tuple[int, ...]) -> bool:
    """Whether ``value`` is a bool array of ``shape`` (an ndarray subclass read as a plain array)."""
    if not issubclass(type(value), np.ndarray):
        return False
    array = np.asarray(value)
    return array.dtype == np.bool_ and array.shape == shape


def _unrecordable(n_envs: int, **fields: object) -> RolloutError:
    """The error for the first of ``fields`` (a step's rewards and flags) that a buffer row cannot hold."""
    for name, value in fields.items():
        try:
            np.zeros(n_envs, dtype=np.float32 if name == "rewards" else np.bool_)[:] = value
        except Exception:
            break
    return RolloutError(
        f"RolloutCollector: env.step returned {name}={describe(value)}; expected an array of shape ({n_envs},)"
    )


def _autoreset_mode(env: VectorEnv[Any, Any, Any]) -> AutoresetMode:
    mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    try:
        return AutoresetMode(mode.value if isinstance(mode, AutoresetMode) else mode)
    except ValueError:
        raise RolloutError(
            f"RolloutCollector: env.metadata['autoreset_mode'] is {mode!r}; expected a gymnasium AutoresetMode"
        ) from None


class RolloutCollector:
    """Collects :class:`~typedrl.records.Rollout`\\ s of ``horizon`` steps per sub-environment from ``env``.

    ``env`` is any Gymnasium 1.x vector environment (``SyncVectorEnv``, ``make_vec(...)``, ``CartPoleVectorEnv``,
    a checked wrapper); ``policy`` implements :class:`Policy`. The first :meth:`collect` resets ``env`` with
    ``seed``; later calls continue the same episodes. Observations are converted to float32 tensors on ``device``.

    After each :meth:`collect`, :attr:`episode_returns` and :attr:`episode_lengths` hold the episodes whose last
    step is in the rollout just returned (sum of rewards and number of steps, counted across earlier rollouts).
    If anything raises during :meth:`collect` (a ``ContractViolation``, a policy error), nothing is returned and
    the next :meth:`collect` starts afresh with a reset (without ``seed``).

    Attributes:
        autoreset_mode: the environment's, from ``env.metadata["autoreset_mode"]`` (NEXT_STEP if absent).
        episode_returns: the sum of rewards of each episode that ended in the last rollout, in the order they ended.
        episode_lengths: the number of steps of each of those episodes, in the same order.
        episode_envs: the sub-environment each of those episodes ran in, in the same order.
    """

    def __init__(
        self,
        env: VectorEnv[Any, Any, Any],
        policy: Policy,
        *,
        horizon: int,
        seed: int | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        if not is_integer(horizon) or horizon < 1:
            raise RolloutError(f"RolloutCollector: horizon is {horizon!r}; expected a positive int")
        horizon = int(horizon)  # a numpy integer becomes a plain int
        if not isinstance(getattr(env, "num_envs", None), int):
            raise RolloutError(
                f"RolloutCollector: env is a {type(env).__name__}; expected a Gymnasium vector environment (num_envs)"
            )
        self.autoreset_mode = _autoreset_mode(env)
        self.env = env
        self.policy = policy
        self.horizon = horizon
        self.seed = seed
        self.device = _validate.device("RolloutCollector", device, error=RolloutError)
        self.n_envs = int(env.num_envs)
        self.action = _action_layout(getattr(env, "single_action_space", None))
        """(shape of one action, dtype) as recorded: ``((), int64)``, or a Box's shape in float32."""
        self._mask_groups = _mask_groups(getattr(env, "single_action_space", None))
        self.masks: ActionMaskReader | None = None
        """The environment's action masks (found at the first reset), or ``None``: it masks no actions."""
        self._masks_found = False
        self._masks_now: Tensor | None = None  # [N, A] of the observations the sub-environments are in
        self._vector_steps = 0
        self.episode_returns: list[float] = []
        self.episode_lengths: list[int] = []
        self.episode_envs: list[int] = []
        self._observations: Tensor | None = None  # [N, *obs] the sub-environments are in; None: reset first
        self._seeded = False
        self._needs_reset = np.zeros(self.n_envs, dtype=np.bool_)  # NEXT_STEP: the next env.step resets these
        self._carry: _Rows | None = None  # transitions beyond the last rollout's horizon, compacted per env
        self._carry_rows = 0
        self._running_return = np.zeros(self.n_envs, dtype=np.float64)
        self._running_length = np.zeros(self.n_envs, dtype=np.int64)

    def restart(self, seed: int | None) -> None:
        """Start new episodes at the next :meth:`collect`: reset every sub-environment with ``seed`` (``None``: no
        seed), dropping the carried transitions and the running episode statistics. A resumed run uses this."""
        self.seed, self._seeded = seed, False
        self._observations = None
        self._carry, self._carry_rows = None, 0
        self._running_return[:] = 0.0
        self._running_length[:] = 0

    def collect(self) -> Rollout:
        """Step the environment until every sub-environment has ``horizon`` new transitions; return them."""
        try:
            return self._collect()
        except BaseException:
            # The environment is in an unknown state and the buffers are partly filled: drop both.
            self._observations = None
            self._carry, self._carry_rows = None, 0
            self._running_return[:] = 0.0
            self._running_length[:] = 0
            raise

    def _observe(self, observations: Any, source: str) -> Tensor:
        # One from_numpy per vector step. The tensor may share memory with the env's array, so every use of it
        # (writing it to the buffers, a value call) happens before the next env.step or env.reset.
        try:  # free while nothing raises
            tensor = torch.from_numpy(np.ascontiguousarray(observations)).to(self.device, torch.float32)
        except Exception as error:  # an object array, a dtype torch lacks, a value whose __array__ raises
            raise RolloutError(
                f"RolloutCollector: {source}={describe(observations)}; expected a numeric array of shape"
                f" ({self.n_envs}, *obs)"
            ) from error
        return tensor

    def _reset(self, *, like: Tensor | None = None, **options: Any) -> Tensor:
        """Reset (all, or ``options["reset_mask"]``); the observations, of the shape of ``like`` where given."""
        result = self.env.reset(seed=None if self._seeded else self.seed, **options)
        self._seeded = True
        if not options:
            self._needs_reset[:] = False
        try:
            observations, info = result
        except Exception as error:  # not a pair
            raise RolloutError(
                f"RolloutCollector: env.reset returned {describe(result)}; expected (observations, info)"
            ) from error
        if not self._masks_found and self._mask_groups is not None:
            self._masks_found = True
            self.masks = ActionMaskReader.detect(
                self.env, info, self._mask_groups, where="RolloutCollector", error=RolloutError
            )
        if self.masks is not None:
            reset_mask = options.get("options", {}).get("reset_mask")
            self._read_masks(info, rows=reset_mask)
        tensor = self._observe(observations, "env.reset returned observations")
        if tensor.dim() == 0 or tensor.shape[0] != self.n_envs or (like is not None and tensor.shape != like.shape):
            expected = f"({self.n_envs}, *obs)" if like is None else str(tuple(like.shape))
            raise RolloutError(
                f"RolloutCollector: env.reset returned observations={describe(observations)}; expected an array"
                f" of shape {expected}"
            )
        return tensor

    def _read_masks(self, info: object, rows: np.ndarray | None = None) -> None:
        """The masks of the observations now, from the last reset's or step's ``info`` (or the env's method)."""
        assert self.masks is not None
        previous = None if self._masks_now is None or rows is None else self._masks_now.cpu().numpy()
        masks = self.masks.read(
            info, step=self._vector_steps, rows=None if previous is None else rows, previous=previous
        )
        self._masks_now = torch.from_numpy(masks).to(self.device)

    def _act(self, observations: Tensor, masks: Tensor | None) -> PolicyStep:
        if masks is None:
            step = self.policy.act(observations)
        else:
            step = cast("MaskablePolicy", self.policy).act(observations, action_masks=masks)
        action_shape, action_dtype = self.action
        for name, tensor in zip(PolicyStep._fields, step, strict=True):
            expected = (self.n_envs, *action_shape) if name == "actions" else (self.n_envs,)
            if not isinstance(tensor, Tensor) or tuple(tensor.shape) != expected:
                got = tuple(tensor.shape) if isinstance(tensor, Tensor) else type(tensor).__name__
                raise RolloutError(f"RolloutCollector: policy.act returned {name} {got}; expected shape {expected}")
        if step.actions.dtype is not action_dtype:
            raise RolloutError(
                f"RolloutCollector: policy.act returned actions of dtype {step.actions.dtype}; expected {action_dtype}"
            )
        return step

    def _value(self, observations: Tensor) -> Tensor:
        values = self.policy.value(observations)
        if not isinstance(values, Tensor) or tuple(values.shape) != (self.n_envs,):
            got = tuple(values.shape) if isinstance(values, Tensor) else type(values).__name__
            raise RolloutError(f"RolloutCollector: policy.value returned {got}; expected shape ({self.n_envs},)")
        return values

    def _final_observations(self, observations: Tensor, done: np.ndarray, info: object) -> Tensor:
        """The observations the done steps really produced (SAME_STEP keeps them in ``info["final_obs"]``)."""
        if self.autoreset_mode is not AutoresetMode.SAME_STEP:
            return observations
        indices = np.flatnonzero(done)
        finals = observations.clone()
        finals[torch.from_numpy(indices)] = self._read_final_observations(info, done, indices, observations.shape[1:])
        return finals

    def _read_final_observations(
        self, info: object, done: np.ndarray, indices: np.ndarray, shape: Sequence[int]
    ) -> Tensor:
        """The final observations of the done sub-environments ``indices``, from SAME_STEP's info; a RolloutError
        naming the key where it is malformed."""
        mode, n_envs = "in autoreset mode SAME_STEP", self.n_envs
        if not issubclass(type(info), dict):
            raise RolloutError(
                f"RolloutCollector: info is {describe(info)}; expected a dict with 'final_obs' and '_final_obs' {mode}"
            )
        # dict.get: a dict subclass's own get and __missing__ are not called.
        keys = cast("dict[str, Any]", info)
        mask, final = dict.get(keys, "_final_obs", _MISSING), dict.get(keys, "final_obs", _MISSING)
        if mask is not _MISSING and not _is_bool_array(mask, (n_envs,)):
            raise RolloutError(
                f"RolloutCollector: info['_final_obs'] is {describe(mask)}; expected a bool array of shape"
                f" ({n_envs},) {mode}"
            )
        marked = np.zeros(n_envs, dtype=np.bool_) if mask is _MISSING else np.asarray(mask)
        if not marked[done].all():
            (env_index,) = first_true(done & ~marked)
            raise RolloutError(
                f"RolloutCollector: env {env_index} is done but info has no final_obs for it; expected"
                f" info['final_obs'] and info['_final_obs'] {mode}"
            )
        if not issubclass(type(final), np.ndarray) or np.asarray(final).shape != (n_envs,):
            got = "missing" if final is _MISSING else describe(final)
            raise RolloutError(
                f"RolloutCollector: info['final_obs'] is {got}; expected an array of shape ({n_envs},) {mode}"
            )
        finals, entries = np.asarray(final), []
        for env_index in indices:
            entry = finals[env_index]
            try:
                array = np.asarray(entry)
                readable = tuple(array.shape) == tuple(shape) and array.dtype.kind in "biuf"
            except Exception:  # an entry whose own __array__ or __len__ raises
                readable = False
            if not readable:
                raise RolloutError(
                    f"RolloutCollector: env {int(env_index)} is done but info['final_obs'][{int(env_index)}] is"
                    f" {describe(entry)}; expected a numeric observation of shape {tuple(shape)} {mode}"
                )
            entries.append(array)
        return self._observe(np.stack(entries), "env.step returned info['final_obs'] entries")

    def _collect(self) -> Rollout:
        horizon, n_envs, mode = self.horizon, self.n_envs, self.autoreset_mode
        observations = self._reset() if self._observations is None else self._observations
        carry, carried = self._carry, self._carry_rows
        slack = max(8, horizon // 4) if mode is AutoresetMode.NEXT_STEP else 0
        mask_width = None if self.masks is None else self.masks.width
        rows = _Rows(carried + horizon + slack, n_envs, observations.shape[1:], self.device, self.action, mask_width)
        counts = np.zeros(n_envs, dtype=np.int64)  # real transitions per sub-environment so far
        if carry is not None:
            rows.copy_from(carry, carried)
            counts += carry.valid.sum(axis=0)
        v = carried
        with torch.no_grad():
            while counts.min() < horizon:
                if v == rows.capacity:
                    grown = _Rows(
                        2 * rows.capacity, n_envs, observations.shape[1:], self.device, rows.action, rows.mask_width
                    )
                    grown.copy_from(rows, v)
                    rows = grown
                masks = self._masks_now
                step = self._act(observations, masks)
                real = ~self._needs_reset
                for name, tensor in (("observations", observations), *zip(PolicyStep._fields, step, strict=True)):
                    rows.rows[name][v].copy_(tensor)
                if masks is not None:
                    rows.rows["action_masks"][v].copy_(masks)
                result = self.env.step(step.actions.cpu().numpy())
                self._vector_steps += 1
                # What an unchecked env hands back, read into the buffers; a raw numpy or torch error becomes a
                # RolloutError naming the field (the try blocks are free while nothing raises).
                try:
                    next_np, rewards, terminated, truncated, info = result
                except Exception as error:
                    raise RolloutError(
                        f"RolloutCollector: env.step returned {describe(result)}; expected a 5-tuple"
                        " (observations, rewards, terminated, truncated, info)"
                    ) from error
                next_observations = self._observe(next_np, "env.step returned observations")
                if next_observations.shape != observations.shape:
                    raise RolloutError(
                        f"RolloutCollector: env.step returned observations={describe(next_np)}; expected an"
                        f" array of shape {tuple(observations.shape)}, as before"
                    )
                try:
                    rows.rewards[v] = rewards
                    rows.terminated[v] = terminated
                    rows.truncated[v] = truncated
                except Exception as error:
                    raise _unrecordable(n_envs, rewards=rewards, terminated=terminated, truncated=truncated) from error
                rows.valid[v] = real
                if self.masks is not None:
                    self._read_masks(info)
                done = (rows.terminated[v] | rows.truncated[v]) & real
                if mode is AutoresetMode.NEXT_STEP:
                    # The next act sees the final observation: its values are the next_values of this step.
                    self._needs_reset = done
                elif done.any():
                    # All N rows, the final observations put in: a value call of the same shape as act's, so a
                    # row's value does not depend on which other sub-environments happened to end with it.
                    rows.final_values[v] = self._value(self._final_observations(next_observations, done, info))
                    if mode is AutoresetMode.DISABLED:
                        reset_observations = self._reset(like=next_observations, options={"reset_mask": done})
                        mask = torch.from_numpy(done).to(self.device).view(-1, *[1] * (observations.dim() - 1))
                        next_observations = torch.where(mask, reset_observations, next_observations)
                counts += real
                observations = next_observations
                v += 1
            bootstrap = self._value(observations)
        self._observations = observations
        return self._finish(rows, carried, v, counts, bootstrap)

    def _finish(self, rows: _Rows, carried: int, used: int, counts: np.ndarray, bootstrap: Tensor) -> Rollout:
        """Fill next_values, compact each column to its real transitions, keep the overflow for next time."""
        horizon, n_envs = self.horizon, self.n_envs
        # Row v's next observation is what the same sub-environment acted on at row v + 1 (after the last row: the
        # current observation). Where SAME_STEP/DISABLED reset at row v, that is the reset one: use V(final) instead.
        # Carried rows (above `carried`) already have theirs.
        following = torch.cat([rows.values[carried + 1 : used], bootstrap[None]])
        if self.autoreset_mode is not AutoresetMode.NEXT_STEP:
            done = torch.from_numpy(rows.terminated[carried:used] | rows.truncated[carried:used]).to(self.device)
            following = torch.where(done, rows.final_values[carried:used], following)
        rows.next_values[carried:used] = following
        if used != horizon or not rows.valid[:used].all():
            rows = rows.compact(used)

        extra = int(counts.max()) - horizon
        self._carry, self._carry_rows = None, 0
        if extra > 0:
            self._carry = _Rows(extra, n_envs, rows.observations.shape[2:], self.device, rows.action, rows.mask_width)
            self._carry.copy_from(rows, extra, start=horizon)
            self._carry.valid[:] = np.arange(horizon, horizon + extra)[:, None] < counts[None, :]
            self._carry_rows = extra

        rewards = rows.rewards[:horizon]
        terminated, truncated = rows.terminated[:horizon], rows.truncated[:horizon]
        self._record_episodes(rewards, terminated | truncated)
        return Rollout(
            observations=rows.observations[:horizon],
            actions=rows.actions[:horizon],
            log_probs=rows.log_probs[:horizon],
            rewards=torch.from_numpy(np.ascontiguousarray(rewards)).to(self.device),
            values=rows.values[:horizon],
            next_values=rows.next_values[:horizon],
            terminated=torch.from_numpy(np.ascontiguousarray(terminated)).to(self.device),
            truncated=torch.from_numpy(np.ascontiguousarray(truncated)).to(self.device),
            horizon=horizon,
            action_masks=None if rows.action_masks is None else rows.action_masks[:horizon],
        )

    def _record_episodes(self, rewards: np.ndarray, done: np.ndarray) -> None:
        """Returns and lengths of the episodes that end in this rollout, in the order (step, env) they end."""
        horizon = len(rewards)
        # sums[t, n] = rewards[:t, n].sum(): the part of an episode in rows [start, end] sums to
        # sums[end + 1] − sums[start].
        sums = np.zeros((horizon + 1, self.n_envs), dtype=np.float64)
        np.cumsum(rewards, axis=0, dtype=np.float64, out=sums[1:])
        envs, ends = np.nonzero(done.T)  # grouped by env, in time order within each
        first = np.ones(len(ends), dtype=np.bool_)  # the first end of its env in this rollout
        first[1:] = envs[1:] != envs[:-1]
        starts = np.zeros_like(ends)  # the row where each episode's part in this rollout begins
        starts[1:] = ends[:-1] + 1
        starts[first] = 0
        returns = sums[ends + 1, envs] - sums[starts, envs] + np.where(first, self._running_return[envs], 0.0)
        lengths = ends + 1 - starts + np.where(first, self._running_length[envs], 0)
        # Episodes still running at the end carry their partial return and length into the next rollout.
        tail_start = np.zeros(self.n_envs, dtype=np.int64)
        tail_start[envs] = ends + 1  # the last end of each env wins
        ended = np.zeros(self.n_envs, dtype=np.bool_)
        ended[envs] = True
        columns = np.arange(self.n_envs)
        partial = sums[horizon] - sums[tail_start, columns]
        self._running_return = np.where(ended, 0.0, self._running_return) + partial
        self._running_length = np.where(ended, 0, self._running_length) + horizon - tail_start
        order = np.lexsort((envs, ends))
        self.episode_returns = returns[order].tolist()
        self.episode_lengths = lengths[order].tolist()
        self.episode_envs = envs[order].tolist()
