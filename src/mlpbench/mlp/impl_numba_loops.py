"""The MLP as JIT-compiled loops with no BLAS at all: how far compiled loops get alone.

The two big products (``X W1ᵀ`` forward, ``G_haᵀ X`` backward) run through the
register-tiled dot products of ``_gemm_numba``; the three small ones (``hs W2ᵀ``,
``G_oaᵀ hs``, ``G_oa W2``) and all element-wise work are fused into one pass per row.
Two paths, chosen by size at run time: below ``SERIAL_MAX_N`` examples (or
``SERIAL_MAX_WORK`` multiply-adds) serial loops with no packing; above, ``prange``
over row chunks, then over tiles of ``gW1``. The row pieces shared with ``numba`` are in
``_numba_blocks``. Inputs are trusted to be in the form ``mlp.check_inputs`` returns;
penalties reach the kernels as scalars of the data's dtype so that float32 stays float32.
The hidden activation reaches them as an integer code (``_numba_blocks.RELU``, ...): one
compilation per dtype serves every activation.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from mlpbench._numba_config import JIT, JIT_PARALLEL
from mlpbench.mlp import _numba_blocks as blocks
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
def _hidden_rows(X, W1, b1, ha, hs, i0, i1, act):
    """Rows i0:i1 of ``ha = X W1ᵀ + b1`` and ``hs = act(ha)`` (2.#1); hs may be ha (then
    ha is not kept). act: the activation's code (_numba_blocks.RELU, ...)."""
    zero = ha.dtype.type(0)
    d_h = W1.shape[0]
    for i in range(i0, i1):
        for j in range(d_h):
            ha[i, j] = zero
    # np.intp(0), not a literal 0 (see _numba_blocks.add_penalty_grad)
    _gemm_nt(X, W1, ha, i0, i1, np.intp(0), d_h, X.shape[1])  # 2.#1: X W1ᵀ
    for i in range(i0, i1):
        if act == blocks.RELU:
            for j in range(d_h):
                v = ha[i, j] + b1[j]  # 2.#1: + b1
                ha[i, j] = v
                hs[i, j] = v if v > zero else zero  # 2.#1: rect
        else:
            for j in range(d_h):
                ha[i, j] += b1[j]  # 2.#1: + b1
            blocks.activate_row(ha[i], hs[i], act)  # 2.#1: hs = act(ha)


@njit(**JIT)
def _inv_n(a):
    """``1/n`` in a's dtype, n its number of rows: the mean's weight (2.#5)."""
    return a.dtype.type(1) / a.dtype.type(a.shape[0])


@njit(**JIT)
def _forward_rows(X, W1, b1, W2, b2, ha, hs, oa, os, i0, i1, act):
    """Rows i0:i1 of the forward pass (2.#1–3)."""
    _hidden_rows(X, W1, b1, ha, hs, i0, i1, act)
    for i in range(i0, i1):
        o = oa[i]
        top = blocks.logits_row(hs[i], W2, b2, o)  # 2.#2
        blocks.softmax_row(o, top, os[i])  # 2.#3


@njit(**JIT)
def _loss_rows(X, y, W1, b1, W2, b2, hs, oa, i0, i1, act):
    """``Σ L_i / n`` over rows i0:i1 (2.#4–5), in float64; hs, oa (rows i0:i1) are scratch."""
    _hidden_rows(X, W1, b1, hs, hs, i0, i1, act)
    inv_n = _inv_n(X)
    total = 0.0
    for i in range(i0, i1):
        o = oa[i]
        top = blocks.logits_row(hs[i], W2, b2, o)  # 2.#2
        total += blocks.nll_row(o, top, y[i], inv_n)  # 2.#4–5
    return total


@njit(**JIT)
def _output_grad_rows(X, y, W1, b1, W2, b2, ha, hs, oa, os, G_oa, i0, i1, act):
    """Forward rows i0:i1, softmax, ``Σ L_i / n`` and ``G_oa`` (2.#1–8), one pass per row.
    ha may be hs (ReLU: its derivative reads hs > 0); another activation's derivative
    needs ha kept apart."""
    _hidden_rows(X, W1, b1, ha, hs, i0, i1, act)
    inv_n = _inv_n(X)
    total = 0.0
    for i in range(i0, i1):
        o, s = oa[i], os[i]
        top = blocks.logits_row(hs[i], W2, b2, o)  # 2.#2
        lse = blocks.softmax_row(o, top, s)  # 2.#3
        total += blocks.nll_term(lse, o[y[i]], inv_n)  # 2.#4–5
        blocks.grad_oa_row(s, y[i], inv_n, G_oa[i])  # 2.#7–8
    return total


