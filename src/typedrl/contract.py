"""The environment boundary: what every reset, step and action must satisfy.

A :class:`Contract` is built from an environment's spaces (:meth:`Contract.for_env`) and checks, on **every** call:

* ``reset`` returns ``(observation, info)``; ``step`` returns ``(observation, reward, terminated, truncated, info)``
  (the old 4-tuple ``(obs, reward, done, info)`` is named as such);
* the observation is a numpy array of the space's shape and dtype (or of a dtype that numpy casts to it
  **safely**, ``np.can_cast(got, expected, "safe")``: float32 into a float64 space yes, float64 into a float32
  space no), finite (an option), and inside the space: Box bounds, ``Discrete(n, start)``, ``MultiDiscrete``,
  ``MultiBinary``; NaN is never inside a space; a ``Dict`` or ``Tuple`` observation is a ``dict`` with exactly
  the space's keys (a ``tuple`` of its length) whose parts are each checked so, named ``observation['key']``;
* the reward is a finite (an option) real number (:func:`typedrl._validate.is_real`: a Python ``int`` or
  ``float``, a numpy integer or floating scalar, not a ``bool``) that a float can hold; for a vector env an int or
  float array of shape ``(N,)``;
* ``terminated`` and ``truncated`` are ``bool`` or ``numpy.bool_``; for a vector env bool arrays of shape ``(N,)``;
* ``info`` is a dict; in a vector env's, Gymnasium's autoreset keys are well formed when present:
  ``info["_final_obs"]`` a bool array of shape ``(N,)`` beside ``info["final_obs"]``, an array of shape ``(N,)``
  whose entries where the mask is true are observations, and ``info["final_info"]`` a dict beside a bool
  ``info["_final_info"]``; under SAME_STEP autoreset every done sub-environment has its final observation there;
* every action, before it reaches the environment, is in the action space (Box, Discrete, MultiDiscrete or
  MultiBinary): a numpy array whose dtype casts safely to the space's (Gymnasium's own ``Space.contains`` rule),
  or Python numbers and lists that convert to it without changing kind.

A vector env is checked with one vectorized numpy pass per vector step, never a loop over sub-environments: the
bounds are broadcast to ``(N, *obs)`` once, and the finite check rides on the bounds (an infinite bound is
replaced by the dtype's largest finite value, and NaN fails every comparison). Only when that pass fails is the
first offending sub-environment and element looked for and the message built. The contract never changes the
data it checks.

Whatever an environment returns gives a :class:`~typedrl.errors.ContractViolation` or passes, never another
exception: the slow path reads values past their own methods where it can (an ``ndarray`` subclass as a plain
array, a tuple subclass by its items, a dict subclass with ``dict.get``), and a value whose own methods raise while
it is read (``__array__``, ``__len__``, ``__float__``, ``__class__``, ...) is reported as such, naming the field.
"""

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple, TypedDict, Unpack, cast

import gymnasium as gym
import numpy as np
import numpy.typing as npt
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from typedrl._validate import article, brief_repr, describe, first_true, is_integer, is_real
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
_MISSING: Any = object()  # a key not in info


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


def _unreadable(value: object, error: Exception) -> str:
    """The ``got`` of a value whose own methods raised while the contract read it (``__array__``, ``__len__``)."""
    return f"{describe(value)}, which raised {type(error).__name__} when read"


def _text(value: object) -> str:
    """``str(value)`` on one line, cut as :func:`~typedrl._validate.brief_repr` cuts (an offending number)."""
    text = " ".join(str(value).split())
    return text if len(text) <= 40 else text[:37] + "..."


def _items(result: object) -> tuple[Any, ...] | None:
    """The items of a tuple (of a tuple subclass too, read past its own methods); ``None`` for anything else."""
    if not issubclass(type(result), tuple):
        return None
    return tuple.__getitem__(cast("tuple[Any, ...]", result), slice(None))


