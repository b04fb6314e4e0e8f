"""The MLP in pure Python, example by example and element by element, as the spec writes it.

One line per scalar formula, with its spec item. Arithmetic is on Python floats
(double precision) over ``tolist()`` copies; results are cast back to the dtype of X.
Slow by design: it is the readable reference. Inputs are trusted to be in the form
``mlp.check_inputs`` returns.
"""

from __future__ import annotations

import math

import numpy as np

from mlpbench.kernels import impl_loops as K
from mlpbench.mlp.params import Forward, Params

__all__ = ["ACTIVATIONS", "backward", "forward", "loss", "loss_and_grad"]

#: Each hidden activation as the scalar formulas of part 1 (kernels.impl_loops), and its
#: derivative in ha (docs/math.md#hidden-activations): relu 1.#7, rect' = 1[v > 0] (1.#7);
#: tanh, tanh' = 1 − tanh² = 4e/(1+e)² (1.#4); sigmoid 1.#1, sigmoid' = s(1−s) =
#: e/(1+e)² (1.#3); softplus, softplus' = sigmoid (1.#5).
ACTIVATIONS = {
    "relu": (K.relu, K.relu_grad),
    "tanh": (math.tanh, K.tanh_grad),
    "sigmoid": (K.sigmoid, K.sigmoid_grad),
    "softplus": (K.softplus, K.sigmoid),
}


def _forward_one(W1, b1, W2, b2, x, act=K.relu):
    """Forward pass for one example x (a list of d floats): lists ha, hs, oa, os and
    ``logsumexp(oa)``; act is the hidden activation (a scalar function)."""
    d_h, m = len(b1), len(b2)
    ha = [b1[j] + sum(W1[j][l] * x[l] for l in range(len(x))) for j in range(d_h)]  # 2.#1
    hs = [act(ha[j]) for j in range(d_h)]  # 2.#1: hs = act(ha), rect for ReLU (1.#7)
    oa = [b2[k] + sum(W2[k][j] * hs[j] for j in range(d_h)) for k in range(m)]  # 2.#2
    top = max(oa)  # shifting by the maximum keeps exp from overflowing
    e = [math.exp(oa[k] - top) for k in range(m)]
    s = sum(e)
    os = [e[k] / s for k in range(m)]  # 2.#3
    lse = top + math.log(s)  # log(sum_k exp(oa_k))
    return ha, hs, oa, os, lse


def _nll_over_n(lse: float, oa_y: float, n: int) -> float:
    """``L_i / n`` with ``L_i = log(sum_k exp(oa_k)) − oa_y`` (2.#4).

    2.#5: each part is divided by n before they meet, so that the sum of these terms
    over the n examples is the mean and no partial sum exceeds it (each term is >= 0):
    a representable mean stays representable where the sum of the L_i would overflow.
    """
    return lse / n - oa_y / n


def _as_lists(p: Params):
    return p.W1.tolist(), p.b1.tolist(), p.W2.tolist(), p.b2.tolist()


def forward(p: Params, X: np.ndarray, activation: str = "relu") -> Forward:
    """``Forward(ha, hs, oa, os)``, one example at a time (2.#1–3)."""
    W1, b1, W2, b2 = _as_lists(p)
    act = ACTIVATIONS[activation][0]
    rows = [_forward_one(W1, b1, W2, b2, x, act)[:4] for x in X.tolist()]
    return Forward(*(np.array([r[t] for r in rows], dtype=X.dtype) for t in range(4)))


def _penalty(W1, W2, l1: float, l2: float) -> float:
    """``l1·(‖W1‖₁+‖W2‖₁) + l2·(‖W1‖₂²+‖W2‖₂²)`` (2.#5) over lists of rows."""
    norm1 = sum(abs(w) for row in W1 + W2 for w in row)  # 1.#9
    sq_norm2 = sum(w * w for row in W1 + W2 for w in row)  # 1.#8
    return l1 * norm1 + l2 * sq_norm2


