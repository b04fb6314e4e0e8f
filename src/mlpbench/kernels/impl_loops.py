"""Spec part 1 in pure Python: element by element, one line per scalar formula of the spec.

Each scalar is computed as a Python float (double precision, through ``math``) and
the result is rounded once to the input's dtype. This is the readable reference.
"""

from __future__ import annotations

import math

import numpy as np

from mlpbench.kernels import NAMES, _as_float_array, _as_float_rows

__all__ = list(NAMES)  # the 13 functions every implementation defines


# Scalar formulas. e = exp(-|v|) <= 1 never overflows; 1/(1+e) and e/(1+e) are the
# two halves of 1/(1+exp(-v)) for v >= 0 and v < 0. (1+e)^2 is written 1 + e(2+e)
# so that the rounding of 1 + e is not squared.


def _sigmoid(v: float) -> float:
    e = math.exp(-abs(v))
    return 1.0 / (1.0 + e) if v >= 0.0 else e / (1.0 + e)  # 1.#1


def _sigmoid_grad(v: float) -> float:
    e = math.exp(-abs(v))
    return e / (1.0 + e * (2.0 + e))  # 1.#3: s(1-s) = e/(1+e)^2, without cancellation


def _tanh_grad(v: float) -> float:
    e = math.exp(-2.0 * abs(v))  # 2|v| may be inf: exp(-inf) = 0, the right limit
    return 4.0 * e / (1.0 + e * (2.0 + e))  # 1.#4: 1 - tanh^2 = 4e/(1+e)^2


def _softplus(v: float) -> float:
    return max(v, 0.0) + math.log1p(math.exp(-abs(v)))  # log(1+exp(v)); 1.#5: derivative sigmoid


def _log_sigmoid(v: float) -> float:
    return -_softplus(-v)  # 1.#2


def _indicator(condition: bool) -> float:
    return 1.0 if condition else 0.0


def _relu(v: float) -> float:
    return v if v > 0.0 else 0.0  # 1.#7: rect(v) = max(v, 0)


def _relu_grad(v: float) -> float:
    return _indicator(v > 0.0)  # 1.#7: rect'(v) = 1[v > 0], 0 at v = 0


def _sign(v: float) -> float:
    return _indicator(v > 0.0) - _indicator(v < 0.0)  # 1.#6


def _sq_l2_grad(v: float) -> float:
    return 2.0 * v  # 1.#8


