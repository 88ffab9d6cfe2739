"""Action masks: which discrete actions a sub-environment allows now, read as sb3-contrib's MaskablePPO reads them.

An environment masks actions in one of two ways, looked for in this order when a vector env is first reset:

1. a method ``action_masks()`` on each sub-environment (through its wrappers), returning one flag per action:
   what sb3-contrib's ``MaskablePPO`` calls (``env_method("action_masks")``); read after every reset and step;
2. a key ``info["action_mask"]`` in what ``reset`` and ``step`` return (Gymnasium's Taxi and FrozenLake-style
   toy-text environments), stacked by the vector env to ``[N, A]`` beside its ``_action_mask`` flags.

A mask is ``[N, A]``: ``True`` (or 1) where the action is allowed. ``A`` is the number of actions of a
``Discrete(A)`` space, or ``Σ nvec`` for a ``MultiDiscrete(nvec)`` one (each component's flags in order, as
sb3-contrib). Every row must allow at least one action (per component for MultiDiscrete). An agent applies a mask
by setting the logits of masked actions to ``−inf`` (:func:`mask_logits`): their probability is exactly 0, they
are never sampled nor chosen greedily, and their log-probabilities and the entropy stay free of NaN
(:mod:`typedrl.policies`). A mask that is not ``[N, A]`` bool or 0/1, or a row that allows nothing, raises the
reader's error naming the step, the sub-environment and the source.

Box actions have no masks: a Box environment's ``action_masks`` is not read.
"""

from collections.abc import Sequence
from typing import Any, Literal, cast

import numpy as np
import torch
from gymnasium.vector import VectorEnv
from jaxtyping import Bool, Float
from torch import Tensor

from typedrl._validate import describe, first_true
from typedrl.errors import TypedRLError

__all__ = ["ActionMaskReader", "MaskSource", "mask_logits"]

MaskSource = Literal["action_masks()", "info['action_mask']"]
"""Where an environment's masks come from: its ``action_masks()`` method, or ``info["action_mask"]``."""

_MISSING: Any = object()


def mask_logits(logits: Float[Tensor, " B A"], action_masks: Bool[Tensor, " B A"] | None) -> Float[Tensor, " B A"]:
    """``logits`` with every masked action's logit (``action_masks`` false) set to ``−inf``; ``logits`` itself
    when ``action_masks`` is ``None``. ``[B, A]`` and ``[B, A]`` bool to ``[B, A]`` (sb3-contrib's
    ``MaskableCategorical`` uses a large negative number instead; ``−inf`` makes the probability exactly 0)."""
    if action_masks is None:
        return logits
    return logits.masked_fill(~action_masks, -torch.inf)


def _has_method(env: VectorEnv[Any, Any, Any]) -> bool:
    """Whether ``env``'s sub-environments have ``action_masks``: asked of the first one where the vector env holds
    them (``SyncVectorEnv``, found below any vector wrappers), else of each through ``call`` (``AsyncVectorEnv``)."""
    inner: Any = env
    while not hasattr(inner, "envs") and hasattr(inner, "env"):
        inner = inner.env
    envs = getattr(inner, "envs", None)
    if isinstance(envs, Sequence) and envs and hasattr(envs[0], "has_wrapper_attr"):
        return bool(envs[0].has_wrapper_attr("action_masks")) and callable(envs[0].get_wrapper_attr("action_masks"))
    call = getattr(inner, "call", None)
    if call is None:  # a native vector env (CartPoleVectorEnv) has no per-environment calls
        return False
    try:  # each sub-environment answers for itself (an AsyncVectorEnv's workers), without raising where it lacks it
        answers = call("has_wrapper_attr", "action_masks")
    except Exception:
        return False
    return isinstance(answers, tuple | list) and bool(answers) and all(bool(answer) for answer in answers)


