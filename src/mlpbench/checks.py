"""Checks of plain values shared by every public boundary, written once.

Each returns the normalized value or raises :class:`~mlpbench.errors.InputTypeError`
(wrong kind) / :class:`~mlpbench.errors.InputError` (wrong value) with a message
naming the argument. Arrays are checked where they are used (``mlp.validation``,
``kernels``); these are the scalars and names.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import numpy as np

from mlpbench.errors import InputError, InputTypeError

__all__ = [
    "FLOAT_DTYPES",
    "check_choice",
    "check_dtype",
    "check_finite",
    "check_penalty",
    "check_positive",
    "check_positive_int",
]

#: The dtypes every implementation supports.
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def check_finite(name: str, value) -> float:
    """A finite real number, returned as a float."""
    if not _is_real(value):
        raise InputTypeError(f"{name} must be a finite number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise InputError(f"{name} must be a finite number, got {value}")
    return value


def check_penalty(name: str, value) -> float:
    """A penalty weight: a finite real number >= 0, returned as a float."""
    if not _is_real(value):
        raise InputTypeError(f"{name} must be a real number >= 0, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise InputError(f"{name} must be a finite number >= 0, got {value}")
    return value


def check_positive(name: str, value) -> float:
    """A finite real number > 0 (a learning rate, a budget in seconds), as a float."""
    if not _is_real(value):
        raise InputTypeError(f"{name} must be a number > 0, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{name} must be a finite number > 0, got {value}")
    return value


def check_positive_int(name: str, value, *, maximum: int | None = None) -> int:
    """An integer >= 1 (a size, a count), returned as an int; at most ``maximum``."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool | np.bool_):
        raise InputTypeError(f"{name} must be a positive integer, got {type(value).__name__}")
    value = int(value)
    if value < 1:
        raise InputError(f"{name} must be a positive integer, got {value}")
    if maximum is not None and value > maximum:
        raise InputError(f"{name} must be at most {maximum}, got {value}")
    return value


def check_dtype(name: str, value) -> np.dtype:
    """float32 or float64, given as a dtype, a type or its name; returned as np.dtype."""
    try:
        dt = np.dtype(value)
    except TypeError:
        dt = None
    if dt not in FLOAT_DTYPES:
        raise InputError(f"{name} must be float32 or float64, got {value!r}")
    return dt


def check_choice(name: str, value, choices: Iterable[str]) -> str:
    """One of ``choices`` (strings); the message lists them."""
    choices = tuple(choices)
    if value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise InputError(f"unknown {name} {value!r}; expected one of {valid}")
    return value
