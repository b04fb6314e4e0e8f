"""``mlpbench compare BASE.json NEW.json``: per-point ratios with a noise-aware verdict.

The rule is :data:`RULE`. Points missing from one file, or not ``ok`` in one of
them, are listed as not comparable and do not count. The exit status of the
command is 1 if any point is slower.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from mlpbench.errors import UsageError
from mlpbench.harness import schema
from mlpbench.report import analysis

SLOWER, FASTER, SAME = "slower", "faster", "no change"

RULE = ("For a point measured in both files (same impl, dtype, phase and sizes), "
        "ratio = NEW median / BASE median and t is the threshold. Slower: ratio > 1 + t "
        "and NEW's q1 > BASE's q3 (the interquartile ranges do not overlap). Faster: "
        "ratio < 1/(1 + t) and NEW's q3 < BASE's q1. Otherwise no change: the difference "
        "is within the threshold or within the noise.")
DEFAULT_THRESHOLD = 0.05
VERDICT_COLORS = {SLOWER: "#d62728", FASTER: "#2ca02c", SAME: "#7f7f7f"}


@dataclass
class Row:
    key: tuple
    base: dict
    new: dict
    ratio: float
    lo: float         # NEW.q1 / BASE.q3: the most favourable ratio the spreads allow
    hi: float         # NEW.q3 / BASE.q1
    verdict: str

    @property
    def label(self) -> str:
        impl, dtype, phase, n, d, d_h, m, l1, l2 = self.key
        pen = f" l1={l1:g} l2={l2:g}" if (l1 or l2) else ""
        return f"{impl} {dtype} {phase} n={n} d={d} d_h={d_h} m={m}{pen}"


@dataclass
class Comparison:
    rows: list[Row]
    threshold: float
    only_base: list[tuple] = field(default_factory=list)
    only_new: list[tuple] = field(default_factory=list)
    not_ok: list[tuple] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(r.verdict == verdict for r in self.rows)

    @property
    def any_slower(self) -> bool:
        return self.count(SLOWER) > 0


def verdict(base: dict, new: dict, threshold: float = DEFAULT_THRESHOLD) -> str:
    """The rule of this module's docstring for one pair of ok points."""
    ratio = new["median_s"] / base["median_s"]
    if ratio > 1 + threshold and new["q1_s"] > base["q3_s"]:
        return SLOWER
    if ratio < 1 / (1 + threshold) and new["q3_s"] < base["q1_s"]:
        return FASTER
    return SAME


def compare(base_doc: dict, new_doc: dict, threshold: float = DEFAULT_THRESHOLD) -> Comparison:
    if not (threshold >= 0 and math.isfinite(threshold)):
        raise UsageError(f"--threshold must be a finite number >= 0, got {threshold!r}")
    base = {schema.point_key(p): p for p in base_doc["points"]}
    new = {schema.point_key(p): p for p in new_doc["points"]}
    out = Comparison([], threshold)
    for key in base:
        if key not in new:
            out.only_base.append(key)
    for key, q in new.items():
        p = base.get(key)
        if p is None:
            out.only_new.append(key)
        elif p["status"] != "ok" or q["status"] != "ok" or p["median_s"] <= 0 \
                or q["median_s"] <= 0:
            out.not_ok.append(key)
        else:
            lo = q["q1_s"] / p["q3_s"] if p["q3_s"] > 0 else 0.0
            hi = q["q3_s"] / p["q1_s"] if p["q1_s"] > 0 else math.inf
            out.rows.append(Row(key, p, q, q["median_s"] / p["median_s"], lo, hi,
                                verdict(p, q, threshold)))
    if not out.rows:
        raise UsageError("the two files have no measured point in common "
                         "(same impl, dtype, phase and sizes); compare runs of the same sweep")
    out.rows.sort(key=lambda r: (analysis.impl_sort_key(r.key[0]), r.key[1:]))
    return out


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def geomeans(cmp: Comparison) -> dict[str, float]:
    """Geometric mean of NEW/BASE: over all points (``"all"``) and per implementation."""
    out = {"all": geomean([r.ratio for r in cmp.rows])}
    for impl in sorted({r.key[0] for r in cmp.rows}, key=analysis.impl_sort_key):
        out[impl] = geomean([r.ratio for r in cmp.rows if r.key[0] == impl])
    return out


