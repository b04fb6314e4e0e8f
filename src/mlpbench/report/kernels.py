"""The kernels part of a report: part 1's kernels against the bandwidth roofline.

Reads kernel sweep files (``"kind": "kernels"``, harness.kernel_sweep). For each dtype:
GB/s against size, one panel per kernel, under the staircase of the machine's
bandwidth ceilings (``peak.bandwidth_gbs`` of ``mlpbench peak``: a serial read+write
pass with its working set in L1, L2, L3, DRAM; the ceiling of a point is the level its
bytes per call fit in), and the time per element. The summary says which
implementation is fastest in each size range and how close each comes to the bandwidth
bound at the largest size. :func:`build_report` hooks it in (``report.build``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from mlpbench.harness import schema
from mlpbench.report import analysis
from mlpbench.report.document import Section, Table

#: The levels of the ceilings, from the fastest.
LEVELS = schema.BANDWIDTH_LEVELS
#: The working set of each level's measurement is this fraction of the cache the level's
#: ceiling is taken to hold (harness.peak.CACHE_FRACTION): the staircase steps there.
CACHE_FRACTION = 0.5
#: Panels per row of the small multiples.
COLUMNS = 4


def is_kernel_doc(doc: dict) -> bool:
    return doc.get("kind") == schema.KERNELS_KIND


def split(docs: Sequence[dict]) -> tuple[list[dict], list[dict]]:
    """(MLP documents, kernel documents), each in the given order."""
    return ([d for d in docs if not is_kernel_doc(d)], [d for d in docs if is_kernel_doc(d)])


# --- the numbers ---------------------------------------------------------------------------


def ok_points(docs: Sequence[dict]) -> list[dict]:
    """The timed points; a point measured in two files keeps the later file's."""
    chosen: dict[tuple, dict] = {}
    for doc in docs:
        for p in doc["points"]:
            if p["status"] == "ok" and p["median_s"]:
                chosen[schema.point_key(p)] = p
    return list(chosen.values())


def ceilings(docs: Sequence[dict]) -> dict | None:
    """``{"gbs": {level: GB/s}, "edges": {level: bytes}}``: the highest bandwidth reading
    of each level in the files' peak objects, and the working set up to which each level
    holds (twice the measured working set: the cache the measurement filled by half);
    None when no file has them."""
    gbs: dict[str, float] = {}
    edges: dict[str, int] = {}
    for doc in docs:
        peak = doc.get("peak") or {}
        for level, v in (peak.get("bandwidth_gbs") or {}).items():
            gbs[level] = max(gbs.get(level, 0.0), float(v))
        for level, b in (peak.get("bandwidth_bytes") or {}).items():
            edges[level] = int(b / CACHE_FRACTION)
    if "DRAM" not in gbs:
        return None
    return {"gbs": gbs, "edges": edges}


def level_of(nbytes: float, ceil: dict) -> str:
    """The level a working set of ``nbytes`` fits in (DRAM beyond the last cache)."""
    for level in LEVELS[:-1]:
        if level in ceil["gbs"] and level in ceil["edges"] and nbytes <= ceil["edges"][level]:
            return level
    return "DRAM"


def bound_gbs(nbytes: float, ceil: dict) -> float:
    return ceil["gbs"][level_of(nbytes, ceil)]


def _series(points: list[dict], dtype: str, kernel: str) -> dict[str, list[dict]]:
    by: dict[str, list[dict]] = {}
    for p in sorted(points, key=lambda p: p["size"]):
        if p["dtype"] == dtype and p["kernel"] == kernel:
            by.setdefault(p["impl"], []).append(p)
    return dict(sorted(by.items(), key=lambda kv: analysis.impl_sort_key(kv[0])))


