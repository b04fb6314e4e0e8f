"""The whole harness driven by a synthetic timing source (no real timing): adaptive
sampling, in-run paired verdicts, and drift-proof ``compare`` between two runs.

A fake clock advances only when a fake implementation (or the fake canary) is called,
by a time drawn from a known distribution: a base cost per size, times the machine's
speed at that moment (a slow drift shared by everything running then), times the run's
speed (a whole-machine change between runs), times lognormal noise.
"""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from mlpbench import mlp
from mlpbench.harness import timing
from mlpbench.harness.config import SweepConfig
from mlpbench.harness.sweep import run_sweep
from mlpbench.report import compare

SIZES = list(range(1, 25))  # many points, so rates can be read off one comparison


class Machine:
    """The synthetic clock and the machine's speed: ``run_speed`` for the whole run, a
    slow sinusoidal drift of ±``drift`` over time, and noise of ``sigma`` per call."""

    def __init__(self, seed, run_speed=1.0, drift=0.15, sigma=0.05, process=0.0,
                 sensitivity=None):
        self.t = 0.0
        self.rng = np.random.default_rng(seed)
        self.run_speed, self.drift, self.sigma = run_speed, drift, sigma
        # A factor per (implementation, size) drawn once per run (process): what moves a
        # point between two processes and that no sample of one run can show.
        self.process, self.effects = process, {}
        # How much of the machine's speed each implementation feels (1: all of it, as
        # the canary does); a real step feels the slow patches less than a NumPy GEMM.
        self.sensitivity = sensitivity or {}

    def effect(self, name, n):
        if not self.process:
            return 1.0
        if (name, n) not in self.effects:
            self.effects[name, n] = math.exp(self.rng.normal(0, self.process))
        return self.effects[name, n]

    def __call__(self) -> float:
        return self.t

    def spend(self, seconds: float, name: str | None = None) -> None:
        moment = 1.0 + self.drift * math.sin(self.t / 0.7)
        speed = (self.run_speed * moment) ** self.sensitivity.get(name, 1.0)
        self.t += seconds * speed * math.exp(self.rng.normal(0, self.sigma))

    def canary(self, X):
        return lambda: self.spend(2e-5)


def fake(machine, cost_per_row, name):
    """An implementation whose outputs are numpy's and whose time is synthetic."""
    numpy = mlp.get("numpy").raw

    done = {}  # the outputs, computed once per problem: only the synthetic time matters

    def timed(fn):
        def call(p, X, *args):
            machine.spend(cost_per_row * (X.shape[0] + 4) * machine.effect(name, X.shape[0]),
                          name)
            key = (fn.__name__, X.shape)  # one penalty, one problem per size here
            if key not in done:  # make_problem is deterministic per size
                done[key] = fn(p, X, *args)
            return done[key]
        return call

    raw = SimpleNamespace(forward=timed(numpy.forward), backward=timed(numpy.backward),
                          loss_and_grad=timed(numpy.loss_and_grad))
    return SimpleNamespace(name=name, raw=raw)


def sweep(tmp_path, name, machine, fake_cost=1e-5, **cfg):
    impls = {"numpy": fake(machine, 1e-5, "numpy"), "fake": fake(machine, fake_cost, "fake")}
    config = SweepConfig(axis="n", sizes=cfg.pop("sizes", SIZES), base={"n": 1, "d": 3, "d_h": 4, "m": 3},
                         implementations=["numpy", "fake"], quick=True,
                         budget_s=cfg.pop("budget_s", 0.5), **cfg)
    return run_sweep(config, tmp_path / name, progress=False, impls=impls, clock=machine,
                     canary=machine.canary)


def _by_impl(doc, impl):
    return [p for p in doc["points"] if p["impl"] == impl]


def test_points_keep_raw_samples_rounds_and_canary(tmp_path):
    doc = sweep(tmp_path, "a.json", Machine(0))
    for p in doc["points"]:
        assert p["status"] == "ok"
        assert len(p["times_s"]) == len(p["rounds"]) == len(p["canary_s"]) == p["samples"]
        assert p["rounds"] == sorted(p["rounds"])
    # Samples of one size share their rounds: they are pairs.
    for a, b in zip(_by_impl(doc, "numpy"), _by_impl(doc, "fake"), strict=True):
        assert set(b["rounds"]) <= set(a["rounds"])


