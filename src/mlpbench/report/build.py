"""Build a full report (figures, report.md, report.html) from loaded result documents.

The page opens with the answer (:mod:`.recommend`): which implementation to use where,
by how much, where the favourite loses, what compiling costs; then the machine and the
noise floor; then one section per swept axis (time, speed-up and throughput figures for
each dtype side by side, a compact size × implementation table, the long tables folded),
the winner maps, fixed cost and throughput, memory, thread scaling, phases, compile
costs, numerics, the machine in full and links to every file. A view whose data is
absent says why instead of drawing an empty figure.
"""

from __future__ import annotations

import math
import platform
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlpbench.atomic import write_text
from mlpbench.report import analysis, machines, recommend
from mlpbench.report.analysis import fmt_calls, fmt_size, fmt_time, fmt_x
from mlpbench.report.document import Figure, Section, Table, relative_href, render_html, render_md

ITEMSIZE = {"float64": 8, "float32": 4}


@dataclass
class Report:
    out: Path
    md: Path
    html: Path
    figures: list[Path] = field(default_factory=list)        # the PNG of every figure
    omitted: dict[str, str] = field(default_factory=dict)    # section title -> why
    summary: list[str] = field(default_factory=list)


class _Drawer:
    """Draws figures into the report folder and remembers each one."""

    def __init__(self, out: Path, rep: Report, formats):
        self.out, self.rep, self.formats = out, rep, formats

    def __call__(self, fn, *args, name: str, alt: str, **kwargs) -> Figure | None:
        png = fn(*args, self.out, name, self.formats, **kwargs)
        if png is None or not png.exists():
            return None
        self.rep.figures.append(png)
        svg = png.with_suffix(".svg")
        return Figure(png, alt, svg if "svg" in self.formats and svg.exists() else None)


def _g(x: float | None) -> str:
    return "–" if x is None else f"{x:.3g}"


def _omit(rep: Report, title: str, why: str) -> Section:
    rep.omitted[title] = why
    return Section(title, omitted=why)


# --- the machine ---------------------------------------------------------------------------


def _machine_section(docs: list[dict], out: Path) -> Section:
    doc = docs[0]
    mach, thr = doc.get("machine") or {}, doc.get("threads") or {}
    bullets = []
    for key, label in (("cpu_model", "CPU"), ("cores", "cores"), ("os", "OS"),
                       ("hostname", "host"), ("python", "Python"), ("numpy", "NumPy"),
                       ("numba", "Numba"), ("llvmlite", "llvmlite"), ("scipy", "SciPy")):
        if mach.get(key) is not None:
            bullets.append(f"{label}: {mach[key]}")
    if mach.get("memory_bytes"):
        bullets.append(f"memory: {mach['memory_bytes'] / 2**30:.1f} GiB")
    if mach.get("cpu_flags"):
        simd = [f for f in mach["cpu_flags"] if f in ("avx", "avx2", "fma", "avx512f", "neon")]
        if simd:
            bullets.append(f"SIMD: {', '.join(simd)}")
    for lib in mach.get("blas") or []:
        if isinstance(lib, dict):
            bullets.append("BLAS: " + ", ".join(f"{k}={v}" for k, v in lib.items()
                                                 if k in ("internal_api", "version",
                                                          "num_threads", "threading_layer",
                                                          "architecture")))
    thread_line = ", ".join(f"{k} = {v}" for k, v in thr.items()
                            if isinstance(v, str | int | float)) or "not recorded"
    bullets.append(f"thread settings: {thread_line}")
    env = mach.get("env") or {}
    if env:
        bullets.append("environment: " + ", ".join(f"{k}={v}" for k, v in env.items()))
    from mlpbench.harness.machine import blas_kernel_warning

    if warn := blas_kernel_warning(mach):
        bullets.insert(0, f"WARNING: {warn}")
    tables = [Table("Result files", ["file", "axis", "points", "complete", "created", "quick"],
                    [[Path(d.get("_path", "?")).name, d["sweep"].get("axis", "?"),
                      str(len(d["points"])), str(d["complete"]), str(d["created"]),
                      str(d["sweep"].get("quick"))] for d in docs])]
    differs = [Path(d.get("_path", "?")).name for d in docs[1:]
               if (d.get("machine") or {}).get("hostname") != mach.get("hostname")]
    paras = []
    if differs:
        paras.append("Warning: these files come from another host than the first one, so "
                     f"their timings are not directly comparable: {', '.join(differs)}.")
    peak = doc.get("peak")
    if peak:
        rows = []
        for dt, table in (peak.get("gemm_gflops") or {}).items():
            for th, v in sorted(table.items(), key=lambda kv: int(kv[0])):
                rows.append([f"GEMM peak, {dt}, {th} thread(s)", f"{v:.3g} GFLOP/s"])
        if peak.get("triad_gbs"):
            rows.append(["memory bandwidth (triad)", f"{peak['triad_gbs']:.3g} GB/s"])
        tables.append(Table("Ceilings (mlpbench peak)", ["ceiling", "value"], rows))
    else:
        paras.append("No ceilings: the result files carry no peak measurement "
                     "(run mlpbench peak, or mlpbench run, to measure them).")
    nz = analysis.noise(docs)
    if nz is not None and nz.missed:
        tables.append(Table(
            f"Points below the ±{100 * nz.target:.2g}% precision target (budget spent first)",
            ["impl", "dtype", "phase", "n", "d", "d_h", "median ±", "ratio ±"],
            [[p["impl"], p["dtype"], p["phase"], f"{p['n']:,}", f"{p['d']:,}", f"{p['d_h']:,}",
              _pct(p["precision"].get("median")), _pct(p["precision"].get("ratio"))]
             for p in nz.missed], collapsed=True))
    return Section("Machine, threads and ceilings", paras, tables=tables, bullets=bullets)


