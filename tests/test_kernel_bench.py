"""Kernel sweeps (``mlpbench bench --kernels``): the result file and its schema, the gate
refusing a wrong kernel, budgets, resume, the cache-level bandwidths of ``peak``, and the
kernels report. Tiny sizes, numpy and numba only (numba's kernels are cached on disk by
the kernel tests); no test asserts a timing."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from mlpbench import kernels
from mlpbench.commands import main
from mlpbench.errors import InputError, UsageError
from mlpbench.harness import config as sweep_config
from mlpbench.harness import kernel_sweep, peak, results, schema
from mlpbench.harness.timing import Policy

FAST = Policy(min_sample_s=1e-4, target_s=0.005, min_samples=3, max_samples=6)


@pytest.fixture(autouse=True)
def fast_sampling(monkeypatch):
    """Few, short samples: these tests check the bookkeeping, not the figures."""
    monkeypatch.setattr(sweep_config, "QUICK_POLICY", FAST)


def config(**kw):
    args = dict(kernels=("sigmoid", "softmax", "l1"), sizes=[1, 40], m=10,
                implementations=("numpy", "numba"), dtypes=("float64", "float32"),
                budget_s=1.0, quick=True)
    args.update(kw)
    return kernel_sweep.KernelConfig(**args)


def wrong_table(factor=1.001):
    """numpy's kernels, sigmoid scaled by ``factor``: a deliberately wrong kernel."""
    raw = kernels.get("numpy").raw

    def prepare(kernel, x):
        fn = getattr(raw, kernel)
        if kernel == "sigmoid":
            return lambda: fn(x) * x.dtype.type(factor)
        return lambda: fn(x)

    return kernel_sweep.KernelTable("wrong", prepare)


def test_sweep_writes_a_valid_kernel_result_file(tmp_path):
    out = tmp_path / "k.json"
    doc = kernel_sweep.run_kernel_sweep(config(), out, progress=False)
    loaded = results.load_results(out)
    assert loaded["kind"] == "kernels" and loaded["complete"]
    assert json.loads(out.read_text())["sweep"] == doc["sweep"]
    pts = loaded["points"]
    assert len(pts) == 3 * 2 * 2 * 2  # kernels x sizes x dtypes x implementations
    assert all(p["status"] == "ok" for p in pts), [p["reason"] for p in pts]
    for p in pts:
        assert p["gbs"] == pytest.approx(p["bytes"] / p["median_s"] / 1e9)
        assert p["elements_per_s"] == pytest.approx(p["elements"] / p["median_s"])
        assert len(p["times_s"]) == len(p["rounds"]) == len(p["canary_s"]) >= FAST.min_samples
        item = np.dtype(p["dtype"]).itemsize
        if p["kernel"] == "sigmoid":
            assert p["bytes"] == 2 * p["size"] * item and p["shape"] == [p["size"]]
        if p["kernel"] == "softmax":  # rows of width min(m, size)
            assert p["shape"] == ([1, 1] if p["size"] == 1 else [4, 10]) and p["m"] == p["shape"][1]
        if p["kernel"] == "l1":
            assert p["bytes"] == p["size"] * item
        if p["impl"] == "numba":
            err = p["max_ulp"] if p["kernel"] == "sigmoid" else p["max_rel_err"]
            assert err is not None and err <= 8
            assert p["ratio"]["reference"] == "numpy"
    keys = {schema.point_key(p) for p in pts}
    assert len(keys) == len(pts)
    assert ("kernel", "softmax", "numba", "float32", 40, 10) in keys


def test_the_gate_refuses_a_wrong_kernel(tmp_path):
    out = tmp_path / "k.json"
    cfg = config(kernels=("sigmoid", "relu"), sizes=[64], dtypes=("float64",),
                 implementations=("numpy", "wrong"))
    doc = kernel_sweep.run_kernel_sweep(cfg, out, progress=False,
                                        tables={"wrong": wrong_table()})
    by = {(p["kernel"], p["impl"]): p for p in doc["points"]}
    bad = by[("sigmoid", "wrong")]
    assert bad["status"] == "failed" and "disagrees with numpy" in bad["reason"]
    assert bad["median_s"] is None and bad["max_ulp"] > 8
    assert by[("relu", "wrong")]["status"] == "ok"
    results.load_results(out)
    # An error within twice the numerics tests' bound passes: 1 ulp off is not wrong code.
    ok = {"kernel": "sigmoid", "dtype": "float64", "shape": [3]}
    ref = np.array([0.25, 0.5, 0.75])
    assert kernel_sweep.check_kernel(ok, np.nextafter(ref, 1.0), ref) and ok["max_ulp"] == 1.0


