"""The sweep: result-file schema, correctness gate, time budget, interruption and resume.

Tiny sizes and fake implementations (wrapping the numpy one) keep this fast; no
test asserts a timing.
"""

import json
import time
from types import SimpleNamespace

import numpy as np
import pytest

from mlpbench import mlp
from mlpbench.errors import InputError, UsageError
from mlpbench.harness import budget, schema
from mlpbench.harness import config as sweep_config
from mlpbench.harness.sweep import SweepConfig, max_rel_err, run_sweep
from mlpbench.harness.timing import Policy

BASE = {"n": 4, "d": 8, "d_h": 5, "m": 3}
FAST = Policy(min_sample_s=1e-4, target_s=0.005, min_samples=3, max_samples=10)


@pytest.fixture(autouse=True)
def fast_sampling(monkeypatch):
    """Few, short samples: these tests check the bookkeeping, not the figures."""
    monkeypatch.setattr(sweep_config, "QUICK_POLICY", FAST)


def fake(**overrides):
    """An implementation object like mlp.get(...), numpy's raw functions unless overridden."""
    ref = mlp.get("numpy").raw
    raw = {name: overrides.get(name, getattr(ref, name))
           for name in ("forward", "backward", "loss_and_grad", "loss")}
    return SimpleNamespace(raw=SimpleNamespace(**raw), **raw)


def counting(calls, tag):
    """numpy's loss_and_grad, counting its calls per n in ``calls``."""
    ref = mlp.get("numpy").raw

    def loss_and_grad(p, X, y, l1=0.0, l2=0.0):
        calls.append((tag, X.shape[0]))
        return ref.loss_and_grad(p, X, y, l1, l2)

    return fake(loss_and_grad=loss_and_grad)


def config(**kw):
    args = dict(axis="n", sizes=[1, 3], base=BASE, implementations=("numpy",),
                budget_s=5.0, quick=True)
    args.update(kw)
    return SweepConfig(**args)


def test_result_file_follows_the_schema(tmp_path):
    out = tmp_path / "r.json"
    doc = run_sweep(config(l2=0.01), out, progress=False)
    on_disk = json.loads(out.read_text())
    assert schema.validate(on_disk) is on_disk
    assert on_disk == json.loads(json.dumps(doc))
    assert doc["complete"] is True
    assert [p["n"] for p in doc["points"]] == [1, 3]
    for p in doc["points"]:
        assert p["status"] == "ok"
        assert p["cold_s"] > 0 and p["samples"] >= FAST.min_samples and p["loops"] >= 1
        assert p["min_s"] <= p["q1_s"] <= p["median_s"] <= p["q3_s"] <= p["max_s"]
        assert p["flops"] == schema.flops("step", p["n"], 8, 5, 3)
        assert p["l2"] == 0.01
        assert p["max_rel_err"] is None  # the reference is not gated against itself
        # few examples: the memory bound (one copy of W1) timed in the same rounds
        assert len(p["bound_s"]) == len(p["times_s"]) and all(b > 0 for b in p["bound_s"])
    assert doc["bound"] == "copy-W1-1"
    assert doc["sweep"]["sizes"] == {"n": [1, 3], "d": [8], "d_h": [5]}
    assert doc["threads"]["threading_layer"] and doc["threads"]["numba_threads"] >= 1
    machine = doc["machine"]
    for key in ("cpu_model", "cores", "memory_bytes", "numpy", "numba", "llvmlite", "scipy",
                "blas", "env"):
        assert key in machine
    assert "OPENBLAS_CORETYPE" in machine["env"]


def test_wrong_implementation_is_refused_and_recorded(tmp_path):
    ref = mlp.get("numpy").raw

    def wrong(p, X, y, l1=0.0, l2=0.0):
        loss, g = ref.loss_and_grad(p, X, y, l1, l2)
        return loss, type(g)(g[0] * 1.01, *g[1:])

    doc = run_sweep(config(implementations=("numpy", "wrong")), tmp_path / "r.json",
                    progress=False, impls={"wrong": fake(loss_and_grad=wrong)})
    bad = [p for p in doc["points"] if p["impl"] == "wrong"]
    assert len(bad) == 2
    for p in bad:
        assert p["status"] == "failed"
        assert "disagrees with numpy" in p["reason"]
        assert p["max_rel_err"] == pytest.approx(0.01 / 1.01, rel=1e-6)  # scaled by max|out|
        assert p["median_s"] is None and p["samples"] == 0
    schema.validate(json.loads((tmp_path / "r.json").read_text()))


