"""The MLP in PyTorch on the CPU, two ways: ``torch`` (the matrix formulas by hand)
and ``torch-autograd`` (autograd through ``F.cross_entropy`` plus the penalties).

Two ways in, as a PyTorch user has them:

- **resident** (how the sweep times it by default, and how PyTorch is used in
  practice): ``prepare`` makes the tensors once (``torch.from_numpy``: no copy, the
  tensors share NumPy's buffers; for autograd the parameters are leaf tensors that
  require a gradient, like ``nn.Parameter``), and ``resident_*`` compute on them and
  return tensors (PyTorch on the CPU computes eagerly: a returned tensor is computed).
- **from NumPy arrays** (``forward``, ``loss``, ``loss_and_grad``, ``backward``, the
  registry's protocol): take and return NumPy arrays, like every implementation. The
  conversions cost no copy: ``torch.from_numpy`` shares the input buffers (a read-only
  input is copied once, since PyTorch cannot wrap it) and ``Tensor.numpy()`` shares
  the output buffers.

Arithmetic stays in the dtype of X.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from mlpbench.kernels import impl_torch as K
from mlpbench.mlp import peers
from mlpbench.mlp.params import Forward, Params

__all__ = ["AUTOGRAD", "MANUAL"]

peers.apply_torch_threads(torch)


def _tensor(a: np.ndarray) -> torch.Tensor:
    """A tensor sharing ``a``'s buffer (a copy if ``a`` is read-only)."""
    return torch.from_numpy(a if a.flags.writeable else a.copy())


def _tensors(*arrays: np.ndarray) -> tuple[torch.Tensor, ...]:
    return tuple(_tensor(a) for a in arrays)


def _numpy(*tensors: torch.Tensor) -> tuple[np.ndarray, ...]:
    return tuple(t.numpy() for t in tensors)


#: The hidden activations (docs/math.md#hidden-activations) and their derivatives in ha,
#: part 1's stable forms as PyTorch operations (kernels.impl_torch); ``torch`` uses both,
#: ``torch-autograd`` the forward ones and autograd's derivatives of them.
ACTIVATIONS = {
    "relu": (torch.relu, None),  # 1.#7: the mask 1[ha > 0], see _manual_backward
    "tanh": (torch.tanh, K.tanh_grad),  # 1.#4
    "sigmoid": (K.sigmoid, K.sigmoid_grad),  # 1.#1, 1.#3
    "softplus": (K.softplus, K.sigmoid),  # 1.#5: softplus' = sigmoid
}


def _forward(W1, b1, W2, b2, X, activation: str = "relu") -> tuple[torch.Tensor, ...]:
    ha = torch.addmm(b1, X, W1.T)  # 2.#1: X W1ᵀ + b1
    hs = ACTIVATIONS[activation][0](ha)  # 2.#1
    oa = torch.addmm(b2, hs, W2.T)  # 2.#2: hs W2ᵀ + b2
    os = torch.softmax(oa, dim=1)  # 2.#3
    return ha, hs, oa, os


