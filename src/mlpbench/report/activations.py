"""The hidden-activations part of a report: a step with tanh, sigmoid or softplus hidden
units against the same step with ReLU (docs/math.md#hidden-activations).

Result files whose sweep has another activation than ReLU (``bench --activation``,
``mlpbench run``'s activation stage) are set apart by :func:`split` and shown here, so
that the scaling, recommendation and winner sections keep comparing ReLU networks only.
Each of their points is set beside the ReLU point of the same implementation, dtype,
phase and sizes from the other files, with the ratio of the medians (the two come from
different sweeps: unpaired).
"""

from __future__ import annotations

from collections.abc import Sequence

from mlpbench.report import analysis
from mlpbench.report.document import Section, Table

RELU = "relu"


def activation_of(doc: dict) -> str:
    return (doc.get("sweep") or {}).get("activation") or RELU


def split(docs: Sequence[dict]) -> tuple[list[dict], list[dict]]:
    """(ReLU documents, documents of other activations). When every document has another
    activation, they are all returned as the first list: the report shows them as it
    shows any sweep."""
    relu = [d for d in docs if activation_of(d) == RELU]
    other = [d for d in docs if activation_of(d) != RELU]
    return (relu, other) if relu else (list(docs), [])


def _key(p: dict) -> tuple:
    return (p["impl"], p["dtype"], p["phase"], p["n"], p["d"], p["d_h"], p["m"],
            float(p.get("l1", 0.0)), float(p.get("l2", 0.0)))


def pairs(relu_docs: Sequence[dict], act_docs: Sequence[dict]) -> list[dict]:
    """One row per timed point of ``act_docs`` that has a timed ReLU twin: ``impl, dtype,
    phase, activation, sizes, relu_s, act_s, ratio`` (act_s / relu_s)."""
    relu = {}
    for doc in relu_docs:
        for p in doc["points"]:
            if p["status"] == "ok" and (p.get("activation") or RELU) == RELU:
                relu[_key(p)] = p
    rows = []
    for doc in act_docs:
        for p in doc["points"]:
            twin = relu.get(_key(p))
            if p["status"] != "ok" or twin is None:
                continue
            rows.append({"impl": p["impl"], "dtype": p["dtype"], "phase": p["phase"],
                         "activation": p.get("activation") or activation_of(doc),
                         "sizes": {k: p[k] for k in ("n", "d", "d_h", "m")},
                         "relu_s": twin["median_s"], "act_s": p["median_s"],
                         "ratio": p["median_s"] / twin["median_s"]})
    rows.sort(key=lambda r: (r["dtype"], r["activation"], analysis.impl_sort_key(r["impl"])))
    return rows


def summary(rows: list[dict]) -> list[str]:
    """A sentence per (activation, dtype, sizes): each implementation's ratio to ReLU."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["activation"], r["dtype"], r["phase"],
                           tuple(r["sizes"].items())), []).append(r)
    lines = []
    for (act, dtype, phase, sizes), rs in groups.items():
        where = analysis.sizes_text(dict(sizes))
        cells = ", ".join(f"{r['impl']} {analysis.fmt_x(r['ratio'])}" for r in rs)
        lines.append(f"A {phase} with {act} hidden units ({dtype}, {where}) takes, in "
                     f"time of the ReLU {phase}: {cells}.")
    return lines


def section(relu_docs: Sequence[dict], act_docs: Sequence[dict], rep) -> Section:
    """The report section comparing ``act_docs`` with their ReLU twins in ``relu_docs``."""
    title = "Hidden activations against ReLU"
    rows = pairs(relu_docs, act_docs)
    if not rows:
        why = "no point of another activation has a ReLU twin (same implementation, dtype, " \
              "phase and sizes) in the other files"
        rep.omitted[title] = why
        return Section(title, omitted=why)
    lines = summary(rows)
    rep.summary += lines
    table = Table("Step time by activation", ["impl", "dtype", "phase", "sizes", "activation",
                                             "ReLU", "activation's", "ratio"],
                  [[r["impl"], r["dtype"], r["phase"], analysis.sizes_text(r["sizes"]),
                    r["activation"], analysis.fmt_time(r["relu_s"]),
                    analysis.fmt_time(r["act_s"]), analysis.fmt_x(r["ratio"])] for r in rows],
                  note="ratio: the activation's median time over ReLU's, from two sweeps "
                       "(unpaired).")
    return Section(title, [
        "The same step with other hidden units (docs/math.md#hidden-activations): the "
        "products do not change; the element-wise work grows by an exp (and a log1p for "
        "softplus) per hidden unit and example, forward and backward."],
        bullets=lines, tables=[table])