def _is_mask(value: object, shape: tuple[int, ...] | None) -> bool:
    """Whether ``value`` is a bool array of ``shape`` (an ndarray subclass read as a plain array)."""
    if not issubclass(type(value), np.ndarray):
        return False
    array = np.asarray(value)
    return array.dtype == _BOOL and array.shape == shape


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
        + (" (or a Dict or Tuple of them)" if role == "observation" else "")
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
        try:
            return self._first_problem(value, ignore)
        except Exception as error:  # the value's own methods raised while it was read
            return self._whole_problem(value, got=_unreadable(value, error))

    def _first_problem(self, value: object, ignore: npt.NDArray[np.bool_] | None) -> _Problem | None:
        array = self._as_array(value)
        if isinstance(array, _Problem):
            return array
        # Compared as it came, not cast to the space's dtype: numpy promotes both sides, so a value that a cast
        # would change (a float64 beyond float32's range, a uint64 beyond int64's) is judged, and named, as it is.
        outside = ~((self.low <= array) & (array <= self.high))
        if ignore is not None:
            outside[ignore] = False
        if not outside.any():
            return None
        index = tuple(int(i) for i in np.argwhere(outside)[0])
        env_index, element = (None, index) if self.num_envs is None else (index[0], index[1:])
        field = _position(self.name, element)
        return _Problem(env_index, field, _text(array[index]), self._element_expected(element))

    def _as_array(self, value: object) -> np.ndarray | _Problem:
        """``value`` as a plain array of the expected shape and a castable dtype, or the problem with it.

        An ``ndarray`` subclass is read as a plain array (its own methods are not called); a Python int beyond
        int64 and a list holding other objects become object arrays, which no space's dtype accepts.
        """
        if isinstance(value, np.ndarray | np.generic) or (self.scalar_bounds is not None and isinstance(value, int)):
            array = np.asarray(value)
            casting: Literal["safe", "same_kind"] = "safe"
        elif self.lenient and isinstance(value, int | float | list | tuple):
            try:
                array = np.asarray(value)
            except ValueError:  # a ragged list
                return self._whole_problem(value)
            casting = "same_kind"
        else:
            return self._whole_problem(value)
        if array.shape != self.shape or not np.can_cast(array.dtype, self.dtype, casting):
            return self._whole_problem(value)
        return array

    def _whole_problem(self, value: object, *, got: str | None = None) -> _Problem:
        if self.scalar_bounds is not None:
            expected = f"{article(self.noun)} in {self.space!r}"
        else:
            expected = f"{article(str(self.dtype))} array of shape {self.shape}"
        return _Problem(None, self.name, describe(value) if got is None else got, expected)

    def _element_expected(self, element: tuple[int, ...]) -> str:
        if isinstance(self.space, spaces.Discrete):
            return f"{article(self.noun)} in {self.space!r}"
        low, high = self.low_text[element], self.high_text[element]
        unbounded = self.is_float and np.isneginf(low) and np.isposinf(high)
        if self.finite:
            return f"a finite {self.dtype}" + ("" if unbounded else f" in [{low}, {high}]")
        if unbounded:
            return f"{article(str(self.dtype))} that is not nan"
        return f"{article(str(self.dtype))} in [{low}, {high}]"


class _CompositeCheck:
    """Checks observations of a ``Dict`` or ``Tuple`` space: the container (a ``dict`` with exactly the space's keys,
    or a ``tuple`` of its length), then each part by its own check, named ``observation['key']`` or
    ``observation[i]`` (nested spaces nest the names). A vector env's parts are batched, ``(N, *part)``."""

    def __init__(self, space: gym.Space[Any], *, name: str, noun: str, num_envs: int | None, finite: bool) -> None:
        self.space, self.name, self.num_envs = space, name, num_envs
        self.is_dict = isinstance(space, spaces.Dict)
        parts = space.spaces.items() if isinstance(space, spaces.Dict) else enumerate(cast("Any", space).spaces)
        self.keys: tuple[Any, ...] = ()
        checks: list[_ArrayCheck | _CompositeCheck] = []
        for key, part in parts:
            self.keys += (key,)
            checks.append(_check_for(part, name=f"{name}[{key!r}]", noun=noun, num_envs=num_envs, finite=finite))
        self.checks = tuple(checks)
        self.ok: Callable[[object], bool] = self._fast_path()

    def _fast_path(self) -> Callable[[object], bool]:
        keys, checks = self.keys, tuple(check.ok for check in self.checks)
        if self.is_dict:
            key_set = set(keys)

            def dict_ok(value: object) -> bool:
                if type(value) is not dict or value.keys() != key_set:
                    return False
                return all(ok(value[key]) for key, ok in zip(keys, checks, strict=True))

            return dict_ok

        def tuple_ok(value: object) -> bool:
            if type(value) is not tuple or len(value) != len(checks):
                return False
            return all(ok(part) for part, ok in zip(value, checks, strict=True))

        return tuple_ok

    def problem(self, value: object, ignore: npt.NDArray[np.bool_] | None = None) -> _Problem | None:
        """The first problem of the container or of a part, or ``None``."""
        try:
            if self.is_dict:
                if not isinstance(value, dict) or set(dict.keys(value)) != set(self.keys):
                    return self._whole_problem(value)
                parts = [dict.__getitem__(value, key) for key in self.keys]
            else:
                items = _items(value)
                if items is None or len(items) != len(self.keys):
                    return self._whole_problem(value)
                parts = list(items)
        except Exception as error:
            return _Problem(None, self.name, _unreadable(value, error), self._expected())
        for part, check in zip(parts, self.checks, strict=True):
            problem = check.problem(part, ignore)
            if problem is not None:
                return problem
        return None

    def _expected(self) -> str:
        if self.is_dict:
            return f"a dict with the keys {list(self.keys)} of {self.space!r}"
        return f"a tuple of {len(self.keys)} parts of {self.space!r}"

    def _whole_problem(self, value: object) -> _Problem:
        got = f"a dict with the keys {list(dict.keys(value))}" if isinstance(value, dict) else describe(value)
        return _Problem(None, self.name, got, self._expected())


