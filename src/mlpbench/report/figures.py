"""Matplotlib figures of a report: one panel per figure, PNG at 2× and SVG with hover values.

Each ``draw_*`` function takes the numbers of :mod:`mlpbench.report.analysis` for one
dtype, writes ``NAME.png`` (at :data:`PNG_DPI`, twice the figure's nominal resolution, so
it stays sharp on high-density screens) and ``NAME.svg`` atomically into ``out``, and
returns the PNG's path. The SVG keeps its text as text and gives every plotted point a
``<title>`` with its exact value, which a browser shows on hover; report.html inlines it.

Rules every figure keeps (tests/test_figures.py checks them on every figure the report
draws): no text overlaps another text or a plotted line, and no data point lies outside
its axes: a curve far below the interesting range is left out and named in the legend
("off the plot"), never squeezed in or cut by the frame.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullLocator

from mlpbench.atomic import write_atomic
from mlpbench.mlp import registry
from mlpbench.report import analysis
from mlpbench.report.analysis import fmt_size, fmt_time, fmt_x

#: Figure size in inches and the nominal resolution (pixels per inch of the 1× figure);
#: the PNG is written at PNG_DPI = 2·DPI.
PANEL_W, PANEL_H, DPI = 5.6, 5.2, 100
PNG_DPI = 2 * DPI

#: Files written per figure.
FORMATS = ("png", "svg")

AXIS_LABEL = {"n": "batch size n", "d": "input size d", "d_h": "hidden size d_h"}

#: An implementation whose best speed-up is below the best one's divided by this is
#: drawn off the plot (named in the legend) instead of stretching the y axis.
OFF_SCALE = 30.0

#: Dash patterns of the fit lines, one per implementation in display order.
FIT_DASHES = ((0, (6, 2)), (0, (2, 2)), (0, (6, 2, 1, 2)), (0, (4, 1, 1, 1, 1, 1)),
              (0, (1, 1)), (0, (8, 3, 2, 3)), (0, (3, 3)))

_SVG_NS = "http://www.w3.org/2000/svg"
_XLINK_NS = "http://www.w3.org/1999/xlink"
ET.register_namespace("", _SVG_NS)
ET.register_namespace("xlink", _XLINK_NS)

#: While :func:`capture` is active, every saved figure is appended here (for tests).
_captured: list | None = None
_write = True


@contextlib.contextmanager
def capture(write: bool = True):
    """Collect ``(name, Figure)`` of every figure saved inside the block; with
    ``write=False`` no file is written (the figures are only kept)."""
    global _captured, _write
    previous, _captured = (_captured, _write), []
    _write = write
    try:
        yield _captured
    finally:
        _captured, _write = previous


def color(impl: str) -> str:
    """The implementation's colour, from the registry (every figure draws it so)."""
    return registry.colour(impl)


def marker(impl: str) -> str:
    """The implementation's marker, from the registry."""
    return registry.marker(impl)


def fit_dash(impl: str):
    info = registry.sort_key(impl)
    idx = info[0] if isinstance(info[0], int) else 0
    return FIT_DASHES[idx % len(FIT_DASHES)]


def size_px(height: float = PANEL_H, width: float = PANEL_W) -> tuple[int, int]:
    """Pixel (width, height) of a figure's PNG (at :data:`PNG_DPI`)."""
    return round(width * PNG_DPI), round(height * PNG_DPI)


def numerics_height(n_kernels: int) -> float:
    """Height in inches of the numerics figure: room for one row per kernel."""
    return max(3.6, 1.9 + 0.34 * n_kernels)


def new_figure(height: float = PANEL_H, width: float = PANEL_W, rows: int = 1):
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    axes = fig.subplots(rows, 1, squeeze=False, sharex=rows > 1)[:, 0]
    return fig, list(axes) if rows > 1 else axes[0]


# --- saving, with hover titles -------------------------------------------------------------


def _add_titles(svg: bytes, hover: dict[str, list[str]]) -> bytes:
    """Give each point of each tagged artist a ``<title>`` (shown on hover)."""
    root = ET.fromstring(svg)
    parent = {c: p for p in root.iter() for c in p}
    for el in root.iter():
        labels = hover.get(el.get("id", ""))
        if not labels:
            continue
        uses = [u for u in el.iter(f"{{{_SVG_NS}}}use")]
        if len(uses) == len(labels):
            for u, text in zip(uses, labels, strict=True):
                holder = parent[u]
                g = ET.Element(f"{{{_SVG_NS}}}g")
                t = ET.SubElement(g, f"{{{_SVG_NS}}}title")
                t.text = text
                i = list(holder).index(u)
                holder.remove(u)
                g.append(u)
                holder.insert(i, g)
        else:
            t = ET.Element(f"{{{_SVG_NS}}}title")
            t.text = "\n".join(labels)
            el.insert(0, t)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def save_figure(fig: Figure, out: Path, name: str, formats=FORMATS, hover=None) -> Path:
    """Save ``fig`` as ``out/NAME.EXT`` for each of ``formats`` (PNG at 2×); return the
    PNG's path (the first format's when there is no PNG).

    ``hover``: ``[(artist, [label per point])]``: in the SVG each point gets its label as
    a ``<title>`` (one label for an artist without per-point markers, e.g. a bar).
    """
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    png = Path(out) / f"{name}.png"
    if _captured is not None:
        _captured.append((name, fig))
        if not _write:
            return png
    tags: dict[str, list[str]] = {}
    for i, (artist, labels) in enumerate(hover or ()):
        gid = f"{name}-pt{i}"
        artist.set_gid(gid)
        tags[gid] = list(labels)
    for fmt in dict.fromkeys(formats or ("png",)):
        if fmt == "svg":
            buf = io.BytesIO()
            with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": name}):
                fig.savefig(buf, format="svg", dpi=DPI)
            data = _add_titles(buf.getvalue(), tags) if tags else buf.getvalue()
            write_atomic(png.with_suffix(".svg"),
                         lambda tmp, data=data: Path(tmp).write_bytes(data))
        else:
            write_atomic(png.with_suffix(f".{fmt}"),
                         lambda tmp, fmt=fmt: fig.savefig(tmp, format=fmt, dpi=PNG_DPI))
    return png if "png" in (formats or ("png",)) else png.with_suffix(f".{formats[0]}")


