"""This machine's ceilings: GEMM GFLOP/s and memory bandwidth (a STREAM-like triad).

GEMM is NumPy's BLAS (``a @ b``, 2·k³ FLOPs) with 1 and all threads, through
threadpoolctl; the triad ``a = b + s·c`` is a parallel numba loop over arrays much
larger than the caches, counted as STREAM counts it (3 arrays x 8 bytes per
element, write-allocate traffic not included). Each figure is the best of a few
repetitions at more than one size (GEMM), a ceiling rather than a typical value;
:func:`merge_peaks` keeps the highest of two measurements (``mlpbench run``
measures again at the end), and :func:`ceiling` raises the GEMM ceiling to the
fastest rate an implementation reached in the run, so no point is drawn above it.
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

#: (GEMM sizes, repetitions, triad elements per array, repetitions): full and quick.
#: The peak is the best over the sizes: BLAS reaches its top speed at different sizes
#: on different machines, and one size alone moved the figure by 20% between runs.
FULL = ((1024, 2048), 5, 200_000_000 // 24, 10)
QUICK = ((512, 1024), 5, 4_000_000, 6)


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

    sizes, gemm_repeat, elements, triad_repeat = QUICK if quick else FULL
    cores = max_threads()
    counts = sorted({1, cores})
    by_size: dict[str, dict[str, dict[str, float]]] = {}
    with configured_threads(cores) as threads:
        for dtype in ("float64", "float32"):
            by_size[dtype] = {str(t): {str(n): round(gemm_gflops(n, dtype, t, gemm_repeat), 2)
                                       for n in sizes} for t in counts}
        bandwidth = triad_gbs(elements, cores, triad_repeat)
    gemm = {dtype: {t: max(v.values()) for t, v in per.items()} for dtype, per in by_size.items()}
    best = {dtype: {t: int(max(v, key=v.get)) for t, v in per.items()}
            for dtype, per in by_size.items()}
    return {
        "gemm_gflops": gemm, "gemm_by_size": by_size, "gemm_best_size": best,
        "triad_gbs": round(bandwidth, 2), "gemm_size": max(sizes),
        "triad_bytes": 3 * 8 * elements, "triad_threads": cores, "quick": bool(quick),
        "threading_layer": threads["threading_layer"], "measured": now_iso(),
    }


def merge_peaks(first: dict[str, Any] | None, second: dict[str, Any] | None) -> dict | None:
    """The higher of two measurements of the ceilings, entry by entry (each is a best-of:
    a lower second reading means the machine was busier, not that the ceiling fell)."""
    if not first or not second:
        return first or second
    out = dict(first)
    gemm = {dt: dict(v) for dt, v in first["gemm_gflops"].items()}
    for dt, per in second["gemm_gflops"].items():
        for t, v in per.items():
            gemm.setdefault(dt, {})[t] = max(gemm.get(dt, {}).get(t, 0.0), v)
    out["gemm_gflops"] = gemm
    out["triad_gbs"] = max(first["triad_gbs"], second["triad_gbs"])
    out["measured"] = [*_as_list(first.get("measured")), *_as_list(second.get("measured"))]
    return out


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def ceiling(peak: dict[str, Any] | None, points: list[dict], dtype: str,
            threads: int | str) -> float | None:
    """The GEMM ceiling for ``dtype`` at ``threads``: the measured peak, raised to the
    highest GFLOP/s any point of ``points`` reached at that dtype (an implementation
    faster than NumPy's square GEMM shows the ceiling was set too low)."""
    measured = None
    if peak:
        measured = (peak.get("gemm_gflops", {}).get(dtype) or {}).get(str(threads))
    rates = [p["gflops"] for p in points
             if p.get("dtype") == dtype and p.get("status") == "ok" and p.get("gflops")]
    best = max(rates, default=None)
    if measured is None:
        return best
    return max(measured, best) if best is not None else measured


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
    sizes = sorted({int(n) for per in (peak.get("gemm_by_size") or {}).values()
                    for by_n in per.values() for n in by_n}) or [peak["gemm_size"]]
    lines = [f"GEMM {', '.join(f'{n}x{n}' for n in sizes)} (GFLOP/s, best of "
             "repetitions and sizes):"]
    for dtype, by_threads in peak["gemm_gflops"].items():
        cells = ", ".join(f"{t} thread{'s' if t != '1' else ''}: {v:g}"
                          for t, v in by_threads.items())
        lines.append(f"  {dtype}: {cells}")
    lines.append(f"memory bandwidth (triad, {peak['triad_bytes'] / 1e6:.0f} MB, "
                 f"{peak.get('triad_threads', '?')} threads): {peak['triad_gbs']:g} GB/s")
    return "\n".join(lines)
