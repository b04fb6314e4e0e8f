"""mlpbench report: the numbers (ratios, standings, fits, compile costs, new views), the
answer box, report.md and report.html, the command line and the export formats.

Data: the committed fixtures (tests/fixtures, old files with medians and quartiles
only) and the synthetic documents of report_synthetic.py (raw samples with rounds, a
canary, memory, a grid, two thread counts, the peers). Statistics are checked on
synthetic timings with known answers; no test times anything.
"""

from __future__ import annotations

import copy
import json
import math
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import report_synthetic as synthetic

from mlpbench.commands import main
from mlpbench.harness import schema, stats
from mlpbench.harness.results import load_all
from mlpbench.report import analysis, build, export, figures, recommend

RESULTS = synthetic.FIXTURE_RESULTS


def png_size(path: Path) -> tuple[int, int]:
    head = Path(path).read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def docs():
    return load_all(RESULTS)


def _pt(impl, times, rounds=None, **extra):
    t = np.asarray(times, dtype=float)
    q1, med, q3 = np.quantile(t, [0.25, 0.5, 0.75])
    p = {"impl": impl, "dtype": "float64", "phase": "step", "n": 4, "d": 8, "d_h": 4, "m": 3,
         "status": "ok", "median_s": float(med), "q1_s": float(q1), "q3_s": float(q3),
         "samples": int(t.size), **extra}
    if rounds is not None:
        p["times_s"], p["rounds"] = [float(x) for x in t], list(rounds)
    return p


# --- ratios --------------------------------------------------------------------------------


def test_paired_ratio_cancels_the_drift_that_the_medians_carry():
    rng = np.random.default_rng(0)
    drift = rng.lognormal(0, 0.3, 40)                    # the machine, round by round
    ref = _pt("numpy", 1e-3 * drift * rng.lognormal(0, 0.01, 40), range(40))
    sub = _pt("numba", 2e-3 * drift * rng.lognormal(0, 0.01, 40), range(40))
    r = analysis.ratio(sub, ref)
    assert r.method == analysis.PAIRED and r.count == 40
    assert r.lo <= 2.0 <= r.hi and r.halfwidth < 0.02
    assert stats.verdict(r) == "slower"
    # without rounds the same samples only give the medians' ratio and a wide range
    old = analysis.ratio({**sub, "times_s": None, "rounds": None},
                         {**ref, "times_s": None, "rounds": None})
    assert old.method == analysis.UNPAIRED and old.halfwidth > 0.2
    assert analysis.fmt_ratio(old).endswith("†") and not analysis.fmt_ratio(r).endswith("†")


def test_ratio_without_shared_rounds_compares_the_sample_sets():
    rng = np.random.default_rng(1)
    a = _pt("a", 3e-3 * rng.lognormal(0, 0.02, 30), range(30))
    b = _pt("b", 1e-3 * rng.lognormal(0, 0.02, 30), range(100, 130))
    r = analysis.ratio(a, b)
    assert r.method == analysis.INDEPENDENT and r.lo < 3.0 < r.hi


def test_rounds_pair_only_within_one_run():
    rng = np.random.default_rng(6)
    a = _pt("numba", 2e-3 * rng.lognormal(0, 0.05, 20), range(20))
    b = _pt("numpy", 1e-3 * rng.lognormal(0, 0.05, 20), range(20))
    docs = [{"_path": "one.json", "points": [a]}, {"_path": "two.json", "points": [b]}]
    analysis.tag_runs(docs)
    assert analysis.ratio(a, b).method == analysis.INDEPENDENT   # round 3 != round 3
    b[analysis.RUN] = a[analysis.RUN]
    assert analysis.ratio(a, b).method == analysis.PAIRED


def test_unpaired_ratio_from_quartiles_and_a_tie():
    a = {"median_s": 1.0, "q1_s": 0.9, "q3_s": 1.1, "samples": 15}
    b = {"median_s": 1.02, "q1_s": 0.95, "q3_s": 1.08, "samples": 15}
    r = analysis.ratio(a, b)
    assert r.value == pytest.approx(1 / 1.02) and r.lo == pytest.approx(0.9 / 1.08)
    assert r.hi == pytest.approx(1.1 / 0.95) and stats.verdict(r) == "indistinguishable"


