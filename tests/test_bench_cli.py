"""``mlpbench bench``, ``peak`` and ``info`` from the command line: success and bad input.

Every bad input is one line on stderr, exit code 2, and leaves existing files as
they were.
"""

import json

import pytest

from mlpbench.commands import main
from mlpbench.harness import config, schema
from mlpbench.harness.peak import PEAK_SCHEMA, PEAK_SCHEMA_VERSION
from mlpbench.harness.timing import Policy

TINY = ["--impl", "numpy", "--d", "8", "--d-h", "5", "--m", "3", "--quick", "--no-progress"]


@pytest.fixture(autouse=True)
def fast_sampling(monkeypatch):
    """Few, short samples: these tests check the command, not the figures."""
    monkeypatch.setattr(config, "QUICK_POLICY",
                        Policy(min_sample_s=1e-4, target_s=0.005, min_samples=3, max_samples=10))


def bench(*args):
    return main(["bench", *TINY, *args])


def test_bench_writes_a_valid_file_and_prints_tables(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert bench("--sizes", "1,2", "-o", str(out), "--speedup") == 0
    doc = schema.validate(json.loads(out.read_text()))
    assert [(p["n"], p["status"]) for p in doc["points"]] == [(1, "ok"), (2, "ok")]
    assert doc["sweep"]["base"] == {"n": 1024, "d": 8, "d_h": 5, "m": 3}
    text = capsys.readouterr().out
    assert "numpy us" in text and "cold s" in text
    assert main(["bench", "--table", str(out)]) == 0
    assert "numpy us" in capsys.readouterr().out


def test_bench_grid(tmp_path):
    out = tmp_path / "g.json"
    assert main(["bench", "--vary", "grid", "--n", "1,2", "--d", "4", "--d-h", "3,5", "--m", "2",
                 "--impl", "numpy", "--quick", "--no-progress", "-o", str(out)]) == 0
    doc = schema.validate(json.loads(out.read_text()))
    assert {(p["n"], p["d_h"]) for p in doc["points"]} == {(1, 3), (1, 5), (2, 3), (2, 5)}


def test_bench_copies_the_peak_file(tmp_path):
    peak = {"gemm_gflops": {"float64": {"1": 18.4}}, "triad_gbs": 17.0, "gemm_size": 64,
            "triad_bytes": 1000}
    peak_file = tmp_path / "peak.json"
    peak_file.write_text(json.dumps({"schema": PEAK_SCHEMA, "schema_version": PEAK_SCHEMA_VERSION,
                                     "peak": peak}))
    out = tmp_path / "r.json"
    assert bench("--sizes", "1", "-o", str(out), "--peak", str(peak_file)) == 0
    assert json.loads(out.read_text())["peak"] == peak


def one_line_error(capsys, *words):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("mlpbench bench: error:")
    for w in words:
        assert w in err
    return err


@pytest.mark.parametrize("args, words", [
    (["--impl", "numpy,cobol"], ["unknown implementation 'cobol'"]),
    (["--vary", "k"], ["unknown axis 'k'"]),
    (["--sizes", ""], ["empty"]),
    (["--sizes", "4,0"], ["positive"]),
    (["--sizes", "-3"], ["positive"]),
    (["--sizes", "1,x"], ["integers"]),
    (["--n", "5"], ["--vary n sweeps"]),
    (["--dtype", "float16"], ["unknown dtype"]),
    (["--threads", "0"], ["threads"]),
    (["--threads", "many"], ["number or 'all'"]),
    (["--peak", "missing-peak.json"], ["does not exist"]),
])
def test_bad_options(tmp_path, capsys, args, words):
    out = tmp_path / "r.json"
    assert bench(*args, "-o", str(out)) == 2
    one_line_error(capsys, *words)
    assert not out.exists()


def test_unwritable_output(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert bench("--sizes", "1", "-o", str(blocker / "r.json")) == 2
    one_line_error(capsys, str(blocker))
    assert blocker.read_text() == "x"


def test_existing_file_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "r.json"
    out.write_text("{}")
    assert bench("--sizes", "1", "-o", str(out)) == 2
    one_line_error(capsys, "already exists", "--force")
    assert out.read_text() == "{}"


def test_resume_of_another_sweep_or_schema_version(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert bench("--sizes", "1", "-o", str(out)) == 0
    capsys.readouterr()
    before = out.read_bytes()
    assert bench("--sizes", "1,2", "-o", str(out), "--resume") == 2
    one_line_error(capsys, "another sweep")
    assert out.read_bytes() == before

    doc = json.loads(before)
    doc["schema_version"] = schema.SCHEMA_VERSION + 1
    out.write_text(json.dumps(doc))
    before = out.read_bytes()
    assert bench("--sizes", "1", "-o", str(out), "--resume") == 2
    one_line_error(capsys, "schema version")
    assert out.read_bytes() == before

    out.write_text("not json")
    assert bench("--sizes", "1", "-o", str(out), "--resume") == 2
    one_line_error(capsys, "not valid JSON")
    assert out.read_text() == "not json"


def test_resume_of_a_finished_sweep_redoes_nothing(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert bench("--sizes", "1", "-o", str(out)) == 0
    first = json.loads(out.read_text())["points"]
    assert bench("--sizes", "1", "-o", str(out), "--resume") == 0
    assert json.loads(out.read_text())["points"] == first


def test_info(capsys):
    assert main(["info"]) == 0
    text = capsys.readouterr().out
    assert "numba" in text and "layer" in text and "BLAS" in text
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["threads"]["numba_threads"] >= 1
    assert info["machine"]["cores"] >= 1


def test_peak_quick(tmp_path, capsys):
    out = tmp_path / "peak.json"
    assert main(["peak", "--quick", "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["schema"] == PEAK_SCHEMA
    peak = doc["peak"]
    for dtype in ("float32", "float64"):
        assert peak["gemm_gflops"][dtype]["1"] > 0
    assert peak["triad_gbs"] > 0
    assert "GB/s" in capsys.readouterr().out
    assert main(["peak", "--quick", "-o", str(out)]) == 2  # exists, no --force
    assert json.loads(out.read_text()) == doc
