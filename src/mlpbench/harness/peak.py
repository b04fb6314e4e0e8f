"""This machine's ceilings: GEMM GFLOP/s, memory bandwidth (a STREAM-like triad), and
the bandwidth of a serial read+write pass with its working set in each cache level.

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


#: Where Linux describes the caches of the first CPU (index*/level, type, size).
CACHE_DIR = "/sys/devices/system/cpu/cpu0/cache"
#: Cache sizes assumed where /sys does not say (a typical x86 core); recorded as such.
DEFAULT_CACHE_BYTES = {"L1": 32 * 1024, "L2": 1024 * 1024, "L3": 32 * 1024 * 1024}
#: The read+write pass's working set (both arrays) as a fraction of each cache, and the
#: DRAM working set as a multiple of the largest cache (at least DRAM_MIN_BYTES).
CACHE_FRACTION = 0.5
#: The L3 working set at most (unless 4 L2s are larger): see level_bandwidths.
L3_MAX_BYTES = 16 * 2**20
DRAM_FACTOR = (4, 2)  # full, quick
DRAM_MIN_BYTES = (256 * 2**20, 64 * 2**20)
#: Seconds one timed call of the pass lasts at the least, and repetitions (best kept).
PASS_MIN_S = 0.005
PASS_REPEAT = (7, 3)  # full, quick


def _parse_size(text: str) -> int | None:
    text = text.strip().upper()
    scale = {"K": 1024, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
    digits = text[:-1] if text[-1:] in "KMG" else text
    return int(digits) * scale if digits.isdigit() else None


def cache_sizes(root: str = CACHE_DIR) -> dict[str, int]:
    """Sizes in bytes of the data caches L1, L2, L3 of the first CPU, from /sys (the
    levels it does not describe are absent; instruction caches are left out)."""
    from pathlib import Path

    out: dict[str, int] = {}
    for index in sorted(Path(root).glob("index*")):
        try:
            level = int((index / "level").read_text())
            kind = (index / "type").read_text().strip()
            size = _parse_size((index / "size").read_text())
        except (OSError, ValueError):
            continue
        if kind == "Instruction" or size is None or not 1 <= level <= 3:
            continue
        out[f"L{level}"] = max(out.get(f"L{level}", 0), size)
    return out


def _pass_kernel():
    from numba import njit

    from mlpbench._numba_config import JIT

    @njit(**JIT)
    def read_write(a, b, passes):
        # Ping-pong a -> b -> a: each pass reads one array and writes the other, and no
        # pass can be optimized away (each writes values the next one reads).
        half, two = a.dtype.type(0.5), a.dtype.type(2.0)
        for r in range(passes):
            if r % 2 == 0:
                for i in range(a.size):
                    b[i] = a[i] * half
            else:
                for i in range(a.size):
                    a[i] = b[i] * two

    return read_write


def pass_gbs(working_set: int, repeat: int = 5) -> float:
    """Best GB/s of a serial read+write pass (``b = a/2``, then ``a = 2b``) over two
    float64 arrays of ``working_set`` bytes together, counted as 2 × 8 bytes per
    element and pass (the write-allocate traffic not counted, as STREAM does not)."""
    kernel = _pass_kernel()
    elements = max(working_set // 16, 64)
    a = np.ones(elements)
    b = np.empty(elements)
    passes = 2
    kernel(a, b, passes)  # compile (or load), first touch
    while True:  # enough passes per call for the timer
        start = time.perf_counter()
        kernel(a, b, passes)
        elapsed = time.perf_counter() - start
        if elapsed >= PASS_MIN_S or passes >= 2**30:
            break
        passes = int(min(2**30, passes * max(2.0, 1.25 * PASS_MIN_S / max(elapsed, 1e-9))))
        passes += passes % 2
    best = _best_of(lambda: kernel(a, b, passes), repeat)
    return 16 * elements * passes / best / 1e9


def level_bandwidths(quick: bool = False, caches: dict[str, int] | None = None
                     ) -> dict[str, Any]:
    """Serial read+write bandwidth with the working set in L1, L2, L3 and DRAM.

    Working sets: :data:`CACHE_FRACTION` of each cache (from :func:`cache_sizes`, or
    :data:`DEFAULT_CACHE_BYTES` for a level /sys does not describe), L3's at most
    ``max(4 L2, L3_MAX_BYTES)``, and for DRAM DRAM_FACTOR times the largest cache.
    One thread: the kernels of part 1 are serial, and one core's bandwidth is their
    bound. Returns the peak object's fields
    ``bandwidth_gbs``, ``bandwidth_bytes``, ``cache_bytes``, ``bandwidth_threads``.
    """
    from mlpbench.harness.machine import configured_threads

    read = cache_sizes() if caches is None else dict(caches)
    sizes = {**DEFAULT_CACHE_BYTES, **read}
    factor, least = DRAM_FACTOR[1 if quick else 0], DRAM_MIN_BYTES[1 if quick else 0]
    working = {level: int(CACHE_FRACTION * sizes[level]) for level in ("L1", "L2", "L3")}
    # A virtual machine may report its host's whole L3 (hundreds of MB shared with other
    # tenants); a working set of a few L2s, or L3_MAX_BYTES, stays within its share.
    working["L3"] = min(working["L3"], max(4 * sizes["L2"], L3_MAX_BYTES))
    working["DRAM"] = max(factor * max(sizes.values()), least)
    repeat = PASS_REPEAT[1 if quick else 0]
    with configured_threads(1):
        gbs = {level: round(pass_gbs(ws, repeat), 2) for level, ws in working.items()}
    return {"bandwidth_gbs": gbs, "bandwidth_bytes": working, "cache_bytes": read,
            "bandwidth_threads": 1}


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
        **level_bandwidths(quick),
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
    levels = {**(first.get("bandwidth_gbs") or {})}
    for level, v in (second.get("bandwidth_gbs") or {}).items():
        levels[level] = max(levels.get(level, 0.0), v)
    if levels:
        out["bandwidth_gbs"] = levels
        for k in ("bandwidth_bytes", "cache_bytes", "bandwidth_threads"):
            out.setdefault(k, second.get(k))
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
    levels = peak.get("bandwidth_gbs")
    if levels:
        ws = peak.get("bandwidth_bytes") or {}
        cells = ", ".join(f"{k} {v:g}" + (f" ({_bytes_text(ws[k])})" if k in ws else "")
                          for k, v in levels.items())
        lines.append(f"read+write pass, 1 thread (GB/s, working set): {cells}")
    return "\n".join(lines)


def _bytes_text(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"