def test_in_run_verdicts_come_from_the_paired_interval(tmp_path):
    same = sweep(tmp_path, "same.json", Machine(1))
    fast = sweep(tmp_path, "fast.json", Machine(2), fake_cost=0.5e-5)
    verdicts_same = [p["ratio"]["verdict"] for p in _by_impl(same, "fake")]
    verdicts_fast = [p["ratio"]["verdict"] for p in _by_impl(fast, "fake")]
    assert verdicts_same.count("indistinguishable") / len(verdicts_same) >= 0.95
    assert verdicts_fast.count("faster") / len(verdicts_fast) >= 0.95
    for p in _by_impl(fast, "fake"):
        assert p["ratio"]["lo"] <= p["ratio"]["value"] <= p["ratio"]["hi"]
        assert p["ratio"]["reference"] == "numpy"


def test_adaptive_sampling_stops_at_the_target_or_says_it_did_not(tmp_path):
    quiet = sweep(tmp_path, "quiet.json", Machine(3, drift=0.0, sigma=0.01))
    policy = SweepConfig(quick=True).policy()
    for p in quiet["points"]:
        assert p["precision"]["met"], p["precision"]
        assert p["samples"] < policy.max_samples      # stopped early, at the target
        assert p["precision"]["median"] <= 0.03
    noisy = sweep(tmp_path, "noisy.json", Machine(4, sigma=0.6), budget_s=0.05)
    unmet = [p for p in noisy["points"] if not p["precision"]["met"]]
    assert unmet
    for p in unmet:
        assert any("precision target" in w for w in p["warnings"])


def test_measure_interleaved_keeps_the_reference_sampling_while_others_need_pairs():
    machine = Machine(5, drift=0.0, sigma=0.0)
    quick = lambda: machine.spend(1e-4)  # noqa: E731  (deterministic: precise at once)
    noisy_rng = np.random.default_rng(0)
    noisy = lambda: machine.spend(1e-4 * math.exp(noisy_rng.normal(0, 0.3)))  # noqa: E731
    policy = timing.Policy(min_sample_s=1e-3, min_samples=5, max_samples=60, budget_s=100.0)
    ref, other = timing.measure_interleaved([quick, noisy], policy, reference=0, clock=machine)
    assert other.stats.samples > policy.min_samples
    assert set(other.rounds) <= set(ref.rounds)   # every sample of the other has its pair
    assert ref.ratio_precision is None and other.ratio_precision is not None


@pytest.mark.parametrize("second_speed", [1.0, 1.25])
def test_identical_runs_compare_as_no_change(tmp_path, second_speed):
    # The second run is on a machine 25% slower overall: the canary removes that.
    base = sweep(tmp_path, "base.json", Machine(10))
    new = sweep(tmp_path, "new.json", Machine(11, run_speed=second_speed))
    result = compare.compare(base, new)
    assert result.count(compare.SAME) / len(result.rows) >= 0.95
    assert not result.any_slower
    assert all(r.method == "canary" for r in result.rows)
    warned = any(line.startswith("WARNING: the canary took 2") and "more time in NEW" in line
                 for line in compare.summary_lines(result))
    assert warned == (second_speed != 1.0)
    if second_speed != 1.0:
        assert result.drift == pytest.approx(second_speed, rel=0.05)


def test_a_ten_percent_slowdown_is_detected(tmp_path):
    base = sweep(tmp_path, "base.json", Machine(20))
    new = sweep(tmp_path, "new.json", Machine(21, run_speed=0.9), fake_cost=1.1e-5 / 0.9)
    result = compare.compare(base, new)
    fake_rows = [r for r in result.rows if r.key[0] == "fake"]
    numpy_rows = [r for r in result.rows if r.key[0] == "numpy"]
    assert sum(r.verdict == compare.SLOWER for r in fake_rows) / len(fake_rows) >= 0.90
    # The machine was 10% faster in the second run: numpy must not be called faster.
    assert sum(r.verdict == compare.SAME for r in numpy_rows) / len(numpy_rows) >= 0.90
    assert result.any_slower
    assert any("fake" in line and "slower" in line for line in compare.summary_lines(result))


