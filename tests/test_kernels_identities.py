"""Spec part 1 identities, as properties (hypothesis): each implementation satisfies
the identities of the spec and the derivatives match central differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mlpbench import kernels

IMPLS = kernels.IMPLEMENTATIONS
DTYPES = (np.float32, np.float64)
FEW = settings(max_examples=30, deadline=None)


def _vectors(dtype, low, high, max_size=12):
    width = np.dtype(dtype).itemsize * 8
    elements = st.floats(low, high, allow_nan=False, allow_infinity=False, width=width)
    return arrays(dtype, st.integers(1, max_size), elements=elements)


def _eps(dtype) -> float:
    return float(np.finfo(dtype).eps)


# ---------------------------------------------------------------------------
# Softmax (2.#3): positive rows summing to 1.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", DTYPES)
@FEW
@given(data=st.data())
def test_softmax_rows_are_positive_and_sum_to_one(impl, dtype, data):
    # Within a spread of 600 (float64) or 80 (float32), exp of the spread is a normal
    # float, so every entry is strictly positive, not only >= 0.
    half = 300.0 if dtype == np.float64 else 40.0
    width = np.dtype(dtype).itemsize * 8
    shape = data.draw(st.tuples(st.integers(1, 4), st.integers(1, 9)))
    elements = st.floats(-half, half, allow_nan=False, width=width)
    z = data.draw(arrays(dtype, shape, elements=elements))
    s = kernels.get(impl).softmax(z)
    assert np.all(s > 0)
    # Each entry is within a few ulp; a sum of k of them is within ~k eps of 1.
    np.testing.assert_allclose(s.sum(axis=-1), 1.0, rtol=0, atol=(shape[1] + 2) * _eps(dtype))


@pytest.mark.parametrize("impl", IMPLS)
@FEW
@given(z=_vectors(np.float64, -1e6, 1e6))
def test_softmax_of_huge_logits_is_finite_and_normalized(impl, z):
    s = kernels.get(impl).softmax(z)
    assert np.all(np.isfinite(s)) and np.all(s >= 0)
    np.testing.assert_allclose(s.sum(), 1.0, rtol=0, atol=(z.size + 2) * _eps(np.float64))


# ---------------------------------------------------------------------------
# 1.#1 - 1.#4: the identities of the spec, where they are numerically meaningful.
#
# The naive sides ((tanh(x/2)+1)/2, s(1-s), 1-tanh^2, log(sigmoid)) are accurate in
# absolute terms only: they subtract from or add to numbers near 1, whose rounding
# error is eps/2. Hence atol = 4 eps (a few roundings of eps/2, plus the stable side's
# own few ulp of a value <= 1) and rtol = 4 eps. On |x| <= 20 the values stay above
# ~2e-9, far above that absolute error, so the comparison still means something.
# ---------------------------------------------------------------------------


def _close(got, expected, dtype):
    tol = 4 * _eps(dtype)
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", DTYPES)
@FEW
@given(data=st.data())
def test_1_1_sigmoid_is_half_tanh_half(impl, dtype, data):
    x = data.draw(_vectors(dtype, -20.0, 20.0))
    _close(kernels.get(impl).sigmoid(x), (np.tanh(x / 2) + 1) / 2, dtype)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", DTYPES)
@FEW
@given(data=st.data())
def test_1_2_log_sigmoid_is_minus_softplus_of_minus_x(impl, dtype, data):
    k = kernels.get(impl)
    x = data.draw(_vectors(dtype, -1e4, 1e4))
    # Exactly: both are min(x, 0) - log1p(exp(-|x|)) up to an exact negation.
    np.testing.assert_array_equal(k.log_sigmoid(x), -k.softplus(-x))
    small = x[np.abs(x) <= 20]
    _close(k.log_sigmoid(small), np.log(k.sigmoid(small)), dtype)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", DTYPES)
@FEW
@given(data=st.data())
def test_1_3_sigmoid_grad_is_s_times_one_minus_s(impl, dtype, data):
    k = kernels.get(impl)
    x = data.draw(_vectors(dtype, -20.0, 20.0))
    s = k.sigmoid(x)
    _close(k.sigmoid_grad(x), s * (1 - s), dtype)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", DTYPES)
@FEW
@given(data=st.data())
def test_1_4_tanh_grad_is_one_minus_tanh_squared(impl, dtype, data):
    x = data.draw(_vectors(dtype, -20.0, 20.0))
    _close(kernels.get(impl).tanh_grad(x), 1 - np.tanh(x) ** 2, dtype)


# ---------------------------------------------------------------------------
# Derivatives against central differences (float64). With step h, the truncation
# error is h^2/6 |f'''| and the rounding error eps |f| / h; on |x| <= 20 with h = 1e-5
# both are below 1e-9, so atol = 1e-8 fails on any wrong formula (errors of 1e-2
# and more) and never on a right one.
# ---------------------------------------------------------------------------

H = 1e-5
FD_ATOL = 1e-8


def _central(f, x, h=H):
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("impl", IMPLS)
@FEW
@given(x=_vectors(np.float64, -20.0, 20.0))
def test_derivatives_match_central_differences(impl, x):
    k = kernels.get(impl)
    np.testing.assert_allclose(k.sigmoid_grad(x), _central(k.sigmoid, x), atol=FD_ATOL)
    np.testing.assert_allclose(k.tanh_grad(x), _central(np.tanh, x), atol=FD_ATOL)
    # 1.#5: softplus' = sigmoid.
    np.testing.assert_allclose(k.sigmoid(x), _central(k.softplus, x), atol=FD_ATOL)
    # 1.#2 differentiated: (log sigmoid)' = 1 - sigmoid = sigmoid(-x).
    np.testing.assert_allclose(k.sigmoid(-x), _central(k.log_sigmoid, x), atol=FD_ATOL)


def _away_from_zero(x, margin):
    return x[np.abs(x) > margin]


@pytest.mark.parametrize("impl", IMPLS)
@FEW
@given(x=_vectors(np.float64, -20.0, 20.0))
def test_1_7_relu_grad_is_the_indicator(impl, x):
    k = kernels.get(impl)
    np.testing.assert_array_equal(k.relu_grad(x), (x > 0).astype(np.float64))
    np.testing.assert_array_equal(k.relu(x), np.where(x > 0, x, 0.0))
    # Away from the kink, central differences of rect are exactly 0 or 1 up to rounding.
    far = _away_from_zero(x, 10 * H)
    np.testing.assert_allclose(k.relu_grad(far), _central(k.relu, far), atol=FD_ATOL)


def _gradient_by_central_differences(f, x, h):
    """Central differences of the scalar function f along each coordinate of x."""
    grad = np.empty_like(x)
    for i in range(x.size):
        step = np.zeros_like(x)
        step.flat[i] = h
        grad.flat[i] = (float(f(x + step)) - float(f(x - step))) / (2 * h)
    return grad


@pytest.mark.parametrize("impl", IMPLS)
@FEW
@given(x=_vectors(np.float64, -10.0, 10.0, max_size=6))
def test_1_8_gradient_of_squared_l2(impl, x):
    k = kernels.get(impl)
    np.testing.assert_array_equal(k.sq_l2_grad(x), 2 * x)
    # Central differences are exact for a quadratic; only rounding remains:
    # eps ||x||^2 / h <= 2.2e-16 * 600 / 1e-3 ~ 1.3e-10.
    fd = _gradient_by_central_differences(k.sq_l2, x, 1e-3)
    np.testing.assert_allclose(k.sq_l2_grad(x), fd, atol=1e-8)


@pytest.mark.parametrize("impl", IMPLS)
@FEW
@given(x=_vectors(np.float64, -10.0, 10.0, max_size=6))
def test_1_9_gradient_of_l1_is_sign(impl, x):
    k = kernels.get(impl)
    # 1.#6: sign through indicators, 0 at 0.
    np.testing.assert_array_equal(k.l1_grad(x), np.sign(x))
    x = _away_from_zero(x, 1e-3)
    if x.size == 0:
        return
    # ||.||_1 is linear around x when no coordinate crosses 0 (|x_i| > h): the quotient
    # is exactly sign(x_i) up to rounding, eps ||x||_1 / h <= 2.2e-16 * 60 / 1e-4 ~ 1e-10.
    fd = _gradient_by_central_differences(k.l1, x, 1e-4)
    np.testing.assert_allclose(k.l1_grad(x), fd, atol=1e-8)
