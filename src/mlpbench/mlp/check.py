"""Agreement checks: do the MLP implementations agree with ``numpy`` and with finite
differences, and do they honour the contract? The logic behind ``mlpbench check``.

For every implementation and dtype, on a few random problems, :func:`run_checks`

- compares the loss, every field of the forward pass and every gradient (with and
  without penalties) with the ``numpy`` implementation (tolerance
  ``mlp.agreement_rtol``);
- compares the gradient with central finite differences (2.#7–16) of the
  implementation's own loss: in float64 to ``GRADCHECK_TOL`` (1e-7), in float32 to
  the looser :data:`FD_TOL` ``["float32"]`` (1e-2: the float32 loss is rounded to about
  1e-7 and the step is about 5e-3, so differences are good to about 1e-3 at best; the
  float32 check catches a wrong formula, the agreement with numpy a small slip);
- checks every result (a ``Forward``/``Params`` of the right shapes and dtype, finite,
  a float loss) and that no call changed its inputs (p, X, y, f);
- checks the boundary: bad inputs given through the registry raise the documented
  errors (InputError / InputTypeError) before the implementation is called.

An implementation that raises, returns a wrong result or changes its inputs fails,
with one line saying which function did what (``faults``); the others go on.
:func:`format_table` prints one row per implementation and dtype.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from mlpbench.checks import check_choice, check_positive_int
from mlpbench.errors import InputError, InputTypeError, PluginError
from mlpbench.mlp.gradcheck import GRADCHECK_TOL, agreement_rtol, gradcheck, make_problem
from mlpbench.mlp.gradcheck import max_rel_err as _max_rel_err
from mlpbench.mlp.params import Params
from mlpbench.mlp.plugins import CallGuard, PluginResultError, named_inputs

__all__ = ["DEFAULT_SHAPES", "FD_MARGIN", "FD_TOL", "PENALTIES", "REFERENCE",
           "bad_input_faults", "fault_lines", "format_table", "run_checks"]

#: Default problem shapes (n, d, d_h, m): single-element edge case, small, ragged.
DEFAULT_SHAPES = ((1, 1, 1, 2), (6, 4, 5, 3), (17, 9, 12, 11))

#: Penalty settings each problem is checked with: none, and both together.
PENALTIES = ((0.0, 0.0), (1e-3, 2e-3))

#: The implementation the others are compared with.
REFERENCE = "numpy"

#: Largest accepted finite-difference error of the gradient, by dtype (see above).
FD_TOL = {"float64": GRADCHECK_TOL, "float32": 1e-2}

#: The problems keep every hidden pre-activation this far from the ReLU kink: the
#: float32 step (cube root of eps32, about 5e-3, times |x|) must not cross it.
FD_MARGIN = 0.05


class _Fault(Exception):
    """An implementation's function raised, returned a wrong result or changed its inputs."""


def _call(impl, fn: str, *args, inputs: dict, kwargs: dict | None = None):
    """``impl.fn(*args, **kwargs)``, its inputs guarded; a failure becomes a _Fault
    naming fn."""
    guard = CallGuard(impl.name, inputs, fn)
    try:
        out = getattr(impl, fn)(*args, **(kwargs or {}))
    except PluginResultError as exc:
        guard.restore()
        raise _Fault(_strip(exc, impl.name)) from exc
    except Exception as exc:
        guard.restore()
        raise _Fault(f"{fn} raised {_error_text(exc)}") from exc
    try:
        guard.check(fn)
    except PluginResultError as exc:
        raise _Fault(_strip(exc, impl.name)) from exc
    return out


def _strip(exc: Exception, name: str) -> str:
    text = str(exc)
    prefix = f"implementation {name!r}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def _error_text(exc: BaseException) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text[:300] if str(exc) else type(exc).__name__


def _results(impl, p, X, y, l1, l2, activation: str = "relu") -> dict:
    """Every number an implementation produces on one problem, by label."""
    inputs = named_inputs(p, X, y)
    kw = {} if activation == "relu" else {"activation": activation}
    # In the order one writes them (forward, loss, loss_and_grad): the first fault of a
    # half-written implementation names the next function to write.
    f = _call(impl, "forward", p, X, inputs=inputs, kwargs=kw)
    out = {"loss": _call(impl, "loss", p, X, y, l1, l2, inputs=inputs, kwargs=kw)}
    loss, g = _call(impl, "loss_and_grad", p, X, y, l1, l2, inputs=inputs, kwargs=kw)
    out["loss_and_grad.loss"] = loss
    out.update({f"forward.{k}": v for k, v in f._asdict().items()})
    out.update({f"loss_and_grad.g{k}": v for k, v in g._asdict().items()})
    gb = _call(impl, "backward", p, X, y, f, l1, l2, inputs=named_inputs(p, X, y, f),
               kwargs=kw)
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


