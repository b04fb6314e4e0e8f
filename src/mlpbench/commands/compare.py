"""``mlpbench compare``: NEW/BASE per point with a noise-aware verdict
(:mod:`mlpbench.report.compare`); exit 1 if a point got slower beyond chance."""

from __future__ import annotations

import math
import sys
from pathlib import Path

from mlpbench.commands import common
from mlpbench.errors import UsageError


def register(subparsers) -> None:
    from mlpbench.report import compare as consts

    p = subparsers.add_parser(
        "compare", help="NEW/BASE per point with a noise-aware verdict; exit 1 if slower",
        description="Compare two result files point by point. " + consts.RULE
                    + " Exit status: 0 if nothing got slower beyond chance over all the "
                      "points, 1 if something did, 2 on bad input.")
    p.add_argument("base", type=Path, metavar="BASE.json")
    p.add_argument("new", type=Path, metavar="NEW.json")
    p.add_argument("--base-runs", type=Path, nargs="+", default=[], metavar="FILE",
                   help="more runs of the same sweep on the BASE side (replicates, other "
                        "processes): their passes join BASE.json's, so the intervals see "
                        "how far two runs of the same code differ")
    p.add_argument("--new-runs", type=Path, nargs="+", default=[], metavar="FILE",
                   help="more runs on the NEW side, as --base-runs")
    p.add_argument("--threshold", type=float, default=consts.DEFAULT_THRESHOLD,
                   help="relative change below which nothing is flagged "
                        f"(default: {consts.DEFAULT_THRESHOLD:g})")
    p.add_argument("--strict", action="store_true",
                   help="refuse (exit 2) runs that differ in CPU model, BLAS library, thread "
                        "settings, numba version or flags, or schema, instead of warning")
    common.add_out_dir(p, help="also write compare.png, compare.svg and compare.md there",
                       force_help="write into a non-empty --out, replacing a previous "
                                  "comparison there (other files stay)")
    p.set_defaults(func=run)


def run(args) -> int:
    from mlpbench.files import prepare_out_dir, write_text
    from mlpbench.harness.results import load_results
    from mlpbench.report import compare

    if not (math.isfinite(args.threshold) and args.threshold >= 0):
        raise UsageError(f"--threshold must be a finite number >= 0, got {args.threshold}")
    base = load_results(args.base, need_points=True)
    new = load_results(args.new, need_points=True)
    base_more = [load_results(f, need_points=True) for f in args.base_runs]
    new_more = [load_results(f, need_points=True) for f in args.new_runs]
    for path, doc in ((args.base, base), (args.new, new), *zip(args.base_runs, base_more),
                      *zip(args.new_runs, new_more)):
        if doc.get("kind") == "kernels":
            raise UsageError(f"{path} holds a kernel sweep (bench --kernels); compare reads "
                             "MLP sweeps: draw kernel sweeps with mlpbench report")
    out = prepare_out_dir(args.out, args.force) if args.out else None
    result = compare.compare(base, new, args.threshold, base_more, new_more)
    if result.differences:
        what = "; ".join(result.differences)
        if args.strict:
            raise UsageError(f"the runs are not comparable ({what}); drop --strict to "
                             "compare them anyway")
        print(f"mlpbench compare: WARNING: the runs differ in {what}: the ratios measure "
              "those differences too", file=sys.stderr)
    for line in compare.provenance_lines(result):
        print(line)
    print(compare.format_table(result))
    print()
    for line in compare.summary_lines(result):
        print(line)
    if (base.get("machine") or {}).get("hostname") != (new.get("machine") or {}).get("hostname"):
        print("note: the two files come from different hosts; ratios compare machines too.")
    if out is not None:
        png = compare.draw(result, out)
        write_text(out / "compare.md",
                   compare.markdown(result, str(args.base), str(args.new), png))
        print(f"figure: {png}")
    return 1 if result.any_slower else 0
