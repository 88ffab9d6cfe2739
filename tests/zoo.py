"""A zoo of misbehaving environments, each with the violation the contract must report.

Every environment is a small, deterministic :class:`gymnasium.Env` (or :class:`~gymnasium.vector.VectorEnv`) that
behaves like :class:`GoodEnv` except for one thing. :data:`CASES` pairs each with the violation it must raise:
the call, the field, the step, the sub-environment and the exact ``got`` and ``expected`` texts. Steps count
from 1 across episodes, as the checked wrappers count them; good episodes last 10 steps.
"""

import dataclasses
import numbers
from typing import Any

import gymnasium as gym
import numpy as np
import numpy.typing as npt
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorEnv

from typedrl.contract import ContractOptions

BOX = "a finite float32 in [-1.0, 1.0]"
"""What a :class:`GoodEnv` observation element must be."""


class GoodEnv(gym.Env[Any, Any]):
    """Box(-1, 1, (3,)) float32 observations, Discrete(2) actions, reward 1.0, episodes of ``episode_length``.

    Subclasses misbehave by overriding one of the hooks ``observation``, ``reward``, ``terminated``,
    ``truncated``, ``info``, ``step_result`` or ``reset_result``; ``self.steps`` counts every step since creation.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (Gymnasium's class attribute)

    def __init__(self, *, episode_length: int = 10) -> None:
        self.observation_space: gym.Space[Any] = spaces.Box(-1.0, 1.0, (3,), np.float32)
        self.action_space: gym.Space[Any] = spaces.Discrete(2)
        self.episode_length = episode_length
        self.steps = 0
        self.episode_steps = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        """Start an episode."""
        super().reset(seed=seed)
        self.episode_steps = 0
        return self.reset_result()

    def step(self, action: Any) -> Any:
        """Take one step."""
        self.steps += 1
        self.episode_steps += 1
        return self.step_result()

    def reset_result(self) -> Any:
        """What ``reset`` returns."""
        return self.observation(), self.info()

    def step_result(self) -> Any:
        """What ``step`` returns."""
        return self.observation(), self.reward(), self.terminated(), self.truncated(), self.info()

    def observation(self) -> Any:
        """A fresh observation inside the space."""
        return self.np_random.uniform(-0.5, 0.5, 3).astype(np.float32)

    def reward(self) -> Any:
        """The reward."""
        return 1.0

    def terminated(self) -> Any:
        """Whether the episode ends here."""
        return self.episode_steps >= self.episode_length

    def truncated(self) -> Any:
        """Whether the episode is cut here."""
        return False

    def info(self) -> Any:
        """The info dict."""
        return {}


class _Observation(GoodEnv):
    """Returns ``bad`` as the observation from step ``at`` on (``at=0``: at the first reset too)."""

    at = 1
    bad: Any = None

    def observation(self) -> Any:
        return self.bad_observation() if self.steps >= self.at else super().observation()

    def bad_observation(self) -> Any:
        return self.bad


class WrongShapeObservation(_Observation):
    bad = np.zeros(4, np.float32)


class Float64Observation(_Observation):
    bad = np.zeros(3, np.float64)


class Int64Observation(_Observation):
    bad = np.zeros(3, np.int64)


class ListObservation(_Observation):
    bad = [0.0, 0.0, 0.0]  # noqa: RUF012


class StringObservation(_Observation):
    bad = "obs"


class NoneObservation(_Observation):
    bad = None


class DictObservation(_Observation):
    bad = {"x": 0.0}  # noqa: RUF012


class _Element(_Observation):
    """Puts ``value`` at ``observation[index]`` from step ``at`` on."""

    index, value = 1, np.nan

    def bad_observation(self) -> Any:
        observation = GoodEnv.observation(self)
        observation[self.index] = self.value
        return observation


class NaNObservation(_Element):
    at = 3


class PositiveInfObservation(_Element):
    index, value = 2, np.inf


class NegativeInfObservation(_Element):
    index, value = 0, -np.inf


class OutOfBoundsObservation(_Element):
    index, value = 2, 1.5


class ObservationOutsideTighterBounds(_Element):
    """Inside its space, outside the tighter ``observation_bounds=(-0.5, 0.5)``."""

    index, value = 0, 0.75


class NaNResetObservation(_Element):
    at = 0


class NaNAfterThousandsOfSteps(_Element):
    """Well behaved for 2499 steps (and 249 episodes), then NaN: Gymnasium's checker never gets there."""

    at = 2500


