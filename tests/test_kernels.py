"""Spec part 1: the three implementations agree, keep dtypes and shapes, never mutate
their inputs, stay finite over the whole float range and reject bad inputs clearly."""

from __future__ import annotations

import re

import numpy as np
import pytest

from mlpbench import kernels
from mlpbench.errors import InputError, InputTypeError

IMPLS = kernels.IMPLEMENTATIONS
DTYPES = (np.float32, np.float64)
ELEMENTWISE = tuple(n for n in kernels.NAMES if n not in ("softmax", "logsumexp", "l1", "sq_l2"))
ROWWISE = ("softmax", "logsumexp")
NORMS = ("l1", "sq_l2")


def _shapes(dtype):
    """Inputs of many layouts, with values spread enough to reach every branch."""
    rng = np.random.default_rng(20261129)
    cube = (rng.standard_normal((4, 6, 5)) * 8).astype(dtype)
    return {
        "0-d": np.asarray(dtype(-1.75)),
        "empty": np.empty(0, dtype),
        "empty rows": np.empty((3, 0), dtype),
        "no rows": np.empty((0, 4), dtype),
        "1-D": (rng.standard_normal(9) * 8).astype(dtype),
        "3-D": cube,
        "Fortran": np.asfortranarray(cube[0]),
        "slice": cube[::2, 1::2, ::-1],
        "with zeros": np.array([[0.0, -0.0, 1.5], [-2.5, 0.0, 3.0]], dtype),
    }


def _tolerance(name, dtype):
    """rtol, atol for two implementations of ``name``.

    Element-wise kernels are each within 4 ulp of the exact value (test_kernels_accuracy),
    so two of them are within 8 ulp. Sums and rows add rounding that depends on the
    order of summation: ~n eps for the few dozen terms used here.
    """
    eps = float(np.finfo(dtype).eps)
    if name in ELEMENTWISE:
        return 8 * eps, 0.0
    return 64 * eps, 64 * eps


def _call(impl, name, x):
    return getattr(kernels.get(impl), name)(x)


def _applicable(name, x):
    return not (name in ROWWISE and x.ndim == 0)


@pytest.mark.parametrize("impl", ("loops", "numba"))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", kernels.NAMES)
def test_implementations_agree_with_numpy(impl, dtype, name):
    for label, x in _shapes(dtype).items():
        if not _applicable(name, x):
            continue
        expected = _call("numpy", name, x)
        got = _call(impl, name, x)
        rtol, atol = _tolerance(name, dtype)
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=label)
        assert np.shape(got) == np.shape(expected), label


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", kernels.NAMES)
def test_dtype_shape_and_inputs_untouched(impl, dtype, name):
    for label, x in _shapes(dtype).items():
        if not _applicable(name, x):
            continue
        before = x.copy()
        out = _call(impl, name, x)
        np.testing.assert_array_equal(x, before, err_msg=f"{label}: input mutated")
        if name in NORMS:
            assert isinstance(out, np.floating) and out.dtype == dtype, label
            continue
        assert isinstance(out, np.ndarray) and out.dtype == dtype, label
        expected_shape = x.shape[:-1] if name == "logsumexp" else x.shape
        assert out.shape == expected_shape, label
        assert not np.shares_memory(out, x), f"{label}: output is a view of the input"


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", kernels.NAMES)
def test_lists_and_python_floats_are_accepted(impl, name):
    values = [[-3.0, 0.5, 2.0], [1.0, -1.0, 0.0]]
    got = _call(impl, name, values)
    expected = _call("numpy", name, np.array(values))
    np.testing.assert_allclose(got, expected, rtol=1e-14)
    if name not in ROWWISE:
        assert np.asarray(_call(impl, name, 0.25)).dtype == np.float64


