"""Statistics of timing samples: intervals, paired ratios, verdicts, exponents.

Every interval here but one is distribution-free, so it holds on a noisy shared
machine whose timing noise is skewed and heavy-tailed (the exception, between runs
with passes, works on per-pass medians, which are near-normal):

- the median of one sample set: the binomial order statistics (sign-test interval);
- the ratio of two implementations timed in the same rounds: the median of the
  per-round log ratios, with the same order-statistic interval. Pairing by round
  cancels what a round shares (the machine's speed at that moment), which is why
  the harness samples implementations in turns;
- the ratio of two runs (``compare``): from the per-pass estimates (a moderated t over
  the passes, each pass's median divided by its canary to the power of the
  implementation's sensitivity to it: drift-corrected), widened by the
  run-to-run noise read off the comparison (``run_noise``); for files with one pass,
  the Hodges–Lehmann shift of the log times with its Mann–Whitney interval;
- an exponent: a bootstrap over each size's samples of the log-log slope, widened
  by the slope's own t-interval over the medians (lack of fit).

A verdict ("faster", "slower", "indistinguishable") is read from an interval and
a minimum effect size, never from a point estimate alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

__all__ = [
    "CONFIDENCE",
    "EXPONENT_MAX_WIDTH",
    "MIN_EFFECT",
    "Estimate",
    "Exponent",
    "exponent_label",
    "fit_exponent",
    "holm",
    "p_slower",
    "median_ci",
    "paired_ratio",
    "pass_ratio",
    "pass_variance",
    "run_noise",
    "relative_halfwidth",
    "run_ratio",
    "widen",
    "verdict",
]

#: Confidence of every interval the project prints.
CONFIDENCE = 0.95
#: Smallest relative change called a difference (3%): below it, "indistinguishable".
MIN_EFFECT = 0.03
#: An exponent whose interval is wider than this is "not determined".
EXPONENT_MAX_WIDTH = 0.5
#: Half-width of the band around 1 that counts as linear.
LINEAR_TOLERANCE = 0.1


@dataclass(frozen=True)
class Estimate:
    """A value with its confidence interval, from ``count`` samples (or pairs)."""

    value: float
    lo: float
    hi: float
    count: int

    @property
    def halfwidth(self) -> float:
        """Relative half-width of the interval: ``max(value/lo, hi/value) − 1``."""
        return relative_halfwidth(self.value, self.lo, self.hi)

    def as_dict(self) -> dict[str, float | int]:
        return {"value": self.value, "lo": self.lo, "hi": self.hi, "count": self.count}


def relative_halfwidth(value: float, lo: float, hi: float) -> float:
    """``max(value/lo, hi/value) − 1`` for a positive value and interval; inf if unknown."""
    if not (value > 0 and lo > 0 and hi > 0 and math.isfinite(hi)):
        return math.inf
    return max(value / lo, hi / value) - 1.0


def _order_ranks(n: int, confidence: float) -> tuple[int, int]:
    """0-based ranks (lo, hi) of the order statistics bracketing the median with at least
    ``confidence`` coverage: the largest k with P(Binomial(n, 1/2) < k) <= alpha/2."""
    alpha = 1.0 - confidence
    cdf, k = 0.0, 0
    # P(B <= j) accumulated until it would exceed alpha/2.
    while k < n:
        # P(B = k) in logs: comb(n, k) overflows a float from n ≈ 1030
        p = math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                     - n * math.log(2))
        if cdf + p > alpha / 2:
            break
        cdf += p
        k += 1
    # cdf = P(B <= k-1): the interval [x_(k), x_(n+1-k)] (1-based), i.e. 0-based ranks
    # k-1 and n-k, covers the median with probability 1 - 2·cdf >= confidence.
    return k - 1, n - k


def median_ci(samples: Sequence[float] | np.ndarray,
              confidence: float = CONFIDENCE) -> Estimate:
    """Median of ``samples`` and its distribution-free interval (binomial order statistics).

    With fewer than 6 samples no 95% interval exists: the range of the samples is
    returned (coverage 1 − 2·0.5ⁿ, e.g. 94% for 5).
    """
    x = np.sort(np.asarray(samples, dtype=np.float64))
    n = x.size
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    lo, hi = _order_ranks(n, confidence)
    if lo < 0 or lo > hi:  # too few samples for that confidence
        lo, hi = 0, n - 1
    return Estimate(float(np.median(x)), float(x[lo]), float(x[hi]), n)


def _log_median(log_values: np.ndarray, confidence: float) -> Estimate:
    est = median_ci(log_values, confidence)
    return Estimate(math.exp(est.value), math.exp(est.lo), math.exp(est.hi), est.count)


def paired_ratio(times_a: Sequence[float], rounds_a: Sequence[int],
                 times_b: Sequence[float], rounds_b: Sequence[int],
                 confidence: float = CONFIDENCE) -> Estimate:
    """Time of a over time of b, from the samples of the rounds both were timed in.

    The estimate is the median of the per-round ratios a_r / b_r, with the order-statistic
    interval of that median (computed on logs, so the ratio and its inverse agree).
    Samples of a round only one of them has are left out.
    """
    b_by_round = {}
    for t, r in zip(times_b, rounds_b, strict=True):
        b_by_round.setdefault(int(r), []).append(float(t))
    logs = []
    for t, r in zip(times_a, rounds_a, strict=True):
        for tb in b_by_round.get(int(r), ()):
            if t > 0 and tb > 0:
                logs.append(math.log(t / tb))
    if not logs:
        return Estimate(math.nan, math.nan, math.nan, 0)
    return _log_median(np.asarray(logs), confidence)


def run_ratio(base: Sequence[float], new: Sequence[float],
              confidence: float = CONFIDENCE) -> Estimate:
    """Typical ratio new/base of two independent sample sets (two runs).

    Hodges–Lehmann: the median of all pairwise differences of log times, exponentiated;
    its interval from the order statistics the Mann–Whitney distribution gives (normal
    approximation with the continuity margin, fine from about 5 samples each).
    """
    a = np.log(np.asarray(base, dtype=np.float64))
    b = np.log(np.asarray(new, dtype=np.float64))
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    n, m = a.size, b.size
    if n == 0 or m == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    diffs = np.sort((b[None, :] - a[:, None]).ravel())
    nm = n * m
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    k = int(math.floor(nm / 2 - z * math.sqrt(nm * (n + m + 1) / 12.0)))
    k = min(max(k, 0), (nm - 1) // 2)
    value = float(np.median(diffs))
    lo, hi = float(diffs[k]), float(diffs[nm - 1 - k])
    return Estimate(math.exp(value), math.exp(lo), math.exp(hi), min(n, m))


#: Degrees of freedom given to the pooled pass variance in :func:`pass_ratio`.
PASS_PRIOR_DF = 8


def pass_variance(base_logs: Sequence[float], new_logs: Sequence[float]) -> tuple[float, int]:
    """The pooled variance of the pass estimates of one point in two runs, and its
    degrees of freedom (0 when a side has fewer than two passes)."""
    a = np.asarray(base_logs, dtype=np.float64)
    b = np.asarray(new_logs, dtype=np.float64)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    df = a.size + b.size - 2
    if a.size < 2 or b.size < 2:
        return math.nan, 0
    return float((((a - a.mean()) ** 2).sum() + ((b - b.mean()) ** 2).sum()) / df), int(df)


def pass_ratio(base_logs: Sequence[float], new_logs: Sequence[float], noise: float = 0.0,
               prior_var: float | None = None, prior_df: int = PASS_PRIOR_DF,
               confidence: float = CONFIDENCE) -> Estimate:
    """Ratio new/base of two runs from their per-pass estimates (log medians).

    The passes of a run are spread over its whole duration, so how far they scatter is
    how far the run's estimate moves with the machine's slow patches; the samples
    within one pass are not independent of each other on that scale. Estimate: the
    difference of the mean log pass medians. Its interval: Student's t on the pooled
    pass variance of the point, moderated toward ``prior_var`` (the typical pass
    variance of the comparison's points) with ``prior_df`` degrees of freedom, as
    limma's moderated t does for few replicates (three passes alone would give a t
    with 4 degrees of freedom and an interval that swings with each pass); then widened
    in quadrature by ``noise`` (a log standard deviation each point carries from one
    process to another, which passes inside one process cannot see: ``run_noise``).
    ``count`` is the fewer passes; with fewer than two passes on a side, NaN (use
    :func:`run_ratio`).
    """
    from scipy.stats import t as student_t

    a = np.asarray(base_logs, dtype=np.float64)
    b = np.asarray(new_logs, dtype=np.float64)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    var, df = pass_variance(a, b)
    if df == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    if prior_var is not None and math.isfinite(prior_var) and prior_df > 0:
        var, df = (prior_df * prior_var + df * var) / (prior_df + df), df + prior_df
    diff = float(b.mean() - a.mean())
    half = float(student_t.ppf(0.5 + confidence / 2, df)) * math.sqrt(
        var * (1 / a.size + 1 / b.size))
    est = Estimate(math.exp(diff), math.exp(diff - half), math.exp(diff + half),
                   int(min(a.size, b.size)))
    return widen(est, noise, confidence)


def widen(est: Estimate, noise: float, confidence: float = CONFIDENCE) -> Estimate:
    """``est`` with its (log) half-width widened in quadrature by ``noise``, a log
    standard deviation the interval does not hold (see :func:`run_noise`)."""
    if not noise > 0 or not (est.value > 0 and est.lo > 0 and math.isfinite(est.hi)):
        return est
    v = math.log(est.value)
    half = max(v - math.log(est.lo), math.log(est.hi) - v)
    half = math.hypot(half, NormalDist().inv_cdf(0.5 + confidence / 2) * noise)
    return Estimate(est.value, math.exp(v - half), math.exp(v + half), est.count)


def run_noise(log_ratios: Sequence[float], halfwidths: Sequence[float],
              groups: Sequence[Any], confidence: float = CONFIDENCE) -> float:
    """The run-to-run noise of a comparison: a log standard deviation.

    Between two processes, a point also moves by what neither run's own samples show
    (measured on a shared VM: the same code 5–7% faster in one process at every size).
    That spread is read off the comparison itself: the log ratios about the median of
    their group (an implementation: a real change usually moves one implementation at
    every size, and would not count), scaled for the median taken out, as a robust
    standard deviation (1.4826 × MAD), less the sampling variance the intervals already
    hold (``halfwidths``: their log half-widths). Zero with fewer than 6 points, or
    where no group has two.
    """
    r = np.asarray(log_ratios, dtype=np.float64)
    se = np.asarray(halfwidths, dtype=np.float64) / NormalDist().inv_cdf(0.5 + confidence / 2)
    residuals = []
    for g in dict.fromkeys(groups):
        idx = [i for i, v in enumerate(groups) if v == g and math.isfinite(r[i])]
        if len(idx) >= 2:
            k = len(idx)
            residuals.extend((r[idx] - np.median(r[idx])) * math.sqrt(k / (k - 1)))
    if len(residuals) < 6:
        return 0.0
    spread = 1.4826 * float(np.median(np.abs(residuals)))
    sampling = float(np.median(se[np.isfinite(se)] ** 2)) if np.isfinite(se).any() else 0.0
    return math.sqrt(max(0.0, spread ** 2 - sampling))


def verdict(est: Estimate, min_effect: float = MIN_EFFECT) -> str:
    """"slower" / "faster" when the whole interval lies beyond 1 and the estimate is
    at least ``min_effect`` away from 1; else "indistinguishable" (includes the case
    of too few samples to tell). The ratio is (time of the subject) / (time of the
    reference): above 1 is slower."""
    if not (est.count > 0 and math.isfinite(est.lo) and math.isfinite(est.hi)):
        return "indistinguishable"
    if est.lo > 1.0 and est.value >= 1.0 + min_effect:
        return "slower"
    if est.hi < 1.0 and est.value <= 1.0 / (1.0 + min_effect):
        return "faster"
    return "indistinguishable"


def p_slower(est: Estimate, confidence: float = CONFIDENCE) -> float:
    """One-sided p-value of "the ratio is above 1" (the subject is slower), read off the
    interval as a normal one on the log scale (its larger log half-width over z); 1
    where the interval is missing or the ratio is not above 1."""
    if not (est.count > 0 and est.value > 1.0 and est.lo > 0 and math.isfinite(est.hi)):
        return 1.0
    v = math.log(est.value)
    half = max(v - math.log(est.lo), math.log(est.hi) - v)
    if not half > 0:
        return 0.0
    z = v / (half / NormalDist().inv_cdf(0.5 + confidence / 2))
    return 1.0 - NormalDist().cdf(z)


def holm(p_values: Sequence[float], alpha: float = 1.0 - CONFIDENCE) -> list[bool]:
    """Holm's step-down test: which hypotheses are rejected with a family-wise error
    rate of ``alpha`` over all of them (without it, k points each with a 2.5% chance of
    a false "slower" give at least one with a probability of 1 - 0.975^k: 33% at
    k = 16, and an exit status that fails at random)."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    out = [False] * len(p_values)
    for rank, i in enumerate(order):
        if not p_values[i] <= alpha / (len(p_values) - rank):
            break
        out[i] = True
    return out


