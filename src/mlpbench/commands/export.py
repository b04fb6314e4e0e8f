"""``mlpbench export``: result files as CSV or as pytest-benchmark JSON
(:mod:`mlpbench.report.export`)."""

from __future__ import annotations

import sys
from pathlib import Path

from mlpbench.commands import common

FORMATS = ("csv", "pytest-benchmark")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="result files as CSV or pytest-benchmark JSON",
        description="Write the points of result files (ours, or pytest-benchmark JSON from "
                    "bench/) in another format: csv, one row per point with every status; "
                    "pytest-benchmark, the layout `pytest --benchmark-json` writes (one "
                    "benchmark per measured point), so `pytest-benchmark compare FILE` "
                    "reads it. Without -o the output goes to stdout.")
    p.add_argument("results", nargs="+", type=Path, metavar="RESULTS.json")
    p.add_argument("--format", required=True, choices=FORMATS, help="output format")
    common.add_out_file(p, help="output file (default: stdout)")
    p.set_defaults(func=run)


def run(args) -> int:
    from mlpbench.files import check_writable, json_text, write_text
    from mlpbench.report import export

    docs = export.load_documents(args.results)
    if args.format == "csv":
        text = export.csv_text(docs)
    else:
        text = json_text(export.to_pytest_benchmark(docs), indent=2)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    out = check_writable(args.out, force=args.force)
    write_text(out, text)
    print(f"{args.format}: {out}", file=sys.stderr)
    return 0
