"""Predicting the cost of a point before running it, so that no sweep stalls.

The size variable is the FLOP count of the point (schema.flops), which covers
every axis and the grid. From the points an implementation has already measured,
the time per call is extrapolated along the fitted log-log slope; before any
measurement, implementations known to be slow get a conservative per-FLOP prior.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

#: Seconds per FLOP assumed for an implementation before it has been measured at
#: all. The pure-Python loops took 2-4.5e-7 s/FLOP on the (shared) reference
#: machine; assume the slow end.
PRIOR_S_PER_FLOP = {"loops": 5e-7}

#: Slopes are clamped to this range: cost does not fall with size and, once past
#: per-call overhead, grows about like the FLOP count, a little faster when the
#: arrays outgrow the caches (slope ~1.2 measured from n=256 to 4096). Noisy
#: samples can show steeper slopes that are not there.
MIN_SLOPE, MAX_SLOPE = 0.0, 1.25

#: Assumed slope when only one size has been measured.
DEFAULT_SLOPE = 1.0

#: How many of the largest measured sizes the fit uses. Two: in log-log the cost
#: curve bends upwards (overhead fades), so the local slope at the top end
#: predicts larger sizes better than a fit through the overhead-bound small ones.
FIT_POINTS = 2


def fit_loglog(history: Iterable[tuple[float, float]]) -> tuple[float, float, float] | None:
    """Fit ``log t = a + b log f`` through the largest measured sizes.

    ``history`` holds (flops, seconds per call). Returns (slope, f0, t0): the clamped
    slope and the largest measured point, from which to extrapolate; None if empty.
    """
    pts = sorted((f, t) for f, t in history if f > 0 and t > 0)
    if not pts:
        return None
    pts = pts[-FIT_POINTS:]
    f0, t0 = pts[-1]
    xs = [math.log(f) for f, _ in pts]
    if len(set(xs)) < 2:
        return DEFAULT_SLOPE, f0, t0
    ys = [math.log(t) for _, t in pts]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = (sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
             / sum((x - mx) ** 2 for x in xs))
    return min(max(slope, MIN_SLOPE), MAX_SLOPE), f0, t0


def predict_call_s(impl: str, flops: int,
                   history: Iterable[tuple[float, float]]) -> float | None:
    """Predicted seconds per call of ``impl`` at a point of ``flops`` FLOPs, or None.

    None means there is nothing to predict from: no measurement and no prior.
    Sizes below the largest measured one reuse its time scaled by the slope too.
    """
    fit = fit_loglog(history)
    if fit is not None:
        slope, f0, t0 = fit
        return t0 * (max(flops, 1) / f0) ** slope
    rate = PRIOR_S_PER_FLOP.get(impl)
    return None if rate is None else rate * flops


def calls_per_point(min_samples: int) -> int:
    """Calls a point needs at the least: the cold call, one warm-up, ``min_samples``."""
    return min_samples + 2
