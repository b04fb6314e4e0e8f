"""mlpbench run: the whole pipeline on tiny sizes (no peak, no numerics), and its errors."""

from __future__ import annotations

import datetime
import json

from mlpbench.commands import main
from mlpbench.harness import schema
from mlpbench.report import run


def test_tiny_run_writes_results_and_report(tmp_path, capsys):
    out = tmp_path / "rep"
    status = main(["run", "--tiny", "--no-numerics", "--no-progress", "--impl", "numpy,numba",
                   "--sizes-n", "1,4", "--sizes-d", "4,8", "--sizes-d_h", "4,8",
                   "--out", str(out)])
    assert status == 0
    captured = capsys.readouterr()
    assert f"report: {out / 'report.html'}" in captured.out
    assert "[1/8] sweeping n over 1, 4 (numpy, numba)" in captured.err
    assert "[4/8] timing forward and backward at the base point (n=16" in captured.err
    assert "[5/8] timing the step with tanh hidden units at the base point" in captured.err
    assert "[6/8] sweeping the grids n 1/4/16 × d_h 4/8, n 1/4/16 × d 4/8/12" in captured.err
    assert "[7/8] sweeping part 1's kernels" in captured.err
    assert "[8/8] writing the report" in captured.err
    act = schema.validate(json.loads((out / "results_activation.json").read_text()))
    assert {(p["activation"], p["phase"], p["n"]) for p in act["points"]} == {("tanh", "step", 16)}
    kernels = schema.validate(json.loads((out / "results_kernels.json").read_text()))
    assert kernels["kind"] == "kernels" and kernels["complete"]
    for axis, sizes in (("n", [1, 4]), ("d", [4, 8]), ("d_h", [4, 8])):
        doc = schema.validate(json.loads((out / f"results_{axis}.json").read_text()))
        assert doc["complete"] is True
        assert doc["sweep"]["axis"] == axis
        step = {p[axis] for p in doc["points"] if p["phase"] == "step"}
        assert step == set(sizes)
        assert {p["impl"] for p in doc["points"]} == {"numpy", "numba"}
        assert (out / f"scaling_{axis}-float64.png").exists()
        assert (out / f"speedup_{axis}-float64.svg").exists()
    phases = schema.validate(json.loads((out / "results_phases.json").read_text()))
    assert {(p["phase"], p["n"], p["d"], p["d_h"]) for p in phases["points"]} == {
        ("forward", 16, 12, 8), ("backward", 16, 12, 8)}
    assert (out / "phases-float64.png").exists()
    assert (out / "winner_n-d_h-float64.svg").exists()
    md = (out / "report.md").read_text()
    assert "Figure omitted: skipped (--no-numerics)" in md
    assert "Hidden activations against ReLU" in md and "Kernels (spec part 1)" in md
    assert "Figure omitted: the result files carry no peak measurement" in md
    assert "<svg" in (out / "report.html").read_text()       # figures inlined


def test_run_refuses_a_non_empty_folder_before_measuring(tmp_path, capsys):
    (tmp_path / "old.txt").write_text("x")
    assert main(["run", "--tiny", "--out", str(tmp_path)]) == 2
    assert "not empty; pass --force" in capsys.readouterr().err
    assert not (tmp_path / "results_n.json").exists()


def test_run_rejects_bad_options(tmp_path, capsys):
    assert main(["run", "--base", "1,2,3", "--out", str(tmp_path / "a")]) == 2
    assert "--base takes four sizes" in capsys.readouterr().err
    assert main(["run", "--budget", "0", "--out", str(tmp_path / "b")]) == 2
    assert "--budget must be a positive number" in capsys.readouterr().err
    assert main(["run", "--dtype", "float16", "--out", str(tmp_path / "c")]) == 2
    assert "unknown dtype" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_default_out_is_dated_and_safe():
    when = datetime.datetime(2026, 11, 29, 12, 0)
    assert str(run.default_out(when, "my host/01")) == "reports/2026-11-29-my-host-01"
