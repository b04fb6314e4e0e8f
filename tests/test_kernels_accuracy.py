"""Spec part 1 against mpmath at 50 digits: element-wise kernels within 4 ulp of the
correctly rounded value over the whole float range; softmax, logsumexp and the norms
to rtol 1e-13 (float64)."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from mlpbench import kernels
from mlpbench.kernels import accuracy

IMPLS = kernels.IMPLEMENTATIONS
DTYPES = ("float32", "float64")

#: The bound of the spec for every element-wise kernel, in ulps of the exact value.
MAX_ULP = 4.0


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", accuracy.ELEMENTWISE)
def test_elementwise_within_4_ulp_on_the_grid(impl, dtype, name):
    x = accuracy.grid(dtype)
    ref = accuracy.grid_reference(name, dtype)
    got = getattr(kernels.get(impl), name)(x)
    errors = accuracy.ulp_error(got, ref)
    worst = int(np.argmax(errors))
    assert errors[worst] <= MAX_ULP, (
        f"{impl}.{name}({x[worst]!r}) = {got[worst]!r}, correctly rounded {ref[worst]!r}: "
        f"{errors[worst]} ulp"
    )


def test_grid_covers_the_float_range():
    for dtype, dense in (("float64", 745.0), ("float32", 104.0)):
        x = accuracy.grid(dtype)
        info = np.finfo(dtype)
        assert x.dtype == dtype and np.all(np.diff(x) > 0)
        for value in (0.0, info.smallest_subnormal, info.max, np.inf, -info.max, -np.inf, dense):
            assert np.any(x == value), (dtype, value)
        assert np.sum(np.abs(x) <= dense) >= 2001


def test_worst_ulp_table():
    for dtype in DTYPES:
        table = accuracy.worst_ulp_table(dtype)
        assert set(table) == set(accuracy.ELEMENTWISE) | {"sigmoid_tanh_identity"}
        for name in accuracy.ELEMENTWISE:
            assert set(table[name]) == set(IMPLS)
            assert all(0.0 <= table[name][impl] <= MAX_ULP for impl in IMPLS), (name, table)
        # Exact kernels are exact.
        assert table["relu"] == table["relu_grad"] == dict.fromkeys(IMPLS, 0.0)
        # The naive form loses every digit somewhere on the grid.
        assert table["sigmoid_tanh_identity"]["numpy"] > 1e6


@pytest.mark.parametrize("impl", IMPLS)
def test_naive_tanh_identity_is_badly_wrong_below_minus_40(impl):
    x = np.array([-40.5, -45.0, -60.0, -100.0, -300.0, -700.0])
    ref = accuracy.reference("sigmoid", x)
    naive = accuracy.sigmoid_tanh_identity(x)
    stable = kernels.get(impl).sigmoid(x)
    # tanh(x/2) rounds to -1: no correct digit is left, the relative error is 100%.
    np.testing.assert_array_equal(naive, 0.0)
    assert np.all(ref > 0)
    assert np.all(accuracy.ulp_error(naive, ref) > 1e15)
    assert np.all(accuracy.ulp_error(stable, ref) <= MAX_ULP)


def test_ulp_error_units():
    one = np.float64(1.0)
    tiny = np.finfo(np.float64).smallest_subnormal
    big = np.finfo(np.float64).max
    cases = [
        (np.nextafter(one, 2.0), one, 1.0),
        (one, np.nextafter(one, 2.0), 1.0),
        (0.0, 0.0, 0.0),
        (-0.0, 0.0, 0.0),
        (3 * tiny, tiny, 2.0),  # subnormals count in units of the smallest subnormal
        (tiny, 0.0, 1.0),
        (np.inf, np.inf, 0.0),
        (-np.inf, -np.inf, 0.0),
        (np.inf, -np.inf, np.inf),
        (big, np.inf, np.inf),
        (np.nan, 1.0, np.inf),
        (np.nan, np.nan, 0.0),
        (np.nextafter(big, 0.0), big, 1.0),  # the top binade has a finite spacing
    ]
    for computed, reference, expected in cases:
        got = accuracy.ulp_error(np.float64(computed), np.float64(reference))
        assert got == expected, (computed, reference, got)
    f32 = np.float32
    assert accuracy.ulp_error(f32(1.0) + np.finfo(f32).eps * 3, f32(1.0)) == 3.0
    with pytest.raises(TypeError, match="same dtype"):
        accuracy.ulp_error(np.float32(1.0), np.float64(1.0))


def test_reference_is_correctly_rounded():
    assert accuracy.reference("sigmoid", np.float64(0.0)) == 0.5
    assert accuracy.reference("tanh_grad", np.float64(0.0)) == 1.0
    assert accuracy.reference("softplus", np.float64(0.0)) == np.log(2.0)
    # float32 rounding happens once, from 50 digits, not through float64.
    x = np.linspace(-20.0, 20.0, 101).astype(np.float32)
    for name in ("sigmoid", "log_sigmoid"):
        ref32 = accuracy.reference(name, x)
        for v, r in zip(x, ref32, strict=True):
            e = accuracy.exact(name, v)
            with mpmath.workdps(50):
                err = abs(mpmath.mpf(float(r)) - e)
                for toward in (np.float32(-np.inf), np.float32(np.inf)):
                    neighbour = np.nextafter(r, toward)
                    assert err <= abs(mpmath.mpf(float(neighbour)) - e), (name, v)
    with pytest.raises(ValueError, match="no mpmath reference"):
        accuracy.reference("softmax", np.zeros(3))


# ---------------------------------------------------------------------------
# Rows and norms: float64 to rtol 1e-13 on inputs of magnitude <= 100.
# ---------------------------------------------------------------------------

RTOL64 = 1e-13


def _inputs(seed, shape):
    return np.random.default_rng(seed).uniform(-100.0, 100.0, shape)


def _mp_softmax_row(row):
    with mpmath.workdps(50):
        e = [mpmath.exp(mpmath.mpf(float(v))) for v in row]
        total = mpmath.fsum(e)
        return [float(v / total) for v in e]


def _mp_logsumexp_row(row):
    with mpmath.workdps(50):
        return float(mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(float(v))) for v in row)))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("scale", [1.0, 0.05])
def test_softmax_and_logsumexp_against_mpmath(impl, scale):
    k = kernels.get(impl)
    z = _inputs(1, (6, 40)) * scale
    z[0, :] = z[0, 0]  # a flat row
    s = k.softmax(z)
    lse = k.logsumexp(z)
    expected_s = np.array([_mp_softmax_row(row) for row in z])
    expected_lse = np.array([_mp_logsumexp_row(row) for row in z])
    np.testing.assert_allclose(s, expected_s, rtol=RTOL64)
    np.testing.assert_allclose(lse, expected_lse, rtol=RTOL64)


@pytest.mark.parametrize("impl", IMPLS)
def test_norms_against_exact_sums(impl):
    k = kernels.get(impl)
    x = _inputs(2, (7, 30))
    np.testing.assert_allclose(k.l1(x), math.fsum(abs(v) for v in x.ravel()), rtol=RTOL64)
    with mpmath.workdps(50):
        exact_sq = float(mpmath.fsum(mpmath.mpf(float(v)) ** 2 for v in x.ravel()))
    np.testing.assert_allclose(k.sq_l2(x), exact_sq, rtol=RTOL64)
    # The gradients are exact: sign(x) and 2x are representable.
    np.testing.assert_array_equal(k.l1_grad(x), np.sign(x))
    np.testing.assert_array_equal(k.sq_l2_grad(x), 2.0 * x)


@pytest.mark.parametrize("impl", IMPLS)
def test_rows_and_norms_float32(impl):
    """float32 sums: each of the ~200 terms rounds once, so the bound is ~n eps32."""
    k = kernels.get(impl)
    z64 = _inputs(3, (5, 40)) * 0.1
    z = z64.astype(np.float32)
    expected_lse = np.array([_mp_logsumexp_row(row) for row in z])
    np.testing.assert_allclose(k.logsumexp(z), expected_lse, rtol=1e-6)
    expected_s = np.array([_mp_softmax_row(row) for row in z])
    np.testing.assert_allclose(k.softmax(z), expected_s, rtol=1e-5, atol=1e-30)
    x = _inputs(4, (7, 30)).astype(np.float32)
    np.testing.assert_allclose(k.l1(x), math.fsum(abs(float(v)) for v in x.ravel()), rtol=1e-5)
    exact_sq = math.fsum(float(v) ** 2 for v in x.ravel())  # exact: float32 squares fit in 48 bits
    np.testing.assert_allclose(k.sq_l2(x), exact_sq, rtol=1e-5)
