"""``mlpbench train``: train the MLP on a data set and write its history and figures.

Three modes: plain training (history CSV/JSON, parameters ``.npz``, learning curves,
decision regions for 2-D data; files in :mod:`mlpbench.report.train_outputs`),
``--sheet`` (a grid of decision regions on two moons, :mod:`mlpbench.report.sheet`)
and ``--time-epochs`` (one epoch per implementation and batch size, a benchmark:
:mod:`mlpbench.harness.epochs`). Options are checked here, with the flag names.
"""

from __future__ import annotations

import math
import statistics
import sys
from pathlib import Path

from mlpbench.commands import common
from mlpbench.errors import InputError, UsageError

#: Defaults of plain training; with them ``--data digits`` reaches under 5 % test error.
DEFAULTS = {"hidden": 64, "lr": 0.1, "epochs": 50, "batch": 32, "l1": 0.0, "l2": 1e-4}


def register(subparsers) -> None:
    from mlpbench.harness import epochs
    from mlpbench.report import sheet

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
    p.add_argument("--impl", default="numba", metavar="NAME",
                   help="one registered implementation (default: numba; `mlpbench info` "
                        f"lists them), or {common.PLUGIN_FORM}")
    p.add_argument("--hidden", type=int, help=f"hidden units d_h (default {DEFAULTS['hidden']})")
    p.add_argument("--lr", type=float, help=f"learning rate (default {DEFAULTS['lr']})")
    p.add_argument("--epochs", type=int,
                   help=f"epochs (default {DEFAULTS['epochs']}; "
                        f"{sheet.DEFAULTS['epochs']} for --sheet)")
    p.add_argument("--batch", help=f"minibatch size K, or 'full' for full-batch gradient "
                                   f"descent (default {DEFAULTS['batch']})")
    p.add_argument("--l1", type=float, help="L1 weight penalty (default 0)")
    p.add_argument("--l2", type=float, help=f"L2 weight decay (default {DEFAULTS['l2']})")
    p.add_argument("--patience", type=int,
                   help="early stopping: stop after this many epochs without a lower validation "
                        "loss and keep the best parameters (default: off; "
                        f"{sheet.DEFAULTS['patience']} in the sheet's 'on' columns)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the data, the split, the initial parameters and the shuffling")
    p.add_argument("--dtype", default="float64", help="float64 (default) or float32")
    common.add_activation(p)
    p.add_argument("--n", type=int, help=f"examples for moons (default 600; {sheet.DEFAULTS['n']} "
                                         "for --sheet) and blobs (default 1000)")
    p.add_argument("--d", type=int, help="blobs: input dimension (default 2)")
    p.add_argument("--m", type=int, help="blobs: number of classes (default 3)")
    p.add_argument("--noise", type=float, help="moons: noise standard deviation (default 0.2; "
                                               f"{sheet.DEFAULTS['noise']} for --sheet)")
    common.add_out_dir(p, help="output folder (default reports/train-DATA-IMPL/, "
                               "reports/train-moons-sheet/ or reports/train-epoch-times/)",
                       force_help="write into a non-empty --out, removing the files an "
                                  "earlier train wrote there (other files stay)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--sheet", action="store_true",
                      help="decision-region grid on two moons: hidden sizes × weight decays, "
                           "early stopping off and on")
    mode.add_argument("--time-epochs", action="store_true",
                      help="time one epoch on digits for every implementation at K = "
                           f"{', '.join(map(str, epochs.BATCHES))}")
    p.add_argument("--budget", type=float, default=epochs.BUDGET_S,
                   help="--time-epochs: seconds allowed per (implementation, K); slower epochs "
                        f"are extrapolated from a few steps (default {epochs.BUDGET_S:g})")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.activation is not None:
        from mlpbench.mlp.validation import check_activation

        check_activation(args.activation)
    if args.activation is not None and (args.time_epochs or args.sheet):
        raise UsageError("--activation applies to plain training; --sheet and --time-epochs "
                         "train ReLU networks")
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
    from mlpbench.report import train_outputs as outputs

    opts = _options(args, DEFAULTS)
    data = args.data or "digits"
    ds = _load(args, data, opts)
    impl = mlp.get(opts["impl"])
    _check_batch(opts["batch"], ds)
    out = outputs.prepare_train_dir(_out(args, f"train-{data}-{opts['impl']}"), args.force)
    p0 = mlp.init_params(ds.d, opts["hidden"], ds.m, seed=args.seed, dtype=opts["dtype"])

    print(f"training on {data}: {ds.X_train.shape[0]} train / {ds.X_val.shape[0]} validation / "
          f"{ds.X_test.shape[0]} test, d={ds.d}, m={ds.m}, d_h={opts['hidden']}, "
          f"impl={opts['impl']}, lr={opts['lr']:g}, K={outputs.batch_text(opts['batch'])}, "
          f"l1={opts['l1']:g}, l2={opts['l2']:g}, epochs={opts['epochs']}"
          + (f", activation={args.activation}" if args.activation else ""))
    bar = tqdm(total=opts["epochs"], unit="epoch", disable=True if args.no_progress else None,
               file=sys.stderr, dynamic_ncols=True)

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
                patience=opts["patience"], seed=args.seed, on_epoch=on_epoch,
                activation=args.activation or "relu")
        finally:
            bar.close()
    except TrainingDiverged as exc:
        outputs.write_diverged(out, data, ds, opts, exc)
        print(f"mlpbench train: error: {exc}; the history so far is in {out}/", file=sys.stderr)
        return 1

    written = outputs.write_run(out, data, ds, opts, params, history)
    final = outputs.final_row(history)
    seconds = [r["seconds"] for r in history.rows if r["epoch"] > 0]
    print(f"{history.status} after epoch {history.last['epoch']}"
          + (f"; restored the best epoch {history.best_epoch}" if history.restored_best else "")
          + f": test error {100 * final['test_error']:.2f}%, test loss {final['test_loss']:.4f}; "
          f"median {statistics.median(seconds):.4g} s per epoch "
          f"(the first, with any JIT compilation: {seconds[0]:.4g} s)")
    print(f"wrote {', '.join(written)} to {out}/")
    return 0