# --- standings, ties, the favourite's losses ------------------------------------------------


def _series(axis, impl, sizes, times_by_size, rounds=True):
    s = analysis.Series(axis, impl, "float64", "step", {})
    for x in sizes:
        p = _pt(impl, times_by_size[x], range(len(times_by_size[x])) if rounds else None)
        p[axis] = x
        s.sizes.append(x)
        s.median.append(p["median_s"])
        s.q1.append(p["q1_s"])
        s.q3.append(p["q3_s"])
        s.points.append(p)
    return s


def test_segments_ties_and_a_planted_losing_point_are_all_said():
    rng = np.random.default_rng(2)
    sizes = [1, 4, 16, 64, 256]
    drift = {x: rng.lognormal(0, 0.1, 25) for x in sizes}
    # numba leads everywhere by 1.5x, except a tie at 16 and a planted loss at 256
    factor = {1: 1.5, 4: 1.5, 16: 1.0, 64: 1.5, 256: 0.8}
    np_s = _series("n", "numpy", sizes, {x: 1e-3 * drift[x] for x in sizes})
    nb_s = _series("n", "numba", sizes, {x: 1e-3 * drift[x] / factor[x]
                                         * rng.lognormal(0, 0.005, 25) for x in sizes})
    sts = analysis.standings({"numpy": np_s, "numba": nb_s})
    assert [st.winner for st in sts][:2] == ["numba", "numba"]
    assert sts[2].tie and set(sts[2].tied) == {"numba", "numpy"}
    assert sts[4].winner == "numpy" and not sts[4].tie
    segs = analysis.segments(sts)
    assert [(s.first, s.last, s.tie) for s in segs] == [(1, 4, False), (16, 16, True),
                                                        (64, 64, False), (256, 256, False)]
    assert analysis.favoured(sts) == "numba"
    text = recommend._losses("n", "numba", sts)
    assert text.startswith("numba, the fastest at most points, loses at n = 256 (1.25×")
    sentence = recommend._segment_text("n", segs[1], sizes)
    assert sentence.startswith("n = 16: a tie between numpy and numba")


def test_the_answer_names_every_range_and_the_compile_cost(docs):
    ans = recommend.answer(docs)
    heads = [h for h, _ in ans.bullets]
    assert heads == ["n, float64", "d, float64", "d_h, float64", "n, float32",
                     "what compiling costs"]
    n64 = dict(ans.bullets)["n, float64"]
    assert n64[0].startswith("n ≤ 4: use numba, 1.66–4.18× faster than numpy (smallest "
                             "lead 1.66× [1.6, 1.73]† at n = 4)")
    assert n64[1].startswith("n ≥ 16: use numpy, 1.14–1.67× faster than numba")
    assert n64[2] == "numpy, the fastest at most points, loses at n = 1, 4 (1.66–4.18× the " \
                     "time of numba)"
    comp = dict(ans.bullets)["what compiling costs"][0]
    assert comp.startswith("numba (float64) compiles in 4.2 s: at the base point (n=256, "
                           "d=196, d_h=128, m=10) it never pays off (numpy is faster per "
                           "call); over the sweep after 82,568–118,658 calls, never at 13 of "
                           "15 points")
    assert ans.unpaired and "AMD EPYC (synthetic), 2 cores" in ans.machine
    assert ans.noise.startswith("Noise floor: a point's median is known to ±1.9%")


def test_the_answer_on_rich_data_includes_peers_maps_threads():
    b = synthetic.built("rich")
    lines = b.report.summary
    assert lines[0].startswith("n, float64: n ≤ 4: use numba")
    assert any("jax" in line for line in lines[:3])                # a peer can win
    assert any(line.startswith("winner maps: n × d_h (float64, 12 cells)") for line in lines)
    assert any(line.startswith("a second thread: numpy (float64):") for line in lines)
    noise = next(line for line in lines if line.startswith("Noise floor"))
    assert "95% interval from the raw samples" in noise and "paired by round" in noise
    assert "canary" in noise


