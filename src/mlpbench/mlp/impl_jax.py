"""The MLP in JAX on the CPU: ``jax.jit(jax.value_and_grad(R))`` over the spec's forms.

Two ways in, as a JAX user has them:

- **resident** (how the sweep times it by default, and how JAX is used in practice):
  :func:`prepare` puts the parameters and the data on the device once
  (``jax.device_put``, a copy into XLA's own 64-byte aligned buffers), and
  ``resident_*`` call the compiled functions on those arrays, blocking until the
  results are computed (``jax.block_until_ready``: JAX dispatches asynchronously, so
  without it only the dispatch would be timed). Results stay JAX arrays.
- **from NumPy arrays** (``forward``, ``loss``, ``loss_and_grad``, ``backward``, the
  registry's protocol): NumPy arrays go straight into the compiled functions. JAX wraps
  an input without copying only when its data is 64-byte aligned; NumPy aligns to 16
  bytes, so in practice each input (W1 and X above all) is copied on every call.
  Results come back with ``jax.device_get`` and are copied into ordinary writable
  arrays, because every implementation hands the caller arrays it owns (a training
  loop scales gradients in place).

64-bit types are switched on once, when this module loads
(``jax.config.update("jax_enable_x64", True)``), so that float64 stays float64: the
switch is global to JAX in this process (float32 inputs stay float32 under it), and
costs nothing per call, where a ``jax.enable_x64`` context around each call costs a
configuration change and a cache look-up every time.

XLA compiles once per input shape and dtype (and once more for penalized risks):
the first call at a new shape is the cold time, seconds rather than milliseconds;
later calls reuse the compiled code. ``TRACES`` counts the traces, which lets a
test show that a call at a known shape does not trace again.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mlpbench.kernels import impl_jax as K
from mlpbench.mlp import peers
from mlpbench.mlp.params import Forward, Params

__all__ = ["JAX", "TRACES", "Resident", "backward", "forward", "loss", "loss_and_grad",
           "prepare", "resident_backward", "resident_forward", "resident_loss_and_grad"]

jax.config.update("jax_enable_x64", True)  # once: float64 stays float64 (see above)

#: Traces per function body; a trace happens on the first call at each new
#: shape/dtype (or penalty flag), and each trace is followed by an XLA compile.
TRACES: Counter[str] = Counter()


#: The hidden activations (docs/math.md#hidden-activations) in their stable forms (the
#: part 1 kernels of ``kernels.impl_jax``); their derivatives are JAX's own, by
#: differentiation: relu' = 0 at 0, tanh' = 1 − tanh², sigmoid' = s(1 − s), softplus'
#: through the stable form (equal on paper to part 1's; 1 − tanh² and s(1 − s) lose
#: relative accuracy only in the tails).
ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh, "sigmoid": K.sigmoid,
               "softplus": K.softplus}


def _forward(p: Params, X, activation: str = "relu"):
    TRACES["forward"] += 1  # runs while tracing only, not on compiled calls
    ha = X @ p.W1.T + p.b1  # 2.#1
    hs = ACTIVATIONS[activation](ha)  # 2.#1; relu's derivative at 0 is 0
    oa = hs @ p.W2.T + p.b2  # 2.#2
    return ha, hs, oa


def _risk(p: Params, X, y, l1, l2, penalized: bool, activation: str = "relu"):
    """``R = mean_i (logsumexp(oa_i) − oa[i, y_i]) + penalties`` (2.#4–5)."""
    TRACES["risk"] += 1
    oa = _forward(p, X, activation)[2]
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


def _forward_os(p: Params, X, activation: str = "relu"):
    ha, hs, oa = _forward(p, X, activation)
    return ha, hs, oa, jax.nn.softmax(oa, axis=1)  # 2.#3


_forward_all = jax.jit(_forward_os, static_argnames="activation")
_loss = jax.jit(_risk, static_argnames=("penalized", "activation"))
_loss_and_grad = jax.jit(jax.value_and_grad(_risk),
                         static_argnames=("penalized", "activation"))


def _owned(arrays):
    """Writable copies of XLA's read-only result buffers."""
    return [np.array(a) for a in arrays]


def _penalized(l1: float, l2: float) -> bool:
    return l1 != 0.0 or l2 != 0.0


# --- from NumPy arrays (the registry's protocol) -------------------------------------


def forward(p: Params, X: np.ndarray, activation: str = "relu") -> Forward:
    """``Forward(ha, hs, oa, os)`` for the n rows of X (2.#1–3)."""
    return Forward(*_owned(jax.device_get(_forward_all(p, X, activation=activation))))


def loss(p: Params, X: np.ndarray, y: np.ndarray, l1: float = 0.0, l2: float = 0.0,
         activation: str = "relu") -> float:
    """Regularized risk ``R`` (2.#4–5)."""
    return float(_loss(p, X, y, l1, l2, penalized=_penalized(l1, l2), activation=activation))


def loss_and_grad(
    p: Params, X: np.ndarray, y: np.ndarray, l1: float = 0.0, l2: float = 0.0,
    activation: str = "relu",
) -> tuple[float, Params]:
    """``(R, ∂R/∂Θ)`` by reverse-mode differentiation of R (2.#7–16, 1.#8–9)."""
    R, g = jax.device_get(_loss_and_grad(p, X, y, l1, l2, penalized=_penalized(l1, l2),
                                         activation=activation))
    return float(R), Params(*_owned(g))


def backward(
    p: Params, X: np.ndarray, y: np.ndarray, f: Forward, l1: float = 0.0, l2: float = 0.0,
    activation: str = "relu",
) -> Params:
    """Gradient ``∂R/∂Θ``. JAX differentiates a function, not a recorded forward pass,
    so this ignores ``f`` and runs the compiled value-and-gradient (forward included,
    the same compiled code as ``loss_and_grad``): its time is a whole step."""
    return loss_and_grad(p, X, y, l1, l2, activation)[1]


# --- resident: arrays on the device once, as JAX users run it ------------------------


class Resident(NamedTuple):
    """A problem on the device: the parameters (a Params of JAX arrays), X and y."""

    p: Params
    X: jax.Array
    y: jax.Array


def prepare(p: Params, X: np.ndarray, y: np.ndarray) -> Resident:
    """The problem as JAX arrays, copied once into XLA's buffers (``jax.device_put``)."""
    p_dev, X_dev, y_dev = jax.block_until_ready(jax.device_put((tuple(p), X, y)))
    return Resident(Params(*p_dev), X_dev, y_dev)


def resident_forward(r: Resident, activation: str = "relu") -> Forward:
    """``Forward(ha, hs, oa, os)`` as JAX arrays, computed (2.#1–3)."""
    return Forward(*jax.block_until_ready(_forward_all(r.p, r.X, activation=activation)))


def resident_loss_and_grad(r: Resident, l1: float = 0.0, l2: float = 0.0,
                           activation: str = "relu"):
    """``(R, ∂R/∂Θ)`` as JAX arrays (a 0-d R, a Params), computed."""
    R, g = jax.block_until_ready(
        _loss_and_grad(r.p, r.X, r.y, l1, l2, penalized=_penalized(l1, l2),
                       activation=activation))
    return R, Params(*g)


def resident_backward(r: Resident, f: Forward, l1: float = 0.0, l2: float = 0.0,
                      activation: str = "relu") -> Params:
    """The gradient as JAX arrays; ``f`` is ignored, as in :func:`backward`."""
    return resident_loss_and_grad(r, l1, l2, activation)[1]


#: ``jax``: the spec's batch forms, differentiated and compiled by JAX.
JAX = peers.RawImpl(forward, loss, loss_and_grad, backward, prepare=prepare,
                    resident_forward=resident_forward,
                    resident_loss_and_grad=resident_loss_and_grad,
                    resident_backward=resident_backward)