def _epoch_line(row) -> str:
    parts = [f"epoch {row['epoch']:4d}"]
    for split in ("train", "val", "test"):
        err, loss = row[f"{split}_error"], row[f"{split}_loss"]
        if not math.isnan(err):
            loss_text = f"{loss:.4f}" if abs(loss) < 1e4 else f"{loss:.3e}"
            parts.append(f"{split} err {100 * err:6.2f}% loss {loss_text}")
    return " | ".join(parts) + f" | {row['seconds']:.3g} s"


# -- decision-region sheet ----------------------------------------------------------------

def _sheet(args) -> int:
    from mlpbench.report import sheet, train_outputs

    if args.data not in (None, "moons"):
        raise UsageError(f"--sheet draws decision regions on two moons; drop --data {args.data} "
                         f"or use --data moons")
    if args.hidden is not None:
        raise UsageError(f"--sheet trains d_h = {', '.join(map(str, sheet.HIDDEN))}; "
                         f"drop --hidden")
    if args.l2 is not None:
        raise UsageError(f"--sheet trains l2 = {', '.join(map(str, sheet.L2))}; drop --l2")
    opts = _options(args, {**DEFAULTS, "epochs": sheet.DEFAULTS["epochs"]})
    patience = opts["patience"] or sheet.DEFAULTS["patience"]
    if args.n is None:
        args.n = sheet.DEFAULTS["n"]
    if args.noise is None:
        args.noise = sheet.DEFAULTS["noise"]
    ds = _load(args, "moons", opts, val=sheet.DEFAULTS["val"], test=sheet.DEFAULTS["test"])
    _check_batch(opts["batch"], ds)
    out = train_outputs.prepare_train_dir(_out(args, "train-moons-sheet"), args.force)
    written = sheet.train_sheet(ds, opts, patience=patience, seed=args.seed, noise=args.noise,
                                out=out, progress=not args.no_progress)
    print(f"wrote {', '.join(written)} to {out}/")
    return 0


# -- epoch timing ---------------------------------------------------------------------------

