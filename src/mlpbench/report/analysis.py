"""The numbers behind every figure and table of a report, from validated result documents.

Everything here is plain data (dicts, lists, dataclasses of floats): the figures draw
it, the report prints it, and tests check it without matplotlib. Every interval comes
from :mod:`mlpbench.harness.stats`:

- the ratio of two implementations at one point is :func:`ratio`: paired by round
  (``stats.paired_ratio``) when both points carry their raw samples and rounds,
  otherwise the ratio of the medians with a rough interval from the quartiles,
  marked ``unpaired`` (old files, the committed fixtures);
- verdicts (faster, slower, a tie) only from ``stats.verdict`` on such a ratio;
- exponents from ``stats.fit_exponent`` and labelled by ``stats.exponent_label``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mlpbench.harness import schema, stats
from mlpbench.mlp import registry

#: The implementation every speed-up is measured against, when it was measured.
REFERENCE = "numpy"

#: Theoretical exponent of the step's cost in each axis, the others held fixed
#: (``4·n·d·d_h + 6·n·d_h·m`` is linear in each of n, d and d_h).
THEORY_EXPONENT = {"n": 1.0, "d": 1.0, "d_h": 1.0}

#: Fewest sizes an exponent is fitted on.
MIN_FIT_POINTS = 3

#: Bootstrap resamples of the fixed-cost fits.
COST_BOOT = 300

#: The two ways a ratio's interval is known (see :func:`ratio`).
PAIRED, UNPAIRED, INDEPENDENT = "paired", "unpaired", "independent"


def impl_sort_key(name: str) -> tuple:
    """Sorts implementation names in the registry's display order (unregistered last)."""
    return registry.sort_key(name)


# --- one point's samples -------------------------------------------------------------------


def samples_of(point: dict) -> list[float] | None:
    """The raw per-call seconds of a point, when the file kept them (else None): the
    schema's ``times_s``, or a ``samples`` list."""
    for key in ("times_s", "samples"):
        s = point.get(key)
        if isinstance(s, list) and s:
            return [float(x) for x in s]
    return None


def rounds_of(point: dict) -> list[int] | None:
    """The round index of each raw sample (same index, same moment), when kept."""
    s, r = samples_of(point), point.get("rounds")
    if s is not None and isinstance(r, list) and len(r) == len(s):
        return [int(x) for x in r]
    return None


def canary_of(point: dict) -> list[float]:
    """The canary's seconds in the rounds of a point's samples (where timed)."""
    c = point.get("canary_s", point.get("canary"))
    if not isinstance(c, list):
        return []
    return [float(x) for x in c if isinstance(x, int | float) and not isinstance(x, bool)
            and x > 0]


def sample_count(point: dict) -> int:
    raw = samples_of(point)
    if raw is not None:
        return len(raw)
    s = point.get("samples")
    return int(s) if isinstance(s, int) and not isinstance(s, bool) else 0


def spread_samples(point: dict) -> list[float]:
    """The raw samples, or (for files without them) ``q1, median, q3``: a stand-in that
    carries the point's spread into the bootstraps of the fits."""
    s = samples_of(point)
    if s is not None:
        return s
    vals = [point.get("q1_s"), point["median_s"], point.get("q3_s")]
    return [float(v) for v in vals if v is not None and v > 0] or [float(point["median_s"])]


def median_estimate(point: dict) -> stats.Estimate:
    """A point's median time with its interval: the order-statistic interval of the raw
    samples, or the interquartile range for files without them."""
    s = samples_of(point)
    if s is not None:
        return stats.median_ci(s)
    med = float(point["median_s"])
    q1, q3 = point.get("q1_s"), point.get("q3_s")
    return stats.Estimate(med, float(q1) if q1 else med, float(q3) if q3 else med,
                          sample_count(point))


# --- ratios --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ratio(stats.Estimate):
    """A ratio of times with its interval; ``method`` says how the interval was found:
    ``paired`` (per-round ratios, 95%), ``independent`` (two sample sets from different
    moments, Hodges–Lehmann 95%) or ``unpaired`` (quartiles only: a rough range)."""

    method: str = PAIRED

    @property
    def paired(self) -> bool:
        return self.method == PAIRED


#: Private key of a point: which loaded document (run) it came from (:func:`tag_runs`).
RUN = "_run"


def tag_runs(docs: list[dict]) -> list[dict]:
    """Mark every point with the document it came from, so that :func:`ratio` pairs
    rounds only within one run (round 3 of two files is not one moment). Idempotent;
    returns ``docs``."""
    for k, doc in enumerate(docs):
        run = doc.get("_path") or f"document {k}"
        for p in doc["points"]:
            p.setdefault(RUN, run)
    return docs


def ratio(subject: dict, reference: dict) -> Ratio:
    """Time of ``subject`` over time of ``reference`` at one point (above 1: slower).

    Paired by round (``stats.paired_ratio``) when both points carry ``samples`` and
    ``rounds`` and come from the same run (:func:`tag_runs`); from the raw samples of
    different moments (``stats.run_ratio``) when only the samples are there or the runs
    differ; otherwise the ratio of the medians with the range ``[q1_s / q3_r, q3_s /
    q1_r]``, marked ``unpaired``.
    """
    sa, sb = samples_of(subject), samples_of(reference)
    ra, rb = rounds_of(subject), rounds_of(reference)
    same_run = subject.get(RUN) == reference.get(RUN)
    if sa is not None and sb is not None:
        if ra is not None and rb is not None and same_run:
            est = stats.paired_ratio(sa, ra, sb, rb)
            if est.count > 0:
                return Ratio(est.value, est.lo, est.hi, est.count, PAIRED)
        est = stats.run_ratio(sb, sa)
        if est.count > 0:
            return Ratio(est.value, est.lo, est.hi, est.count, INDEPENDENT)
    return _unpaired(subject, reference)


