"""``mlpbench bench``: time the implementations over a sweep of sizes, or print the tables
of existing result files (``--table``). The sweep itself is :func:`harness.sweep.run_sweep`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from mlpbench.commands import common
from mlpbench.errors import UsageError

GRID = "grid"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bench", help="time the implementations over a sweep of sizes",
        description="Time the implementations over a range of n, d or d_h (or a grid) and "
                    "write one JSON result file. Each implementation is checked against "
                    "numpy before it is timed; points predicted to exceed the budget are "
                    "skipped. Exit status 1 if an implementation failed that check.")
    p.add_argument("--vary", default="n", metavar="AXIS",
                   help="axis to sweep: n, d, d_h, or grid (default: n)")
    common.add_int_list(p, "--sizes",
                        help=f"sizes of the swept axis, {common.LIST_FORMS}, e.g. 1,16,256 "
                             "(default: a built-in list)")
    for axis, flag in (("n", "--n"), ("d", "--d"), ("d_h", "--d-h")):
        common.add_int_list(p, flag, dest=axis, metavar="N",
                            help=f"fixed {axis} (default: base value); with --vary grid, "
                                 "a list of sizes")
    p.add_argument("--m", type=int, default=10, help="number of classes (default: 10)")
    common.add_impl(p)
    common.add_dtypes(p)
    common.add_activation(p)
    p.add_argument("--phase", action=common.ListAction, metavar="LIST", default=None,
                   help=f"forward, backward, step (= loss_and_grad), {common.LIST_FORMS} "
                        "(default: step)")
    common.add_threads(p, default=None, default_text="1, steady on a shared machine",
                       several=True)
    p.add_argument("--l1", type=float, default=0.0, help="L1 penalty (default: 0, off)")
    p.add_argument("--l2", type=float, default=0.0, help="L2 penalty (default: 0, off)")
    p.add_argument("--budget", type=float, metavar="SECONDS",
                   help="time allowed per implementation and point (default: 20, quick: 5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reference", metavar="NAME", default="numpy",
                   help="implementation the in-run ratios and verdicts are against "
                        "(default: numpy; the correctness gate is always numpy)")
    p.add_argument("--precision", type=float, default=0.03, metavar="FRACTION",
                   help="sample each point until the 95%% intervals of its median and of "
                        "its ratio to the reference are within this relative half-width, "
                        "or its budget is spent (default: 0.03, i.e. ±3%%)")
    p.add_argument("--passes", type=int, default=None, metavar="N",
                   help="time every point in N passes over the whole sweep, on fresh "
                        "inputs each, its budget shared among them, so that a burst of "
                        "load weighs on every point a little rather than on one point "
                        "entirely (default: 3)")
    p.add_argument("--processes", type=int, default=None, metavar="N",
                   help="spread the passes over N fresh Python processes, one after the "
                        "other (pyperf's worker processes), so that what one process "
                        "draws once (where its arrays and code sit in memory, its core) "
                        "varies between passes and the intervals see it; raises "
                        "--passes to N if fewer (default: 1)")
    p.add_argument("--settle", type=float, default=None, metavar="SECONDS",
                   help="warm each implementation's turn up for this long (calls not "
                        "kept) before its sample, so that the previous library's idle "
                        "threads (OpenBLAS spins ~0.1 s after a call) are off the cores; "
                        "not counted in the budget (default: 0.15 on more than one thread, "
                        "0 on one: one warm-up call)")
    p.add_argument("--peer-inputs", choices=("resident", "numpy"), default="resident",
                   help="how the peers (PyTorch, JAX) get their inputs: resident = "
                        "converted to their own tensors once per point, outside the timed "
                        "call, as their users run them; numpy = NumPy arrays at every "
                        "call, the conversion timed (default: resident)")
    p.add_argument("--quick", action="store_true",
                   help="fewer sizes, fewer samples, smaller budget (about a minute)")
    common.add_out_file(p, help="result file (default: results/bench-AXIS-TIME.json)",
                        force_help="overwrite an existing result file")
    p.add_argument("--resume", action="store_true",
                   help="continue the sweep in FILE, keeping its finished points")
    p.add_argument("--peak", type=Path, metavar="FILE",
                   help="copy the ceilings measured by `mlpbench peak` into the file")
    p.add_argument("--speedup", action="store_true",
                   help="after the sweep, print its tables (as --table does)")
    p.add_argument("--table", type=Path, nargs="+", metavar="FILE",
                   help="print the tables of existing result files (times, speed-ups "
                        "over numpy, geometric means, %% of GEMM peak), then, over all of "
                        "them, numba's ratio to every other implementation at every point "
                        "(paired 95%% intervals, verdicts, per thread count and dtype) and "
                        "exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_cluster(p)
    from mlpbench.commands import kernels_bench

    kernels_bench.add_options(p)
    p.set_defaults(func=run)


def add_cluster(p, modes: bool = True) -> None:
    """``--cluster ADDRESS`` (and ``--shard`` / ``--every-machine``): the sweep on a Dask
    cluster (harness.cluster, docs/cluster.md)."""
    p.add_argument("--cluster", metavar="ADDRESS",
                   help="run the sweep on the Dask scheduler at ADDRESS (tcp://HOST:8786): "
                        "one size per task, on workers started with --resources bench=1 "
                        "(one per machine); needs pip install -e '.[cluster]'")
    if modes:
        g = p.add_mutually_exclusive_group()
        g.add_argument("--shard", dest="cluster_mode", action="store_const", const="shard",
                       help="with --cluster: identical machines share one sweep and one "
                            "file (refused if their CPU, memory or libraries differ); the "
                            "default")
        g.add_argument("--every-machine", dest="cluster_mode", action="store_const",
                       const="every-machine",
                       help="with --cluster: every machine runs the whole sweep into its own "
                            "file, FILE.stem.MACHINE.json (or DIR/MACHINE.json)")


def thread_counts(args) -> list:
    """The thread counts asked for: ``[None]`` (the default) or the ``--threads`` list."""
    value = args.threads
    return list(value) if isinstance(value, list) else [value]


def sweep_config(args, threads=None):
    """The :class:`harness.sweep.SweepConfig` the options describe (not yet validated);
    ``threads`` is one of :func:`thread_counts` (default: the first)."""
    if threads is None:
        threads = thread_counts(args)[0]
    from mlpbench.harness.schema import BASE
    from mlpbench.harness.sweep import SweepConfig

    base = dict(BASE, m=args.m)
    grid = {}
    for axis in ("n", "d", "d_h"):
        flag = "--" + axis.replace("_", "-")
        values = getattr(args, axis)
        if values is None:
            continue
        if args.vary == GRID:
            grid[axis] = values
        elif axis == args.vary:
            raise UsageError(f"{flag} fixes {axis}, which --vary {axis} sweeps; "
                             "give its sizes with --sizes")
        elif len(values) != 1:
            raise UsageError(f"{flag} takes one value unless --vary grid")
        else:
            base[axis] = values[0]
    if args.vary == GRID:
        if args.sizes is not None:
            raise UsageError("--vary grid takes its sizes from --n, --d and --d-h, not --sizes")
        sizes = grid or None
    else:
        sizes = args.sizes
    return SweepConfig(axis=args.vary, sizes=sizes, base=base,
                       implementations=common.implementations(args.impl),
                       dtypes=tuple(args.dtype or ["float64"]),
                       phases=tuple(args.phase or ["step"]), l1=args.l1, l2=args.l2,
                       budget_s=args.budget, threads=common.resolve_threads(threads),
                       seed=args.seed, quick=args.quick, reference=args.reference,
                       precision=args.precision, activation=args.activation or "relu",
                       peer_inputs=getattr(args, "peer_inputs", "resident"),
                       settle_s=getattr(args, "settle", None),
                       **_passes(args))


def _passes(args) -> dict:
    """``--passes`` and ``--processes`` as SweepConfig fields (those given); more
    processes than the default passes raise the passes to one per process."""
    from mlpbench.harness.config import DEFAULT_PASSES

    passes, processes = getattr(args, "passes", None), getattr(args, "processes", None)
    out = {} if processes is None else {"processes": processes}
    if passes is not None:
        out["passes"] = passes
    elif isinstance(processes, int) and processes > DEFAULT_PASSES:
        out["passes"] = processes
    return out


def run(args) -> int:
    from mlpbench.harness.peak import load_peak
    from mlpbench.harness.results import load_results
    from mlpbench.harness.sweep import run_sweep, validate_config

    if args.table is not None:
        from mlpbench.harness.tables import ratio_table

        docs = []
        for i, path in enumerate(args.table):
            print(f"{'' if i == 0 else chr(10)}== {path}")
            doc = load_results(path, need_points=True)
            if doc.get("kind") == "kernels":  # bench --kernels: GB/s at the largest size
                from mlpbench.harness.kernel_sweep import summary_lines

                print("\n".join(summary_lines(doc)))
                continue
            docs.append(doc)
            print_tables(docs[-1])
        if docs:
            print(f"\n== numba against every other implementation"
                  f"{', all files' if len(docs) > 1 else ''}")
            print(ratio_table(docs))
        return 0
    if getattr(args, "kernels", None) is not None:
        from mlpbench.commands import kernels_bench

        return kernels_bench.run(args)
    if args.resume and args.force:
        raise UsageError("--resume and --force exclude each other")
    if args.resume and args.out is None:
        raise UsageError("--resume needs -o FILE, the result file to continue")
    if getattr(args, "cluster_mode", None) and args.cluster is None:
        raise UsageError(f"--{args.cluster_mode} needs --cluster ADDRESS")
    if args.cluster is not None:
        return _run_on_cluster(args)
    counts = thread_counts(args)
    configs = [validate_config(sweep_config(args, t)) for t in counts]
    peak = load_peak(args.peak) if args.peak is not None else None
    base = args.out or Path("results") / (
        f"bench-{configs[0].axis}-{time.strftime('%Y%m%d-%H%M%S')}.json")
    failed = 0
    for t, cfg in zip(counts, configs, strict=True):
        _warn_if_busy(cfg.threads)
        out = base if len(counts) == 1 else base.with_name(f"{base.stem}.t{t}{base.suffix}")
        again = f" --threads {','.join(map(str, counts))}" if len(counts) > 1 else ""
        args.interrupt_note = (f"finished points are in {out} "
                               f"(continue with --resume -o {base}{again})")
        if len(counts) == 1:
            doc = run_sweep(cfg, out, resume=args.resume, progress=not args.no_progress,
                            peak=peak, force=args.force)
        else:
            doc = _sweep_in_child(cfg, out, resume=args.resume, progress=not args.no_progress,
                                  peak=peak, force=args.force)
        args.interrupt_note = None
        failed += print_written(out, doc)
        if args.speedup:
            print_tables(doc)
    return 1 if failed else 0


def _sweep_in_child(cfg, out, **kwargs) -> dict:
    """``run_sweep`` in a new process, so that every library sets its thread pools for
    this thread count from the start (JAX reads its setting once per process: in one
    process, the second count's JAX would run with the first's threads)."""
    from mlpbench.harness.results import load_results
    from mlpbench.harness.workers import in_fresh_process

    in_fresh_process(_child_sweep, cfg, str(out), **kwargs)
    return load_results(out)


def _child_sweep(cfg, out, **kwargs) -> None:
    from mlpbench.harness.sweep import run_sweep

    run_sweep(cfg, out, **kwargs)


def print_written(out, doc) -> int:
    """What a sweep wrote into ``out``, and its failed points; returns how many failed."""
    counts = {s: sum(p["status"] == s for p in doc["points"]) for s in ("ok", "skipped", "failed")}
    print(f"wrote {out}: {counts['ok']} timed, {counts['skipped']} skipped, "
          f"{counts['failed']} failed")
    for p in doc["points"]:
        if p["status"] == "failed":
            print(f"  FAILED {p['impl']} {p['dtype']} {p['phase']} n={p['n']} d={p['d']} "
                  f"d_h={p['d_h']}: {p['reason']}")
    return counts["failed"]


def _run_on_cluster(args) -> int:
    from mlpbench.harness.cluster import SHARD, run_cluster_sweep
    from mlpbench.harness.peak import load_peak

    counts = thread_counts(args)
    if len(counts) > 1:
        raise UsageError("--cluster runs one thread count; give --threads N")
    if counts[0] == common.ALL:
        raise UsageError("--threads all counts this machine's cores, not the workers'; "
                         "give a number with --cluster")
    cfg = sweep_config(args)
    peak = load_peak(args.peak) if args.peak is not None else None
    mode = args.cluster_mode or SHARD
    out = args.out or Path("results") / (
        f"bench-{cfg.axis}-{time.strftime('%Y%m%d-%H%M%S')}.json")
    where = out if mode == SHARD else f"one file per machine beside {out}"
    args.interrupt_note = (f"finished points are in {where} "
                           f"(continue with --resume -o {out})")
    docs = run_cluster_sweep(cfg, out, args.cluster, mode=mode, resume=args.resume,
                             progress=not args.no_progress, peak=peak, force=args.force)
    args.interrupt_note = None
    failed = 0
    for path, doc in docs.items():
        failed += print_written(path, doc)
        if args.speedup:
            print_tables(doc)
    return 1 if failed else 0


def print_tables(doc) -> None:
    """The speed-up, summary and cold-start tables of one result document."""
    from mlpbench.harness.tables import cold_table, speedup_table, summary_table

    print(speedup_table(doc))
    print()
    print(summary_table(doc))
    print()
    print(cold_table(doc))


def _warn_if_busy(threads: int | None) -> None:
    import os

    from mlpbench.harness.machine import check_threads, cpu_count

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if load > 1.0 and check_threads(threads) > 1:
        print(f"mlpbench bench: note: load average {load:.1f} on {cpu_count()} cores; "
              "multithreaded BLAS slows down badly next to other processes "
              "(--threads 1 gives steadier figures)", file=sys.stderr)
