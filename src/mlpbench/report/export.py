"""Result files in other tools' formats, and pytest-benchmark files read as result files.

- :func:`csv_text`: one row per point (every status), the columns of :data:`CSV_COLUMNS`.
- :func:`to_pytest_benchmark`: the JSON layout ``pytest --benchmark-json`` writes
  (``machine_info``, ``commit_info``, ``benchmarks``, ``datetime``, ``version``), one
  benchmark per measured point, so ``pytest-benchmark compare FILE`` reads it. Each
  benchmark's ``extra_info`` carries the point itself, so converting back is lossless.
- :func:`from_pytest_benchmark`: a file written by ``pytest bench --benchmark-json`` (or
  by :func:`to_pytest_benchmark`) as a result document of :mod:`mlpbench.harness.schema`,
  which every report reads; :func:`load_documents` loads either kind of file.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from mlpbench.errors import ResultFileError
from mlpbench.files import read_json
from mlpbench.harness import results, schema
from mlpbench.report import analysis

CSV_COLUMNS = (
    "file", "impl", "dtype", "phase", "n", "d", "d_h", "m", "l1", "l2", "threads", "status",
    "reason", "median_s", "q1_s", "q3_s", "iqr_s", "min_s", "max_s", "mean_s", "samples",
    "loops", "flops", "gflops", "cold_s", "predicted_s", "max_rel_err", "high_spread",
    "memory_peak_bytes", "memory_allocations", "memory_method",
)

#: Where the original point travels inside a pytest-benchmark benchmark.
POINT_KEY = "mlpbench_point"
#: ``version`` written when pytest-benchmark itself is not installed.
PYTEST_BENCHMARK_VERSION = "5.1.0"


# --- CSV ----------------------------------------------------------------------------------


def _csv_value(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ""
    return v


def csv_rows(docs: Iterable[dict]) -> list[list]:
    """One row per point of every document (``samples`` as a count)."""
    rows = []
    for doc in docs:
        name = Path(doc.get("_path", "")).name
        for p in doc["points"]:
            mem = p.get("memory") if isinstance(p.get("memory"), dict) else {}
            values = {**p, "file": name, "threads": analysis.thread_count(doc, p),
                      "samples": analysis.sample_count(p),
                      "memory_peak_bytes": mem.get("peak_bytes"),
                      "memory_allocations": mem.get("allocations"),
                      "memory_method": mem.get("method")}
            rows.append([_csv_value(values.get(c)) for c in CSV_COLUMNS])
    return rows


def csv_text(docs: Iterable[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    w.writerows(csv_rows(docs))
    return buf.getvalue()


# --- to pytest-benchmark ------------------------------------------------------------------


def _pb_version() -> str:
    try:
        from importlib.metadata import version

        return version("pytest-benchmark")
    except Exception:  # not installed: the layout is the same since 3.x
        return PYTEST_BENCHMARK_VERSION


def _stats(p: dict) -> dict:
    """pytest-benchmark's ``stats`` of a point (seconds per call)."""
    raw = analysis.samples_of(p)
    if raw is not None:
        x = np.asarray(raw, dtype=np.float64)
        q1, med, q3 = (float(v) for v in np.quantile(x, [0.25, 0.5, 0.75]))
        mean, sd = float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else 0.0
        iqr = q3 - q1
        lo_f, hi_f = q1 - 1.5 * iqr, q3 + 1.5 * iqr
        stats = {"min": float(x.min()), "max": float(x.max()), "mean": mean, "stddev": sd,
                 "rounds": int(x.size), "median": med, "iqr": iqr, "q1": q1, "q3": q3,
                 "iqr_outliers": int(((x < lo_f) | (x > hi_f)).sum()),
                 "stddev_outliers": int((np.abs(x - mean) > sd).sum()),
                 "ld15iqr": float(x[x >= lo_f].min()), "hd15iqr": float(x[x <= hi_f].max()),
                 "data": [float(v) for v in x]}
    else:
        q1, med, q3 = p["q1_s"], p["median_s"], p["q3_s"]
        mean = p.get("mean_s") or med
        stats = {"min": p["min_s"], "max": p["max_s"], "mean": mean,
                 # no raw samples: the normal-equivalent spread of the quartiles
                 "stddev": (q3 - q1) / 1.349, "rounds": analysis.sample_count(p) or 1,
                 "median": med, "iqr": q3 - q1, "q1": q1, "q3": q3, "iqr_outliers": 0,
                 "stddev_outliers": 0, "ld15iqr": p["min_s"], "hd15iqr": p["max_s"]}
    stats["outliers"] = f"{stats['stddev_outliers']};{stats['iqr_outliers']}"
    stats["ops"] = 1.0 / stats["mean"] if stats["mean"] > 0 else 0.0
    stats["total"] = stats["mean"] * stats["rounds"]
    stats["iterations"] = int(p.get("loops") or 1)
    return stats


