"""The MLP as Numba JIT kernels: BLAS products (``np.dot``) and fused element-wise loops.

Serial ``@njit`` kernels (leading underscore) do the work; the raw functions below
unpack ``Params``/``Forward`` and pass penalties as scalars of the data's dtype, so
float32 stays float32 (a Python float would promote the arithmetic to float64).
Inputs are trusted to be in the form ``mlp.check_inputs`` returns.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mlpbench._numba_config import JIT
from mlpbench.mlp.params import Forward, Params

__all__ = ["backward", "forward", "loss", "loss_and_grad"]


@njit(**JIT)
def _hidden(X, W1, b1):
    """``ha = X W1ᵀ + b1``, ``hs = relu(ha)`` (2.#1), n×d_h each; bias and ReLU in one pass."""
    ha = np.dot(X, W1.T)
    hs = np.empty_like(ha)
    zero = ha.dtype.type(0)
    for i in range(ha.shape[0]):
        for j in range(ha.shape[1]):
            v = ha[i, j] + b1[j]
            ha[i, j] = v
            hs[i, j] = v if v > zero else zero
    return ha, hs


@njit(**JIT)
def _logits_row(oa_row, b2):
    """``oa_i += b2`` (2.#2, the bias of ``oa_i = W2 hs_i + b2``); returns the row maximum."""
    top = oa_row[0] + b2[0]
    for k in range(oa_row.shape[0]):
        v = oa_row[k] + b2[k]
        oa_row[k] = v
        top = max(top, v)
    return top


@njit(**JIT)
def _softmax_row(oa_row, top, os_row):
    """``os_i = softmax(oa_i)`` (2.#3); returns ``s = sum_k exp(oa_ik − top)`` (>= 1)."""
    s = oa_row.dtype.type(0)
    for k in range(oa_row.shape[0]):
        e = np.exp(oa_row[k] - top)  # argument <= 0: no overflow
        os_row[k] = e
        s += e
    for k in range(oa_row.shape[0]):
        os_row[k] /= s
    return s


@njit(**JIT)
def _nll_row(oa_row, top, s, label):
    """``L_i = logsumexp(oa_i) − oa[i, y_i]`` with ``logsumexp = top + log(s)`` (2.#4)."""
    return np.log(s) + top - oa_row[label]


@njit(**JIT)
def _grad_oa_row(os_row, label, n_rows, g_row):
    """``G_oa[i] = (os_i − onehot(y_i)) / n`` (2.#7–8); n_rows is n in the dtype of os."""
    for k in range(os_row.shape[0]):
        g_row[k] = os_row[k] / n_rows
    g_row[label] = (os_row[label] - os_row.dtype.type(1)) / n_rows


@njit(**JIT)
def _output(hs, W2, b2):
    """``oa = hs W2ᵀ + b2`` (2.#2) and ``os = softmax(oa)`` (2.#3), n×m each."""
    oa = np.dot(hs, W2.T)
    os = np.empty_like(oa)
    for i in range(oa.shape[0]):
        top = _logits_row(oa[i], b2)
        _softmax_row(oa[i], top, os[i])
    return oa, os


@njit(**JIT)
def _output_loss_grad(hs, W2, b2, y):
    """Bias, softmax, loss and output gradient in one pass per row (2.#2–8).

    Returns ``oa``, ``os``, ``G_oa = (os − onehot(y)) / n`` and ``sum_i L_i``.
    """
    oa = np.dot(hs, W2.T)
    os = np.empty_like(oa)
    G_oa = np.empty_like(oa)
    n_rows = oa.dtype.type(oa.shape[0])
    total = oa.dtype.type(0)
    for i in range(oa.shape[0]):
        top = _logits_row(oa[i], b2)
        s = _softmax_row(oa[i], top, os[i])
        total += _nll_row(oa[i], top, s, y[i])
        _grad_oa_row(os[i], y[i], n_rows, G_oa[i])
    return oa, os, G_oa, total


@njit(**JIT)
def _nll_sum(hs, W2, b2, y):
    """``sum_i L_i`` for ``oa = hs W2ᵀ + b2`` (2.#2, 2.#4), keeping one row of os at a time."""
    oa = np.dot(hs, W2.T)
    os_row = np.empty(oa.shape[1], oa.dtype)
    total = oa.dtype.type(0)
    for i in range(oa.shape[0]):
        top = _logits_row(oa[i], b2)
        s = _softmax_row(oa[i], top, os_row)
        total += _nll_row(oa[i], top, s, y[i])
    return total


@njit(**JIT)
def _grad_oa(os, y):
    """``G_oa = (os − onehot(y)) / n`` (2.#7–8)."""
    n_rows = os.dtype.type(os.shape[0])
    G_oa = np.empty_like(os)
    for i in range(os.shape[0]):
        _grad_oa_row(os[i], y[i], n_rows, G_oa[i])
    return G_oa


@njit(**JIT)
def _norms(W):
    """``(‖W‖₁, ‖W‖₂²)`` of a 2-D array (1.#8–9)."""
    a = W.dtype.type(0)
    q = W.dtype.type(0)
    for j in range(W.shape[0]):
        for k in range(W.shape[1]):
            v = W[j, k]
            a += abs(v)
            q += v * v
    return a, q


@njit(**JIT)
def _penalty(W1, W2, l1, l2):
    """``l1·(‖W1‖₁+‖W2‖₁) + l2·(‖W1‖₂²+‖W2‖₂²)`` (2.#5); l1, l2 in the dtype of W."""
    a1, q1 = _norms(W1)
    a2, q2 = _norms(W2)
    return l1 * (a1 + a2) + l2 * (q1 + q2)


@njit(**JIT)
def _add_penalty_grad(g, W, l1, two_l2):
    """``g += l1·sign(W) + 2·l2·W`` in place (1.#8–9); g is a fresh gradient array."""
    zero = W.dtype.type(0)
    one = W.dtype.type(1)
    for j in range(W.shape[0]):
        for k in range(W.shape[1]):
            v = W[j, k]
            sign = one if v > zero else (-one if v < zero else zero)  # 1.#9: 0 at 0
            g[j, k] += l1 * sign + two_l2 * v  # 1.#8–9


@njit(**JIT)
def _backward(X, W2, ha, hs, G_oa):
    """Gradients from ``G_oa`` (2.#9–16): returns gW1, gb1, gW2, gb2 without penalties."""
    n, d_h = ha.shape
    gW2 = np.dot(G_oa.T, hs)  # 2.#9–10
    gb2 = np.zeros(G_oa.shape[1], G_oa.dtype)
    for i in range(n):
        for k in range(G_oa.shape[1]):
            gb2[k] += G_oa[i, k]  # 2.#9–10: column sums
    G_ha = np.dot(G_oa, W2)  # 2.#11–12: G_hs, turned into G_ha in place below
    gb1 = np.zeros(d_h, G_ha.dtype)
    zero = G_ha.dtype.type(0)
    for i in range(n):
        for j in range(d_h):
            v = G_ha[i, j] if ha[i, j] > zero else zero  # 2.#13–14: indicator on ha
            G_ha[i, j] = v
            gb1[j] += v  # 2.#15–16
    gW1 = np.dot(G_ha.T, X)  # 2.#15–16
    return gW1, gb1, gW2, gb2


def _with_penalties(g: Params, p: Params, l1: float, l2: float) -> Params:
    if l1 != 0.0 or l2 != 0.0:
        scalar = p.W1.dtype.type
        _add_penalty_grad(g.W1, p.W1, scalar(l1), scalar(2.0 * l2))
        _add_penalty_grad(g.W2, p.W2, scalar(l1), scalar(2.0 * l2))
    return g


def _penalty_value(p: Params, l1: float, l2: float) -> float:
    if l1 == 0.0 and l2 == 0.0:
        return 0.0
    scalar = p.W1.dtype.type
    return float(_penalty(p.W1, p.W2, scalar(l1), scalar(l2)))


def forward(p: Params, X: np.ndarray) -> Forward:
    """``Forward(ha, hs, oa, os)`` (2.#1–3)."""
    ha, hs = _hidden(X, p.W1, p.b1)
    oa, os = _output(hs, p.W2, p.b2)
    return Forward(ha, hs, oa, os)


def loss(p: Params, X: np.ndarray, y: np.ndarray, l1: float = 0.0, l2: float = 0.0) -> float:
    """Regularized risk ``R`` (2.#4–5)."""
    _, hs = _hidden(X, p.W1, p.b1)
    return float(_nll_sum(hs, p.W2, p.b2, y)) / X.shape[0] + _penalty_value(p, l1, l2)


def backward(
    p: Params, X: np.ndarray, y: np.ndarray, f: Forward, l1: float = 0.0, l2: float = 0.0
) -> Params:
    """Gradient ``∂R/∂Θ`` given the forward pass f (2.#7–16, penalties 1.#8–9)."""
    G_oa = _grad_oa(f.os, y)
    g = Params(*_backward(X, p.W2, f.ha, f.hs, G_oa))
    return _with_penalties(g, p, l1, l2)


def loss_and_grad(
    p: Params, X: np.ndarray, y: np.ndarray, l1: float = 0.0, l2: float = 0.0
) -> tuple[float, Params]:
    """``(R, ∂R/∂Θ)``, with softmax, loss and ``G_oa`` fused in one pass per row."""
    ha, hs = _hidden(X, p.W1, p.b1)
    _, _, G_oa, total = _output_loss_grad(hs, p.W2, p.b2, y)
    g = Params(*_backward(X, p.W2, ha, hs, G_oa))
    risk = float(total) / X.shape[0] + _penalty_value(p, l1, l2)
    return risk, _with_penalties(g, p, l1, l2)
