"""Machines compared: result files of several machines side by side in one report.

A machine is named by its file: the ``cluster.host`` of an ``every-machine`` sweep
(harness.cluster; ``MLPBENCH_MACHINE_ID`` or the hostname), the machines of a sharded
one, else ``machine.hostname``. Given files of two or more machines,
:func:`compare_machines` draws per swept axis

- each implementation's step time on every machine (colour: the implementation, from
  the registry; line style: the machine), one panel per dtype;
- numba's speed-up over numpy (numpy time / numba time) on every machine;

and lists, for the summary, where the best choice (the fastest implementation)
differs between machines. A machine's best choice at a size is its fastest median;
implementations within :data:`TIE` of it count as tied with it, and two machines
differ only where their tied groups have no implementation in common.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlpbench.atomic import write_atomic
from mlpbench.report import analysis
from mlpbench.report.document import Section, Table

__all__ = ["TIE", "Comparison", "best_choices", "by_machine", "compare_machines",
           "first_machine_docs", "machine_label", "several_machines"]

#: Relative gap to the fastest median under which implementations count as tied.
TIE = 0.05
#: The pair whose ratio is drawn per machine: numba's speed-up over numpy.
SUBJECT, REFERENCE = "numba", "numpy"
LINE_STYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1)), (0, (1, 3)))
PANEL_W, PANEL_H, DPI = 6.4, 5.2, 100
AXIS_LABEL = {"n": "batch size n", "d": "input size d", "d_h": "hidden size d_h"}


@dataclass
class Comparison:
    """What :func:`compare_machines` adds to a report."""

    machines: dict[str, list[dict]]          # label -> its documents
    sections: list[Section] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)


def machine_label(doc: dict) -> str:
    """The name of the machine (or machines, for a sharded sweep) a document comes from."""
    cluster = doc.get("cluster")
    if isinstance(cluster, dict):
        if isinstance(cluster.get("host"), str) and cluster["host"]:
            return cluster["host"]
        names = cluster.get("machines")
        if isinstance(names, dict) and names:
            return "+".join(sorted(str(n) for n in names))
    host = (doc.get("machine") or {}).get("hostname")
    return host if isinstance(host, str) and host else "unknown host"


def by_machine(docs: Sequence[dict]) -> dict[str, list[dict]]:
    """The documents grouped by :func:`machine_label`, in the order they were given."""
    groups: dict[str, list[dict]] = {}
    for doc in docs:
        groups.setdefault(machine_label(doc), []).append(doc)
    return groups


def several_machines(docs: Sequence[dict]) -> bool:
    return len(by_machine(docs)) > 1


def first_machine_docs(docs: Sequence[dict]) -> list[dict]:
    """The documents of the first machine (all of them when they come from one)."""
    groups = by_machine(docs)
    return list(next(iter(groups.values()))) if groups else list(docs)


# --- the numbers ------------------------------------------------------------------------------


def _times(series: dict, dtype: str) -> dict[str, dict[int, float]]:
    """``{impl: {size: median seconds}}`` of one dtype's ok points."""
    return {impl: dict(zip(s.sizes, s.median, strict=True))
            for (dt, impl), s in series.items() if dt == dtype and s.sizes}


def _tied(times_at: dict[str, float]) -> list[str]:
    """The fastest implementation first, then those within TIE of it."""
    order = sorted(times_at, key=lambda i: (times_at[i], analysis.impl_sort_key(i)))
    best = times_at[order[0]]
    return [i for i in order if times_at[i] <= best * (1 + TIE)]


def best_choices(per_machine: dict[str, dict], axis: str, dtype: str) -> list[dict]:
    """Per size measured on two or more machines: each machine's fastest implementations
    (:func:`_tied`) and whether the machines disagree (no implementation in common)."""
    times = {m: _times(series, dtype) for m, series in per_machine.items()}
    sizes = sorted({x for t in times.values() for by in t.values() for x in by})
    rows = []
    for x in sizes:
        best = {}
        for m, t in times.items():
            at = {impl: by[x] for impl, by in t.items() if x in by}
            if at:
                best[m] = _tied(at)
        if len(best) < 2:
            continue
        common = set.intersection(*(set(b) for b in best.values()))
        rows.append({"size": x, "best": best, "differs": not common})
    return rows


