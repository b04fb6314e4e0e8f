"""Accuracy of the element-wise kernels, in ulps, against mpmath references at 50 digits.

Used by the tests and by the report's numerics figure: ``worst_ulp_table()`` gives the
worst error of every kernel and implementation on a grid spanning the float range.
"""

from __future__ import annotations

import functools
import math

import mpmath
import numpy as np

from mlpbench import kernels
from mlpbench.checks import FLOAT_DTYPES
from mlpbench.errors import InputError, InputTypeError

__all__ = [
    "ELEMENTWISE",
    "DIGITS",
    "exact",
    "grid",
    "grid_reference",
    "reference",
    "sigmoid_tanh_identity",
    "ulp_error",
    "worst_ulp_table",
]

#: The element-wise kernels with an mpmath reference.
ELEMENTWISE = kernels.NAMES[:7]  # sigmoid ... relu_grad; softmax and the norms are reductions

#: Decimal digits of the mpmath references.
DIGITS = 50

# Exact mathematical definitions, written independently of the implementations'
# stable forms; at 50 digits (and mpmath's unbounded exponent) none of them
# cancels or overflows.
_MP_FUNCTIONS = {
    "sigmoid": lambda v: 1 / (1 + mpmath.exp(-v)),
    "sigmoid_grad": lambda v: 1 / (2 + mpmath.exp(v) + mpmath.exp(-v)),  # s(1-s)
    "tanh_grad": lambda v: mpmath.sech(v) ** 2,  # 1 - tanh^2
    "softplus": lambda v: mpmath.log1p(mpmath.exp(v)),
    "log_sigmoid": lambda v: -mpmath.log1p(mpmath.exp(-v)),
    "relu": lambda v: v if v > 0 else mpmath.mpf(0),
    "relu_grad": lambda v: mpmath.mpf(1) if v > 0 else mpmath.mpf(0),
}

# Where exp(-|x|) stays representable (down to the smallest subnormal), per dtype:
# the dense part of the grid.
_DENSE_LIMIT = {"float64": 745.0, "float32": 104.0}


def _dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in FLOAT_DTYPES:
        raise InputTypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


@functools.lru_cache(maxsize=8)
def _grid(dtype_name: str, n_points: int) -> np.ndarray:
    dt = np.dtype(dtype_name)
    info = np.finfo(dt)
    limit = _DENSE_LIMIT[dtype_name]
    dense = np.linspace(-limit, limit, n_points)
    magnitudes = [
        0.0,
        float(info.smallest_subnormal),
        4 * float(info.smallest_subnormal),
        float(info.smallest_normal),
        1e-30,
        1e-8,
        0.5,
        1e5,
        1e10,
        1e30,
        float(info.max),
        math.inf,
    ]
    if dt == np.float64:
        magnitudes += [1e-300, 709.78, 1e100, 1e300]
    else:
        magnitudes += [88.72]
    special = np.array([s * m for m in magnitudes for s in (1.0, -1.0)])
    values = np.unique(np.concatenate([dense, special]).astype(dt))
    values.flags.writeable = False
    return values


def grid(dtype="float64", n_points: int = 2001) -> np.ndarray:
    """The standard test grid: ``n_points`` evenly spaced on [-745, 745] (float64) or
    [-104, 104] (float32), plus 0, subnormals, tiny, huge, +-max float and +-inf.

    Returns a sorted, read-only 1-D array of the given dtype.
    """
    dt = _dtype(dtype)
    if n_points < 2:
        raise InputError(f"n_points must be at least 2, got {n_points}")
    return _grid(dt.name, int(n_points))


def _round_to(value, dt: np.dtype):
    """The float of dtype dt nearest to the mpmath value (correct rounding)."""
    with np.errstate(over="ignore"):
        guess = dt.type(float(value))
    if not np.isfinite(guess):
        return guess
    with np.errstate(over="ignore"):  # the neighbour of +-max float is +-inf, dropped below
        down, up = np.nextafter(guess, dt.type(-np.inf)), np.nextafter(guess, dt.type(np.inf))
    candidates = (down, guess, up)
    finite = [c for c in candidates if np.isfinite(c)]
    return min(finite, key=lambda c: abs(mpmath.mpf(float(c)) - value))


def exact(name: str, value: float) -> mpmath.mpf:
    """The value of kernel ``name`` at the float ``value``, as an mpmath number with
    ``DIGITS`` significant digits (its definition, not the kernels' stable form)."""
    if name not in _MP_FUNCTIONS:
        raise InputError(f"no mpmath reference for {name!r}; expected one of {ELEMENTWISE}")
    with mpmath.workdps(DIGITS):
        return _MP_FUNCTIONS[name](mpmath.mpf(float(value)))


