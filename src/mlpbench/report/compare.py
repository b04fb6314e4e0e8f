"""``mlpbench compare BASE.json NEW.json``: per-point ratios with a noise-aware verdict.

The rule is :data:`RULE`. Points missing from one file, or not ``ok`` in one of
them, are listed as not comparable and do not count. Each implementation also gets a
verdict over all its points (:class:`ImplRow`): a change of the whole implementation
is seen there long before every point's own interval excludes it. The exit status of
the command is 1 if a point or an implementation is slower with a family-wise error of
5% (Holm over the points at 2.5%, Holm over the implementations at 2.5%).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np

from mlpbench.errors import UsageError
from mlpbench.harness import canary, schema, stats
from mlpbench.report import analysis

SLOWER, FASTER, SAME = "slower", "faster", "no change"

RULE = ("For a point measured in both files (same impl, dtype, phase, sizes and activation), "
        "ratio = NEW/BASE time with its 95% interval. Where both runs timed the point in "
        "several passes (spread over each run), the ratio is that of the mean log pass "
        "medians with a t interval over the passes (their variance moderated toward the "
        "typical pass variance of the compared points); otherwise the Hodges-Lehmann "
        "shift of the raw per-call samples with its Mann-Whitney interval. Where both runs "
        "timed the same canary (a fixed NumPy workload with the point's shapes, sampled in "
        "the same rounds), each pass's times are first divided by its median canary to the "
        "power θ, which removes the whole machine's drift between the runs "
        "(drift-corrected); θ is the implementation's sensitivity to the canary, the "
        "slope of its log pass times on the log pass canaries within each run, pooled "
        "over its points and clipped to [0, 1] (1 where the canary did not move); the "
        "drift-corrected interval is widened in quadrature by θ's standard error times "
        "the point's |log canary NEW/BASE|. Every "
        "interval is then widened by the run-to-run noise read off the comparison (the "
        "robust spread of the points about their implementation's median, less what the "
        "intervals hold). Slower: the interval lies above 1 and the ratio exceeds 1 + t "
        "(t the threshold, the minimum effect); faster: the interval lies below 1 and the "
        "ratio is below 1/(1 + t); otherwise no change. Files without raw samples fall "
        "back to the interquartile ranges (slower only if they do not overlap). Each "
        "implementation: the geometric mean of its points' ratios, with a normal interval "
        "on the log scale whose standard error is the larger of the points' own, pooled "
        "as independent, and the spread of the points' log ratios over the square root "
        "of their number; the same rule gives its verdict. The exit status is 1 when a "
        "slower point stays slower after Holm's step-down over the points compared (its "
        "one-sided p-value, read off its interval, below 2.5%/k for the k-th smallest), "
        "or a slower implementation after Holm's step-down over the implementations at "
        "2.5%: a 5% chance of a failed gate for identical code, however many points.")
#: The family-wise error of the exit status, split between its two families: the
#: points and the implementations (Bonferroni: the two together stay within 5%).
GATE_ALPHA_POINTS = GATE_ALPHA_IMPLS = (1.0 - stats.CONFIDENCE) / 2
DEFAULT_THRESHOLD = 0.05
#: How far the whole machine's speed (the canary) may move between the runs before
#: compare warns that its verdicts rest on the drift correction.
DRIFT_WARN = 0.15
VERDICT_COLORS = {SLOWER: "#d62728", FASTER: "#2ca02c", SAME: "#7f7f7f"}
_FROM_STATS = {"slower": SLOWER, "faster": FASTER, "indistinguishable": SAME}

#: What must match for two runs to be comparable: (label, getter).
_IDENTITY = (
    ("CPU model", lambda d: (d.get("machine") or {}).get("cpu_model")),
    ("BLAS library", lambda d: sorted(
        (str(b.get("internal_api")), str(b.get("version")))
        for b in (d.get("machine") or {}).get("blas") or [] if isinstance(b, dict))),
    ("BLAS kernels", lambda d: sorted(
        str(b.get("architecture")) for b in (d.get("machine") or {}).get("blas") or []
        if isinstance(b, dict) and b.get("architecture"))),
    ("numba threads", lambda d: (d.get("threads") or {}).get("numba_threads")),
    ("BLAS threads", lambda d: (d.get("threads") or {}).get("blas_threads")),
    ("threading layer", lambda d: (d.get("threads") or {}).get("threading_layer")),
    ("numba version", lambda d: (d.get("machine") or {}).get("numba")),
    ("numba flags", lambda d: (d.get("provenance") or {}).get("numba_flags")),
    ("schema version", lambda d: d.get("schema_version")),
    ("canary", lambda d: _canary(d)),
)


def _canary(doc: dict) -> str:
    # Files written before the field existed timed the GEMM-and-copy canary.
    return doc.get("canary") or canary.KERNEL_CANARY


@dataclass
class Row:
    key: tuple
    base: dict
    new: dict
    ratio: float      # raw NEW/BASE
    lo: float         # its 95% interval (IQR range for files without samples)
    hi: float
    verdict: str
    corrected: float | None = None      # drift-corrected NEW/BASE, where both have a canary
    corrected_lo: float | None = None
    corrected_hi: float | None = None
    method: str = "iqr"                 # "canary", "samples" or "iqr": what the verdict used
    by_pass: bool = False               # the interval from the runs' passes (else samples)
    p_slower: float = 1.0               # one-sided p-value of "slower" (stats.p_slower)
    gate: bool = False                  # slower at the family-wise level (the exit status)

    @property
    def label(self) -> str:
        impl, dtype, phase, n, d, d_h, m, l1, l2, *rest = self.key
        pen = f" l1={l1:g} l2={l2:g}" if (l1 or l2) else ""
        act = f" {rest[0]}" if rest and rest[0] not in (None, "relu") else ""
        return f"{impl} {dtype} {phase} n={n} d={d} d_h={d_h} m={m}{pen}{act}"

    @property
    def best(self) -> float:
        """The ratio the verdict is read from (drift-corrected when there is one)."""
        return self.corrected if self.corrected is not None else self.ratio


@dataclass
class ImplRow:
    """One implementation over all its compared points: the geometric mean of their
    NEW/BASE (drift-corrected where they are), its 95% interval and verdict."""

    impl: str
    points: int
    ratio: float
    lo: float
    hi: float
    verdict: str
    p_slower: float = 1.0
    gate: bool = False                  # slower at the family-wise level (the exit status)


@dataclass
class Comparison:
    rows: list[Row]
    threshold: float
    only_base: list[tuple] = field(default_factory=list)
    only_new: list[tuple] = field(default_factory=list)
    not_ok: list[tuple] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)   # why the runs may not compare
    drift: float | None = None     # median canary NEW/BASE: the whole machine's change
    provenance: dict = field(default_factory=dict)         # {"BASE": {...}, "NEW": {...}}
    noise: tuple[float, float] = (0.0, 0.0)  # run-to-run noise, log sd: raw, corrected
    replicates: tuple[int, int] = (1, 1)     # runs on each side (BASE, NEW)
    sensitivity: dict[str, float] = field(default_factory=dict)  # θ per implementation
    sensitivity_se: dict[str, float] = field(default_factory=dict)  # and its standard error
    impls: list[ImplRow] = field(default_factory=list)      # one verdict per implementation

    def count(self, verdict: str) -> int:
        return sum(r.verdict == verdict for r in self.rows)

    @property
    def any_slower(self) -> bool:
        """Whether a point or an implementation is slower at the family-wise level:
        the exit status."""
        return any(r.gate for r in self.rows) or any(i.gate for i in self.impls)


def verdict(base: dict, new: dict, threshold: float = DEFAULT_THRESHOLD) -> str:
    """The fallback rule for points without raw samples: medians beyond the threshold
    and interquartile ranges that do not overlap."""
    ratio = new["median_s"] / base["median_s"]
    if ratio > 1 + threshold and new["q1_s"] > base["q3_s"]:
        return SLOWER
    if ratio < 1 / (1 + threshold) and new["q3_s"] < base["q1_s"]:
        return FASTER
    return SAME


def differences(base_doc: dict, new_doc: dict) -> list[str]:
    """What differs between the runs in what makes timings comparable (empty if nothing)."""
    out = []
    for label, get in _IDENTITY:
        a, b = get(base_doc), get(new_doc)
        if a is not None and b is not None and a != b:
            out.append(f"{label}: {a} vs {b}")
    return out


def provenance(doc: dict) -> dict:
    """Who wrote a file: project version, git commit, command line, when, where."""
    prov = dict(doc.get("provenance") or {})
    prov.setdefault("mlpbench", doc.get("mlpbench"))
    prov["created"] = doc.get("created")
    prov["host"] = (doc.get("machine") or {}).get("hostname")
    return prov


def _samples(p: dict) -> np.ndarray | None:
    t = p.get("times_s")
    return np.asarray(t, dtype=np.float64) if t else None


def _canary_values(p: dict) -> np.ndarray | None:
    """The point's canary seconds per sample (NaN where not timed), or None."""
    c = p.get("canary_s")
    return np.asarray([math.nan if v is None else v for v in c], dtype=np.float64) if c else None


