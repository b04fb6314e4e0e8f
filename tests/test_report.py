"""mlpbench report: figures, report.md and report.html from the synthetic result files
in tests/fixtures (crafted per harness/schema.py by tests/fixtures/make_results.py)."""

from __future__ import annotations

import copy
import json
import math
import struct
from html import escape as html_escape
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from mlpbench.commands import main
from mlpbench.harness import schema
from mlpbench.harness.results import load_all
from mlpbench.report import analysis, build, figures

FIXTURES = Path(__file__).parent / "fixtures"
RESULTS = [FIXTURES / f"results_{a}.json" for a in ("n", "d", "d_h")]

#: A synthetic accuracy table, shaped like kernels.accuracy.worst_ulp_table's.
NUMERICS = {"float64": {
    "sigmoid": {"loops": 1.0, "numpy": 1.0, "numba": 1.0},
    "softplus": {"loops": 0.0, "numpy": 1.0, "numba": 2.0},
    "relu": {"loops": 0.0, "numpy": 0.0, "numba": 0.0},
    "sigmoid_tanh_identity": {"numpy": 9.0e15},
}}


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the IHDR chunk of a PNG file."""
    head = Path(path).read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def assert_drawn(path: Path, size: tuple[int, int]) -> None:
    assert png_size(path) == size
    img = mpimg.imread(path)
    assert img.shape[:2] == (size[1], size[0])
    # something is drawn: many distinct colours, and not a blank canvas
    rgb = (img[..., :3] * 255).astype(np.uint32)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    assert np.unique(packed).size > 20
    assert img[..., :3].std() > 0.05


@pytest.fixture(scope="module")
def docs():
    return load_all(RESULTS)


@pytest.fixture(scope="module")
def report(docs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return build.build_report(copy.deepcopy(docs), out, NUMERICS, formats=("png",))


# --- analysis ---------------------------------------------------------------------------


def test_fit_recovers_exponent_of_a_power_law():
    sizes = [1, 4, 16, 64, 256, 1024]
    times = [2e-6 * x**1.5 for x in sizes]
    f = analysis.fit_exponent(sizes, times)
    assert f.exponent == pytest.approx(1.5, abs=1e-12)
    assert f.lo == pytest.approx(1.5, abs=1e-9) and f.hi == pytest.approx(1.5, abs=1e-9)
    assert f.sizes == [64, 256, 1024]   # x >= sqrt(1 * 1024) = 32


def test_fit_ignores_overhead_dominated_sizes_and_has_an_honest_interval():
    rng = np.random.default_rng(1)
    sizes = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
    times = [(5e-6 + 1e-6 * x) * rng.uniform(0.98, 1.02) for x in sizes]
    f = analysis.fit_exponent(sizes, times)
    assert f.sizes == [32, 64, 128, 256, 512, 1024]
    assert f.lo < f.exponent < f.hi
    assert 0.9 < f.exponent <= 1.0
    # a fit over every size would be pulled down by the overhead-dominated ones
    assert np.polyfit(np.log(sizes), np.log(times), 1)[0] < f.exponent - 0.05
    assert analysis.fit_exponent([1, 2], [1.0, 2.0]) is None


def test_crossovers_are_interpolated_on_log_scales():
    sp = analysis._crossovers("numba", [1, 100, 10_000], [10.0, 0.1, 10.0])
    assert [c.starts for c in sp] == [False, True]
    assert sp[0].size == pytest.approx(10.0) and sp[1].size == pytest.approx(1000.0)


def test_payoff_calls():
    # compile 1 s, numba saves 1 ms per call: 1000 calls
    assert analysis.payoff_calls(1.0, 1e-3, 2e-3) == 1000
    assert analysis.payoff_calls(1.0, 2e-3, 1e-3) is None


def _summary_for(sizes, ratio, fit=None):
    sp = {("float64", "numba"): analysis.Speedup("numba", "float64", sizes, ratio, [])}
    fitted = {("float64", "numpy"): fit} if fit else {}
    return analysis._axis_summary("n", fitted, sp, "float64")


def test_summary_sentences():
    assert _summary_for([1, 4, 16, 64], [3.0, 2.0, 0.5, 0.4]) == (
        "n, float64: numba is 2–3× faster than numpy at n ≤ 4.")
    assert _summary_for([1, 4, 16], [0.5, 2.0, 4.0]) == (
        "n, float64: numba is 2–4× faster than numpy at n ≥ 4.")
    assert _summary_for([16], [1.02]) == (
        "n, float64: numba and numpy are within 5% of each other at n = 16, "
        "the only size both measured.")
    assert _summary_for([1, 4], [0.5, 0.25]) == (
        "n, float64: numpy is faster than numba at every measured n "
        "(numba takes 2–4× numpy's time).")
    steep = analysis.Fit(1.6, 1.5, 1.7, [64, 256, 1024])
    assert _summary_for([1, 4], [2.0, 2.0], steep) == (
        "n, float64: numba is 2× faster than numpy at every measured n (1–4); in n, numpy "
        "does not scale linearly (fitted exponent numpy 1.60 [1.50, 1.70]; theory 1).")
    noisy = analysis.Fit(0.6, -1.7, 2.9, [64, 256, 1024])
    assert "in n, numpy is too noisy to tell (fitted exponent numpy 0.60 [-1.70, 2.90]" in \
        _summary_for([1, 4], [2.0, 2.0], noisy)
    assert analysis.linearity(analysis.Fit(0.9, 0.8, 1.05, [])) == "linear"


def test_series_split_ok_and_skipped_points(docs):
    s = analysis.axis_series(docs, "n")[("float64", "loops")]
    assert s.sizes == [1, 4, 16, 64, 256]
    assert s.skipped_sizes == [1024, 4096]
    assert all(p > 2.0 for p in s.skipped_predicted)
    assert analysis.swept_axes(docs) == ["n", "d", "d_h"]


def test_bandwidth_bound_matches_hand_count():
    # n=1, d=2, d_h=3, m=4: 6+3+12+4 = 25 parameters; a float64 step reads X (2), the
    # parameters (25), one label (8 bytes) and writes 25 gradients: 8*(2+25+25) + 8 = 424
    assert analysis.compulsory_bytes("step", 1, 2, 3, 4, 8) == 424
    fl = schema.flops("step", 1, 2, 3, 4)
    assert analysis.bandwidth_bound("step", 1, 2, 3, 4, 8, 10.0) == pytest.approx(10 * fl / 424)


# --- the report ---------------------------------------------------------------------------


def test_every_figure_is_drawn_at_its_size(report):
    names = {p.name for p in report.figures}
    expected = {f"{kind}_{a}.png" for kind in ("scaling", "speedup", "throughput")
                for a in ("n", "d", "d_h")} | {"phases.png", "compile.png", "numerics.png"}
    assert names == expected
    assert report.omitted == {}
    two = figures.size_px(2)   # float64 and float32 panels
    one = figures.size_px(1)
    for p in report.figures:
        if p.name == "numerics.png":
            size = figures.size_px(1, figures.numerics_height(len(NUMERICS["float64"])))
        elif p.name.endswith("_n.png") or p.name in ("phases.png", "compile.png"):
            size = two
        else:
            size = one
        assert_drawn(p, size)


def test_report_md_holds_exponents_summary_and_tables(report, docs):
    md = report.md.read_text(encoding="utf-8")
    for line in report.summary:
        assert line in md
    assert report.summary[0].startswith(
        "n, float64: numba is 1.66–4.18× faster than numpy at n ≤ 4; all three scale linearly "
        "in n (fitted exponent loops 1.00 [0.87, 1.14], numpy 0.97 [0.94, 1.00], numba 0.99")
    for axis in ("n", "d", "d_h"):
        for (dtype, impl), f in analysis.fits(analysis.axis_series(docs, axis)).items():
            assert f"| {impl} | {dtype} | {f.exponent:.3f} | [{f.lo:.3f}, {f.hi:.3f}] |" in md
    assert "skipped (predicted" in md
    assert "GEMM peak, float64, 1 thread(s) | 18.4 GFLOP/s" in md
    assert "thread settings: numba_threads = 1, threading_layer = workqueue" in md
    assert "Figure omitted" not in md
    for p in report.figures:
        assert f"]({p.name})" in md


def test_report_html_is_self_contained(report):
    html = report.html.read_text(encoding="utf-8")
    assert html.count("src='data:image/png;base64,") == len(report.figures)
    assert ".png'" not in html
    assert "sigmoid as (tanh(x/2)+1)/2" in html
    for line in report.summary:
        assert html_escape(line) in html


def test_sections_without_data_are_omitted_with_a_reason(docs, tmp_path):
    bare = copy.deepcopy(docs[2])               # the d_h sweep: step only
    bare["peak"] = None
    for p in bare["points"]:
        p["cold_s"] = None
    rep = build.build_report([bare], tmp_path, None, "mpmath is not installed",
                             formats=("png",))
    names = {p.name for p in rep.figures}
    assert names == {"scaling_d_h.png", "speedup_d_h.png"}
    md = rep.md.read_text(encoding="utf-8")
    assert md.count("*Figure omitted:") == 4
    assert "Figure omitted: the result files carry no peak measurement" in md
    assert "Figure omitted: no forward or backward points were measured" in md
    assert "Figure omitted: mpmath is not installed" in md
    assert "No ceilings" in md
    assert not (tmp_path / "throughput_d_h.png").exists()


def test_numerics_figure_shows_infinite_and_zero_errors(tmp_path):
    table = {"float64": {"sigmoid": {"numpy": 0.0, "numba": math.inf},
                         "sigmoid_tanh_identity": {"numpy": 4.5e15}}}
    png = figures.draw_numerics(table, tmp_path, "numerics", formats=("png",))
    assert_drawn(png, figures.size_px(1, figures.numerics_height(2)))


# --- the command line ------------------------------------------------------------------


def test_cli_report_writes_png_svg_and_both_reports(tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["report", str(RESULTS[2]), "--out", str(out), "--no-numerics"]) == 0
    printed = capsys.readouterr().out
    assert f"report: {out / 'report.html'}" in printed
    for name in ("scaling_d_h", "speedup_d_h", "throughput_d_h", "compile"):
        assert_drawn(out / f"{name}.png", figures.size_px(1))
        assert "<svg" in (out / f"{name}.svg").read_text(encoding="utf-8")[:2000]
    assert (out / "report.md").exists() and (out / "report.html").exists()
    assert "Figure omitted: left out (--no-numerics)" in (out / "report.md").read_text()

    # a non-empty folder needs --force ...
    assert main(["report", str(RESULTS[2]), "--out", str(out), "--no-numerics"]) == 2
    assert "not empty; pass --force" in capsys.readouterr().err
    # ... which replaces the previous figures and leaves other files alone
    (out / "scaling_n.png").write_bytes(b"stale")
    (out / "notes.txt").write_text("mine")
    doc = json.loads(RESULTS[2].read_text())
    doc["peak"] = None
    lean = tmp_path / "lean.json"
    lean.write_text(json.dumps(doc))
    assert main(["report", str(lean), "--out", str(out), "--no-numerics", "--force"]) == 0
    assert not (out / "scaling_n.png").exists()
    assert not (out / "throughput_d_h.png").exists() and not (out / "throughput_d_h.svg").exists()
    assert (out / "scaling_d_h.png").exists() and (out / "notes.txt").read_text() == "mine"
    capsys.readouterr()
    # a bad --peak file is one line and exit 2
    assert main(["report", str(lean), "--out", str(tmp_path / "p"), "--no-numerics",
                 "--peak", str(lean)]) == 2
    assert "is not a file written by `mlpbench peak`" in capsys.readouterr().err


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("case, message", [
    ("missing", "does not exist"),
    ("not_json", "JSON"),
    ("other_version", "schema version 99 is not supported"),
    ("other_schema", "not an mlpbench result file"),
    ("empty", "holds no measured points"),
    ("bad_point", "lacks fields"),
])
def test_bad_result_files_give_one_line_and_exit_2(case, message, tmp_path, capsys):
    doc = json.loads(RESULTS[2].read_text())
    if case == "missing":
        path = tmp_path / "nope.json"
    elif case == "not_json":
        path = _write(tmp_path, "x.json", "{not json")
    else:
        if case == "other_version":
            doc["schema_version"] = 99
        elif case == "other_schema":
            doc["schema"] = "something.else"
        elif case == "empty":
            doc["points"] = []
        else:
            del doc["points"][0]["median_s"]
        path = _write(tmp_path, "x.json", json.dumps(doc))
    assert main(["report", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and err.startswith("mlpbench report: error: ")
    assert not (tmp_path / "out").exists()


def test_bad_numerics_file_and_out_is_a_file(tmp_path, capsys):
    bad = _write(tmp_path, "num.json", json.dumps({"sigmoid": "one ulp"}))
    assert main(["report", str(RESULTS[2]), "--out", str(tmp_path / "o"),
                 "--numerics", str(bad)]) == 2
    assert "is not an accuracy table" in capsys.readouterr().err
    f = _write(tmp_path, "afile", "x")
    assert main(["report", str(RESULTS[2]), "--out", str(f), "--no-numerics"]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_compile_time_prefers_the_cold_start_measurement(docs):
    docs = copy.deepcopy(docs)
    from_sweep = analysis.compile_cost(docs, "float64")
    docs[0]["coldstart"] = [{"impl": "numba", "dtype": "float64", "n": 1, "d": 196,
                             "d_h": 128, "m": 10, "compile_s": 7.5, "cached_first_s": 0.42,
                             "warm_s": 1e-4, "import_s": 0.1}]
    assert from_sweep != 7.5
    assert analysis.compile_cost(docs, "float64") == 7.5
    line = next(t for t in analysis.summary(docs) if t.startswith("compile, float64"))
    assert "7.5 s" in line and "420 ms" in line


def test_a_first_call_that_only_loaded_the_cache_is_not_a_compile_time(docs):
    docs = copy.deepcopy(docs)
    for doc in docs:
        for p in doc["points"]:
            if p["impl"] == "numba":
                p["jit_compiled"], p["jit_cached"] = 0, 3
    assert analysis.compile_cost(docs, "float64") is None
