"""Spec part 1 as Numba kernels: one compiled loop per function over a flat C-contiguous view.

Kernels (leading underscore) trust their inputs and compute in the input's dtype:
constants come from ``x.dtype.type`` because a Python float literal would promote
float32 to float64. The public functions validate, flatten and reshape.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from mlpbench._numba_config import JIT, JIT_STRICT
from mlpbench.kernels import NAMES, _as_float_array, _as_float_rows

__all__ = list(NAMES)  # the 13 functions every implementation defines


# ---------------------------------------------------------------------------
# Kernels. Element-wise ones take (x, out), both 1-D C-contiguous of one dtype,
# so each compiles at most twice (float32, float64). They use IEEE semantics
# (JIT_STRICT): their accuracy is tested to a few ulp against mpmath. (1+e)^2 is
# written 1 + e(2+e) so that the rounding of 1 + e is not squared.
# ---------------------------------------------------------------------------


@njit(**JIT_STRICT)
def _sigmoid(x, out):
    one = x.dtype.type(1)
    zero = x.dtype.type(0)
    for i in range(x.size):
        e = math.exp(-abs(x[i]))  # <= 1: never overflows
        out[i] = one / (one + e) if x[i] >= zero else e / (one + e)  # 1.#1


@njit(**JIT_STRICT)
def _sigmoid_grad(x, out):
    one = x.dtype.type(1)
    two = x.dtype.type(2)
    for i in range(x.size):
        e = math.exp(-abs(x[i]))
        out[i] = e / (one + e * (two + e))  # 1.#3: s(1-s) = e/(1+e)^2, no cancellation


@njit(**JIT_STRICT)
def _tanh_grad(x, out):
    one = x.dtype.type(1)
    two = x.dtype.type(2)
    four = x.dtype.type(4)
    for i in range(x.size):
        a = abs(x[i])
        e = math.exp(-(a + a))  # a + a may be inf: exp(-inf) = 0, the right limit
        out[i] = four * e / (one + e * (two + e))  # 1.#4: 1 - tanh^2 = 4e/(1+e)^2


@njit(**JIT_STRICT)
def _softplus(x, out):
    zero = x.dtype.type(0)
    for i in range(x.size):
        v = x[i]
        out[i] = (v if v > zero else zero) + math.log1p(math.exp(-abs(v)))  # log(1 + exp(v))


@njit(**JIT_STRICT)
def _log_sigmoid(x, out):
    zero = x.dtype.type(0)
    for i in range(x.size):
        v = x[i]
        out[i] = (v if v < zero else zero) - math.log1p(math.exp(-abs(v)))  # 1.#2: -softplus(-v)


@njit(**JIT_STRICT)
def _relu(x, out):
    zero = x.dtype.type(0)
    for i in range(x.size):
        out[i] = x[i] if x[i] > zero else zero  # 1.#7: rect(v) = max(v, 0)


@njit(**JIT_STRICT)
def _relu_grad(x, out):
    zero = x.dtype.type(0)
    one = x.dtype.type(1)
    for i in range(x.size):
        out[i] = one if x[i] > zero else zero  # 1.#7: 1[v > 0], 0 at v = 0


@njit(**JIT_STRICT)
def _l1_grad(x, out):
    zero = x.dtype.type(0)
    one = x.dtype.type(1)
    for i in range(x.size):
        positive = one if x[i] > zero else zero
        negative = one if x[i] < zero else zero
        out[i] = positive - negative  # 1.#9 through 1.#6: sign(v) = 1[v > 0] - 1[v < 0]


@njit(**JIT_STRICT)
def _sq_l2_grad(x, out):
    two = x.dtype.type(2)
    for i in range(x.size):
        out[i] = two * x[i]  # 1.#8


# Reductions: fast math (reassociation lets LLVM vectorize the sums) but never
# 'nnan'/'ninf', since the row maximum may be -inf and exp(-inf) must be 0.


@njit(**JIT)
def _l1(x):
    total = x.dtype.type(0)
    for i in range(x.size):
        total += abs(x[i])  # 1.#9
    return total


@njit(**JIT)
def _sq_l2(x):
    total = x.dtype.type(0)
    for i in range(x.size):
        total += x[i] * x[i]  # 1.#8
    return total


@njit(**JIT)
def _row_max(z, r):
    m = z[r, 0]
    for j in range(1, z.shape[1]):
        if z[r, j] > m:
            m = z[r, j]
    return m


@njit(**JIT)
def _softmax(z, out):
    """Row-wise softmax of z (rows, k >= 1) into out."""
    zero = z.dtype.type(0)
    one = z.dtype.type(1)
    for r in range(z.shape[0]):
        m = _row_max(z, r)
        total = zero
        if math.isinf(m):  # the limit: the entries equal to m share the mass
            for j in range(z.shape[1]):
                out[r, j] = one if z[r, j] == m else zero
                total += out[r, j]
        else:
            for j in range(z.shape[1]):
                out[r, j] = math.exp(z[r, j] - m)  # argument <= 0: no overflow
                total += out[r, j]
        for j in range(z.shape[1]):
            out[r, j] = out[r, j] / total  # 2.#3: exp(z_k) / sum_j exp(z_j)


@njit(**JIT)
def _logsumexp(z, out):
    """Row-wise log-sum-exp of z (rows, k >= 1) into out (rows,)."""
    zero = z.dtype.type(0)
    for r in range(z.shape[0]):
        m = _row_max(z, r)
        if math.isinf(m):  # -inf for a row of -inf, +inf if an entry is +inf
            out[r] = m
            continue
        total = zero
        for j in range(z.shape[1]):
            total += math.exp(z[r, j] - m)
        out[r] = m + math.log(total)  # 2.#4: log sum_j exp(z_j); total >= 1


# ---------------------------------------------------------------------------
# Public functions.
# ---------------------------------------------------------------------------


def _contiguous(x: np.ndarray) -> np.ndarray:
    """x itself, or a C-contiguous, aligned, writeable copy (one numba type per dtype)."""
    if x.flags.c_contiguous and x.flags.aligned and x.flags.writeable:
        return x
    return np.array(x, order="C")


def _elementwise(kernel, x: np.ndarray) -> np.ndarray:
    flat = _contiguous(x).reshape(-1)
    out = np.empty_like(flat)
    kernel(flat, out)
    return out.reshape(x.shape)


def sigmoid(x):
    """Logistic sigmoid, element-wise: ``sigmoid(x) = 1 / (1 + exp(-x)) = (tanh(x/2)+1)/2`` (1.#1).

    Computed as ``1/(1+e)`` for x >= 0 and ``e/(1+e)`` for x < 0, ``e = exp(-|x|)``.
    x: float32/float64 array, any shape. Returns an array of the same shape and dtype.
    """
    return _elementwise(_sigmoid, _as_float_array(x, "x"))


def sigmoid_grad(x):
    """Derivative of the sigmoid, element-wise: ``s(1-s) = e/(1+e)^2``, ``e = exp(-|x|)`` (1.#3).

    x: float32/float64 array, any shape. Returns an array of the same shape and dtype.
    """
    return _elementwise(_sigmoid_grad, _as_float_array(x, "x"))


def tanh_grad(x):
    """Derivative of tanh, element-wise: ``1 - tanh(x)^2 = 4e/(1+e)^2``, ``e = exp(-2|x|)`` (1.#4).

    x: float32/float64 array, any shape. Returns an array of the same shape and dtype.
    """
    return _elementwise(_tanh_grad, _as_float_array(x, "x"))


def softplus(x):
    """Softplus, element-wise: ``log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))``; derivative
    sigmoid (1.#5).

    x: float32/float64 array, any shape. Returns an array of the same shape and dtype.
    """
    return _elementwise(_softplus, _as_float_array(x, "x"))


def log_sigmoid(x):
    """Log of the sigmoid, element-wise: ``-softplus(-x) = min(x, 0) - log1p(exp(-|x|))`` (1.#2).

    x: float32/float64 array, any shape. Returns an array of the same shape and dtype.
    """
    return _elementwise(_log_sigmoid, _as_float_array(x, "x"))


def relu(x):
    """Rectifier, element-wise: ``rect(x) = max(x, 0)`` (1.#7).

    x: float32/float64 array, any shape. Returns an array of the same shape and dtype.
    """
    return _elementwise(_relu, _as_float_array(x, "x"))


def relu_grad(x):
    """Derivative of the rectifier, element-wise: ``1[x > 0]`` (1.#7; 0 at x = 0).

    x: float32/float64 array, any shape. Returns an array of the same shape and dtype.
    """
    return _elementwise(_relu_grad, _as_float_array(x, "x"))


def _rows(z: np.ndarray) -> np.ndarray:
    """z as a C-contiguous (rows, k) array, k = z.shape[-1] >= 1."""
    k = z.shape[-1]
    return _contiguous(z).reshape(z.size // k, k)


def softmax(z):
    """Softmax along the last axis (2.#3): ``exp(z_k - m) / sum_j exp(z_j - m)``, m the row max.

    Rows are positive and sum to 1. A row whose maximum is +inf or -inf is shared
    equally among its entries equal to that maximum.

    z: float32/float64 array with at least one dimension. Returns the same shape and dtype.
    """
    z = _as_float_rows(z, "z")
    if z.size == 0:
        return np.empty(z.shape, z.dtype)
    rows = _rows(z)
    out = np.empty_like(rows)
    _softmax(rows, out)
    return out.reshape(z.shape)


def logsumexp(z):
    """Log-sum-exp along the last axis (2.#4): ``m + log(sum_j exp(z_j - m))``, m the row max.

    A row of -inf gives -inf, an empty row gives -inf.

    z: float32/float64 array with at least one dimension, shape (..., k).
    Returns an array of shape ``z.shape[:-1]`` (0-d for 1-D input), same dtype.
    """
    z = _as_float_rows(z, "z")
    if z.shape[-1] == 0:
        return np.full(z.shape[:-1], -np.inf, z.dtype)
    if z.size == 0:
        return np.empty(z.shape[:-1], z.dtype)
    rows = _rows(z)
    out = np.empty(rows.shape[0], z.dtype)
    _logsumexp(rows, out)
    return out.reshape(z.shape[:-1])


def l1(x):
    """L1 norm of the whole array: ``||x||_1 = sum_i |x_i|`` (1.#9).

    x: float32/float64 array, any shape. Returns a scalar of the same dtype.
    """
    x = _as_float_array(x, "x")
    return x.dtype.type(_l1(_contiguous(x).reshape(-1)))


def l1_grad(x):
    """Gradient of the L1 norm: ``sign(x) = 1[x > 0] - 1[x < 0]`` (1.#9 through 1.#6).

    0 at x = 0. x: float32/float64 array, any shape. Returns the same shape and dtype.
    """
    return _elementwise(_l1_grad, _as_float_array(x, "x"))


def sq_l2(x):
    """Squared L2 norm of the whole array: ``||x||_2^2 = sum_i x_i^2`` (1.#8).

    x: float32/float64 array, any shape. Returns a scalar of the same dtype.
    """
    x = _as_float_array(x, "x")
    return x.dtype.type(_sq_l2(_contiguous(x).reshape(-1)))


def sq_l2_grad(x):
    """Gradient of the squared L2 norm: ``2x`` (1.#8).

    x: float32/float64 array, any shape. Returns the same shape and dtype.
    """
    return _elementwise(_sq_l2_grad, _as_float_array(x, "x"))
