"""The numbers behind every figure of a report, computed from validated result documents.

Everything here is plain data (dicts, lists, floats): the figures draw it, the
report prints it as tables, and tests check it without matplotlib.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mlpbench.harness import schema
from mlpbench.mlp import registry

#: Theoretical exponent of the step's cost in each axis, the others held fixed
#: (``4·n·d·d_h + 6·n·d_h·m`` is linear in each of n, d and d_h).
THEORY_EXPONENT = {"n": 1.0, "d": 1.0, "d_h": 1.0}

#: Relative difference below which the summary calls two implementations on par.
PAR = 0.05

#: Fewest points a fit needs (one left for the spread of the residuals).
MIN_FIT_POINTS = 3


def impl_sort_key(name: str) -> tuple:
    """Sorts implementation names in the registry's display order (unregistered last)."""
    return registry.sort_key(name)


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


@dataclass
class Fit:
    """Least-squares fit of ``log t = a + k·log x`` over the asymptotic sizes."""

    exponent: float
    lo: float          # 95% confidence interval of the exponent (Student t)
    hi: float
    sizes: list        # sizes used by the fit

    def text(self) -> str:
        if self.lo == self.hi:
            return f"{self.exponent:.2f}"
        return f"{self.exponent:.2f} [{self.lo:.2f}, {self.hi:.2f}]"


def swept_axes(docs: list[dict]) -> list[str]:
    """Axes swept by at least one document, in the order n, d, d_h."""
    found = set()
    for doc in docs:
        sweep = doc["sweep"]
        if sweep.get("axis") in schema.AXES:
            found.add(sweep["axis"])
        elif sweep.get("axis") == "grid":
            found.update(a for a in schema.AXES if len(sweep.get("sizes", {}).get(a, [])) > 1)
    return [a for a in schema.AXES if a in found]


def _docs_for_axis(docs: list[dict], axis: str) -> list[dict]:
    return [d for d in docs if d["sweep"].get("axis") in (axis, "grid")]


def dtypes_of(docs: list[dict]) -> list[str]:
    present = {p["dtype"] for doc in docs for p in doc["points"]}
    return [d for d in ("float64", "float32") if d in present]


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


def fit_exponent(sizes: list, times: list) -> Fit | None:
    """Fit ``t ∝ x^k`` on the asymptotic sizes; ``None`` if there are too few points."""
    import numpy as np
    from scipy import stats

    use = asymptotic_sizes(sizes)
    if not use:
        return None
    x = np.log(np.asarray(use, dtype=float))
    y = np.log(np.asarray([times[sizes.index(u)] for u in use], dtype=float))
    if np.ptp(x) == 0:
        return None
    xm = x - x.mean()
    k = float(np.dot(xm, y - y.mean()) / np.dot(xm, xm))
    resid = y - y.mean() - k * xm
    dof = len(x) - 2
    se = math.sqrt(float(np.dot(resid, resid)) / dof / float(np.dot(xm, xm)))
    half = float(stats.t.ppf(0.975, dof)) * se
    return Fit(k, k - half, k + half, list(use))


def fits(series: dict[tuple, Series]) -> dict[tuple, Fit | None]:
    return {key: fit_exponent(s.sizes, s.median) for key, s in series.items()}


@dataclass
class Crossover:
    impl: str
    size: float        # interpolated on the log-log curve of the speedup
    starts: bool       # True: the implementation starts beating numpy at this size


@dataclass
class Speedup:
    """``t_numpy / t_impl`` on the sizes both measured (above 1: faster than numpy)."""

    impl: str
    dtype: str
    sizes: list
    ratio: list
    crossovers: list


def speedups(series: dict[tuple, Series], reference: str = "numpy") -> dict[tuple, Speedup]:
    out = {}
    for (dtype, impl), s in series.items():
        ref = series.get((dtype, reference))
        if impl == reference or ref is None:
            continue
        common = [x for x in s.sizes if x in ref.sizes]
        if not common:
            continue
        ratio = [ref.time_at(x) / s.time_at(x) for x in common]
        out[(dtype, impl)] = Speedup(impl, dtype, common, ratio, _crossovers(impl, common, ratio))
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


def win_ranges(sp: Speedup) -> list[tuple[int, int]]:
    """Maximal runs of measured sizes where the implementation beats numpy: [(first, last)]."""
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


