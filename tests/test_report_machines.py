"""report.machines: result files of several machines compared (synthetic files, no timing)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from mlpbench.harness.results import load_results
from mlpbench.report import machines

FIXTURES = Path(__file__).parent / "fixtures"


def as_machine(doc: dict, name: str, slow: dict | None = None, hostname: str | None = None):
    """A copy of ``doc`` posing as machine ``name`` (an every-machine file); ``slow``
    multiplies the times of some implementations."""
    doc = copy.deepcopy(doc)
    doc["cluster"] = {"mode": "every-machine", "scheduler": "tcp://127.0.0.1:8786",
                      "host": name, "machines": {name: {}}}
    if hostname:
        doc["machine"]["hostname"] = hostname
    for p in doc["points"]:
        p["host"] = name
        k = (slow or {}).get(p["impl"])
        if k and p["status"] == "ok":
            for f in ("median_s", "q1_s", "q3_s", "iqr_s", "min_s", "max_s", "mean_s"):
                p[f] *= k
    return doc


@pytest.fixture
def n_doc():
    return load_results(FIXTURES / "results_n.json", need_points=True)


def test_labels_and_groups(n_doc):
    a, b = as_machine(n_doc, "alpha"), as_machine(n_doc, "beta")
    assert machines.machine_label(a) == "alpha"
    assert machines.machine_label(n_doc) == n_doc["machine"]["hostname"]
    shard = {**n_doc, "cluster": {"mode": "shard", "machines": {"y": {}, "x": {}}}}
    assert machines.machine_label(shard) == "x+y"
    assert list(machines.by_machine([a, b, a])) == ["alpha", "beta"]
    assert not machines.several_machines([n_doc, n_doc])
    assert machines.compare_machines([n_doc], Path(".")) is None


def test_best_choice_differences_are_found_and_said(n_doc, tmp_path):
    # On beta numba is 20x slower: numpy (or loops) wins where numba won on alpha.
    a, b = as_machine(n_doc, "alpha"), as_machine(n_doc, "beta", slow={"numba": 20.0})
    comp = machines.compare_machines([a, b], tmp_path)
    assert comp is not None and list(comp.machines) == ["alpha", "beta"]
    text = " ".join(comp.summary)
    assert "Machines compared (2): alpha, beta" in text
    assert "The best choice differs between machines" in text
    assert "numba on alpha" in text
    assert "numba over numpy along n (float64): alpha" in text
    for png in comp.figures:
        assert png.is_file() and png.with_suffix(".svg").is_file()
    assert {p.name for p in comp.figures} == {"machines_n.png", "machines_speedup_n.png"}
    titles = [s.title for s in comp.sections]
    assert titles[:2] == ["Machines compared", "Machines compared along n"]
    table = comp.sections[1].tables[0]
    assert table.header[-3:] == ["alpha", "beta", "differs"]
    assert any(row[-1] == "yes" for row in table.rows)


def test_same_best_choice_everywhere(n_doc, tmp_path):
    a = as_machine(n_doc, "alpha")
    b = as_machine(n_doc, "beta", slow={"loops": 1.5, "numpy": 1.5, "numba": 1.5})
    comp = machines.compare_machines([a, b], tmp_path, formats=("png",))
    assert any("is the same on every machine" in s for s in comp.summary)
    assert not any("differs between machines" in s for s in comp.summary)


def test_ties_are_not_called_differences():
    assert machines._tied({"numpy": 1.0, "numba": 1.04, "loops": 3.0}) == ["numpy", "numba"]
    assert machines._tied({"numba": 1.0, "numpy": 1.2}) == ["numba"]


def test_one_host_under_two_names_is_said(n_doc, tmp_path):
    a = as_machine(n_doc, "box-1thread", hostname="box")
    b = as_machine(n_doc, "box-2threads", hostname="box")
    comp = machines.compare_machines([a, b], tmp_path, formats=("png",))
    assert "names of one host (box)" in comp.summary[0]


def test_files_with_cluster_fields_load(n_doc, tmp_path):
    path = tmp_path / "alpha.json"
    path.write_text(json.dumps(as_machine(n_doc, "alpha")))
    assert load_results(path)["cluster"]["host"] == "alpha"
    bad = as_machine(n_doc, "alpha")
    bad["points"][0]["host"] = 7
    path.write_text(json.dumps(bad))
    with pytest.raises(Exception, match="host"):
        load_results(path)


def test_report_command_compares_machines(n_doc, tmp_path, capsys):
    from mlpbench.commands import main

    files = []
    for name, slow in (("alpha", None), ("beta", {"numba": 20.0})):
        path = tmp_path / f"n.{name}.json"
        path.write_text(json.dumps(as_machine(n_doc, name, slow=slow)))
        files.append(str(path))
    out = tmp_path / "rep"
    assert main(["report", *files, "--out", str(out), "--no-numerics"]) == 0
    printed = capsys.readouterr().out
    assert "The best choice differs between machines" in printed
    md = (out / "report.md").read_text()
    assert md.startswith("# mlpbench report: machines alpha, beta")
    for title in ("## Machines compared", "## Machines compared along n",
                  "## numba speed-up over numpy per machine along n"):
        assert title in md
    assert (out / "machines_n.png").is_file() and "machines_n" in (out / "report.html").read_text()
    # --force replaces the machine figures as it does the others
    assert main(["report", *files, "--out", str(out), "--no-numerics", "--force"]) == 0
