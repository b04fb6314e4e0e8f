"""The MLP as Numba JIT kernels: one fused pass over the batch around two large products.

A step (``loss_and_grad``) makes three passes over one n×d_h scratch array, ``XW1t_G_ha``:
``X W1ᵀ`` into it; then, row by row while the row is in L1 (four rows at a time), every
m-thin product and element-wise formula of 2.#1–16, leaving each example's row of
``G_ha`` where its row of ``X W1ᵀ`` was; then ``gW1 = G_haᵀ X``. The two large products
are register-tiled loops for small n, where BLAS's packing costs more than the product,
and NumPy's BLAS (``np.matmul``) above: the same library, and thread pool, as the numpy
implementation; numba's ``np.dot`` would call SciPy's OpenBLAS, measured 5-70% slower
for ``G_haᵀ X`` here. The row pieces shared with ``numba-loops`` are in ``_numba_blocks``.
Inputs are trusted to be in the form ``mlp.check_inputs`` returns; ``out`` arrays must
be C-contiguous and unaliased (``mlp.check_out``).
"""

from __future__ import annotations

import threading
from typing import NamedTuple

import numba
import numpy as np
from numba import njit, prange

from mlpbench._numba_config import JIT, JIT_PARALLEL, SPINNING_LAYERS
from mlpbench.errors import InputError
from mlpbench.mlp import _numba_blocks as blocks
from mlpbench.mlp.params import Forward, Params, Workspace, empty_like

__all__ = ["GTX_MAX_ROWS", "XWT_BLOCK", "XWT_MAX_ROWS", "XWT_NARROW_D_H", "backward", "forward", "loss",
           "loss_and_grad", "workspace"]

#: Up to this many rows (float64, float32), ``X W1ᵀ`` is a register-tiled loop, not BLAS:
#: OpenBLAS packs whole operands first, which costs ~3x the product at n = 4 (d = 784,
#: d_h = 256: 200 µs vs 64 µs in float64, 180 vs 31 in float32); the two tie near
#: n = 64 in float64 and n = 128 in float32.
XWT_MAX_ROWS = (32, 64)
#: Up to this many hidden units (float64, float32), ``X W1ᵀ`` is the register-tiled
#: loop at every n when numba runs on one thread (the sweep's ``--threads 1`` gives BLAS
#: one too): W1 then fits in L2 (32 × 784 float64: 200 KiB) and the product is one pass
#: over X, where OpenBLAS's packing of narrow panels costs more. Measured on a Zen 3 VM,
#: n = 1024, d = 784, 1 thread, the product alone, µs BLAS/tiles: float32 d_h = 16
#: 409/325, 32 652/591, 64 1166/1275; float64 d_h = 16 901/693, 32 1474/1330, 64
#: 2630/2745. The whole step against the BLAS dispatch, same run, two runs
#: (reports/2026-12-03-vm-zen3-narrow): float64 1.07-1.10× at d_h = 16, 1.03-1.05× at 32;
#: float32 1.02-1.03× at 16, 0.98-1.02× at 32 (so float32 stops at 16). With more
#: threads BLAS splits the product and stays.
XWT_NARROW_D_H = (32, 16)
#: Rows of W1 per block of the tiled ``X W1ᵀ`` (32 × 784 float64: 200 KiB, half of L2).
XWT_BLOCK = 32
#: Up to this many rows, ``gW1 = G_haᵀ X`` is a loop that skips the zeros of G_ha; BLAS
#: wins from n ≈ 32 on (295 vs 311 µs at n = 16, 565 vs 504 at n = 32, float64).
GTX_MAX_ROWS = 16
#: With two threads or more under a threading layer whose threads spin between regions
#: (``_numba_config.SPINNING_LAYERS``: OpenMP), the small-n step (n <= GTX_MAX_ROWS)
#: splits its two products over the hidden units from this size of W1 (d·d_h entries)
#: on. Measured at 2 threads, d = 784, d_h = 256, OpenMP with GOMP_SPINCOUNT=20000:
#: parallel/serial 0.45-0.54 (float64) and 0.56-0.65 (float32) at n = 1, 4, 16 (each
#: core keeps its half of W1 and gW1 in its own L2). Under 'workqueue', whose threads
#: sleep, waking one costs ~150 µs on the project's VM (an empty region: 2 µs under
#: OpenMP), and the split was 1.2-4x slower: the step stays serial there. The sweep runs
#: numba under 'workqueue' (harness.machine: in a sweep next to NumPy's 2-thread OpenBLAS
#: calls, OpenMP's points were 2-30x slower and erratic), so there this step is serial;
#: numba's own default layer, for a program that imports it, is OpenMP (TBB if found).
SMALL_PARALLEL_MIN_WORK = 1 << 15