def test_norm_and_row_tolerances_grow_with_the_terms():
    small, _ = kernel_sweep.gate_tolerance("l1", (100,), "float32")
    large, _ = kernel_sweep.gate_tolerance("l1", (10**7,), "float32")
    assert small == 2e-5 and large > small
    assert kernel_sweep.gate_tolerance("sigmoid", (5,), "float64") == (8.0, "ulp")


def test_budget_skips_the_loops_before_they_stall(tmp_path):
    cfg = config(kernels=("sigmoid",), sizes=[10**6], dtypes=("float64",),
                 implementations=("numpy", "loops"), budget_s=0.5)
    doc = kernel_sweep.run_kernel_sweep(cfg, tmp_path / "k.json", progress=False)
    loops = next(p for p in doc["points"] if p["impl"] == "loops")
    assert loops["status"] == "skipped" and "exceeds the budget" in loops["reason"]
    assert loops["predicted_s"] == pytest.approx(kernel_sweep.PRIOR_S_PER_ELEMENT["loops"] * 1e6)


def test_resume_keeps_finished_points_and_refuses_another_sweep(tmp_path):
    out = tmp_path / "k.json"
    cfg = config(kernels=("relu",), sizes=[4], dtypes=("float64",), implementations=("numpy",))
    first = kernel_sweep.run_kernel_sweep(cfg, out, progress=False)
    again = kernel_sweep.run_kernel_sweep(copy.deepcopy(cfg), out, resume=True, progress=False)
    assert again["points"] == first["points"]
    with pytest.raises(UsageError, match="another kernel sweep"):
        kernel_sweep.run_kernel_sweep(config(kernels=("relu",), sizes=[8], dtypes=("float64",),
                                             implementations=("numpy",)),
                                      out, resume=True, progress=False)
    with pytest.raises(UsageError):
        kernel_sweep.run_kernel_sweep(cfg, out, progress=False)  # exists: no overwrite


def test_config_refuses_bad_fields():
    for bad in (dict(kernels=("nope",)), dict(implementations=("numpy", "numpy")),
                dict(sizes=[0]), dict(m=0), dict(dtypes=("float16",)), dict(precision=2.0)):
        with pytest.raises((InputError, TypeError)):
            kernel_sweep.validate_config(config(**bad))


def _kernel_doc(tmp_path):
    cfg = config(kernels=("relu",), sizes=[4], dtypes=("float64",), implementations=("numpy",))
    kernel_sweep.run_kernel_sweep(cfg, tmp_path / "k.json", progress=False)
    return json.loads((tmp_path / "k.json").read_text())


@pytest.mark.parametrize("field,value,message", [
    ("gbs", -1.0, "gbs"), ("shape", [3], "shape"), ("kernel", "", "kernel"),
    ("dtype", "float16", "dtype"), ("bytes", -5, "bytes"),
])
def test_schema_refuses_a_lying_kernel_point(tmp_path, field, value, message):
    doc = _kernel_doc(tmp_path)
    doc["points"][0][field] = value
    with pytest.raises(schema.SchemaError, match=message):
        schema.validate(doc)


def test_schema_refuses_an_unknown_kind_and_a_kernel_doc_without_points_fields(tmp_path):
    doc = _kernel_doc(tmp_path)
    schema.validate(copy.deepcopy(doc))
    bad = copy.deepcopy(doc)
    bad["kind"] = "other"
    with pytest.raises(schema.SchemaError, match="kind"):
        schema.validate(bad)
    bad = copy.deepcopy(doc)
    del bad["points"][0]["elements_per_s"]
    with pytest.raises(schema.SchemaError, match="lacks fields"):
        schema.validate(bad)