def _pct(x) -> str:
    return "–" if not isinstance(x, int | float) else f"{100 * x:.2g}%"


# --- one axis ------------------------------------------------------------------------------


def _cell(s: analysis.Series | None, x, sp: analysis.Speedup | None, ref: str) -> str:
    if s is None:
        return ""
    t = s.time_at(x)
    if t is not None:
        if sp is None or x not in sp.sizes:
            return fmt_time(t)
        r = sp.intervals[sp.sizes.index(x)]
        return f"{fmt_time(t)} · {analysis.fmt_ratio(r)}"
    if x in s.skipped_sizes:
        pred = s.skipped_predicted[s.skipped_sizes.index(x)]
        return f"skipped (≈{fmt_time(pred)})" if pred else "skipped"
    if x in s.failed_sizes:
        return "failed"
    return ""


def compact_table(axis: str, dtype: str, by_impl: dict, sps: dict) -> Table:
    """Sizes × implementations: each cell the median time and the speed-up over the
    reference with its interval; the last column the fastest (or the tie)."""
    impls = list(by_impl)
    ref = analysis.reference_impl(impls)
    sizes = sorted({x for s in by_impl.values()
                    for x in (*s.sizes, *s.skipped_sizes, *s.failed_sizes)})
    sts = {st.size: st for st in analysis.standings(by_impl)}
    rows = []
    unpaired = False
    for x in sizes:
        row = [f"{x:,}"]
        for impl in impls:
            sp = sps.get(impl)
            row.append(_cell(by_impl[impl], x, sp, ref))
            if sp is not None and x in sp.sizes:
                unpaired |= sp.intervals[sp.sizes.index(x)].method == analysis.UNPAIRED
        st = sts.get(x)
        row.append("" if st is None else ("tie: " + ", ".join(st.tied)) if st.tie
                   else st.winner)
        rows.append(row)
    header = [axis] + [i if i == ref else f"{i} (× vs {ref})" for i in impls] + ["fastest"]
    note = (f"Each cell: median time per step · speed-up vs {ref} = t_{ref} / t_impl (above "
            "1: faster) with its 95% interval. 'tie': not told apart from the fastest "
            "(stats.verdict, 3% minimum effect).")
    if unpaired:
        note += " " + analysis.UNPAIRED_NOTE
    return Table(f"Step time and speed-up along {axis}, {dtype}", header, rows, note=note)


def _points_table(axis: str, series: dict) -> Table:
    rows = []
    for (dtype, impl), s in series.items():
        for x, p in zip(s.sizes, s.points, strict=True):
            est = analysis.median_estimate(p)
            how = "95%" if analysis.samples_of(p) is not None else "IQR"
            rows.append([impl, dtype, f"{x:,}", fmt_time(est.value),
                         f"{fmt_time(est.lo)}–{fmt_time(est.hi)} ({how})",
                         f"{analysis.gflops_of(p):.3g}", str(analysis.sample_count(p)), "ok"])
        for x, pred in zip(s.skipped_sizes, s.skipped_predicted, strict=True):
            rows.append([impl, dtype, f"{x:,}", "–", "–", "–", "0",
                         f"skipped (predicted {fmt_time(pred)})"])
        for x in s.failed_sizes:
            rows.append([impl, dtype, f"{x:,}", "–", "–", "–", "0", "failed"])
    rows.sort(key=lambda r: (r[1], analysis.impl_sort_key(r[0]), int(r[2].replace(",", ""))))
    return Table(f"Every step point along {axis}", [
        "impl", "dtype", axis, "median", "interval", "GFLOP/s", "samples", "status"], rows,
        collapsed=True)


