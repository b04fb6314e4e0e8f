"""Interval statistics on synthetic timing samples with known answers (no real timing)."""

import math

import numpy as np
import pytest

from mlpbench.harness import stats


def _lognormal(rng, median, sigma, size):
    return median * np.exp(rng.normal(0.0, sigma, size))


def test_median_ci_covers_the_true_median_at_least_95_percent():
    rng = np.random.default_rng(0)
    hits = 0
    trials = 2000
    for _ in range(trials):
        est = stats.median_ci(_lognormal(rng, 2.0, 0.3, 25))
        hits += est.lo <= 2.0 <= est.hi
    assert hits / trials >= 0.94


def test_median_ci_with_few_samples_is_their_range():
    est = stats.median_ci([3.0, 1.0, 2.0])
    assert (est.lo, est.value, est.hi, est.count) == (1.0, 2.0, 3.0, 3)
    assert math.isnan(stats.median_ci([]).value)


def test_paired_ratio_cancels_drift_shared_by_a_round():
    rng = np.random.default_rng(1)
    rounds = np.arange(40)
    drift = np.exp(rng.normal(0, 0.4, rounds.size))  # the machine's speed per round: ±40%
    a = 1.10 * drift * np.exp(rng.normal(0, 0.01, rounds.size))
    b = 1.00 * drift * np.exp(rng.normal(0, 0.01, rounds.size))
    est = stats.paired_ratio(a, rounds, b, rounds)
    assert est.lo <= 1.10 <= est.hi
    assert est.halfwidth < 0.02  # pairing removed the 40% drift
    assert stats.verdict(est) == "slower"
    inverse = stats.paired_ratio(b, rounds, a, rounds)
    assert inverse.value == pytest.approx(1 / est.value)
    assert stats.verdict(inverse) == "faster"


def test_paired_ratio_uses_only_rounds_both_have():
    est = stats.paired_ratio([2.0, 2.0, 9.0], [0, 1, 5], [1.0, 1.0], [0, 1])
    assert est.count == 2 and est.value == pytest.approx(2.0)


@pytest.mark.parametrize("true_ratio, expected, rate", [
    (1.00, "indistinguishable", 0.95),
    (1.10, "slower", 0.90),
    (1 / 1.10, "faster", 0.90),
])
def test_in_run_verdicts_have_the_documented_error_rates(true_ratio, expected, rate):
    rng = np.random.default_rng(2)
    got = []
    for _ in range(400):
        rounds = np.arange(30)
        drift = np.exp(rng.normal(0, 0.2, 30))
        a = true_ratio * drift * np.exp(rng.normal(0, 0.05, 30))
        b = drift * np.exp(rng.normal(0, 0.05, 30))
        got.append(stats.verdict(stats.paired_ratio(a, rounds, b, rounds)))
    assert got.count(expected) / len(got) >= rate


def test_below_the_minimum_effect_is_indistinguishable_even_if_certain():
    est = stats.Estimate(1.02, 1.015, 1.025, 100)
    assert stats.verdict(est, min_effect=0.03) == "indistinguishable"
    assert stats.verdict(est, min_effect=0.01) == "slower"


def test_run_ratio_detects_a_slowdown_and_not_identical_runs():
    rng = np.random.default_rng(3)
    same = slow = 0
    trials = 300
    for _ in range(trials):
        base = _lognormal(rng, 1.0, 0.08, 30)
        same += stats.verdict(stats.run_ratio(base, _lognormal(rng, 1.0, 0.08, 30)),
                              0.05) == "indistinguishable"
        slow += stats.verdict(stats.run_ratio(base, _lognormal(rng, 1.10, 0.08, 30)),
                              0.05) == "slower"
    assert same / trials >= 0.95
    assert slow / trials >= 0.90


def test_run_ratio_interval_covers_the_true_shift():
    rng = np.random.default_rng(4)
    est = stats.run_ratio(_lognormal(rng, 1.0, 0.1, 200), _lognormal(rng, 1.3, 0.1, 200))
    assert est.lo < 1.3 < est.hi and est.halfwidth < 0.05


@pytest.mark.parametrize("lo, hi, label", [
    (0.95, 1.05, "linear"),
    (1.5, 1.8, "super-linear"),
    (0.2, 0.5, "sub-linear"),
    (-0.48, 2.32, "not determined"),   # the interval the issue quotes: too wide
    (1.02, 1.3, "not determined"),     # neither inside the linear band nor beyond it
    (math.nan, 1.0, "not determined"),
])
def test_exponent_labels_follow_the_interval(lo, hi, label):
    assert stats.exponent_label(lo, hi) == label


