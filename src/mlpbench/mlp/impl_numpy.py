"""The MLP in NumPy batch matrix forms: the reference the other implementations match.

Raw functions: inputs are trusted to be in the form ``mlp.check_inputs`` returns.
Arithmetic stays in the dtype of X (float32 or float64); the part 1 kernels are the
raw ``kernels.impl_numpy`` functions, called without their public checks, and give the
hidden activations and their derivatives (``activation``, docs/math.md#hidden-activations).
"""

from __future__ import annotations

import numpy as np

from mlpbench.kernels import impl_numpy as K
from mlpbench.mlp.params import Forward, Params

__all__ = ["backward", "forward", "loss", "loss_and_grad"]


def _tanh(x: np.ndarray) -> np.ndarray:
    return np.tanh(x)


#: Each hidden activation and its derivative, both from ha (docs/math.md#hidden-activations):
#: part 1's stable forms, never the forms in hs (1 − hs², hs(1 − hs)), which cancel in
#: the tails.
ACTIVATIONS = {
    "relu": (K.relu, K.relu_grad),  # 1.#7: 1[ha > 0], 0 at 0
    "tanh": (_tanh, K.tanh_grad),  # 1.#4: 1 − tanh² = 4e/(1+e)²
    "sigmoid": (K.sigmoid, K.sigmoid_grad),  # 1.#1, 1.#3: s(1−s) = e/(1+e)²
    "softplus": (K.softplus, K.sigmoid),  # 1.#5: softplus' = sigmoid
}


def _hidden(p: Params, X: np.ndarray, activation: str = "relu") -> tuple[np.ndarray, np.ndarray]:
    """``ha = X W1ᵀ + b1``, ``hs = act(ha)``, n×d_h each."""
    ha = X @ p.W1.T + p.b1  # 2.#1
    return ha, ACTIVATIONS[activation][0](ha)  # 2.#1


def _output(p: Params, hs: np.ndarray) -> np.ndarray:
    """``oa = hs W2ᵀ + b2``, n×m."""
    return hs @ p.W2.T + p.b2  # 2.#2


def forward(p: Params, X: np.ndarray, activation: str = "relu") -> Forward:
    """``ha = X W1ᵀ + b1``, ``hs = act(ha)``, ``oa = hs W2ᵀ + b2``, ``os = softmax(oa)``."""
    ha, hs = _hidden(p, X, activation)
    oa = _output(p, hs)
    return Forward(ha, hs, oa, K.softmax(oa))  # 2.#3


def _mean_nll(oa: np.ndarray, y: np.ndarray) -> float:
    """``mean_i L_i`` with ``L_i = logsumexp(oa_i) − oa[i, y_i]`` (2.#4–5).

    2.#5: each part is divided by n before they meet, and the terms are added in
    float64: no partial sum exceeds the mean (each term is >= 0), so a representable
    mean stays representable where ``sum(L) / n`` would overflow.
    """
    n = oa.shape[0]
    nll_over_n = K.logsumexp(oa) / n - oa[np.arange(n), y] / n  # 2.#4
    return float(np.sum(nll_over_n, dtype=np.float64))  # 2.#5


def _penalty(p: Params, l1: float, l2: float) -> float:
    """``l1·(‖W1‖₁+‖W2‖₁) + l2·(‖W1‖₂²+‖W2‖₂²)`` (2.#5)."""
    if l1 == 0.0 and l2 == 0.0:
        return 0.0
    return float(l1 * (K.l1(p.W1) + K.l1(p.W2)) + l2 * (K.sq_l2(p.W1) + K.sq_l2(p.W2)))


def loss(p: Params, X: np.ndarray, y: np.ndarray, l1: float = 0.0, l2: float = 0.0,
         activation: str = "relu") -> float:
    """Regularized risk ``R`` (2.#4–5)."""
    _, hs = _hidden(p, X, activation)
    return _mean_nll(_output(p, hs), y) + _penalty(p, l1, l2)


def backward(
    p: Params, X: np.ndarray, y: np.ndarray, f: Forward, l1: float = 0.0, l2: float = 0.0,
    activation: str = "relu",
) -> Params:
    """Gradient ``∂R/∂Θ`` given the forward pass f (2.#7–16, penalties 1.#8–9)."""
    W1, _, W2, _ = p
    n = X.shape[0]
    G_oa = f.os.copy()
    G_oa[np.arange(n), y] -= 1  # 2.#7–8: os − onehot(y)
    G_oa /= n  # R is a mean: the 1/n comes in before any sum over examples
    gW2 = G_oa.T @ f.hs  # 2.#9–10
    gb2 = G_oa.sum(axis=0)  # 2.#9–10
    G_hs = G_oa @ W2  # 2.#11–12
    # 2.#13–14: G_ha = G_hs ⊙ act'(ha); for ReLU the indicator tests ha, not hs
    G_ha = G_hs * ACTIVATIONS[activation][1](f.ha)
    gW1 = G_ha.T @ X  # 2.#15–16
    gb1 = G_ha.sum(axis=0)  # 2.#15–16
    if l1 != 0.0:
        gW1 += l1 * K.l1_grad(W1)  # 1.#9
        gW2 += l1 * K.l1_grad(W2)
    if l2 != 0.0:
        gW1 += l2 * K.sq_l2_grad(W1)  # 1.#8
        gW2 += l2 * K.sq_l2_grad(W2)
    return Params(gW1, gb1, gW2, gb2)


def loss_and_grad(
    p: Params, X: np.ndarray, y: np.ndarray, l1: float = 0.0, l2: float = 0.0,
    activation: str = "relu",
) -> tuple[float, Params]:
    """``(R, ∂R/∂Θ)`` from one forward pass."""
    f = forward(p, X, activation)
    return (_mean_nll(f.oa, y) + _penalty(p, l1, l2),
            backward(p, X, y, f, l1, l2, activation))
