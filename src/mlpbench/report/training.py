"""Figures of ``mlpbench train``: learning curves, decision regions, epoch times.

Every function takes plain data (history rows as dicts, a ``predict`` callable,
table rows) and writes one PNG atomically; none of them trains anything.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from mlpbench.atomic import write_atomic
from mlpbench.mlp import registry

#: Lines of the three splits, the same in every figure (implementations take their
#: colours from mlp.registry, the same as in the benchmark figures).
SPLIT_STYLE = {
    "train": {"label": "train", "color": "tab:blue", "linestyle": "-"},
    "val": {"label": "validation", "color": "tab:orange", "linestyle": "--"},
    "test": {"label": "test", "color": "tab:green", "linestyle": ":"},
}
#: Highest loss drawn; a diverging run's larger (finite) losses fall off the axis.
LOSS_AXIS_MAX = 1e12


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Write ``fig`` as PNG to ``path`` through a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi))
    finally:
        _pyplot().close(fig)
    return path


def plot_curves(rows: Sequence[dict], path, *, title: str = "", best_epoch: int | None = None,
                note: str = "") -> Path:
    """Error (%) and mean loss per epoch for train/validation/test, side by side.

    ``rows`` are history rows (``epoch``, ``{split}_error``, ``{split}_loss``);
    missing splits (NaN) are left out. The loss axis is logarithmic. The error
    axis is cut at the largest error after epoch 0, so that the initial ~chance
    error does not flatten the rest. ``best_epoch`` draws a vertical line.
    """
    plt = _pyplot()
    epochs = np.array([r["epoch"] for r in rows], dtype=float)
    fig, (ax_err, ax_loss) = plt.subplots(1, 2, figsize=(11, 4.2))
    top = 0.0
    initial = []
    for split, style in SPLIT_STYLE.items():
        err = 100 * np.array([r[f"{split}_error"] for r in rows], dtype=float)
        loss = np.array([r[f"{split}_loss"] for r in rows], dtype=float)
        if np.all(np.isnan(err)):
            continue
        ax_err.plot(epochs, err, **style)
        ax_loss.plot(epochs, np.where(loss > 0, loss, np.nan), **style)
        later = err[epochs > 0]
        if np.any(np.isfinite(later)):
            top = max(top, float(np.nanmax(later)))
        if epochs[0] == 0:
            initial.append(f"{style['label']} {err[0]:.1f}%")
    top = min(100.0, 1.15 * top) if top > 0 else 100.0
    ax_err.set_ylim(0, top)
    off_axis = initial and any(100 * rows[0][f"{s}_error"] > top for s in SPLIT_STYLE)
    ax_err.set_ylabel("error (%)")
    losses = np.array([r[f"{s}_loss"] for r in rows for s in SPLIT_STYLE], dtype=float)
    losses = losses[np.isfinite(losses) & (losses > 0)]
    if losses.size and losses.max() > 10 * losses.min():
        ax_loss.set_yscale("log")
        ax_loss.set_ylabel("mean loss (negative log-likelihood, log scale)")
        if losses.max() > LOSS_AXIS_MAX:  # a diverging run: keep the axis drawable
            ax_loss.set_ylim(losses.min() / 1.5, LOSS_AXIS_MAX)
            ax_loss.set_title(f"losses above {LOSS_AXIS_MAX:.0e} are off the axis", fontsize=8)
    else:
        ax_loss.set_ylabel("mean loss (negative log-likelihood)")
    for ax in (ax_err, ax_loss):
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3, which="both")
        if best_epoch is not None:
            ax.axvline(best_epoch, color="grey", linewidth=1, alpha=0.7)
    handles, labels = ax_err.get_legend_handles_labels()
    if best_epoch is not None:
        handles.append(plt.Line2D([], [], color="grey", linewidth=1))
        labels.append(f"lowest validation loss (epoch {best_epoch})")
    if off_axis:
        handles.append(plt.Line2D([], [], linestyle=""))
        labels.append("epoch 0 (initial), off the axis:\n" + ", ".join(initial))
    ax_err.legend(handles, labels, loc="best", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    note = _wrap(note, 140)
    if note:
        fig.text(0.5, 0.01, note, ha="center", va="bottom", fontsize=8, color="dimgrey")
    fig.tight_layout(rect=(0, 0.03 * (note.count("\n") + 1.5) if note else 0, 1, 1))
    return save_figure(fig, path)


def decision_grid(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray,
                  resolution: int = 200, margin: float = 0.5):
    """Evaluate ``predict`` (rows of 2-D points → labels) on a grid covering ``X``.

    Returns ``(xx, yy, labels)``, each ``resolution × resolution``.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision regions need two-dimensional points, got shape {X.shape}")
    lo = X.min(axis=0) - margin
    hi = X.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    labels = np.asarray(predict(grid)).reshape(xx.shape)
    return xx, yy, labels


