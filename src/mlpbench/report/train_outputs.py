"""What ``mlpbench train`` leaves in its folder: history, parameters, figures, and the
manifest that lets ``--force`` remove exactly those files.

:func:`prepare_train_dir` applies the folder rule (a non-empty folder needs ``force``,
which removes only what an earlier train wrote there: the names listed in its
manifest :data:`MANIFEST`, or :data:`TRAIN_FILES` for a folder older than manifests).
:func:`claim` adds names to the manifest *before* the files are written, so even an
interrupted run's files are known to the next ``--force``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path

from mlpbench.errors import FileError
from mlpbench.files import prepare_out_dir, read_json, write_atomic, write_json, write_text

__all__ = ["MANIFEST", "TRAIN_FILES", "claim", "curves_note", "final_row", "json_value",
           "predictor", "prepare_train_dir", "title", "write_history", "write_params"]

#: The manifest file of a train folder (hidden: a listing shows the results only).
MANIFEST = ".mlpbench-train.json"
_MANIFEST_SCHEMA = "mlpbench.train-files"

#: Every name a train of any mode writes; ``--force`` removes these from a folder that
#: has no manifest (written by a version of mlpbench that kept none).
TRAIN_FILES = ("history.csv", "history.json", "params.npz", "curves.png", "regions.png",
               "sheet.png", "sheet.csv", "sheet.json", "epoch_times.csv", "epoch_times.md",
               "epoch_times.json", "epoch_times.png")


def _cause(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _manifest_names(out: Path) -> list[str] | None:
    """The names listed in ``out``'s manifest; None if it has none (or an unreadable one)."""
    path = out / MANIFEST
    if not path.exists():
        return None
    try:
        doc = read_json(path, "train manifest")
    except FileError:
        return None
    if not isinstance(doc, dict) or doc.get("schema") != _MANIFEST_SCHEMA:
        return None
    files = doc.get("files")
    if not isinstance(files, list):
        return None
    # Plain names only: a manifest never makes --force reach outside the folder.
    return [f for f in files if isinstance(f, str) and f and f == Path(f).name
            and f not in (".", "..")]


def prepare_train_dir(out: str | os.PathLike, force: bool) -> Path:
    """Create the train folder ``out``, or accept it empty; a non-empty one needs ``force``.

    With ``force``, the regular files an earlier train wrote there (its manifest's, or
    the fixed list for a folder without one) are removed, and nothing else. Raises
    UsageError (non-empty without force) or FileError (a file in the way, no permission).
    """
    out = Path(out)
    listed = _manifest_names(out) if out.is_dir() else None
    owned = set(TRAIN_FILES if listed is None else listed) | {MANIFEST}
    return prepare_out_dir(out, force, owned=owned, what="output folder")


def claim(out: Path, names: Iterable[str]) -> None:
    """Add ``names`` to ``out``'s manifest (call before writing those files)."""
    names = list(names)
    listed = _manifest_names(out) or []
    files = list(dict.fromkeys([*listed, *names]))
    write_json(out / MANIFEST, {"schema": _MANIFEST_SCHEMA, "files": files})


def json_value(v):
    """A JSON-ready scalar: numpy scalars as Python ones, non-finite floats as None."""
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def final_row(history) -> dict:
    """The history row of the returned parameters: the best epoch if it was restored."""
    if history.restored_best:
        return next(r for r in history.rows if r["epoch"] == history.best_epoch)
    return history.last


def batch_text(batch) -> str:
    return "full" if batch is None else str(batch)


def title(data: str, opts: dict) -> str:
    """A figure title naming the data set and the training options."""
    return (f"{data}, {opts['impl']}: d_h={opts['hidden']}, lr={opts['lr']:g}, "
            f"K={batch_text(opts['batch'])}, l1={opts['l1']:g}, l2={opts['l2']:g}")


