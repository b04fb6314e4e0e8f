"""Spec part 1: element-wise functions, their derivatives, softmax and norms.

Each implementation module (``impl_loops``, ``impl_numpy``, ``impl_numba``) defines
the same functions, listed in ``NAMES``; ``get(name)`` returns one of them.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import numpy as np

__all__ = ["IMPLEMENTATIONS", "NAMES", "get"]

#: Implementation names, from the most literal to the fastest.
IMPLEMENTATIONS = ("loops", "numpy", "numba")

#: Functions every implementation module defines.
NAMES = (
    "sigmoid",
    "sigmoid_grad",
    "tanh_grad",
    "softplus",
    "log_sigmoid",
    "relu",
    "relu_grad",
    "softmax",
    "logsumexp",
    "l1",
    "l1_grad",
    "sq_l2",
    "sq_l2_grad",
)

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def get(name: str) -> ModuleType:
    """Return the implementation module called ``name`` ("loops", "numpy" or "numba")."""
    if name not in IMPLEMENTATIONS:
        valid = ", ".join(repr(n) for n in IMPLEMENTATIONS)
        raise ValueError(f"unknown kernels implementation {name!r}; expected one of {valid}")
    # Imported on demand so that using "numpy" never pays for compiling numba kernels.
    return importlib.import_module(f"mlpbench.kernels.impl_{name}")


def _as_float_array(x, name: str) -> np.ndarray:
    """``np.asarray(x)``, checked to be float32 or float64 (the public-boundary check)."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be a float32 or float64 array; np.asarray({name}) failed: {exc}"
        ) from None
    if arr.dtype not in _FLOAT_DTYPES:
        raise TypeError(
            f"{name} must be a float32 or float64 array, got dtype {arr.dtype}; "
            f"convert it first, e.g. {name}.astype(np.float64)"
        )
    return arr


def _as_float_rows(z, name: str) -> np.ndarray:
    """Like ``_as_float_array``, and at least 1-D (softmax and logsumexp use the last axis)."""
    arr = _as_float_array(z, name)
    if arr.ndim == 0:
        raise ValueError(
            f"{name} must have at least one dimension (softmax and logsumexp act on the "
            f"last axis), got a 0-d array; pass e.g. np.atleast_1d({name})"
        )
    return arr
