"""Properties of the MLP that hold whatever the implementation: softmax, the loss,
the parameter count, initialization, the ReLU convention at 0, and the registry."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpbench import mlp
from mlpbench.mlp import registry

SETTINGS = settings(max_examples=15, deadline=None, derandomize=True)
small = st.integers(min_value=1, max_value=6)


@pytest.mark.parametrize("name", mlp.CORE_IMPLEMENTATIONS)
@SETTINGS
@given(n=small, d=small, d_h=small, m=st.integers(2, 6), seed=st.integers(0, 2**16),
       scale=st.sampled_from([1.0, 30.0, 1e3]))
def test_softmax_rows_are_positive_and_sum_to_one(name, n, d, d_h, m, seed, scale):
    """2.#3, also with output pre-activations in the hundreds, where a naive exp overflows."""
    p, X, _ = mlp.make_problem(n, d, d_h, m, seed=seed)
    p = p._replace(W2=p.W2 * scale, b2=p.b2 * scale)
    os = mlp.get(name).forward(p, X).os
    assert np.all(os >= 0)
    assert np.all(np.isfinite(os))
    np.testing.assert_allclose(os.sum(axis=1), 1.0, rtol=0, atol=4 * m * np.finfo(float).eps)


@pytest.mark.parametrize("name", mlp.CORE_IMPLEMENTATIONS)
@SETTINGS
@given(n=small, d=small, d_h=small, m=st.integers(2, 6), seed=st.integers(0, 2**16),
       l1=st.sampled_from([0.0, 0.01]), l2=st.sampled_from([0.0, 0.03]))
def test_loss_is_mean_nll_plus_penalties(name, n, d, d_h, m, seed, l1, l2):
    """2.#4–5: R = mean_i(−log os[i, y_i]) + l1·(‖W1‖₁+‖W2‖₁) + l2·(‖W1‖₂²+‖W2‖₂²)."""
    p, X, y = mlp.make_problem(n, d, d_h, m, seed=seed)
    impl = mlp.get(name)
    os = impl.forward(p, X).os
    want = np.mean(-np.log(os[np.arange(n), y]))
    want += l1 * (np.abs(p.W1).sum() + np.abs(p.W2).sum())
    want += l2 * ((p.W1**2).sum() + (p.W2**2).sum())
    assert impl.loss(p, X, y, l1, l2) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("name", mlp.CORE_IMPLEMENTATIONS)
def test_relu_derivative_at_zero_is_zero(name, dtype):
    """2.#13–14: with every ha exactly 0 no gradient reaches W1 or b1 (rect'(0) = 0)."""
    p = mlp.init_params(3, 4, 3, seed=1, dtype=dtype)
    X = np.zeros((5, 3), dtype)  # ha = X W1ᵀ + b1 = 0 exactly (b1 is zero)
    y = np.array([0, 1, 2, 0, 1])
    _, g = mlp.get(name).loss_and_grad(p, X, y)
    assert not g.W1.any() and not g.b1.any()
    assert g.b2.any()  # the output layer still learns its biases


