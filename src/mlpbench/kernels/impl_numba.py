"""Spec part 1 as Numba kernels: one compiled loop per function over a flat C-contiguous view.

Raw functions (the public face, docstrings and checks are in ``mlpbench.kernels``). The
element-wise formulas are compiled kernels ``f(x, out)`` over 1-D C-contiguous arrays of
one dtype, so each compiles at most twice (float32, float64); ``elementwise`` applies one
to an array of any shape and layout. Kernels compute in the input's dtype: constants come
from ``x.dtype.type`` because a Python float literal would promote float32 to float64.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from mlpbench._numba_config import JIT, JIT_STRICT
from mlpbench.kernels import NAMES

__all__ = [*NAMES, "elementwise"]


# ---------------------------------------------------------------------------
# Element-wise kernels. They use IEEE semantics (JIT_STRICT): their accuracy is tested
# to a few ulp against mpmath. (1+e)^2 is written 1 + e(2+e) so that the rounding of
# 1 + e is not squared.
# ---------------------------------------------------------------------------


@njit(**JIT_STRICT)
def sigmoid(x, out):
    one = x.dtype.type(1)
    zero = x.dtype.type(0)
    for i in range(x.size):
        e = math.exp(-abs(x[i]))  # <= 1: never overflows
        out[i] = one / (one + e) if x[i] >= zero else e / (one + e)  # 1.#1


@njit(**JIT_STRICT)
def sigmoid_grad(x, out):
    one = x.dtype.type(1)
    two = x.dtype.type(2)
    for i in range(x.size):
        e = math.exp(-abs(x[i]))
        out[i] = e / (one + e * (two + e))  # 1.#3: s(1-s) = e/(1+e)^2, no cancellation


@njit(**JIT_STRICT)
def tanh_grad(x, out):
    one = x.dtype.type(1)
    two = x.dtype.type(2)
    four = x.dtype.type(4)
    for i in range(x.size):
        a = abs(x[i])
        e = math.exp(-(a + a))  # a + a may be inf: exp(-inf) = 0, the right limit
        out[i] = four * e / (one + e * (two + e))  # 1.#4: 1 - tanh^2 = 4e/(1+e)^2


@njit(**JIT_STRICT)
def softplus(x, out):
    zero = x.dtype.type(0)
    for i in range(x.size):
        v = x[i]
        out[i] = (v if v > zero else zero) + math.log1p(math.exp(-abs(v)))  # log(1 + exp(v))


@njit(**JIT_STRICT)
def log_sigmoid(x, out):
    zero = x.dtype.type(0)
    for i in range(x.size):
        v = x[i]
        out[i] = (v if v < zero else zero) - math.log1p(math.exp(-abs(v)))  # 1.#2: -softplus(-v)


@njit(**JIT_STRICT)
def relu(x, out):
    zero = x.dtype.type(0)
    for i in range(x.size):
        out[i] = x[i] if x[i] > zero else zero  # 1.#7: rect(v) = max(v, 0)


@njit(**JIT_STRICT)
def relu_grad(x, out):
    zero = x.dtype.type(0)
    one = x.dtype.type(1)
    for i in range(x.size):
        out[i] = one if x[i] > zero else zero  # 1.#7: 1[v > 0], 0 at v = 0


@njit(**JIT_STRICT)
def l1_grad(x, out):
    zero = x.dtype.type(0)
    one = x.dtype.type(1)
    for i in range(x.size):
        positive = one if x[i] > zero else zero
        negative = one if x[i] < zero else zero
        out[i] = positive - negative  # 1.#9 through 1.#6: sign(v) = 1[v > 0] - 1[v < 0]


@njit(**JIT_STRICT)
def sq_l2_grad(x, out):
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
def _softmax_rows(z, out):
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
def _logsumexp_rows(z, out):
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
# The raw functions on arrays of any shape.
# ---------------------------------------------------------------------------


def _contiguous(x: np.ndarray) -> np.ndarray:
    """x itself, or a C-contiguous, aligned, writeable copy (one numba type per dtype)."""
    if x.flags.c_contiguous and x.flags.aligned and x.flags.writeable:
        return x
    return np.array(x, order="C")


def elementwise(kernel, x: np.ndarray) -> np.ndarray:
    """``kernel(flat, out)`` over a flat C-contiguous view of x; out has x's shape."""
    flat = _contiguous(x).reshape(-1)
    out = np.empty_like(flat)
    kernel(flat, out)
    return out.reshape(x.shape)


def _rows(z: np.ndarray) -> np.ndarray:
    """z as a C-contiguous (rows, k) array, k = z.shape[-1] >= 1."""
    return _contiguous(z).reshape(-1, z.shape[-1])


def softmax(z: np.ndarray) -> np.ndarray:
    rows = _rows(z)
    out = np.empty_like(rows)
    _softmax_rows(rows, out)  # 2.#3
    return out.reshape(z.shape)


def logsumexp(z: np.ndarray) -> np.ndarray:
    rows = _rows(z)
    out = np.empty(rows.shape[0], z.dtype)
    _logsumexp_rows(rows, out)  # 2.#4
    return out.reshape(z.shape[:-1])


def l1(x: np.ndarray):
    return _l1(_contiguous(x).reshape(-1))  # 1.#9


def sq_l2(x: np.ndarray):
    return _sq_l2(_contiguous(x).reshape(-1))  # 1.#8
