"""Plain-text tables of a result document: time per call and speed-up over a baseline.

``speedup_rows`` gives the numbers (one row per point, one cell per
implementation); ``speedup_table``, ``summary_table`` (geometric means, worst
ratio, % of the GEMM peak) and ``cold_table`` format them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from mlpbench.harness import schema

POINT_COLUMNS = ("dtype", "phase", "n", "d", "d_h", "m")


def _implementations(doc: dict) -> list[str]:
    names = list(doc.get("sweep", {}).get("implementations") or [])
    for p in doc["points"]:
        if p["impl"] not in names:
            names.append(p["impl"])
    return names


def speedup_rows(doc: dict, baseline: str = "numpy") -> list[dict[str, Any]]:
    """One row per (dtype, phase, n, d, d_h, m) in file order.

    Each row holds the point's coordinates and ``cells``: for each implementation
    a dict with ``status``, ``median_s``, ``iqr_s``, ``gflops``, ``high_spread`` and
    ``speedup`` (baseline median / its median; None when either is missing).
    """
    rows: dict[tuple, dict[str, Any]] = {}
    for p in doc["points"]:
        key = tuple(p[c] for c in POINT_COLUMNS) + (p.get("l1", 0.0), p.get("l2", 0.0))
        row = rows.setdefault(key, {**{c: p[c] for c in POINT_COLUMNS}, "cells": {}})
        row["cells"][p["impl"]] = {k: p.get(k) for k in (
            "status", "median_s", "iqr_s", "gflops", "high_spread", "reason", "cold_s")}
    for row in rows.values():
        base = row["cells"].get(baseline, {})
        base_s = base.get("median_s") if base.get("status") == "ok" else None
        for cell in row["cells"].values():
            own = cell["median_s"] if cell["status"] == "ok" else None
            cell["speedup"] = base_s / own if base_s and own else None
    return list(rows.values())


def format_us(seconds: float | None) -> str:
    """Seconds as microseconds with 3-4 significant digits."""
    if seconds is None:
        return "-"
    us = seconds * 1e6
    return f"{us:.3g}" if us < 100 else f"{us:,.0f}"


def _render(header: Sequence[str], body: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(str(h).rjust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).rjust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    return "\n".join(lines)


def speedup_table(doc: dict, baseline: str = "numpy") -> str:
    """Median µs per call for each implementation and its speed-up over ``baseline``.

    ``x2.5`` means 2.5 times faster than the baseline; ``*`` marks a high spread
    (IQR over 10% of the median); ``skip``/``FAIL`` are points not timed. Lines under
    the table say so (:func:`speedup_legend`).
    """
    schema.validate(doc)
    names = _implementations(doc)
    varying = [c for c in POINT_COLUMNS
               if len({p[c] for p in doc["points"]}) > 1 or c in ("n", "d", "d_h")]
    header = [*varying, *(f"{n} us" for n in names),
              *(f"{n} speed-up" for n in names if n != baseline)]
    body = []
    for row in speedup_rows(doc, baseline):
        cells = row["cells"]
        times, ratios = [], []
        for n in names:
            c = cells.get(n)
            if c is None:
                times.append("")
            elif c["status"] == "ok":
                times.append(format_us(c["median_s"]) + ("*" if c["high_spread"] else ""))
            else:
                times.append("skip" if c["status"] == "skipped" else "FAIL")
            if n != baseline:
                s = c and c["speedup"]
                ratios.append(f"x{s:.3g}" if s else "-")
        body.append([*(row[c] for c in varying), *times, *ratios])
    if not body:
        return "(no points)"
    return _render(header, body) + "\n" + speedup_legend(baseline)


def speedup_legend(baseline: str = "numpy") -> str:
    """What the marks and columns of :func:`speedup_table` mean."""
    return (f"us: median microseconds per call; *: spread (IQR) above 10% of the median, "
            f"read with care; skip: not timed (predicted over the budget, or too big for "
            f"memory); FAIL: failed (see the result file).\n"
            f"speed-up = {baseline}'s time / the implementation's (x2: twice as fast as "
            f"{baseline}, x0.5: half as fast; -: not both timed).")


def cold_table(doc: dict) -> str:
    """The first (cold) call of each implementation per dtype and phase: compile time for numba."""
    first: dict[tuple, dict] = {}
    for p in doc["points"]:
        key = (p["impl"], p["dtype"], p["phase"])
        if p["cold_s"] is not None and key not in first:
            first[key] = p
    body = [[impl, dtype, phase, f"{p['n']}x{p['d']}x{p['d_h']}", f"{p['cold_s']:.3f}",
             format_us(p["median_s"])]
            for (impl, dtype, phase), p in first.items()]
    if not body:
        return "(no cold calls)"
    return _render(["impl", "dtype", "phase", "first point n x d x d_h", "cold s", "warm us"],
                   body)


def peak_gflops(doc: dict, dtype: str) -> float | None:
    """The measured GEMM peak for ``dtype`` at the sweep's BLAS thread count, if recorded.

    Falls back to the largest thread count measured that does not exceed it.
    """
    peak = doc.get("peak") or {}
    by_threads = (peak.get("gemm_gflops") or {}).get(dtype) or {}
    threads = (doc.get("threads") or {}).get("blas_threads") or 1
    usable = [int(t) for t in by_threads if int(t) <= threads]
    return float(by_threads[str(max(usable))]) if usable else None


def summary_rows(doc: dict, baseline: str = "numpy") -> list[dict[str, Any]]:
    """Per (implementation, dtype, phase): how it compares with ``baseline``.

    ``geomean`` is the geometric mean of the speed-ups over the points where both
    were timed, ``worst``/``best`` the extreme speed-ups, ``points`` their count;
    ``peak_pct`` is the implementation's GFLOP/s at its largest timed point as a
    percentage of the GEMM peak (None without a peak), with ``peak_at`` that point.
    """
    groups: dict[tuple, dict[str, Any]] = {}
    for row in speedup_rows(doc, baseline):
        for impl, cell in row["cells"].items():
            g = groups.setdefault((impl, row["dtype"], row["phase"]), {
                "impl": impl, "dtype": row["dtype"], "phase": row["phase"],
                "speedups": [], "largest": None})
            if cell["speedup"]:
                g["speedups"].append(cell["speedup"])
            if cell["status"] == "ok" and cell["gflops"]:
                flops = schema.flops(row["phase"], row["n"], row["d"], row["d_h"], row["m"])
                if g["largest"] is None or flops > g["largest"][0]:
                    g["largest"] = (flops, cell["gflops"], row)
    out = []
    for g in groups.values():
        sp = g.pop("speedups")
        largest = g.pop("largest")
        peak = peak_gflops(doc, g["dtype"])
        g.update(points=len(sp),
                 geomean=math.exp(sum(map(math.log, sp)) / len(sp)) if sp else None,
                 worst=min(sp) if sp else None, best=max(sp) if sp else None,
                 peak_pct=100 * largest[1] / peak if largest and peak else None,
                 peak_at=(f"n={largest[2]['n']} d={largest[2]['d']} d_h={largest[2]['d_h']}"
                          if largest else None))
        out.append(g)
    return out


def summary_table(doc: dict, baseline: str = "numpy") -> str:
    """Geometric-mean speed-up over ``baseline``, worst and best ratio, and % of GEMM peak."""
    schema.validate(doc)
    rows = summary_rows(doc, baseline)
    if not rows:
        return "(no points)"

    def ratio(v):
        return f"x{v:.3g}" if v else "-"

    body = [[r["impl"], r["dtype"], r["phase"], r["points"], ratio(r["geomean"]),
             ratio(r["worst"]), ratio(r["best"]),
             f"{r['peak_pct']:.1f}%" if r["peak_pct"] is not None else "-",
             r["peak_at"] or "-"] for r in rows]
    return _render(["impl", "dtype", "phase", "points", f"geomean speed-up vs {baseline}",
                    "worst", "best", "% GEMM peak", "at (largest timed point)"], body)


# --- numba against every other implementation ------------------------------------------

#: A point of the ratio table: (dtype, phase, n, d, d_h, m, l1, l2).
_RATIO_KEY = ("dtype", "phase", "n", "d", "d_h", "m", "l1", "l2")
#: What a verdict of stats.verdict on time_other / time_subject says about the subject.
_VERDICT = {"slower": "faster", "faster": "slower", "indistinguishable": "tie"}


def _threads_of(doc: dict) -> int | None:
    threads = doc.get("threads") or {}
    count = threads.get("numba_threads") or threads.get("blas_threads")
    if count is None:
        count = (doc.get("sweep") or {}).get("threads")
    return int(count) if count is not None else None


def _pair(subject: dict, other: dict):
    """time_other / time_subject, its 95% interval, and the subject's verdict."""
    from mlpbench.harness import stats

    value = other["median_s"] / subject["median_s"]
    if subject.get("times_s") and other.get("times_s"):
        est = stats.paired_ratio(other["times_s"], other["rounds"], subject["times_s"],
                                 subject["rounds"])
        if est.count:
            return est.value, est.lo, est.hi, _VERDICT[stats.verdict(est)]
    # No raw samples (an older file): the ratio of medians, judged by the minimum effect.
    if value >= 1 + stats.MIN_EFFECT:
        verdict = "faster"
    elif value <= 1 / (1 + stats.MIN_EFFECT):
        verdict = "slower"
    else:
        verdict = "tie"
    return value, None, None, verdict


