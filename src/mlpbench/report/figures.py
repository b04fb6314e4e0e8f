"""Matplotlib figures of a report, drawn with the Agg backend and saved as PNG and SVG.

Each ``draw_*`` function takes the numbers from :mod:`mlpbench.report.analysis`,
writes ``NAME.png`` and ``NAME.svg`` atomically into ``out`` and returns the PNG path.
Figures are ``PANEL_W × PANEL_H`` inches per panel (one panel per dtype) at ``DPI``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from mlpbench.atomic import write_atomic
from mlpbench.mlp import registry
from mlpbench.report import analysis

PANEL_W, PANEL_H, DPI = 6.4, 5.6, 100

#: Files written per figure; the PNG is always written (the HTML report embeds it).
FORMATS = ("png", "svg")

#: Crossovers are marked for these only: one vertical line per crossing stays readable.
CROSSOVER_IMPLS = ("numba",)
AXIS_LABEL = {"n": "batch size n", "d": "input size d", "d_h": "hidden size d_h"}


def color(impl: str) -> str:
    """The implementation's colour, from the registry (every figure draws it so)."""
    return registry.colour(impl)


def marker(impl: str) -> str:
    """The implementation's marker, from the registry."""
    return registry.marker(impl)


def size_px(panels: int, height: float = PANEL_H) -> tuple[int, int]:
    """Pixel (width, height) of a PNG with ``panels`` panels side by side."""
    return round(PANEL_W * panels * DPI), round(height * DPI)


def numerics_height(n_kernels: int) -> float:
    """Height in inches of the numerics figure: room for one row of bars per kernel."""
    return max(PANEL_H, 1.8 + 0.36 * n_kernels)


def new_figure(panels: int, height: float = PANEL_H) -> tuple[Figure, list]:
    fig = Figure(figsize=(PANEL_W * panels, height), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, panels, squeeze=False)[0]
    return fig, list(axes)