def _pass_parts(p: dict) -> tuple[np.ndarray, list[np.ndarray], np.ndarray | None]:
    """The point's samples, a mask of them per pass (one pass for files without
    passes), and its canary per sample (or None)."""
    t = np.asarray(p.get("times_s") or [], dtype=np.float64)
    rounds = np.asarray(p.get("rounds") or range(len(t)))
    starts = list(p.get("pass_starts") or [0])
    which = np.searchsorted(np.asarray(starts), rounds, side="right") - 1
    masks = [m for j in range(len(starts)) if (m := which == j).any()]
    return t, masks, _canary_values(p)


def _pass_canary(c: np.ndarray, mine: np.ndarray) -> float:
    """The median canary of one pass (NaN if it has none)."""
    good = mine & np.isfinite(c) & (c > 0)
    return float(np.median(c[good])) if good.any() else math.nan


def _corrected(p: dict, theta: float = 1.0) -> np.ndarray | None:
    """The samples divided by the canary to the power ``theta`` (the implementation's
    sensitivity to it, :func:`_sensitivity`): each by the median canary of its pass (or
    of the whole point, for files without passes), which follows the machine's drift
    from pass to pass without adding the canary's own round-to-round jitter."""
    t, masks, c = _pass_parts(p)
    if not t.size or c is None:
        return None
    scale = np.full(t.shape, math.nan)
    for mine in masks:
        scale[mine] = _pass_canary(c, mine) ** theta
    keep = np.isfinite(scale)
    return t[keep] / scale[keep] if keep.sum() >= 3 else None