@pytest.mark.parametrize("name", mlp.CORE_IMPLEMENTATIONS)
def test_penalties_reach_weights_not_biases(name, problem):
    """1.#8–9: l1·sign(W) + 2·l2·W is added to gW1 and gW2 only."""
    p, X, y = problem(4, 3, 5, 3, seed=2)
    impl = mlp.get(name)
    _, g0 = impl.loss_and_grad(p, X, y)
    _, g = impl.loss_and_grad(p, X, y, 0.01, 0.02)
    for field, W in (("W1", p.W1), ("W2", p.W2)):
        np.testing.assert_allclose(getattr(g, field) - getattr(g0, field),
                                   0.01 * np.sign(W) + 0.04 * W, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(g.b1, g0.b1)
    np.testing.assert_array_equal(g.b2, g0.b2)


@SETTINGS
@given(d=small, d_h=small, m=small)
def test_n_params_counts_every_scalar(d, d_h, m):
    """2.#5: n_θ = d_h·d + d_h + m·d_h + m."""
    p = mlp.init_params(d, d_h, m)
    assert mlp.n_params(d, d_h, m) == sum(a.size for a in p)
    assert mlp.n_params(d, d_h, m) == d_h * d + d_h + m * d_h + m


@pytest.mark.parametrize("shape", [(1, 1, 2), (33, 40, 11)])
def test_init_params(shape, dtype):
    d, d_h, m = shape
    p = mlp.init_params(d, d_h, m, seed=42, dtype=dtype)
    assert isinstance(p, mlp.Params)
    assert [a.shape for a in p] == [(d_h, d), (d_h,), (m, d_h), (m,)]
    assert all(a.dtype == dtype for a in p)
    assert np.all(np.abs(p.W1) <= dtype(1 / np.sqrt(d)))
    assert np.all(np.abs(p.W2) <= dtype(1 / np.sqrt(d_h)))
    assert not p.b1.any() and not p.b2.any()
    again = mlp.init_params(d, d_h, m, seed=42, dtype=dtype)
    for a, b in zip(p, again, strict=True):
        np.testing.assert_array_equal(a, b)
    other = mlp.init_params(d, d_h, m, seed=43, dtype=dtype)
    assert not np.array_equal(p.W1, other.W1)


def test_init_params_spread_fills_the_range():
    """Uniform in ±1/sqrt(fan_in): the extremes of 10 000 draws come close to the bounds."""
    p = mlp.init_params(100, 100, 100, seed=0)
    for W in (p.W1, p.W2):
        assert 0.099 < W.max() <= 0.1 and -0.1 <= W.min() < -0.099
        assert abs(W.mean()) < 0.002


@pytest.mark.parametrize(("args", "error", "match"), [
    ((0, 3, 2), ValueError, "d must be a positive integer, got 0"),
    ((3, 0, 2), ValueError, "d_h must be a positive integer, got 0"),
    ((3, 2, 2.0), TypeError, "m must be a positive integer"),
])
def test_sizes_are_checked(args, error, match):
    with pytest.raises(error, match=match):
        mlp.n_params(*args)
    with pytest.raises(error, match=match):
        mlp.init_params(*args)


def test_init_params_rejects_other_dtypes():
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        mlp.init_params(2, 2, 2, dtype=np.float16)


def test_registry_lists_and_loads_implementations():
    assert mlp.IMPLEMENTATIONS[:3] == ("loops", "numpy", "numba")
    for name in mlp.IMPLEMENTATIONS:
        impl = mlp.get(name)
        assert impl.name == name and mlp.get(name) is impl
    with pytest.raises(ValueError, match="unknown MLP implementation 'torchy'.*'numpy'"):
        mlp.get("torchy")


def test_register_adds_an_implementation(monkeypatch, problem):
    monkeypatch.setattr(registry, "_infos", dict(registry._infos))
    monkeypatch.setattr(registry, "_loaded", dict(registry._loaded))
    monkeypatch.setattr(registry, "IMPLEMENTATIONS", registry.IMPLEMENTATIONS)
    monkeypatch.setattr(registry, "CORE_IMPLEMENTATIONS", registry.CORE_IMPLEMENTATIONS)
    mlp.register("numpy-again", "mlpbench.mlp.impl_numpy")
    assert mlp.IMPLEMENTATIONS[-1] == "numpy-again"
    assert mlp.CORE_IMPLEMENTATIONS[-1] == "numpy-again"
    p, X, y = problem(3, 2, 4, 2)
    impl = mlp.get("numpy-again")
    assert impl.loss(p, X, y) == mlp.get("numpy").loss(p, X, y)
    with pytest.raises(ValueError, match="already registered"):
        mlp.register("numpy-again", "mlpbench.mlp.impl_numpy")
    mlp.register("numpy-again", lambda: mlp.get("numba").raw, replace=True)
    assert mlp.get("numpy-again").raw is mlp.get("numba").raw
    with pytest.raises(TypeError, match="lacks the raw function"):
        mlp.register("empty", lambda: object())
        mlp.get("empty")