class ActionMaskReader:
    """Reads and checks the action masks of a vector env's ``N`` sub-environments, ``[N, A]`` bool each time.

    Build it with :meth:`detect` after the first reset: ``None`` when the environment has no masks.

    Args:
        env: the vector environment (the one the agent steps; wrappers forward ``call``).
        source: where the masks come from (:data:`MaskSource`).
        groups: the number of actions of each component: ``(A,)`` for ``Discrete(A)``, ``nvec`` for MultiDiscrete.
        where: what is reading, for messages (``"RolloutCollector"``, ``"evaluate"``).
        error: the error raised for a bad mask (:class:`~typedrl.errors.RolloutError`, ...).
    """

    def __init__(
        self,
        env: VectorEnv[Any, Any, Any],
        source: MaskSource,
        groups: Sequence[int],
        *,
        where: str,
        error: type[TypedRLError],
    ) -> None:
        self.env = env
        unwrapped: Any = getattr(env, "unwrapped", env)
        self._call: Any = unwrapped.call  # vector wrappers do not forward call
        self.source: MaskSource = source
        self.groups = tuple(int(size) for size in groups)
        self.width = sum(self.groups)
        self.where = where
        self.error = error
        self.n_envs = int(env.num_envs)

    @classmethod
    def detect(
        cls,
        env: VectorEnv[Any, Any, Any],
        reset_info: object,
        groups: Sequence[int],
        *,
        where: str,
        error: type[TypedRLError],
    ) -> "ActionMaskReader | None":
        """The reader for ``env`` (just reset, returning ``reset_info``), or ``None`` if it masks no actions: its
        sub-environments' ``action_masks()`` method first, then ``info["action_mask"]``."""
        if _has_method(env):
            return cls(env, "action_masks()", groups, where=where, error=error)
        if isinstance(reset_info, dict) and "action_mask" in reset_info:
            return cls(env, "info['action_mask']", groups, where=where, error=error)
        return None

    def read(
        self, info: object, *, step: int, rows: np.ndarray | None = None, previous: np.ndarray | None = None
    ) -> np.ndarray:
        """The masks now, ``[N, A]`` bool, from the environment's method or from ``info`` (what the last reset or
        step returned). ``rows``: only these sub-environments need a mask (a partial reset's info, the episodes
        still running); the others' rows are ``previous`` (the masks before a partial reset), else all true.
        ``step`` names the vector step in messages.

        Raises:
            TypedRLError: of the reader's ``error`` class (the collector's is ``RolloutError``), where the masks
                are not ``[N, A]`` of bools or 0/1, or a needed row (a component's part, for MultiDiscrete)
                allows no action.
        """
        if self.source == "action_masks()":
            try:
                entries = self._call("action_masks")
            except Exception as cause:
                raise self.error(
                    f"{self.where}: step {step}: action_masks() raised {type(cause).__name__}: {cause}"
                ) from cause
            value: Any = self._stacked(entries, step=step)
        else:
            value = self._from_info(info, step=step, rows=rows)
        masks = self._checked(value, step=step)
        if rows is not None:
            masks = np.where(rows[:, None], masks, True if previous is None else previous)
        self._check_rows(masks, step=step, rows=rows)
        return masks

    def _stacked(self, entries: Any, *, step: int) -> Any:
        """One ``[N, A]`` array of the sub-environments' answers, or an error naming the first unfit one."""
        if not isinstance(entries, (tuple, list)) or len(entries) != self.n_envs:
            return entries  # _checked names it
        try:  # every step: one stack; the entry-by-entry search below runs only when it fails
            stacked = np.stack(entries)
            if stacked.shape == (self.n_envs, self.width):
                return stacked
        except Exception:
            pass
        rows = []
        for env_index, entry in enumerate(entries):
            try:
                row = np.asarray(entry)
                fine = row.shape == (self.width,)
            except Exception:
                fine = False
            if not fine:
                raise self.error(
                    f"{self.where}: step {step}, env {env_index}: action_masks() returned {describe(entry)};"
                    f" expected {self.width} flags (a bool or 0/1 array of shape ({self.width},))"
                )
            rows.append(row)
        return np.stack(rows)

    def _from_info(self, info: object, *, step: int, rows: np.ndarray | None) -> Any:
        keys = cast("dict[str, Any]", info) if isinstance(info, dict) else {}
        value, present = dict.get(keys, "action_mask", _MISSING), dict.get(keys, "_action_mask", _MISSING)
        needed = np.ones(self.n_envs, dtype=np.bool_) if rows is None else rows
        if value is _MISSING:
            if not needed.any():
                return np.ones((self.n_envs, self.width), dtype=np.bool_)
            (env_index,) = first_true(needed)
            raise self.error(
                f"{self.where}: step {step}, env {env_index}: info has no 'action_mask'; expected one at every reset"
                " and step (the environment gave one at its first reset)"
            )
        if present is not _MISSING:
            flags = np.asarray(present)
            if flags.shape == (self.n_envs,) and flags.dtype == np.bool_ and not flags[needed].all():
                (env_index,) = first_true(needed & ~flags)
                raise self.error(
                    f"{self.where}: step {step}, env {env_index}: info has no 'action_mask' for this"
                    " sub-environment; expected one at every reset and step"
                )
        return value

    def _checked(self, value: Any, *, step: int) -> np.ndarray:
        expected = f"a bool (or 0/1) array of shape ({self.n_envs}, {self.width})"
        try:
            array = np.asarray(value)
            fine = array.shape == (self.n_envs, self.width) and (array.dtype == np.bool_ or array.dtype.kind in "iu")
        except Exception:
            fine = False
        if not fine:
            raise self.error(f"{self.where}: step {step}: {self.source} gave {describe(value)}; expected {expected}")
        if array.dtype != np.bool_:
            outside = (array != 0) & (array != 1)
            if outside.any():
                env_index, action = first_true(outside)
                got = array[env_index, action]
                raise self.error(
                    f"{self.where}: step {step}, env {env_index}: {self.source}[{action}] is {got}; expected 0 or 1"
                    " (or a bool)"
                )
            array = array.astype(np.bool_)
        return array

    def _check_rows(self, masks: np.ndarray, *, step: int, rows: np.ndarray | None) -> None:
        start = 0
        for component, size in enumerate(self.groups):
            empty: np.ndarray = np.asarray(~masks[:, start : start + size].any(axis=1))
            if rows is not None:
                empty &= rows
            if empty.any():
                (env_index,) = first_true(empty)
                part = f" component {component}" if len(self.groups) > 1 else ""
                raise self.error(
                    f"{self.where}: step {step}, env {env_index}: {self.source}{part} allows no action; expected at"
                    f" least one of {size} allowed"
                )
            start += size