def _fit_table(axis: str, fitted: dict) -> Table:
    theory = analysis.THEORY_EXPONENT[axis]
    rows = []
    for (dtype, impl), f in fitted.items():
        if f is None:
            rows.append([impl, dtype, "–", "–", "fewer than 3 measured sizes"])
        else:
            rows.append([impl, dtype, f.text(), f.label, ", ".join(f"{x:,}" for x in f.sizes)])
    return Table(f"Fitted exponents along {axis} (t ∝ {axis}^k, 95% interval; theory "
                 f"{theory:g})", ["impl", "dtype", "exponent k", "label", "sizes fitted"],
                 rows, note="Labels from stats.exponent_label: linear when the whole interval "
                            "lies within 0.9–1.1, sub-/super-linear when it lies below/above, "
                            "not determined otherwise (or wider than 0.5).")


def _ceilings(axis: str, docs: list[dict], series: dict) -> dict:
    """Per dtype: the GEMM peak, and the bandwidth bound along ``axis`` (bandwidth ×
    FLOP/byte). With cache-level bandwidths in the peak object, each size is bounded by
    the bandwidth of the level its compulsory bytes fit in (``level``); otherwise by the
    triad's DRAM bandwidth."""
    from mlpbench.report import kernels as kernel_report

    out = {}
    doc = next((d for d in docs if d["sweep"].get("axis") in (axis, "grid")), docs[0])
    peak = doc.get("peak") or {}
    levels = kernel_report.ceilings([doc])
    for dtype in {k[0] for k in series}:
        entry = {"peak": analysis.gemm_peak(doc, dtype), "bw": None, "gbs": None,
                 "levels": None, "ceil": levels}
        gbs = peak.get("triad_gbs")
        sizes = sorted({x for (dt, _), s in series.items() if dt == dtype
                        for x in (*s.sizes, *s.skipped_sizes)})
        if (gbs or levels) and sizes:
            fixed = next(s.fixed for (dt, _), s in series.items() if dt == dtype)
            xs = np.unique(np.geomspace(sizes[0], sizes[-1], 60).round().astype(int))
            bound, used = [], []
            for x in xs:
                at = {**fixed, axis: int(x)}
                level, bw = "DRAM", gbs
                if levels:
                    nbytes = analysis.compulsory_bytes("step", **at, itemsize=ITEMSIZE[dtype])
                    level = kernel_report.level_of(nbytes, levels)
                    bw = levels["gbs"][level]
                bound.append(analysis.bandwidth_bound("step", **at, itemsize=ITEMSIZE[dtype],
                                                      gbs=bw))
                used.append(level)
            entry.update(bw=(xs, bound), gbs=gbs)
            if levels:
                entry["levels"] = {lv: levels["gbs"][lv] for lv in kernel_report.LEVELS
                                   if lv in used}
        out[dtype] = entry
    return out


def _roofline(ceil: dict, point: dict) -> tuple[float, str] | None:
    """The roofline bound of one step point in GFLOP/s — the lower of the GEMM peak and
    the bandwidth of the level its compulsory bytes fit in times its FLOP/byte (DRAM's
    triad without cache-level readings) — and what sets it."""
    from mlpbench.report import kernels as kernel_report

    sz = {k: point[k] for k in ("n", "d", "d_h", "m")}
    itemsize = ITEMSIZE[point["dtype"]]
    bounds = []
    if ceil.get("peak"):
        bounds.append((ceil["peak"][0], "GEMM peak"))
    level, bw = "DRAM", ceil.get("gbs")
    if ceil.get("ceil"):
        level = kernel_report.level_of(analysis.compulsory_bytes("step", **sz,
                                                                 itemsize=itemsize),
                                       ceil["ceil"])
        bw = ceil["ceil"]["gbs"][level]
    if bw:
        bounds.append((analysis.bandwidth_bound("step", **sz, itemsize=itemsize, gbs=bw),
                       f"{level} bandwidth"))
    return min(bounds) if bounds else None


def _exponent_sentence(axis: str, fitted: dict, dtype: str) -> str | None:
    parts = [f"{impl} {f.text()} ({f.label})" for (dt, impl), f in fitted.items()
             if dt == dtype and f is not None]
    if not parts:
        return None
    return (f"Exponents, {dtype} (t ∝ {axis}^k over the upper half of the range on a log "
            f"scale, 95% interval): " + "; ".join(parts) + ".")


