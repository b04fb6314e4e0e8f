"""The MLP as JIT-compiled loops with no BLAS at all: how far compiled loops get alone.

The two big products (``X W1ᵀ`` forward, ``G_haᵀ X`` backward) run through the
register-tiled dot products of ``_gemm_numba``; the three small ones (``hs W2ᵀ``,
``G_oaᵀ hs``, ``G_oa W2``) and all element-wise work are fused into one pass per row.
Two paths, chosen by size at run time: below ``SERIAL_MAX_N`` examples (or
``SERIAL_MAX_WORK`` multiply-adds) serial loops with no packing; above, ``prange``
over row chunks, then over tiles of ``gW1``. Inputs are trusted to be in the form
``mlp.check_inputs`` returns; penalties reach the kernels as scalars of the data's
dtype so that float32 stays float32.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from mlpbench._numba_config import JIT, JIT_PARALLEL
from mlpbench.mlp._gemm_numba import _axpy_t, _gemm_nt, _transpose_rows, leading_dim
from mlpbench.mlp.params import Forward, Params

__all__ = ["SERIAL_MAX_N", "SERIAL_MAX_WORK", "backward", "forward", "loss", "loss_and_grad"]

#: Up to this many examples the serial path runs. Measured at d=784, d_h=256, float64,
#: one thread: serial 0.81 / 1.55 / 3.30 ms, parallel path 1.84 / 2.46 / 3.55 ms at
#: n = 16 / 32 / 64; two threads halve the parallel path at best, and waking them
#: cost 0.3-0.4 ms on the shared machine. Crossover: between 32 and 64.
SERIAL_MAX_N = 32
#: ...and up to this many multiply-adds ``n·d·d_h``, whatever n.
SERIAL_MAX_WORK = 1 << 17
#: Rows per chunk of the parallel path: each chunk owns a slice of the gW2 partials.
CHUNK_ROWS = 64
#: At most this many chunks (their gW2 partials are summed serially at the end).
MAX_CHUNKS = 32
#: Tiles of gW1 in the packed backward: TILE_ROWS rows of W1 × TILE_COLS inputs.
TILE_ROWS = 64
TILE_COLS = 128


def _serial(n: int, d: int, d_h: int) -> bool:
    return n <= SERIAL_MAX_N or n * d * d_h <= SERIAL_MAX_WORK


# ---------------------------------------------------------------- serial kernels


@njit(**JIT)
def _hidden_rows(X, W1, b1, ha, hs, i0, i1):
    """Rows i0:i1 of ``ha = X W1ᵀ + b1`` and ``hs = relu(ha)`` (2.#1); hs may be ha."""
    zero = ha.dtype.type(0)
    d_h = W1.shape[0]
    for i in range(i0, i1):
        for j in range(d_h):
            ha[i, j] = zero
    _gemm_nt(X, W1, ha, i0, i1, 0, d_h, X.shape[1])  # 2.#1: X W1ᵀ
    for i in range(i0, i1):
        for j in range(d_h):
            v = ha[i, j] + b1[j]  # 2.#1: + b1
            ha[i, j] = v
            hs[i, j] = v if v > zero else zero  # 2.#1: rect


@njit(**JIT)
def _output_row(hs, W2, b2, i, oa):
    """``oa[i] = hs[i] W2ᵀ + b2`` (2.#2); returns the row maximum."""
    h = hs[i]
    top = oa.dtype.type(-np.inf)
    for c in range(W2.shape[0]):
        w = W2[c]
        s = oa.dtype.type(0)
        for j in range(h.shape[0]):
            s += h[j] * w[j]
        v = s + b2[c]  # 2.#2
        oa[i, c] = v
        top = max(top, v)
    return top


@njit(**JIT)
def _softmax_row(oa, i, top, os):
    """``os[i] = softmax(oa[i])`` (2.#3), shifted by the row maximum; returns ``logsumexp``."""
    s = oa.dtype.type(0)
    for c in range(oa.shape[1]):
        e = np.exp(oa[i, c] - top)  # argument <= 0: no overflow
        os[i, c] = e
        s += e
    for c in range(oa.shape[1]):
        os[i, c] /= s  # 2.#3
    return np.log(s) + top


@njit(**JIT)
def _grad_oa_row(os, y, i, G_oa):
    """``G_oa[i] = (os[i] − onehot(y_i)) / n`` (2.#7–8)."""
    n_rows = os.dtype.type(os.shape[0])
    one = os.dtype.type(1)
    for c in range(os.shape[1]):
        G_oa[i, c] = os[i, c] / n_rows
    G_oa[i, y[i]] = (os[i, y[i]] - one) / n_rows  # 2.#7–8


@njit(**JIT)
def _forward_rows(X, W1, b1, W2, b2, ha, hs, oa, os, i0, i1):
    """Rows i0:i1 of the forward pass (2.#1–3)."""
    _hidden_rows(X, W1, b1, ha, hs, i0, i1)
    for i in range(i0, i1):
        top = _output_row(hs, W2, b2, i, oa)
        _softmax_row(oa, i, top, os)


@njit(**JIT)
def _loss_rows(X, y, W1, b1, W2, b2, hs, oa, i0, i1):
    """``Σ L_i`` over rows i0:i1, ``L_i = logsumexp(oa_i) − oa[i, y_i]`` (2.#4), in float64.

    hs (rows i0:i1) and oa (rows i0:i1) are scratch.
    """
    _hidden_rows(X, W1, b1, hs, hs, i0, i1)
    total = 0.0
    for i in range(i0, i1):
        top = _output_row(hs, W2, b2, i, oa)
        s = oa.dtype.type(0)
        for c in range(oa.shape[1]):
            s += np.exp(oa[i, c] - top)
        total += np.log(s) + top - oa[i, y[i]]  # 2.#4
    return total


@njit(**JIT)
def _output_grad_rows(X, y, W1, b1, W2, b2, hs, oa, os, G_oa, i0, i1):
    """Forward rows i0:i1 (hs only), softmax, ``Σ L_i`` and ``G_oa`` (2.#1–8), one pass per row."""
    _hidden_rows(X, W1, b1, hs, hs, i0, i1)
    total = 0.0
    for i in range(i0, i1):
        top = _output_row(hs, W2, b2, i, oa)
        lse = _softmax_row(oa, i, top, os)
        total += lse - oa[i, y[i]]  # 2.#4
        _grad_oa_row(os, y, i, G_oa)
    return total


@njit(**JIT)
def _grad_ha_row(G_oa, W2, hs, mask, i, gW2, gb2, out):
    """``out = G_ha[i]`` and the contributions of row i to gW2 and gb2 (2.#9–14).

    ``G_hs[i] = G_oa[i] W2`` (2.#11–12) and ``gW2 += G_oa[i]ᵀ hs[i]`` (2.#9–10) share
    one sweep over W2; ``G_ha = G_hs ⊙ 1[mask > 0]`` with mask ha or hs (2.#13–14).
    """
    zero = out.dtype.type(0)
    h = hs[i]
    msk = mask[i]
    for j in range(out.shape[0]):
        out[j] = zero
    for c in range(W2.shape[0]):
        g = G_oa[i, c]
        gb2[c] += g  # 2.#9–10: column sum
        w = W2[c]
        pw = gW2[c]
        for j in range(out.shape[0]):
            out[j] += g * w[j]  # 2.#11–12
            pw[j] += g * h[j]  # 2.#9–10
    for j in range(out.shape[0]):
        out[j] = out[j] if msk[j] > zero else zero  # 2.#13–14: indicator on ha


@njit(**JIT)
def _backprop_rows(X, G_oa, W2, hs, mask, GhaT, XT, gW2, gb2, i0, i1):
    """Rows i0:i1: ``G_ha`` into the transposed GhaT, gW2/gb2 partials, ``Xᵀ`` into XT.

    G_ha is formed in 8-row bands and written as whole cache lines of GhaT.
    """
    d_h = hs.shape[1]
    band = np.empty((8, d_h), hs.dtype)
    for ib in range(i0, i1, 8):
        ie = min(i1, ib + 8)
        for i in range(ib, ie):
            _grad_ha_row(G_oa, W2, hs, mask, i, gW2, gb2, band[i - ib])
        for j in range(d_h):
            for i in range(ib, ie):
                GhaT[j, i] = band[i - ib, j]
    _transpose_rows(X, XT, i0, i1)


@njit(**JIT)
def _norms(W):
    """``(‖W‖₁, ‖W‖₂²)`` (1.#8–9), summed in float64: a scalar result, not a hot loop."""
    a = 0.0
    q = 0.0
    for j in range(W.shape[0]):
        for k in range(W.shape[1]):
            v = W[j, k]
            a += abs(v)
            q += v * v
    return a, q


@njit(**JIT)
def _add_penalty_grad(g, W, l1, two_l2, r0, r1, c0, c1):
    """``g += l1·sign(W) + 2·l2·W`` on the block [r0:r1, c0:c1] (1.#8–9); sign(0) = 0."""
    zero = W.dtype.type(0)
    one = W.dtype.type(1)
    for j in range(r0, r1):
        for k in range(c0, c1):
            v = W[j, k]
            sign = one if v > zero else (-one if v < zero else zero)  # 1.#9
            g[j, k] += l1 * sign + two_l2 * v  # 1.#8–9


# ---------------------------------------------------------------- serial path


@njit(**JIT)
def _forward_serial(X, W1, b1, W2, b2):
    n, d_h, m = X.shape[0], W1.shape[0], W2.shape[0]
    ha = np.empty((n, d_h), X.dtype)
    hs = np.empty((n, d_h), X.dtype)
    oa = np.empty((n, m), X.dtype)
    os = np.empty((n, m), X.dtype)
    _forward_rows(X, W1, b1, W2, b2, ha, hs, oa, os, 0, n)
    return ha, hs, oa, os


@njit(**JIT)
def _loss_serial(X, y, W1, b1, W2, b2):
    n = X.shape[0]
    hs = np.empty((n, W1.shape[0]), X.dtype)
    oa = np.empty((n, W2.shape[0]), X.dtype)
    return _loss_rows(X, y, W1, b1, W2, b2, hs, oa, 0, n)


@njit(**JIT)
def _grads_serial(X, G_oa, W1, W2, hs, mask, l1, two_l2, penalize):
    """Gradients from ``G_oa`` (2.#9–16) in plain loops: gW1 by ``_axpy_t`` (rank-1 at n = 1)."""
    n, d = X.shape
    d_h, m = W1.shape[0], W2.shape[0]
    gW2 = np.zeros((m, d_h), X.dtype)
    gb2 = np.zeros(m, X.dtype)
    gb1 = np.zeros(d_h, X.dtype)
    G_ha = np.empty((n, d_h), X.dtype)
    for i in range(n):
        _grad_ha_row(G_oa, W2, hs, mask, i, gW2, gb2, G_ha[i])
        for j in range(d_h):
            gb1[j] += G_ha[i, j]  # 2.#15–16: column sum
    gW1 = np.zeros((d_h, d), X.dtype)
    _axpy_t(G_ha, X, gW1, 0, d_h)  # 2.#15–16: gW1 = G_haᵀ X
    if penalize:
        _add_penalty_grad(gW1, W1, l1, two_l2, 0, d_h, 0, d)
        _add_penalty_grad(gW2, W2, l1, two_l2, 0, m, 0, d_h)
    return gW1, gb1, gW2, gb2


@njit(**JIT)
def _step_serial(X, y, W1, b1, W2, b2, l1, two_l2, penalize):
    n = X.shape[0]
    hs = np.empty((n, W1.shape[0]), X.dtype)
    oa = np.empty((n, W2.shape[0]), X.dtype)
    os = np.empty_like(oa)
    G_oa = np.empty_like(oa)
    total = _output_grad_rows(X, y, W1, b1, W2, b2, hs, oa, os, G_oa, 0, n)
    gW1, gb1, gW2, gb2 = _grads_serial(X, G_oa, W1, W2, hs, hs, l1, two_l2, penalize)
    return total, gW1, gb1, gW2, gb2


@njit(**JIT)
def _backward_serial(X, y, W1, W2, ha, hs, os, l1, two_l2, penalize):
    G_oa = np.empty_like(os)
    for i in range(os.shape[0]):
        _grad_oa_row(os, y, i, G_oa)
    return _grads_serial(X, G_oa, W1, W2, hs, ha, l1, two_l2, penalize)


# ---------------------------------------------------------------- parallel path


@njit(**JIT)
def _chunks(n):
    """Row chunks of the parallel path: ``(count, rows)``, whole 8-row bands, at least
    four chunks when n allows (two threads stay busy), at most MAX_CHUNKS. A function
    of n only, so that results do not depend on the number of threads."""
    rows = min(CHUNK_ROWS, max(8, ((n + 3) // 4 + 7) // 8 * 8))
    if (n + rows - 1) // rows > MAX_CHUNKS:
        rows = ((n + MAX_CHUNKS - 1) // MAX_CHUNKS + 7) // 8 * 8
    return (n + rows - 1) // rows, rows


@njit(**JIT_PARALLEL)
def _forward_parallel(X, W1, b1, W2, b2):
    n, d_h, m = X.shape[0], W1.shape[0], W2.shape[0]
    ha = np.empty((n, d_h), X.dtype)
    hs = np.empty((n, d_h), X.dtype)
    oa = np.empty((n, m), X.dtype)
    os = np.empty((n, m), X.dtype)
    count, rows = _chunks(n)
    for t in prange(count):  # chunks own disjoint rows of every output
        _forward_rows(X, W1, b1, W2, b2, ha, hs, oa, os, t * rows, min(n, (t + 1) * rows))
    return ha, hs, oa, os


@njit(**JIT_PARALLEL)
def _grad_w1_parallel(GhaT, XT, n, W1, l1, two_l2, penalize):
    """``gW1 = G_haᵀ X`` and ``gb1 = Σ_i G_ha[i]`` (2.#15–16) from the packed GhaT (d_h×ld)
    and XT (d×ld), penalties added per tile. Every tile of gW1 belongs to one
    iteration of the prange, every gb1[j] to one row sum: no race."""
    d_h, d = W1.shape
    zero = W1.dtype.type(0)
    gW1 = np.zeros((d_h, d), W1.dtype)
    gb1 = np.empty(d_h, W1.dtype)
    n_r = (d_h + TILE_ROWS - 1) // TILE_ROWS
    n_c = (d + TILE_COLS - 1) // TILE_COLS
    for t in prange(n_r * n_c):  # disjoint tiles of gW1
        r0 = (t // n_c) * TILE_ROWS
        r1 = min(d_h, r0 + TILE_ROWS)
        c0 = (t % n_c) * TILE_COLS
        c1 = min(d, c0 + TILE_COLS)
        _gemm_nt(GhaT, XT, gW1, r0, r1, c0, c1, n)  # 2.#15–16
        if penalize:
            _add_penalty_grad(gW1, W1, l1, two_l2, r0, r1, c0, c1)
    for j in prange(d_h):  # one row sum of GhaT per iteration
        g = GhaT[j, :n]
        s = zero
        for i in range(n):
            s += g[i]
        gb1[j] = s  # 2.#15–16
    return gW1, gb1


@njit(**JIT)
def _reduce_partials(gW2_parts, gb2_parts, W2, l1, two_l2, penalize):
    """Sum the per-chunk gW2 and gb2 partials serially, then add the gW2 penalty."""
    count, m, d_h = gW2_parts.shape
    gW2 = gW2_parts[0].copy()
    gb2 = gb2_parts[0].copy()
    for t in range(1, count):
        for c in range(m):
            gb2[c] += gb2_parts[t, c]
            for j in range(d_h):
                gW2[c, j] += gW2_parts[t, c, j]
    if penalize:
        _add_penalty_grad(gW2, W2, l1, two_l2, 0, m, 0, d_h)
    return gW2, gb2


@njit(**JIT_PARALLEL)
def _grads_parallel(X, y, W1, b1, W2, b2, ha, hs, os, given, l1, two_l2, penalize, ld):
    """The gradient in two parallel phases: row chunks (G_oa, G_ha, gW2/gb2 partials,
    packing ``Xᵀ`` and ``G_haᵀ`` into rows of length ld), then tiles of gW1.

    given: ha, hs, os are the forward pass (``backward``); otherwise hs and os are
    scratch, filled chunk by chunk with the loss (``loss_and_grad``) and ha is unused.
    Returns ``(Σ L_i or 0, gW1, gb1, gW2, gb2)``.
    """
    n, d = X.shape
    d_h, m = W1.shape[0], W2.shape[0]
    oa = np.empty((n, m), X.dtype)
    G_oa = np.empty_like(os)
    GhaT = np.empty((d_h, ld), X.dtype)
    XT = np.empty((d, ld), X.dtype)
    count, rows = _chunks(n)
    loss_parts = np.zeros(count)
    gW2_parts = np.zeros((count, m, d_h), X.dtype)
    gb2_parts = np.zeros((count, m), X.dtype)
    for t in prange(count):  # chunk t owns its rows and its partials: no race
        i0 = t * rows
        i1 = min(n, i0 + rows)
        if given:
            for i in range(i0, i1):
                _grad_oa_row(os, y, i, G_oa)
            mask = ha
        else:
            loss_parts[t] = _output_grad_rows(X, y, W1, b1, W2, b2, hs, oa, os, G_oa, i0, i1)
            mask = hs
        _backprop_rows(X, G_oa, W2, hs, mask, GhaT, XT, gW2_parts[t], gb2_parts[t], i0, i1)
    gW1, gb1 = _grad_w1_parallel(GhaT, XT, n, W1, l1, two_l2, penalize)
    gW2, gb2 = _reduce_partials(gW2_parts, gb2_parts, W2, l1, two_l2, penalize)
    return loss_parts.sum(), gW1, gb1, gW2, gb2


@njit(**JIT)
def _nll_sum(oa, y):
    """``Σ_i L_i``, ``L_i = logsumexp(oa_i) − oa[i, y_i]`` (2.#4), in float64."""
    total = 0.0
    for i in range(oa.shape[0]):
        top = oa[i, 0]
        for c in range(oa.shape[1]):
            top = max(top, oa[i, c])
        s = oa.dtype.type(0)
        for c in range(oa.shape[1]):
            s += np.exp(oa[i, c] - top)
        total += np.log(s) + top - oa[i, y[i]]  # 2.#4
    return total


# ---------------------------------------------------------------- raw functions


def _penalty_scalars(p: Params, l1: float, l2: float):
    scalar = p.W1.dtype.type
    return scalar(l1), scalar(2.0 * l2), (l1 != 0.0 or l2 != 0.0)


def _penalty_value(p: Params, l1: float, l2: float) -> float:
    """``l1·(‖W1‖₁+‖W2‖₁) + l2·(‖W1‖₂²+‖W2‖₂²)`` (2.#5)."""
    if l1 == 0.0 and l2 == 0.0:
        return 0.0
    a1, q1 = _norms(p.W1)
    a2, q2 = _norms(p.W2)
    return l1 * (a1 + a2) + l2 * (q1 + q2)


def forward(p: Params, X: np.ndarray) -> Forward:
    """``Forward(ha, hs, oa, os)`` (2.#1–3)."""
    n, d = X.shape
    run = _forward_serial if _serial(n, d, p.W1.shape[0]) else _forward_parallel
    return Forward(*run(X, p.W1, p.b1, p.W2, p.b2))


def loss(p: Params, X: np.ndarray, y: np.ndarray, l1: float = 0.0, l2: float = 0.0) -> float:
    """Regularized risk ``R`` (2.#4–5)."""
    n, d = X.shape
    if _serial(n, d, p.W1.shape[0]):
        total = _loss_serial(X, y, p.W1, p.b1, p.W2, p.b2)
    else:
        total = _nll_sum(_forward_parallel(X, p.W1, p.b1, p.W2, p.b2)[2], y)
    return float(total) / n + _penalty_value(p, l1, l2)


def loss_and_grad(
    p: Params, X: np.ndarray, y: np.ndarray, l1: float = 0.0, l2: float = 0.0
) -> tuple[float, Params]:
    """``(R, ∂R/∂Θ)`` (2.#1–16, penalties 1.#8–9)."""
    n, d = X.shape
    s1, s2, penalize = _penalty_scalars(p, l1, l2)
    if _serial(n, d, p.W1.shape[0]):
        total, *g = _step_serial(X, y, p.W1, p.b1, p.W2, p.b2, s1, s2, penalize)
    else:
        hs = np.empty((n, p.W1.shape[0]), X.dtype)
        os = np.empty((n, p.W2.shape[0]), X.dtype)
        ld = leading_dim(n, X.dtype.itemsize)
        total, *g = _grads_parallel(X, y, p.W1, p.b1, p.W2, p.b2, hs, hs, os, False,
                                    s1, s2, penalize, ld)
    return float(total) / n + _penalty_value(p, l1, l2), Params(*g)


def backward(
    p: Params, X: np.ndarray, y: np.ndarray, f: Forward, l1: float = 0.0, l2: float = 0.0
) -> Params:
    """Gradient ``∂R/∂Θ`` given the forward pass f (2.#7–16, penalties 1.#8–9)."""
    n, d = X.shape
    s1, s2, penalize = _penalty_scalars(p, l1, l2)
    if _serial(n, d, p.W1.shape[0]):
        g = _backward_serial(X, y, p.W1, p.W2, f.ha, f.hs, f.os, s1, s2, penalize)
    else:
        ld = leading_dim(n, X.dtype.itemsize)
        _, *g = _grads_parallel(X, y, p.W1, p.b1, p.W2, p.b2, f.ha, f.hs, f.os, True,
                                s1, s2, penalize, ld)
    return Params(*g)