def test_float32_gate_accepts_a_float32_implementation(tmp_path):
    doc = run_sweep(config(implementations=("numpy", "same"), dtypes=("float32",)),
                    tmp_path / "r.json", progress=False, impls={"same": fake()})
    same = [p for p in doc["points"] if p["impl"] == "same"]
    assert [p["status"] for p in same] == ["ok", "ok"]
    assert all(p["max_rel_err"] == 0.0 for p in same)


def test_gate_problem_keeps_pre_activations_off_the_relu_kink():
    """Two correct float32 steps may round a pre-activation near 0 to opposite signs: at
    this point (seed 0) numba-loops once failed the gate with gW1 off by 1.9e-2. The
    gate's problem keeps every |ha| above its rounding bound, so signs agree."""
    from mlpbench.harness import gate

    p, X, y = gate.make_problem(1024, 784, 2048, 10, "float32", 0)
    X64, W64, b64 = (a.astype(np.float64) for a in (X, p.W1, p.b1))
    ha = X64 @ W64.T + b64
    bound = (gate.KINK_ULPS * np.finfo(np.float32).eps
             * (np.linalg.norm(X64, axis=1)[:, None] * np.linalg.norm(W64, axis=1) + np.abs(b64)))
    assert (np.abs(ha) >= bound).all()
    assert ((X @ p.W1.T + p.b1 > 0) == (ha > 0)).all()  # float32 rounding keeps the sign
    got = mlp.get("numba-loops").raw.loss_and_grad(p, X, y)
    ref = mlp.get("numpy").raw.loss_and_grad(p, X, y)
    assert gate.max_rel_err(got, ref) <= gate.gate_rtol("float32", 1024, 784, 2048, 10)


def test_raising_implementation_is_recorded(tmp_path):
    def broken(p, X, y, l1=0.0, l2=0.0):
        raise FloatingPointError("overflow in exp")

    doc = run_sweep(config(implementations=("numpy", "broken")), tmp_path / "r.json",
                    progress=False, impls={"broken": fake(loss_and_grad=broken)})
    p = [p for p in doc["points"] if p["impl"] == "broken"][0]
    assert p["status"] == "failed" and "FloatingPointError: overflow in exp" in p["reason"]


def test_without_a_reference_nothing_is_timed(tmp_path):
    def broken(p, X, y, l1=0.0, l2=0.0):
        raise MemoryError("no room")

    doc = run_sweep(config(implementations=("same", "numpy"), sizes=[2]), tmp_path / "r.json",
                    progress=False, impls={"numpy": fake(loss_and_grad=broken), "same": fake()})
    assert [(p["impl"], p["status"]) for p in doc["points"]] == [("numpy", "failed"),
                                                                  ("same", "failed")]
    assert "no reference: numpy raised MemoryError: no room" in doc["points"][1]["reason"]


@pytest.mark.parametrize("phase", ["forward", "backward"])
def test_other_phases(tmp_path, phase):
    doc = run_sweep(config(implementations=("numpy", "same"), phases=(phase,), sizes=[2]),
                    tmp_path / "r.json", progress=False, impls={"same": fake()})
    assert [(p["impl"], p["status"], p["phase"]) for p in doc["points"]] == [
        ("numpy", "ok", phase), ("same", "ok", phase)]
    assert doc["points"][0]["flops"] == schema.flops(phase, 2, 8, 5, 3)
    # only a phase that writes gW1 has the bound of W1 in, gW1 out
    assert all(("bound_s" in p) == (phase == "backward") for p in doc["points"])


def test_the_bound_is_timed_at_few_examples_only(tmp_path):
    doc = run_sweep(config(sizes=[16, 17]), tmp_path / "r.json", progress=False)
    assert [("bound_s" in p) for p in doc["points"]] == [True, False]


def test_slow_implementation_is_skipped_with_a_prediction(tmp_path):
    ref = mlp.get("numpy").raw
    seen = []

    def slow(p, X, y, l1=0.0, l2=0.0):
        seen.append(X.shape[0])
        time.sleep(2e-5 * schema.flops("step", X.shape[0], 8, 5, 3))  # 4 ms per example
        return ref.loss_and_grad(p, X, y, l1, l2)

    doc = run_sweep(config(implementations=("slow",), sizes=[1, 4, 512], budget_s=0.5),
                    tmp_path / "r.json", progress=False, impls={"slow": fake(loss_and_grad=slow)})
    status = {p["n"]: p for p in doc["points"]}
    assert status[1]["status"] == status[4]["status"] == "ok"
    skipped = status[512]
    assert skipped["status"] == "skipped"
    assert skipped["predicted_s"] > 0.5 / budget.calls_per_point(FAST.min_samples)
    assert "budget" in skipped["reason"]
    assert 512 not in seen
    schema.validate(doc)


