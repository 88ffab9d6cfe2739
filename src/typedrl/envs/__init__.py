"""The Gymnasium bridge: checked environments, :func:`make_env` and :func:`check_env`.

:class:`CheckedEnv` and :class:`CheckedVectorEnv` apply a :class:`~typedrl.contract.Contract` to every reset, step
and action of a Gymnasium env or vector env and pass everything through unchanged. :func:`make_env` builds a
checked vector env, on Gymnasium's fast native vector env where there is one. :func:`check_env` runs any env
through the contract with random actions and reports.

An exception raised inside the environment's own ``reset`` or ``step`` leaves the checked wrappers as an
:class:`~typedrl.errors.EnvError` naming the environment, the call, the step and (where the vector env lets it be
known) the sub-environment, the original chained as its ``__cause__``. A typedrl error from an inner checked
environment passes through unchanged, and ``KeyboardInterrupt`` is never caught (a ``SystemExit`` raised inside
an environment's ``reset`` or ``step`` is that environment failing, and becomes an ``EnvError`` too).

To run without the checks, use the environment the wrapper holds (``checked.env``) or build it with Gymnasium.

**Errata.** Where a Gymnasium environment is known to break its own declared space in normal play, the contract
holds it to what the environment really does, and only there: :data:`SPACE_ERRATA` lists each case with the
Gymnasium issue that records it, and :func:`make_env` and :func:`typedrl.evaluate` apply it (a contract option
given explicitly wins). Everything else about the environment is checked as usual.
"""

import contextlib
import dis
import functools
import importlib
import math
import multiprocessing
import re
import signal
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import CodeType
from typing import Any, Literal, TypeVar, Unpack, cast

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import load_env_creator
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorEnv, VectorWrapper

from typedrl._validate import integer
from typedrl.contract import Contract, ContractOptions, ContractWarning, StepResult, autoreset_mode_of
from typedrl.errors import ContractViolation, EnvError, HyperparameterError, TypedRLError

__all__ = [
    "SPACE_ERRATA",
    "TENSOR_ENVS",
    "AcrobotTensorEnv",
    "CartPoleTensorEnv",
    "CheckReport",
    "CheckedEnv",
    "CheckedTensorVectorEnv",
    "CheckedVectorEnv",
    "ContinuousMountainCarTensorEnv",
    "MountainCarTensorEnv",
    "PendulumTensorEnv",
    "TensorVectorEnv",
    "check_env",
    "errata_options",
    "make_env",
    "make_tensor_env",
]

_ObsT = TypeVar("_ObsT")
_ActT = TypeVar("_ActT")
_T = TypeVar("_T")


def _unbounded_above(index: int) -> Callable[[gym.Space[Any]], ContractOptions]:
    """Observation bounds that are the space's own, but with no upper bound on element ``index``."""

    def options(space: gym.Space[Any]) -> ContractOptions:
        if not isinstance(space, gym.spaces.Box) or space.shape != (8,):  # not the space the erratum is about
            return {}
        high = np.array(space.high, copy=True)
        high[index] = np.inf
        return {"observation_bounds": (space.low, high)}

    return options


SPACE_ERRATA: dict[str, Callable[[gym.Space[Any]], ContractOptions]] = {
    # The lander's height (observation[1]) has no upper limit: nothing ends an episode that flies up, and a
    # policy that fires the main engine passes the declared 2.5 (Gymnasium issues #377 and #752; v3 raised the
    # bound from 1.5 to 2.5, "extremely rare" to pass, yet an untrained policy does within a few hundred steps).
    "LunarLander-v3": _unbounded_above(1),
}
"""Known gaps between a Gymnasium environment's declared observation space and what it returns: registered id
→ the contract options that hold it to what it really does, from its observation space (one sub-environment's).
"""


def errata_options(env_id: str, observation_space: gym.Space[Any]) -> ContractOptions:
    """The contract options :data:`SPACE_ERRATA` gives ``env_id`` (``{}`` for an environment without errata)."""
    erratum = SPACE_ERRATA.get(env_id.partition(":")[2] or env_id)
    return erratum(observation_space) if erratum is not None else {}


