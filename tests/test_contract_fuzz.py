"""Fuzzing the environment contract: any result gives a ContractViolation or passes, never another exception.

A fake environment (single, and vector in each autoreset mode) returns whatever hypothesis draws from ``reset`` and
``step``: nested Python and numpy values of hostile kinds (ints beyond any float, objects whose ``__float__``,
``__array__``, ``__len__``, ``__eq__``, ``__bool__`` or ``__class__`` raise, object, structured, complex and datetime
arrays, 0-d arrays, ndarray subclasses, tensors, ragged lists, malformed autoreset info), mixed with good values, and
an agent sends actions of the same kinds. Every call through :class:`CheckedEnv` and :class:`CheckedVectorEnv` must
pass or raise :class:`ContractViolation` (in warn mode: pass, with one-line warnings). The converse holds too: results
and actions sampled from the spaces always pass.
"""

import fractions
import math
import warnings
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from zoo import (
    FinalObsKey,
    HostileArray,
    HostileDict,
    HostileTuple,
    RaisingArray,
    RaisingClass,
    RaisingReal,
    Unreadable,
    object_array,
)

from typedrl._validate import brief_repr
from typedrl.contract import ContractWarning
from typedrl.envs import CheckedEnv, CheckedVectorEnv
from typedrl.errors import ContractViolation

N = 3
"""Sub-environments of the fake vector env."""

SPACES: dict[str, tuple[gym.Space[Any], gym.Space[Any]]] = {
    "box-discrete": (spaces.Box(-1.0, 1.0, (2,), np.float32), spaces.Discrete(3, start=-1)),
    "discrete-box": (spaces.Discrete(5, start=2), spaces.Box(-2.0, 2.0, (1,), np.float32)),
    "multi": (spaces.MultiDiscrete([3, 4]), spaces.MultiBinary(2)),
    "unbounded": (spaces.Box(-np.inf, np.inf, (2,), np.float64), spaces.MultiDiscrete([2, 5], start=[1, -2])),
}
MODES: list[AutoresetMode | None] = [None, *AutoresetMode]  # None: a single env
FUZZ = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], deadline=None)