# ---------------------------------------------------------------- one row of the batch


@njit(**JIT, inline="always")
def _nll_grad_row(oa, top, label, inv_n, G_oa):
    """``G_oa = (softmax(oa) − onehot(label)) / n`` (2.#3, 2.#7–8) for one example, without
    storing os; returns ``L_i / n`` (2.#4–5), ``logsumexp(oa) = top + log Σ exp(oa − top)``."""
    s = oa.dtype.type(0)
    for k in range(oa.shape[0]):
        e = np.exp(oa[k] - top)  # argument <= 0: no overflow
        G_oa[k] = e
        s += e
    scale = inv_n / s
    for k in range(oa.shape[0]):
        G_oa[k] *= scale
    G_oa[label] -= inv_n
    return blocks.nll_term(np.log(s) + top, oa[label], inv_n)


# ------------------------------------------------------------------- blocks of rows


@njit(**JIT, inline="always")
def _step_block(XW1t_G_ha, i, y, b1, W2, b2, inv_n, hs, oa, G_oa, gW2, gb1, gb2):
    """Examples i:i+4 of a step, as ``_row_pass`` does them one at a time, but with each
    pass over W2 or gW2 shared by the four: register tiles of 4 examples × 2 rows of W2
    for the logits and gW2, five rows of W2 per pass for G_hs (30% fewer loads than 4 × 1;
    measured 12% faster in float32, no change in float64).

    hs (4×d_h), oa, G_oa (4×m) are scratch; returns ``Σ L_i / n`` over the four. The
    d_h-long rows (of XW1t_G_ha, hs, W2 and gW2) are indexed in place, not taken as views:
    a view costs two atomic reference counts (row pass at n = 4096, float64: views
    7.5 ms, views into inlined helpers 6.3, this 5.8). Only the m-long rows of oa and
    G_oa given to ``row_max`` and ``_nll_grad_row`` are views, one per example.
    """
    m, d_h = W2.shape
    zero = XW1t_G_ha.dtype.type(0)
    for r in range(4):
        for j in range(d_h):
            v = XW1t_G_ha[i + r, j] + b1[j]  # 2.#1
            hs[r, j] = v if v > zero else zero
    for k in range(0, m, 2):  # 2.#2: 4×2 tiles of dot products, 6 loads per 8 FMAs
        k1 = min(k + 1, m - 1)  # an odd m repeats its last row of W2, stored twice
        s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = zero
        for j in range(d_h):
            v, w = W2[k, j], W2[k1, j]
            s00 += v * hs[0, j]
            s01 += w * hs[0, j]
            s10 += v * hs[1, j]
            s11 += w * hs[1, j]
            s20 += v * hs[2, j]
            s21 += w * hs[2, j]
            s30 += v * hs[3, j]
            s31 += w * hs[3, j]
        oa[0, k], oa[1, k], oa[2, k], oa[3, k] = s00 + b2[k], s10 + b2[k], s20 + b2[k], s30 + b2[k]
        oa[0, k1], oa[1, k1] = s01 + b2[k1], s11 + b2[k1]
        oa[2, k1], oa[3, k1] = s21 + b2[k1], s31 + b2[k1]
    total = 0.0
    for r in range(4):
        o = oa[r]
        total += _nll_grad_row(o, blocks.row_max(o), y[i + r], inv_n, G_oa[r])  # 2.#3–8
    for k in range(0, m - 1, 2):  # 2.#9–10: gW2 += G_oaᵀ hs, two rows of gW2 per pass
        c0, c1, c2, c3 = G_oa[0, k], G_oa[1, k], G_oa[2, k], G_oa[3, k]
        e0, e1, e2, e3 = G_oa[0, k + 1], G_oa[1, k + 1], G_oa[2, k + 1], G_oa[3, k + 1]
        for j in range(d_h):
            a0, a1, a2, a3 = hs[0, j], hs[1, j], hs[2, j], hs[3, j]
            gW2[k, j] += c0 * a0 + c1 * a1 + c2 * a2 + c3 * a3
            gW2[k + 1, j] += e0 * a0 + e1 * a1 + e2 * a2 + e3 * a3
    if m % 2:
        k = m - 1
        c0, c1, c2, c3 = G_oa[0, k], G_oa[1, k], G_oa[2, k], G_oa[3, k]
        for j in range(d_h):
            gW2[k, j] += c0 * hs[0, j] + c1 * hs[1, j] + c2 * hs[2, j] + c3 * hs[3, j]
    for k in range(m):  # 2.#9–10: gb2 += Σ_i G_oa[i]
        gb2[k] += (G_oa[0, k] + G_oa[1, k]) + (G_oa[2, k] + G_oa[3, k])
    for r in range(4):  # 2.#11–14: G_ha = (G_oa W2) ⊙ 1[ha > 0], over the row of X W1ᵀ
        row = i + r
        for k in range(0, m, 5):  # five rows of W2 per pass; rows past m get a zero weight
            k1, k2 = min(k + 1, m - 1), min(k + 2, m - 1)
            k3, k4 = min(k + 3, m - 1), min(k + 4, m - 1)
            c0 = G_oa[r, k]
            c1 = G_oa[r, k1] if k + 1 < m else zero
            c2 = G_oa[r, k2] if k + 2 < m else zero
            c3 = G_oa[r, k3] if k + 3 < m else zero
            c4 = G_oa[r, k4] if k + 4 < m else zero
            if k == 0:
                for j in range(d_h):
                    XW1t_G_ha[row, j] = (c0 * W2[k, j] + c1 * W2[k1, j] + c2 * W2[k2, j]
                                         + c3 * W2[k3, j] + c4 * W2[k4, j])
            else:
                for j in range(d_h):
                    XW1t_G_ha[row, j] += (c0 * W2[k, j] + c1 * W2[k1, j] + c2 * W2[k2, j]
                                          + c3 * W2[k3, j] + c4 * W2[k4, j])
        for j in range(d_h):  # hs > 0 exactly where ha > 0
            XW1t_G_ha[row, j] = XW1t_G_ha[row, j] if hs[r, j] > zero else zero
    for j in range(d_h):  # 2.#15–16: gb1 += Σ_i G_ha[i]
        gb1[j] += (XW1t_G_ha[i, j] + XW1t_G_ha[i + 1, j]) + (XW1t_G_ha[i + 2, j]
                                                               + XW1t_G_ha[i + 3, j])
    return total


