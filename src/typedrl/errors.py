"""typedrl's error hierarchy: every error typedrl raises on purpose is a :class:`TypedRLError`.

Each error that a user can cause by passing bad data is also a :class:`ValueError` (or :class:`TypeError`
for an object of the wrong kind), so ``except ValueError`` keeps working in code that does not know typedrl.

Messages say **where** (the function, record or environment call), **what** (the argument or field), and
**expected versus got**, for example::

    gae: gamma is 1.5; expected a finite real number in [0, 1]

Shape errors from the runtime checker (switched on by default, see :mod:`typedrl.checks`) come from jaxtyping
and beartype, and name the argument and the bound dimensions; they are not subclasses of :class:`TypedRLError`
(they are ``jaxtyping.TypeCheckError``, a :class:`TypeError`).
"""

from typing import Any

__all__ = [
    "CheckpointError",
    "ConfigError",
    "ContractViolation",
    "EnvError",
    "EvaluationError",
    "HyperparameterError",
    "InputError",
    "RolloutError",
    "RunLogError",
    "TrainingError",
    "TypedRLError",
]


def _where(env_id: str, call: str, step: int, env_index: int | None) -> str:
    """Where an environment error happened: ``CartPole-v1 step 12, env 3``, ``CartPole-v1 reset after step 12``,
    ``CartPole-v1 reset`` (a reset is placed after the steps before it; every other call at its step)."""
    if call == "reset":
        where = f"{env_id} reset" if step == 0 else f"{env_id} reset after step {step}"
    else:
        where = f"{env_id} step {step}"
    return where if env_index is None else f"{where}, env {env_index}"


class TypedRLError(Exception):
    """The root of every error typedrl raises on purpose."""


class HyperparameterError(TypedRLError, ValueError):
    """A hyperparameter is outside its domain, e.g. ``gamma`` outside ``[0, 1]`` or ``lam`` NaN."""


class InputError(TypedRLError, ValueError):
    """An array argument has the wrong dtype, device, length or shape for the function it was passed to.

    Raised by the always-on checks that guard the compiled kernels, so it is raised even when the runtime
    shape checks are switched off.
    """


class RolloutError(TypedRLError, ValueError):
    """A rollout record or the collector got inconsistent data.

    Raised when a :class:`~typedrl.records.Step`, :class:`~typedrl.records.Rollout` or
    :class:`~typedrl.records.ActorCriticSample` is built from fields that disagree (a wrong horizon, a different
    number of environments, a wrong dtype or device, a NaN, a negative action), and when a policy or environment
    hands the rollout collector something it cannot record. Always on: the shape-check switch does not remove it.
    """


class ContractViolation(TypedRLError, ValueError):
    """An environment returned, or an agent sent, something that breaks the environment contract.

    Raised by :class:`typedrl.Contract` and the checked environments on the first offending value. The message
    names the environment, the call, the step, the sub-environment and the field, and says what was expected::

        CartPole-v1 step 1734, env 3: observation[2] is nan; expected a finite float32 in [-0.41887903, 0.41887903]

    Attributes:
        env_id: the environment's id (its registered id, else its class name).
        call: ``"reset"``, ``"step"`` (something the environment returned) or ``"action"`` (something the agent
            was about to send).
        step: the number of the step (1 for the first ``step`` call); for a reset, the steps taken before it.
        env_index: the first offending sub-environment of a vector env; ``None`` for a single env or a problem
            of the whole batch (a wrong shape or dtype).
        field: what was wrong, with the first offending element's index, e.g. ``"observation[2]"``.
        got: what was found, as text.
        expected: what the contract expects, as text.
    """

    def __init__(
        self, env_id: str, call: str, step: int, env_index: int | None, field: str, got: str, expected: str
    ) -> None:
        self.env_id = env_id
        self.call = call
        self.step = step
        self.env_index = env_index
        self.field = field
        self.got = got
        self.expected = expected
        super().__init__(f"{_where(env_id, call, step, env_index)}: {field} is {got}; expected {expected}")

    def __reduce__(self) -> tuple[type["ContractViolation"], tuple[str, str, int, int | None, str, str, str]]:
        """Pickle by the constructor's arguments, so the error crosses process boundaries intact."""
        return (type(self), (self.env_id, self.call, self.step, self.env_index, self.field, self.got, self.expected))


