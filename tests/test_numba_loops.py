"""The ``numba-loops`` implementation (no BLAS) agrees with ``numpy`` on every path.

Both paths are forced on every shape (serial loops; parallel chunks with packed,
tiled products), with 1 and 2 numba threads. Tolerances are ``mlp.agreement_rtol``
(float64 1e-12; float32 ``16·eps32·sqrt(n + d + d_h + m)``, see test_mlp_agreement),
errors norm-wise (``mlp.max_rel_err``). Shapes include n = d = d_h = 1, m = 2, a
ragged one, and two larger than the block sizes of ``_gemm_numba`` (4 KiB of a row
per pass of dot products: 512 float64 or 1024 float32; JB = 64 rows of Bt; 64×128
tiles of gW1; 8-row bands), so that every blocked and every remainder loop runs.
"""

from __future__ import annotations

import ast
import inspect

import numba
import numpy as np
import pytest

from mlpbench import mlp
from mlpbench.mlp import _gemm_numba, _numba_blocks, impl_numba_loops

IMPL = mlp.Implementation("numba-loops", impl_numba_loops)

#: (n, d, d_h, m): tiny and ragged ones; one past every block with d = 1030 (the
#: forward's dot products take 3 passes in float64, 2 in float32); n = 1100 (the same
#: for the backward's).
SHAPES = [(1, 1, 1, 2), (1, 3, 4, 2), (5, 1, 3, 3), (4, 3, 1, 2), (17, 33, 40, 11),
          (70, 1030, 90, 7), (1100, 20, 13, 3)]
THREADS = [1, 2]
#: Penalty settings (l1, l2): none, each alone, both.
PENALTIES = [(0.0, 0.0), (0.01, 0.0), (0.0, 0.02), (0.003, 0.005)]


def shape_id(shape) -> str:
    return "x".join(map(str, shape))


def problem(n, d, d_h, m, seed=0, dtype=np.float64):
    """A problem away from the kinks of ReLU and |·| (``mlp.make_problem``)."""
    return mlp.make_problem(n, d, d_h, m, seed=seed, dtype=dtype)


@pytest.fixture(params=[np.float64, np.float32], ids=["float64", "float32"])
def dtype(request):
    return request.param


@pytest.fixture(params=["serial", "parallel"])
def path(request, monkeypatch):
    """Force one of the two paths, whatever the size."""
    if request.param == "serial":
        monkeypatch.setattr(impl_numba_loops, "SERIAL_MAX_N", 10**9)
    else:
        monkeypatch.setattr(impl_numba_loops, "SERIAL_MAX_N", 0)
        monkeypatch.setattr(impl_numba_loops, "SERIAL_MAX_WORK", 0)
    return request.param


@pytest.fixture(params=THREADS, ids=lambda t: f"{t}thr")
def threads(request):
    count = request.param
    if count > numba.config.NUMBA_NUM_THREADS:
        pytest.skip(f"numba has {numba.config.NUMBA_NUM_THREADS} thread(s)")
    previous = numba.get_num_threads()
    numba.set_num_threads(count)
    yield count
    numba.set_num_threads(previous)


def assert_agree(got, want, tol, label):
    assert np.shape(got) == np.shape(want), label
    err = mlp.max_rel_err(got, want)
    assert err <= tol, f"{label}: max rel err {err:.3e} > {tol:.1e}"


@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_agrees_with_numpy(shape, path, threads, dtype):
    p, X, y = problem(*shape, seed=sum(shape), dtype=dtype)
    ref = mlp.get("numpy")
    tol = mlp.agreement_rtol(dtype, *shape)
    f_ref, f = ref.forward(p, X), IMPL.forward(p, X)
    for field in mlp.Forward._fields:
        got = getattr(f, field)
        assert got.dtype == dtype, field
        assert_agree(got, getattr(f_ref, field), tol, f"forward.{field}")
    for l1, l2 in PENALTIES:
        loss_ref, g_ref = ref.loss_and_grad(p, X, y, l1, l2)
        loss, g = IMPL.loss_and_grad(p, X, y, l1, l2)
        assert_agree(loss, loss_ref, tol, f"loss_and_grad loss, l1={l1} l2={l2}")
        assert_agree(IMPL.loss(p, X, y, l1, l2), loss_ref, tol, f"loss, l1={l1} l2={l2}")
        g_back = IMPL.backward(p, X, y, f, l1, l2)
        for field in mlp.Params._fields:
            for label, grad in (("loss_and_grad", g), ("backward", g_back)):
                got = getattr(grad, field)
                assert got.dtype == dtype, f"{label}.{field}"
                assert_agree(got, getattr(g_ref, field), tol, f"{label}.{field} l1={l1} l2={l2}")