def _benchmark(doc: dict, p: dict) -> dict:
    param = f"{p['impl']}-{p['dtype']}-n{p['n']}-d{p['d']}-dh{p['d_h']}-m{p['m']}"
    if p.get("l1") or p.get("l2"):
        param += f"-l1{p['l1']:g}-l2{p['l2']:g}"
    name = f"test_{p['phase']}[{param}]"
    point = {k: v for k, v in p.items() if not k.startswith("_")}
    point.setdefault("threads", analysis.thread_count(doc, p))
    return {
        "group": f"{p['phase']} n={p['n']} d={p['d']} d_h={p['d_h']} m={p['m']} {p['dtype']}",
        "name": name, "fullname": f"mlpbench::{name}",
        "params": {"impl": p["impl"], "dtype": p["dtype"], "n": p["n"], "d": p["d"],
                   "d_h": p["d_h"], "m": p["m"]},
        "param": param,
        "extra_info": {"impl": p["impl"], "n": p["n"], "d": p["d"], "d_h": p["d_h"],
                       "m": p["m"], "dtype": p["dtype"], "phase": p["phase"],
                       "flops": p.get("flops"), POINT_KEY: point},
        "options": {"disable_gc": False, "timer": "perf_counter", "min_rounds": 1,
                    "max_time": None, "min_time": None, "warmup": False},
        "stats": _stats(p),
    }


def to_pytest_benchmark(docs: Iterable[dict]) -> dict:
    """One pytest-benchmark JSON document for the measured points of ``docs``."""
    docs = list(docs)
    first = docs[0]
    mach = first.get("machine") or {}
    info = {"node": mach.get("hostname") or "", "processor": "",
            "machine": "", "python_implementation": "CPython",
            "python_version": mach.get("python") or "", "release": "",
            "system": mach.get("os") or "",
            "cpu": {"brand_raw": mach.get("cpu_model") or "", "count": mach.get("cores")},
            "mlpbench": {"machine": mach, "threads": first.get("threads") or {},
                         # one file's sweep describes its points; merged files have none
                         "sweep": first.get("sweep") if len(docs) == 1 else None,
                         "peak": first.get("peak"),
                         "coldstart": [r for d in docs for r in d.get("coldstart") or []]}}
    prov = first.get("provenance") or {}
    commit = {"id": prov.get("git_commit") or prov.get("commit") or "", "dirty": False,
              "project": "mlpbench", "branch": prov.get("branch") or ""}
    benches = [_benchmark(doc, p) for doc in docs for p in doc["points"]
               if p["status"] == "ok" and p["median_s"]]
    return {"machine_info": info, "commit_info": commit, "benchmarks": benches,
            "datetime": first.get("created") or results.now_iso(), "version": _pb_version()}


# --- from pytest-benchmark ----------------------------------------------------------------


def is_pytest_benchmark(doc) -> bool:
    return (isinstance(doc, dict) and isinstance(doc.get("benchmarks"), list)
            and "machine_info" in doc and "schema" not in doc)


def _num(v):
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) \
        and math.isfinite(v) else None