def _unpaired(subject: dict, reference: dict) -> Ratio:
    a, b = float(subject["median_s"]), float(reference["median_s"])
    value = a / b
    q1a, q3a = subject.get("q1_s"), subject.get("q3_s")
    q1b, q3b = reference.get("q1_s"), reference.get("q3_s")
    if q1a and q3a and q1b and q3b:
        lo, hi = min(q1a / q3b, value), max(q3a / q1b, value)
    else:
        lo = hi = math.nan
    return Ratio(value, lo, hi, min(sample_count(subject), sample_count(reference)), UNPAIRED)


def inverse(r: Ratio) -> Ratio:
    """``1 / r`` with its interval (a time ratio read as a speed ratio)."""
    def inv(x):
        return 1.0 / x if x and math.isfinite(x) and x > 0 else math.nan
    return Ratio(inv(r.value), inv(r.hi), inv(r.lo), r.count, r.method)


def fmt_x(value: float) -> str:
    """A ratio as ``1.23×`` (three significant digits)."""
    if not math.isfinite(value):
        return "–"
    return f"{value:.3g}×"


def fmt_interval(r: stats.Estimate) -> str:
    """``[lo, hi]`` of a ratio, or ``[not known]``."""
    if not (math.isfinite(r.lo) and math.isfinite(r.hi)):
        return "[interval not known]"
    digits = 3 if f"{r.lo:.3g}" != f"{r.hi:.3g}" else 4   # a narrow one stays visible
    return f"[{r.lo:.{digits}g}, {r.hi:.{digits}g}]"


def fmt_ratio(r: Ratio, mark: bool = True) -> str:
    """``2.1× [1.9, 2.3]``; a dagger marks an interval from quartiles only (unpaired)."""
    return f"{fmt_x(r.value)} {fmt_interval(r)}{'†' if mark and r.method == UNPAIRED else ''}"


UNPAIRED_NOTE = ("† unpaired: the result file has no raw samples, so the range is "
                 "q1/q3 of one over q3/q1 of the other, not a 95% interval.")


# --- documents, thread counts and series ----------------------------------------------------


def thread_count(doc: dict, point: dict | None = None) -> int:
    """Threads a point ran with: its own ``threads``, else its file's numba/BLAS setting."""
    if point is not None and isinstance(point.get("threads"), int):
        return int(point["threads"])
    thr = doc.get("threads") or {}
    for key in ("numba_threads", "blas_threads"):
        if isinstance(thr.get(key), int):
            return int(thr[key])
    return 1


def thread_groups(docs: list[dict]) -> dict[int, list[dict]]:
    """Documents split by thread count (points filtered, other fields shared)."""
    groups: dict[int, list[dict]] = {}
    for doc in docs:
        by: dict[int, list] = {}
        for p in doc["points"]:
            by.setdefault(thread_count(doc, p), []).append(p)
        for t, pts in by.items():
            groups.setdefault(t, []).append({**doc, "points": pts})
    return dict(sorted(groups.items()))


def primary_docs(docs: list[dict]) -> list[dict]:
    """The documents at the first file's thread count: what every view but the thread
    scaling compares (timings at different thread counts are not mixed). Their points
    are tagged with their run (:func:`tag_runs`)."""
    if not docs:
        return docs
    tag_runs(docs)
    groups = thread_groups(docs)
    if len(groups) <= 1:
        return docs
    first = docs[0]
    want = thread_count(first, first["points"][0]) if first["points"] else thread_count(first)
    return groups.get(want) or next(iter(groups.values()))


@dataclass
class Series:
    """Timings of one implementation and dtype along one axis (others at the sweep's base)."""

    axis: str
    impl: str
    dtype: str
    phase: str
    fixed: dict
    sizes: list = field(default_factory=list)       # ok points, ascending
    median: list = field(default_factory=list)
    q1: list = field(default_factory=list)
    q3: list = field(default_factory=list)
    points: list = field(default_factory=list)      # the ok points themselves
    skipped_sizes: list = field(default_factory=list)
    skipped_predicted: list = field(default_factory=list)
    failed_sizes: list = field(default_factory=list)

    def time_at(self, size: int) -> float | None:
        try:
            return self.median[self.sizes.index(size)]
        except ValueError:
            return None

    def point_at(self, size: int) -> dict | None:
        try:
            return self.points[self.sizes.index(size)]
        except ValueError:
            return None


def swept_axes(docs: list[dict]) -> list[str]:
    """Axes swept one at a time by at least one document, in the order n, d, d_h.

    A grid over two or more axes is drawn as winner maps (:func:`winner_maps`); a grid
    over one axis counts as a sweep of that axis.
    """
    found = set()
    for doc in docs:
        sweep = doc["sweep"]
        if sweep.get("axis") in schema.AXES:
            found.add(sweep["axis"])
        elif sweep.get("axis") == schema.GRID:
            multi = [a for a in schema.AXES if len(sweep.get("sizes", {}).get(a, [])) > 1]
            if len(multi) == 1:
                found.add(multi[0])
    return [a for a in schema.AXES if a in found]


