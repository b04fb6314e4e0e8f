"""Faults and bad input (issue 16): every bad file, path or size is one clear line.

Through the library (the :mod:`mlpbench.errors` class raised, its message) and
through the command line (``python -m mlpbench``: exit 2, one line on stderr, no
traceback), and each time: no earlier good file lost, no special file replaced, no
temporary or lock file left behind. Device nodes and FIFOs are made in a temporary
folder, never the machine's own. Sweeps are tiny and numpy-only (no numba compile).
"""

from __future__ import annotations

import copy
import errno
import json
import math
import os
import signal
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mlpbench import files
from mlpbench.atomic import write_bytes, write_text
from mlpbench.errors import FileError, InputError, ResultFileError, UsageError
from mlpbench.harness import config as sweep_config
from mlpbench.harness import memory, results, schema, sweep
from mlpbench.harness.peak import PEAK_SCHEMA, PEAK_SCHEMA_VERSION, load_peak
from mlpbench.harness.sweep import SweepConfig, run_sweep
from mlpbench.harness.timing import Policy

FIXTURE = Path(__file__).parent / "fixtures" / "results_d_h.json"
BASE = {"n": 4, "d": 8, "d_h": 5, "m": 3}
TINY = ["--impl", "numpy", "--d", "8", "--d-h", "5", "--m", "3", "--quick", "--no-progress",
        "--budget", "0.02"]
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture(autouse=True)
def fast_sampling(monkeypatch):
    monkeypatch.setattr(sweep_config, "QUICK_POLICY",
                        Policy(min_sample_s=1e-4, target_s=0.005, min_samples=3, max_samples=10))


def config(**kw):
    args = dict(axis="n", sizes=[1, 2], base=BASE, implementations=("numpy",), budget_s=1.0,
                quick=True)
    args.update(kw)
    return SweepConfig(**args)