def _bad_inputs(p, X, y):
    """(what, call, expected error class) for the boundary check; call(impl)."""
    Xl = X.tolist()
    Xw = X[:, :-1] if X.shape[1] > 1 else np.concatenate([X, X], axis=1)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    other = np.float32 if X.dtype == np.float64 else np.float64
    Xd = X.astype(other)
    yb = y.copy()
    yb[0] = p.W2.shape[0]
    return [
        ("X as a list", lambda i: i.forward(p, Xl), InputTypeError),
        ("X of the wrong width", lambda i: i.loss(p, Xw, y), InputError),
        ("X with NaN", lambda i: i.loss_and_grad(p, Xn, y), InputError),
        ("X of another dtype", lambda i: i.forward(p, Xd), InputTypeError),
        ("a label out of range", lambda i: i.loss(p, X, yb), InputError),
        ("a negative l1", lambda i: i.loss_and_grad(p, X, y, -1.0), InputError),
        ("p as a dict", lambda i: i.forward(dict(Params._asdict(Params(*p))), X), InputTypeError),
        ("f of the wrong shape",
         lambda i: i.backward(p, X, y, (X, X, X, X), 0.0, 0.0), InputError),
    ]


def bad_input_faults(impl, dtype: str = "float64") -> list[str]:
    """What the boundary of ``impl`` (the registry's checks) lets through: one line per
    bad input that did not raise its documented error (InputError / InputTypeError)."""
    p, X, y = make_problem(3, 2, 4, 3, seed=0, dtype=np.dtype(dtype))
    faults = []
    for what, call, error in _bad_inputs(p, X, y):
        try:
            call(impl)
        except error:
            continue
        except Exception as exc:
            faults.append(f"{what}: raised {_error_text(exc)}, expected {error.__name__}")
            continue
        faults.append(f"{what}: accepted, expected {error.__name__}")
    return faults


def run_checks(names: Sequence[str], dtypes: Sequence[str] = ("float32", "float64"),
               shapes: Sequence[Sequence[int]] = DEFAULT_SHAPES, problems: int = 2,
               seed: int = 0, fd: bool = True, bad_inputs: bool = True,
               activation: str = "relu") -> list[dict]:
    """Check ``names`` in each of ``dtypes`` on ``problems`` random problems per shape,
    with the hidden ``activation`` (docs/math.md#hidden-activations).

    Returns one dict per (implementation, dtype): ``impl, dtype``, the worst ``abs`` and
    ``rel`` error against numpy over every output (``worst`` names it), the tightest
    relative tolerance ``tol`` used, the worst finite-difference error ``fd`` (None if
    not checked) and its tolerance ``fd_tol``, ``inputs`` (the boundary check: True,
    False, or None if not run), ``faults`` (one line per problem found: a function
    that raised, a wrong result, changed inputs, a disagreement) and ``ok``.
    """
    from mlpbench import mlp

    names = [check_choice("implementation", n, mlp.IMPLEMENTATIONS) for n in names]
    dtypes = [check_choice("dtype", str(dt), ("float32", "float64")) for dt in dtypes]
    shapes = _check_shapes(shapes)
    problems = check_positive_int("problems", problems)
    activation = mlp.check_activation(activation)
    ref = mlp.get(REFERENCE)
    rows = []
    for name in names:
        try:
            impl = mlp.get(name)
        except PluginError as exc:  # cannot be loaded, or lacks a function
            for dtype in dtypes:
                rows.append(dict(_row(name, dtype, faults=[str(exc)]), worst="load"))
            continue
        for dtype in dtypes:
            row = _row(name, dtype)
            try:
                _check_one(row, impl, ref, dtype, shapes, problems, seed, fd, activation)
            except _Fault as exc:
                row["faults"].append(str(exc))
                row["worst"] = str(exc).split()[0]
            if bad_inputs:
                found = bad_input_faults(impl, dtype)
                row["inputs"] = not found
                row["faults"].extend(f"bad input given through the registry: {f}"
                                     for f in found)
            row["ok"] = row["ok"] and not row["faults"]
            rows.append(row)
    return rows


