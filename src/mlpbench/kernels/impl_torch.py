"""Spec part 1 in PyTorch: the peer kernel table of ``mlpbench bench --kernels``.

Not a ``kernels.get`` implementation (the public face stays loops/numpy/numba): the
kernel benchmark times these beside them, on tensors made once per point outside the
timed call. Each function takes a CPU tensor and returns a new one. PyTorch's own
function is used where it keeps part 1's accuracy (``torch.sigmoid``,
``F.logsigmoid``, ``torch.relu``, ``torch.softmax``, ``torch.logsumexp``); elsewhere
the stable form of docs/math.md is written with PyTorch operations (``F.softplus``
returns x above its threshold of 20, which is not within a few ulp of softplus, and
``s(1-s)`` cancels where s rounds to 1).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from mlpbench.kernels import NAMES

__all__ = [*NAMES, "prepare", "to_numpy"]


def sigmoid(x):
    return torch.sigmoid(x)  # 1.#1


def sigmoid_grad(x):
    e = torch.exp(-x.abs())
    return e / (1 + e * (2 + e))  # 1.#3: e/(1+e)^2


def tanh_grad(x):
    e = torch.exp(-2 * x.abs())  # 2|x| = inf gives exp(-inf) = 0, the limit
    return 4 * e / (1 + e * (2 + e))  # 1.#4: 4e/(1+e)^2


def softplus(x):
    return torch.clamp_min(x, 0) + torch.log1p(torch.exp(-x.abs()))  # 1.#5


def log_sigmoid(x):
    return F.logsigmoid(x)  # 1.#2


def relu(x):
    return torch.relu(x)  # 1.#7


def relu_grad(x):
    return (x > 0).to(x.dtype)  # 1.#7: 0 at 0


def l1_grad(x):
    return torch.sign(x)  # 1.#9 through 1.#6: sign(0) = 0


def sq_l2_grad(x):
    return 2 * x  # 1.#8


def softmax(z):
    return torch.softmax(z, dim=-1)  # 2.#3


def logsumexp(z):
    return torch.logsumexp(z, dim=-1)  # 2.#4


def l1(x):
    return x.abs().sum()  # 1.#9


def sq_l2(x):
    flat = x.reshape(-1)
    return torch.dot(flat, flat)  # 1.#8


def prepare(name: str, x: np.ndarray):
    """The call the benchmark times: kernel ``name`` on ``x`` as a tensor made once here
    (a copy: x may be read-only, which PyTorch tensors cannot be)."""
    fn = globals()[name]
    t = torch.from_numpy(np.array(x))
    return lambda: fn(t)


def to_numpy(out) -> np.ndarray:
    return out.numpy()
