"""Matrix products as plain JIT-compiled loops, no BLAS: register tiles of dot products.

The work horse is ``_gemm_nt``: ``C += A Btᵀ`` with both operands read along their
unit-stride rows, in 4×3 tiles of independent dot products that LLVM turns into AVX2
FMAs (``_numba_blocks.dots_4x3``: 12 vector accumulators, 7 loads per 12 FMAs, no
stores in the inner loop). Indices here are those of a generic product, not the MLP's.
Every kernel here is serial and trusts its inputs; the callers split the work.
"""

from __future__ import annotations

from numba import njit

from mlpbench._numba_config import JIT
from mlpbench.mlp import _numba_blocks as blocks

__all__ = ["JB", "KB_BYTES", "leading_dim"]

#: Bytes of a row taken by one pass of dot products (512 float64, 1024 float32): a
#: 4-row strip of A (16 KiB) stays in L1, a JB-row block of Bt (256 KiB) in L2.
#: Measured best of 1/2/4 KiB × JB 32/64/128 at the base shape, both dtypes.
KB_BYTES = 4096
#: Rows of Bt swept by each strip of A while they sit in L2.
JB = 64


def leading_dim(n: int, itemsize: int) -> int:
    """A row length ≥ n for packed arrays whose rows must not alias in the L1 cache.

    Rows exactly a multiple of 4 KiB apart map to the same L1 set; the tiles stream
    up to 7 such rows at once. Rounding n up to whole cache lines and adding one line
    when the row length is a multiple of 1 KiB spreads them over the sets.
    """
    per_line = max(1, 64 // itemsize)
    ld = -(-n // per_line) * per_line
    if (ld * itemsize) % 1024 == 0:
        ld += per_line
    return ld


@njit(**JIT, inline="always")  # called by _gemm_nt only: compiled there alone
def _nt_tile(A, Bt, C, i0, i1, j0, j1, k0, k1):
    """``C[i0:i1, j0:j1] += A[i0:i1, k0:k1] @ Bt[j0:j1, k0:k1]ᵀ``.

    4×3 tiles of dot products, each over the unit-stride slice k0:k1; the loops run
    over slices from 0 so that no negative-index check blocks vectorization.
    """
    w = k1 - k0
    zero = C.dtype.type(0)
    i = i0
    while i + 4 <= i1:
        a0 = A[i, k0:k1]
        a1 = A[i + 1, k0:k1]
        a2 = A[i + 2, k0:k1]
        a3 = A[i + 3, k0:k1]
        j = j0
        while j + 3 <= j1:
            b0 = Bt[j, k0:k1]
            b1 = Bt[j + 1, k0:k1]
            b2 = Bt[j + 2, k0:k1]
            c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32 = blocks.dots_4x3(
                a0, a1, a2, a3, b0, b1, b2)
            C[i, j] += c00
            C[i, j + 1] += c01
            C[i, j + 2] += c02
            C[i + 1, j] += c10
            C[i + 1, j + 1] += c11
            C[i + 1, j + 2] += c12
            C[i + 2, j] += c20
            C[i + 2, j + 1] += c21
            C[i + 2, j + 2] += c22
            C[i + 3, j] += c30
            C[i + 3, j + 1] += c31
            C[i + 3, j + 2] += c32
            j += 3
        while j < j1:  # remainder columns: 4×1 tiles
            c0, c1, c2, c3 = blocks.dots_4x1(a0, a1, a2, a3, Bt[j, k0:k1])
            C[i, j] += c0
            C[i + 1, j] += c1
            C[i + 2, j] += c2
            C[i + 3, j] += c3
            j += 1
        i += 4
    while i < i1:  # remainder rows: 1×3 tiles, then single dot products
        a0 = A[i, k0:k1]
        j = j0
        while j + 3 <= j1:
            b0 = Bt[j, k0:k1]
            b1 = Bt[j + 1, k0:k1]
            b2 = Bt[j + 2, k0:k1]
            c0 = c1 = c2 = zero
            for k in range(w):
                x0 = a0[k]
                c0 += x0 * b0[k]
                c1 += x0 * b1[k]
                c2 += x0 * b2[k]
            C[i, j] += c0
            C[i, j + 1] += c1
            C[i, j + 2] += c2
            j += 3
        while j < j1:
            b0 = Bt[j, k0:k1]
            c0 = zero
            for k in range(w):
                c0 += a0[k] * b0[k]
            C[i, j] += c0
            j += 1
        i += 1


@njit(**JIT)
def _gemm_nt(A, Bt, C, i0, i1, j0, j1, K):
    """``C[i0:i1, j0:j1] += A[i0:i1, :K] @ Bt[j0:j1, :K]ᵀ``, blocked for the caches.

    A block of JB rows × KB_BYTES of Bt is swept by every 4-row strip of A[i0:i1] while
    it sits in L2; each strip stays in L1 across the block.
    """
    kb_len = KB_BYTES // C.itemsize
    for jb in range(j0, j1, JB):
        je = min(j1, jb + JB)
        for kb in range(0, K, kb_len):
            _nt_tile(A, Bt, C, i0, i1, jb, je, kb, min(K, kb + kb_len))


@njit(**JIT)
def _transpose_rows(src, dst, r0, r1):
    """``dst[c, r] = src[r, c]`` for rows r0:r1 of src.

    Eight source rows at a time, so that each row of dst gets a whole 64-byte line
    (float64) per visit; about as fast as NumPy's own transposing copy.
    """
    cols = src.shape[1]
    rb = r0
    while rb + 8 <= r1:
        s0 = src[rb]
        s1 = src[rb + 1]
        s2 = src[rb + 2]
        s3 = src[rb + 3]
        s4 = src[rb + 4]
        s5 = src[rb + 5]
        s6 = src[rb + 6]
        s7 = src[rb + 7]
        for c in range(cols):
            out = dst[c, rb:rb + 8]
            out[0] = s0[c]
            out[1] = s1[c]
            out[2] = s2[c]
            out[3] = s3[c]
            out[4] = s4[c]
            out[5] = s5[c]
            out[6] = s6[c]
            out[7] = s7[c]
        rb += 8
    for r in range(rb, r1):
        for c in range(cols):
            dst[c, r] = src[r, c]


@njit(**JIT)
def _axpy_t(G, X, C, j0, j1):
    """``C[j, :] += Σ_i G[i, j] X[i, :]`` for j in j0:j1, i.e. rows of ``Gᵀ X``.

    For few examples (small n): two output rows take four examples per pass over
    them, a contiguous loop over the columns that shares the loads of X between the
    two rows (1.5× faster than one row at a time at n = 16). With n = 1 this is the
    rank-1 update ``g xᵀ``.
    """
    n = X.shape[0]
    j = j0
    while j + 2 <= j1:
        c0 = C[j]
        c1 = C[j + 1]
        i = 0
        while i + 4 <= n:
            g00 = G[i, j]
            g01 = G[i + 1, j]
            g02 = G[i + 2, j]
            g03 = G[i + 3, j]
            g10 = G[i, j + 1]
            g11 = G[i + 1, j + 1]
            g12 = G[i + 2, j + 1]
            g13 = G[i + 3, j + 1]
            x0 = X[i]
            x1 = X[i + 1]
            x2 = X[i + 2]
            x3 = X[i + 3]
            for k in range(c0.shape[0]):
                a0 = x0[k]
                a1 = x1[k]
                a2 = x2[k]
                a3 = x3[k]
                c0[k] += g00 * a0 + g01 * a1 + g02 * a2 + g03 * a3
                c1[k] += g10 * a0 + g11 * a1 + g12 * a2 + g13 * a3
            i += 4
        while i < n:
            g0 = G[i, j]
            g1 = G[i, j + 1]
            x0 = X[i]
            for k in range(c0.shape[0]):
                c0[k] += g0 * x0[k]
                c1[k] += g1 * x0[k]
            i += 1
        j += 2
    if j < j1:  # the last row of an odd count
        c0 = C[j]
        i = 0
        while i + 4 <= n:
            blocks.axpy4(c0, G[i, j], X[i], G[i + 1, j], X[i + 1], G[i + 2, j], X[i + 2],
                         G[i + 3, j], X[i + 3], True)
            i += 4
        while i < n:
            g0 = G[i, j]
            x0 = X[i]
            for k in range(c0.shape[0]):
                c0[k] += g0 * x0[k]
            i += 1