class FakeEnv(gym.Env[Any, Any]):
    """Returns ``self.results.pop(0)`` from both ``reset`` and ``step``, whatever it is."""

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (Gymnasium's class attribute)

    def __init__(self, observation_space: gym.Space[Any], action_space: gym.Space[Any]) -> None:
        self.observation_space, self.action_space = observation_space, action_space
        self.results: list[Any] = []

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        """The next result."""
        return self.results.pop(0)

    def step(self, action: Any) -> Any:
        """The next result."""
        return self.results.pop(0)


class FakeVectorEnv(VectorEnv[Any, Any, Any]):
    """As :class:`FakeEnv`, with ``N`` sub-environments and an autoreset mode."""

    def __init__(self, observation_space: gym.Space[Any], action_space: gym.Space[Any], mode: AutoresetMode) -> None:
        self.num_envs, self.metadata = N, {"autoreset_mode": mode}
        self.single_observation_space, self.single_action_space = observation_space, action_space
        self.observation_space = batch_space(observation_space, N)
        self.action_space = batch_space(action_space, N)
        self.results: list[Any] = []

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        """The next result."""
        return self.results.pop(0)

    def step(self, actions: Any) -> Any:
        """The next result."""
        return self.results.pop(0)


def _checked(name: str, mode: AutoresetMode | None, on_violation: Any) -> CheckedEnv[Any, Any] | CheckedVectorEnv:
    observation_space, action_space = SPACES[name]
    if mode is None:
        return CheckedEnv(FakeEnv(observation_space, action_space), on_violation=on_violation)
    return CheckedVectorEnv(FakeVectorEnv(observation_space, action_space, mode), on_violation=on_violation)


# ---------------------------------------------------------------------------------------------------------------
# Hostile values.


class RaisingBool:
    """Truth, comparison and conversion raise."""

    __bool__ = __eq__ = __lt__ = __le__ = __float__ = __int__ = __index__ = RaisingArray.__array__

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return "RaisingBool()"


class RaisingRepr:
    """Only ``repr`` and ``str`` raise (the messages must still be built)."""

    __repr__ = __str__ = RaisingArray.__array__


class SpoofedFloat:
    """Claims through ``__class__`` to be a float; converting it raises."""

    @property  # type: ignore[misc]
    def __class__(self) -> Any:
        return float

    __float__ = RaisingArray.__array__


class RaisingInt(int):
    """An int subclass whose conversions and repr raise."""

    __float__ = __index__ = __repr__ = __str__ = RaisingArray.__array__


class RaisingFloat(float):
    """A float subclass whose conversions and repr raise."""

    __float__ = __repr__ = __str__ = RaisingArray.__array__


class RaisingList(list[Any]):
    """A list subclass whose own methods raise."""

    __len__ = __iter__ = __getitem__ = RaisingArray.__array__


class HugeLength:
    """A sequence that says it is very long, and raises when read."""

    def __len__(self) -> int:
        return 2**62

    __getitem__ = RaisingArray.__array__


HOSTILE_INSTANCES: list[Callable[[], Any]] = [
    RaisingReal,
    RaisingArray,
    RaisingClass,
    RaisingBool,
    RaisingRepr,
    SpoofedFloat,
    HugeLength,
    lambda: RaisingInt(1),
    lambda: RaisingFloat(0.5),
    lambda: RaisingList([0, 1]),
    lambda: HostileTuple((0, 1)),
    lambda: HostileDict({"final_obs": None}),
    lambda: {FinalObsKey(): 1},
    lambda: np.zeros(2, np.float32).view(HostileArray),
    lambda: np.zeros((N, 2), np.float32).view(HostileArray),
    lambda: np.zeros(N, np.bool_).view(HostileArray),
    lambda: np.ma.masked_array([0.0, np.nan], mask=[False, True]),
    lambda: np.asmatrix(np.zeros((1, 2))),
    lambda: torch.zeros(2),
    lambda: torch.zeros(N, 2),
    lambda: torch.tensor(1.0),
    lambda: object_array(*[RaisingArray()] * N),
    lambda: object_array(None, np.zeros(2, np.float32), RaisingClass()),
    lambda: np.array([(1, 2.0)] * N, dtype=[("a", "i4"), ("b", "f4")]),
    lambda: np.zeros(N, "datetime64[s]"),
    lambda: np.zeros(N, np.complex64),
    lambda: np.array(0.5),
    lambda: np.array(2**63, dtype=np.uint64),
    lambda: np.longdouble("1e4000"),
    lambda: fractions.Fraction(1, 3),
    lambda: [[0.0], [0.0, 1.0]],
    lambda: [10**400, 0],
    lambda: [2**63, 2**63],
]


class Recipe:
    """How to make a value. Hypothesis never holds a hostile value itself: it calls ``isinstance`` and ``repr`` on
    what it draws, which some of these values do not survive. The test makes the value from the recipe."""

    def __init__(self, make: Callable[[], Any], text: str) -> None:
        self.make, self.text = make, text

    def __repr__(self) -> str:
        return self.text


def _plain(value: Any) -> Recipe:
    return Recipe(lambda: value, brief_repr(value, limit=60))


def _hostile(make: Callable[[], Any]) -> Recipe:
    return Recipe(make, f"hostile {getattr(make, '__name__', 'value')}")


def _made(recipes: list[Recipe], build: Callable[[list[Any]], Any], name: str) -> Recipe:
    return Recipe(lambda: build([recipe.make() for recipe in recipes]), f"{name}({recipes!r})")


NUMBERS = st.one_of(
    st.integers(),
    st.sampled_from([400, -400, 5000, 63, 64]).map(lambda power: (-1 if power < 0 else 1) * 10 ** abs(power)),
    st.sampled_from([2**63, 2**64, -(2**63) - 1]),
    st.floats(),
    st.complex_numbers(),
    st.booleans(),
)
NUMPY_SCALARS = st.one_of(
    hnp.from_dtype(np.dtype(np.float16)),
    hnp.from_dtype(np.dtype(np.float32)).map(np.float32),
    hnp.from_dtype(np.dtype(np.float64)).map(np.float64),
    hnp.from_dtype(np.dtype(np.int64)).map(np.int64),
    hnp.from_dtype(np.dtype(np.uint64)).map(np.uint64),
    hnp.from_dtype(np.dtype(np.bool_)).map(np.bool_),
    st.sampled_from([np.complex64(1j), np.datetime64("2020-01-01"), np.timedelta64(5, "s"), np.str_("a")]),
)
SHAPES = st.one_of(
    st.sampled_from([(), (1,), (2,), (N,), (N + 1,), (N, 2), (N, 1), (2, N)]),
    hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
)
DTYPES = st.one_of(
    st.sampled_from([np.float32, np.float64, np.int64, np.bool_, np.int8, np.uint8, np.float16]).map(np.dtype),
    hnp.scalar_dtypes(),
    hnp.array_dtypes(allow_subarrays=False, min_size=1, max_size=2),
    hnp.unicode_string_dtypes(max_len=2),
)
ARRAYS = hnp.arrays(DTYPES, SHAPES)
KEYS = st.one_of(
    st.sampled_from(["final_obs", "_final_obs", "final_info", "_final_info", "episode"]), st.text(max_size=3)
)
LEAVES = st.one_of(
    st.one_of(st.none(), NUMBERS, NUMPY_SCALARS, st.text(max_size=3), st.binary(max_size=3), ARRAYS).map(_plain),
    st.sampled_from(HOSTILE_INSTANCES).map(_hostile),
)


def _dict_of(build: Callable[[dict[Any, Any]], Any], name: str) -> Callable[[dict[str, Recipe]], Recipe]:
    def recipe(items: dict[str, Recipe]) -> Recipe:
        return Recipe(lambda: build({key: value.make() for key, value in items.items()}), f"{name}({items!r})")

    return recipe


def _containers(children: st.SearchStrategy[Recipe]) -> st.SearchStrategy[Recipe]:
    return st.one_of(
        st.lists(children, max_size=N + 1).map(lambda items: _made(items, list, "list")),
        st.lists(children, max_size=N + 1).map(lambda items: _made(items, tuple, "tuple")),
        st.lists(children, min_size=N, max_size=N).map(lambda items: _made(items, _object_array, "object_array")),
        st.lists(children, max_size=3).map(lambda items: _made(items, HostileTuple, "HostileTuple")),
        st.dictionaries(KEYS, children, max_size=4).map(_dict_of(dict, "dict")),
        st.dictionaries(KEYS, children, max_size=3).map(_dict_of(HostileDict, "HostileDict")),
    )


def _object_array(items: list[Any]) -> np.ndarray:
    return object_array(*items)


RECIPES = st.recursive(LEAVES, _containers, max_leaves=8)
"""Recipes for anything an environment might hand back: hostile, nested, occasionally good."""

SEQUENCES = st.one_of(
    st.lists(st.one_of(st.integers(-3, 3).map(_plain), LEAVES), min_size=1, max_size=N + 1).map(
        lambda items: _made(items, list, "list")
    ),
    st.lists(st.one_of(st.integers(-3, 3).map(_plain), LEAVES), min_size=N, max_size=N).map(
        lambda items: _made(items, _object_array, "object_array")
    ),
)
"""Short lists and object arrays of numbers and hostile leaves: what a lenient (action) conversion reads."""

FIELD = st.one_of(LEAVES, SEQUENCES, RECIPES)
"""A replacement for one part of a result, or an action: mostly flat hostile values, sometimes nested ones."""


# ---------------------------------------------------------------------------------------------------------------
# Good values, sampled from the spaces.


def _sample(space: gym.Space[Any], seed: int) -> Any:
    space.seed(seed)
    return space.sample()


def _as_python(value: Any, draw: Callable[[st.SearchStrategy[Any]], Any]) -> Any:
    """A good value, sometimes in another good form: a Python int for one Discrete value, a list for an action."""
    if draw(st.booleans()):
        return value
    if (isinstance(value, np.ndarray) and value.ndim == 0) or isinstance(value, np.integer):
        return int(value)
    return value


@st.composite
def good_rewards(draw: Callable[[st.SearchStrategy[Any]], Any], num_envs: int | None) -> Any:
    finite = st.floats(-1e30, 1e30)
    if num_envs is None:
        return draw(
            st.one_of(
                finite,
                st.integers(-(10**300), 10**300),
                finite.map(np.float32),
                finite.map(np.float64),
                st.integers(-(2**63), 2**63 - 1).map(np.int64),
                st.just(fractions.Fraction(1, 3)),
            )
        )
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int64, np.int32]))
    elements = st.floats(-1e6, 1e6, width=32) if np.dtype(dtype).kind == "f" else st.integers(-1000, 1000)
    return draw(hnp.arrays(dtype, (num_envs,), elements=elements))