@njit(**JIT)
def _backprop_row(G_oa, W2, hs, ha, act, G_ha, gW2, gb2, d):
    """One example's G_ha and gW2/gb2 shares (2.#9–14): ReLU masks with ``ha > 0`` (ha may
    be hs, > 0 at the same places); another activation multiplies by its derivative."""
    if act == blocks.RELU:
        blocks.backprop_row(G_oa, W2, hs, ha, G_ha, gW2, gb2)
    else:
        blocks.backprop_row_act(G_oa, W2, hs, ha, act, G_ha, gW2, gb2, d)


@njit(**JIT)
def _backprop_rows(X, G_oa, W2, hs, ha, G_haT, XT, gW2, gb2, i0, i1, act):
    """Rows i0:i1: ``G_ha`` into the transposed G_haT, gW2/gb2 partials, ``Xᵀ`` into XT.

    G_ha is formed in 8-row bands and written as whole cache lines of G_haT.
    """
    d_h = hs.shape[1]
    band = np.empty((8, d_h), hs.dtype)
    d = np.empty(d_h, hs.dtype)
    for ib in range(i0, i1, 8):
        ie = min(i1, ib + 8)
        for i in range(ib, ie):
            _backprop_row(G_oa[i], W2, hs[i], ha[i], act, band[i - ib], gW2, gb2, d)  # 2.#9–14
        for j in range(d_h):
            for i in range(ib, ie):
                G_haT[j, i] = band[i - ib, j]
    _transpose_rows(X, XT, i0, i1)


# ---------------------------------------------------------------- serial path


@njit(**JIT)
def _forward_arrays(n, d_h, m, dtype):
    """Fresh ``ha, hs`` (n×d_h) and ``oa, os`` (n×m)."""
    return (np.empty((n, d_h), dtype), np.empty((n, d_h), dtype),
            np.empty((n, m), dtype), np.empty((n, m), dtype))


@njit(**JIT)
def _forward_serial(X, W1, b1, W2, b2, act):
    n = X.shape[0]
    ha, hs, oa, os = _forward_arrays(n, W1.shape[0], W2.shape[0], X.dtype)
    _forward_rows(X, W1, b1, W2, b2, ha, hs, oa, os, 0, n, act)
    return ha, hs, oa, os


@njit(**JIT)
def _loss_serial(X, y, W1, b1, W2, b2, act):
    n = X.shape[0]
    hs = np.empty((n, W1.shape[0]), X.dtype)
    oa = np.empty((n, W2.shape[0]), X.dtype)
    return _loss_rows(X, y, W1, b1, W2, b2, hs, oa, 0, n, act)


@njit(**JIT)
def _grads_serial(X, G_oa, W1, W2, hs, ha, l1, two_l2, penalize, act):
    """Gradients from ``G_oa`` (2.#9–16) in plain loops: gW1 by ``_axpy_t`` (rank-1 at n = 1).
    ha may be hs for ReLU (see _backprop_row)."""
    n, d = X.shape
    d_h, m = W1.shape[0], W2.shape[0]
    gW2 = np.zeros((m, d_h), X.dtype)
    gb2 = np.zeros(m, X.dtype)
    gb1 = np.zeros(d_h, X.dtype)
    G_ha = np.empty((n, d_h), X.dtype)
    scratch = np.empty(d_h, X.dtype)
    for i in range(n):
        _backprop_row(G_oa[i], W2, hs[i], ha[i], act, G_ha[i], gW2, gb2, scratch)  # 2.#9–14
        blocks.add_row(gb1, G_ha[i])  # 2.#15–16: column sum
    gW1 = np.zeros((d_h, d), X.dtype)
    _axpy_t(G_ha, X, gW1, 0, d_h)  # 2.#15–16: gW1 = G_haᵀ X
    if penalize:
        z = np.intp(0)  # not a literal 0 (see add_penalty_grad)
        blocks.add_penalty_grad(gW1, W1, l1, two_l2, z, d_h, z, d)
        blocks.add_penalty_grad(gW2, W2, l1, two_l2, z, m, z, d_h)
    return gW1, gb1, gW2, gb2


