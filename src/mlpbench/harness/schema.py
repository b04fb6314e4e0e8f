"""The result file written by ``mlpbench bench`` and read by ``mlpbench report``.

One JSON document per sweep. This module is the single description of its
layout (the harness writes it, the report reads it, tests build synthetic ones):

.. code-block:: text

    {
      "schema": "mlpbench.results",
      "schema_version": 1,
      "created": "2026-11-29T11:30:00+00:00",    ISO 8601, UTC
      "updated": "...",                          rewritten after every point
      "complete": false,                         true once the sweep has finished
      "machine": {cpu_model, cpu_flags, cores, memory_bytes, loadavg, os, hostname,
                  python, numpy, numba, llvmlite, scipy, blas: [threadpoolctl info],
                  env: {OPENBLAS_NUM_THREADS, NUMBA_NUM_THREADS, ...}},
      "mlpbench": "0.1.0",                       version that wrote the file
      "threads": {"numba_threads": 1, "threading_layer": "workqueue",
                  "blas_threads": 1, "blas": [{prefix, internal_api, num_threads}]},
      "sweep": {"axis": "n" | "d" | "d_h" | "grid",
                "sizes": {"n": [...], "d": [...], "d_h": [...]},   swept values
                "base": {"n": 1024, "d": 784, "d_h": 256, "m": 10},
                "implementations": ["loops", "numpy", "numba"],
                "dtypes": ["float64"], "phases": ["step"],
                "l1": 0.0, "l2": 0.0, "budget_s": 20.0, "seed": 0, "quick": false,
                "threads": null | int,       as requested (null: machine.DEFAULT_THREADS)
                "peer_inputs": "resident" | "numpy",    how the peers got their inputs
                "activation": "relu" | "tanh" | "sigmoid" | "softplus",  the hidden units'
                                     (absent in older files: relu)
                "passes": 3,         passes over the whole sweep (older files: 1)
                "processes": 1},     fresh processes the passes were spread over
                                     (older files: 1)
      "peak": null | {"gemm_gflops": {"float64": {"1": 18.4, "2": 36.6},
                                      "float32": {"1": 38.4, "2": 76.3}},
                      "triad_gbs": 17.0, "gemm_size": 2048, "triad_bytes": 200000000,
                      "triad_threads": 2, "quick": false, "threading_layer": "workqueue",
                      "measured": "2026-11-29T11:00:00+00:00"},
      "points": [Point, ...]
    }

A ``Point`` is one (implementation, dtype, phase, n, d, d_h, m)::

    {"impl": "numba", "dtype": "float64", "phase": "step",
     "n": 1024, "d": 784, "d_h": 256, "m": 10, "l1": 0.0, "l2": 0.0,
     "status": "ok" | "skipped" | "failed",
     "reason": null | "why it was skipped or failed",
     "cold_s": first call in seconds (numba: includes compilation) or null,
     "median_s", "q1_s", "q3_s", "iqr_s", "min_s", "max_s", "mean_s":
         seconds per call, from samples of ``loops`` calls each (null unless ok),
     "samples": int, "loops": int,
     "flops": int (docs/math.md#flops, the count for the phase), "gflops": flops / median_s / 1e9,
     "predicted_s": the budget's prediction of seconds per call (set on points
         skipped for the budget; also on timed points where there was one),
     "max_rel_err": the correctness gate's error against numpy (null if not gated),
     "high_spread": iqr_s / median_s > 0.10,
     "warnings": [str, ...],
     "loadavg": 1-minute load average after timing (optional; set on ok points),
     "jit_compiled", "jit_cached": optional; numba signatures the cold call compiled, or
         loaded from numba's on-disk cache (both 0 for code without numba),
     "inputs": optional; "resident" (a peer timed on its own types, converted once per
         point outside the timed call) or "numpy" (NumPy arrays at every call),
     "activation": optional (absent: "relu"); the hidden activation, the last element
         of the point's key (point_key)}

A skipped point always carries a ``reason``: the budget (with ``predicted_s``),
or memory ("memory: needs ~X GiB, Y GiB available"). :func:`validate` checks every
field a reader uses (types, ranges, finiteness), so a file that parses but lies is
refused when it is loaded, not later by a reader.

Optional top-level ``"canary"`` and ``"bound"``: which reference workloads the points'
``canary_s`` and ``bound_s`` time (harness.canary).

Optional top-level ``"coldstart"``: a list of records from
``harness.coldstart.measure_cold_start``: compile time, first call with a warm
cache and warm call of an implementation's step, each from new processes.

Optional top-level ``"cluster"`` (a sweep run by ``harness.cluster``): ``mode``
(``shard`` | ``every-machine``), ``scheduler`` (its address), ``host`` (every-machine:
the machine of this file), ``machines`` ({name: {identity, cpu_model, hostname,
threads, workers}}), ``tasks`` (one record per size task); its points carry ``host``
(the machine that measured them) and, for a task that could not run, ``lost: true``.

A kernel sweep's file (``mlpbench bench --kernels``, harness.kernel_sweep) has the same
top-level fields and ``"kind": "kernels"``; its ``sweep`` is ``{kernels, sizes, m,
implementations, dtypes, budget_s, seed, quick, threads, reference, precision}`` and
each point is one (kernel, implementation, dtype, size)::

    {"kernel": "sigmoid", "impl": "numba", "dtype": "float64", "size": 1048576,
     "elements": 1048576, "shape": [1048576], "m": null (softmax, logsumexp: row width),
     "status", "reason", "cold_s", the timing fields, "samples", "loops" (as above),
     "bytes": bytes a call must move (input read, output written),
     "gbs": bytes / median_s / 1e9, "elements_per_s": elements / median_s,
     "predicted_s", "max_ulp" (element-wise kernels) or "max_rel_err" (the others): the
     gate's error against numpy, "high_spread", "warnings", and the optional raw
     samples as above}

The ``peak`` object may also hold the cache-level bandwidths of a serial read+write
pass (harness.peak.level_bandwidths): ``bandwidth_gbs: {"L1", "L2", "L3", "DRAM"}``,
``bandwidth_bytes`` (the working set of each), ``cache_bytes`` (the cache sizes read
from /sys) and ``bandwidth_threads`` (1).

Times are per call of the phase: ``forward`` is ``impl.forward``, ``backward``
the gradient given the forward pass, ``step`` is ``impl.loss_and_grad``; the
harness times ``impl.raw`` on inputs normalized once per point by
``mlp.check_inputs``, so input validation is not in the figures. ``cold_s`` of
a numba implementation's first point holds its compilation, or its load from
numba's on-disk cache when an earlier run compiled it.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Mapping
from typing import Any

from mlpbench.errors import ResultFileError
from mlpbench.mlp.validation import ACTIVATIONS, DEFAULT_ACTIVATION

SCHEMA = "mlpbench.results"
SCHEMA_VERSION = 1

AXES = ("n", "d", "d_h")
SIZE_KEYS = (*AXES, "m")
GRID = "grid"
SWEEP_AXES = (*AXES, GRID)
PHASES = ("forward", "backward", "step")
DTYPES = ("float32", "float64")
STATUSES = ("ok", "skipped", "failed")
#: How a point's inputs reached the implementation (see harness.gate.inputs_used).
INPUTS = ("resident", "numpy")
BASE = {"n": 1024, "d": 784, "d_h": 256, "m": 10}

#: Largest n, d, d_h or m a sweep runs or a result file may hold: such sizes stay
#: int64 and exact in a float64 for the readers that plot and fit them (no point
#: near it fits in any memory; the sweep refuses or skips those points first).
MAX_SIZE = 2**40

#: Ranges of measured quantities: a time per call is 0 or within [MIN_SECONDS,
#: MAX_SECONDS] (a picosecond to four months), a rate (GFLOP/s, GB/s) 0 or within
#: [MIN_RATE, MAX_RATE] (up to an exaFLOP/s); a predicted time at most MAX_PREDICTED_S.
#: Outside them a number is a lie that readers would turn into inf (ratios, axes).
MIN_SECONDS, MAX_SECONDS = 1e-12, 1e7
MAX_PREDICTED_S = 1e100
MIN_RATE, MAX_RATE = 1e-12, 1e9
#: Counts (samples, loops, jit counters, bytes) fit an int64; FLOP counts 2**128.
MAX_COUNT = 2**63 - 1
MAX_FLOPS = 2**128

TIMING_FIELDS = ("median_s", "q1_s", "q3_s", "iqr_s", "min_s", "max_s", "mean_s")
POINT_FIELDS = (
    "impl", "dtype", "phase", "n", "d", "d_h", "m", "l1", "l2", "status", "reason",
    "cold_s", *TIMING_FIELDS, "samples", "loops", "flops", "gflops", "predicted_s",
    "max_rel_err", "high_spread", "warnings",
)
TOP_FIELDS = ("schema", "schema_version", "created", "updated", "complete", "machine",
              "threads", "sweep", "peak", "points")

#: ``"kind"`` of a kernel sweep's file (``mlpbench bench --kernels``); an MLP sweep's
#: file has no ``kind`` (or ``"mlp"``).
KERNELS_KIND = "kernels"
MLP_KIND = "mlp"
#: A kernel point: one (kernel, implementation, dtype, size) of harness.kernel_sweep.
KERNEL_POINT_FIELDS = (
    "kernel", "impl", "dtype", "size", "elements", "shape", "m", "status", "reason",
    "cold_s", *TIMING_FIELDS, "samples", "loops", "bytes", "gbs", "elements_per_s",
    "predicted_s", "max_ulp", "max_rel_err", "high_spread", "warnings",
)
#: The cache levels of ``peak.bandwidth_gbs`` (harness.peak.level_bandwidths).
BANDWIDTH_LEVELS = ("L1", "L2", "L3", "DRAM")
SWEEP_FIELDS = ("axis", "sizes", "base")  # required; the others are checked when present
COLDSTART_TIMES = ("compile_s", "cached_first_s", "warm_s", "import_s")


class SchemaError(ResultFileError):
    """A document that does not follow this schema (the message names the first problem)."""


def flops(phase: str, n: int, d: int, d_h: int, m: int) -> int:
    """Floating-point operations of the five matrix products (docs/math.md#flops).

    forward: ``2·n·d·d_h + 2·n·d_h·m`` (Ha, Oa); backward: ``2·n·d·d_h + 4·n·d_h·m``
    (gW1; gW2 and G_hs); step = forward + backward = ``4·n·d·d_h + 6·n·d_h·m``.
    Element-wise work, O(n·(d_h + m)), is not counted.
    """
    fwd = 2 * n * d * d_h + 2 * n * d_h * m
    bwd = 2 * n * d * d_h + 4 * n * d_h * m
    counts = {"forward": fwd, "backward": bwd, "step": fwd + bwd}
    if phase not in counts:
        raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
    return counts[phase]


def point_key(point: Mapping[str, Any]) -> tuple:
    """Identity of a point within a sweep (used by ``--resume`` and ``compare``):
    ``(impl, dtype, phase, n, d, d_h, m, l1, l2, activation)``, the activation last
    (``"relu"`` for points of files written before it was recorded).

    A kernel point's: ``("kernel", kernel, impl, dtype, size, m)`` (m: the row width of
    softmax and logsumexp, None for the others).
    """
    if "kernel" in point:
        return ("kernel", point["kernel"], point["impl"], point["dtype"], point["size"],
                point.get("m"))
    return (point["impl"], point["dtype"], point["phase"],
            point["n"], point["d"], point["d_h"], point["m"],
            float(point.get("l1", 0.0)), float(point.get("l2", 0.0)),
            point.get("activation") or DEFAULT_ACTIVATION)


# --- field checks: each returns None or raises SchemaError "<where>: <field> ..." ----------


def _show(v: Any) -> str:
    try:  # as the file spells it: null, true, "text"
        text = json.dumps(v, allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _fail(where: str, key: str, expected: str, v: Any) -> None:
    prefix = f"{where}: " if where else ""
    raise SchemaError(f"{prefix}{key} must be {expected}, got {_show(v)}")


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return (isinstance(v, numbers.Real) and not isinstance(v, bool)
            and math.isfinite(float(v)))


def _size(where: str, key: str, v: Any) -> None:
    if not _is_int(v) or v < 1:
        _fail(where, key, "a positive integer", v)
    if v > MAX_SIZE:
        _fail(where, key, f"at most {MAX_SIZE} (2**40)", v)


def _count(where: str, key: str, v: Any, optional: bool = False,
           maximum: int = MAX_COUNT) -> None:
    if (v is None and optional) or (_is_int(v) and 0 <= v <= maximum):
        return
    _fail(where, key, f"an integer within [0, {maximum}]" + (" or null" if optional else ""), v)


def _measured(where: str, key: str, v: Any, lo: float, hi: float,
              optional: bool = False) -> None:
    """0, or a finite number within [lo, hi] (or null when ``optional``)."""
    if (v is None and optional) or (_is_num(v) and (v == 0 or lo <= v <= hi)):
        return
    _fail(where, key, f"0 or a number within [{lo:g}, {hi:g}]"
          + (" or null" if optional else ""), v)


def _seconds(where: str, key: str, v: Any, optional: bool = False) -> None:
    _measured(where, key, v, MIN_SECONDS, MAX_SECONDS, optional)


def _rate(where: str, key: str, v: Any, optional: bool = False) -> None:
    _measured(where, key, v, MIN_RATE, MAX_RATE, optional)


def _nonneg(where: str, key: str, v: Any, optional: bool = False) -> None:
    if (v is None and optional) or (_is_num(v) and v >= 0):
        return
    _fail(where, key, "a finite number >= 0" + (" or null" if optional else ""), v)


def _positive(where: str, key: str, v: Any, optional: bool = False) -> None:
    if (v is None and optional) or (_is_num(v) and v > 0):
        return
    _fail(where, key, "a finite number > 0" + (" or null" if optional else ""), v)


def _text(where: str, key: str, v: Any, optional: bool = False) -> None:
    if (v is None and optional) or isinstance(v, str):
        return
    _fail(where, key, "a string" + (" or null" if optional else ""), v)


def _flag(where: str, key: str, v: Any) -> None:
    if not isinstance(v, bool):
        _fail(where, key, "true or false", v)


def _choice(where: str, key: str, v: Any, choices: tuple) -> None:
    if not isinstance(v, str) or v not in choices:
        _fail(where, key, "one of " + ", ".join(choices), v)


def _mapping(where: str, key: str, v: Any, optional: bool = False) -> None:
    if (v is None and optional) or isinstance(v, dict):
        return
    _fail(where, key, "an object" + (" or null" if optional else ""), v)


def _names(where: str, key: str, v: Any, choices: tuple | None = None) -> None:
    if not isinstance(v, list) or not v or not all(isinstance(x, str) and x for x in v):
        _fail(where, key, "a non-empty list of names", v)
    if choices is not None:
        for x in v:
            _choice(where, key, x, choices)


# --- the parts of a document ---------------------------------------------------------------


def _point_where(i: int, p: dict) -> str:
    parts = [str(p[k]) for k in ("impl", "dtype", "phase") if isinstance(p.get(k), str)]
    sizes = [f"{k}={p[k]}" for k in AXES if _is_int(p.get(k))]
    label = " ".join(parts + sizes)
    return f"point {i}" + (f" ({label[:80]})" if label else "")


def validate_point(p: Any, i: int = 0) -> dict:
    """Check one point of ``points`` (every field a reader uses); return it."""
    if not isinstance(p, dict):
        raise SchemaError(f"point {i} is not an object (got {type(p).__name__})")
    where = _point_where(i, p)
    missing = [k for k in POINT_FIELDS if k not in p]
    if missing:
        raise SchemaError(f"{where} lacks fields: {', '.join(missing)}")
    if not isinstance(p["impl"], str) or not p["impl"]:
        _fail(where, "impl", "an implementation name", p["impl"])
    _choice(where, "dtype", p["dtype"], DTYPES)
    _choice(where, "phase", p["phase"], PHASES)
    _choice(where, "status", p["status"], STATUSES)
    for k in SIZE_KEYS:
        _size(where, k, p[k])
    for k in ("l1", "l2"):
        _nonneg(where, k, p[k])
    _text(where, "reason", p["reason"], optional=True)
    ok = p["status"] == "ok"
    for k in TIMING_FIELDS:
        _seconds(where, k, p[k], optional=not ok)
    _seconds(where, "cold_s", p["cold_s"], optional=True)
    _rate(where, "gflops", p["gflops"], optional=True)
    _measured(where, "predicted_s", p["predicted_s"], MIN_SECONDS, MAX_PREDICTED_S,
              optional=True)
    _nonneg(where, "max_rel_err", p["max_rel_err"], optional=True)
    _count(where, "flops", p["flops"], maximum=MAX_FLOPS)
    _check_timing_extras(where, p)
    if "inputs" in p:
        _choice(where, "inputs", p["inputs"], INPUTS)
    if "activation" in p:
        _choice(where, "activation", p["activation"], ACTIVATIONS)
    _check_raw_samples(where, p)
    if p["status"] == "skipped" and p["predicted_s"] is None and not p["reason"]:
        raise SchemaError(f"{where}: a skipped point must carry predicted_s or a reason")
    return p


def _check_timing_extras(where: str, p: dict) -> None:
    """The fields every timed point has, MLP and kernel alike: counts, the spread flag,
    warnings, the JIT counters and the load average."""
    for k in ("samples", "loops"):
        _count(where, k, p[k])
    _flag(where, "high_spread", p["high_spread"])
    w = p["warnings"]
    if not isinstance(w, list) or not all(isinstance(x, str) for x in w):
        _fail(where, "warnings", "a list of strings", w)
    for k in ("jit_compiled", "jit_cached"):
        if k in p:
            _count(where, k, p[k], optional=True)
    if "loadavg" in p:
        _nonneg(where, "loadavg", p["loadavg"], optional=True)


def _check_raw_samples(where: str, p: dict) -> None:
    """The optional raw samples of a timed point: ``times_s`` (seconds per call),
    ``rounds`` (the round of each), ``canary_s`` (the canary in that round, or null),
    ``bound_s`` (the point's memory bound in that round, or null: canary.make_stream_bound),
    ``pass_starts`` (the first round of each pass; ``passes`` their number),
    ``precision`` and ``ratio`` (see harness.sweep)."""
    if "times_s" not in p and "rounds" not in p:
        return
    times, rounds = p.get("times_s"), p.get("rounds")
    if not isinstance(times, list) or not isinstance(rounds, list) or len(times) != len(rounds):
        _fail(where, "times_s/rounds", "two lists of the same length", (times, rounds))
    for t in times:
        _seconds(where, "times_s", t)
    for r in rounds:
        _count(where, "rounds", r)
    for key in ("canary_s", "bound_s"):
        if key in p:
            values = p[key]
            if not isinstance(values, list) or len(values) != len(times):
                _fail(where, key, "a list as long as times_s", values)
            for t in values:
                _seconds(where, key, t, optional=True)
    if "pass_starts" in p:
        starts = p["pass_starts"]
        if not isinstance(starts, list) or not starts or starts != sorted(set(starts)):
            _fail(where, "pass_starts", "the first round of each pass, increasing", starts)
        for r in starts:
            _count(where, "pass_starts", r)
        _count(where, "passes", p.get("passes"))
    mem = p.get("memory")
    if mem is not None:
        _mapping(where, "memory", mem)
        for k in ("peak_bytes", "allocations"):
            _count(where, f"memory.{k}", mem.get(k), optional=True)
        _text(where, "memory.method", mem.get("method"))
    ratio = p.get("ratio")
    if ratio is not None:
        _mapping(where, "ratio", ratio)
        for k in ("value", "lo", "hi"):
            _positive(where, f"ratio.{k}", ratio.get(k))
        _choice(where, "ratio.verdict", ratio.get("verdict"),
                ("faster", "slower", "indistinguishable"))


def validate_sweep(sweep: Any, where: str = "sweep") -> dict:
    """Check the ``sweep`` object (what was asked for); return it."""
    if not isinstance(sweep, dict):
        raise SchemaError(f"{where} must be an object, got {_show(sweep)}")
    missing = [k for k in SWEEP_FIELDS if k not in sweep]
    if missing:
        raise SchemaError(f"{where} lacks fields: {', '.join(missing)}")
    _choice(where, "axis", sweep["axis"], SWEEP_AXES)
    sizes = sweep["sizes"]
    if not isinstance(sizes, dict) or not set(sizes) <= set(AXES):
        _fail(where, "sizes", "an object mapping n, d, d_h to lists of sizes", sizes)
    for axis, values in sizes.items():
        if not isinstance(values, list) or not values:
            _fail(where, f"sizes.{axis}", "a non-empty list of sizes", values)
        for v in values:
            _size(where, f"sizes.{axis}", v)
    base = sweep["base"]
    _mapping(where, "base", base)
    for k in SIZE_KEYS:
        _size(where, f"base.{k}", base.get(k))
    # Written by every sweep; older files may lack some, and readers do without them.
    checks = {"implementations": lambda v: _names(where, "implementations", v),
              "dtypes": lambda v: _names(where, "dtypes", v, DTYPES),
              "phases": lambda v: _names(where, "phases", v, PHASES),
              "l1": lambda v: _nonneg(where, "l1", v), "l2": lambda v: _nonneg(where, "l2", v),
              "budget_s": lambda v: _positive(where, "budget_s", v),
              "seed": lambda v: _count(where, "seed", v),
              "quick": lambda v: _flag(where, "quick", v),
              "threads": lambda v: v is None or _size(where, "threads", v),
              "reference": lambda v: _text(where, "reference", v),
              "precision": lambda v: _positive(where, "precision", v),
              "peer_inputs": lambda v: _choice(where, "peer_inputs", v, INPUTS),
              "activation": lambda v: _choice(where, "activation", v, ACTIVATIONS),
              "passes": lambda v: _size(where, "passes", v),
              "processes": lambda v: _size(where, "processes", v)}
    for key, check in checks.items():
        if key in sweep:
            check(sweep[key])
    return sweep


def validate_peak(peak: Any, where: str = "peak") -> dict:
    """Check a ``peak`` object (written by ``mlpbench peak``); return it."""
    if not isinstance(peak, dict):
        raise SchemaError(f"{where} must be an object, got {_show(peak)}")
    gemm = peak.get("gemm_gflops")
    if not isinstance(gemm, dict) or not gemm:
        _fail(where, "gemm_gflops", "an object {dtype: {threads: GFLOP/s}}", gemm)
    for dtype, by_threads in gemm.items():
        if dtype not in DTYPES or not isinstance(by_threads, dict) or not by_threads:
            _fail(where, f"gemm_gflops.{dtype}", "an object {threads: GFLOP/s} for float32 "
                  "or float64", by_threads)
        for threads, v in by_threads.items():
            if not re.fullmatch(r"[1-9][0-9]{0,5}", threads):
                _fail(where, f"gemm_gflops.{dtype}", "keyed by thread counts", threads)
            _positive(where, f"gemm_gflops.{dtype}.{threads}", v)
            _rate(where, f"gemm_gflops.{dtype}.{threads}", v)
    if peak.get("triad_gbs") is not None:
        _positive(where, "triad_gbs", peak["triad_gbs"])
        _rate(where, "triad_gbs", peak["triad_gbs"])
    for k in ("gemm_size", "triad_bytes", "triad_threads"):
        if peak.get(k) is not None:
            _size(where, k, peak[k])
    _validate_levels(where, peak)
    return peak


def _validate_levels(where: str, peak: dict) -> None:
    """The optional cache-level bandwidths: ``bandwidth_gbs`` {level: GB/s} and the
    sizes they were measured at (``bandwidth_bytes``) and of the caches (``cache_bytes``)."""
    for key, check in (("bandwidth_gbs", lambda k, v: (_positive(where, k, v),
                                                       _rate(where, k, v))),
                       ("bandwidth_bytes", lambda k, v: _size(where, k, v)),
                       ("cache_bytes", lambda k, v: _size(where, k, v))):
        levels = peak.get(key)
        if levels is None:
            continue
        if not isinstance(levels, dict) or not set(levels) <= set(BANDWIDTH_LEVELS):
            _fail(where, key, "an object keyed by " + ", ".join(BANDWIDTH_LEVELS), levels)
        for level, v in levels.items():
            check(f"{key}.{level}", v)
    if peak.get("bandwidth_threads") is not None:
        _size(where, "bandwidth_threads", peak["bandwidth_threads"])


def _validate_machine(machine: Any) -> None:
    where = "machine"
    _mapping("", where, machine, optional=True)
    if not machine:
        return
    for k in ("cpu_model", "os", "hostname", "python", "numpy", "numba", "llvmlite", "scipy"):
        _text(where, k, machine.get(k), optional=True)
    for k in ("cores", "host_cpus", "memory_bytes"):
        _count(where, k, machine.get(k), optional=True)
    flags = machine.get("cpu_flags")
    if flags is not None and (not isinstance(flags, list)
                              or not all(isinstance(f, str) for f in flags)):
        _fail(where, "cpu_flags", "a list of strings", flags)
    if not isinstance(machine.get("blas") or [], list):
        _fail(where, "blas", "a list", machine.get("blas"))
    env = machine.get("env")
    if env is not None and not (isinstance(env, dict)
                                and all(v is None or isinstance(v, str) for v in env.values())):
        _fail(where, "env", "an object of strings", env)


def _validate_threads(threads: Any) -> None:
    _mapping("", "threads", threads, optional=True)
    for k in ("numba_threads", "blas_threads"):
        v = (threads or {}).get(k)
        if v is not None:
            _size("threads", k, v)


def _validate_coldstart(records: Any) -> None:
    if records is None:
        return
    if not isinstance(records, list):
        _fail("", "coldstart", "a list of records", records)
    for i, r in enumerate(records):
        where = f"coldstart record {i}"
        if not isinstance(r, dict):
            raise SchemaError(f"{where} is not an object")
        missing = [k for k in ("impl", "dtype", *SIZE_KEYS, *COLDSTART_TIMES) if k not in r]
        if missing:
            raise SchemaError(f"{where} lacks fields: {', '.join(missing)}")
        _text(where, "impl", r["impl"])
        _choice(where, "dtype", r["dtype"], DTYPES)
        for k in SIZE_KEYS:
            _size(where, k, r[k])
        for k in COLDSTART_TIMES:
            _seconds(where, k, r[k], optional=True)


CLUSTER_MODES = ("shard", "every-machine")


def validate_cluster(doc: Mapping[str, Any]) -> None:
    """Check the optional fields a cluster sweep writes: ``cluster`` and each point's
    ``host`` and ``lost``."""
    cluster = doc.get("cluster")
    if cluster is not None:
        _mapping("file", "cluster", cluster)
        _choice("cluster", "mode", cluster.get("mode"), CLUSTER_MODES)
        for k in ("scheduler", "host"):
            _text("cluster", k, cluster.get(k), optional=True)
        machines = cluster.get("machines", {})
        if not isinstance(machines, dict) or not all(isinstance(v, dict)
                                                     for v in machines.values()):
            _fail("cluster", "machines", "an object mapping machine names to objects",
                  machines)
    for i, p in enumerate(doc.get("points") or []):
        if not isinstance(p, dict):
            continue  # validate_point says so
        where = _point_where(i, p)
        if "host" in p:
            _text(where, "host", p["host"], optional=True)
        if "lost" in p:
            _flag(where, "lost", p["lost"])


def validate(doc: Any) -> dict:
    """Check that ``doc`` is a result document of this schema version; return it.

    Every field a reader uses is checked for its type, its range and finiteness
    (a size is a positive integer, a time a finite number >= 0, ...). Raises
    :class:`SchemaError` with a message naming the first problem found.
    """
    if not isinstance(doc, dict):
        raise SchemaError(f"expected a JSON object at the top level, got {type(doc).__name__}")
    if doc.get("schema") != SCHEMA:
        raise SchemaError(f"not an mlpbench result file (schema is {_show(doc.get('schema'))}, "
                          f"expected {SCHEMA!r})")
    if doc.get("schema_version") != SCHEMA_VERSION or isinstance(doc.get("schema_version"),
                                                                 bool):
        raise SchemaError(f"schema version {_show(doc.get('schema_version'))} is not supported "
                          f"(this mlpbench reads version {SCHEMA_VERSION})")
    missing = [k for k in TOP_FIELDS if k not in doc]
    if missing:
        raise SchemaError(f"missing top-level fields: {', '.join(missing)}")
    kind = doc.get("kind", MLP_KIND)
    _choice("", "kind", kind, (MLP_KIND, KERNELS_KIND))
    if kind == KERNELS_KIND:
        return validate_kernel_doc(doc)
    for k in ("created", "updated"):
        _text("", k, doc[k])
    _flag("", "complete", doc["complete"])
    _validate_machine(doc["machine"])
    _validate_threads(doc["threads"])
    validate_sweep(doc["sweep"])
    if doc["peak"] is not None:
        validate_peak(doc["peak"])
    _validate_coldstart(doc.get("coldstart"))
    validate_cluster(doc)
    if not isinstance(doc["points"], list):
        raise SchemaError(f"'points' must be a list, got {_show(doc['points'])}")
    for i, p in enumerate(doc["points"]):
        validate_point(p, i)
    return doc


# --- kernel sweeps (harness.kernel_sweep) ----------------------------------------------------


def validate_kernel_sweep(sweep: Any, where: str = "sweep") -> dict:
    """Check a kernel sweep's ``sweep`` object; return it."""
    if not isinstance(sweep, dict):
        raise SchemaError(f"{where} must be an object, got {_show(sweep)}")
    missing = [k for k in ("kernels", "sizes", "implementations", "dtypes") if k not in sweep]
    if missing:
        raise SchemaError(f"{where} lacks fields: {', '.join(missing)}")
    _names(where, "kernels", sweep["kernels"])
    sizes = sweep["sizes"]
    if not isinstance(sizes, list) or not sizes:
        _fail(where, "sizes", "a non-empty list of sizes", sizes)
    for v in sizes:
        _size(where, "sizes", v)
    _names(where, "implementations", sweep["implementations"])
    _names(where, "dtypes", sweep["dtypes"], DTYPES)
    checks = {"m": lambda v: _size(where, "m", v),
              "budget_s": lambda v: _positive(where, "budget_s", v),
              "seed": lambda v: _count(where, "seed", v),
              "quick": lambda v: _flag(where, "quick", v),
              "threads": lambda v: v is None or _size(where, "threads", v),
              "reference": lambda v: _text(where, "reference", v),
              "precision": lambda v: _positive(where, "precision", v)}
    for key, check in checks.items():
        if key in sweep:
            check(sweep[key])
    return sweep


def validate_kernel_point(p: Any, i: int = 0) -> dict:
    """Check one point of a kernel sweep (every field a reader uses); return it."""
    if not isinstance(p, dict):
        raise SchemaError(f"point {i} is not an object (got {type(p).__name__})")
    label = " ".join(str(p[k]) for k in ("kernel", "impl", "dtype") if isinstance(p.get(k), str))
    if _is_int(p.get("size")):
        label += f" size={p['size']}"
    where = f"point {i}" + (f" ({label[:80]})" if label else "")
    missing = [k for k in KERNEL_POINT_FIELDS if k not in p]
    if missing:
        raise SchemaError(f"{where} lacks fields: {', '.join(missing)}")
    for k in ("kernel", "impl"):
        if not isinstance(p[k], str) or not p[k]:
            _fail(where, k, "a name", p[k])
    _choice(where, "dtype", p["dtype"], DTYPES)
    _choice(where, "status", p["status"], STATUSES)
    for k in ("size", "elements"):
        _size(where, k, p[k])
    if p["m"] is not None:
        _size(where, "m", p["m"])
    shape = p["shape"]
    if not isinstance(shape, list) or not shape or math.prod(
            v if _is_int(v) else -1 for v in shape) != p["elements"]:
        _fail(where, "shape", f"a list of sizes whose product is elements ({p['elements']})",
              shape)
    _count(where, "bytes", p["bytes"])
    _text(where, "reason", p["reason"], optional=True)
    ok = p["status"] == "ok"
    for k in TIMING_FIELDS:
        _seconds(where, k, p[k], optional=not ok)
    _seconds(where, "cold_s", p["cold_s"], optional=True)
    for k in ("gbs", "elements_per_s"):
        _measured(where, k, p[k], MIN_RATE, MAX_RATE * 1e9 if k == "elements_per_s"
                  else MAX_RATE, optional=not ok)
    _measured(where, "predicted_s", p["predicted_s"], MIN_SECONDS, MAX_PREDICTED_S,
              optional=True)
    for k in ("max_ulp", "max_rel_err"):
        _nonneg(where, k, p[k], optional=True)
    _check_timing_extras(where, p)
    _check_raw_samples(where, p)
    if p["status"] == "skipped" and p["predicted_s"] is None and not p["reason"]:
        raise SchemaError(f"{where}: a skipped point must carry predicted_s or a reason")
    return p


def validate_kernel_doc(doc: dict) -> dict:
    """Check a kernel sweep's document (``"kind": "kernels"``, the top fields checked by
    :func:`validate`); return it."""
    for k in ("created", "updated"):
        _text("", k, doc[k])
    _flag("", "complete", doc["complete"])
    _validate_machine(doc["machine"])
    _validate_threads(doc["threads"])
    validate_kernel_sweep(doc["sweep"])
    if doc["peak"] is not None:
        validate_peak(doc["peak"])
    if not isinstance(doc["points"], list):
        raise SchemaError(f"'points' must be a list, got {_show(doc['points'])}")
    for i, p in enumerate(doc["points"]):
        validate_kernel_point(p, i)
    return doc