def _axis_section(axis: str, docs: list[dict], rep: Report, draw: _Drawer) -> Section:
    title = f"Scaling in {axis}"
    series = analysis.axis_series(docs, axis)
    if not series:
        return _omit(rep, title, f"no step points along {axis}")
    fitted = analysis.fits(series)
    sp = analysis.speedups(series)
    fixed = next(iter(series.values())).fixed
    ceil = _ceilings(axis, docs, series)
    figs, tables = [], []
    paras = [f"One training step (forward + backward) against {axis}, with "
             f"{analysis.sizes_text(fixed)} held fixed, on log-log axes: a straight line of "
             f"slope k means time ∝ {axis}^k. For each dtype: the median time (band: "
             "interquartile range; hollow: skipped, at the cost the harness predicted), the "
             f"speed-up over {analysis.REFERENCE} with intervals (a tick on the line at 1 marks "
             "each crossing), and GFLOP/s under the GEMM peak and the bandwidth bound (the "
             "bandwidth of the memory level — L1, L2, L3 or DRAM — the step's compulsory bytes "
             "fit in, times its FLOP/byte). Hover a point for its value; the tables below give "
             "every one, and each point's fraction of the lower of the two bounds."]
    for dtype in [d for d in ("float64", "float32") if any(k[0] == d for k in series)]:
        figs.append(draw(_figs().draw_scaling, axis, series, fitted, dtype=dtype,
                         name=f"scaling_{axis}-{dtype}", alt=f"Step time vs {axis}, {dtype}"))
        if any(k[0] == dtype for k in sp):
            figs.append(draw(_figs().draw_speedup, axis, sp, dtype=dtype,
                             name=f"speedup_{axis}-{dtype}",
                             alt=f"Speed-up vs {axis}, {dtype}"))
        c = ceil.get(dtype, {})
        if c.get("peak") or c.get("bw"):
            figs.append(draw(_figs().draw_throughput, axis, series, ceil, dtype=dtype,
                             name=f"throughput_{axis}-{dtype}",
                             alt=f"Throughput vs {axis}, {dtype}"))
        sentence = _exponent_sentence(axis, fitted, dtype)
        if sentence:
            paras.append(sentence)
        tables.append(compact_table(axis, dtype, analysis.of_dtype(series, dtype),
                                    {i: s for (dt, i), s in sp.items() if dt == dtype}))
    cross = [f"{impl} ({dtype}) {'starts' if c.starts else 'stops'} beating "
             f"{s.reference} at {axis} ≈ {fmt_size(c.size)}"
             for (dtype, impl), s in sp.items() for c in s.crossovers]
    if not sp:
        paras.append(f"No speed-up: {analysis.REFERENCE} and another implementation were "
                     "not both measured at any size.")
    omitted = None
    if not any(c.get("peak") or c.get("bw") for c in ceil.values()):
        omitted = ("the result files carry no peak measurement, so there is no throughput "
                   "figure (run mlpbench peak)")
        rep.omitted[f"Throughput and roofline in {axis}"] = omitted
    tables += [_fit_table(axis, fitted), _points_table(axis, series)]
    rows = []
    for (dtype, impl), s in series.items():
        for x, p in zip(s.sizes, s.points, strict=True):
            g = analysis.gflops_of(p)
            roof = _roofline(ceil.get(dtype, {}), p)
            rows.append([impl, dtype, f"{x:,}", f"{g:.3g}",
                         f"{roof[0]:.3g} ({roof[1]})" if roof else "–",
                         f"{100 * g / roof[0]:.3g}%" if roof else "–"])
    tables.append(Table(f"Throughput against the roofline, along {axis}",
                        ["impl", "dtype", axis, "GFLOP/s", "bound, GFLOP/s (what sets it)",
                         "% of bound"], rows, collapsed=True))
    return Section(title, paras, bullets=cross, figures=[f for f in figs if f], tables=tables,
                   omitted=omitted)


def _figs():
    from mlpbench.report import figures

    return figures


# --- new views -----------------------------------------------------------------------------


def _winner_section(docs: list[dict], rep: Report, draw: _Drawer) -> Section:
    title = "Winner maps"
    maps = analysis.winner_maps(docs)
    if not maps:
        return _omit(rep, title, "no result file sweeps a grid of two axes (mlpbench bench "
                                 "--vary grid, or mlpbench run)")
    figs, tables = [], []
    for wm in maps:
        figs.append(draw(_figs().draw_winner_map, wm,
                         name=f"winner_{wm.x_axis}-{wm.y_axis}-{wm.dtype}",
                         alt=f"Fastest implementation over {wm.x_axis} × {wm.y_axis}, "
                             f"{wm.dtype}"))
        rows = []
        for y in wm.ys:
            row = [f"{y:,}"]
            for x in wm.xs:
                st = wm.cells.get((x, y))
                if st is None:
                    row.append("–")
                elif st.tie:
                    row.append("tie: " + ", ".join(st.tied))
                elif st.lead is None:
                    row.append(st.winner)
                else:
                    row.append(f"{st.winner} {analysis.fmt_ratio(st.lead)}")
            rows.append(row)
        tables.append(Table(f"Fastest per cell, {wm.y_axis} (rows) × {wm.x_axis} (columns), "
                            f"{wm.dtype} ({analysis.sizes_text(wm.fixed)})",
                            [f"{wm.y_axis} \\ {wm.x_axis}"] + [f"{x:,}" for x in wm.xs],
                            rows, note="Each cell: the fastest implementation and its lead "
                                       "t_runner-up / t_fastest with its interval."))
    return Section(title, [
        "Each cell of a grid sweep is coloured by its fastest implementation (the colours "
        "of every other figure) and holds its lead over the runner-up; grey cells are ties "
        "(the fastest cannot be told apart from another within the noise). The borders "
        "between colours are the crossovers in two dimensions."],
        figures=[f for f in figs if f], tables=tables)


