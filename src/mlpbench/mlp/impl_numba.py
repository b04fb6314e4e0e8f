"""The MLP as Numba JIT kernels: one fused pass over the batch around two large products.

A step (``loss_and_grad``) makes three passes over one n×d_h scratch array ``H``:
``H = X W1ᵀ``; then, row by row while the row is in L1 (four rows at a time), every
m-thin product and element-wise formula of 2.#1–16, leaving ``G_ha`` in ``H``; then
``gW1 = G_haᵀ X``. The two large products are register-tiled loops for small n, where
BLAS's packing costs more than the product, and NumPy's BLAS (``np.matmul``) above: the
same library, and thread pool, as the numpy implementation; numba's ``np.dot`` would
call SciPy's OpenBLAS, measured 5-70% slower for ``G_haᵀ X`` here.
Inputs are trusted to be in the form ``mlp.check_inputs`` returns; ``out`` arrays must
be C-contiguous and unaliased (``mlp.check_out``).
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit

from mlpbench._numba_config import JIT
from mlpbench.mlp.params import Forward, Params, Workspace, empty_like

__all__ = ["GTX_MAX_ROWS", "XWT_BLOCK", "XWT_MAX_ROWS", "backward", "forward", "loss",
           "loss_and_grad", "workspace"]

#: Up to this many rows (float64, float32), ``X W1ᵀ`` is a register-tiled loop, not BLAS:
#: OpenBLAS packs whole operands first, which costs ~3x the product at n = 4 (d = 784,
#: d_h = 256: 200 µs vs 64 µs in float64, 180 vs 31 in float32); the two tie near
#: n = 64 in float64 and n = 128 in float32.
XWT_MAX_ROWS = (32, 64)
#: Rows of W1 per block of the tiled ``X W1ᵀ`` (32 × 784 float64: 200 KiB, half of L2).
XWT_BLOCK = 32
#: Up to this many rows, ``gW1 = G_haᵀ X`` is a loop that skips the zeros of G_ha; BLAS
#: wins from n ≈ 32 on (295 vs 311 µs at n = 16, 565 vs 504 at n = 32, float64).
GTX_MAX_ROWS = 16

# ---------------------------------------------------------------- one row of the batch


@njit(**JIT, inline="always")
def _relu_row(h, b1, hs):
    """``hs = relu(h + b1)`` (2.#1) for one row, h being a row of ``X W1ᵀ``."""
    zero = h.dtype.type(0)
    for j in range(h.shape[0]):
        v = h[j] + b1[j]
        hs[j] = v if v > zero else zero


@njit(**JIT)
def _logits_row(hs, W2, b2, oa):
    """``oa = W2 hs + b2`` (2.#2) for one row; returns ``max_k oa_k``."""
    for k in range(W2.shape[0]):
        w = W2[k]
        s = hs.dtype.type(0)
        for j in range(hs.shape[0]):
            s += w[j] * hs[j]
        oa[k] = s + b2[k]
    top = oa[0]
    for k in range(1, oa.shape[0]):
        top = max(top, oa[k])
    return top


@njit(**JIT, inline="always")
def _nll_grad_row(oa, top, label, inv_n, go):
    """``go = (softmax(oa) − onehot(label)) / n`` (2.#3, 2.#7–8); returns ``L_i`` (2.#4).

    ``L_i = logsumexp(oa) − oa[label]`` with ``logsumexp = top + log Σ exp(oa − top)``.
    """
    s = oa.dtype.type(0)
    for k in range(oa.shape[0]):
        e = np.exp(oa[k] - top)  # argument <= 0: no overflow
        go[k] = e
        s += e
    scale = inv_n / s
    for k in range(oa.shape[0]):
        go[k] *= scale
    go[label] -= inv_n
    return np.log(s) + top - oa[label]


@njit(**JIT)
def _grad_oa_row(os, label, inv_n, go):
    """``go = (os − onehot(label)) / n`` (2.#7–8) from a row of softmax outputs."""
    for k in range(os.shape[0]):
        go[k] = os[k] * inv_n
    go[label] = (os[label] - os.dtype.type(1)) * inv_n


@njit(**JIT)
def _backprop_row(go, W2, hs, active, g, gW2, gb1, gb2):
    """One row's share of the output and hidden gradients, added to gW2, gb1, gb2.

    ``gW2 += goᵀ hs``, ``gb2 += go`` (2.#9–10); ``g = (go W2) ⊙ 1[active > 0]`` is the
    row of G_hs (2.#11–12) masked into G_ha (2.#13–14); ``gb1 += g`` (2.#15–16). active
    is the row of ha, or of hs = relu(ha), which is > 0 exactly where ha is.
    """
    zero = g.dtype.type(0)
    for j in range(g.shape[0]):
        g[j] = zero
    for k in range(W2.shape[0]):
        c = go[k]
        w = W2[k]
        r = gW2[k]
        for j in range(g.shape[0]):
            g[j] += c * w[j]
            r[j] += c * hs[j]
        gb2[k] += c
    for j in range(g.shape[0]):
        v = g[j] if active[j] > zero else zero
        g[j] = v
        gb1[j] += v


# ------------------------------------------------------------------- blocks of rows


@njit(**JIT)
def _step_block(H, i, y, b1, W2, b2, inv_n, hs, oa, go, gW2, gb1, gb2):
    """Rows i:i+4 of a step, as ``_step_rows`` does them one at a time, but with each pass
    over W2 or gW2 shared by the four rows: register tiles of 4 rows × 2 rows of W2 for
    the logits and gW2, five rows of W2 per pass for G_hs (30% fewer loads than 4 × 1;
    measured 12% faster in float32, no change in float64).

    hs (4×d_h), oa, go (4×m) are scratch; returns ``Σ L_i`` over the four rows. Rows
    are indexed in place, not taken as views: a view costs two atomic reference counts
    (row pass at n = 4096, float64: views 7.5 ms, views into inlined helpers 6.3, this 5.8).
    """
    m, d_h = W2.shape
    zero = H.dtype.type(0)
    for r in range(4):
        for j in range(d_h):
            v = H[i + r, j] + b1[j]  # 2.#1
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
        top = o[0]
        for k in range(1, m):
            top = max(top, o[k])
        total += _nll_grad_row(o, top, y[i + r], inv_n, go[r])  # 2.#3–8
    for k in range(0, m - 1, 2):  # 2.#9–10: gW2 += G_oaᵀ hs, two rows of gW2 per pass
        c0, c1, c2, c3 = go[0, k], go[1, k], go[2, k], go[3, k]
        e0, e1, e2, e3 = go[0, k + 1], go[1, k + 1], go[2, k + 1], go[3, k + 1]
        for j in range(d_h):
            a0, a1, a2, a3 = hs[0, j], hs[1, j], hs[2, j], hs[3, j]
            gW2[k, j] += c0 * a0 + c1 * a1 + c2 * a2 + c3 * a3
            gW2[k + 1, j] += e0 * a0 + e1 * a1 + e2 * a2 + e3 * a3
    if m % 2:
        k = m - 1
        c0, c1, c2, c3 = go[0, k], go[1, k], go[2, k], go[3, k]
        for j in range(d_h):
            gW2[k, j] += c0 * hs[0, j] + c1 * hs[1, j] + c2 * hs[2, j] + c3 * hs[3, j]
    for k in range(m):  # 2.#9–10: gb2 += Σ G_oa
        gb2[k] += (go[0, k] + go[1, k]) + (go[2, k] + go[3, k])
    for r in range(4):  # 2.#11–14: G_ha = (G_oa W2) ⊙ 1[ha > 0], over X W1ᵀ in H
        row = i + r
        for k in range(0, m, 5):  # five rows of W2 per pass; rows past m get a zero weight
            k1, k2 = min(k + 1, m - 1), min(k + 2, m - 1)
            k3, k4 = min(k + 3, m - 1), min(k + 4, m - 1)
            c0 = go[r, k]
            c1 = go[r, k1] if k + 1 < m else zero
            c2 = go[r, k2] if k + 2 < m else zero
            c3 = go[r, k3] if k + 3 < m else zero
            c4 = go[r, k4] if k + 4 < m else zero
            if k == 0:
                for j in range(d_h):
                    H[row, j] = (c0 * W2[k, j] + c1 * W2[k1, j] + c2 * W2[k2, j]
                                 + c3 * W2[k3, j] + c4 * W2[k4, j])
            else:
                for j in range(d_h):
                    H[row, j] += (c0 * W2[k, j] + c1 * W2[k1, j] + c2 * W2[k2, j]
                                  + c3 * W2[k3, j] + c4 * W2[k4, j])
        for j in range(d_h):
            H[row, j] = H[row, j] if hs[r, j] > zero else zero  # hs > 0 exactly where ha > 0
    for j in range(d_h):
        gb1[j] += (H[i, j] + H[i + 1, j]) + (H[i + 2, j] + H[i + 3, j])  # 2.#15–16
    return total


@njit(**JIT)
def _step_rows(H, y, b1, W2, b2, inv_n, i0, i1, hs, oa, go, gW2, gb1, gb2):
    """Rows i0:i1 of a step: H holds ``X W1ᵀ`` there on entry, ``G_ha`` on return (2.#1–16).

    Adds the rows' shares to gW2, gb1, gb2 and returns ``Σ L_i`` over them in float64.
    hs (4×d_h), oa, go (4×m) are scratch: blocks of four rows, then one at a time.
    """
    total = 0.0
    i = i0
    while i + 4 <= i1:
        total += _step_block(H, i, y, b1, W2, b2, inv_n, hs, oa, go, gW2, gb1, gb2)
        i += 4
    for r in range(i, i1):
        h = H[r]
        _relu_row(h, b1, hs[0])  # 2.#1
        top = _logits_row(hs[0], W2, b2, oa[0])  # 2.#2
        total += _nll_grad_row(oa[0], top, y[r], inv_n, go[0])  # 2.#3–8
        _backprop_row(go[0], W2, hs[0], hs[0], h, gW2, gb1, gb2)  # 2.#9–16, G_ha over H
    return total


@njit(**JIT)
def _backward_rows(hs, ha, os, y, W2, inv_n, i0, i1, go, G, gW2, gb1, gb2):
    """Rows i0:i1 of ``G = G_ha`` from a forward pass, adding to gW2, gb1, gb2 (2.#7–16)."""
    for i in range(i0, i1):
        _grad_oa_row(os[i], y[i], inv_n, go)  # 2.#7–8
        _backprop_row(go, W2, hs[i], ha[i], G[i], gW2, gb1, gb2)  # 2.#9–16


@njit(**JIT)
def _xwt_small(X, W1, H):
    """``H = X W1ᵀ`` for few rows, without BLAS's packing: tiles of 4 rows of X by 3 rows
    of W1, twelve unit-stride dot products that LLVM vectorizes (7 loads per 12 FMAs),
    over blocks of XWT_BLOCK rows of W1 that stay in L2 while every strip of X passes."""
    n, d = X.shape
    d_h = W1.shape[0]
    zero = H.dtype.type(0)
    for jb in range(0, d_h, XWT_BLOCK):
        je = min(d_h, jb + XWT_BLOCK)
        i = 0
        while i + 4 <= n:
            a0, a1, a2, a3 = X[i], X[i + 1], X[i + 2], X[i + 3]
            j = jb
            while j + 3 <= je:
                b0, b1, b2 = W1[j], W1[j + 1], W1[j + 2]
                c00 = c01 = c02 = c10 = c11 = c12 = zero
                c20 = c21 = c22 = c30 = c31 = c32 = zero
                for k in range(d):
                    y0, y1, y2 = b0[k], b1[k], b2[k]
                    x = a0[k]
                    c00 += x * y0
                    c01 += x * y1
                    c02 += x * y2
                    x = a1[k]
                    c10 += x * y0
                    c11 += x * y1
                    c12 += x * y2
                    x = a2[k]
                    c20 += x * y0
                    c21 += x * y1
                    c22 += x * y2
                    x = a3[k]
                    c30 += x * y0
                    c31 += x * y1
                    c32 += x * y2
                H[i, j], H[i, j + 1], H[i, j + 2] = c00, c01, c02
                H[i + 1, j], H[i + 1, j + 1], H[i + 1, j + 2] = c10, c11, c12
                H[i + 2, j], H[i + 2, j + 1], H[i + 2, j + 2] = c20, c21, c22
                H[i + 3, j], H[i + 3, j + 1], H[i + 3, j + 2] = c30, c31, c32
                j += 3
            for r in range(j, je):  # remaining rows of the block: 4×1 tiles
                b0 = W1[r]
                c0 = c1 = c2 = c3 = zero
                for k in range(d):
                    y0 = b0[k]
                    c0 += a0[k] * y0
                    c1 += a1[k] * y0
                    c2 += a2[k] * y0
                    c3 += a3[k] * y0
                H[i, r], H[i + 1, r], H[i + 2, r], H[i + 3, r] = c0, c1, c2, c3
            i += 4
        for r in range(i, n):  # remaining rows of X: single dot products
            a0 = X[r]
            for j in range(jb, je):
                b0 = W1[j]
                c0 = zero
                for k in range(d):
                    c0 += a0[k] * b0[k]
                H[r, j] = c0


@njit(**JIT)
def _gtx_small(G, X, gW1, active):
    """``gW1 = Gᵀ X`` for few rows: ``gW1[j] = Σ_i G[i, j] X[i]`` over the i with
    ``G[i, j] ≠ 0`` only (ReLU zeroes about half of G_ha), up to four rows of X per pass
    over ``gW1[j]``, the first pass storing rather than adding. active: int64 scratch of n.
    """
    n, d_h = G.shape
    zero = gW1.dtype.type(0)
    for j in range(d_h):
        r = gW1[j]
        count = 0
        for i in range(n):
            if G[i, j] != zero:
                active[count] = i
                count += 1
        if count == 0:
            r[:] = zero
        for t in range(0, count, 4):
            # rows past count get a zero weight and repeat row active[t]: no branch inside
            i0 = active[t]
            i1 = active[t + 1] if t + 1 < count else i0
            i2 = active[t + 2] if t + 2 < count else i0
            i3 = active[t + 3] if t + 3 < count else i0
            g0 = G[i0, j]
            g1 = G[i1, j] if t + 1 < count else zero
            g2 = G[i2, j] if t + 2 < count else zero
            g3 = G[i3, j] if t + 3 < count else zero
            _axpy4(r, g0, X[i0], g1, X[i1], g2, X[i2], g3, X[i3], t > 0)


@njit(**JIT, inline="always")
def _axpy4(r, g0, x0, g1, x1, g2, x2, g3, x3, accumulate):
    """``r (+)= g0 x0 + g1 x1 + g2 x2 + g3 x3``: one pass over r."""
    if accumulate:
        for k in range(r.shape[0]):
            r[k] += g0 * x0[k] + g1 * x1[k] + g2 * x2[k] + g3 * x3[k]
    else:
        for k in range(r.shape[0]):
            r[k] = g0 * x0[k] + g1 * x1[k] + g2 * x2[k] + g3 * x3[k]


@njit(**JIT)
def _zero_grads(gb1, gW2, gb2):
    gb1[:] = 0
    gW2[:] = 0
    gb2[:] = 0


# ------------------------------------------------------------------------ drivers


@njit(**JIT)
def _step_small(X, y, W1, b1, W2, b2, H, hs, oa, go, active, gW1, gb1, gW2, gb2):
    """A whole step for n <= GTX_MAX_ROWS, in one call: the products are loops too."""
    n = X.shape[0]
    _xwt_small(X, W1, H)  # 2.#1: X W1ᵀ; bias and ReLU come in the row pass
    _zero_grads(gb1, gW2, gb2)
    inv_n = H.dtype.type(1) / H.dtype.type(n)
    total = _step_rows(H, y, b1, W2, b2, inv_n, 0, n, hs, oa, go, gW2, gb1, gb2)
    _gtx_small(H, X, gW1, active)  # 2.#15–16
    return total


@njit(**JIT)
def _rows_serial(H, y, b1, W2, b2, hs, oa, go, gb1, gW2, gb2):
    """The row pass of a step over all of H; returns ``Σ_i L_i``.

    Serial by choice: it is ~6% of a large step, and a two-chunk ``prange`` version was
    measured slower than this one at 2 threads on the shared machine (n = 256: 7.1 vs
    6.1 ms; d = 16: 2.9 vs 2.5 ms), for 2-3x the compile time.
    """
    n = H.shape[0]
    _zero_grads(gb1, gW2, gb2)
    inv_n = H.dtype.type(1) / H.dtype.type(n)
    return _step_rows(H, y, b1, W2, b2, inv_n, 0, n, hs, oa, go, gW2, gb1, gb2)


@njit(**JIT)
def _backward_rows_all(y, W2, ha, hs, os, G, go, gb1, gW2, gb2):
    """G = G_ha and gW2, gb1, gb2 from a forward pass (2.#7–16), on one thread."""
    n = G.shape[0]
    _zero_grads(gb1, gW2, gb2)
    inv_n = G.dtype.type(1) / G.dtype.type(n)
    _backward_rows(hs, ha, os, y, W2, inv_n, 0, n, go[0], G, gW2, gb1, gb2)


@njit(**JIT)
def _forward_rows(b1, W2, b2, ha, hs, oa, os):
    """From ``ha = X W1ᵀ`` (without the bias) fill ``ha, hs, oa, os`` (2.#1–3)."""
    zero = ha.dtype.type(0)
    for i in range(ha.shape[0]):
        h = ha[i]
        r = hs[i]
        for j in range(h.shape[0]):
            v = h[j] + b1[j]  # 2.#1
            h[j] = v
            r[j] = v if v > zero else zero
        top = _logits_row(r, W2, b2, oa[i])  # 2.#2
        s = zero
        for k in range(oa.shape[1]):
            e = np.exp(oa[i, k] - top)  # 2.#3, argument <= 0
            os[i, k] = e
            s += e
        for k in range(oa.shape[1]):
            os[i, k] /= s


@njit(**JIT)
def _loss_rows(H, y, b1, W2, b2, hs, oa):
    """``Σ_i L_i`` (2.#1–4) from ``H = X W1ᵀ``, with hs, oa (one row) as scratch."""
    total = 0.0
    for i in range(H.shape[0]):
        _relu_row(H[i], b1, hs)  # 2.#1
        top = _logits_row(hs, W2, b2, oa)  # 2.#2
        s = oa.dtype.type(0)
        for k in range(oa.shape[0]):
            s += np.exp(oa[k] - top)
        total += np.log(s) + top - oa[y[i]]  # 2.#4
    return total


@njit(**JIT)
def _penalty_grad(W1, W2, gW1, gW2, l1, two_l2):
    """``g += l1·sign(W) + 2·l2·W`` for W1, W2 (1.#8–9); returns ``(Σ|w|, Σw²)`` in float64."""
    a = 0.0
    q = 0.0
    for W, g in ((W1, gW1), (W2, gW2)):
        zero = W.dtype.type(0)
        one = W.dtype.type(1)
        for j in range(W.shape[0]):
            for k in range(W.shape[1]):
                v = W[j, k]
                sign = one if v > zero else (-one if v < zero else zero)  # 1.#9: 0 at 0
                g[j, k] += l1 * sign + two_l2 * v
                a += abs(v)
                q += v * v
    return a, q


@njit(**JIT)
def _norms(W1, W2):
    """``(‖W1‖₁+‖W2‖₁, ‖W1‖₂²+‖W2‖₂²)`` (2.#5) in float64."""
    a = 0.0
    q = 0.0
    for W in (W1, W2):
        for j in range(W.shape[0]):
            for k in range(W.shape[1]):
                v = W[j, k]
                a += abs(v)
                q += v * v
    return a, q


# ----------------------------------------------------------- raw functions (Python)

_local = threading.local()


def workspace() -> Workspace:
    """This thread's scratch arrays, reused from call to call (the kernels release the GIL,
    so each Python thread has its own). ``workspace().clear()`` frees them."""
    ws = getattr(_local, "ws", None)
    if ws is None:
        ws = _local.ws = Workspace()
    return ws


def _step_scratch(n: int, d_h: int, m: int, dt) -> tuple[np.ndarray, ...]:
    """Scratch of a step: H (n×d_h), hs (4×d_h), oa, go (4×m), active (n)."""

    def build(ws: Workspace) -> tuple[np.ndarray, ...]:
        return (ws.array("H", (n, d_h), dt), ws.array("hs", (4, d_h), dt),
                ws.array("oa", (4, m), dt), ws.array("go", (4, m), dt),
                ws.array("active", (n,), np.int64))

    return workspace().arrays(("step", n, d_h, m, dt), build)


def _xwt(X: np.ndarray, W1: np.ndarray, H: np.ndarray) -> None:
    """``H = X W1ᵀ`` (2.#1): the tiled loop for few rows, else NumPy's BLAS."""
    if X.shape[0] <= XWT_MAX_ROWS[X.itemsize == 4]:
        _xwt_small(X, W1, H)
    else:
        np.matmul(X, W1.T, out=H)


def _gtx(G: np.ndarray, X: np.ndarray, gW1: np.ndarray, active: np.ndarray) -> None:
    """``gW1 = Gᵀ X`` (2.#15–16): the loop for few rows, else NumPy's BLAS."""
    if X.shape[0] <= GTX_MAX_ROWS:
        _gtx_small(G, X, gW1, active)
    else:
        np.matmul(G.T, X, out=gW1)


def _check_out(out: Params) -> Params:
    # The kernels write through out's data pointers; a strided view would need a copy.
    if not all(a.flags.c_contiguous and a.flags.writeable for a in out):
        raise ValueError("out must hold writeable C-contiguous arrays (see mlp.empty_like)")
    return out


def _add_penalties(p: Params, g: Params, l1: float, l2: float) -> float:
    """Adds the penalties' gradient to g (1.#8–9); returns their value (2.#5)."""
    if l1 == 0.0 and l2 == 0.0:
        return 0.0
    scalar = p.W1.dtype.type
    a, q = _penalty_grad(p.W1, p.W2, g.W1, g.W2, scalar(l1), scalar(2.0 * l2))
    return l1 * a + l2 * q


def forward(p: Params, X: np.ndarray) -> Forward:
    """``Forward(ha, hs, oa, os)`` (2.#1–3), fresh arrays."""
    n, d_h, m = X.shape[0], p.W1.shape[0], p.W2.shape[0]
    ha, hs = np.empty((n, d_h), X.dtype), np.empty((n, d_h), X.dtype)
    oa, os = np.empty((n, m), X.dtype), np.empty((n, m), X.dtype)
    _xwt(X, p.W1, ha)
    _forward_rows(p.b1, p.W2, p.b2, ha, hs, oa, os)
    return Forward(ha, hs, oa, os)


def loss(p: Params, X: np.ndarray, y: np.ndarray, l1: float = 0.0, l2: float = 0.0) -> float:
    """Regularized risk ``R`` (2.#4–5)."""
    n, d_h, m = X.shape[0], p.W1.shape[0], p.W2.shape[0]
    ws = workspace()
    H = ws.array("H", (n, d_h), X.dtype)
    _xwt(X, p.W1, H)
    total = _loss_rows(H, y, p.b1, p.W2, p.b2, ws.array("hs", (1, d_h), X.dtype)[0],
                       ws.array("oa", (1, m), X.dtype)[0])
    risk = float(total) / n
    if l1 != 0.0 or l2 != 0.0:
        a, q = _norms(p.W1, p.W2)
        risk += l1 * a + l2 * q
    return risk


def loss_and_grad(
    p: Params, X: np.ndarray, y: np.ndarray, l1: float = 0.0, l2: float = 0.0,
    out: Params | None = None,
) -> tuple[float, Params]:
    """``(R, ∂R/∂Θ)`` in three passes; the gradient goes into ``out`` when given.

    Scratch comes from this thread's ``workspace()``: with ``out``, a step allocates no
    array once the workspace has seen this n.
    """
    W1, b1, W2, b2 = p
    n = X.shape[0]
    g = empty_like(p) if out is None else _check_out(out)
    scratch = _step_scratch(n, W1.shape[0], W2.shape[0], X.dtype)
    if n <= GTX_MAX_ROWS:
        total = _step_small(X, y, W1, b1, W2, b2, *scratch, *g)
    else:
        H, hs, oa, go, _ = scratch
        _xwt(X, W1, H)  # 2.#1: X W1ᵀ; bias and ReLU come in the row pass
        total = _rows_serial(H, y, b1, W2, b2, hs, oa, go, *g[1:])
        np.matmul(H.T, X, out=g.W1)  # 2.#15–16: H holds G_ha now
    return float(total) / n + _add_penalties(p, g, l1, l2), g


def backward(
    p: Params, X: np.ndarray, y: np.ndarray, f: Forward, l1: float = 0.0, l2: float = 0.0,
    out: Params | None = None,
) -> Params:
    """Gradient ``∂R/∂Θ`` given the forward pass f (2.#7–16, penalties 1.#8–9)."""
    n, d_h, m = X.shape[0], p.W1.shape[0], p.W2.shape[0]
    g = empty_like(p) if out is None else _check_out(out)
    ws = workspace()
    G = ws.array("H", (n, d_h), X.dtype)
    _backward_rows_all(y, p.W2, f.ha, f.hs, f.os, G, ws.array("go", (1, m), X.dtype), *g[1:])
    _gtx(G, X, g.W1, ws.array("active", (n,), np.int64))
    _add_penalties(p, g, l1, l2)
    return g