def _docs_for_axis(docs: list[dict], axis: str) -> list[dict]:
    """The documents a series along ``axis`` is read from: the sweeps of that axis; only
    where there are none, the grids that sweep it (a grid's cells would otherwise
    replace the sweep's points at the sizes they share, mixing two runs in a curve)."""
    own = [d for d in docs if d["sweep"].get("axis") == axis]
    if own:
        return own
    return [d for d in docs if d["sweep"].get("axis") == schema.GRID
            and len(d["sweep"].get("sizes", {}).get(axis, [])) > 1]


def dtypes_of(docs: list[dict]) -> list[str]:
    present = {p["dtype"] for doc in docs for p in doc["points"]}
    return [d for d in ("float64", "float32") if d in present]


def impls_of(docs: list[dict]) -> list[str]:
    return sorted({p["impl"] for d in docs for p in d["points"]}, key=impl_sort_key)


def reference_impl(impls) -> str | None:
    """The implementation speed-ups are measured against: numpy, else the first."""
    impls = sorted(impls, key=impl_sort_key)
    if REFERENCE in impls:
        return REFERENCE
    return impls[0] if impls else None


def axis_series(docs: list[dict], axis: str, phase: str = "step") -> dict[tuple, Series]:
    """Series ``{(dtype, impl): Series}`` along ``axis`` for one phase.

    Points come from the documents that sweep ``axis``, holding the other axes and m
    at that document's base. A point measured twice (same key) keeps the later file's.
    """
    chosen: dict[tuple, dict] = {}
    fixed_of: dict[tuple, dict] = {}
    for doc in _docs_for_axis(docs, axis):
        base = doc["sweep"]["base"]
        others = [a for a in (*schema.AXES, "m") if a != axis]
        for p in doc["points"]:
            if p["phase"] != phase or any(p[o] != base[o] for o in others):
                continue
            chosen[schema.point_key(p)] = p
            fixed_of[(p["dtype"], p["impl"])] = {o: base[o] for o in others}
    out: dict[tuple, Series] = {}
    for p in sorted(chosen.values(), key=lambda p: p[axis]):
        key = (p["dtype"], p["impl"])
        s = out.setdefault(key, Series(axis, p["impl"], p["dtype"], phase, fixed_of[key]))
        if p["status"] == "ok" and p["median_s"] > 0:
            s.sizes.append(p[axis])
            s.median.append(p["median_s"])
            s.q1.append(p["q1_s"])
            s.q3.append(p["q3_s"])
            s.points.append(p)
        elif p["status"] == "skipped":
            s.skipped_sizes.append(p[axis])
            s.skipped_predicted.append(p["predicted_s"])
        else:
            s.failed_sizes.append(p[axis])
    order = {"float64": 0, "float32": 1}
    return dict(sorted(out.items(), key=lambda kv: (order.get(kv[0][0], 2),
                                                    impl_sort_key(kv[0][1]))))


def of_dtype(series: dict[tuple, Series], dtype: str) -> dict[str, Series]:
    return {impl: s for (dt, impl), s in series.items() if dt == dtype}


# --- exponents -----------------------------------------------------------------------------


def asymptotic_sizes(sizes: list) -> list:
    """Sizes over which the exponent is fitted.

    Rule: the upper half of the measured range on a log scale (``x ≥ √(x_min·x_max)``),
    where per-call overhead no longer dominates; at least the ``MIN_FIT_POINTS`` largest.
    """
    if len(sizes) < MIN_FIT_POINTS:
        return []
    mid = math.sqrt(sizes[0] * sizes[-1])
    upper = [x for x in sizes if x >= mid * (1 - 1e-9)]
    return upper if len(upper) >= MIN_FIT_POINTS else list(sizes[-MIN_FIT_POINTS:])


@dataclass
class Fit:
    """``t ∝ x^k`` over ``sizes`` with the 95% interval of k and its label
    (``stats.exponent_label``: linear / sub-linear / super-linear / not determined)."""

    exponent: float
    lo: float
    hi: float
    sizes: list
    label: str = "not determined"
    raw: bool = True        # fitted on raw samples (False: on the quartiles of old files)

    def text(self) -> str:
        if self.lo == self.hi:
            return f"{self.exponent:.2f}"
        return f"{self.exponent:.2f} [{self.lo:.2f}, {self.hi:.2f}]"


def fit_series(s: Series) -> Fit | None:
    """The exponent of one series over its asymptotic sizes (``stats.fit_exponent``, on
    every raw sample, or on q1/median/q3 where the file kept no samples)."""
    use = asymptotic_sizes(s.sizes)
    if not use:
        return None
    by_size = {x: spread_samples(s.point_at(x)) for x in use}
    est = stats.fit_exponent(by_size)
    if est is None:
        return None
    raw = all(samples_of(s.point_at(x)) is not None for x in use)
    return Fit(est.k, est.lo, est.hi, list(est.sizes), est.label, raw)


def fits(series: dict[tuple, Series]) -> dict[tuple, Fit | None]:
    return {key: fit_series(s) for key, s in series.items()}


# --- speed-ups, crossovers, standings ------------------------------------------------------


@dataclass
class Crossover:
    impl: str
    size: float        # interpolated on the log-log curve of the speed-up
    starts: bool       # True: the implementation starts beating the reference here