def _point_of(bench: dict, where: str, offset: int = 0) -> dict:
    extra = bench.get("extra_info") or {}
    if isinstance(extra.get(POINT_KEY), dict):
        return dict(extra[POINT_KEY])
    stats = bench.get("stats") or {}
    params = bench.get("params") or {}
    name = bench.get("name", "?")
    sizes = {k: extra.get(k, params.get(k)) for k in schema.SIZE_KEYS}
    missing = [k for k, v in sizes.items() if not isinstance(v, int) or isinstance(v, bool)]
    if missing:
        raise ResultFileError(
            f"{where}: benchmark {name!r} lacks extra_info {', '.join(missing)} (the sizes "
            "of the step; bench/ writes them with benchmark.extra_info)")
    impl = extra.get("impl") or params.get("impl")
    if not isinstance(impl, str) or not impl:
        raise ResultFileError(f"{where}: benchmark {name!r} names no implementation "
                              "(extra_info or params 'impl')")
    med, q1, q3 = (_num(stats.get(k)) for k in ("median", "q1", "q3"))
    if med is None or med <= 0:
        raise ResultFileError(f"{where}: benchmark {name!r} has no median time")
    phase = extra.get("phase") if extra.get("phase") in schema.PHASES else "step"
    fl = schema.flops(phase, *(sizes[k] for k in schema.SIZE_KEYS))
    data = stats.get("data")
    raw = [float(v) for v in data] if isinstance(data, list) and data and all(
        _num(v) is not None and v > 0 for v in data) else None
    q1 = q1 if q1 is not None else med
    q3 = q3 if q3 is not None else med
    p = {"impl": impl, "dtype": extra.get("dtype") or "float64", "phase": phase, **sizes,
         "l1": 0.0, "l2": 0.0, "status": "ok", "reason": None, "cold_s": None,
         "median_s": med, "q1_s": q1, "q3_s": q3, "iqr_s": q3 - q1,
         "min_s": _num(stats.get("min")) or med, "max_s": _num(stats.get("max")) or med,
         "mean_s": _num(stats.get("mean")) or med,
         "samples": len(raw) if raw is not None else int(stats.get("rounds") or 1),
         "loops": int(stats.get("iterations") or 1), "flops": fl, "gflops": fl / med / 1e9,
         "predicted_s": None, "max_rel_err": None,
         "high_spread": (q3 - q1) / med > 0.10, "warnings": []}
    if raw is not None:
        # pytest-benchmark times one benchmark after another: its rounds are not moments
        # shared with any other benchmark, so each gets round numbers of its own (ratios
        # then compare sample sets, never pairs).
        p["times_s"] = raw
        p["rounds"] = [offset + k for k in range(len(raw))]
    return p


def from_pytest_benchmark(data: dict, path: str | os.PathLike = "pytest-benchmark file") -> dict:
    """A pytest-benchmark JSON document as a result document (validated).

    Each benchmark needs its sizes (n, d, d_h, m) and implementation in ``extra_info``
    (bench/test_bench_mlp.py writes them); the raw timings (``stats.data``) become the
    point's samples. The points do not lie on one axis, so the document is a grid with
    no swept sizes: the report shows them point by point.
    """
    where = str(path)
    benches = data.get("benchmarks") or []
    if not benches:
        raise ResultFileError(f"{where}: the pytest-benchmark file holds no benchmarks")
    points = [_point_of(b, where, 1_000_000 * k) for k, b in enumerate(benches)]
    info = data.get("machine_info") or {}
    ours = info.get("mlpbench") if isinstance(info.get("mlpbench"), dict) else {}
    mach = ours.get("machine") if isinstance(ours.get("machine"), dict) else {
        "cpu_model": (info.get("cpu") or {}).get("brand_raw"),
        "cores": (info.get("cpu") or {}).get("count"), "os": info.get("system"),
        "hostname": info.get("node"), "python": info.get("python_version")}
    base_pt = max(points, key=lambda p: (p["phase"] == "step",
                                         schema.flops("step", *(p[k] for k in
                                                                schema.SIZE_KEYS))))
    sweep = ours.get("sweep") if isinstance(ours.get("sweep"), dict) else None
    if sweep is None:
        sweep = {"axis": schema.GRID, "sizes": {},
                 "base": {k: base_pt[k] for k in schema.SIZE_KEYS},
                 "implementations": sorted({p["impl"] for p in points},
                                           key=analysis.impl_sort_key),
                 "dtypes": sorted({p["dtype"] for p in points}),
                 "phases": sorted({p["phase"] for p in points}), "quick": False}
    when = str(data.get("datetime") or results.now_iso())
    doc = {"schema": schema.SCHEMA, "schema_version": schema.SCHEMA_VERSION,
           "created": when, "updated": when, "complete": True,
           "machine": {k: v for k, v in mach.items() if v is not None},
           "threads": ours.get("threads") if isinstance(ours.get("threads"), dict) else {},
           "sweep": sweep, "peak": ours.get("peak"), "points": points,
           "source": {"format": "pytest-benchmark", "version": data.get("version"),
                      "commit_info": data.get("commit_info")}}
    if ours.get("coldstart"):
        doc["coldstart"] = ours["coldstart"]
    try:
        schema.validate(doc)
    except schema.SchemaError as exc:
        raise ResultFileError(f"{where} (pytest-benchmark, converted): {exc}") from None
    return doc


def load_documents(paths: Iterable[str | os.PathLike]) -> list[dict]:
    """Load result files and pytest-benchmark JSON files (converted); each document
    remembers its path under ``_path``. Our own files go through
    :func:`mlpbench.harness.results.load_results`, the one loader of result files."""
    docs = []
    for path in paths:
        data = read_json(path, "result file")
        if is_pytest_benchmark(data):
            doc = from_pytest_benchmark(data, path)
        else:
            doc = results.load_results(path, need_points=True)
        doc["_path"] = str(Path(path))
        docs.append(doc)
    return docs
