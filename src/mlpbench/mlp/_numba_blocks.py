"""Numba building blocks shared by the two compiled MLPs (``numba`` and ``numba-loops``).

The pieces of one example's forward and backward pass (2.#1–16), the loss term with its
1/n (2.#4–5), the penalties (1.#8–9), and the register tiles of dot products that the
products are built from: each written once here. What runs where, in which order and on
how many threads stays in ``impl_numba`` and ``impl_numba_loops``. Every kernel trusts its
inputs: rows are 1-D C-contiguous arrays of one dtype, labels and indices in range.
Names follow docs/math.md: i example, j hidden unit, k class, l input feature; the
tiles and ``axpy4`` are generic (t runs along the rows they combine).

``inline="always"`` marks the small pieces called once per example inside hot loops, as
they were inlined by hand before they were shared; the others are ordinary calls.
numba's on-disk cache is keyed by each caller's own file: after editing this module,
clear the ``*.nbi``/``*.nbc`` files of ``mlp/__pycache__`` (or touch the callers), or
the cached callers keep the old code.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mlpbench._numba_config import JIT, JIT_STRICT
from mlpbench.kernels import impl_numba as K

__all__ = [
    "ACTIVATION_CODES", "RELU", "SIGMOID", "SOFTPLUS", "TANH", "activate_row",
    "activation_code", "activation_grad_row", "add_penalty_grad", "add_row", "axpy4",
    "backprop_row", "backprop_row_act", "dots_4x1", "dots_4x3", "grad_oa_row", "hidden_row",
    "logits_row", "nll_row", "nll_term", "norms", "penalty_scalars", "penalty_value",
    "row_max", "softmax_row",
]

# ---------------------------------------------------------------- hidden activations

#: The hidden activations as integer codes (docs/math.md#hidden-activations): a kernel
#: takes the code as an argument, so one compilation per dtype serves all four.
RELU, TANH, SIGMOID, SOFTPLUS = 0, 1, 2, 3
ACTIVATION_CODES = {"relu": RELU, "tanh": TANH, "sigmoid": SIGMOID, "softplus": SOFTPLUS}


def activation_code(activation: str) -> int:
    """The integer code of a (checked) activation name."""
    return ACTIVATION_CODES[activation]


@njit(**JIT_STRICT)
def activate_row(ha, hs, act):
    """``hs = act(ha)`` for one example's row (2.#1), by part 1's compiled kernels in their
    stable forms (kernels.impl_numba); hs may be ha (in place)."""
    if act == TANH:
        for j in range(ha.shape[0]):
            hs[j] = np.tanh(ha[j])
    elif act == SIGMOID:
        K.sigmoid(ha, hs)  # 1.#1
    elif act == SOFTPLUS:
        K.softplus(ha, hs)  # 1.#5
    else:
        K.relu(ha, hs)  # 1.#7


@njit(**JIT_STRICT)
def activation_grad_row(ha, out, act):
    """``out = act'(ha)`` for one example's row, from ha (never from hs: the forms in hs
    cancel in the tails): tanh' = 4e/(1+e)² (1.#4), sigmoid' = e/(1+e)² (1.#3),
    softplus' = sigmoid (1.#5), rect' = 1[ha > 0] (1.#7)."""
    if act == TANH:
        K.tanh_grad(ha, out)
    elif act == SIGMOID:
        K.sigmoid_grad(ha, out)
    elif act == SOFTPLUS:
        K.sigmoid(ha, out)
    else:
        K.relu_grad(ha, out)

# ---------------------------------------------------------------- one example's rows


@njit(**JIT, inline="always")
def row_max(v):
    """``max_k v_k`` (v has at least one entry)."""
    top = v[0]
    for k in range(1, v.shape[0]):
        top = max(top, v[k])
    return top


@njit(**JIT, inline="always")
def hidden_row(z, b1, ha, hs):
    """``ha = z + b1``, ``hs = relu(ha)`` (2.#1) for one example, z its row of ``X W1ᵀ``.

    ha may be z (in place) or hs (then ha is not kept: relu(ha) overwrites it).
    """
    zero = z.dtype.type(0)
    for j in range(z.shape[0]):
        v = z[j] + b1[j]
        ha[j] = v
        hs[j] = v if v > zero else zero


@njit(**JIT)
def logits_row(hs, W2, b2, oa):
    """``oa = W2 hs + b2`` (2.#2) for one example; returns ``max_k oa_k``."""
    for k in range(W2.shape[0]):
        w = W2[k]
        s = hs.dtype.type(0)
        for j in range(hs.shape[0]):
            s += w[j] * hs[j]
        oa[k] = s + b2[k]
    return row_max(oa)


@njit(**JIT, inline="always")
def softmax_row(oa, top, os):
    """``os = softmax(oa)`` (2.#3), shifted by ``top = max_k oa_k``; returns
    ``logsumexp(oa) = top + log Σ_k exp(oa_k − top)`` (2.#4)."""
    s = oa.dtype.type(0)
    for k in range(oa.shape[0]):
        e = np.exp(oa[k] - top)  # argument <= 0: no overflow
        os[k] = e
        s += e
    for k in range(oa.shape[0]):
        os[k] /= s
    return np.log(s) + top


@njit(**JIT_STRICT)
def nll_term(lse, oa_y, inv_n):
    """``L_i / n`` with ``L_i = lse − oa_y`` (2.#4), ``lse = logsumexp(oa_i)``.

    2.#5: each part carries the 1/n before they meet, so that adding these terms over
    the n examples gives the mean with no partial sum above it (each term is >= 0,
    since lse >= oa_y): a representable mean stays representable, even where the sum
    of the L_i, or one L_i alone (n >= 2), is beyond the float range. Compiled apart,
    without fast math, on purpose: under ``reassoc`` LLVM factors the 1/n back out of
    the callers' sums (``a·c − b·c → (a − b)·c``) and the overflow comes back.
    """
    return lse * inv_n - oa_y * inv_n


@njit(**JIT)
def nll_row(oa, top, label, inv_n):
    """``L_i / n`` (2.#4–5) from one example's logits oa, ``top = max_k oa_k``."""
    s = oa.dtype.type(0)
    for k in range(oa.shape[0]):
        s += np.exp(oa[k] - top)  # argument <= 0: no overflow
    return nll_term(np.log(s) + top, oa[label], inv_n)


@njit(**JIT)
def grad_oa_row(os, label, inv_n, G_oa):
    """``G_oa = (os − onehot(label)) / n`` (2.#7–8) for one example: the 1/n of the mean
    comes in here, before any sum over examples, so no sum of gradients overflows
    where the mean does not."""
    for k in range(os.shape[0]):
        G_oa[k] = os[k] * inv_n
    G_oa[label] = (os[label] - os.dtype.type(1)) * inv_n


@njit(**JIT)
def backprop_row(G_oa, W2, hs, active, G_ha, gW2, gb2):
    """One example's row of ``G_ha``, and its share of gW2 and gb2 (2.#9–14).

    ``gW2 += G_oaᵀ hs`` and ``gb2 += G_oa`` (2.#9–10) share one sweep over W2 with
    ``G_hs = G_oa W2`` (2.#11–12), formed in G_ha and masked there into
    ``G_ha = G_hs ⊙ 1[active > 0]`` (2.#13–14). active is the example's row of ha, or of
    hs = relu(ha), which is > 0 exactly where ha is.
    """
    zero = G_ha.dtype.type(0)
    for j in range(G_ha.shape[0]):
        G_ha[j] = zero
    for k in range(W2.shape[0]):
        c = G_oa[k]
        w = W2[k]
        gw = gW2[k]
        for j in range(G_ha.shape[0]):
            G_ha[j] += c * w[j]  # 2.#11–12
            gw[j] += c * hs[j]  # 2.#9–10
        gb2[k] += c  # 2.#9–10
    for j in range(G_ha.shape[0]):
        G_ha[j] = G_ha[j] if active[j] > zero else zero  # 2.#13–14: the indicator tests ha


@njit(**JIT)
def backprop_row_act(G_oa, W2, hs, ha, act, G_ha, gW2, gb2, d):
    """``backprop_row`` for any activation: the same sweep over W2 (2.#9–12), then
    ``G_ha = G_hs ⊙ act'(ha)`` (2.#13–14) with the derivative from ha (d: a row of
    scratch, left holding it)."""
    zero = G_ha.dtype.type(0)
    for j in range(G_ha.shape[0]):
        G_ha[j] = zero
    for k in range(W2.shape[0]):
        c = G_oa[k]
        w = W2[k]
        gw = gW2[k]
        for j in range(G_ha.shape[0]):
            G_ha[j] += c * w[j]  # 2.#11–12
            gw[j] += c * hs[j]  # 2.#9–10
        gb2[k] += c  # 2.#9–10
    activation_grad_row(ha, d, act)
    for j in range(G_ha.shape[0]):
        G_ha[j] *= d[j]  # 2.#13–14


@njit(**JIT, inline="always")
def add_row(acc, row):
    """``acc += row``: one example's share of a column sum (gb1, 2.#15–16)."""
    for j in range(acc.shape[0]):
        acc[j] += row[j]


# ---------------------------------------------------------------- penalties


@njit(**JIT)
def norms(W1, W2):
    """``(‖W1‖₁+‖W2‖₁, ‖W1‖₂²+‖W2‖₂²)`` (2.#5, norms of 1.#8–9), summed in float64."""
    a = 0.0
    q = 0.0
    for W in (W1, W2):
        for r in range(W.shape[0]):
            for c in range(W.shape[1]):
                v = W[r, c]
                a += abs(v)
                q += v * v
    return a, q


@njit(**JIT)
def add_penalty_grad(g, W, l1, two_l2, r0, r1, c0, c1):
    """``g += l1·sign(W) + 2·l2·W`` on the block ``[r0:r1, c0:c1]`` (1.#8–9; sign(0) = 0).

    Returns the block's ``(Σ|w|, Σw²)`` in float64, the penalty's norms (2.#5), for a
    caller that wants them in the same pass. l1 and two_l2 are scalars of W's dtype.
    Callers pass the bounds as integers, never a literal ``0`` (write ``np.intp(0)``):
    numba types a literal as ``Literal[int](0)`` and compiles a second specialization
    for it (so does every njit function with integer arguments, ``_gemm_nt`` among them).
    """
    zero = W.dtype.type(0)
    one = W.dtype.type(1)
    a = 0.0
    q = 0.0
    for r in range(r0, r1):
        for c in range(c0, c1):
            v = W[r, c]
            sign = one if v > zero else (-one if v < zero else zero)  # 1.#9
            g[r, c] += l1 * sign + two_l2 * v  # 1.#8–9
            a += abs(v)
            q += v * v
    return a, q


def penalty_scalars(W1: np.ndarray, l1: float, l2: float):
    """``(l1, 2·l2)`` as scalars of the weights' dtype (a Python float would promote
    float32 to float64 in the kernels), and whether there is any penalty."""
    scalar = W1.dtype.type
    return scalar(l1), scalar(2.0 * l2), (l1 != 0.0 or l2 != 0.0)


def penalty_value(W1: np.ndarray, W2: np.ndarray, l1: float, l2: float) -> float:
    """``l1·(‖W1‖₁+‖W2‖₁) + l2·(‖W1‖₂²+‖W2‖₂²)`` (2.#5); 0.0 without penalties."""
    if l1 == 0.0 and l2 == 0.0:
        return 0.0
    a, q = norms(W1, W2)
    return l1 * a + l2 * q


# ---------------------------------------------------------------- register tiles


@njit(**JIT, inline="always")
def dots_4x3(a0, a1, a2, a3, b0, b1, b2):
    """The twelve dot products ``a_r · b_c`` of four rows by three, all of one length.

    A register tile: twelve independent accumulators that LLVM turns into vector FMAs,
    7 loads per 12 FMAs and no store in the loop. Unrolled by hand on purpose: the
    twelve names are the twelve registers. Returned row by row (c00, c01, c02, c10, ...).
    """
    zero = a0.dtype.type(0)
    c00 = c01 = c02 = c10 = c11 = c12 = zero
    c20 = c21 = c22 = c30 = c31 = c32 = zero
    for t in range(a0.shape[0]):
        x0 = a0[t]
        x1 = a1[t]
        x2 = a2[t]
        x3 = a3[t]
        y0 = b0[t]
        y1 = b1[t]
        y2 = b2[t]
        c00 += x0 * y0
        c01 += x0 * y1
        c02 += x0 * y2
        c10 += x1 * y0
        c11 += x1 * y1
        c12 += x1 * y2
        c20 += x2 * y0
        c21 += x2 * y1
        c22 += x2 * y2
        c30 += x3 * y0
        c31 += x3 * y1
        c32 += x3 * y2
    return c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32


@njit(**JIT, inline="always")
def dots_4x1(a0, a1, a2, a3, b0):
    """The four dot products ``a_r · b0``: the tile for a last row or two of b."""
    zero = a0.dtype.type(0)
    c0 = c1 = c2 = c3 = zero
    for t in range(a0.shape[0]):
        y0 = b0[t]
        c0 += a0[t] * y0
        c1 += a1[t] * y0
        c2 += a2[t] * y0
        c3 += a3[t] * y0
    return c0, c1, c2, c3


@njit(**JIT, inline="always")
def axpy4(r, g0, x0, g1, x1, g2, x2, g3, x3, accumulate):
    """``r (+)= g0 x0 + g1 x1 + g2 x2 + g3 x3``: four rows into r in one pass over it
    (storing when accumulate is False), four rows of ``Gᵀ X`` at a time."""
    if accumulate:
        for t in range(r.shape[0]):
            r[t] += g0 * x0[t] + g1 * x1[t] + g2 * x2[t] + g3 * x3[t]
    else:
        for t in range(r.shape[0]):
            r[t] = g0 * x0[t] + g1 * x1[t] + g2 * x2[t] + g3 * x3[t]
