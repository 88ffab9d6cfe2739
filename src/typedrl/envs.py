"""The Gymnasium bridge: checked environments, :func:`make_env` and :func:`check_env`.

:class:`CheckedEnv` and :class:`CheckedVectorEnv` apply a :class:`~typedrl.contract.Contract` to every reset, step
and action of a Gymnasium env or vector env and pass everything through unchanged. :func:`make_env` builds a
checked vector env, on Gymnasium's fast native vector env where there is one. :func:`check_env` runs any env
through the contract with random actions and reports.

To run without the checks, use the environment the wrapper holds (``checked.env``) or build it with Gymnasium.
"""

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, Unpack

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import load_env_creator
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper

from typedrl.contract import Contract, ContractOptions, ContractWarning, StepResult
from typedrl.errors import ContractViolation, HyperparameterError

__all__ = ["CheckReport", "CheckedEnv", "CheckedVectorEnv", "check_env", "make_env"]

_ObsT = TypeVar("_ObsT")
_ActT = TypeVar("_ActT")


class CheckedEnv(gym.Wrapper[_ObsT, _ActT, _ObsT, _ActT]):
    """A single Gymnasium env whose every reset, step and action is checked against its :class:`Contract`.

    ``num_steps`` counts the ``step`` calls since the wrapper was made, across episodes: a violation's step is
    this count (1 for the first step), so "step 2500" is the 2500th step however many resets came between.

    Args:
        env: the environment to check.
        seed: if given, seeds the action space and is used by the first ``reset()`` called without a seed.
        **options: the :class:`Contract` options (``finite_observations``, ``on_violation``, ...).
    """

    def __init__(self, env: gym.Env[_ObsT, _ActT], *, seed: int | None = None, **options: Unpack[ContractOptions]):
        super().__init__(env)
        self.contract = Contract.for_env(env, **options)
        self.num_steps = 0
        self._seed = seed
        if seed is not None:
            self.action_space.seed(seed)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[_ObsT, dict[str, Any]]:
        """Reset the environment and check the ``(observation, info)`` it returns."""
        if seed is None:
            seed, self._seed = self._seed, None
        return self.contract.check_reset(self.env.reset(seed=seed, options=options), step=self.num_steps)

    def step(self, action: _ActT) -> tuple[_ObsT, Any, bool, bool, dict[str, Any]]:
        """Check the action, step the environment, and check the ``(obs, reward, terminated, truncated, info)``."""
        step = self.num_steps + 1
        contract = self.contract
        if not contract.action_ok(action):  # the fast check; the slow one finds and reports the problem
            contract.check_action(action, step=step)
        result = self.env.step(action)
        self.num_steps = step
        if not contract.step_ok(result):
            contract.check_step(result, step=step)
        return result