def test_fit_exponent_recovers_the_slope_and_flags_noise():
    rng = np.random.default_rng(5)
    sizes = [64, 256, 1024, 4096]
    clean = {s: _lognormal(rng, 1e-6 * s**1.0, 0.05, 20) for s in sizes}
    fit = stats.fit_exponent(clean)
    assert fit.lo <= 1.0 <= fit.hi and fit.label == "linear"
    noisy = {s: _lognormal(rng, 1e-6 * s, 1.5, 5) for s in sizes[:2]}
    assert stats.fit_exponent(noisy).label == "not determined"
    assert stats.fit_exponent({64: [1.0]}) is None


def test_fit_exponent_widens_for_lack_of_fit():
    # Medians exactly known but not on a line: the interval must not be a point.
    samples = {s: [t] * 10 for s, t in {1: 1.0, 2: 1.0, 4: 8.0, 8: 8.0}.items()}
    fit = stats.fit_exponent(samples)
    assert fit.hi - fit.lo > 0.5 and fit.label == "not determined"



def test_pass_ratio_covers_the_true_ratio_about_95_percent_of_the_time():
    rng = np.random.default_rng(7)
    hits = 0
    for _ in range(400):
        a = rng.normal(0.0, 0.03, 3)
        b = rng.normal(math.log(1.1), 0.03, 3)
        est = stats.pass_ratio(a, b)
        hits += est.lo <= 1.1 <= est.hi
    assert 0.90 <= hits / 400 <= 0.99
    same = stats.pass_ratio([0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    assert same.value == 1.0 and same.lo == same.hi == 1.0
    wide = stats.pass_ratio([0.0, 0.0, 0.0], [0.0, 0.0, 0.0], noise=0.05)
    assert wide.lo == pytest.approx(math.exp(-1.96 * 0.05), rel=1e-3)
    assert math.isnan(stats.pass_ratio([0.0], [0.0, 0.1]).value)


def test_run_noise_reads_the_spread_and_ignores_a_shift_of_one_group():
    rng = np.random.default_rng(8)
    groups = [g for g in "abcd" for _ in range(8)]
    logs = rng.normal(0.0, 0.05, len(groups))
    logs[[i for i, g in enumerate(groups) if g == "b"]] += math.log(1.3)  # a real change
    noise = stats.run_noise(logs, [1e-6] * len(groups), groups)
    assert 0.03 <= noise <= 0.075
    # What the intervals already hold is taken out; too few points: zero.
    assert stats.run_noise(logs, [1.96 * 0.2] * len(groups), groups) == 0.0
    assert stats.run_noise([0.1, -0.1], [0.0, 0.0], ["a", "a"]) == 0.0


def test_p_slower_agrees_with_the_interval():
    est = stats.Estimate(1.10, 1.02, 1.18, 3)
    p = stats.p_slower(est)
    assert p < 0.025  # the 95% interval lies above 1
    assert stats.p_slower(stats.Estimate(1.10, 0.98, 1.22, 3)) > 0.025
    assert stats.p_slower(stats.Estimate(0.95, 0.90, 1.00, 3)) == 1.0
    assert stats.p_slower(stats.Estimate(math.nan, math.nan, math.nan, 0)) == 1.0


def test_holm_keeps_the_exit_status_of_identical_code_at_five_percent():
    """16 points of identical code, each with a correct 95% interval: at least one is
    called slower in about 1 - 0.975^16 = 33% of comparisons; with Holm's step-down,
    in about 5% at most, while a point 10 sigma slower still fails the gate."""
    rng = np.random.default_rng(11)
    se, k, trials = 0.03, 16, 1000
    any_point = any_gate = 0
    for _ in range(trials):
        logs = rng.normal(0.0, se, k)
        ests = [stats.Estimate(math.exp(v), math.exp(v - 1.96 * se), math.exp(v + 1.96 * se), 3)
                for v in logs]
        any_point += any(e.lo > 1 for e in ests)
        any_gate += any(stats.holm([stats.p_slower(e) for e in ests]))
    assert 0.2 <= any_point / trials <= 0.45
    assert any_gate / trials <= 0.065  # expected 1 - (1 - 0.05/16)^16 = 0.049
    p = [0.5] * 15 + [stats.p_slower(stats.Estimate(math.exp(0.3), math.exp(0.3 - 1.96 * se),
                                                    math.exp(0.3 + 1.96 * se), 3))]
    assert stats.holm(p) == [False] * 15 + [True]
    assert stats.holm([0.001, 0.02, 0.04]) == [True, True, True]  # 0.02 <= 0.05/2
    assert stats.holm([0.04, 0.03, 0.001]) == [False, False, True]  # 0.03 > 0.05/2
