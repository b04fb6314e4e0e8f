"""Bad inputs raise a clear error naming the argument, at the public boundary."""

from __future__ import annotations

import numpy as np
import pytest

from mlpbench import mlp
from mlpbench.errors import InputError, InputTypeError


def _setup():
    return mlp.make_problem(5, 3, 4, 3, seed=0)


def _nan_at(a, index):
    a = a.copy()
    a[index] = np.nan
    return a


# (label, change (p, X, y) -> (p, X, y), exception, words the message must contain)
BAD = [
    ("X list", lambda p, X, y: (p, X.tolist(), y), TypeError, "X must be a NumPy array"),
    ("X int", lambda p, X, y: (p, X.astype(np.int64), y), TypeError, "X must have dtype float"),
    ("X float16", lambda p, X, y: (p, X.astype(np.float16), y), TypeError, "X must have dtype"),
    ("X 1-D", lambda p, X, y: (p, X[0], y), ValueError, "X must be 2-D"),
    ("X 3-D", lambda p, X, y: (p, X[None], y), ValueError, "X must be 2-D"),
    ("n = 0", lambda p, X, y: (p, X[:0], y[:0]), ValueError, "X must have at least one row"),
    ("X wrong d", lambda p, X, y: (p, X[:, :2], y), ValueError, "d = 3 columns"),
    ("X NaN", lambda p, X, y: (p, _nan_at(X, (2, 1)), y), ValueError, "X must contain only finite"),
    ("X inf", lambda p, X, y: (p, X * np.inf, y), ValueError, "X must contain only finite"),
    ("X float32", lambda p, X, y: (p, X.astype(np.float32), y), TypeError,
     "X is float32 but W1 is float64"),
    ("p list", lambda p, X, y: (list(p), X, y), TypeError, "p must be an mlp.Params"),
    ("p short", lambda p, X, y: (tuple(p)[:3], X, y), TypeError, "p must be an mlp.Params"),
    ("W1 list", lambda p, X, y: (p._replace(W1=p.W1.tolist()), X, y), TypeError,
     "W1 must be a NumPy array"),
    ("W1 1-D", lambda p, X, y: (p._replace(W1=p.W1[0]), X, y), ValueError, "W1 must be 2-D"),
    ("b1 shape", lambda p, X, y: (p._replace(b1=p.b1[:2]), X, y), ValueError, "b1 must have shape"),
    ("W2 shape", lambda p, X, y: (p._replace(W2=p.W2[:, :2]), X, y), ValueError,
     "W2 must have shape (m, d_h) with d_h = 4"),
    ("b2 shape", lambda p, X, y: (p._replace(b2=p.b2[:2]), X, y), ValueError, "b2 must have shape"),
    ("b2 2-D", lambda p, X, y: (p._replace(b2=p.b2[None]), X, y), ValueError, "b2 must be 1-D"),
    ("W2 NaN", lambda p, X, y: (p._replace(W2=_nan_at(p.W2, (1, 2))), X, y), ValueError,
     "W2 must contain only finite values; found nan at index (1, 2)"),
    ("b1 inf", lambda p, X, y: (p._replace(b1=p.b1 + np.inf), X, y), ValueError,
     "b1 must contain only finite"),
    ("b2 float32", lambda p, X, y: (p._replace(b2=p.b2.astype(np.float32)), X, y), TypeError,
     "W1 is float64 but b2 is float32"),
    ("W1 int", lambda p, X, y: (p._replace(W1=p.W1.astype(int)), X, y), TypeError,
     "W1 must have dtype float32 or float64"),
]

BAD_LABELS = [
    ("y list", lambda y: y.tolist(), TypeError, "y must be a NumPy array"),
    ("y float", lambda y: y.astype(np.float64), TypeError, "y must hold integer class labels"),
    ("y bool", lambda y: y > 0, TypeError, "y must hold integer class labels"),
    ("y 2-D", lambda y: y[:, None], ValueError, "y must be 1-D with one label per row"),
    ("y short", lambda y: y[:4], ValueError,
     "y must be 1-D with one label per row of X, shape (5,)"),
    ("y negative", lambda y: np.where(np.arange(5) == 3, -1, y), ValueError,
     "labels in [0, m) = [0, 3) (m from W2); found -1 at index 3"),
    ("y = m", lambda y: np.full(5, 3), ValueError, "found 3 at index 0"),
]

BAD_PENALTIES = [
    ({"l1": -0.1}, ValueError, "l1 must be a finite number >= 0"),
    ({"l2": np.nan}, ValueError, "l2 must be a finite number >= 0"),
    ({"l2": np.inf}, ValueError, "l2 must be a finite number >= 0"),
    ({"l1": "0.1"}, TypeError, "l1 must be a real number"),
    ({"l2": None}, TypeError, "l2 must be a real number"),
    ({"l1": True}, TypeError, "l1 must be a real number"),
]


