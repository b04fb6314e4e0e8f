"""A user's own implementation (docs/plugins.md): the three ways in, and what it gets
(gate, check, sweeps, reports, train, the pytest suite); wrong and broken plugins, each
with its one-line message; the template of ``mlpbench new-impl``.

Every plugin here is NumPy (the example of docs/plugins.md, extracted from the page,
and variations of it) written into tmp_path; sizes are tiny and numba is never asked
for, so nothing compiles.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mlpbench import mlp
from mlpbench.commands import common, main
from mlpbench.errors import InputError, InputTypeError, PluginError
from mlpbench.harness.sweep import SweepConfig, run_sweep
from mlpbench.mlp import plugins, registry
from mlpbench.mlp.plugins import PluginContractError, PluginResultError

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "plugins.md"

#: check: one small problem, both dtypes. bench: two tiny points, a short policy.
CHECK = ["--shape", "3", "2", "4", "3", "--problems", "1"]
BENCH = ["--quick", "--sizes", "1,3", "--d", "4", "--d-h", "3", "--m", "3", "--budget", "0.5",
         "--no-progress"]


def example_source() -> str:
    """The complete example of docs/plugins.md, as a user would copy it."""
    text = DOC.read_text(encoding="utf-8")
    found = re.search(r'<a id="example"></a>.*?```python\n(.*?)```', text, re.S)
    assert found, "docs/plugins.md lost its complete example"
    return found.group(1)


GOOD = example_source()


def variant(extra: str) -> str:
    """The example with ``extra`` appended (which usually redefines a function)."""
    return GOOD + "\n\n" + textwrap.dedent(extra)


WRONG_W1 = variant("""
    _right = loss_and_grad
    _right_backward = backward


    def backward(p, X, y, f, l1=0.0, l2=0.0):
        g = _right_backward(p, X, y, f, l1, l2)
        return g._replace(W1=g.W1 * 1.01)      # the gradient of W1 off by 1%


    def loss_and_grad(p, X, y, l1=0.0, l2=0.0):
        f = forward(p, X)
        return _risk(p, f, y, l1, l2), backward(p, X, y, f, l1, l2)
