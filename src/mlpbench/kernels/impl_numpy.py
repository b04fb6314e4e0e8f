"""Spec part 1, vectorized with NumPy: whole-array forms, no Python loop over elements.

Every form is chosen so that it cannot overflow (``exp`` only ever sees arguments
<= 0) and keeps full relative accuracy over the whole float range.
"""

from __future__ import annotations

import numpy as np

from mlpbench.kernels import NAMES, _as_float_array, _as_float_rows

__all__ = list(NAMES)  # the 13 functions every implementation defines

# Beyond |x| = 1e4, exp(-2|x|) is 0 in float32 and float64 alike: clipping there
# changes no result and keeps 2|x| from overflowing.
_TANH_CLIP = 1.0e4


def sigmoid(x):
    """Logistic sigmoid, element-wise.

    ``sigmoid(x) = 1 / (1 + exp(-x)) = (tanh(x/2) + 1) / 2`` (1.#1), computed as
    ``1/(1+e)`` for x >= 0 and ``e/(1+e)`` for x < 0 with ``e = exp(-|x|)``.

    x: float32/float64 array, any shape. Returns an array of the same shape and dtype.
    """
    x = _as_float_array(x, "x")
    e = np.exp(-np.abs(x))
    # 1.#1: the split by sign keeps exp's argument <= 0 and both branches exact in ratio.
    return np.asarray(np.where(x >= 0, x.dtype.type(1), e) / (1 + e))


def sigmoid_grad(x):
    """Derivative of the sigmoid, element-wise.

    ``sigmoid'(x) = s(1 - s) = e / (1 + e)^2`` with ``e = exp(-|x|)`` (1.#3); the
    second form is even in x and does not cancel where ``s`` is close to 1. The
    square is expanded as ``1 + e(2 + e)`` so that the rounding of ``1 + e`` is
    not squared (3 ulp instead of 4 at worst in float32).

    x: float32/float64 array, any shape. Returns an array of the same shape and dtype.
    """
    x = _as_float_array(x, "x")
    e = np.exp(-np.abs(x))
    return np.asarray(e / (1 + e * (2 + e)))  # 1.#3


def tanh_grad(x):
    """Derivative of tanh, element-wise.

    ``tanh'(x) = 1 - tanh(x)^2 = 4e / (1 + e)^2`` with ``e = exp(-2|x|)`` (1.#4); the
    second form keeps full relative accuracy in the tails where ``1 - tanh^2`` cancels;
    ``(1 + e)^2`` is expanded as ``1 + e(2 + e)``, as in ``sigmoid_grad``.

    x: float32/float64 array, any shape. Returns an array of the same shape and dtype.
    """
    x = _as_float_array(x, "x")
    a = np.minimum(np.abs(x), _TANH_CLIP)
    e = np.exp(-(a + a))
    return np.asarray(4 * e / (1 + e * (2 + e)))  # 1.#4


def softplus(x):
    """Softplus, element-wise: ``softplus(x) = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))``.

    Its derivative is the sigmoid (1.#5). x: float32/float64 array, any shape.
    Returns an array of the same shape and dtype.
    """
    x = _as_float_array(x, "x")
    return np.asarray(np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))))


def log_sigmoid(x):
    """Log of the sigmoid, element-wise.

    ``log sigmoid(x) = -softplus(-x) = min(x, 0) - log1p(exp(-|x|))`` (1.#2).

    x: float32/float64 array, any shape. Returns an array of the same shape and dtype.
    """
    x = _as_float_array(x, "x")
    return np.asarray(np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x))))  # 1.#2


def relu(x):
    """Rectifier, element-wise: ``rect(x) = max(x, 0)`` (1.#7).

    x: float32/float64 array, any shape. Returns an array of the same shape and dtype.
    """
    x = _as_float_array(x, "x")
    return np.where(x > 0, x, x.dtype.type(0))


