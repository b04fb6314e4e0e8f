"""Every figure the report draws is readable: no text overlaps another text or a plotted
line or runs off the figure, and no data point is drawn outside its axes (nor cut by the
frame).

The figures come from two reports: the committed fixtures (old files: medians and
quartiles only) and synthetic documents with everything the newest harness records
(raw samples, memory, a grid, two thread counts, the peers), plus the training
sheet's epoch-time figure. The checker is tested on a deliberately bad figure, so it
can fail.

How it works: the figure is drawn once with ``Text.draw`` and ``Line2D.draw`` recording
what is actually drawn (so ticks outside the view and empty labels do not count); text
boxes come from ``get_window_extent``; a line is its path in display coordinates,
clipped to its axes, tested segment by segment against each text box; markers are
points with their radius.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import report_synthetic as synthetic
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text

from mlpbench.report import training

#: Pixels two boxes may share before they count as overlapping (anti-aliasing).
TOL = 1.0


# --- the checker --------------------------------------------------------------------------


def _drawn(fig: Figure):
    """Draw ``fig``; return (texts, lines) that were actually drawn, and the renderer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    texts, lines = [], []
    text_draw, line_draw = Text.draw, Line2D.draw

    def record_text(self, renderer):
        if self.get_visible() and self.get_text().strip():
            texts.append(self)
        return text_draw(self, renderer)

    def record_line(self, renderer):
        if self.get_visible():
            lines.append(self)
        return line_draw(self, renderer)

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    Text.draw, Line2D.draw = record_text, record_line
    try:
        canvas.draw()
    finally:
        Text.draw, Line2D.draw = text_draw, line_draw
    return texts, set(lines), canvas.get_renderer()


def _clip(p, q, box):
    """Liang–Barsky: the part of segment p–q inside box (x0, y0, x1, y1), or None."""
    (x0, y0), (x1, y1) = p, q
    dx, dy = x1 - x0, y1 - y0
    t0, t1 = 0.0, 1.0
    for pk, qk in ((-dx, x0 - box[0]), (dx, box[2] - x0), (-dy, y0 - box[1]),
                   (dy, box[3] - y0)):
        if pk == 0:
            if qk < 0:
                return None
            continue
        t = qk / pk
        if pk < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return None
    return (x0 + t0 * dx, y0 + t0 * dy), (x0 + t1 * dx, y0 + t1 * dy)


def _data_lines(fig, drawn):
    """(axes, name, display vertices (k×2), marker radius px, connected) of every drawn
    data line and errorbar/line collection."""
    out = []
    for ax in fig.axes:
        for ln in ax.lines:
            if ln not in drawn:
                continue
            xy = ln.get_transform().transform(np.asarray(ln.get_xydata(), dtype=float))
            mk = ln.get_marker()
            radius = ln.get_markersize() * fig.dpi / 72 / 2 if mk not in (None, "", "None",
                                                                          " ") else 0.0
            connected = ln.get_linestyle() not in ("None", "", " ", "none")
            out.append((ax, ln.get_label(), xy, radius, connected))
        for coll in ax.collections:
            if not coll.get_visible():
                continue
            if isinstance(coll, LineCollection):
                for seg in coll.get_segments():
                    xy = coll.get_transform().transform(np.asarray(seg, dtype=float))
                    out.append((ax, "collection", xy, 0.0, True))
            elif isinstance(coll, PathCollection):
                xy = coll.get_offset_transform().transform(coll.get_offsets())
                sizes = coll.get_sizes()
                r = math.sqrt(max(sizes)) * fig.dpi / 72 / 2 if len(sizes) else 0.0
                out.append((ax, "scatter", xy, r, False))
    return out


def _box(ext, shrink=TOL):
    return (ext.x0 + shrink, ext.y0 + shrink, ext.x1 - shrink, ext.y1 - shrink)