@dataclass(frozen=True)
class Exponent:
    """The fitted k of time ∝ size^k over ``sizes``, with its interval and label."""

    k: float
    lo: float
    hi: float
    sizes: tuple[int, ...]
    label: str

    def as_dict(self) -> dict:
        return {"k": self.k, "lo": self.lo, "hi": self.hi, "sizes": list(self.sizes),
                "label": self.label}


def exponent_label(lo: float, hi: float, max_width: float = EXPONENT_MAX_WIDTH,
                   tolerance: float = LINEAR_TOLERANCE) -> str:
    """"linear", "sub-linear", "super-linear" when the interval supports it, else
    "not determined"."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi - lo > max_width:
        return "not determined"
    if hi < 1 - tolerance:
        return "sub-linear"
    if lo > 1 + tolerance:
        return "super-linear"
    if lo >= 1 - tolerance and hi <= 1 + tolerance:
        return "linear"
    return "not determined"


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    xm = x - x.mean()
    return float((xm * (y - y.mean())).sum() / (xm * xm).sum())


def fit_exponent(samples_by_size: Mapping[int, Sequence[float]],
                 confidence: float = CONFIDENCE, n_boot: int = 400,
                 seed: int = 0, max_width: float = EXPONENT_MAX_WIDTH) -> Exponent | None:
    """Fit log t = a + k·log size over the given sizes, using every sample.

    The interval is the wider of (i) a percentile bootstrap in which each size's samples
    are resampled and its median refitted, and (ii) the slope's t-interval over the
    medians, which grows when the sizes do not lie on a line. None with fewer than two
    sizes.
    """
    sizes = sorted(s for s, v in samples_by_size.items() if len(v) and s > 0)
    if len(sizes) < 2:
        return None
    x = np.log(np.asarray(sizes, dtype=np.float64))
    data = [np.asarray(samples_by_size[s], dtype=np.float64) for s in sizes]
    med = np.log([np.median(v) for v in data])
    k = _slope(x, med)
    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    for b in range(n_boot):
        y = np.log([np.median(v[rng.integers(0, v.size, v.size)]) for v in data])
        boots[b] = _slope(x, y)
    alpha = 1 - confidence
    lo, hi = (float(v) for v in np.quantile(boots, [alpha / 2, 1 - alpha / 2]))
    if len(sizes) > 2:
        from scipy.stats import t as student_t

        resid = med - (med.mean() + k * (x - x.mean()))
        dof = len(sizes) - 2
        se = math.sqrt(float((resid**2).sum()) / dof / float(((x - x.mean())**2).sum()))
        t = float(student_t.ppf(0.5 + confidence / 2, dof))
        lo, hi = min(lo, k - t * se), max(hi, k + t * se)
    lo, hi = min(lo, k), max(hi, k)
    return Exponent(k, lo, hi, tuple(sizes), exponent_label(lo, hi, max_width))

