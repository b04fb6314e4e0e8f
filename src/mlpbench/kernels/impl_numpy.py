"""Spec part 1, vectorized with NumPy: whole-array forms, no Python loop over elements.

Raw functions (the public face, docstrings and checks are in ``mlpbench.kernels``):
each takes a checked float32/float64 array and computes in its dtype. Every form keeps
``exp``'s argument <= 0, so nothing overflows, with full relative accuracy over the
whole float range. The MLP's numpy implementation calls these directly.
"""

from __future__ import annotations

import numpy as np

from mlpbench.kernels import NAMES

__all__ = [*NAMES, "elementwise"]

# Beyond |x| = 1e4, exp(-2|x|) is 0 in float32 and float64 alike: clipping there
# changes no result and keeps 2|x| from overflowing.
_TANH_CLIP = 1.0e4


def elementwise(formula, x: np.ndarray) -> np.ndarray:
    """The element-wise formulas here are whole-array functions already."""
    return formula(x)


def sigmoid(x):
    e = np.exp(-np.abs(x))
    # 1.#1: the split by sign keeps exp's argument <= 0 and both branches exact in ratio.
    return np.where(x >= 0, x.dtype.type(1), e) / (1 + e)


def sigmoid_grad(x):
    e = np.exp(-np.abs(x))
    return e / (1 + e * (2 + e))  # 1.#3: s(1-s) = e/(1+e)^2


def tanh_grad(x):
    a = np.minimum(np.abs(x), _TANH_CLIP)
    e = np.exp(-(a + a))
    return 4 * e / (1 + e * (2 + e))  # 1.#4: 1 - tanh^2 = 4e/(1+e)^2


def softplus(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))  # log(1 + exp(x)); 1.#5


def log_sigmoid(x):
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))  # 1.#2: -softplus(-x)


def relu(x):
    return np.where(x > 0, x, x.dtype.type(0))  # 1.#7: max(x, 0)


def relu_grad(x):
    return (x > 0).astype(x.dtype)  # 1.#7: 1[x > 0], 0 at 0


def l1_grad(x):
    return (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)  # 1.#9 through 1.#6: sign(x)


def sq_l2_grad(x):
    # 2x beyond the float range is inf, the correctly rounded gradient: not an error.
    with np.errstate(over="ignore"):
        return 2 * x  # 1.#8


def _shifted_exp(z):
    """Row maxima ``top`` (keepdims) and ``exp(z - top)``, with rows whose maximum is
    infinite handled as limits: their entries equal to ``top`` count 1, the others 0."""
    top = np.max(z, axis=-1, keepdims=True)
    # z - top <= 0 rounds to -inf where a row spreads wider than the float range; exp
    # then gives 0, the correctly rounded value: not an error.
    with np.errstate(over="ignore"):
        if np.all(np.isfinite(top)):  # the usual case: two passes less
            return top, np.exp(z - top)
        zero, minus_inf = z.dtype.type(0), z.dtype.type(-np.inf)
        infinite = np.isinf(top)
        shift = np.where(infinite, zero, top)  # inf - inf would be NaN (and warn)
        shifted = np.where(infinite, np.where(z == top, zero, minus_inf), z - shift)
        return top, np.exp(shifted)


def softmax(z):
    _, e = _shifted_exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)  # 2.#3


def logsumexp(z):
    top, e = _shifted_exp(z)
    # 2.#4; the sum is >= 1 (the maximum contributes exp(0)), so the log is finite.
    return (top + np.log(np.sum(e, axis=-1, keepdims=True)))[..., 0]


def l1(x):
    # A sum beyond the float range is inf, the correctly rounded norm: not an error.
    with np.errstate(over="ignore"):
        return np.sum(np.abs(x))  # 1.#9


def sq_l2(x):
    flat = x.ravel()
    with np.errstate(over="ignore"):
        return np.dot(flat, flat)  # 1.#8
