"""``mlpbench train``: train the MLP on a data set and write its history and figures.

Three modes: plain training (history CSV/JSON, parameters ``.npz``, learning
curves, decision regions for 2-D data), ``--sheet`` (a grid of decision regions
on two moons) and ``--time-epochs`` (one epoch per implementation and batch size).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

from mlpbench.atomic import write_atomic, write_text
from mlpbench.errors import UsageError

#: Defaults of plain training; with them ``--data digits`` reaches under 5 % test error.
DEFAULTS = {"hidden": 64, "lr": 0.1, "epochs": 50, "batch": 32, "l1": 0.0, "l2": 1e-4}

#: The decision-region sheet: rows are hidden sizes, columns weight decays (l2),
#: once without and once with early stopping, on a noisy two-moons set whose
#: training split is small (30 %, to invite overfitting) and whose validation
#: and test splits are large enough for their errors to mean something.
SHEET_HIDDEN = (2, 8, 64)
SHEET_L2 = (0.0, 1e-3, 1e-2)
SHEET_DEFAULTS = {"n": 400, "noise": 0.3, "epochs": 400, "patience": 25,
                  "val": 0.25, "test": 0.45}

#: ``--time-epochs``: batch sizes timed, and the default budget per (implementation, K).
TIME_BATCHES = (1, 10, 100)
TIME_BUDGET_S = 5.0
TIME_REPEATS = 3


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train the MLP by gradient descent; learning curves and decision regions",
        description=(
            "Train the MLP by minibatch gradient descent on a data set and write the history "
            "(CSV, JSON), the final parameters (.npz) and figures to --out. --sheet draws a grid "
            "of decision regions on two moons; --time-epochs times one epoch on digits for each "
            "implementation and batch size."),
    )
    p.add_argument("--data", help="moons, digits or blobs (default: digits; moons for --sheet)")
    p.add_argument("--impl", default="numba", help="loops, numpy or numba (default: numba)")
    p.add_argument("--hidden", type=int, help=f"hidden units d_h (default {DEFAULTS['hidden']})")
    p.add_argument("--lr", type=float, help=f"learning rate (default {DEFAULTS['lr']})")
    p.add_argument("--epochs", type=int,
                   help=f"epochs (default {DEFAULTS['epochs']}; "
                        f"{SHEET_DEFAULTS['epochs']} for --sheet)")
    p.add_argument("--batch", help=f"minibatch size K, or 'full' for full-batch gradient "
                                   f"descent (default {DEFAULTS['batch']})")
    p.add_argument("--l1", type=float, help="L1 weight penalty (default 0)")
    p.add_argument("--l2", type=float, help=f"L2 weight decay (default {DEFAULTS['l2']})")
    p.add_argument("--patience", type=int,
                   help="early stopping: stop after this many epochs without a lower validation "
                        "loss and keep the best parameters (default: off; "
                        f"{SHEET_DEFAULTS['patience']} in the sheet's 'on' columns)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the data, the split, the initial parameters and the shuffling")
    p.add_argument("--dtype", default="float64", help="float64 (default) or float32")
    p.add_argument("--n", type=int, help="examples for moons (default 600; 400 for --sheet) "
                                         "and blobs (default 1000)")
    p.add_argument("--d", type=int, help="blobs: input dimension (default 2)")
    p.add_argument("--m", type=int, help="blobs: number of classes (default 3)")
    p.add_argument("--noise", type=float, help="moons: noise standard deviation (default 0.2; "
                                               f"{SHEET_DEFAULTS['noise']} for --sheet)")
    p.add_argument("--out", help="output folder (default reports/train-DATA-IMPL/, "
                                 "reports/train-moons-sheet/ or reports/train-epoch-times/)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--sheet", action="store_true",
                      help="decision-region grid on two moons: hidden sizes × weight decays, "
                           "early stopping off and on")
    mode.add_argument("--time-epochs", action="store_true",
                      help="time one epoch on digits for every implementation at K = 1, 10, 100")
    p.add_argument("--budget", type=float, default=TIME_BUDGET_S,
                   help="--time-epochs: seconds allowed per (implementation, K); slower epochs "
                        f"are extrapolated from a few steps (default {TIME_BUDGET_S:g})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.time_epochs:
        return _time_epochs(args)
    if args.sheet:
        return _sheet(args)
    return _train(args)


# -- plain training -------------------------------------------------------------------------

def _train(args) -> int:
    from tqdm import tqdm

    from mlpbench import mlp
    from mlpbench.mlp.train import TrainingDiverged, train
    from mlpbench.report import training as figures

    opts = _options(args, DEFAULTS)
    data = args.data or "digits"
    ds = _load(args, data, opts)
    impl = mlp.get(opts["impl"])
    _check_batch(opts["batch"], ds)
    out = _out_dir(args.out, f"train-{data}-{opts['impl']}")
    p0 = mlp.init_params(ds.d, opts["hidden"], ds.m, seed=args.seed, dtype=opts["dtype"])

    print(f"training on {data}: {ds.X_train.shape[0]} train / {ds.X_val.shape[0]} validation / "
          f"{ds.X_test.shape[0]} test, d={ds.d}, m={ds.m}, d_h={opts['hidden']}, "
          f"impl={opts['impl']}, lr={opts['lr']:g}, K={_batch_text(opts['batch'])}, "
          f"l1={opts['l1']:g}, l2={opts['l2']:g}, epochs={opts['epochs']}")
    bar = tqdm(total=opts["epochs"], unit="epoch", disable=None, file=sys.stderr,
               dynamic_ncols=True)

    def on_epoch(row):
        tqdm.write(_epoch_line(row), file=sys.stdout)
        if row["epoch"] > 0:
            bar.update(1)
            bar.set_postfix(val_err=f"{100 * row['val_error']:.2f}%")

    try:
        try:
            params, history = train(
                impl, p0, ds.X_train, ds.y_train, val=(ds.X_val, ds.y_val),
                test=(ds.X_test, ds.y_test), lr=opts["lr"], epochs=opts["epochs"],
                batch_size=opts["batch"], l1=opts["l1"], l2=opts["l2"],
                patience=opts["patience"], seed=args.seed, on_epoch=on_epoch)
        finally:
            bar.close()
    except TrainingDiverged as exc:
        _write_history(out, exc.history, ds, opts)
        if exc.history.rows:
            figures.plot_curves(exc.history.rows, out / "curves.png",
                                title=_title(data, opts) + " (diverged)",
                                note=f"stopped: {exc}")
        print(f"mlpbench train: error: {exc}; the history so far is in {out}/", file=sys.stderr)
        return 1

    _write_history(out, history, ds, opts)
    _write_npz(out / "params.npz", {**params._asdict(), "mean": ds.mean, "scale": ds.scale})
    figures.plot_curves(history.rows, out / "curves.png", title=_title(data, opts),
                        best_epoch=history.best_epoch,
                        note=_curves_note(history))
    written = ["history.csv", "history.json", "params.npz", "curves.png"]
    final = _final_row(history)
    if ds.d == 2:
        # The grid is drawn with the numpy forward pass: same numbers, and fast for loops runs.
        predict = _predictor(mlp.get("numpy"), params, ds.X_train.dtype)
        figures.plot_regions(
            predict, ds.X_train, ds.y_train, out / "regions.png", m=ds.m,
            title=f"{_title(data, opts)}\ntest error {100 * final['test_error']:.1f}% "
                  f"(epoch {final['epoch']})")
        written.append("regions.png")
    seconds = [r["seconds"] for r in history.rows if r["epoch"] > 0]
    print(f"{history.status} after epoch {history.last['epoch']}"
          + (f"; restored the best epoch {history.best_epoch}" if history.restored_best else "")
          + f": test error {100 * final['test_error']:.2f}%, test loss {final['test_loss']:.4f}; "
          f"median {statistics.median(seconds):.4g} s per epoch "
          f"(the first, with any JIT compilation: {seconds[0]:.4g} s)")
    print(f"wrote {', '.join(written)} to {out}/")
    return 0


def _write_history(out: Path, history, ds, opts) -> None:
    doc = {
        "schema": "mlpbench.train",
        "schema_version": 1,
        "data": {"name": ds.name, "n_train": int(ds.X_train.shape[0]),
                 "n_val": int(ds.X_val.shape[0]), "n_test": int(ds.X_test.shape[0]),
                 "d": ds.d, "m": ds.m, **opts["data_args"]},
        **history.as_dict(),
    }
    if history.rows and history.status != "diverged":
        doc["final"] = {k: _json_value(v) for k, v in _final_row(history).items()}
    write_text(out / "history.csv", history.to_csv())
    write_text(out / "history.json", json.dumps(doc, indent=2, allow_nan=False) + "\n")


def _final_row(history) -> dict:
    """The row of the returned parameters: the best epoch if it was restored."""
    if history.restored_best:
        return next(r for r in history.rows if r["epoch"] == history.best_epoch)
    return history.last


def _curves_note(history) -> str:
    final = _final_row(history)
    note = (f"parameters kept (epoch {final['epoch']}): test error "
            f"{100 * final['test_error']:.2f}%, validation error {100 * final['val_error']:.2f}%, "
            f"train error {100 * final['train_error']:.2f}%")
    if history.status == "early-stopped":
        note += (f"; early stopping: no lower validation loss for "
                 f"{history.config['patience']} epochs")
    return note


def _epoch_line(row) -> str:
    parts = [f"epoch {row['epoch']:4d}"]
    for split in ("train", "val", "test"):
        err, loss = row[f"{split}_error"], row[f"{split}_loss"]
        if not math.isnan(err):
            parts.append(f"{split} err {100 * err:6.2f}% loss {_loss_text(loss)}")
    return " | ".join(parts) + f" | {row['seconds']:.3g} s"


def _loss_text(loss: float) -> str:
    return f"{loss:.4f}" if abs(loss) < 1e4 else f"{loss:.3e}"


def _title(data: str, opts) -> str:
    return (f"{data}, {opts['impl']}: d_h={opts['hidden']}, lr={opts['lr']:g}, "
            f"K={_batch_text(opts['batch'])}, l1={opts['l1']:g}, l2={opts['l2']:g}")


# -- decision-region sheet ----------------------------------------------------------------

def _sheet(args) -> int:
    import numpy as np
    from tqdm import tqdm

    from mlpbench import mlp
    from mlpbench.mlp.train import TrainingDiverged, train
    from mlpbench.report import training as figures

    if args.data not in (None, "moons"):
        raise UsageError(f"--sheet draws decision regions on two moons; drop --data {args.data} "
                         f"or use --data moons")
    if args.hidden is not None:
        raise UsageError(f"--sheet trains d_h = {', '.join(map(str, SHEET_HIDDEN))}; "
                         f"drop --hidden")
    if args.l2 is not None:
        raise UsageError(f"--sheet trains l2 = {', '.join(map(str, SHEET_L2))}; drop --l2")
    opts = _options(args, {**DEFAULTS, "epochs": SHEET_DEFAULTS["epochs"]})
    patience = opts["patience"] or SHEET_DEFAULTS["patience"]
    if args.n is None:
        args.n = SHEET_DEFAULTS["n"]
    if args.noise is None:
        args.noise = SHEET_DEFAULTS["noise"]
    ds = _load(args, "moons", opts, val=SHEET_DEFAULTS["val"], test=SHEET_DEFAULTS["test"])
    impl = mlp.get(opts["impl"])
    _check_batch(opts["batch"], ds)
    out = _out_dir(args.out, "train-moons-sheet")
    numpy_impl = mlp.get("numpy")

    columns = [(False, l2) for l2 in SHEET_L2] + [(True, l2) for l2 in SHEET_L2]
    panels, rows_out = [], []
    with tqdm(total=len(SHEET_HIDDEN) * len(columns), unit="run", disable=None,
              file=sys.stderr) as bar:
        for d_h in SHEET_HIDDEN:
            row_panels = []
            p0 = mlp.init_params(ds.d, d_h, ds.m, seed=args.seed, dtype=opts["dtype"])
            for early, l2 in columns:
                try:
                    params, history = train(
                        impl, p0, ds.X_train, ds.y_train, val=(ds.X_val, ds.y_val),
                        test=(ds.X_test, ds.y_test), lr=opts["lr"], epochs=opts["epochs"],
                        batch_size=opts["batch"], l1=opts["l1"], l2=l2,
                        patience=patience if early else None, seed=args.seed)
                except TrainingDiverged as exc:
                    raise UsageError(f"d_h={d_h}, l2={l2:g}: {exc}") from None
                final = _final_row(history)
                rows_out.append({"d_h": d_h, "l2": l2, "early_stopping": early,
                                 "epoch": final["epoch"], "status": history.status,
                                 **{k: final[k] for k in ("train_error", "val_error",
                                                          "test_error", "train_loss",
                                                          "val_loss", "test_loss")}})
                text = (f"train {100 * final['train_error']:.1f}%  "
                        f"test {100 * final['test_error']:.1f}%")
                if early:
                    text += f"\nkept epoch {final['epoch']}"
                row_panels.append({"predict": _predictor(numpy_impl, params, ds.X_train.dtype),
                                   "text": text})
                bar.update(1)
            panels.append(row_panels)

    col_labels = [f"l2 = {l2:g}" for _, l2 in columns]
    figures.plot_region_sheet(
        panels, ds.X_train, ds.y_train, out / "sheet.png",
        row_labels=[f"d_h = {d_h}" for d_h in SHEET_HIDDEN], col_labels=col_labels,
        col_groups=[(f"early stopping off ({opts['epochs']} epochs)", len(SHEET_L2)),
                    (f"early stopping on (patience {patience})", len(SHEET_L2))],
        m=ds.m,
        title=(f"Decision regions on two moons, {opts['impl']}: {ds.X_train.shape[0]} training "
               f"points (shown), {ds.X_val.shape[0]} validation, {ds.X_test.shape[0]} test; "
               f"noise {args.noise:g}"),
        note=(f"lr={opts['lr']:g}, K={_batch_text(opts['batch'])}, l1={opts['l1']:g}, "
              f"seed={args.seed}; errors in the corner are of the parameters kept"))
    write_text(out / "sheet.csv", _csv(rows_out))
    write_text(out / "sheet.json", json.dumps(
        {"schema": "mlpbench.train-sheet", "schema_version": 1,
         "config": {"impl": opts["impl"], "lr": opts["lr"], "epochs": opts["epochs"],
                    "batch_size": opts["batch"], "l1": opts["l1"], "patience": patience,
                    "seed": args.seed, "dtype": str(np.dtype(opts["dtype"])),
                    **opts["data_args"]},
         "runs": [{k: _json_value(v) for k, v in r.items()} for r in rows_out]},
        indent=2, allow_nan=False) + "\n")
    print(f"wrote sheet.png, sheet.csv, sheet.json to {out}/")
    return 0


def _predictor(impl, params, dtype):
    import numpy as np

    def predict(points):
        points = np.ascontiguousarray(points, dtype=dtype)
        return np.argmax(impl.forward(params, points).oa, axis=1)

    return predict


# -- epoch timing ---------------------------------------------------------------------------

def _time_epochs(args) -> int:
    import numpy as np
    from tqdm import tqdm

    from mlpbench import mlp
    from mlpbench.mlp.train import time_epoch
    from mlpbench.report import training as figures

    if args.data not in (None, "digits"):
        raise UsageError(f"--time-epochs times digits; drop --data {args.data}")
    if args.batch is not None:
        raise UsageError(f"--time-epochs times K = {', '.join(map(str, TIME_BATCHES))}; "
                         f"drop --batch")
    if not (math.isfinite(args.budget) and args.budget > 0):
        raise UsageError(f"--budget must be a number of seconds > 0, got {args.budget:g}")
    opts = _options(args, {**DEFAULTS, "batch": None})
    ds = _load(args, "digits", opts)
    out = _out_dir(args.out, "train-epoch-times")
    p0 = mlp.init_params(ds.d, opts["hidden"], ds.m, seed=args.seed, dtype=opts["dtype"])
    n_train = ds.X_train.shape[0]

    rows = []
    cells = [(impl, k) for impl in mlp.IMPLEMENTATIONS for k in TIME_BATCHES]
    with tqdm(cells, unit="cell", disable=None, file=sys.stderr) as bar:
        for impl_name, k in bar:
            bar.set_postfix(impl=impl_name, K=k)
            kwargs = {"batch_size": k, "lr": opts["lr"], "l1": opts["l1"], "l2": opts["l2"],
                      "seed": args.seed}
            first = time_epoch(impl_name, p0, ds.X_train, ds.y_train,
                                   budget_s=args.budget, **kwargs)
            samples = [first.seconds]
            spent = first.measured_seconds
            if not first.extrapolated:
                while len(samples) < TIME_REPEATS and spent + first.seconds <= args.budget:
                    t = time_epoch(impl_name, p0, ds.X_train, ds.y_train, **kwargs)
                    samples.append(t.seconds)
                    spent += t.seconds
            if first.extrapolated:
                note = (f"extrapolated from {first.measured_steps} of {first.steps} steps "
                        f"({first.measured_seconds:.3g} s): over the {args.budget:g} s budget")
            else:
                note = (f"median of {len(samples)} epochs" if len(samples) > 1
                        else "one epoch measured")
            rows.append({"impl": impl_name, "batch": k, "steps": first.steps,
                         "seconds": statistics.median(samples),
                         "min_s": min(samples), "max_s": max(samples),
                         "us_per_example": 1e6 * statistics.median(samples) / n_train,
                         "extrapolated": first.extrapolated,
                         "measured_steps": first.measured_steps if first.extrapolated
                         else first.steps * len(samples),
                         "first_step_s": first.first_step_s, "note": note})

    threads = _thread_info()
    where = (f"digits: {n_train} training examples, d={ds.d}, d_h={opts['hidden']}, m={ds.m}, "
             f"{np.dtype(opts['dtype'])}; {threads}")
    write_text(out / "epoch_times.csv", _csv(rows))
    write_text(out / "epoch_times.md", _markdown(rows, where, args.budget))
    write_text(out / "epoch_times.json", json.dumps(
        {"schema": "mlpbench.epoch-times", "schema_version": 1, "setup": where,
         "budget_s": args.budget, "rows": rows}, indent=2, allow_nan=False) + "\n")
    figures.plot_epoch_times(rows, out / "epoch_times.png",
                             title=f"One epoch of minibatch SGD on digits ({n_train} training "
                                   f"examples, d_h={opts['hidden']})",
                             note=where + "; the first (compiling) step is not counted")
    print(_markdown(rows, where, args.budget))
    print(f"wrote epoch_times.csv, epoch_times.md, epoch_times.json, epoch_times.png to {out}/")
    return 0


def _markdown(rows, where: str, budget: float) -> str:
    lines = [f"One epoch of minibatch SGD ({where}).", "",
             "| impl | K | steps | s / epoch | µs / example | first step (s) | how |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        approx = "~" if r["extrapolated"] else ""
        lines.append(f"| {r['impl']} | {r['batch']} | {r['steps']} | {approx}{r['seconds']:.4g} "
                     f"| {approx}{r['us_per_example']:.4g} | {r['first_step_s']:.3g} "
                     f"| {r['note']} |")
    lines += ["", f"Steps only (shuffle, loss_and_grad, update), no evaluation; budget "
                  f"{budget:g} s per row. The first step (numba compiles there) is timed "
                  f"apart. ~ marks an extrapolation."]
    return "\n".join(lines) + "\n"


def _thread_info() -> str:
    import numba
    from threadpoolctl import threadpool_info

    blas = [f"{i.get('internal_api')} {i.get('num_threads')} thread(s)"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    return (f"numba {numba.get_num_threads()} thread(s), layer "
            f"{numba.config.THREADING_LAYER}; BLAS: {', '.join(blas) or 'unknown'}")


# -- options, data and files -----------------------------------------------------------------

def _options(args, defaults) -> dict:
    """Check the numeric options once, fill defaults; return them as a dict."""
    import numpy as np

    from mlpbench import mlp

    def pick(name):
        value = getattr(args, name)
        return defaults.get(name) if value is None else value

    if args.impl not in mlp.IMPLEMENTATIONS:
        raise UsageError(f"unknown implementation {args.impl!r}; "
                         f"choose one of {', '.join(mlp.IMPLEMENTATIONS)}")
    if args.dtype not in ("float32", "float64"):
        raise UsageError(f"--dtype must be float32 or float64, got {args.dtype!r}")
    opts = {"impl": args.impl, "dtype": np.dtype(args.dtype), "hidden": pick("hidden"),
            "lr": pick("lr"), "epochs": pick("epochs"), "l1": pick("l1") or 0.0,
            "l2": pick("l2") or 0.0, "patience": args.patience}
    for name in ("hidden", "epochs"):
        if opts[name] < 1:
            raise UsageError(f"--{name} must be a positive integer, got {opts[name]}")
    if args.patience is not None and args.patience < 1:
        raise UsageError(f"--patience must be a positive number of epochs, got {args.patience}")
    if not (math.isfinite(opts["lr"]) and opts["lr"] > 0):
        raise UsageError(f"--lr must be a number > 0, got {opts['lr']:g}")
    for name in ("l1", "l2"):
        if not (math.isfinite(opts[name]) and opts[name] >= 0):
            raise UsageError(f"--{name} must be a number >= 0, got {opts[name]:g}")
    batch = args.batch if args.batch is not None else defaults.get("batch")
    if batch is None or batch == "full":
        opts["batch"] = None
    else:
        try:
            opts["batch"] = int(batch)
        except ValueError:
            raise UsageError(f"--batch must be a positive integer or 'full', "
                             f"got {batch!r}") from None
        if opts["batch"] < 1:
            raise UsageError(f"--batch must be a positive integer or 'full', got {batch}")
    return opts


def _load(args, name: str, opts, **fractions):
    """Build the data set, turning bad sizes and a missing scikit-learn into UsageError."""
    from mlpbench.mlp import data

    if name not in data.DATASETS:
        raise UsageError(f"unknown data set {name!r}; choose one of {', '.join(data.DATASETS)}")
    kwargs: dict = {"seed": args.seed, "dtype": opts["dtype"], **fractions}
    if args.n is not None:
        if name == "digits":
            raise UsageError("--n does not apply to digits (1797 examples, fixed)")
        if args.n < 10:
            raise UsageError(f"--n must be at least 10 (to split train/validation/test), "
                             f"got {args.n}")
        kwargs["n"] = args.n
    for flag, owner in (("d", "blobs"), ("m", "blobs"), ("noise", "moons")):
        value = getattr(args, flag)
        if value is None:
            continue
        if name != owner:
            raise UsageError(f"--{flag} applies to {owner} only, not to {name}")
        kwargs[flag] = value
    if args.d is not None and args.d < 1:
        raise UsageError(f"--d must be a positive integer, got {args.d}")
    if args.m is not None and args.m < 2:
        raise UsageError(f"--m must be at least 2 classes, got {args.m}")
    if args.noise is not None and not (math.isfinite(args.noise) and args.noise >= 0):
        raise UsageError(f"--noise must be a number >= 0, got {args.noise:g}")
    try:
        ds = data.load(name, **kwargs)
    except data.MissingDependency as exc:
        raise UsageError(str(exc)) from None
    except ValueError as exc:
        raise UsageError(f"--data {name}: {exc}") from None
    opts["data_args"] = {k: v for k, v in kwargs.items() if k != "dtype"}
    return ds


def _check_batch(batch, ds) -> None:
    n = ds.X_train.shape[0]
    if batch is not None and batch > n:
        raise UsageError(f"--batch {batch} is larger than the training set ({n} examples of "
                         f"{ds.name}); use at most {n}, or --batch full")


def _batch_text(batch) -> str:
    return "full" if batch is None else str(batch)


def _out_dir(out: str | None, default_name: str) -> Path:
    path = Path(out) if out else Path("reports") / default_name
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {path} exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the output folder {path}: {exc.strerror}") from None
    return path


def _write_npz(path: Path, arrays: dict) -> None:
    import numpy as np

    write_atomic(path, lambda tmp: np.savez(tmp, **arrays))


def _csv(rows: list[dict]) -> str:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if isinstance(v, float) and not math.isfinite(v) else v)
                         for k, v in r.items()})
    return buf.getvalue()


def _json_value(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item"):
        return v.item()
    return v