@st.composite
def good_step(
    draw: Callable[[st.SearchStrategy[Any]], Any], space: gym.Space[Any], mode: AutoresetMode | None
) -> tuple[Any, ...]:
    """A step result every part of which is good, autoreset info included."""
    seed = draw(st.integers(0, 2**16))
    extra = draw(st.dictionaries(st.sampled_from(["episode", "lives", "x"]), st.integers(), max_size=2))
    if mode is None:
        observation = _as_python(_sample(space, seed), draw)
        flags = st.one_of(st.booleans(), st.booleans().map(np.bool_))
        return observation, draw(good_rewards(None)), draw(flags), draw(flags), extra
    observations = _sample(batch_space(space, N), seed)
    terminated, truncated = (draw(hnp.arrays(np.bool_, (N,))) for _ in range(2))
    info = dict(extra)
    done = terminated | truncated
    if mode is AutoresetMode.SAME_STEP and done.any():
        marked = done | draw(hnp.arrays(np.bool_, (N,)))  # a superset of the done ones is fine
        finals = [_as_python(_sample(space, seed + 1 + n), draw) if marked[n] else None for n in range(N)]
        info.update(final_obs=object_array(*finals), _final_obs=marked, final_info={}, _final_info=marked.copy())
    return observations, draw(good_rewards(N)), terminated, truncated, info