def _ranges(rows: list[dict]) -> list[tuple[int, int, dict]]:
    """Consecutive differing sizes with the same per-machine winners, merged."""
    out: list[tuple[int, int, dict]] = []
    last = None
    for r in rows:
        key = tuple(sorted((m, b[0]) for m, b in r["best"].items())) if r["differs"] else None
        if key is not None and last == key and out:
            out[-1] = (out[-1][0], r["size"], out[-1][2])
        elif key is not None:
            out.append((r["size"], r["size"], r["best"]))
        last = key
    return out


def _who(best: dict[str, list[str]]) -> str:
    return ", ".join(f"{' ≈ '.join(b)} on {m}" for m, b in best.items())


def _span(lo: int, hi: int) -> str:
    return f"{lo:,}" if lo == hi else f"{lo:,}–{hi:,}"


def speedups(per_machine: dict[str, dict], dtype: str) -> dict[str, tuple[list, list]]:
    """``{machine: (sizes, numpy time / numba time)}`` where both were measured."""
    out = {}
    for m, series in per_machine.items():
        t = _times(series, dtype)
        if SUBJECT in t and REFERENCE in t:
            xs = sorted(set(t[SUBJECT]) & set(t[REFERENCE]))
            if xs:
                out[m] = (xs, [t[REFERENCE][x] / t[SUBJECT][x] for x in xs])
    return out


# --- the figures ------------------------------------------------------------------------------


def _colour(impl: str, i: int) -> str:
    try:
        from mlpbench.mlp import registry

        return registry.colour(impl)
    except Exception:  # an older registry, or a name it does not know
        return f"C{i % 10}"


def _marker(impl: str) -> str:
    try:
        from mlpbench.mlp import registry

        return registry.marker(impl)
    except Exception:
        return "o"


def _save(fig, out: Path, name: str, formats: Sequence[str]) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    png = Path(out) / f"{name}.png"
    for fmt in dict.fromkeys(("png", *formats)):
        write_atomic(png.with_suffix(f".{fmt}"),
                     lambda tmp, fmt=fmt: fig.savefig(tmp, format=fmt, dpi=DPI))
    return png


def _figure(panels: int):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(PANEL_W * panels, PANEL_H), dpi=DPI, layout="constrained")
    return fig, list(fig.subplots(1, panels, squeeze=False)[0])


def _legend(fig, impls: list[str], machines: list[str], styles: dict) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=_colour(i, k), marker=_marker(i), linestyle="none",
                      label=i) for k, i in enumerate(impls)]
    handles += [Line2D([], [], color="#444444", linestyle=styles[m], label=m)
                for m in machines]
    fig.legend(handles=handles, loc="outside lower center", frameon=False, fontsize=8.5,
               ncol=min(len(handles), 6))


def _log_axes(ax, axis: str, sizes: list[int], ylabel: str, title: str) -> None:
    from matplotlib.ticker import NullLocator

    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    if sizes and len(sizes) <= 12:
        ax.set_xticks(sizes, [f"{v:,}" for v in sizes])
        ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel(AXIS_LABEL.get(axis, axis))
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.grid(True, which="major", alpha=0.3)


def draw_times(axis: str, per_machine: dict[str, dict], dtypes: list[str], out: Path,
               name: str, formats: Sequence[str] = ("png", "svg")) -> Path:
    """Each implementation's median step time on every machine, one panel per dtype."""
    machines = list(per_machine)
    styles = {m: LINE_STYLES[k % len(LINE_STYLES)] for k, m in enumerate(machines)}
    impls = sorted({i for s in per_machine.values() for (_, i), v in s.items() if v.sizes},
                   key=analysis.impl_sort_key)
    fig, axes = _figure(len(dtypes))
    for ax, dtype in zip(axes, dtypes, strict=True):
        sizes: set[int] = set()
        for m in machines:
            for k, impl in enumerate(impls):
                by = _times(per_machine[m], dtype).get(impl)
                if not by:
                    continue
                xs = sorted(by)
                sizes.update(xs)
                ax.plot(xs, [by[x] for x in xs], color=_colour(impl, k), marker=_marker(impl),
                        linestyle=styles[m], markersize=5, linewidth=1.6)
        ax.set_yscale("log")
        _log_axes(ax, axis, sorted(sizes), "median time per step (s)",
                  f"Step time along {axis}, {dtype}, per machine")
    _legend(fig, impls, machines, styles)
    return _save(fig, out, name, formats)