@pytest.mark.parametrize("shape", [(17, 33, 40, 11), (70, 1030, 90, 7)], ids=shape_id)
def test_thread_count_does_not_change_results(shape, path, dtype):
    """Chunks and tiles depend on the sizes only: 1 and 2 threads give identical bits."""
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 numba threads")
    p, X, y = problem(*shape, seed=5, dtype=dtype)
    previous = numba.get_num_threads()
    results = []
    try:
        for count in (1, 2):
            numba.set_num_threads(count)
            results.append(IMPL.loss_and_grad(p, X, y, 0.01, 0.02))
    finally:
        numba.set_num_threads(previous)
    (loss1, g1), (loss2, g2) = results
    assert loss1 == loss2
    for a, b in zip(g1, g2, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shape", [(1, 3, 4, 2), (6, 4, 5, 3), (9, 7, 10, 4)], ids=shape_id)
def test_gradcheck(shape, path):
    p, X, y = problem(*shape, seed=2)
    errors = mlp.gradcheck(IMPL, p, X, y, l1=0.01, l2=0.02)
    assert max(errors.values()) <= mlp.GRADCHECK_TOL, errors


def test_inputs_are_not_mutated(path):
    p, X, y = problem(40, 9, 12, 4, seed=6)
    copies = [a.copy() for a in (*p, X, y)]
    f = IMPL.forward(p, X)
    f_copies = [a.copy() for a in f]
    IMPL.loss_and_grad(p, X, y, 0.01, 0.02)
    IMPL.backward(p, X, y, f, 0.01, 0.02)
    IMPL.loss(p, X, y, 0.01, 0.02)
    for a, b in zip((*p, X, y, *f), copies + f_copies, strict=True):
        np.testing.assert_array_equal(a, b)


def test_size_chooses_the_path():
    serial = impl_numba_loops._serial
    assert serial(impl_numba_loops.SERIAL_MAX_N, 784, 256)
    assert not serial(1024, 784, 256)
    assert serial(10**4, 2, 3)  # tiny work: no threads, whatever n


@pytest.mark.parametrize("n", [1, 8, 70, 600, 10**5])
def test_chunks_cover_rows_in_whole_bands(n):
    count, rows = impl_numba_loops._chunks(n)
    assert rows % 8 == 0
    assert count <= impl_numba_loops.MAX_CHUNKS
    assert (count - 1) * rows < n <= count * rows


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(1, 1, 1), (5, 7, 2), (9, 1030, 70), (13, 40, 131)],
                         ids=shape_id)
def test_gemm_nt_matches_matmul(shape, dtype):
    """``C += A Btᵀ`` on a sub-block, with remainders in every direction."""
    rows, K, cols = shape
    rng = np.random.default_rng(sum(shape))
    A = rng.standard_normal((rows, K)).astype(dtype)
    Bt = rng.standard_normal((cols, K)).astype(dtype)
    C = np.ones((rows, cols), dtype)
    i0, j0 = rows // 3, cols // 4
    _gemm_numba._gemm_nt(A, Bt, C, i0, rows, j0, cols, K)
    want = np.ones((rows, cols))
    want[i0:, j0:] += A[i0:].astype(np.float64) @ Bt[j0:].astype(np.float64).T
    tol = 1e-13 if dtype == np.float64 else 16 * float(np.finfo(np.float32).eps) * np.sqrt(K)
    assert mlp.max_rel_err(C, want) <= tol


@pytest.mark.parametrize("rows", [1, 8, 13])
def test_transpose_rows_and_axpy_t(rows):
    rng = np.random.default_rng(rows)
    X = rng.standard_normal((rows, 11))
    XT = np.zeros((11, _gemm_numba.leading_dim(rows, 8)))
    _gemm_numba._transpose_rows(X, XT, 0, rows)
    np.testing.assert_array_equal(XT[:, :rows], X.T)
    assert not XT[:, rows:].any()
    G = rng.standard_normal((rows, 6))
    C = np.zeros((6, 11))
    _gemm_numba._axpy_t(G, X, C, 1, 6)  # two pairs of rows and an odd one
    want = np.zeros((6, 11))
    want[1:6] = G[:, 1:6].T @ X
    assert mlp.max_rel_err(C, want) <= 1e-14


@pytest.mark.parametrize("n", [1, 7, 128, 1024, 1000])
@pytest.mark.parametrize("itemsize", [4, 8])
def test_leading_dim_avoids_cache_aliasing(n, itemsize):
    ld = _gemm_numba.leading_dim(n, itemsize)
    assert ld >= n
    assert (ld * itemsize) % 64 == 0
    assert (ld * itemsize) % 1024 != 0


def test_no_blas_in_the_source():
    """The point of this implementation: no ``@``, np.dot, matmul or other BLAS-backed call."""
    blas_names = {"dot", "matmul", "vdot", "inner", "outer", "einsum", "tensordot", "linalg"}
    for module in (impl_numba_loops, _gemm_numba, _numba_blocks):
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            op = getattr(node, "op", None)
            assert not isinstance(op, ast.MatMult), f"{module.__name__}: '@' on line {node.lineno}"
            if isinstance(node, ast.Attribute):
                assert node.attr not in blas_names, f"{module.__name__}: .{node.attr}"