def fastest_ranges(points: list[dict], dtype: str, kernel: str) -> list[tuple[str, int, int]]:
    """``[(impl, first size, last size)]``: the fastest implementation at each size, runs
    of sizes with the same winner merged, in size order."""
    by_size: dict[int, dict[str, float]] = {}
    for p in points:
        if p["dtype"] == dtype and p["kernel"] == kernel:
            by_size.setdefault(p["size"], {})[p["impl"]] = p["median_s"]
    runs: list[list] = []
    for size in sorted(by_size):
        times = by_size[size]
        winner = min(times, key=times.get)
        if runs and runs[-1][0] == winner:
            runs[-1][2] = size
        else:
            runs.append([winner, size, size])
    return [tuple(r) for r in runs]


def _sizes_text(lo: int, hi: int) -> str:
    return f"{lo:,}" if lo == hi else f"{lo:,}–{hi:,}"


def ranges_text(runs: list[tuple[str, int, int]]) -> str:
    return "; ".join(f"{impl} {_sizes_text(lo, hi)}" for impl, lo, hi in runs)


def largest(points: list[dict], dtype: str, kernel: str) -> dict[str, dict]:
    """``{impl: point}`` at the largest size any implementation reached for this kernel."""
    mine = [p for p in points if p["dtype"] == dtype and p["kernel"] == kernel]
    if not mine:
        return {}
    top = max(p["size"] for p in mine)
    return {p["impl"]: p for p in sorted(mine, key=lambda p: analysis.impl_sort_key(p["impl"]))
            if p["size"] == top}


# --- figures -------------------------------------------------------------------------------


def _panels(kernels: list[str]):
    from mlpbench.report import figures

    rows = math.ceil(len(kernels) / COLUMNS)
    cols = min(COLUMNS, len(kernels))
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.2 * cols + 0.4, 2.7 * rows + 1.4), dpi=figures.DPI,
                 layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[len(kernels):]:
        ax.set_visible(False)
    return fig, flat[:len(kernels)]


def _staircase(ax, kernel: str, dtype: str, sizes: list[int], m: int | None, ceil: dict):
    """The bandwidth bound of ``kernel`` over ``sizes`` (elements) as a step line."""
    from mlpbench.harness.kernel_sweep import kernel_bytes, shape_of

    lo, hi = min(sizes), max(sizes)
    xs = sorted({*sizes, *(10 ** (k / 8) for k in range(int(8 * math.log10(max(lo, 1))),
                                                    int(8 * math.log10(hi)) + 1))})
    xs = [x for x in xs if lo <= x <= hi] or [lo]
    ys = [bound_gbs(kernel_bytes(kernel, shape_of(kernel, max(int(x), 1), m or 10), dtype),
                    ceil) for x in xs]
    (line,) = ax.step(xs, ys, where="post", color="0.35", ls="--", lw=1.0, zorder=2)
    return line, ys


def draw_gbs(points: list[dict], dtype: str, kernels: list[str], ceil: dict | None,
             out: Path, name: str, formats=("png", "svg"), m: int | None = None) -> Path | None:
    """GB/s against size, one panel per kernel, under the bandwidth staircase."""
    from matplotlib.lines import Line2D

    from mlpbench.report import figures

    present = [k for k in kernels if _series(points, dtype, k)]
    if not present:
        return None
    fig, axes = _panels(present)
    handles: dict[str, Line2D] = {}
    hover = []
    for ax, kernel in zip(axes, present, strict=True):
        vals, sizes = [], []
        for impl, pts in _series(points, dtype, kernel).items():
            xs, ys = [p["size"] for p in pts], [p["gbs"] for p in pts]
            (line,) = ax.plot(xs, ys, marker=figures.marker(impl), color=figures.color(impl),
                              ms=3.5, lw=1.2, zorder=3, label=impl)
            handles.setdefault(impl, line)
            hover.append((line, [f"{kernel} {impl} size {x:,}: {y:.3g} GB/s"
                                 for x, y in zip(xs, ys, strict=True)]))
            vals += ys
            sizes += xs
        if ceil is not None:
            line, ys = _staircase(ax, kernel, dtype, sizes, m, ceil)
            vals += ys
        figures._log_x(ax, [])
        lo_x, hi_x = min(sizes), max(sizes)
        ax.set_xlim(lo_x / 1.5, hi_x * 1.5)
        figures._log_y(ax, min(vals), max(vals))
        figures._grid(ax)
        ax.tick_params(labelsize=7)
        ax.set_title(kernel, fontsize=9)
    for ax in axes[-COLUMNS:]:
        ax.set_xlabel("elements per call", fontsize=8)
    for ax in axes[::COLUMNS]:
        ax.set_ylabel("GB/s", fontsize=8)
    legend = list(handles.values())
    if ceil is not None:
        levels = ", ".join(f"{lv} {ceil['gbs'][lv]:.3g}" for lv in LEVELS if lv in ceil["gbs"])
        legend.append(Line2D([], [], color="0.35", ls="--", lw=1.0,
                             label=f"bandwidth bound, 1 thread, GB/s: {levels}"))
    fig.suptitle(f"Kernels: GB/s against size, {dtype}", fontsize=10.5)
    fig.legend(handles=legend, loc="outside lower center", ncol=min(len(legend), 4),
               fontsize=8, frameon=False)
    return figures.save_figure(fig, out, name, formats, hover)