@njit(**JIT)
def _backward_serial(X, y, W1, W2, ha, hs, os, l1, two_l2, penalize, act):
    G_oa = np.empty_like(os)
    inv_n = _inv_n(os)
    for i in range(os.shape[0]):
        blocks.grad_oa_row(os[i], y[i], inv_n, G_oa[i])  # 2.#7–8
    return _grads_serial(X, G_oa, W1, W2, hs, ha, l1, two_l2, penalize, act)


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
def _forward_parallel(X, W1, b1, W2, b2, act):
    n = X.shape[0]
    ha, hs, oa, os = _forward_arrays(n, W1.shape[0], W2.shape[0], X.dtype)
    count, rows = _chunks(n)
    for t in prange(count):  # chunks own disjoint rows of every output
        _forward_rows(X, W1, b1, W2, b2, ha, hs, oa, os, t * rows, min(n, (t + 1) * rows),
                      act)
    return ha, hs, oa, os


@njit(**JIT_PARALLEL)
def _grad_w1_parallel(G_haT, XT, n, W1, l1, two_l2, penalize):
    """``gW1 = G_haᵀ X`` and ``gb1 = Σ_i G_ha[i]`` (2.#15–16) from the packed G_haT
    (d_h×ld) and XT (d×ld), penalties added per tile. Every tile of gW1 belongs to one
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
        _gemm_nt(G_haT, XT, gW1, r0, r1, c0, c1, n)  # 2.#15–16
        if penalize:
            blocks.add_penalty_grad(gW1, W1, l1, two_l2, r0, r1, c0, c1)
    for j in prange(d_h):  # one row sum of G_haT per iteration
        g = G_haT[j, :n]
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
        for k in range(m):
            gb2[k] += gb2_parts[t, k]
            for j in range(d_h):
                gW2[k, j] += gW2_parts[t, k, j]
    if penalize:
        z = np.intp(0)  # not a literal 0 (see add_penalty_grad)
        blocks.add_penalty_grad(gW2, W2, l1, two_l2, z, m, z, d_h)
    return gW2, gb2


def _grads_parallel(X, y, W1, b1, W2, b2, ha, hs, os, given, l1, two_l2, penalize, act):
    """The gradient in two parallel phases: row chunks (G_oa, G_ha, gW2/gb2 partials,
    packing ``Xᵀ`` and ``G_haᵀ`` into rows of length ld), then tiles of gW1.

    given: ha, hs, os are the forward pass (``backward``); otherwise ha, hs and os are
    scratch, filled chunk by chunk with the loss (``loss_and_grad``); ha may be hs for
    ReLU. Returns ``(Σ L_i / n or 0, gW1, gb1, gW2, gb2)``.
    """
    n, d = X.shape
    d_h, m = W1.shape[0], W2.shape[0]
    ld = leading_dim(n, X.dtype.itemsize)
    G_haT = np.empty((d_h, ld), X.dtype)
    XT = np.empty((d, ld), X.dtype)
    count, rows = _chunks(n)
    loss_parts = np.zeros(count)
    gW2_parts = np.zeros((count, m, d_h), X.dtype)
    gb2_parts = np.zeros((count, m), X.dtype)
    _chunk_phase(X, y, W1, b1, W2, b2, ha, hs, os, np.empty((n, m), X.dtype),
                 np.empty_like(os), G_haT, XT, loss_parts, gW2_parts, gb2_parts, given, act)
    gW1, gb1 = _grad_w1_parallel(G_haT, XT, n, W1, l1, two_l2, penalize)
    gW2, gb2 = _reduce_partials(gW2_parts, gb2_parts, W2, l1, two_l2, penalize)
    return loss_parts.sum(), gW1, gb1, gW2, gb2


@njit(**JIT_PARALLEL)
def _chunk_phase(X, y, W1, b1, W2, b2, ha, hs, os, oa, G_oa, G_haT, XT, loss_parts,
                 gW2_parts, gb2_parts, given, act):
    """The first phase of ``_grads_parallel``: each chunk of rows its G_oa, G_ha (into
    G_haT), Xᵀ (into XT), loss (``loss_parts``) and gW2, gb2 partials."""
    n = X.shape[0]
    inv_n = _inv_n(X)
    count, rows = _chunks(n)
    for t in prange(count):  # chunk t owns its rows and its partials: no race
        i0 = t * rows
        i1 = min(n, i0 + rows)
        if given:
            for i in range(i0, i1):
                blocks.grad_oa_row(os[i], y[i], inv_n, G_oa[i])  # 2.#7–8
        else:
            loss_parts[t] = _output_grad_rows(X, y, W1, b1, W2, b2, ha, hs, oa, os, G_oa,
                                              i0, i1, act)
        _backprop_rows(X, G_oa, W2, hs, ha, G_haT, XT, gW2_parts[t], gb2_parts[t], i0, i1,
                       act)


@njit(**JIT)
def _nll_sum(oa, y):
    """``Σ_i L_i / n`` (2.#4–5) from the logits, in float64."""
    inv_n = _inv_n(oa)
    total = 0.0
    for i in range(oa.shape[0]):
        o = oa[i]
        total += blocks.nll_row(o, blocks.row_max(o), y[i], inv_n)  # 2.#4–5
    return total


# ---------------------------------------------------------------- raw functions


def forward(p: Params, X: np.ndarray, activation: str = "relu") -> Forward:
    """``Forward(ha, hs, oa, os)`` (2.#1–3)."""
    n, d = X.shape
    run = _forward_serial if _serial(n, d, p.W1.shape[0]) else _forward_parallel
    return Forward(*run(X, p.W1, p.b1, p.W2, p.b2, blocks.activation_code(activation)))


def loss(p: Params, X: np.ndarray, y: np.ndarray, l1: float = 0.0, l2: float = 0.0,
         activation: str = "relu") -> float:
    """Regularized risk ``R`` (2.#4–5)."""
    n, d = X.shape
    act = blocks.activation_code(activation)
    if _serial(n, d, p.W1.shape[0]):
        mean_nll = _loss_serial(X, y, p.W1, p.b1, p.W2, p.b2, act)
    else:
        mean_nll = _nll_sum(_forward_parallel(X, p.W1, p.b1, p.W2, p.b2, act)[2], y)
    return float(mean_nll) + blocks.penalty_value(p.W1, p.W2, l1, l2)


def loss_and_grad(
    p: Params, X: np.ndarray, y: np.ndarray, l1: float = 0.0, l2: float = 0.0,
    activation: str = "relu",
) -> tuple[float, Params]:
    """``(R, ∂R/∂Θ)`` (2.#1–16, penalties 1.#8–9)."""
    n, d = X.shape
    act = blocks.activation_code(activation)
    s1, s2, penalize = blocks.penalty_scalars(p.W1, l1, l2)
    # The drivers are called from here, not from one compiled function: numba compiles
    # a callee again into each compiled caller (see "drivers" in impl_numba).
    hs = np.empty((n, p.W1.shape[0]), X.dtype)
    ha = hs if act == blocks.RELU else np.empty_like(hs)  # ReLU's derivative reads hs
    os = np.empty((n, p.W2.shape[0]), X.dtype)
    if _serial(n, d, p.W1.shape[0]):
        G_oa = np.empty_like(os)
        mean_nll = _output_grad_rows(X, y, p.W1, p.b1, p.W2, p.b2, ha, hs, np.empty_like(os),
                                     os, G_oa, 0, n, act)
        g = _grads_serial(X, G_oa, p.W1, p.W2, hs, ha, s1, s2, penalize, act)
    else:
        mean_nll, *g = _grads_parallel(X, y, p.W1, p.b1, p.W2, p.b2, ha, hs, os, False,
                                       s1, s2, penalize, act)
    return float(mean_nll) + blocks.penalty_value(p.W1, p.W2, l1, l2), Params(*g)


def backward(
    p: Params, X: np.ndarray, y: np.ndarray, f: Forward, l1: float = 0.0, l2: float = 0.0,
    activation: str = "relu",
) -> Params:
    """Gradient ``∂R/∂Θ`` given the forward pass f (2.#7–16, penalties 1.#8–9)."""
    n, d = X.shape
    act = blocks.activation_code(activation)
    s1, s2, penalize = blocks.penalty_scalars(p.W1, l1, l2)
    if _serial(n, d, p.W1.shape[0]):
        g = _backward_serial(X, y, p.W1, p.W2, f.ha, f.hs, f.os, s1, s2, penalize, act)
    else:
        _, *g = _grads_parallel(X, y, p.W1, p.b1, p.W2, p.b2, f.ha, f.hs, f.os, True,
                                s1, s2, penalize, act)
    return Params(*g)