def _cost_section(docs: list[dict], rep: Report, draw: _Drawer) -> Section:
    title = "Fixed cost and throughput"
    rows, figs = [], []
    axes = analysis.swept_axes(docs)
    by_axis = {a: analysis.cost_fits(analysis.axis_series(docs, a)) for a in axes}
    if not any(by_axis.values()):
        return _omit(rep, title, "no sweep has three or more measured sizes")
    for axis, fitted in by_axis.items():
        for (dtype, impl), c in fitted.items():
            hi = "∞" if not math.isfinite(c.gflops.hi) else f"{c.gflops.hi:.3g}"
            rows.append([impl, dtype, axis, f"{c.fixed.value * 1e6:.3g}",
                         f"[{c.fixed.lo * 1e6:.3g}, {c.fixed.hi * 1e6:.3g}]",
                         f"{c.gflops.value:.3g}", f"[{c.gflops.lo:.3g}, {hi}]",
                         f"{100 * c.worst_resid:.2g}%"])
    rows.sort(key=lambda r: (r[1], analysis.impl_sort_key(r[0]), axes.index(r[2])))
    axis = "n" if by_axis.get("n") else next(a for a, f in by_axis.items() if f)
    for dtype in analysis.dtypes_of(docs):
        fitted = {impl: c for (dt, impl), c in by_axis[axis].items() if dt == dtype}
        if fitted:
            figs.append(draw(_figs().draw_costs, fitted, dtype, axis,
                             name=f"costs-{dtype}", alt=f"Fixed cost and throughput, {dtype}"))
    return Section(title, [
        "Per implementation, time = a + b·FLOPs fitted over each sweep (least squares on "
        "relative errors, so small and large sizes weigh alike; a, b ≥ 0), with 95% "
        "percentile-bootstrap intervals over the sizes and their samples. a is what a call "
        "costs whatever the swept size: dispatch, allocation, validation, and the work "
        "that does not grow with that axis (along n, everything done on the weights "
        "alone); it decides who wins at small sizes. 1/b is the rate at large sizes: it "
        "decides who wins there. "
        "'worst misfit' is the largest relative gap between the line and a measured "
        f"median; a large one says the model does not hold (caches, blocking). The figure "
        f"uses the {axis} sweep."],
        figures=[f for f in figs if f], tables=[Table(
            "Fixed cost a and rate 1/b per implementation and sweep",
            ["impl", "dtype", "sweep", "a [µs]", "a: 95% interval", "1/b [GFLOP/s]",
             "1/b: 95% interval", "worst misfit"], rows)])


def _memory_section(docs: list[dict], rep: Report, draw: _Drawer) -> Section:
    title = "Memory per step"
    methods = analysis.memory_methods(docs)
    measured = {i: m for i, m in methods.items() if any(map(analysis.measured, m))}
    if not measured:
        why = ("the result files carry no memory measurement" if not methods else
               "every implementation's memory is marked 'not measured'")
        return _omit(rep, title, why)
    figs = []
    for axis in analysis.swept_axes(docs):
        series = analysis.axis_series(docs, axis)
        for dtype in analysis.dtypes_of(docs):
            if any(analysis.memory_of(p) for (dt, _), s in series.items() if dt == dtype
                   for p in s.points):
                figs.append(draw(_figs().draw_memory, axis, series, dtype=dtype,
                                 name=f"memory_{axis}-{dtype}",
                                 alt=f"Memory per step vs {axis}, {dtype}"))
    base = analysis.base_sizes(docs)
    seen: dict[tuple, list] = {}    # the base point of each sweep: shown once
    for d in docs:
        for p in d["points"]:
            m = p.get("memory")
            if (p["phase"] == "step" and isinstance(m, dict)
                    and all(p[k] == v for k, v in base.items())):
                seen.setdefault((p["impl"], p["dtype"]), [
                    p["impl"], p["dtype"], analysis.fmt_bytes(m.get("peak_bytes")),
                    "–" if m.get("allocations") is None else f"{m['allocations']:,}",
                    str(m.get("method"))])
    rows = sorted(seen.values(), key=lambda r: (r[1] != "float64", analysis.impl_sort_key(r[0])))
    unmeasured = [f"{i} ({', '.join(sorted(m))})" for i, m in methods.items()
                  if not any(map(analysis.measured, m))]
    paras = ["Peak bytes allocated during one step and the number of allocations, as each "
             "implementation's own counters report them: tracemalloc for NumPy and the "
             "Python loops, numba's NRT statistics for the numba implementations, the "
             "peers' own counters where they exist. "
             + ("Measured: " + ", ".join(
                 f"{i} ({', '.join(sorted(x for x in m if analysis.measured(x)))})"
                 for i, m in measured.items()) + ". ")
             + (f"Not measured: {', '.join(unmeasured)}." if unmeasured else "")]
    return Section(title, paras, figures=[f for f in figs if f], tables=[Table(
        f"Memory at the base point ({analysis.sizes_text(base)})",
        ["impl", "dtype", "peak", "allocations", "method"], rows)] if rows else [])


