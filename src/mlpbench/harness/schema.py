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
                "threads": null | int},      as requested (null: machine.DEFAULT_THREADS)
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
     "flops": int (DESIGN.md's count for the phase), "gflops": flops / median_s / 1e9,
     "predicted_s": the budget's prediction of seconds per call (always set on
         skipped points; also on timed points where there was one),
     "max_rel_err": the correctness gate's error against numpy (null if not gated),
     "high_spread": iqr_s / median_s > 0.10,
     "warnings": [str, ...],
     "loadavg": 1-minute load average after timing (optional; set on ok points),
     "jit_compiled", "jit_cached": optional; numba signatures the cold call compiled, or
         loaded from numba's on-disk cache (both 0 for code without numba)}

Optional top-level ``"coldstart"``: a list of records from
``harness.coldstart.measure_cold_start``: compile time, first call with a warm
cache and warm call of an implementation's step, each from new processes.

Times are per call of the phase: ``forward`` is ``impl.forward``, ``backward``
the gradient given the forward pass, ``step`` is ``impl.loss_and_grad``; the
harness times ``impl.raw`` on inputs normalized once per point by
``mlp.check_inputs``, so input validation is not in the figures. ``cold_s`` of
a numba implementation's first point holds its compilation, or its load from
numba's on-disk cache when an earlier run compiled it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

SCHEMA = "mlpbench.results"
SCHEMA_VERSION = 1

AXES = ("n", "d", "d_h")
PHASES = ("forward", "backward", "step")
DTYPES = ("float32", "float64")
STATUSES = ("ok", "skipped", "failed")
BASE = {"n": 1024, "d": 784, "d_h": 256, "m": 10}

TIMING_FIELDS = ("median_s", "q1_s", "q3_s", "iqr_s", "min_s", "max_s", "mean_s")
POINT_FIELDS = (
    "impl", "dtype", "phase", "n", "d", "d_h", "m", "l1", "l2", "status", "reason",
    "cold_s", *TIMING_FIELDS, "samples", "loops", "flops", "gflops", "predicted_s",
    "max_rel_err", "high_spread", "warnings",
)
TOP_FIELDS = ("schema", "schema_version", "created", "updated", "complete", "machine",
              "threads", "sweep", "peak", "points")


class SchemaError(ValueError):
    """A result file that does not follow this schema."""


def flops(phase: str, n: int, d: int, d_h: int, m: int) -> int:
    """Floating-point operations of the five matrix products (DESIGN.md).

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
    """Identity of a point within a sweep (used by ``--resume`` and ``compare``)."""
    return (point["impl"], point["dtype"], point["phase"],
            point["n"], point["d"], point["d_h"], point["m"],
            float(point.get("l1", 0.0)), float(point.get("l2", 0.0)))


def validate(doc: Any) -> dict:
    """Check that ``doc`` is a result document of this schema version; return it.

    Raises :class:`SchemaError` with a message naming the first problem found.
    """
    if not isinstance(doc, dict):
        raise SchemaError(f"expected a JSON object at the top level, got {type(doc).__name__}")
    if doc.get("schema") != SCHEMA:
        raise SchemaError(f"not an mlpbench result file (schema is {doc.get('schema')!r}, "
                          f"expected {SCHEMA!r})")
    if doc.get("schema_version") != SCHEMA_VERSION:
        raise SchemaError(f"schema version {doc.get('schema_version')!r} is not supported "
                          f"(this mlpbench reads version {SCHEMA_VERSION})")
    missing = [k for k in TOP_FIELDS if k not in doc]
    if missing:
        raise SchemaError(f"missing top-level fields: {', '.join(missing)}")
    if not isinstance(doc["points"], list):
        raise SchemaError("'points' must be a list")
    for i, p in enumerate(doc["points"]):
        if not isinstance(p, dict):
            raise SchemaError(f"point {i} is not an object")
        missing = [k for k in POINT_FIELDS if k not in p]
        if missing:
            raise SchemaError(f"point {i} lacks fields: {', '.join(missing)}")
        if p["status"] not in STATUSES:
            raise SchemaError(f"point {i}: status {p['status']!r} not in {STATUSES}")
        if p["phase"] not in PHASES:
            raise SchemaError(f"point {i}: phase {p['phase']!r} not in {PHASES}")
        if p["dtype"] not in DTYPES:
            raise SchemaError(f"point {i}: dtype {p['dtype']!r} not in {DTYPES}")
        if p["status"] == "ok":
            for k in TIMING_FIELDS:
                v = p[k]
                if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
                    raise SchemaError(f"point {i}: {k} must be a non-negative number, got {v!r}")
        elif p["status"] == "skipped" and p["predicted_s"] is None:
            raise SchemaError(f"point {i}: a skipped point must carry predicted_s")
    return doc