# --- exponents, fits -----------------------------------------------------------------------


def test_exponent_labels_come_from_the_interval():
    rng = np.random.default_rng(3)
    sizes = [16, 32, 64, 128, 256, 512, 1024]
    tight = _series("n", "numpy", sizes, {x: 1e-6 * x * rng.lognormal(0, 0.01, 30)
                                          for x in sizes})
    f = analysis.fit_series(tight)
    assert f.label == "linear" and f.lo < 1 < f.hi and f.raw
    noisy = _series("n", "numpy", sizes, {x: 1e-6 * x * rng.lognormal(0, 0.8, 6)
                                          for x in sizes})
    assert analysis.fit_series(noisy).label == "not determined"
    steep = _series("n", "numpy", sizes, {x: 1e-9 * x**1.6 * rng.lognormal(0, 0.01, 30)
                                          for x in sizes})
    assert analysis.fit_series(steep).label == "super-linear"


def test_fixed_cost_and_rate_are_recovered_with_intervals():
    rng = np.random.default_rng(4)
    sizes = [1, 4, 16, 64, 256, 1024, 4096]
    s = analysis.Series("n", "numba", "float64", "step", {})
    for x in sizes:
        fl = schema.flops("step", x, 100, 50, 10)
        t = (8e-6 + fl / 12e9) * rng.lognormal(0, 0.01, 20)
        p = _pt("numba", t, range(20), n=x, d=100, d_h=50, m=10, flops=fl)
        s.sizes.append(x)
        s.median.append(p["median_s"])
        s.q1.append(p["q1_s"])
        s.q3.append(p["q3_s"])
        s.points.append(p)
    c = analysis.cost_fit(s)
    assert c.fixed.lo < 8e-6 < c.fixed.hi and c.fixed.value == pytest.approx(8e-6, rel=0.05)
    assert c.gflops.lo < 12 < c.gflops.hi and c.gflops.value == pytest.approx(12, rel=0.03)
    assert c.worst_resid < 0.05


def test_payoff_calls():
    assert analysis.payoff_calls(1.0, 1e-3, 2e-3) == 1000
    assert analysis.payoff_calls(1.0, 2e-3, 1e-3) is None


def test_compile_table_covers_every_jit_implementation_and_the_base_point():
    rows = analysis.compile_table(synthetic.built("rich").docs)
    assert {r["impl"] for r in rows} == {"numba", "numba-loops", "jax"}
    base = [r for r in rows if r["base"] and r["dtype"] == "float64"]
    assert {r["impl"] for r in base} == {"numba", "numba-loops", "jax"}
    assert all(r["rival"] in ("numpy", "torch", "loops") for r in rows)
    assert any(r["payoff_calls"] is None for r in rows)
    assert any(r["payoff_calls"] for r in rows)


def test_winner_maps_threads_and_memory_from_rich_data():
    docs = synthetic.built("rich").docs
    maps = analysis.winner_maps(docs)
    assert [(m.x_axis, m.y_axis) for m in maps] == [("n", "d_h"), ("n", "d")]
    nd_h = maps[0]
    assert nd_h.cells[(1, 128)].winner == "numba"          # overhead decides at n = 1
    assert nd_h.cells[(4096, 2048)].winner == "jax"        # the rate decides at scale
    ts = {t.impl: t for t in analysis.thread_scaling(docs)}
    assert set(ts) == {"numpy", "numba", "numba-loops", "torch", "jax"}
    big = ts["numpy"].speedup[-1]
    assert big.lo < 1.9 < big.hi and big.method == analysis.INDEPENDENT   # two runs
    assert ts["jax"].speedup[-1].lo < 1.0 < ts["jax"].speedup[-1].hi
    methods = analysis.memory_methods(docs)
    assert methods["numba"] == {"tracemalloc + numba NRT allocation count"}
    assert methods["jax"] == {"not measured (the library's own allocator)"}
    assert not analysis.measured("not measured (the library's own allocator)")
    # the thread-2 file does not leak into the one-thread views, nor a grid's cells into
    # the curves of the sweep of n (the grid has cells at n = 1, 16, 256, 4096, d_h = 128)
    main_docs = analysis.primary_docs(docs)
    assert all(analysis.thread_count(d, p) == 1 for d in main_docs for p in d["points"])
    n_file = docs[0]["_path"]
    for s in analysis.axis_series(main_docs, "n").values():
        assert {p[analysis.RUN] for p in s.points} == {n_file}