def chardev(path: Path) -> Path:
    """A copy of /dev/null's device node (1, 3) at ``path``; skips the test unless root."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, AttributeError, OSError) as exc:
        pytest.skip(f"cannot make a device node here: {exc}")
    return path


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    """Names in ``folder`` other than ``keep``: temporary files, lock files."""
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def is_chardev(path: Path) -> bool:
    st = os.lstat(path)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)


def mlpbench(*args, timeout=60):
    """``python -m mlpbench ARGS``: (exit status, stdout, stderr)."""
    r = subprocess.run([sys.executable, "-m", "mlpbench", *map(str, args)],
                       capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout, r.stderr


def assert_one_line_error(rc, err, *words, code=2):
    assert rc == code, err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert ": error: " in lines[0], err
    for w in words:
        assert w in lines[0], err
    return lines[0]


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> dict:
    """A real result file from a tiny sweep (written once for the module)."""
    path = tmp_path_factory.mktemp("good") / "good.json"
    return run_sweep(config(budget_s=0.02), path, progress=False)


def write_doc(path: Path, doc) -> Path:
    path.write_text(json.dumps(doc))
    return path


# --- 1. special files are never replaced -----------------------------------------------------


@pytest.mark.parametrize("kind", ["chardev", "fifo", "folder", "link-to-chardev"])
def test_atomic_write_refuses_what_is_not_a_regular_file(tmp_path, kind):
    target = tmp_path / "out"
    if kind == "chardev":
        chardev(target)
    elif kind == "fifo":
        fifo(target)
    elif kind == "folder":
        target.mkdir()
    else:
        chardev(tmp_path / "node")
        target.symlink_to(tmp_path / "node")
    before = os.lstat(target)
    with pytest.raises(FileError, match="not a regular file") as info:
        write_text(target, "{}")
    assert str(target) in str(info.value)
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino, after.st_rdev) == (before.st_mode, before.st_ino,
                                                             before.st_rdev)
    assert leftovers(tmp_path, {"out", "node"}) == []
    with pytest.raises(FileError):
        files.check_writable(target, force=True)


def test_atomic_write_through_a_link_keeps_the_link(tmp_path):
    (tmp_path / "real.json").write_text("old")
    (tmp_path / "link.json").symlink_to("real.json")
    write_text(tmp_path / "link.json", "new")
    assert (tmp_path / "link.json").is_symlink()
    assert (tmp_path / "real.json").read_text() == "new"


# --- 2. a failed write (disk full) keeps the previous file, leaves no temporary file --------


def test_disk_full_is_a_file_error_and_keeps_the_old_file(tmp_path, monkeypatch):
    out = tmp_path / "r.json"
    out.write_text("precious")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(FileError) as info:
        write_bytes(out, b"x" * 100)
    message = str(info.value)
    assert str(out) in message and "No space left on device" in message
    assert "\n" not in message
    assert out.read_text() == "precious"
    assert leftovers(tmp_path, {"r.json"}) == []


#: ``python -m mlpbench ARGS`` with files limited to 2 KiB (as ``ulimit -f 2``): a write
#: past it fails with EFBIG, as on a full disk (SIGXFSZ ignored, as Python does).
LIMITED = """
import resource, runpy, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))
sys.argv = ["mlpbench", *sys.argv[1:]]
runpy.run_module("mlpbench", run_name="__main__", alter_sys=True)
"""


def test_cli_file_too_large_keeps_the_old_file(tmp_path, good):
    out = files.write_json(tmp_path / "r.json", good)
    before = out.read_bytes()
    assert len(before) > 2048  # the new one would be too
    r = subprocess.run([sys.executable, "-c", LIMITED, "bench", *TINY, "--sizes", "1,2",
                        "-o", str(out), "--force"], capture_output=True, text=True, timeout=60)
    assert_one_line_error(r.returncode, r.stderr, str(out), "File too large")
    assert out.read_bytes() == before
    assert leftovers(tmp_path, {"r.json"}) == []


# --- 3. result files that parse but lie -------------------------------------------------------


def _set(path, value):
    def change(doc):
        *head, last = path
        target = doc
        for k in head:
            target = target[k]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
    return change


LIES = [
    (_set(["points", 0, "n"], "big"), "n must be a positive integer"),
    (_set(["points", 0, "n"], -5), "n must be a positive integer"),
    (_set(["points", 0, "d_h"], 10**23), "at most"),
    (_set(["points", 0, "n"], True), "n must be a positive integer"),
    (_set(["sweep"], None), "sweep must be an object"),
    (_set(["sweep", "axis"], "k"), "axis must be one of"),
    (_set(["sweep", "sizes", "n"], []), "non-empty list"),
    (_set(["sweep", "base", "m"], KeyError), "base.m"),
    (_set(["points", 0, "median_s"], float("nan")), "median_s"),
    (_set(["points", 0, "q1_s"], float("inf")), "q1_s"),
    (_set(["points", 0, "median_s"], None), "median_s"),
    (_set(["points", 0, "median_s"], 1e300), "median_s"),
    (_set(["points", 0, "median_s"], 5e-324), "median_s"),
    (_set(["points", 0, "median_s"], "fast"), "median_s"),
    (_set(["points", 0, "status"], "great"), "status must be one of ok, skipped, failed"),
    (_set(["points", 0, "dtype"], "float16"), "dtype"),
    (_set(["points", 0, "impl"], 7), "impl"),
    (_set(["points", 0, "warnings"], "none"), "warnings"),
    (_set(["points", 0, "high_spread"], "no"), "high_spread"),
    (_set(["points", 0, "flops"], -1), "flops"),
    (_set(["points", 0, "l2"], -0.5), "l2"),
    (_set(["points", 0, "samples"], 2.5), "samples"),
    (_set(["points", 0, "reason"], ["x"]), "reason"),
    (_set(["points", 0, "median_s"], KeyError), "lacks fields: median_s"),
    (_set(["points", 0], "a point"), "point 0 is not an object"),
    (_set(["points"], {}), "'points' must be a list"),
    (_set(["complete"], "yes"), "complete"),
    (_set(["created"], 5), "created"),
    (_set(["machine"], []), "machine"),
    (_set(["machine", "memory_bytes"], "lots"), "memory_bytes"),
    (_set(["threads"], {"blas_threads": "x"}), "blas_threads"),
    (_set(["peak"], {"gemm_gflops": {"float64": {"one": 3.0}}}), "thread counts"),
    (_set(["peak"], {"gemm_gflops": {"float64": {"1": 1e308}}}), "gemm_gflops"),
    (_set(["peak"], {"gemm_gflops": {"float64": {"1": -3.0}}}), "gemm_gflops"),
    (_set(["coldstart"], [{"impl": "numba"}]), "coldstart record 0 lacks"),
    (_set(["schema_version"], True), "schema version"),
]


@pytest.mark.parametrize("lie, words", LIES, ids=[w for _, w in LIES])
def test_a_lying_result_file_is_refused_on_load(tmp_path, good, lie, words):
    doc = copy.deepcopy(good)
    lie(doc)
    path = tmp_path / "lie.json"
    path.write_text(json.dumps(doc))  # NaN and Infinity as Python's json writes them
    with pytest.raises(ResultFileError) as info:
        results.load_results(path)
    message = str(info.value)
    assert words in message and str(path) in message and "\n" not in message


def test_every_committed_and_fixture_result_file_is_valid():
    root = Path(__file__).parents[1]
    paths = [*root.glob("reports/*/results_*.json"), *root.glob("tests/fixtures/*.json")]
    assert paths
    for p in paths:
        results.load_results(p, need_points=True)
    for p in root.glob("reports/*/peak.json"):
        load_peak(p)


def test_resume_refuses_a_file_with_a_bad_point(tmp_path, good):
    doc = copy.deepcopy(good)
    doc["points"][0]["n"] = "big"
    out = write_doc(tmp_path / "r.json", doc)
    before = out.read_bytes()
    with pytest.raises(ResultFileError, match="point 0"):
        run_sweep(config(), out, resume=True, progress=False)
    assert out.read_bytes() == before
    assert leftovers(tmp_path, {"r.json"}) == []


def test_a_bad_peak_is_refused(tmp_path):
    bad = {"schema": PEAK_SCHEMA, "schema_version": PEAK_SCHEMA_VERSION,
           "peak": {"gemm_gflops": {"float64": {"1": math.inf}}, "triad_gbs": 1.0}}
    path = tmp_path / "peak.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(ResultFileError, match="gemm_gflops"):
        load_peak(path)
    with pytest.raises(InputError, match="peak"):
        run_sweep(config(), tmp_path / "r.json", progress=False, peak={"gemm_gflops": 3})
    assert not (tmp_path / "r.json").exists()


# --- 4. pathological files --------------------------------------------------------------------


def test_read_json_refuses_pathological_files(tmp_path):
    cases = {
        "missing.json": ("does not exist", None),
        "folder": ("not a regular file (it is a folder)", lambda p: p.mkdir()),
        "fifo": ("not a regular file (it is a named pipe)", fifo),
        "empty.json": ("is empty", lambda p: p.write_text(" \n")),
        "binary.json": ("not UTF-8", lambda p: p.write_bytes(bytes(range(256)))),
        "deep.json": ("nested too deep", lambda p: p.write_text("[" * 100_000 + "]" * 100_000)),
        "deep65.json": ("nested too deep", lambda p: p.write_text("[" * 65 + "]" * 65)),
        "huge.json": ("too large", lambda p: sparse(p, files.MAX_READ_BYTES + 1)),
        "digits.json": ("not valid JSON", lambda p: p.write_text("1" * 5000)),
        "truncated.json": ("Unterminated string starting at line 1, column 2",
                           lambda p: p.write_text('{"schema')),
    }
    for name, (words, make) in cases.items():
        path = tmp_path / name
        if make:
            make(path)
        with pytest.raises(FileError) as info:
            files.read_json(path, "result file")
        message = str(info.value)
        assert words in message and str(path) in message and "\n" not in message, message
        assert "at at" not in message
    assert files.read_json(_ok(tmp_path / "ok.json"), "file") == [[1]]


def sparse(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that uses no disk."""
    path.write_bytes(b"")
    os.truncate(path, size)
    return path