# --- shared pieces -------------------------------------------------------------------------


def fixed_text(fixed: dict) -> str:
    return ", ".join(f"{k}={v:,}" for k, v in fixed.items())


def _title(ax, text: str, sub: str = "") -> None:
    ax.set_title(text + (f"\n{sub}" if sub else ""), fontsize=10.5)


#: Characters per legend line (one column); longer labels are wrapped.
LEGEND_WRAP = 66
_UNIT_SPACE = re.compile(r"(\d) (ns|µs|ms|s|GFLOP/s|GB/s|B|KiB|MiB|GiB)(?=\W|$)")


def _legend(fig, handles, ncol: int = 1) -> None:
    """The legend below the axes, outside them (constrained layout makes room); labels
    longer than the figure is wide are wrapped."""
    if handles:
        width = LEGEND_WRAP // ncol
        for h in handles:
            label = h.get_label()
            if len(label) > width:
                # a number stays with its unit
                label = _UNIT_SPACE.sub("\\1\u00a0\\2", label)
                h.set_label(textwrap.fill(label, width, subsequent_indent="  "))
        fig.legend(handles=handles, loc="outside lower center", ncol=ncol, fontsize=8,
                   frameon=False)


def _ncol(handles) -> int:
    longest = max((len(h.get_label()) for h in handles), default=0)
    return 1 if longest > 44 else 2


def _log_x(ax, sizes) -> None:
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    sizes = sorted(set(sizes))
    if sizes and len(sizes) <= 12:
        ax.xaxis.set_major_locator(FixedLocator(sizes))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.tick_params(axis="x", labelsize=8)
    if sizes:
        lo, hi = sizes[0], sizes[-1]
        if lo == hi:
            lo, hi = lo / 2, hi * 2
        pad = (hi / lo) ** 0.06
        ax.set_xlim(lo / pad, hi * pad)


def _log_y(ax, lo: float, hi: float, pad: float = 1.3) -> None:
    """Log y axis over [lo, hi] with a margin, ticked readably (1-2-5 steps on a few
    decades, plain numbers)."""
    ax.set_yscale("log")
    ax.yaxis.set_minor_locator(NullLocator())
    if not (lo > 0 and hi > 0):
        return
    if hi / lo < 1.5:
        mid = math.sqrt(lo * hi)
        lo, hi = mid / 1.25, mid * 1.25
    lo, hi = lo / pad, hi * pad
    ax.set_ylim(lo, hi)
    decades = math.log10(hi / lo)
    if decades <= 3:
        subs = (1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 7.0) if decades <= 0.8 else \
            (1.0, 2.0, 5.0) if decades <= 2 else (1.0, 3.0)
        ax.yaxis.set_major_locator(LogLocator(subs=subs))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_ylim(lo, hi)


def _time_axis(ax) -> None:
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_time(v) if v > 0 else "0"))


def _grid(ax, axis="both") -> None:
    ax.grid(True, axis=axis, which="major", alpha=0.3)


def _point_label(axis: str, x, text: str) -> str:
    return f"{axis} = {x:,}: {text}"


def _range_x(values) -> str:
    """``0.6–4.2×`` (or one value when they agree to 1%)."""
    lo, hi = min(values), max(values)
    return fmt_x(lo) if hi <= lo * 1.01 else f"{lo:.3g}–{hi:.3g}×"


def _bytes_axis(ax, lo: float, hi: float) -> None:
    """Log axis of bytes ticked at powers of 2 (at most about six ticks)."""
    ax.set_yscale("log", base=2)
    ax.yaxis.set_minor_locator(NullLocator())
    a, b = math.floor(math.log2(lo / 1.4)), math.ceil(math.log2(hi * 1.4))
    step = max(1, math.ceil((b - a) / 6))
    ax.yaxis.set_major_locator(FixedLocator([2.0 ** k for k in range(a, b + 1, step)]))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: analysis.fmt_bytes(v)))
    ax.set_ylim(lo / 1.4, hi * 1.4)


# --- scaling -------------------------------------------------------------------------------


def _pick(keyed: dict, dtype: str | None) -> tuple[str, dict]:
    """``(dtype, {impl: value})`` from a dict keyed by ``(dtype, impl)``; ``dtype``
    defaults to the first present (float64 before float32)."""
    present = [d for d in ("float64", "float32") if any(k[0] == d for k in keyed)]
    dtype = dtype or (present[0] if present else "float64")
    return dtype, {impl: v for (dt, impl), v in keyed.items() if dt == dtype}