def summary_lines(cmp: Comparison) -> list[str]:
    g = geomeans(cmp)
    per = ", ".join(f"{k} {v:.3f}" for k, v in g.items() if k != "all")
    lines = [f"{len(cmp.rows)} points compared: {cmp.count(SLOWER)} slower, "
             f"{cmp.count(FASTER)} faster, {cmp.count(SAME)} no change "
             f"(threshold {cmp.threshold:.0%}, outside the interquartile ranges).",
             f"geometric mean NEW/BASE: {g['all']:.3f} ({per})."]
    skipped = len(cmp.only_base) + len(cmp.only_new) + len(cmp.not_ok)
    if skipped:
        lines.append(f"not comparable: {len(cmp.only_base)} only in BASE, {len(cmp.only_new)} "
                     f"only in NEW, {len(cmp.not_ok)} not measured (skipped/failed) in one.")
    return lines


def table_rows(cmp: Comparison) -> list[list[str]]:
    return [[r.label, analysis.fmt_time(r.base["median_s"]), analysis.fmt_time(r.new["median_s"]),
             f"{r.ratio:.3f}", f"[{r.lo:.3f}, {r.hi:.3f}]", r.verdict] for r in cmp.rows]


TABLE_HEADER = ["point", "BASE median", "NEW median", "NEW/BASE", "IQR range", "verdict"]


def format_table(cmp: Comparison) -> str:
    rows = [TABLE_HEADER, *table_rows(cmp)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(TABLE_HEADER))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths, strict=True)))
                     for r in rows)


FIGURE_W = 11.0


def figure_height(n_points: int) -> float:
    """Inches: one row per compared point."""
    return max(3.5, 1.9 + 0.24 * n_points)


def figure_size_px(n_points: int) -> tuple[int, int]:
    from mlpbench.report.figures import DPI

    return round(FIGURE_W * DPI), round(figure_height(n_points) * DPI)


def draw(cmp: Comparison, out: Path, name: str = "compare", formats=("png", "svg")) -> Path:
    """One row per point: the ratio NEW/BASE (dot) and its IQR range (bar), coloured by
    verdict, on a log axis, with the threshold band around 1 shaded."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    from mlpbench.report import figures

    fig = Figure(figsize=(FIGURE_W, figure_height(len(cmp.rows))), dpi=figures.DPI,
                 layout="constrained")
    ax = fig.subplots()
    ys = list(range(len(cmp.rows)))
    for y, r in zip(ys, cmp.rows, strict=True):
        c = VERDICT_COLORS[r.verdict]
        hi = r.hi if math.isfinite(r.hi) else r.ratio * 10
        ax.plot([max(r.lo, 1e-9), hi], [y, y], color=c, lw=2, alpha=0.5)
        ax.plot([r.ratio], [y], "o", color=c, ms=6)
    t = cmp.threshold
    ax.axvspan(1 / (1 + t), 1 + t, color="0.85", zorder=0)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 1.25, 1.6, 2.0, 3.0, 5.0, 8.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_yticks(ys, [r.label for r in cmp.rows], fontsize=8)
    ax.set_ylim(len(ys) - 0.5, -0.5)
    ax.set_xlabel("NEW / BASE median time (below 1: faster; bar: IQR range)")
    g = geomeans(cmp)["all"]
    ax.set_title(f"NEW vs BASE: {cmp.count(SLOWER)} slower, {cmp.count(FASTER)} faster, "
                 f"{cmp.count(SAME)} no change\ngeometric mean of NEW/BASE {g:.3f}",
                 fontsize=11)
    ax.grid(True, axis="x", alpha=0.3)
    handles = [Line2D([], [], marker="o", ls="", color=VERDICT_COLORS[v], label=v)
               for v in (SLOWER, FASTER, SAME)]
    handles.append(Line2D([], [], lw=8, color="0.85", label=f"±{t:.0%} threshold"))
    fig.legend(handles=handles, loc="outside lower center", ncol=4, frameon=False, fontsize=9)
    return figures.save_figure(fig, out, name, formats)


def markdown(cmp: Comparison, base_path: str, new_path: str, figure: Path | None) -> str:
    from mlpbench.report.document import Section, Table, render_md

    sec = Section("Comparison", [f"BASE: {base_path}", f"NEW: {new_path}", RULE],
                  bullets=summary_lines(cmp), figure=figure,
        tables=[Table("Per point", TABLE_HEADER, table_rows(cmp))])
    return render_md("mlpbench compare", [sec])