class NaNOnTheThirdReset(GoodEnv):
    def reset_result(self) -> Any:
        observation = self.observation()
        if self.steps >= 20:
            observation[0] = np.nan
        return observation, {}


class ResetReturnsOnlyTheObservation(GoodEnv):
    def reset_result(self) -> Any:
        return self.observation()


class ResetReturnsNoneInfo(GoodEnv):
    def reset_result(self) -> Any:
        return self.observation(), None


class ResetReturnsThreeValues(GoodEnv):
    def reset_result(self) -> Any:
        return self.observation(), {}, {}


class _Reward(GoodEnv):
    bad: Any = None

    def reward(self) -> Any:
        return self.bad


class NaNReward(_Reward):
    bad = float("nan")


class InfReward(_Reward):
    bad = np.float32(np.inf)


class StringReward(_Reward):
    bad = "1.0"


class ArrayReward(_Reward):
    bad = np.array([1.0])


class NoneReward(_Reward):
    bad = None


class ComplexReward(_Reward):
    bad = 1 + 2j


class BoolReward(_Reward):
    bad = True


class IntTerminated(GoodEnv):
    def terminated(self) -> Any:
        return 0


class StringTruncated(GoodEnv):
    def truncated(self) -> Any:
        return "no"


class NoneTerminated(GoodEnv):
    def terminated(self) -> Any:
        return None


class TerminatedAndTruncated(GoodEnv):
    def truncated(self) -> Any:
        return self.steps >= 4

    def terminated(self) -> Any:
        return self.steps >= 4


class ListInfo(GoodEnv):
    def info(self) -> Any:
        return [] if self.steps >= 1 else {}


class OldGymStep(GoodEnv):
    """The pre-Gymnasium API: ``(obs, reward, done, info)``."""

    def step_result(self) -> Any:
        return self.observation(), 1.0, False, {}


class ThreeValueStep(GoodEnv):
    def step_result(self) -> Any:
        return self.observation(), 1.0, False


class DiscreteObservationEnv(GoodEnv):
    """A good env with ``Discrete(5)`` observations (Python ints, as FrozenLake's)."""

    bad: Any = 0

    def __init__(self) -> None:
        super().__init__()
        self.observation_space = spaces.Discrete(5)

    def observation(self) -> Any:
        return self.bad if self.steps >= 1 else 0


class DiscreteObservationTooLarge(DiscreteObservationEnv):
    bad = 7


class DiscreteObservationNegative(DiscreteObservationEnv):
    bad = np.int64(-1)


class DiscreteObservationFloat(DiscreteObservationEnv):
    bad = 1.0


class BoxActionEnv(GoodEnv):
    """A good env with Pendulum's action space, ``Box(-2, 2, (1,), float32)``."""

    def __init__(self) -> None:
        super().__init__()
        self.action_space = spaces.Box(-2.0, 2.0, (1,), np.float32)


class MultiDiscreteActionEnv(GoodEnv):
    """A good env with ``MultiDiscrete([3, 3])`` actions."""

    def __init__(self) -> None:
        super().__init__()
        self.action_space = spaces.MultiDiscrete([3, 3])


class Unreadable(Exception):
    """What the hostile values below raise when the contract reads them."""


def _unreadable(*args: Any, **kwargs: Any) -> Any:
    raise Unreadable("read me not")


class RaisingReal:
    """Claims to be a real number (registered as ``numbers.Real``), but its ``__float__`` raises."""

    __float__ = _unreadable

    def __repr__(self) -> str:
        return "RaisingReal()"


numbers.Real.register(RaisingReal)


class RaisingArray:
    """An array-like whose ``__array__``, ``__len__`` and ``__getitem__`` raise."""

    __array__ = __len__ = __getitem__ = _unreadable

    def __repr__(self) -> str:
        return "RaisingArray()"


