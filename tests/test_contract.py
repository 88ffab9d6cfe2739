"""The environment contract: every misbehaviour in the zoo is caught, named and located; good envs pass."""

import fractions
import pickle
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorEnv
from zoo import (
    CASES,
    BoxActionEnv,
    Case,
    GoodEnv,
    GoodVectorEnv,
    HostileArray,
    HostileDict,
    HostileTuple,
    NaNAfterThousandsOfSteps,
    NaNObservation,
    OldGymStep,
    object_array,
)

from typedrl.contract import Contract, ContractWarning
from typedrl.envs import CheckedEnv, CheckedVectorEnv, check_env, make_env
from typedrl.errors import ContractViolation, HyperparameterError, InputError, TypedRLError

GOOD_ENV_IDS = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "Pendulum-v1", "FrozenLake-v1", "Taxi-v4"]
MODES = list(AutoresetMode)


def _checked(case: Case) -> CheckedEnv[Any, Any] | CheckedVectorEnv:
    env = case.make()
    if isinstance(env, VectorEnv):
        return CheckedVectorEnv(env, **case.options)
    return CheckedEnv(env, **case.options)


def _drive(case: Case) -> ContractViolation:
    """Reset, then step with seeded random actions (``case.action`` at ``case.step``) until the violation."""
    checked = _checked(case)
    try:
        checked.reset(seed=0)
        checked.action_space.seed(0)
        for step in range(1, case.step + 1):
            last = case.call == "action" and step == case.step
            _, _, terminated, truncated, _ = checked.step(case.action if last else checked.action_space.sample())
            if isinstance(checked, CheckedEnv) and (terminated or truncated):
                checked.reset()
    except ContractViolation as violation:
        return violation
    pytest.fail(f"{case.name}: no violation in {case.step} steps")


def _step_randomly(env: CheckedEnv[Any, Any] | CheckedVectorEnv, steps: int) -> Any:
    """Take ``steps`` random steps; the last observation."""
    observation = None
    for _ in range(steps):
        observation, *_ = env.step(env.action_space.sample())
    return observation


def test_the_zoo_is_large() -> None:
    assert len(CASES) >= 30
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_every_misbehaviour_is_caught_and_located(case: Case) -> None:
    violation = _drive(case)
    assert isinstance(violation, ValueError)
    assert isinstance(violation, TypedRLError)
    found = (violation.call, violation.field, violation.step, violation.env_index, violation.got, violation.expected)
    assert found == (case.call, case.field, case.step, case.env_index, case.got, case.expected)
    message = str(violation)
    assert message.startswith(violation.env_id)
    assert message.endswith(f"{case.field} is {case.got}; expected {case.expected}")
    if case.env_index is not None:
        assert f", env {case.env_index}: " in message


def test_exact_messages() -> None:
    by_name = {case.name: case for case in CASES}
    expected = {
        "NaNObservation": "NaNObservation step 3: observation[1] is nan; expected a finite float32 in [-1.0, 1.0]",
        "NaNOnTheThirdReset": (
            "NaNOnTheThirdReset reset after step 20: observation[0] is nan; expected a finite float32 in [-1.0, 1.0]"
        ),
        "ResetReturnsOnlyTheObservation": (
            "ResetReturnsOnlyTheObservation reset: result is a float32 array of shape (3,);"
            " expected a 2-tuple (observation, info)"
        ),
        "OldGymStep": (
            "OldGymStep step 1: result is a 4-tuple (observation, reward, done, info): the old Gym step API;"
            " expected a 5-tuple (observation, reward, terminated, truncated, info)"
        ),
        "one_bad_among_eight": (
            "SyncVectorEnv step 40, env 5: observation[1] is nan; expected a finite float32 in [-1.0, 1.0]"
        ),
        "GoodVectorEnv-action=array([0, 1, 5, 0])": (
            "GoodVectorEnv step 2, env 2: action is 5; expected an action in Discrete(2)"
        ),
        "ComplexReward": "ComplexReward step 1: reward is (1+2j) (a complex); expected a finite real number",
    }
    for name, message in expected.items():
        assert str(_drive(by_name[name])) == message


def test_a_cartpole_message_names_env_step_and_element() -> None:
    # Narrower bounds than CartPole's own (cart velocity within ±0.5): random actions break them soon.
    bounds = (np.array([-4.8, -0.5, -0.42, -np.inf]), np.array([4.8, 0.5, 0.42, np.inf]))
    env = make_env("CartPole-v1", num_envs=8, seed=0, observation_bounds=bounds)
    env.reset()
    with pytest.raises(ContractViolation) as caught:
        _step_randomly(env, 100)
    violation = caught.value
    assert (violation.env_id, violation.call, violation.field) == ("CartPole-v1", "step", "observation[1]")
    assert violation.env_index is not None
    assert str(violation) == (
        f"CartPole-v1 step {violation.step}, env {violation.env_index}: observation[1] is {violation.got};"
        " expected a finite float32 in [-0.5, 0.5]"
    )
    assert abs(float(violation.got)) > 0.5


