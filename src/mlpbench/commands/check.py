"""``mlpbench check``: do the MLP implementations agree with ``numpy`` and with finite
differences? The checks are :func:`mlpbench.mlp.check.run_checks`."""

from __future__ import annotations

from mlpbench.commands import common
from mlpbench.errors import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "check",
        help="check that the MLP implementations agree (with numpy, with finite differences)",
        description="For every implementation and dtype, on a few random problems, compare "
                    "the loss, every field of the forward pass and every gradient (with and "
                    "without penalties) with the numpy implementation, and the gradient "
                    "with central finite differences (float64: tolerance 1e-7, float32: "
                    "1e-2); check every result (type, shape, dtype, finite) and that no "
                    "call changes its inputs, and that bad inputs given through the "
                    "registry raise their documented errors; print one table row per "
                    "implementation and dtype, then one line per fault. Your own "
                    "implementation: --impl mine=path/to/mine.py (docs/plugins.md). Exit "
                    "status 1 if any fails, 2 if one cannot be loaded.")
    common.add_impl(p)
    common.add_dtypes(p, default="float32,float64")
    common.add_activation(p)
    p.add_argument(
        "--shape", action="append", nargs=4, type=int, metavar=("N", "D", "D_H", "M"),
        help="problem shape (repeatable; default: a one-element, a small and a ragged "
             "shape, mlp.check.DEFAULT_SHAPES)")
    p.add_argument("--problems", type=int, default=2, metavar="K",
                   help="random problems per shape (default: 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first problem (default: 0)")
    p.add_argument("--no-fd", action="store_true",
                   help="skip the finite-difference gradient check")
    p.set_defaults(func=run)


def run(args) -> int:
    from mlpbench.mlp.check import (
        DEFAULT_SHAPES,
        PENALTIES,
        fault_lines,
        format_table,
        run_checks,
    )

    names = common.check_implementations(common.implementations(args.impl))
    dtypes = list(dict.fromkeys(args.dtype or ["float32", "float64"]))
    for dt in dtypes:
        if dt not in ("float32", "float64"):
            raise UsageError(f"unknown dtype {dt!r}; choose from float32, float64")
    shapes = [tuple(s) for s in args.shape] if args.shape else list(DEFAULT_SHAPES)
    for s in shapes:
        if min(s) < 1:
            raise UsageError(f"--shape N D D_H M takes sizes >= 1, got {' '.join(map(str, s))}")
    if args.problems < 1:
        raise UsageError(f"--problems must be at least 1, got {args.problems}")
    activation = args.activation or "relu"
    rows = run_checks(names, dtypes, shapes, args.problems, args.seed, fd=not args.no_fd,
                      activation=activation)
    print(f"mlpbench check: shapes (n, d, d_h, m) {', '.join(map(str, shapes))}; "
          f"{args.problems} problem(s) each, penalties (l1, l2) in {list(PENALTIES)}"
          + (f"; activation {activation}" if activation != "relu" else ""))
    print("errors vs numpy: max over all outputs of max|a - b| / max(|a|, |b|);"
          " fd: gradient vs central finite differences of the implementation's own loss;"
          " bad inputs: the registry's checks raise the documented errors")
    print(format_table(rows))
    faults = fault_lines(rows)
    for line in faults:
        print(f"  {line}")
    failed = [f"{r['impl']}/{r['dtype']}" for r in rows if not r["ok"]]
    if failed:
        print(f"FAILED: {', '.join(failed)}")
        return 1
    print("all within tolerance")
    return 0
