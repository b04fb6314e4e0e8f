"""Checking gradients against central finite differences, and the test problems for it.

``gradcheck`` perturbs every parameter in turn; ``make_problem`` draws problems whose
hidden pre-activations and weights stay away from the kinks of ReLU and |·|, where a
finite difference would straddle a discontinuity of the derivative.
"""

from __future__ import annotations

import math

import numpy as np

from mlpbench.checks import check_dtype, check_finite, check_positive, check_positive_int
from mlpbench.errors import InputError, InputTypeError
from mlpbench.mlp.params import Params
from mlpbench.mlp.registry import Implementation, activation_kwargs, get
from mlpbench.mlp.validation import check_inputs, check_penalties

__all__ = [
    "AGREE_RTOL_F64",
    "GRADCHECK_TOL",
    "agreement_rtol",
    "gradcheck",
    "make_problem",
    "max_rel_err",
]

#: Largest accepted ``max_rel_err`` between an implementation and ``numpy`` in float64.
AGREE_RTOL_F64 = 1e-12

#: Largest accepted ``max_rel_err`` between a float64 gradient and finite differences.
GRADCHECK_TOL = 1e-7


def agreement_rtol(dtype, n: int, d: int, d_h: int, m: int) -> float:
    """Largest accepted ``max_rel_err`` between an implementation and ``numpy``.

    float64: ``AGREE_RTOL_F64``. float32: each result ends a chain of sums of lengths
    d, d_h, m (softmax) and n, which the implementations add in different orders; a
    sum of length k is off by about ``eps·sqrt(k)`` of its scale, so the bound is
    ``16·eps32·sqrt(n + d + d_h + m)``: 1.9e-5 for the (17, 33, 40, 11) test problem,
    4.3e-6 for (1, 1, 1, 2). The 16 covers the cancellation in the gradient sums;
    the errors seen are about 1.5·eps32 (1.8e-7).
    """
    if np.dtype(dtype) == np.float64:
        return AGREE_RTOL_F64
    return 16 * float(np.finfo(np.float32).eps) * math.sqrt(n + d + d_h + m)


def max_rel_err(got, ref) -> float:
    """Norm-wise relative error ``max|got − ref| / max(max|got|, max|ref|)``, 0 if both are 0.

    Scaled by the largest magnitude rather than element by element: gradient entries
    are sums that can cancel to near 0, where an element-wise ratio measures the
    cancellation, not the implementation.
    """
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    scale = max(float(np.max(np.abs(got))), float(np.max(np.abs(ref))))
    if scale == 0.0:
        return 0.0
    return float(np.max(np.abs(got - ref))) / scale


def make_problem(n: int, d: int, d_h: int, m: int, seed=0, dtype=np.float64, margin=1e-2):
    """A random problem ``(p, X, y)`` whose loss is smooth near p.

    Weights have magnitudes in ``[0.2, 1]/sqrt(fan_in)`` (away from the kink of |·| at
    0), biases are in [-0.5, 0.5], X is standard normal and y uniform in [0, m).
    Rows of X are redrawn until every hidden pre-activation satisfies ``|ha| >= margin``.
    """
    n, d, d_h, m = (check_positive_int(k, v) for k, v in zip(("n", "d", "d_h", "m"),
                                                             (n, d, d_h, m), strict=True))
    dtype = check_dtype("dtype", dtype)
    margin = check_positive("margin", margin)
    rng = np.random.default_rng(seed)

    def weights(rows, fan_in):
        size = (rows, fan_in)
        return rng.choice([-1.0, 1.0], size) * rng.uniform(0.2, 1.0, size) / math.sqrt(fan_in)

    W1, b1 = weights(d_h, d), rng.uniform(-0.5, 0.5, d_h)
    W2, b2 = weights(m, d_h), rng.uniform(-0.5, 0.5, m)
    X = rng.standard_normal((n, d))
    for _ in range(1000):
        ha = X.astype(dtype) @ W1.astype(dtype).T + b1.astype(dtype)
        near_kink = (np.abs(ha) < margin).any(axis=1)
        if not near_kink.any():
            break
        X[near_kink] = rng.standard_normal((int(near_kink.sum()), d))
    else:
        raise InputError(f"could not draw X with |ha| >= margin = {margin}; lower the margin")
    y = rng.integers(0, m, n)
    p = Params(*(a.astype(dtype) for a in (W1, b1, W2, b2)))
    return p, X.astype(dtype), y


def gradcheck(impl, p, X, y, l1=0.0, l2=0.0, eps=None, *,
              activation="relu") -> dict[str, float]:
    """Compare ``impl``'s gradient with central finite differences over EVERY parameter.

    For each scalar θ_k: ``(R(θ_k + h) − R(θ_k − h)) / (2h)`` with
    ``h = eps·max(1, |θ_k|)`` (``eps`` defaults to the cube root of the dtype's machine
    epsilon, which balances truncation and rounding error), R from ``impl``'s own loss.
    Use float64; the loss must be differentiable within h of p (see ``make_problem``).

    impl: an implementation or its name. Returns ``{"W1": err, "b1": ..., "W2": ...,
    "b2": ...}``, each the ``max_rel_err`` of the gradient against the differences.
    ``activation``: the hidden activation of both the gradient and the loss.
    """
    if not isinstance(impl, Implementation):
        impl = get(impl)
    p, X, y = check_inputs(p, X, y)
    if y is None:
        raise InputTypeError("y must be an array of labels, got None")
    l1, l2 = check_penalties(l1, l2)
    dtype = X.dtype
    if eps is None:
        eps = float(np.finfo(dtype).eps) ** (1.0 / 3.0)
    elif not 0.0 < check_finite("eps", eps) < 1.0:
        raise InputError(f"eps must be a number in (0, 1), got {eps!r}")
    eps = float(eps)
    act = activation_kwargs(impl.raw.loss_and_grad, activation, impl.name)
    loss_act = activation_kwargs(impl.raw.loss, activation, impl.name)
    _, grad = impl.raw.loss_and_grad(p, X, y, l1, l2, **act)
    work = Params(*(a.copy() for a in p))  # perturbed in place, one entry at a time
    errors = {}
    for name, theta, g in zip(Params._fields, work, grad, strict=True):
        flat = theta.reshape(-1)  # a view: theta is a fresh contiguous copy
        fd = np.empty(flat.size)
        for k in range(flat.size):
            old = flat[k]
            h = eps * max(1.0, abs(float(old)))
            up, down = dtype.type(float(old) + h), dtype.type(float(old) - h)
            flat[k] = up
            r_up = impl.raw.loss(work, X, y, l1, l2, **loss_act)
            flat[k] = down
            r_down = impl.raw.loss(work, X, y, l1, l2, **loss_act)
            flat[k] = old
            # The step actually taken, after rounding θ_k ± h to the dtype.
            fd[k] = (r_up - r_down) / (float(up) - float(down))
        errors[name] = max_rel_err(g, fd.reshape(theta.shape))
    return errors
