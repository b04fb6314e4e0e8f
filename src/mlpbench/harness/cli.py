"""The ``bench``, ``peak`` and ``info`` subcommands.

Options are parsed and checked here; the work is in sweep.py, peak.py and
machine.py, imported inside each command so that ``mlpbench --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from mlpbench.errors import UsageError


def _int_list(text: str | None, option: str) -> list[int] | None:
    """'1,16,256' -> [1, 16, 256]; '' -> [] (rejected later as empty); None stays None."""
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    try:
        return [int(t) for t in items]
    except ValueError:
        raise UsageError(f"{option} takes comma-separated integers, got {text!r}") from None


def _name_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def implementation_names(names: list[str]) -> tuple[str, ...]:
    """``--impl`` as given, with ``all`` standing for every registered implementation."""
    if "all" not in names:
        return tuple(names)
    from mlpbench import mlp

    return tuple(dict.fromkeys([*mlp.IMPLEMENTATIONS, *(n for n in names if n != "all")]))


def register(subparsers) -> None:
    bench = subparsers.add_parser(
        "bench", help="time the implementations over a sweep of sizes",
        description="Time the implementations over a range of n, d or d_h (or a grid) and "
                    "write one JSON result file. Each implementation is checked against "
                    "numpy before it is timed; points predicted to exceed the budget are "
                    "skipped. Exit status 1 if an implementation failed that check.")
    bench.add_argument("--vary", default="n", metavar="AXIS",
                       help="axis to sweep: n, d, d_h, or grid (default: n)")
    bench.add_argument("--sizes", metavar="LIST",
                       help="sizes of the swept axis, e.g. 1,16,256 (default: a built-in list)")
    for axis, flag in (("n", "--n"), ("d", "--d"), ("d_h", "--d-h")):
        bench.add_argument(flag, dest=axis, metavar="N",
                           help=f"fixed {axis} (default: base value); with --vary grid, "
                                "a list of sizes")
    bench.add_argument("--m", type=int, default=10, help="number of classes (default: 10)")
    bench.add_argument("--impl", type=_name_list, default=["all"], metavar="LIST",
                       help="implementations, or 'all': every registered one (loops, numpy, "
                            "numba, numba-loops, and the PyTorch/JAX peers when installed)")
    bench.add_argument("--dtype", type=_name_list, default=["float64"], metavar="LIST",
                       help="float32, float64, or float32,float64 (default: float64)")
    bench.add_argument("--phase", type=_name_list, default=["step"], metavar="LIST",
                       help="forward, backward, step (= loss_and_grad) (default: step)")
    bench.add_argument("--threads", metavar="N",
                       help="numba and BLAS threads, or 'all' (default: 1, steady on a "
                            "shared machine; see machine.DEFAULT_THREADS)")
    bench.add_argument("--l1", type=float, default=0.0, help="L1 penalty (default: 0, off)")
    bench.add_argument("--l2", type=float, default=0.0, help="L2 penalty (default: 0, off)")
    bench.add_argument("--budget", type=float, metavar="SECONDS",
                       help="time allowed per implementation and point (default: 20, quick: 5)")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--quick", action="store_true",
                       help="fewer sizes, fewer samples, smaller budget (about a minute)")
    bench.add_argument("-o", "--output", type=Path, metavar="FILE",
                       help="result file (default: results/bench-AXIS-TIME.json)")
    bench.add_argument("--force", action="store_true", help="overwrite an existing result file")
    bench.add_argument("--resume", action="store_true",
                       help="continue the sweep in FILE, keeping its finished points")
    bench.add_argument("--peak", type=Path, metavar="FILE",
                       help="copy the ceilings measured by `mlpbench peak` into the file")
    bench.add_argument("--speedup", action="store_true",
                       help="print the table of times and speed-ups over numpy at the end")
    bench.add_argument("--table", type=Path, nargs="+", metavar="FILE",
                       help="print the tables of existing result files (times, speed-ups "
                            "over numpy, geometric means, %% of GEMM peak) and exit")
    bench.add_argument("--no-progress", action="store_true", help="no progress bar")
    bench.set_defaults(func=run_bench)

    peak = subparsers.add_parser(
        "peak", help="measure GEMM GFLOP/s and memory bandwidth of this machine",
        description="Measure GEMM GFLOP/s (float32/float64, 1 and all threads) and memory "
                    "bandwidth (triad); write them to a JSON file for `bench --peak`.")
    peak.add_argument("-o", "--output", type=Path, default=Path("results/peak.json"),
                      metavar="FILE", help="peak file (default: results/peak.json)")
    peak.add_argument("--quick", action="store_true", help="smaller sizes (a few seconds)")
    peak.add_argument("--force", action="store_true", help="overwrite an existing peak file")
    peak.set_defaults(func=run_peak)

    info = subparsers.add_parser(
        "info", help="print machine metadata and thread settings",
        description="Print what a result file records about this machine: CPU, memory, "
                    "versions, BLAS, environment, and the thread settings bench uses.")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=run_info)


def _config_from_args(args):
    from mlpbench.harness.schema import BASE
    from mlpbench.harness.sweep import GRID, SweepConfig

    base = dict(BASE, m=args.m)
    grid = {}
    for axis in ("n", "d", "d_h"):
        flag = "--" + axis.replace("_", "-")
        values = _int_list(getattr(args, axis), flag)
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
        sizes = _int_list(args.sizes, "--sizes")
    return SweepConfig(axis=args.vary, sizes=sizes, base=base,
                       implementations=implementation_names(args.impl),
                       dtypes=tuple(args.dtype),
                       phases=tuple(args.phase), l1=args.l1, l2=args.l2, budget_s=args.budget,
                       threads=_threads(args.threads), seed=args.seed, quick=args.quick)


def _threads(text: str | None) -> int | None:
    from mlpbench.harness.machine import max_threads

    if text is None:
        return None
    if text == "all":
        return max_threads()
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"--threads takes a number or 'all', got {text!r}") from None


def run_bench(args) -> int:
    from mlpbench.harness.peak import load_peak
    from mlpbench.harness.results import load_results
    from mlpbench.harness.sweep import run_sweep, validate_config
    if args.table is not None:
        for i, path in enumerate(args.table):
            print(f"{'' if i == 0 else chr(10)}== {path}")
            _print_tables(load_results(path))
        return 0
    if args.resume and args.force:
        raise UsageError("--resume and --force exclude each other")
    if args.resume and args.output is None:
        raise UsageError("--resume needs -o FILE, the result file to continue")
    cfg = validate_config(_config_from_args(args))
    peak = load_peak(args.peak) if args.peak is not None else None
    _warn_if_busy(cfg.threads)
    out = args.output or Path("results") / (
        f"bench-{cfg.axis}-{time.strftime('%Y%m%d-%H%M%S')}.json")
    try:
        doc = run_sweep(cfg, out, resume=args.resume, progress=not args.no_progress,
                        peak=peak, force=args.force)
    except KeyboardInterrupt:
        print(f"mlpbench bench: interrupted; finished points are in {out} "
              f"(continue with --resume -o {out})", file=sys.stderr)
        raise
    counts = {s: sum(p["status"] == s for p in doc["points"]) for s in ("ok", "skipped", "failed")}
    print(f"wrote {out}: {counts['ok']} timed, {counts['skipped']} skipped, "
          f"{counts['failed']} failed")
    for p in doc["points"]:
        if p["status"] == "failed":
            print(f"  FAILED {p['impl']} {p['dtype']} {p['phase']} n={p['n']} d={p['d']} "
                  f"d_h={p['d_h']}: {p['reason']}")
    if args.speedup:
        _print_tables(doc)
    return 1 if counts["failed"] else 0


def _print_tables(doc) -> None:
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


def run_peak(args) -> int:
    from mlpbench.harness.peak import format_peak, measure_peak, peak_document
    from mlpbench.harness.results import check_writable, write_json_atomic

    out = check_writable(args.output, force=args.force)
    peak = measure_peak(quick=args.quick)
    write_json_atomic(out, peak_document(peak))
    print(format_peak(peak))
    print(f"wrote {out}")
    return 0


def run_info(args) -> int:
    from mlpbench.harness.machine import SIMD_FLAGS, configured_threads, machine_info

    info = machine_info()
    with configured_threads(None) as threads:
        pass
    if args.json:
        print(json.dumps({"machine": info, "threads": threads}, indent=1))
        return 0
    mem = info["memory_bytes"]
    simd = [f for f in SIMD_FLAGS if f in info["cpu_flags"]]
    print(f"cpu       {info['cpu_model']} ({', '.join(simd) or 'SIMD flags unknown'})")
    memory = f"{mem / 2**30:.1f} GiB" if mem else "unknown"
    print(f"cores     {info['cores']} usable of {info['host_cpus']}; memory {memory}")
    print(f"os        {info['os']} ({info['hostname']})")
    print(f"versions  python {info['python']}, numpy {info['numpy']}, numba {info['numba']}, "
          f"llvmlite {info['llvmlite']}, scipy {info['scipy']}")
    for lib in info["blas"]:
        print(f"library   {lib.get('internal_api')} {lib.get('version')} "
              f"({lib.get('architecture') or lib.get('threading_layer')}), "
              f"{lib.get('num_threads')} threads: {lib.get('filepath')}")
    env = {k: v for k, v in info["env"].items() if v is not None}
    print("env       " + (", ".join(f"{k}={v}" for k, v in env.items()) or "(none set)"))
    print(f"bench     numba {threads['numba_threads']} threads, layer "
          f"{threads['threading_layer']}; BLAS {threads['blas_threads']} threads")
    return 0