def _pass_pairs(p: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """Log median time and log median canary of each pass of ``p``; None for a point
    with fewer than two passes."""
    t, masks, c = _pass_parts(p)
    if len(masks) < 2:
        return None
    y = np.asarray([float(np.median(t[mine])) for mine in masks])
    x = (np.asarray([_pass_canary(c, mine) for mine in masks]) if c is not None
         else np.full(len(masks), math.nan))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(y > 0, np.log(y), math.nan), np.where(x > 0, np.log(x), math.nan)


def _pass_logs(p: dict, theta: float | None) -> np.ndarray | None:
    """Log median of each pass of ``p``, less ``theta`` times its log median canary
    (raw when ``theta`` is None); None for a point with fewer than two passes (or,
    corrected, no canary)."""
    got = _pass_pairs(p)
    if got is None:
        return None
    y, x = got
    if theta is None:
        return y
    return None if np.isnan(x).all() else y - theta * x


#: The least within-run spread of the canary (log sd over passes) from which an
#: implementation's sensitivity to it is estimated, and the least degrees of freedom.
SENSITIVITY_MIN_SD = 0.01
SENSITIVITY_MIN_DF = 6


def _sensitivity(points: Sequence[dict]) -> float:
    """θ of :func:`_sensitivity_fit`."""
    return _sensitivity_fit(points)[0]


def _sensitivity_fit(points: Sequence[dict]) -> tuple[float, float]:
    """How much of the canary's pass-to-pass change one implementation's times follow:
    θ, the slope of its log pass medians on the log pass canaries, both centred within
    each point of each run (so a change between the runs cannot enter it), pooled over
    ``points`` and clipped to [0, 1]. The drift correction divides by canary^θ
    (regression adjustment, as CUPED does with a pre-period covariate): an
    implementation that feels half of the canary's slow patches is corrected by half
    of them, rather than over-corrected by all (measured on a shared 2-core VM: numba's
    step follows about 0.45 of the canary's moves, numpy's 0.75). 1, the whole
    canary, where the canary moved too little within the runs to tell.

    Also its standard error (the least-squares slope's): the drift-corrected ratio of a
    point whose canary moved by a factor D between the runs is uncertain by that error
    times |log D| (:func:`_row`), which matters when the whole machine changed speed
    between the runs. 0 where θ fell back to 1 (nothing to read it from)."""
    sxy = sxx = yy = 0.0
    df = 0
    for p in points:
        got = _pass_pairs(p)
        if got is None:
            continue
        y, x = got
        keep = np.isfinite(y) & np.isfinite(x)
        if keep.sum() < 2:
            continue
        y, x = y[keep] - y[keep].mean(), x[keep] - x[keep].mean()
        sxy += float(x @ y)
        sxx += float(x @ x)
        yy += float(y @ y)
        df += int(keep.sum()) - 1
    if df < SENSITIVITY_MIN_DF or sxx / df < SENSITIVITY_MIN_SD ** 2:
        return 1.0, 0.0
    slope = sxy / sxx
    residual = max(0.0, yy - slope * sxy) / max(1, df - 1)
    return min(1.0, max(0.0, slope)), math.sqrt(residual / sxx)


def _side_logs(points: list[dict], theta: float | None) -> np.ndarray | None:
    """The pass estimates of one side: one point's passes, or, with replicate runs
    (several files on a side), every run's passes together (a run with one pass counts
    as one); None where that gives fewer than two, or a run lacks samples."""
    if len(points) == 1:
        return _pass_logs(points[0], theta)
    logs: list[float] = []
    for p in points:
        got = _pass_logs(p, theta)
        if got is None:
            t = _corrected(p, theta) if theta is not None else _samples(p)
            if t is None:
                return None
            got = np.asarray([math.log(float(np.median(t)))])
        logs.extend(got)
    return np.asarray(logs)


def _between(ps: list[dict], qs: list[dict], theta: float | None, noise: float,
             prior_var: float | None = None) -> tuple[Any, str] | None:
    """NEW/BASE of one point (raw when ``theta`` is None, else drift-corrected by the
    canary to that power) and the method it came from; ``ps``, ``qs``: the point in
    each BASE and NEW run (replicates after the first); ``prior_var``: the
    comparison's typical pass variance (stats.pass_ratio)."""
    a, b = _side_logs(ps, theta), _side_logs(qs, theta)
    if a is not None and b is not None:
        return stats.pass_ratio(a, b, noise, prior_var), "passes"
    p, q = ps[0], qs[0]
    a, b = ((_corrected(p, theta), _corrected(q, theta)) if theta is not None
            else (_samples(p), _samples(q)))
    if a is None or b is None:
        return None
    return stats.widen(stats.run_ratio(a, b), noise), "samples"


def _point_drift(ps: list[dict], qs: list[dict]) -> float:
    """|log| of the point's median canary NEW/BASE (every run of a side pooled); 0
    without a canary on both sides."""
    sides = []
    for side in (ps, qs):
        got = [c[np.isfinite(c) & (c > 0)] for p in side if (c := _canary_values(p)) is not None]
        got = np.concatenate(got) if got else np.empty(0)
        if not got.size:
            return 0.0
        sides.append(float(np.median(got)))
    return abs(math.log(sides[1] / sides[0]))


def _row(key: tuple, ps: list[dict], qs: list[dict], threshold: float,
         theta: float | None = 1.0, noise: tuple[float, float] = (0.0, 0.0),
         prior: tuple[float | None, float | None] = (None, None),
         theta_se: float = 0.0) -> Row:
    """One point's row (``ps``, ``qs``: the point in each run of a side, the first
    shown); ``theta``: its implementation's sensitivity to the canary (None: no drift
    correction) and ``theta_se`` its standard error; ``noise``: the run-to-run noise
    (raw, drift-corrected); ``prior``: the typical pass variance (raw,
    drift-corrected). The drift-corrected interval is also widened by ``theta_se``
    times the point's |log canary drift|: what dividing by canary^θ may leave of a
    change of the whole machine's speed between the runs."""
    p, q = ps[0], qs[0]
    raw = _between(ps, qs, None, noise[0], prior[0])
    if raw is None:
        lo = q["q1_s"] / p["q3_s"] if p["q3_s"] > 0 else 0.0
        hi = q["q3_s"] / p["q1_s"] if p["q1_s"] > 0 else math.inf
        rule = verdict(p, q, threshold)  # no p-value: a slower one always counts
        return Row(key, p, q, q["median_s"] / p["median_s"], lo, hi, rule,
                   p_slower=0.0 if rule == SLOWER else 1.0)
    est, how = raw
    row = Row(key, p, q, est.value, est.lo, est.hi,
              _FROM_STATS[stats.verdict(est, threshold)], method="samples",
              by_pass=how == "passes", p_slower=stats.p_slower(est))
    cor = _between(ps, qs, theta, noise[1], prior[1]) if theta is not None else None
    if cor is not None:
        est, how = cor
        est = stats.widen(est, theta_se * _point_drift(ps, qs))
        row.corrected, row.corrected_lo, row.corrected_hi = est.value, est.lo, est.hi
        row.verdict = _FROM_STATS[stats.verdict(est, threshold)]
        row.method, row.by_pass = "canary", how == "passes"
        row.p_slower = stats.p_slower(est)
    if row.verdict != SLOWER:
        row.p_slower = 1.0
    return row


def _typical_pass_variance(pairs: list[tuple], thetas: dict | None) -> float | None:
    """The median over the compared points of their pooled pass variance, raw
    (``thetas`` None) or drift-corrected with each implementation's sensitivity (None
    when no point has two passes in both runs)."""
    got = []
    for key, ps, qs in pairs:
        theta = None if thetas is None else thetas[key[0]]
        a, b = _side_logs(ps, theta), _side_logs(qs, theta)
        if a is not None and b is not None:
            var, df = stats.pass_variance(a, b)
            if df:
                got.append(var)
    return float(np.median(got)) if got else None


def _noise(rows: list[Row]) -> tuple[float, float]:
    """Run-to-run noise (log sd) of the raw and of the drift-corrected ratios."""
    out = []
    for corrected in (False, True):
        got = [(r.corrected, r.corrected_lo, r.corrected_hi) if corrected
               else (r.ratio, r.lo, r.hi) for r in rows if r.method != "iqr"]
        got = [g for g in got if g[0] is not None and g[1] and g[1] > 0 and math.isfinite(g[2])]
        keys = [r.key[0] for r in rows if r.method != "iqr"]
        if len(got) != len(keys):
            out.append(0.0)
            continue
        logs = [math.log(v) for v, _, _ in got]
        half = [max(math.log(v / lo), math.log(hi / v)) for v, lo, hi in got]
        out.append(stats.run_noise(logs, half, keys))
    return out[0], out[1]


def _drift(pairs: list[tuple[dict, dict]]) -> float | None:
    logs = []
    for p, q in pairs:
        ca, cb = _canary_values(p), _canary_values(q)
        if ca is not None and cb is not None:
            ma, mb = np.nanmedian(ca), np.nanmedian(cb)
            if ma > 0 and mb > 0:
                logs.append(math.log(mb / ma))
    return math.exp(float(np.median(logs))) if logs else None


def compare(base_doc: dict, new_doc: dict, threshold: float = DEFAULT_THRESHOLD,
            base_more: Sequence[dict] = (), new_more: Sequence[dict] = ()) -> Comparison:
    """Compare the points of ``new_doc`` with those of ``base_doc``. ``base_more`` and
    ``new_more``: replicate runs of the same sweep on each side (other processes, other
    moments): their passes join the first file's, so the intervals see how far runs
    differ, which no single run can show (Kalibera and Jones's rigorous benchmarking)."""
    if not (threshold >= 0 and math.isfinite(threshold)):
        raise UsageError(f"--threshold must be a finite number >= 0, got {threshold!r}")
    base = {schema.point_key(p): p for p in base_doc["points"]}
    new = {schema.point_key(p): p for p in new_doc["points"]}
    diffs = differences(base_doc, new_doc)
    for side, first, more in (("BASE", base_doc, base_more), ("NEW", new_doc, new_more)):
        for i, doc in enumerate(more, 2):
            diffs += [f"{side} run {i}: {d}" for d in differences(first, doc)]
    out = Comparison([], threshold, differences=diffs,
                     provenance={"BASE": provenance(base_doc), "NEW": provenance(new_doc)})
    out.replicates = (1 + len(base_more), 1 + len(new_more))
    # Dividing by two different canaries would compare the canaries too.
    same_canary = len({_canary(d) for d in (base_doc, new_doc, *base_more, *new_more)}) == 1
    for key in base:
        if key not in new:
            out.only_base.append(key)

    def ok(p: dict | None) -> bool:
        return p is not None and p["status"] == "ok" and p["median_s"] > 0

    extra = [[{schema.point_key(p): p for p in d["points"]} for d in docs]
             for docs in (base_more, new_more)]
    pairs = []
    for key, q in new.items():
        p = base.get(key)
        if p is None:
            out.only_new.append(key)
        elif not (ok(p) and ok(q)):
            out.not_ok.append(key)
        else:
            ps = [p, *(m[key] for m in extra[0] if ok(m.get(key)))]
            qs = [q, *(m[key] for m in extra[1] if ok(m.get(key)))]
            pairs.append((key, ps, qs))
    # Each implementation's sensitivity to the canary, from the passes of both sides.
    theta_se: dict[str, float] = {}
    if same_canary:
        for impl in dict.fromkeys(key[0] for key, _, _ in pairs):
            pts = [p for key, ps, qs in pairs if key[0] == impl for p in (*ps, *qs)]
            out.sensitivity[impl] = _sensitivity(pts)
            theta_se[impl] = _sensitivity_fit(pts)[1]
    out.sensitivity_se = theta_se
    thetas = out.sensitivity if same_canary else None
    prior = (_typical_pass_variance(pairs, None), _typical_pass_variance(pairs, thetas))

    def rows(noise: tuple[float, float]) -> list[Row]:
        return [_row(key, ps, qs, threshold, None if thetas is None else thetas[key[0]],
                     noise, prior, theta_se.get(key[0], 0.0)) for key, ps, qs in pairs]

    out.rows = rows((0.0, 0.0))
    # Run-to-run noise, read off the spread of the points; then every interval widened.
    out.noise = _noise(out.rows)
    if any(out.noise):
        out.rows = rows(out.noise)
    if not out.rows:
        raise UsageError("the two files have no measured point in common "
                         "(same impl, dtype, phase and sizes); compare runs of the same sweep")
    out.rows.sort(key=lambda r: (analysis.impl_sort_key(r.key[0]), r.key[1:]))
    out.impls = [_impl_row(impl, [r for r in out.rows if r.key[0] == impl], threshold)
                 for impl in dict.fromkeys(r.key[0] for r in out.rows)]
    # The exit status: slower points that stay so over all the points compared, and
    # slower implementations over all the implementations (Holm, each at half of 5%).
    for family, alpha in ((out.rows, GATE_ALPHA_POINTS), (out.impls, GATE_ALPHA_IMPLS)):
        for item, gate in zip(family, stats.holm([r.p_slower for r in family], alpha),
                              strict=True):
            item.gate = gate
    out.drift = _drift([(ps[0], qs[0]) for _, ps, qs in pairs])
    return out


def _impl_row(impl: str, rows: list[Row], threshold: float) -> ImplRow:
    """The verdict over one implementation's points: the mean of their log ratios with
    the larger of two standard errors, the points' own (from their intervals, pooled as
    independent) and the spread of the log ratios over sqrt(k), so points scattered
    more widely than their intervals claim widen it. Rows from interquartile ranges
    (no raw samples) carry no standard error and make it "no change" unless all of its
    points agree."""
    z = NormalDist().inv_cdf(0.5 + stats.CONFIDENCE / 2)
    logs, ses = [], []
    for r in rows:
        lo, hi, v = _lo(r), _hi(r), r.best
        logs.append(math.log(v))
        ok = r.method != "iqr" and lo > 0 and math.isfinite(hi)
        ses.append(max(math.log(v / lo), math.log(hi / v)) / z if ok else math.inf)
    k = len(rows)
    m = sum(logs) / k
    se = math.sqrt(sum(s * s for s in ses)) / k
    if k > 1:
        se = max(se, float(np.std(logs, ddof=1)) / math.sqrt(k))
    if not math.isfinite(se):
        verdicts = {r.verdict for r in rows}
        return ImplRow(impl, k, math.exp(m), 0.0, math.inf,
                       verdicts.pop() if len(verdicts) == 1 else SAME)
    est = stats.Estimate(math.exp(m), math.exp(m - z * se), math.exp(m + z * se), k)
    got = _FROM_STATS[stats.verdict(est, threshold)]
    return ImplRow(impl, k, est.value, est.lo, est.hi, got,
                   stats.p_slower(est) if got == SLOWER else 1.0)


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def geomeans(cmp: Comparison) -> dict[str, float]:
    """Geometric mean of NEW/BASE: over all points (``"all"``) and per implementation."""
    out = {"all": geomean([r.best for r in cmp.rows])}
    for impl in sorted({r.key[0] for r in cmp.rows}, key=analysis.impl_sort_key):
        out[impl] = geomean([r.best for r in cmp.rows if r.key[0] == impl])
    return out


def summary_lines(cmp: Comparison) -> list[str]:
    """The answer in a few lines: counts, every slower and faster point by name, the
    machine's drift, what may make the runs incomparable, and what was not compared."""
    g = geomeans(cmp)
    methods = {m: sum(r.method == m for r in cmp.rows) for m in ("canary", "samples", "iqr")}
    how = ", ".join(f"{n} {label}" for m, label in (
        ("canary", "drift-corrected by the canary"), ("samples", "from raw samples"),
        ("iqr", "from interquartile ranges (no raw samples)")) if (n := methods[m]))
    lines = [f"{len(cmp.rows)} points compared: {cmp.count(SLOWER)} slower, "
             f"{cmp.count(FASTER)} faster, {cmp.count(SAME)} no change "
             f"(minimum effect {cmp.threshold:.0%}, 95% intervals; {how}).",
             f"geometric mean NEW/BASE: {g['all']:.3f} over all points."]
    if cmp.impls:
        lines.append("per implementation, geometric mean over its points [95%]: " + "; ".join(
            f"{i.impl} x{i.ratio:.3f} [{i.lo:.3f}, {i.hi:.3f}] {i.verdict}"
            for i in cmp.impls) + ".")
    for verdict_ in (SLOWER, FASTER):
        rows = [r for r in cmp.rows if r.verdict == verdict_]
        if rows:
            lines.append(f"{verdict_}: " + "; ".join(
                f"{r.label} x{r.best:.3f} [{_lo(r):.3f}, {_hi(r):.3f}]" for r in rows))
    slower = [r for r in cmp.rows if r.verdict == SLOWER]
    slower_impls = [i for i in cmp.impls if i.verdict == SLOWER]
    if slower or slower_impls:
        held = [r for r in slower if r.gate]
        held_impls = [i.impl for i in slower_impls if i.gate]
        rest = (f"; the other {len(slower) - len(held)} could be chance among "
                f"{len(cmp.rows)} points at 95% each" if len(held) < len(slower) else "")
        whole = (f"; slower as a whole beyond chance over the {len(cmp.impls)} "
                 f"implementations (Holm at 2.5%): {', '.join(held_impls) or 'none'}"
                 if slower_impls else "")
        lines.append(f"exit status {int(cmp.any_slower)}: {len(held)} of the {len(slower)} "
                     f"slower points stay slower with a 2.5% family-wise error over the "
                     f"{len(cmp.rows)} points compared (Holm){rest}{whole}.")
    if cmp.replicates != (1, 1):
        lines.append(f"replicate runs: {cmp.replicates[0]} BASE, {cmp.replicates[1]} NEW; "
                     "their passes are pooled per side, so the intervals hold how far "
                     "runs differ.")
    passes = sum(r.by_pass for r in cmp.rows)
    if passes:
        lines.append(f"{passes} of {len(cmp.rows)} points compared pass by pass (a t "
                     "interval over each run's passes, their variance moderated toward "
                     "the comparison's typical one), the others sample by sample.")
    raw_noise, cor_noise = cmp.noise
    if raw_noise or cor_noise:
        lines.append(f"run-to-run noise read off the points' spread about their "
                     f"implementation's median: ±{math.expm1(cor_noise or raw_noise):.1%} "
                     "(1 sd); every interval is widened by it, so a point is called "
                     "slower or faster only beyond what two runs of the same code differ by "
                     "here.")
    if cmp.drift is not None:
        theta = ", ".join(f"{k} {v:.2f}" + (f" ± {se:.2f}" if (se := cmp.sensitivity_se.get(k))
                                             else "") for k, v in cmp.sensitivity.items())
        lines.append(f"machine drift (canary NEW/BASE): {cmp.drift:.3f}; the verdicts use "
                     "times divided by canary^θ of the same pass, θ the share of the "
                     "canary's pass-to-pass moves each implementation's times follow "
                     f"(1: all of them; ± its standard error, which widens each "
                     f"drift-corrected interval by its product with that point's canary "
                     f"drift): {theta}.")
        if abs(math.log(cmp.drift)) > math.log1p(DRIFT_WARN):
            less = "less" if cmp.drift < 1 else "more"
            lines.append(f"WARNING: the canary took {abs(cmp.drift - 1):.0%} {less} time "
                         f"in NEW than in BASE: the whole machine changed speed; the verdicts then "
                         "rest on how well θ carries that change to each implementation, "
                         "and the intervals are wider for it. Time both sides at one "
                         "moment, or add replicate runs (--base-runs, --new-runs), for a "
                         "sharper answer.")
    if cmp.differences:
        lines.append("WARNING: the runs differ in what makes timings comparable ("
                     + "; ".join(cmp.differences) + "); ratios compare those too.")
    skipped = len(cmp.only_base) + len(cmp.only_new) + len(cmp.not_ok)
    if skipped:
        lines.append(f"not comparable: {len(cmp.only_base)} only in BASE, {len(cmp.only_new)} "
                     f"only in NEW, {len(cmp.not_ok)} not measured (skipped/failed) in one.")
    return lines


def _lo(r: Row) -> float:
    return r.corrected_lo if r.corrected is not None else r.lo


def _hi(r: Row) -> float:
    return r.corrected_hi if r.corrected is not None else r.hi


def provenance_lines(cmp: Comparison) -> list[str]:
    return [f"{which}: " + ", ".join(f"{k} {v}" for k, v in prov.items() if v is not None)
            for which, prov in cmp.provenance.items()]


def table_rows(cmp: Comparison) -> list[list[str]]:
    def corrected(r: Row) -> str:
        if r.corrected is None:
            return "-"
        return f"{r.corrected:.3f} [{r.corrected_lo:.3f}, {r.corrected_hi:.3f}]"

    return [[r.label, analysis.fmt_time(r.base["median_s"]), analysis.fmt_time(r.new["median_s"]),
             f"{r.ratio:.3f} [{r.lo:.3f}, {r.hi:.3f}]", corrected(r), r.verdict]
            for r in cmp.rows]


TABLE_HEADER = ["point", "BASE median", "NEW median", "NEW/BASE raw [95%]",
                "drift-corrected [95%]", "verdict"]
IMPL_HEADER = ["implementation", "points", "geometric mean NEW/BASE [95%]", "verdict",
               "fails the gate"]


def impl_table_rows(cmp: Comparison) -> list[list[str]]:
    return [[i.impl, str(i.points), f"{i.ratio:.3f} [{i.lo:.3f}, {i.hi:.3f}]", i.verdict,
             "yes" if i.gate else "no"] for i in cmp.impls]


def format_table(cmp: Comparison) -> str:
    """The points' table, then the implementations'."""
    return (_aligned([TABLE_HEADER, *table_rows(cmp)]) + "\n\n"
            + _aligned([IMPL_HEADER, *impl_table_rows(cmp)]))


def _aligned(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths, strict=True)))
                     for r in rows)