class RaisingClass:
    """An object whose ``__class__`` raises: ``isinstance`` on it raises."""

    @property  # type: ignore[misc]
    def __class__(self) -> Any:
        raise Unreadable("read me not")

    def __repr__(self) -> str:
        return "RaisingClass()"


class FinalObsKey:
    """A dict key that collides with ``"final_obs"`` and whose ``__eq__`` raises: looking that key up raises."""

    def __hash__(self) -> int:
        return hash("final_obs")

    __eq__ = _unreadable

    def __repr__(self) -> str:
        return "FinalObsKey()"


class HostileArray(np.ndarray):
    """An ndarray subclass whose own ufuncs, comparisons, truth and ``shape`` raise; its data is good."""

    __array_ufunc__ = __array_function__ = __eq__ = __le__ = __bool__ = __len__ = _unreadable

    @property  # type: ignore[misc]
    def shape(self) -> Any:
        raise Unreadable("read me not")


class HostileTuple(tuple[Any, ...]):
    """A tuple subclass whose ``__len__``, ``__iter__`` and ``__getitem__`` raise."""

    __len__ = __iter__ = __getitem__ = _unreadable


class HostileDict(dict[Any, Any]):
    """A dict subclass whose ``get``, ``__getitem__``, ``__contains__`` and ``__iter__`` raise."""

    get = __getitem__ = __contains__ = __iter__ = _unreadable


def object_array(*items: Any) -> np.ndarray:
    """A 1-D object array of ``items``, each stored as it is (``np.array`` would read array-likes)."""
    array = np.empty(len(items), dtype=object)
    for index, item in enumerate(items):
        array[index] = item
    return array


class HugeIntReward(_Reward):
    bad = 10**400


class RaisingReward(_Reward):
    bad = RaisingReal()


class RaisingClassReward(_Reward):
    bad = RaisingClass()


class RaisingClassTerminated(GoodEnv):
    def terminated(self) -> Any:
        return RaisingClass()


class RaisingArrayObservation(_Observation):
    bad = RaisingArray()


class ObjectArrayObservation(_Observation):
    bad = object_array(0.0, RaisingArray(), 0.0)


class ComplexObservation(_Observation):
    bad = np.zeros(3, np.complex64)


class StructuredObservation(_Observation):
    bad = np.zeros(3, [("x", np.float32)])


class DatetimeObservation(_Observation):
    bad = np.zeros(3, "datetime64[s]")


class ZeroDimObservation(_Observation):
    bad = np.array(0.5, np.float32)


class NaNInAnArraySubclass(_Element):
    """A NaN in an ndarray subclass whose own methods raise: read as a plain array, the NaN is found."""

    def bad_observation(self) -> Any:
        return super().bad_observation().view(HostileArray)


class TensorObservation(_Observation):
    def bad_observation(self) -> Any:
        import torch

        return torch.zeros(2, 3)


class HugeIntDiscreteObservation(DiscreteObservationEnv):
    bad = 10**400


class UnprintableIntDiscreteObservation(DiscreteObservationEnv):
    """An int too long for Python to print (past 4300 digits)."""

    bad = 10**5000


class GoodVectorEnv(VectorEnv[Any, Any, Any]):
    """Four GoodEnv-like sub-environments that never finish; subclasses override ``step_result``."""

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.NEXT_STEP}  # noqa: RUF012

    def __init__(self, num_envs: int = 4) -> None:
        self.num_envs = num_envs
        self.single_observation_space = spaces.Box(-1.0, 1.0, (3,), np.float32)
        self.single_action_space = spaces.Discrete(2)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self.steps = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        """Reset every sub-environment."""
        super().reset(seed=seed)
        return self.observations(), {}

    def step(self, actions: Any) -> Any:
        """Step every sub-environment."""
        self.steps += 1
        return self.step_result()

    def observations(self) -> npt.NDArray[np.float32]:
        """Fresh observations inside the space."""
        return self.np_random.uniform(-0.5, 0.5, (self.num_envs, 3)).astype(np.float32)

    def step_result(self) -> Any:
        """What ``step`` returns."""
        flags = np.zeros(self.num_envs, np.bool_)
        return self.observations(), np.ones(self.num_envs, np.float32), flags, flags.copy(), {}


