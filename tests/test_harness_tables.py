"""The speed-up, summary and cold-call tables, on synthetic result documents."""

import math

import pytest

from mlpbench.harness import schema
from mlpbench.harness.sweep import new_point
from mlpbench.harness.tables import (
    cold_table,
    speedup_rows,
    speedup_table,
    summary_rows,
    summary_table,
)


def point(impl, n, status="ok", median=None, cold=None):
    p = new_point(impl, "float64", "step", {"n": n, "d": 8, "d_h": 4, "m": 3}, 0.0, 0.0)
    p["status"], p["cold_s"] = status, cold
    if status == "ok":
        for k in schema.TIMING_FIELDS:
            p[k] = median
        p["iqr_s"] = 0.0
    if status == "skipped":
        p["predicted_s"] = 99.0
    return p


def document(points):
    return {"schema": schema.SCHEMA, "schema_version": schema.SCHEMA_VERSION, "created": "",
            "updated": "", "complete": True, "machine": {}, "threads": {}, "peak": None,
            "sweep": {"axis": "n", "sizes": {"n": [1, 64]}, "base": {"n": 1, "d": 8, "d_h": 4,
                                                                      "m": 3},
                      "implementations": ["loops", "numpy", "numba"]}, "points": points}


DOC = document([
    point("loops", 1, median=1e-2, cold=1e-2), point("numpy", 1, median=1e-4, cold=1e-3),
    point("numba", 1, median=5e-5, cold=4.0),
    point("loops", 64, status="skipped"), point("numpy", 64, median=2e-3),
    point("numba", 64, status="failed"),
])


def test_rows_hold_speedups_over_the_baseline():
    rows = speedup_rows(DOC)
    assert [r["n"] for r in rows] == [1, 64]
    assert rows[0]["cells"]["numba"]["speedup"] == 2.0
    assert rows[0]["cells"]["loops"]["speedup"] == 0.01
    assert rows[1]["cells"]["numba"]["speedup"] is None


def test_speedup_table_text():
    lines = speedup_table(DOC).splitlines()
    assert lines[0].split() == ["n", "d", "d_h", "loops", "us", "numpy", "us", "numba", "us",
                                "loops", "speed-up", "numba", "speed-up"]
    assert lines[-1].startswith("speed-up = numpy's time / the implementation's (x2: twice")
    assert "*: spread (IQR) above 10% of the median" in lines[-2]
    assert lines[2].split() == ["1", "8", "4", "10,000", "100", "50", "x0.01", "x2"]
    assert lines[3].split() == ["64", "8", "4", "skip", "2,000", "FAIL", "-", "-"]


def test_cold_table_lists_the_first_call_per_implementation():
    text = cold_table(DOC)
    assert "numba" in text and "4.000" in text
    assert len(text.splitlines()) == 2 + 3


def test_summary_gives_geometric_means_and_percent_of_peak():
    doc = document([point("numpy", 1, median=1e-4), point("numba", 1, median=2.5e-5),
                    point("numpy", 64, median=2e-3), point("numba", 64, median=4e-3)])
    for p in doc["points"]:
        p["gflops"] = schema.flops("step", p["n"], 8, 4, 3) / p["median_s"] / 1e9
    doc["threads"] = {"blas_threads": 1}
    doc["peak"] = {"gemm_gflops": {"float64": {"1": 0.002, "2": 0.004}}}
    rows = {r["impl"]: r for r in summary_rows(doc)}
    numba = rows["numba"]
    assert numba["points"] == 2
    assert numba["geomean"] == pytest.approx(math.sqrt(4.0 * 0.5))
    assert (numba["worst"], numba["best"]) == (0.5, 4.0)
    # largest point n=64: flops / 4e-3 s against the 1-thread peak of 0.002 GFLOP/s
    want = 100 * schema.flops("step", 64, 8, 4, 3) / 4e-3 / 1e9 / 0.002
    assert numba["peak_pct"] == pytest.approx(want)
    assert numba["peak_at"] == "n=64 d=8 d_h=4"
    text = summary_table(doc)
    assert "x1.41" in text and f"{want:.1f}%" in text


def test_summary_without_peak_prints_a_dash():
    rows = {r["impl"]: r for r in summary_rows(DOC)}
    assert rows["numba"]["geomean"] == 2.0 and rows["numba"]["peak_pct"] is None
    assert "-" in summary_table(DOC).splitlines()[-1]