def test_an_implementation_that_feels_half_the_drift_is_corrected_by_half(
        tmp_path, monkeypatch):
    """fake feels half of the machine's moves (its time goes as speed^0.5), the canary
    and numpy all of them; the second run is on a machine 25% slower. compare reads
    θ ≈ 0.5 off the passes of each run and divides fake's times by canary^θ: no
    change. Divided by the whole canary, fake would look 1.25^0.5 = 12% faster."""
    machine = {"sensitivity": {"fake": 0.5}}
    base = sweep(tmp_path, "base.json", Machine(120, **machine))
    new = sweep(tmp_path, "new.json", Machine(121, run_speed=1.25, **machine))
    result = compare.compare(base, new)
    assert result.sensitivity["fake"] == pytest.approx(0.5, abs=0.2)
    assert result.sensitivity["numpy"] == pytest.approx(1.0, abs=0.2)
    for impl in ("numpy", "fake"):
        rows = [r for r in result.rows if r.key[0] == impl]
        assert sum(r.verdict == compare.SAME for r in rows) / len(rows) >= 0.9
    assert any("fake 0.5" in line or "fake 0.4" in line or "fake 0.6" in line
               for line in compare.summary_lines(result))
    # The whole canary over-corrects fake: it is then called faster nearly everywhere.
    monkeypatch.setattr(compare, "_sensitivity", lambda points: 1.0)
    full = compare.compare(base, new)
    fake_rows = [r for r in full.rows if r.key[0] == "fake"]
    assert sum(r.verdict == compare.FASTER for r in fake_rows) / len(fake_rows) >= 0.5


def _passes_point(rng, theta, sigma, passes=3, per_pass=5):
    """A point whose pass medians follow canary^theta with log noise sigma."""
    x = rng.normal(0, 0.1, passes)
    times, canary, rounds = [], [], []
    for j in range(passes):
        y = theta * x[j] + rng.normal(0, sigma)
        for i in range(per_pass):
            times.append(math.exp(y) * 1e-3)
            canary.append(math.exp(x[j]) * 1e-3)
            rounds.append(j * per_pass + i)
    return {"times_s": times, "canary_s": canary, "rounds": rounds,
            "pass_starts": [j * per_pass for j in range(passes)]}


def test_the_sensitivity_comes_with_its_standard_error():
    """θ is a least-squares slope: its standard error is σ/√Sxx, and over many
    synthetic sets the estimates scatter by about that error."""
    rng = np.random.default_rng(5)
    got = [compare._sensitivity_fit([_passes_point(rng, 0.5, 0.03) for _ in range(12)])
           for _ in range(200)]
    theta, se = np.array(got).T
    assert np.mean(theta) == pytest.approx(0.5, abs=0.02)
    assert np.std(theta) == pytest.approx(np.median(se), rel=0.25)
    assert np.mean(np.abs(theta - 0.5) < 1.96 * se) >= 0.9
    # Nothing to read it from (a canary that never moves): θ = 1, no error claimed.
    flat = [{**_passes_point(rng, 0.5, 0.03), "canary_s": [1e-3] * 15} for _ in range(12)]
    assert compare._sensitivity_fit(flat) == (1.0, 0.0)


def test_a_ten_percent_slowdown_of_a_half_sensitive_implementation_is_detected(tmp_path):
    machine = {"sensitivity": {"fake": 0.5}}
    base = sweep(tmp_path, "base.json", Machine(130, **machine))
    new = sweep(tmp_path, "new.json", Machine(131, run_speed=0.9, **machine),
                fake_cost=1.1e-5 / 0.9 ** 0.5)
    result = compare.compare(base, new)
    fake_rows = [r for r in result.rows if r.key[0] == "fake"]
    assert sum(r.verdict == compare.SLOWER for r in fake_rows) / len(fake_rows) >= 0.9
    assert result.any_slower
    assert any(line.startswith("exit status 1") for line in compare.summary_lines(result))


def test_compare_warns_about_runs_that_differ(tmp_path):
    base = sweep(tmp_path, "base.json", Machine(30))
    new = sweep(tmp_path, "new.json", Machine(31))
    new["machine"] = dict(new["machine"], cpu_model="Another CPU")
    new["threads"] = dict(new["threads"], numba_threads=2)
    result = compare.compare(base, new)
    assert any("CPU model" in d for d in result.differences)
    assert any("numba threads" in d for d in result.differences)
    assert any(line.startswith("WARNING") for line in compare.summary_lines(result))
    assert result.provenance["NEW"]["mlpbench"]


