"""The decision-region sheet: one trained MLP per (hidden size, weight decay, early
stopping off/on) on two moons, drawn as one grid (``mlpbench train --sheet``).

Rows are hidden sizes :data:`HIDDEN`, columns weight decays :data:`L2`, once without
and once with early stopping, on a noisy two-moons set whose training split is small
(30 %, to invite overfitting) and whose validation and test splits are large enough
for their errors to mean something (:data:`DEFAULTS`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from mlpbench.errors import InputError
from mlpbench.files import write_csv, write_json
from mlpbench.report import train_outputs

__all__ = ["DEFAULTS", "FILES", "HIDDEN", "L2", "train_sheet"]

HIDDEN = (2, 8, 64)
L2 = (0.0, 1e-3, 1e-2)
DEFAULTS = {"n": 400, "noise": 0.3, "epochs": 400, "patience": 25, "val": 0.25, "test": 0.45}

#: The files :func:`train_sheet` writes.
FILES = ("sheet.png", "sheet.csv", "sheet.json")

_KEPT = ("train_error", "val_error", "test_error", "train_loss", "val_loss", "test_loss")


def train_sheet(ds, opts: dict, *, patience: int, seed: int, noise: float, out: Path,
                progress: bool = True) -> list[str]:
    """Train the :data:`HIDDEN` × :data:`L2` × {off, on} grid on ``ds`` and write
    :data:`FILES` into ``out``; returns their names.

    ``opts`` holds impl, dtype, lr, epochs, batch (None: full batch), l1 and data_args
    (recorded in sheet.json). A run that diverges is an InputError naming its cell.
    """
    import numpy as np
    from tqdm import tqdm

    from mlpbench import mlp
    from mlpbench.mlp.train import TrainingDiverged, train
    from mlpbench.report import training as figures

    impl = mlp.get(opts["impl"])
    numpy_impl = mlp.get("numpy")
    columns = [(False, l2) for l2 in L2] + [(True, l2) for l2 in L2]
    panels, rows = [], []
    with tqdm(total=len(HIDDEN) * len(columns), unit="run",
              disable=None if progress else True, file=sys.stderr) as bar:
        for d_h in HIDDEN:
            row_panels = []
            p0 = mlp.init_params(ds.d, d_h, ds.m, seed=seed, dtype=opts["dtype"])
            for early, l2 in columns:
                try:
                    params, history = train(
                        impl, p0, ds.X_train, ds.y_train, val=(ds.X_val, ds.y_val),
                        test=(ds.X_test, ds.y_test), lr=opts["lr"], epochs=opts["epochs"],
                        batch_size=opts["batch"], l1=opts["l1"], l2=l2,
                        patience=patience if early else None, seed=seed)
                except TrainingDiverged as exc:
                    raise InputError(f"d_h={d_h}, l2={l2:g}: {exc}") from None
                final = train_outputs.final_row(history)
                rows.append({"d_h": d_h, "l2": l2, "early_stopping": early,
                             "epoch": final["epoch"], "status": history.status,
                             **{k: final[k] for k in _KEPT}})
                text = (f"train {100 * final['train_error']:.1f}%  "
                        f"test {100 * final['test_error']:.1f}%")
                if early:
                    text += f"\nkept epoch {final['epoch']}"
                row_panels.append({"predict": train_outputs.predictor(
                    numpy_impl, params, ds.X_train.dtype), "text": text})
                bar.update(1)
            panels.append(row_panels)

    train_outputs.claim(out, FILES)
    batch = train_outputs.batch_text(opts["batch"])
    figures.plot_region_sheet(
        panels, ds.X_train, ds.y_train, out / "sheet.png",
        row_labels=[f"d_h = {d_h}" for d_h in HIDDEN],
        col_labels=[f"l2 = {l2:g}" for _, l2 in columns],
        col_groups=[(f"early stopping off ({opts['epochs']} epochs)", len(L2)),
                    (f"early stopping on (patience {patience})", len(L2))],
        m=ds.m,
        title=(f"Decision regions on two moons, {opts['impl']}: {ds.X_train.shape[0]} training "
               f"points (shown), {ds.X_val.shape[0]} validation, {ds.X_test.shape[0]} test; "
               f"noise {noise:g}"),
        note=(f"lr={opts['lr']:g}, K={batch}, l1={opts['l1']:g}, "
              f"seed={seed}; errors in the corner are of the parameters kept"))
    header = list(rows[0])
    write_csv(out / "sheet.csv", ([r[k] for k in header] for r in rows), header)
    write_json(out / "sheet.json",
               {"schema": "mlpbench.train-sheet", "schema_version": 1,
                "config": {"impl": opts["impl"], "lr": opts["lr"], "epochs": opts["epochs"],
                           "batch_size": opts["batch"], "l1": opts["l1"], "patience": patience,
                           "seed": seed, "dtype": str(np.dtype(opts["dtype"])),
                           **opts["data_args"]},
                "runs": [{k: train_outputs.json_value(v) for k, v in r.items()} for r in rows]},
               indent=2)
    return list(FILES)
