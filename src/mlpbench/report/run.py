"""``mlpbench run``: measure the ceilings, sweep n, d and d_h, and write a full report.

The main job for a new user: a quick peak, one quick sweep per axis of every registered
implementation (one result file each), forward and backward at the base point, two small
grids (n × d_h and n × d, for the report's winner maps), cold starts of the JIT-compiled
ones, the accuracy table, then the report.
"""

from __future__ import annotations

import datetime
import functools
import json
import platform
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlpbench.atomic import write_text
from mlpbench.files import prepare_out_dir
from mlpbench.harness import schema
from mlpbench.mlp import registry

#: Sizes of each quick sweep (the other two axes stay at the base point).
QUICK_SIZES = {"n": [1, 4, 16, 64, 256, 1024, 4096], "d": [16, 64, 256, 784, 2048],
               "d_h": [16, 64, 256, 1024, 2048]}
#: Seconds a single point may take per implementation (the harness skips what it predicts
#: above this, recording the prediction).
QUICK_BUDGET_S = 5.0
#: Threads for numba and BLAS. One by default: on a machine shared with other work,
#: multithreaded OpenBLAS collapses (a 2-thread step measured 100x slower than 1 thread
#: under load); ``--threads N`` opts in to more.
DEFAULT_THREADS = 1
#: ``--tiny``: a smoke test of the whole pipeline, seconds plus numba's compile time.
TINY_BASE = {"n": 16, "d": 12, "d_h": 8, "m": 3}
TINY_SIZES = {"n": [1, 4, 16], "d": [4, 12, 24], "d_h": [4, 8, 16]}
TINY_BUDGET_S = 0.05
#: The grids of the winner maps: each pair of axes, three values of each (see grid_values).
GRID_PAIRS = (("n", "d_h"), ("n", "d"))
#: The kernel stage: a few of part 1's kernels (two exp-bound, one bandwidth-bound, a row
#: one and a reduction) over a few sizes (elements per call), each point budgeted.
KERNELS = ("sigmoid", "tanh_grad", "relu", "softmax", "sq_l2")
KERNEL_SIZES = [16, 4096, 262144, 4194304]
TINY_KERNEL_SIZES = [16, 1024]
KERNEL_BUDGET_S = 0.5
#: The non-ReLU hidden activation whose step is timed at the base point beside ReLU's.
ACTIVATION = "tanh"


def grid_values(sizes: Sequence[int], base: int) -> list[int]:
    """Three values of d or d_h for a small grid: the smallest swept, the base and the
    largest swept."""
    sizes = sorted(set(sizes))
    return sorted({sizes[0], base, sizes[-1]})


def grids(sizes: Mapping[str, Sequence[int]], base: Mapping[str, int]) -> dict[tuple, dict]:
    """``{(a, b): {a: [...], b: [...]}}`` for each pair of GRID_PAIRS swept by ``sizes``.

    n takes the smallest swept, the one nearest the geometric middle below the base, and
    the base, never more: the grid's largest cell then costs about what the sweep of d_h
    costs at its top (seconds per implementation, not a minute)."""
    out = {}
    for a, b in GRID_PAIRS:
        if a in sizes and b in sizes:
            va = sorted(set(sizes[a]))
            if a == "n":     # 1, the geometric middle below the base, the base
                below = [x for x in va if x < base[a]] or va
                mid = min(below, key=lambda x: abs(x * x - va[0] * base[a]))
                va = sorted({va[0], mid, base[a]})
            else:
                va = grid_values(va, base[a])
            out[(a, b)] = {a: va, b: grid_values(sizes[b], base[b])}
    return out


def default_out(now: datetime.datetime | None = None, host: str | None = None) -> Path:
    """``reports/<date>-<host>``, the host reduced to safe file-name characters."""
    now = now or datetime.datetime.now()
    host = re.sub(r"[^A-Za-z0-9_.-]+", "-", host or platform.node() or "host").strip("-.")
    return Path("reports") / f"{now:%Y-%m-%d}-{host or 'host'}"


