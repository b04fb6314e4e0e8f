"""``mlpbench check``: do the MLP implementations agree with ``numpy`` and with finite differences?

For every implementation and dtype, on a few random problems, compares the loss,
every field of the forward pass and every gradient (with and without penalties)
with the ``numpy`` implementation, and in float64 the gradient with central finite
differences; prints one table row per implementation and dtype.
"""

from __future__ import annotations

import argparse
import math

from mlpbench.errors import UsageError

#: Default problem shapes (n, d, d_h, m): single-element edge case, small, ragged.
DEFAULT_SHAPES = ((1, 1, 1, 2), (6, 4, 5, 3), (17, 9, 12, 11))

#: Penalty settings each problem is checked with: none, and both together.
PENALTIES = ((0.0, 0.0), (1e-3, 2e-3))

REFERENCE = "numpy"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check that the MLP implementations agree (with numpy, with finite differences)",
        description=__doc__.split("\n\n", 1)[1].replace("\n", " "),
    )
    parser.add_argument(
        "--impl", action="append", metavar="NAME",
        help="implementation to check (repeatable; default: all registered)",
    )
    parser.add_argument(
        "--dtype", action="append", choices=("float32", "float64"),
        help="dtype to check (repeatable; default: both)",
    )
    parser.add_argument(
        "--shape", action="append", nargs=4, type=int, metavar=("N", "D", "D_H", "M"),
        help="problem shape (repeatable; default: " + ", ".join(
            "x".join(map(str, s)) for s in DEFAULT_SHAPES) + ")",
    )
    parser.add_argument(
        "--problems", type=int, default=2, metavar="K",
        help="random problems per shape (default: 2)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the first problem (default: 0)",
    )
    parser.add_argument(
        "--no-fd", action="store_true", help="skip the finite-difference gradient check",
    )
    parser.set_defaults(func=run)


def _check_args(args, implementations):
    names = args.impl or list(implementations)
    unknown = [n for n in names if n not in implementations]
    if unknown:
        valid = ", ".join(implementations)
        raise UsageError(f"unknown implementation(s) {', '.join(unknown)}; expected one of {valid}")
    shapes = [tuple(s) for s in args.shape] if args.shape else list(DEFAULT_SHAPES)
    for s in shapes:
        if min(s) < 1:
            raise UsageError(f"--shape N D D_H M takes sizes >= 1, got {' '.join(map(str, s))}")
    if args.problems < 1:
        raise UsageError(f"--problems must be at least 1, got {args.problems}")
    return names, args.dtype or ["float32", "float64"], shapes


def _results(impl, p, X, y, l1, l2):
    """Every number an implementation produces on one problem, by label."""
    f = impl.forward(p, X)
    loss, g = impl.loss_and_grad(p, X, y, l1, l2)
    out = {"loss": impl.loss(p, X, y, l1, l2), "loss_and_grad.loss": loss}
    out.update({f"forward.{k}": v for k, v in f._asdict().items()})
    out.update({f"loss_and_grad.g{k}": v for k, v in g._asdict().items()})
    gb = impl.backward(p, X, y, f, l1, l2)
    out.update({f"backward.g{k}": v for k, v in gb._asdict().items()})
    return out


def run_checks(names, dtypes, shapes, problems=2, seed=0, fd=True):
    """Run the checks; returns one dict per (implementation, dtype), with ``ok`` set."""
    import numpy as np

    from mlpbench import mlp

    ref = mlp.get(REFERENCE)
    rows = []
    for name in names:
        impl = mlp.get(name)
        for dtype in dtypes:
            row = {"impl": name, "dtype": dtype, "abs": 0.0, "rel": 0.0, "tol": math.inf,
                   "fd": None, "fd_tol": mlp.GRADCHECK_TOL, "ok": True, "worst": ""}
            for shape in shapes:
                tol = mlp.agreement_rtol(dtype, *shape)
                row["tol"] = min(row["tol"], tol)
                for k in range(problems):
                    p, X, y = mlp.make_problem(*shape, seed=seed + k, dtype=np.dtype(dtype))
                    for l1, l2 in PENALTIES:
                        if name != REFERENCE:
                            want = _results(ref, p, X, y, l1, l2)
                            got = _results(impl, p, X, y, l1, l2)
                            for label, value in got.items():
                                a, b = np.asarray(value, float), np.asarray(want[label], float)
                                row["abs"] = max(row["abs"], float(np.max(np.abs(a - b))))
                                rel = mlp.max_rel_err(a, b)
                                if rel > row["rel"]:
                                    row["rel"], row["worst"] = rel, label
                                if not rel <= tol:
                                    row["ok"] = False
                        if fd and dtype == "float64":
                            err = max(mlp.gradcheck(impl, p, X, y, l1, l2).values())
                            row["fd"] = max(row["fd"] or 0.0, err)
                            if not err <= mlp.GRADCHECK_TOL:
                                row["ok"] = False
            rows.append(row)
    return rows


def _table(rows) -> str:
    head = ("implementation", "dtype", "max abs err", "max rel err", "rel tol",
            "fd rel err", "fd tol", "result", "worst")
    lines = [head]
    for r in rows:
        ref = r["impl"] == REFERENCE
        fd = r["fd"] is not None
        lines.append((
            r["impl"], r["dtype"],
            "reference" if ref else f"{r['abs']:.2e}",
            "reference" if ref else f"{r['rel']:.2e}",
            "-" if ref else f"{r['tol']:.1e}",
            f"{r['fd']:.2e}" if fd else "-",
            f"{r['fd_tol']:.0e}" if fd else "-",
            "ok" if r["ok"] else "FAIL",
            "" if ref else r["worst"],
        ))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
                     for line in lines)


def run(args: argparse.Namespace) -> int:
    from mlpbench import mlp

    names, dtypes, shapes = _check_args(args, mlp.IMPLEMENTATIONS)
    rows = run_checks(names, dtypes, shapes, args.problems, args.seed, fd=not args.no_fd)
    print(f"mlpbench check: shapes (n, d, d_h, m) {', '.join(map(str, shapes))}; "
          f"{args.problems} problem(s) each, penalties (l1, l2) in {list(PENALTIES)}")
    print("errors vs numpy: max over all outputs of max|a - b| / max(|a|, |b|);"
          " fd: gradient vs central finite differences (float64)")
    print(_table(rows))
    failed = [f"{r['impl']}/{r['dtype']}" for r in rows if not r["ok"]]
    if failed:
        print(f"FAILED: {', '.join(failed)}")
        return 1
    print("all within tolerance")
    return 0