def draw_scaling(axis: str, series: dict, fitted: dict, out: Path, name: str,
                 formats=FORMATS, dtype: str | None = None) -> Path:
    """Median step time against ``axis`` (log-log) per implementation, the IQR as a band,
    each fit over its sizes in the implementation's colour with its own dash. Skipped
    points are drawn hollow at their predicted cost when that lies in the measured
    range; the rest are named in the legend, off the plot."""
    dtype, by_impl = _pick(series, dtype)
    fitted = {impl: f for (dt, impl), f in fitted.items() if dt == dtype}
    fig, ax = new_figure()
    measured = [v for s in by_impl.values() for v in (*s.q1, *s.q3, *s.median) if v]
    lo, hi = (min(measured), max(measured)) if measured else (1e-6, 1.0)
    top = hi * 1.3
    handles, hover = [], []
    sizes = []
    any_shown = False
    for impl, s in by_impl.items():
        c, mk = color(impl), marker(impl)
        f = fitted.get(impl)
        sizes += [*s.sizes, *s.skipped_sizes]
        label = impl + (f": k = {f.text()}, {f.label}" if f else
                        ": too few sizes to fit" if s.sizes else "")
        if s.sizes:
            (line,) = ax.plot(s.sizes, s.median, marker=mk, color=c, lw=1.6, ms=5,
                              label=label, zorder=3)
            ax.fill_between(s.sizes, s.q1, s.q3, color=c, alpha=0.2, lw=0)
            handles.append(line)
            hover.append((line, [_point_label(axis, x, f"{impl} {fmt_time(t)} "
                                                        f"(IQR {fmt_time(a)}–{fmt_time(b)})")
                                 for x, t, a, b in zip(s.sizes, s.median, s.q1, s.q3,
                                                       strict=True)]))
        if f is not None:
            xs = np.asarray(f.sizes, dtype=float)
            t0 = s.time_at(f.sizes[-1])
            ax.plot(xs, t0 * (xs / xs[-1]) ** f.exponent, color=c, lw=1.0,
                    ls=fit_dash(impl), alpha=0.9, zorder=4)
        if s.skipped_sizes:
            shown = [(x, p) for x, p in zip(s.skipped_sizes, s.skipped_predicted, strict=True)
                     if p is not None and lo / 1.3 <= p <= top]
            off = [(x, p) for x, p in zip(s.skipped_sizes, s.skipped_predicted, strict=True)
                   if (x, p) not in shown]
            if shown:
                any_shown = True
                (pl,) = ax.plot(*zip(*shown, strict=True), ls="none", color=c, marker=mk,
                                mfc="none", mec=c, ms=6, mew=1.0, alpha=0.55, zorder=2)
                hover.append((pl, [_point_label(axis, x, f"{impl} skipped, predicted "
                                                         f"{fmt_time(p)}") for x, p in shown]))
            if off:
                preds = [p for _, p in off if p is not None]
                where = ", ".join(fmt_size(x) for x, _ in off)
                pred = (fmt_time(preds[0]) if len(preds) == 1 else
                        f"{fmt_time(min(preds))}–{fmt_time(max(preds))}")
                text = (f"{impl}: skipped at {axis} = {where}"
                        + (f" (predicted {pred}, above the plot)" if preds else ""))
                handles.append(Line2D([], [], color=c, marker="^", mfc="none", ls="none",
                                      alpha=0.6, label=text))
    handles.append(Line2D([], [], color="0.35", lw=1.0, ls=(0, (6, 2)),
                          label="dashed, in each colour: the fit t ∝ size^k"))
    if any_shown:
        handles.append(Line2D([], [], color="0.35", marker="o", mfc="none", ls="none",
                              alpha=0.6, label="hollow: skipped, at its predicted cost"))
    _log_x(ax, sizes)
    _log_y(ax, lo, hi, pad=1.5)
    _time_axis(ax)
    ax.tick_params(axis="y", labelsize=8)
    _grid(ax)
    ax.set_xlabel(AXIS_LABEL[axis])
    ax.set_ylabel("median time per step (band: IQR)")
    fixed = next(iter(by_impl.values())).fixed if by_impl else {}
    _title(ax, f"Step time vs {axis}, {dtype}", f"({fixed_text(fixed)}; theory: k = 1)")
    _legend(fig, handles, 1)
    return save_figure(fig, out, name, formats, hover)


# --- speed-up ------------------------------------------------------------------------------


def _band(values_by_impl: dict[str, list[tuple[float, float, float]]]):
    """The y range [lo, hi] of a ratio plot, and the implementations left off it."""
    best = max([1.0] + [v for vals in values_by_impl.values() for v, _, _ in vals])
    keep = {i for i, vals in values_by_impl.items()
            if max(v for v, _, _ in vals) >= best / OFF_SCALE}
    pts = [x for i in keep for v, a, b in values_by_impl[i] for x in (v, a, b)
           if math.isfinite(x) and x > 0]
    lo, hi = min([1.0, *pts]), max([1.0, *pts])
    off = set()
    for i, vals in values_by_impl.items():
        if i in keep:
            continue
        if all(v < lo for v, _, _ in vals):
            off.add(i)
        else:
            lo = min([lo] + [x for v, a, b in vals for x in (v, a) if math.isfinite(x) and x > 0])
    return lo, hi, off


def _errs(vals):
    ys = np.array([v for v, _, _ in vals])
    lo = np.array([a if math.isfinite(a) else v for v, a, _ in vals])
    hi = np.array([b if math.isfinite(b) else v for v, _, b in vals])
    return ys, np.vstack([np.maximum(ys - lo, 0), np.maximum(hi - ys, 0)])