@dataclass
class RunPlan:
    out: Path
    sizes: Mapping[str, Sequence[int]] = field(default_factory=lambda: dict(QUICK_SIZES))
    base: Mapping[str, int] = field(default_factory=lambda: dict(schema.BASE))
    #: Default: every registered implementation (mlp.IMPLEMENTATIONS, peers included
    #: where installed), in display order.
    implementations: Sequence[str] = field(default_factory=lambda: registry.names())
    dtypes: Sequence[str] = ("float64",)
    budget_s: float = QUICK_BUDGET_S
    threads: int | None = DEFAULT_THREADS
    peak: bool = True
    numerics: bool = True
    coldstart: bool = True
    progress: bool = True
    force: bool = False
    #: A Dask scheduler's address: the sweeps (sharded), the ceilings and the cold starts
    #: run on its machines (harness.cluster), not here.
    cluster: str | None = None
    #: The small grids of the winner maps (without the pure-Python loops, which never
    #: win and would spend the budget).
    grids: bool = True
    #: The kernel stage's sizes (None or empty: no kernel sweep; none with a cluster).
    kernel_sizes: Sequence[int] | None = field(default_factory=lambda: list(KERNEL_SIZES))
    #: The activation whose step is timed at the base point beside ReLU's (None: none).
    activation: str | None = ACTIVATION


def _here(fn: Callable, *args, **kwargs):
    return fn(*args, **kwargs)


def _stage(i: int, total: int, text: str, echo: Callable[[str], None]) -> None:
    echo(f"[{i}/{total}] {text}")