class ShortRewardVector(GoodVectorEnv):
    def step_result(self) -> Any:
        observations, _, terminated, truncated, info = super().step_result()
        return observations, np.ones(self.num_envs - 1, np.float32), terminated, truncated, info


class LongTerminatedVector(GoodVectorEnv):
    def step_result(self) -> Any:
        observations, reward, _, truncated, info = super().step_result()
        return observations, reward, np.zeros(self.num_envs + 1, np.bool_), truncated, info


class IntTruncatedVector(GoodVectorEnv):
    def step_result(self) -> Any:
        observations, reward, terminated, _, info = super().step_result()
        return observations, reward, terminated, np.zeros(self.num_envs, np.int64), info


class ShortObservationBatchVector(GoodVectorEnv):
    def step_result(self) -> Any:
        _, reward, terminated, truncated, info = super().step_result()
        return self.observations()[1:], reward, terminated, truncated, info


class NaNObservationVector(GoodVectorEnv):
    """Sub-environment 2's observation[1] is NaN at step 3."""

    def step_result(self) -> Any:
        observations, reward, terminated, truncated, info = super().step_result()
        if self.steps == 3:
            observations[2, 1] = np.nan
        return observations, reward, terminated, truncated, info


class InfRewardVector(GoodVectorEnv):
    def step_result(self) -> Any:
        observations, reward, terminated, truncated, info = super().step_result()
        reward[3] = np.inf
        return observations, reward, terminated, truncated, info


class TerminatedAndTruncatedVector(GoodVectorEnv):
    def step_result(self) -> Any:
        observations, reward, terminated, truncated, info = super().step_result()
        terminated[1] = truncated[1] = True
        return observations, reward, terminated, truncated, info


class TupleInfoVector(GoodVectorEnv):
    def step_result(self) -> Any:
        return (*super().step_result()[:4], ())


class SameStepVector(GoodVectorEnv):
    """SAME_STEP autoreset; sub-environment 1 terminates at step 1, with the info ``autoreset_info`` gives."""

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.SAME_STEP}  # noqa: RUF012

    def step_result(self) -> Any:
        observations, reward, terminated, truncated, _ = super().step_result()
        terminated[1] = self.steps == 1
        return observations, reward, terminated, truncated, self.autoreset_info(terminated)

    def autoreset_info(self, done: npt.NDArray[np.bool_]) -> Any:
        """Gymnasium's layout: final observations in an object array, ``None`` where not done, and masks."""
        if not done.any():
            return {}
        final = object_array(*[self.observations()[0] if finished else None for finished in done])
        return {"final_obs": final, "_final_obs": done.copy(), "final_info": {}, "_final_info": done.copy()}


class _AutoresetInfo(SameStepVector):
    """Replaces (or, with ``_MISSING``, removes) one key of the good autoreset info."""

    key = "_final_obs"
    value: Any = None

    def autoreset_info(self, done: npt.NDArray[np.bool_]) -> Any:
        info = super().autoreset_info(done)
        if info:
            if self.value is _DROP:
                del info[self.key]
            else:
                info[self.key] = self.value() if callable(self.value) else self.value
        return info


_DROP = object()


class LongFinalObsMask(_AutoresetInfo):
    """The issue's example: a ``_final_obs`` mask longer than ``num_envs``."""

    value = np.ones(5, np.bool_)


class IntFinalObsMask(_AutoresetInfo):
    value = np.array([0, 1, 0, 0])


class ObjectFinalObsMask(_AutoresetInfo):
    value = object_array(False, RaisingArray(), False, False)


class HostileFinalObsMask(_AutoresetInfo):
    value = RaisingClass()


class NoFinalObsMask(_AutoresetInfo):
    value = _DROP


class NoFinalObs(_AutoresetInfo):
    key, value = "final_obs", _DROP


class FinalObsBatchArray(_AutoresetInfo):
    key, value = "final_obs", np.zeros((4, 3), np.float32)


class NoneWhereFinalObsIsMarked(_AutoresetInfo):
    key, value = "final_obs", object_array(None, None, None, None)