def _threads_section(all_docs: list[dict], rep: Report, draw: _Drawer) -> Section:
    title = "Thread scaling"
    rows = analysis.thread_scaling(all_docs)
    if not rows:
        return _omit(rep, title, "the result files were all measured at one thread count "
                                 "(give files from runs with --threads 1 and --threads 2)")
    c1, c2 = rows[0].counts
    figs, table = [], []
    for dtype in ("float64", "float32"):
        these = [r for r in rows if r.dtype == dtype]
        if these:
            figs.append(draw(_figs().draw_threads, these, dtype, name=f"threads-{dtype}",
                             alt=f"Speed-up from the second thread, {dtype}"))
        for r in these:
            for sz, est in zip(r.sizes, r.speedup, strict=True):
                table.append([r.impl, dtype, analysis.sizes_text(dict(zip(
                    ("n", "d", "d_h", "m"), sz, strict=True))), analysis.fmt_ratio(est)])
    summary = []
    for r in rows:
        vals = [e.value for e in r.speedup]
        summary.append(f"{r.impl} ({r.dtype}) {fmt_x(min(vals))}–{fmt_x(max(vals))}")
    return Section(title, [
        f"Speed-up from {c1} to {c2} threads, t({c1}) / t({c2}), at every point measured "
        f"at both (1: no gain; {c2 / c1:g}: perfect scaling). The two runs were timed at "
        "different moments, so the intervals compare their sample sets (Hodges–Lehmann), "
        "or their quartiles where the files keep no samples.",
        "Range over the points: " + "; ".join(summary) + "."],
        figures=[f for f in figs if f], tables=[Table(
            f"Speed-up t({c1}) / t({c2})", ["impl", "dtype", "point", "speed-up"], table,
            collapsed=len(table) > 12)])


# --- phases, compile, numerics -------------------------------------------------------------


def _phase_section(docs: list[dict], rep: Report, draw: _Drawer) -> Section:
    title = "Forward vs backward"
    ref, rows = analysis.phase_table(docs)
    if not rows:
        return _omit(rep, title, "no forward or backward points were measured "
                                 "(mlpbench bench --phase forward,backward)")
    figs = [draw(_figs().draw_phases, ref, [r for r in rows if r["dtype"] == dtype], dtype,
                 name=f"phases-{dtype}", alt=f"Forward vs backward, {dtype}")
            for dtype in dict.fromkeys(r["dtype"] for r in rows)]
    where = analysis.sizes_text(ref)
    table = Table(f"Phase times at {where}", ["impl", "dtype", "forward", "backward",
                                               "backward / forward", "step"],
                  [[r["impl"], r["dtype"], fmt_time(r["forward_s"]), fmt_time(r["backward_s"]),
                    _g(r["backward_s"] / r["forward_s"]) if r["forward_s"] and r["backward_s"]
                    else "–", fmt_time(r["step_s"])] for r in rows])
    paras = [f"Median time of the forward pass and of the backward pass (gradient given "
             f"the forward pass) at {where}."]
    skipped = {(p["impl"], p["dtype"], p["phase"]): p["predicted_s"] for d in docs
               for p in d["points"] if p["status"] == "skipped"
               and p["phase"] in ("forward", "backward")
               and all(p[k] == v for k, v in ref.items())}
    if skipped:
        paras.append("Not measured there (predicted too slow for the budget): " + ", ".join(
            f"{impl} {phase} ({dtype}, predicted {fmt_time(pred)})"
            for (impl, dtype, phase), pred in skipped.items()) + ".")
    return Section(title, paras, figures=[f for f in figs if f], tables=[table])