def problems(fig: Figure) -> list[str]:
    """Everything unreadable in ``fig``: overlapping texts, text over a plotted line or
    point, data points outside (or cut by) their axes."""
    texts, drawn, renderer = _drawn(fig)
    found = []
    boxes = [(t, t.get_window_extent(renderer)) for t in texts]
    page = fig.bbox
    for t, e in boxes:     # cut by the edge of the figure
        if e.x0 < page.x0 - TOL or e.x1 > page.x1 + TOL or e.y0 < page.y0 - TOL \
                or e.y1 > page.y1 + TOL:
            found.append(f"text {t.get_text()!r} runs off the figure")
    for i, (a, ea) in enumerate(boxes):
        for b, eb in boxes[i + 1:]:
            w = min(ea.x1, eb.x1) - max(ea.x0, eb.x0)
            h = min(ea.y1, eb.y1) - max(ea.y0, eb.y0)
            if w > TOL and h > TOL:
                found.append(f"text {a.get_text()!r} overlaps text {b.get_text()!r}")
    lines = _data_lines(fig, drawn)
    for ax, name, xy, radius, connected in lines:
        frame = ax.get_window_extent(renderer)
        fb = (frame.x0, frame.y0, frame.x1, frame.y1)
        ok = np.all(np.isfinite(xy), axis=1)
        pts = xy[ok]
        # data points inside the axes, markers not cut by the frame
        if radius > 0 or not connected:
            inset = max(radius - 1.5, 0.0) if radius > 0 else 0.0
            out = [(round(x), round(y)) for x, y in pts
                   if not (fb[0] + inset - 0.5 <= x <= fb[2] - inset + 0.5
                           and fb[1] + inset - 0.5 <= y <= fb[3] - inset + 0.5)]
            if out:
                found.append(f"{name}: {len(out)} point(s) outside or cut by the axes, e.g. "
                             f"at display {out[0]} (axes {[round(v) for v in fb]})")
        elif len(pts):
            out = [(round(x), round(y)) for x, y in pts
                   if not (fb[0] - 0.5 <= x <= fb[2] + 0.5 and fb[1] - 0.5 <= y <= fb[3] + 0.5)]
            if out:
                found.append(f"{name}: {len(out)} vertex(es) outside the axes, e.g. {out[0]}")
        # text over the line or its markers (the visible part, inside the axes)
        for t, ext in boxes:
            tb = _box(ext)
            if tb[0] >= tb[2] or tb[1] >= tb[3]:
                continue
            hit = False
            if radius > 0:
                for x, y in pts:
                    if (fb[0] <= x <= fb[2] and fb[1] <= y <= fb[3]
                            and tb[0] - radius < x < tb[2] + radius
                            and tb[1] - radius < y < tb[3] + radius):
                        hit = True
                        break
            if not hit and connected:
                for p, q in zip(xy[:-1], xy[1:], strict=True):
                    if not (np.all(np.isfinite(p)) and np.all(np.isfinite(q))):
                        continue
                    seg = _clip(tuple(p), tuple(q), fb)
                    if seg is not None and _clip(*seg, tb) is not None:
                        hit = True
                        break
            if hit:
                found.append(f"text {t.get_text()!r} lies on the line/points {name!r}")
    return found


# --- the checker can fail -----------------------------------------------------------------


def bad_figure() -> Figure:
    """A figure with each defect once: two texts on top of each other, a label on a
    line, a point outside the axes."""
    fig = Figure(figsize=(4, 3), dpi=100)
    ax = fig.subplots()
    ax.plot([1, 2, 3], [1, 2, 3], label="data")
    ax.set_xlim(0.5, 3.5)
    ax.set_ylim(0.5, 3.5)
    ax.text(2, 2, "on the line", ha="center")
    ax.text(1.0, 3.2, "first label")
    ax.text(1.05, 3.22, "second label")
    ax.plot([3.9], [2.0], "o", clip_on=False, label="escaped")
    fig.text(0.9, 0.5, "a note too long for the figure")
    return fig


