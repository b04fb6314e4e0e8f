"""The MLP in pure Python, example by example and element by element, as the spec writes it.

One line per scalar formula, with its spec item. Arithmetic is on Python floats
(double precision) over ``tolist()`` copies; results are cast back to the dtype of X.
Slow by design: it is the readable reference. Inputs are trusted to be in the form
``mlp.check_inputs`` returns.
"""

from __future__ import annotations

import math

import numpy as np

from mlpbench.mlp.params import Forward, Params

__all__ = ["backward", "forward", "loss", "loss_and_grad"]


def _forward_one(W1, b1, W2, b2, x):
    """Forward pass for one example x (a list of d floats): lists ha, hs, oa, os and L's parts."""
    d_h, m = len(b1), len(b2)
    ha = [b1[j] + sum(W1[j][i] * x[i] for i in range(len(x))) for j in range(d_h)]  # 2.#1
    hs = [ha[j] if ha[j] > 0.0 else 0.0 for j in range(d_h)]  # 2.#1: rect
    oa = [b2[k] + sum(W2[k][i] * hs[i] for i in range(d_h)) for k in range(m)]  # 2.#2
    top = max(oa)  # shifting by the maximum keeps exp from overflowing
    e = [math.exp(oa[k] - top) for k in range(m)]
    s = sum(e)
    os = [e[k] / s for k in range(m)]  # 2.#3
    lse = top + math.log(s)  # log(sum_k exp(oa_k))
    return ha, hs, oa, os, lse


def _as_lists(p: Params):
    return p.W1.tolist(), p.b1.tolist(), p.W2.tolist(), p.b2.tolist()


def forward(p: Params, X: np.ndarray) -> Forward:
    """``Forward(ha, hs, oa, os)``, one example at a time (2.#1–3)."""
    W1, b1, W2, b2 = _as_lists(p)
    rows = [_forward_one(W1, b1, W2, b2, x)[:4] for x in X.tolist()]
    return Forward(*(np.array([r[t] for r in rows], dtype=X.dtype) for t in range(4)))


def _penalty(W1, W2, l1: float, l2: float) -> float:
    """``l1·(‖W1‖₁+‖W2‖₁) + l2·(‖W1‖₂²+‖W2‖₂²)`` (2.#5) over lists of rows."""
    norm1 = sum(abs(w) for row in W1 + W2 for w in row)  # 1.#9
    sq_norm2 = sum(w * w for row in W1 + W2 for w in row)  # 1.#8
    return l1 * norm1 + l2 * sq_norm2


def loss(p: Params, X: np.ndarray, y: np.ndarray, l1: float = 0.0, l2: float = 0.0) -> float:
    """Regularized risk ``R = (1/n) sum_i L(x_i, y_i) + penalties`` (2.#4–5)."""
    W1, b1, W2, b2 = _as_lists(p)
    total = 0.0
    for x, label in zip(X.tolist(), y.tolist(), strict=True):
        _, _, oa, _, lse = _forward_one(W1, b1, W2, b2, x)
        total += lse - oa[label]  # 2.#4: L = log(sum_k exp(oa_k)) − oa_y
    return total / len(y) + _penalty(W1, W2, l1, l2)  # 2.#5


def _gradient(p: Params, X: np.ndarray, y: np.ndarray, rows, l1: float, l2: float):
    """Per-example gradients (2.#7–16) summed over the batch, divided by n, plus penalties.

    rows: for each example, its (ha, hs, os) as lists.
    """
    W1, _, W2, _ = _as_lists(p)
    d_h, d = p.W1.shape
    m = p.W2.shape[0]
    n = len(rows)
    gW1 = [[0.0] * d for _ in range(d_h)]
    gb1 = [0.0] * d_h
    gW2 = [[0.0] * d_h for _ in range(m)]
    gb2 = [0.0] * m
    for x, label, (ha, hs, os) in zip(X.tolist(), y.tolist(), rows, strict=True):
        grad_oa = [os[k] - (1.0 if k == label else 0.0) for k in range(m)]  # 2.#7–8
        for k in range(m):
            for j in range(d_h):
                gW2[k][j] += grad_oa[k] * hs[j]  # 2.#9–10: dL/dW2_kj = grad_oa_k · hs_j
            gb2[k] += grad_oa[k]  # 2.#9–10: dL/db2_k = grad_oa_k
        grad_hs = [sum(grad_oa[k] * W2[k][j] for k in range(m)) for j in range(d_h)]  # 2.#11–12
        grad_ha = [grad_hs[j] * (1.0 if ha[j] > 0.0 else 0.0) for j in range(d_h)]  # 2.#13–14
        for j in range(d_h):
            for i in range(d):
                gW1[j][i] += grad_ha[j] * x[i]  # 2.#15–16: dL/dW1_ji = grad_ha_j · x_i
            gb1[j] += grad_ha[j]  # 2.#15–16: dL/db1_j = grad_ha_j
    gW1 = [[v / n for v in row] for row in gW1]  # R is the mean over the n examples
    gb1 = [v / n for v in gb1]
    gW2 = [[v / n for v in row] for row in gW2]
    gb2 = [v / n for v in gb2]
    for g, W in ((gW1, W1), (gW2, W2)):
        for j, row in enumerate(W):
            for i, w in enumerate(row):
                sign = 1.0 if w > 0.0 else (-1.0 if w < 0.0 else 0.0)
                g[j][i] += l1 * sign + 2.0 * l2 * w  # 1.#9: l1·sign(w), 1.#8: 2·l2·w
    dtype = X.dtype
    return Params(*(np.array(a, dtype=dtype) for a in (gW1, gb1, gW2, gb2)))


def backward(
    p: Params, X: np.ndarray, y: np.ndarray, f: Forward, l1: float = 0.0, l2: float = 0.0
) -> Params:
    """Gradient ``∂R/∂Θ`` given the forward pass f (2.#7–16, penalties 1.#8–9)."""
    rows = list(zip(f.ha.tolist(), f.hs.tolist(), f.os.tolist(), strict=True))
    return _gradient(p, X, y, rows, l1, l2)


def loss_and_grad(
    p: Params, X: np.ndarray, y: np.ndarray, l1: float = 0.0, l2: float = 0.0
) -> tuple[float, Params]:
    """``(R, ∂R/∂Θ)``, one example at a time."""
    W1, b1, W2, b2 = _as_lists(p)
    rows = []
    total = 0.0
    for x, label in zip(X.tolist(), y.tolist(), strict=True):
        ha, hs, oa, os, lse = _forward_one(W1, b1, W2, b2, x)
        total += lse - oa[label]  # 2.#4
        rows.append((ha, hs, os))
    risk = total / len(y) + _penalty(W1, W2, l1, l2)  # 2.#5
    return risk, _gradient(p, X, y, rows, l1, l2)