def _compile_section(docs: list[dict], rep: Report, draw: _Drawer) -> Section:
    title = "Compile time and when it pays off"
    rows = [r for r in analysis.compile_table(docs) if r["rival"]]
    if not rows:
        return _omit(rep, title, "no JIT-compiled implementation has a compile time (cold "
                                 "start) and a point next to one that does not compile")
    base = analysis.base_sizes(docs)
    figs = [draw(_figs().draw_compile, [r for r in rows if r["dtype"] == dtype], dtype, base,
                 name=f"compile-{dtype}", alt=f"When compiling pays off, {dtype}")
            for dtype in dict.fromkeys(r["dtype"] for r in rows)]
    short = []
    for impl, dtype in dict.fromkeys((r["impl"], r["dtype"]) for r in rows):
        rs = [r for r in rows if r["impl"] == impl and r["dtype"] == dtype]
        rec = analysis.coldstart(docs, impl, dtype)
        b = next((r for r in rs if r["base"]), None)
        pays = [r["payoff_calls"] for r in rs if r["payoff_calls"]]
        short.append([impl, dtype, fmt_time(rs[0]["compile_s"]),
                      fmt_time(rec["cached_first_s"]) if rec else "–",
                      (f"{fmt_calls(b['payoff_calls'])} vs {b['rival']}" if b else "–"),
                      (f"{min(pays):,}–{max(pays):,}" if len(pays) > 1 else
                       f"{pays[0]:,}" if pays else "–"),
                      f"{len(rs) - len(pays)} of {len(rs)}"])
    tables = [Table("Compile cost per JIT implementation",
                    ["impl", "dtype", "compile", "first call, cache warm",
                     "calls to pay off at the base point", "over the sweep",
                     "points where it never pays off"], short),
              Table("Every point", ["impl", "dtype", "n", "d", "d_h", "warm", "rival",
                                    "rival warm", "calls to pay off"],
                    [[r["impl"], r["dtype"], f"{r['n']:,}", f"{r['d']:,}", f"{r['d_h']:,}",
                      fmt_time(r["jit_s"]), r["rival"], fmt_time(r["rival_s"]),
                      fmt_calls(r["payoff_calls"])] for r in rows], collapsed=True)]
    starts = [r for d in docs for r in d.get("coldstart") or []]
    if starts:
        tables.append(Table(
            "First calls in new processes (harness.coldstart), step at the base point",
            ["impl", "dtype", "compile (empty cache)", "first call, cache warm", "warm call",
             "import mlpbench.mlp"],
            [[r["impl"], r["dtype"], fmt_time(r["compile_s"]), fmt_time(r["cached_first_s"]),
              fmt_time(r["warm_s"]), fmt_time(r["import_s"])] for r in starts],
            collapsed=True))
    return Section(title, [
        "A JIT-compiled implementation pays for its compile time after k calls when "
        "compile + k·t_jit ≤ k·t_rival, the rival being the fastest implementation that "
        "does not compile, at the same point. The compile time is measured in a new "
        "process with an empty cache (first step minus a warm step) when the run measured "
        "cold starts; otherwise it is the largest gap between a first call that compiled "
        "and the warm median (a first call that only loaded the on-disk cache does not "
        "count). The figure shows every measured point, 'never' where the compiled code is "
        "slower per call, and rings the base point. mlpbench's numba kernels cache their "
        "machine code on disk, so a later process mostly loads it: expect the full compile "
        "time only after a change of code or numba version; JAX keeps no on-disk cache "
        "unless its compilation cache is configured."],
        figures=[f for f in figs if f], tables=tables)


def _numerics_section(numerics: dict | None, why_absent: str | None, rep: Report,
                      draw: _Drawer) -> Section:
    figures = _figs()
    title = "Numerics: worst ulp error against mpmath"
    if not numerics:
        return _omit(rep, title, why_absent or "no accuracy table was given")
    figs, tables = [], []
    for dtype, table in numerics.items():
        figs.append(draw(figures.draw_numerics, table, dtype, name=f"numerics-{dtype}",
                         alt=f"Worst ulp error per kernel, {dtype}"))
        impls = sorted({i for row in table.values() for i in row}, key=analysis.impl_sort_key)
        tables.append(Table(f"Worst ulp error, {dtype}", ["kernel", *impls],
                            [[figures.KERNEL_LABEL.get(k, k),
                              *[figures.fmt_ulp(row.get(i)) for i in impls]]
                             for k, row in table.items()], collapsed=True))
    paras = ["Worst error over a grid of inputs, in units in the last place of the result, "
             "against a 50-digit mpmath reference. Each cell holds the exact value; its "
             "colour is the class (exact, ≤ 1, ≤ 2, ≤ 4, ≤ 16, more), so 0, 1 and 2 ulp "
             "look different."]
    ident = [t.get("sigmoid_tanh_identity") for t in numerics.values()]
    worst = max((v for row in ident if row for v in row.values() if v is not None),
                default=None)
    if worst is not None:
        paras.append("The naive identity (tanh(x/2)+1)/2 reaches "
                     f"{_g(worst)} ulp: for very negative x it returns 0 where the true "
                     "value is tiny but representable, which is why the kernels compute "
                     "the stable form.")
    return Section(title, paras, figures=[f for f in figs if f], tables=tables)


def _files_section(docs: list[dict], rep: Report) -> Section:
    links = [(Path(d["_path"]).name, relative_href(d["_path"], rep.out))
             for d in docs if d.get("_path")]
    for png in rep.figures:
        for p in (png, png.with_suffix(".svg")):
            if p.exists():
                links.append((p.name, p.name))
    links.append(("report.md", "report.md"))
    return Section("Files", ["The result files this report was made from, every figure "
                             "(PNG at 2×, and SVG) and the Markdown version."], links=links)