def relu_grad(x):
    """Derivative of the rectifier, element-wise: ``rect'(x) = 1[x > 0]`` (1.#7; 0 at x = 0).

    x: float32/float64 array, any shape. Returns an array of the same shape and dtype.
    """
    x = _as_float_array(x, "x")
    return np.asarray(x > 0).astype(x.dtype)


def _shifted_exp(z):
    """Row maxima ``m`` (keepdims) and ``exp(z - m)``, with rows whose maximum is infinite
    handled as limits: their entries equal to ``m`` count 1, the others 0."""
    m = np.max(z, axis=-1, keepdims=True)
    if np.all(np.isfinite(m)):  # the usual case: two passes less
        return m, np.exp(z - m)
    zero, minus_inf = z.dtype.type(0), z.dtype.type(-np.inf)
    infinite = np.isinf(m)
    shift = np.where(infinite, zero, m)  # inf - inf would be NaN (and warn)
    shifted = np.where(infinite, np.where(z == m, zero, minus_inf), z - shift)
    return m, np.exp(shifted)


def softmax(z):
    """Softmax along the last axis (2.#3): ``softmax(z)_k = exp(z_k - m) / sum_j exp(z_j - m)``.

    ``m`` is the row maximum, so no exp overflows and each row sums to 1. A row whose
    maximum is +inf or -inf is shared equally among its entries equal to that maximum.

    z: float32/float64 array with at least one dimension. Returns the same shape and dtype.
    """
    z = _as_float_rows(z, "z")
    if z.shape[-1] == 0:
        return np.empty(z.shape, z.dtype)
    _, e = _shifted_exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)


def logsumexp(z):
    """Log-sum-exp along the last axis (2.#4): ``logsumexp(z) = m + log(sum_j exp(z_j - m))``.

    ``m`` is the row maximum; a row of -inf gives -inf, an empty row gives -inf.

    z: float32/float64 array with at least one dimension, shape (..., k).
    Returns an array of shape ``z.shape[:-1]`` (0-d for 1-D input), same dtype.
    """
    z = _as_float_rows(z, "z")
    if z.shape[-1] == 0:
        return np.full(z.shape[:-1], -np.inf, z.dtype)
    m, e = _shifted_exp(z)
    # The sum is >= 1 (the maximum contributes exp(0)), so the log is finite.
    return (m + np.log(np.sum(e, axis=-1, keepdims=True)))[..., 0]


def l1(x):
    """L1 norm of the whole array: ``||x||_1 = sum_i |x_i|`` (1.#9).

    x: float32/float64 array, any shape. Returns a scalar of the same dtype.
    """
    x = _as_float_array(x, "x")
    # A sum beyond the float range is inf, the correctly rounded norm: not an error.
    with np.errstate(over="ignore"):
        return x.dtype.type(np.sum(np.abs(x)))


def l1_grad(x):
    """Gradient of the L1 norm: ``d||x||_1/dx = sign(x) = 1[x > 0] - 1[x < 0]`` (1.#9, 1.#6).

    0 at x = 0. x: float32/float64 array, any shape. Returns the same shape and dtype.
    """
    x = _as_float_array(x, "x")
    return np.asarray((x > 0).astype(x.dtype) - (x < 0).astype(x.dtype))  # 1.#6


def sq_l2(x):
    """Squared L2 norm of the whole array: ``||x||_2^2 = sum_i x_i^2`` (1.#8).

    x: float32/float64 array, any shape. Returns a scalar of the same dtype.
    """
    x = _as_float_array(x, "x")
    flat = x.ravel()
    # A sum beyond the float range is inf, the correctly rounded norm: not an error.
    with np.errstate(over="ignore"):
        return x.dtype.type(np.dot(flat, flat))


def sq_l2_grad(x):
    """Gradient of the squared L2 norm: ``d||x||_2^2/dx = 2x`` (1.#8).

    x: float32/float64 array, any shape. Returns the same shape and dtype.
    """
    x = _as_float_array(x, "x")
    # 2x beyond the float range is inf, the correctly rounded gradient: not an error.
    with np.errstate(over="ignore"):
        return np.asarray(2 * x)
