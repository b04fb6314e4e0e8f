"""A representable mean loss stays representable (2.#5), and its gradient finite.

X filled with a value near the top of the float range (1e308 in float64, 1e38 in
float32) and ordinary parameters give pre-activations that are large but representable
and per-example losses L_i near the top of the range: their sum overflows although their
mean does not. Every registered implementation must return the mean and a finite
gradient, both close to a reference computed in mpmath (40 digits, unbounded exponent)
from the same inputs: tolerance ``mlp.agreement_rtol``, norm-wise for the gradients.
A second case puts one L_i alone beyond the range (n = 2, mean within it).
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from mlpbench import mlp
from mlpbench.mlp import impl_numba_loops

#: Per dtype, the value X is filled with: about max/1.8 (float64) and max/3.4 (float32).
FILL = {np.dtype(np.float64): 1e308, np.dtype(np.float32): 1e38}
#: (6, 5, 7, 3) is the peers' test shape (no new JAX compile); (40, 9, 13, 4) takes
#: numba's 4-example blocks and BLAS products, and more than one chunk in numba-loops.
SHAPES = [(6, 5, 7, 3), (40, 9, 13, 4)]


def _reference(p, X, y):
    """``(R, Params of ∂R/∂Θ)`` in mpmath, as float64 numbers, by the scalar forms of
    2.#1–16; also the largest |ha|, |oa| (the test is only about the loss if they fit)."""
    with mpmath.workdps(40):
        W1, W2 = ([[mpmath.mpf(v) for v in row] for row in W.tolist()] for W in (p.W1, p.W2))
        b1, b2 = ([mpmath.mpf(v) for v in b.tolist()] for b in (p.b1, p.b2))
        d_h, d, m, n = len(W1), len(W1[0]), len(W2), len(X)
        gW1 = [[mpmath.mpf(0)] * d for _ in range(d_h)]
        gW2 = [[mpmath.mpf(0)] * d_h for _ in range(m)]
        gb1, gb2 = [mpmath.mpf(0)] * d_h, [mpmath.mpf(0)] * m
        R, biggest = mpmath.mpf(0), mpmath.mpf(0)
        for x, label in zip(X.tolist(), y.tolist(), strict=True):
            x = [mpmath.mpf(v) for v in x]
            ha = [b1[j] + mpmath.fsum(W1[j][l] * x[l] for l in range(d)) for j in range(d_h)]
            hs = [max(v, 0) for v in ha]
            oa = [b2[k] + mpmath.fsum(W2[k][j] * hs[j] for j in range(d_h)) for k in range(m)]
            biggest = max([biggest, *map(abs, ha), *map(abs, oa)])
            top = max(oa)
            lse = top + mpmath.log(mpmath.fsum(mpmath.exp(v - top) for v in oa))
            R += (lse - oa[label]) / n
            G_oa = [(mpmath.exp(oa[k] - lse) - (k == label)) / n for k in range(m)]
            for k in range(m):
                gb2[k] += G_oa[k]
                for j in range(d_h):
                    gW2[k][j] += G_oa[k] * hs[j]
            for j in range(d_h):
                G_ha = mpmath.fsum(G_oa[k] * W2[k][j] for k in range(m)) * (ha[j] > 0)
                gb1[j] += G_ha
                for l in range(d):
                    gW1[j][l] += G_ha * x[l]
        grad = mlp.Params(*(np.array(a, dtype=float) for a in (gW1, gb1, gW2, gb2)))
        return float(R), grad, float(biggest)


def _filled(shape, dtype):
    n, d, d_h, m = shape
    p = mlp.init_params(d, d_h, m, seed=sum(shape), dtype=dtype)
    X = np.full((n, d), FILL[np.dtype(dtype)], dtype)
    return p, X, np.arange(n) % m


def _assert_mean_and_gradient(impl, p, X, y, rtol):
    """loss, loss_and_grad and backward all give the reference mean and gradient."""
    want_R, want_g, biggest = _reference(p, X, y)
    assert biggest < np.finfo(X.dtype).max  # the pre-activations themselves fit
    assert want_R < np.finfo(np.float64).max
    f = impl.forward(p, X)
    R, g = impl.loss_and_grad(p, X, y)
    for label, got in (("loss", impl.loss(p, X, y)), ("loss_and_grad", R)):
        assert np.isfinite(got), f"{label}: {got} where the mean is {want_R:.6e}"
        assert got == pytest.approx(want_R, rel=rtol), label
    for label, grad in (("loss_and_grad", g), ("backward", impl.backward(p, X, y, f))):
        for field, got, want in zip(mlp.Params._fields, grad, want_g, strict=True):
            assert np.all(np.isfinite(got)), f"{label}.{field}: {got}"
            err = mlp.max_rel_err(got, want)
            assert err <= rtol, f"{label}.{field}: max rel err {err:.2e} > {rtol:.1e}"


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", mlp.IMPLEMENTATIONS)
def test_mean_loss_near_the_top_of_the_range(name, shape, dtype):
    """The case of the issue: each L_i fits, their sum does not, their mean does."""
    p, X, y = _filled(shape, dtype)
    _assert_mean_and_gradient(mlp.get(name), p, X, y, mlp.agreement_rtol(dtype, *shape))


def test_numba_loops_parallel_path(monkeypatch, dtype):
    """The same through numba-loops' chunked, parallel path (the loss summed per chunk)."""
    monkeypatch.setattr(impl_numba_loops, "SERIAL_MAX_N", 0)
    monkeypatch.setattr(impl_numba_loops, "SERIAL_MAX_WORK", 0)
    shape = SHAPES[1]
    p, X, y = _filled(shape, dtype)
    impl = mlp.Implementation("numba-loops", impl_numba_loops)
    _assert_mean_and_gradient(impl, p, X, y, mlp.agreement_rtol(dtype, *shape))


#: Implementations that form each L_i whole in the data's dtype: one L_i beyond the
#: range is inf there whatever the mean (``F.cross_entropy`` returns the L_i).
WHOLE_TERMS = {"torch-autograd"}


@pytest.mark.parametrize("name", mlp.IMPLEMENTATIONS)
def test_one_loss_beyond_the_range_mean_within_it(name):
    """L_0 = 2e308 (logits ±1e308, label on the low one) and L_1 = log 2: the mean,
    1e308, is representable, and so is every gradient entry."""
    p = mlp.Params(np.ones((1, 1)), np.zeros(1), np.array([[1.0], [-1.0]]), np.zeros(2))
    X = np.array([[1e308], [0.0]])
    y = np.array([1, 0])
    impl = mlp.get(name)
    if name in WHOLE_TERMS:
        assert impl.loss(p, X, y) == np.inf  # documented limit, not a silent one
        return
    _assert_mean_and_gradient(impl, p, X, y, mlp.agreement_rtol(np.float64, 2, 1, 1, 2))