@dataclass
class Speedup:
    """``t_reference / t_impl`` on the sizes both measured (above 1: faster), with the
    interval of each (:func:`ratio` of the reference's point over the implementation's)."""

    impl: str
    dtype: str
    sizes: list
    ratio: list
    crossovers: list
    intervals: list = field(default_factory=list)     # Ratio per size
    reference: str = REFERENCE


def speedups(series: dict[tuple, Series], reference: str | None = None) -> dict[tuple, Speedup]:
    """Speed-up of every implementation over ``reference`` (default numpy) per dtype."""
    out = {}
    for (dtype, impl), s in series.items():
        ref_name = reference or reference_impl({i for (dt, i) in series if dt == dtype})
        ref = series.get((dtype, ref_name))
        if impl == ref_name or ref is None:
            continue
        common = [x for x in s.sizes if x in ref.sizes]
        if not common:
            continue
        est = [ratio(ref.point_at(x), s.point_at(x)) for x in common]
        r = [e.value for e in est]
        out[(dtype, impl)] = Speedup(impl, dtype, common, r, _crossovers(impl, common, r),
                                     est, ref_name)
    return out


def _crossovers(impl: str, sizes: list, ratio: list) -> list[Crossover]:
    found = []
    logs = [math.log(r) for r in ratio]
    for i in range(len(sizes) - 1):
        a, b = logs[i], logs[i + 1]
        if (a <= 0 < b) or (a > 0 >= b):
            xa, xb = math.log(sizes[i]), math.log(sizes[i + 1])
            x = xa + (xb - xa) * (-a) / (b - a)
            found.append(Crossover(impl, math.exp(x), starts=b > 0))
    return found


@dataclass
class Standing:
    """Who is fastest at one point: the winner by median time, the runner-up, the lead
    (``t_runner / t_winner`` with its interval) and the implementations the winner
    cannot be told apart from (``stats.verdict``): a tie when there are any."""

    size: object                 # the axis value, or a tuple of sizes
    winner: str
    times: dict                  # impl -> median seconds (measured ones)
    runner: str | None = None
    lead: Ratio | None = None
    tied: list = field(default_factory=list)    # winner first, then indistinguishable ones
    points: dict = field(default_factory=dict)  # impl -> point

    @property
    def tie(self) -> bool:
        return len(self.tied) > 1

    def against(self, impl: str) -> Ratio | None:
        """``t_impl / t_winner``: how much slower ``impl`` is than the winner here."""
        if impl not in self.points:
            return None
        return ratio(self.points[impl], self.points[self.winner])


def standing(size, points: dict[str, dict]) -> Standing | None:
    """The standing among ``{impl: ok point}`` measured at one size."""
    if not points:
        return None
    order = sorted(points, key=lambda i: (points[i]["median_s"], impl_sort_key(i)))
    win = order[0]
    st = Standing(size, win, {i: points[i]["median_s"] for i in order}, points=dict(points))
    st.tied = [win]
    for other in order[1:]:
        if stats.verdict(ratio(points[other], points[win])) != "slower":
            st.tied.append(other)
    if len(order) > 1:
        st.runner = order[1]
        st.lead = ratio(points[order[1]], points[win])
    return st


def standings(by_impl: dict[str, Series]) -> list[Standing]:
    """One standing per size measured by at least one implementation, ascending."""
    sizes = sorted({x for s in by_impl.values() for x in s.sizes})
    out = []
    for x in sizes:
        pts = {i: s.point_at(x) for i, s in by_impl.items() if s.point_at(x) is not None}
        st = standing(x, pts)
        if st is not None:
            out.append(st)
    return out


@dataclass
class Segment:
    """Consecutive sizes with the same outcome: one winner, or one tied group."""

    first: object
    last: object
    winner: str
    tied: tuple          # (winner,) for a clear win; the tied group, in display order
    standings: list
    tie: bool = False


def _outcome(st: Standing) -> tuple[bool, tuple]:
    if st.tie:
        return True, tuple(sorted(st.tied, key=impl_sort_key))
    return False, (st.winner,)


def segments(sts: list[Standing]) -> list[Segment]:
    """Standings grouped into runs of consecutive sizes with the same outcome."""
    out: list[Segment] = []
    for st in sts:
        tie, who = _outcome(st)
        if out and (out[-1].tie, out[-1].tied) == (tie, who):
            out[-1].last = st.size
            out[-1].standings.append(st)
        else:
            out.append(Segment(st.size, st.size, st.winner, who, [st], tie))
    return out


def favoured(all_standings: list[Standing]) -> str | None:
    """The implementation fastest at the most points (a tie counts half to each of the
    tied); ties between counts go to the first in display order."""
    score: dict[str, float] = {}
    for st in all_standings:
        for i in st.tied:
            score[i] = score.get(i, 0.0) + (0.5 if st.tie else 1.0)
    if not score:
        return None
    return max(sorted(score, key=impl_sort_key), key=lambda i: score[i])


def win_ranges(sp: Speedup) -> list[tuple[int, int]]:
    """Maximal runs of measured sizes where the implementation beats the reference."""
    runs, start, prev = [], None, None
    for x, r in zip(sp.sizes, sp.ratio, strict=True):
        if r > 1 and start is None:
            start = x
        if r <= 1 and start is not None:
            runs.append((start, prev))
            start = None
        prev = x
    if start is not None:
        runs.append((start, sp.sizes[-1]))
    return runs


# --- points that lie on no axis (pytest-benchmark files, single points) ----------------------


