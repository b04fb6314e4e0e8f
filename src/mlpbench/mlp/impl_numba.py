"""The MLP as Numba JIT kernels: BLAS for the two large products, one fused pass for the rest.

A step (``loss_and_grad``) makes three passes over one n×d_h scratch array ``H``:
``H = X W1ᵀ`` (BLAS); then, row by row while the row is in L1, every m-thin product and
element-wise formula of 2.#1–16, leaving ``G_ha`` in ``H``; then ``gW1 = G_haᵀ X`` (BLAS,
or a loop for tiny n, where BLAS's thin GEMM is slow, DESIGN.md). Inputs are trusted to be
in the form ``mlp.check_inputs`` returns; ``out`` arrays to be C-contiguous and unaliased.
"""

from __future__ import annotations

import threading

import numba
import numpy as np
from numba import njit, prange

from mlpbench._numba_config import JIT, JIT_PARALLEL
from mlpbench.mlp.params import Forward, Params, Workspace, empty_like

__all__ = ["OUTER_MAX_ROWS", "PARALLEL_MIN_ROWS", "backward", "forward", "loss",
           "loss_and_grad", "workspace"]

#: Up to this many rows, ``gW1 = G_haᵀ X`` is a loop of outer products, not a BLAS GEMM
#: (a k = 1 GEMM through SciPy's BLAS costs ~20x the loop, DESIGN.md).
OUTER_MAX_ROWS = 2

#: The fused row pass runs in ``prange`` chunks from this many rows on (and with more
#: than one numba thread); below, the launch costs more than it saves.
PARALLEL_MIN_ROWS = 128


# ---------------------------------------------------------------- one row of the batch


@njit(**JIT)
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


@njit(**JIT)
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
def _step_rows(H, y, b1, W2, b2, inv_n, i0, i1, hs, oa, go, gW2, gb1, gb2):
    """Rows i0:i1 of a step: H holds ``X W1ᵀ`` there on entry, ``G_ha`` on return (2.#1–16).

    Adds the rows' shares to gW2, gb1, gb2 and returns ``Σ L_i`` over them in float64.
    hs (d_h), oa, go (m) are scratch rows.
    """
    total = 0.0
    for i in range(i0, i1):
        h = H[i]
        _relu_row(h, b1, hs)  # 2.#1
        top = _logits_row(hs, W2, b2, oa)  # 2.#2
        total += _nll_grad_row(oa, top, y[i], inv_n, go)  # 2.#3–8
        _backprop_row(go, W2, hs, hs, h, gW2, gb1, gb2)  # 2.#9–16, G_ha over X W1ᵀ
    return total


@njit(**JIT)
def _backward_rows(hs, ha, os, y, W2, inv_n, i0, i1, go, G, gW2, gb1, gb2):
    """Rows i0:i1 of ``G = G_ha`` from a forward pass, adding to gW2, gb1, gb2 (2.#7–16)."""
    for i in range(i0, i1):
        _grad_oa_row(os[i], y[i], inv_n, go)  # 2.#7–8
        _backprop_row(go, W2, hs[i], ha[i], G[i], gW2, gb1, gb2)  # 2.#9–16


@njit(**JIT)
def _grad_w1(G, X, gW1):
    """``gW1 = Gᵀ X`` (2.#15–16): BLAS, or n outer products when n <= OUTER_MAX_ROWS."""
    n, d_h = G.shape
    if n > OUTER_MAX_ROWS:
        np.dot(G.T, X, gW1)
        return
    zero = gW1.dtype.type(0)
    for j in range(d_h):
        r = gW1[j]
        for k in range(r.shape[0]):
            r[k] = zero
        for i in range(n):
            c = G[i, j]
            if c != zero:  # ReLU zeroes about half of G_ha
                x = X[i]
                for k in range(r.shape[0]):
                    r[k] += c * x[k]


@njit(**JIT)
def _zero_grads(gb1, gW2, gb2):
    gb1[:] = 0
    gW2[:] = 0
    gb2[:] = 0


@njit(**JIT)
def _reduce_parts(P2, P1, P0, gW2, gb1, gb2):
    """``g = Σ_c P[c]`` over the chunks' partial sums, serially, in chunk order."""
    gW2[:] = P2[0]
    gb1[:] = P1[0]
    gb2[:] = P0[0]
    for c in range(1, P2.shape[0]):
        gW2 += P2[c]
        gb1 += P1[c]
        gb2 += P0[c]


# ------------------------------------------------------------------------ drivers


@njit(**JIT)
def _step_serial(X, y, W1, b1, W2, b2, H, hs, oa, go, gW1, gb1, gW2, gb2):
    """A step on one thread (BLAS may use more): fills gW1..gb2, returns ``Σ_i L_i``."""
    n = X.shape[0]
    np.dot(X, W1.T, H)  # 2.#1: X W1ᵀ, bias and ReLU come in the row pass
    _zero_grads(gb1, gW2, gb2)
    inv_n = H.dtype.type(1) / H.dtype.type(n)
    total = _step_rows(H, y, b1, W2, b2, inv_n, 0, n, hs[0], oa[0], go[0], gW2, gb1, gb2)
    _grad_w1(H, X, gW1)  # 2.#15–16
    return total