def draw_speedup(axis: str, speedups: dict, out: Path, name: str, formats=FORMATS,
                 dtype: str | None = None) -> Path:
    """``t_reference / t_impl`` against ``axis`` with 95% intervals (or quartile ranges,
    unpaired) for every implementation; each crossing of 1 marked with a tick in the
    implementation's colour and given in the legend. Implementations far below the
    others are named, off the plot."""
    dtype, sps = _pick(speedups, dtype)
    reference = next(iter(sps.values())).reference if sps else analysis.REFERENCE
    fig, ax = new_figure()
    vals = {impl: [(sp.intervals[k].value, sp.intervals[k].lo, sp.intervals[k].hi)
                   for k in range(len(sp.sizes))] for impl, sp in sps.items()}
    lo, hi, off = _band(vals)
    ax.axhline(1.0, color=color(reference), lw=1.2, zorder=1)
    handles = [Line2D([], [], color=color(reference), lw=1.2,
                      label=f"{reference} (the reference): 1")]
    hover = []
    sizes = []
    unpaired = False
    for impl, sp in sps.items():
        c = color(impl)
        sizes += sp.sizes
        rng = _range_x(sp.ratio)
        if impl in off:
            handles.append(Line2D([], [], color=c, marker="v", ls="none",
                                  label=f"{impl}: {rng}, below the plot"))
            continue
        unpaired |= any(r.method == analysis.UNPAIRED for r in sp.intervals)
        ys, err = _errs(vals[impl])
        cont = ax.errorbar(sp.sizes, ys, yerr=err, marker=marker(impl), color=c, ms=5,
                           lw=1.5, capsize=2.5, elinewidth=0.9, zorder=3)
        text = f"{impl}: {rng}"
        for cr in sp.crossovers:
            verb = "starts" if cr.starts else "stops"
            text += f"; {verb} beating {reference} at {axis} ≈ {fmt_size(cr.size)}"
            (dm,) = ax.plot([cr.size], [1.0], marker="|", ms=16, color=c, mew=2.5,
                            ls="none", zorder=5)
            hover.append((dm, [f"{impl} {verb} beating {reference} at {axis} ≈ "
                                f"{fmt_size(cr.size)}"]))
        handles.append(Line2D([], [], color=c, marker=marker(impl), lw=1.5, label=text))
        hover.append((cont.lines[0], [_point_label(axis, x, f"{impl} "
                                                            f"{analysis.fmt_ratio(r)}")
                                      for x, r in zip(sp.sizes, sp.intervals, strict=True)]))
    if any(sp.crossovers for i, sp in sps.items() if i not in off):
        handles.append(Line2D([], [], color="0.3", marker="|", ms=12, mew=2.5, ls="none",
                              label="tick on the line at 1: a crossing (interpolated)"))
    if unpaired:
        handles.append(Line2D([], [], color="0.4", lw=0.9, marker="$I$", ms=8, ls="none",
                              label="bars: q1/q3 ranges (no raw samples, unpaired)"))
    else:
        handles.append(Line2D([], [], color="0.4", lw=0.9, marker="$I$", ms=8, ls="none",
                              label="bars: 95% intervals of the paired ratio"))
    _log_x(ax, sizes)
    _log_y(ax, lo, hi, pad=1.25)
    _grid(ax)
    ax.set_xlabel(AXIS_LABEL[axis])
    ax.set_ylabel(f"speed-up vs {reference} = t_{reference} / t_impl")
    _title(ax, f"Speed-up over {reference} vs {axis}, {dtype}", "(above 1: faster)")
    _legend(fig, handles, 1)
    return save_figure(fig, out, name, formats, hover)


# --- throughput ----------------------------------------------------------------------------


def draw_throughput(axis: str, series: dict, ceilings: dict, out: Path, name: str,
                    formats=FORMATS, dtype: str | None = None) -> Path:
    """GFLOP/s against ``axis`` under the GEMM peak and the bandwidth (roofline) bound.

    ``ceilings[dtype]`` is ``{"peak": (gflops, threads) or None, "bw": (sizes, bound) or
    None, "gbs": float or None, "levels": {level: GB/s} or None}`` (``levels``: the
    cache levels the bound passes through, when the peak object has their bandwidths).
    """
    dtype, by_impl = _pick(series, dtype)
    ceiling = ceilings.get(dtype, {})
    fig, ax = new_figure()
    peak = ceiling.get("peak")
    handles, hover, vals, sizes = [], [], [], []
    for impl, s in by_impl.items():
        if not s.points:
            continue
        g = [analysis.gflops_of(p) for p in s.points]
        vals += g
        sizes += s.sizes
        label = impl
        if peak:
            label += f": {100 * g[-1] / peak[0]:.3g}% of the peak at {axis} = {s.sizes[-1]:,}"
        (line,) = ax.plot(s.sizes, g, marker=marker(impl), color=color(impl), ms=5, lw=1.5,
                          label=label, zorder=3)
        handles.append(line)
        hover.append((line, [_point_label(axis, x, f"{impl} {v:.3g} GFLOP/s")
                             for x, v in zip(s.sizes, g, strict=True)]))
    lo, hi = (min(vals), max(vals)) if vals else (0.1, 10.0)
    if peak:
        th = "thread" if peak[1] == 1 else "threads"
        ax.axhline(peak[0], color="k", lw=1.3, zorder=2)
        handles.append(Line2D([], [], color="k", lw=1.3,
                              label=f"GEMM peak ({peak[1]} {th}): {peak[0]:.3g} GFLOP/s"))
        hi = max(hi, peak[0])
    if ceiling.get("bw"):
        xs, bound = ceiling["bw"]
        xs, bound = np.asarray(xs, dtype=float), np.asarray(bound, dtype=float)
        cap = hi * 3
        inside = bound <= cap * 1.3
        if ceiling.get("levels"):
            label = ("bandwidth bound (GB/s of the level the step's bytes fit in, 1 thread: "
                     + ", ".join(f"{lv} {v:.3g}" for lv, v in ceiling["levels"].items())
                     + "; × FLOP/byte)")
        else:
            label = f"bandwidth bound ({ceiling['gbs']:.3g} GB/s × FLOP/byte)"
        if inside.any():
            ax.plot(xs[inside], bound[inside], color="0.4", ls="--", lw=1.1, zorder=2)
            hi = max(hi, float(bound[inside].max()))
            lo = min(lo, float(bound[inside].min()))
            if not inside.all():
                label += "; above the plot elsewhere"
        else:
            low = bound.min()
            label += (f": above the plot at every size (≥ "
                      f"{f'{low:,.0f}' if low >= 1000 else f'{low:.3g}'} GFLOP/s)")
        handles.append(Line2D([], [], color="0.4", ls="--", lw=1.1, label=label))
    _log_x(ax, sizes)
    _log_y(ax, lo, hi)
    _grid(ax)
    ax.set_xlabel(AXIS_LABEL[axis])
    ax.set_ylabel("GFLOP/s (the matrix products of a step)")
    _title(ax, f"Throughput vs {axis}, {dtype}")
    _legend(fig, handles, 1)
    return save_figure(fig, out, name, formats, hover)