def curves_note(history) -> str:
    """The note under the learning curves: errors of the kept parameters, the stop."""
    final = final_row(history)
    note = (f"parameters kept (epoch {final['epoch']}): test error "
            f"{100 * final['test_error']:.2f}%, validation error {100 * final['val_error']:.2f}%, "
            f"train error {100 * final['train_error']:.2f}%")
    if history.status == "early-stopped":
        note += (f"; early stopping: no lower validation loss for "
                 f"{history.config['patience']} epochs")
    return note


def write_history(out: Path, history, ds, data_args: dict) -> list[str]:
    """``history.csv`` and ``history.json`` (with the data set and, unless the run
    diverged, the kept row as ``final``); returns their names."""
    doc = {
        "schema": "mlpbench.train",
        "schema_version": 1,
        "data": {"name": ds.name, "n_train": int(ds.X_train.shape[0]),
                 "n_val": int(ds.X_val.shape[0]), "n_test": int(ds.X_test.shape[0]),
                 "d": ds.d, "m": ds.m, **data_args},
        **history.as_dict(),
    }
    if history.rows and history.status != "diverged":
        doc["final"] = {k: json_value(v) for k, v in final_row(history).items()}
    names = ["history.csv", "history.json"]
    claim(out, names)
    write_text(out / "history.csv", history.to_csv())
    write_json(out / "history.json", doc, indent=2)
    return names


def write_params(out: Path, params, ds) -> str:
    """``params.npz``: W1, b1, W2, b2 and the standardization (mean, scale)."""
    import numpy as np

    arrays = {**params._asdict(), "mean": ds.mean, "scale": ds.scale}
    claim(out, ["params.npz"])
    write_atomic(out / "params.npz", lambda tmp: np.savez(tmp, **arrays))
    return "params.npz"


def predictor(impl, params, dtype, activation: str = "relu"):
    """``predict(points) -> class indices`` with ``impl``'s forward pass (for the
    decision-region grids), with the hidden ``activation`` the network was trained with."""
    import numpy as np

    def predict(points):
        points = np.ascontiguousarray(points, dtype=dtype)
        return np.argmax(impl.forward(params, points, activation=activation).oa, axis=1)

    return predict


def write_diverged(out: Path, data: str, ds, opts: dict, exc) -> list[str]:
    """The outputs of a run stopped by :class:`mlp.TrainingDiverged` ``exc``: its
    history so far and, if it has rows, the curves up to there. Returns the names."""
    from mlpbench.report import training as figures

    names = write_history(out, exc.history, ds, opts["data_args"])
    if exc.history.rows:
        claim(out, ["curves.png"])
        figures.plot_curves(exc.history.rows, out / "curves.png",
                            title=title(data, opts) + " (diverged)", note=f"stopped: {exc}")
        names.append("curves.png")
    return names


def write_run(out: Path, data: str, ds, opts: dict, params, history) -> list[str]:
    """Everything a finished train writes: history, parameters, learning curves, and
    for 2-D data the decision regions. Returns the names written."""
    from mlpbench import mlp
    from mlpbench.report import training as figures

    names = write_history(out, history, ds, opts["data_args"])
    names.append(write_params(out, params, ds))
    claim(out, ["curves.png"])
    figures.plot_curves(history.rows, out / "curves.png", title=title(data, opts),
                        best_epoch=history.best_epoch, note=curves_note(history))
    names.append("curves.png")
    if ds.d == 2:
        final = final_row(history)
        # The grid is drawn with the numpy forward pass: same numbers, and fast for loops runs.
        predict = predictor(mlp.get("numpy"), params, ds.X_train.dtype,
                            history.config.get("activation", "relu"))
        claim(out, ["regions.png"])
        figures.plot_regions(
            predict, ds.X_train, ds.y_train, out / "regions.png", m=ds.m,
            title=f"{title(data, opts)}\ntest error {100 * final['test_error']:.1f}% "
                  f"(epoch {final['epoch']})")
        names.append("regions.png")
    return names