def test_series_split_ok_and_skipped_points(docs):
    s = analysis.axis_series(docs, "n")[("float64", "loops")]
    assert s.sizes == [1, 4, 16, 64, 256]
    assert s.skipped_sizes == [1024, 4096]
    assert analysis.swept_axes(docs) == ["n", "d", "d_h"]


def test_bandwidth_bound_matches_hand_count():
    assert analysis.compulsory_bytes("step", 1, 2, 3, 4, 8) == 424
    fl = schema.flops("step", 1, 2, 3, 4)
    assert analysis.bandwidth_bound("step", 1, 2, 3, 4, 8, 10.0) == pytest.approx(10 * fl / 424)


def test_a_step_point_is_bounded_by_the_level_its_bytes_fit_in():
    # L2 holds up to 1 MiB, L3 up to 16 MiB (twice the measured working sets).
    # d = 784, d_h = 256, float64: n = 1 moves 3.2 MB (L3); d = 16 moves 67 KB (L2);
    # n = 4096 is compute-bound (GEMM peak); n = 8192 with d_h = 1 moves 51 MB (DRAM).
    peak = {"gemm_gflops": {"float64": {"1": 500.0}}, "triad_gbs": 20.0,
            "bandwidth_gbs": {"L1": 300.0, "L2": 200.0, "L3": 100.0, "DRAM": 25.0},
            "bandwidth_bytes": {"L1": 16384, "L2": 524288, "L3": 8388608,
                                "DRAM": 67108864}}
    ceil = {"peak": (500.0, 1), "gbs": 20.0,
            "ceil": {"gbs": peak["bandwidth_gbs"],
                     "edges": {k: 2 * v for k, v in peak["bandwidth_bytes"].items()}}}

    def pt(n, d=784, d_h=256):
        return {"dtype": "float64", "n": n, "d": d, "d_h": d_h, "m": 10}

    def level_bound(n, d, d_h, gbs):
        return analysis.bandwidth_bound("step", n, d, d_h, 10, 8, gbs)

    g, what = build._roofline(ceil, pt(1))
    assert what == "L3 bandwidth" and g == pytest.approx(level_bound(1, 784, 256, 100.0))
    g, what = build._roofline(ceil, pt(1, d=16))
    assert what == "L2 bandwidth" and g == pytest.approx(level_bound(1, 16, 256, 200.0))
    assert build._roofline(ceil, pt(4096))[1] == "GEMM peak"
    # big X, few FLOP per byte: DRAM
    g, what = build._roofline(ceil, pt(8192, d_h=1))
    assert what == "DRAM bandwidth" and g == pytest.approx(level_bound(8192, 784, 1, 25.0))
    # without cache-level readings the triad bounds every point
    g, what = build._roofline({"peak": None, "gbs": 20.0, "ceil": None}, pt(1))
    assert what == "DRAM bandwidth" and g == pytest.approx(level_bound(1, 784, 256, 20.0))


def test_compile_time_prefers_the_cold_start_measurement(docs):
    docs = copy.deepcopy(docs)
    from_sweep = analysis.compile_cost(docs, "float64")
    docs[0]["coldstart"] = [{"impl": "numba", "dtype": "float64", "n": 1, "d": 196,
                             "d_h": 128, "m": 10, "compile_s": 7.5, "cached_first_s": 0.42,
                             "warm_s": 1e-4, "import_s": 0.1}]
    assert from_sweep != 7.5
    assert analysis.compile_cost(docs, "float64") == 7.5
    line = recommend.compile_bullets(docs)[0]
    assert "7.5 s" in line and "420 ms" in line