@st.composite
def good_action(draw: Callable[[st.SearchStrategy[Any]], Any], space: gym.Space[Any]) -> Any:
    action = _sample(space, draw(st.integers(0, 2**16)))
    if isinstance(action, np.ndarray) and action.ndim > 0 and draw(st.booleans()):
        return action.tolist()  # Python numbers and lists convert without changing kind
    return _as_python(action, draw)


@st.composite
def any_step(
    draw: Callable[[st.SearchStrategy[Any]], Any], space: gym.Space[Any], mode: AutoresetMode | None
) -> Recipe:
    """Anything at all, or a good step with any of its parts (or its info's autoreset keys) replaced."""
    kind = draw(st.sampled_from(["anything", "parts", "info", "keys"]))
    if kind == "anything":
        recipe: Recipe = draw(RECIPES)
        return recipe
    parts: list[Recipe] = [_plain(part) for part in draw(good_step(space, mode))]
    if kind == "parts":
        for index in draw(st.sets(st.integers(0, 4), min_size=1, max_size=2)):
            parts[index] = draw(FIELD)
        if draw(st.booleans()):
            parts = parts[: draw(st.integers(0, 6))]
    elif kind == "info":
        parts[4] = draw(st.dictionaries(KEYS, FIELD, max_size=5).map(_dict_of(dict, "dict")))
    else:
        good_info = parts[4].make()
        info = {key: _plain(value) for key, value in good_info.items()}
        for key in draw(st.sets(st.sampled_from(["final_obs", "_final_obs", "final_info", "_final_info"]))):
            if draw(st.booleans()):
                info.pop(key, None)
            else:
                info[key] = draw(st.one_of(FIELD, _final_observations(space), _masks()))
        parts[4] = _dict_of(dict, "dict")(info)
    return _made(parts, tuple if draw(st.integers(0, 9)) else HostileTuple, "step")


