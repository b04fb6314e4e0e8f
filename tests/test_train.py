"""Gradient-descent training: same trajectory everywhere, early stopping, divergence."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mlpbench import mlp
from mlpbench.mlp import data
from mlpbench.mlp.train import HISTORY_FIELDS, TrainingDiverged, time_epoch, train


@pytest.fixture(scope="module")
def moons():
    return data.load("moons", n=120, noise=0.25, seed=1)


@pytest.fixture(scope="module")
def blobs():
    return data.load("blobs", n=60, d=3, m=3, seed=2)


def _max_abs_diff(p, q) -> float:
    return max(float(np.max(np.abs(a - b))) for a, b in zip(p, q, strict=True))


def test_numpy_and_numba_follow_the_same_trajectory(moons):
    p0 = mlp.init_params(moons.d, 16, moons.m, seed=3)
    kwargs = {"val": (moons.X_val, moons.y_val), "lr": 0.2, "epochs": 35, "batch_size": 8,
              "l1": 1e-4, "l2": 1e-3, "seed": 7}
    a = train("numpy", p0, moons.X_train, moons.y_train, **kwargs)
    b = train("numba", p0, moons.X_train, moons.y_train, **kwargs)
    assert a.history.last["steps"] == 35 * 9  # 72 examples in batches of 8
    assert _max_abs_diff(a.params, b.params) < 1e-10
    # The parameters did move: the equality is not that of two idle runs.
    assert _max_abs_diff(a.params, p0) > 0.1
    np.testing.assert_allclose(a.history.column("val_loss"), b.history.column("val_loss"),
                               rtol=1e-10)


def test_loops_follows_the_same_trajectory(blobs):
    p0 = mlp.init_params(blobs.d, 5, blobs.m, seed=0)
    kwargs = {"lr": 0.3, "epochs": 6, "batch_size": 9, "l2": 1e-3, "seed": 1}
    a = train("numpy", p0, blobs.X_train, blobs.y_train, **kwargs)
    b = train("loops", p0, blobs.X_train, blobs.y_train, **kwargs)
    assert a.history.last["steps"] == 6 * 4
    assert _max_abs_diff(a.params, b.params) < 1e-10
    assert _max_abs_diff(a.params, p0) > 1e-2


def test_matches_a_hand_written_descent(blobs):
    """Full batch: θ_{t+1} = θ_t − lr·∂R/∂θ(θ_t), through the validated public API."""
    impl = mlp.get("numpy")
    p0 = mlp.init_params(blobs.d, 4, blobs.m, seed=5)
    result = train(impl, p0, blobs.X_train, blobs.y_train, lr=0.5, epochs=5, l1=1e-3, l2=1e-2)
    theta = [a.copy() for a in p0]
    for _ in range(5):
        _, g = impl.loss_and_grad(mlp.Params(*theta), blobs.X_train, blobs.y_train, 1e-3, 1e-2)
        theta = [t - 0.5 * gt for t, gt in zip(theta, g, strict=True)]
    assert _max_abs_diff(result.params, theta) < 1e-12
    assert result.history.last["steps"] == 5


def test_seed_drives_the_shuffling(blobs):
    p0 = mlp.init_params(blobs.d, 6, blobs.m, seed=0)
    run = lambda seed: train("numpy", p0, blobs.X_train, blobs.y_train, lr=0.2,  # noqa: E731
                             epochs=3, batch_size=4, seed=seed).params
    assert _max_abs_diff(run(0), run(0)) == 0.0
    assert _max_abs_diff(run(0), run(1)) > 1e-6


def test_history_rows_and_callers_params_untouched(moons):
    p0 = mlp.init_params(moons.d, 8, moons.m, seed=0)
    copies = [a.copy() for a in p0]
    seen = []
    result = train("numba", p0, moons.X_train, moons.y_train, val=(moons.X_val, moons.y_val),
                   test=(moons.X_test, moons.y_test), lr=0.1, epochs=4, batch_size=50,
                   on_epoch=seen.append)
    for a, b in zip(p0, copies, strict=True):
        np.testing.assert_array_equal(a, b)
    h = result.history
    assert [r["epoch"] for r in h.rows] == [0, 1, 2, 3, 4]
    assert seen == h.rows
    assert [r["steps"] for r in h.rows] == [0, 2, 4, 6, 8]  # 72 examples, K = 50
    assert h.status == "completed" and not h.restored_best
    for row in h.rows:
        assert set(row) == set(HISTORY_FIELDS)
        for split in ("train", "val", "test"):
            assert 0.0 <= row[f"{split}_error"] <= 1.0 and row[f"{split}_loss"] > 0
    # The recorded loss is the mean negative log-likelihood without penalty.
    impl = mlp.get("numpy")
    assert h.rows[0]["test_loss"] == pytest.approx(
        impl.loss(p0, moons.X_test, moons.y_test), rel=1e-12)
    last_pred = np.argmax(impl.forward(result.params, moons.X_val).oa, axis=1)
    assert h.last["val_error"] == pytest.approx(np.mean(last_pred != moons.y_val))
    assert h.last["train_loss"] < h.rows[0]["train_loss"]


def test_history_files_turn_missing_splits_into_blanks(blobs):
    p0 = mlp.init_params(blobs.d, 4, blobs.m, seed=0)
    h = train("numpy", p0, blobs.X_train, blobs.y_train, lr=0.1, epochs=2).history
    doc = json.loads(json.dumps(h.as_dict()))
    assert doc["rows"][1]["val_loss"] is None and doc["rows"][1]["train_loss"] > 0
    assert doc["best_epoch"] is None and doc["status"] == "completed"
    lines = h.to_csv().splitlines()
    assert lines[0].split(",") == list(HISTORY_FIELDS) and len(lines) == 4
    assert lines[2].split(",")[HISTORY_FIELDS.index("test_error")] == ""


def test_early_stopping_restores_the_best_epoch():
    ds = data.load("moons", n=60, noise=0.35, seed=0)
    p0 = mlp.init_params(ds.d, 32, ds.m, seed=0)
    kwargs = {"val": (ds.X_val, ds.y_val), "lr": 0.5, "batch_size": 8, "seed": 0}
    result = train("numpy", p0, ds.X_train, ds.y_train, epochs=200, patience=5, **kwargs)
    h = result.history
    best = h.best_epoch
    assert h.status == "early-stopped" and h.restored_best
    assert 0 < best < h.last["epoch"] == best + 5
    val_losses = h.column("val_loss")
    assert val_losses[best] == val_losses.min()
    # The returned parameters are those after `best` epochs of the same run.
    replay = train("numpy", p0, ds.X_train, ds.y_train, epochs=best, **kwargs)
    assert _max_abs_diff(result.params, replay.params) == 0.0
    assert _max_abs_diff(result.params, train("numpy", p0, ds.X_train, ds.y_train,
                                              epochs=best + 5, **kwargs).params) > 1e-6


def test_early_stopping_can_return_the_initial_parameters(blobs):
    # Validation labels that contradict the training labels: the loss only rises.
    p0 = mlp.init_params(blobs.d, 8, blobs.m, seed=0)
    wrong = (blobs.X_train, (blobs.y_train + 1) % blobs.m)
    result = train("numba", p0, blobs.X_train, blobs.y_train, val=wrong, lr=0.5, epochs=50,
                   patience=3)
    assert result.history.best_epoch == 0 and result.history.last["epoch"] == 3
    assert _max_abs_diff(result.params, p0) == 0.0


@pytest.mark.parametrize("name", ["numpy", "numba", "loops"])
def test_divergence_stops_at_the_first_non_finite_loss(name, blobs):
    p0 = mlp.init_params(blobs.d, 8, blobs.m, seed=0)
    with pytest.raises(TrainingDiverged, match="try a smaller learning rate") as info:
        train(name, p0, blobs.X_train, blobs.y_train, val=(blobs.X_val, blobs.y_val),
              lr=1e20, epochs=30, batch_size=6)
    exc = info.value
    assert not math.isfinite(exc.loss)
    h = exc.history
    assert h.status == "diverged" and h.diverged_at["epoch"] == exc.epoch
    assert 1 <= exc.epoch < 30 and exc.step >= 1
    assert [r["epoch"] for r in h.rows] == list(range(exc.epoch))  # the epochs before it
    assert all(math.isfinite(r["train_loss"]) for r in h.rows)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"lr": 0.0}, ValueError, "lr must be a finite number > 0"),
    ({"lr": float("nan")}, ValueError, "lr must be a finite number > 0"),
    ({"epochs": 0}, ValueError, "epochs must be a positive integer"),
    ({"epochs": 2.5}, TypeError, "epochs must be a positive integer, got float"),
    ({"lr": "0.1"}, TypeError, "lr must be a number > 0, got str"),
    ({"l1": "x"}, TypeError, "l1 must be a real number >= 0, got str"),
    ({"batch_size": 0}, ValueError, "batch_size must be a positive integer"),
    ({"batch_size": 37}, ValueError, r"larger than the training set \(36 examples\)"),
    ({"l2": -1.0}, ValueError, "l2 must be a finite number >= 0"),
    ({"patience": 3}, ValueError, "needs a validation set"),
    ({"val": "X"}, TypeError, r"val must be an \(X, y\) pair"),
])
def test_bad_arguments(blobs, kwargs, error, match):
    p0 = mlp.init_params(blobs.d, 4, blobs.m, seed=0)
    with pytest.raises(error, match=match):
        train("numpy", p0, blobs.X_train, blobs.y_train, **kwargs)


def test_bad_implementation_and_data(blobs):
    p0 = mlp.init_params(blobs.d, 4, blobs.m, seed=0)
    with pytest.raises(ValueError, match="unknown MLP implementation 'fortran'"):
        train("fortran", p0, blobs.X_train, blobs.y_train)
    with pytest.raises(ValueError, match="labels|y"):
        train("numpy", p0, blobs.X_train, blobs.y_train + 5)
    with pytest.raises(TypeError, match="dtype"):
        train("numpy", p0, blobs.X_train, blobs.y_train,
              val=(blobs.X_val.astype(np.float32), blobs.y_val))


def test_float32_training_keeps_float32(blobs):
    p0 = mlp.init_params(blobs.d, 4, blobs.m, seed=0, dtype=np.float32)
    X = blobs.X_train.astype(np.float32)
    result = train("numba", p0, X, blobs.y_train, lr=0.1, epochs=3, batch_size=10)
    assert all(a.dtype == np.float32 for a in result.params)
    assert result.history.last["train_loss"] < result.history.rows[0]["train_loss"]


def test_time_epoch_measures_or_extrapolates(blobs):
    p0 = mlp.init_params(blobs.d, 4, blobs.m, seed=0)
    full = time_epoch("numpy", p0, blobs.X_train, blobs.y_train, batch_size=5)
    assert not full.extrapolated and full.steps == full.measured_steps == 8
    assert full.seconds == full.measured_seconds > 0
    ds = data.load("blobs", n=3000, d=20, m=3, seed=0)
    p1 = mlp.init_params(ds.d, 16, ds.m, seed=0)
    cut = time_epoch("loops", p1, ds.X_train, ds.y_train, batch_size=1, budget_s=0.05)
    assert cut.extrapolated and 3 <= cut.measured_steps < cut.steps == 1800
    assert cut.seconds == pytest.approx(cut.measured_seconds / cut.measured_steps * 1800)