def test_loops_is_never_called_where_its_prior_exceeds_the_budget(tmp_path):
    calls = []
    cfg = config(implementations=("loops",), sizes=[4096], base=dict(schema.BASE),
                 budget_s=5.0)
    doc = run_sweep(cfg, tmp_path / "r.json", progress=False,
                    impls={"loops": counting(calls, "loops")})
    (p,) = doc["points"]
    assert p["status"] == "skipped" and calls == []
    assert p["predicted_s"] == pytest.approx(
        budget.PRIOR_S_PER_FLOP["loops"] * schema.flops("step", 4096, 784, 256, 10))


def test_interrupted_sweep_leaves_a_valid_file_and_resumes(tmp_path):
    out = tmp_path / "r.json"
    ref = mlp.get("numpy").raw

    def interrupt_at_n3(p, X, y, l1=0.0, l2=0.0):
        if X.shape[0] == 3:
            raise KeyboardInterrupt
        return ref.loss_and_grad(p, X, y, l1, l2)

    # One pass: with more, the finished n=1 would rightly be timed again in pass 2.
    cfg = config(implementations=("numpy", "counted"), sizes=[1, 3, 5], passes=1)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(cfg, out, progress=False,
                  impls={"counted": fake(loss_and_grad=interrupt_at_n3)})
    doc = schema.validate(json.loads(out.read_text()))
    assert doc["complete"] is False
    # The implementations of one size are timed in turns and written together, so the
    # interrupted size (n=3) is left out whole; every finished size is kept.
    assert [(p["impl"], p["n"]) for p in doc["points"]] == [("numpy", 1), ("counted", 1)]
    calls = []
    doc = run_sweep(cfg, out, resume=True, progress=False,
                    impls={"counted": counting(calls, "counted")})
    assert doc["complete"] is True
    keys = [schema.point_key(p) for p in doc["points"]]
    assert len(keys) == len(set(keys)) == 6
    assert {n for _, n in calls} == {3, 5}  # n=1 was not redone
    assert json.loads(out.read_text())["complete"] is True


def test_resume_refuses_another_sweep_and_leaves_the_file(tmp_path):
    out = tmp_path / "r.json"
    run_sweep(config(sizes=[1]), out, progress=False)
    before = out.read_bytes()
    with pytest.raises(UsageError, match="another sweep.*sizes"):
        run_sweep(config(sizes=[1, 2]), out, resume=True, progress=False)
    assert out.read_bytes() == before


def test_existing_file_needs_force_or_resume(tmp_path):
    out = tmp_path / "r.json"
    out.write_text("precious")
    with pytest.raises(UsageError, match="already exists"):
        run_sweep(config(sizes=[1]), out, progress=False)
    assert out.read_text() == "precious"
    run_sweep(config(sizes=[1]), out, progress=False, force=True)
    assert schema.validate(json.loads(out.read_text()))["complete"] is True


def test_peak_is_copied(tmp_path):
    peak = {"gemm_gflops": {"float64": {"1": 1.0}}, "triad_gbs": 2.0}
    doc = run_sweep(config(sizes=[1]), tmp_path / "r.json", progress=False, peak=peak)
    assert doc["peak"] == peak


@pytest.mark.parametrize("change, message", [
    ({"axis": "k"}, "unknown axis"),
    ({"sizes": []}, "empty"),
    ({"sizes": [4, 0]}, "positive"),
    ({"sizes": [4, -1]}, "positive"),
    ({"sizes": [2.5]}, "positive"),
    ({"implementations": ("numpy", "fortran")}, "unknown implementation 'fortran'"),
    ({"implementations": ()}, "at least one implementation"),
    ({"dtypes": ("float16",)}, "unknown dtype"),
    ({"phases": ("train",)}, "unknown phase"),
    ({"l1": -1.0}, "l1"),
    ({"budget_s": 0}, "budget"),
    ({"threads": 0}, "threads"),
    ({"threads": 10_000}, "oversubscribe"),
    ({"axis": "grid", "sizes": {"m": [1]}}, "grid sizes"),
])
def test_bad_config_is_refused_before_any_work(tmp_path, change, message):
    out = tmp_path / "r.json"
    with pytest.raises((InputError, TypeError), match=message):
        run_sweep(config(**change), out, progress=False)
    assert not out.exists()


