"""The switch for typedrl's runtime shape checks (jaxtyping + beartype at batch boundaries).

Shape checks are **on** by default. They cost a fixed ~20–50 µs per checked call (the public math
functions, record construction, losses): nothing per environment step. Turn them off for speed runs:

* for the whole process, in the environment before typedrl is imported (it is read once, when
  :mod:`typedrl.checks` is first imported; any other value than 1/0/true/false/yes/no/on/off raises
  :class:`~typedrl.errors.ConfigError`): ``TYPEDRL_SHAPE_CHECKS=0``;
* at run time: ``typedrl.set_shape_checks(False)``;
* for a block: ``with typedrl.shape_checks(False): ...``.

Switching them off removes only the jaxtyping/beartype annotation checks. The checks that protect memory
(dtype, device and size of the tensors handed to compiled kernels), the hyperparameter range checks and the
environment contract stay on.
"""

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from beartype import BeartypeConf, beartype
from jaxtyping import jaxtyped

from typedrl.errors import ConfigError

__all__ = ["checked", "set_shape_checks", "shape_checks", "shape_checks_enabled"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _initial_setting() -> bool:
    raw = os.environ.get("TYPEDRL_SHAPE_CHECKS", "1").strip().lower()
    if raw in ("1", "true", "yes", "on", ""):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    # A ConfigError (a ValueError): the command line prints it as one line with exit status 2.
    raise ConfigError(
        f"the environment variable TYPEDRL_SHAPE_CHECKS is {raw[:40]!r}; expected one of 1, 0, true, false, yes, no,"
        " on, off (or unset)",
        "TYPEDRL_SHAPE_CHECKS",
    )


class _Switch:
    """Holds the process-wide flag; one attribute read per checked call."""

    __slots__ = ("on",)

    def __init__(self) -> None:
        self.on = _initial_setting()


_SWITCH = _Switch()
# The PEP 484 numeric tower lets an int stand where a float is annotated (gamma=1, lam=0).
_TYPECHECKER = beartype(conf=BeartypeConf(is_pep484_tower=True))


def shape_checks_enabled() -> bool:
    """Whether the jaxtyping/beartype shape checks run (``True`` unless switched off)."""
    return _SWITCH.on


def set_shape_checks(enabled: bool) -> None:
    """Switch the runtime shape checks on or off for the whole process."""
    if not isinstance(enabled, bool):
        raise TypeError(f"set_shape_checks: enabled is {enabled!r}; expected a bool")
    _SWITCH.on = enabled


@contextmanager
def shape_checks(enabled: bool) -> Iterator[None]:
    """Switch the runtime shape checks on or off inside a ``with`` block, restoring the old setting after."""
    previous = _SWITCH.on
    set_shape_checks(enabled)
    try:
        yield
    finally:
        _SWITCH.on = previous


def checked(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """Decorate ``function`` so its jaxtyping annotations are checked by beartype while the switch is on.

    The undecorated function runs when the switch is off, so switching off costs one flag read per call.
    """
    with_checks = jaxtyped(typechecker=_TYPECHECKER)(function)

    @functools.wraps(function)
    def dispatch(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        if _SWITCH.on:
            return with_checks(*args, **kwargs)
        return function(*args, **kwargs)

    return dispatch