def _mean_nll(oa: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``mean_i (logsumexp(oa_i) − oa[i, y_i])`` (2.#4–5).

    2.#5: each part is divided by n before they meet and the terms are summed, so that
    no partial sum exceeds the mean (``nll.mean()`` sums first: inf where the mean is
    representable).
    """
    n = oa.shape[0]
    nll_over_n = torch.logsumexp(oa, dim=1) / n - oa.gather(1, y.unsqueeze(1)).squeeze(1) / n
    return nll_over_n.sum()  # 2.#4–5


def _penalty(W1: torch.Tensor, W2: torch.Tensor, l1: float, l2: float):
    """``l1·(‖W1‖₁+‖W2‖₁) + l2·(‖W1‖₂²+‖W2‖₂²)`` (2.#5); 0.0 without penalties."""
    penalty = 0.0
    if l1 != 0.0:
        penalty = penalty + l1 * (W1.abs().sum() + W2.abs().sum())
    if l2 != 0.0:
        penalty = penalty + l2 * (W1.square().sum() + W2.square().sum())
    return penalty


# --- torch: the matrix formulas -----------------------------------------------------


def _manual_backward(W1, W2, X, y, ha, hs, os, l1: float, l2: float,
                     activation: str = "relu") -> tuple[torch.Tensor, ...]:
    n = X.shape[0]
    G_oa = os.clone()
    G_oa[torch.arange(n), y] -= 1  # 2.#7–8: os − onehot(y)
    G_oa /= n  # R is a mean: the 1/n comes in before any sum over examples
    gW2 = G_oa.T @ hs  # 2.#9–10
    gb2 = G_oa.sum(dim=0)  # 2.#9–10
    G_ha = G_oa @ W2  # 2.#11–12: G_hs, turned into G_ha in place below
    grad = ACTIVATIONS[activation][1]
    if grad is None:
        G_ha.masked_fill_(ha <= 0, 0)  # 2.#13–14: the indicator tests ha (relu' = 0 at 0)
    else:
        G_ha.mul_(grad(ha))  # 2.#13–14: G_hs ⊙ act'(ha)
    gW1 = G_ha.T @ X  # 2.#15–16
    gb1 = G_ha.sum(dim=0)  # 2.#15–16
    if l1 != 0.0:
        gW1.add_(torch.sign(W1), alpha=l1)  # 1.#9, sign(0) = 0
        gW2.add_(torch.sign(W2), alpha=l1)
    if l2 != 0.0:
        gW1.add_(W1, alpha=2.0 * l2)  # 1.#8
        gW2.add_(W2, alpha=2.0 * l2)
    return gW1, gb1, gW2, gb2


@torch.no_grad()
def forward(p: Params, X: np.ndarray, activation: str = "relu") -> Forward:
    """``Forward(ha, hs, oa, os)`` for the n rows of X (2.#1–3); n×d_h, n×d_h, n×m, n×m."""
    return Forward(*_numpy(*_forward(*_tensors(*p, X), activation)))


@torch.no_grad()
def loss(p: Params, X: np.ndarray, y: np.ndarray, l1: float = 0.0, l2: float = 0.0,
         activation: str = "relu") -> float:
    """Regularized risk ``R`` (2.#4–5)."""
    W1, b1, W2, b2, X, y = _tensors(*p, X, y)
    oa = _forward(W1, b1, W2, b2, X, activation)[2]
    return float(_mean_nll(oa, y) + _penalty(W1, W2, l1, l2))


@torch.no_grad()
def backward(
    p: Params, X: np.ndarray, y: np.ndarray, f: Forward, l1: float = 0.0, l2: float = 0.0,
    activation: str = "relu",
) -> Params:
    """Gradient ``∂R/∂Θ`` given the forward pass f (2.#7–16, penalties 1.#8–9)."""
    W1, _, W2, _, X, y, ha, hs, _, os = _tensors(*p, X, y, *f)
    return Params(*_numpy(*_manual_backward(W1, W2, X, y, ha, hs, os, l1, l2, activation)))


@torch.no_grad()
def loss_and_grad(
    p: Params, X: np.ndarray, y: np.ndarray, l1: float = 0.0, l2: float = 0.0,
    activation: str = "relu",
) -> tuple[float, Params]:
    """``(R, ∂R/∂Θ)`` from one forward pass."""
    W1, b1, W2, b2, X, y = _tensors(*p, X, y)
    ha, hs, oa, os = _forward(W1, b1, W2, b2, X, activation)
    R = float(_mean_nll(oa, y) + _penalty(W1, W2, l1, l2))
    return R, Params(*_numpy(*_manual_backward(W1, W2, X, y, ha, hs, os, l1, l2,
                                               activation)))


def prepare(p: Params, X: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, ...]:
    """``(W1, b1, W2, b2, X, y)`` as tensors sharing the arrays' buffers."""
    return _tensors(*p, X, y)


@torch.no_grad()
def resident_forward(r: tuple[torch.Tensor, ...], activation: str = "relu") -> Forward:
    """``Forward(ha, hs, oa, os)`` as tensors (2.#1–3)."""
    return Forward(*_forward(*r[:5], activation))


@torch.no_grad()
def resident_loss_and_grad(r: tuple[torch.Tensor, ...], l1: float = 0.0, l2: float = 0.0,
                           activation: str = "relu"):
    """``(R, ∂R/∂Θ)`` as tensors (a 0-d R, a Params) from one forward pass."""
    W1, b1, W2, b2, X, y = r
    ha, hs, oa, os = _forward(W1, b1, W2, b2, X, activation)
    R = _mean_nll(oa, y) + _penalty(W1, W2, l1, l2)
    return R, Params(*_manual_backward(W1, W2, X, y, ha, hs, os, l1, l2, activation))


@torch.no_grad()
def resident_backward(r: tuple[torch.Tensor, ...], f: Forward, l1: float = 0.0,
                      l2: float = 0.0, activation: str = "relu") -> Params:
    """The gradient as tensors, given the forward pass f (tensors)."""
    W1, _, W2, _, X, y = r
    return Params(*_manual_backward(W1, W2, X, y, f.ha, f.hs, f.os, l1, l2, activation))


#: ``torch``: the batch matrix formulas of the spec, written with PyTorch tensors.
MANUAL = peers.RawImpl(forward, loss, loss_and_grad, backward, prepare=prepare,
                       resident_forward=resident_forward,
                       resident_loss_and_grad=resident_loss_and_grad,
                       resident_backward=resident_backward)


# --- torch-autograd: gradients by reverse-mode differentiation ----------------------


def _cross_entropy_mean(oa: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``mean_i L_i`` through ``F.cross_entropy`` (2.#3–5), each L_i divided by n before
    the sum (2.#5): ``reduction="mean"`` sums first, inf where the mean is representable.
    One L_i beyond the float range is still inf here (F.cross_entropy forms it whole)."""
    return (F.cross_entropy(oa, y, reduction="none") / oa.shape[0]).sum()


def _autograd_hidden(activation: str):
    """The activation autograd differentiates: ``F.relu`` for ReLU (derivative 0 at 0, as in
    the spec), else the forward form of ACTIVATIONS."""
    return F.relu if activation == "relu" else ACTIVATIONS[activation][0]


@torch.no_grad()
def autograd_loss(
    p: Params, X: np.ndarray, y: np.ndarray, l1: float = 0.0, l2: float = 0.0,
    activation: str = "relu",
) -> float:
    """Regularized risk ``R`` through ``F.cross_entropy`` (2.#3–5), as autograd sees it."""
    W1, b1, W2, b2, X, y = _tensors(*p, X, y)
    oa = F.linear(_autograd_hidden(activation)(F.linear(X, W1, b1)), W2, b2)  # 2.#1–2
    return float(_cross_entropy_mean(oa, y) + _penalty(W1, W2, l1, l2))


def autograd_loss_and_grad(
    p: Params, X: np.ndarray, y: np.ndarray, l1: float = 0.0, l2: float = 0.0,
    activation: str = "relu",
) -> tuple[float, Params]:
    """``(R, ∂R/∂Θ)`` by ``torch.autograd.grad`` through ``F.cross_entropy``.

    ``F.relu`` and ``abs`` have derivative 0 at 0 in autograd, as in the spec.
    """
    R, grads = _autograd_step(autograd_prepare(p, X, y), l1, l2, activation)
    return float(R), Params(*_numpy(*grads))


def autograd_backward(
    p: Params, X: np.ndarray, y: np.ndarray, f: Forward, l1: float = 0.0, l2: float = 0.0,
    activation: str = "relu",
) -> Params:
    """Gradient ``∂R/∂Θ``. Autograd needs the graph its own forward pass records, so
    this ignores ``f`` and runs forward and backward again: its time is a whole step."""
    return autograd_loss_and_grad(p, X, y, l1, l2, activation)[1]


def autograd_prepare(p: Params, X: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, ...]:
    """``(W1, b1, W2, b2, X, y)`` as tensors sharing the arrays' buffers, the four
    parameters leaf tensors that require a gradient (as ``nn.Parameter`` would)."""
    W1, b1, W2, b2, X, y = _tensors(*p, X, y)
    return (*(t.detach().requires_grad_() for t in (W1, b1, W2, b2)), X, y)


def _autograd_step(r: tuple[torch.Tensor, ...], l1: float, l2: float,
                   activation: str = "relu"):
    W1, b1, W2, b2, X, y = r
    with torch.enable_grad():
        oa = F.linear(_autograd_hidden(activation)(F.linear(X, W1, b1)), W2, b2)  # 2.#1–2
        R = _cross_entropy_mean(oa, y) + _penalty(W1, W2, l1, l2)  # 2.#3–5
        grads = torch.autograd.grad(R, (W1, b1, W2, b2))
    return R.detach(), Params(*grads)


@torch.no_grad()
def autograd_resident_forward(r: tuple[torch.Tensor, ...], activation: str = "relu") -> Forward:
    """``Forward(ha, hs, oa, os)`` as tensors (2.#1–3), no graph recorded."""
    return Forward(*_forward(*r[:5], activation))


def autograd_resident_loss_and_grad(r: tuple[torch.Tensor, ...], l1: float = 0.0,
                                    l2: float = 0.0, activation: str = "relu"):
    """``(R, ∂R/∂Θ)`` as tensors, by ``torch.autograd.grad``."""
    return _autograd_step(r, l1, l2, activation)


def autograd_resident_backward(r: tuple[torch.Tensor, ...], f: Forward, l1: float = 0.0,
                               l2: float = 0.0, activation: str = "relu") -> Params:
    """The gradient as tensors; ``f`` is ignored, as in :func:`autograd_backward`."""
    return _autograd_step(r, l1, l2, activation)[1]


#: ``torch-autograd``: the same forward; loss and gradients by F.cross_entropy and autograd.
AUTOGRAD = peers.RawImpl(forward, autograd_loss, autograd_loss_and_grad, autograd_backward,
                         prepare=autograd_prepare, resident_forward=autograd_resident_forward,
                         resident_loss_and_grad=autograd_resident_loss_and_grad,
                         resident_backward=autograd_resident_backward)