def _time_epochs(args) -> int:
    import numpy as np

    from mlpbench import mlp
    from mlpbench.checks import check_positive
    from mlpbench.harness import epochs
    from mlpbench.report import train_outputs
    from mlpbench.report import training as figures

    if args.data not in (None, "digits"):
        raise UsageError(f"--time-epochs times digits; drop --data {args.data}")
    if args.batch is not None:
        raise UsageError(f"--time-epochs times K = {', '.join(map(str, epochs.BATCHES))}; "
                         f"drop --batch")
    budget = check_positive("--budget", args.budget)
    opts = _options(args, {**DEFAULTS, "batch": None})
    ds = _load(args, "digits", opts)
    out = train_outputs.prepare_train_dir(_out(args, "train-epoch-times"), args.force)
    p0 = mlp.init_params(ds.d, opts["hidden"], ds.m, seed=args.seed, dtype=opts["dtype"])
    n_train = ds.X_train.shape[0]

    rows = epochs.time_epochs(mlp.IMPLEMENTATIONS, p0, ds.X_train, ds.y_train,
                              budget_s=budget, lr=opts["lr"], l1=opts["l1"], l2=opts["l2"],
                              seed=args.seed, progress=not args.no_progress)
    where = (f"digits: {n_train} training examples, d={ds.d}, d_h={opts['hidden']}, m={ds.m}, "
             f"{np.dtype(opts['dtype'])}; {epochs.thread_info()}")
    train_outputs.claim(out, [*epochs.FILES, "epoch_times.png"])
    written = epochs.write_tables(out, rows, where, budget)
    figures.plot_epoch_times(rows, out / "epoch_times.png",
                             title=f"One epoch of minibatch SGD on digits ({n_train} training "
                                   f"examples, d_h={opts['hidden']})",
                             note=where + "; the first (compiling) step is not counted")
    print(epochs.markdown(rows, where, budget))
    print(f"wrote {', '.join([*written, 'epoch_times.png'])} to {out}/")
    return 0


# -- options and data -----------------------------------------------------------------------

def _options(args, defaults) -> dict:
    """Check the numeric options once, fill defaults; return them as a dict."""
    from mlpbench.checks import (
        check_dtype,
        check_penalty,
        check_positive,
        check_positive_int,
    )

    def pick(name):
        value = getattr(args, name)
        return defaults.get(name) if value is None else value

    opts = {"impl": common.one_implementation(args.impl),
            "dtype": check_dtype("--dtype", args.dtype),
            "hidden": check_positive_int("--hidden", pick("hidden")),
            "epochs": check_positive_int("--epochs", pick("epochs")),
            "lr": check_positive("--lr", pick("lr")),
            "l1": check_penalty("--l1", pick("l1") or 0.0),
            "l2": check_penalty("--l2", pick("l2") or 0.0),
            "patience": None if args.patience is None
            else check_positive_int("--patience", args.patience)}
    if args.seed < 0:
        raise UsageError(f"--seed must be an integer >= 0, got {args.seed}")
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
    """Build the data set; options that do not apply to it are refused by name."""
    from mlpbench.checks import check_choice
    from mlpbench.mlp import data

    check_choice("data set", name, data.DATASETS)
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
    _check_memory(name, kwargs.get("n"), kwargs.get("d"), kwargs.get("m"), opts)
    try:
        ds = data.load(name, **kwargs)
    except InputError as exc:  # name the option: the library names its argument
        raise type(exc)(f"--data {name}: {exc}") from None
    opts["data_args"] = {k: v for k, v in kwargs.items() if k != "dtype"}
    return ds


def _check_memory(name: str, n, d, m, opts) -> None:
    """Refuse sizes that cannot fit before anything is allocated (one line, exit 2)."""
    from mlpbench.harness import memory
    from mlpbench.harness.machine import available_memory_bytes

    n = n or 2000
    d = d or {"moons": 2, "digits": 64, "blobs": 2}.get(name, 64)
    m = m or 10
    hidden = opts.get("hidden") or 1
    need = memory.point_bytes(opts.get("impl", "numpy"), "step", n, d, hidden, m,
                              str(opts.get("dtype", "float64")))
    short = memory.too_big(need, available_memory_bytes())
    if short:
        raise UsageError(f"--data {name} with n={n}, d={d}, --hidden {hidden} cannot fit: "
                         f"{short}; give smaller sizes")


def _check_batch(batch, ds) -> None:
    n = ds.X_train.shape[0]
    if batch is not None and batch > n:
        raise UsageError(f"--batch {batch} is larger than the training set ({n} examples of "
                         f"{ds.name}); use at most {n}, or --batch full")


def _out(args, default_name: str) -> Path:
    return args.out if args.out is not None else Path("reports") / default_name