class EnvError(TypedRLError, RuntimeError):
    """An environment's own ``reset`` or ``step`` (or ``close``, or its action space) raised, or, in a subprocess
    vector env, its worker died or hung: the environment failed, not the data it returned.

    The original exception is chained (``__cause__``). The message names the environment, the call, the step
    and the sub-environment where that is known::

        CartPole-v1 step 12, env 3: step raised ZeroDivisionError: division by zero
        HalfCheetah-v5 step 40, env 1: its worker did not answer within 60 s (hung)

    ``raised=False`` (a worker that died or hung, which raised nothing) leaves out "step raised".

    Attributes:
        env_id: the environment's id (its registered id, else its class name).
        call: ``"reset"`` or ``"step"``; from :func:`~typedrl.check_env` also ``"action_space.seed"``,
            ``"action_space.sample"`` or ``"close"``.
        step: the number of the step (1 for the first ``step`` call); for a reset, the steps taken before it.
        env_index: the sub-environment that raised, where the vector env lets it be known; else ``None``.
    """

    def __init__(
        self, env_id: str, call: str, step: int, env_index: int | None, detail: str, *, raised: bool = True
    ) -> None:
        self.env_id = env_id
        self.call = call
        self.step = step
        self.env_index = env_index
        self.detail = detail
        self.raised = raised
        what = f"{call} raised {detail}" if raised else detail
        super().__init__(f"{_where(env_id, call, step, env_index)}: {what}")

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by the constructor's arguments, so the error crosses process boundaries intact."""
        return (_env_error, (self.env_id, self.call, self.step, self.env_index, self.detail, self.raised))


def _env_error(env_id: str, call: str, step: int, env_index: int | None, detail: str, raised: bool) -> EnvError:
    return EnvError(env_id, call, step, env_index, detail, raised=raised)


class ConfigError(TypedRLError, ValueError):
    """A training configuration, preset, config file or command-line value is invalid.

    ``field`` names the offending setting (dotted for nested ones, e.g. ``"eval.episodes"``; ``"out"``, ``"log"``
    for paths; empty when no one setting is to blame); the message says what was expected and what was given.
    """

    def __init__(self, message: str, field: str = "") -> None:
        self.field = field
        super().__init__(message)

    def __reduce__(self) -> tuple[type["ConfigError"], tuple[str, str]]:
        """Pickle by the constructor's arguments."""
        return (type(self), (str(self), self.field))


class TrainingError(TypedRLError, RuntimeError):
    """Training cannot go on: a non-finite loss or gradient, or a device that is not there.

    The message names the update and the quantity, e.g. ``update 12: the value loss is nan``; the last good
    checkpoint and training log are left in place.
    """


class CheckpointError(TypedRLError, ValueError):
    """A checkpoint cannot be saved, loaded or restored.

    Raised for a missing, truncated or corrupt file, a file that holds objects weights-only loading refuses
    (typedrl never unpickles arbitrary objects), a wrong format version, a missing key, and state dicts that do
    not fit the modules or optimizers they are restored into. The message names the file and the problem.

    Attributes:
        write: ``True`` when writing a checkpoint failed (a full disk): the run failed, as opposed to a checkpoint
            handed over that cannot be used (the command line exits 1 for the first, 2 for the second).
    """

    def __init__(self, message: str, *, write: bool = False) -> None:
        self.write = write
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by the constructor's arguments."""
        return (_checkpoint_error, (str(self), self.write))


def _checkpoint_error(message: str, write: bool) -> "CheckpointError":
    return CheckpointError(message, write=write)


class EvaluationError(TypedRLError, ValueError):
    """Greedy evaluation got a bad argument, an unsupported environment, or a bad observation or actor output.

    For example ``evaluate: episodes is 0; expected an int >= 1``.
    """


class RunLogError(TypedRLError, ValueError):
    """A training log record or file is invalid.

    Raised for a record with a non-finite or out-of-range field (the message names the field), for records out of
    order, and by :func:`~typedrl.runlog.load_trainlog` for a missing file, invalid JSON, a wrong schema version
    or a failed validation (the message names the file and the field).
    """