def test_grid_points_cover_the_product_in_flop_order():
    cfg = SweepConfig(axis="grid", sizes={"n": [2, 1], "d_h": [3, 4]}, base=BASE)
    pts = cfg.points()
    assert {(p["n"], p["d"], p["d_h"]) for p in pts} == {(1, 8, 3), (1, 8, 4), (2, 8, 3),
                                                         (2, 8, 4)}
    flops = [schema.flops("step", **p) for p in pts]
    assert flops == sorted(flops)


def test_max_rel_err():
    a = (1.0, np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert max_rel_err(a, a) == 0.0
    b = (1.0, np.array([[1.0, 2.0], [3.0, 3.6]]))
    assert max_rel_err(b, a) == pytest.approx(0.1)
    assert max_rel_err((1.0, np.full((2, 2), np.nan)), a) == np.inf
    with pytest.raises(ValueError, match="shape"):
        max_rel_err((1.0, np.zeros((2, 3))), a)
    with pytest.raises(ValueError, match="returned 1 arrays"):
        max_rel_err((1.0,), a)


def test_fit_extrapolates_along_the_loglog_slope():
    history = [(1e3, 1e-3), (1e4, 1e-2), (1e5, 1e-1)]  # slope 1
    assert budget.predict_call_s("x", 10**6, history) == pytest.approx(1.0)
    quadratic = [(1e3, 1e-6), (1e4, 1e-4)]  # slope 2, clamped
    assert budget.predict_call_s("x", 10**5, quadratic) == pytest.approx(
        1e-4 * 10**budget.MAX_SLOPE)
    assert budget.predict_call_s("x", 10**5, [(1e3, 1e-3)]) == pytest.approx(0.1)
    assert budget.predict_call_s("numpy", 10**5, []) is None


def test_numpy_integer_sizes_are_written_as_plain_integers(tmp_path):
    cfg = config(sizes=[np.int64(1), np.int32(2)], base={**BASE, "n": np.int64(4)})
    doc = run_sweep(cfg, tmp_path / "r.json", progress=False)
    on_disk = json.loads((tmp_path / "r.json").read_text())
    assert on_disk["sweep"]["sizes"]["n"] == [1, 2] and [p["n"] for p in doc["points"]] == [1, 2]


def test_default_implementations_come_from_the_registry():
    assert tuple(SweepConfig().implementations) == tuple(mlp.IMPLEMENTATIONS)


def test_passes_append_samples_and_go_over_the_whole_sweep_again(tmp_path):
    """Each point is timed once per pass, the passes in sweep order (n=1, n=3, n=1,
    n=3, ...), every pass on fresh inputs; the samples of all passes are kept, their
    rounds numbered on, and the statistics recomputed from all of them."""
    calls = []
    cfg = config(implementations=("numpy", "counted"), sizes=[1, 3], passes=3)
    doc = run_sweep(cfg, tmp_path / "r.json", progress=False,
                    impls={"counted": counting(calls, "counted")})
    doc = schema.validate(json.loads((tmp_path / "r.json").read_text()))
    order = [n for i, (_, n) in enumerate(calls) if i == 0 or calls[i - 1][1] != n]
    assert order == [1, 3, 1, 3, 1, 3]
    for p in doc["points"]:
        assert p["passes"] == 3 and len(p["pass_starts"]) == 3
        assert p["pass_starts"][0] == 0
        assert len(p["times_s"]) == len(p["rounds"]) == len(p["canary_s"]) == p["samples"]
        assert p["rounds"] == sorted(p["rounds"])
        # every pass contributed samples, in its own rounds
        starts = p["pass_starts"] + [max(p["rounds"]) + 1]
        for a, b in zip(starts, starts[1:], strict=False):
            assert any(a <= r < b for r in p["rounds"])
        assert p["median_s"] == pytest.approx(float(np.median(p["times_s"])))
        assert len([w for w in p["warnings"] if w.startswith("precision target")]) <= 1
    counted = [p for p in doc["points"] if p["impl"] == "counted"]
    assert all(p["ratio"]["pairs"] == p["samples"] for p in counted)
    # The points of one size share their passes' rounds: every sample keeps its pair.
    numpy_ = {p["n"]: p for p in doc["points"] if p["impl"] == "numpy"}
    for p in counted:
        assert p["pass_starts"] == numpy_[p["n"]]["pass_starts"]
        assert set(p["rounds"]) <= set(numpy_[p["n"]]["rounds"])


def test_passes_is_validated_and_resume_keeps_what_each_pass_finished(tmp_path):
    with pytest.raises(InputError, match="passes"):
        run_sweep(config(passes=0), tmp_path / "x.json", progress=False)
    out = tmp_path / "r.json"
    ref = mlp.get("numpy").raw
    visits = []  # the sizes in the order the sweep visits them: 1, 3 (pass 1), 1, 3

    def interrupt_in_pass_2(p, X, y, l1=0.0, l2=0.0):
        n = X.shape[0]
        if not visits or visits[-1] != n:
            visits.append(n)
        if visits == [1, 3, 1, 3]:  # n=3 in pass 2: n=1 has finished both passes
            raise KeyboardInterrupt
        return ref.loss_and_grad(p, X, y, l1, l2)

    cfg = config(implementations=("numpy", "counted"), sizes=[1, 3], passes=2)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(cfg, out, progress=False,
                  impls={"counted": fake(loss_and_grad=interrupt_in_pass_2)})
    doc = schema.validate(json.loads(out.read_text()))
    assert doc["complete"] is False
    assert {p["n"]: p["passes"] for p in doc["points"]} == {1: 2, 3: 1}
    doc = run_sweep(cfg, out, resume=True, progress=False,
                    impls={"counted": fake()})
    assert doc["complete"] is True
    assert all(p["passes"] == 2 for p in doc["points"])


def test_processes_split_the_passes_into_contiguous_stages():
    assert SweepConfig(passes=8, processes=3).stages() == [2, 5, 8]
    assert SweepConfig(passes=3, processes=3).stages() == [1, 2, 3]
    assert SweepConfig(passes=5).stages() == [5]
    with pytest.raises(InputError, match="processes must be at most passes.*4 processes for 3"):
        sweep_config.validate_config(config(passes=3, processes=4))
    with pytest.raises(InputError, match="processes"):
        sweep_config.validate_config(config(processes=0))


def test_a_sweep_in_processes_resumes_the_file_once_per_process(tmp_path):
    """Every process resumes the file the previous one left and times its own passes
    (the first also the cold calls and the gate): the sizes visited in the same order
    as by one process, and the file after each holds exactly the passes finished so far."""
    out = tmp_path / "r.json"
    seen = []

    def here(fn, *args):  # a "process" that is this one: the stages, observed
        fn(*args)
        on_disk = schema.validate(json.loads(out.read_text()))
        seen.append((args[2], args[3], on_disk["complete"],
                     sorted({p["passes"] for p in on_disk["points"]})))

    calls = []
    cfg = config(implementations=("numpy", "counted"), sizes=[1, 3], passes=4, processes=3)
    doc = run_sweep(cfg, out, progress=False, impls={"counted": counting(calls, "c")},
                    spawn=here)
    assert seen == [(1, 0, False, [1]), (2, 1, False, [2]), (4, 2, True, [4])]
    assert doc["complete"] and doc["sweep"]["processes"] == 3
    assert all(p["passes"] == 4 and len(p["pass_starts"]) == 4 for p in doc["points"])
    visits = [n for i, (_, n) in enumerate(calls) if i == 0 or calls[i - 1][1] != n]
    assert visits == [1, 3] * 4


def test_a_sweep_in_processes_refuses_what_cannot_cross_into_one(tmp_path):
    cfg = config(implementations=("numpy", "counted"), passes=2, processes=2)
    with pytest.raises(UsageError, match="spawn="):
        run_sweep(cfg, tmp_path / "r.json", progress=False, impls={"counted": fake()})
    assert not (tmp_path / "r.json").exists()


def test_processes_from_the_command_line_run_in_fresh_processes(tmp_path):
    """Real worker processes (spawned interpreters) time the passes; more processes
    than the default passes raise the passes to one per process."""
    from mlpbench.commands import main

    out = tmp_path / "r.json"
    rc = main(["bench", "--vary", "n", "--sizes", "1", "--d", "8", "--d-h", "5",
               "--impl", "numpy", "--quick", "--budget", "0.5", "--processes", "4",
               "--no-progress", "-o", str(out)])
    doc = schema.validate(json.loads(out.read_text()))
    assert rc == 0 and doc["complete"]
    assert (doc["sweep"]["passes"], doc["sweep"]["processes"]) == (4, 4)
    assert [p["passes"] for p in doc["points"]] == [4]