def test_a_first_call_that_only_loaded_the_cache_is_not_a_compile_time(docs):
    docs = copy.deepcopy(docs)
    for doc in docs:
        for p in doc["points"]:
            if p["impl"] == "numba":
                p["jit_compiled"], p["jit_cached"] = 0, 3
    assert analysis.compile_cost(docs, "float64") is None


# --- the report files ----------------------------------------------------------------------


def test_every_figure_kind_is_drawn():
    rep = synthetic.built("fixtures").report
    names = {p.name for p in rep.figures}
    per_axis = {f"{k}_{a}-float64.svg" for k in ("scaling", "speedup", "throughput")
                for a in ("n", "d", "d_h")}
    assert per_axis | {"phases-float64.svg", "compile-float64.svg", "costs-float64.svg",
                       "numerics-float64.svg", "numerics-float32.svg"} <= names
    rich = {p.name.split("_")[0].split("-")[0] for p in synthetic.built("rich").report.figures}
    assert {"winner", "memory", "threads", "costs"} <= rich


def test_report_html_answer_first_contents_inline_svg_and_links():
    b = synthetic.built("rich")
    html = b.report.html.read_text(encoding="utf-8")
    assert "<meta name='viewport' content='width=device-width, initial-scale=1'>" in html
    # the answer box, then the contents, then the details
    box, toc, first = (html.index("class='answer'"), html.index("<nav class='toc'"),
                       html.index("id='scaling-in-n'"))
    assert box < toc < first
    ids = re.findall(r"<h2 id='([^']+)'>", html)
    links = set(re.findall(r"<a href='#([^']+)'>", html))
    assert ids and set(ids) <= links
    assert html.count("<svg") == len(b.report.figures) and "data:image/png" not in html
    assert "<title>n = 4:" in html                       # hover values survive inlining
    for p in b.report.figures:                           # every figure file is linked
        assert f"href='{p.name}'" in html
    for d in b.docs:
        assert f">{Path(d['_path']).name}</a>" in html
    assert "<details><summary>Every step point along n" in html
    assert "<div class='scroll'><table>" in html
    for section in ("Winner maps", "Fixed cost and throughput", "Memory per step",
                    "Thread scaling"):
        assert f">{section}</h2>" in html


def test_report_md_has_the_same_answer_and_anchors():
    b = synthetic.built("fixtures")
    md = b.report.md.read_text(encoding="utf-8")
    assert md.index("## Recommendation") < md.index("**Contents:**") < md.index("## Scaling in n")
    for head in ("n, float64", "what compiling costs"):
        assert f"- **{head}**" in md
    for a in re.findall(r"\]\(#([^)]+)\)", md):
        assert f'<a id="{a}"></a>' in md
    assert "| n | loops (× vs numpy) | numpy | numba (× vs numpy) | fastest |" in md
    assert "| 4 | 8.79 ms · 0.0101× [0.00977, 0.0104]† | 88.7 µs | 53.3 µs · 1.66× " \
           "[1.6, 1.73]† | numba |" in md
    assert analysis.UNPAIRED_NOTE in md
    assert "![Speed-up vs n, float64](speedup_n-float64.svg)" in md
    for p in b.report.figures:
        assert f"]({p.name})" in md


def test_sections_without_data_are_omitted_with_a_reason(docs, tmp_path):
    bare = copy.deepcopy(docs[2])               # the d_h sweep: step only
    bare["peak"] = None
    for p in bare["points"]:
        p["cold_s"] = None
    rep = build.build_report([bare], tmp_path, None, "mpmath is not installed",
                             formats=("png",))
    assert {p.name for p in rep.figures} == {"scaling_d_h-float64.png",
                                             "speedup_d_h-float64.png", "costs-float64.png"}
    md = rep.md.read_text(encoding="utf-8")
    assert "Figure omitted: no forward or backward points were measured" in md
    assert "Figure omitted: mpmath is not installed" in md
    assert "Figure omitted: the result files carry no peak measurement, so there is no " \
           "throughput figure" in md
    assert "No ceilings" in md
    assert set(rep.omitted) >= {"Forward vs backward", "Winner maps", "Memory per step",
                                "Thread scaling", "Compile time and when it pays off"}
    html = rep.html.read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and " width='560'" in html   # 2× PNG at 1×