# ---------------------------------------------------------------------------
# Stability over the whole float range (no warning may escape: pyproject turns
# RuntimeWarning into errors, and errstate below turns NumPy's into exceptions).
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("impl", IMPLS)
def test_stable_values_float64(impl):
    k = kernels.get(impl)
    tiny = np.finfo(np.float64).smallest_subnormal
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert k.log_sigmoid(np.array(-1000.0))[()] == -1000.0
        assert k.softplus(np.array(1000.0))[()] == 1000.0
        assert k.sigmoid(np.array(-745.0))[()] == tiny  # the smallest subnormal
        assert k.sigmoid(np.array(-700.0))[()] > 0.0
        assert k.sigmoid(np.array(800.0))[()] == 1.0
        assert k.sigmoid(np.array(-800.0))[()] == 0.0  # exp(-800) < tiny / 2: rounds to 0
        assert k.sigmoid_grad(np.array(-745.0))[()] == tiny
        big = np.array([-np.inf, -1e300, -np.finfo(np.float64).max, 1e300, np.inf])
        for name in ("sigmoid", "sigmoid_grad", "tanh_grad", "softplus", "log_sigmoid"):
            out = getattr(k, name)(big)
            assert not np.any(np.isnan(out)), name
        np.testing.assert_array_equal(k.sigmoid(big), [0.0, 0.0, 0.0, 1.0, 1.0])
        np.testing.assert_array_equal(k.sigmoid_grad(big), 0.0)
        np.testing.assert_array_equal(k.tanh_grad(big), 0.0)
        np.testing.assert_array_equal(k.softplus(big), [0.0, 0.0, 0.0, 1e300, np.inf])
        np.testing.assert_array_equal(k.log_sigmoid(big), [-np.inf, -1e300, big[2], 0.0, 0.0])
        np.testing.assert_array_equal(k.relu_grad(np.array([-0.0, 0.0])), [0.0, 0.0])
        np.testing.assert_array_equal(k.l1_grad(np.array([-0.0, 0.0, -3.0, 2.0])), [0, 0, -1, 1])