# --- memory --------------------------------------------------------------------------------


def draw_memory(axis: str, series: dict, out: Path, name: str, formats=FORMATS,
                dtype: str | None = None) -> Path | None:
    """Peak bytes allocated and allocations per call against ``axis``, for the
    implementations whose memory was measured (the legend names the method)."""
    dtype, by_impl = _pick(series, dtype)
    fig, (ax_b, ax_n) = new_figure(height=6.4, rows=2)
    handles, hover, sizes = [], [], []
    blo, bhi, nlo, nhi = math.inf, 0.0, math.inf, 0.0
    for impl, s in by_impl.items():
        recs = [(x, analysis.memory_of(p)) for x, p in zip(s.sizes, s.points, strict=True)]
        recs = [(x, m) for x, m in recs if m is not None]
        if not recs:
            continue
        c, mk = color(impl), marker(impl)
        sizes += [x for x, _ in recs]
        method = ", ".join(sorted({m["method"] for _, m in recs}))
        handles.append(Line2D([], [], color=c, marker=mk, label=f"{impl} ({method})"))
        pb = [(x, m["peak_bytes"]) for x, m in recs if m.get("peak_bytes")]
        na = [(x, m["allocations"]) for x, m in recs if m.get("allocations")]
        if pb:
            (ln,) = ax_b.plot(*zip(*pb, strict=True), marker=mk, color=c, ms=5, lw=1.4)
            hover.append((ln, [_point_label(axis, x, f"{impl} peak {analysis.fmt_bytes(b)}")
                               for x, b in pb]))
            blo, bhi = min(blo, min(b for _, b in pb)), max(bhi, max(b for _, b in pb))
        if na:
            (ln,) = ax_n.plot(*zip(*na, strict=True), marker=mk, color=c, ms=5, lw=1.4)
            hover.append((ln, [_point_label(axis, x, f"{impl} {k:,} allocations")
                               for x, k in na]))
            nlo, nhi = min(nlo, min(k for _, k in na)), max(nhi, max(k for _, k in na))
    if not handles:
        return None
    unmeasured = [impl for impl, s in by_impl.items()
                  if s.points and not any(analysis.memory_of(p) for p in s.points)]
    if unmeasured:
        handles.append(Line2D([], [], ls="none", label="not measured: " + ", ".join(unmeasured)))
    _log_x(ax_n, sizes)
    if bhi > 0:
        _bytes_axis(ax_b, blo, bhi)
    if nhi > 0:
        _log_y(ax_n, nlo, nhi)
    for a in (ax_b, ax_n):
        _grid(a)
        a.tick_params(axis="y", labelsize=8)
    ax_b.set_ylabel("peak bytes per call")
    ax_n.set_ylabel("allocations per call")
    ax_n.set_xlabel(AXIS_LABEL[axis])
    _title(ax_b, f"Memory per step vs {axis}, {dtype}")
    _legend(fig, handles, _ncol(handles))
    return save_figure(fig, out, name, formats, hover)


# --- phases --------------------------------------------------------------------------------


def draw_phases(ref: dict, rows: list[dict], dtype: str, out: Path, name: str,
                formats=FORMATS) -> Path:
    """Forward and backward time per implementation at one point, bars on a log axis;
    the exact values on hover and in the report's table."""
    fig, ax = new_figure(height=4.6)
    x = np.arange(len(rows))
    hover = []
    vals = [r[k] for r in rows for k in ("forward_s", "backward_s") if r[k]]
    for j, (key, hatch, alpha) in enumerate((("forward_s", "", 0.95), ("backward_s", "//",
                                                                        0.55))):
        for i, r in enumerate(rows):
            v = r[key]
            if not v:
                continue
            (bar,) = ax.bar(x[i] + (j - 0.5) * 0.38, v, width=0.38, color=color(r["impl"]),
                            alpha=alpha, hatch=hatch, edgecolor="k", lw=0.6)
            hover.append((bar, [f"{r['impl']} {key[:-2]}: {fmt_time(v)}"]))
            ax.annotate(fmt_time(v), (x[i] + (j - 0.5) * 0.38, v), xytext=(0, 3),
                        textcoords="offset points", ha="center", va="bottom", fontsize=7,
                        rotation=90)
    ax.set_xticks(x, [r["impl"] for r in rows], fontsize=8)
    lo, hi = min(vals), max(vals)
    ax.set_yscale("log")
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_ylim(lo / 3, hi * 10)
    _time_axis(ax)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_ylabel("median time per call (log)")
    _title(ax, f"Forward vs backward, {dtype}", f"({fixed_text(ref)})")
    _grid(ax, "y")
    _legend(fig, [Patch(facecolor="0.45", edgecolor="k", label="forward (solid)"),
                  Patch(facecolor="0.85", edgecolor="k", hatch="//",
                        label="backward (hatched)")], 2)
    return save_figure(fig, out, name, formats, hover)