def _ok(path):
    path.write_text("[[1]]")
    return path


def test_read_json_refuses_a_device(tmp_path):
    node = chardev(tmp_path / "zero")
    with pytest.raises(FileError, match="not a regular file .it is a character device"):
        files.read_json(node, "peak file")


def test_unreadable_file_is_a_file_error(tmp_path, monkeypatch):
    path = _ok(tmp_path / "r.json")

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(FileError, match="cannot read result file .*Permission denied"):
        results.load_results(path)


@pytest.mark.skipif(ROOT, reason="root reads files whatever their mode")
def test_cli_unreadable_file(tmp_path, good):
    path = files.write_json(tmp_path / "r.json", good)
    path.chmod(0)
    for args in (["bench", "--table", path], ["compare", path, path],
                 ["report", path, "--out", tmp_path / "o"]):
        rc, _, err = mlpbench(*args)
        assert_one_line_error(rc, err, "Permission denied")


# --- 5. an output under a regular file --------------------------------------------------------


def test_output_under_a_file(tmp_path):
    blocker = tmp_path / "g.json"
    blocker.write_text("keep")
    with pytest.raises(FileError, match="g.json is a file, not a folder"):
        files.prepare_out_dir(blocker / "x", force=False)
    with pytest.raises(FileError, match="g.json is a file, not a folder"):
        files.check_writable(blocker / "x" / "r.json")
    with pytest.raises(FileError, match="g.json is a file, not a folder"):
        run_sweep(config(), blocker / "r.json", progress=False)
    with pytest.raises(FileError, match="is not a folder"):
        files.prepare_out_dir(blocker, force=True)
    assert blocker.read_text() == "keep"