def _to_dtype(values, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    """Round Python floats to dtype, as an array of the given shape."""
    # A double beyond the float32 range rounds to inf, its correctly rounded value.
    with np.errstate(over="ignore"):
        return np.array(values, dtype=dtype).reshape(shape)


def _map(scalar_function, x: np.ndarray) -> np.ndarray:
    """Apply a scalar formula to every element of x; same shape and dtype as x."""
    return _to_dtype([scalar_function(v) for v in x.ravel().tolist()], x.dtype, x.shape)


def sigmoid(x):
    """Logistic sigmoid, element-wise: ``sigmoid(x) = 1 / (1 + exp(-x)) = (tanh(x/2)+1)/2`` (1.#1).

    x: float32/float64 array, any shape. Returns an array of the same shape and dtype.
    """
    return _map(_sigmoid, _as_float_array(x, "x"))


def sigmoid_grad(x):
    """Derivative of the sigmoid, element-wise: ``s(1-s) = e/(1+e)^2``, ``e = exp(-|x|)`` (1.#3).

    x: float32/float64 array, any shape. Returns an array of the same shape and dtype.
    """
    return _map(_sigmoid_grad, _as_float_array(x, "x"))


def tanh_grad(x):
    """Derivative of tanh, element-wise: ``1 - tanh(x)^2 = 4e/(1+e)^2``, ``e = exp(-2|x|)`` (1.#4).

    x: float32/float64 array, any shape. Returns an array of the same shape and dtype.
    """
    return _map(_tanh_grad, _as_float_array(x, "x"))


def softplus(x):
    """Softplus, element-wise: ``log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))``; derivative
    sigmoid (1.#5).

    x: float32/float64 array, any shape. Returns an array of the same shape and dtype.
    """
    return _map(_softplus, _as_float_array(x, "x"))


def log_sigmoid(x):
    """Log of the sigmoid, element-wise: ``log sigmoid(x) = -softplus(-x)`` (1.#2).

    x: float32/float64 array, any shape. Returns an array of the same shape and dtype.
    """
    return _map(_log_sigmoid, _as_float_array(x, "x"))


def relu(x):
    """Rectifier, element-wise: ``rect(x) = max(x, 0)`` (1.#7).

    x: float32/float64 array, any shape. Returns an array of the same shape and dtype.
    """
    return _map(_relu, _as_float_array(x, "x"))


def relu_grad(x):
    """Derivative of the rectifier, element-wise: ``1[x > 0]`` (1.#7; 0 at x = 0).

    x: float32/float64 array, any shape. Returns an array of the same shape and dtype.
    """
    return _map(_relu_grad, _as_float_array(x, "x"))


def _rows(z: np.ndarray) -> list[list[float]]:
    """The last-axis rows of z as lists of Python floats."""
    k = z.shape[-1]
    n_rows = z.size // k if k else math.prod(z.shape[:-1])
    return z.reshape(n_rows, k).tolist()


def _row_max(row: list[float]) -> float:
    m = -math.inf
    for v in row:
        m = v if v > m else m
    return m


def _softmax_row(row: list[float]) -> list[float]:
    m = _row_max(row)
    if math.isinf(m):  # the limit: the entries equal to m share the mass
        ties = [_indicator(v == m) for v in row]
        return [t / sum(ties) for t in ties]
    e = [math.exp(v - m) for v in row]  # v - m <= 0: no overflow
    total = sum(e)
    return [e_k / total for e_k in e]  # 2.#3: exp(z_k) / sum_j exp(z_j)


def _logsumexp_row(row: list[float]) -> float:
    m = _row_max(row)
    if math.isinf(m):
        return m  # -inf for a row of -inf (or an empty row), +inf if any entry is +inf
    return m + math.log(sum(math.exp(v - m) for v in row))  # 2.#4: log sum_j exp(z_j)


def softmax(z):
    """Softmax along the last axis (2.#3): ``exp(z_k - m) / sum_j exp(z_j - m)``, m the row max.

    Rows are positive and sum to 1. A row whose maximum is +inf or -inf is shared
    equally among its entries equal to that maximum.

    z: float32/float64 array with at least one dimension. Returns the same shape and dtype.
    """
    z = _as_float_rows(z, "z")
    return _to_dtype([_softmax_row(row) for row in _rows(z)], z.dtype, z.shape)


def logsumexp(z):
    """Log-sum-exp along the last axis (2.#4): ``m + log(sum_j exp(z_j - m))``, m the row max.

    A row of -inf gives -inf, an empty row gives -inf.

    z: float32/float64 array with at least one dimension, shape (..., k).
    Returns an array of shape ``z.shape[:-1]`` (0-d for 1-D input), same dtype.
    """
    z = _as_float_rows(z, "z")
    return _to_dtype([_logsumexp_row(row) for row in _rows(z)], z.dtype, z.shape[:-1])


def l1(x):
    """L1 norm of the whole array: ``||x||_1 = sum_i |x_i|`` (1.#9).

    x: float32/float64 array, any shape. Returns a scalar of the same dtype.
    """
    x = _as_float_array(x, "x")
    total = 0.0
    for v in x.ravel().tolist():
        total += abs(v)
    return _to_dtype(total, x.dtype, ())[()]


def l1_grad(x):
    """Gradient of the L1 norm: ``sign(x) = 1[x > 0] - 1[x < 0]`` (1.#9 through 1.#6).

    0 at x = 0. x: float32/float64 array, any shape. Returns the same shape and dtype.
    """
    return _map(_sign, _as_float_array(x, "x"))


def sq_l2(x):
    """Squared L2 norm of the whole array: ``||x||_2^2 = sum_i x_i^2`` (1.#8).

    x: float32/float64 array, any shape. Returns a scalar of the same dtype.
    """
    x = _as_float_array(x, "x")
    total = 0.0
    for v in x.ravel().tolist():
        total += v * v
    return _to_dtype(total, x.dtype, ())[()]


def sq_l2_grad(x):
    """Gradient of the squared L2 norm: ``2x`` (1.#8).

    x: float32/float64 array, any shape. Returns the same shape and dtype.
    """
    return _map(_sq_l2_grad, _as_float_array(x, "x"))
