"""Input checks for the public MLP functions, written once for every implementation.

Each check raises :class:`~mlpbench.errors.InputTypeError` (a ``TypeError``: wrong kind
of object or dtype) or :class:`~mlpbench.errors.InputError` (a ``ValueError``: wrong
shape or value) with a message naming the argument and what was expected; scalars go
through the shared checks of :mod:`mlpbench.checks`.
The checks return normalized inputs, the form the ``raw`` functions require:
C-contiguous arrays of one float dtype (float32 or float64) and labels as int64.
"""

from __future__ import annotations

import numpy as np

from mlpbench.checks import FLOAT_DTYPES, check_choice, check_penalty, check_positive_int
from mlpbench.errors import InputError, InputTypeError
from mlpbench.mlp.params import Forward, Params

__all__ = ["ACTIVATIONS", "DEFAULT_ACTIVATION", "check_activation", "check_forward",
           "check_inputs", "check_out", "check_penalties"]

#: Hidden activations every implementation computes (docs/math.md#hidden-activations):
#: the default, ReLU (1.#7), and part 1's tanh (1.#4), sigmoid (1.#1, 1.#3), softplus (1.#5).
ACTIVATIONS = ("relu", "tanh", "sigmoid", "softplus")
DEFAULT_ACTIVATION = "relu"

_PARAM_NDIM = {"W1": 2, "b1": 1, "W2": 2, "b2": 1}


def _as_array(value, name: str) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise InputTypeError(
            f"{name} must be a NumPy array, got {type(value).__name__}; "
            f"convert it with np.asarray({name})"
        )
    return value


def _as_float_array(value, name: str, ndim: int, shape_doc: str) -> np.ndarray:
    arr = _as_array(value, name)
    if arr.dtype not in FLOAT_DTYPES:
        raise InputTypeError(
            f"{name} must have dtype float32 or float64, got {arr.dtype}; "
            f"convert it with {name}.astype(np.float64)"
        )
    if arr.ndim != ndim:
        hint = f"; for a single example use {name}.reshape(1, -1)" if name == "X" else ""
        raise InputError(
            f"{name} must be {ndim}-D with shape {shape_doc}, "
            f"got a {arr.ndim}-D array of shape {arr.shape}{hint}"
        )
    return arr


def _check_all_finite(arr: np.ndarray, name: str) -> None:
    if not np.isfinite(arr).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise InputError(
            f"{name} must contain only finite values; found {arr[where]} at index {where}"
        )


def _check_params(p) -> Params:
    if not isinstance(p, tuple) or len(p) != 4:
        raise InputTypeError(
            "p must be an mlp.Params(W1, b1, W2, b2) (or a tuple of those four arrays), "
            f"got {type(p).__name__}"
        )
    W1, b1, W2, b2 = (
        _as_float_array(a, name, _PARAM_NDIM[name], doc)
        for a, name, doc in zip(
            p, ("W1", "b1", "W2", "b2"), ("(d_h, d)", "(d_h,)", "(m, d_h)", "(m,)"), strict=True
        )
    )
    d_h, d = W1.shape
    m = W2.shape[0]
    if d_h == 0 or d == 0:
        raise InputError(f"W1 must have shape (d_h, d) with d_h >= 1 and d >= 1, got {W1.shape}")
    if b1.shape != (d_h,):
        raise InputError(f"b1 must have shape (d_h,) = ({d_h},) to match W1, got {b1.shape}")
    if W2.shape[1] != d_h or m == 0:
        raise InputError(
            f"W2 must have shape (m, d_h) with d_h = {d_h} (from W1) and m >= 1, got {W2.shape}"
        )
    if b2.shape != (m,):
        raise InputError(f"b2 must have shape (m,) = ({m},) to match W2, got {b2.shape}")
    for arr, name in ((W1, "W1"), (b1, "b1"), (W2, "W2"), (b2, "b2")):
        if arr.dtype != W1.dtype:
            raise InputTypeError(
                f"parameters must share one dtype: W1 is {W1.dtype} but {name} is {arr.dtype}; "
                f"cast them with .astype({W1.dtype})"
            )
        _check_all_finite(arr, name)
    return Params(*(np.ascontiguousarray(a) for a in (W1, b1, W2, b2)))


def _check_labels(y, n: int, m: int) -> np.ndarray:
    y = _as_array(y, "y")
    if y.dtype == np.bool_ or not np.issubdtype(y.dtype, np.integer):
        raise InputTypeError(
            f"y must hold integer class labels in [0, {m}), got dtype {y.dtype}; "
            "convert exact whole numbers with y.astype(np.int64)"
        )
    if y.shape != (n,):
        raise InputError(f"y must be 1-D with one label per row of X, shape ({n},), got {y.shape}")
    bad = (y < 0) | (y >= m)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(
            f"y must hold labels in [0, m) = [0, {m}) (m from W2); found {y[i]} at index {i}"
        )
    return np.ascontiguousarray(y, dtype=np.int64)


