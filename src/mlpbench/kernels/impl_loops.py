"""Spec part 1 in pure Python: element by element, one line per scalar formula of the spec.

Raw functions (the public face, docstrings and checks are in ``mlpbench.kernels``).
The element-wise ones are scalar formulas on Python floats (double precision, through
``math``); ``elementwise`` maps one over an array and rounds each result once to the
array's dtype. This is the readable reference.
"""

from __future__ import annotations

import math

import numpy as np

from mlpbench.kernels import NAMES

__all__ = [*NAMES, "elementwise"]


# Scalar formulas. e = exp(-|v|) <= 1 never overflows; 1/(1+e) and e/(1+e) are the
# two halves of 1/(1+exp(-v)) for v >= 0 and v < 0. (1+e)^2 is written 1 + e(2+e)
# so that the rounding of 1 + e is not squared.


def sigmoid(v: float) -> float:
    e = math.exp(-abs(v))
    return 1.0 / (1.0 + e) if v >= 0.0 else e / (1.0 + e)  # 1.#1


def sigmoid_grad(v: float) -> float:
    e = math.exp(-abs(v))
    return e / (1.0 + e * (2.0 + e))  # 1.#3: s(1-s) = e/(1+e)^2, without cancellation


def tanh_grad(v: float) -> float:
    e = math.exp(-2.0 * abs(v))  # 2|v| may be inf: exp(-inf) = 0, the right limit
    return 4.0 * e / (1.0 + e * (2.0 + e))  # 1.#4: 1 - tanh^2 = 4e/(1+e)^2


def softplus(v: float) -> float:
    return max(v, 0.0) + math.log1p(math.exp(-abs(v)))  # log(1+exp(v)); 1.#5: derivative sigmoid


def log_sigmoid(v: float) -> float:
    return -softplus(-v)  # 1.#2


def _indicator(condition: bool) -> float:
    return 1.0 if condition else 0.0


def relu(v: float) -> float:
    return v if v > 0.0 else 0.0  # 1.#7: rect(v) = max(v, 0)


def relu_grad(v: float) -> float:
    return _indicator(v > 0.0)  # 1.#7: rect'(v) = 1[v > 0], 0 at v = 0


def l1_grad(v: float) -> float:
    return _indicator(v > 0.0) - _indicator(v < 0.0)  # 1.#9 through 1.#6: sign(v)


def sq_l2_grad(v: float) -> float:
    return 2.0 * v  # 1.#8


def _to_dtype(values, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    """Round Python floats to dtype, as an array of the given shape."""
    # A double beyond the float32 range rounds to inf, its correctly rounded value.
    with np.errstate(over="ignore"):
        return np.array(values, dtype=dtype).reshape(shape)


def elementwise(formula, x: np.ndarray) -> np.ndarray:
    """Apply a scalar formula to every element of x; same shape and dtype as x."""
    return _to_dtype([formula(v) for v in x.ravel().tolist()], x.dtype, x.shape)


def _rows(z: np.ndarray) -> list[list[float]]:
    """The last-axis rows of z as lists of Python floats."""
    return z.reshape(-1, z.shape[-1]).tolist()


def _row_max(row: list[float]) -> float:
    top = -math.inf
    for v in row:
        top = v if v > top else top
    return top


def _softmax_row(row: list[float]) -> list[float]:
    top = _row_max(row)
    if math.isinf(top):  # the limit: the entries equal to the maximum share the mass
        ties = [_indicator(v == top) for v in row]
        return [t / sum(ties) for t in ties]
    e = [math.exp(v - top) for v in row]  # v - top <= 0: no overflow
    total = sum(e)
    return [e_k / total for e_k in e]  # 2.#3: exp(z_k) / sum_k' exp(z_k')


def _logsumexp_row(row: list[float]) -> float:
    top = _row_max(row)
    if math.isinf(top):
        return top  # -inf for a row of -inf, +inf if any entry is +inf
    return top + math.log(sum(math.exp(v - top) for v in row))  # 2.#4: log sum_k exp(z_k)


def softmax(z: np.ndarray) -> np.ndarray:
    return _to_dtype([_softmax_row(row) for row in _rows(z)], z.dtype, z.shape)  # 2.#3


def logsumexp(z: np.ndarray) -> np.ndarray:
    return _to_dtype([_logsumexp_row(row) for row in _rows(z)], z.dtype, z.shape[:-1])  # 2.#4


def l1(x: np.ndarray):
    total = 0.0
    for v in x.ravel().tolist():
        total += abs(v)  # 1.#9: ||x||_1 = sum |x_i|
    return _to_dtype(total, x.dtype, ())[()]


def sq_l2(x: np.ndarray):
    total = 0.0
    for v in x.ravel().tolist():
        total += v * v  # 1.#8: ||x||_2^2 = sum x_i^2
    return _to_dtype(total, x.dtype, ())[()]