def test_prepare_out_dir_removes_only_what_it_is_told_it_owns(tmp_path):
    for name in ("report.md", "scaling_n.png", "notes.txt", "a.csv"):
        (tmp_path / name).write_text("old")
    with pytest.raises(UsageError, match="not empty"):
        files.prepare_out_dir(tmp_path, force=False)
    files.prepare_out_dir(tmp_path, force=True)  # the report's files
    assert leftovers(tmp_path, set()) == ["a.csv", "notes.txt"]
    files.prepare_out_dir(tmp_path, force=True, owned={"a.csv"})
    assert leftovers(tmp_path, set()) == ["notes.txt"]


# --- 7. sizes that cannot fit -----------------------------------------------------------------


def test_memory_estimate_grows_with_the_sizes():
    small = memory.point_bytes("numpy", "step", 1, 8, 5, 3, "float64")
    big = memory.point_bytes("numpy", "step", 10**6, 8, 5, 3, "float64")
    assert 0 < small < big
    assert memory.point_bytes("numpy", "step", 10**6, 8, 5, 3, "float32") < big
    assert memory.point_bytes("loops", "step", 10**6, 8, 5, 3, "float64") > big
    assert memory.too_big(big, 10 * big) is None
    assert memory.too_big(big, big // 2).startswith("memory: needs ~")
    assert memory.too_big(big, None) is None  # unknown: assumed to fit


def test_a_sweep_skips_the_points_that_do_not_fit(tmp_path, monkeypatch):
    need = memory.point_bytes("numpy", "step", 64, 8, 5, 3, "float64")
    monkeypatch.setattr(sweep, "available_memory_bytes", lambda: need)  # n=64 just misses
    doc = run_sweep(config(sizes=[1, 64]), tmp_path / "r.json", progress=False)
    status = {p["n"]: p for p in doc["points"]}
    assert status[1]["status"] == "ok"
    assert status[64]["status"] == "skipped"
    assert status[64]["reason"].startswith("memory: needs ~")
    assert "GiB available" in status[64]["reason"]
    results.load_results(tmp_path / "r.json")


def test_a_sweep_none_of_whose_points_fits_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep, "available_memory_bytes", lambda: 2**20)
    with pytest.raises(InputError, match="no point of this sweep fits in memory"):
        run_sweep(config(sizes=[10**5]), tmp_path / "r.json", progress=False)
    with pytest.raises(InputError, match="at most"):
        run_sweep(config(sizes=[10**23]), tmp_path / "r.json", progress=False)
    assert leftovers(tmp_path, set()) == []


