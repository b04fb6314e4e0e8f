"""This machine's ceilings: GEMM GFLOP/s and memory bandwidth (a STREAM-like triad).

GEMM is NumPy's BLAS (``a @ b``, 2·k³ FLOPs) with 1 and all threads, through
threadpoolctl; the triad ``a = b + s·c`` is a parallel numba loop over arrays much
larger than the caches, counted as STREAM counts it (3 arrays x 8 bytes per
element, write-allocate traffic not included). Each figure is the best of a few
repetitions: a ceiling, not a typical value.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from mlpbench.errors import ResultFileError
from mlpbench.files import read_json
from mlpbench.harness import schema
from mlpbench.harness.results import now_iso

PEAK_SCHEMA = "mlpbench.peak"
PEAK_SCHEMA_VERSION = 1

#: (GEMM size, repetitions, triad elements per array, repetitions): full and quick.
FULL = (2048, 3, 200_000_000 // 24, 10)
QUICK = (1024, 3, 4_000_000, 6)


def _best_of(fn, repeat: int) -> float:
    fn()  # first call: page faults, thread start-up
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def gemm_gflops(size: int, dtype: str, threads: int, repeat: int = 3) -> float:
    """Best GFLOP/s of a ``size``-square matrix product in NumPy with ``threads`` BLAS threads."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size)).astype(dtype)
    b = rng.standard_normal((size, size)).astype(dtype)
    c = np.empty_like(a)
    with threadpool_limits(limits=threads, user_api="blas"):
        best = _best_of(lambda: np.matmul(a, b, out=c), repeat)
    return 2.0 * size**3 / best / 1e9


def _triad_kernel():
    from numba import njit, prange

    from mlpbench._numba_config import JIT_PARALLEL

    @njit(**JIT_PARALLEL)
    def triad(a, b, c, s):
        for i in prange(a.shape[0]):
            a[i] = b[i] + s * c[i]

    return triad


def triad_gbs(elements: int, threads: int, repeat: int = 10) -> float:
    """Best GB/s of ``a = b + s*c`` on float64 arrays of ``elements`` each."""
    import numba

    triad = _triad_kernel()
    b = np.ones(elements)
    c = np.full(elements, 2.0)
    a = np.empty(elements)
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        best = _best_of(lambda: triad(a, b, c, 3.0), repeat)
    finally:
        numba.set_num_threads(previous)
    return 3 * 8 * elements / best / 1e9


def measure_peak(quick: bool = False) -> dict[str, Any]:
    """The ``peak`` object of the result file (schema.py): GEMM and triad ceilings."""
    from mlpbench.harness.machine import configured_threads, max_threads

    size, gemm_repeat, elements, triad_repeat = QUICK if quick else FULL
    cores = max_threads()
    counts = sorted({1, cores})
    with configured_threads(cores) as threads:
        gemm = {dtype: {str(t): round(gemm_gflops(size, dtype, t, gemm_repeat), 2)
                        for t in counts}
                for dtype in ("float64", "float32")}
        bandwidth = triad_gbs(elements, cores, triad_repeat)
    return {
        "gemm_gflops": gemm, "triad_gbs": round(bandwidth, 2), "gemm_size": size,
        "triad_bytes": 3 * 8 * elements, "triad_threads": cores, "quick": bool(quick),
        "threading_layer": threads["threading_layer"], "measured": now_iso(),
    }


def peak_document(peak: dict[str, Any]) -> dict[str, Any]:
    """The file ``mlpbench peak`` writes: the peak object and the machine it came from."""
    from mlpbench.harness.machine import machine_info

    return {"schema": PEAK_SCHEMA, "schema_version": PEAK_SCHEMA_VERSION,
            "created": now_iso(), "machine": machine_info(), "peak": peak}


def load_peak(path) -> dict[str, Any]:
    """The peak object of a file written by ``mlpbench peak``, checked field by field.

    Raises FileError when the file cannot be read as JSON and ResultFileError when
    it is not a peak file (one line naming the file).
    """
    doc = read_json(path, "peak file")
    if not isinstance(doc, dict) or doc.get("schema") != PEAK_SCHEMA:
        raise ResultFileError(f"{path} is not a file written by `mlpbench peak`")
    version = doc.get("schema_version")
    if version != PEAK_SCHEMA_VERSION or isinstance(version, bool):
        raise ResultFileError(f"{path}: peak file version {version!r} is not "
                              f"supported (this mlpbench reads version {PEAK_SCHEMA_VERSION})")
    peak = doc.get("peak")
    if not isinstance(peak, dict) or not isinstance(peak.get("gemm_gflops"), dict) \
            or not isinstance(peak.get("triad_gbs"), int | float):
        raise ResultFileError(f"{path}: the 'peak' object lacks gemm_gflops or triad_gbs")
    try:
        return schema.validate_peak(peak)
    except schema.SchemaError as exc:
        raise ResultFileError(f"peak file {path}: {exc}") from None


def format_peak(peak: dict[str, Any]) -> str:
    """A few lines summarizing a peak object."""
    lines = [f"GEMM {peak['gemm_size']}x{peak['gemm_size']} (GFLOP/s, best of a few):"]
    for dtype, by_threads in peak["gemm_gflops"].items():
        cells = ", ".join(f"{t} thread{'s' if t != '1' else ''}: {v:g}"
                          for t, v in by_threads.items())
        lines.append(f"  {dtype}: {cells}")
    lines.append(f"memory bandwidth (triad, {peak['triad_bytes'] / 1e6:.0f} MB, "
                 f"{peak.get('triad_threads', '?')} threads): {peak['triad_gbs']:g} GB/s")
    return "\n".join(lines)
