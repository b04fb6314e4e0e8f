"""Timing statistics and the garbage-collector switch (no assertion on durations)."""

import dataclasses
import gc

import numpy as np
import pytest

from mlpbench.harness.timing import Policy, gc_disabled, measure, summarize, time_once


def test_summarize_statistics():
    s = summarize([4.0, 1.0, 3.0, 2.0, 5.0], loops=10)
    assert (s.min_s, s.q1_s, s.median_s, s.q3_s, s.max_s) == (1.0, 2.0, 3.0, 4.0, 5.0)
    assert s.iqr_s == 2.0 and s.mean_s == 3.0 and s.samples == 5 and s.loops == 10
    assert s.high_spread  # IQR is 67% of the median
    assert not summarize([1.0, 1.01, 1.02, 1.0, 1.01], loops=1).high_spread


def test_measure_calibrates_loops_and_keeps_gc_off():
    states = []

    def fn():
        states.append(gc.isenabled())

    policy = Policy(min_sample_s=1e-3, target_s=0.01, min_samples=4, max_samples=8)
    s = measure(fn, policy)
    assert s.loops > 1  # one call is far below 1 ms, so calls were grouped
    assert policy.min_samples <= s.samples <= policy.max_samples
    assert s.min_s <= s.median_s <= s.max_s
    assert not any(states)
    assert gc.isenabled()


def test_measure_stops_at_the_budget_after_min_samples():
    calls = []
    policy = Policy(min_sample_s=0.0, target_s=100.0, min_samples=3, max_samples=1000,
                    budget_s=0.0)
    s = measure(lambda: calls.append(1), policy)
    assert s.samples == 3 and s.loops == 1
    assert len(calls) == 1 + 3  # calibration (warm-up) + the samples


def test_time_once_returns_the_result_and_restores_gc():
    seconds, out = time_once(lambda: 42)
    assert out == 42 and seconds >= 0
    assert gc.isenabled()
    with pytest.raises(KeyError), gc_disabled():
        assert not gc.isenabled()
        {}["missing"]
    assert gc.isenabled()


def test_jit_counters_see_mlpbench_numba_functions():
    from mlpbench import mlp
    from mlpbench.harness.coldstart import jit_counters

    p, X, y = mlp.make_problem(3, 4, 5, 2, seed=0)
    mlp.get("numba").loss(p, X, y)
    compiled, loaded = jit_counters()
    assert compiled >= 0 and loaded >= 0 and compiled + loaded >= 1


def test_cold_start_runs_new_processes_and_reports_each_cost():
    from mlpbench.harness.coldstart import measure_cold_start

    rec = measure_cold_start("numpy", "float64", {"n": 4, "d": 3, "d_h": 5, "m": 2})
    assert rec["impl"] == "numpy" and (rec["n"], rec["m"]) == (4, 2)
    for key in ("compile_s", "cached_first_s", "warm_s", "import_s"):
        assert rec[key] >= 0
    assert rec["cached_first_s"] > 0 and rec["import_s"] > 0


def test_cold_start_failure_names_the_implementation():
    from mlpbench.harness.coldstart import measure_cold_start

    with pytest.raises(RuntimeError, match="no-such-impl"):
        measure_cold_start("no-such-impl", "float64", {"n": 1, "d": 1, "d_h": 1, "m": 2})


def test_interleaved_samples_alternate_between_callables():
    from mlpbench.harness.timing import measure_interleaved

    order = []
    fns = [lambda: order.append("a"), lambda: order.append("b")]
    policy = Policy(min_sample_s=0.0, target_s=0.0, min_samples=4, max_samples=4)
    results = measure_interleaved(fns, policy)
    assert [r.stats.samples for r in results] == [4, 4]
    assert [list(r.rounds) for r in results] == [[0, 1, 2, 3]] * 2
    # calibration runs each once, then the turns alternate: a warm-up loop and a sample
    # of a, then of b, ...
    assert order[2:] == ["a", "a", "b", "b"] * 4


def test_interleaved_turns_warm_up_for_settle_seconds_when_told(monkeypatch):
    """settle_s: each turn keeps warming up (calls not kept) until settle_s has passed,
    then takes its sample; never an idle pause (after one the next calls run slow); one
    warm-up loop by default."""
    from mlpbench.harness import timing

    clock = _Clock()
    order = []
    monkeypatch.setattr(timing.time, "sleep", lambda s: order.append(f"pause {s}"))

    def call(name):
        def f():
            clock.t += 0.125  # binary fractions: the sums are exact
            order.append(name)
        return f

    fns = [call("a"), call("b")]
    policy = Policy(min_sample_s=0.0, target_s=0.0, min_samples=3, max_samples=3)
    timing.measure_interleaved(fns, policy, clock=clock)
    assert order[2:] == ["a", "a", "b", "b"] * 3  # calibration, then warm-up and sample
    order.clear()
    timing.measure_interleaved(fns, dataclasses.replace(policy, settle_s=0.5), clock=clock)
    assert not any(o.startswith("pause") for o in order)
    assert order[2:] == (["a"] * 5 + ["b"] * 5) * 3  # 4 loops warm up (0.5 s), 1 is kept
    # a callable the clock does not see advance stops warming up at the cap
    still = []
    timing.measure_interleaved([lambda: still.append(1), lambda: None],
                               dataclasses.replace(policy, settle_s=1.0), clock=_Clock())
    assert len(still) <= 3 * (timing.SETTLE_MAX_LOOPS + 2) + 1


def test_sweeps_on_more_than_one_thread_settle_by_default():
    from mlpbench.errors import InputError
    from mlpbench.harness.config import SETTLE_S, SweepConfig, validate_config

    assert SweepConfig(threads=2).policy().settle_s == SETTLE_S > 0
    assert SweepConfig(threads=1).policy().settle_s == 0.0
    assert SweepConfig().policy().settle_s == 0.0
    assert SweepConfig(threads=2, settle_s=0.0).policy().settle_s == 0.0
    assert SweepConfig(threads=2).as_dict()["settle_s"] == SETTLE_S
    with pytest.raises(InputError, match="settle"):
        validate_config(SweepConfig(settle_s=-1.0))


class _Clock:
    """A synthetic clock: callables advance it by what they cost."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_interleaved_budget_stops_a_slow_callable_after_min_samples():
    from mlpbench.harness.timing import measure_interleaved

    clock = _Clock()
    rng = np.random.default_rng(0)

    def noisy(cost):
        def call():
            clock.t += cost * np.exp(rng.normal(0, 0.5))  # far too noisy for ±3%
        return call

    policy = Policy(min_sample_s=0.0, min_samples=3, max_samples=50, budget_s=100.0)
    fast, slow = measure_interleaved([noisy(1e-3), noisy(4e-3)], policy,
                                     budgets=[10.0, 0.001], clock=clock)
    assert slow.stats.samples == 3 and slow.spent_s > 0.001
    assert not slow.precision_met
    assert fast.stats.samples == 50 and not fast.precision_met


def test_interleaved_stops_once_precise():
    from mlpbench.harness.timing import measure_interleaved

    clock = _Clock()

    def steady():
        clock.t += 1e-3

    policy = Policy(min_sample_s=0.0, min_samples=7, max_samples=50, budget_s=100.0,
                    precision=0.03)
    (r,) = measure_interleaved([steady], policy, clock=clock)
    assert r.stats.samples == 7 and r.precision_met and r.median_precision == 0.0