# --- 9. two runs on one output; the lock ------------------------------------------------------


def test_output_lock_excludes_a_second_holder_and_is_removed(tmp_path):
    out = tmp_path / "r.json"
    with files.output_lock(out):
        assert (tmp_path / ".r.json.lock").exists()
        with pytest.raises(FileError, match="being written by another mlpbench process"):
            with files.output_lock(out):
                pass
        with pytest.raises(FileError, match="being written by another"):
            run_sweep(config(), out, progress=False)
        assert not out.exists()
    assert leftovers(tmp_path, set()) == []


def test_a_killed_holder_does_not_block_the_next_run(tmp_path):
    out = tmp_path / "r.json"
    code = ("import os, signal, sys\nfrom mlpbench import files\n"
            "with files.output_lock(sys.argv[1]):\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    r = subprocess.run([sys.executable, "-c", code, str(out)], timeout=60)
    assert r.returncode == -signal.SIGKILL
    assert (tmp_path / ".r.json.lock").exists()  # stale, but no longer locked
    run_sweep(config(sizes=[1]), out, progress=False)
    assert leftovers(tmp_path, {"r.json"}) == []


def test_cli_refuses_an_output_another_run_is_writing(tmp_path, good):
    out = files.write_json(tmp_path / "r.json", good)
    before = out.read_bytes()
    with files.output_lock(out):
        rc, _, err = mlpbench("bench", *TINY, "--sizes", "1", "-o", out, "--force")
    assert_one_line_error(rc, err, "being written by another mlpbench process")
    assert out.read_bytes() == before


def test_cli_two_runs_at_once_on_one_output(tmp_path):
    out = tmp_path / "r.json"
    args = ["bench", *TINY, "--sizes", "1,2,3", "-o", out]
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: mlpbench(*args), range(2)))
    codes = sorted(rc for rc, _, _ in runs)
    assert codes == [0, 2], runs
    loser = next(err for rc, _, err in runs if rc == 2)
    assert_one_line_error(2, loser)
    assert "being written by another" in loser or "already exists" in loser
    doc = results.load_results(out)
    assert doc["complete"] and len(doc["points"]) == 3
    assert leftovers(tmp_path, {"r.json"}) == []


# --- the command line, case by case -----------------------------------------------------------


def test_cli_special_files_are_refused_and_kept(tmp_path):
    node = chardev(tmp_path / "node")
    pipe = fifo(tmp_path / "pipe")
    (tmp_path / "dir").mkdir()
    (tmp_path / "link").symlink_to("node")
    for target in (node, pipe, tmp_path / "dir", tmp_path / "link"):
        rc, _, err = mlpbench("bench", *TINY, "--sizes", "1", "-o", target, "--force")
        assert_one_line_error(rc, err, str(target))
    assert is_chardev(node) and is_chardev(tmp_path / "node")
    assert stat.S_ISFIFO(os.lstat(pipe).st_mode) and (tmp_path / "link").is_symlink()
    assert leftovers(tmp_path, {"node", "pipe", "dir", "link"}) == []


