"""Sweeps on a Dask cluster (harness.cluster): a LocalCluster of two worker processes on
127.0.0.1, tiny sizes, numpy and loops only. No test asserts a timing.

The two workers pose as two machines through MLPBENCH_MACHINE_ID. Tests that need Dask
skip when the ``cluster`` extra is not installed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from mlpbench.errors import InputError, UsageError
from mlpbench.harness import cluster as cl
from mlpbench.harness import schema
from mlpbench.harness.config import SweepConfig
from mlpbench.harness.results import load_results

BASE = {"n": 4, "d": 4, "d_h": 4, "m": 3}
NAMES = ("alpha", "beta")


def config(sizes=(1, 2, 4), budget_s=0.03, **kw) -> SweepConfig:
    return SweepConfig(axis="n", sizes=list(sizes), base=dict(BASE),
                       implementations=("numpy", "loops"), budget_s=budget_s, quick=True, **kw)


def keys(doc: dict) -> set:
    return {schema.point_key(p) for p in doc["points"]}


def run_exec(client, code: str, workers=None) -> None:
    """Run ``code`` in worker processes (exec is a builtin: nothing of this module is
    pickled)."""
    client.run(exec, code, {}, workers=workers)


def name_workers(client, names=NAMES) -> dict[str, str]:
    """Give the workers (sorted by address) the machine names ``names``."""
    addrs = sorted(client.scheduler_info(n_workers=-1)["workers"])
    assert len(addrs) == len(names) and all(a.startswith("tcp://127.0.0.1:") for a in addrs)
    for name, addr in zip(names, addrs, strict=True):
        set_name(client, addr, name)
    return dict(zip(addrs, names, strict=True))


def set_name(client, addr: str, name: str) -> None:
    run_exec(client, f"import os; os.environ[{cl.MACHINE_ID_VAR!r}] = {name!r}", workers=[addr])


def kill_and_wait(client, addr: str, pid: int) -> str:
    """SIGKILL the worker ``addr``; return the address of the worker its nanny starts."""
    before = set(client.scheduler_info(n_workers=-1)["workers"])
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new = set(client.scheduler_info(n_workers=-1)["workers"]) - before
        if new:
            return new.pop()
        time.sleep(0.1)
    raise AssertionError("the killed worker did not come back")


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("distributed")
    lc = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  resources={"bench": 1}, host="127.0.0.1",
                                  dashboard_address=None, worker_dashboard_address=None)
    client = distributed.Client(lc, set_as_default=False)
    try:
        name_workers(client)
        yield lc, client
    finally:
        client.close()
        lc.close()


def sweep(lc, cfg, out, **kw):
    kw.setdefault("progress", False)
    return cl.run_cluster_sweep(cfg, out, lc.scheduler_address, **kw)


# --- without Dask ---------------------------------------------------------------------------


def test_processes_are_refused_before_any_connection():
    cfg = config()
    cfg.passes, cfg.processes = 2, 2
    with pytest.raises(UsageError, match="--processes is for a sweep on this machine"):
        cl.run_cluster_sweep(cfg, "x.json", "tcp://127.0.0.1:1")


def test_missing_dask_is_one_line_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails
    with pytest.raises(UsageError, match=r"pip install -e '\.\[cluster\]'"):
        cl.run_cluster_sweep(config(), "x.json", "tcp://127.0.0.1:1")


def test_unlike_machines_refused_naming_both_and_what_differs():
    a = {"cpu_model": "AMD EPYC 7B13", "memory_bytes": 24 * 2**30, "python": "3.12.1",
         "numpy": "2.3.0", "numba": "0.62.0",
         "blas": [{"user_api": "blas", "internal_api": "openblas", "version": "0.3.30",
                   "architecture": "Zen", "filepath": "/a/lib.so"}]}
    same = {**a, "memory_bytes": 24 * 2**30 - 2**27,  # firmware reserves a little more
            "blas": [{**a["blas"][0], "filepath": "/elsewhere/lib.so"}]}
    cl.check_alike("a", cl.machine_identity(a, "0.1.0"), "b", cl.machine_identity(same, "0.1.0"))
    other = {**a, "cpu_model": "Intel Xeon", "numpy": "2.2.0"}
    with pytest.raises(InputError, match=r"\ba\b.*\bb\b.*cpu_model.*AMD EPYC.*Intel Xeon.*numpy"):
        cl.check_alike("a", cl.machine_identity(a, "0.1.0"),
                       "b", cl.machine_identity(other, "0.1.0"))
    with pytest.raises(InputError, match="mlpbench"):
        cl.check_alike("a", cl.machine_identity(a, "0.1.0"), "b", cl.machine_identity(a, "0.2"))


def test_machine_paths(tmp_path):
    assert cl.machine_path(tmp_path / "res.json", "alpha") == tmp_path / "res.alpha.json"
    assert cl.machine_path(tmp_path, "node 1") == tmp_path / "node-1.json"
    assert cl.machine_path(f"{tmp_path}/new/", "b") == tmp_path / "new" / "b.json"


def test_machine_name_from_the_environment(monkeypatch):
    monkeypatch.setenv(cl.MACHINE_ID_VAR, "laptop-1")
    assert cl.machine_name() == "laptop-1"
    monkeypatch.setenv(cl.MACHINE_ID_VAR, "../etc")
    with pytest.raises(InputError, match=cl.MACHINE_ID_VAR):
        cl.machine_name()
    monkeypatch.delenv(cl.MACHINE_ID_VAR)
    assert cl.machine_name()


def test_cluster_fields_checked():
    cl.validate_cluster_fields({"cluster": {"mode": "shard", "scheduler": "tcp://h:1"},
                                "points": [{"host": "a", "lost": False}]})
    with pytest.raises(schema.SchemaError, match="mode"):
        cl.validate_cluster_fields({"cluster": {"mode": "all"}, "points": []})
    with pytest.raises(schema.SchemaError, match="host"):
        cl.validate_cluster_fields({"points": [{"host": 3}]})


def test_cli_without_dask_says_which_extra_in_one_line(tmp_path):
    code = ("import sys; sys.modules['distributed'] = None\n"
            "from mlpbench.commands import main\n"
            "sys.exit(main(['bench', '--impl', 'numpy', '--sizes', '1', '--cluster', "
            "'tcp://127.0.0.1:1', '-o', sys.argv[1]]))")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "r.json")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "pip install -e '.[cluster]'" in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_mode_needs_cluster(capsys):
    from mlpbench.commands import main

    assert main(["bench", "--impl", "numpy", "--sizes", "1", "--every-machine"]) == 2
    assert "--every-machine needs --cluster" in capsys.readouterr().err


# --- on a LocalCluster ----------------------------------------------------------------------


CLI_SIZES = ["--sizes", "1,2", "--d", "4", "--d-h", "4", "--m", "3", "--impl", "numpy,loops",
             "--budget", "0.03", "--quick", "--no-progress"]


def test_cli_bench_every_machine(dask_cluster, tmp_path, capsys):
    from mlpbench.commands import main

    lc, _ = dask_cluster
    out = tmp_path / "res.json"
    rc = main(["bench", *CLI_SIZES, "--cluster", lc.scheduler_address, "--every-machine",
               "-o", str(out)])
    text = capsys.readouterr().out
    assert rc == 0
    for name in NAMES:
        assert f"wrote {tmp_path / f'res.{name}.json'}: 4 timed" in text
        assert load_results(tmp_path / f"res.{name}.json")["cluster"]["host"] == name


def test_cli_run_on_cluster(dask_cluster, tmp_path, capsys):
    from mlpbench.commands import main

    lc, _ = dask_cluster
    rc = main(["run", "--tiny", "--no-numerics", "--impl", "numpy,loops", "--no-progress",
               "--cluster", lc.scheduler_address, "--out", str(tmp_path / "rep")])
    assert rc == 0, capsys.readouterr().err
    for name in ("n", "d", "d_h", "phases"):
        doc = load_results(tmp_path / "rep" / f"results_{name}.json", need_points=True)
        assert doc["complete"] and doc["cluster"]["mode"] == "shard"
        assert {p["host"] for p in doc["points"]} <= set(NAMES)
    assert (tmp_path / "rep" / "report.html").is_file()


def test_shard_gives_the_points_of_a_local_sweep(dask_cluster, tmp_path):
    from mlpbench.harness.sweep import run_sweep

    lc, _ = dask_cluster
    cfg = config()
    local = run_sweep(cfg, tmp_path / "local.json", progress=False)
    seen = []
    out = sweep(lc, cfg, tmp_path / "shard.json", on_task=seen.append)
    assert list(out) == [tmp_path / "shard.json"]
    doc = load_results(tmp_path / "shard.json", need_points=True)
    cl.validate_cluster_fields(doc)
    assert keys(doc) == keys(local) and len(doc["points"]) == len(local["points"])
    assert doc["complete"] and doc["cluster"]["mode"] == "shard"
    assert doc["cluster"]["scheduler"] == lc.scheduler_address
    assert len(seen) == len(cfg.points()) and all(t["status"] == "ok" for t in seen)
    machines = doc["cluster"]["machines"]
    assert set(machines) <= set(NAMES)
    for p in doc["points"]:
        assert p["host"] in machines and p["status"] == "ok" and p["median_s"] > 0
        assert not p.get("lost")
    for m in machines.values():
        assert m["cpu_model"] and m["identity"]["numpy"] and m["threads"]["numba_threads"] == 1
    assert doc["threads"]["blas_threads"] == 1 and doc["machine"]["cpu_model"]


def test_every_machine_writes_one_file_per_machine(dask_cluster, tmp_path):
    lc, _ = dask_cluster
    cfg = config(sizes=(1, 2))
    out = sweep(lc, cfg, tmp_path / "res.json", mode="every-machine")
    paths = {tmp_path / f"res.{n}.json" for n in NAMES}
    assert set(out) == paths
    expected = None
    for name in NAMES:
        doc = load_results(tmp_path / f"res.{name}.json", need_points=True)
        assert doc["complete"] and doc["cluster"]["mode"] == "every-machine"
        assert doc["cluster"]["host"] == name and {p["host"] for p in doc["points"]} == {name}
        expected = expected or keys(doc)
        assert keys(doc) == expected and len(expected) == 2 * 2


def test_resume_resubmits_only_sizes_with_missing_points(dask_cluster, tmp_path):
    lc, _ = dask_cluster
    cfg = config()
    path = tmp_path / "res.json"
    sweep(lc, cfg, path)
    doc = json.loads(path.read_text())
    full = keys(doc)
    kept = [p for p in doc["points"] if p["n"] == 1]
    doc["points"] = [*kept, *(p for p in doc["points"] if p["n"] == 4 and p["impl"] == "numpy")]
    doc["complete"] = False
    path.write_text(json.dumps(doc))
    with pytest.raises(UsageError, match="already exists"):
        sweep(lc, cfg, path)
    seen = []
    sweep(lc, cfg, path, resume=True, on_task=seen.append)
    assert sorted(t["size"]["n"] for t in seen) == [2, 4]
    assert sorted((p["n"], p["impl"]) for t in seen for p in t["points"]) == [
        (2, "loops"), (2, "numpy"), (4, "loops")]
    again = load_results(path)
    assert keys(again) == full and again["complete"] and len(again["points"]) == len(full)
    assert [p for p in again["points"] if p["n"] == 1] == kept  # finished points untouched
    seen.clear()
    sweep(lc, cfg, path, resume=True, on_task=seen.append)
    assert seen == []  # nothing missing: nothing submitted


def test_resume_refuses_points_of_another_machine(dask_cluster, tmp_path):
    lc, _ = dask_cluster
    cfg = config(sizes=(1, 2))
    path = tmp_path / "res.json"
    sweep(lc, cfg, path)
    doc = json.loads(path.read_text())
    doc["points"] = [p for p in doc["points"] if p["n"] == 1]
    doc["machine"]["cpu_model"] = "Some Other CPU"
    doc["machine"]["hostname"] = "elsewhere"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"elsewhere.*cpu_model.*Some Other CPU"):
        sweep(lc, cfg, path, resume=True)
    assert json.loads(path.read_text())["points"] == doc["points"]  # left as it was


def test_shard_refuses_unlike_machines_before_any_work(dask_cluster, tmp_path):
    lc, client = dask_cluster
    beta = [a for a, n in client.run(cl.machine_name).items() if n == "beta"]
    patch = ("import mlpbench.harness.machine as m\n"
             "m._real_info = getattr(m, '_real_info', m.machine_info)\n"
             "m.machine_info = lambda: {**m._real_info(), 'cpu_model': 'Fake CPU 9000'}\n")
    run_exec(client, patch, workers=beta)
    try:
        with pytest.raises(InputError, match=r"alpha and beta differ in cpu_model.*Fake CPU"):
            sweep(lc, config(), tmp_path / "res.json")
        assert not (tmp_path / "res.json").exists()
        out = sweep(lc, config(sizes=(1,)), tmp_path / "res", mode="every-machine")
        assert len(out) == 2  # unlike machines are fine with one file each
    finally:
        run_exec(client, "import mlpbench.harness.machine as m\n"
                         "m.machine_info = m._real_info\n", workers=beta)


def test_refuses_implementations_the_workers_do_not_know(dask_cluster, tmp_path,
                                                         monkeypatch):
    lc, _ = dask_cluster
    # As if registered here only (a plugin given as --impl NAME=FILE on the client).
    monkeypatch.setattr(cl, "validate_config", lambda cfg: cfg)
    cfg = SweepConfig(axis="n", sizes=[1], base=dict(BASE), quick=True,
                      implementations=("numpy", "client-only"))
    with pytest.raises(UsageError, match="does not know the implementation.*client-only"):
        sweep(lc, cfg, tmp_path / "res.json")
    assert not (tmp_path / "res.json").exists()


def test_refuses_two_bench_workers_on_one_machine(dask_cluster, tmp_path):
    lc, client = dask_cluster
    beta = [a for a, n in client.run(cl.machine_name).items() if n == "beta"]
    run_exec(client, f"import os; os.environ[{cl.MACHINE_ID_VAR!r}] = 'alpha'", workers=beta)
    try:
        with pytest.raises(UsageError, match="machine alpha runs 2 workers"):
            sweep(lc, config(), tmp_path / "res.json")
    finally:
        run_exec(client, f"import os; os.environ[{cl.MACHINE_ID_VAR!r}] = 'beta'",
                 workers=beta)


def test_ctrl_c_keeps_every_finished_point(dask_cluster, tmp_path):
    lc, _ = dask_cluster
    cfg = config(sizes=(1, 2, 3, 4))
    path = tmp_path / "res.json"
    arrived = []

    def on_task(info):
        arrived.extend(info["points"])
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep(lc, cfg, path, on_task=on_task)
    doc = load_results(path)
    assert not doc["complete"] and keys(doc) == keys({"points": arrived}) and arrived
    sweep(lc, cfg, path, resume=True)
    assert load_results(path)["complete"]


# The tests below kill workers; their nannies start new ones, without machine names.


def test_killed_worker_loses_no_finished_point(dask_cluster, tmp_path):
    lc, client = dask_cluster
    name_workers(client)
    cfg = config(sizes=(1, 2, 3, 4, 5, 6), budget_s=0.2)
    path = tmp_path / "res.json"
    pids = client.run(os.getpid)
    names = client.run(cl.machine_name)
    on_disk: list[set] = []
    killed = []

    def on_task(info):
        on_disk.append(keys(json.loads(path.read_text())))
        if not killed:  # kill the other machine, most likely in the middle of its task
            victim = next(a for a, n in names.items() if n != info["host"])
            running = client.processing(workers=[victim]).get(victim, ())
            os.kill(pids[victim], signal.SIGKILL)
            killed.append((victim, running))

    sweep(lc, cfg, path, on_task=on_task)
    doc = load_results(path)
    assert killed and doc["complete"]
    victim, running = killed[0]
    for key in running:  # the task it was running was run again elsewhere
        n = int(key.split("-n")[1].split("-")[0])
        done = [t for t in doc["cluster"]["tasks"] if t["size"]["n"] == n]
        assert [t["status"] for t in done] == ["ok"] and done[0]["worker"] != victim
    assert not [p for p in doc["points"] if p.get("lost") or p["status"] != "ok"]
    assert len(doc["points"]) == len(keys(doc)) == 2 * len(cfg.points())
    for before, after in zip(on_disk, on_disk[1:], strict=False):
        assert before <= after  # a point once written stays written


def test_every_machine_moves_the_task_of_a_restarted_worker(dask_cluster, tmp_path):
    lc, client = dask_cluster
    names = name_workers(client)
    pids = client.run(os.getpid)
    cfg = config(sizes=(1, 2, 3, 4), budget_s=0.2)
    killed = []

    def on_task(info):
        if not killed:
            victim = next(a for a, n in names.items() if n != info["host"])
            new = kill_and_wait(client, victim, pids[victim])
            set_name(client, new, names[victim])  # as if it was started with its name
            killed.append(names[victim])

    out = sweep(lc, cfg, tmp_path / "res.json", mode="every-machine", on_task=on_task,
                lost_after_s=60)
    assert killed and len(out) == 2
    for path in out:
        doc = load_results(path)
        assert doc["complete"] and len(keys(doc)) == 2 * len(cfg.points())
        assert all(p["status"] == "ok" for p in doc["points"])


def test_every_machine_records_the_task_of_a_machine_that_left(dask_cluster, tmp_path):
    lc, client = dask_cluster
    names = name_workers(client)
    pids = client.run(os.getpid)
    cfg = config(sizes=(1, 2, 3, 4), budget_s=0.2)
    killed = []

    def on_task(info):
        if not killed:
            victim = next(a for a, n in names.items() if n != info["host"])
            kill_and_wait(client, victim, pids[victim])  # comes back under another name
            killed.append(names[victim])

    seen = []
    out = sweep(lc, cfg, tmp_path / "res.json", mode="every-machine",
                on_task=lambda i: (on_task(i), seen.append(i)), lost_after_s=0.5)
    gone, stayed = killed[0], next(n for n in NAMES if n != killed[0])
    assert load_results(tmp_path / f"res.{stayed}.json")["complete"]
    doc = load_results(tmp_path / f"res.{gone}.json")
    assert not doc["complete"]
    lost = [p for p in doc["points"] if p.get("lost")]
    assert lost and all(p["status"] == "failed" and "left" in p["reason"] for p in lost)
    assert [t for t in seen if t["host"] == gone and t["status"] == "lost"]
    assert len(out) == 2