def _draw_regions(ax, predict, X, y, m: int, resolution: int) -> None:
    from matplotlib.colors import BoundaryNorm, ListedColormap

    colors = [f"C{k % 10}" for k in range(m)]
    cmap = ListedColormap(colors)
    norm = BoundaryNorm(np.arange(-0.5, m), m)
    xx, yy, labels = decision_grid(predict, X, resolution)
    ax.contourf(xx, yy, labels, levels=np.arange(-0.5, m), cmap=cmap, norm=norm, alpha=0.25)
    ax.contour(xx, yy, labels, levels=np.arange(0.5, m - 0.5 + 1e-9), colors="k",
               linewidths=0.6)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, norm=norm, s=10, edgecolors="k",
               linewidths=0.3)
    ax.set_xlim(xx.min(), xx.max())
    ax.set_ylim(yy.min(), yy.max())


def plot_regions(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, y: np.ndarray,
                 path, *, m: int | None = None, title: str = "",
                 xlabel: str = "feature 1 (standardized)",
                 ylabel: str = "feature 2 (standardized)", resolution: int = 250) -> Path:
    """Decision regions of ``predict`` over the plane, with the points ``(X, y)`` on top."""
    plt = _pyplot()
    y = np.asarray(y)
    m = int(y.max()) + 1 if m is None else m
    fig, ax = plt.subplots(figsize=(6, 5))
    _draw_regions(ax, predict, X, y, m, resolution)
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=f"C{k % 10}",
                          markeredgecolor="k", markeredgewidth=0.3, label=f"class {k}")
               for k in range(m)]
    ax.legend(handles=handles, loc="upper right", fontsize=8, title="training points",
              title_fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_region_sheet(panels: Sequence[Sequence[dict]], X: np.ndarray, y: np.ndarray, path, *,
                      row_labels: Sequence[str], col_labels: Sequence[str],
                      col_groups: Sequence[tuple[str, int]] = (), m: int | None = None,
                      title: str = "", note: str = "", resolution: int = 150) -> Path:
    """A grid of decision-region panels sharing the same training points.

    ``panels[i][j]`` is a dict with ``predict`` (callable) and ``text`` (a short
    caption drawn inside the panel). ``col_groups`` lists ``(label, width)``
    headers spanning consecutive columns (e.g. early stopping off / on).
    """
    plt = _pyplot()
    y = np.asarray(y)
    m = int(y.max()) + 1 if m is None else m
    n_rows, n_cols = len(panels), len(panels[0])
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.3 * n_cols + 0.6, 2.3 * n_rows + 1.0),
                             squeeze=False, sharex=True, sharey=True)
    for i, row in enumerate(panels):
        for j, panel in enumerate(row):
            ax = axes[i][j]
            _draw_regions(ax, panel["predict"], X, y, m, resolution)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.text(0.02, 0.02, panel["text"], transform=ax.transAxes, fontsize=7,
                    va="bottom", ha="left",
                    bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1})
            if i == 0:
                ax.set_title(col_labels[j], fontsize=9)
            if j == 0:
                ax.set_ylabel(row_labels[i], fontsize=9)
    top = 1.0 - (0.75 / (2.3 * n_rows + 1.0))
    fig.tight_layout(rect=(0, 0.03 if note else 0, 1, top))
    start = 0
    for label, width in col_groups:
        left = axes[0][start].get_position().x0
        right = axes[0][start + width - 1].get_position().x1
        y_text = axes[0][start].get_position().y1 + 0.045
        fig.text((left + right) / 2, y_text, label, ha="center", va="bottom", fontsize=10,
                 fontweight="bold")
        fig.add_artist(plt.Line2D([left + 0.01, right - 0.01], [y_text - 0.005] * 2,
                                  color="grey", linewidth=1, transform=fig.transFigure))
        start += width
    if title:
        fig.suptitle(title, fontsize=11, y=0.99)
    if note:
        fig.text(0.5, 0.005, note, ha="center", va="bottom", fontsize=8, color="dimgrey")
    return save_figure(fig, path)


