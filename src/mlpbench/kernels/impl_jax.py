"""Spec part 1 in JAX: the peer kernel table of ``mlpbench bench --kernels``.

Not a ``kernels.get`` implementation (the public face stays loops/numpy/numba): the
kernel benchmark times these beside them. Each function is ``jax.jit``-compiled; the
input is put on the device once per point (``jax.device_put``) outside the timed call,
which blocks until the result is computed (JAX dispatches asynchronously). The first
call at a shape compiles (the cold time). 64-bit types are switched on once, as in
``mlp.impl_jax``, so that float64 stays float64. JAX's own function is used where it
keeps part 1's accuracy; elsewhere the stable form of docs/math.md in ``jnp``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mlpbench.kernels import NAMES

__all__ = [*NAMES, "prepare", "to_numpy"]

jax.config.update("jax_enable_x64", True)  # once: float64 stays float64


@jax.jit
def sigmoid(x):
    return jax.nn.sigmoid(x)  # 1.#1


@jax.jit
def sigmoid_grad(x):
    e = jnp.exp(-jnp.abs(x))
    return e / (1 + e * (2 + e))  # 1.#3: e/(1+e)^2


@jax.jit
def tanh_grad(x):
    e = jnp.exp(-2 * jnp.abs(x))
    return 4 * e / (1 + e * (2 + e))  # 1.#4: 4e/(1+e)^2


@jax.jit
def softplus(x):
    return jnp.maximum(x, 0) + jnp.log1p(jnp.exp(-jnp.abs(x)))  # 1.#5


@jax.jit
def log_sigmoid(x):
    return jax.nn.log_sigmoid(x)  # 1.#2


@jax.jit
def relu(x):
    return jax.nn.relu(x)  # 1.#7


@jax.jit
def relu_grad(x):
    return (x > 0).astype(x.dtype)  # 1.#7: 0 at 0


@jax.jit
def l1_grad(x):
    return jnp.sign(x)  # 1.#9 through 1.#6


@jax.jit
def sq_l2_grad(x):
    return 2 * x  # 1.#8


@jax.jit
def softmax(z):
    return jax.nn.softmax(z, axis=-1)  # 2.#3


@jax.jit
def logsumexp(z):
    return jax.nn.logsumexp(z, axis=-1)  # 2.#4


@jax.jit
def l1(x):
    return jnp.sum(jnp.abs(x))  # 1.#9


@jax.jit
def sq_l2(x):
    flat = x.reshape(-1)
    return jnp.dot(flat, flat)  # 1.#8


def prepare(name: str, x: np.ndarray):
    """The call the benchmark times: the compiled kernel ``name`` on ``x``, put on the
    device once here, blocking until its result is ready."""
    fn = globals()[name]
    xj = jax.device_put(x)
    return lambda: fn(xj).block_until_ready()


def to_numpy(out) -> np.ndarray:
    return np.asarray(jax.device_get(out))
