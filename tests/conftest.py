"""Shared fixtures: MLP problems away from the kinks of ReLU and |·|, shapes, dtypes."""

from __future__ import annotations

import numpy as np
import pytest

from mlpbench import mlp

#: (n, d, d_h, m): a single example, d = 1, d_h = 1, m = 2, and a ragged one.
SMALL_SHAPES = [(1, 1, 1, 2), (1, 3, 4, 2), (5, 1, 3, 3), (4, 3, 1, 2), (6, 5, 7, 4)]
SHAPES = SMALL_SHAPES[:4] + [(17, 33, 40, 11)]

#: Penalty settings (l1, l2): none, each alone, both.
PENALTIES = [(0.0, 0.0), (0.01, 0.0), (0.0, 0.02), (0.003, 0.005)]


def _shape_id(shape) -> str:
    return "x".join(map(str, shape))


@pytest.fixture(params=SHAPES, ids=_shape_id)
def shape(request):
    """A problem shape (n, d, d_h, m), from the edge cases to the ragged (17, 33, 40, 11)."""
    return request.param


@pytest.fixture(params=SMALL_SHAPES, ids=_shape_id)
def small_shape(request):
    """The edge-case shapes and a small ragged one, for the pure-Python implementation."""
    return request.param


@pytest.fixture(params=PENALTIES, ids=lambda t: f"l1={t[0]},l2={t[1]}")
def penalty(request):
    """Penalty weights (l1, l2)."""
    return request.param


@pytest.fixture
def problem():
    """``problem(n, d, d_h, m, seed=0, dtype=np.float64) -> (p, X, y)``.

    Hidden pre-activations satisfy ``|ha| >= 1e-2`` and weights ``|w| >= 0.2/sqrt(fan_in)``,
    so finite differences never straddle a kink (see ``mlp.make_problem``).
    """

    def make(n, d, d_h, m, seed=0, dtype=np.float64):
        return mlp.make_problem(n, d, d_h, m, seed=seed, dtype=dtype)

    return make


@pytest.fixture(params=[np.float64, np.float32], ids=["float64", "float32"])
def dtype(request):
    return request.param
