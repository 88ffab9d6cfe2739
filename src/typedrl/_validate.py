"""The small argument checks every public entry point shares, and the helpers behind them.

Checks: real numbers, integers, the unit interval (one number, or every element of an array), devices. Helpers:
the first true element of a mask, the population mean and standard deviation, and one walk over plain nested
data (dicts, lists, tuples) for the checks and conversions of configs, logs and checkpoints.

One rule for what a number is, everywhere: a Python ``int`` or ``float`` or a numpy integer or floating scalar
(anything registered as :class:`numbers.Real`), but never a ``bool`` or ``numpy.bool_`` (a flag is not a count
or a rate). Each check raises the error class its caller names, with the message
``WHERE: NAME is VALUE; expected ...``; a value of the wrong *type* says its type, so a user can tell a wrong
kind of argument from a number out of range.

No torch or numpy at import: :mod:`typedrl.spec` uses these checks and stays free of both. The array helpers
take a numpy array or a torch tensor and use only what the two have in common.
"""

import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, TypeVar

from typedrl.errors import TypedRLError

if TYPE_CHECKING:
    import numpy.typing as npt
    import torch

__all__ = [
    "article",
    "brief_repr",
    "describe",
    "device",
    "first_true",
    "integer",
    "is_integer",
    "is_real",
    "map_nested",
    "population_stats",
    "real",
    "unit_interval",
    "unit_interval_elements",
]

# A numpy array or a torch tensor; each function is checked for both.
Array = TypeVar("Array", "npt.NDArray[Any]", "torch.Tensor")


def is_real(value: object) -> bool:
    """Whether ``value`` is a real number: int, float, numpy integer or floating scalar; not a bool."""
    return isinstance(value, Real) and not isinstance(value, bool)


