"""Timing of callables: cold call, calibrated loops, samples, robust statistics.

The first call (numba compiles there) is timed on its own and never mixed into
the figures. Then calls are grouped in loops long enough for the timer (at least
``min_sample_s`` each) and repeated until enough samples are in; statistics are
per call. The garbage collector is off while timing. ``measure_interleaved``
takes the samples of several callables in turns (A B C A B C ...), so that a
machine whose speed drifts (a shared host, turbo, a neighbour's job) slows them
alike and their ratio stays honest; each sample keeps the round it was taken in,
so the samples of one round are known to be pairs.

Sampling is adaptive: past ``min_samples``, a callable stops as soon as the 95%
interval of its median, and of its paired ratio to the reference callable, are
both within ``precision`` (default ±3%), or its budget is spent. The reference
(and any other callable marked ``follow``) keeps sampling while another still
needs pairs. The clock is a parameter, so tests drive the whole loop with a
synthetic timing source.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Sequence
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
    precision: float = 0.03      # stop once the 95% intervals are this narrow (relative)
    settle_s: float = 0.0        # warm-up length of each turn (other pools' threads quiet)


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


@dataclass(frozen=True)
class Sampled:
    """What :func:`measure_interleaved` gives for one callable: the statistics, the
    per-call samples and the round of each, the seconds spent, and the relative
    half-widths reached (``ratio_precision`` is None for the reference itself)."""

    stats: Stats
    times: tuple[float, ...]
    rounds: tuple[int, ...]
    spent_s: float
    median_precision: float
    ratio_precision: float | None
    precision_met: bool


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


Clock = Callable[[], float]


def time_once(fn: Callable[[], Any], clock: Clock = time.perf_counter) -> tuple[float, Any]:
    """Seconds of one call of ``fn`` and its result."""
    with gc_disabled():
        start = clock()
        result = fn()
        return clock() - start, result


def _run(fn: Callable[[], Any], loops: int, clock: Clock = time.perf_counter) -> float:
    start = clock()
    for _ in range(loops):
        fn()
    return clock() - start


#: At most this many extra warm-up loops per turn when settling (a callable whose loops
#: the clock does not see advance could otherwise never reach ``settle_s``).
SETTLE_MAX_LOOPS = 1000


def _settle(fn: Callable[[], Any], loops: int, first: float, settle_s: float,
            clock: Clock) -> None:
    """More warm-up loops of ``fn``, not kept, until ``settle_s`` seconds have passed
    since its turn began (``first``: its first warm-up loop)."""
    done = first
    for _ in range(SETTLE_MAX_LOOPS):
        if done >= settle_s:
            return
        done += _run(fn, loops, clock)


def summarize(per_call: list[float], loops: int) -> Stats:
    """Robust statistics of per-call times."""
    a = np.asarray(per_call, dtype=np.float64)
    q1, median, q3 = (float(v) for v in np.percentile(a, [25, 50, 75]))
    iqr = q3 - q1
    return Stats(median_s=median, q1_s=q1, q3_s=q3, iqr_s=iqr, min_s=float(a.min()),
                 max_s=float(a.max()), mean_s=float(a.mean()), samples=int(a.size),
                 loops=loops, high_spread=bool(median > 0 and iqr / median > HIGH_SPREAD))


def _calibrate(fn: Callable[[], Any], min_sample_s: float,
               clock: Clock = time.perf_counter) -> tuple[int, float, float]:
    """Grow the loop count until one loop lasts ``min_sample_s``; doubles as warm-up.

    Returns (loops, seconds of the last loop, seconds spent in all).
    """
    loops, elapsed = 1, _run(fn, 1, clock)
    spent = elapsed
    while elapsed < min_sample_s:
        grow = min_sample_s / max(elapsed, 1e-9) * 1.25
        loops = int(min(max(2 * loops, math.ceil(loops * grow)), 10**7))
        elapsed = _run(fn, loops, clock)
        spent += elapsed
    return loops, elapsed, spent


def measure_interleaved(fns: list[Callable[[], Any]], policy: Policy = Policy(),
                        budgets: list[float] | None = None, *, reference: int | None = None,
                        follow: Sequence[int] = (), clock: Clock = time.perf_counter,
                        prior: Sequence[tuple[Sequence[float], Sequence[int]] | None]
                        | None = None) -> list[Sampled]:
    """Time several callables with their samples taken in turns; one :class:`Sampled`
    per callable.

    Each is calibrated on its own first (its loop count, as in :func:`measure`); then
    every round takes one sample of each callable that is still open, after one loop
    that is not kept (it re-warms the caches the other callables used). A callable
    closes at ``max_samples``, or past ``min_samples`` once its precision target is met
    (the interval of its median and of its paired ratio to ``fns[reference]`` within
    ``policy.precision``) or its budget (``budgets[i]``, default ``policy.budget_s``)
    is spent. The reference and the callables in ``follow`` (a canary) have no target
    of their own: they stay open while any other callable is open, up to
    ``max_samples``, so every sample of the others has its pair.

    ``prior[i]``: (times, rounds) already taken of callable ``i`` (an earlier pass,
    rounds below 0 so they do not meet this call's): the precision is read on them and
    the new samples together. The returned samples are this call's only.
    """
    from mlpbench.harness import stats

    n = len(fns)
    budgets = list(budgets) if budgets is not None else [policy.budget_s] * n
    followers = set(follow) | ({reference} if reference is not None else set())
    with gc_disabled():
        calibrated = [_calibrate(fn, policy.min_sample_s, clock) for fn in fns]
        loops = [c[0] for c in calibrated]
        last = [c[1] for c in calibrated]
        spent = [c[2] for c in calibrated]
        times: list[list[float]] = [[] for _ in fns]
        rounds: list[list[int]] = [[] for _ in fns]
        precision: list[tuple[float, float | None]] = [(math.inf, None)] * n
        met = [False] * n

        old = [p if p is not None else ((), ()) for p in (prior or [None] * n)]

        def measure_precision(i: int) -> None:
            ti, ri = [*old[i][0], *times[i]], [*old[i][1], *rounds[i]]
            mp = stats.median_ci(ti).halfwidth
            rp = None
            if reference is not None and i != reference:
                rp = stats.paired_ratio(ti, ri, [*old[reference][0], *times[reference]],
                                        [*old[reference][1], *rounds[reference]]).halfwidth
            precision[i] = (mp, rp)
            met[i] = mp <= policy.precision and (rp is None or rp <= policy.precision)

        def leader_open(i: int) -> bool:
            got = len(times[i])
            if got < policy.min_samples:
                return True
            if got >= policy.max_samples or met[i]:
                return False
            return spent[i] + last[i] <= budgets[i]

        leaders = [i for i in range(n) if i not in followers]
        switching = n > 1
        r = 0
        while True:
            open_leaders = [i for i in leaders if leader_open(i)]
            active = [i for i in range(n) if i in open_leaders or (
                i in followers and len(times[i]) < policy.max_samples
                and (open_leaders or len(times[i]) < policy.min_samples))]
            if not active:
                break
            for i in active:
                if switching:
                    # The previous turn ran other code over other data: one loop, not
                    # kept, brings this callable's code and data back into the caches.
                    warm = _run(fns[i], loops[i], clock)
                    spent[i] += warm
                    if policy.settle_s > 0:
                        # The previous turn's library may leave its threads spinning
                        # for more work (OpenBLAS: ~0.1 s) on the cores this one needs:
                        # keep warming up until they have gone to sleep. Working, not
                        # sleeping: after an idle pause the next milliseconds run up to
                        # 1.6x slow on the VMs measured (reports/2026-12-03-vm-zen3-settle).
                        _settle(fns[i], loops[i], warm, policy.settle_s, clock)
                last[i] = _run(fns[i], loops[i], clock)
                spent[i] += last[i]
                times[i].append(last[i] / loops[i])
                rounds[i].append(r)
            r += 1
            # The reference first: the others' ratio precision is read from its samples.
            for i in sorted(active, key=lambda j: j != reference):
                if len(times[i]) >= policy.min_samples:
                    measure_precision(i)
    for i in range(n):
        measure_precision(i)
    return [Sampled(summarize(times[i], loops[i]), tuple(times[i]), tuple(rounds[i]), spent[i],
                    precision[i][0], precision[i][1], met[i]) for i in range(n)]


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
