"""``mlpbench report``: figures, report.md and report.html from result files
(:func:`mlpbench.report.build.build_report`)."""

from __future__ import annotations

from pathlib import Path

from mlpbench.commands import common
from mlpbench.errors import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="figures, report.md and report.html from result files",
        description="Draw scaling, speedup, throughput, phase, compile and accuracy figures "
                    "from result files (PNG and SVG) and write report.md and a "
                    "self-contained report.html. Sections without data say why.")
    p.add_argument("results", nargs="+", type=Path, metavar="RESULTS.json",
                   help="result files, or pytest-benchmark JSON (pytest bench "
                        "--benchmark-json=FILE; bench/ records each case's sizes)")
    common.add_out_dir(p, required=True, help="report folder",
                       force_help="write into a non-empty --out, replacing a previous "
                                  "report there (other files stay)")
    p.add_argument("--numerics", type=Path, metavar="FILE",
                   help="accuracy table (numerics.json from mlpbench run) instead of "
                        "computing it")
    p.add_argument("--no-numerics", action="store_true", help="leave out the accuracy figure")
    p.add_argument("--peak", type=Path, metavar="FILE",
                   help="ceilings written by mlpbench peak, for result files that lack them")
    p.add_argument("--title", help="report title")
    p.set_defaults(func=run)


def run(args) -> int:
    from mlpbench.files import prepare_out_dir
    from mlpbench.report import build
    from mlpbench.report.accuracy_table import load_numerics
    from mlpbench.report.export import load_documents

    if args.numerics and args.no_numerics:
        raise UsageError("--numerics and --no-numerics contradict each other; give one")
    docs = load_documents(args.results)   # result files, or pytest-benchmark JSON
    if args.peak is not None:
        from mlpbench.harness.peak import load_peak

        peak = load_peak(args.peak)
        for doc in docs:
            doc["peak"] = doc["peak"] or peak
    numerics = load_numerics(args.numerics) if args.numerics else None
    out = prepare_out_dir(args.out, args.force)
    why = "left out (--no-numerics)"
    if numerics is None and not args.no_numerics:
        numerics, why = build.numerics_for(docs)
    print_done(build.build_report(docs, out, numerics, why, title=args.title))
    return 0


def print_done(rep) -> None:
    """Where the report is, its summary lines and what it left out (also for ``run``)."""
    print(f"report: {rep.html}")
    for line in rep.summary:
        print(f"  {line}")
    for title, why in rep.omitted.items():
        print(f"  (omitted: {title}: {why})")
