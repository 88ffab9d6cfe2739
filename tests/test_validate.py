"""The shared argument checks in typedrl._validate: one rule for what a number is, messages that never raise."""

import math
from typing import Any

import numpy as np
import pytest
import torch

from typedrl import _validate
from typedrl.errors import HyperparameterError


@pytest.mark.parametrize(
    ("value", "real", "integer"),
    [
        (1, True, True),
        (1.5, True, False),
        (np.float32(0.5), True, False),
        (np.int64(3), True, True),
        (np.uint8(3), True, True),
        (True, False, False),
        (np.bool_(True), False, False),
        ("1", False, False),
        (torch.tensor(1.0), False, False),
        (None, False, False),
    ],
)
def test_what_a_number_is(value: Any, real: bool, integer: bool) -> None:
    assert (_validate.is_real(value), _validate.is_integer(value)) == (real, integer)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, "f: gamma is 1.5; expected a finite real number in [0, 1]"),
        (math.nan, "f: gamma is nan; expected a finite real number in [0, 1]"),
        (True, "f: gamma is True (a bool); expected a finite real number in [0, 1]"),
        ("0.9", "f: gamma is '0.9' (a str); expected a finite real number in [0, 1]"),
        (10**5000, "f: gamma is <an int of about 5001 digits>; expected a finite real number in [0, 1]"),
    ],
    ids=["above", "nan", "bool", "str", "huge int"],  # pytest cannot print a 5001-digit id
)
def test_unit_interval_says_what_is_wrong(value: Any, message: str) -> None:
    with pytest.raises(HyperparameterError) as caught:
        _validate.unit_interval("f", "gamma", value, error=HyperparameterError)
    assert str(caught.value) == message


def test_integers_and_their_bounds() -> None:
    assert _validate.integer("f", "n", np.int64(4), minimum=1, error=HyperparameterError) == 4
    with pytest.raises(HyperparameterError, match=r"^f: n is 0; expected an int >= 1$"):
        _validate.integer("f", "n", 0, minimum=1, error=HyperparameterError)
    with pytest.raises(HyperparameterError, match=r"^f: n is 13; expected an int in \[1, 12\]$"):
        _validate.integer("f", "n", 13, minimum=1, maximum=12, error=HyperparameterError)
    with pytest.raises(HyperparameterError, match=r"^f: n is 2.0; expected an int >= 0$"):
        _validate.integer("f", "n", 2.0, error=HyperparameterError)


def test_element_checks_and_first_true() -> None:
    assert _validate.first_true(np.array([[False, False], [False, True]])) == (1, 1)
    assert _validate.first_true(torch.tensor([False, True, True])) == (1,)
    with pytest.raises(HyperparameterError, match=r"^f: gamma\[1\] is nan; expected every discount in \[0, 1\]$"):
        _validate.unit_interval_elements(
            "f", "gamma", torch.tensor([0.5, math.nan]), each="discount", error=HyperparameterError
        )
    assert _validate.population_stats([1.0, 3.0]) == (2.0, 1.0)


def test_reprs_never_raise_and_stay_on_one_line() -> None:
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert _validate.brief_repr(Hostile()) == "<Hostile object whose repr raised>"
    assert _validate.brief_repr("a\nb") == "'a\\nb'"
    assert _validate.brief_repr("x" * 100, limit=10) == "'xxxxxx..."
    assert _validate.describe(np.zeros((2, 3), np.float32)) == "a float32 array of shape (2, 3)"
    assert _validate.describe(3.5) == "3.5 (a float)"


def test_map_nested_walks_and_names_the_path() -> None:
    seen: list[str] = []

    def leaf(path: str, item: object) -> object:
        seen.append(path)
        return item

    rebuilt = _validate.map_nested({"a": [1, {"b": 2}]}, leaf, where="config", dotted=True)
    assert rebuilt == {"a": [1, {"b": 2}]}
    assert seen == ["config.a[0]", "config.a[1].b"]