def plot_epoch_times(rows: Sequence[dict], path, *, title: str = "", note: str = "") -> Path:
    """Seconds per epoch for each implementation (bars) and batch size K (groups).

    ``rows`` carry ``impl``, ``batch``, ``seconds`` and ``extrapolated``;
    extrapolated bars are hatched and labelled with a ``~``.
    """
    plt = _pyplot()
    impls = sorted({r["impl"] for r in rows}, key=registry.sort_key)
    batches = sorted({r["batch"] for r in rows})
    width = 0.8 / max(len(impls), 1)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for i, impl in enumerate(impls):
        for j, batch in enumerate(batches):
            match = [r for r in rows if r["impl"] == impl and r["batch"] == batch]
            if not match or not math.isfinite(match[0]["seconds"]):
                continue
            r = match[0]
            x = j + (i - (len(impls) - 1) / 2) * width
            ax.bar(x, r["seconds"], width * 0.95, color=registry.colour(impl),
                   hatch="//" if r["extrapolated"] else None, edgecolor="k", linewidth=0.5)
            text = _seconds_text(r["seconds"])
            # upright labels, one bar wide: neighbours' labels cannot collide
            ax.annotate(("~" if r["extrapolated"] else "") + text, (x, r["seconds"]),
                        xytext=(0, 3), textcoords="offset points", ha="center", va="bottom",
                        fontsize=7, rotation=90)
    ax.set_yscale("log")
    ax.set_xticks(range(len(batches)), [f"K = {b}" for b in batches])
    ax.set_xlabel("minibatch size")
    ax.set_ylabel("seconds per epoch (log scale)")
    ax.grid(True, axis="y", alpha=0.3, which="both")
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=registry.colour(impl), edgecolor="k", linewidth=0.5)
               for i, impl in enumerate(impls)]
    labels = list(impls)
    if any(r["extrapolated"] for r in rows):
        handles.append(Patch(facecolor="white", edgecolor="k", hatch="//"))
        labels.append("extrapolated from a few steps")
    ax.legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    finite = [r["seconds"] for r in rows if math.isfinite(r["seconds"]) and r["seconds"] > 0]
    if finite:   # room above the tallest bar for its upright label
        ax.set_ylim(min(finite) / 2.5, max(finite) * 12)
    if title:
        ax.set_title(title, fontsize=10)
    note = _wrap(note, 120)
    if note:
        fig.text(0.5, 0.01, note, ha="center", va="bottom", fontsize=7, color="dimgrey")
    fig.tight_layout(rect=(0, 0.025 * (note.count("\n") + 1.5) if note else 0, 1, 1))
    return save_figure(fig, path)


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width)) if text else ""


def _seconds_text(s: float) -> str:
    if s >= 1:
        return f"{s:.3g} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"
