"""The network's parameters and the intermediate values of a forward pass.

``Params(W1, b1, W2, b2)`` holds the set Θ of spec item 2.#5 with the spec's shapes
(``W1`` d_h×d, ``b1`` d_h, ``W2`` m×d_h, ``b2`` m); gradients use the same type.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from mlpbench.checks import check_dtype, check_positive_int

__all__ = ["Forward", "Params", "Workspace", "empty_like", "init_params", "n_params"]


class Params(NamedTuple):
    """Parameters Θ = {W1, b1, W2, b2} (2.#5), or a gradient ∂R/∂Θ with the same shapes."""

    W1: np.ndarray  # d_h × d, input → hidden (2.#1)
    b1: np.ndarray  # d_h
    W2: np.ndarray  # m × d_h, hidden → output (2.#2)
    b2: np.ndarray  # m


class Forward(NamedTuple):
    """Values of a forward pass over a batch of n examples, one row per example."""

    ha: np.ndarray  # n × d_h, hidden pre-activations X W1ᵀ + b1 (2.#1)
    hs: np.ndarray  # n × d_h, hidden outputs relu(ha) (2.#1)
    oa: np.ndarray  # n × m, output pre-activations hs W2ᵀ + b2 (2.#2)
    os: np.ndarray  # n × m, softmax(oa) row-wise (2.#3)


def _sizes(d, d_h, m) -> tuple[int, int, int]:
    return check_positive_int("d", d), check_positive_int("d_h", d_h), check_positive_int("m", m)


def n_params(d: int, d_h: int, m: int) -> int:
    """Number of scalar parameters: ``n_θ = d_h·d + d_h + m·d_h + m`` (2.#5)."""
    d, d_h, m = _sizes(d, d_h, m)
    return d_h * d + d_h + m * d_h + m


def init_params(d: int, d_h: int, m: int, seed=0, dtype=np.float64) -> Params:
    """Random parameters for inputs of size d, d_h hidden units and m classes.

    Weights are drawn uniformly in ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]`` (fan_in is d
    for ``W1``, d_h for ``W2``); biases are zero. The same ``seed`` (anything
    ``np.random.default_rng`` accepts) gives the same parameters. ``dtype`` is
    float32 or float64; the draws are made in float64 and rounded once, so the
    bound holds as rounded to ``dtype``.
    """
    d, d_h, m = _sizes(d, d_h, m)
    dtype = check_dtype("dtype", dtype)
    rng = np.random.default_rng(seed)
    bound1 = 1.0 / np.sqrt(d)
    bound2 = 1.0 / np.sqrt(d_h)
    W1 = rng.uniform(-bound1, bound1, size=(d_h, d)).astype(dtype)
    W2 = rng.uniform(-bound2, bound2, size=(m, d_h)).astype(dtype)
    return Params(W1, np.zeros(d_h, dtype), W2, np.zeros(m, dtype))


def empty_like(p) -> Params:
    """Uninitialized C-contiguous arrays with the shapes and dtype of ``p``: buffers to pass
    as ``out=`` to ``loss_and_grad`` or ``backward`` so that a training loop allocates no
    gradient arrays per step."""
    return Params(*(np.empty(np.shape(a), np.asarray(a).dtype) for a in p))


class Workspace:
    """Scratch arrays kept from one call to the next, one per name and dtype.

    ``array(name, shape, dtype)`` returns a C-contiguous array of that shape (contents
    undefined), reusing the memory of the previous one of that name while it is large
    enough; so a loop over batches of one size, or of smaller ones, allocates nothing
    after the first call. Memory grows to the largest request; ``clear()`` frees it.
    """

    __slots__ = ("_buffers", "_last", "_views")

    def __init__(self) -> None:
        self._buffers: dict[tuple[str, np.dtype], np.ndarray] = {}
        self._views: dict[tuple[str, np.dtype], np.ndarray] = {}
        self._last: tuple | None = None

    def array(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        """A scratch array called ``name``: valid until the next ``array(name, ...)`` call."""
        key = (name, np.dtype(dtype))
        view = self._views.get(key)
        if view is not None and view.shape == shape:
            return view
        size = int(np.prod(shape, dtype=np.int64))
        buffer = self._buffers.get(key)
        if buffer is None or buffer.size < size:
            buffer = self._buffers[key] = np.empty(max(size, 1), key[1])
        view = self._views[key] = buffer[:size].reshape(shape)
        self._last = None  # a memoized tuple may hold the previous view of this name
        return view

    def arrays(self, key, build) -> tuple[np.ndarray, ...]:
        """``build(self)``, a tuple of scratch arrays, kept while ``key`` is the last key
        asked for: a loop calling with one key gets the same arrays without a lookup."""
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        arrays = build(self)
        self._last = (key, arrays)
        return arrays

    @property
    def nbytes(self) -> int:
        """Bytes held by the scratch arrays."""
        return sum(b.nbytes for b in self._buffers.values())

    def clear(self) -> None:
        """Free every scratch array."""
        self._buffers.clear()
        self._views.clear()
        self._last = None