def draw_speedups(axis: str, per_machine: dict[str, dict], dtypes: list[str], out: Path,
                  name: str, formats: Sequence[str] = ("png", "svg")) -> Path:
    """numba's speed-up over numpy on every machine, one panel per dtype."""
    machines = list(per_machine)
    styles = {m: LINE_STYLES[k % len(LINE_STYLES)] for k, m in enumerate(machines)}
    fig, axes = _figure(len(dtypes))
    for ax, dtype in zip(axes, dtypes, strict=True):
        sizes: set[int] = set()
        for m, (xs, ratio) in speedups(per_machine, dtype).items():
            sizes.update(xs)
            ax.plot(xs, ratio, color=_colour(SUBJECT, 0), marker=_marker(SUBJECT),
                    linestyle=styles[m], markersize=5, linewidth=1.6)
        ax.axhline(1.0, color="#888888", linewidth=1, zorder=0)
        ax.set_yscale("log")
        _log_axes(ax, axis, sorted(sizes), f"{REFERENCE} time / {SUBJECT} time",
                  f"{SUBJECT} speed-up over {REFERENCE} along {axis}, {dtype}")
    _legend(fig, [SUBJECT], machines, styles)
    return _save(fig, out, name, formats)


# --- the report's part ------------------------------------------------------------------------


def _describe(label: str, docs: list[dict]) -> str:
    doc = docs[0]
    mach = doc.get("machine") or {}
    thr = doc.get("threads") or {}
    bits = [str(mach.get("cpu_model") or "CPU not recorded")]
    if isinstance(mach.get("memory_bytes"), int):
        bits.append(f"{mach['memory_bytes'] / 2**30:.0f} GiB")
    if thr.get("numba_threads") is not None:
        bits.append(f"{thr['numba_threads']} thread(s)")
    for key in ("numpy", "numba"):
        if mach.get(key):
            bits.append(f"{key} {mach[key]}")
    return f"{label}: {', '.join(bits)}"


def _same_host_note(groups: dict[str, list[dict]]) -> str | None:
    hosts: dict[str, list[str]] = {}
    for label, docs in groups.items():
        host = (docs[0].get("machine") or {}).get("hostname")
        if host:
            hosts.setdefault(host, []).append(label)
    shared = [(h, labels) for h, labels in hosts.items() if len(labels) > 1]
    if not shared:
        return None
    return " ".join(f"{', '.join(labels)} are names of one host ({h}): what differs between "
                    "them is their settings (threads, environment), not their hardware."
                    for h, labels in shared)