def draw_per_element(points: list[dict], dtype: str, kernels: list[str], out: Path,
                     name: str, formats=("png", "svg")) -> Path | None:
    """Time per element against size, one panel per kernel."""
    from mlpbench.report import figures

    present = [k for k in kernels if _series(points, dtype, k)]
    if not present:
        return None
    fig, axes = _panels(present)
    handles = {}
    hover = []
    for ax, kernel in zip(axes, present, strict=True):
        vals, sizes = [], []
        for impl, pts in _series(points, dtype, kernel).items():
            xs = [p["size"] for p in pts]
            ys = [p["median_s"] / p["elements"] for p in pts]
            (line,) = ax.plot(xs, ys, marker=figures.marker(impl), color=figures.color(impl),
                              ms=3.5, lw=1.2, zorder=3, label=impl)
            handles.setdefault(impl, line)
            hover.append((line, [f"{kernel} {impl} size {x:,}: "
                                 f"{analysis.fmt_time(y)} per element"
                                 for x, y in zip(xs, ys, strict=True)]))
            vals += ys
            sizes += xs
        figures._log_x(ax, [])
        ax.set_xlim(min(sizes) / 1.5, max(sizes) * 1.5)
        figures._log_y(ax, min(vals), max(vals))
        figures._time_axis(ax)
        figures._grid(ax)
        ax.tick_params(labelsize=7)
        ax.set_title(kernel, fontsize=9)
    for ax in axes[-COLUMNS:]:
        ax.set_xlabel("elements per call", fontsize=8)
    for ax in axes[::COLUMNS]:
        ax.set_ylabel("time per element", fontsize=8)
    fig.suptitle(f"Kernels: time per element, {dtype}", fontsize=10.5)
    fig.legend(handles=list(handles.values()), loc="outside lower center",
               ncol=min(len(handles), 5), fontsize=8, frameon=False)
    return figures.save_figure(fig, out, name, formats, hover)


# --- the section ---------------------------------------------------------------------------


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def bandwidth_table(points: list[dict], dtype: str, kernels: list[str],
                    ceil: dict | None) -> Table:
    impls = analysis.impls_of([{"points": [p for p in points if p["dtype"] == dtype]}])
    rows = []
    for kernel in kernels:
        top = largest(points, dtype, kernel)
        if not top:
            continue
        size = next(iter(top.values()))["size"]
        row = [kernel, f"{size:,}"]
        level = None
        for impl in impls:
            p = top.get(impl)
            if p is None:
                row.append("–")
                continue
            cell = f"{p['gbs']:.3g}"
            if ceil is not None:
                bound = bound_gbs(p["bytes"], ceil)
                level = level_of(p["bytes"], ceil)
                cell += f" ({_pct(p['gbs'] / bound)})"
            row.append(cell)
        row.append(level or "–")
        rows.append(row)
    note = ("GB/s of each implementation at the largest size measured, and in brackets "
            "its fraction of the bandwidth bound of the level that holds the call's "
            "working set (last column)." if ceil is not None else
            "No bandwidth ceilings in these files (run `mlpbench peak` and pass --peak).")
    return Table(f"Bandwidth at the largest size, {dtype}", ["kernel", "size", *impls, "bound"],
                 rows, note=note)


