"""Will a point fit in memory? An estimate made before anything is allocated.

A sweep point holds the problem (X: n×d, y: n, the parameters), the reference's
output (the loss and one gradient per parameter) and, while an implementation
runs, its working arrays: the forward pass (Ha, Hs: n×d_h; Oa, Os: n×m), the
backward pass (G_oa: n×m; G_hs, G_ha: n×d_h) and the gradients, times a factor
for the temporaries of its expressions. ``loops`` works on Python lists: about
32 bytes per number (a float object and its pointer) instead of the dtype's size.
The estimate is deliberately generous (within ~2x): its job is to refuse sizes
such as n = 10⁹ before NumPy dies of a MemoryError, not to pack memory full.

:func:`point_bytes` is the estimate; :func:`too_big` compares it with what the
machine has available (:func:`mlpbench.harness.machine.available_memory_bytes`).
"""

from __future__ import annotations

import numpy as np

#: Bytes of one number in a Python list (a float object, 24 bytes, and the pointer).
PY_NUMBER_BYTES = 32

#: Working memory of an implementation's call as a multiple of its arrays (expression
#: temporaries, packed copies). Unknown implementations get DEFAULT_FACTOR.
WORK_FACTOR = {"numpy": 2.0, "numba": 1.5, "numba-loops": 1.5}
DEFAULT_FACTOR = 3.0

#: A point must fit in this fraction of the available memory.
FITS_FRACTION = 0.9


def _params(d: int, d_h: int, m: int) -> int:
    return d_h * d + d_h + m * d_h + m


def _work_elements(phase: str, n: int, d: int, d_h: int, m: int) -> int:
    forward = n * (2 * d_h + 2 * m)
    if phase == "forward":
        return forward
    backward = n * (m + 2 * d_h) + _params(d, d_h, m)
    return backward + (forward if phase == "step" else 0)


def _is_peer(impl: str) -> bool:
    try:
        from mlpbench.mlp import registry

        return bool(registry.info(impl).peer)
    except Exception:  # not registered (an injected implementation), or no registry
        return False


def work_bytes(impl: str, phase: str, n: int, d: int, d_h: int, m: int, dtype: str) -> int:
    """Working memory of one call of ``impl``'s ``phase`` at this point (an estimate)."""
    item = np.dtype(dtype).itemsize
    elements = _work_elements(phase, n, d, d_h, m)
    if impl == "loops":  # X, the parameters and every intermediate as Python lists
        return PY_NUMBER_BYTES * (n * d + _params(d, d_h, m) + elements) * 2
    factor = WORK_FACTOR.get(impl, DEFAULT_FACTOR)
    copies = n * d + _params(d, d_h, m) if _is_peer(impl) or impl not in WORK_FACTOR else 0
    return int(item * (factor * elements + copies))


def point_bytes(impl: str, phase: str, n: int, d: int, d_h: int, m: int, dtype: str,
                reference: str = "numpy", timed_together: int = 1) -> int:
    """Memory a sweep needs to run ``impl`` at this point (bytes, an estimate).

    The problem, the reference's output, and the larger of the reference's and the
    implementation's working memory; for ``backward``, the forward passes kept by
    the ``timed_together`` implementations timed in turns at this point.
    """
    item = np.dtype(dtype).itemsize
    params = _params(d, d_h, m)
    generate = n * d * (8 + item) + 16 * n  # float64 draws and their cast; labels
    problem = n * d * item + 8 * n + params * item
    ref_out = (params + 1) * item
    work = max(work_bytes(reference, phase, n, d, d_h, m, dtype),
               work_bytes(impl, phase, n, d, d_h, m, dtype))
    kept = 0
    if phase == "backward":
        kept = timed_together * n * (2 * d_h + 2 * m) * item
    return max(generate + params * item, problem + ref_out + work + kept)


def gib(nbytes: float) -> str:
    """Bytes in GiB, three significant digits."""
    return f"{nbytes / 2**30:.3g}"


def too_big(need: int, available: int | None) -> str | None:
    """Why ``need`` bytes do not fit in ``available`` (None: unknown, assumed to fit)."""
    if available is None or need <= FITS_FRACTION * available:
        return None
    return f"memory: needs ~{gib(need)} GiB, {gib(available)} GiB available"


def measure_call(fn, *, peer: bool = False, jit: bool = False) -> dict:
    """Memory of one call of ``fn``: ``{"peak_bytes", "allocations", "method"}``.

    ``peak_bytes``: the peak of what the call allocated through Python's and NumPy's
    allocators, result included (tracemalloc sees both). ``allocations``: for JIT code,
    the arrays numba's runtime (NRT) allocated, whose bytes tracemalloc cannot see.
    A peer's allocator (PyTorch's c10, XLA) is invisible to both: "not measured",
    rather than a misleading zero.
    """
    import tracemalloc

    if peer:
        return {"peak_bytes": None, "allocations": None,
                "method": "not measured (the library's own allocator)"}
    stats = _nrt_stats() if jit else None
    before = stats() if stats else None
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        peak = max(tracemalloc.get_traced_memory()[1] - start, 0)
    finally:
        tracemalloc.stop()
    allocations = stats()[0] - before[0] if stats else None
    method = "tracemalloc" + (" + numba NRT allocation count" if stats else "")
    return {"peak_bytes": int(peak), "allocations": allocations, "method": method}


def _nrt_stats():
    """A callable giving numba's NRT (alloc, free) counts, enabling them; None if numba's
    runtime does not offer them."""
    try:
        from numba.core.runtime import _nrt_python as nrt
        from numba.core.runtime import rtsys

        rtsys.initialize(None)  # idempotent; the stats live in the runtime
        if not nrt.memsys_stats_enabled():
            nrt.memsys_enable_stats()
        return lambda: (nrt.memsys_get_stats_alloc(), nrt.memsys_get_stats_free())
    except Exception:  # an older or newer numba without them: not measured
        return None