def compare_machines(docs: Sequence[dict], out: Path,
                     formats: Sequence[str] = ("png", "svg")) -> Comparison | None:
    """The machine comparison of a report (sections, summary lines, figures written into
    ``out``), or None when every document comes from one machine."""
    groups = by_machine(docs)
    if len(groups) < 2:
        return None
    comp = Comparison(groups)
    note = _same_host_note(groups)
    comp.summary.append(f"Machines compared ({len(groups)}): {', '.join(groups)}."
                        + (f" {note}" if note else ""))
    intro = Section("Machines compared", [
        "The result files come from several machines (named by their cluster host, "
        "MLPBENCH_MACHINE_ID, or hostname). The sections below put each implementation's "
        "time on every machine side by side, and say where the fastest implementation "
        "is not the same everywhere. Absolute times of different machines compare their "
        "speed; ratios measured on one machine compare implementations."
        + (f" {note}" if note else "")
        + f" The recommendation above and the sections after this comparison show the "
          f"files of {next(iter(groups))} only."],
        bullets=[_describe(label, ds) for label, ds in groups.items()])
    comp.sections.append(intro)
    axes = analysis.swept_axes(list(docs))
    differ_lines: list[str] = []
    for axis in axes:
        per = {m: analysis.axis_series(ds, axis) for m, ds in groups.items()}
        per = {m: s for m, s in per.items() if any(v.sizes for v in s.values())}
        if len(per) < 2:
            continue
        dtypes = [d for d in ("float64", "float32")
                  if any(dt == d and v.sizes for s in per.values() for (dt, _), v in s.items())]
        png = draw_times(axis, per, dtypes, out, f"machines_{axis}", formats)
        comp.figures.append(png)
        rows = []
        for dtype in dtypes:
            times = {m: _times(s, dtype) for m, s in per.items()}
            impls = sorted({i for t in times.values() for i in t}, key=analysis.impl_sort_key)
            sizes = sorted({x for t in times.values() for by in t.values() for x in by})
            for x in sizes:
                for impl in impls:
                    cells = [analysis.fmt_time(times[m].get(impl, {}).get(x)) for m in per]
                    if any(c != analysis.fmt_time(None) for c in cells):
                        rows.append([dtype, f"{x:,}", impl, *cells])
        choice_rows, bullets = [], []
        for dtype in dtypes:
            choices = best_choices(per, axis, dtype)
            for r in choices:
                choice_rows.append([dtype, f"{r['size']:,}",
                                    *[" ≈ ".join(r["best"].get(m, [])) or "–" for m in per],
                                    "yes" if r["differs"] else "no"])
            for lo, hi, best in _ranges(choices):
                line = f"{axis} = {_span(lo, hi)} ({dtype}): the fastest is {_who(best)}"
                bullets.append(line)
                differ_lines.append(line)
            if choices and not any(r["differs"] for r in choices):
                bullets.append(f"{axis} ({dtype}): the same fastest implementation on every "
                               "machine at every size measured on more than one")
        comp.sections.append(Section(
            f"Machines compared along {axis}",
            [f"Median step time against {axis} on every machine: colour is the "
             "implementation, line style the machine. Below, each machine's fastest "
             f"implementation per size (within {TIE:.0%} of the fastest counts as tied)."],
            figure=png, bullets=bullets,
            tables=[Table(f"Fastest implementation per machine along {axis}",
                          ["dtype", axis, *per, "differs"], choice_rows),
                    Table(f"Step times per machine along {axis}",
                          ["dtype", axis, "impl", *per], rows)]))
        sp = {dtype: speedups(per, dtype) for dtype in dtypes}
        sp_dtypes = [dt for dt in dtypes if sp[dt]]
        title = f"{SUBJECT} speed-up over {REFERENCE} per machine along {axis}"
        if not sp_dtypes:
            comp.sections.append(Section(title, omitted=f"{SUBJECT} and {REFERENCE} were not "
                                                        "both measured on any machine"))
            continue
        png = draw_speedups(axis, per, sp_dtypes, out, f"machines_speedup_{axis}", formats)
        comp.figures.append(png)
        for dtype in sp_dtypes:
            spans = ", ".join(f"{m} {min(r):.2g}–{max(r):.2g}×" for m, (_, r) in sp[dtype].items())
            comp.summary.append(f"{SUBJECT} over {REFERENCE} along {axis} ({dtype}): {spans}.")
        comp.sections.append(Section(
            title, [f"{REFERENCE}'s median time divided by {SUBJECT}'s, at the sizes both "
                    f"measured, on each machine: above 1, {SUBJECT} is faster there."],
            figure=png, tables=[Table(title, ["dtype", axis, "machine", "speed-up"],
                                      [[dt, f"{x:,}", m, f"{v:.3g}"] for dt in sp_dtypes
                                       for m, (xs, r) in sp[dt].items()
                                       for x, v in zip(xs, r, strict=True)])]))
    if differ_lines:
        comp.summary.append("The best choice differs between machines: "
                            + "; ".join(differ_lines) + ".")
    elif axes:
        comp.summary.append("The best choice (fastest implementation) is the same on every "
                            "machine wherever more than one measured it.")
    return comp