def fastest_table(points: list[dict], dtype: str, kernels: list[str]) -> Table:
    rows = [[k, ranges_text(fastest_ranges(points, dtype, k))] for k in kernels
            if _series(points, dtype, k)]
    return Table(f"Fastest implementation by size (elements), {dtype}", ["kernel", "fastest"],
                 rows)


def summary(points: list[dict], dtypes: list[str], kernels: list[str],
            ceil: dict | None) -> list[str]:
    """Sentences for the report's answer: the fastest implementation by size range (the
    most common pattern over the kernels) and the fraction of the bandwidth bound at the
    largest size of each implementation (its best and worst kernel)."""
    lines = []
    for dtype in dtypes:
        winners: dict[str, int] = {}
        for k in kernels:
            for impl, _lo, _hi in fastest_ranges(points, dtype, k):
                winners[impl] = winners.get(impl, 0) + 1
        if not winners:
            continue
        at_top = {k: largest(points, dtype, k) for k in kernels}
        top_winner: dict[str, int] = {}
        for by in at_top.values():
            if by:
                w = min(by, key=lambda i: by[i]["median_s"])
                top_winner[w] = top_winner.get(w, 0) + 1
        lead = ", ".join(f"{impl} on {n}" for impl, n in
                         sorted(top_winner.items(), key=lambda kv: -kv[1]))
        lines.append(f"Kernels, {dtype}: fastest at the largest size: {lead} of "
                     f"{sum(top_winner.values())} kernels (per size range in the table).")
        if ceil is None:
            continue
        for impl in analysis.impls_of([{"points": [p for p in points if p["dtype"] == dtype]}]):
            fr = {k: by[impl]["gbs"] / bound_gbs(by[impl]["bytes"], ceil)
                  for k, by in at_top.items() if impl in by}
            if not fr:
                continue
            best = max(fr, key=fr.get)
            worst = min(fr, key=fr.get)
            size = at_top[best][impl]["size"]
            lines.append(f"  {impl} at {size:,} elements: {_pct(fr[best])} of the bandwidth "
                         f"bound on {best}, {_pct(fr[worst])} on {worst}")
    return lines


def section(docs: Sequence[dict], rep, draw) -> Section:
    """The report section of the kernel documents ``docs`` (``rep``, ``draw``: the
    report being built and its figure drawer, from report.build)."""
    title = "Kernels (spec part 1) against the bandwidth roofline"
    points = ok_points(docs)
    if not points:
        rep.omitted[title] = "no kernel point was timed"
        return Section(title, omitted="no kernel point was timed")
    kernels = list(dict.fromkeys(k for d in docs for k in d["sweep"]["kernels"]))
    dtypes = [d for d in ("float64", "float32") if any(p["dtype"] == d for p in points)]
    ceil = ceilings(docs)
    m = next((d["sweep"].get("m") for d in docs if d["sweep"].get("m")), None)
    figs, tables = [], []
    for dtype in dtypes:
        f = draw(draw_gbs, points, dtype, kernels, ceil, name=f"kernels_gbs_{dtype}",
                 alt=f"GB/s of each kernel against size, {dtype}", m=m)
        if f is not None:
            figs.append(f)
        f = draw(draw_per_element, points, dtype, kernels, name=f"kernels_per_element_{dtype}",
                 alt=f"time per element of each kernel against size, {dtype}")
        if f is not None:
            figs.append(f)
        tables += [bandwidth_table(points, dtype, kernels, ceil),
                   fastest_table(points, dtype, kernels)]
    paragraphs = [
        "Each kernel's bytes moved per call (input read once, output written once) over "
        "its median time, against the elements per call. The dashed staircase is the "
        "bound: the serial read+write bandwidth measured by `mlpbench peak` with the "
        "working set in L1, L2, L3 and DRAM, stepping where the call's working set "
        "leaves each level. numba writes element-wise results into an array made once "
        "per point; numpy, the loops and the peers allocate theirs, as their formulas do."]
    if ceil is None:
        paragraphs.append("The files hold no cache-level bandwidths (`mlpbench peak` "
                          "measures them; `bench --kernels --peak FILE` copies them in): "
                          "no bound is drawn.")
    lines = summary(points, dtypes, kernels, ceil)
    rep.summary += [line.strip() for line in lines]
    return Section(title, paragraphs, bullets=[line.strip() for line in lines], figures=figs,
                   tables=tables)


