"""Build a full report (figures, report.md, report.html) from loaded result documents.

Figures whose data is absent (no peak, no phases, no numerics) are not drawn: their
section says why instead.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlpbench.atomic import write_text
from mlpbench.report import analysis
from mlpbench.report.analysis import fmt_size, fmt_time
from mlpbench.report.document import Section, Table, render_html, render_md

ITEMSIZE = {"float64": 8, "float32": 4}


@dataclass
class Report:
    out: Path
    md: Path
    html: Path
    figures: list[Path] = field(default_factory=list)
    omitted: dict[str, str] = field(default_factory=dict)    # section title -> why
    summary: list[str] = field(default_factory=list)


def _g(x: float | None) -> str:
    return "–" if x is None else f"{x:.3g}"


def _machine_section(docs: list[dict]) -> Section:
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
    files = [Table("Result files", ["file", "axis", "points", "complete", "created", "quick"],
                   [[Path(d.get("_path", "?")).name, d["sweep"].get("axis", "?"),
                     str(len(d["points"])), str(d["complete"]), str(d["created"]),
                     str(d["sweep"].get("quick"))] for d in docs])]
    differs = [Path(d.get("_path", "?")).name for d in docs[1:]
               if d.get("threads") != doc.get("threads")
               or (d.get("machine") or {}).get("hostname") != mach.get("hostname")]
    paras = []
    if differs:
        paras.append("Warning: these files come from another host or thread setting than the "
                     f"first one, so their timings are not directly comparable: "
                     f"{', '.join(differs)}.")
    peak = doc.get("peak")
    if peak:
        rows = []
        for dt, table in (peak.get("gemm_gflops") or {}).items():
            for th, v in sorted(table.items(), key=lambda kv: int(kv[0])):
                rows.append([f"GEMM peak, {dt}, {th} thread(s)", f"{v:.3g} GFLOP/s"])
        if peak.get("triad_gbs"):
            rows.append(["memory bandwidth (triad)", f"{peak['triad_gbs']:.3g} GB/s"])
        files.append(Table("Ceilings (mlpbench peak)", ["ceiling", "value"], rows))
    else:
        paras.append("No ceilings: the result files carry no peak measurement "
                     "(run mlpbench peak, or mlpbench run, to measure them).")
    return Section("Machine, threads and ceilings", paras, tables=files, bullets=bullets)


def _series_table(axis: str, series: dict) -> Table:
    rows = []
    for (dtype, impl), s in series.items():
        for x, med, q1, q3, p in zip(s.sizes, s.median, s.q1, s.q3, s.points, strict=True):
            rows.append([impl, dtype, f"{x:,}", fmt_time(med), fmt_time(q1), fmt_time(q3),
                         f"{analysis.gflops_of(p):.3g}", "ok"])
        for x, pred in zip(s.skipped_sizes, s.skipped_predicted, strict=True):
            rows.append([impl, dtype, f"{x:,}", "–", "–", "–", "–",
                         f"skipped (predicted {fmt_time(pred)})"])
        for x in s.failed_sizes:
            rows.append([impl, dtype, f"{x:,}", "–", "–", "–", "–", "failed"])
    rows.sort(key=lambda r: (r[1], analysis.impl_sort_key(r[0]), int(r[2].replace(",", ""))))
    return Table(f"Step times along {axis}", [
        "impl", "dtype", axis, "median", "q1", "q3", "GFLOP/s", "status"], rows)


def _fit_table(axis: str, fitted: dict) -> Table:
    theory = analysis.THEORY_EXPONENT[axis]
    rows = []
    for (dtype, impl), f in fitted.items():
        if f is None:
            rows.append([impl, dtype, "–", "–", f"{theory:g}", "fewer than 3 measured sizes"])
        else:
            rows.append([impl, dtype, f"{f.exponent:.3f}", f"[{f.lo:.3f}, {f.hi:.3f}]",
                         f"{theory:g}", ", ".join(f"{x:,}" for x in f.sizes)])
    return Table(f"Fitted exponents along {axis} (t ∝ {axis}^k, 95% CI)",
                 ["impl", "dtype", "exponent k", "95% CI", "theory", "sizes fitted"], rows)


def _ceilings(axis: str, docs: list[dict], series: dict) -> dict:
    out = {}
    doc = next((d for d in docs if d["sweep"].get("axis") in (axis, "grid")), docs[0])
    peak = doc.get("peak") or {}
    for dtype in {k[0] for k in series}:
        entry = {"peak": analysis.gemm_peak(doc, dtype), "bw": None, "gbs": None}
        gbs = peak.get("triad_gbs")
        sizes = sorted({x for (dt, _), s in series.items() if dt == dtype
                        for x in (*s.sizes, *s.skipped_sizes)})
        if gbs and sizes:
            fixed = next(s.fixed for (dt, _), s in series.items() if dt == dtype)
            xs = np.unique(np.geomspace(sizes[0], sizes[-1], 60).round().astype(int))
            bound = [analysis.bandwidth_bound("step", **{**fixed, axis: int(x)},
                                              itemsize=ITEMSIZE[dtype], gbs=gbs) for x in xs]
            entry.update(bw=(xs, bound), gbs=gbs)
        out[dtype] = entry
    return out


def _axis_sections(axis: str, docs: list[dict], out: Path, rep: Report,
                   formats) -> list[Section]:
    from mlpbench.report import figures

    series = analysis.axis_series(docs, axis)
    if not series:
        sec = Section(f"Scaling in {axis}", omitted=f"no step points along {axis}")
        rep.omitted[sec.title] = sec.omitted
        return [sec]
    fitted = analysis.fits(series)
    sp = analysis.speedups(series)
    fixed = next(iter(series.values())).fixed
    secs = []

    png = figures.draw_scaling(axis, series, fitted, out, f"scaling_{axis}", formats)
    rep.figures.append(png)
    secs.append(Section(
        f"Scaling in {axis}",
        [f"Median time of one training step (forward + backward) against {axis}, "
         f"with {figures.fixed_text(fixed)} held fixed; log-log, so a straight line of "
         f"slope k means time ∝ {axis}^k. The band is the interquartile range; hollow "
         "markers are points the harness skipped, drawn at the cost it predicted. The "
         "exponent is fitted over the upper half of the measured range on a log scale "
         f"(at least the {analysis.MIN_FIT_POINTS} largest sizes), where per-call overhead "
         "no longer dominates."],
        figure=png, tables=[_fit_table(axis, fitted), _series_table(axis, series)]))

    title = f"Speedup over numpy in {axis}"
    if sp:
        png = figures.draw_speedup(axis, sp, out, f"speedup_{axis}", formats)
        rep.figures.append(png)
        rows, cross = [], []
        for (dtype, impl), s in sp.items():
            rows += [[impl, dtype, f"{x:,}", f"{r:.3g}"] for x, r in
                     zip(s.sizes, s.ratio, strict=True)]
            cross += [f"{impl} ({dtype}) {'starts' if c.starts else 'stops'} beating numpy at "
                      f"{axis} ≈ {fmt_size(c.size)}" for c in s.crossovers]
        paras = ["Speedup is numpy's median time divided by the implementation's, at the "
                 "sizes both measured: above 1 the implementation is faster than numpy. "
                 "Crossovers are interpolated on the log-log curve."]
        if not cross:
            paras.append("No crossover: the order of the implementations does not change "
                         f"over the measured {axis}.")
        secs.append(Section(title, paras, figure=png, bullets=cross, tables=[
            Table(f"Speedup over numpy along {axis}", ["impl", "dtype", axis, "speedup"],
                  rows)]))
    else:
        reason = "numpy and another implementation were not both measured at any size"
        secs.append(Section(title, omitted=reason))
        rep.omitted[title] = reason

    title = f"Throughput and roofline in {axis}"
    ceil = _ceilings(axis, docs, series)
    if any(c["peak"] or c["bw"] for c in ceil.values()):
        png = figures.draw_throughput(axis, series, ceil, out, f"throughput_{axis}", formats)
        rep.figures.append(png)
        rows = []
        for (dtype, impl), s in series.items():
            pk = ceil.get(dtype, {}).get("peak")
            if s.points:
                g = analysis.gflops_of(s.points[-1])
                rows.append([impl, dtype, f"{s.sizes[-1]:,}", f"{g:.3g}",
                             f"{100 * g / pk[0]:.3g}%" if pk else "–"])
        secs.append(Section(title, [
            "GFLOP/s counts the five matrix products of a step (4·n·d·d_h + 6·n·d_h·m). "
            "Ceilings: the GEMM peak measured by mlpbench peak at the run's thread count, and "
            "the bandwidth bound: triad bandwidth times the step's arithmetic intensity, "
            "with compulsory traffic only (X and labels read, parameters read and gradients "
            "written once). The bandwidth bound is for data streamed from memory: when the "
            "parameters stay in cache between calls, small sizes can exceed it."],
            figure=png, tables=[
            Table(f"Throughput at the largest measured {axis}",
                  ["impl", "dtype", axis, "GFLOP/s", "% of GEMM peak"], rows)]))
    else:
        reason = "the result files carry no peak measurement (run mlpbench peak)"
        secs.append(Section(title, omitted=reason))
        rep.omitted[title] = reason
    return secs


def _phase_section(docs: list[dict], out: Path, rep: Report, formats) -> Section:
    from mlpbench.report import figures

    title = "Forward vs backward"
    ref, rows = analysis.phase_table(docs)
    if not rows:
        reason = ("no forward or backward points were measured "
                  "(mlpbench bench --phase forward,backward)")
        rep.omitted[title] = reason
        return Section(title, omitted=reason)
    png = figures.draw_phases(ref, rows, out, "phases", formats)
    rep.figures.append(png)
    where = figures.fixed_text(ref)
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
    return Section(title, paras, figure=png, tables=[table])


def _compile_section(docs: list[dict], out: Path, rep: Report, formats) -> Section:
    from mlpbench.report import figures

    title = "Numba compile time and when it pays off"
    rows = analysis.compile_table(docs)
    ref = analysis.reference_sizes(docs, ("step",), ("numpy", "numba")) or {}
    cases = []
    for dtype in analysis.dtypes_of(docs):
        both = [r for r in rows if r["dtype"] == dtype and r["numpy_s"]]
        pays = [r for r in both if r["payoff_calls"]]
        at_ref = [r for r in both if all(r[k] == v for k, v in ref.items())]
        pick = (min(pays, key=lambda r: r["payoff_calls"]) if pays
                else (at_ref or both or [None])[-1])
        if pick is not None:
            cases.append({"dtype": dtype, "compile_s": pick["compile_s"],
                          "sizes": {k: pick[k] for k in ("n", "d", "d_h", "m")},
                          "numba_s": pick["numba_s"], "numpy_s": pick["numpy_s"],
                          "payoff_calls": pick["payoff_calls"]})
    if not cases:
        reason = "no numba step points with a first-call (cold) time next to a numpy point"
        rep.omitted[title] = reason
        return Section(title, omitted=reason)
    png = figures.draw_compile(cases, out, "compile", formats)
    rep.figures.append(png)
    table = Table("Compile cost and payoff per numba point",
                  ["dtype", "n", "d", "d_h", "compile", "numba warm", "numpy warm",
                   "calls to pay off"],
                  [[r["dtype"], f"{r['n']:,}", f"{r['d']:,}", f"{r['d_h']:,}",
                    fmt_time(r["compile_s"]), fmt_time(r["numba_s"]), fmt_time(r["numpy_s"]),
                    f"{r['payoff_calls']:,}" if r["payoff_calls"] else
                    ("never (numba slower)" if r["numpy_s"] else "–")] for r in rows])
    starts = [r for d in docs for r in d.get("coldstart") or []]
    tables = [table]
    if starts:
        tables.append(Table(
            "First calls in new processes (harness.coldstart), step at the base point",
            ["impl", "dtype", "compile (empty cache)", "first call, cache warm", "warm call",
             "import mlpbench.mlp"],
            [[r["impl"], r["dtype"], fmt_time(r["compile_s"]), fmt_time(r["cached_first_s"]),
              fmt_time(r["warm_s"]), fmt_time(r["import_s"])] for r in starts]))
    return Section(title, [
        "The compile time is measured in a new process with an empty numba cache (first "
        "step minus a warm step) when the run measured cold starts; otherwise it is the "
        "largest gap between a numba point's first call that compiled and its warm median "
        "(a first call that only loaded the on-disk cache does not count). Compiling pays off "
        "after k calls when compile + k·t_numba ≤ k·t_numpy. The figure shows both totals "
        "at the point where compiling pays off soonest (or at the base point if it never "
        "does); the table gives every measured point. mlpbench's kernels cache their machine "
        "code on disk, so a first call in a later process mostly loads it: expect the full "
        "compile time (seconds) only after a change of code or numba version. Cold starts "
        "are measured for every implementation the registry marks as JIT-compiled; one "
        "that keeps no on-disk cache (JAX, unless its compilation cache is configured) "
        "compiles again in the second process."],
        figure=png, tables=tables)


def _numerics_section(numerics: dict | None, why_absent: str | None, out: Path,
                      rep: Report, formats) -> Section:
    from mlpbench.report import figures

    title = "Numerics: worst ulp error against mpmath"
    if not numerics:
        reason = why_absent or "no accuracy table was given"
        rep.omitted[title] = reason
        return Section(title, omitted=reason)
    png = figures.draw_numerics(numerics, out, "numerics", formats)
    rep.figures.append(png)
    tables = []
    for dtype, table in numerics.items():
        impls = sorted({i for row in table.values() for i in row}, key=analysis.impl_sort_key)
        tables.append(Table(f"Worst ulp error, {dtype}", ["kernel", *impls],
                            [[figures.KERNEL_LABEL.get(k, k),
                              *[_g(row.get(i)) for i in impls]] for k, row in table.items()]))
    paras = ["Worst error over a grid of inputs, in units in the last place of the result, "
             "against a 50-digit mpmath reference."]
    ident = [row for k, row in ((dt, t.get("sigmoid_tanh_identity")) for dt, t in
                                numerics.items()) if row]
    if ident:
        worst = max((v for row in ident for v in row.values() if v is not None), default=None)
        if worst is not None:
            paras.append("The naive identity (tanh(x/2)+1)/2 reaches "
                         f"{_g(worst)} ulp: for very negative x it returns 0 where the true "
                         "value is tiny but representable, which is why the kernels compute "
                         "the stable form.")
    return Section(title, paras, figure=png, tables=tables)


def build_report(docs: list[dict], out: Path, numerics: dict | None = None,
                 numerics_absent: str | None = None, title: str | None = None,
                 formats: tuple = ("png", "svg")) -> Report:
    """Write every figure, report.md and report.html into ``out`` (which must exist).

    ``numerics``: ``{dtype: {kernel: {impl: worst_ulp}}}`` or ``None`` (then the numerics
    section says ``numerics_absent``). ``formats``: files per figure (PNG always).
    """
    out = Path(out)
    rep = Report(out, out / "report.md", out / "report.html")
    rep.summary = analysis.summary(docs)
    host = (docs[0].get("machine") or {}).get("hostname") or platform.node()
    title = title or f"mlpbench report: {host}, {docs[0]['created'][:10]}"
    sections = [Section("Summary", bullets=rep.summary or ["No comparable measurements."]),
                _machine_section(docs)]
    axes = analysis.swept_axes(docs)
    if not axes:
        sections.append(Section("Scaling", omitted="no result file sweeps n, d or d_h"))
        rep.omitted["Scaling"] = "no result file sweeps n, d or d_h"
    for axis in axes:
        sections += _axis_sections(axis, docs, out, rep, formats)
    sections += [_phase_section(docs, out, rep, formats),
                 _compile_section(docs, out, rep, formats),
                 _numerics_section(numerics, numerics_absent, out, rep, formats)]
    failed = [p for d in docs for p in d["points"] if p["status"] == "failed"]
    if failed:
        sections.append(Section("Failed points", tables=[Table(
            "Points that failed", ["impl", "dtype", "phase", "n", "d", "d_h", "reason"],
            [[p["impl"], p["dtype"], p["phase"], str(p["n"]), str(p["d"]), str(p["d_h"]),
              str(p["reason"])] for p in failed])]))
    write_text(rep.md, render_md(title, sections))
    write_text(rep.html, render_html(title, sections))
    return rep


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
