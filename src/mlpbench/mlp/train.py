"""Training the MLP by gradient descent (spec 2.#6): full batch or minibatch SGD.

:func:`train` runs ``θ ← θ − lr·∂R/∂θ`` with any implementation, records a
per-epoch :class:`History` (error and mean loss on train/validation/test,
seconds), stops early on the validation loss if asked, and raises
:class:`TrainingDiverged` at the first non-finite loss. :func:`time_epoch`
times one epoch of the same loop, within a time budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from mlpbench.checks import check_penalty, check_positive, check_positive_int
from mlpbench.errors import InputError, InputTypeError
from mlpbench.mlp.params import empty_like
from mlpbench.mlp.registry import takes_out

#: Columns of a history row, in the order of the CSV file.
HISTORY_FIELDS = (
    "epoch",        # 0 is the initial parameters, before any step
    "steps",        # gradient steps taken so far
    "seconds",      # wall time of this epoch's steps (evaluation excluded)
    "step_risk",    # mean of the regularized risk R over this epoch's minibatches
    "train_error", "train_loss",
    "val_error", "val_loss",
    "test_error", "test_loss",
)

#: Splits evaluated after each epoch, in this order.
SPLITS = ("train", "val", "test")

#: Probe steps :func:`time_epoch` times before deciding to finish or extrapolate.
PROBE_STEPS = 3
#: ... and the least probe time (seconds), so that fast steps are not judged on noise.
PROBE_SECONDS = 0.2


@dataclass
class History:
    """What happened during training, one row per epoch (row 0: before training).

    ``rows`` are dicts with the keys :data:`HISTORY_FIELDS`; errors are fractions
    in [0, 1], losses the mean negative log-likelihood (2.#4, no penalty), NaN for
    a split that was not given. ``status`` is ``"completed"``, ``"early-stopped"``
    or ``"diverged"``; ``best_epoch`` is the epoch of the lowest validation loss
    (None without a validation set); ``diverged_at`` says where the loss stopped
    being finite.
    """

    config: dict[str, Any]
    rows: list[dict[str, float]] = field(default_factory=list)
    status: str = "running"
    best_epoch: int | None = None
    restored_best: bool = False
    diverged_at: dict[str, Any] | None = None

    def column(self, name: str) -> np.ndarray:
        """One column of the history as a float array (NaN where missing)."""
        if name not in HISTORY_FIELDS:
            raise KeyError(f"unknown history column {name!r}; expected one of {HISTORY_FIELDS}")
        return np.array([row[name] for row in self.rows], dtype=np.float64)

    @property
    def last(self) -> dict[str, float] | None:
        return self.rows[-1] if self.rows else None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (non-finite numbers become None)."""
        return {
            "config": self.config,
            "status": self.status,
            "best_epoch": self.best_epoch,
            "restored_best": self.restored_best,
            "diverged_at": self.diverged_at,
            "fields": list(HISTORY_FIELDS),
            "rows": [{k: _json_number(row[k]) for k in HISTORY_FIELDS} for row in self.rows],
        }

    def to_csv(self) -> str:
        """The rows as CSV text with a header line; missing values are empty."""
        lines = [",".join(HISTORY_FIELDS)]
        for row in self.rows:
            lines.append(",".join(_csv_number(row[k]) for k in HISTORY_FIELDS))
        return "\n".join(lines) + "\n"


class TrainResult(NamedTuple):
    """The trained parameters (an ``mlp.Params``) and the :class:`History`."""

    params: Any
    history: History


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; ``history`` holds the epochs before it.

    ``epoch`` and ``step`` (1-based, within the epoch; 0 for the end-of-epoch
    evaluation) say where, ``loss`` is the offending value.
    """

    def __init__(self, message: str, history: History, epoch: int, step: int, loss: float):
        super().__init__(message)
        self.history = history
        self.epoch = epoch
        self.step = step
        self.loss = loss


class EpochTiming(NamedTuple):
    """One epoch timed by :func:`time_epoch`.

    ``seconds`` is measured when ``extrapolated`` is False, otherwise predicted
    from ``measured_steps`` steps that took ``measured_seconds``. ``first_step_s``
    is the untimed warm-up step (for numba it includes compilation).
    """

    seconds: float
    steps: int
    measured_steps: int
    measured_seconds: float
    extrapolated: bool
    first_step_s: float


class _NonFinite(Exception):
    def __init__(self, step: int, loss: float):
        self.step = step
        self.loss = loss


def train(impl, params, X, y, *, val=None, test=None, lr: float = 0.1, epochs: int = 50,
          batch_size: int | None = None, l1: float = 0.0, l2: float = 0.0,
          patience: int | None = None, seed: int = 0,
          on_epoch: Callable[[dict[str, float]], None] | None = None,
          activation: str = "relu") -> TrainResult:
    """Train by gradient descent on ``(X, y)``; return the parameters and the history.

    Each step computes ``R, g = loss_and_grad(θ, X_B, y_B, l1, l2)`` on a minibatch
    ``B`` and updates ``θ ← θ − lr·g`` (spec 2.#6). ``batch_size=None`` is full-batch
    gradient descent; otherwise each epoch shuffles the training set with a
    generator seeded by ``seed`` and walks it in batches of ``batch_size`` (the
    last one may be smaller). The same ``seed`` gives the same trajectory with
    every implementation.

    Parameters
    ----------
    impl : str or implementation
        ``"loops"``, ``"numpy"``, ``"numba"`` or an object from ``mlp.get``.
    params : mlp.Params
        Initial parameters; never modified (training works on a copy).
    X, y : (n, d) floats, (n,) integer labels in [0, m)
        The training set.
    val, test : (X, y) pairs, optional
        Evaluated after every epoch; early stopping watches ``val``.
    patience : int, optional
        Stop after ``patience`` epochs without a lower validation loss and
        return the parameters of the best epoch. None trains all ``epochs``.
    on_epoch : callable, optional
        Called with each history row as soon as it is recorded (epoch 0 first).
    activation : str
        The hidden units' activation: ``"relu"`` (the default), ``"tanh"``,
        ``"sigmoid"`` or ``"softplus"`` (docs/math.md#hidden-activations).

    Raises
    ------
    TrainingDiverged
        At the first NaN or infinite loss; it carries the history so far.
    mlpbench.errors.InputError, InputTypeError
        For bad arguments, before any step: a ``ValueError`` for a wrong value, a
        ``TypeError`` for the wrong kind of object.
    """
    from mlpbench import mlp

    impl, impl_name = _resolve(impl)
    p, X, y = mlp.check_inputs(params, X, y)
    sets = {"train": (X, y)}
    for name, pair in (("val", val), ("test", test)):
        if pair is not None:
            sets[name] = _check_split(name, pair, p, X.dtype)
    n = X.shape[0]
    lr = check_positive("lr", lr)
    l1 = check_penalty("l1", l1)
    l2 = check_penalty("l2", l2)
    epochs = check_positive_int("epochs", epochs)
    batch = n if batch_size is None else check_positive_int("batch_size", batch_size)
    if batch > n:
        raise InputError(f"batch_size ({batch}) is larger than the training set ({n} examples); "
                         f"use at most {n}, or None for full-batch gradient descent")
    if patience is not None:
        patience = check_positive_int("patience", patience)
        if "val" not in sets:
            raise InputError("early stopping (patience) needs a validation set: pass val=(X, y)")

    raw = _with_activation(impl, activation)
    p = mlp.Params(*(np.array(a, copy=True) for a in p))
    rng = np.random.default_rng(seed)
    history = History(config={
        "impl": impl_name,
        "lr": lr, "epochs": epochs, "batch_size": None if batch_size is None else batch,
        "l1": l1, "l2": l2, "patience": patience, "seed": seed, "activation": activation,
        "n_train": n, "d": X.shape[1], "d_h": p.W1.shape[0], "m": p.W2.shape[0],
        "dtype": str(X.dtype)})

    def record(row: dict[str, float]) -> None:
        history.rows.append(row)
        if on_epoch is not None:
            on_epoch(row)

    best_loss = math.inf
    best_params = None
    steps = 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for epoch in range(epochs + 1):
            if epoch == 0:
                seconds, step_risk = 0.0, math.nan
            else:
                start = time.perf_counter()
                try:
                    risk_sum, done = _run_epoch(raw, p, X, y, batch, lr, l1, l2, rng)
                except _NonFinite as exc:
                    history.status = "diverged"
                    history.diverged_at = {"epoch": epoch, "step": exc.step,
                                           "loss": repr(exc.loss)}
                    raise TrainingDiverged(
                        f"the loss became {exc.loss} at epoch {epoch}, step {exc.step} "
                        f"(lr={lr:g}); try a smaller learning rate",
                        history, epoch, exc.step, exc.loss) from None
                seconds = time.perf_counter() - start
                steps += done
                step_risk = risk_sum / done
            row = {"epoch": epoch, "steps": steps, "seconds": seconds, "step_risk": step_risk}
            for name in SPLITS:
                err, loss = _evaluate(raw, p, *sets[name]) if name in sets else (math.nan,) * 2
                row[f"{name}_error"], row[f"{name}_loss"] = err, loss
            bad = [name for name in sets if not math.isfinite(row[f"{name}_loss"])]
            if bad:
                record(row)
                history.status = "diverged"
                loss = row[f"{bad[0]}_loss"]
                history.diverged_at = {"epoch": epoch, "step": 0, "loss": repr(loss)}
                raise TrainingDiverged(
                    f"the {bad[0]} loss became {loss} after epoch {epoch} (lr={lr:g}); "
                    f"try a smaller learning rate", history, epoch, 0, loss)
            record(row)
            if "val" in sets:
                if row["val_loss"] < best_loss:
                    best_loss = row["val_loss"]
                    history.best_epoch = epoch
                    if patience is not None:
                        best_params = [a.copy() for a in p]
                elif patience is not None and epoch - history.best_epoch >= patience:
                    history.status = "early-stopped"
                    break

    if history.status == "running":
        history.status = "completed"
    if best_params is not None and history.best_epoch != history.last["epoch"]:
        p = mlp.Params(*best_params)
        history.restored_best = True
    return TrainResult(p, history)


def time_epoch(impl, params, X, y, *, batch_size: int, lr: float = 0.01, l1: float = 0.0,
               l2: float = 0.0, seed: int = 0, budget_s: float | None = None,
               activation: str = "relu") -> EpochTiming:
    """Time one epoch of :func:`train`'s loop (steps only, no evaluation).

    One warm-up step runs first and is not counted (numba compiles there). Then
    the epoch runs. With a ``budget_s``, after :data:`PROBE_STEPS` steps (and at
    least :data:`PROBE_SECONDS`, or a quarter of the budget if less) the epoch
    time is predicted; if the prediction exceeds the budget, or the epoch
    outlasts it anyway, the run stops and extrapolates from the steps measured:
    ``seconds = seconds per step × steps per epoch``.
    """
    from mlpbench import mlp

    impl, _ = _resolve(impl)
    p, X, y = mlp.check_inputs(params, X, y)
    n = X.shape[0]
    batch = check_positive_int("batch_size", batch_size)
    if batch > n:
        raise InputError(f"batch_size ({batch}) is larger than the training set ({n} examples)")
    lr = check_positive("lr", lr)
    l1 = check_penalty("l1", l1)
    l2 = check_penalty("l2", l2)
    if budget_s is not None:
        budget_s = check_positive("budget_s", budget_s)
    raw = _with_activation(impl, activation)
    p = mlp.Params(*(np.array(a, copy=True) for a in p))
    rng = np.random.default_rng(seed)
    total = -(-n // batch)

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        start = time.perf_counter()
        try:
            _run_epoch(raw, p, X[:batch], y[:batch], batch, lr, l1, l2, rng)
        except _NonFinite as exc:
            raise InputError(f"the loss is {exc.loss} at the initial parameters") from None
        first = time.perf_counter() - start

        probed = False

        def stop(done: int, elapsed: float) -> bool:
            # Predict once, after the probe; past the budget, stop whatever was predicted.
            nonlocal probed
            if budget_s is None:
                return False
            if elapsed > budget_s:
                return True
            if probed or done < PROBE_STEPS or elapsed < min(PROBE_SECONDS, budget_s / 4):
                return False
            probed = True
            return elapsed / done * total > budget_s

        start = time.perf_counter()
        try:
            _, done = _run_epoch(raw, p, X, y, batch, lr, l1, l2, rng, stop=stop)
        except _NonFinite as exc:
            raise InputError(f"the loss became {exc.loss} while timing (lr={lr:g}); "
                             f"use a smaller learning rate") from None
        elapsed = time.perf_counter() - start
    if done == total:
        return EpochTiming(elapsed, total, done, elapsed, False, first)
    return EpochTiming(elapsed / done * total, total, done, elapsed, True, first)


def _run_epoch(raw, p, X, y, batch: int, lr: float, l1: float, l2: float, rng,
               stop: Callable[[int, float], bool] | None = None) -> tuple[float, int]:
    """One pass over ``(X, y)`` in shuffled minibatches; updates ``p`` in place.

    Returns the sum of the minibatch risks and the number of steps. Raises
    :class:`_NonFinite` at the first NaN/inf risk, before using its gradient.
    """
    n = X.shape[0]
    if batch < n:
        order = rng.permutation(n)
        X, y = X[order], y[order]  # one gather per epoch; the batches are contiguous slices
    # Gradient buffers reused by every step where the implementation can write into them.
    kwargs = {"out": empty_like(p)} if takes_out(raw.loss_and_grad) else {}
    risk_sum = 0.0
    steps = 0
    start = time.perf_counter()
    for lo in range(0, n, batch):
        risk, g = raw.loss_and_grad(p, X[lo:lo + batch], y[lo:lo + batch], l1=l1, l2=l2,
                                    **kwargs)
        steps += 1
        if not math.isfinite(risk):
            raise _NonFinite(steps, risk)
        risk_sum += risk
        # 2.#6: θ ← θ − lr·g. g is this step's own output (or the reused buffers), so it
        # is scaled in place; both updates allocate nothing.
        for theta, grad in zip(p, g, strict=True):
            grad *= lr
            theta -= grad
        if stop is not None and stop(steps, time.perf_counter() - start):
            break
    return risk_sum, steps


def _evaluate(raw, p, X, y) -> tuple[float, float]:
    """Error rate and mean negative log-likelihood (2.#4) of ``p`` on ``(X, y)``."""
    oa = np.asarray(raw.forward(p, X).oa, dtype=np.float64)
    error = float(np.mean(np.argmax(oa, axis=1) != y))
    top = oa.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(oa - top).sum(axis=1))
    loss = float(np.mean(lse - oa[np.arange(y.size), y]))
    return error, loss


def _with_activation(impl, activation: str):
    """``impl.raw``, or for an activation other than ReLU a view of it whose
    ``loss_and_grad`` and ``forward`` compute with that activation (checked here, once:
    InputError for an unknown one or an implementation without the keyword)."""
    import functools
    import types

    from mlpbench.mlp.registry import activation_kwargs

    raw = impl.raw
    step = activation_kwargs(raw.loss_and_grad, activation, impl.name)
    fwd = activation_kwargs(raw.forward, activation, impl.name)
    if not step:
        return raw
    # Keep the signature's ``out`` visible (takes_out looks for it) by wrapping with partial.
    return types.SimpleNamespace(loss_and_grad=functools.partial(raw.loss_and_grad, **step),
                                 forward=functools.partial(raw.forward, **fwd))


def _resolve(impl):
    """``(implementation, its name)`` from a name or an object returned by ``mlp.get``."""
    from mlpbench import mlp

    if isinstance(impl, str):
        return mlp.get(impl), impl
    if not hasattr(impl, "raw"):
        raise InputTypeError(f"impl must be a name from mlp.IMPLEMENTATIONS or an object from "
                        f"mlp.get, got {type(impl).__name__}")
    name = getattr(impl, "name", None) or getattr(impl, "__name__", type(impl).__name__)
    return impl, str(name).rsplit(".", 1)[-1]


def _check_split(name: str, pair, p, dtype):
    from mlpbench import mlp

    try:
        X_s, y_s = pair
    except (TypeError, ValueError):
        raise InputTypeError(f"{name} must be an (X, y) pair") from None
    _, X_s, y_s = mlp.check_inputs(p, X_s, y_s)
    if X_s.dtype != dtype:
        raise InputTypeError(f"{name} X has dtype {X_s.dtype} but the training X has {dtype}; "
                        f"use one float dtype")
    return X_s, y_s


def _json_number(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _csv_number(x) -> str:
    if isinstance(x, float):
        return repr(x) if math.isfinite(x) else ""
    return str(x)