FIGURE_W = 11.0


def figure_height(n_points: int) -> float:
    """Inches: one row per compared point."""
    return max(3.5, 1.9 + 0.24 * n_points)


def figure_size_px(n_points: int) -> tuple[int, int]:
    """Pixel (width, height) of the comparison's PNG."""
    from mlpbench.report import figures

    return figures.size_px(figure_height(n_points), FIGURE_W)


def draw(cmp: Comparison, out: Path, name: str = "compare", formats=("png", "svg")) -> Path:
    """One row per point: the ratio NEW/BASE (dot) and its 95% interval (bar), coloured
    by verdict, on a log axis, with the threshold band around 1 shaded; below a line, one
    row per implementation over all its points (diamond)."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    from mlpbench.report import figures

    items = [(r.label, r.best, _lo(r), _hi(r), r.verdict, "o") for r in cmp.rows]
    items += [(f"{i.impl}: all {i.points} points (geometric mean)", i.ratio, i.lo, i.hi,
               i.verdict, "D") for i in cmp.impls]
    fig = Figure(figsize=(FIGURE_W, figure_height(len(items))), dpi=figures.DPI,
                 layout="constrained")
    ax = fig.subplots()
    ys = list(range(len(items)))
    for y, (_, best, lo, hi, verdict_, marker) in zip(ys, items, strict=True):
        c = VERDICT_COLORS[verdict_]
        hi = hi if math.isfinite(hi) else best * 10
        ax.plot([max(lo, 1e-9), hi], [y, y], color=c, lw=2, alpha=0.5)
        ax.plot([best], [y], marker, color=c, ms=6)
    if cmp.impls:
        ax.axhline(len(cmp.rows) - 0.5, color="0.4", lw=0.8)
    t = cmp.threshold
    ax.axvspan(1 / (1 + t), 1 + t, color="0.85", zorder=0)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 1.25, 1.6, 2.0, 3.0, 5.0, 8.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_yticks(ys, [item[0] for item in items], fontsize=8)
    ax.set_ylim(len(ys) - 0.5, -0.5)
    ax.set_xlabel("NEW / BASE time (below 1: faster; bar: 95% interval; "
                  "drift-corrected where both runs have a canary)")
    g = geomeans(cmp)["all"]
    ax.set_title(f"NEW vs BASE: {cmp.count(SLOWER)} slower, {cmp.count(FASTER)} faster, "
                 f"{cmp.count(SAME)} no change\ngeometric mean of NEW/BASE {g:.3f}",
                 fontsize=11)
    ax.grid(True, axis="x", alpha=0.3)
    handles = [Line2D([], [], marker="o", ls="", color=VERDICT_COLORS[v], label=v)
               for v in (SLOWER, FASTER, SAME)]
    if cmp.impls:
        handles.append(Line2D([], [], marker="D", ls="", color="0.3",
                              label="an implementation over all its points"))
    handles.append(Line2D([], [], lw=8, color="0.85", label=f"±{t:.0%} threshold"))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False,
               fontsize=9)
    return figures.save_figure(fig, out, name, formats)


def markdown(cmp: Comparison, base_path: str, new_path: str, figure: Path | None) -> str:
    from mlpbench.report.document import Section, Table, render_md

    sec = Section("Comparison", [f"BASE: {base_path}", f"NEW: {new_path}",
                                 *provenance_lines(cmp), RULE],
                  bullets=summary_lines(cmp), figure=figure,
        tables=[Table("Per point", TABLE_HEADER, table_rows(cmp)),
                Table("Per implementation", IMPL_HEADER, impl_table_rows(cmp))])
    return render_md("mlpbench compare", [sec])
