"""Data sets: shapes, determinism, splits, standardization with training statistics only."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from mlpbench.mlp import data


def test_moons_shapes_and_balance():
    X, y = data.make_moons(101, noise=0.1, seed=3)
    assert X.shape == (101, 2) and X.dtype == np.float64
    assert y.dtype == np.int64 and set(np.unique(y)) == {0, 1}
    assert abs(int(np.sum(y == 0)) - int(np.sum(y == 1))) <= 1


def test_moons_without_noise_lie_on_the_half_circles():
    X, y = data.make_moons(200, noise=0.0, seed=0)
    outer, inner = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(outer[:, 0], outer[:, 1]), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.hypot(1.0 - inner[:, 0], 0.5 - inner[:, 1]), 1.0, rtol=1e-12)
    assert np.all(outer[:, 1] >= 0) and np.all(inner[:, 1] <= 0.5)


def test_blobs_shapes_any_size():
    X, y = data.make_blobs(50, d=7, m=4, seed=1)
    assert X.shape == (50, 7)
    assert set(np.unique(y)) == {0, 1, 2, 3}
    assert np.bincount(y).min() >= 12


@pytest.mark.parametrize("name, kwargs", [("moons", {"n": 100}),
                                          ("blobs", {"n": 90, "d": 5, "m": 3})])
def test_load_is_deterministic_and_seeded(name, kwargs):
    a = data.load(name, seed=4, **kwargs)
    b = data.load(name, seed=4, **kwargs)
    c = data.load(name, seed=5, **kwargs)
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(a.splits()[split][0], b.splits()[split][0])
        np.testing.assert_array_equal(a.splits()[split][1], b.splits()[split][1])
    assert not np.array_equal(a.X_train, c.X_train)


def test_split_is_a_stratified_partition():
    y = np.repeat(np.arange(4), [50, 30, 20, 100])
    train, val, test = data.split(y, val=0.2, test=0.2, seed=0)
    everything = np.concatenate([train, val, test])
    assert np.array_equal(np.sort(everything), np.arange(y.size))
    for c, count in enumerate([50, 30, 20, 100]):
        assert np.sum(y[val] == c) == round(0.2 * count)
        assert np.sum(y[test] == c) == round(0.2 * count)


def test_standardization_uses_training_statistics_only():
    ds = data.load("moons", n=120, noise=0.3, seed=2)
    X_raw, y_raw = data.make_moons(120, noise=0.3, seed=2)
    i_train, i_val, i_test = data.split(y_raw, seed=2)
    mean = X_raw[i_train].mean(axis=0)
    std = X_raw[i_train].std(axis=0)
    np.testing.assert_allclose(ds.mean, mean, rtol=1e-13)
    np.testing.assert_allclose(ds.scale, std, rtol=1e-13)
    # Not the statistics of the whole set: they differ on this sample.
    assert not np.allclose(ds.mean, X_raw.mean(axis=0), rtol=0, atol=1e-6)
    np.testing.assert_allclose(ds.X_val, (X_raw[i_val] - mean) / std, rtol=1e-12)
    np.testing.assert_allclose(ds.X_test, (X_raw[i_test] - mean) / std, rtol=1e-12)
    np.testing.assert_array_equal(ds.y_test, y_raw[i_test])
    np.testing.assert_allclose(ds.X_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(ds.X_train.std(axis=0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(ds.transform(X_raw[i_val]), ds.X_val, rtol=1e-12)


def test_constant_features_are_centred_not_divided_by_zero():
    X = np.column_stack([np.full(10, 3.0), np.arange(10.0), np.zeros(10)])
    mean, scale = data.standardize(X)
    np.testing.assert_array_equal(scale[[0, 2]], [1.0, 1.0])
    standardized = (X - mean) / scale
    assert np.all(np.isfinite(standardized))
    np.testing.assert_array_equal(standardized[:, 0], 0.0)


def test_float32_data_is_contiguous_float32():
    ds = data.load("blobs", n=60, d=3, m=2, dtype=np.float32)
    for X, y in ds.splits().values():
        assert X.dtype == np.float32 and X.flags.c_contiguous
        assert y.dtype == np.int64


def test_digits_shapes_and_standardization():
    pytest.importorskip("sklearn")
    ds = data.load("digits", seed=0)
    sizes = [X.shape[0] for X, _ in ds.splits().values()]
    assert sum(sizes) == 1797 and ds.d == 64 and ds.m == 10
    for X, y in ds.splits().values():
        assert np.all(np.isfinite(X))
        assert set(np.unique(y)) == set(range(10))
    assert np.sum(ds.scale == 1.0) >= 1  # the always-blank corner pixels
    again = data.load("digits", seed=0)
    np.testing.assert_array_equal(ds.X_test, again.X_test)


def test_digits_without_sklearn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(data.MissingDependency, match=r"pip install -e '\.\[digits\]'"):
        data.load("digits")


@pytest.mark.parametrize("call, match", [
    (lambda: data.load("mnist"), "unknown data set 'mnist'"),
    (lambda: data.load("moons", n=1), "n must be an integer >= 2"),
    (lambda: data.load("moons", n=3), "split is empty"),
    (lambda: data.load("blobs", m=1), "m must be an integer >= 2"),
    (lambda: data.load("digits", n=100), "fixed size"),
    (lambda: data.make_moons(10, noise=-1.0), "noise"),
    (lambda: data.split(np.zeros(10), val=0.6, test=0.5), "val \\+ test < 1"),
])
def test_bad_arguments_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_dtype():
    with pytest.raises(TypeError, match="float32 or float64"):
        data.load("moons", dtype=np.int32)
