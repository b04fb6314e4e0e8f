"""Subcommands ``run``, ``report`` and ``compare``; matplotlib and numba load inside them."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from mlpbench.errors import UsageError
from mlpbench.harness.cli import implementation_names


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers like 1,16,256, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"sizes must be positive integers, got {text!r}")
    return values


def _name_list(text: str) -> list[str]:
    return [v for v in text.replace(" ", "").split(",") if v]


def register(subparsers) -> None:
    from mlpbench.report import compare as cmp_consts
    from mlpbench.report import run as run_consts

    run = subparsers.add_parser(
        "run", help="measure ceilings, sweep n, d and d_h, write a full report (~5 min)",
        description="The main job: measure this machine's ceilings (quick peak), run quick "
                    "sweeps of every implementation over n, d and d_h (one result file each) "
                    "and write figures, report.md and report.html into one folder.")
    run.add_argument("--out", type=Path, metavar="DIR",
                     help="report folder (default: reports/<date>-<host>)")
    run.add_argument("--force", action="store_true",
                     help="reuse a non-empty --out, replacing its results and figures")
    for axis in ("n", "d", "d_h"):
        run.add_argument(f"--sizes-{axis}", dest=f"sizes_{axis}", type=_int_list,
                         metavar="LIST", default=run_consts.QUICK_SIZES[axis],
                         help=f"sizes of the {axis} sweep (default: "
                              f"{','.join(map(str, run_consts.QUICK_SIZES[axis]))})")
    run.add_argument("--base", type=_int_list, metavar="N,D,D_H,M",
                     help="base point the other axes stay at (default: 1024,784,256,10)")
    run.add_argument("--impl", type=_name_list, default=["all"], metavar="LIST",
                     help="implementations, or 'all': every registered one, PyTorch/JAX "
                          "peers included when installed (default: all)")
    run.add_argument("--dtype", type=_name_list, default=["float64"], metavar="LIST",
                     help="dtypes (default: float64)")
    run.add_argument("--budget", type=float, metavar="SECONDS",
                     help="time allowed per point and implementation; predicted-longer points "
                     f"are skipped (default: {run_consts.QUICK_BUDGET_S}, with --tiny "
                     f"{run_consts.TINY_BUDGET_S})")
    run.add_argument("--threads", type=int, metavar="N", default=run_consts.DEFAULT_THREADS,
                     help="numba and BLAS threads (default: 1, robust on a busy machine; "
                          "use more to measure multithreaded speed)")
    run.add_argument("--tiny", action="store_true",
                     help="a smoke test: tiny base point and sizes, short timings, no peak")
    run.add_argument("--no-peak", action="store_true", help="do not measure the ceilings")
    run.add_argument("--no-coldstart", action="store_true",
                     help="do not measure numba's compile and cached first-call times in new "
                          "processes (about 20-60 s per implementation and dtype)")
    run.add_argument("--no-numerics", action="store_true",
                     help="leave out the accuracy figure (needs mpmath)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.set_defaults(func=run_run)

    rep = subparsers.add_parser(
        "report", help="figures, report.md and report.html from result files",
        description="Draw scaling, speedup, throughput, phase, compile and accuracy figures "
                    "from result files (PNG and SVG) and write report.md and a "
                    "self-contained report.html. Sections without data say why.")
    rep.add_argument("results", nargs="+", type=Path, metavar="RESULTS.json")
    rep.add_argument("--out", type=Path, required=True, metavar="DIR", help="report folder")
    rep.add_argument("--force", action="store_true",
                     help="write into a non-empty --out, replacing a previous report there")
    rep.add_argument("--numerics", type=Path, metavar="FILE",
                     help="accuracy table (numerics.json from mlpbench run) instead of "
                          "computing it")
    rep.add_argument("--no-numerics", action="store_true",
                     help="leave out the accuracy figure")
    rep.add_argument("--peak", type=Path, metavar="FILE",
                     help="ceilings written by mlpbench peak, for result files that lack them")
    rep.add_argument("--title", help="report title")
    rep.set_defaults(func=run_report)

    c = subparsers.add_parser(
        "compare", help="NEW/BASE per point with a noise-aware verdict; exit 1 if slower",
        description="Compare two result files point by point. " + cmp_consts.RULE
                    + " Exit status: 0 if nothing got slower, 1 if something did, 2 on "
                      "bad input.")
    c.add_argument("base", type=Path, metavar="BASE.json")
    c.add_argument("new", type=Path, metavar="NEW.json")
    c.add_argument("--threshold", type=float, default=cmp_consts.DEFAULT_THRESHOLD,
                   help="relative change below which nothing is flagged (default: 0.05)")
    c.add_argument("--out", type=Path, metavar="DIR",
                   help="also write compare.png, compare.svg and compare.md there")
    c.add_argument("--force", action="store_true", help="write into a non-empty --out")
    c.set_defaults(func=run_compare)


def load_numerics(path: Path) -> dict:
    """An accuracy table file: ``{dtype: {kernel: {impl: ulp}}}`` (or one dtype's table,
    taken as float64)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"numerics file {path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UsageError(f"numerics file {path} is not JSON") from None

    def is_table(t) -> bool:
        return isinstance(t, dict) and bool(t) and all(
            isinstance(row, dict) and all(v is None or isinstance(v, int | float)
                                          for v in row.values()) for row in t.values())

    if is_table(doc):
        return {"float64": doc}
    if isinstance(doc, dict) and doc and all(is_table(t) for t in doc.values()):
        return doc
    raise UsageError(f"{path} is not an accuracy table ({{dtype: {{kernel: {{impl: ulp}}}}}})")