def _bound(subject: dict) -> dict | None:
    """time_subject / time of the memory bound timed in the same rounds (``bound_s``,
    harness.canary.make_stream_bound), with its paired 95% interval; None where the
    point has no bound."""
    from mlpbench.harness import stats

    if not subject.get("bound_s") or not subject.get("times_s"):
        return None
    timed = [(b, r) for b, r in zip(subject["bound_s"], subject["rounds"], strict=True)
             if b is not None]
    est = stats.paired_ratio(subject["times_s"], subject["rounds"], [b for b, _ in timed],
                             [r for _, r in timed])
    if not est.count:
        return None
    return {"ratio": est.value, "lo": est.lo, "hi": est.hi}


def ratio_rows(docs: Sequence[dict], subject: str = "numba") -> list[dict[str, Any]]:
    """``subject`` against every other implementation at every point of ``docs``.

    One row per (thread count, dtype, phase, n, d, d_h, m, l1, l2) where ``subject``
    was timed: ``threads``, the point's coordinates, ``subject_s`` (its median) and
    ``others``: {impl: {"ratio", "lo", "hi", "verdict", "median_s"}} for every other
    implementation timed there, ``ratio`` = time_other / time_subject (> 1: the subject
    is faster), with the paired 95% interval from the raw samples of the rounds both
    were timed in (``stats.paired_ratio``; None without raw samples) and the subject's
    verdict ``faster`` / ``slower`` / ``tie`` (``stats.verdict``: the whole interval
    beyond 1 and at least ``stats.MIN_EFFECT`` away); ``bound``: the subject's time over
    its point's memory bound (:func:`_bound`), or None. A point found in several files
    (the base point of an n, a d and a d_h sweep) is taken from the first only, so
    that pairs never cross files.
    """
    rows: dict[tuple, dict[str, Any]] = {}
    for doc in docs:
        threads = _threads_of(doc)
        by_key: dict[tuple, dict[str, dict]] = {}
        for p in doc["points"]:
            key = (threads, *(p.get(c, 0.0) for c in _RATIO_KEY))
            by_key.setdefault(key, {})[p["impl"]] = p
        for key, impls in by_key.items():
            own = impls.get(subject)
            if key in rows or own is None or own["status"] != "ok" or not own["median_s"]:
                continue
            others = {}
            for name, p in impls.items():
                if name == subject or p["status"] != "ok" or not p["median_s"]:
                    continue
                value, lo, hi, verdict = _pair(own, p)
                others[name] = {"ratio": value, "lo": lo, "hi": hi, "verdict": verdict,
                                "median_s": p["median_s"], "inputs": p.get("inputs")}
            if others:
                rows[key] = {"threads": threads, **dict(zip(_RATIO_KEY, key[1:], strict=True)),
                             "subject": subject, "subject_s": own["median_s"],
                             "others": others, "bound": _bound(own)}
    return list(rows.values())