@njit(**JIT_PARALLEL)
def _step_parallel(X, y, W1, b1, W2, b2, H, hs, oa, go, gW1, gb1, gW2, gb2, P2, P1, P0,
                   totals):
    """A step with the row pass in ``P2.shape[0]`` chunks (BLAS idle meanwhile)."""
    n = X.shape[0]
    chunks = P2.shape[0]
    np.dot(X, W1.T, H)  # 2.#1
    inv_n = H.dtype.type(1) / H.dtype.type(n)
    for c in prange(chunks):  # chunk c owns rows i0:i1 of H and partials [c]: no race
        i0 = c * n // chunks
        i1 = (c + 1) * n // chunks
        _zero_grads(P1[c], P2[c], P0[c])
        totals[c] = _step_rows(H, y, b1, W2, b2, inv_n, i0, i1, hs[c], oa[c], go[c],
                               P2[c], P1[c], P0[c])
    _reduce_parts(P2, P1, P0, gW2, gb1, gb2)
    _grad_w1(H, X, gW1)  # 2.#15–16
    return totals.sum()


@njit(**JIT)
def _backward_serial(X, y, W2, ha, hs, os, G, go, gW1, gb1, gW2, gb2):
    """Gradients from a forward pass (2.#7–16), on one thread; G is n×d_h scratch."""
    n = X.shape[0]
    _zero_grads(gb1, gW2, gb2)
    inv_n = G.dtype.type(1) / G.dtype.type(n)
    _backward_rows(hs, ha, os, y, W2, inv_n, 0, n, go[0], G, gW2, gb1, gb2)
    _grad_w1(G, X, gW1)


@njit(**JIT)
def _forward_kernel(X, W1, b1, W2, b2, ha, hs, oa, os):
    """Fills ``ha, hs, oa, os`` (2.#1–3), n rows each."""
    np.dot(X, W1.T, ha)  # 2.#1: X W1ᵀ
    zero = ha.dtype.type(0)
    for i in range(X.shape[0]):
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
def _loss_kernel(X, y, W1, b1, W2, b2, H, hs, oa):
    """``Σ_i L_i`` (2.#1–4), with H (n×d_h) and hs, oa (one row) as scratch."""
    np.dot(X, W1.T, H)  # 2.#1
    total = 0.0
    for i in range(X.shape[0]):
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


def _chunks(n: int) -> int:
    if n < PARALLEL_MIN_ROWS:
        return 1
    return max(1, min(numba.get_num_threads(), n // (PARALLEL_MIN_ROWS // 2)))


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
    _forward_kernel(X, p.W1, p.b1, p.W2, p.b2, ha, hs, oa, os)
    return Forward(ha, hs, oa, os)


def loss(p: Params, X: np.ndarray, y: np.ndarray, l1: float = 0.0, l2: float = 0.0) -> float:
    """Regularized risk ``R`` (2.#4–5)."""
    n, d_h, m = X.shape[0], p.W1.shape[0], p.W2.shape[0]
    ws = workspace()
    total = _loss_kernel(X, y, p.W1, p.b1, p.W2, p.b2, ws.array("H", (n, d_h), X.dtype),
                         ws.array("hs", (1, d_h), X.dtype)[0], ws.array("oa", (1, m), X.dtype)[0])
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
    n, d_h, m = X.shape[0], p.W1.shape[0], p.W2.shape[0]
    g = empty_like(p) if out is None else _check_out(out)
    dt = X.dtype
    ws = workspace()
    H = ws.array("H", (n, d_h), dt)
    chunks = _chunks(n)
    hs, oa, go = (ws.array(k, (chunks, s), dt) for k, s in (("hs", d_h), ("oa", m), ("go", m)))
    if chunks == 1:
        total = _step_serial(X, y, p.W1, p.b1, p.W2, p.b2, H, hs, oa, go, *g)
    else:
        total = _step_parallel(
            X, y, p.W1, p.b1, p.W2, p.b2, H, hs, oa, go, *g,
            ws.array("P2", (chunks, m, d_h), dt), ws.array("P1", (chunks, d_h), dt),
            ws.array("P0", (chunks, m), dt), ws.array("totals", (chunks,), np.float64))
    return float(total) / n + _add_penalties(p, g, l1, l2), g


def backward(
    p: Params, X: np.ndarray, y: np.ndarray, f: Forward, l1: float = 0.0, l2: float = 0.0,
    out: Params | None = None,
) -> Params:
    """Gradient ``∂R/∂Θ`` given the forward pass f (2.#7–16, penalties 1.#8–9)."""
    n, d_h, m = X.shape[0], p.W1.shape[0], p.W2.shape[0]
    g = empty_like(p) if out is None else _check_out(out)
    ws = workspace()
    _backward_serial(X, y, p.W2, f.ha, f.hs, f.os, ws.array("H", (n, d_h), X.dtype),
                     ws.array("go", (1, m), X.dtype), *g)
    _add_penalties(p, g, l1, l2)
    return g