SIZE_KEYS = ("n", "d", "d_h", "m")


def _where(row: dict, keys=SIZE_KEYS) -> str:
    return fixed_text({k: row[k] for k in keys})


def _payoff_text(r: dict) -> str:
    if r["payoff_calls"]:
        return f"pays off after {r['payoff_calls']:,} calls against {r['rival']}"
    return f"never pays off (slower per call than {r['rival']})"


# --- compile cost --------------------------------------------------------------------------


def draw_compile(rows: list[dict], dtype: str, base: dict, out: Path, name: str,
                 formats=FORMATS) -> Path:
    """Calls after which compiling has paid for itself, at every measured point of every
    JIT implementation, against the step's FLOPs; "never" (slower per call than the
    fastest implementation that does not compile) on its own row; the base point ringed."""
    from mlpbench.harness import schema

    fig, ax = new_figure(height=4.9)
    pays = [r["payoff_calls"] for r in rows if r["payoff_calls"]]
    lo, hi = (min(pays), max(pays)) if pays else (1, 10)
    lo_t = 10 ** math.floor(math.log10(lo))
    hi_t = 10 ** math.ceil(math.log10(hi * 1.0001))
    if hi_t <= lo_t:
        hi_t = lo_t * 10
    never = hi_t * 10
    handles, hover = [], []
    flops_all = []
    for impl in sorted({r["impl"] for r in rows}, key=registry.sort_key):
        rs = [r for r in rows if r["impl"] == impl]
        fl = [schema.flops("step", r["n"], r["d"], r["d_h"], r["m"]) for r in rs]
        flops_all += fl
        ys = [r["payoff_calls"] or never for r in rs]
        (pts,) = ax.plot(fl, ys, ls="none", marker=marker(impl), color=color(impl), ms=6,
                         zorder=3)
        hover.append((pts, [f"{impl} at {_where(r, ('n', 'd', 'd_h'))}: " + _payoff_text(r)
                            for r in rs]))
        n_never = sum(r["payoff_calls"] is None for r in rs)
        comp = rs[0]["compile_s"]
        label = f"{impl}: compiles in {fmt_time(comp)}"
        if n_never:
            label += f"; never pays off at {n_never} of {len(rs)} points"
        handles.append(Line2D([], [], ls="none", marker=marker(impl), color=color(impl),
                              label=label))
        for r, f in zip(rs, fl, strict=True):
            if r["base"]:
                ax.plot([f], [r["payoff_calls"] or never], ls="none", marker="o", ms=14,
                        mfc="none", mec="k", mew=1.2, zorder=4)
    if any(r["base"] for r in rows):
        b = next(r for r in rows if r["base"])
        handles.append(Line2D([], [], ls="none", marker="o", ms=11, mfc="none", mec="k",
                              label=f"ring: the base point ({_where(b)})"))
    ax.axhline(math.sqrt(hi_t * never), color="0.6", lw=0.8, ls=":", zorder=1)
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    if flops_all:
        a, z = min(flops_all), max(flops_all)
        pad = max((z / a) ** 0.05, 1.5)
        ax.set_xlim(a / pad, z * pad)
    ax.set_yscale("log")
    ax.yaxis.set_minor_locator(NullLocator())
    decades = [10.0 ** k for k in range(int(math.log10(lo_t)), int(math.log10(hi_t)) + 1)]
    step = max(1, len(decades) // 6)
    ticks = decades[::step] + [never]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_major_formatter(FuncFormatter(
        lambda v, _: "never" if v == never else f"{v:,.0f}"))
    ax.set_ylim(lo_t / 2, never * 2.5)
    ax.tick_params(labelsize=8)
    _grid(ax)
    ax.set_xlabel("FLOPs of one step at the point (log)")
    ax.set_ylabel("calls until compiling pays off")
    _title(ax, f"When compiling pays off, {dtype}",
           "(against the fastest implementation that does not compile)")
    _legend(fig, handles, 1)
    return save_figure(fig, out, name, formats, hover)


# --- numerics ------------------------------------------------------------------------------


#: How the numerics figure names a kernel row.
KERNEL_LABEL = {"sigmoid_tanh_identity": "sigmoid as (tanh(x/2)+1)/2 (naive)"}

#: Classes of the numerics heat map: upper bounds in ulp and their colours.
ULP_CLASSES = ((0.0, "exact (0)", "#f7fcf5"), (1.0, "≤ 1", "#c7e9c0"),
               (2.0, "≤ 2", "#fee391"), (4.0, "≤ 4", "#fdae61"), (16.0, "≤ 16", "#f46d43"),
               (math.inf, "> 16", "#a50026"))


def ulp_class(v: float) -> int:
    for k, (bound, _, _) in enumerate(ULP_CLASSES):
        if v <= bound:
            return k
    return len(ULP_CLASSES) - 1


def _ink(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black"


def fmt_ulp(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if not math.isfinite(v):
        return "inf"
    if v == 0:
        return "0"
    return f"{v:.2g}" if v >= 1000 else f"{v:.3g}"


def draw_numerics(table: dict, dtype: str, out: Path, name: str, formats=FORMATS) -> Path:
    """Worst ulp error per kernel (rows) and implementation (columns) as a heat map of
    classes (exact, ≤ 1, ≤ 2, ≤ 4, ≤ 16, more), each cell holding its exact value."""
    kernels = list(table)
    impls = sorted({i for row in table.values() for i in row}, key=registry.sort_key)
    fig, ax = new_figure(height=numerics_height(len(kernels)))
    hover = []
    for yi, kern in enumerate(kernels):
        for xi, impl in enumerate(impls):
            v = table[kern].get(impl)
            missing = v is None or (isinstance(v, float) and math.isnan(v))
            fill = "#eeeeee" if missing else ULP_CLASSES[ulp_class(v)][2]
            rect = Rectangle((xi - 0.5, yi - 0.5), 1, 1, facecolor=fill, edgecolor="white",
                             lw=1.5)
            ax.add_patch(rect)
            ax.text(xi, yi, fmt_ulp(v), ha="center", va="center", fontsize=8,
                    color=_ink(fill))
            hover.append((rect, [f"{KERNEL_LABEL.get(kern, kern)}, {impl}: "
                                 + ("not computed" if missing else f"{fmt_ulp(v)} ulp")]))
    ax.set_xlim(-0.5, len(impls) - 0.5)
    ax.set_ylim(len(kernels) - 0.5, -0.5)
    ax.set_xticks(range(len(impls)), impls, fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(kernels)), [KERNEL_LABEL.get(k, k) for k in kernels], fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(f"Worst error against mpmath [ulp], {dtype}", fontsize=10.5)
    handles = [Patch(facecolor=c, edgecolor="0.6", label=lab) for _, lab, c in ULP_CLASSES]
    _legend(fig, handles, 6)
    return save_figure(fig, out, name, formats, hover)


# --- winner map ----------------------------------------------------------------------------


def draw_winner_map(wm, out: Path, name: str, formats=FORMATS) -> Path:
    """Each cell of a grid coloured by its fastest implementation (registry colour),
    with the lead over the runner-up; ties grey, cells not measured white."""
    nx, ny = len(wm.xs), len(wm.ys)
    fig, ax = new_figure(height=max(3.6, 2.2 + 0.55 * ny))
    hover, seen = [], []
    names = nx <= 6
    for xi, x in enumerate(wm.xs):
        for yi, y in enumerate(wm.ys):
            st = wm.cells.get((x, y))
            if st is None:
                fill, text, tip = "white", "–", "not measured"
            elif st.tie:
                fill = "#d9d9d9"
                text = "tie"
                tip = "tie: " + " ≈ ".join(st.tied)
                if "tie" not in seen:
                    seen.append("tie")
            else:
                fill = color(st.winner)
                lead = fmt_x(st.lead.value) if st.lead else "only one"
                text = (f"{st.winner}\n{lead}" if names else lead)
                tip = (f"{st.winner} fastest, {analysis.fmt_ratio(st.lead)} ahead of "
                       f"{st.runner}" if st.lead else f"only {st.winner} measured")
                if st.winner not in seen:
                    seen.append(st.winner)
            rect = Rectangle((xi - 0.5, yi - 0.5), 1, 1, facecolor=fill, edgecolor="0.5",
                             lw=0.8)
            ax.add_patch(rect)
            ax.text(xi, yi, text, ha="center", va="center", fontsize=7.5,
                    color=_ink(fill if fill.startswith("#") else "#ffffff"))
            hover.append((rect, [f"{wm.x_axis} = {x:,}, {wm.y_axis} = {y:,}: {tip}"]))
    ax.set_xlim(-0.5, nx - 0.5)
    ax.set_ylim(-0.5, ny - 0.5)
    ax.set_xticks(range(nx), [f"{x:,}" for x in wm.xs], fontsize=8)
    ax.set_yticks(range(ny), [f"{y:,}" for y in wm.ys], fontsize=8)
    ax.tick_params(length=0)
    ax.set_xlabel(AXIS_LABEL[wm.x_axis])
    ax.set_ylabel(AXIS_LABEL[wm.y_axis])
    _title(ax, f"Fastest implementation, {wm.x_axis} × {wm.y_axis}, {wm.dtype}",
           f"({fixed_text(wm.fixed)}; in each cell: the lead over the runner-up)")
    handles = [Patch(facecolor="#d9d9d9" if k == "tie" else color(k), edgecolor="0.5",
                     label="tie (within the noise)" if k == "tie" else k)
               for k in sorted(seen, key=lambda k: (k == "tie", registry.sort_key(k)))]
    _legend(fig, handles, min(4, max(1, len(handles))))
    return save_figure(fig, out, name, formats, hover)


# --- fixed cost and throughput -------------------------------------------------------------


def draw_costs(cost: dict, dtype: str, axis: str, out: Path, name: str,
               formats=FORMATS) -> Path:
    """Per implementation, the fixed cost per call (a) against the rate at large sizes
    (1/b) of ``time = a + b·FLOPs`` fitted over the ``axis`` sweep, with 95% bootstrap
    intervals: left is cheap to call, up is fast at scale."""
    fig, ax = new_figure(height=4.9)
    best = max([c.gflops.value for c in cost.values() if math.isfinite(c.gflops.value)],
               default=1.0)
    # far slower at scale than the best (the Python loops): named, not plotted
    off = {impl for impl, c in cost.items()
           if not math.isfinite(c.gflops.value) or c.gflops.value < best / OFF_SCALE}
    xs = [c.fixed.value * 1e6 for i, c in cost.items() if c.fixed.value > 0 and i not in off]
    floor = (min(xs) / 10) if xs else 0.1
    handles, hover, allx, ally = [], [], [], []
    for impl, c in cost.items():
        a = c.fixed.value * 1e6
        g = c.gflops.value
        if impl in off:
            handles.append(Line2D([], [], ls="none", marker="v", color=color(impl),
                                  label=f"{impl}: a = {_us(c.fixed)}, 1/b = {_rate(c.gflops)}"
                                        "; below the plot"))
            continue
        shown = max(a, floor)
        alo = max(c.fixed.lo * 1e6, floor)
        ahi = max(c.fixed.hi * 1e6, shown)
        glo = c.gflops.lo if math.isfinite(c.gflops.lo) else g
        ghi = c.gflops.hi if math.isfinite(c.gflops.hi) else g
        cont = ax.errorbar([shown], [g], xerr=[[shown - min(alo, shown)], [ahi - shown]],
                           yerr=[[g - min(glo, g)], [max(ghi, g) - g]], ls="none",
                           marker="<" if a < floor else marker(impl), color=color(impl),
                           ms=7, capsize=3, elinewidth=1.0, zorder=3)
        allx += [shown, alo, ahi]
        ally += [g, glo, ghi]
        label = (f"{impl}: a = {_us(c.fixed)}, 1/b = {_rate(c.gflops)}")
        handles.append(Line2D([], [], ls="none", marker=marker(impl), color=color(impl),
                              label=label))
        hover.append((cont.lines[0], [f"{impl}: fixed cost {_us(c.fixed)}, "
                                      f"{_rate(c.gflops)} at scale"]))
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    if allx:
        ax.set_xlim(min(allx) / 2, max(allx) * 2)
        _log_y(ax, min(ally), max(ally), pad=1.6)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.tick_params(labelsize=8)
    _grid(ax)
    ax.set_xlabel("fixed cost a per call [µs] (log)")
    ax.set_ylabel("rate at scale 1/b [GFLOP/s] (log)")
    _title(ax, f"Fixed cost and throughput, {dtype}",
           f"(time = a + b·FLOPs over the {axis} sweep; bars: 95% bootstrap)")
    _legend(fig, handles, 1)
    return save_figure(fig, out, name, formats, hover)


def _us(e) -> str:
    return f"{fmt_time(e.value)} [{fmt_time(e.lo) if e.lo > 0 else '0'}, {fmt_time(e.hi)}]"


def _rate(e) -> str:
    hi = "∞" if not math.isfinite(e.hi) else f"{e.hi:.3g}"
    return f"{e.value:.3g} GFLOP/s [{e.lo:.3g}, {hi}]"


# --- thread scaling ------------------------------------------------------------------------


def draw_threads(rows: list, dtype: str, out: Path, name: str, formats=FORMATS) -> Path:
    """Speed-up from the second thread count (``t(c1) / t(c2)``) against the step's FLOPs,
    per implementation; 1 (no gain) and c2/c1 (perfect scaling) drawn."""
    fig, ax = new_figure(height=4.9)
    c1, c2 = rows[0].counts
    ax.axhline(1.0, color="0.3", lw=1.0, zorder=1)
    ax.axhline(c2 / c1, color="0.3", lw=1.0, ls="--", zorder=1)
    handles = [Line2D([], [], color="0.3", lw=1.0, label="1: no gain"),
               Line2D([], [], color="0.3", lw=1.0, ls="--",
                      label=f"{c2 / c1:g}: perfect scaling")]
    hover, vals, xs = [], [1.0, c2 / c1], []
    for ts in rows:
        v = [(r.value, r.lo, r.hi) for r in ts.speedup]
        ys, err = _errs(v)
        cont = ax.errorbar(ts.flops, ys, yerr=err, marker=marker(ts.impl), color=color(ts.impl),
                           ms=5, lw=1.4, capsize=2.5, elinewidth=0.9, zorder=3)
        vals += [x for t in v for x in t if math.isfinite(x) and x > 0]
        xs += ts.flops
        handles.append(Line2D([], [], color=color(ts.impl), marker=marker(ts.impl),
                              label=f"{ts.impl}: {_range_x(list(ys))}"))
        hover.append((cont.lines[0], [
            f"{ts.impl} at {_where(dict(zip(SIZE_KEYS, sz, strict=True)))}: "
            f"{analysis.fmt_ratio(r)}"
                                      for sz, r in zip(ts.sizes, ts.speedup, strict=True)]))
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    if xs:
        a, z = min(xs), max(xs)
        pad = max((z / a) ** 0.06, 1.5)
        ax.set_xlim(a / pad, z * pad)
    _log_y(ax, min(vals), max(vals), pad=1.2)
    _grid(ax)
    ax.set_xlabel("FLOPs of one step (log)")
    ax.set_ylabel(f"speed-up t({c1} thread) / t({c2} threads)")
    _title(ax, f"Speed-up from the second thread, {dtype}")
    _legend(fig, handles, _ncol(handles))
    return save_figure(fig, out, name, formats, hover)

