"""typedrl's error hierarchy: every error typedrl raises on purpose is a :class:`TypedRLError`.

Each error that a user can cause by passing bad data is also a :class:`ValueError` (or :class:`TypeError`
for an object of the wrong kind), so ``except ValueError`` keeps working in code that does not know typedrl.

Messages say **where** (the function, record or environment call), **what** (the argument or field), and
**expected versus got**, for example::

    gae: gamma is 1.5; expected a float in [0, 1]

Shape errors from the runtime checker (switched on by default, see :mod:`typedrl.checks`) come from jaxtyping
and beartype, and name the argument and the bound dimensions; they are not subclasses of :class:`TypedRLError`
(they are ``jaxtyping.TypeCheckError``, a :class:`TypeError`).
"""

__all__ = [
    "HyperparameterError",
    "InputError",
    "TypedRLError",
]


class TypedRLError(Exception):
    """The root of every error typedrl raises on purpose."""


class HyperparameterError(TypedRLError, ValueError):
    """A hyperparameter is outside its domain, e.g. ``gamma`` outside ``[0, 1]`` or ``lam`` NaN."""


class InputError(TypedRLError, ValueError):
    """An array argument has the wrong dtype, device, length or shape for the function it was passed to.

    Raised by the always-on checks that guard the compiled kernels, so it is raised even when the runtime
    shape checks are switched off.
    """