class CheckedVectorEnv(VectorWrapper[Any, Any, Any, Any, Any]):
    """A Gymnasium vector env whose every reset, step and batch of actions is checked, in one vectorized pass.

    ``metadata`` (``autoreset_mode`` included) is the wrapped env's, unchanged. Under NEXT_STEP autoreset the
    step after a sub-environment's done only resets it: its action is ignored by the env and is not checked, and
    its reward 0 and false flags are the autoreset's. ``num_steps`` counts vector steps since the wrapper was
    made; a violation names that count and the first offending sub-environment.

    Args:
        env: the vector environment to check.
        seed: if given, seeds the action spaces and is used by the first ``reset()`` called without a seed.
        **options: the :class:`Contract` options.
    """

    def __init__(self, env: VectorEnv[Any, Any, Any], *, seed: int | None = None, **options: Unpack[ContractOptions]):
        super().__init__(env)
        self.contract = Contract.for_env(env, **options)
        self.autoreset_mode = AutoresetMode(env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP))
        self.num_steps = 0
        self._seed = seed
        self._next_step = self.autoreset_mode is AutoresetMode.NEXT_STEP
        self._previous: StepResult | None = None  # under NEXT_STEP, its done sub-envs now reset
        if seed is not None:
            self.action_space.seed(seed)
            self.single_action_space.seed(seed)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset (all, or those in ``options["reset_mask"]``) and check the ``(observations, info)`` returned."""
        if seed is None:
            seed, self._seed = self._seed, None
        result = self.contract.check_reset(self.env.reset(seed=seed, options=options), step=self.num_steps)
        if options is None or "reset_mask" not in options:
            self._previous = None
        return result

    def step(self, actions: Any) -> StepResult:
        """Check the actions, step every sub-environment, and check the batched results."""
        step = self.num_steps + 1
        contract = self.contract
        if not contract.action_ok(actions):  # the fast check; the slow one finds and reports the problem
            contract.check_action(actions, step=step, ignore=self._resetting())
        result = self.env.step(actions)
        self.num_steps = step
        if not contract.step_ok(result):
            contract.check_step(result, step=step, ignore=self._resetting())
        if self._next_step:
            self._previous = result
        return result

    def _resetting(self) -> tuple[Any, ...]:
        """The masks of the sub-environments that this step only resets (NEXT_STEP: those done at the last)."""
        return () if self._previous is None else self._previous[2:4]


def make_env(
    env_id: str,
    /,
    *,
    num_envs: int = 1,
    seed: int | None = None,
    autoreset_mode: AutoresetMode | str | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    **options: Unpack[ContractOptions],
) -> CheckedVectorEnv:
    """A checked vector env of ``num_envs`` copies of the registered environment ``env_id``.

    Gymnasium's native vector env (the id's ``vector_entry_point``, e.g. ``CartPoleVectorEnv``) is used where
    there is one and it supports ``autoreset_mode``; otherwise ``gymnasium.make_vec(..., "sync")``.

    Args:
        env_id: a registered Gymnasium id, e.g. ``"CartPole-v1"``.
        num_envs: the number of sub-environments.
        seed: seeds the first reset (``reset()`` with no seed uses it) and the action spaces.
        autoreset_mode: ``AutoresetMode`` or its value (``"NextStep"``, ``"SameStep"``, ``"Disabled"``); ``None``
            keeps the env's default (NEXT_STEP).
        env_kwargs: keyword arguments for the environment's constructor.
        **options: the :class:`Contract` options.
    """
    if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
        raise HyperparameterError(f"make_env: num_envs is {num_envs!r}; expected an int >= 1")
    mode = None if autoreset_mode is None else AutoresetMode(autoreset_mode)
    kwargs = dict(env_kwargs or {})
    if _native_supports(env_id, mode):
        env = gym.make_vec(env_id, num_envs, vectorization_mode="vector_entry_point", **kwargs)
    else:
        vector_kwargs = {} if mode is None else {"autoreset_mode": mode}
        env = gym.make_vec(env_id, num_envs, vectorization_mode="sync", vector_kwargs=vector_kwargs, **kwargs)
    return CheckedVectorEnv(env, seed=seed, **options)


def _native_supports(env_id: str, mode: AutoresetMode | None) -> bool:
    """Whether ``env_id`` has a native vector env, and it runs in ``mode`` (native envs declare one mode)."""
    spec = gym.spec(env_id)
    if spec.vector_entry_point is None or spec.additional_wrappers:
        return False
    if mode is None:
        return True
    creator = load_env_creator(spec.vector_entry_point) if isinstance(spec.vector_entry_point, str) else None
    metadata = getattr(creator, "metadata", {})
    return bool(metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP) == mode)


@dataclass(frozen=True)
class CheckReport:
    """What :func:`check_env` found: ``str(report)`` reads as a short report."""

    env_id: str
    """The environment checked."""
    num_envs: int | None
    """Its number of sub-environments; ``None`` for a single env."""
    steps: int
    """The (vector) steps completed."""
    episodes: int
    """The episodes that ended (summed over sub-environments)."""
    violations: tuple[ContractViolation, ...]
    """Every violation, in order; at most one (the run stops there) unless ``on_violation="warn"``."""

    @property
    def passed(self) -> bool:
        """Whether the run found no violation."""
        return not self.violations

    def __str__(self) -> str:
        """``check_env CartPole-v1 (8 envs): 1000 steps, 44 episodes, no violations``, then one line each."""
        envs = "" if self.num_envs is None else f" ({self.num_envs} envs)"
        count = len(self.violations)
        found = "no violations" if not count else f"{count} violation{'s' if count > 1 else ''}:"
        lines = [f"check_env {self.env_id}{envs}: {self.steps} steps, {self.episodes} episodes, {found}"]
        lines += [f"  {violation}" for violation in self.violations]
        return "\n".join(lines)


def check_env(
    env_or_id: gym.Env[Any, Any] | VectorEnv[Any, Any, Any] | str,
    *,
    steps: int = 1000,
    seed: int = 0,
    **options: Unpack[ContractOptions],
) -> CheckReport:
    """Run an environment through the contract for ``steps`` steps of seeded random actions, and report.

    Unlike Gymnasium's ``check_env``, which looks at the first reset and step, every step is checked. With the
    default ``on_violation="raise"`` the run stops at the first violation; with ``"warn"`` it collects them all
    (a result of the wrong structure still stops it). The violation is reported, not raised.

    Args:
        env_or_id: a Gymnasium env, a vector env, or a registered id (made with ``gymnasium.make``).
        steps: the number of (vector) steps to run.
        seed: seeds the first reset and the action sampling.
        **options: the :class:`Contract` options.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise HyperparameterError(f"check_env: steps is {steps!r}; expected an int >= 0")
    env = gym.make(env_or_id) if isinstance(env_or_id, str) else env_or_id
    checked: CheckedEnv[Any, Any] | CheckedVectorEnv
    checked = CheckedVectorEnv(env, **options) if isinstance(env, VectorEnv) else CheckedEnv(env, **options)
    raised: list[ContractViolation] = []
    episodes = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ContractWarning)
        try:
            episodes = _run(checked, steps=steps, seed=seed)
        except ContractViolation as violation:
            raised.append(violation)
    warned = [w.message.violation for w in caught if isinstance(w.message, ContractWarning)]
    for other in caught:  # pass on the warnings that are not ours
        if not isinstance(other.message, ContractWarning):
            warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    if isinstance(env_or_id, str):
        env.close()
    num_envs = checked.num_envs if isinstance(checked, CheckedVectorEnv) else None
    return CheckReport(checked.contract.env_id, num_envs, checked.num_steps, episodes, (*warned, *raised))


def _run(checked: CheckedEnv[Any, Any] | CheckedVectorEnv, *, steps: int, seed: int) -> int:
    """Step ``checked`` with seeded random actions; the number of episodes that ended."""
    checked.reset(seed=seed)
    checked.action_space.seed(seed)
    episodes = 0
    disabled = isinstance(checked, CheckedVectorEnv) and checked.autoreset_mode is AutoresetMode.DISABLED
    for _ in range(steps):
        _, _, terminated, truncated, _ = checked.step(checked.action_space.sample())
        done = _as_mask(terminated) | _as_mask(truncated)
        episodes += int(np.count_nonzero(done))
        if isinstance(checked, CheckedEnv) and done.any():
            checked.reset()
        elif disabled and done.any():
            checked.reset(options={"reset_mask": done})
    return episodes


def _as_mask(flags: object) -> np.ndarray:
    """Flags as a bool array, all false where they cannot be read (a violation already reported them)."""
    try:
        return np.asarray(flags, dtype=np.bool_)
    except (TypeError, ValueError):
        return np.zeros((), dtype=np.bool_)