@pytest.mark.parametrize("impl", IMPLS)
def test_stable_values_float32(impl):
    k = kernels.get(impl)
    f32 = np.float32
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert k.log_sigmoid(np.array(-1000.0, f32))[()] == f32(-1000.0)
        assert k.softplus(np.array(1000.0, f32))[()] == f32(1000.0)
        # exp(-103) = 1.8e-45 is above half the smallest float32 subnormal (1.4e-45).
        assert k.sigmoid(np.array(-103.0, f32))[()] == np.finfo(f32).smallest_subnormal
        big = np.array([-np.inf, -np.finfo(f32).max, -1e30, 1e30, np.inf], f32)
        np.testing.assert_array_equal(k.sigmoid(big), np.array([0, 0, 0, 1, 1], f32))
        np.testing.assert_array_equal(k.tanh_grad(big), np.zeros(5, f32))
        np.testing.assert_array_equal(k.softplus(big), np.array([0, 0, 0, 1e30, np.inf], f32))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_and_logsumexp_extremes(impl, dtype):
    k = kernels.get(impl)
    z = np.array(
        [
            [1e4, -1e4, 0.0],
            [-1e4, -1e4, -1e4],
            [1e4, 1e4, -1e4],
            [-np.inf, -np.inf, -np.inf],
            [-np.inf, 2.0, -np.inf],
            [np.inf, 1.0, np.inf],
        ],
        dtype,
    )
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = k.softmax(z)
        lse = k.logsumexp(z)
    assert np.all(np.isfinite(s)) and np.all(s >= 0)
    np.testing.assert_allclose(s.sum(axis=-1), 1.0, rtol=4 * np.finfo(dtype).eps)
    np.testing.assert_array_equal(s[0], np.array([1.0, 0.0, 0.0], dtype))
    np.testing.assert_allclose(s[1], 1.0 / 3.0, rtol=4 * np.finfo(dtype).eps)
    np.testing.assert_array_equal(s[2], np.array([0.5, 0.5, 0.0], dtype))
    np.testing.assert_array_equal(s[4], np.array([0.0, 1.0, 0.0], dtype))
    np.testing.assert_array_equal(s[5], np.array([0.5, 0.0, 0.5], dtype))
    expected = np.array(
        [1e4, -1e4 + np.log(3.0), 1e4 + np.log(2.0), -np.inf, 2.0, np.inf], dtype
    )
    np.testing.assert_allclose(lse, expected, rtol=4 * np.finfo(dtype).eps)
    np.testing.assert_array_equal(k.logsumexp(np.empty((2, 0), dtype)), np.full(2, -np.inf))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_rows_spread_wider_than_the_float_range(impl, dtype):
    """z_k - max overflows to -inf there: exp gives 0, the right value, with no warning."""
    k = kernels.get(impl)
    big = np.finfo(dtype).max
    z = np.array([[big, -big, 0.0], [-big / 2, big * 0.75, 1.0]], dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = k.softmax(z)
        lse = k.logsumexp(z)
    np.testing.assert_array_equal(s, np.array([[1, 0, 0], [0, 1, 0]], dtype))
    np.testing.assert_array_equal(lse, np.array([big, big * 0.75], dtype))


@pytest.mark.parametrize("impl", IMPLS)
def test_norms_of_huge_values_are_inf_without_warning(impl):
    k = kernels.get(impl)
    x = np.array([1e300, -1e300, np.finfo(np.float64).max])
    with np.errstate(over="raise", invalid="raise"):
        assert k.sq_l2(x) == np.inf
        assert k.l1(x) == np.inf
        np.testing.assert_array_equal(k.sq_l2_grad(x), [2e300, -2e300, np.inf])
    assert k.l1(np.empty(0)) == 0.0 and k.sq_l2(np.empty((2, 0))) == 0.0


# ---------------------------------------------------------------------------
# Bad inputs: one clear error, raised at the public boundary.
# ---------------------------------------------------------------------------

BAD_INPUTS = {
    "int array": np.arange(4),
    "bool array": np.array([True, False]),
    "float16": np.ones(3, np.float16),
    "complex": np.ones(3, complex),
    "strings": np.array(["a", "b"]),
    "list of non-numbers": ["a", None, 1.0],
    "ragged list": [[1.0], [1.0, 2.0]],
    "python int": 3,
}


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", kernels.NAMES)
@pytest.mark.parametrize("label", BAD_INPUTS)
def test_bad_dtypes_raise_type_error(impl, name, label):
    argument = "z" if name in ROWWISE else "x"
    with pytest.raises(TypeError, match=f"{argument} must be a float32 or float64 array"):
        _call(impl, name, BAD_INPUTS[label])


def test_type_error_suggests_a_conversion():
    with pytest.raises(TypeError, match=r"x\.astype\(np\.float64\)") as info:
        kernels.get("numpy").sigmoid(np.arange(3))
    assert "int64" in str(info.value) or "int32" in str(info.value)
    assert isinstance(info.value, InputTypeError)  # the project's error, still a TypeError


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", ROWWISE)
def test_rowwise_rejects_0d(impl, name):
    with pytest.raises(ValueError, match="at least one dimension"):
        _call(impl, name, np.float64(1.0))


def test_get_unknown_implementation():
    with pytest.raises(InputError, match="'loops', 'numpy', 'numba'"):
        kernels.get("cuda")


@pytest.mark.parametrize("impl", IMPLS)
def test_every_implementation_defines_every_name(impl):
    k = kernels.get(impl)
    assert kernels.get(impl) is k  # built once per implementation
    missing = [n for n in kernels.NAMES if not callable(getattr(k, n, None))]
    assert missing == []
    raw_missing = [n for n in kernels.NAMES if not callable(getattr(k.raw, n, None))]
    assert raw_missing == []
    assert sorted(k.raw.__all__) == sorted([*kernels.NAMES, "elementwise"])


@pytest.mark.parametrize("name", kernels.NAMES)
def test_public_face_is_written_once(name):
    """One docstring, naming the spec item, shared by every implementation."""
    docs = {getattr(kernels.get(impl), name).__doc__ for impl in IMPLS}
    assert len(docs) == 1
    doc = docs.pop()
    assert re.search(r"\b[12]\.#\d", doc), f"{name}: no spec item in its docstring"
    assert getattr(kernels.get("numpy"), name).__name__ == name