def _calls(impl, p, X, y, **kw):
    """Each public function on the same inputs, as zero-argument callables."""
    return {
        "forward": lambda: impl.forward(p, X),
        "loss": lambda: impl.loss(p, X, y, **kw),
        "loss_and_grad": lambda: impl.loss_and_grad(p, X, y, **kw),
        "backward": lambda: impl.backward(p, X, y, _FORWARD, **kw),
    }


_P, _X, _Y = _setup()
_FORWARD = mlp.get("numpy").forward(_P, _X)


@pytest.mark.parametrize("name", mlp.CORE_IMPLEMENTATIONS)
@pytest.mark.parametrize(("label", "change", "error", "match"), BAD, ids=[b[0] for b in BAD])
def test_bad_data_is_rejected(name, label, change, error, match):
    p, X, y = change(*_setup())
    for call in _calls(mlp.get(name), p, X, y).values():
        with pytest.raises(error, match=_literal(match)):
            call()
    with pytest.raises(error, match=_literal(match)) as info:
        mlp.check_inputs(p, X, y)
    # the one error policy: mlpbench's own classes, TypeError for a kind, ValueError a value
    assert isinstance(info.value, InputTypeError if error is TypeError else InputError)


@pytest.mark.parametrize("name", mlp.CORE_IMPLEMENTATIONS)
@pytest.mark.parametrize(("label", "change", "error", "match"), BAD_LABELS,
                         ids=[b[0] for b in BAD_LABELS])
def test_bad_labels_are_rejected(name, label, change, error, match):
    p, X, y = _setup()
    y = change(y)
    calls = _calls(mlp.get(name), p, X, y)
    del calls["forward"]  # takes no labels
    for call in calls.values():
        with pytest.raises(error, match=_literal(match)):
            call()


@pytest.mark.parametrize("name", mlp.CORE_IMPLEMENTATIONS)
@pytest.mark.parametrize(("kw", "error", "match"), BAD_PENALTIES)
def test_bad_penalties_are_rejected(name, kw, error, match):
    calls = _calls(mlp.get(name), *_setup(), **kw)
    del calls["forward"]
    for call in calls.values():
        with pytest.raises(error, match=_literal(match)):
            call()


def test_penalties_accept_ints_and_numpy_scalars():
    p, X, y = _setup()
    impl = mlp.get("numpy")
    assert impl.loss(p, X, y, 1, np.float32(0.5)) == pytest.approx(impl.loss(p, X, y, 1.0, 0.5),
                                                                  rel=1e-15)


@pytest.mark.parametrize("name", mlp.CORE_IMPLEMENTATIONS)
def test_bad_forward_pass_is_rejected(name):
    p, X, y = _setup()
    impl = mlp.get(name)
    f = impl.forward(p, X)
    with pytest.raises(TypeError, match="f must be an mlp.Forward"):
        impl.backward(p, X, y, f[:3])
    with pytest.raises(ValueError, match=r"f.oa must have shape \(5, 3\)"):
        impl.backward(p, X, y, f._replace(oa=f.oa[:, :2]))
    with pytest.raises(ValueError, match=r"f.ha must have shape \(4, 4\) for X of 4 rows"):
        impl.backward(p, X[:4], y[:4], f)
    with pytest.raises(TypeError, match=r"f.os must have the dtype of X \(float64\)"):
        impl.backward(p, X, y, f._replace(os=f.os.astype(np.float32)))
    with pytest.raises(TypeError, match="f.hs must be a NumPy array"):
        impl.backward(p, X, y, f._replace(hs=f.hs.tolist()))


def test_check_inputs_normalizes():
    p, X, y = _setup()
    p32 = mlp.Params(*(np.asfortranarray(a.astype(np.float32)) for a in p))
    X32 = X.astype(np.float32)[:, ::-1]
    p2, X2, y2 = mlp.check_inputs(p32, X32, y.astype(np.int8), m=3)
    assert isinstance(p2, mlp.Params)
    for a, b in zip((*p2, X2), (*p32, X32), strict=True):
        assert a.flags.c_contiguous and a.dtype == np.float32
        np.testing.assert_array_equal(a, b)
    assert y2.dtype == np.int64 and y2.flags.c_contiguous
    # Inputs already in normal form are passed through, not copied.
    p3, X3, y3 = mlp.check_inputs(p, X, y)
    assert X3 is X and y3 is y and all(a is b for a, b in zip(p3, p, strict=True))
    assert mlp.check_inputs(p, X)[2] is None
    with pytest.raises(ValueError, match=r"m = 4 classes expected, but W2 has shape \(3, 4\)"):
        mlp.check_inputs(p, X, y, m=4)
    # A plain tuple of the four arrays is accepted as parameters.
    assert isinstance(mlp.check_inputs(tuple(p), X)[0], mlp.Params)


def _literal(text: str) -> str:
    import re

    return re.escape(text)