def _row(name: str, dtype: str, faults=None) -> dict:
    return {"impl": name, "dtype": dtype, "abs": None, "rel": None, "tol": math.inf,
            "fd": None, "fd_tol": FD_TOL[dtype], "inputs": None, "ok": not faults,
            "worst": "", "faults": list(faults or [])}


def _check_one(row, impl, ref, dtype, shapes, problems, seed, fd,
               activation: str = "relu") -> None:
    worst = None  # (rel, label, tol, where) of the worst disagreement past its tolerance
    fd_worst = None
    for shape in shapes:
        tol = agreement_rtol(dtype, *shape)
        row["tol"] = min(row["tol"], tol)
        for k in range(problems):
            p, X, y = make_problem(*shape, seed=seed + k, dtype=np.dtype(dtype),
                                   margin=FD_MARGIN)
            for l1, l2 in PENALTIES:
                where = f"shape {shape}, l1={l1:g}, l2={l2:g}"
                got = _results(impl, p, X, y, l1, l2, activation)
                if impl.name != REFERENCE:
                    want = _results(ref, p, X, y, l1, l2, activation)
                    row["abs"] = row["abs"] or 0.0
                    row["rel"] = row["rel"] or 0.0
                    for label, value in got.items():
                        a, b = np.asarray(value, float), np.asarray(want[label], float)
                        row["abs"] = max(row["abs"], float(np.max(np.abs(a - b))))
                        rel = _max_rel_err(a, b)
                        if rel > row["rel"]:
                            row["rel"], row["worst"] = rel, label
                        if not rel <= tol and (worst is None or rel > worst[0]):
                            worst = (rel, label, tol, where)
                if fd:
                    errs = gradcheck(impl, p, X, y, l1, l2, activation=activation)
                    field = max(errs, key=errs.get)
                    row["fd"] = max(row["fd"] or 0.0, errs[field])
                    if not errs[field] <= row["fd_tol"] and (
                            fd_worst is None or errs[field] > fd_worst[0]):
                        fd_worst = (errs[field], field, where)
    if worst is not None:
        rel, label, tol, where = worst
        row["ok"] = False
        row["faults"].append(f"{label} disagrees with {REFERENCE}: max relative error "
                             f"{rel:.2e} > {tol:.1e} ({where})")
    if fd_worst is not None:
        err, field, where = fd_worst
        row["ok"] = False
        row["faults"].append(f"the gradient g{field} disagrees with finite differences of "
                             f"its own loss: relative error {err:.2e} > {row['fd_tol']:.0e} "
                             f"({where})")


def format_table(rows: Sequence[dict]) -> str:
    """The rows of :func:`run_checks` as an aligned text table."""
    head = ("implementation", "dtype", "max abs err", "max rel err", "rel tol",
            "fd rel err", "fd tol", "bad inputs", "result", "worst")
    lines = [head]
    for r in rows:
        ref = r["impl"] == REFERENCE
        fd = r["fd"] is not None
        measured = r.get("rel") is not None
        inputs = r.get("inputs")
        lines.append((
            r["impl"], r["dtype"],
            "reference" if ref else (f"{r['abs']:.2e}" if measured else "-"),
            "reference" if ref else (f"{r['rel']:.2e}" if measured else "-"),
            "-" if ref or not math.isfinite(r["tol"]) else f"{r['tol']:.1e}",
            f"{r['fd']:.2e}" if fd else "-",
            f"{r['fd_tol']:.0e}" if fd else "-",
            "-" if inputs is None else ("ok" if inputs else "FAIL"),
            "ok" if r["ok"] else "FAIL",
            "" if ref and r["ok"] else r["worst"],
        ))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
                     for line in lines)


def fault_lines(rows: Sequence[dict]) -> list[str]:
    """One line per distinct fault: ``impl/dtype[, dtype]: what went wrong``."""
    seen: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        for fault in r.get("faults", ()):
            seen.setdefault((r["impl"], fault), []).append(r["dtype"])
    return [f"{impl}/{','.join(dts)}: {fault}" for (impl, fault), dts in seen.items()]
