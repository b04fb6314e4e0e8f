"""Spec part 1: element-wise functions, their derivatives, softmax and norms.

The public face is written once, here: each of the functions in ``NAMES`` has one
docstring and one input check, in ``KernelSet``. ``get(name)`` returns the set bound to
the raw functions of one implementation module (``impl_loops``, ``impl_numpy``,
``impl_numba``), which trust their inputs (see ``KernelSet`` for what they receive).
"""

from __future__ import annotations

import importlib
from types import ModuleType

import numpy as np

from mlpbench.checks import FLOAT_DTYPES, check_choice
from mlpbench.errors import InputError, InputTypeError

__all__ = ["IMPLEMENTATIONS", "NAMES", "KernelSet", "get"]

#: Implementation names, from the most literal to the fastest.
IMPLEMENTATIONS = ("loops", "numpy", "numba")

#: The public functions of every ``KernelSet`` (and the raw functions of every
#: implementation module): nine element-wise ones, two along the last axis, two norms.
NAMES = (
    "sigmoid",
    "sigmoid_grad",
    "tanh_grad",
    "softplus",
    "log_sigmoid",
    "relu",
    "relu_grad",
    "softmax",
    "logsumexp",
    "l1",
    "l1_grad",
    "sq_l2",
    "sq_l2_grad",
)

_sets: dict[str, KernelSet] = {}


def get(name: str) -> KernelSet:
    """The public functions computed by implementation ``name`` ("loops", "numpy" or "numba")."""
    kernel_set = _sets.get(name)
    if kernel_set is None:
        check_choice("kernels implementation", name, IMPLEMENTATIONS)
        # Imported on demand so that using "numpy" never pays for compiling numba kernels.
        raw = importlib.import_module(f"mlpbench.kernels.impl_{name}")
        kernel_set = _sets[name] = KernelSet(name, raw)
    return kernel_set


def _as_float_array(x, name: str) -> np.ndarray:
    """``np.asarray(x)``, checked to be float32 or float64 (the public-boundary check)."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(
            f"{name} must be a float32 or float64 array; np.asarray({name}) failed: {exc}"
        ) from None
    if arr.dtype not in FLOAT_DTYPES:
        raise InputTypeError(
            f"{name} must be a float32 or float64 array, got dtype {arr.dtype}; "
            f"convert it first, e.g. {name}.astype(np.float64)"
        )
    return arr


def _as_float_rows(z, name: str) -> np.ndarray:
    """Like ``_as_float_array``, and at least 1-D (softmax and logsumexp use the last axis)."""
    arr = _as_float_array(z, name)
    if arr.ndim == 0:
        raise InputError(
            f"{name} must have at least one dimension (softmax and logsumexp act on the "
            f"last axis), got a 0-d array; pass e.g. np.atleast_1d({name})"
        )
    return arr


def _elementwise(name: str, doc: str):
    """The public element-wise function ``name``: check x, apply the raw formula."""

    def public(self, x):
        raw = self.raw
        return np.asarray(raw.elementwise(getattr(raw, name), _as_float_array(x, "x")))

    public.__name__ = public.__qualname__ = name
    public.__doc__ = doc + _ELEMENTWISE_SHAPES
    return public


def _norm(name: str, doc: str):
    """The public norm ``name``: check x, return the raw sum as a scalar of x's dtype."""

    def public(self, x):
        x = _as_float_array(x, "x")
        return x.dtype.type(getattr(self.raw, name)(x))

    public.__name__ = public.__qualname__ = name
    public.__doc__ = doc + _NORM_SHAPES
    return public


_ELEMENTWISE_SHAPES = """

    x: a float32/float64 array (or a list or float NumPy reads as one), any shape,
    any layout. Returns a new array of the same shape and dtype.
    """
_NORM_SHAPES = """

    x: a float32/float64 array (or a list or float NumPy reads as one), any shape.
    Returns a scalar of x's dtype.
    """