def reference_sizes(docs: list[dict], phases: tuple, impls: tuple = ()) -> dict | None:
    """The point at which single-size figures (phases, compile) are drawn.

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
    impls = sorted({p["impl"] for d in docs for p in d["points"]}, key=impl_sort_key)
    for dtype in dtypes_of(docs):
        for impl in impls:
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


def compile_cost(docs: list[dict], dtype: str, phase: str = "step") -> float | None:
    """Compile time of numba's ``phase`` in ``dtype``, in seconds.

    Preferably the cold-start measurement (a new process with an empty numba cache).
    Otherwise the largest ``cold_s − median_s`` over the sweep's numba points whose
    first call compiled (``jit_compiled``; files without that field count as compiled):
    only the first call in a process compiles, later points reuse the machine code.
    A first call that only loaded numba's on-disk cache is not a compile time.
    """
    rec = coldstart(docs, "numba", dtype) if phase == "step" else None
    if rec is not None:
        return rec["compile_s"]
    gaps = [p["cold_s"] - p["median_s"] for doc in docs for p in doc["points"]
            if p["impl"] == "numba" and p["dtype"] == dtype and p["phase"] == phase
            and p["status"] == "ok" and p["cold_s"] is not None
            and p.get("jit_compiled", 1) > 0]
    return max(gaps) if gaps else None


def payoff_calls(compile_s: float, warm_numba: float, warm_numpy: float) -> int | None:
    """Calls after which numba (compile, then warm calls) has cost less than numpy.

    Smallest k with ``compile_s + k·warm_numba ≤ k·warm_numpy``; ``None`` if numba is
    not faster per call.
    """
    if warm_numba >= warm_numpy:
        return None
    return max(1, math.ceil(compile_s / (warm_numpy - warm_numba)))


def compile_table(docs: list[dict]) -> list[dict]:
    """Per dtype and numba step point: compile time, warm times, calls to pay off."""
    rows = []
    for dtype in dtypes_of(docs):
        comp = compile_cost(docs, dtype)
        if comp is None:
            continue
        seen = set()
        for doc in docs:
            for p in doc["points"]:
                if (p["impl"] != "numba" or p["dtype"] != dtype or p["phase"] != "step"
                        or p["status"] != "ok"):
                    continue
                sz = {k: p[k] for k in ("n", "d", "d_h", "m")}
                if tuple(sz.values()) in seen:
                    continue
                seen.add(tuple(sz.values()))
                npp = _ok_point(docs, "numpy", dtype, "step", sz)
                rows.append({"dtype": dtype, **sz, "compile_s": comp, "cold_s": p["cold_s"],
                             "numba_s": p["median_s"],
                             "numpy_s": npp["median_s"] if npp else None,
                             "payoff_calls": (payoff_calls(comp, p["median_s"], npp["median_s"])
                                              if npp else None)})
    rows.sort(key=lambda r: (r["dtype"], schema.flops("step", r["n"], r["d"], r["d_h"], r["m"])))
    return rows


def fmt_time(s: float | None) -> str:
    if s is None:
        return "–"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def fmt_size(x: float) -> str:
    return f"{x:,.0f}" if x >= 10 else f"{x:.2g}"


def _axis_summary(axis: str, fitted: dict, sp: dict, dtype: str) -> str | None:
    """One sentence per axis and dtype: where numba beats numpy, and the exponents."""
    parts = []
    nb = sp.get((dtype, "numba"))
    if nb is not None:
        runs = win_ranges(nb)
        if not runs:
            slow = [1 / r for r in nb.ratio]
            where = (f"at {axis} = {fmt_size(nb.sizes[0])}, the only size both measured"
                     if len(nb.sizes) == 1 else f"at every measured {axis}")
            if max(slow) < 1 + PAR:
                parts.append(f"numba and numpy are within {PAR:.0%} of each other {where}")
            else:
                parts.append(f"numpy is faster than numba {where} (numba takes "
                             f"{_span(slow)} numpy's time)")
        for lo, hi in runs:
            rs = [r for x, r in zip(nb.sizes, nb.ratio, strict=True) if lo <= x <= hi]
            if len(nb.sizes) == 1:
                where = f"at {axis} = {fmt_size(lo)}, the only size both measured"
            elif lo == hi:
                where = f"at {axis} = {fmt_size(lo)}"
            elif lo == nb.sizes[0] and hi == nb.sizes[-1]:
                where = f"at every measured {axis} ({fmt_size(lo)}–{fmt_size(hi)})"
            elif lo == nb.sizes[0]:
                where = f"at {axis} ≤ {fmt_size(hi)}"
            elif hi == nb.sizes[-1]:
                where = f"at {axis} ≥ {fmt_size(lo)}"
            else:
                where = f"for {fmt_size(lo)} ≤ {axis} ≤ {fmt_size(hi)}"
            if max(rs) < 1 + PAR:
                parts.append(f"numba and numpy are within {PAR:.0%} of each other {where}")
            else:
                parts.append(f"numba is {_span(rs)} faster than numpy {where}")
    fits_here = [(impl, f) for (dt, impl), f in fitted.items() if dt == dtype and f is not None]
    if fits_here:
        theory = THEORY_EXPONENT[axis]
        groups: dict[str, list[str]] = {"linear": [], "not": [], "noisy": []}
        for impl, f in fits_here:
            groups[linearity(f, theory)].append(impl)
        who = {1: "it", 2: "both", 3: "all three"}.get(len(fits_here), "all")
        if len(groups["linear"]) == len(fits_here):
            verdict = f"{who} scale linearly in {axis}"
        else:
            said = []
            for key, one, many in (("linear", "scales linearly", "scale linearly"),
                                   ("not", "does not scale linearly", "do not scale linearly"),
                                   ("noisy", "is too noisy to tell", "are too noisy to tell")):
                if groups[key]:
                    said.append(f"{', '.join(groups[key])} "
                                f"{one if len(groups[key]) == 1 else many}")
            verdict = f"in {axis}, " + ", ".join(said)
        exps = ", ".join(f"{impl} {f.text()}" for impl, f in fits_here)
        parts.append(f"{verdict} (fitted exponent {exps}; theory {theory:g})")
    return f"{axis}, {dtype}: {'; '.join(parts)}." if parts else None


def linearity(f: Fit, theory: float = 1.0) -> str:
    """``"linear"``: within 0.15 of theory, or a tight interval (half-width ≤ 0.25) holding
    it; ``"noisy"``: a wider interval holding it; ``"not"``: an interval excluding it."""
    holds = f.lo <= theory <= f.hi
    if abs(f.exponent - theory) <= 0.15 or (holds and (f.hi - f.lo) / 2 <= 0.25):
        return "linear"
    return "noisy" if holds else "not"


def _span(values: list[float]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:.3g}–{hi:.3g}×" if hi / lo > 1.05 else f"{lo:.3g}×"


def summary(docs: list[dict]) -> list[str]:
    """A few sentences a reader can take away, written from the numbers."""
    lines = []
    for axis in swept_axes(docs):
        series = axis_series(docs, axis)
        fitted = fits(series)
        sp = speedups(series)
        for dtype in dtypes_of(docs):
            line = _axis_summary(axis, fitted, sp, dtype)
            if line:
                lines.append(line)
    table = compile_table(docs)
    ok = [p for d in docs for p in d["points"] if p["status"] == "ok"]
    noisy = [p for p in ok if p.get("high_spread")]
    if noisy:
        lines.append(f"noise: {len(noisy)} of {len(ok)} measured points have an interquartile "
                     "range above 10% of the median (a busy machine?); read their exponents "
                     "and crossovers with care.")
    for dtype in dtypes_of(docs):
        rows = [r for r in table if r["dtype"] == dtype and r["numpy_s"]]
        if rows:
            pays = [r["payoff_calls"] for r in rows if r["payoff_calls"] is not None]
            text = f"compile, {dtype}: the numba step compiles in {fmt_time(rows[0]['compile_s'])}"
            rec = coldstart(docs, "numba", dtype)
            if rec is not None:
                text += (f" (a new process with an empty cache; with the on-disk cache warm, "
                         f"a new process's first step takes {fmt_time(rec['cached_first_s'])})")
            if pays:
                text += (f" and pays that back against numpy after {min(pays):,} calls "
                         f"(where numba saves the most per call; up to {max(pays):,}).")
            else:
                text += "; numba is never faster than numpy per call here, so it never pays off."
            lines.append(text)
    return lines