def loose_points(docs: list[dict], phase: str = "step") -> dict[str, list[Standing]]:
    """``{dtype: [Standing]}`` at every size of a document that sweeps no axis and draws
    no winner map (pytest-benchmark files, a grid with one size per axis)."""
    out: dict[str, dict[tuple, dict]] = {}
    for doc in docs:
        sweep = doc["sweep"]
        multi = [a for a in schema.AXES if len(sweep.get("sizes", {}).get(a, [])) > 1]
        if sweep.get("axis") != schema.GRID or multi:
            continue
        for p in doc["points"]:
            if p["phase"] == phase and p["status"] == "ok" and p["median_s"] > 0:
                sz = tuple(p[k] for k in schema.SIZE_KEYS)
                out.setdefault(p["dtype"], {}).setdefault(sz, {})[p["impl"]] = p
    result = {}
    for dtype in [d for d in ("float64", "float32") if d in out]:
        by_size = out[dtype]
        result[dtype] = [standing(sz, by_size[sz])
                         for sz in sorted(by_size, key=lambda s: schema.flops("step", *s))]
    return result


# --- winner maps ---------------------------------------------------------------------------


@dataclass
class WinnerMap:
    """The fastest implementation in each cell of a grid over two axes (the third and m
    at the grid's base): ``cells[(x, y)]`` is a Standing or None (nothing measured)."""

    x_axis: str
    y_axis: str
    dtype: str
    fixed: dict
    xs: list
    ys: list
    cells: dict
    path: str = ""

    def wins(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for st in self.cells.values():
            if st is not None:
                key = "tie" if st.tie else st.winner
                out[key] = out.get(key, 0) + 1
        return out


GRID_PAIRS = (("n", "d_h"), ("n", "d"), ("d", "d_h"))


def winner_maps(docs: list[dict], phase: str = "step") -> list[WinnerMap]:
    """One map per grid document, pair of its swept axes (n × d_h, n × d, d × d_h) and
    dtype."""
    maps = []
    for doc in docs:
        sweep = doc["sweep"]
        if sweep.get("axis") != schema.GRID:
            continue
        sizes = sweep.get("sizes", {})
        multi = [a for a in schema.AXES if len(sizes.get(a, [])) > 1]
        base = sweep["base"]
        for xa, ya in GRID_PAIRS:
            if xa not in multi or ya not in multi:
                continue
            rest = [k for k in schema.SIZE_KEYS if k not in (xa, ya)]
            for dtype in dtypes_of([doc]):
                cells: dict[tuple, dict] = {}
                for p in doc["points"]:
                    if (p["phase"] != phase or p["dtype"] != dtype or p["status"] != "ok"
                            or any(p[k] != base[k] for k in rest)):
                        continue
                    cells.setdefault((p[xa], p[ya]), {})[p["impl"]] = p
                xs, ys = sorted(set(sizes[xa])), sorted(set(sizes[ya]))
                maps.append(WinnerMap(xa, ya, dtype, {k: base[k] for k in rest}, xs, ys,
                                      {(x, y): standing((x, y), cells.get((x, y), {}))
                                       for x in xs for y in ys},
                                      str(doc.get("_path", ""))))
    return maps


# --- fixed cost and throughput ---------------------------------------------------------------


@dataclass
class CostFit:
    """``time = a + b·FLOPs`` over one sweep: ``fixed`` is a in seconds (dispatch,
    allocation, validation: what a call costs before any arithmetic), ``gflops`` is
    1/b in GFLOP/s (the rate at large sizes); both with 95% bootstrap intervals.
    ``worst_resid`` is the largest relative misfit of the line at a measured size."""

    impl: str
    dtype: str
    axis: str
    fixed: stats.Estimate
    gflops: stats.Estimate
    sizes: list
    worst_resid: float


def _cost_solve(flops: np.ndarray, times: np.ndarray):
    """Least squares on relative errors, ``Σ ((t − a − b·F) / t)²`` with a, b ≥ 0, so small
    and large sizes weigh alike. Rows of ``flops``/``times`` are independent problems
    (the bootstrap solves them all at once); returns arrays ``a``, ``b`` and ``ok`` (False
    where the sizes do not determine a line)."""
    flops, times = np.atleast_2d(flops), np.atleast_2d(times)
    u, v = 1.0 / times, flops / times
    suu, svv, suv = (u * u).sum(1), (v * v).sum(1), (u * v).sum(1)
    su, sv = u.sum(1), v.sum(1)
    det = suu * svv - suv * suv
    ok = (det > 1e-12 * suu * svv) & (np.ptp(flops, axis=1) > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = (su * svv - sv * suv) / det
        b = (sv * suu - su * suv) / det
        # a constraint that binds: refit the other coefficient alone
        neg_a, neg_b = a < 0, b < 0
        a = np.where(neg_a, 0.0, np.where(neg_b, su / suu, a))
        b = np.where(neg_a, np.maximum(sv / svv, 0.0), np.where(neg_b, 0.0, b))
    return a, b, ok


def cost_fit(s: Series, n_boot: int = COST_BOOT, seed: int = 0) -> CostFit | None:
    """Fit ``time = a + b·FLOPs`` to one series (at least three measured sizes).

    The interval is a percentile bootstrap that resamples the sizes and, within each
    size, its raw samples (or q1/median/q3 for files without samples).
    """
    if len(s.points) < MIN_FIT_POINTS:
        return None
    fl = np.array([p.get("flops") or schema.flops(p["phase"], p["n"], p["d"], p["d_h"], p["m"])
                   for p in s.points], dtype=np.float64)
    med = np.array(s.median, dtype=np.float64)
    a, b, ok = (x[0] for x in _cost_solve(fl, med))
    if not ok:
        return None
    k = len(s.points)
    rng = np.random.default_rng(seed)
    # each size's median, resampled n_boot times from its samples
    meds = np.empty((n_boot, k))
    for i, p in enumerate(s.points):
        x = np.asarray(spread_samples(p), dtype=np.float64)
        meds[:, i] = np.median(x[rng.integers(0, x.size, (n_boot, x.size))], axis=1)
    pick = rng.integers(0, k, (n_boot, k))
    ba, bb, bok = _cost_solve(fl[pick], np.take_along_axis(meds, pick, axis=1))
    ba, bb = ba[bok], bb[bok]
    resid = float(np.max(np.abs(a + b * fl - med) / med))
    if ba.size < 20:
        lo_a = hi_a = a
        lo_b = hi_b = b
    else:
        lo_a, hi_a = np.quantile(ba, [0.025, 0.975])
        lo_b, hi_b = np.quantile(bb, [0.025, 0.975])
    lo_a, hi_a = float(min(lo_a, a)), float(max(hi_a, a))
    lo_b, hi_b = float(min(lo_b, b)), float(max(hi_b, b))

    def rate(x):
        return math.inf if x <= 0 else float(1.0 / x / 1e9)

    return CostFit(s.impl, s.dtype, s.axis, stats.Estimate(float(a), lo_a, hi_a, k),
                   stats.Estimate(rate(b), rate(hi_b), rate(lo_b), k), list(s.sizes), resid)


def cost_fits(series: dict[tuple, Series]) -> dict[tuple, CostFit]:
    out = {}
    for key, s in series.items():
        f = cost_fit(s)
        if f is not None:
            out[key] = f
    return out


# --- memory --------------------------------------------------------------------------------


def measured(method) -> bool:
    """Whether a memory record's ``method`` names a measurement (``tracemalloc``, numba's
    NRT, a peer's counters), not ``not measured (why)``."""
    return isinstance(method, str) and bool(method) and not method.startswith("not measured")


def memory_of(point: dict) -> dict | None:
    """A point's ``memory`` record when it holds a measurement (else None)."""
    m = point.get("memory")
    if not isinstance(m, dict) or not measured(m.get("method")):
        return None
    if m.get("peak_bytes") is None and m.get("allocations") is None:
        return None
    return m


def memory_methods(docs: list[dict]) -> dict[str, set]:
    """``{impl: {method, ...}}`` over every point that has a ``memory`` record (including
    ``"not measured"``)."""
    out: dict[str, set] = {}
    for d in docs:
        for p in d["points"]:
            m = p.get("memory")
            if isinstance(m, dict) and m.get("method"):
                out.setdefault(p["impl"], set()).add(str(m["method"]))
    return dict(sorted(out.items(), key=lambda kv: impl_sort_key(kv[0])))


# --- thread scaling ------------------------------------------------------------------------


@dataclass
class ThreadScaling:
    """Speed-up from the second thread count: ``t(c1) / t(c2)`` per size, c1 < c2 the two
    lowest thread counts measured (usually 1 and 2)."""

    impl: str
    dtype: str
    counts: tuple
    sizes: list                  # (n, d, d_h, m) tuples, by FLOPs
    speedup: list                # Ratio per size
    flops: list


def thread_scaling(docs: list[dict], phase: str = "step") -> list[ThreadScaling]:
    """Each implementation's speed-up between the two lowest thread counts measured, at
    every point measured at both (the runs differ: sample sets compared, not rounds)."""
    groups = thread_groups(tag_runs(docs))
    if len(groups) < 2:
        return []
    c1, c2 = list(groups)[:2]

    def index(group):
        out = {}
        for doc in group:
            for p in doc["points"]:
                if p["phase"] == phase and p["status"] == "ok" and p["median_s"] > 0:
                    out[(p["impl"], p["dtype"], *(p[k] for k in schema.SIZE_KEYS))] = p
        return out

    one, two = index(groups[c1]), index(groups[c2])
    rows: dict[tuple, ThreadScaling] = {}
    for key in sorted(set(one) & set(two), key=lambda k: (impl_sort_key(k[0]), k[1],
                                                          schema.flops(phase, *k[2:]))):
        impl, dtype, *sz = key
        ts = rows.setdefault((impl, dtype), ThreadScaling(impl, dtype, (c1, c2), [], [], []))
        ts.sizes.append(tuple(sz))
        ts.speedup.append(ratio(one[key], two[key]))
        ts.flops.append(schema.flops(phase, *sz))
    return list(rows.values())


# --- ceilings ------------------------------------------------------------------------------


def gemm_peak(doc: dict, dtype: str) -> tuple[float, int] | None:
    """Measured GEMM peak (GFLOP/s, threads) matching the run's thread settings."""
    peak = doc.get("peak") or {}
    table = (peak.get("gemm_gflops") or {}).get(dtype) or {}
    if not table:
        return None
    threads = doc.get("threads") or {}
    want = max(int(threads.get("blas_threads") or 1), int(threads.get("numba_threads") or 1))
    avail = sorted(int(t) for t in table)
    pick = max([t for t in avail if t <= want], default=avail[0])
    return float(table[str(pick)]), pick


def compulsory_bytes(phase: str, n: int, d: int, d_h: int, m: int, itemsize: int) -> int:
    """Bytes a phase must move at least: X and the labels read, parameters read once,
    and the phase's result written once (``forward``: the outputs, otherwise the gradients)."""
    n_params = d_h * d + d_h + m * d_h + m
    read = itemsize * (n * d + n_params) + 8 * n
    if phase == "forward":
        return read + itemsize * n * m
    return read + itemsize * n_params


def bandwidth_bound(phase: str, n: int, d: int, d_h: int, m: int, itemsize: int,
                    gbs: float) -> float:
    """Roofline bound in GFLOP/s: bandwidth × arithmetic intensity."""
    return gbs * schema.flops(phase, n, d, d_h, m) / compulsory_bytes(phase, n, d, d_h, m,
                                                                        itemsize)


def gflops_of(point: dict) -> float:
    fl = point.get("flops") or schema.flops(point["phase"], point["n"], point["d"],
                                            point["d_h"], point["m"])
    return fl / point["median_s"] / 1e9


# --- phases, compile costs -----------------------------------------------------------------


def base_sizes(docs: list[dict]) -> dict:
    """The base point of the first document (n, d, d_h, m)."""
    base = docs[0]["sweep"]["base"]
    return {k: base[k] for k in schema.SIZE_KEYS}


def reference_sizes(docs: list[dict], phases: tuple, impls: tuple = ()) -> dict | None:
    """The point at which single-size figures (phases) are drawn.

    The first document's base point if every asked phase (and implementation) was
    measured there; otherwise the sizes covering most of them, ties going to the
    largest step.
    """
    have: dict[tuple, set] = {}
    for doc in docs:
        for p in doc["points"]:
            if p["status"] == "ok" and p["phase"] in phases and (not impls or p["impl"] in impls):
                sz = (p["n"], p["d"], p["d_h"], p["m"])
                have.setdefault(sz, set()).add((p["phase"], p["impl"]))
    if not have:
        return None
    base = docs[0]["sweep"]["base"]
    base_sz = (base["n"], base["d"], base["d_h"], base["m"])
    best = max(have.values(), key=len)
    if base_sz in have and len(have[base_sz]) == len(best):
        sz = base_sz
    else:
        sz = max(have, key=lambda s: (len(have[s]), schema.flops("step", *s)))
    return dict(zip(("n", "d", "d_h", "m"), sz, strict=True))


def _ok_point(docs, impl, dtype, phase, sizes) -> dict | None:
    found = None
    for doc in docs:
        for p in doc["points"]:
            if (p["impl"] == impl and p["dtype"] == dtype and p["phase"] == phase
                    and p["status"] == "ok" and all(p[k] == v for k, v in sizes.items())):
                found = p
    return found


def phase_table(docs: list[dict]) -> tuple[dict | None, list[dict]]:
    """Forward and backward medians per implementation and dtype at the reference point."""
    ref = reference_sizes(docs, ("forward", "backward"))
    if ref is None:
        return None, []
    rows = []
    for dtype in dtypes_of(docs):
        for impl in impls_of(docs):
            f = _ok_point(docs, impl, dtype, "forward", ref)
            b = _ok_point(docs, impl, dtype, "backward", ref)
            s = _ok_point(docs, impl, dtype, "step", ref)
            if f or b:
                rows.append({"impl": impl, "dtype": dtype,
                             "forward_s": f["median_s"] if f else None,
                             "backward_s": b["median_s"] if b else None,
                             "step_s": s["median_s"] if s else None})
    return ref, rows


def coldstart(docs: list[dict], impl: str, dtype: str) -> dict | None:
    """The cold-start record (``harness.coldstart``) of ``impl`` in ``dtype``, if measured."""
    for doc in docs:
        for rec in doc.get("coldstart") or []:
            if rec.get("impl") == impl and rec.get("dtype") == dtype:
                return rec
    return None


def jit_impls(docs: list[dict]) -> list[str]:
    """The measured implementations whose first call compiles (registry ``jit``)."""
    return [i for i in impls_of(docs) if registry.is_jit(i)]


def compile_cost(docs: list[dict], dtype: str, phase: str = "step",
                 impl: str = "numba") -> float | None:
    """Compile time of ``impl``'s ``phase`` in ``dtype``, in seconds.

    Preferably the cold-start measurement (a new process with an empty cache).
    Otherwise the largest ``cold_s − median_s`` over the sweep's points of ``impl``
    whose first call compiled (``jit_compiled``; files without that field count as
    compiled): only the first call in a process compiles, later points reuse the
    machine code. A first call that only loaded an on-disk cache is not a compile time.
    """
    rec = coldstart(docs, impl, dtype) if phase == "step" else None
    if rec is not None and rec.get("compile_s") is not None:
        return rec["compile_s"]
    gaps = [p["cold_s"] - p["median_s"] for doc in docs for p in doc["points"]
            if p["impl"] == impl and p["dtype"] == dtype and p["phase"] == phase
            and p["status"] == "ok" and p["cold_s"] is not None
            and p.get("jit_compiled", 1) > 0]
    return max(gaps) if gaps else None


def payoff_calls(compile_s: float, warm_jit: float, warm_rival: float) -> int | None:
    """Calls after which the compiled implementation (compile, then warm calls) has cost
    less than its rival: smallest k with ``compile_s + k·warm_jit ≤ k·warm_rival``;
    ``None`` (never) if it is not faster per call."""
    if warm_jit >= warm_rival:
        return None
    return max(1, math.ceil(compile_s / (warm_rival - warm_jit)))


def compile_table(docs: list[dict]) -> list[dict]:
    """Per JIT implementation, dtype and step point: compile time, warm time, the fastest
    implementation that does not compile (the rival) at that point, and the calls after
    which compiling has paid for itself against it (``None``: never)."""
    rows = []
    base = base_sizes(docs) if docs else {}
    points: dict[tuple, dict[str, dict]] = {}
    for doc in docs:
        for p in doc["points"]:
            if p["phase"] == "step" and p["status"] == "ok" and p["median_s"] > 0:
                sz = tuple(p[k] for k in schema.SIZE_KEYS)
                points.setdefault((p["dtype"], sz), {})[p["impl"]] = p
    for impl in jit_impls(docs):
        for dtype in dtypes_of(docs):
            comp = compile_cost(docs, dtype, impl=impl)
            if comp is None:
                continue
            for (dt, sz), by in points.items():
                if dt != dtype or impl not in by:
                    continue
                p = by[impl]
                rivals = {i: q for i, q in by.items() if not registry.is_jit(i)}
                rival = min(rivals, key=lambda i: rivals[i]["median_s"]) if rivals else None
                sizes = dict(zip(schema.SIZE_KEYS, sz, strict=True))
                rows.append({"impl": impl, "dtype": dtype, **sizes, "compile_s": comp,
                             "cold_s": p["cold_s"], "jit_s": p["median_s"],
                             "rival": rival,
                             "rival_s": rivals[rival]["median_s"] if rival else None,
                             "payoff_calls": (payoff_calls(comp, p["median_s"],
                                                           rivals[rival]["median_s"])
                                              if rival else None),
                             "base": sizes == base,
                             # kept for older readers
                             "numba_s": p["median_s"],
                             "numpy_s": by["numpy"]["median_s"] if "numpy" in by else None})
    rows.sort(key=lambda r: (impl_sort_key(r["impl"]), r["dtype"] != "float64",
                             schema.flops("step", r["n"], r["d"], r["d_h"], r["m"])))
    return rows


# --- noise ---------------------------------------------------------------------------------


@dataclass
class Noise:
    """How well the run knows its numbers: the median relative half-width of the points'
    medians (95% from raw samples, else IQR/2), how many exceed 10%, the median
    half-width of paired ratios, and the canary's spread when timed."""

    points: int
    median_halfwidth: float
    wide: int
    raw: bool
    paired_halfwidth: float | None = None
    canary_spread: float | None = None
    target: float | None = None                  # the sweep's precision target
    missed: list = field(default_factory=list)   # points whose target was not reached


def noise(docs: list[dict]) -> Noise | None:
    ok = [p for d in docs for p in d["points"] if p["status"] == "ok" and p["median_s"] > 0]
    if not ok:
        return None
    widths, raw = [], True
    for p in ok:
        if samples_of(p) is not None:
            widths.append(median_estimate(p).halfwidth)
        else:
            raw = False
            q1, q3 = p.get("q1_s"), p.get("q3_s")
            if q1 is not None and q3 is not None:
                widths.append((q3 - q1) / 2 / p["median_s"])
    widths = [w for w in widths if math.isfinite(w)]
    if not widths:
        return None
    out = Noise(len(widths), float(np.median(widths)), sum(w > 0.10 for w in widths), raw)
    # paired ratios against the reference, where pairs exist
    paired = []
    by: dict[tuple, dict] = {}
    for p in ok:
        by.setdefault((p["dtype"], p["phase"], *(p[k] for k in schema.SIZE_KEYS)),
                      {})[p["impl"]] = p
    for group in by.values():
        ref = reference_impl(group)
        for impl, p in group.items():
            if impl != ref and rounds_of(p) is not None and rounds_of(group[ref]) is not None:
                r = ratio(p, group[ref])
                if r.paired and math.isfinite(r.halfwidth):
                    paired.append(r.halfwidth)
    if paired:
        out.paired_halfwidth = float(np.median(paired))
    for p in ok:
        prec = p.get("precision")
        if isinstance(prec, dict) and prec.get("target"):
            out.target = float(prec["target"])
            if prec.get("met") is False:
                out.missed.append(p)
    # The canary's size follows the point's (its shapes): its spread is read within each
    # point (IQR over median), and the typical point's spread reported.
    spreads = []
    for p in ok:
        canary = canary_of(p)
        if len(canary) >= 4:
            q1, med, q3 = np.quantile(canary, [0.25, 0.5, 0.75])
            if med > 0:
                spreads.append(float((q3 - q1) / med))
    if spreads:
        out.canary_spread = float(np.median(spreads))
    return out


# --- formatting ----------------------------------------------------------------------------


def fmt_time(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "–"
    if s >= 1000:
        return f"{s:,.0f} s"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def fmt_size(x: float) -> str:
    return f"{x:,.0f}" if x >= 10 else f"{x:.2g}"


def fmt_bytes(b: float | None) -> str:
    if b is None:
        return "–"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= scale:
            return f"{b / scale:.3g} {unit}"
    return f"{b:.0f} B"


def fmt_calls(k: int | None) -> str:
    return "never" if k is None else f"{k:,}"


def sizes_text(sizes: dict) -> str:
    return ", ".join(f"{k}={v:,}" for k, v in sizes.items())
