"""Timing of callables: cold call, calibrated loops, samples, robust statistics.

The first call (numba compiles there) is timed on its own and never mixed into
the figures. Then calls are grouped in loops long enough for the timer (at least
``min_sample_s`` each) and repeated until enough samples are in; statistics are
per call. The garbage collector is off while timing. ``measure_interleaved``
takes the samples of several callables in turns (A B C A B C ...), so that a
machine whose speed drifts (a shared host, turbo, a neighbour's job) slows them
alike and their ratio stays honest.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: IQR/median above this is reported as a high spread.
HIGH_SPREAD = 0.10


@dataclass(frozen=True)
class Policy:
    """How long to time: the sample length, how many samples, the time allowed."""

    min_sample_s: float = 1e-3   # one sample lasts at least this long (timer resolution)
    target_s: float = 1.0        # aim for about this much sampling per measurement
    min_samples: int = 5
    max_samples: int = 200
    budget_s: float = 20.0       # never sample past this (min_samples still taken)


@dataclass(frozen=True)
class Stats:
    """Seconds per call, from ``samples`` samples of ``loops`` calls each."""

    median_s: float
    q1_s: float
    q3_s: float
    iqr_s: float
    min_s: float
    max_s: float
    mean_s: float
    samples: int
    loops: int
    high_spread: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextmanager
def gc_disabled():
    """Turn the garbage collector off for the block, restoring its previous state.

    No collection runs inside the block, so none is forced before it either (a full
    collection costs ~0.2 s once numba is loaded).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def time_once(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds of one call of ``fn`` and its result."""
    with gc_disabled():
        start = time.perf_counter()
        result = fn()
        return time.perf_counter() - start, result


def _run(fn: Callable[[], Any], loops: int) -> float:
    start = time.perf_counter()
    for _ in range(loops):
        fn()
    return time.perf_counter() - start


def summarize(per_call: list[float], loops: int) -> Stats:
    """Robust statistics of per-call times."""
    a = np.asarray(per_call, dtype=np.float64)
    q1, median, q3 = (float(v) for v in np.percentile(a, [25, 50, 75]))
    iqr = q3 - q1
    return Stats(median_s=median, q1_s=q1, q3_s=q3, iqr_s=iqr, min_s=float(a.min()),
                 max_s=float(a.max()), mean_s=float(a.mean()), samples=int(a.size),
                 loops=loops, high_spread=bool(median > 0 and iqr / median > HIGH_SPREAD))


def _calibrate(fn: Callable[[], Any], min_sample_s: float) -> tuple[int, float, float]:
    """Grow the loop count until one loop lasts ``min_sample_s``; doubles as warm-up.

    Returns (loops, seconds of the last loop, seconds spent in all).
    """
    loops, elapsed = 1, _run(fn, 1)
    spent = elapsed
    while elapsed < min_sample_s:
        grow = min_sample_s / max(elapsed, 1e-9) * 1.25
        loops = int(min(max(2 * loops, math.ceil(loops * grow)), 10**7))
        elapsed = _run(fn, loops)
        spent += elapsed
    return loops, elapsed, spent


def measure_interleaved(fns: list[Callable[[], Any]], policy: Policy = Policy(),
                        budgets: list[float] | None = None) -> list[tuple[Stats, float]]:
    """Time several callables with their samples taken in turns; one ``(Stats, seconds
    spent)`` per callable.

    Each is calibrated on its own first (its loop count, as in :func:`measure`); then
    every round takes one sample of each callable that still wants one, after one
    loop that is not kept (it re-warms the caches the other callables used). A callable
    stops at ``max(min_samples, target_s / sample length)`` samples (at most
    ``max_samples``), or once past ``min_samples`` when its budget (``budgets[i]``,
    default ``policy.budget_s``) is spent.
    """
    budgets = list(budgets) if budgets is not None else [policy.budget_s] * len(fns)
    with gc_disabled():
        calibrated = [_calibrate(fn, policy.min_sample_s) for fn in fns]
        loops = [c[0] for c in calibrated]
        last = [c[1] for c in calibrated]
        spent = [c[2] for c in calibrated]
        wanted = [max(policy.min_samples,
                      min(policy.max_samples, math.ceil(policy.target_s / max(e, 1e-9))))
                  for e in last]
        samples: list[list[float]] = [[] for _ in fns]

        def open_(i: int) -> bool:
            got = len(samples[i])
            if got >= wanted[i]:
                return False
            return got < policy.min_samples or spent[i] + last[i] <= budgets[i]

        active = [i for i in range(len(fns)) if open_(i)]
        switching = len(fns) > 1
        while active:
            for i in active:
                if switching:
                    # The previous turn ran other code over other data: one loop, not
                    # kept, brings this callable's code and data back into the caches.
                    spent[i] += _run(fns[i], loops[i])
                last[i] = _run(fns[i], loops[i])
                spent[i] += last[i]
                samples[i].append(last[i] / loops[i])
            active = [i for i in active if open_(i)]
    return [(summarize(samples[i], loops[i]), spent[i]) for i in range(len(fns))]


def measure(fn: Callable[[], Any], policy: Policy = Policy()) -> Stats:
    """Time warm calls of ``fn`` (call it once before: that is the cold call).

    Calibration doubles as warm-up (its times are dropped): the loop count grows
    until one loop of calls lasts ``policy.min_sample_s``. Samples are then taken until both
    ``min_samples`` and ``target_s`` are reached, or ``max_samples``, or the
    budget runs out.
    """
    with gc_disabled():
        loops, elapsed, spent = _calibrate(fn, policy.min_sample_s)
        samples: list[float] = []  # calibration was the warm-up; its times are not kept
        wanted = max(policy.min_samples, min(policy.max_samples,
                                             math.ceil(policy.target_s / max(elapsed, 1e-9))))
        while len(samples) < wanted:
            if len(samples) >= policy.min_samples and spent + elapsed > policy.budget_s:
                break
            elapsed = _run(fn, loops)
            spent += elapsed
            samples.append(elapsed / loops)
    return summarize(samples, loops)