def test_passes_spread_each_point_over_the_run(tmp_path):
    doc = sweep(tmp_path, "a.json", Machine(40))
    for p in doc["points"]:
        assert p["passes"] == 3 and len(p["pass_starts"]) == 3
    # The first pass of every size comes before the second pass of any.
    firsts = [p["pass_starts"][1] for p in _by_impl(doc, "numpy")]
    assert max(p["pass_starts"][0] for p in doc["points"]) == 0
    assert all(f > 0 for f in firsts)


def test_process_to_process_noise_is_read_off_and_not_called_a_change(tmp_path):
    """Every point moves by ~4% from one process to another (sd), which the samples of
    one run cannot show: compare reads that noise off the points' spread and widens its
    intervals, so identical runs still give "no change" at >= 95% of points."""
    base = sweep(tmp_path, "base.json", Machine(50, process=0.04))
    new = sweep(tmp_path, "new.json", Machine(51, process=0.04))
    result = compare.compare(base, new)
    assert result.count(compare.SAME) / len(result.rows) >= 0.95
    assert all(r.by_pass for r in result.rows)
    raw_noise, cor_noise = result.noise
    assert 0.025 <= cor_noise <= 0.09      # the log ratio's own: 0.04 * sqrt(2) = 0.057
    assert any("run-to-run noise" in line for line in compare.summary_lines(result))


def test_a_ten_percent_slowdown_is_detected_through_process_noise(tmp_path):
    base = sweep(tmp_path, "base.json", Machine(60, process=0.015))
    new = sweep(tmp_path, "new.json", Machine(61, process=0.015), fake_cost=1.1e-5)
    result = compare.compare(base, new)
    fake_rows = [r for r in result.rows if r.key[0] == "fake"]
    numpy_rows = [r for r in result.rows if r.key[0] == "numpy"]
    assert sum(r.verdict == compare.SLOWER for r in fake_rows) / len(fake_rows) >= 0.90
    assert sum(r.verdict == compare.SAME for r in numpy_rows) / len(numpy_rows) >= 0.90


def test_replicate_runs_see_the_process_noise_that_one_run_cannot(tmp_path):
    """Three runs a side, every point moving ~4% from process to process: the runs'
    passes are pooled per side, so identical code is "no change" at >= 95% of points
    and a 10% slowdown is seen at >= 90% (one run a side sees it at about 60%)."""
    def runs(tag, seed, **kw):
        return [sweep(tmp_path, f"{tag}{i}.json", Machine(seed + i, process=0.04),
                      sizes=SIZES[:16], **kw) for i in range(3)]

    base, same, slow = runs("a", 70), runs("b", 80), runs("c", 90, fake_cost=1.1e-5)
    result = compare.compare(base[0], same[0], base_more=base[1:], new_more=same[1:])
    assert result.replicates == (3, 3)
    assert result.count(compare.SAME) / len(result.rows) >= 0.95
    assert any("replicate runs: 3 BASE, 3 NEW" in line for line in compare.summary_lines(result))
    result = compare.compare(base[0], slow[0], base_more=base[1:], new_more=slow[1:])
    fake_rows = [r for r in result.rows if r.key[0] == "fake"]
    numpy_rows = [r for r in result.rows if r.key[0] == "numpy"]
    assert sum(r.verdict == compare.SLOWER for r in fake_rows) / len(fake_rows) >= 0.9
    assert sum(r.verdict == compare.SAME for r in numpy_rows) / len(numpy_rows) >= 0.9


@pytest.mark.parametrize("seed", [200, 210, 220])
def test_a_whole_implementation_ten_percent_slower_fails_the_gate_through_process_noise(
        tmp_path, seed):
    """Every point moves ~4% from process to process, so one run a side finds a 10%
    slowdown at only some of the points; over all its points the implementation is
    called slower and the exit status fails, while numpy, unchanged, is not."""
    def run(name, s, **kw):
        return sweep(tmp_path, name, Machine(s, process=0.04), sizes=SIZES[:16], **kw)

    base, same, slow = run("a.json", seed), run("b.json", seed + 1), run(
        "c.json", seed + 2, fake_cost=1.1e-5)
    result = compare.compare(base, same)
    assert [i.verdict for i in result.impls] == [compare.SAME, compare.SAME]
    assert not result.any_slower
    result = compare.compare(base, slow)
    impls = {i.impl: i for i in result.impls}
    assert impls["fake"].verdict == compare.SLOWER and impls["fake"].gate
    assert impls["fake"].lo < 1.1 < impls["fake"].hi
    assert impls["numpy"].verdict == compare.SAME and not impls["numpy"].gate
    assert result.any_slower
    lines = compare.summary_lines(result)
    assert any("per implementation" in ln and "fake x1.1" in ln for ln in lines)
    assert any(ln.startswith("exit status 1") and ln.endswith("implementations (Holm at "
                                                              "2.5%): fake.") for ln in lines)