def loss(p: Params, X: np.ndarray, y: np.ndarray, l1: float = 0.0, l2: float = 0.0,
         activation: str = "relu") -> float:
    """Regularized risk ``R = (1/n) sum_i L(x_i, y_i) + penalties`` (2.#4–5)."""
    W1, b1, W2, b2 = _as_lists(p)
    act = ACTIVATIONS[activation][0]
    n = len(y)
    mean_nll = 0.0
    for x, label in zip(X.tolist(), y.tolist(), strict=True):
        _, _, oa, _, lse = _forward_one(W1, b1, W2, b2, x, act)
        mean_nll += _nll_over_n(lse, oa[label], n)  # 2.#4–5
    return mean_nll + _penalty(W1, W2, l1, l2)  # 2.#5


def _gradient(p: Params, X: np.ndarray, y: np.ndarray, rows, l1: float, l2: float,
              act_grad=K.relu_grad):
    """Per-example gradients (2.#7–16), each carrying the 1/n of the mean, summed over the
    batch, plus penalties.

    rows: for each example, its (ha, hs, os) as lists; act_grad: the activation's
    derivative, a scalar function of ha.
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
        # 2.#7–8: the 1/n of the mean R comes in here, before any sum over examples, so
        # that no sum of gradients overflows where the mean does not.
        G_oa = [(os[k] - (1.0 if k == label else 0.0)) / n for k in range(m)]
        for k in range(m):
            for j in range(d_h):
                gW2[k][j] += G_oa[k] * hs[j]  # 2.#9–10: ∂R/∂W2_kj = Σ_i G_oa_ik · hs_ij
            gb2[k] += G_oa[k]  # 2.#9–10: ∂R/∂b2_k = Σ_i G_oa_ik
        G_hs = [sum(G_oa[k] * W2[k][j] for k in range(m)) for j in range(d_h)]  # 2.#11–12
        # 2.#13–14: G_ha = G_hs ⊙ act'(ha), from ha: rect' = 1[ha > 0] (1.#7), tanh' (1.#4),
        # sigmoid' (1.#3), softplus' = sigmoid (1.#5)
        G_ha = [G_hs[j] * act_grad(ha[j]) for j in range(d_h)]
        for j in range(d_h):
            for l in range(d):
                gW1[j][l] += G_ha[j] * x[l]  # 2.#15–16: ∂R/∂W1_jl = Σ_i G_ha_ij · x_il
            gb1[j] += G_ha[j]  # 2.#15–16: ∂R/∂b1_j = Σ_i G_ha_ij
    for g, W in ((gW1, W1), (gW2, W2)):
        for r, row in enumerate(W):
            for c, w in enumerate(row):
                sign = 1.0 if w > 0.0 else (-1.0 if w < 0.0 else 0.0)
                g[r][c] += l1 * sign + 2.0 * l2 * w  # 1.#9: l1·sign(w), 1.#8: 2·l2·w
    dtype = X.dtype
    return Params(*(np.array(a, dtype=dtype) for a in (gW1, gb1, gW2, gb2)))


def backward(
    p: Params, X: np.ndarray, y: np.ndarray, f: Forward, l1: float = 0.0, l2: float = 0.0,
    activation: str = "relu",
) -> Params:
    """Gradient ``∂R/∂Θ`` given the forward pass f (2.#7–16, penalties 1.#8–9)."""
    rows = list(zip(f.ha.tolist(), f.hs.tolist(), f.os.tolist(), strict=True))
    return _gradient(p, X, y, rows, l1, l2, ACTIVATIONS[activation][1])


def loss_and_grad(
    p: Params, X: np.ndarray, y: np.ndarray, l1: float = 0.0, l2: float = 0.0,
    activation: str = "relu",
) -> tuple[float, Params]:
    """``(R, ∂R/∂Θ)``, one example at a time."""
    W1, b1, W2, b2 = _as_lists(p)
    act, act_grad = ACTIVATIONS[activation]
    n = len(y)
    rows = []
    mean_nll = 0.0
    for x, label in zip(X.tolist(), y.tolist(), strict=True):
        ha, hs, oa, os, lse = _forward_one(W1, b1, W2, b2, x, act)
        mean_nll += _nll_over_n(lse, oa[label], n)  # 2.#4–5
        rows.append((ha, hs, os))
    risk = mean_nll + _penalty(W1, W2, l1, l2)  # 2.#5
    return risk, _gradient(p, X, y, rows, l1, l2, act_grad)