@functools.lru_cache(maxsize=64)
def _grid_reference(name: str, dtype_name: str, n_points: int) -> np.ndarray:
    values = reference(name, _grid(dtype_name, n_points))
    values.flags.writeable = False
    return values


def grid_reference(name: str, dtype="float64", n_points: int = 2001) -> np.ndarray:
    """``reference(name, grid(dtype, n_points))``, computed once per process (read-only)."""
    grid(dtype, n_points)  # validates dtype and n_points
    return _grid_reference(name, _dtype(dtype).name, int(n_points))


def reference(name: str, x) -> np.ndarray:
    """The correctly rounded value of kernel ``name`` at each element of x.

    Computed with mpmath at ``DIGITS`` significant digits, then rounded to x's dtype
    (float32 or float64). x: array of any shape. Returns the same shape and dtype.
    """
    x = np.asarray(x)
    dt = _dtype(x.dtype)
    out = np.empty(x.shape, dt)
    with mpmath.workdps(DIGITS):
        for index, v in np.ndenumerate(x):
            out[index] = _round_to(exact(name, v), dt)
    return out


def ulp_error(computed, reference) -> np.ndarray:
    """Distance from ``computed`` to ``reference`` in units of the spacing of the reference.

    ``|computed - reference| / spacing(|reference|)``, element-wise, in float64: a zero
    or subnormal reference counts in units of the smallest subnormal; equal infinities
    (and two NaNs) are 0 apart; an infinity or NaN against anything else is ``inf``.
    Both arguments have the same dtype (float32 or float64) and broadcast together.
    """
    computed = np.asarray(computed)
    reference = np.asarray(reference)
    if computed.dtype != reference.dtype:
        raise InputTypeError(
            f"computed and reference must have the same dtype, got {computed.dtype} "
            f"and {reference.dtype}"
        )
    dt = _dtype(reference.dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # spacing(max) = inf, spacing(inf) = nan
        spacing = np.spacing(np.abs(reference)).astype(np.float64)
    # The binade of the largest float ends at infinity; its spacing is that of its neighbour.
    top = float(np.spacing(np.nextafter(np.finfo(dt).max, dt.type(0))))
    spacing = np.where(np.abs(reference) == np.finfo(dt).max, top, spacing)
    c64 = computed.astype(np.float64)
    r64 = reference.astype(np.float64)
    both_finite = np.isfinite(c64) & np.isfinite(r64)
    same = (c64 == r64) | (np.isnan(c64) & np.isnan(r64))
    with np.errstate(over="ignore", invalid="ignore"):
        distance = np.abs(c64 - r64) / spacing
    return np.where(same, 0.0, np.where(both_finite, distance, np.inf))


def sigmoid_tanh_identity(x) -> np.ndarray:
    """The naive form ``(tanh(x/2) + 1) / 2`` of 1.#1, with NumPy in x's dtype.

    True on paper, but for x below about -40 (float64; -17 in float32) ``tanh(x/2)``
    rounds to -1 and every digit of the sigmoid is lost. Kept to show why the kernels
    use the stable form.
    """
    x = np.asarray(x)
    return np.asarray((np.tanh(x / 2) + 1) / 2)


def worst_ulp_table(dtype="float64", n_points: int = 2001) -> dict[str, dict[str, float]]:
    """Worst ulp error of every element-wise kernel and implementation on ``grid``.

    Returns ``{kernel_name: {impl_name: worst_ulp}}`` for the kernels in ``ELEMENTWISE``
    and the implementations in ``kernels.IMPLEMENTATIONS``, plus a row
    ``"sigmoid_tanh_identity": {"numpy": worst_ulp}`` for the naive form of 1.#1.
    The mpmath references are cached per (kernel, dtype, n_points).
    """
    dt = _dtype(dtype)
    n_points = int(n_points)
    x = grid(dt, n_points)
    table: dict[str, dict[str, float]] = {}
    for name in ELEMENTWISE:
        ref = _grid_reference(name, dt.name, n_points)
        table[name] = {
            impl: float(np.max(ulp_error(getattr(kernels.get(impl), name)(x), ref)))
            for impl in kernels.IMPLEMENTATIONS
        }
    ref = _grid_reference("sigmoid", dt.name, n_points)
    table["sigmoid_tanh_identity"] = {
        "numpy": float(np.max(ulp_error(sigmoid_tanh_identity(x), ref)))
    }
    return table