def is_integer(value: object) -> bool:
    """Whether ``value`` is an integer: int or numpy integer scalar; not a bool."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def _got(value: object) -> str:
    """The value as a message shows it: a plain int or float as itself, anything else with its type; never
    raises (an int too long to print, a hostile ``repr``)."""
    if type(value) in (int, float):
        return brief_repr(value, limit=60)
    return f"{brief_repr(value, limit=60)} ({article(_type_name(value))})"


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
    except Exception:  # an int beyond float's range, a Real whose __float__ raises
        raise error(f"{where}: {name} is {_got(value)}; expected {expected}") from None
    if (finite and not math.isfinite(number)) or not low <= number <= high:  # NaN fails the comparison
        raise error(f"{where}: {name} is {_got(value)}; expected {expected}")
    return number


def unit_interval(where: str, name: str, value: object, *, error: type[TypedRLError]) -> float:
    """``value`` as a float in ``[0, 1]``; else ``error``."""
    return real(where, name, value, error=error, low=0.0, high=1.0)


def unit_interval_elements(where: str, name: str, values: Array, *, each: str, error: type[TypedRLError]) -> None:
    """Raise ``error`` unless every element of ``values`` (a numpy array or a torch tensor) is in ``[0, 1]``.

    The message names the first element outside (NaN is outside), e.g.
    ``gae: gamma[2] is 1.5; expected every discount in [0, 1]`` for ``each="discount"``.
    """
    outside = ~((values >= 0) & (values <= 1))
    if bool(outside.any()):
        index = first_true(outside)
        raise error(f"{where}: {name}{list(index)} is {float(values[index])!r}; expected every {each} in [0, 1]")


def first_true(mask: Array) -> tuple[int, ...]:
    """The index of the first true element of ``mask`` in row-major order: a numpy array or a torch tensor of at
    least one dimension that has a true element (a CUDA tensor syncs to find it)."""
    found = mask.nonzero()
    if isinstance(found, tuple):  # numpy: one array of indices per axis
        return tuple(int(axis[0]) for axis in found)
    return tuple(int(i) for i in found[0])  # torch: one row of indices per true element


def integer(
    where: str, name: str, value: object, *, error: type[TypedRLError], minimum: int = 0, maximum: int | None = None
) -> int:
    """``value`` as an int in ``[minimum, maximum]``; else ``error``."""
    expected = f"an int >= {minimum}" if maximum is None else f"an int in [{minimum}, {maximum}]"
    if not is_integer(value):
        raise error(f"{where}: {name} is {_got(value)}; expected {expected}")
    try:
        number: int = value.__index__()  # type: ignore[attr-defined]  # an Integral here
    except Exception:  # an Integral whose __index__ raises
        raise error(f"{where}: {name} is {_got(value)}; expected {expected}") from None
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
    if parsed.type == "cpu":  # torch has one CPU device: "cpu:1" means it, and torch.load refuses the index
        return torch.device("cpu")
    return parsed


def population_stats(values: Sequence[float]) -> tuple[float, float]:
    """The mean and the population standard deviation of one or more numbers, each sum exactly rounded.

    ``mean = Σxᵢ / n``,  ``std = sqrt(Σ(xᵢ − mean)² / n)``.
    """
    count = len(values)
    mean = math.fsum(values) / count
    return mean, math.sqrt(math.fsum((value - mean) ** 2 for value in values) / count)


def map_nested(
    data: object,
    leaf: Callable[[str, object], object],
    *,
    where: str = "",
    key: Callable[[str, object], None] | None = None,
    dotted: bool = False,
    atoms: tuple[type, ...] = (),
) -> Any:
    """``data`` rebuilt with ``leaf(path, item)`` in place of every item that is not a mapping, list or tuple.

    Mappings become dicts and lists and tuples lists, walked depth first in order; ``key(path, k)``, if given,
    sees each key of a mapping at ``path`` before its value. ``atoms`` are leaves even where they are tuples (such
    as ``torch.Size``). ``path`` names the item from ``where``: ``where[0]`` for an element of a list,
    ``where['k']`` for a mapping's value (``where.k`` if ``dotted``, as JSON paths are written). A check raises
    from ``leaf`` or ``key``; a conversion returns the new item.
    """
    if isinstance(data, Mapping):
        rebuilt = {}
        for name, item in data.items():
            if key is not None:
                key(where, name)
            path = f"{where}.{name}" if dotted else f"{where}[{name!r}]"
            rebuilt[name] = map_nested(item, leaf, where=path, key=key, dotted=dotted, atoms=atoms)
        return rebuilt
    if isinstance(data, list | tuple) and not isinstance(data, atoms):
        return [
            map_nested(item, leaf, where=f"{where}[{index}]", key=key, dotted=dotted, atoms=atoms)
            for index, item in enumerate(data)
        ]
    return leaf(where, data)


def brief_repr(value: object, *, limit: int = 40) -> str:
    """``repr(value)`` on one line, cut to ``limit`` characters (``"..."`` marks a cut); never raises.

    For messages about values an environment or a user handed over: a ``repr`` that raises, returns a non-string
    or spans lines, and an int too long to print (Python refuses past 4300 digits), all give one short line.
    """
    try:
        text = repr(value)
        if not isinstance(text, str):  # pragma: no cover - repr() itself refuses a non-str
            raise TypeError
    except Exception:
        text = _unprintable(value)
    text = re.sub(r"\s*[\r\n]+\s*", " ", text)
    return text if len(text) <= limit else text[: max(limit - 3, 0)] + "..."


def describe(value: object, *, limit: int = 40) -> str:
    """Name a value of the wrong kind, never raising: ``"None"``, ``"'abc' (a str)"``, ``"1.0 (a float)"``,
    ``"a float64 array of shape (4,)"`` (a numpy array by its dtype and shape, not its contents).

    Numpy is not imported here: an array can only exist where numpy already is.
    """
    if value is None:
        return "None"
    numpy = sys.modules.get("numpy")
    if numpy is not None and issubclass(type(value), numpy.ndarray):
        # The base class's descriptors: a subclass may override ``dtype`` and ``shape``.
        dtype, shape = numpy.ndarray.dtype.__get__(value), numpy.ndarray.shape.__get__(value)
        return f"{article(str(dtype))} array of shape {shape}"
    return f"{brief_repr(value, limit=limit)} ({article(_type_name(value))})"


def article(word: str) -> str:
    """``"an int64"``, ``"a float32"``: the word with its indefinite article (by its first letter)."""
    return f"an {word}" if word[:1] in ("a", "e", "i", "o", "u") else f"a {word}"


def _type_name(value: object) -> str:
    name = type.__dict__["__name__"].__get__(type(value))  # not a metaclass's own ``__name__``
    return name if isinstance(name, str) and name else "object"


def _unprintable(value: object) -> str:
    if issubclass(type(value), int):
        digits = int(int.bit_length(value) * math.log10(2)) + 1  # type: ignore[arg-type]
        return f"<an int of about {digits} digits>"
    return f"<{_type_name(value)} object whose repr raised>"
