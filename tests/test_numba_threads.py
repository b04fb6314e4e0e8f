"""The compiled implementations at 1 and 2 numba threads, on every size regime.

``numba``: the small-n step (n <= GTX_MAX_ROWS) serial and split over the hidden units
(``_xwt_split``, ``_gtx_split``: each thread its own columns of X W1ᵀ and rows of gW1,
forced here whatever the threading layer and the size of W1); the tiled X W1ᵀ with BLAS's
G_haᵀ X (n <= XWT_MAX_ROWS, or d_h <= XWT_NARROW_D_H on one thread); BLAS for both.
``numba-loops``: its serial and its
parallel path (more shapes in test_numba_loops). Each agrees with ``numpy``
(``mlp.agreement_rtol``) and passes the gradient check at both thread counts. Shapes
make every span of the split uneven (d_h = 37, 40) or empty for one thread (d_h = 4).
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from mlpbench import mlp
from mlpbench.mlp import impl_numba, impl_numba_loops

#: (n, d, d_h, m) by regime of impl_numba's step.
SMALL = [(1, 3, 4, 2), (5, 33, 40, 11), (16, 20, 37, 3)]
TILED = [(17, 33, 40, 11)]
#: d_h <= XWT_NARROW_D_H: the tiled X W1ᵀ at any n on one thread, BLAS on two.
NARROW = [(131, 6, 5, 3)]
BLAS = [(131, 6, 40, 3)]
SHAPES = SMALL + TILED + NARROW + BLAS
PENALTIES = [(0.0, 0.0), (0.003, 0.005)]


def shape_id(shape) -> str:
    return "x".join(map(str, shape))


@pytest.fixture(params=[1, 2], ids=lambda t: f"{t}thr")
def threads(request):
    count = request.param
    if count > numba.config.NUMBA_NUM_THREADS:
        pytest.skip(f"numba has {numba.config.NUMBA_NUM_THREADS} thread(s)")
    previous = numba.get_num_threads()
    numba.set_num_threads(count)
    yield count
    numba.set_num_threads(previous)


@pytest.fixture(params=["numba", "numba-loops"])
def impl(request, monkeypatch, threads):
    """The implementation, its parallel paths taken whenever there are 2 threads."""
    if request.param == "numba":
        monkeypatch.setattr(impl_numba, "_parallel_threads", numba.get_num_threads)
        monkeypatch.setattr(impl_numba, "SMALL_PARALLEL_MIN_WORK", 0)
    elif threads > 1:
        monkeypatch.setattr(impl_numba_loops, "SERIAL_MAX_N", 0)
        monkeypatch.setattr(impl_numba_loops, "SERIAL_MAX_WORK", 0)
    return mlp.get(request.param)


@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_agrees_with_numpy(impl, threads, shape, dtype):
    p, X, y = mlp.make_problem(*shape, seed=sum(shape), dtype=dtype)
    ref = mlp.get("numpy")
    tol = mlp.agreement_rtol(dtype, *shape)
    g_out = mlp.empty_like(p)
    for l1, l2 in PENALTIES:
        want_loss, want = ref.loss_and_grad(p, X, y, l1, l2)
        loss, got = impl.loss_and_grad(p, X, y, l1, l2)
        assert mlp.max_rel_err(loss, want_loss) <= tol
        for field, a, b in zip(mlp.Params._fields, got, want, strict=True):
            assert a.dtype == dtype, field
            err = mlp.max_rel_err(a, b)
            assert err <= tol, f"{field} l1={l1} l2={l2}: {err:.2e} > {tol:.1e}"
        loss_out, _ = impl.loss_and_grad(p, X, y, l1, l2, out=g_out)
        assert loss_out == loss
        for a, b in zip(g_out, got, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shape", [(1, 3, 4, 2), (5, 7, 37, 3), (17, 6, 9, 4), (70, 5, 6, 3)],
                         ids=shape_id)
def test_gradcheck(impl, threads, shape):
    p, X, y = mlp.make_problem(*shape, seed=3)
    errors = mlp.gradcheck(impl, p, X, y, l1=0.01, l2=0.02)
    assert max(errors.values()) <= mlp.GRADCHECK_TOL, errors


def test_the_split_is_taken_only_under_a_spinning_layer(monkeypatch):
    """Under 'workqueue' (threads that sleep) the small-n step stays serial; under
    OpenMP it splits from SMALL_PARALLEL_MIN_WORK entries of W1 on, with 2 threads."""
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 numba threads")
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(2)
        monkeypatch.setattr(impl_numba, "_layer", ["workqueue"])
        assert impl_numba._parallel_threads() == 1
        monkeypatch.setattr(impl_numba, "_layer", ["omp"])
        assert impl_numba._parallel_threads() == 2
        numba.set_num_threads(1)
        assert impl_numba._parallel_threads() == 1
    finally:
        numba.set_num_threads(previous)
    big = impl_numba.SMALL_PARALLEL_MIN_WORK
    assert impl_numba._small_parallel(big, 1, 2) and not impl_numba._small_parallel(big - 1, 1, 2)
    assert not impl_numba._small_parallel(784, 256, 1)


@pytest.mark.parametrize(("size", "parts", "align"), [(256, 2, 8), (37, 2, 16), (4, 2, 8),
                                                      (1000, 3, 4)])
def test_spans_cover_the_range_once(size, parts, align):
    spans = [impl_numba._span(size, parts, c, align) for c in range(parts)]
    assert spans[0][0] == 0 and spans[-1][1] == size
    for (_, hi), (lo, _) in zip(spans, spans[1:], strict=False):
        assert hi == lo and lo % align == 0


def test_narrow_hidden_layers_take_the_tiles_on_one_thread_only(monkeypatch):
    """X W1ᵀ with d_h <= XWT_NARROW_D_H and n past XWT_MAX_ROWS: the tiled loop on one
    numba thread, BLAS on two (which splits it)."""
    calls = []
    tiles = impl_numba._xwt_small
    monkeypatch.setattr(impl_numba, "_xwt_small", lambda *a: calls.append(a[-1]) or tiles(*a))
    previous = numba.get_num_threads()
    try:
        narrow = impl_numba.XWT_NARROW_D_H[0]  # float64
        for threads, d_h, want in ((1, narrow, 1), (1, narrow + 1, 0), (2, 16, 0)):
            if threads > numba.config.NUMBA_NUM_THREADS:
                continue
            numba.set_num_threads(threads)
            calls.clear()
            p, X, y = mlp.make_problem(impl_numba.XWT_MAX_ROWS[0] + 40, 9, d_h, 3, seed=1)
            _, got = impl_numba.loss_and_grad(p, X, y)
            _, ref = mlp.get("numpy").loss_and_grad(p, X, y)
            np.testing.assert_allclose(got.W1, ref.W1, rtol=1e-10, atol=1e-12)
            assert len(calls) == want, (threads, d_h)
    finally:
        numba.set_num_threads(previous)