def machine_section(docs: Sequence[dict]) -> Section:
    """The machine of a kernel report: CPU, libraries, threads and the ceilings."""
    doc = docs[0]
    mach, thr = doc.get("machine") or {}, doc.get("threads") or {}
    bullets = [f"{label}: {mach[key]}" for key, label in (
        ("cpu_model", "CPU"), ("cores", "cores"), ("os", "OS"), ("hostname", "host"),
        ("python", "Python"), ("numpy", "NumPy"), ("numba", "Numba"), ("llvmlite", "llvmlite"))
        if mach.get(key) is not None]
    if thr.get("numba_threads") is not None:
        bullets.append(f"threads: numba {thr['numba_threads']}, BLAS {thr.get('blas_threads')}")
    ceil = ceilings(docs)
    if ceil is not None:
        edges = ceil["edges"]
        bullets.append("serial read+write bandwidth (GB/s, up to a working set of): " + ", ".join(
            f"{lv} {ceil['gbs'][lv]:.3g}" + (f" ({analysis.fmt_bytes(edges[lv])})"
                                            if lv in edges and lv != "DRAM" else "")
            for lv in LEVELS if lv in ceil["gbs"]))
    caches = next(((d.get("peak") or {}).get("cache_bytes") for d in docs
                   if (d.get("peak") or {}).get("cache_bytes")), None)
    if caches:
        bullets.append("caches (/sys): " + ", ".join(f"{lv} {analysis.fmt_bytes(b)}"
                                                      for lv, b in caches.items()))
    load = [p["loadavg"] for d in docs for p in d["points"] if p.get("loadavg") is not None]
    if load:
        bullets.append(f"load average while timing: {min(load):.2g}–{max(load):.2g}")
    return Section("Machine", bullets=bullets)


def build_report(docs: list[dict], out: Path, numerics: dict | None = None,
                 numerics_absent: str | None = None, title: str | None = None,
                 formats: tuple = ("png", "svg")):
    """A report of kernel documents only (``report.build.build_report`` sends them here):
    the kernels section, the numerics, the machine, the files."""
    import platform

    from mlpbench.atomic import write_text
    from mlpbench.report import build
    from mlpbench.report.document import render_html, render_md

    out = Path(out)
    rep = build.Report(out, out / "report.md", out / "report.html")
    draw = build._Drawer(out, rep, formats)
    host = (docs[0].get("machine") or {}).get("hostname") or platform.node()
    title = title or f"mlpbench kernels report: {host}, {docs[0]['created'][:10]}"
    sections = [section(docs, rep, draw),
                build._numerics_section(numerics, numerics_absent, rep, draw),
                machine_section(docs)]
    failed = [p for d in docs for p in d["points"] if p["status"] == "failed"]
    if failed:
        sections.append(Section("Failed points", tables=[Table(
            "Kernel points that failed", ["kernel", "impl", "dtype", "size", "reason"],
            [[p["kernel"], p["impl"], p["dtype"], f"{p['size']:,}", str(p["reason"])]
             for p in failed])]))
    sections.append(build._files_section(docs, rep))
    write_text(rep.md, render_md(title, sections))
    write_text(rep.html, render_html(title, sections))
    return rep
