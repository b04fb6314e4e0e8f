"""The canary: a fixed reference workload timed in the same rounds as the implementations.

Two result files come from different moments, when the whole machine may be faster or
slower (another tenant, the host's clock, thermal state). The canary measures that:
a fixed 128×128 float64 GEMM (compute) plus one copy of the point's input X (memory of
the point's size), sampled in every round beside the implementations. ``compare``
divides each sample by the canary of its round, which cancels what the machine's speed
did to both, and reports drift-corrected ratios beside the raw ones.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

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
