"""Synthetic result documents with everything the newest harness records (raw samples
``times_s`` and their ``rounds``, a canary, memory, cold starts, a grid, two thread counts,
the peers), valid under harness/schema.py, for
the report's tests. Not a test module; imported by test_report, test_figures and
test_browser.

Times follow a cost model ``overhead + FLOPs / rate`` per implementation; each round
shares a machine factor (drift), so paired ratios are tighter than the medians' spread,
as on a real shared machine.
"""

from __future__ import annotations

import atexit
import copy
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlpbench.harness import schema

BASE = {"n": 256, "d": 196, "d_h": 128, "m": 10}
SIZES = {"n": [1, 4, 16, 64, 256, 1024, 4096], "d": [16, 49, 196, 784, 3136],
         "d_h": [16, 32, 128, 512, 2048]}
IMPLS = ("loops", "numpy", "numba", "numba-loops", "torch", "jax")
#: (overhead in seconds, GFLOP/s at one thread, gain from a second thread)
MODEL = {"loops": (2e-6, 0.05, 1.0), "numpy": (60e-6, 15.0, 1.9), "numba": (4e-6, 9.0, 1.7),
         "numba-loops": (3e-6, 6.0, 1.8), "torch": (30e-6, 14.0, 1.85),
         "jax": (45e-6, 16.0, 1.0)}
MEMORY_METHOD = {"loops": "tracemalloc", "numpy": "tracemalloc",
                 "numba": "tracemalloc + numba NRT allocation count",
                 "numba-loops": "tracemalloc + numba NRT allocation count", "torch": "torch",
                 "jax": "not measured (the library's own allocator)"}
BUDGET_S = 2.0
SAMPLES = 9
COMPILE_S = {"numba": 4.2, "numba-loops": 2.5, "jax": 0.9}


def _true_time(impl, dtype, phase, sz, threads):
    over, rate, gain = MODEL[impl]
    rate *= 1.8 if dtype == "float32" else 1.0
    if threads > 1:
        rate *= gain
    return over + schema.flops(phase, sz["n"], sz["d"], sz["d_h"], sz["m"]) / (rate * 1e9)


def _point(rng, impl, dtype, phase, sz, drift, threads, slow=1.0):
    t = _true_time(impl, dtype, phase, sz, threads) * slow
    fl = schema.flops(phase, sz["n"], sz["d"], sz["d_h"], sz["m"])
    p = {"impl": impl, "dtype": dtype, "phase": phase, **sz, "l1": 0.0, "l2": 0.0,
         "status": "ok", "reason": None, "cold_s": None, "loops": 1, "flops": fl,
         "gflops": None, "predicted_s": t, "max_rel_err": 1e-15, "high_spread": False,
         "warnings": [], "threads": threads}
    if t > BUDGET_S:
        p.update(status="skipped", reason=f"predicted {t:.3g} s per call exceeds the budget",
                 **dict.fromkeys(schema.TIMING_FIELDS), samples=0)
        return p
    s = t * drift * rng.lognormal(0.0, 0.015, drift.size)
    q1, med, q3 = (float(v) for v in np.quantile(s, [0.25, 0.5, 0.75]))
    p.update(median_s=med, q1_s=q1, q3_s=q3, iqr_s=q3 - q1, min_s=float(s.min()),
             max_s=float(s.max()), mean_s=float(s.mean()), gflops=fl / med / 1e9,
             high_spread=(q3 - q1) / med > 0.10, samples=int(s.size),
             times_s=[float(v) for v in s], rounds=list(range(drift.size)),
             canary_s=[float(v) for v in 1e-3 * drift], cold_s=med * 1.5,
             memory={"peak_bytes": None if MEMORY_METHOD[impl].startswith("not") else
                     int(8 * (sz["n"] * (sz["d_h"] + sz["m"]) * 3 + sz["d"] * sz["d_h"])
                         * (1.0 if impl.startswith("numba") else 1.6)),
                     "allocations": None if MEMORY_METHOD[impl].startswith("not") else
                     (2 if impl.startswith("numba") else 14),
                     "method": MEMORY_METHOD[impl]})
    return p


def _doc(axis, sizes, points, dtypes, impls, threads):
    return {
        "schema": schema.SCHEMA, "schema_version": schema.SCHEMA_VERSION,
        "created": "2026-12-01T10:00:00+00:00", "updated": "2026-12-01T10:04:00+00:00",
        "complete": True,
        "machine": {"cpu_model": "Synthetic CPU", "cores": 2, "memory_bytes": 16 * 2**30,
                    "os": "Linux", "hostname": "synthetic", "python": "3.11.2",
                    "numpy": "2.4.6", "numba": "0.62.0",
                    "blas": [{"internal_api": "openblas", "num_threads": threads}]},
        "threads": {"numba_threads": threads, "threading_layer": "workqueue",
                    "blas_threads": threads},
        "sweep": {"axis": axis, "sizes": sizes, "base": dict(BASE),
                  "implementations": list(impls), "dtypes": list(dtypes),
                  "phases": sorted({p["phase"] for p in points}), "l1": 0.0, "l2": 0.0,
                  "budget_s": BUDGET_S, "seed": 0, "quick": True},
        "peak": {"gemm_gflops": {"float64": {"1": 18.4, "2": 36.6},
                                 "float32": {"1": 38.4, "2": 76.3}},
                 "triad_gbs": 17.0},
        "points": points,
    }


