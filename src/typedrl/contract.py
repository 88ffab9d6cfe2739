"""The environment boundary: what every reset, step and action must satisfy.

A :class:`Contract` is built from an environment's spaces (:meth:`Contract.for_env`) and checks, on **every** call:

* ``reset`` returns ``(observation, info)``; ``step`` returns ``(observation, reward, terminated, truncated, info)``
  (the old 4-tuple ``(obs, reward, done, info)`` is named as such);
* the observation is a numpy array of the space's shape and dtype (or of a dtype that numpy casts to it
  **safely**, ``np.can_cast(got, expected, "safe")``: float32 into a float64 space yes, float64 into a float32
  space no), finite (an option), and inside the space: Box bounds, ``Discrete(n, start)``, ``MultiDiscrete``,
  ``MultiBinary``; NaN is never inside a space;
* the reward is a finite (an option) real number: a Python ``int`` or ``float`` or a numpy integer or floating
  scalar, not a ``bool``; for a vector env an int or float array of shape ``(N,)``;
* ``terminated`` and ``truncated`` are ``bool`` or ``numpy.bool_``; for a vector env bool arrays of shape ``(N,)``;
* ``info`` is a dict; a vector env's ``info["final_obs"]`` (Gymnasium's SAME_STEP autoreset) is checked as an
  observation too;
* every action, before it reaches the environment, is in the action space (Box, Discrete, MultiDiscrete or
  MultiBinary): a numpy array whose dtype casts safely to the space's (Gymnasium's own ``Space.contains`` rule),
  or Python numbers and lists that convert to it without changing kind.

A vector env is checked with one vectorized numpy pass per vector step, never a loop over sub-environments: the
bounds are broadcast to ``(N, *obs)`` once, and the finite check rides on the bounds (an infinite bound is
replaced by the dtype's largest finite value, and NaN fails every comparison). Only when that pass fails is the
first offending sub-environment and element looked for and the message built. The contract never changes the
data it checks.
"""

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple, TypedDict, Unpack

import gymnasium as gym
import numpy as np
import numpy.typing as npt
from gymnasium import spaces
from gymnasium.vector import VectorEnv

from typedrl.errors import ContractViolation, HyperparameterError, InputError

__all__ = ["Contract", "ContractOptions", "ContractWarning", "StepResult"]

StepResult = tuple[Any, Any, Any, Any, dict[str, Any]]
"""``(observation, reward, terminated, truncated, info)`` as ``step`` returns it."""

_STEP_SHAPE = "a 5-tuple (observation, reward, terminated, truncated, info)"
_RESET_SHAPE = "a 2-tuple (observation, info)"
_BOOL = np.dtype(np.bool_)
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_I64 = np.dtype(np.int64)


class ContractOptions(TypedDict, total=False):
    """The keyword options of :class:`Contract`, accepted by everything that builds one (see its docstring)."""

    env_id: str
    finite_observations: bool
    finite_rewards: bool
    observation_bounds: tuple[npt.ArrayLike, npt.ArrayLike] | None
    reward_range: tuple[float, float] | None
    reject_terminated_and_truncated: bool
    on_violation: Literal["raise", "warn"]


class ContractWarning(UserWarning):
    """Issued instead of raising when a contract has ``on_violation="warn"``; ``violation`` is the error."""

    def __init__(self, violation: ContractViolation) -> None:
        super().__init__(str(violation))
        self.violation = violation


class _Problem:
    """What is wrong, before it becomes a :class:`ContractViolation` (the slow path builds one per failure)."""

    __slots__ = ("env_index", "expected", "field", "got")

    def __init__(self, env_index: int | None, field: str, got: str, expected: str) -> None:
        self.env_index, self.field, self.got, self.expected = env_index, field, got, expected