class Float64FinalObs(_AutoresetInfo):
    key, value = "final_obs", object_array(None, np.zeros(3), None, None)


class RaisingFinalObs(_AutoresetInfo):
    key, value = "final_obs", object_array(None, RaisingArray(), None, None)


class FinalInfoList(_AutoresetInfo):
    key, value = "final_info", []


class ShortFinalInfoMask(_AutoresetInfo):
    key, value = "_final_info", np.ones(3, np.bool_)


class NoAutoresetInfo(SameStepVector):
    """Done in SAME_STEP, but no final observation at all."""

    def autoreset_info(self, done: npt.NDArray[np.bool_]) -> Any:
        return {}


class FinalObsMaskFalseAtDone(_AutoresetInfo):
    value = np.zeros(4, np.bool_)


class InfoKeyThatRaises(GoodVectorEnv):
    def step_result(self) -> Any:
        return (*super().step_result()[:4], {FinalObsKey(): 1})


class LongFinalObsMaskNextStep(GoodVectorEnv):
    """NEXT_STEP, yet autoreset keys in info: when present they must be well formed in any mode."""

    def step_result(self) -> Any:
        observations, reward, terminated, truncated, _ = super().step_result()
        info = {"final_obs": object_array(None, None, None, None), "_final_obs": np.zeros(5, np.bool_)}
        return observations, reward, terminated, truncated, info


def one_bad_among_eight() -> SyncVectorEnv:
    """Seven good sub-environments and, at index 5, one whose observation[1] is NaN at its 40th step."""

    class NaNAtStep40(_Element):
        at = 40

    envs = [lambda: GoodEnv(episode_length=1000)] * 5 + [lambda: NaNAtStep40(episode_length=1000)]
    return SyncVectorEnv(envs + [lambda: GoodEnv(episode_length=1000)] * 2)


def nan_final_observation() -> SyncVectorEnv:
    """SAME_STEP autoreset: sub-environment 1 ends its first episode (step 10) on a NaN final observation."""

    class NaNFinalObservation(GoodEnv):
        def observation(self) -> Any:
            observation = super().observation()
            if self.episode_steps == self.episode_length:
                observation[2] = np.nan
            return observation

    return SyncVectorEnv([GoodEnv, NaNFinalObservation], autoreset_mode=AutoresetMode.SAME_STEP)


@dataclasses.dataclass(frozen=True)
class Case:
    """A misbehaving environment (or agent) and the violation it must raise."""

    make: Any
    """Builds the environment: a class or a function of no arguments."""
    call: str
    field: str
    step: int
    got: str
    expected: str
    env_index: int | None = None
    action: Any = None
    """For ``call="action"``: the action the agent sends at ``step`` (before it, random valid ones)."""
    options: ContractOptions = dataclasses.field(default_factory=lambda: ContractOptions())

    @property
    def name(self) -> str:
        """The test id."""
        return getattr(self.make, "__name__", "case") + (f"-action={self.action!r}" if self.call == "action" else "")


_DISCRETE_OBS = "an observation in Discrete(5)"
_STEP = "a 5-tuple (observation, reward, terminated, truncated, info)"
_REWARD = "a finite real number"
_ARRAY3 = "a float32 array of shape (3,)"
_MASK4 = "a bool array of shape (4,)"
_EVERY_DONE = "a final observation for every done sub-environment (autoreset mode SAME_STEP)"
_RAISED = "which raised Unreadable when read"
_HUGE = "1000000000000000000000000000000000000..."  # 10**400, cut

