"""The answer a report opens with, written from the numbers of :mod:`.analysis`.

For each swept axis and dtype: which implementation to use in which size range
(peers included), by how much it leads the next one (with the interval), the
ranges where no implementation can be told apart from the winner (ties), and
every point where the implementation fastest most often loses. Then what
compiling costs: the calls after which a JIT implementation has paid for its
compile time at the base point and over the sweep. Then the machine and the
noise floor in two lines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mlpbench.report import analysis
from mlpbench.report.analysis import fmt_calls, fmt_size, fmt_time, fmt_x

#: At most this many sizes are listed one by one in a sentence; more become a range.
MAX_LISTED = 4


@dataclass
class Answer:
    """``bullets``: ``(head, [sentences])`` per axis and dtype, then the winner maps,
    thread scaling and compile costs; ``machine`` and ``noise``: one line each."""

    bullets: list[tuple[str, list[str]]] = field(default_factory=list)
    machine: str = ""
    noise: str = ""
    unpaired: bool = False     # some ratio's interval comes from quartiles only

    def lines(self) -> list[str]:
        """One line per bullet (for a terminal), then the machine and noise lines."""
        out = [f"{head}: " + "; ".join(x.rstrip(".") for x in items) + "."
               for head, items in self.bullets]
        return [*out, *(x for x in (self.machine, self.noise) if x)]


def _where(axis: str, first, last, sizes: list) -> str:
    if first == last:
        return f"{axis} = {fmt_size(first)}"
    if first == sizes[0] and last == sizes[-1]:
        return f"every measured {axis} ({fmt_size(first)}–{fmt_size(last)})"
    if first == sizes[0]:
        return f"{axis} ≤ {fmt_size(last)}"
    if last == sizes[-1]:
        return f"{axis} ≥ {fmt_size(first)}"
    return f"{fmt_size(first)} ≤ {axis} ≤ {fmt_size(last)}"


def _span(values: list[float]) -> str:
    lo, hi = min(values), max(values)
    return f"{fmt_x(lo)}" if hi / lo < 1.05 else f"{lo:.3g}–{hi:.3g}×"


def _names(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _segment_text(axis: str, seg: analysis.Segment, sizes: list) -> str:
    where = _where(axis, seg.first, seg.last, sizes)
    sts = seg.standings
    if seg.tie:
        worst = max((st.against(i) for st in sts for i in st.tied[1:] if st.against(i)),
                    key=lambda r: abs(math.log(r.value)) if r.value > 0 else 0, default=None)
        text = f"{where}: a tie between {_names(seg.tied)}"
        if worst is not None:
            gap = "the gap" if len(seg.tied) == 2 and len(sts) == 1 else "the widest gap"
            text += f" ({gap}, {analysis.fmt_ratio(worst)}, is within the noise)"
        return text
    leads = [st for st in sts if st.lead is not None]
    if not leads:
        return f"{where}: {seg.winner} (the only one measured)"
    runners = list(dict.fromkeys(st.runner for st in leads))
    weakest = min(leads, key=lambda st: st.lead.value)
    nxt = runners[0] if len(runners) == 1 else f"the next fastest ({_names(runners)})"
    text = (f"{where}: use {seg.winner}, {_span([st.lead.value for st in leads])} faster than "
            f"{nxt}")
    if len(leads) > 1:
        text += f" (smallest lead {analysis.fmt_ratio(weakest.lead)} at {axis} = " \
                f"{fmt_size(weakest.size)})"
    else:
        text += f" {analysis.fmt_interval(weakest.lead)}" \
                + ("†" if weakest.lead.method == analysis.UNPAIRED else "")
    return text


def _losses(axis: str, fav: str, sts: list[analysis.Standing]) -> str | None:
    """Where ``fav`` is clearly slower than the winner, grouped by winner."""
    by_winner: dict[str, list] = {}
    for st in sts:
        if fav in st.tied or fav not in st.points:
            continue
        by_winner.setdefault(st.winner, []).append((st.size, st.against(fav)))
    if not by_winner:
        return None
    parts = []
    for win, items in by_winner.items():
        sizes = [fmt_size(x) for x, _ in items]
        where = (", ".join(sizes) if len(sizes) <= MAX_LISTED
                 else f"{sizes[0]} … {sizes[-1]} ({len(sizes)} sizes)")
        rs = [r.value for _, r in items]
        if len(items) == 1:
            parts.append(f"at {axis} = {where} ({analysis.fmt_ratio(items[0][1])} the time "
                         f"of {win})")
        else:
            parts.append(f"at {axis} = {where} ({_span(rs)} the time of {win})")
    return f"{fav}, the fastest at most points, loses " + "; ".join(parts)


def _axis_bullets(docs: list[dict], answer: Answer) -> None:
    for dtype in analysis.dtypes_of(docs):
        per_axis = {}
        for axis in analysis.swept_axes(docs):
            by_impl = analysis.of_dtype(analysis.axis_series(docs, axis), dtype)
            sts = analysis.standings(by_impl)
            if sts:
                per_axis[axis] = sts
        fav = analysis.favoured([st for sts in per_axis.values() for st in sts])
        for axis, sts in per_axis.items():
            sizes = [st.size for st in sts]
            parts = [_segment_text(axis, seg, sizes) for seg in analysis.segments(sts)]
            loss = _losses(axis, fav, sts) if fav else None
            if loss:
                parts.append(loss)
            answer.unpaired |= any(st.lead is not None and st.lead.method == analysis.UNPAIRED
                                   for st in sts)
            answer.bullets.append((f"{axis}, {dtype}", parts))


def _loose_bullets(docs: list[dict], answer: Answer) -> None:
    for dtype, sts in analysis.loose_points(docs).items():
        items = []
        for st in sts:
            where = analysis.sizes_text(dict(zip(("n", "d", "d_h", "m"), st.size, strict=True)))
            if st.tie:
                text = f"at {where}: a tie between {_names(st.tied)}"
            elif st.lead is None:
                text = f"at {where}: only {st.winner} measured"
            else:
                text = (f"at {where}: use {st.winner}, "
                        f"{analysis.fmt_ratio(st.lead)} faster than {st.runner}")
                answer.unpaired |= st.lead.method == analysis.UNPAIRED
            items.append(text)
        answer.bullets.append((f"single points, {dtype}", items))


def _map_bullets(docs: list[dict], answer: Answer) -> None:
    items = []
    for wm in analysis.winner_maps(docs):
        wins = wm.wins()
        if not wins:
            continue
        total = sum(wins.values())
        order = sorted(wins, key=lambda k: (-wins[k], k == "tie"))
        said = ", ".join(f"{'ties' if k == 'tie' else k} in {wins[k]}" for k in order)
        items.append(f"{wm.x_axis} × {wm.y_axis} ({wm.dtype}, {total} cells): fastest {said}")
    if items:
        answer.bullets.append(("winner maps", items))


def compile_bullets(docs: list[dict]) -> list[str]:
    """Per JIT implementation and dtype: compile time, calls to pay off at the base point
    and over the sweep."""
    rows = analysis.compile_table(docs)
    out = []
    keys = list(dict.fromkeys((r["impl"], r["dtype"]) for r in rows))
    for impl, dtype in keys:
        rs = [r for r in rows if r["impl"] == impl and r["dtype"] == dtype and r["rival"]]
        if not rs:
            continue
        text = f"{impl} ({dtype}) compiles in {fmt_time(rs[0]['compile_s'])}"
        rec = analysis.coldstart(docs, impl, dtype)
        if rec is not None and rec.get("cached_first_s") is not None:
            text += (f" (with the on-disk cache warm, a new process's first call takes "
                     f"{fmt_time(rec['cached_first_s'])})")
        base = next((r for r in rs if r["base"]), None)
        if base is not None:
            where = analysis.sizes_text({k: base[k] for k in ("n", "d", "d_h", "m")})
            if base["payoff_calls"]:
                text += (f": at the base point ({where}) it pays off after "
                         f"{fmt_calls(base['payoff_calls'])} calls against {base['rival']}")
            else:
                text += (f": at the base point ({where}) it never pays off "
                         f"({base['rival']} is faster per call)")
        else:
            text += ": not measured at the base point"
        pays = [r["payoff_calls"] for r in rs if r["payoff_calls"]]
        never = len(rs) - len(pays)
        if pays:
            text += (f"; over the sweep after {min(pays):,}–{max(pays):,} calls"
                     if len(pays) > 1 else f"; over the sweep after {pays[0]:,} calls")
            text += f", never at {never} of {len(rs)} points" if never else \
                f", at every one of the {len(rs)} points"
        else:
            text += f"; it never pays off at any of the {len(rs)} points"
        out.append(text)
    return out


def thread_bullets(docs: list[dict]) -> list[str]:
    out = []
    for ts in analysis.thread_scaling(docs):
        vals = [r.value for r in ts.speedup]
        c1, c2 = ts.counts
        span = fmt_x(vals[0]) if len(vals) == 1 else f"{min(vals):.3g}–{max(vals):.3g}×"
        out.append(f"{ts.impl} ({ts.dtype}): {span} from {c1} to {c2} threads over "
                   f"{len(vals)} point{'s' if len(vals) > 1 else ''}")
    return out


def machine_line(docs: list[dict]) -> str:
    doc = docs[0]
    mach, thr = doc.get("machine") or {}, doc.get("threads") or {}
    parts = []
    cpu = mach.get("cpu_model")
    if cpu:
        parts.append(f"{cpu}" + (f", {mach['cores']} cores" if mach.get("cores") else ""))
    if mach.get("memory_bytes"):
        parts.append(f"{mach['memory_bytes'] / 2**30:.0f} GiB")
    blas = [b for b in mach.get("blas") or [] if isinstance(b, dict)]
    libs = [f"{k} {mach[k]}" for k in ("numpy", "numba") if mach.get(k)]
    if blas:
        libs.append(f"BLAS {blas[0].get('internal_api', '?')}")
    if libs:
        parts.append(", ".join(libs))
    threads = [f"{k.replace('_threads', '')} {thr[k]}" for k in ("blas_threads",
                                                                   "numba_threads")
               if isinstance(thr.get(k), int)]
    if threads:
        parts.append("threads: " + ", ".join(threads))
    peak = analysis.gemm_peak(doc, "float64")
    if peak:
        parts.append(f"GEMM peak {peak[0]:.3g} GFLOP/s (float64, {peak[1]} thread"
                     f"{'s' if peak[1] > 1 else ''})")
    if (doc.get("peak") or {}).get("triad_gbs"):
        parts.append(f"bandwidth {doc['peak']['triad_gbs']:.3g} GB/s")
    from mlpbench.harness.machine import blas_kernel_warning

    warn = blas_kernel_warning(mach)
    line = "Machine: " + "; ".join(parts) + "." if parts else ""
    return f"{line} WARNING: {warn}" if warn else line


def noise_line(docs: list[dict]) -> str:
    nz = analysis.noise(docs)
    if nz is None:
        return ""
    how = "95% interval from the raw samples" if nz.raw else \
        "half the interquartile range; the files keep no raw samples"
    text = (f"Noise floor: a point's median is known to ±{100 * nz.median_halfwidth:.2g}% "
            f"(the median over {nz.points} points; {how}); {nz.wide} point"
            f"{'s' if nz.wide != 1 else ''} above ±10%")
    if nz.paired_halfwidth is not None:
        text += f"; ratios paired by round ±{100 * nz.paired_halfwidth:.2g}%"
    if nz.canary_spread is not None:
        text += (f"; the canary workload moved by {100 * nz.canary_spread:.2g}% within a "
                 "point (IQR over median, the median over points)")
    if nz.target is not None:
        text += (f"; the ±{100 * nz.target:.2g}% precision target was not reached at "
                 f"{len(nz.missed)} point{'s' if len(nz.missed) != 1 else ''} (listed under "
                 "Machine)" if nz.missed else
                 f"; every point reached the ±{100 * nz.target:.2g}% precision target")
    return text + "."


def answer(docs: list[dict]) -> Answer:
    """The recommendation box: bullets, then the machine and noise lines."""
    every = docs
    docs = analysis.primary_docs(docs)
    out = Answer()
    _axis_bullets(docs, out)
    _loose_bullets(docs, out)
    _map_bullets(docs, out)
    threads = thread_bullets(every)
    if threads:
        out.bullets.append(("a second thread", threads))
    compiling = compile_bullets(docs)
    if compiling:
        out.bullets.append(("what compiling costs", compiling))
    out.machine = machine_line(docs)
    out.noise = noise_line(docs)
    return out