def test_cli_memory(tmp_path):
    rc, _, err = mlpbench("bench", *TINY, "--sizes", "1000000000000", "-o", tmp_path / "a.json")
    assert_one_line_error(rc, err, "fits in memory", "GiB")
    rc, _, err = mlpbench("bench", *TINY, "--sizes", "1," + "1" + "0" * 23,
                          "-o", tmp_path / "b.json")
    assert_one_line_error(rc, err, "at most")
    rc, out, err = mlpbench("bench", *TINY, "--sizes", "1,1000000000000",
                            "-o", tmp_path / "c.json")
    assert rc == 0, err
    points = results.load_results(tmp_path / "c.json")["points"]
    assert [(p["n"], p["status"]) for p in points] == [(1, "ok"), (10**12, "skipped")]
    assert points[1]["reason"].startswith("memory: needs ~")
    assert leftovers(tmp_path, {"c.json"}) == []


def test_cli_output_under_a_file(tmp_path, good):
    g = files.write_json(tmp_path / "g.json", good)
    before = g.read_bytes()
    for args in (["report", g, "--out", g / "x", "--no-numerics"],
                 ["compare", g, g, "--out", g / "x"],
                 ["bench", *TINY, "--sizes", "1", "-o", g / "x.json"]):
        rc, _, err = mlpbench(*args)
        assert_one_line_error(rc, err, "is a file, not a folder")
    assert g.read_bytes() == before


# --- the corpus: every reading command against every bad file ---------------------------------