def _check_for(
    space: gym.Space[Any],
    *,
    name: str,
    noun: str,
    num_envs: int | None,
    finite: bool,
    bounds: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
) -> "_ArrayCheck | _CompositeCheck":
    """The check of one space: a composite for ``Dict`` and ``Tuple`` (no ``bounds`` option there)."""
    if isinstance(space, spaces.Dict | spaces.Tuple):
        if bounds is not None:
            raise InputError(f"Contract: observation_bounds is for array spaces; the {noun} space is {space!r}")
        return _CompositeCheck(space, name=name, noun=noun, num_envs=num_envs, finite=finite)
    return _ArrayCheck(space, name=name, noun=noun, num_envs=num_envs, finite=finite, bounds=bounds)


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
            try:
                number = float(reward)  # type: ignore[arg-type]
            except OverflowError:  # an int beyond float64's range: the slow path names it
                return False
            return (not self.finite or math.isfinite(number)) and self.low <= number <= self.high
        return False

    def problem(self, reward: object, ignore: npt.NDArray[np.bool_] | None = None) -> _Problem | None:
        """The slow path: the first problem of ``reward`` (sub-environments in ``ignore`` skipped), or ``None``."""
        expected = self.expected if self.num_envs is None else f"a float array of shape {self.shape}"
        try:
            with np.errstate(all="ignore"):  # a longdouble beyond float64's range is inf here, without a warning
                return self._first_problem(reward, ignore)
        except Exception as error:  # the value's own methods raised while it was read
            return _Problem(None, "reward", _unreadable(reward, error), expected)

    def _first_problem(self, reward: object, ignore: npt.NDArray[np.bool_] | None) -> _Problem | None:
        if self.num_envs is None:
            if not is_real(reward):
                return _Problem(None, "reward", describe(reward), self.expected)
            try:
                array = np.asarray(float(reward), dtype=np.float64)  # type: ignore[arg-type]
            except OverflowError:  # an int too large for any float
                got = f"{brief_repr(reward)} ({article(type(reward).__name__)} beyond float64's range)"
                return _Problem(None, "reward", got, self.expected)
        else:
            if not isinstance(reward, np.ndarray):
                return _Problem(None, "reward", describe(reward), f"a float array of shape {self.shape}")
            array = np.asarray(reward)  # an ndarray subclass, read as a plain array
            if array.shape != self.shape or array.dtype.kind not in "fiu":
                return _Problem(None, "reward", describe(reward), f"a float array of shape {self.shape}")
            array = array.astype(np.float64)
        bad = np.isnan(array) | (array < self.low) | (array > self.high)
        if self.finite:
            bad |= np.isinf(array)
        if ignore is not None:
            bad &= ~ignore
        if not bad.any():
            return None
        if self.num_envs is None:
            return _Problem(None, "reward", _text(reward), self.expected)
        (first,) = first_true(bad)
        return _Problem(first, "reward", _text(np.asarray(reward)[first]), self.expected)


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
        autoreset_mode: a vector env's Gymnasium autoreset mode (:meth:`for_env` reads ``env.metadata``). Under
            ``SAME_STEP`` every done sub-environment must have its final observation in ``info["final_obs"]``,
            marked in ``info["_final_obs"]``; the keys are checked, when present, in every mode.
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
        InputError: a space other than Box, Discrete, MultiDiscrete or MultiBinary (observations: or a Dict or
            Tuple of them, checked part by part), or bounds that do not fit.
        HyperparameterError: an option outside its domain.
    """

    def __init__(
        self,
        observation_space: gym.Space[Any],
        action_space: gym.Space[Any],
        *,
        num_envs: int | None = None,
        autoreset_mode: AutoresetMode | str | None = None,
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
        if num_envs is not None and (not is_integer(num_envs) or num_envs < 1):
            raise HyperparameterError(f"Contract: num_envs is {num_envs!r}; expected None or an int >= 1")
        num_envs = None if num_envs is None else int(num_envs)  # a numpy integer becomes a plain int
        if reward_range is not None and not reward_range[0] <= reward_range[1]:
            raise HyperparameterError(f"Contract: reward_range is {reward_range!r}; expected (low, high), low <= high")
        try:
            mode = None if autoreset_mode is None else AutoresetMode(autoreset_mode)
        except ValueError:
            raise HyperparameterError(
                f"Contract: autoreset_mode is {autoreset_mode!r}; expected None or a gymnasium AutoresetMode"
            ) from None
        self.observation_space, self.action_space = observation_space, action_space
        self.num_envs, self.env_id, self.on_violation = num_envs, env_id, on_violation
        self.autoreset_mode: AutoresetMode | None = mode
        self.finite_observations, self.finite_rewards = finite_observations, finite_rewards
        self.observation_bounds, self.reward_range = observation_bounds, reward_range
        self.reject_terminated_and_truncated = reject_terminated_and_truncated
        self._observation = _check_for(
            observation_space,
            name="observation",
            noun="observation",
            num_envs=num_envs,
            finite=finite_observations,
            bounds=observation_bounds,
        )
        self._final_observation = _check_for(
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
        self._same_step = num_envs is not None and mode is AutoresetMode.SAME_STEP
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
        """The contract for ``env``: a single env's spaces, or a vector env's single spaces, ``num_envs`` and
        autoreset mode (``env.metadata["autoreset_mode"]``, NEXT_STEP where it is absent).

        ``env_id`` defaults to the registered id of the environment (``env.spec.id``), else its class name; the
        other options are those of :class:`Contract`.

        Raises:
            InputError: ``env`` is not a Gymnasium env or vector env, or its metadata names no autoreset mode.
        """
        if isinstance(env, VectorEnv):
            options.setdefault("env_id", _vector_env_id(env))
            mode = autoreset_mode_of(env)
            return cls(
                env.single_observation_space,
                env.single_action_space,
                num_envs=env.num_envs,
                autoreset_mode=mode,
                **options,
            )
        if isinstance(env, gym.Env):
            spec = env.unwrapped.spec
            options.setdefault("env_id", spec.id if spec is not None else type(env.unwrapped).__name__)
            return cls(env.observation_space, env.action_space, **options)
        raise InputError(f"Contract.for_env: env is {describe(env)}; expected a gymnasium Env or VectorEnv")

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
        items = _items(result)
        if items is None or len(items) != 2:
            got = describe(result) if items is None else f"a {len(items)}-tuple"
            raise ContractViolation(self.env_id, "reset", step, None, "result", got, _RESET_SHAPE)
        observation, info = items
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
        items = _items(result)
        if items is None or len(items) != 5:
            got = describe(result)
            if items is not None:
                got = f"a {len(items)}-tuple"
                if len(items) == 4:
                    got += " (observation, reward, done, info): the old Gym step API"
            raise ContractViolation(self.env_id, "step", step, None, "result", got, _STEP_SHAPE)
        observation, reward, terminated, truncated, info = items
        problem = (
            self._observation.problem(observation)
            or self._reward.problem(reward, self._mask(ignore))
            or self._flags_problem("terminated", terminated)
            or self._flags_problem("truncated", truncated)
            or self._both_problem(terminated, truncated)
            or _info_problem(info)
            or self._autoreset_problem(info, terminated, truncated)
        )
        if problem is not None:
            self._report(problem, "step", step)
        return result  # type: ignore[return-value]

    def _step_fast_path(self) -> Callable[[object], bool]:
        """Build :attr:`step_ok`: a closure over locals, as it runs on every step."""
        observation_ok, reward_ok, flags_ok = self._observation.ok, self._reward.ok, self._flags_ok
        reject, both_true = self.reject_terminated_and_truncated, self._both_true
        ndarray, flags_shape, same_step = np.ndarray, self._flags_shape, self._same_step
        autoreset_ok = self._autoreset_fast_path()
        no_flags = bytes(self.num_envs or 0)  # all false

        def batch_step_ok(result: object) -> bool:
            if type(result) is not tuple or len(result) != 5:
                return False
            observation, reward, terminated, truncated, info = result
            try:
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
                    # An empty info (most steps) has no autoreset keys; under SAME_STEP nothing may then be done.
                    and (
                        autoreset_ok(info, terminated, truncated)
                        if info
                        else not same_step or (terminated.tobytes() == no_flags and truncated.tobytes() == no_flags)
                    )
                )
            except Exception:  # a dict key whose own __eq__ raises: the slow path reports it
                return False

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

    def _autoreset_fast_path(self) -> Callable[[dict[str, Any], np.ndarray, np.ndarray], bool]:
        """The fast check of a non-empty info's autoreset keys: absent (and, under SAME_STEP, nothing done), or
        well formed with a good final observation for every sub-environment marked in ``_final_obs``."""
        ndarray, flags_shape, same_step, final_ok = (
            np.ndarray,
            self._flags_shape,
            self._same_step,
            self._final_observation.ok,
        )
        no_flags, flatnonzero, greater = bytes(self.num_envs or 0), np.flatnonzero, np.greater

        def autoreset_ok(info: dict[str, Any], terminated: np.ndarray, truncated: np.ndarray) -> bool:
            final, finished = info.get("final_obs", _MISSING), info.get("_final_obs", _MISSING)
            if final is _MISSING and finished is _MISSING:
                if same_step and (terminated.tobytes() != no_flags or truncated.tobytes() != no_flags):
                    return False
            elif (
                type(finished) is not ndarray
                or finished.dtype is not _BOOL
                or finished.shape != flags_shape
                or type(final) is not ndarray
                or final.shape != flags_shape
                # Under SAME_STEP every done sub-environment is marked: none is done and not marked.
                or (same_step and greater(terminated | truncated, finished).tobytes() != no_flags)
                or not all(final_ok(final[env_index]) for env_index in flatnonzero(finished))
            ):
                return False
            final_info, marked = info.get("final_info", _MISSING), info.get("_final_info", _MISSING)
            return (final_info is _MISSING and marked is _MISSING) or (
                type(final_info) is dict
                and type(marked) is ndarray
                and marked.dtype is _BOOL
                and marked.shape == flags_shape
            )

        return autoreset_ok

    def _mask(self, masks: Sequence[object]) -> npt.NDArray[np.bool_] | None:
        """The union of the ``ignore`` masks, or ``None`` (also when one is malformed: then nothing is skipped)."""
        union = None
        try:
            for mask in masks:
                if not _is_mask(mask, self._flags_shape):
                    return None
                array = np.asarray(mask)
                union = array if union is None else union | array
        except Exception:  # a mask that raises when read (a warned-about step's flags): skip nothing
            return None
        return union

    def _flags_ok(self, flags: object) -> bool:
        return type(flags) is bool or type(flags) is np.bool_

    def _flags_problem(self, name: str, flags: object) -> _Problem | None:
        if self._flags_shape is None:
            # bool and numpy.bool_ cannot be subclassed: an exact type test, which nothing can fake.
            return None if self._flags_ok(flags) else _Problem(None, name, describe(flags), "a bool")
        if _is_mask(flags, self._flags_shape):
            return None
        return _Problem(None, name, describe(flags), f"a bool array of shape {self._flags_shape}")

    def _both_true(self, terminated: Any, truncated: Any) -> bool:
        if self._flags_shape is None:
            return bool(terminated and truncated)
        both = np.logical_and(np.asarray(terminated), np.asarray(truncated), out=self._both)
        return bool(np.count_nonzero(both))

    def _both_problem(self, terminated: Any, truncated: Any) -> _Problem | None:
        if not self.reject_terminated_and_truncated or not self._both_true(terminated, truncated):
            return None
        env_index = None if self._flags_shape is None else first_true(self._both)[0]
        expected = "at most one of terminated and truncated true (reject_terminated_and_truncated=True)"
        return _Problem(env_index, "truncated", "True while terminated is True", expected)

    def _autoreset_problem(self, info: dict[str, Any], terminated: Any, truncated: Any) -> _Problem | None:
        """The first problem of a vector env's autoreset keys (``final_obs``, ``_final_obs``, ``final_info``,
        ``_final_info``), or ``None``. ``terminated`` and ``truncated`` are good flags here."""
        if self._flags_shape is None:
            return None
        try:
            return self._first_autoreset_problem(info, terminated, truncated)
        except Exception as error:  # a key whose own __eq__ raised while info was read
            return _Problem(None, "info", _unreadable(info, error), "a dict")

    def _first_autoreset_problem(self, info: dict[str, Any], terminated: Any, truncated: Any) -> _Problem | None:
        shape = self._flags_shape
        mask_expected = f"a bool array of shape {shape}"
        # dict.get: a dict subclass's own get and __missing__ are not called.
        final, finished = dict.get(info, "final_obs", _MISSING), dict.get(info, "_final_obs", _MISSING)
        if final is not _MISSING or finished is not _MISSING:
            if finished is _MISSING:
                return _Problem(None, "info['_final_obs']", "missing", f"{mask_expected} beside info['final_obs']")
            if not _is_mask(finished, shape):
                return _Problem(None, "info['_final_obs']", describe(finished), mask_expected)
            if final is _MISSING:
                expected = f"an array of shape {shape} beside info['_final_obs']"
                return _Problem(None, "info['final_obs']", "missing", expected)
            if not issubclass(type(final), np.ndarray) or np.asarray(final).shape != shape:
                return _Problem(None, "info['final_obs']", describe(final), f"an array of shape {shape}")
        if self._same_step:
            done = np.asarray(terminated) | np.asarray(truncated)
            without = done if finished is _MISSING else done & ~np.asarray(finished)
            if without.any():
                (env_index,) = first_true(without)
                expected = "a final observation for every done sub-environment (autoreset mode SAME_STEP)"
                if finished is _MISSING:
                    return _Problem(env_index, "info['final_obs']", "missing", expected)
                return _Problem(
                    env_index, "info['_final_obs']", "False where terminated or truncated is True", expected
                )
        if final is not _MISSING:
            finals = np.asarray(final)
            for marked_index in np.flatnonzero(np.asarray(finished)):
                problem = self._final_observation.problem(finals[marked_index])
                if problem is not None:
                    problem.env_index = int(marked_index)
                    return problem
        final_info, marked = dict.get(info, "final_info", _MISSING), dict.get(info, "_final_info", _MISSING)
        if final_info is _MISSING and marked is _MISSING:
            return None
        if final_info is _MISSING:
            return _Problem(None, "info['final_info']", "missing", "a dict beside info['_final_info']")
        if not issubclass(type(final_info), dict):
            return _Problem(None, "info['final_info']", describe(final_info), "a dict")
        if marked is _MISSING:
            return _Problem(None, "info['_final_info']", "missing", f"{mask_expected} beside info['final_info']")
        if not _is_mask(marked, shape):
            return _Problem(None, "info['_final_info']", describe(marked), mask_expected)
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
    return None if issubclass(type(info), dict) else _Problem(None, "info", describe(info), "a dict")


def autoreset_mode_of(env: VectorEnv[Any, Any, Any]) -> AutoresetMode:
    """A vector env's Gymnasium autoreset mode, from ``env.metadata["autoreset_mode"]`` (NEXT_STEP if absent).

    Raises:
        InputError: the metadata holds something that is not an autoreset mode.
    """
    mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    try:
        return AutoresetMode(mode.value if isinstance(mode, AutoresetMode) else mode)
    except ValueError:
        raise InputError(
            f"{_vector_env_id(env)}: env.metadata['autoreset_mode'] is {brief_repr(mode)};"
            " expected a gymnasium AutoresetMode"
        ) from None


def _vector_env_id(env: VectorEnv[Any, Any, Any]) -> str:
    """The registered id of a vector env (``make_vec`` sets it), else its class name."""
    base = env.unwrapped
    return base.spec.id if base.spec is not None else type(base).__name__