@pytest.mark.parametrize("env_id", GOOD_ENV_IDS)
def test_good_single_envs_pass_1000_steps(env_id: str) -> None:
    report = check_env(env_id, steps=1000)
    assert report.passed, str(report)
    assert report.steps == 1000


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.name)
@pytest.mark.parametrize("env_id", GOOD_ENV_IDS)
def test_good_vector_envs_pass_1000_steps_in_every_autoreset_mode(env_id: str, mode: AutoresetMode) -> None:
    env = make_env(env_id, num_envs=2, autoreset_mode=mode)
    assert env.metadata["autoreset_mode"] is mode
    report = check_env(env, steps=1000)
    assert report.passed, str(report)
    assert report.episodes > 0


def test_next_step_autoreset_ignores_the_action_of_a_resetting_sub_env() -> None:
    env = CheckedVectorEnv(SyncVectorEnv([lambda: GoodEnv(episode_length=2)] * 3))
    env.reset(seed=0)
    env.step(np.array([0, 0, 0]))
    _, _, terminated, _, _ = env.step(np.array([0, 0, 0]))
    assert terminated.all()
    env.step(np.array([5, 7, -1]))  # every sub-env resets: the actions are ignored, not checked
    with pytest.raises(ContractViolation) as caught:
        env.step(np.array([0, 5, 0]))
    assert (caught.value.call, caught.value.step, caught.value.env_index) == ("action", 4, 1)


def test_warn_mode_warns_and_goes_on() -> None:
    env = CheckedEnv(NaNObservation(), on_violation="warn", seed=0)
    env.reset()
    with pytest.warns(ContractWarning) as caught:
        observation = _step_randomly(env, 4)
    assert np.isnan(observation[1])
    violations = [warning.message.violation for warning in caught if isinstance(warning.message, ContractWarning)]
    assert [violation.step for violation in violations] == [3, 4]
    assert str(caught[0].message) == str(violations[0])


def test_a_broken_structure_raises_even_in_warn_mode() -> None:
    env = CheckedEnv(OldGymStep(), on_violation="warn")
    env.reset(seed=0)
    with pytest.raises(ContractViolation, match="old Gym step API"):
        env.step(0)


def test_contract_violation_pickles() -> None:
    violation = ContractViolation("CartPole-v1", "step", 1734, 3, "observation[2]", "nan", "a finite float32")
    copy = pickle.loads(pickle.dumps(violation))
    assert type(copy) is ContractViolation
    assert (
        str(copy) == str(violation) == "CartPole-v1 step 1734, env 3: observation[2] is nan; expected a finite float32"
    )
    fields = ("env_id", "call", "step", "env_index", "field", "got", "expected")
    assert [getattr(copy, name) for name in fields] == [getattr(violation, name) for name in fields]


def test_gymnasium_checker_misses_a_late_nan_that_typedrl_catches() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gymnasium_check_env(NaNAfterThousandsOfSteps(), skip_render_check=True)  # passes: first reset and step only
    report = check_env(NaNAfterThousandsOfSteps(), steps=3000)
    assert [(violation.step, violation.field) for violation in report.violations] == [(2500, "observation[1]")]


def test_safely_castable_values_pass() -> None:
    class Float32InFloat64Space(GoodEnv):
        def __init__(self) -> None:
            super().__init__()
            self.observation_space = spaces.Box(-1.0, 1.0, (3,), np.float64)

    env = CheckedEnv(Float32InFloat64Space())
    env.reset(seed=0)
    env.step(np.int32(1))
    env.step(np.array(1, np.uint8))
    env.step(True)
    box = CheckedEnv(BoxActionEnv())
    box.reset(seed=0)
    box.step([0.5])  # Python numbers convert
    box.step(np.array([1], np.int8))
    with pytest.raises(ContractViolation, match=r"action is \[3.0\] \(a list\)|action\[0\] is 3.0"):
        box.step([3.0])


def test_contract_for_unsupported_spaces_and_bad_options() -> None:
    dict_space = spaces.Dict({"x": spaces.Discrete(2)})
    assert Contract(dict_space, spaces.Discrete(2)).observation_space == dict_space  # checked part by part
    with pytest.raises(InputError, match=r"observation_space is Text\(.*\(or a Dict or Tuple of them\)"):
        Contract(spaces.Dict({"x": spaces.Text(3)}), spaces.Discrete(2))
    with pytest.raises(InputError, match=r"action_space is Dict\(.*MultiBinary space$"):
        Contract(spaces.Discrete(2), dict_space)
    with pytest.raises(HyperparameterError, match="on_violation is 'ignore'"):
        Contract(spaces.Discrete(2), spaces.Discrete(2), on_violation="ignore")  # type: ignore[arg-type]
    with pytest.raises(HyperparameterError, match="reward_range"):
        Contract(spaces.Discrete(2), spaces.Discrete(2), reward_range=(1.0, 0.0))
    with pytest.raises(InputError, match="observation_bounds"):
        Contract(spaces.Box(-1, 1, (3,)), spaces.Discrete(2), observation_bounds=(np.zeros(2), np.ones(2)))


