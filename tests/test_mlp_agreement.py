"""Every implementation agrees with ``numpy``: loss, every forward field, every gradient.

Errors are norm-wise, ``max|a - b| / max(|a|, |b|)`` per array (``mlp.max_rel_err``):
a gradient entry is a sum that can cancel to near 0, where an element-wise ratio
would measure the cancellation rather than the implementation.

Tolerances (``mlp.agreement_rtol``): float64 1e-12. float32
``16·eps32·sqrt(n + d + d_h + m)`` with eps32 = 1.19e-7: each result ends a chain of
sums of lengths d, d_h, m and n that the two implementations add in different orders,
each off by about eps·sqrt(length) of its scale; the factor 16 covers cancellation.
That is 4.3e-6 for (1, 1, 1, 2) and 1.9e-5 for (17, 33, 40, 11); seen: about 3e-7.
"""

from __future__ import annotations

import numpy as np
import pytest

from mlpbench import mlp

OTHERS = [name for name in mlp.CORE_IMPLEMENTATIONS if name != "numpy"]


def assert_agree(got, want, tol, label):
    assert np.shape(got) == np.shape(want), label
    err = mlp.max_rel_err(got, want)
    assert err <= tol, f"{label}: max rel err {err:.3e} > {tol:.1e}"


@pytest.mark.parametrize("name", OTHERS)
def test_agrees_with_numpy(name, shape, penalty, dtype, problem):
    p, X, y = problem(*shape, seed=sum(shape), dtype=dtype)
    l1, l2 = penalty
    ref, impl = mlp.get("numpy"), mlp.get(name)
    tol = mlp.agreement_rtol(dtype, *shape)

    f_ref, f = ref.forward(p, X), impl.forward(p, X)
    for field in mlp.Forward._fields:
        got = getattr(f, field)
        assert got.dtype == dtype, field
        assert_agree(got, getattr(f_ref, field), tol, f"forward.{field}")

    loss_ref, g_ref = ref.loss_and_grad(p, X, y, l1, l2)
    loss, g = impl.loss_and_grad(p, X, y, l1, l2)
    assert isinstance(loss, float)
    assert_agree(loss, loss_ref, tol, "loss_and_grad loss")
    assert_agree(impl.loss(p, X, y, l1, l2), loss_ref, tol, "loss")
    g_back = impl.backward(p, X, y, f, l1, l2)
    for field in mlp.Params._fields:
        want = getattr(g_ref, field)
        for label, grad in (("loss_and_grad", g), ("backward", g_back)):
            got = getattr(grad, field)
            assert got.dtype == dtype, f"{label}.{field}"
            assert_agree(got, want, tol, f"{label}.{field}")


@pytest.mark.parametrize("name", mlp.CORE_IMPLEMENTATIONS)
def test_loss_matches_its_own_gradient_pass(name, problem):
    """``loss`` and ``loss_and_grad`` give the same risk within one implementation."""
    p, X, y = problem(6, 4, 5, 3, seed=3)
    impl = mlp.get(name)
    loss, _ = impl.loss_and_grad(p, X, y, 0.01, 0.02)
    assert impl.loss(p, X, y, 0.01, 0.02) == pytest.approx(loss, rel=1e-13)


@pytest.mark.parametrize("name", mlp.CORE_IMPLEMENTATIONS)
def test_layout_does_not_change_results(name, problem):
    """Fortran-ordered and strided (non-contiguous) inputs give the contiguous results."""
    p, X, y = problem(7, 5, 6, 3, seed=4)
    impl = mlp.get(name)
    want_loss, want_g = impl.loss_and_grad(p, X, y, 0.01, 0.02)
    want_f = impl.forward(p, X)

    def strided(a):
        # Every other element of a twice-as-large array: same values, not contiguous.
        big = np.zeros(tuple(2 * s for s in a.shape), a.dtype)
        view = big[tuple(slice(None, None, 2) for _ in a.shape)]
        view[...] = a
        return view

    fortran = (mlp.Params(*(np.asfortranarray(a) for a in p)), np.asfortranarray(X), y)
    views = (mlp.Params(*(strided(a) for a in p)), strided(X), strided(y))
    assert not views[1].flags.c_contiguous and not fortran[1].flags.c_contiguous
    for label, (pp, XX, yy) in (("fortran", fortran), ("strided", views)):
        loss, g = impl.loss_and_grad(pp, XX, yy, 0.01, 0.02)
        assert loss == pytest.approx(want_loss, rel=1e-12), label
        for got, want in zip(g, want_g, strict=True):
            assert_agree(got, want, 1e-12, f"{label} gradient")
        for got, want in zip(impl.forward(pp, XX), want_f, strict=True):
            assert_agree(got, want, 1e-12, f"{label} forward")
        f = impl.forward(pp, XX)
        f_strided = mlp.Forward(*(strided(a) for a in f))
        for got, want in zip(impl.backward(pp, XX, yy, f_strided, 0.01, 0.02), want_g,
                             strict=True):
            assert_agree(got, want, 1e-12, f"{label} backward")


@pytest.mark.parametrize("name", mlp.CORE_IMPLEMENTATIONS)
def test_no_function_mutates_its_inputs(name, problem):
    p, X, y = problem(5, 4, 3, 3, seed=5)
    impl = mlp.get(name)
    f = impl.forward(p, X)
    inputs = [*p, X, y, *f]
    before = [a.copy() for a in inputs]
    impl.forward(p, X)
    impl.loss(p, X, y, 0.01, 0.02)
    impl.loss_and_grad(p, X, y, 0.01, 0.02)
    impl.backward(p, X, y, f, 0.01, 0.02)
    impl.raw.loss_and_grad(p, X, y, 0.01, 0.02)
    impl.raw.backward(p, X, y, f, 0.01, 0.02)
    mlp.gradcheck(impl, p, X, y, 0.01, 0.02)
    for a, b in zip(inputs, before, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", mlp.CORE_IMPLEMENTATIONS)
def test_gradient_is_not_the_forward_buffers(name, problem):
    """Results are fresh arrays: changing one never changes another or a later call's."""
    p, X, y = problem(4, 3, 5, 2, seed=6)
    impl = mlp.get(name)
    f = impl.forward(p, X)
    _, g = impl.loss_and_grad(p, X, y)
    arrays = [*f, *g, *p, X]
    for i, a in enumerate(arrays):
        for b in arrays[i + 1:]:
            assert not np.shares_memory(a, b)
