"""Gradient buffers (``out=``) and the numba implementation's reusable scratch.

``loss_and_grad(..., out=g)`` and ``backward(..., out=g)`` write the gradient into
preallocated arrays and return them; the values equal the allocating call's exactly
(same code on the same inputs). Bad buffers are rejected at the public boundary.
"""

from __future__ import annotations

import re
import tracemalloc

import numpy as np
import pytest
from numba import njit

from mlpbench import mlp
from mlpbench.mlp import impl_numba

#: Shapes through every code path of impl_numba: the small-n loops (n <= GTX_MAX_ROWS),
#: the tiled X W1ᵀ with BLAS's G_haᵀ X (n <= XWT_MAX_ROWS, or d_h <= XWT_NARROW_D_H on
#: one thread), BLAS for both; n % 4 != 0 for the rows left after the blocks of four.
SHAPES = [(1, 3, 4, 2), (5, 7, 3, 3), (17, 33, 40, 11), (40, 9, 13, 4), (131, 6, 5, 3),
          (131, 6, 40, 3)]


def _shape_id(shape):
    return "x".join(map(str, shape))


@pytest.mark.parametrize("name", mlp.IMPLEMENTATIONS)
@pytest.mark.parametrize("shape", SHAPES[:3], ids=_shape_id)
def test_out_receives_the_allocating_result(name, shape, dtype):
    p, X, y = mlp.make_problem(*shape, seed=7, dtype=dtype)
    impl = mlp.get(name)
    want_loss, want = impl.loss_and_grad(p, X, y, 0.01, 0.02)
    g = mlp.empty_like(p)
    loss, got = impl.loss_and_grad(p, X, y, 0.01, 0.02, out=g)
    assert loss == want_loss
    assert all(a is b for a, b in zip(got, g, strict=True))
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)
    f = impl.forward(p, X)
    h = mlp.empty_like(p)
    back = impl.backward(p, X, y, f, 0.01, 0.02, out=h)
    assert all(a is b for a, b in zip(back, h, strict=True))
    for a, b in zip(back, impl.backward(p, X, y, f, 0.01, 0.02), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
def test_numba_out_matches_numpy_with_stale_buffers(shape, dtype):
    """Buffers full of garbage, and scratch sized for n then reused for fewer rows."""
    p, X, y = mlp.make_problem(*shape, seed=8, dtype=dtype)
    ref, impl = mlp.get("numpy"), mlp.get("numba")
    g = mlp.Params(*(np.full_like(a, 1e30) for a in p))
    tol = mlp.agreement_rtol(dtype, *shape)
    for rows in (X.shape[0], 1, max(1, X.shape[0] - 1)):
        want_loss, want = ref.loss_and_grad(p, X[:rows], y[:rows], 0.01, 0.0)
        loss, got = impl.loss_and_grad(p, X[:rows], y[:rows], 0.01, 0.0, out=g)
        assert loss == pytest.approx(want_loss, rel=tol)
        for a, b in zip(got, want, strict=True):
            assert mlp.max_rel_err(a, b) <= tol


@njit
def _numba_allocates(n):
    return np.empty(n).size


def _peak_bytes(fn) -> int:
    """Peak bytes allocated while ``fn()`` runs: NumPy's arrays and numba's (which come
    from Python's raw allocator), as tracemalloc traces them."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_numba_steps_allocate_no_arrays():
    """With ``out`` and a warm workspace, a step allocates no array (the arguments'
    small boxes and the returned tuple only); without ``out``, it allocates g.

    The two controls show that tracemalloc sees NumPy's and numba's allocations.
    """
    p, X, y = mlp.make_problem(200, 30, 64, 10, seed=9)
    raw = mlp.get("numba").raw
    g = mlp.empty_like(p)
    raw.loss_and_grad(p, X, y, 0.01, 0.02, out=g)  # compiles, sizes the workspace
    scratch = impl_numba.workspace().nbytes
    grad_bytes = sum(a.nbytes for a in g)
    assert _peak_bytes(lambda: np.ones(grad_bytes // 8)) >= grad_bytes
    assert _peak_bytes(lambda: _numba_allocates(grad_bytes // 8)) >= grad_bytes
    assert _peak_bytes(lambda: raw.loss_and_grad(p, X, y, 0.01, 0.02)) >= grad_bytes

    results = []
    steps = lambda: results.extend(  # noqa: E731
        raw.loss_and_grad(p, X, y, 0.01, 0.02, out=g) for _ in range(3))
    assert _peak_bytes(steps) < 4096 < min(a.nbytes for a in (g.W1, g.W2))  # seen: 1.8 KB
    for _, got in results:
        assert all(a is b for a, b in zip(got, g, strict=True))
    assert impl_numba.workspace().nbytes == scratch


def test_public_calls_return_the_same_buffers_each_step(problem):
    p, X, y = problem(6, 5, 4, 3, seed=10)
    impl = mlp.get("numba")
    g = mlp.empty_like(p)
    ids = [id(a) for a in g]
    for _ in range(3):
        _, got = impl.loss_and_grad(p, X, y, out=g)
        assert [id(a) for a in got] == ids


def test_empty_like_and_workspace():
    p = mlp.init_params(5, 4, 3, dtype=np.float32)
    g = mlp.empty_like(p)
    assert isinstance(g, mlp.Params)
    for a, b in zip(g, p, strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype and a.flags.c_contiguous
        assert not np.shares_memory(a, b)
    ws = mlp.Workspace()
    big = ws.array("H", (8, 3), np.float64)
    small = ws.array("H", (2, 3), np.float64)
    assert small.shape == (2, 3) and small.flags.c_contiguous
    assert np.shares_memory(big, small)  # reused while it is large enough
    assert ws.array("H", (2, 3), np.float64) is small
    assert not np.shares_memory(ws.array("H", (2, 3), np.float32), big)
    assert ws.nbytes == 8 * 3 * 8 + 2 * 3 * 4
    build = lambda w: (w.array("A", (2,), np.float64),)  # noqa: E731
    first = ws.arrays("key", build)
    assert ws.arrays("key", build) is first
    ws.array("A", (5,), np.float64)  # moves "A": the memoized tuple is dropped
    assert ws.arrays("key", build) is not first
    ws.clear()
    assert ws.nbytes == 0


def _bad_buffers(p, X, y):
    g = mlp.empty_like(p)
    return [
        ("list", list(g), TypeError, "out must be an mlp.Params"),
        ("short", tuple(g)[:3], TypeError, "out must be an mlp.Params"),
        ("not an array", g._replace(b1=g.b1.tolist()), TypeError, "out.b1 must be a NumPy"),
        ("shape", g._replace(W1=g.W1[:, :2].copy()), ValueError, "out.W1 must have the shape"),
        ("dtype", g._replace(W2=g.W2.astype(np.float32)), TypeError, "out.W2 must have the dtype"),
        ("fortran", g._replace(W1=np.asfortranarray(g.W1)), ValueError,
         "out.W1 must be C-contiguous"),
        ("strided", g._replace(b1=np.empty(2 * p.b1.size)[::2]), ValueError,
         "out.b1 must be C-contiguous"),
        ("read-only", g._replace(b2=_read_only(g.b2)), ValueError, "out.b2 must be writeable"),
        ("overlap", g._replace(b2=g.b1[:p.b2.size]), ValueError, "out.b1 and out.b2 overlap"),
        ("aliases W1", g._replace(W1=p.W1), ValueError, "out.W1 shares memory with an input"),
        ("aliases X", g._replace(b1=X.reshape(-1)[:p.b1.size]), ValueError,
         "out.b1 shares memory with an input"),
    ]


def _read_only(a):
    a = a.copy()
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("name", ["numpy", "numba"])
def test_bad_buffers_are_rejected(name):
    p, X, y = mlp.make_problem(5, 4, 6, 3, seed=11)
    impl = mlp.get(name)
    f = impl.forward(p, X)
    for _, out, error, words in _bad_buffers(p, X, y):
        with pytest.raises(error, match=re.escape(words)):
            impl.loss_and_grad(p, X, y, out=out)
        with pytest.raises(error, match=re.escape(words)):
            impl.backward(p, X, y, f, out=out)
    with pytest.raises(ValueError, match="shares memory with an input"):
        impl.backward(p, X, y, f, out=mlp.empty_like(p)._replace(b1=f.hs[0, :p.b1.size]))