# --- the command line ----------------------------------------------------------------------


def test_cli_report_writes_png_svg_and_both_reports(tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["report", str(RESULTS[2]), "--out", str(out), "--no-numerics"]) == 0
    printed = capsys.readouterr().out
    assert f"report: {out / 'report.html'}" in printed
    assert "d_h, float64: every measured d_h (16–2,048): use numpy" in printed
    for name in ("scaling_d_h-float64", "speedup_d_h-float64", "throughput_d_h-float64",
                 "compile-float64", "costs-float64"):
        # PNG at twice the figure's nominal pixels (sharp on high-density screens)
        w, h = png_size(out / f"{name}.png")
        assert w == round(figures.PANEL_W * figures.PNG_DPI) == 2 * figures.PANEL_W * 100
        assert "<svg" in (out / f"{name}.svg").read_text(encoding="utf-8")[:3000]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 5 and "href='scaling_d_h-float64.png'" in html
    assert "Figure omitted: left out (--no-numerics)" in (out / "report.md").read_text()
    # a non-empty folder needs --force, which replaces what a report wrote there
    assert main(["report", str(RESULTS[2]), "--out", str(out), "--no-numerics"]) == 2
    assert "not empty; pass --force" in capsys.readouterr().err
    (out / "notes.txt").write_text("mine")
    doc = json.loads(RESULTS[2].read_text())
    doc["peak"] = None
    lean = tmp_path / "lean.json"
    lean.write_text(json.dumps(doc))
    assert main(["report", str(lean), "--out", str(out), "--no-numerics", "--force"]) == 0
    assert not (out / "throughput_d_h-float64.png").exists()
    assert (out / "scaling_d_h-float64.png").exists() and (out / "notes.txt").read_text() == "mine"
    capsys.readouterr()


