"""``mlpbench train``: files written, the per-epoch numbers printed, bad input refused."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from mlpbench.commands import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC


def test_train_on_moons_writes_history_params_and_figures(tmp_path, capsys):
    out = tmp_path / "run"
    status = main(["train", "--data", "moons", "--n", "100", "--impl", "numpy", "--hidden", "8",
                   "--epochs", "3", "--batch", "16", "--l1", "1e-4", "--out", str(out)])
    assert status == 0
    printed = capsys.readouterr().out
    epoch_lines = [line for line in printed.splitlines() if line.startswith("epoch")]
    assert len(epoch_lines) == 4  # epochs 0..3
    assert all(line.count("err") == 3 and line.count("loss") == 3 for line in epoch_lines)

    with open(out / "history.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3]
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    doc = json.loads((out / "history.json").read_text())
    assert doc["status"] == "completed" and doc["data"]["name"] == "moons"
    assert doc["config"]["d_h"] == 8 and doc["config"]["batch_size"] == 16
    assert doc["config"]["l1"] == 1e-4
    assert doc["final"]["test_error"] == pytest.approx(float(rows[-1]["test_error"]))
    with np.load(out / "params.npz") as npz:
        assert npz["W1"].shape == (8, 2) and npz["W2"].shape == (2, 8)
        assert npz["mean"].shape == (2,) and npz["scale"].shape == (2,)
    assert _is_png(out / "curves.png") and _is_png(out / "regions.png")
    assert not list(out.glob(".*.tmp"))


def test_higher_dimensional_data_has_no_region_figure(tmp_path):
    out = tmp_path / "blobs"
    assert main(["train", "--data", "blobs", "--n", "80", "--d", "5", "--m", "4", "--impl",
                 "numba", "--epochs", "2", "--batch", "full", "--patience", "1",
                 "--out", str(out)]) == 0
    assert _is_png(out / "curves.png") and not (out / "regions.png").exists()
    doc = json.loads((out / "history.json").read_text())
    assert doc["config"]["batch_size"] is None and doc["config"]["patience"] == 1


@pytest.mark.parametrize("argv, last_row", [
    # Losses grow to ~1e290 (finite, drawn off the axis), then the evaluation finds NaN.
    (["--data", "moons", "--n", "100", "--lr", "1e6"], "evaluated"),
    # A minibatch loss is infinite before the epoch ends.
    (["--data", "blobs", "--n", "60", "--d", "3", "--lr", "1e20", "--batch", "6"], "before"),
])
def test_divergence_writes_the_history_and_exits_non_zero(argv, last_row, tmp_path, capsys):
    out = tmp_path / "boom"
    status = main(["train", *argv, "--impl", "numpy", "--epochs", "30", "--out", str(out)])
    assert status == 1
    err = capsys.readouterr().err
    assert "try a smaller learning rate" in err and str(out) in err
    doc = json.loads((out / "history.json").read_text())
    where = doc["diverged_at"]
    assert doc["status"] == "diverged" and 1 <= where["epoch"] < 30
    epochs = [row["epoch"] for row in doc["rows"]]
    if last_row == "evaluated":  # the epoch whose evaluation was not finite is kept
        assert where["step"] == 0 and epochs[-1] == where["epoch"]
        assert doc["rows"][-1]["train_loss"] is None
        assert max(r["train_loss"] for r in doc["rows"][:-1]) > 1e100
    else:
        assert where["step"] >= 1 and epochs[-1] == where["epoch"] - 1
    assert (out / "history.csv").read_text().count("\n") == len(doc["rows"]) + 1
    assert _is_png(out / "curves.png")
    assert not (out / "params.npz").exists()


def test_sheet_writes_one_figure(tmp_path):
    out = tmp_path / "sheet"
    assert main(["train", "--sheet", "--impl", "numba", "--n", "100", "--batch", "10",
                 "--epochs", "3", "--patience", "1", "--out", str(out)]) == 0
    assert _is_png(out / "sheet.png")
    runs = json.loads((out / "sheet.json").read_text())["runs"]
    assert len(runs) == 18
    assert {(r["d_h"], r["l2"], r["early_stopping"]) for r in runs} == {
        (d_h, l2, early) for d_h in (2, 8, 64) for l2 in (0.0, 1e-3, 1e-2)
        for early in (False, True)}


def test_time_epochs_writes_table_and_figure(tmp_path):
    pytest.importorskip("sklearn")
    out = tmp_path / "times"
    assert main(["train", "--time-epochs", "--hidden", "8", "--budget", "0.02",
                 "--out", str(out)]) == 0
    with open(out / "epoch_times.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    cells = {(r["impl"], int(r["batch"])) for r in rows}
    assert {k for _, k in cells} == {1, 10, 100}
    assert cells >= {(impl, k) for impl in ("loops", "numpy", "numba") for k in (1, 10, 100)}
    loops_k1 = next(r for r in rows if r["impl"] == "loops" and r["batch"] == "1")
    assert loops_k1["extrapolated"] == "True" and "extrapolated" in loops_k1["note"]
    assert all(float(r["seconds"]) > 0 for r in rows)
    assert "| numba | 100 |" in (out / "epoch_times.md").read_text()
    assert _is_png(out / "epoch_times.png")


@pytest.mark.parametrize("argv, message", [
    (["--data", "mnist"], "unknown data set 'mnist'"),
    (["--impl", "fortran"], "unknown implementation 'fortran'"),
    (["--lr", "0"], "--lr must be a finite number > 0"),
    (["--lr", "-0.1"], "--lr must be a finite number > 0"),
    (["--lr", "nan"], "--lr must be a finite number > 0"),
    (["--epochs", "0"], "--epochs must be a positive integer"),
    (["--batch", "0"], "--batch must be a positive integer or 'full'"),
    (["--batch", "many"], "--batch must be a positive integer or 'full'"),
    (["--batch", "10000"], "larger than the training set"),
    (["--hidden", "-3"], "--hidden must be a positive integer"),
    (["--l2", "-1"], "--l2 must be a finite number >= 0"),
    (["--patience", "0"], "--patience must be a positive integer"),
    (["--seed", "-1"], "--seed must be an integer >= 0"),
    (["--data", "moons", "--noise", "1e308"], "noise must be between 0 and 1000"),
    (["--data", "moons", "--noise", "inf"], "noise must be a finite number"),
    (["--data", "moons", "--noise", "-0.1"], "noise must be between 0"),
    (["--data", "moons", "--n", "3"], "--n must be at least 10"),
    (["--data", "moons", "--d", "3"], "--d applies to blobs only"),
    (["--data", "digits", "--n", "100"], "--n does not apply to digits"),
    (["--dtype", "float16"], "--dtype must be float32 or float64"),
    (["--sheet", "--data", "digits"], "--sheet draws decision regions on two moons"),
    (["--time-epochs", "--batch", "4"], "drop --batch"),
    (["--time-epochs", "--budget", "0"], "--budget must be a finite number > 0"),
])
def test_bad_input_is_one_clear_line(argv, message, tmp_path, capsys):
    status = main(["train", "--data", "moons", "--out", str(tmp_path / "x"), *argv]
                  if "--data" not in argv and "--sheet" not in argv
                  and "--time-epochs" not in argv
                  else ["train", "--out", str(tmp_path / "x"), *argv])
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mlpbench train: error: ") and message in err
    assert "\n" not in err
    assert not (tmp_path / "x" / "history.csv").exists()


def _tiny_moons(out, *extra):
    return main(["train", "--data", "moons", "--n", "40", "--impl", "numpy", "--hidden", "3",
                 "--epochs", "1", "--batch", "full", "--no-progress", "--out", str(out), *extra])


def test_a_used_folder_needs_force_which_removes_only_what_train_wrote(tmp_path, capsys):
    out = tmp_path / "run"
    assert _tiny_moons(out) == 0
    manifest = json.loads((out / ".mlpbench-train.json").read_text())
    assert set(manifest["files"]) == {"history.csv", "history.json", "params.npz",
                                      "curves.png", "regions.png"}
    (out / "notes.txt").write_text("mine")
    (out / "keep.png").write_text("mine too")
    capsys.readouterr()

    # Without --force: refused before training, nothing touched.
    before = (out / "history.json").read_bytes()
    assert _tiny_moons(out) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mlpbench train: error: ") and "--force" in err and "\n" not in err
    assert (out / "history.json").read_bytes() == before

    # With --force, into the same folder with 5-D blobs: no regions.png may stay behind.
    status = main(["train", "--data", "blobs", "--n", "40", "--d", "5", "--impl", "numpy",
                   "--hidden", "3", "--epochs", "1", "--batch", "full", "--no-progress",
                   "--out", str(out), "--force"])
    assert status == 0
    assert not (out / "regions.png").exists()
    assert _is_png(out / "curves.png")
    assert json.loads((out / "history.json").read_text())["data"]["name"] == "blobs"
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "keep.png").read_text() == "mine too"
    assert "regions.png" not in json.loads((out / ".mlpbench-train.json").read_text())["files"]


def test_force_without_manifest_removes_only_train_file_names(tmp_path):
    out = tmp_path / "old"
    out.mkdir()
    (out / "regions.png").write_bytes(b"stale")  # from a train of an older mlpbench
    (out / "mine.csv").write_text("x")
    (out / "sheet.png").mkdir()  # a folder with a train file's name is not train's
    status = main(["train", "--data", "blobs", "--n", "40", "--d", "5", "--impl", "numpy",
                   "--hidden", "3", "--epochs", "1", "--batch", "full", "--no-progress",
                   "--out", str(out), "--force"])
    assert status == 0
    assert not (out / "regions.png").exists()
    assert (out / "mine.csv").read_text() == "x" and (out / "sheet.png").is_dir()


def test_manifest_cannot_reach_outside_the_folder(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    (out / ".mlpbench-train.json").write_text(json.dumps(
        {"schema": "mlpbench.train-files", "files": ["../victim.txt", str(victim)]}))
    assert _tiny_moons(out, "--force") == 0
    assert victim.read_text() == "keep"


def test_out_under_a_file_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert _tiny_moons(blocker / "run") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mlpbench train: error: ") and str(blocker) in err
    assert len(err.splitlines()) == 1 and blocker.read_text() == "x"