def _point_label(row: dict, axes: tuple[str, ...] = ()) -> str:
    """The point by ``axes`` (the sizes its table varies), else by the sizes that differ
    from the base point (``n=1``, ``d_h=16``), the base point itself by its n."""
    parts = [f"{c}={row[c]}" for c in schema.SIZE_KEYS
             if (c in axes if axes else row[c] != schema.BASE[c])]
    parts += [f"{c}={row[c]:g}" for c in ("l1", "l2") if row[c]]
    return " ".join(parts) or f"n={row['n']}"


#: The ratio table's column of the subject's time over its memory bound.
BOUND_COLUMN = "x copy W1"


def _bound_text(cell: dict | None) -> str:
    if cell is None:
        return ""
    return f"{cell['ratio']:.2f} [{cell['lo']:.2f},{cell['hi']:.2f}]"


def _ratio_text(cell: dict | None) -> str:
    if cell is None:
        return ""
    mark = {"faster": "+", "slower": "-", "tie": "="}[cell["verdict"]]
    if cell["lo"] is None:
        return f"{cell['ratio']:.2f} {mark}"
    return f"{cell['ratio']:.2f} [{cell['lo']:.2f},{cell['hi']:.2f}] {mark}"


def ratio_summary(rows: Sequence[dict]) -> dict[str, Any]:
    """Where the subject loses to the best other: ``slower`` (points where the fastest
    other implementation beats it beyond the noise), ``points``, and ``worst``: the
    row, the other and ``times`` = time_subject / time_best_other, largest over the
    points where the fastest other is faster at all (None if it never is)."""
    slower, worst = 0, None
    for row in rows:
        name, cell = max(row["others"].items(), key=lambda kv: -kv[1]["median_s"])
        if cell["verdict"] == "slower":
            slower += 1
        times = 1.0 / cell["ratio"]
        if times > 1.0 and (worst is None or times > worst["times"]):
            worst = {"times": times, "row": row, "other": name}
    return {"slower": slower, "points": len(rows), "worst": worst}