def sweep(axis, seed=0, impls=IMPLS, dtypes=("float64",), threads=1, phases=("step",),
          slow=None):
    """One sweep of ``axis`` (the others at BASE), every point sampled in SAMPLES rounds."""
    rng = np.random.default_rng(seed)
    points = []
    slow = slow or {}
    for dtype in dtypes:
        for value in SIZES[axis]:
            sz = {**BASE, axis: value}
            drift = rng.lognormal(0.0, 0.05, SAMPLES)      # shared by the round
            for impl in impls:
                for phase in phases:
                    if phase != "step" and value != BASE[axis]:
                        continue
                    points.append(_point(rng, impl, dtype, phase, sz, drift, threads,
                                         slow.get(impl, 1.0)))
    sizes = {a: (SIZES[a] if a == axis else [BASE[a]]) for a in schema.AXES}
    doc = _doc(axis, sizes, points, dtypes, impls, threads)
    doc["_path"] = f"synthetic_{axis}_{threads}t.json"
    return doc


def grid(axes=("n", "d_h"), seed=5, impls=IMPLS[1:], dtypes=("float64",)):
    rng = np.random.default_rng(seed)
    values = {"n": [1, 16, 256, 4096], "d": [16, 196, 3136], "d_h": [16, 128, 2048]}
    sizes = {a: (values[a] if a in axes else [BASE[a]]) for a in schema.AXES}
    points = []
    for dtype in dtypes:
        for n in sizes["n"]:
            for d in sizes["d"]:
                for d_h in sizes["d_h"]:
                    drift = rng.lognormal(0.0, 0.05, SAMPLES)
                    sz = {"n": n, "d": d, "d_h": d_h, "m": BASE["m"]}
                    for impl in impls:
                        points.append(_point(rng, impl, dtype, "step", sz, drift, 1))
    doc = _doc("grid", sizes, points, dtypes, impls, 1)
    doc["_path"] = f"synthetic_grid_{'_'.join(axes)}.json"
    return doc


def coldstarts(dtypes=("float64",)):
    return [{"impl": impl, "dtype": dtype, **BASE, "compile_s": c, "cached_first_s": c / 20,
             "warm_s": 1e-4, "import_s": 0.2}
            for impl, c in COMPILE_S.items() for dtype in dtypes]


def rich_docs() -> list[dict]:
    """Sweeps of n (float64 and float32, with phases), d and d_h at one thread with cold
    starts; grids n × d_h and n × d; the n sweep again at two threads."""
    docs = [sweep("n", 1, dtypes=("float64", "float32"), phases=("step", "forward",
                                                                  "backward")),
            sweep("d", 2), sweep("d_h", 3), grid(("n", "d_h")), grid(("n", "d"), seed=6),
            sweep("n", 4, impls=IMPLS[1:], threads=2)]
    docs[0]["coldstart"] = coldstarts(("float64", "float32"))
    return copy.deepcopy(docs)


def without_samples(doc: dict) -> dict:
    """The same document as an older harness wrote it: sample counts, no samples."""
    doc = copy.deepcopy(doc)
    for p in doc["points"]:
        for k in ("times_s", "rounds", "canary_s", "memory", "threads"):
            p.pop(k, None)
    return doc


# --- reports built once per test process ----------------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_RESULTS = [FIXTURES / f"results_{a}.json" for a in ("n", "d", "d_h")]
#: A synthetic accuracy table, shaped like kernels.accuracy.worst_ulp_table's.
NUMERICS = {
    "float64": {"sigmoid": {"loops": 1.0, "numpy": 1.0, "numba": 1.0},
                "softplus": {"loops": 0.0, "numpy": 1.0, "numba": 2.0},
                "relu": {"loops": 0.0, "numpy": 0.0, "numba": 0.0},
                "tanh_grad": {"loops": 3.0, "numpy": 4.0, "numba": 7.0},
                "sigmoid_tanh_identity": {"numpy": 9.0e15}},
    "float32": {"sigmoid": {"loops": 1.0, "numpy": 0.5, "numba": 1.0},
                "relu": {"loops": 0.0, "numpy": 0.0, "numba": None}},
}

_built: dict[str, tuple] = {}


@dataclass
class Built:
    report: object              # build.Report
    figures: list               # (name, matplotlib Figure) of every figure drawn
    docs: list                  # the loaded documents


def built(kind: str) -> Built:
    """The report of the committed fixtures (``"fixtures"``, with NUMERICS) or of
    :func:`rich_docs` written to files and loaded back (``"rich"``), built once per
    process into a temporary folder."""
    if kind not in _built:
        from mlpbench.files import write_json
        from mlpbench.report import build, figures
        from mlpbench.report.export import load_documents

        folder = Path(tempfile.mkdtemp(prefix=f"mlpbench-{kind}-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        if kind == "fixtures":
            paths, numerics = FIXTURE_RESULTS, NUMERICS
        else:
            paths, numerics = [], None
            for doc in rich_docs():
                path = folder / Path(doc.pop("_path")).name
                write_json(path, doc)
                paths.append(path)
        docs = load_documents(paths)
        with figures.capture() as saved:
            # SVG only (what report.html inlines); the PNGs are tested through the command
            rep = build.build_report(copy.deepcopy(docs), folder, numerics, formats=("svg",))
        _built[kind] = Built(rep, list(saved), docs)
    return _built[kind]