CASES: list[Case] = [
    # Observations.
    Case(WrongShapeObservation, "step", "observation", 1, "a float32 array of shape (4,)", _ARRAY3),
    Case(Float64Observation, "step", "observation", 1, "a float64 array of shape (3,)", _ARRAY3),
    Case(Int64Observation, "step", "observation", 1, "an int64 array of shape (3,)", _ARRAY3),
    Case(ListObservation, "step", "observation", 1, "[0.0, 0.0, 0.0] (a list)", _ARRAY3),
    Case(StringObservation, "step", "observation", 1, "'obs' (a str)", _ARRAY3),
    Case(NoneObservation, "step", "observation", 1, "None", _ARRAY3),
    Case(DictObservation, "step", "observation", 1, "{'x': 0.0} (a dict)", _ARRAY3),
    Case(NaNObservation, "step", "observation[1]", 3, "nan", BOX),
    Case(PositiveInfObservation, "step", "observation[2]", 1, "inf", BOX),
    Case(NegativeInfObservation, "step", "observation[0]", 1, "-inf", BOX),
    Case(OutOfBoundsObservation, "step", "observation[2]", 1, "1.5", BOX),
    Case(NaNAfterThousandsOfSteps, "step", "observation[1]", 2500, "nan", BOX),
    Case(DiscreteObservationTooLarge, "step", "observation", 1, "7", _DISCRETE_OBS),
    Case(DiscreteObservationNegative, "step", "observation", 1, "-1", _DISCRETE_OBS),
    Case(DiscreteObservationFloat, "step", "observation", 1, "1.0 (a float)", _DISCRETE_OBS),
    # Values that numpy or float() choke on: huge ints, methods that raise, odd dtypes, subclasses, tensors.
    Case(HugeIntDiscreteObservation, "step", "observation", 1, f"{_HUGE} (an int)", _DISCRETE_OBS),
    Case(
        UnprintableIntDiscreteObservation,
        "step",
        "observation",
        1,
        "<an int of about 5001 digits> (an int)",
        _DISCRETE_OBS,
    ),
    Case(RaisingArrayObservation, "step", "observation", 1, "RaisingArray() (a RaisingArray)", _ARRAY3),
    Case(ObjectArrayObservation, "step", "observation", 1, "an object array of shape (3,)", _ARRAY3),
    Case(ComplexObservation, "step", "observation", 1, "a complex64 array of shape (3,)", _ARRAY3),
    Case(StructuredObservation, "step", "observation", 1, "a [('x', '<f4')] array of shape (3,)", _ARRAY3),
    Case(DatetimeObservation, "step", "observation", 1, "a datetime64[s] array of shape (3,)", _ARRAY3),
    Case(ZeroDimObservation, "step", "observation", 1, "a float32 array of shape ()", _ARRAY3),
    Case(NaNInAnArraySubclass, "step", "observation[1]", 1, "nan", BOX),
    Case(TensorObservation, "step", "observation", 1, "tensor([[0., 0., 0.], [0., 0., 0.]]) (a Tensor)", _ARRAY3),
    # Resets.
    Case(NaNResetObservation, "reset", "observation[1]", 0, "nan", BOX),
    Case(NaNOnTheThirdReset, "reset", "observation[0]", 20, "nan", BOX),
    Case(
        ResetReturnsOnlyTheObservation,
        "reset",
        "result",
        0,
        "a float32 array of shape (3,)",
        "a 2-tuple (observation, info)",
    ),
    Case(ResetReturnsNoneInfo, "reset", "info", 0, "None", "a dict"),
    Case(ResetReturnsThreeValues, "reset", "result", 0, "a 3-tuple", "a 2-tuple (observation, info)"),
    # Rewards, flags, info, the step's structure.
    Case(NaNReward, "step", "reward", 1, "nan", _REWARD),
    Case(InfReward, "step", "reward", 1, "inf", _REWARD),
    Case(StringReward, "step", "reward", 1, "'1.0' (a str)", _REWARD),
    Case(ArrayReward, "step", "reward", 1, "a float64 array of shape (1,)", _REWARD),
    Case(NoneReward, "step", "reward", 1, "None", _REWARD),
    Case(ComplexReward, "step", "reward", 1, "(1+2j) (a complex)", _REWARD),
    Case(BoolReward, "step", "reward", 1, "True (a bool)", _REWARD),
    Case(HugeIntReward, "step", "reward", 1, f"{_HUGE} (an int beyond float64's range)", _REWARD),
    Case(RaisingReward, "step", "reward", 1, f"RaisingReal() (a RaisingReal), {_RAISED}", _REWARD),
    Case(RaisingClassReward, "step", "reward", 1, f"RaisingClass() (a RaisingClass), {_RAISED}", _REWARD),
    Case(RaisingClassTerminated, "step", "terminated", 1, "RaisingClass() (a RaisingClass)", "a bool"),
    Case(IntTerminated, "step", "terminated", 1, "0 (an int)", "a bool"),
    Case(StringTruncated, "step", "truncated", 1, "'no' (a str)", "a bool"),
    Case(NoneTerminated, "step", "terminated", 1, "None", "a bool"),
    Case(ListInfo, "step", "info", 1, "[] (a list)", "a dict"),
    Case(OldGymStep, "step", "result", 1, "a 4-tuple (observation, reward, done, info): the old Gym step API", _STEP),
    Case(ThreeValueStep, "step", "result", 1, "a 3-tuple", _STEP),
    # Options.
    Case(
        TerminatedAndTruncated,
        "step",
        "truncated",
        4,
        "True while terminated is True",
        "at most one of terminated and truncated true (reject_terminated_and_truncated=True)",
        options=ContractOptions(reject_terminated_and_truncated=True),
    ),
    Case(GoodEnv, "step", "reward", 1, "1.0", "a finite real number in [-1.0, 0.0]", options={"reward_range": (-1, 0)}),
    Case(
        ObservationOutsideTighterBounds,
        "step",
        "observation[0]",
        1,
        "0.75",
        "a finite float32 in [-0.5, 0.5]",
        options={"observation_bounds": (-0.5, 0.5)},
    ),
    # The agent's actions.
    Case(GoodEnv, "action", "action", 3, "5", "an action in Discrete(2)", action=5),
    Case(GoodEnv, "action", "action", 1, "-1", "an action in Discrete(2)", action=-1),
    Case(GoodEnv, "action", "action", 1, "1.0 (a float)", "an action in Discrete(2)", action=1.0),
    Case(GoodEnv, "action", "action", 1, "'1' (a str)", "an action in Discrete(2)", action="1"),
    Case(
        BoxActionEnv,
        "action",
        "action",
        2,
        "a float32 array of shape (2,)",
        "a float32 array of shape (1,)",
        action=np.zeros(2, np.float32),
    ),
    Case(
        BoxActionEnv,
        "action",
        "action[0]",
        1,
        "nan",
        "a finite float32 in [-2.0, 2.0]",
        action=np.array([np.nan], np.float32),
    ),
    Case(
        BoxActionEnv,
        "action",
        "action[0]",
        1,
        "3.0",
        "a finite float32 in [-2.0, 2.0]",
        action=np.array([3.0], np.float32),
    ),
    Case(
        BoxActionEnv,
        "action",
        "action",
        1,
        "a float64 array of shape (1,)",
        "a float32 array of shape (1,)",
        action=np.zeros(1, np.float64),
    ),
    Case(MultiDiscreteActionEnv, "action", "action[1]", 1, "5", "an int64 in [0, 2]", action=np.array([0, 5])),
    Case(GoodEnv, "action", "action", 1, f"{_HUGE} (an int)", "an action in Discrete(2)", action=10**400),
    Case(
        MultiDiscreteActionEnv,
        "action",
        "action",
        1,
        "[100000000000000000000000000000000000... (a list)",
        "an int64 array of shape (2,)",
        action=[10**400, 0],
    ),
    Case(
        MultiDiscreteActionEnv,
        "action",
        "action",
        1,
        f"[RaisingArray(), 0] (a list), {_RAISED}",
        "an int64 array of shape (2,)",
        action=[RaisingArray(), 0],
    ),
    Case(
        MultiDiscreteActionEnv,
        "action",
        "action",
        1,
        "[[0], [0, 1]] (a list)",
        "an int64 array of shape (2,)",
        action=[[0], [0, 1]],
    ),
    Case(
        MultiDiscreteActionEnv,
        "action",
        "action[0]",
        1,
        "9223372036854775808",
        "an int64 in [0, 2]",
        action=[2**63, 2**63 + 1],  # uint64: judged as it is, not wrapped to a negative int64
    ),
    Case(BoxActionEnv, "action", "action[0]", 1, "1e+300", "a finite float32 in [-2.0, 2.0]", action=[1e300]),
    # Vector environments.
    Case(ShortRewardVector, "step", "reward", 1, "a float32 array of shape (3,)", "a float array of shape (4,)"),
    Case(LongTerminatedVector, "step", "terminated", 1, "a bool array of shape (5,)", "a bool array of shape (4,)"),
    Case(IntTruncatedVector, "step", "truncated", 1, "an int64 array of shape (4,)", "a bool array of shape (4,)"),
    Case(
        ShortObservationBatchVector,
        "step",
        "observation",
        1,
        "a float32 array of shape (3, 3)",
        "a float32 array of shape (4, 3)",
    ),
    Case(NaNObservationVector, "step", "observation[1]", 3, "nan", BOX, env_index=2),
    Case(InfRewardVector, "step", "reward", 1, "inf", _REWARD, env_index=3),
    Case(
        TerminatedAndTruncatedVector,
        "step",
        "truncated",
        1,
        "True while terminated is True",
        "at most one of terminated and truncated true (reject_terminated_and_truncated=True)",
        env_index=1,
        options={"reject_terminated_and_truncated": True},
    ),
    Case(TupleInfoVector, "step", "info", 1, "() (a tuple)", "a dict"),
    Case(one_bad_among_eight, "step", "observation[1]", 40, "nan", BOX, env_index=5),
    Case(nan_final_observation, "step", "final_obs[2]", 10, "nan", BOX, env_index=1),
    # Gymnasium's autoreset keys in a vector env's info, and the SAME_STEP rule.
    Case(LongFinalObsMask, "step", "info['_final_obs']", 1, "a bool array of shape (5,)", _MASK4),
    Case(LongFinalObsMaskNextStep, "step", "info['_final_obs']", 1, "a bool array of shape (5,)", _MASK4),
    Case(IntFinalObsMask, "step", "info['_final_obs']", 1, "an int64 array of shape (4,)", _MASK4),
    Case(ObjectFinalObsMask, "step", "info['_final_obs']", 1, "an object array of shape (4,)", _MASK4),
    Case(HostileFinalObsMask, "step", "info['_final_obs']", 1, "RaisingClass() (a RaisingClass)", _MASK4),
    Case(NoFinalObsMask, "step", "info['_final_obs']", 1, "missing", f"{_MASK4} beside info['final_obs']"),
    Case(NoFinalObs, "step", "info['final_obs']", 1, "missing", "an array of shape (4,) beside info['_final_obs']"),
    Case(
        FinalObsBatchArray, "step", "info['final_obs']", 1, "a float32 array of shape (4, 3)", "an array of shape (4,)"
    ),
    Case(NoAutoresetInfo, "step", "info['final_obs']", 1, "missing", _EVERY_DONE, env_index=1),
    Case(
        FinalObsMaskFalseAtDone,
        "step",
        "info['_final_obs']",
        1,
        "False where terminated or truncated is True",
        _EVERY_DONE,
        env_index=1,
    ),
    Case(NoneWhereFinalObsIsMarked, "step", "final_obs", 1, "None", _ARRAY3, env_index=1),
    Case(Float64FinalObs, "step", "final_obs", 1, "a float64 array of shape (3,)", _ARRAY3, env_index=1),
    Case(RaisingFinalObs, "step", "final_obs", 1, "RaisingArray() (a RaisingArray)", _ARRAY3, env_index=1),
    Case(FinalInfoList, "step", "info['final_info']", 1, "[] (a list)", "a dict"),
    Case(ShortFinalInfoMask, "step", "info['_final_info']", 1, "a bool array of shape (3,)", _MASK4),
    Case(InfoKeyThatRaises, "step", "info", 1, f"{{FinalObsKey(): 1}} (a dict), {_RAISED}", "a dict"),
    Case(
        GoodVectorEnv,
        "action",
        "action",
        2,
        "5",
        "an action in Discrete(2)",
        env_index=2,
        action=np.array([0, 1, 5, 0]),
    ),
    Case(
        GoodVectorEnv,
        "action",
        "action",
        1,
        "an int64 array of shape (3,)",
        "an int64 array of shape (4,)",
        action=np.array([0, 1, 1]),
    ),
]
"""Every misbehaviour and its violation."""
