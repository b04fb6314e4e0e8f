"""Epoch timing: one epoch of minibatch SGD for each implementation and batch size K.

A benchmark of training rather than of one step: :func:`time_epochs` times
:func:`mlpbench.mlp.time_epoch` (steps only, the compiling first step apart) within a
budget per (implementation, K), extrapolating the epochs that would exceed it;
:func:`write_tables` writes the rows as CSV, Markdown and JSON. ``mlpbench train
--time-epochs`` runs it on digits and draws ``epoch_times.png``.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

from mlpbench.checks import check_positive, check_positive_int
from mlpbench.files import write_csv, write_json, write_text

__all__ = ["BATCHES", "BUDGET_S", "FILES", "REPEATS", "markdown", "thread_info", "time_epochs",
           "write_tables"]

#: Batch sizes timed, the default budget per (implementation, K), and the most epochs
#: measured per cell when they fit in the budget.
BATCHES = (1, 10, 100)
BUDGET_S = 5.0
REPEATS = 3

#: The files :func:`write_tables` writes (and ``epoch_times.png``, drawn by the command).
FILES = ("epoch_times.csv", "epoch_times.md", "epoch_times.json")


def time_epochs(implementations: Sequence[str], p0, X, y, *, batches: Sequence[int] = BATCHES,
                budget_s: float = BUDGET_S, repeats: int = REPEATS, lr: float = 0.1,
                l1: float = 0.0, l2: float = 0.0, seed: int = 0,
                progress: bool = True) -> list[dict]:
    """One row per (implementation, K): the median of up to ``repeats`` epochs that fit in
    ``budget_s``, or one epoch extrapolated from its first steps when it would not.

    Row keys: impl, batch, steps, seconds, min_s, max_s, us_per_example, extrapolated,
    measured_steps, first_step_s, note.
    """
    from tqdm import tqdm

    from mlpbench.mlp.train import time_epoch

    budget_s = check_positive("budget_s", budget_s)
    repeats = check_positive_int("repeats", repeats)
    batches = [check_positive_int("batch size", k) for k in batches]
    n_train = X.shape[0]
    rows = []
    cells = [(impl, k) for impl in implementations for k in batches]
    with tqdm(cells, unit="cell", disable=None if progress else True, file=sys.stderr) as bar:
        for impl_name, k in bar:
            bar.set_postfix(impl=impl_name, K=k)
            kwargs = {"batch_size": k, "lr": lr, "l1": l1, "l2": l2, "seed": seed}
            first = time_epoch(impl_name, p0, X, y, budget_s=budget_s, **kwargs)
            samples = [first.seconds]
            spent = first.measured_seconds
            if not first.extrapolated:
                while len(samples) < repeats and spent + first.seconds <= budget_s:
                    t = time_epoch(impl_name, p0, X, y, **kwargs)
                    samples.append(t.seconds)
                    spent += t.seconds
            if first.extrapolated:
                note = (f"extrapolated from {first.measured_steps} of {first.steps} steps "
                        f"({first.measured_seconds:.3g} s): over the {budget_s:g} s budget")
            else:
                note = (f"median of {len(samples)} epochs" if len(samples) > 1
                        else "one epoch measured")
            median = statistics.median(samples)
            rows.append({"impl": impl_name, "batch": k, "steps": first.steps,
                         "seconds": median, "min_s": min(samples), "max_s": max(samples),
                         "us_per_example": 1e6 * median / n_train,
                         "extrapolated": first.extrapolated,
                         "measured_steps": first.measured_steps if first.extrapolated
                         else first.steps * len(samples),
                         "first_step_s": first.first_step_s, "note": note})
    return rows


def markdown(rows: Sequence[dict], where: str, budget_s: float) -> str:
    """The rows as a Markdown table, ``where`` (data, sizes, threads) above it."""
    lines = [f"One epoch of minibatch SGD ({where}).", "",
             "| impl | K | steps | s / epoch | µs / example | first step (s) | how |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        approx = "~" if r["extrapolated"] else ""
        lines.append(f"| {r['impl']} | {r['batch']} | {r['steps']} | {approx}{r['seconds']:.4g} "
                     f"| {approx}{r['us_per_example']:.4g} | {r['first_step_s']:.3g} "
                     f"| {r['note']} |")
    lines += ["", f"Steps only (shuffle, loss_and_grad, update), no evaluation; budget "
                  f"{budget_s:g} s per row. The first step (numba compiles there) is timed "
                  f"apart. ~ marks an extrapolation."]
    return "\n".join(lines) + "\n"


def thread_info() -> str:
    """numba's and BLAS's thread counts, in words, for the tables' caption."""
    import numba
    from threadpoolctl import threadpool_info

    blas = [f"{i.get('internal_api')} {i.get('num_threads')} thread(s)"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    from mlpbench.harness.machine import thread_settings

    return (f"numba {numba.get_num_threads()} thread(s), layer "
            f"{thread_settings()['threading_layer']}; BLAS: {', '.join(blas) or 'unknown'}")


def write_tables(out: Path, rows: Sequence[dict], where: str, budget_s: float) -> list[str]:
    """Write :data:`FILES` into the folder ``out``; return their names."""
    out = Path(out)
    header = list(rows[0])
    write_csv(out / "epoch_times.csv", ([r[k] for k in header] for r in rows), header)
    write_text(out / "epoch_times.md", markdown(rows, where, budget_s))
    write_json(out / "epoch_times.json",
               {"schema": "mlpbench.epoch-times", "schema_version": 1, "setup": where,
                "budget_s": budget_s, "rows": list(rows)}, indent=2)
    return list(FILES)
