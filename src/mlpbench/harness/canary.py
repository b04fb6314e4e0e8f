"""The canary: a fixed reference workload timed in the same rounds as the implementations.

Two result files come from different moments, when the whole machine may be faster or
slower (another tenant, the host's clock, thermal state). The canary measures that,
sampled in every round beside the implementations; ``compare`` divides each sample by
the canary of its round, which cancels what the machine's speed did to both, and
reports drift-corrected ratios beside the raw ones.

- MLP points (:func:`make_step_canary`): a frozen NumPy workload with the step's own
  shapes, on its own data: the five products of the point's sizes and the element-wise
  passes between them. It is not an implementation (it computes no gradient) and it
  never changes with mlpbench's own ``numpy``, so a change there shows in ``compare``.
  Measured on a 2-core shared AMD EPYC VM (six processes, d = 784, d_h = 256), the
  spread across processes of each implementation's median divided by its canary was
  0.5–10% with this workload against 1.8–22% with a 128² GEMM plus a copy of X, and
  4–28% undivided: the machine's slow patches hit working sets of the point's size
  (cache-resident arrays, small NumPy calls) that a fixed small GEMM does not see.
- Kernel points (:func:`make_canary`): a 128×128 float64 GEMM (compute) plus one copy
  of the point's input (memory of the point's size).

Beside the canary, step points with few examples (n ≤ ``STREAM_MAX_N``) time their
memory bound in the same rounds (:func:`make_stream_bound`): W1 streamed in and a gW1
of its shape written out once, which any step must do. ``bench --table`` gives numba's
step time over it, with a paired interval (``bound_s`` in the result file).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Which canary a result file's ``canary_s`` come from (its top-level ``canary``):
#: ``compare`` corrects by the canary only between files that used the same one.
STEP_CANARY = "numpy-step-shapes-1"
KERNEL_CANARY = "gemm128-copy-1"

#: What a step point's ``bound_s`` times (its top-level ``bound``): one copy of W1.
STREAM_BOUND = "copy-W1-1"
#: Step and backward points with at most this many examples time the bound: the range
#: of few examples, where the step streams W1 and gW1 and does little arithmetic on them.
STREAM_MAX_N = 16
#: The phases that write a gW1 (the bound's write half).
STREAM_PHASES = ("step", "backward")

#: Side of the canary's GEMM: small enough to be cheap, big enough to run the BLAS kernel.
GEMM_SIZE = 128


def make_canary(X: np.ndarray) -> Callable[[], None]:
    """The canary callable for a point whose input is ``X`` (never modified)."""
    rng = np.random.default_rng(12345)
    A = rng.standard_normal((GEMM_SIZE, GEMM_SIZE))
    B = rng.standard_normal((GEMM_SIZE, GEMM_SIZE))
    C = np.empty((GEMM_SIZE, GEMM_SIZE))
    copy = np.empty_like(X)

    def canary() -> None:
        np.matmul(A, B, out=C)
        np.copyto(copy, X)

    return canary


def make_step_canary(problem: tuple) -> Callable[[], None]:
    """The canary of an MLP point whose (params, X, y) is ``problem`` (read for its
    shapes and dtype only): the step's five products and its element-wise passes, in
    NumPy, on fixed data of the same shapes."""
    p, X, _ = problem
    n, d = X.shape
    d_h, m = p.W2.shape
    rng = np.random.default_rng(54321)
    x = rng.standard_normal((n, d)).astype(X.dtype)
    w1 = (rng.standard_normal((d, d_h)) / np.sqrt(d)).astype(X.dtype)
    w2 = (rng.standard_normal((d_h, m)) / np.sqrt(d_h)).astype(X.dtype)

    def canary() -> None:
        h = np.maximum(x @ w1, 0)                 # n×d by d×d_h, then a pass over n×d_h
        o = h @ w2                                # n×d_h by d_h×m
        e = np.exp(o - o.max(axis=1, keepdims=True))
        e /= e.sum(axis=1, keepdims=True)         # passes over n×m
        h.T @ e                                   # d_h×n by n×m
        g = (e @ w2.T) * (h > 0)                  # n×m by m×d_h, a pass over n×d_h
        x.T @ g                                   # d×n by n×d_h

    return canary


def make_stream_bound(problem: tuple) -> Callable[[], None]:
    """The memory bound of a step point whose (params, X, y) is ``problem``: ``W1`` read
    and an array of its shape and dtype (the step's gW1) written, once, by one
    ``np.copyto`` on one thread (W1 is only read). A step reads W1 and writes gW1 at
    least once, so at n = 1, where the arithmetic is one multiply-add per element of
    each, its time over this one says how close it comes to the memory bound."""
    W1 = problem[0].W1
    out = np.empty_like(W1)

    def bound() -> None:
        np.copyto(out, W1)

    return bound