def test_peak_cache_levels(tmp_path):
    for i, (level, kind, size) in enumerate([(1, "Data", "48K"), (1, "Instruction", "32K"),
                                             (2, "Unified", "2048K"), (3, "Unified", "32M")]):
        d = tmp_path / f"index{i}"
        d.mkdir()
        (d / "level").write_text(f"{level}\n")
        (d / "type").write_text(f"{kind}\n")
        (d / "size").write_text(f"{size}\n")
    assert peak.cache_sizes(str(tmp_path)) == {"L1": 48 * 1024, "L2": 2 * 2**20, "L3": 32 * 2**20}
    assert peak.cache_sizes(str(tmp_path / "none")) == {}
    assert peak.pass_gbs(64 * 1024, repeat=1) > 0
    good = {"gemm_gflops": {"float64": {"1": 10.0}}, "triad_gbs": 5.0,
            "bandwidth_gbs": {"L1": 100.0, "L2": 50.0, "L3": 20.0, "DRAM": 10.0},
            "bandwidth_bytes": {"L1": 24576, "DRAM": 2**28}, "bandwidth_threads": 1}
    schema.validate_peak(good)
    for bad in ({"L4": 1.0}, {"L1": -1.0}, {"DRAM": "fast"}, [1.0]):
        with pytest.raises(schema.SchemaError, match="bandwidth_gbs"):
            schema.validate_peak({**good, "bandwidth_gbs": bad})
    merged = peak.merge_peaks(good, {**good, "bandwidth_gbs": {"L1": 120.0, "DRAM": 9.0}})
    assert merged["bandwidth_gbs"] == {"L1": 120.0, "L2": 50.0, "L3": 20.0, "DRAM": 10.0}


def test_cli_bench_kernels(tmp_path, capsys):
    out = tmp_path / "k.json"
    rc = main(["bench", "--kernels", "relu,l1", "--sizes", "4,16", "--impl", "numpy,numba",
               "--quick", "--budget", "0.2", "--dtype", "float32", "-o", str(out),
               "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "wrote" in text and "relu at 16 elements (GB/s)" in text
    doc = results.load_results(out)
    assert doc["sweep"]["kernels"] == ["relu", "l1"] and doc["sweep"]["dtypes"] == ["float32"]
    assert main(["bench", "--kernels", "--phase", "step", "-o", str(tmp_path / "x.json")]) == 2
    assert "does not take it" in capsys.readouterr().err
    assert main(["bench", "--kernels", "nope", "-o", str(tmp_path / "y.json")]) == 2


def test_kernel_report_draws_readable_figures_and_says_the_bound(tmp_path):
    from test_figures import problems

    from mlpbench.report import build, figures

    out = tmp_path / "k.json"
    fake_peak = {"gemm_gflops": {"float64": {"1": 10.0}}, "triad_gbs": 5.0,
                 "bandwidth_gbs": {"L1": 100.0, "L2": 50.0, "L3": 20.0, "DRAM": 10.0},
                 "bandwidth_bytes": {"L1": 256, "L2": 1024, "L3": 4096, "DRAM": 2**28},
                 "bandwidth_threads": 1}
    cfg = config(kernels=("relu", "softmax", "sq_l2"), sizes=[1, 64, 1024])
    kernel_sweep.run_kernel_sweep(cfg, out, progress=False, peak=fake_peak)
    doc = results.load_results(out)
    doc["_path"] = str(out)
    report_dir = tmp_path / "report"
    report_dir.mkdir()
    with figures.capture() as drawn:
        rep = build.build_report([doc], report_dir, None, "left out", formats=("png",))
    assert {name for name, _ in drawn} == {f"kernels_{what}_{dt}" for what in
                                           ("gbs", "per_element") for dt in cfg.dtypes}
    for name, fig in drawn:
        assert problems(fig) == [], name
    md = rep.md.read_text()
    assert "Bandwidth at the largest size, float64" in md and "Fastest implementation" in md
    assert any("of the bandwidth bound" in line for line in rep.summary)
    # 1024 float64 elements: 16 KiB read+written, beyond the 8 KiB of this fake L3: DRAM.
    assert "| relu | 1,024 |" in md and "| DRAM |" in md


def test_commands_that_read_mlp_sweeps_say_what_a_kernel_file_is(tmp_path, capsys):
    out = tmp_path / "k.json"
    kernel_sweep.run_kernel_sweep(config(kernels=("relu",), sizes=[4], dtypes=("float64",),
                                         implementations=("numpy",)), out, progress=False)
    assert main(["compare", str(out), str(out)]) == 2
    assert "kernel sweep" in capsys.readouterr().err
    assert main(["bench", "--table", str(out)]) == 0
    assert "relu at 4 elements (GB/s): numpy" in capsys.readouterr().out