def test_points_scattered_beyond_their_intervals_widen_the_implementation_interval():
    """Tight intervals whose points disagree: the spread, not the intervals, sets the
    implementation's standard error, so it is not called slower on their mean."""
    def row(i, v):
        r = compare.Row(("x", "float64", "step", i, 3, 4, 3, 0.0, 0.0), {}, {}, v,
                        v / 1.01, v * 1.01, compare.SAME, method="samples")
        return r

    tight = [row(i, v) for i, v in enumerate([0.95, 1.15, 0.97, 1.17])]
    got = compare._impl_row("x", tight, 0.05)
    assert got.verdict == compare.SAME and got.lo < 1.0 < got.hi
    agree = [row(i, v) for i, v in enumerate([1.05, 1.07, 1.06, 1.08])]
    got = compare._impl_row("x", agree, 0.05)
    assert got.verdict == compare.SLOWER and got.p_slower < 0.001


def test_compare_command_takes_replicate_runs(tmp_path, capsys):
    from mlpbench.commands import main

    for i in range(2):
        sweep(tmp_path, f"a{i}.json", Machine(100 + i), sizes=[1, 2, 3])
        sweep(tmp_path, f"b{i}.json", Machine(110 + i), sizes=[1, 2, 3])
    p = {name: str(tmp_path / f"{name}.json") for name in ("a0", "a1", "b0", "b1")}
    assert main(["compare", p["a0"], p["b0"], "--base-runs", p["a1"],
                 "--new-runs", p["b1"]]) == 0
    assert "replicate runs: 2 BASE, 2 NEW" in capsys.readouterr().out
    assert main(["compare", p["a0"], p["b0"], "--base-runs",
                 str(tmp_path / "missing.json")]) == 2


def test_the_memory_bound_is_timed_in_the_same_rounds_and_kept_per_sample():
    from mlpbench.harness.sweep import new_point, time_points
    from mlpbench.harness.tables import ratio_rows

    machine = Machine(3, drift=0.1, sigma=0.01)
    ready = []
    for name, cost in (("numpy", 3e-5), ("numba", 1.5e-5)):
        p = new_point(name, "float64", "step", {"n": 1, "d": 3, "d_h": 4, "m": 3}, 0.0, 0.0)
        p["cold_s"] = 0.0
        ready.append((p, lambda c=cost, n=name: machine.spend(c, n)))
    policy = timing.Policy(min_samples=8, max_samples=30, budget_s=0.5, precision=0.0)
    time_points(ready, policy, lambda: machine.spend(2e-5, "canary"), clock=machine,
                bound=lambda: machine.spend(1e-5, "bound"))
    points = [p for p, _ in ready]
    for p in points:
        assert len(p["bound_s"]) == len(p["times_s"]) == len(p["canary_s"]) >= 8
        assert all(b is not None for b in p["bound_s"])
    doc = {"threads": {"numba_threads": 1}, "points": points}
    (row,) = ratio_rows([doc])
    assert row["bound"]["lo"] <= 1.5 <= row["bound"]["hi"]  # the drift cancels in pairs
    assert abs(row["bound"]["ratio"] - 1.5) < 0.05
    # A later pass without the bound keeps the lists aligned: nulls for its samples.
    time_points(ready, policy, lambda: machine.spend(2e-5, "canary"), clock=machine)
    for p in points:
        assert len(p["bound_s"]) == len(p["times_s"])
        assert p["bound_s"][-1] is None


def test_a_sweep_without_a_bound_writes_no_bound(tmp_path):
    doc = sweep(tmp_path, "a.json", Machine(0), sizes=[1, 2])
    assert not any("bound_s" in p for p in doc["points"])  # a synthetic canary: no bound
