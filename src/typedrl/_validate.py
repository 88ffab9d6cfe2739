"""The small argument checks every public entry point shares: real numbers, integers, the unit interval, devices.

One rule for what a number is, everywhere: a Python ``int`` or ``float`` or a numpy integer or floating scalar
(anything registered as :class:`numbers.Real`), but never a ``bool`` or ``numpy.bool_`` (a flag is not a count
or a rate). Each check raises the error class its caller names, with the message
``WHERE: NAME is VALUE; expected ...``; a value of the wrong *type* says its type, so a user can tell a wrong
kind of argument from a number out of range.

No torch or numpy at import: :mod:`typedrl.spec` uses these checks and stays free of both.
"""

import math
from numbers import Integral, Real
from typing import TYPE_CHECKING

from typedrl.errors import TypedRLError

if TYPE_CHECKING:
    import torch

__all__ = ["device", "integer", "is_integer", "is_real", "real", "unit_interval"]


def is_real(value: object) -> bool:
    """Whether ``value`` is a real number: int, float, numpy integer or floating scalar; not a bool."""
    return isinstance(value, Real) and not isinstance(value, bool)


def is_integer(value: object) -> bool:
    """Whether ``value`` is an integer: int or numpy integer scalar; not a bool."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def _got(value: object) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    kind = type(value).__name__
    return text if type(value) in (int, float) else f"{text} (a {kind})"


def real(
    where: str,
    name: str,
    value: object,
    *,
    error: type[TypedRLError],
    low: float = -math.inf,
    high: float = math.inf,
    finite: bool = True,
) -> float:
    """``value`` as a float, checked to be a real number in ``[low, high]`` (NaN never is; ±inf only if not
    ``finite``); else ``error``."""
    bounds = "" if (low, high) == (-math.inf, math.inf) else f" in [{low:g}, {high:g}]"
    expected = f"{'a finite' if finite else 'a'} real number{bounds}"
    if not is_real(value):
        raise error(f"{where}: {name} is {_got(value)}; expected {expected}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except OverflowError:  # an int beyond float's range
        raise error(f"{where}: {name} is {_got(value)}; expected {expected}") from None
    if (finite and not math.isfinite(number)) or not low <= number <= high:  # NaN fails the comparison
        raise error(f"{where}: {name} is {_got(value)}; expected {expected}")
    return number


def unit_interval(where: str, name: str, value: object, *, error: type[TypedRLError]) -> float:
    """``value`` as a float in ``[0, 1]``; else ``error``."""
    return real(where, name, value, error=error, low=0.0, high=1.0)


def integer(
    where: str, name: str, value: object, *, error: type[TypedRLError], minimum: int = 0, maximum: int | None = None
) -> int:
    """``value`` as an int in ``[minimum, maximum]``; else ``error``."""
    upper = "" if maximum is None else f" and <= {maximum}"
    expected = f"an int >= {minimum}{upper}"
    if not is_integer(value):
        raise error(f"{where}: {name} is {_got(value)}; expected {expected}")
    number: int = value.__index__()  # type: ignore[attr-defined]  # an Integral here
    if number < minimum or (maximum is not None and number > maximum):
        raise error(f"{where}: {name} is {_got(value)}; expected {expected}")
    return number


def device(where: str, value: object, *, error: type[TypedRLError]) -> "torch.device":
    """``value`` (a ``torch.device`` or a string such as ``"cpu"``, ``"cuda"``, ``"cuda:1"``) as a device that
    this torch can use; else ``error`` naming it (a CUDA device on a torch without CUDA, an index past the last
    GPU, a string torch cannot parse)."""
    import torch

    if not isinstance(value, str | torch.device):
        raise error(f"{where}: device is {_got(value)}; expected a torch.device or a string such as 'cpu' or 'cuda'")
    try:
        parsed = torch.device(value)
    except (RuntimeError, ValueError):
        raise error(f"{where}: device is {value!r}; expected a device torch knows, such as 'cpu' or 'cuda'") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise error(f"{where}: device is {str(value)!r}, but this torch sees no CUDA device; use 'cpu'")
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise error(f"{where}: device is {str(value)!r}; this machine has {count} CUDA device(s)")
    elif parsed.type == "mps" and not torch.backends.mps.is_available():
        raise error(f"{where}: device is {str(value)!r}, but MPS is not available; use 'cpu'")
    elif parsed.type not in ("cpu", "cuda", "mps"):
        raise error(f"{where}: device is {str(value)!r}; expected 'cpu', 'cuda' or 'mps'")
    return parsed