@pytest.mark.parametrize("case, message", [
    ("missing", "does not exist"),
    ("not_json", "JSON"),
    ("other_version", "schema version 99 is not supported"),
    ("other_schema", "not an mlpbench result file"),
    ("empty", "holds no measured points"),
    ("bad_point", "lacks fields"),
    ("pb_no_sizes", "lacks extra_info n, d, d_h, m"),
])
def test_bad_result_files_give_one_line_and_exit_2(case, message, tmp_path, capsys):
    doc = json.loads(RESULTS[2].read_text())
    if case == "missing":
        path = tmp_path / "nope.json"
    elif case == "not_json":
        path = tmp_path / "x.json"
        path.write_text("{not json")
    else:
        if case == "other_version":
            doc["schema_version"] = 99
        elif case == "other_schema":
            doc["schema"] = "something.else"
        elif case == "empty":
            doc["points"] = []
        elif case == "bad_point":
            del doc["points"][0]["median_s"]
        else:
            doc = {"machine_info": {}, "benchmarks": [
                {"name": "test_x", "stats": {"median": 1e-3}, "extra_info": {}}]}
        path = tmp_path / "x.json"
        path.write_text(json.dumps(doc))
    assert main(["report", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert err.count("\n") == 1 and err.startswith("mlpbench report: error: ")
    assert not (tmp_path / "out").exists()


# --- export --------------------------------------------------------------------------------


def test_export_csv_one_row_per_point(tmp_path, capsys):
    assert main(["export", str(RESULTS[0]), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    doc = json.loads(RESULTS[0].read_text())
    assert lines[0].split(",") == list(export.CSV_COLUMNS)
    assert len(lines) == 1 + len(doc["points"])
    first = dict(zip(export.CSV_COLUMNS, lines[1].split(","), strict=True))
    assert first["impl"] == doc["points"][0]["impl"] and first["status"] == "ok"
    assert float(first["median_s"]) == doc["points"][0]["median_s"]
    out = tmp_path / "x.csv"
    assert main(["export", str(RESULTS[0]), "--format", "csv", "-o", str(out)]) == 0
    assert main(["export", str(RESULTS[0]), "--format", "csv", "-o", str(out)]) == 2
    assert "--force" in capsys.readouterr().err


def test_export_to_pytest_benchmark_round_trips_and_compare_reads_it(tmp_path):
    rich = synthetic.built("rich")
    src = Path(rich.docs[0]["_path"])
    out = tmp_path / "0001_mlpbench.json"
    assert main(["export", str(src), "--format", "pytest-benchmark", "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    assert set(data) == {"machine_info", "commit_info", "benchmarks", "datetime", "version"}
    b = data["benchmarks"][0]
    for key in ("min", "max", "mean", "stddev", "rounds", "median", "iqr", "q1", "q3",
                "iqr_outliers", "stddev_outliers", "outliers", "ld15iqr", "hd15iqr", "ops",
                "total", "iterations", "data"):
        assert key in b["stats"], key
    back = export.load_documents([out])[0]
    ok = [p for p in rich.docs[0]["points"] if p["status"] == "ok"]
    assert len(back["points"]) == len(ok)
    assert [p["median_s"] for p in back["points"]] == [p["median_s"] for p in ok]
    assert back["sweep"]["axis"] == "n" and back["points"][0]["times_s"] == ok[0]["times_s"]
    tool = shutil.which("pytest-benchmark", path=str(Path(sys.executable).parent))
    if tool is None:
        pytest.skip("pytest-benchmark's command is not installed")
    proc = subprocess.run([tool, "compare", str(out)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "test_step[numba-float64-n1-d196-dh128-m10]" in proc.stdout


def test_report_reads_pytest_benchmark_json_from_bench(tmp_path, capsys):
    """The layout ``pytest bench --benchmark-json`` writes (trimmed), with raw data."""
    rng = np.random.default_rng(5)

    def bench(impl, size, dims, t):
        data = list(t * rng.lognormal(0, 0.02, 40))
        n, d, d_h, m = dims
        q1, med, q3 = np.quantile(data, [0.25, 0.5, 0.75])
        return {"group": f"step n={n} d={d} d_h={d_h} m={m}", "name": f"test_step[{size}-{impl}]",
                "fullname": f"bench/test_bench_mlp.py::test_step[{size}-{impl}]",
                "params": {"impl": impl, "size": size}, "param": f"{size}-{impl}",
                "extra_info": {"impl": impl, "n": n, "d": d, "d_h": d_h, "m": m,
                               "dtype": "float64", "flops": schema.flops("step", *dims)},
                "options": {}, "stats": {"min": min(data), "max": max(data),
                                         "mean": float(np.mean(data)), "median": float(med),
                                         "q1": float(q1), "q3": float(q3), "rounds": 40,
                                         "iterations": 1, "data": data}}
    dims = {"tiny": (4, 16, 8, 3), "base": (1024, 784, 256, 10)}
    doc = {"machine_info": {"node": "vm", "cpu": {"brand_raw": "Xeon", "count": 2}},
           "commit_info": {"id": "abc"}, "datetime": "2026-12-02T04:32:44+00:00",
           "version": "5.3.1",
           "benchmarks": [bench("numpy", "tiny", dims["tiny"], 45e-6),
                          bench("numba", "tiny", dims["tiny"], 5e-6),
                          bench("numpy", "base", dims["base"], 30e-3),
                          bench("numba", "base", dims["base"], 45e-3)]}
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(doc))
    out = tmp_path / "rep"
    assert main(["report", str(path), "--out", str(out), "--no-numerics"]) == 0
    printed = capsys.readouterr().out
    assert "single points, float64: at n=4, d=16, d_h=8, m=3: use numba" in printed
    assert "at n=1,024, d=784, d_h=256, m=10: use numpy, 1.5" in printed
    md = (out / "report.md").read_text()
    assert "## Measured points" in md and "Xeon" in md
    # the ratio of two benchmarks compares sample sets: they were not timed in turns
    back = export.load_documents([path])[0]
    r = analysis.ratio(back["points"][1], back["points"][0])
    assert r.method == analysis.INDEPENDENT and r.lo < 5 / 45 < r.hi


def test_stats_median_interval_survives_thousands_of_samples():
    est = stats.median_ci(np.arange(5000, dtype=float))
    assert est.lo < 2499.5 < est.hi and math.isfinite(est.lo)