def run_report(args) -> int:
    from mlpbench.report import build, inputs
    from mlpbench.report._files import prepare_out_dir

    docs = inputs.load_all(args.results)
    if args.peak is not None:
        from mlpbench.harness.peak import load_peak

        peak = load_peak(args.peak)
        for doc in docs:
            doc["peak"] = doc["peak"] or peak
    if args.numerics and args.no_numerics:
        raise UsageError("--numerics and --no-numerics contradict each other; give one")
    numerics = load_numerics(args.numerics) if args.numerics else None
    out = prepare_out_dir(args.out, args.force)
    why = "left out (--no-numerics)"
    if numerics is None and not args.no_numerics:
        numerics, why = build.numerics_for(docs)
    rep = build.build_report(docs, out, numerics, why, title=args.title)
    _print_done(rep)
    return 0


def _print_done(rep) -> None:
    print(f"report: {rep.html}")
    for line in rep.summary:
        print(f"  {line}")
    for title, why in rep.omitted.items():
        print(f"  (omitted: {title}: {why})")


def run_compare(args) -> int:
    from mlpbench.report import compare, inputs
    from mlpbench.report._files import prepare_out_dir, write_text

    if not (math.isfinite(args.threshold) and args.threshold >= 0):
        raise UsageError(f"--threshold must be a finite number >= 0, got {args.threshold}")
    base, new = inputs.load_results(args.base), inputs.load_results(args.new)
    out = prepare_out_dir(args.out, args.force) if args.out else None
    result = compare.compare(base, new, args.threshold)
    print(compare.format_table(result))
    print()
    for line in compare.summary_lines(result):
        print(line)
    if (base.get("machine") or {}).get("hostname") != (new.get("machine") or {}).get("hostname"):
        print("note: the two files come from different hosts; ratios compare machines too.")
    if out is not None:
        png = compare.draw(result, out)
        write_text(out / "compare.md", compare.markdown(result, str(args.base), str(args.new),
                                                        png))
        print(f"figure: {png}")
    return 1 if result.any_slower else 0


def run_run(args) -> int:
    from mlpbench.report import run

    base = None
    if args.base is not None:
        if len(args.base) != 4:
            raise UsageError(f"--base takes four sizes N,D,D_H,M, got {len(args.base)}")
        base = dict(zip(("n", "d", "d_h", "m"), args.base, strict=True))
    sizes = {"n": args.sizes_n, "d": args.sizes_d, "d_h": args.sizes_d_h}
    peak = not args.no_peak
    budget = run.QUICK_BUDGET_S if args.budget is None else args.budget
    if args.tiny:
        base = base or dict(run.TINY_BASE)
        sizes = {a: (run.TINY_SIZES[a] if v == run.QUICK_SIZES[a] else v)
                 for a, v in sizes.items()}
        budget = run.TINY_BUDGET_S if args.budget is None else args.budget
        peak = False
    for dt in args.dtype:
        if dt not in ("float32", "float64"):
            raise UsageError(f"unknown dtype {dt!r}; choose from float32, float64")
    if not (math.isfinite(budget) and budget > 0):
        raise UsageError(f"--budget must be a positive number of seconds, got {budget}")
    plan = run.RunPlan(out=args.out or run.default_out(), sizes=sizes,
                       implementations=implementation_names(args.impl), dtypes=args.dtype,
                       budget_s=budget,
                       threads=args.threads, peak=peak, numerics=not args.no_numerics,
                       coldstart=not (args.no_coldstart or args.tiny),
                       progress=not args.no_progress, force=args.force)
    if base is not None:
        plan.base = base
    rep = run.run(plan, echo=run.main_echo)
    _print_done(rep)
    return 0
