"""The specification: return and advantage math on plain Python floats (no torch), one trajectory at a time.

These readable reverse loops are the oracle every fast tensor function in :mod:`typedrl` is tested against.
The equations and the meaning of every argument are on the conventions page (docs/conventions.md).
"""

from typedrl.spec.returns import discounted_returns, gae, lambda_returns, normalize_advantages, td_errors

__all__ = ["discounted_returns", "gae", "lambda_returns", "normalize_advantages", "td_errors"]