def test_the_checker_finds_each_defect_of_a_bad_figure():
    found = problems(bad_figure())
    assert any("'first label' overlaps text 'second label'" in p for p in found), found
    assert any("'on the line' lies on the line" in p for p in found), found
    assert any(p.startswith("escaped: 1 point(s) outside") for p in found), found
    assert "text 'a note too long for the figure' runs off the figure" in found, found


def test_the_checker_passes_a_clean_figure():
    fig = Figure(figsize=(4, 3), dpi=100, layout="constrained")
    ax = fig.subplots()
    ax.plot([1, 2, 3], [1, 2, 3], marker="o")
    ax.set_xlim(0.5, 3.5)
    ax.set_ylim(0.5, 3.5)
    ax.text(2.6, 1.0, "below the line")
    ax.set_title("a title")
    assert problems(fig) == []


# --- every figure of the reports ----------------------------------------------------------


@pytest.fixture(scope="module")
def drawn():
    return {f"{kind}/{name}": fig for kind in ("fixtures", "rich")
            for name, fig in synthetic.built(kind).figures}


def test_the_reports_draw_every_kind_of_figure(drawn):
    kinds = {name.split("/")[1].split("_")[0].split("-")[0] for name in drawn}
    assert kinds == {"scaling", "speedup", "throughput", "phases", "compile", "numerics",
                     "winner", "costs", "memory", "threads"}


def test_no_figure_has_overlapping_text_or_points_outside(drawn):
    bad = {name: found for name, fig in drawn.items() if (found := problems(fig))}
    assert not bad, "\n".join(f"{name}: {p}" for name, found in bad.items() for p in found)


def test_epoch_times_figure_is_readable(monkeypatch, tmp_path):
    import csv

    rows = []
    path = Path(__file__).parents[1] / "reports" / "train-epoch-times" / "epoch_times.csv"
    if path.exists():
        for r in csv.DictReader(path.open()):
            rows.append({"impl": r["impl"], "batch": int(r["batch"]),
                         "seconds": float(r["seconds"]),
                         "extrapolated": r["extrapolated"] == "True"})
    else:   # the same shape, made up
        rows = [{"impl": i, "batch": b, "seconds": 0.01 * (k + 1) * b ** -0.5,
                 "extrapolated": i == "loops" and b == 1}
                for k, i in enumerate(synthetic.IMPLS) for b in (1, 10, 100)]
    kept = []
    monkeypatch.setattr(training, "save_figure", lambda fig, path, dpi=120: kept.append(fig))
    training.plot_epoch_times(rows, tmp_path / "epoch_times.png", title="epoch times",
                              note="a note under the figure")
    assert kept and problems(kept[0]) == []
    colours = {p.get_facecolor() for p in kept[0].axes[0].patches}
    assert len(colours) == len({r["impl"] for r in rows})


def test_a_squeezed_curve_is_named_off_the_plot_not_drawn(drawn):
    fig = drawn["fixtures/speedup_n-float64"]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(t.startswith("loops:") and "below the plot" in t for t in labels), labels
    lo, hi = fig.axes[0].get_ylim()
    assert lo > 0.1 and hi < 10     # the interesting band, not four decades
    assert any("stops beating numpy at n ≈ 12" in t for t in labels), labels


def test_hover_titles_give_every_plotted_point_its_value():
    out = synthetic.built("fixtures").report.out
    svg = (out / "speedup_n-float64.svg").read_text(encoding="utf-8")
    assert svg.count("<title>n = ") == 7       # numba at the 7 sizes (loops is off the plot)
    assert "<title>n = 4: numba 1.66× [1.6, 1.73]†</title>" in svg
    assert "stops beating numpy at n ≈ 12" in svg
    scaling = (out / "scaling_n-float64.svg").read_text(encoding="utf-8")
    assert scaling.count("<title>n = ") == 5 + 7 + 7     # loops measured at 5 sizes