def test_contract_for_env_reads_the_spaces() -> None:
    single = Contract.for_env(gym.make("CartPole-v1"))
    vector = Contract.for_env(make_env("CartPole-v1", num_envs=8))
    assert (single.env_id, single.num_envs) == ("CartPole-v1", None)
    assert (vector.env_id, vector.num_envs) == ("CartPole-v1", 8)
    assert vector.observation_space == single.observation_space
    assert repr(single).startswith("Contract(CartPole-v1, Box(")
    assert Contract.for_env(GoodEnv(), env_id="mine").env_id == "mine"


def test_exact_messages_for_values_numpy_chokes_on_and_for_autoreset_info() -> None:
    by_name = {case.name: case for case in CASES}
    expected = {
        "HugeIntReward": (
            "HugeIntReward step 1: reward is 1000000000000000000000000000000000000... (an int beyond float64's range);"
            " expected a finite real number"
        ),
        "RaisingReward": (
            "RaisingReward step 1: reward is RaisingReal() (a RaisingReal), which raised Unreadable when read;"
            " expected a finite real number"
        ),
        "UnprintableIntDiscreteObservation": (
            "UnprintableIntDiscreteObservation step 1: observation is <an int of about 5001 digits> (an int);"
            " expected an observation in Discrete(5)"
        ),
        "MultiDiscreteActionEnv-action=[RaisingArray(), 0]": (
            "MultiDiscreteActionEnv step 1: action is [RaisingArray(), 0] (a list), which raised Unreadable when"
            " read; expected an int64 array of shape (2,)"
        ),
        "LongFinalObsMask": (
            "LongFinalObsMask step 1: info['_final_obs'] is a bool array of shape (5,);"
            " expected a bool array of shape (4,)"
        ),
        "NoAutoresetInfo": (
            "NoAutoresetInfo step 1, env 1: info['final_obs'] is missing; expected a final observation for every"
            " done sub-environment (autoreset mode SAME_STEP)"
        ),
        "NoneWhereFinalObsIsMarked": (
            "NoneWhereFinalObsIsMarked step 1, env 1: final_obs is None; expected a float32 array of shape (3,)"
        ),
    }
    for name, message in expected.items():
        assert str(_drive(by_name[name])) == message


def test_a_huge_int_reward_in_float_range_passes_and_one_beyond_it_fails_even_when_not_finite() -> None:
    contract = Contract(spaces.Discrete(2), spaces.Discrete(2), env_id="E", finite_rewards=False)
    contract.check_step((0, 10**300, False, False, {}), step=1)
    with pytest.raises(ContractViolation) as caught:
        contract.check_step((0, -(10**400), False, False, {}), step=1)
    assert str(caught.value) == (
        "E step 1: reward is -100000000000000000000000000000000000... (an int beyond float64's range);"
        " expected a real number that is not nan"
    )


def test_odd_but_good_results_pass() -> None:
    """Subclasses read as their base (past their own methods), other real numbers, Python ints for Discrete."""
    contract = Contract(spaces.Box(-1.0, 1.0, (3,), np.float32), spaces.Discrete(2), env_id="E")
    observation = np.zeros(3, np.float32)
    good = (observation.view(HostileArray), fractions.Fraction(1, 3), np.bool_(False), False, HostileDict())
    contract.check_step(HostileTuple(good), step=1)
    contract.check_reset(HostileTuple((observation, HostileDict())))
    discrete = Contract(spaces.Discrete(5, start=2), spaces.Discrete(2), env_id="D")
    for value in (2, np.int8(6), np.array(4, np.uint8), np.int64(3)):
        discrete.check_step((value, 1, False, False, {}), step=1)
    vector = Contract(
        spaces.Box(-1.0, 1.0, (3,), np.float32), spaces.Discrete(2), num_envs=2, autoreset_mode="SameStep"
    )
    done = np.array([True, False])
    info = HostileDict(final_obs=object_array(observation, None), _final_obs=done.view(HostileArray))
    result = (np.zeros((2, 3), np.float32), np.ones(2), done, np.zeros(2, np.bool_), info)
    assert vector.check_step(result, step=1) is result


def test_autoreset_mode_must_be_one() -> None:
    with pytest.raises(HyperparameterError) as caught:
        Contract(spaces.Discrete(2), spaces.Discrete(2), num_envs=2, autoreset_mode="Sometimes")
    assert str(caught.value) == ("Contract: autoreset_mode is 'Sometimes'; expected None or a gymnasium AutoresetMode")
    env = GoodVectorEnv()
    env.metadata = {"autoreset_mode": "Sometimes"}
    with pytest.raises(InputError) as refused:
        CheckedVectorEnv(env)
    assert str(refused.value) == (
        "GoodVectorEnv: env.metadata['autoreset_mode'] is 'Sometimes'; expected a gymnasium AutoresetMode"
    )
    assert Contract.for_env(make_env("CartPole-v1", num_envs=2, autoreset_mode="SameStep")).autoreset_mode is (
        AutoresetMode.SAME_STEP
    )