def save_figure(fig: Figure, out: Path, name: str, formats=FORMATS) -> Path:
    """Save ``fig`` as ``out/NAME.png`` and the other ``formats``; return the PNG's path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    png = Path(out) / f"{name}.png"
    for fmt in dict.fromkeys(("png", *formats)):
        write_atomic(png.with_suffix(f".{fmt}"),
                     lambda tmp, fmt=fmt: fig.savefig(tmp, format=fmt, dpi=DPI))
    return png


def fixed_text(fixed: dict) -> str:
    return ", ".join(f"{k}={v:,}" for k, v in fixed.items())


def _finish_axis(ax, axis: str, ylabel: str, title: str, handles=None) -> None:
    """Labels, title, grid and the legend below: the common end of every per-axis panel."""
    ax.set_xlabel(AXIS_LABEL[axis])
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    _legend_below(ax, handles)


def _legend_below(ax, handles=None, ncol=1):
    kw = {"handles": handles} if handles is not None else {}
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=ncol, fontsize=8.5,
              frameon=False, **kw)


def _log_axes(ax, sizes=None, x=True):
    """Log scales without minor ticks (they cost most of the drawing time and add little);
    the x axis is ticked at the measured sizes when there are few enough of them."""
    if x:
        ax.set_xscale("log")
        ax.xaxis.set_minor_locator(NullLocator())
    ax.set_yscale("log")
    ax.yaxis.set_minor_locator(NullLocator())
    if x and sizes and len(sizes) <= 12:
        ax.set_xticks(sorted(sizes), [f"{v:,}" for v in sorted(sizes)])
        ax.tick_params(axis="x", labelsize=8)


def _readable_log_y(ax) -> None:
    """On a log y axis spanning few decades, tick at 1-2-5 steps with plain numbers
    (matplotlib would label only the powers of ten, often a single one)."""
    lo, hi = ax.get_ylim()
    decades = math.log10(hi / lo)
    if decades > 3:
        return
    subs = (1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 7.0) if decades <= 1.2 else (1.0, 2.0, 5.0)
    ax.yaxis.set_major_locator(LogLocator(subs=subs))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_ylim(lo, hi)


def _sizes(series, dtype) -> list:
    return sorted({x for (dt, _), s in series.items() if dt == dtype
                   for x in (*s.sizes, *s.skipped_sizes)})


def _by_dtype(keys) -> list[str]:
    present = {k[0] for k in keys}
    return [d for d in ("float64", "float32") if d in present]


def draw_scaling(axis: str, series: dict, fitted: dict, out: Path, name: str,
                 formats=FORMATS) -> Path:
    """Median step time against ``axis`` (log-log), IQR band, skipped points hollow."""
    dtypes = _by_dtype(series)
    fig, axes = new_figure(len(dtypes))
    theory = analysis.THEORY_EXPONENT[axis]
    for ax, dtype in zip(axes, dtypes, strict=True):
        handles = []
        for (dt, impl), s in series.items():
            if dt != dtype:
                continue
            c, mk = color(impl), marker(impl)
            f = fitted.get((dt, impl))
            label = f"{impl}: exponent {f.text()} (theory {theory:g})" if f else \
                f"{impl}: too few points to fit"
            if s.sizes:
                (line,) = ax.plot(s.sizes, s.median, marker=mk, color=c, lw=1.6, ms=5,
                                  label=label)
                ax.fill_between(s.sizes, s.q1, s.q3, color=c, alpha=0.25, lw=0)
                handles.append(line)
            if f is not None:
                xs = np.asarray(f.sizes, dtype=float)
                t0 = s.time_at(f.sizes[-1])
                ax.plot(xs, t0 * (xs / xs[-1]) ** f.exponent, color="k", lw=0.8, ls="--",
                        alpha=0.6)
            if not s.sizes and s.skipped_sizes:
                handles.append(Line2D([], [], color=c, marker=mk, mfc="none", ls=":",
                                      label=f"{impl}: every size skipped (predicted cost)"))
            if s.skipped_sizes:
                if s.sizes:
                    ax.plot([s.sizes[-1], s.skipped_sizes[0]],
                            [s.median[-1], s.skipped_predicted[0]], color=c, lw=1, ls=":")
                ax.plot(s.skipped_sizes, s.skipped_predicted, ls=":", lw=1, color=c,
                        marker=mk, mfc="none", mec=c, ms=7, mew=1.4)
        handles.append(Line2D([], [], color="0.3", marker="o", mfc="none", ls=":",
                              label="hollow: skipped, drawn at predicted cost"))
        handles.append(Line2D([], [], color="k", ls="--", lw=0.8,
                              label="dashed: fit over the asymptotic sizes"))
        _log_axes(ax, _sizes(series, dtype))
        _readable_log_y(ax)
        fixed = next(s.fixed for (dt, _), s in series.items() if dt == dtype)
        _finish_axis(ax, axis, "median time per step [s] (band: IQR)",
                     f"Step time vs {axis}, {dtype}\n({fixed_text(fixed)})", handles)
    return save_figure(fig, out, name, formats)


def draw_speedup(axis: str, speedups: dict, out: Path, name: str, formats=FORMATS) -> Path:
    """``t_numpy / t_impl`` against ``axis``; numba's crossovers of 1 marked and labelled
    (the table in the report gives every implementation's)."""
    dtypes = _by_dtype(speedups)
    fig, axes = new_figure(len(dtypes))
    for ax, dtype in zip(axes, dtypes, strict=True):
        ax.axhline(1.0, color=color("numpy"), lw=1.2, label="numpy (reference)")
        texts, crossings = 0, []
        for (dt, impl), sp in speedups.items():
            if dt != dtype:
                continue
            c = color(impl)
            ax.plot(sp.sizes, sp.ratio, marker=marker(impl), color=c, ms=5,
                    label=f"{impl}: {min(sp.ratio):.3g}–{max(sp.ratio):.3g}× numpy's speed")
            if impl in CROSSOVER_IMPLS:
                crossings.extend((cr, c) for cr in sp.crossovers)
        sizes = sorted({x for (dt, _), sp in speedups.items() if dt == dtype for x in sp.sizes})
        for cr, c in crossings:
            ax.axvline(cr.size, color=c, ls="--", lw=1)
            verb = "starts" if cr.starts else "stops"
            # text on the side with room: left of the line in the right half of the axis
            right = math.log(cr.size / sizes[0]) > 0.5 * math.log(sizes[-1] / sizes[0])
            ax.annotate(f"{cr.impl} {verb} beating numpy\nat {axis} ≈ {cr.size:,.3g}",
                        xy=(cr.size, 1.0), xytext=(-6 if right else 6, 14 + 30 * texts),
                        textcoords="offset points", fontsize=8.5, color=c,
                        ha="right" if right else "left",
                        arrowprops={"arrowstyle": "-", "color": c, "lw": 0.6})
            texts += 1
        _log_axes(ax, sizes)
        _readable_log_y(ax)
        _finish_axis(ax, axis, "t_numpy / t_impl  (above 1: faster)",
                     f"Speedup over numpy vs {axis}, {dtype}")
    return save_figure(fig, out, name, formats)


def draw_throughput(axis: str, series: dict, ceilings: dict, out: Path, name: str,
                    formats=FORMATS) -> Path:
    """GFLOP/s against ``axis`` under the GEMM peak and the bandwidth (roofline) bound.

    ``ceilings[dtype]`` is ``{"peak": (gflops, threads) or None, "bw": (sizes, bound) or
    None, "gbs": float or None}``.
    """
    dtypes = _by_dtype(series)
    fig, axes = new_figure(len(dtypes))
    for ax, dtype in zip(axes, dtypes, strict=True):
        ceil = ceilings.get(dtype, {})
        peak = ceil.get("peak")
        for (dt, impl), s in series.items():
            if dt != dtype or not s.points:
                continue
            g = [analysis.gflops_of(p) for p in s.points]
            label = f"{impl}"
            if peak:
                label += f": {100 * g[-1] / peak[0]:.3g}% of peak at {axis}={s.sizes[-1]:,}"
            ax.plot(s.sizes, g, marker=marker(impl), color=color(impl), ms=5,
                    label=label)
        if peak:
            th = "thread" if peak[1] == 1 else "threads"
            ax.axhline(peak[0], color="k", lw=1.4,
                       label=f"GEMM peak ({peak[1]} {th}): {peak[0]:.3g} GFLOP/s")
        _log_axes(ax, _sizes(series, dtype))
        lo, hi = ax.get_ylim()
        top = max(hi, peak[0] * 3) if peak else hi
        if ceil.get("bw"):
            xs, bound = ceil["bw"]
            label = f"bandwidth bound from DRAM ({ceil['gbs']:.3g} GB/s × FLOP/byte)"
            if min(bound) > top:
                label += ":\nabove the plot at every size, never the limit here"
            else:
                top = max(top, min(max(bound), 10 * top)) if not peak else top
            ax.plot(xs, bound, color="0.4", ls="--", lw=1.2, label=label)
        ax.set_ylim(lo, top)
        _readable_log_y(ax)
        _finish_axis(ax, axis, "GFLOP/s (matrix products of a step)",
                     f"Throughput vs {axis}, {dtype}")
    return save_figure(fig, out, name, formats)


def draw_phases(ref: dict, rows: list[dict], out: Path, name: str, formats=FORMATS) -> Path:
    """Forward and backward time per implementation at one point, bars on a log axis."""
    dtypes = [d for d in ("float64", "float32") if any(r["dtype"] == d for r in rows)]
    fig, axes = new_figure(len(dtypes))
    for ax, dtype in zip(axes, dtypes, strict=True):
        rs = [r for r in rows if r["dtype"] == dtype]
        x = np.arange(len(rs))
        for j, (key, label, hatch) in enumerate((("forward_s", "forward", ""),
                                                 ("backward_s", "backward", "//"))):
            vals = [r[key] if r[key] is not None else np.nan for r in rs]
            bars = ax.bar(x + (j - 0.5) * 0.38, vals, width=0.38, label=label,
                          color=[color(r["impl"]) for r in rs], alpha=0.9 - 0.35 * j,
                          hatch=hatch, edgecolor="k", lw=0.6)
            for b, v in zip(bars, vals, strict=True):
                if not math.isnan(v):
                    ax.annotate(analysis.fmt_time(v), (b.get_x() + b.get_width() / 2, v),
                                xytext=(0, 3), textcoords="offset points", ha="center",
                                fontsize=8)
        ax.set_xticks(x, [r["impl"] for r in rs])
        vals = [r[k] for r in rs for k in ("forward_s", "backward_s") if r[k]]
        if max(vals) / min(vals) > 30:   # several orders of magnitude: log scale
            _log_axes(ax, x=False)
            lo, hi = ax.get_ylim()
            ax.set_ylim(lo, hi * 3)
            _readable_log_y(ax)
        else:
            ax.set_ylim(0, max(vals) * 1.15)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: analysis.fmt_time(v)
                                                   if v > 0 else "0"))
        ax.set_ylabel("median time per call")
        ax.set_title(f"Forward vs backward, {dtype}\n({fixed_text(ref)})", fontsize=11)
        ax.grid(True, axis="y", which="major", alpha=0.3)
        handles = [
            Line2D([], [], lw=8, color="0.45", label="forward (solid)"),
            Line2D([], [], lw=8, color="0.8", label="backward (hatched)"),
        ]
        _legend_below(ax, handles, ncol=2)
    return save_figure(fig, out, name, formats)