def make_corpus(folder: Path, good: dict) -> dict[str, Path]:
    """Bad files of every kind, and the good file they were derived from."""
    def doc_with(change):
        doc = copy.deepcopy(good)
        change(doc)
        return json.dumps(doc)

    text = json.dumps(good, indent=1)
    corpus = {
        "empty": "",
        "truncated": text[: len(text) // 2],
        "not_json": "this is not json",
        "other_version": doc_with(_set(["schema_version"], 99)),
        "other_schema": doc_with(_set(["schema"], "something.else")),
        "n_big": doc_with(_set(["points", 0, "n"], "big")),
        "n_negative": doc_with(_set(["points", 0, "n"], -5)),
        "sweep_null": doc_with(_set(["sweep"], None)),
        "no_status": doc_with(_set(["points", 0, "status"], KeyError)),
        "nan_median": doc_with(_set(["points", 0, "median_s"], float("nan"))),
        "status_wrong": doc_with(_set(["points", 0, "status"], "fine")),
        "top_list": "[1, 2, 3]",
        "deep": "[" * 100_000 + "]" * 100_000,
    }
    paths = {}
    for name, content in corpus.items():
        paths[name] = folder / f"{name}.json"
        paths[name].write_text(content)
    paths["binary"] = folder / "binary.json"
    paths["binary"].write_bytes(bytes(range(256)) * 4)
    paths["huge"] = sparse(folder / "huge.json", files.MAX_READ_BYTES + 4096)
    paths["fifo"] = fifo(folder / "fifo.json")
    paths["folder"] = folder / "folder.json"
    paths["folder"].mkdir()
    try:
        os.mknod(folder / "zero", stat.S_IFCHR | 0o666, os.makedev(1, 5))  # like /dev/zero
        paths["device"] = folder / "zero"
    except (PermissionError, OSError):
        pass
    return paths


#: Runs ``mlpbench.commands.main`` on each argv read from stdin, in one process (the
#: corpus is ~100 runs: a process each would take half a minute), and prints, for
#: each, the exit status and what reached stderr, with the traceback of anything
#: ``main`` let escape (what ``python -m mlpbench`` would print).
RUNNER = """
import contextlib, io, json, sys, traceback
from mlpbench.commands import main
out = []
for argv in json.load(sys.stdin):
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except BaseException:
            traceback.print_exc()
            rc = 1
    out.append([rc, err.getvalue()])
print(json.dumps(out))
"""


def corpus_runs(tmp_path: Path, corpus: dict[str, Path], g: Path) -> list[list[str]]:
    runs = []
    for name, f in corpus.items():
        out = tmp_path / "out" / name
        runs += [["bench", "--table", f],
                 ["bench", *TINY, "--sizes", "1,2", "--resume", "-o", f],
                 ["report", f, "--out", out],
                 ["compare", g, f],
                 ["compare", f, g, "--out", out],
                 ["report", g, "--out", out, "--peak", f],
                 ["report", g, "--out", out, "--numerics", f],
                 ["bench", *TINY, "--sizes", "1", "--peak", f, "-o", tmp_path / "x.json"]]
    x = tmp_path / "x.json"
    runs += [
        ["bench", *TINY, "--sizes", "1,,2", "-o", x],
        ["bench", *TINY, "--sizes", "0", "-o", x],
        ["bench", *TINY, "--sizes", "1e3", "-o", x],
        ["bench", *TINY, "--sizes", "1" + "0" * 23, "-o", x],
        ["bench", *TINY, "--sizes", "1000000000000", "-o", x],
        ["bench", *TINY, "--sizes", "1", "--l1", "nan", "-o", x],
        ["bench", *TINY, "--sizes", "1", "--threads", "-1", "-o", x],
        ["bench", *TINY, "--sizes", "1", "--vary", "q", "-o", x],
        ["bench", *TINY, "--sizes", "1", "-o", g],  # exists, no --force
        ["bench", *TINY, "--sizes", "1", "-o", g / "x.json"],
        ["bench", *TINY, "--sizes", "1", "-o", tmp_path],
        ["compare", g, g, "--threshold", "nan"],
        ["compare", g, tmp_path / "missing.json"],
        ["compare", g, g, "--out", g / "x"],
        ["report", g, "--out", g],
        ["report", g, "--out", g / "x"],
        ["report", tmp_path / "missing.json", "--out", tmp_path / "o2"],
    ]
    return [[str(a) for a in args] for args in runs]


def test_corpus_of_bad_files_and_arguments(tmp_path, good):
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    corpus = make_corpus(bad_dir, good)
    g = files.write_json(tmp_path / "good.json", good)
    runs = corpus_runs(tmp_path, corpus, g)
    r = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(runs),
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    outcomes = json.loads(r.stdout)
    failures = []
    for args, (rc, err) in zip(runs, outcomes, strict=True):
        lines = err.strip().splitlines()
        if rc != 2 or "Traceback" in err or len(lines) != 1 or ": error: " not in err:
            failures.append(f"{' '.join(args)} -> {rc}: {err[-600:]}")
    assert not failures, "\n".join(failures)
    assert g.read_bytes() == files.json_text(good).encode()  # never touched
    assert leftovers(bad_dir, {p.name for p in corpus.values()}) == []
    assert stat.S_ISFIFO(os.lstat(corpus["fifo"]).st_mode)
    if "device" in corpus:
        assert stat.S_ISCHR(os.lstat(corpus["device"]).st_mode)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.png"))
    assert not (tmp_path / "x.json").exists()

    # A sample through real processes: what reaches the terminal is the same.
    sample = [args for args in runs if args[-1].endswith(("deep.json", "fifo.json"))][:8]
    with ThreadPoolExecutor(4) as pool:
        for rc, _, err in pool.map(lambda args: mlpbench(*args), sample):
            assert_one_line_error(rc, err)


def test_usage_errors_are_input_errors():
    # One family: a command catching InputError (or ValueError) catches all of these.
    assert issubclass(FileError, InputError) and issubclass(ResultFileError, FileError)
    assert issubclass(UsageError, InputError) and issubclass(schema.SchemaError, ValueError)
