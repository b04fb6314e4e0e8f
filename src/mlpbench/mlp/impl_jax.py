"""The MLP in JAX on the CPU: ``jax.jit(jax.value_and_grad(R))`` over the spec's forms.

NumPy arrays go straight into the compiled functions. JAX wraps an input without
copying only when its data is 64-byte aligned; NumPy's allocator aligns to 16
bytes, so in practice each input (W1 and X above all) is copied on every call.
Results come back with ``jax.device_get``, which blocks until they are computed
(JAX dispatches asynchronously) and hands read-only NumPy views of XLA's buffers;
they are copied into ordinary writable arrays, because every implementation hands
the caller arrays it owns (a training loop scales gradients in place). All these
conversions are part of the timed raw path. 64-bit types are switched on
(``jax.enable_x64``) around each call only, so float64 stays float64 without
changing JAX for anyone else.

XLA compiles once per input shape and dtype (and once more for penalized risks):
the first call at a new shape is the cold time, seconds rather than milliseconds;
later calls reuse the compiled code. ``TRACES`` counts the traces, which lets a
test show that a call at a known shape does not trace again.
"""

from __future__ import annotations

from collections import Counter

import jax
import jax.numpy as jnp
import numpy as np

from mlpbench.mlp import peers
from mlpbench.mlp.params import Forward, Params

__all__ = ["JAX", "TRACES", "backward", "forward", "loss", "loss_and_grad"]

#: Traces per function body; a trace happens on the first call at each new
#: shape/dtype (or penalty flag), and each trace is followed by an XLA compile.
TRACES: Counter[str] = Counter()


def _forward(p: Params, X):
    TRACES["forward"] += 1  # runs while tracing only, not on compiled calls
    ha = X @ p.W1.T + p.b1  # 2.#1
    hs = jax.nn.relu(ha)  # 2.#1; its derivative at 0 is 0
    oa = hs @ p.W2.T + p.b2  # 2.#2
    return ha, hs, oa


def _risk(p: Params, X, y, l1, l2, penalized: bool):
    """``R = mean_i (logsumexp(oa_i) − oa[i, y_i]) + penalties`` (2.#4–5)."""
    TRACES["risk"] += 1
    oa = _forward(p, X)[2]
    n = X.shape[0]
    # 2.#4–5: each part divided by n before they meet, then summed: no partial sum
    # exceeds the mean (jnp.mean sums first: inf where the mean is representable).
    oa_y = jnp.take_along_axis(oa, y[:, None], axis=1)[:, 0]
    R = jnp.sum(jax.nn.logsumexp(oa, axis=1) / n - oa_y / n)
    if penalized:  # static: an unpenalized risk compiles without the extra passes
        W1, W2 = p.W1, p.W2
        # |W| as sign(W)·W: its derivative is sign(W), 0 at 0 (1.#9), where JAX's
        # derivative of jnp.abs at 0 is 1; the squares give 2W (1.#8)
        R = R + l1 * ((jnp.sign(W1) * W1).sum() + (jnp.sign(W2) * W2).sum())
        R = R + l2 * (jnp.square(W1).sum() + jnp.square(W2).sum())
    return R


@jax.jit
def _forward_all(p: Params, X):
    ha, hs, oa = _forward(p, X)
    return ha, hs, oa, jax.nn.softmax(oa, axis=1)  # 2.#3


_loss = jax.jit(_risk, static_argnames="penalized")
_loss_and_grad = jax.jit(jax.value_and_grad(_risk), static_argnames="penalized")


def _owned(arrays):
    """Writable copies of XLA's read-only result buffers."""
    return [np.array(a) for a in arrays]


def forward(p: Params, X: np.ndarray) -> Forward:
    """``Forward(ha, hs, oa, os)`` for the n rows of X (2.#1–3)."""
    with jax.enable_x64(True):
        return Forward(*_owned(jax.device_get(_forward_all(p, X))))


def loss(p: Params, X: np.ndarray, y: np.ndarray, l1: float = 0.0, l2: float = 0.0) -> float:
    """Regularized risk ``R`` (2.#4–5)."""
    with jax.enable_x64(True):
        return float(_loss(p, X, y, l1, l2, penalized=l1 != 0.0 or l2 != 0.0))


def loss_and_grad(
    p: Params, X: np.ndarray, y: np.ndarray, l1: float = 0.0, l2: float = 0.0
) -> tuple[float, Params]:
    """``(R, ∂R/∂Θ)`` by reverse-mode differentiation of R (2.#7–16, 1.#8–9)."""
    with jax.enable_x64(True):
        R, g = jax.device_get(_loss_and_grad(p, X, y, l1, l2, penalized=l1 != 0.0 or l2 != 0.0))
    return float(R), Params(*_owned(g))


def backward(
    p: Params, X: np.ndarray, y: np.ndarray, f: Forward, l1: float = 0.0, l2: float = 0.0
) -> Params:
    """Gradient ``∂R/∂Θ``. JAX differentiates a function, not a recorded forward pass,
    so this ignores ``f`` and runs the compiled value-and-gradient (forward included,
    the same compiled code as ``loss_and_grad``): its time is a whole step."""
    return loss_and_grad(p, X, y, l1, l2)[1]


#: ``jax``: the spec's batch forms, differentiated and compiled by JAX.
JAX = peers.RawImpl(forward, loss, loss_and_grad, backward)