def draw_compile(cases: list[dict], out: Path, name: str, formats=FORMATS) -> Path:
    """Cumulative cost of numba (compile, then warm calls) and numpy against calls.

    ``cases``: one per dtype, ``{"dtype", "sizes", "compile_s", "numba_s", "numpy_s",
    "payoff_calls"}`` at one point (where compiling pays off soonest, if anywhere).
    """
    fig, axes = new_figure(len(cases))
    for ax, c in zip(axes, cases, strict=True):
        top = max(10 * (c["payoff_calls"] or 1), 1000)
        k = np.unique(np.logspace(0, math.log10(top), 200).round())
        ax.plot(k, c["compile_s"] + k * c["numba_s"], color=color("numba"), lw=1.8,
                label=f"numba: compile {analysis.fmt_time(c['compile_s'])} + "
                      f"{analysis.fmt_time(c['numba_s'])} per call")
        ax.plot(k, k * c["numpy_s"], color=color("numpy"), lw=1.8,
                label=f"numpy: {analysis.fmt_time(c['numpy_s'])} per call")
        if c["payoff_calls"]:
            p = c["payoff_calls"]
            ax.axvline(p, color="k", ls="--", lw=1,
                       label=f"compiling pays off after {p:,} calls")
        else:
            ax.text(0.97, 0.04, "numba is not faster per call here:\ncompiling never pays off",
                    transform=ax.transAxes, ha="right", va="bottom", fontsize=9)
        _log_axes(ax)
        ax.set_xlabel("number of calls of the step")
        ax.set_ylabel("total time [s]")
        ax.set_title(f"Numba compile cost vs calls, {c['dtype']}\n"
                     f"({fixed_text(c['sizes'])})", fontsize=11)
        ax.grid(True, which="major", alpha=0.3)
        _legend_below(ax)
    return save_figure(fig, out, name, formats)