@njit(**JIT)
def _row_pass(XW1t_G_ha, y, b1, W2, b2, hs, oa, G_oa, gb1, gW2, gb2):
    """The row pass of a step (2.#1–16): each row of XW1t_G_ha holds the example's
    ``X W1ᵀ`` on entry and its ``G_ha`` on return; gW2, gb1, gb2 are set.

    Returns ``Σ_i L_i / n`` in float64. hs (4×d_h), oa, G_oa (4×m) are scratch: blocks
    of four examples (``_step_block``, inlined: compiled here only), then one at a time.
    """
    i1 = XW1t_G_ha.shape[0]
    _zero_grads(gb1, gW2, gb2)
    inv_n = XW1t_G_ha.dtype.type(1) / XW1t_G_ha.dtype.type(i1)
    total = 0.0
    i = 0
    while i + 4 <= i1:
        total += _step_block(XW1t_G_ha, i, y, b1, W2, b2, inv_n, hs, oa, G_oa, gW2, gb1, gb2)
        i += 4
    for r in range(i, i1):
        row = XW1t_G_ha[r]
        blocks.hidden_row(row, b1, hs[0], hs[0])  # 2.#1 (ha itself is not kept)
        top = blocks.logits_row(hs[0], W2, b2, oa[0])  # 2.#2
        total += _nll_grad_row(oa[0], top, y[r], inv_n, G_oa[0])  # 2.#3–8
        blocks.backprop_row(G_oa[0], W2, hs[0], hs[0], row, gW2, gb2)  # 2.#9–14: G_ha into row
        blocks.add_row(gb1, row)  # 2.#15–16
    return total


@njit(**JIT)
def _backward_rows(hs, ha, os, y, W2, inv_n, i0, i1, G_oa, G_ha, gW2, gb1, gb2):
    """Rows i0:i1 of ``G_ha`` from a forward pass, adding to gW2, gb1, gb2 (2.#7–16).
    G_oa is one row of scratch."""
    for i in range(i0, i1):
        blocks.grad_oa_row(os[i], y[i], inv_n, G_oa)  # 2.#7–8
        blocks.backprop_row(G_oa, W2, hs[i], ha[i], G_ha[i], gW2, gb2)  # 2.#9–14
        blocks.add_row(gb1, G_ha[i])  # 2.#15–16