def ratio_table(docs: Sequence[dict], subject: str = "numba") -> str:
    """Tables of time_other / time_subject at every point, one per (thread count, dtype,
    phase): ``1.13 [1.10,1.16] +`` means the other takes 1.13× the subject's time, with
    its paired 95% interval; ``+`` the subject is faster beyond the noise, ``-`` slower,
    ``=`` a tie. Each table ends with the line 'SUBJECT slower than the best other at K
    of N points, worst X× (point, vs which)', and a last line sums up every table."""
    for doc in docs:
        schema.validate(doc)
    rows = ratio_rows(docs, subject)
    if not rows:
        return f"(no point where {subject} and another implementation were both timed)"
    order = {n: i for i, n in enumerate(
        dict.fromkeys(n for doc in docs for n in _implementations(doc)))}
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["threads"], row["dtype"], row["phase"]), []).append(row)
    out = []
    for (threads, dtype, phase), group in sorted(
            groups.items(), key=lambda kv: (kv[0][0] or 0, kv[0][1], kv[0][2])):
        names = sorted({n for r in group for n in r["others"]}, key=lambda n: order.get(n, 99))
        bounded = any(r.get("bound") for r in group)
        header = ["point", f"{subject} us", *names, *([BOUND_COLUMN] if bounded else [])]
        axes = tuple(c for c in schema.SIZE_KEYS if len({r[c] for r in group}) > 1)
        body = [[_point_label(r, axes), format_us(r["subject_s"]),
                 *(_ratio_text(r["others"].get(n)) for n in names),
                 *([_bound_text(r.get("bound"))] if bounded else [])]
                for r in sorted(group, key=lambda r: (r["n"] * r["d"] * r["d_h"], r["n"],
                                                      r["d"], r["d_h"]))]
        title = (f"{threads if threads is not None else '?'} thread(s), {dtype}, {phase}: "
                 f"time of each / time of {subject} (> 1: {subject} faster), paired 95% "
                 "interval; + faster, - slower, = tie")
        out += [title, _render(header, body), _summary_line(subject, ratio_summary(group))]
        if bounded:
            out.append(f"{BOUND_COLUMN}: {subject}'s time / the time of one copy of W1 "
                       "into an array of gW1's shape (W1 read, gW1 written: the memory "
                       "bound of a point with few examples), timed in the same rounds; "
                       "paired 95% interval")
        out.append("")
    out.append("all: " + _summary_line(subject, ratio_summary(rows), with_group=True))
    return "\n".join(out)


def _summary_line(subject: str, summary: dict, with_group: bool = False) -> str:
    text = (f"{subject} slower than the best other at {summary['slower']} of "
            f"{summary['points']} points")
    worst = summary["worst"]
    if worst is None:
        return text + "; never behind the best other"
    row = worst["row"]
    where = _point_label(row)
    if with_group:
        where = f"{row['threads']} thread(s) {row['dtype']} {where}"
    return text + f", worst {worst['times']:.2f}x ({where}, vs {worst['other']})"