def _describe(value: object) -> str:
    """Name a value of the wrong kind: ``"a float64 array of shape (4,)"``, ``"'abc' (a str)"``, ``"None"``."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"{_article(str(value.dtype))} array of shape {value.shape}"
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{text} ({_article(type(value).__name__)})"


def _article(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _position(name: str, index: tuple[int, ...]) -> str:
    return f"{name}[{', '.join(map(str, index))}]" if index else name


def _space_layout(space: gym.Space[Any], role: str) -> tuple[np.dtype[Any], tuple[int, ...], np.ndarray, np.ndarray]:
    """The dtype, element shape and inclusive per-element bounds of a Box, Discrete, MultiDiscrete or MultiBinary."""
    if isinstance(space, spaces.Box):
        return space.dtype, space.shape, space.low, space.high
    if isinstance(space, spaces.Discrete):
        start = np.asarray(space.start, dtype=space.dtype)
        return space.dtype, (), start, start + np.asarray(space.n - 1, dtype=space.dtype)
    if isinstance(space, spaces.MultiDiscrete):
        return space.dtype, space.shape, space.start, space.start + space.nvec - 1
    if isinstance(space, spaces.MultiBinary):
        return space.dtype, space.shape, np.zeros(space.shape, space.dtype), np.ones(space.shape, space.dtype)
    raise InputError(
        f"Contract: {role}_space is {space!r}; expected a Box, Discrete, MultiDiscrete or MultiBinary space"
    )


class _Layout(NamedTuple):
    """Bounds and comparison outputs in one memory layout (a comparison is fastest when its operands share one).

    Both outputs are halves of one flat buffer, so one ``tobytes()`` compares them all with all-true: cheaper
    than any numpy reduction on a few hundred bytes.
    """

    low: np.ndarray
    high: np.ndarray
    above_low: np.ndarray
    below_high: np.ndarray
    outputs: np.ndarray

    @classmethod
    def make(cls, low: np.ndarray, high: np.ndarray, order: Literal["C", "F"]) -> "_Layout":
        size = low.size
        outputs = np.empty(2 * size, np.bool_)
        # Reshaping a contiguous slice is a view in either order: the comparisons write into ``outputs``.
        above, below = (outputs[i * size : (i + 1) * size].reshape(low.shape, order=order) for i in range(2))
        return cls(np.array(low, order=order), np.array(high, order=order), above, below, outputs)


class _ArrayCheck:
    """Checks observations or actions of one space, for one env (``num_envs=None``) or a batch of ``num_envs``."""

    def __init__(
        self,
        space: gym.Space[Any],
        *,
        name: str,
        noun: str,
        num_envs: int | None,
        finite: bool,
        bounds: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
        lenient: bool = False,
    ) -> None:
        dtype, item_shape, low, high = _space_layout(space, noun)
        if bounds is not None:
            try:
                low, high = (np.broadcast_to(np.asarray(b, dtype=dtype), item_shape) for b in bounds)
            except ValueError as error:
                raise InputError(
                    f"Contract: observation_bounds do not broadcast to the observation shape {item_shape}: {error}"
                ) from None
        self.space, self.name, self.noun, self.num_envs = space, name, noun, num_envs
        self.dtype: np.dtype[Any] = np.dtype(dtype)
        self.item_shape: tuple[int, ...] = tuple(item_shape)
        self.shape = self.item_shape if num_envs is None else (num_envs, *self.item_shape)
        self.is_float = self.dtype.kind == "f"
        self.finite = finite and self.is_float
        self.lenient = lenient  # Python numbers and lists are converted (actions)
        self.low_text, self.high_text = np.array(low, dtype=dtype), np.array(high, dtype=dtype)
        if self.finite:  # the bounds comparison then rejects ±inf too
            largest = np.finfo(self.dtype).max
            low, high = np.maximum(low, -largest), np.minimum(high, largest)
        self.low = np.array(np.broadcast_to(np.asarray(low, dtype=dtype), self.shape), order="C")
        self.high = np.array(np.broadcast_to(np.asarray(high, dtype=dtype), self.shape), order="C")
        scalar = num_envs is None and not self.item_shape and self.dtype.kind in "iu"
        self.scalar_bounds = (int(self.low), int(self.high)) if scalar else None
        self.ok: Callable[[object], bool] = self._fast_path()
        """The fast path: ``True`` when the value is an array of exactly the expected dtype and shape, inside
        (or, for one ``Discrete`` value, an ``int`` inside). ``False`` sends it to :meth:`problem`."""

    def _fast_path(self) -> Callable[[object], bool]:
        """Build :attr:`ok`: a closure over locals, as it runs on every step."""
        ndarray, less_equal, dtype, shape, scalar_bounds = np.ndarray, np.less_equal, self.dtype, self.shape, None
        if self.scalar_bounds is not None:
            scalar_bounds = self.scalar_bounds

        def scalar_ok(value: object) -> bool:
            if scalar_bounds is None or not (type(value) is int or (type(value) is np.int64 and dtype is _I64)):
                return False
            return scalar_bounds[0] <= int(value) <= scalar_bounds[1]

        if self.dtype.kind == "i" and not self.low.any():
            # An integer space from 0: one comparison, as negative values are huge once read as unsigned.
            unsigned = np.dtype(f"u{self.dtype.itemsize}")
            high_unsigned, below = self.high.astype(unsigned), np.empty(shape, np.bool_)
            all_below = b"\x01" * self.low.size

            def ok_from_zero(value: object) -> bool:
                if type(value) is ndarray and value.dtype is dtype and value.shape == shape:
                    less_equal(value.view(unsigned), high_unsigned, below)  # positional out: faster
                    return below.tobytes() == all_below
                return scalar_ok(value)

            return ok_from_zero
        # Envs return C- and Fortran-ordered batches (CartPoleVectorEnv returns ``state.T``): bounds in both.
        c_layout = _Layout.make(self.low, self.high, "C")
        layouts = {self.low.strides: c_layout}
        layouts.setdefault(np.asfortranarray(self.low).strides, _Layout.make(self.low, self.high, "F"))
        all_inside = b"\x01" * (2 * self.low.size)

        def ok_in_bounds(value: object) -> bool:
            if type(value) is ndarray and value.dtype is dtype and value.shape == shape:
                layout: _Layout = layouts.get(value.strides, c_layout)
                low, high, above_low, below_high, outputs = layout
                less_equal(low, value, above_low)
                less_equal(value, high, below_high)
                return outputs.tobytes() == all_inside
            return scalar_ok(value)

        return ok_in_bounds

    def problem(self, value: object, ignore: npt.NDArray[np.bool_] | None = None) -> _Problem | None:
        """The slow path: the first problem of ``value`` (sub-environments in ``ignore`` skipped), or ``None``."""
        array = self._as_array(value)
        if isinstance(array, _Problem):
            return array
        outside = ~((self.low <= array) & (array <= self.high))
        if ignore is not None:
            outside[ignore] = False
        if not outside.any():
            return None
        index = tuple(int(i) for i in np.argwhere(outside)[0])
        env_index, element = (None, index) if self.num_envs is None else (index[0], index[1:])
        field = _position(self.name, element)
        return _Problem(env_index, field, str(array[index]), self._element_expected(element))

    def _as_array(self, value: object) -> np.ndarray | _Problem:
        if isinstance(value, np.ndarray | np.generic) or (self.scalar_bounds is not None and isinstance(value, int)):
            array = np.asarray(value)
            casting: Literal["safe", "same_kind"] = "safe"
        elif self.lenient and isinstance(value, int | float | list | tuple):
            try:
                array = np.asarray(value)
            except ValueError:
                return self._whole_problem(value)
            casting = "same_kind"
        else:
            return self._whole_problem(value)
        if array.shape != self.shape or not np.can_cast(array.dtype, self.dtype, casting):
            return self._whole_problem(value)
        return array.astype(self.dtype, copy=False)

    def _whole_problem(self, value: object) -> _Problem:
        if self.scalar_bounds is not None:
            expected = f"{_article(self.noun)} in {self.space!r}"
        else:
            expected = f"{_article(str(self.dtype))} array of shape {self.shape}"
        return _Problem(None, self.name, _describe(value), expected)

    def _element_expected(self, element: tuple[int, ...]) -> str:
        if isinstance(self.space, spaces.Discrete):
            return f"{_article(self.noun)} in {self.space!r}"
        low, high = self.low_text[element], self.high_text[element]
        unbounded = self.is_float and np.isneginf(low) and np.isposinf(high)
        if self.finite:
            return f"a finite {self.dtype}" + ("" if unbounded else f" in [{low}, {high}]")
        if unbounded:
            return f"{_article(str(self.dtype))} that is not nan"
        return f"{_article(str(self.dtype))} in [{low}, {high}]"


class _RewardCheck:
    """Checks rewards: one real number per env, finite and in ``reward_range`` when asked."""

    def __init__(self, num_envs: int | None, *, finite: bool, reward_range: tuple[float, float] | None) -> None:
        self.num_envs, self.finite, self.range = num_envs, finite, reward_range
        self.shape = (num_envs,) if num_envs is not None else ()
        self._flags, self._all_true = np.empty(self.shape, np.bool_), b"\x01" * (num_envs or 1)
        low, high = reward_range if reward_range is not None else (-math.inf, math.inf)
        self.low, self.high = float(low), float(high)
        words = "a finite real number" if finite else "a real number that is not nan"
        self.expected = words + ("" if reward_range is None else f" in [{self.low}, {self.high}]")
        self.ok: Callable[[object], bool] = self._batch_fast_path() if num_envs is not None else self._single_ok
        """The fast path: ``True`` for a finite float32/float64 array of shape ``(N,)`` (a vector env), or a
        finite Python or numpy number (one env), inside ``reward_range``. ``False`` sends it to :meth:`problem`."""

    def _batch_fast_path(self) -> Callable[[object], bool]:
        """Build :attr:`ok` for a vector env: a closure over locals, as it runs on every step."""
        ndarray, isfinite, shape, flags, all_true = np.ndarray, np.isfinite, self.shape, self._flags, self._all_true
        finite, ranged, low, high = self.finite, self.range is not None, self.low, self.high

        def ok(reward: object) -> bool:
            if (
                type(reward) is not ndarray
                or reward.shape != shape
                or (reward.dtype is not _F32 and reward.dtype is not _F64)
            ):
                return False
            if finite and not ranged:
                isfinite(reward, flags)
                return flags.tobytes() == all_true
            inside = ~np.isnan(reward) & (low <= reward) & (reward <= high)
            return bool(inside.all()) and (not finite or bool(np.isfinite(reward).all()))

        return ok

    def _single_ok(self, reward: object) -> bool:
        kind = type(reward)
        if kind is float or kind is int or kind is np.float32 or kind is np.float64 or kind is np.int64:
            number = float(reward)  # type: ignore[arg-type]
            return (not self.finite or math.isfinite(number)) and self.low <= number <= self.high
        return False

    def problem(self, reward: object, ignore: npt.NDArray[np.bool_] | None = None) -> _Problem | None:
        """The slow path: the first problem of ``reward`` (sub-environments in ``ignore`` skipped), or ``None``."""
        if self.num_envs is None:
            if isinstance(reward, bool) or not isinstance(reward, int | float | np.integer | np.floating):
                return _Problem(None, "reward", _describe(reward), self.expected)
            array = np.asarray(reward, dtype=np.float64)
        else:
            if not isinstance(reward, np.ndarray) or reward.shape != self.shape or reward.dtype.kind not in "fiu":
                return _Problem(None, "reward", _describe(reward), f"a float array of shape {self.shape}")
            array = reward.astype(np.float64)
        bad = np.isnan(array) | (array < self.low) | (array > self.high)
        if self.finite:
            bad |= np.isinf(array)
        if ignore is not None:
            bad &= ~ignore
        if not bad.any():
            return None
        if self.num_envs is None:
            return _Problem(None, "reward", str(reward), self.expected)
        first = int(np.flatnonzero(bad)[0])
        return _Problem(first, "reward", str(np.asarray(reward)[first]), self.expected)


class Contract:
    """What an environment (single or vector) and its agent must satisfy on every reset, step and action.

    Build one with :meth:`for_env`; the checked wrappers :class:`~typedrl.envs.CheckedEnv` and
    :class:`~typedrl.envs.CheckedVectorEnv` apply it to every call. :meth:`check_action`, :meth:`check_reset` and
    :meth:`check_step` check and report; :attr:`action_ok` and :attr:`step_ok` are their fast paths alone (a
    ``bool``, no report), which the wrappers call on every step, calling the reporting method only on a miss. A
    contract holds scratch buffers for its vectorized checks: use one contract per environment and thread.

    Args:
        observation_space: the observation space of **one** environment (``single_observation_space``).
        action_space: the action space of one environment (``single_action_space``).
        num_envs: the number of sub-environments of a vector env; ``None`` for a single env.
        env_id: the name the messages start with.
        finite_observations: reject ±inf in float observations (NaN is rejected always: it is in no space).
        finite_rewards: reject ±inf rewards (and NaN; with ``False``, NaN is still rejected).
        observation_bounds: ``(low, high)`` replacing the space's own bounds (broadcast to the observation
            shape), to hold an environment to tighter limits than it declares.
        reward_range: ``(low, high)``: reject rewards outside it.
        reject_terminated_and_truncated: reject a step that is both terminated and truncated.
        on_violation: ``"raise"`` a :class:`~typedrl.errors.ContractViolation` (the default), or ``"warn"`` with a
            :class:`ContractWarning` and go on. A result of the wrong structure (a 4-tuple step, a reset that
            returns only the observation) raises in both modes: there is nothing to pass on.

    Raises:
        InputError: a space other than Box, Discrete, MultiDiscrete or MultiBinary, or bounds that do not fit.
        HyperparameterError: an option outside its domain.
    """

    def __init__(
        self,
        observation_space: gym.Space[Any],
        action_space: gym.Space[Any],
        *,
        num_envs: int | None = None,
        env_id: str = "env",
        finite_observations: bool = True,
        finite_rewards: bool = True,
        observation_bounds: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
        reward_range: tuple[float, float] | None = None,
        reject_terminated_and_truncated: bool = False,
        on_violation: Literal["raise", "warn"] = "raise",
    ) -> None:
        if on_violation not in ("raise", "warn"):
            raise HyperparameterError(f"Contract: on_violation is {on_violation!r}; expected 'raise' or 'warn'")
        if num_envs is not None and (isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1):
            raise HyperparameterError(f"Contract: num_envs is {num_envs!r}; expected None or an int >= 1")
        if reward_range is not None and not reward_range[0] <= reward_range[1]:
            raise HyperparameterError(f"Contract: reward_range is {reward_range!r}; expected (low, high), low <= high")
        self.observation_space, self.action_space = observation_space, action_space
        self.num_envs, self.env_id, self.on_violation = num_envs, env_id, on_violation
        self.finite_observations, self.finite_rewards = finite_observations, finite_rewards
        self.observation_bounds, self.reward_range = observation_bounds, reward_range
        self.reject_terminated_and_truncated = reject_terminated_and_truncated
        self._observation = _ArrayCheck(
            observation_space,
            name="observation",
            noun="observation",
            num_envs=num_envs,
            finite=finite_observations,
            bounds=observation_bounds,
        )
        self._final_observation = _ArrayCheck(
            observation_space,
            name="final_obs",
            noun="observation",
            num_envs=None,
            finite=finite_observations,
            bounds=observation_bounds,
        )
        self._action = _ArrayCheck(
            action_space, name="action", noun="action", num_envs=num_envs, finite=True, lenient=True
        )
        self._reward = _RewardCheck(num_envs, finite=finite_rewards, reward_range=reward_range)
        self._flags_shape = (num_envs,) if num_envs is not None else None
        self._both = np.empty(num_envs or 1, dtype=np.bool_)
        self.action_ok: Callable[[object], bool] = self._action.ok
        """The fast check of an action: ``True`` means it is valid. ``False`` means: call :meth:`check_action`,
        which finds and reports the problem (or accepts a safely castable dtype that the fast check skips)."""
        self.step_ok: Callable[[object], bool] = self._step_fast_path()
        """The fast check of a step result, as :attr:`action_ok` is of an action (``False``: call
        :meth:`check_step`). The checked wrappers call these two on every step, the slow methods only on a miss."""

    @classmethod
    def for_env(
        cls, env: gym.Env[Any, Any] | VectorEnv[Any, Any, Any], **options: Unpack[ContractOptions]
    ) -> "Contract":
        """The contract for ``env``: a single env's spaces, or a vector env's single spaces and ``num_envs``.

        ``env_id`` defaults to the registered id of the environment (``env.spec.id``), else its class name; the
        other options are those of :class:`Contract`.
        """
        if isinstance(env, VectorEnv):
            options.setdefault("env_id", _vector_env_id(env))
            return cls(env.single_observation_space, env.single_action_space, num_envs=env.num_envs, **options)
        if isinstance(env, gym.Env):
            spec = env.unwrapped.spec
            options.setdefault("env_id", spec.id if spec is not None else type(env.unwrapped).__name__)
            return cls(env.observation_space, env.action_space, **options)
        raise InputError(f"Contract.for_env: env is {_describe(env)}; expected a gymnasium Env or VectorEnv")

    def check_action(self, action: object, *, step: int, ignore: Sequence[object] = ()) -> None:
        """Check an action before it is sent as step number ``step``.

        ``ignore``: bool masks of shape ``(N,)``; a sub-environment true in any of them ignores its action and is
        not checked. Under Gymnasium's NEXT_STEP autoreset, pass the previous step's ``terminated`` and
        ``truncated``: the step after a done only resets that sub-environment.
        """
        if self.action_ok(action):
            return
        problem = self._action.problem(action, self._mask(ignore))
        if problem is not None:
            self._report(problem, "action", step)

    def check_reset(self, result: object, *, step: int = 0) -> tuple[Any, dict[str, Any]]:
        """Check what ``reset`` returned after ``step`` steps; give it back unchanged as ``(observation, info)``."""
        if type(result) is tuple and len(result) == 2:
            observation, info = result
            if self._observation.ok(observation) and type(info) is dict:
                return observation, info
        if not isinstance(result, tuple) or len(result) != 2:
            got = f"a {len(result)}-tuple" if isinstance(result, tuple) else _describe(result)
            raise ContractViolation(self.env_id, "reset", step, None, "result", got, _RESET_SHAPE)
        observation, info = result
        problem = self._observation.problem(observation) or _info_problem(info)
        if problem is not None:
            self._report(problem, "reset", step)
        return observation, info

    def check_step(self, result: object, *, step: int, ignore: Sequence[object] = ()) -> StepResult:
        """Check what step number ``step`` returned; give it back unchanged.

        ``ignore``: as for :meth:`check_action`; those sub-environments were reset by this step (NEXT_STEP
        autoreset): their reward (Gymnasium's 0) is not checked. Their observation is.
        """
        if self.step_ok(result):
            return result  # type: ignore[return-value]
        if not isinstance(result, tuple) or len(result) != 5:
            got = _describe(result)
            if isinstance(result, tuple):
                got = f"a {len(result)}-tuple"
                if len(result) == 4:
                    got += " (observation, reward, done, info): the old Gym step API"
            raise ContractViolation(self.env_id, "step", step, None, "result", got, _STEP_SHAPE)
        observation, reward, terminated, truncated, info = result
        problem = (
            self._observation.problem(observation)
            or self._reward.problem(reward, self._mask(ignore))
            or self._flags_problem("terminated", terminated)
            or self._flags_problem("truncated", truncated)
            or self._both_problem(terminated, truncated)
            or _info_problem(info)
            or self._final_observations_problem(info)
        )
        if problem is not None:
            self._report(problem, "step", step)
        return result

    def _step_fast_path(self) -> Callable[[object], bool]:
        """Build :attr:`step_ok`: a closure over locals, as it runs on every step."""
        observation_ok, reward_ok, flags_ok = self._observation.ok, self._reward.ok, self._flags_ok
        reject, both_true, final_ok = self.reject_terminated_and_truncated, self._both_true, self._final_observations_ok
        ndarray, flags_shape = np.ndarray, self._flags_shape

        def batch_step_ok(result: object) -> bool:
            if type(result) is not tuple or len(result) != 5:
                return False
            observation, reward, terminated, truncated, info = result
            return (
                observation_ok(observation)
                and reward_ok(reward)
                and type(terminated) is ndarray
                and terminated.dtype is _BOOL
                and terminated.shape == flags_shape
                and type(truncated) is ndarray
                and truncated.dtype is _BOOL
                and truncated.shape == flags_shape
                and type(info) is dict
                and not (reject and both_true(terminated, truncated))
                and ("final_obs" not in info or final_ok(info))
            )

        def single_step_ok(result: object) -> bool:
            if type(result) is not tuple or len(result) != 5:
                return False
            observation, reward, terminated, truncated, info = result
            return (
                observation_ok(observation)
                and reward_ok(reward)
                and flags_ok(terminated)
                and flags_ok(truncated)
                and type(info) is dict
                and not (reject and both_true(terminated, truncated))
            )

        return single_step_ok if flags_shape is None else batch_step_ok

    def _mask(self, masks: Sequence[object]) -> npt.NDArray[np.bool_] | None:
        """The union of the ``ignore`` masks, or ``None`` (also when one is malformed: then nothing is skipped)."""
        union = None
        for mask in masks:
            if not isinstance(mask, np.ndarray) or mask.dtype != _BOOL or mask.shape != self._flags_shape:
                return None
            union = mask if union is None else union | mask
        return union

    def _flags_ok(self, flags: object) -> bool:
        return type(flags) is bool or type(flags) is np.bool_

    def _flags_problem(self, name: str, flags: object) -> _Problem | None:
        if self._flags_shape is None:
            if isinstance(flags, bool | np.bool_):
                return None
            return _Problem(None, name, _describe(flags), "a bool")
        if isinstance(flags, np.ndarray) and flags.dtype == _BOOL and flags.shape == self._flags_shape:
            return None
        return _Problem(None, name, _describe(flags), f"a bool array of shape {self._flags_shape}")

    def _both_true(self, terminated: Any, truncated: Any) -> bool:
        if self._flags_shape is None:
            return bool(terminated and truncated)
        return bool(np.count_nonzero(np.logical_and(terminated, truncated, out=self._both)))

    def _both_problem(self, terminated: Any, truncated: Any) -> _Problem | None:
        if not self.reject_terminated_and_truncated or not self._both_true(terminated, truncated):
            return None
        env_index = None if self._flags_shape is None else int(np.flatnonzero(self._both)[0])
        expected = "at most one of terminated and truncated true (reject_terminated_and_truncated=True)"
        return _Problem(env_index, "truncated", "True while terminated is True", expected)

    def _final_observations_ok(self, info: dict[str, Any]) -> bool:
        """Whether SAME_STEP autoreset's ``info["final_obs"]`` holds good observations where ``_final_obs``."""
        final, finished = info["final_obs"], info.get("_final_obs")
        if type(final) is not np.ndarray or final.shape != self._flags_shape or type(finished) is not np.ndarray:
            return False
        ok = self._final_observation.ok
        return all(ok(final[env_index]) for env_index in np.flatnonzero(finished))

    def _final_observations_problem(self, info: dict[str, Any]) -> _Problem | None:
        if self._flags_shape is None or "final_obs" not in info:
            return None
        final, finished = info["final_obs"], info.get("_final_obs")
        if not isinstance(final, np.ndarray) or final.shape != self._flags_shape:
            return _Problem(None, "info['final_obs']", _describe(final), f"an array of shape {self._flags_shape}")
        indices = range(len(final)) if finished is None else np.flatnonzero(finished)
        for env_index in indices:
            if final[env_index] is None:  # only ``_final_obs`` says which are real
                continue
            problem = self._final_observation.problem(final[env_index])
            if problem is not None:
                problem.env_index = int(env_index)
                return problem
        return None

    def _report(self, problem: _Problem, call: str, step: int) -> None:
        violation = ContractViolation(
            self.env_id, call, step, problem.env_index, problem.field, problem.got, problem.expected
        )
        if self.on_violation == "raise":
            raise violation
        warnings.warn(ContractWarning(violation), stacklevel=4)

    def __repr__(self) -> str:
        """``Contract(CartPole-v1, N=8, Box(...), Discrete(2))``."""
        batch = "" if self.num_envs is None else f", N={self.num_envs}"
        return f"Contract({self.env_id}{batch}, {self.observation_space!r}, {self.action_space!r})"


def _info_problem(info: object) -> _Problem | None:
    return None if isinstance(info, dict) else _Problem(None, "info", _describe(info), "a dict")


def _vector_env_id(env: VectorEnv[Any, Any, Any]) -> str:
    """The registered id of a vector env (``make_vec`` sets it), else its class name."""
    base = env.unwrapped
    return base.spec.id if base.spec is not None else type(base).__name__
