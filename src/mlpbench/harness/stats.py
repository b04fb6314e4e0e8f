"""Statistics of timing samples: intervals, paired ratios, verdicts, exponents.

Every interval here is distribution-free, so it holds on a noisy shared machine
whose timing noise is skewed and heavy-tailed:

- the median of one sample set: the binomial order statistics (sign-test interval);
- the ratio of two implementations timed in the same rounds: the median of the
  per-round log ratios, with the same order-statistic interval. Pairing by round
  cancels what a round shares (the machine's speed at that moment), which is why
  the harness samples implementations in turns;
- the ratio of two runs (``compare``): the Hodges–Lehmann shift of the log times,
  with its Mann–Whitney interval, optionally on times divided by the canary timed
  in the same round (drift-corrected);
- an exponent: a bootstrap over each size's samples of the log-log slope, widened
  by the slope's own t-interval over the medians (lack of fit).

A verdict ("faster", "slower", "indistinguishable") is read from an interval and
a minimum effect size, never from a point estimate alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
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
    "median_ci",
    "paired_ratio",
    "relative_halfwidth",
    "run_ratio",
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