def build_report(docs: list[dict], out: Path, numerics: dict | None = None,
                 numerics_absent: str | None = None, title: str | None = None,
                 formats: tuple = ("png", "svg")) -> Report:
    """Write every figure, report.md and report.html into ``out`` (which must exist).

    ``numerics``: ``{dtype: {kernel: {impl: worst_ulp}}}`` or ``None`` (then the numerics
    section says ``numerics_absent``). ``formats``: files per figure (with SVG,
    report.html inlines the SVG; without, it embeds the PNG).
    """
    out = Path(out)
    from mlpbench.report import kernels as kernel_report

    docs, kernel_docs = kernel_report.split(docs)
    if not docs:  # kernel sweeps only (bench --kernels)
        return kernel_report.build_report(kernel_docs, out, numerics, numerics_absent,
                                          title, formats)
    from mlpbench.report import activations as act_report

    docs, act_docs = act_report.split(docs)  # other hidden activations: their own section
    rep = Report(out, out / "report.md", out / "report.html")
    draw = _Drawer(out, rep, formats)
    # Files of several machines: compared side by side (report.machines); the other
    # sections show the first machine's files only.
    comp = machines.compare_machines(docs, out, formats)
    first = machines.first_machine_docs(docs)
    main = analysis.primary_docs(first)
    ans = recommend.answer(first)
    rep.summary = ans.lines()
    host = (docs[0].get("machine") or {}).get("hostname") or platform.node()
    if comp is not None:
        host = "machines " + ", ".join(comp.machines)
        rep.summary += comp.summary
        rep.figures += comp.figures
    title = title or f"mlpbench report: {host}, {docs[0]['created'][:10]}"
    after = [x for x in (ans.machine, ans.noise) if x]
    if ans.unpaired:
        after.append(analysis.UNPAIRED_NOTE)
    sections = [Section("Recommendation", [
        "Which implementation to use, by size, and by how much it leads the next one "
        "(time of the next over time of the fastest, 95% interval); ties where the two "
        "cannot be told apart."], bullets=ans.bullets or ["No comparable measurements."],
        after=after, box=True)]
    sections += comp.sections if comp is not None else []
    axes = analysis.swept_axes(main)
    for axis in axes:
        sections.append(_axis_section(axis, main, rep, draw))
    loose = analysis.loose_points(main)
    if loose:
        sections.append(_loose_section(loose))
    if not axes and not loose:
        rep.omitted["Scaling"] = "no result file sweeps n, d or d_h"
    sections += [_winner_section(main, rep, draw), _cost_section(main, rep, draw),
                 _memory_section(main, rep, draw), _threads_section(first, rep, draw),
                 _phase_section(main, rep, draw), _compile_section(main, rep, draw),
                 _numerics_section(numerics, numerics_absent, rep, draw),
                 *([act_report.section(docs, act_docs, rep)] if act_docs else []),
                 *([kernel_report.section(kernel_docs, rep, draw)] if kernel_docs else []),
                 _machine_section(docs, out)]
    failed = [p for d in docs for p in d["points"] if p["status"] == "failed"]
    if failed:
        sections.append(Section("Failed points", tables=[Table(
            "Points that failed", ["impl", "dtype", "phase", "n", "d", "d_h", "reason"],
            [[p["impl"], p["dtype"], p["phase"], str(p["n"]), str(p["d"]), str(p["d_h"]),
              str(p["reason"])] for p in failed])]))
    sections.append(_files_section(docs + act_docs + kernel_docs, rep))
    write_text(rep.md, render_md(title, sections))
    write_text(rep.html, render_html(title, sections))
    return rep


def _loose_section(loose: dict) -> Section:
    rows = []
    for dtype, sts in loose.items():
        for st in sts:
            where = analysis.sizes_text(dict(zip(("n", "d", "d_h", "m"), st.size, strict=True)))
            for impl, t in st.times.items():
                r = st.against(impl)
                rows.append([where, dtype, impl, fmt_time(t),
                             "fastest" if impl == st.winner else
                             f"{analysis.fmt_ratio(r)}" + (" (tie)" if impl in st.tied else "")])
    return Section("Measured points", [
        "Points that lie on no swept axis (a pytest-benchmark file, single sizes): the "
        "median time of each implementation and its time over the fastest one's."],
        tables=[Table("Every point", ["point", "dtype", "impl", "median",
                                      "time / fastest's"], rows)])


def numerics_for(docs: list[dict]) -> tuple[dict | None, str | None]:
    """Compute the accuracy table for the dtypes of ``docs``; ``(None, why)`` if impossible."""
    try:
        from mlpbench.kernels import accuracy
    except ImportError as exc:
        return None, f"the accuracy module could not be imported ({exc})"
    tables = {}
    for dtype in analysis.dtypes_of(docs) or ["float64"]:
        try:
            tables[dtype] = accuracy.worst_ulp_table(dtype=dtype)
        except ImportError as exc:
            return None, f"mpmath is needed for the accuracy table ({exc})"
    return tables, None