def check_inputs(p, X, y=None, m=None) -> tuple[Params, np.ndarray, np.ndarray | None]:
    """Check and normalize the inputs of the public MLP functions.

    p: ``Params(W1, b1, W2, b2)`` of shapes (d_h, d), (d_h,), (m, d_h), (m,), finite,
    one float dtype. X: (n, d) array with n >= 1, finite, the same dtype. y: None or
    a 1-D integer array of n labels in [0, m). m: None, or the number of classes
    the caller expects, which must equal ``W2.shape[0]``.

    Returns ``(p, X, y)`` as C-contiguous arrays (the inputs themselves when they
    already are) and y as int64; the raw functions require that form.
    """
    p = _check_params(p)
    d_h, d = p.W1.shape
    n_classes = p.W2.shape[0]
    if m is not None and check_positive_int("m", m) != n_classes:
        raise InputError(
            f"m = {m} classes expected, but W2 has shape {p.W2.shape} (m = {n_classes})"
        )
    X = _as_float_array(X, "X", 2, "(n, d)")
    if X.shape[0] == 0:
        raise InputError("X must have at least one row (one example), got n = 0 rows")
    if X.shape[1] != d:
        raise InputError(f"X must have shape (n, d) with d = {d} columns (from W1), got {X.shape}")
    if X.dtype != p.W1.dtype:
        raise InputTypeError(
            f"X and the parameters must share one dtype: X is {X.dtype} but W1 is "
            f"{p.W1.dtype}; cast one of them, e.g. X.astype(p.W1.dtype)"
        )
    _check_all_finite(X, "X")
    X = np.ascontiguousarray(X)
    if y is not None:
        y = _check_labels(y, X.shape[0], n_classes)
    return p, X, y


def check_activation(activation) -> str:
    """``activation`` if it is one of :data:`ACTIVATIONS`; InputError (or InputTypeError)
    naming the choices otherwise."""
    return check_choice("activation", activation, ACTIVATIONS)


def check_penalties(l1, l2) -> tuple[float, float]:
    """Check the penalty weights: finite real numbers >= 0. Returns them as floats."""
    return check_penalty("l1", l1), check_penalty("l2", l2)


def check_forward(f, p: Params, X: np.ndarray) -> Forward:
    """Check a forward pass ``f`` given to ``backward`` against the (checked) p and X.

    f: ``Forward(ha, hs, oa, os)`` with shapes (n, d_h), (n, d_h), (n, m), (n, m) and the
    dtype of X. Returns it with C-contiguous fields.
    """
    if not isinstance(f, tuple) or len(f) != 4:
        raise InputTypeError(
            "f must be an mlp.Forward(ha, hs, oa, os), as returned by forward(p, X), "
            f"got {type(f).__name__}"
        )
    n = X.shape[0]
    d_h = p.W1.shape[0]
    m = p.W2.shape[0]
    fields = []
    for arr, name, shape in zip(
        f, ("ha", "hs", "oa", "os"), ((n, d_h), (n, d_h), (n, m), (n, m)), strict=True
    ):
        arr = _as_array(arr, f"f.{name}")
        if arr.shape != shape:
            raise InputError(
                f"f.{name} must have shape {shape} for X of {n} rows and these parameters, "
                f"got {arr.shape}; pass the result of forward(p, X)"
            )
        if arr.dtype != X.dtype:
            raise InputTypeError(f"f.{name} must have the dtype of X ({X.dtype}), got {arr.dtype}")
        fields.append(np.ascontiguousarray(arr))
    return Forward(*fields)


def check_out(out, p: Params, inputs=()) -> Params:
    """Check gradient buffers ``out`` given to ``loss_and_grad`` or ``backward``.

    out: ``Params`` of writeable C-contiguous arrays with the shapes and dtype of the
    (checked) parameters p, e.g. ``mlp.empty_like(p)``; they may not overlap one another
    nor any array of ``inputs`` (the arrays the call reads). Returns out as ``Params``.
    """
    if not isinstance(out, tuple) or len(out) != 4:
        raise InputTypeError(
            "out must be an mlp.Params(W1, b1, W2, b2) of preallocated arrays, "
            f"e.g. mlp.empty_like(p), got {type(out).__name__}"
        )
    out = Params(*out)
    for arr, name, ref in zip(out, Params._fields, p, strict=True):
        arr = _as_array(arr, f"out.{name}")
        if arr.shape != ref.shape:
            raise InputError(
                f"out.{name} must have the shape of {name}, {ref.shape}, got {arr.shape}; "
                "allocate the buffers with mlp.empty_like(p)"
            )
        if arr.dtype != ref.dtype:
            raise InputTypeError(f"out.{name} must have the dtype of the parameters ({ref.dtype}), "
                            f"got {arr.dtype}")
        if not arr.flags.c_contiguous:
            raise InputError(f"out.{name} must be C-contiguous (a strided view or Fortran "
                             "order is not); allocate the buffers with mlp.empty_like(p)")
        if not arr.flags.writeable:
            raise InputError(f"out.{name} must be writeable")
    for i, (a, name) in enumerate(zip(out, Params._fields, strict=True)):
        for b, other in zip(out[i + 1:], Params._fields[i + 1:], strict=True):
            if np.may_share_memory(a, b):
                raise InputError(f"out.{name} and out.{other} overlap; each needs its own memory")
    seen = set()
    for arr in inputs:
        if not isinstance(arr, np.ndarray) or id(arr) in seen:
            continue
        seen.add(id(arr))
        for a, name in zip(out, Params._fields, strict=True):
            if np.may_share_memory(a, arr):
                raise InputError(
                    f"out.{name} shares memory with an input (the parameters, X, y or the "
                    "forward pass); the gradient needs buffers of its own, e.g. mlp.empty_like(p)"
                )
    return out
