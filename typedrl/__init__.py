"""typedrl: typed, shape-checked reinforcement learning on torch and Gymnasium.

The public API is flat: everything below is importable as ``typedrl.NAME``. The plain-Python reference math
(the specification the fast functions are tested against) is :mod:`typedrl.spec`; hypothesis strategies and
oracles for your own property tests are in :mod:`typedrl.testing`.
"""

from typedrl.checks import set_shape_checks, shape_checks, shape_checks_enabled
from typedrl.errors import HyperparameterError, InputError, TypedRLError
from typedrl.returns import discounted_returns, gae, lambda_returns, normalize_advantages, td_errors

__version__ = "0.1.0"

__all__ = [
    "HyperparameterError",
    "InputError",
    "TypedRLError",
    "__version__",
    "discounted_returns",
    "gae",
    "lambda_returns",
    "normalize_advantages",
    "set_shape_checks",
    "shape_checks",
    "shape_checks_enabled",
    "td_errors",
]
