"""Gradients match central finite differences over every parameter (float64).

Tolerance: ``mlp.GRADCHECK_TOL`` = 1e-7 on the norm-wise relative error per
parameter array. With h = eps^(1/3)·max(1, |θ|) ≈ 6e-6 the finite difference is
off by about h²·|R'''| + eps·|R|/h ≈ 1e-10 relative; 1e-7 leaves room for the
problem's scale while any wrong term of the gradient (a missing 1/n, a penalty on a
bias, a wrong sign) is off by far more.
"""

from __future__ import annotations

import numpy as np
import pytest

from mlpbench import mlp
from mlpbench.mlp.params import Params


def _check(name, shape, penalty, problem):
    p, X, y = problem(*shape, seed=7 + sum(shape))
    errors = mlp.gradcheck(mlp.get(name), p, X, y, *penalty)
    assert set(errors) == {"W1", "b1", "W2", "b2"}
    assert max(errors.values()) <= mlp.GRADCHECK_TOL, errors


@pytest.mark.parametrize("name", [n for n in mlp.CORE_IMPLEMENTATIONS if n != "loops"])
def test_gradient_matches_finite_differences(name, shape, penalty, problem):
    _check(name, shape, penalty, problem)


def test_loops_gradient_matches_finite_differences(small_shape, penalty, problem):
    # About 8 ms per loss at the ragged shape, two per parameter (1811 of them):
    # the pure-Python implementation is checked on the small shapes only.
    _check("loops", small_shape, penalty, problem)


class _Shifted:
    """An implementation whose gradient is wrong in one entry of one array."""

    def __init__(self, field, factor):
        self.base = mlp.get("numpy").raw
        self.field, self.factor = field, factor
        self.forward, self.loss, self.backward = (
            self.base.forward, self.base.loss, self.base.backward)

    def loss_and_grad(self, p, X, y, l1=0.0, l2=0.0):
        loss, g = self.base.loss_and_grad(p, X, y, l1, l2)
        g = g._replace(**{self.field: getattr(g, self.field).copy()})
        getattr(g, self.field).flat[0] *= self.factor
        return loss, g


@pytest.mark.parametrize("field", Params._fields)
def test_gradcheck_detects_a_wrong_entry(field, problem):
    p, X, y = problem(5, 3, 4, 3, seed=8)
    wrong = mlp.Implementation("shifted", _Shifted(field, 1.001))
    errors = mlp.gradcheck(wrong, p, X, y, 0.01, 0.02)
    assert errors[field] > 100 * mlp.GRADCHECK_TOL
    assert all(errors[f] <= mlp.GRADCHECK_TOL for f in Params._fields if f != field)


def test_gradcheck_rejects_bad_arguments(problem):
    p, X, y = problem(3, 2, 2, 2)
    with pytest.raises(ValueError, match="unknown MLP implementation 'nope'"):
        mlp.gradcheck("nope", p, X, y)
    with pytest.raises(TypeError, match="y must be an array of labels"):
        mlp.gradcheck("numpy", p, X, None)
    with pytest.raises(ValueError, match="eps must be a number in"):
        mlp.gradcheck("numpy", p, X, y, eps=0.0)
    with pytest.raises(ValueError, match="l2 must be a finite number"):
        mlp.gradcheck("numpy", p, X, y, l2=-1.0)


def test_gradcheck_float32_is_coarse_but_close(problem):
    """In float32 finite differences carry ~eps32^(2/3) ≈ 2.4e-5 error: checked loosely."""
    p, X, y = problem(5, 3, 4, 3, seed=10, dtype=np.float32)
    errors = mlp.gradcheck("numba", p, X, y)
    assert max(errors.values()) <= 1e-2


def test_make_problem_keeps_away_from_kinks():
    p, X, y = mlp.make_problem(17, 33, 40, 11, seed=1)
    ha = X @ p.W1.T + p.b1
    assert np.min(np.abs(ha)) >= 1e-2
    assert (ha > 0).any() and (ha < 0).any()  # both sides of the kink are exercised
    for W, fan_in in ((p.W1, 33), (p.W2, 40)):
        assert np.min(np.abs(W)) >= 0.2 / np.sqrt(fan_in) - 1e-15
    assert y.dtype == np.int64 and y.min() >= 0 and y.max() < 11