""")


def _redefine_step(body: str) -> str:
    """The example with loss_and_grad replaced: ``body`` runs after the right result
    ``loss, g`` is computed, and returns."""
    return GOOD + "\n\n_right = loss_and_grad\n\n\ndef loss_and_grad(p, X, y, l1=0.0, l2=0.0):\n" \
        + "    loss, g = _right(p, X, y, l1, l2)\n" + textwrap.indent(body, "    ")


#: A plugin whose results are wrong (exit 1), and what the line says.
WRONG_RESULTS = {
    "raises": (_redefine_step("raise RuntimeError('boom: not finished')\n"),
               "loss_and_grad raised RuntimeError: boom: not finished"),
    "shape": (_redefine_step("return loss, g._replace(W1=np.vstack([g.W1, g.W1]))\n"),
              "loss_and_grad returned gW1 of shape"),
    "dtype": (_redefine_step("return loss, g._replace(b1=g.b1.astype(np.float64))\n"),
              "loss_and_grad returned gb1 of dtype float64 for float32 inputs"),
    "nan": (_redefine_step("return float('nan'), g\n"),
            "loss_and_grad returned the loss nan"),
    "not-float": (_redefine_step("return np.array([loss]), g\n"),
                  "loss_and_grad returned a loss of type an array of shape (1,)"),
    "not-params": (_redefine_step("return loss, list(g)\n"),
                   "loss_and_grad returned list; expected an mlp.Params"),
    "mutates": (_redefine_step("X[0, 0] += 1.0\nreturn loss, g\n"),
                "loss_and_grad changed its input(s) X"),
}

#: A plugin that cannot be loaded (exit 2): source (None: no file), target suffix, line.
UNLOADABLE = {
    "syntax": ("def forward(p, X)\n    return p\n", "", "importing it raised SyntaxError"),
    "import": ("import not_a_module_of_anyone\n" + GOOD, "",
               "importing it raised ModuleNotFoundError: No module named "
               "'not_a_module_of_anyone'"),
    "raises-on-import": ("raise RuntimeError('half-written')\n", "",
                         "importing it raised RuntimeError: half-written"),
    "no-file": (None, "", "no such file"),
    "no-attr": (GOOD, ":MLP", "it has no attribute 'MLP'"),
    "no-function": (GOOD + "\ndel loss_and_grad\n", "",
                    "lacks the raw function(s) ['loss_and_grad']"),
}


@pytest.fixture
def isolated(monkeypatch):
    """A registry (and $MLPBENCH_IMPLEMENTATIONS) whose changes are undone after the test."""
    for attr in ("_infos", "_loaded", "_explicit", "_discovery_problems"):
        monkeypatch.setattr(registry, attr, dict(getattr(registry, attr)))
    for attr in ("IMPLEMENTATIONS", "CORE_IMPLEMENTATIONS", "_discovered"):
        monkeypatch.setattr(registry, attr, getattr(registry, attr))
    monkeypatch.setenv(plugins.ENV_VAR, "")
    return registry


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    return path


def bench(tmp_path, impls: str, *extra) -> tuple[int, dict | None]:
    out = tmp_path / f"bench-{len(list(tmp_path.iterdir()))}.json"
    status = main(["bench", "--impl", impls, *BENCH, *extra, "-o", str(out)])
    return status, (json.loads(out.read_text()) if out.exists() else None)


def points(doc: dict, impl: str) -> list[dict]:
    return [p for p in doc["points"] if p["impl"] == impl]


def report_mentions(tmp_path, result: dict, name: str) -> str:
    """Build a report from one result document; return report.md (it must name ``name``)."""
    path = tmp_path / "for-report.json"
    path.write_text(json.dumps(result))
    out = tmp_path / "report"
    assert main(["report", str(path), "--out", str(out), "--no-numerics", "--force"]) == 0
    text = (out / "report.md").read_text()
    assert name in text
    return text


# --- the three ways in: each is gated, timed, checked and reported ----------------------


def test_python_register_a_module_object_file_and_class(isolated, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    write(tmp_path, "mine_mod", GOOD)
    import mine_mod

    info = mlp.register("mod", mine_mod)
    # the facts the module declares, and the untrusted default
    assert (info.colour, info.label, info.trusted) == ("#117733", "my NumPy version", False)
    assert info.module == "mine_mod" and "mod" in mlp.IMPLEMENTATIONS
    # a file target (relative to the current folder), loaded on first use
    monkeypatch.chdir(tmp_path)
    info = mlp.register("file", "mine_mod.py")
    assert info.target == str(tmp_path / "mine_mod.py") and info.label == "file"
    assert mlp.get("file") and registry.info("file").label == "my NumPy version"
    # a class inside a package module, with facts as a dict; no backward: derived
    pkg = tmp_path / "userpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "impl.py").write_text(GOOD + textwrap.dedent("""

        class MLP:
            mlpbench_facts = {"label": "a class", "jit": False}

            def forward(self, p, X):
                return forward(p, X)

            def loss(self, p, X, y, l1=0.0, l2=0.0):
                return loss(p, X, y, l1, l2)

            def loss_and_grad(self, p, X, y, l1=0.0, l2=0.0):
                return loss_and_grad(p, X, y, l1, l2)
    """))
    mlp.register("cls", "userpkg.impl:MLP", colour="#112233")
    impl = mlp.get("cls")
    assert registry.info("cls").label == "a class" and registry.info("cls").colour == "#112233"
    assert impl.raw.derived_backward
    p, X, y = mlp.make_problem(5, 3, 4, 3, seed=1)
    want = mlp.get("numpy").loss_and_grad(p, X, y, 1e-3, 0.0)[1]
    for a, b in zip(impl.backward(p, X, y, impl.forward(p, X), 1e-3, 0.0), want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    # the boundary is the registry's: bad inputs raise the documented errors
    with pytest.raises(InputTypeError, match="X must be a NumPy array"):
        impl.forward(p, X.tolist())
    with pytest.raises(InputError, match="l1 must be"):
        impl.loss(p, X, y, l1=-1.0)
    # gated and timed by a sweep run from Python
    cfg = SweepConfig(implementations=("numpy", "mod", "cls"), sizes=[1, 2],
                      base={"n": 1, "d": 3, "d_h": 4, "m": 3}, quick=True, budget_s=0.5,
                      phases=("step", "backward"))
    doc = run_sweep(cfg, tmp_path / "py.json", progress=False)
    assert {p["status"] for p in doc["points"]} == {"ok"}
    assert all(p["cold_s"] > 0 for p in doc["points"])
    # checked
    assert main(["check", "--impl", "numpy,mod,cls", *CHECK]) == 0


def test_command_line_way_in_is_gated_timed_checked_reported_and_trained(
        isolated, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "mine", GOOD)
    assert main(["check", "--impl", "numpy,mine=./mine.py", *CHECK]) == 0
    table = capsys.readouterr().out
    rows = [line.split() for line in table.splitlines() if line.startswith("mine ")]
    assert [r[1] for r in rows] == ["float32", "float64"] and all("ok" in r for r in rows)
    # mixed with built-in names; every point gated (cold call apart) and timed
    status, doc = bench(tmp_path, "numpy,mine=mine.py", "--phase", "step,backward")
    assert status == 0
    mine = points(doc, "mine")
    assert len(mine) == 4 and all(p["status"] == "ok" and p["cold_s"] for p in mine)
    assert doc["sweep"]["implementations"] == ["numpy", "mine"]
    # the command exported it for its child processes
    assert os.environ[plugins.ENV_VAR] == f"mine={(tmp_path / 'mine.py').resolve()}"
    report_mentions(tmp_path, doc, "mine")
    # train takes one
    out = tmp_path / "train"
    assert main(["train", "--impl", "mine=mine.py", "--data", "blobs", "--n", "60",
                 "--epochs", "2", "--hidden", "4", "--out", str(out), "--no-progress"]) == 0
    assert (out / "history.csv").is_file()
    # a built-in name cannot be taken
    capsys.readouterr()
    assert main(["check", "--impl", "numpy=mine.py", *CHECK]) == 2
    assert "'numpy' is one of mlpbench's implementations" in capsys.readouterr().err


def _entry_point_package(folder: Path) -> Path:
    """epkg with an implementation class, and the dist-info that declares it."""
    (folder / "epkg").mkdir(parents=True)
    (folder / "epkg" / "__init__.py").write_text("")
    (folder / "epkg" / "impl.py").write_text(GOOD + textwrap.dedent("""

        class MLP:
            MLPBENCH_LABEL = "from an entry point"
            forward = staticmethod(forward)
            loss = staticmethod(loss)
            loss_and_grad = staticmethod(loss_and_grad)
            backward = staticmethod(backward)
    """))
    info = folder / "epkg-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: epkg\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[mlpbench.implementations]\nepmine = epkg.impl:MLP\n")
    return folder


def test_entry_point_way_in(isolated, tmp_path, monkeypatch, capsys):
    site = _entry_point_package(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(registry, "_discovered", False)
    assert "epmine" in mlp.IMPLEMENTATIONS  # found on first use of the names...
    assert "epkg.impl" not in sys.modules  # ...and not imported until used
    assert "epmine" in common.implementations(["all"])
    info = registry.info("epmine")
    assert info.target == "epkg.impl:MLP" and not info.trusted
    assert main(["check", "--impl", "numpy,epmine", *CHECK]) == 0
    assert registry.info("epmine").label == "from an entry point"
    status, doc = bench(tmp_path, "numpy,epmine")
    assert status == 0 and {p["status"] for p in points(doc, "epmine")} == {"ok"}
    report_mentions(tmp_path, doc, "epmine")
    # a fresh process finds it too (as `pip install` would make it)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT / "src")])}
    env.pop(plugins.ENV_VAR, None)
    proc = subprocess.run([sys.executable, "-m", "mlpbench", "info"], capture_output=True,
                          text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0 and "epmine" in proc.stdout, proc.stderr


def test_environment_variable_registers_in_a_child_process(tmp_path):
    path = write(tmp_path, "mine", GOOD)
    env = {**os.environ, plugins.ENV_VAR: f"kid={path}"}
    code = ("from mlpbench import mlp; import numpy as np;"
            "p, X, y = mlp.make_problem(2, 2, 2, 2);"
            "print('kid' in mlp.IMPLEMENTATIONS, mlp.get('kid').loss(p, X, y) > 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert proc.stdout.split() == ["True", "True"], proc.stderr


# --- a deliberately wrong plugin: check fails (exit 1), the gate refuses it ------------


def test_gradient_of_w1_off_by_one_percent_fails_check_and_the_gate(isolated, tmp_path,
                                                                    capsys):
    path = write(tmp_path, "wrong", WRONG_W1)
    assert main(["check", "--impl", f"numpy,wrong={path}", *CHECK]) == 1
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("wrong ")]
    assert len(rows) == 2 and all("FAIL" in r and ".gW1" in r for r in rows)
    assert re.search(r"wrong/float64: \S+\.gW1 disagrees with numpy: max relative error "
                     r"9\.\d+e-03 > 1\.0e-12", out), out
    assert "gW1 disagrees with finite differences" in out
    assert "FAILED: wrong/float32, wrong/float64" in out
    status, doc = bench(tmp_path, f"numpy,wrong={path}")
    assert status == 1
    assert all(p["status"] == "ok" for p in points(doc, "numpy"))
    refused = points(doc, "wrong")
    assert refused and all(p["status"] == "failed" and p["median_s"] is None
                           and "disagrees with numpy" in p["reason"] for p in refused)


# --- bad plugins: one line each, naming the implementation and the fault -------------


@pytest.mark.parametrize("case", list(WRONG_RESULTS))
def test_a_wrong_result_fails_check_and_is_refused_by_the_gate(isolated, tmp_path, capsys,
                                                               case):
    source, message = WRONG_RESULTS[case]
    path = write(tmp_path, "bad", source)
    assert main(["check", "--impl", f"numpy,bad={path}", *CHECK]) == 1
    out = capsys.readouterr().out
    faults = [line.strip() for line in out.splitlines() if line.strip().startswith("bad/")]
    assert faults and message in faults[0], out
    assert not any(line.startswith("numpy") and "FAIL" in line for line in out.splitlines())
    # the sweep goes on without it: numpy timed, bad failed with the same reason
    dtype = "float32" if case == "dtype" else "float64"
    status, doc = bench(tmp_path, f"numpy,bad={path}", "--dtype", dtype)
    assert status == 1
    assert {p["status"] for p in points(doc, "numpy")} == {"ok"}
    for point in points(doc, "bad"):
        assert point["status"] == "failed" and message in point["reason"], point["reason"]
    assert message in capsys.readouterr().out


@pytest.mark.parametrize("case", list(UNLOADABLE))
def test_a_target_that_cannot_be_loaded_stops_the_command(isolated, tmp_path, capsys, case):
    source, suffix, message = UNLOADABLE[case]
    path = tmp_path / "bad.py"
    if source is not None:
        path.write_text(source)
    for command in (["check", *CHECK], ["bench", *BENCH, "-o", str(tmp_path / "b.json")]):
        assert main([*command, "--impl", f"numpy,bad={path}{suffix}"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "'bad'" in err[0] and message in err[0], err
    assert not (tmp_path / "b.json").exists()
    # the Python API raises the same, as PluginError
    assert "bad" not in mlp.IMPLEMENTATIONS  # a failed --impl leaves nothing registered
    mlp.register("bad", f"{path}{suffix}")
    with pytest.raises(PluginError, match=re.escape(message)):
        mlp.get("bad")


def test_the_wrapper_checks_every_result_of_an_untrusted_plugin(isolated, tmp_path):
    p, X, y = mlp.make_problem(4, 2, 4, 3, seed=0, dtype=np.float32)
    for case in ("shape", "dtype", "nan", "not-float", "not-params"):
        source, message = WRONG_RESULTS[case]
        mlp.register(case, str(write(tmp_path, case, source)))
        with pytest.raises(PluginResultError, match=re.escape(message)) as exc:
            mlp.get(case).loss_and_grad(p, X, y)
        assert str(exc.value).startswith(f"implementation {case!r}: loss_and_grad")
        assert exc.value.exit_status == 1
    # a trusted plugin skips them (MLPBENCH_TRUSTED)
    source, _ = WRONG_RESULTS["shape"]
    mlp.register("fast", str(write(tmp_path, "fast", source + "\nMLPBENCH_TRUSTED = True\n")))
    assert mlp.get("fast").loss_and_grad(p, X, y)[1].W1.shape == (8, 2)
    # and a missing function is a TypeError as well as a PluginError
    with pytest.raises(PluginContractError, match="lacks the raw function") as exc:
        mlp.register("empty", object)
        mlp.get("empty")
    assert isinstance(exc.value, TypeError)


def test_a_bad_target_or_name_is_one_line(isolated, tmp_path, capsys):
    for item, message in (("=x.py", "an implementation name is"),
                          ("all=x.py", "an implementation name is"),
                          ("mine=", "give the target after '='"),
                          ("mine=1bad.module", "neither a module name"),
                          ("mine=x.py:1bad", "after ':' comes an attribute name")):
        assert main(["check", "--impl", item]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (item, err)


# --- new-impl: a starting point that says what to write next -----------------------


def test_new_impl_writes_a_template_that_check_says_what_to_write(isolated, tmp_path,
                                                                  monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["new-impl", "mine.py"]) == 0
    printed = capsys.readouterr().out
    assert "mlpbench check --impl mine=mine.py" in printed
    text = (tmp_path / "mine.py").read_text()
    for anchor in ("math.md#2-1", "math.md#2-4", "math.md#2-7", "math.md#2-13",
                   "math.md#penalty-gradient"):
        assert anchor in text
    assert text.count("raise NotImplementedError") == 3
    # refuses to overwrite without --force
    assert main(["new-impl", "mine.py"]) == 2
    assert "already exists; use --force" in capsys.readouterr().err
    assert main(["new-impl", "mine.py", "--force"]) == 0
    assert main(["new-impl", "mine.txt"]) == 2
    capsys.readouterr()
    # check: exit 1, and the first function to write, with its spec items
    assert main(["check", "--impl", "mine=mine.py", *CHECK]) == 1
    out = capsys.readouterr().out
    assert ("mine/float32,float64: forward raised NotImplementedError: write forward first: "
            "2.#1-3 of docs/math.md#2-1") in out
    # once forward is written, it names loss next
    body = GOOD.split("def _risk")[0].split("from mlpbench.mlp import Forward, Params")[1]
    (tmp_path / "mine.py").write_text(text.replace(
        "def forward(p, X):", "def _todo_forward(p, X):") + body)
    assert main(["check", "--impl", "mine=mine.py", *CHECK]) == 1
    assert "loss raised NotImplementedError: write loss next: 2.#4-5" in capsys.readouterr().out


# --- the pytest suite, against the user's file ----------------------------------------


def _pytest(cwd: Path, *args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--pyargs", "mlpbench.testing", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300, env=env, check=False)


def test_the_pytest_suite_runs_against_a_plugin(tmp_path):
    write(tmp_path, "mine", GOOD)
    write(tmp_path, "wrong", WRONG_W1)
    good = _pytest(tmp_path, "-p", "mlpbench.testing", "--impl", "mine=./mine.py")
    assert good.returncode == 0, good.stdout[-3000:]
    assert re.search(r"\d+ passed", good.stdout) and "failed" not in good.stdout
    bad = _pytest(tmp_path, "-p", "mlpbench.testing", "--impl", "wrong=wrong.py")
    assert bad.returncode == 1
    assert "test_agrees_with_numpy" in bad.stdout and "gW1" in bad.stdout
    assert "test_gradient_matches_finite_differences" in bad.stdout
    broken = _pytest(tmp_path, "-p", "mlpbench.testing", "--impl", "nope=missing.py")
    assert broken.returncode == 4 and "no such file" in broken.stderr
    # where mlpbench is installed with its pytest11 entry point, -p is not needed (and
    # giving it anyway does not load the plugin twice)
    dist = tmp_path / "site" / "mlpbench_pytest-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mlpbench-pytest\n"
                                   "Version: 0.1\n")
    (dist / "entry_points.txt").write_text("[pytest11]\nmlpbench.testing = mlpbench.testing\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"),
                                                        str(ROOT / "src")])}
    for extra in ([], ["-p", "mlpbench.testing"]):
        short = _pytest(tmp_path, *extra, "--impl", "mine=mine.py", "-k", "agrees", env=env)
        assert short.returncode == 0, short.stdout[-2000:] + short.stderr[-2000:]


def test_the_project_suite_does_not_collect_the_user_suite():
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                           "-p", "no:cacheprovider", "tests/test_registry.py"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0 and "mlpbench/testing" not in proc.stdout
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["tool"]["pytest"]["ini_options"]["testpaths"] == ["tests", "bench"]


def test_the_docs_example_is_the_one_checked():
    # the page's code is what the tests above run; make sure it is complete
    assert "def forward(p, X):" in GOOD and "def loss_and_grad(" in GOOD
    text = DOC.read_text()
    for line in ("mlpbench new-impl mine.py", "mlpbench check --impl mine=mine.py",
                 "pytest -p mlpbench.testing --pyargs mlpbench.testing --impl mine=./mine.py"):
        assert line in text