def _detail(error: BaseException) -> str:
    """``"ZeroDivisionError: division by zero"``, on one line: what :class:`EnvError` says the env raised."""
    try:
        text = str(error)
    except Exception:  # an exception whose own __str__ raises
        text = "(its message could not be read)"
    text = re.sub(r"\s*[\r\n]+\s*", " ", text).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _env_error(env_id: str, call: str, step: int, env_index: int | None, error: BaseException) -> EnvError:
    return EnvError(env_id, call, step, env_index, _detail(error))


# Where a Gymnasium vector env keeps the index of the sub-environment it is working on: the frame of the method and
# the local. Read from the traceback after the fact, so that finding it costs nothing while nothing raises.
_INDEX_LOCALS: dict[CodeType, str] = {
    SyncVectorEnv.step.__code__: "i",
    SyncVectorEnv.reset.__code__: "i",
    AsyncVectorEnv._raise_if_errors.__code__: "index",  # it re-raises a worker's error, naming the worker
}
_IN_LOOP = {SyncVectorEnv.step.__code__, SyncVectorEnv.reset.__code__}  # only inside the loop over sub-envs


@functools.cache
def _loops(code: CodeType) -> tuple[tuple[int, int], ...]:
    """The bytecode offsets ``(start, end)`` of each ``for`` loop of ``code``."""
    return tuple((ins.offset, ins.argval) for ins in dis.get_instructions(code) if ins.opname == "FOR_ITER")


def _sub_environment(env: VectorEnv[Any, Any, Any], error: BaseException) -> int | None:
    """The sub-environment of ``env`` whose reset or step raised ``error``, where the vector env lets it be known.

    Gymnasium's ``SyncVectorEnv`` steps its sub-environments in a loop over ``i``: if the traceback passes through
    that loop of ``env``'s own ``SyncVectorEnv``, ``i`` is the one (an error before or after the loop, such as
    stacking the observations, belongs to none). ``AsyncVectorEnv`` names the worker it re-raises from. A native
    vector env (``CartPoleVectorEnv``) steps all at once: ``None``.
    """
    try:
        base = env.unwrapped
        traceback = error.__traceback__
        while traceback is not None:
            frame = traceback.tb_frame
            name = _INDEX_LOCALS.get(frame.f_code)
            if name is not None and frame.f_locals.get("self") is base:
                offset, code = traceback.tb_lasti, frame.f_code
                if code in _IN_LOOP and not any(start < offset < end for start, end in _loops(code)):
                    return None
                index = frame.f_locals.get(name)
                return index if type(index) is int and 0 <= index < env.num_envs else None
            traceback = traceback.tb_next
    except Exception:  # looking never hides the env's own error
        return None
    return None


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
        """Reset the environment and check the ``(observation, info)`` it returns.

        Raises:
            ContractViolation: the result breaks the contract.
            EnvError: the environment's ``reset`` raised (the original is the ``__cause__``).
        """
        if seed is None:
            seed, self._seed = self._seed, None
        try:
            result = self.env.reset(seed=seed, options=options)
        except TypedRLError:  # an inner checked env's: already says where
            raise
        except (Exception, SystemExit) as error:  # sys.exit() in an env is its failure too
            raise _env_error(self.contract.env_id, "reset", self.num_steps, None, error) from error
        return self.contract.check_reset(result, step=self.num_steps)

    def step(self, action: _ActT) -> tuple[_ObsT, Any, bool, bool, dict[str, Any]]:
        """Check the action, step the environment, and check the ``(obs, reward, terminated, truncated, info)``.

        Raises:
            ContractViolation: the action or the result breaks the contract.
            EnvError: the environment's ``step`` raised (the original is the ``__cause__``).
        """
        step = self.num_steps + 1
        contract = self.contract
        if not contract.action_ok(action):  # the fast check; the slow one finds and reports the problem
            contract.check_action(action, step=step)
        try:  # free in CPython 3.11+ while nothing raises
            result = self.env.step(action)
        except TypedRLError:
            raise
        except (Exception, SystemExit) as error:  # sys.exit() in an env is its failure too
            raise _env_error(contract.env_id, "step", step, None, error) from error
        self.num_steps = step
        if not contract.step_ok(result):
            contract.check_step(result, step=step)
        return result