def _final_observations(space: gym.Space[Any]) -> st.SearchStrategy[Recipe]:
    """Object arrays of ``N`` entries: good observations, ``None`` and hostile leaves."""
    good = st.integers(0, 2**16).map(lambda seed: _plain(_sample(space, seed)))
    entries = st.one_of(good, st.none().map(_plain), LEAVES)
    return st.lists(entries, min_size=N, max_size=N).map(lambda items: _made(items, _object_array, "object_array"))


def _masks() -> st.SearchStrategy[Recipe]:
    """Bool arrays of good and wrong shapes, arrays of other dtypes, object arrays of flags and hostile leaves."""
    flags = st.one_of(st.booleans().map(_plain), LEAVES)
    return st.one_of(
        hnp.arrays(np.bool_, SHAPES).map(_plain),
        hnp.arrays(st.sampled_from([np.int64, np.uint8, np.float32]).map(np.dtype), (N,)).map(_plain),
        st.lists(flags, min_size=N, max_size=N).map(lambda items: _made(items, _object_array, "object_array")),
    )


def _one_call(call: Callable[..., Any], *args: Any) -> None:
    """Run a checked call: it passes or raises ContractViolation (with a one-line message), nothing else."""
    message = ""
    try:
        call(*args)
    except ContractViolation as violation:
        message = str(violation)
    assert "\n" not in message


# ---------------------------------------------------------------------------------------------------------------
# The properties.


@FUZZ
@given(data=st.data())
@pytest.mark.parametrize("mode", MODES, ids=lambda mode: "single" if mode is None else mode.name)
def test_any_result_or_action_passes_or_is_a_violation(mode: AutoresetMode | None, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(SPACES)), label="spaces")
    on_violation = data.draw(st.sampled_from(["raise", "warn"]), label="on_violation")
    env = _checked(name, mode, on_violation)
    observation_space, _ = SPACES[name]
    fake: Any = env.env
    good_reset: Recipe = _plain((_sample(env.observation_space, 0), {}))
    reset: Recipe = data.draw(
        st.one_of(st.just(good_reset), FIELD, FIELD.map(lambda bad: _made([bad, _plain({})], tuple, "reset"))),
        label="reset",
    )
    actions = env.action_space
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fake.results.append(reset.make())
        _one_call(env.reset)
        for _ in range(data.draw(st.integers(1, 3), label="steps")):
            action = data.draw(st.one_of(good_action(actions).map(_plain), FIELD), label="action").make()
            fake.results.append(data.draw(any_step(observation_space, mode), label="result").make())
            _one_call(env.step, action)
            fake.results.clear()  # the env was not stepped if the action was refused
    for warning in caught:
        if isinstance(warning.message, ContractWarning):
            assert "\n" not in str(warning.message)


@FUZZ
@given(data=st.data())
@pytest.mark.parametrize("mode", MODES, ids=lambda mode: "single" if mode is None else mode.name)
def test_results_and_actions_sampled_from_the_spaces_pass(mode: AutoresetMode | None, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(SPACES)), label="spaces")
    env = _checked(name, mode, "raise")
    observation_space, _ = SPACES[name]
    fake: Any = env.env
    reset_observation = data.draw(
        st.integers(0, 2**16).map(lambda seed: _sample(env.observation_space, seed)), label="reset"
    )
    fake.results.append((_as_python(reset_observation, data.draw), {}))
    env.reset()
    for _ in range(data.draw(st.integers(1, 3), label="steps")):
        fake.results.append(data.draw(good_step(observation_space, mode), label="result"))
        env.step(data.draw(good_action(env.action_space), label="action"))