@njit(**JIT)
def _xwt_small(X, W1, XW1t, j0, j1):
    """Columns j0:j1 of ``XW1t = X W1ᵀ`` for few examples, without BLAS's packing: tiles
    of 4 examples by 3 hidden units (``dots_4x3``) over blocks of XWT_BLOCK rows of W1
    that stay in L2 while every strip of X passes."""
    n, d = X.shape
    zero = XW1t.dtype.type(0)
    for jb in range(j0, j1, XWT_BLOCK):
        je = min(j1, jb + XWT_BLOCK)
        i = 0
        while i + 4 <= n:
            a0, a1, a2, a3 = X[i], X[i + 1], X[i + 2], X[i + 3]
            j = jb
            while j + 3 <= je:
                c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32 = blocks.dots_4x3(
                    a0, a1, a2, a3, W1[j], W1[j + 1], W1[j + 2])
                XW1t[i, j], XW1t[i, j + 1], XW1t[i, j + 2] = c00, c01, c02
                XW1t[i + 1, j], XW1t[i + 1, j + 1], XW1t[i + 1, j + 2] = c10, c11, c12
                XW1t[i + 2, j], XW1t[i + 2, j + 1], XW1t[i + 2, j + 2] = c20, c21, c22
                XW1t[i + 3, j], XW1t[i + 3, j + 1], XW1t[i + 3, j + 2] = c30, c31, c32
                j += 3
            first = j
            for j in range(first, je):  # remaining hidden units of the block: 4×1 tiles
                c0, c1, c2, c3 = blocks.dots_4x1(a0, a1, a2, a3, W1[j])
                XW1t[i, j], XW1t[i + 1, j], XW1t[i + 2, j], XW1t[i + 3, j] = c0, c1, c2, c3
            i += 4
        first = i
        for i in range(first, n):  # remaining examples: single dot products
            x = X[i]
            for j in range(jb, je):
                w = W1[j]
                c0 = zero
                for l in range(d):
                    c0 += x[l] * w[l]
                XW1t[i, j] = c0


@njit(**JIT)
def _gtx_small(G_ha, X, gW1, nonzero, j0, j1):
    """Rows j0:j1 of ``gW1 = G_haᵀ X`` for few examples: ``gW1[j] = Σ_i G_ha[i, j] X[i]``
    over the i with ``G_ha[i, j] ≠ 0`` only (ReLU zeroes about half of G_ha), up to four
    examples per pass over ``gW1[j]``, the first pass storing rather than adding.
    nonzero: int64 scratch of n, the examples i kept for the current j.
    """
    n = G_ha.shape[0]
    zero = gW1.dtype.type(0)
    for j in range(j0, j1):
        gw = gW1[j]
        count = 0
        for i in range(n):
            if G_ha[i, j] != zero:
                nonzero[count] = i
                count += 1
        if count == 0:
            gw[:] = zero
        elif count == 1:  # one example (n = 1): a scaled copy, 1 multiply per entry
            g0 = G_ha[nonzero[0], j]
            x0 = X[nonzero[0]]
            for l in range(gw.shape[0]):
                gw[l] = g0 * x0[l]
            continue
        for t in range(0, count, 4):
            # examples past count get a zero weight and repeat nonzero[t]: no branch inside
            i0 = nonzero[t]
            i1 = nonzero[t + 1] if t + 1 < count else i0
            i2 = nonzero[t + 2] if t + 2 < count else i0
            i3 = nonzero[t + 3] if t + 3 < count else i0
            g0 = G_ha[i0, j]
            g1 = G_ha[i1, j] if t + 1 < count else zero
            g2 = G_ha[i2, j] if t + 2 < count else zero
            g3 = G_ha[i3, j] if t + 3 < count else zero
            blocks.axpy4(gw, g0, X[i0], g1, X[i1], g2, X[i2], g3, X[i3], t > 0)


@njit(**JIT)
def _zero_grads(gb1, gW2, gb2):
    gb1[:] = 0
    gW2[:] = 0
    gb2[:] = 0


# ------------------------------------------------------------------------ drivers
# Each driver below is called from Python, never from another compiled function: numba
# compiles a function's callees again into each caller (it links their code in and
# optimizes and emits the whole), so every level of compiled calls above the row pass
# would compile it once more (measured: ~1 s per level and dtype).