class CheckedVectorEnv(VectorWrapper[Any, Any, Any, Any, Any]):
    """A Gymnasium vector env whose every reset, step and batch of actions is checked, in one vectorized pass.

    ``metadata`` (``autoreset_mode`` included) is the wrapped env's, unchanged. Under NEXT_STEP autoreset the
    step after a sub-environment's done only resets it: its action is ignored by the env and is not checked, and
    its reward 0 and false flags are the autoreset's. ``num_steps`` counts vector steps since the wrapper was
    made; a violation names that count and the first offending sub-environment. An exception from the env's own
    ``reset`` or ``step`` becomes an :class:`~typedrl.errors.EnvError` naming the sub-environment that raised
    where that can be known (``SyncVectorEnv``, ``AsyncVectorEnv``; not a native vector env).

    Args:
        env: the vector environment to check.
        seed: if given, seeds the action spaces and is used by the first ``reset()`` called without a seed.
        **options: the :class:`Contract` options (the :data:`SPACE_ERRATA` of a registered id apply, unless
            ``observation_bounds`` is given).
    """

    def __init__(
        self,
        env: VectorEnv[Any, Any, Any],
        *,
        seed: int | None = None,
        timeout: float | None = None,
        **options: Unpack[ContractOptions],
    ):
        super().__init__(env)
        if timeout is not None and not (isinstance(timeout, int | float) and 0 < timeout < math.inf):
            raise HyperparameterError(f"CheckedVectorEnv: timeout is {timeout!r}; expected None or seconds > 0")
        self.timeout = timeout
        """Seconds an ``AsyncVectorEnv``'s workers may take to answer a reset or step (``None``: no limit)."""
        self._workers: AsyncVectorEnv | None = env if isinstance(env, AsyncVectorEnv) else None
        self.autoreset_mode = autoreset_mode_of(env)
        spec = getattr(env, "spec", None)
        if spec is not None and "observation_bounds" not in options:
            options = {**errata_options(spec.id, env.single_observation_space), **options}
        self.contract = Contract.for_env(env, **options)
        self.num_steps = 0
        self._seed = seed
        self._next_step = self.autoreset_mode is AutoresetMode.NEXT_STEP
        self._previous: StepResult | None = None  # under NEXT_STEP, its done sub-envs now reset
        if seed is not None:
            self.action_space.seed(seed)
            self.single_action_space.seed(seed)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset (all, or those in ``options["reset_mask"]``) and check the ``(observations, info)`` returned.

        Raises:
            ContractViolation: the result breaks the contract.
            EnvError: the environment's ``reset`` raised (the original is the ``__cause__``).
        """
        if seed is None:
            seed, self._seed = self._seed, None
        try:
            if self._workers is None:
                raw = self.env.reset(seed=seed, options=options)
            else:
                self._workers.reset_async(seed=seed, options=options)
                raw = self._workers.reset_wait(timeout=self.timeout)
        except TypedRLError:
            raise
        except (Exception, SystemExit) as error:  # sys.exit() in an env is its failure too
            self._worker_failure("reset", self.num_steps, error)
            env_index = _sub_environment(self.env, error)
            raise _env_error(self.contract.env_id, "reset", self.num_steps, env_index, error) from error
        result = self.contract.check_reset(raw, step=self.num_steps)
        if options is None or "reset_mask" not in options:
            self._previous = None
        return result

    def step(self, actions: Any) -> StepResult:
        """Check the actions, step every sub-environment, and check the batched results.

        Raises:
            ContractViolation: the actions or the results break the contract.
            EnvError: the environment's ``step`` raised (the original is the ``__cause__``).
        """
        step = self.num_steps + 1
        contract = self.contract
        if not contract.action_ok(actions):  # the fast check; the slow one finds and reports the problem
            contract.check_action(actions, step=step, ignore=self._resetting())
        try:  # free in CPython 3.11+ while nothing raises
            if self._workers is None:
                result = self.env.step(actions)
            else:
                self._workers.step_async(actions)
                result = self._workers.step_wait(timeout=self.timeout)
        except TypedRLError:
            raise
        except (Exception, SystemExit) as error:  # sys.exit() in an env is its failure too
            self._worker_failure("step", step, error)
            raise _env_error(contract.env_id, "step", step, _sub_environment(self.env, error), error) from error
        self.num_steps = step
        if not contract.step_ok(result):
            contract.check_step(result, step=step, ignore=self._resetting())
        if self._next_step:
            self._previous = result
        return result

    def _worker_failure(self, call: str, step: int, error: BaseException) -> None:
        """An ``AsyncVectorEnv`` whose worker hung (no answer within :attr:`timeout`) or died (its process gone,
        its pipe closed): terminate every worker, so nothing waits on them again (not even ``close``), and raise an
        :class:`~typedrl.errors.EnvError` naming the first such sub-environment. Anything else: return."""
        workers = self._workers
        if workers is None:
            return
        hung = isinstance(error, multiprocessing.TimeoutError)
        if not hung and not isinstance(error, EOFError | OSError):
            return  # the env's own error, re-raised by the worker: the caller names its sub-environment
        detail = _worker_detail(workers, hung=hung, timeout=self.timeout)
        with contextlib.suppress(Exception):  # the workers are going: nothing they say can matter now
            workers.close(terminate=True)
        index, text = detail
        raise EnvError(self.contract.env_id, call, step, index, text, raised=False) from error

    def _resetting(self) -> tuple[Any, ...]:
        """The masks of the sub-environments that this step only resets (NEXT_STEP: those done at the last)."""
        # The last result passed the contract's structure check: a tuple, read past a subclass's own methods.
        return () if self._previous is None else tuple.__getitem__(self._previous, slice(2, 4))


def make_env(
    env_id: str,
    /,
    *,
    num_envs: int = 1,
    seed: int | None = None,
    autoreset_mode: AutoresetMode | str | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    vectorization: Literal["sync", "async"] = "sync",
    timeout: float | None = None,
    **options: Unpack[ContractOptions],
) -> CheckedVectorEnv:
    """A checked vector env of ``num_envs`` copies of the registered environment ``env_id``.

    ``vectorization="sync"``: Gymnasium's native vector env (the id's ``vector_entry_point``, e.g.
    ``CartPoleVectorEnv``) where there is one and it supports ``autoreset_mode``, otherwise
    ``gymnasium.make_vec(..., "sync")`` (the sub-environments stepped one after the other in this process).
    ``"async"``: ``gymnasium.make_vec(..., "async")``, Gymnasium's ``AsyncVectorEnv``: one worker process per
    sub-environment, stepped in parallel, observations passed through shared memory; checked exactly as the
    sync env is, and the same transitions for the same seeds as ``SyncVectorEnv``. Worth it when a step costs
    more than the round trip to a worker (MuJoCo, Box2D; docs: "Scaling out").

    Args:
        env_id: a registered Gymnasium id, e.g. ``"CartPole-v1"``.
        num_envs: the number of sub-environments.
        seed: seeds the first reset (``reset()`` with no seed uses it) and the action spaces.
        autoreset_mode: ``AutoresetMode`` or its value (``"NextStep"``, ``"SameStep"``, ``"Disabled"``); ``None``
            keeps the env's default (NEXT_STEP).
        env_kwargs: keyword arguments for the environment's constructor.
        vectorization: ``"sync"`` or ``"async"``.
        timeout: with ``"async"``, the seconds a worker may take to answer a reset or step before the env reports
            it hung (:class:`~typedrl.errors.EnvError` naming the sub-environment; ``None``: wait forever).
        **options: the :class:`Contract` options.

    Raises:
        HyperparameterError: ``num_envs``, ``vectorization`` or ``timeout`` out of their domains.
    """
    num_envs = integer("make_env", "num_envs", num_envs, error=HyperparameterError, minimum=1)
    if vectorization not in ("sync", "async"):
        raise HyperparameterError(f"make_env: vectorization is {vectorization!r}; expected 'sync' or 'async'")
    mode = None if autoreset_mode is None else AutoresetMode(autoreset_mode)
    kwargs = dict(env_kwargs or {})
    env_id = _import_module_of(env_id)
    if vectorization == "async":
        vector_kwargs: dict[str, Any] = {"shared_memory": True}
        if mode is not None:
            vector_kwargs["autoreset_mode"] = mode
        env = gym.make_vec(
            env_id,
            num_envs,
            vectorization_mode="async",
            vector_kwargs=vector_kwargs,
            wrappers=[cast(Any, _worker_ignores_interrupts)],  # Gymnasium types wrappers as Env -> Wrapper
            **{"disable_env_checker": True, **kwargs},
        )
        return CheckedVectorEnv(env, seed=seed, timeout=timeout, **options)
    if _native_supports(env_id, mode):
        env = gym.make_vec(env_id, num_envs, vectorization_mode="vector_entry_point", **kwargs)
    else:
        vector_kwargs = {} if mode is None else {"autoreset_mode": mode}
        # Gymnasium's passive checker asserts on the first results of each sub-env (and its asserts vanish under
        # python -O); the contract checks every result instead.
        env = gym.make_vec(
            env_id,
            num_envs,
            vectorization_mode="sync",
            vector_kwargs=vector_kwargs,
            **{"disable_env_checker": True, **kwargs},
        )
    return CheckedVectorEnv(env, seed=seed, **options)


def _worker_ignores_interrupts(env: gym.Env[Any, Any]) -> gym.Env[Any, Any]:
    """Applied in each ``AsyncVectorEnv`` worker as it builds its environment: the worker ignores SIGINT. A
    terminal's Ctrl-C reaches the whole process group, workers included; the trainer decides what it means (finish
    the update, save, stop) and closes the workers itself, which a worker dying of the same Ctrl-C would
    pre-empt. SIGTERM still ends a worker (closing a hung one sends it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return env


def _worker_detail(workers: AsyncVectorEnv, *, hung: bool, timeout: float | None) -> tuple[int | None, str]:
    """``(sub-environment, what happened)`` for an ``AsyncVectorEnv`` that timed out or lost a worker: the first
    worker whose process is gone (with its exit code), else, after a timeout, the first that has not answered."""
    # A worker's pipe closes a moment before its process can be reaped: give a dying one a second to be seen.
    deadline = time.monotonic() + (0.0 if hung else 1.0)
    while True:
        for index, process in enumerate(workers.processes):
            if not process.is_alive():
                return index, f"its worker process (pid {process.pid}) exited with code {process.exitcode}"
        if time.monotonic() >= deadline:
            break
        time.sleep(0.01)
    if hung:
        for index, pipe in enumerate(workers.parent_pipes):
            with contextlib.suppress(Exception):
                if pipe is not None and not pipe.closed and not pipe.poll():
                    return index, f"its worker did not answer within {timeout:g} s (hung)"
        return None, f"a worker did not answer within {timeout:g} s (hung)"
    return None, "the connection to a worker was lost"


def _import_module_of(env_id: str) -> str:
    """``"module:Env-v0"`` (Gymnasium's syntax for an env a module registers when imported): import ``module``,
    return ``"Env-v0"``. Any other id comes back as it is."""
    module, separator, rest = env_id.partition(":")
    if not separator:
        return env_id
    importlib.import_module(module)
    return rest


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
    error: EnvError | None = None
    """The environment's own failure, which stopped the run: its ``reset`` or ``step`` raised, or its action
    space's ``seed`` or ``sample``, or its ``close`` (when :func:`check_env` made it from an id). ``None`` if none."""

    @property
    def passed(self) -> bool:
        """Whether the run found no violation and the environment raised nothing."""
        return not self.violations and self.error is None

    def __str__(self) -> str:
        """``check_env CartPole-v1 (8 envs): 1000 steps, 44 episodes, no violations``, then one line each
        violation, then the environment's error if one stopped the run."""
        envs = "" if self.num_envs is None else f" ({self.num_envs} envs)"
        count = len(self.violations)
        found = "no violations" if not count else f"{count} violation{'s' if count > 1 else ''}"
        if self.error is not None:
            found += ", stopped by an environment error"
        colon = ":" if count or self.error is not None else ""
        lines = [f"check_env {self.env_id}{envs}: {self.steps} steps, {self.episodes} episodes, {found}{colon}"]
        lines += [f"  {violation}" for violation in self.violations]
        lines += [] if self.error is None else [f"  {self.error}"]
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
    (a result of the wrong structure still stops it). The violation is reported, not raised. So is an exception
    from the environment itself (its ``reset``, ``step``, action space or ``close``): it stops the run and is the
    report's :attr:`CheckReport.error`, an :class:`~typedrl.errors.EnvError`; :attr:`CheckReport.passed` is then
    false. An id that ``gymnasium.make`` does not know raises ``gymnasium.error.Error`` as before.

    Args:
        env_or_id: a Gymnasium env, a vector env, or a registered id (made with ``gymnasium.make``).
        steps: the number of (vector) steps to run.
        seed: seeds the first reset and the action sampling.
        **options: the :class:`Contract` options.
    """
    steps = integer("check_env", "steps", steps, error=HyperparameterError, minimum=0)
    env = gym.make(env_or_id) if isinstance(env_or_id, str) else env_or_id
    checked: CheckedEnv[Any, Any] | CheckedVectorEnv
    checked = CheckedVectorEnv(env, **options) if isinstance(env, VectorEnv) else CheckedEnv(env, **options)
    raised: list[ContractViolation] = []
    failure: EnvError | None = None
    episodes = [0]  # counted as the run goes, so that a run stopped early reports its episodes
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ContractWarning)
            try:
                _run(checked, steps=steps, seed=seed, episodes=episodes)
            except ContractViolation as violation:
                raised.append(violation)
            except EnvError as error:
                failure = error
        warned = [w.message.violation for w in caught if isinstance(w.message, ContractWarning)]
        for other in caught:  # pass on the warnings that are not ours
            if not isinstance(other.message, ContractWarning):
                warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    finally:
        if isinstance(env_or_id, str):
            closing = _close(env, checked.contract.env_id, checked.num_steps)
            failure = failure or closing
    num_envs = checked.num_envs if isinstance(checked, CheckedVectorEnv) else None
    violations = (*warned, *raised)
    return CheckReport(checked.contract.env_id, num_envs, checked.num_steps, episodes[0], violations, failure)


def _run(checked: CheckedEnv[Any, Any] | CheckedVectorEnv, *, steps: int, seed: int, episodes: list[int]) -> None:
    """Step ``checked`` with seeded random actions, adding the episodes that end to ``episodes[0]``."""
    checked.reset(seed=seed)
    space = checked.action_space
    _space_call(checked, "action_space.seed", lambda: space.seed(seed))
    disabled = isinstance(checked, CheckedVectorEnv) and checked.autoreset_mode is AutoresetMode.DISABLED
    shape = (checked.num_envs,) if isinstance(checked, CheckedVectorEnv) else ()
    for _ in range(steps):
        _, _, terminated, truncated, _ = checked.step(_space_call(checked, "action_space.sample", space.sample))
        done = _as_mask(terminated, shape) | _as_mask(truncated, shape)
        episodes[0] += int(np.count_nonzero(done))
        if isinstance(checked, CheckedEnv) and done.any():
            checked.reset()
        elif disabled and done.any():
            checked.reset(options={"reset_mask": done})


def _space_call(checked: CheckedEnv[Any, Any] | CheckedVectorEnv, call: str, function: Callable[[], _T]) -> _T:
    """``function()``, a call on the env's action space before the next step; what it raises, as an EnvError."""
    try:
        return function()
    except TypedRLError:
        raise
    except Exception as error:
        raise _env_error(checked.contract.env_id, call, checked.num_steps + 1, None, error) from error


def _close(env: gym.Env[Any, Any] | VectorEnv[Any, Any, Any], env_id: str, steps: int) -> EnvError | None:
    """Close ``env``; what its ``close`` raised, as an EnvError (chained), else ``None``."""
    try:
        env.close()
    except Exception as error:
        failure = _env_error(env_id, "close", steps, None, error)
        failure.__cause__ = error
        return failure
    return None


def _as_mask(flags: object, shape: tuple[int, ...]) -> np.ndarray:
    """Flags as a bool array of ``shape``, all false where they cannot be read (a violation reported them)."""
    try:
        mask = np.asarray(flags, dtype=np.bool_)
        if mask.shape == shape:
            return mask
    except Exception:  # a value whose own methods raise (warn mode goes on past its violation)
        pass
    return np.zeros(shape, dtype=np.bool_)


# The tensor environments and their checked wrapper (imported last: they use the contract, as this module does).
from typedrl.envs.checked_tensor import CheckedTensorVectorEnv  # noqa: E402
from typedrl.envs.classic import (  # noqa: E402
    TENSOR_ENVS,
    AcrobotTensorEnv,
    CartPoleTensorEnv,
    ContinuousMountainCarTensorEnv,
    MountainCarTensorEnv,
    PendulumTensorEnv,
    TensorVectorEnv,
    make_tensor_env,
)
