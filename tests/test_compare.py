"""mlpbench compare: verdicts that respect the spread, geometric means, exit codes."""

from __future__ import annotations

import copy
import json
import math
import struct
from pathlib import Path

import pytest

from mlpbench.commands import main
from mlpbench.errors import UsageError
from mlpbench.report import compare

BASE_FILE = Path(__file__).parent / "fixtures" / "results_d_h.json"


def timing(median, spread):
    """Timing fields of an ok point with the given median and IQR."""
    return {"median_s": median, "q1_s": median - spread / 2, "q3_s": median + spread / 2,
            "iqr_s": spread, "min_s": median - spread, "max_s": median + spread,
            "mean_s": median}


@pytest.mark.parametrize("new, expected", [
    (timing(1.50, 0.02), compare.SLOWER),      # 50% slower, quartiles apart
    (timing(1.50, 1.20), compare.SAME),        # 50% slower, but within the noise
    (timing(1.03, 0.001), compare.SAME),       # quartiles apart, under the 5% threshold
    (timing(0.50, 0.02), compare.FASTER),
    (timing(0.50, 0.98), compare.SAME),        # twice as fast on the median, huge spread
    (timing(1.00, 0.02), compare.SAME),
])
def test_verdict_rule(new, expected):
    assert compare.verdict(timing(1.0, 0.02), new, 0.05) == expected


def test_threshold_changes_the_verdict():
    base, new = timing(1.0, 0.01), timing(1.08, 0.01)
    assert compare.verdict(base, new, 0.05) == compare.SLOWER
    assert compare.verdict(base, new, 0.10) == compare.SAME


@pytest.fixture
def base_doc():
    return json.loads(BASE_FILE.read_text())


def _ok_points(doc):
    return [p for p in doc["points"] if p["status"] == "ok"]


def crafted_new(base_doc, factors):
    """NEW = BASE with the first ok points' timings scaled by ``factors``
    (the spread keeps its relative size)."""
    new = copy.deepcopy(base_doc)
    for p, f in zip(_ok_points(new), factors, strict=False):
        for k in ("median_s", "q1_s", "q3_s", "iqr_s", "min_s", "max_s", "mean_s"):
            p[k] *= f
    return new


def write(tmp_path, name, doc):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_compare_counts_and_geomean(base_doc):
    new = crafted_new(base_doc, [2.0, 0.5, 1.02])
    cmp = compare.compare(base_doc, new)
    n_ok = len(_ok_points(base_doc))
    assert len(cmp.rows) == n_ok
    assert (cmp.count(compare.SLOWER), cmp.count(compare.FASTER)) == (1, 1)
    assert cmp.count(compare.SAME) == n_ok - 2
    assert compare.geomeans(cmp)["all"] == pytest.approx(1.02 ** (1 / n_ok))
    assert len(cmp.not_ok) == len(base_doc["points"]) - n_ok     # skipped loops points
    assert cmp.any_slower


def test_unmatched_points_are_reported_not_compared(base_doc):
    new = copy.deepcopy(base_doc)
    moved = _ok_points(new)[0]
    moved["n"] += 1
    cmp = compare.compare(base_doc, new)
    assert len(cmp.only_base) == 1 and len(cmp.only_new) == 1
    assert len(cmp.rows) == len(_ok_points(base_doc)) - 1
    for p in new["points"]:
        p["n"] += 1000
    with pytest.raises(UsageError, match="no measured point in common"):
        compare.compare(base_doc, new)


def test_cli_exit_codes(base_doc, tmp_path, capsys):
    base = write(tmp_path, "base.json", base_doc)
    same = write(tmp_path, "same.json", base_doc)
    slower = write(tmp_path, "slower.json", crafted_new(base_doc, [1.0, 1.0, 3.0]))
    faster = write(tmp_path, "faster.json", crafted_new(base_doc, [0.3, 0.9999]))

    assert main(["compare", str(base), str(same)]) == 0
    out = capsys.readouterr().out
    assert "0 slower, 0 faster" in out and "geometric mean NEW/BASE: 1.000" in out

    assert main(["compare", str(base), str(slower)]) == 1
    out = capsys.readouterr().out
    assert "1 slower, 0 faster" in out
    assert sum(line.rstrip().endswith("slower") for line in out.splitlines()) == 1

    assert main(["compare", str(base), str(faster)]) == 0
    assert "0 slower, 1 faster" in capsys.readouterr().out

    # the reverse comparison sees a slowdown
    assert main(["compare", str(faster), str(base)]) == 1
    capsys.readouterr()

    assert main(["compare", str(base), str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlpbench compare: error: ") and "does not exist" in err
    assert main(["compare", str(base), str(same), "--threshold", "-1"]) == 2
    assert "--threshold" in capsys.readouterr().err


def test_cli_writes_figure_and_markdown(base_doc, tmp_path, capsys):
    base = write(tmp_path, "base.json", base_doc)
    new = write(tmp_path, "new.json", crafted_new(base_doc, [2.0, 0.5]))
    out = tmp_path / "cmp"
    assert main(["compare", str(base), str(new), "--out", str(out)]) == 1
    png = out / "compare.png"
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    # one row per point, then one per implementation
    n_rows = len(_ok_points(base_doc)) + len({p["impl"] for p in _ok_points(base_doc)})
    assert struct.unpack(">II", head[16:24]) == compare.figure_size_px(n_rows)
    assert (out / "compare.svg").exists()
    md = (out / "compare.md").read_text()
    assert "](compare.png)" in md and compare.RULE in md
    assert md.count("| slower |") == 1 and md.count("| faster |") == 1
    capsys.readouterr()
    # the folder is now non-empty: refused without --force
    assert main(["compare", str(base), str(new), "--out", str(out)]) == 2


def test_geomean():
    assert compare.geomean([2.0, 0.5]) == pytest.approx(1.0)
    assert compare.geomean([4.0]) == 4.0
    assert math.isclose(compare.geomean([1.0, 8.0]), math.sqrt(8))