#: How the numerics figure names a kernel row.
KERNEL_LABEL = {"sigmoid_tanh_identity": "sigmoid as (tanh(x/2)+1)/2\n(naive identity)"}


def draw_numerics(tables: dict, out: Path, name: str, formats=FORMATS) -> Path:
    """Worst ulp error per kernel and implementation, horizontal bars on a log axis.

    ``tables``: ``{dtype: {kernel: {impl: worst_ulp}}}``. Exact results (0 ulp) are
    drawn at 0.5 ulp and labelled "0"; an infinite error is drawn at the axis end.
    """
    dtypes = [d for d in ("float64", "float32") if d in tables] or sorted(tables)
    fig, axes = new_figure(len(dtypes), numerics_height(max(len(t) for t in tables.values())))
    for ax, dtype in zip(axes, dtypes, strict=True):
        table = tables[dtype]
        kernels = list(table)
        impls = sorted({i for row in table.values() for i in row}, key=analysis.impl_sort_key)
        finite = [v for row in table.values() for v in row.values()
                  if v is not None and math.isfinite(v) and v > 0]
        top = max(finite, default=1.0) * 20
        h = 0.8 / max(len(impls), 1)
        for j, impl in enumerate(impls):
            ys = np.arange(len(kernels)) + (j - (len(impls) - 1) / 2) * h
            for y, kern in zip(ys, kernels, strict=True):
                v = table[kern].get(impl)
                if v is None or (isinstance(v, float) and math.isnan(v)):
                    continue
                shown = 0.5 if v == 0 else (top if not math.isfinite(v) else v)
                ax.barh(y, shown - 0.1, height=h, color=color(impl), left=0.1)
                text = "0" if v == 0 else ("inf" if not math.isfinite(v) else f"{v:.3g}")
                ax.annotate(text, (shown, y), xytext=(3, 0), textcoords="offset points",
                            va="center", fontsize=7)
        ax.set_yticks(np.arange(len(kernels)), [KERNEL_LABEL.get(k, k) for k in kernels],
                      fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlim(0.1, top * 10)
        ax.set_xlabel("worst error against mpmath [ulp]")
        ax.set_title(f"Worst ulp error per kernel, {dtype}", fontsize=11)
        ax.grid(True, axis="x", which="major", alpha=0.3)
        handles = [Line2D([], [], lw=8, color=color(i), label=i) for i in impls]
        _legend_below(ax, handles, ncol=len(impls))
    return save_figure(fig, out, name, formats)