def _specials() -> list[Callable[[], Any]]:
    """Every kind of value, one or a few of each, as factories: the systematic counterpart of the fuzz."""
    scalars: list[Any] = [None, True, np.bool_(False), 0, 1, -1, 2**63, 2**64, -(2**63) - 1, 10**400, -(10**400)]
    scalars += [10**5000, 0.5, math.nan, math.inf, -math.inf, 1e300, 1j, "1", b"1", fractions.Fraction(1, 3)]
    scalars += [np.float16(0.5), np.float32(math.nan), np.float64(math.inf), np.longdouble("1e4000"), np.int8(-1)]
    scalars += [np.uint64(2**64 - 1), np.complex64(1j), np.datetime64("2020-01-01"), np.timedelta64(1, "s")]
    scalars += [np.str_("a"), np.bytes_(b"a"), np.void(b"ab")]
    dtypes: list[Any] = [np.float16, np.float32, np.float64, np.longdouble, np.int8, np.int64, np.uint64, np.bool_]
    dtypes += [np.complex64, object, "datetime64[s]", "timedelta64[s]", "U1", "S1", [("a", "f4")], "V2"]
    shapes = [(), (2,), (N,), (N + 1,), (N, 2)]
    arrays: list[Any] = [np.zeros(shape, dtype) for dtype in dtypes for shape in shapes]
    arrays += [np.full(shape, math.nan, np.float32) for shape in shapes]
    factories = [lambda value=value: value for value in scalars + arrays]
    return factories + HOSTILE_INSTANCES


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: "single" if mode is None else mode.name)
def test_every_kind_of_value_in_every_field_passes_or_is_a_violation(mode: AutoresetMode | None) -> None:
    specials = _specials()
    for name, (observation_space, _) in SPACES.items():
        for on_violation in ("raise", "warn"):
            env = _checked(name, mode, on_violation)
            fake: Any = env.env
            good_reset: tuple[Any, dict[str, Any]] = (_sample(env.observation_space, 0), {})
            step = _good_step_for_fields(observation_space, mode)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for make in specials:
                    # A whole reset, its observation, its info.
                    resets: list[Any] = [make(), (make(), {}), (good_reset[0], make())]
                    for reset in resets:
                        fake.results[:] = [reset]
                        _one_call(env.reset)
                    fake.results[:] = [good_reset]
                    env.reset()
                    # A whole step, each of its parts, each autoreset key, and the action.
                    results: list[Any] = [make(), (*step[:4],)]
                    for index in range(5):
                        parts = list(step)
                        parts[index] = make()
                        results.append(tuple(parts))
                    if mode is not None:
                        for key in ("final_obs", "_final_obs", "final_info", "_final_info"):
                            results.append((*step[:4], {**step[4], key: make()}))
                    for result in results:
                        fake.results[:] = [result]
                        _one_call(env.step, env.action_space.sample())
                    fake.results[:] = [step]
                    _one_call(env.step, make())


def _good_step_for_fields(space: gym.Space[Any], mode: AutoresetMode | None) -> tuple[Any, ...]:
    """A good step; for a vector env, sub-environment 1 is done, with its final observation in SAME_STEP."""
    if mode is None:
        return _sample(space, 1), 1.0, False, False, {}
    terminated = np.array([False, True, False])
    info: dict[str, Any] = {}
    if mode is AutoresetMode.SAME_STEP:
        final = object_array(None, _sample(space, 2), None)
        info = {"final_obs": final, "_final_obs": terminated.copy(), "final_info": {}, "_final_info": terminated.copy()}
    return _sample(batch_space(space, N), 1), np.ones(N), terminated, np.zeros(N, np.bool_), info


def test_the_hostile_values_are_hostile() -> None:
    # The fuzz is only as good as its values: check that they do raise where they are meant to.
    with pytest.raises(Unreadable):
        float(RaisingReal())
    with pytest.raises(Unreadable):
        np.asarray([RaisingArray()])
    with pytest.raises(Unreadable):
        isinstance(RaisingClass(), int)
    with pytest.raises(Unreadable):
        len(HostileTuple((1, 2)))
    with pytest.raises(Unreadable):
        _ = "final_obs" in {FinalObsKey(): 1}
    with pytest.raises(Unreadable):
        _ = np.zeros(2).view(HostileArray) <= 1
    with pytest.raises(ValueError, match="Exceeds the limit"):
        repr(10**5000)
    with pytest.raises(OverflowError):
        float(10**400)
    assert math.isinf(float(np.longdouble("1e4000"))) or np.finfo(np.longdouble).max == np.finfo(np.float64).max