class KernelSet:
    """The public functions of spec part 1, computed by one implementation's raw functions.

    ``raw`` is the implementation module. Its raw functions trust their inputs, which
    the methods here check and normalize: an element-wise formula is applied to a
    float32/float64 array by ``raw.elementwise(raw.<name>, x)`` (the formula may be a
    scalar function, an array function or a compiled kernel, as the module chooses);
    ``raw.softmax(z)`` and ``raw.logsumexp(z)`` get an array with at least one row of
    at least one entry; ``raw.l1(x)`` and ``raw.sq_l2(x)`` return a number representable
    in x's dtype (inf where the sum is beyond its range).

    Every stable form below keeps exp's argument <= 0, so nothing overflows, and keeps
    full relative accuracy over the whole float range (docs/math.md, part 1).
    """

    __slots__ = ("name", "raw")

    def __init__(self, name: str, raw: ModuleType):
        self.name = name
        self.raw = raw

    def __repr__(self) -> str:
        return f"<kernels {self.name!r}>"

    sigmoid = _elementwise("sigmoid", """Logistic sigmoid, element-wise (1.#1).

    ``sigmoid(x) = 1 / (1 + exp(-x)) = (tanh(x/2) + 1) / 2``, computed as ``1/(1+e)`` for
    x >= 0 and ``e/(1+e)`` for x < 0 with ``e = exp(-|x|)``: both branches are exact in
    ratio, where the tanh identity loses every digit below x ≈ -40 in float64.""")

    sigmoid_grad = _elementwise("sigmoid_grad", """Derivative of the sigmoid, element-wise (1.#3).

    ``sigmoid'(x) = s(1 - s) = e / (1 + e)^2`` with ``e = exp(-|x|)``: even in x, and no
    cancellation where s is close to 1. The square is expanded as ``1 + e(2 + e)`` so
    that the rounding of ``1 + e`` is not squared (3 ulp instead of 4 at worst in float32).""")

    tanh_grad = _elementwise("tanh_grad", """Derivative of tanh, element-wise (1.#4).

    ``tanh'(x) = 1 - tanh(x)^2 = 4e / (1 + e)^2`` with ``e = exp(-2|x|)``: full relative
    accuracy in the tails, where ``1 - tanh^2`` cancels; ``(1 + e)^2`` is expanded as in
    ``sigmoid_grad``. exp(-2|x|) is 0 for |x| = inf, the right limit.""")

    softplus = _elementwise("softplus", """Softplus, element-wise; its derivative is sigmoid (1.#5).

    ``softplus(x) = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))``.""")

    log_sigmoid = _elementwise("log_sigmoid", """Log of the sigmoid, element-wise (1.#2).

    ``log sigmoid(x) = -softplus(-x) = min(x, 0) - log1p(exp(-|x|))``.""")

    relu = _elementwise("relu", """Rectifier, element-wise (1.#7): ``rect(x) = max(x, 0)``.""")

    relu_grad = _elementwise("relu_grad", """Derivative of the rectifier, element-wise (1.#7).

    ``rect'(x) = 1[x > 0]``: 0 at x = 0, the convention of 2.#13–14.""")

    l1_grad = _elementwise("l1_grad", """Gradient of the L1 norm, element-wise (1.#9 through 1.#6).

    ``d||x||_1/dx = sign(x) = 1[x > 0] - 1[x < 0]``: 0 at x = 0.""")

    sq_l2_grad = _elementwise("sq_l2_grad", """Gradient of the squared L2 norm (1.#8): ``2x``.

    2x beyond the float range is inf, its correctly rounded value.""")

    l1 = _norm("l1", """L1 norm of the whole array (1.#9): ``||x||_1 = sum_i |x_i|``.

    A sum beyond the float range is inf, the correctly rounded norm: not an error.""")

    sq_l2 = _norm("sq_l2", """Squared L2 norm of the whole array (1.#8): ``||x||_2^2 = sum x_i^2``.

    A sum beyond the float range is inf, the correctly rounded norm: not an error.""")

    def softmax(self, z):
        """Softmax along the last axis (2.#3): ``exp(z_k - M) / sum_k' exp(z_k' - M)``.

        ``M`` is the row maximum, so no exp overflows and each row sums to 1. A row whose
        maximum is +inf or -inf is shared equally among its entries equal to that maximum
        (the limit).

        z: float32/float64 array with at least one dimension. Returns a new array of the
        same shape and dtype.
        """
        z = _as_float_rows(z, "z")
        if z.size == 0:
            return np.empty(z.shape, z.dtype)
        return self.raw.softmax(z)

    def logsumexp(self, z):
        """Log-sum-exp along the last axis (2.#4): ``logsumexp(z) = M + log(sum_k exp(z_k - M))``.

        ``M`` is the row maximum; the sum is >= 1, so the log is finite. A row of -inf
        gives -inf, a row holding +inf gives +inf, an empty row gives -inf (log of an
        empty sum).

        z: float32/float64 array with at least one dimension, shape (..., k).
        Returns an array of shape ``z.shape[:-1]`` (0-d for 1-D input), same dtype.
        """
        z = _as_float_rows(z, "z")
        if z.shape[-1] == 0:
            return np.full(z.shape[:-1], -np.inf, z.dtype)
        if z.size == 0:
            return np.empty(z.shape[:-1], z.dtype)
        return np.asarray(self.raw.logsumexp(z))