def run(plan: RunPlan, echo: Callable[[str], None] = print):
    """Run every stage of :class:`RunPlan`; return the :class:`build.Report`."""
    from mlpbench.harness.coldstart import measure_all
    from mlpbench.harness.peak import format_peak, measure_peak, merge_peaks
    from mlpbench.harness.results import load_all, write_json_atomic
    from mlpbench.harness.sweep import SweepConfig, run_sweep
    from mlpbench.report import build

    sweep, on_machine = run_sweep, _here
    if plan.cluster:
        from mlpbench.harness import cluster

        sweep = functools.partial(cluster.run_cluster_sweep, address=plan.cluster)
        on_machine = functools.partial(cluster.call_on_bench, plan.cluster)
    out = prepare_out_dir(plan.out, plan.force)
    grid_sizes = grids(plan.sizes, plan.base) if plan.grids else {}
    kernel_sizes = None if plan.cluster else plan.kernel_sizes
    total = (2 + len(plan.sizes) + bool(plan.peak) + bool(plan.numerics) + bool(plan.coldstart)
             + bool(grid_sizes) + bool(plan.activation) + bool(kernel_sizes))
    stage, started = 1, time.perf_counter()
    peak = None
    if plan.peak:
        _stage(stage, total, "measuring the ceilings (quick GEMM peak and triad bandwidth)",
               echo)
        peak = on_machine(measure_peak, quick=True)
        echo("      " + format_peak(peak).replace("\n", "\n      "))
        from mlpbench.harness.machine import blas_kernel_warning, machine_info

        if warn := blas_kernel_warning(machine_info()):
            echo(f"      WARNING: {warn}")
        stage += 1
    common = {"base": dict(plan.base), "implementations": tuple(plan.implementations),
              "dtypes": tuple(plan.dtypes), "budget_s": plan.budget_s,
              "threads": plan.threads, "quick": True}
    # One sweep per axis (the step), then forward and backward at the base point only.
    sweeps = [(f"sweeping {axis} over {', '.join(map(str, sizes))} "
               f"({', '.join(plan.implementations)})", f"results_{axis}.json",
               SweepConfig(axis=axis, sizes=list(sizes), phases=("step",), **common))
              for axis, sizes in plan.sizes.items()]
    sweeps.append(("timing forward and backward at the base point "
                   f"({', '.join(f'{k}={v}' for k, v in plan.base.items())})",
                   "results_phases.json",
                   SweepConfig(axis="grid", sizes={}, phases=("forward", "backward"), **common)))
    if plan.activation:
        sweeps.append((f"timing the step with {plan.activation} hidden units at the base point",
                       "results_activation.json",
                       SweepConfig(axis="grid", sizes={}, phases=("step",),
                                   activation=plan.activation, **common)))
    paths = []
    for text, name, cfg in sweeps:
        _stage(stage, total, text, echo)
        sweep(cfg, out / name, progress=plan.progress, peak=peak, force=plan.force)
        paths.append(out / name)
        stage += 1
    if grid_sizes:
        fast = tuple(i for i in plan.implementations if i != "loops") or \
            tuple(plan.implementations)
        _stage(stage, total, "sweeping the grids " + ", ".join(
            " × ".join(f"{a} {'/'.join(map(str, v))}" for a, v in g.items())
            for g in grid_sizes.values()) + f" ({', '.join(fast)})", echo)
        for (a, b), g in grid_sizes.items():
            name = f"results_grid_{a}_{b}.json"
            sweep(SweepConfig(axis="grid", sizes=g, phases=("step",),
                              **{**common, "implementations": fast}),
                  out / name, progress=plan.progress, peak=peak, force=plan.force)
            paths.append(out / name)
        stage += 1
    if kernel_sizes:
        paths.append(_kernel_stage(plan, kernel_sizes, out, peak, stage, total, echo))
        stage += 1
    # Implementations whose first call compiles: their compile and cached first-call
    # times are measured in new processes.
    jitted = [name for name in plan.implementations if registry.is_jit(name)]
    if plan.coldstart and jitted:
        _stage(stage, total, f"measuring compile and cached first-call times of "
               f"{', '.join(jitted)} in new processes", echo)
        phases_path = out / "results_phases.json"
        doc = load_all([phases_path])[0]
        doc["coldstart"] = on_machine(measure_all, jitted, plan.dtypes, plan.base)
        write_json_atomic(phases_path, doc)
    stage += plan.coldstart
    if peak is not None:
        # A ceiling is a best-of: measured again now that the machine is warm, and the
        # higher of the two readings kept in every result file.
        again = on_machine(measure_peak, quick=True)
        merged = merge_peaks(peak, again)
        echo(f"      ceilings measured again: GEMM float64 1 thread "
             f"{again['gemm_gflops']['float64'].get('1', 0):g} GFLOP/s (kept "
             f"{merged['gemm_gflops']['float64'].get('1', 0):g}), triad "
             f"{again['triad_gbs']:g} GB/s (kept {merged['triad_gbs']:g})")
        for path in paths:
            doc = load_all([path])[0]
            doc.pop("_path", None)
            doc["peak"] = merged
            write_json_atomic(path, doc)
    docs = load_all(paths)
    numerics, why = None, "skipped (--no-numerics)"
    if plan.numerics:
        _stage(stage, total, "computing worst ulp errors against mpmath", echo)
        numerics, why = build.numerics_for(docs)
        if numerics is not None:
            write_text(out / "numerics.json", json.dumps(numerics, indent=1) + "\n")
    stage += plan.numerics
    _stage(stage, total, "writing the report", echo)
    rep = build.build_report(docs, out, numerics, why)
    echo(f"done in {time.perf_counter() - started:.0f} s")
    return rep


def _kernel_stage(plan: RunPlan, sizes: Sequence[int], out: Path, peak, stage: int,
                  total: int, echo: Callable[[str], None]) -> Path:
    """The short kernel sweep (harness.kernel_sweep) into results_kernels.json."""
    from mlpbench.harness import kernel_sweep

    impls = [i for i in plan.implementations if i in kernel_sweep.available()] or ["numpy"]
    _stage(stage, total, f"sweeping part 1's kernels {', '.join(KERNELS)} over "
           f"{', '.join(map(str, sizes))} elements ({', '.join(impls)})", echo)
    cfg = kernel_sweep.KernelConfig(kernels=KERNELS, sizes=list(sizes), implementations=impls,
                                    dtypes=tuple(plan.dtypes), quick=True,
                                    budget_s=min(plan.budget_s, KERNEL_BUDGET_S),
                                    threads=plan.threads)
    path = out / "results_kernels.json"
    kernel_sweep.run_kernel_sweep(cfg, path, progress=plan.progress, peak=peak,
                                  force=plan.force)
    return path


def main_echo(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