@njit(**JIT)
def _span(size, parts, c, align):
    """Part c of ``range(size)`` cut into ``parts`` nearly equal spans whose inner
    bounds are multiples of align (no two threads write one cache line)."""
    lo = (size * c // parts) // align * align
    hi = size if c == parts - 1 else (size * (c + 1) // parts) // align * align
    return lo, hi


@njit(**JIT_PARALLEL)
def _xwt_split(X, W1, XW1t, parts):
    """``_xwt_small`` split over the hidden units: each of ``parts`` threads its own
    columns of X W1ᵀ (and rows of W1). With ``_gtx_split``, the small-n step on several
    threads: at n = 1 each core streams half of W1 in and half of gW1 out, from its
    own L2; the row pass between them (O(n·d_h·m)) stays serial."""
    d_h = W1.shape[0]
    align = 64 // XW1t.itemsize  # one cache line of a row of XW1t
    for c in prange(parts):
        j0, j1 = _span(d_h, parts, c, align)
        _xwt_small(X, W1, XW1t, j0, j1)


@njit(**JIT_PARALLEL)
def _gtx_split(G_ha, X, gW1, nonzero):
    """``_gtx_small`` split over the hidden units: each thread its own rows of gW1 (the
    outputs are split, not the examples: no race) and its own row of nonzero."""
    d_h = gW1.shape[0]
    parts = nonzero.shape[0]
    align = 64 // G_ha.itemsize
    for c in prange(parts):
        j0, j1 = _span(d_h, parts, c, align)
        _gtx_small(G_ha, X, gW1, nonzero[c], j0, j1)


@njit(**JIT)
def _backward_rows_all(y, W2, ha, hs, os, G_ha, G_oa, gb1, gW2, gb2):
    """G_ha and gW2, gb1, gb2 from a forward pass (2.#7–16), on one thread."""
    n = G_ha.shape[0]
    _zero_grads(gb1, gW2, gb2)
    inv_n = G_ha.dtype.type(1) / G_ha.dtype.type(n)
    _backward_rows(hs, ha, os, y, W2, inv_n, 0, n, G_oa[0], G_ha, gW2, gb1, gb2)


@njit(**JIT)
def _forward_rows(b1, W2, b2, ha, hs, oa, os):
    """From ``ha = X W1ᵀ`` (without the bias) fill ``ha, hs, oa, os`` (2.#1–3)."""
    for i in range(ha.shape[0]):
        h, s, o = ha[i], hs[i], oa[i]
        blocks.hidden_row(h, b1, h, s)  # 2.#1
        top = blocks.logits_row(s, W2, b2, o)  # 2.#2
        blocks.softmax_row(o, top, os[i])  # 2.#3


@njit(**JIT)
def _loss_rows(XW1t, y, b1, W2, b2, hs, oa):
    """``Σ_i L_i / n`` (2.#1–5) from ``X W1ᵀ``, with hs, oa (one row) as scratch."""
    inv_n = XW1t.dtype.type(1) / XW1t.dtype.type(XW1t.shape[0])
    total = 0.0
    for i in range(XW1t.shape[0]):
        blocks.hidden_row(XW1t[i], b1, hs, hs)  # 2.#1
        top = blocks.logits_row(hs, W2, b2, oa)  # 2.#2
        total += blocks.nll_row(oa, top, y[i], inv_n)  # 2.#4–5
    return total


@njit(**JIT)
def _penalty_grad(W1, W2, gW1, gW2, l1, two_l2):
    """``g += l1·sign(W) + 2·l2·W`` for W1, W2 (1.#8–9), in one call; returns the
    penalty's norms ``(Σ|w|, Σw²)`` over both (2.#5), from the same pass."""
    z = np.intp(0)  # not a literal 0 (see add_penalty_grad)
    a1, q1 = blocks.add_penalty_grad(gW1, W1, l1, two_l2, z, W1.shape[0], z, W1.shape[1])
    a2, q2 = blocks.add_penalty_grad(gW2, W2, l1, two_l2, z, W2.shape[0], z, W2.shape[1])
    return a1 + a2, q1 + q2


# ------------------------------------------- other hidden activations than ReLU

# The fused kernels above are ReLU's, the benchmarked default, kept as they are. Another
# activation (docs/math.md#hidden-activations) takes these: one example at a time, ha kept
# in a row of scratch (the derivative is part 1's stable form in ha, never in hs), the
# activation an integer code (_numba_blocks.TANH, ...): one compilation per dtype serves
# tanh, sigmoid and softplus.


@njit(**JIT)
def _step_rows_act(XW1t_G_ha, y, b1, W2, b2, act, ha, hs, d, oa, G_oa, gb1, gW2, gb2):
    """The row pass of a step (2.#1–16) with activation ``act``: each row of XW1t_G_ha holds
    ``X W1ᵀ`` on entry and ``G_ha`` on return; adds to gW2, gb1, gb2; returns
    ``Σ L_i / n``. ha, hs, d (d_h) and oa, G_oa (m) are rows of scratch."""
    _zero_grads(gb1, gW2, gb2)
    inv_n = XW1t_G_ha.dtype.type(1) / XW1t_G_ha.dtype.type(XW1t_G_ha.shape[0])
    total = 0.0
    for i in range(XW1t_G_ha.shape[0]):
        row = XW1t_G_ha[i]
        for j in range(row.shape[0]):
            ha[j] = row[j] + b1[j]  # 2.#1
        blocks.activate_row(ha, hs, act)  # 2.#1: hs = act(ha)
        top = blocks.logits_row(hs, W2, b2, oa)  # 2.#2
        total += _nll_grad_row(oa, top, y[i], inv_n, G_oa)  # 2.#3–8
        blocks.backprop_row_act(G_oa, W2, hs, ha, act, row, gW2, gb2, d)  # 2.#9–14
        blocks.add_row(gb1, row)  # 2.#15–16
    return total


@njit(**JIT)
def _backward_rows_act(y, W2, ha, hs, os, G_ha, G_oa, d, gb1, gW2, gb2, act):
    """G_ha and gW2, gb1, gb2 from a forward pass (2.#7–16) with activation ``act``."""
    _zero_grads(gb1, gW2, gb2)
    inv_n = G_ha.dtype.type(1) / G_ha.dtype.type(G_ha.shape[0])
    for i in range(G_ha.shape[0]):
        blocks.grad_oa_row(os[i], y[i], inv_n, G_oa)  # 2.#7–8
        blocks.backprop_row_act(G_oa, W2, hs[i], ha[i], act, G_ha[i], gW2, gb2, d)  # 2.#9–14
        blocks.add_row(gb1, G_ha[i])  # 2.#15–16


@njit(**JIT)
def _forward_rows_act(b1, W2, b2, ha, hs, oa, os, act):
    """From ``ha = X W1ᵀ`` (without the bias) fill ``ha, hs, oa, os`` (2.#1–3)."""
    for i in range(ha.shape[0]):
        h, s, o = ha[i], hs[i], oa[i]
        for j in range(h.shape[0]):
            h[j] += b1[j]  # 2.#1
        blocks.activate_row(h, s, act)  # 2.#1
        top = blocks.logits_row(s, W2, b2, o)  # 2.#2
        blocks.softmax_row(o, top, os[i])  # 2.#3


@njit(**JIT)
def _loss_rows_act(XW1t, y, b1, W2, b2, hs, oa, act):
    """``Σ_i L_i / n`` (2.#1–5) from ``X W1ᵀ``, with hs, oa (one row) as scratch."""
    inv_n = XW1t.dtype.type(1) / XW1t.dtype.type(XW1t.shape[0])
    total = 0.0
    for i in range(XW1t.shape[0]):
        row = XW1t[i]
        for j in range(row.shape[0]):
            hs[j] = row[j] + b1[j]  # 2.#1
        blocks.activate_row(hs, hs, act)  # 2.#1, in place (ha is not kept)
        top = blocks.logits_row(hs, W2, b2, oa)  # 2.#2
        total += blocks.nll_row(oa, top, y[i], inv_n)  # 2.#4–5
    return total


# ----------------------------------------------------------- raw functions (Python)

_local = threading.local()


def workspace() -> Workspace:
    """This thread's scratch arrays, reused from call to call (the kernels release the GIL,
    so each Python thread has its own). ``workspace().clear()`` frees them."""
    ws = getattr(_local, "ws", None)
    if ws is None:
        ws = _local.ws = Workspace()
    return ws


#: The workspace's one n×d_h array: X W1ᵀ in ``loss``, G_ha in ``backward``, and in a step
#: both in turn (each example's row of X W1ᵀ is overwritten by its row of G_ha). Two
#: arrays would double the largest scratch and the row pass's cache footprint.
_N_BY_D_H = "XW1t_G_ha"


class _StepScratch(NamedTuple):
    """Scratch of a step: XW1t_G_ha (n×d_h); hs (4×d_h), oa and G_oa (4×m): the row
    pass's; nonzero (parts×n, int64): one row for each thread of the small-n step, and
    nonzero0 its first row."""

    XW1t_G_ha: np.ndarray
    hs: np.ndarray
    oa: np.ndarray
    G_oa: np.ndarray
    nonzero: np.ndarray
    nonzero0: np.ndarray


def _step_scratch(n: int, d_h: int, m: int, dt, parts: int) -> _StepScratch:
    def build(ws: Workspace) -> _StepScratch:
        nonzero = ws.array("nonzero", (parts, n), np.int64)
        return _StepScratch(
            ws.array(_N_BY_D_H, (n, d_h), dt), ws.array("hs", (4, d_h), dt),
            ws.array("oa", (4, m), dt), ws.array("G_oa", (4, m), dt), nonzero, nonzero[0])

    return workspace().arrays(("step", n, d_h, m, dt, parts), build)


_layer: list[str] = []  # numba's threading layer, once launched (it cannot change)


def _parallel_threads() -> int:
    """Threads the parallel small-n step may use: numba's count now
    (``numba.set_num_threads``) under a spinning threading layer, else 1. Once the layer
    is known not to spin, numba is not asked again (asking costs ~5 µs in a step)."""
    if _layer and _layer[0] not in SPINNING_LAYERS:
        return 1
    threads = numba.get_num_threads()  # launches numba's threads on the first call
    if not _layer:
        _layer.append(numba.threading_layer())
    return threads if _layer[0] in SPINNING_LAYERS else 1


def _small_parallel(d: int, d_h: int, threads: int) -> bool:
    """Whether the small-n step splits its products over the threads."""
    return threads > 1 and d * d_h >= SMALL_PARALLEL_MIN_WORK


def _small_threads(d: int, d_h: int) -> int:
    """Threads of the small-n step: 1 below SMALL_PARALLEL_MIN_WORK (numba not asked)."""
    if d * d_h < SMALL_PARALLEL_MIN_WORK:
        return 1
    threads = _parallel_threads()
    return threads if _small_parallel(d, d_h, threads) else 1


def _xwt(X: np.ndarray, W1: np.ndarray, XW1t: np.ndarray) -> None:
    """``XW1t = X W1ᵀ`` (2.#1): the tiled loop for few rows, or few hidden units on one
    thread (XWT_NARROW_D_H), else NumPy's BLAS."""
    d_h = W1.shape[0]
    if X.shape[0] <= XWT_MAX_ROWS[X.itemsize == 4] or (
            d_h <= XWT_NARROW_D_H[X.itemsize == 4] and numba.get_num_threads() == 1):
        _xwt_small(X, W1, XW1t, 0, d_h)
    else:
        np.matmul(X, W1.T, out=XW1t)


def _gtx(G_ha: np.ndarray, X: np.ndarray, gW1: np.ndarray, nonzero: np.ndarray) -> None:
    """``gW1 = G_haᵀ X`` (2.#15–16): the loop for few rows, else NumPy's BLAS."""
    if X.shape[0] <= GTX_MAX_ROWS:
        _gtx_small(G_ha, X, gW1, nonzero, 0, gW1.shape[0])
    else:
        np.matmul(G_ha.T, X, out=gW1)


def _check_out(out: Params) -> Params:
    # The kernels write through out's data pointers; a strided view would need a copy.
    if not all(a.flags.c_contiguous and a.flags.writeable for a in out):
        raise InputError("out must hold writeable C-contiguous arrays (see mlp.empty_like)")
    return out


def _add_penalties(p: Params, g: Params, l1: float, l2: float) -> float:
    """Adds the penalties' gradient to g (1.#8–9); returns their value (2.#5)."""
    if l1 == 0.0 and l2 == 0.0:
        return 0.0
    s1, s2, _ = blocks.penalty_scalars(p.W1, l1, l2)
    a, q = _penalty_grad(p.W1, p.W2, g.W1, g.W2, s1, s2)
    return l1 * a + l2 * q


def forward(p: Params, X: np.ndarray, activation: str = "relu") -> Forward:
    """``Forward(ha, hs, oa, os)`` (2.#1–3), fresh arrays."""
    n, d_h, m = X.shape[0], p.W1.shape[0], p.W2.shape[0]
    ha, hs = np.empty((n, d_h), X.dtype), np.empty((n, d_h), X.dtype)
    oa, os = np.empty((n, m), X.dtype), np.empty((n, m), X.dtype)
    _xwt(X, p.W1, ha)
    if activation == "relu":
        _forward_rows(p.b1, p.W2, p.b2, ha, hs, oa, os)
    else:
        _forward_rows_act(p.b1, p.W2, p.b2, ha, hs, oa, os, blocks.activation_code(activation))
    return Forward(ha, hs, oa, os)


def loss(p: Params, X: np.ndarray, y: np.ndarray, l1: float = 0.0, l2: float = 0.0,
         activation: str = "relu") -> float:
    """Regularized risk ``R`` (2.#4–5)."""
    n, d_h, m = X.shape[0], p.W1.shape[0], p.W2.shape[0]
    ws = workspace()
    XW1t = ws.array(_N_BY_D_H, (n, d_h), X.dtype)
    _xwt(X, p.W1, XW1t)
    hs, oa = ws.array("hs", (1, d_h), X.dtype)[0], ws.array("oa", (1, m), X.dtype)[0]
    if activation == "relu":
        mean_nll = _loss_rows(XW1t, y, p.b1, p.W2, p.b2, hs, oa)
    else:
        mean_nll = _loss_rows_act(XW1t, y, p.b1, p.W2, p.b2, hs, oa,
                                  blocks.activation_code(activation))
    return float(mean_nll) + blocks.penalty_value(p.W1, p.W2, l1, l2)


def _act_rows(ws: Workspace, d_h: int, m: int, dt) -> tuple[np.ndarray, ...]:
    """The rows of scratch of the other activations' kernels: ha, hs, d (d_h), oa, G_oa (m)."""
    return (ws.array("act_ha", (d_h,), dt), ws.array("act_hs", (d_h,), dt),
            ws.array("act_d", (d_h,), dt), ws.array("act_oa", (m,), dt),
            ws.array("act_G_oa", (m,), dt))


def _loss_and_grad_act(p: Params, X: np.ndarray, y: np.ndarray, l1: float, l2: float,
                       g: Params, act: int) -> tuple[float, Params]:
    """``loss_and_grad`` for another activation than ReLU: ``X W1ᵀ``, the row pass of
    :func:`_step_rows_act`, ``gW1 = G_haᵀ X``."""
    W1, b1, W2, b2 = p
    n, d_h, m = X.shape[0], W1.shape[0], W2.shape[0]
    ws = workspace()
    XW1t_G_ha = ws.array(_N_BY_D_H, (n, d_h), X.dtype)
    _xwt(X, W1, XW1t_G_ha)  # 2.#1: X W1ᵀ
    ha, hs, d, oa, G_oa = _act_rows(ws, d_h, m, X.dtype)
    mean_nll = _step_rows_act(XW1t_G_ha, y, b1, W2, b2, act, ha, hs, d, oa, G_oa, *g[1:])
    _gtx(XW1t_G_ha, X, g.W1, ws.array("nonzero", (n,), np.int64))  # 2.#15–16: G_ha now
    return float(mean_nll) + _add_penalties(p, g, l1, l2), g


def loss_and_grad(
    p: Params, X: np.ndarray, y: np.ndarray, l1: float = 0.0, l2: float = 0.0,
    out: Params | None = None, activation: str = "relu",
) -> tuple[float, Params]:
    """``(R, ∂R/∂Θ)`` in three passes; the gradient goes into ``out`` when given.

    Scratch comes from this thread's ``workspace()``: with ``out``, a step allocates no
    array once the workspace has seen this n. ``activation``: ReLU (the fused kernels
    above) or another (``_loss_and_grad_act``).
    """
    W1, b1, W2, b2 = p
    (n, d), d_h, m = X.shape, W1.shape[0], W2.shape[0]
    g = empty_like(p) if out is None else _check_out(out)
    if activation != "relu":
        return _loss_and_grad_act(p, X, y, l1, l2, g, blocks.activation_code(activation))
    if n <= GTX_MAX_ROWS:
        # Few examples: the products are loops too (three calls from here, not one
        # compiled driver: see "drivers" above).
        threads = _small_threads(d, d_h)
        s = _step_scratch(n, d_h, m, X.dtype, threads)
        if threads > 1:
            _xwt_split(X, W1, s.XW1t_G_ha, threads)
        else:
            _xwt_small(X, W1, s.XW1t_G_ha, 0, d_h)  # 2.#1: X W1ᵀ; bias, ReLU: row pass
        mean_nll = _row_pass(s.XW1t_G_ha, y, b1, W2, b2, s.hs, s.oa, s.G_oa, *g[1:])
        if threads > 1:
            _gtx_split(s.XW1t_G_ha, X, g.W1, s.nonzero)
        else:
            _gtx_small(s.XW1t_G_ha, X, g.W1, s.nonzero0, 0, d_h)  # 2.#15–16: G_ha now
    else:
        # The row pass stays serial: split over the examples (per-thread partial gW2,
        # gb1, gb2, then summed), it was measured 1-12% slower under 'workqueue' and
        # 6-150% slower under OpenMP, whose spinning threads then fight BLAS's in the
        # G_haᵀ X that follows (n = 256-4096, 2 threads, both dtypes).
        s = _step_scratch(n, d_h, m, X.dtype, 1)
        _xwt(X, W1, s.XW1t_G_ha)  # 2.#1: X W1ᵀ; bias and ReLU come in the row pass
        mean_nll = _row_pass(s.XW1t_G_ha, y, b1, W2, b2, s.hs, s.oa, s.G_oa, *g[1:])
        np.matmul(s.XW1t_G_ha.T, X, out=g.W1)  # 2.#15–16: it holds G_ha now
    return float(mean_nll) + _add_penalties(p, g, l1, l2), g


def backward(
    p: Params, X: np.ndarray, y: np.ndarray, f: Forward, l1: float = 0.0, l2: float = 0.0,
    out: Params | None = None, activation: str = "relu",
) -> Params:
    """Gradient ``∂R/∂Θ`` given the forward pass f (2.#7–16, penalties 1.#8–9)."""
    n, d_h, m = X.shape[0], p.W1.shape[0], p.W2.shape[0]
    g = empty_like(p) if out is None else _check_out(out)
    ws = workspace()
    G_ha = ws.array(_N_BY_D_H, (n, d_h), X.dtype)
    if activation == "relu":
        _backward_rows_all(y, p.W2, f.ha, f.hs, f.os, G_ha,
                           ws.array("G_oa", (1, m), X.dtype), *g[1:])
    else:
        _, _, d, _, G_oa = _act_rows(ws, d_h, m, X.dtype)
        _backward_rows_act(y, p.W2, f.ha, f.hs, f.os, G_ha, G_oa, d, *g[1:],
                           blocks.activation_code(activation))
    _gtx(G_ha, X, g.W1, ws.array("nonzero", (n,), np.int64))
    _add_penalties(p, g, l1, l2)
    return g
