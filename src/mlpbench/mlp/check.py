"""Agreement checks: do the MLP implementations agree with ``numpy`` and with finite
differences? The logic behind ``mlpbench check``.

For every implementation and dtype, on a few random problems, :func:`run_checks`
compares the loss, every field of the forward pass and every gradient (with and
without penalties) with the ``numpy`` implementation, and in float64 the gradient
with central finite differences (2.#7–16); :func:`format_table` prints one row per
implementation and dtype.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from mlpbench.checks import check_choice, check_positive_int
from mlpbench.errors import InputError
from mlpbench.mlp.gradcheck import GRADCHECK_TOL, agreement_rtol, gradcheck, make_problem
from mlpbench.mlp.gradcheck import max_rel_err as _max_rel_err

__all__ = ["DEFAULT_SHAPES", "PENALTIES", "REFERENCE", "format_table", "run_checks"]

#: Default problem shapes (n, d, d_h, m): single-element edge case, small, ragged.
DEFAULT_SHAPES = ((1, 1, 1, 2), (6, 4, 5, 3), (17, 9, 12, 11))

#: Penalty settings each problem is checked with: none, and both together.
PENALTIES = ((0.0, 0.0), (1e-3, 2e-3))

#: The implementation the others are compared with.
REFERENCE = "numpy"


def _results(impl, p, X, y, l1, l2) -> dict:
    """Every number an implementation produces on one problem, by label."""
    f = impl.forward(p, X)
    loss, g = impl.loss_and_grad(p, X, y, l1, l2)
    out = {"loss": impl.loss(p, X, y, l1, l2), "loss_and_grad.loss": loss}
    out.update({f"forward.{k}": v for k, v in f._asdict().items()})
    out.update({f"loss_and_grad.g{k}": v for k, v in g._asdict().items()})
    gb = impl.backward(p, X, y, f, l1, l2)
    out.update({f"backward.g{k}": v for k, v in gb._asdict().items()})
    return out


def _check_shapes(shapes) -> list[tuple[int, int, int, int]]:
    out = []
    for s in shapes:
        s = tuple(s)
        if len(s) != 4:
            raise InputError(f"a shape is (n, d, d_h, m), got {s!r}")
        for name, v in zip(("n", "d", "d_h", "m"), s, strict=True):
            check_positive_int(f"shape {name}", v)
        out.append(s)
    if not out:
        raise InputError("give at least one shape (n, d, d_h, m)")
    return out


def run_checks(names: Sequence[str], dtypes: Sequence[str] = ("float32", "float64"),
               shapes: Sequence[Sequence[int]] = DEFAULT_SHAPES, problems: int = 2,
               seed: int = 0, fd: bool = True) -> list[dict]:
    """Check ``names`` in each of ``dtypes`` on ``problems`` random problems per shape.

    Returns one dict per (implementation, dtype): ``impl, dtype``, the worst ``abs`` and
    ``rel`` error against numpy over every output (``worst`` names it), the tightest
    relative tolerance ``tol`` used, the worst finite-difference error ``fd`` (float64
    only, else None) and its tolerance ``fd_tol``, and ``ok``.
    """
    from mlpbench import mlp

    names = [check_choice("implementation", n, mlp.IMPLEMENTATIONS) for n in names]
    dtypes = [check_choice("dtype", str(dt), ("float32", "float64")) for dt in dtypes]
    shapes = _check_shapes(shapes)
    problems = check_positive_int("problems", problems)
    ref = mlp.get(REFERENCE)
    rows = []
    for name in names:
        impl = mlp.get(name)
        for dtype in dtypes:
            row = {"impl": name, "dtype": dtype, "abs": 0.0, "rel": 0.0, "tol": math.inf,
                   "fd": None, "fd_tol": GRADCHECK_TOL, "ok": True, "worst": ""}
            for shape in shapes:
                tol = agreement_rtol(dtype, *shape)
                row["tol"] = min(row["tol"], tol)
                for k in range(problems):
                    p, X, y = make_problem(*shape, seed=seed + k, dtype=np.dtype(dtype))
                    for l1, l2 in PENALTIES:
                        if name != REFERENCE:
                            want = _results(ref, p, X, y, l1, l2)
                            got = _results(impl, p, X, y, l1, l2)
                            for label, value in got.items():
                                a, b = np.asarray(value, float), np.asarray(want[label], float)
                                row["abs"] = max(row["abs"], float(np.max(np.abs(a - b))))
                                rel = _max_rel_err(a, b)
                                if rel > row["rel"]:
                                    row["rel"], row["worst"] = rel, label
                                if not rel <= tol:
                                    row["ok"] = False
                        if fd and dtype == "float64":
                            err = max(gradcheck(impl, p, X, y, l1, l2).values())
                            row["fd"] = max(row["fd"] or 0.0, err)
                            if not err <= GRADCHECK_TOL:
                                row["ok"] = False
            rows.append(row)
    return rows


def format_table(rows: Sequence[dict]) -> str:
    """The rows of :func:`run_checks` as an aligned text table."""
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
