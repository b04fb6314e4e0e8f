"""Named implementations of the MLP, loaded on first use and validated in one place.

An implementation is any object (usually a module) with four raw functions that
trust their inputs: ``forward(p, X)``, ``loss(p, X, y, l1, l2)``,
``loss_and_grad(p, X, y, l1, l2)`` and ``backward(p, X, y, f, l1, l2)``.
``Implementation`` wraps them with the checks of ``validation``. The last two may also
take a keyword ``out``, an ``mlp.Params`` of checked buffers to write the gradient into
and return; for those that do not, ``Implementation`` copies their result into ``out``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable

import numpy as np

from mlpbench.mlp import peers as _peers
from mlpbench.mlp.params import Forward, Params
from mlpbench.mlp.validation import check_forward, check_inputs, check_out, check_penalties

__all__ = [
    "CORE_IMPLEMENTATIONS", "IMPLEMENTATIONS", "RAW_FUNCTIONS", "Implementation", "get", "register",
    "takes_out",
]

#: Functions every raw implementation defines.
RAW_FUNCTIONS = ("forward", "loss", "loss_and_grad", "backward")

_BUILTIN = {
    "loops": "mlpbench.mlp.impl_loops",
    "numpy": "mlpbench.mlp.impl_numpy",
    "numba": "mlpbench.mlp.impl_numba",
    "numba-loops": "mlpbench.mlp.impl_numba_loops",
}

_loaders: dict[str, Callable[[], object]] = {
    name: (lambda module=module: importlib.import_module(module))
    for name, module in _BUILTIN.items()
}
_loaded: dict[str, Implementation] = {}

#: Registered implementation names, in registration order; ``numpy`` is the reference.
IMPLEMENTATIONS: tuple[str, ...] = tuple(_loaders)
#: The same without the optional peers (PyTorch, JAX): mlpbench's own implementations.
CORE_IMPLEMENTATIONS: tuple[str, ...] = IMPLEMENTATIONS


class Implementation:
    """One MLP implementation: validated public functions over unchecked ``raw`` ones.

    ``raw`` exposes the same four functions without any check; they require the
    normalized form returned by ``check_inputs`` (C-contiguous, one float dtype,
    int64 labels) and float penalties.
    """

    def __init__(self, name: str, raw):
        missing = [f for f in RAW_FUNCTIONS if not callable(getattr(raw, f, None))]
        if missing:
            raise TypeError(f"implementation {name!r} lacks the raw function(s) {missing}")
        self.name = name
        self.raw = raw

    def __repr__(self) -> str:
        return f"<mlp implementation {self.name!r}>"

    def forward(self, p, X) -> Forward:
        """Forward pass: ``Forward(ha, hs, oa, os)`` for the n rows of X (2.#1–3).

        ``ha = X W1ᵀ + b1``, ``hs = relu(ha)``, ``oa = hs W2ᵀ + b2``, ``os = softmax(oa)``;
        ha and hs are n×d_h, oa and os n×m, in the dtype of X.
        """
        p, X, _ = check_inputs(p, X)
        return self.raw.forward(p, X)

    def loss(self, p, X, y, l1=0.0, l2=0.0) -> float:
        """Regularized empirical risk (2.#4–5), a Python float:

        ``R = mean_i (logsumexp(oa_i) − oa[i, y_i]) + l1·(‖W1‖₁+‖W2‖₁) + l2·(‖W1‖₂²+‖W2‖₂²)``.
        """
        p, X, y = check_inputs(p, X, y)
        l1, l2 = check_penalties(l1, l2)
        return float(self.raw.loss(p, X, y, l1, l2))

    def loss_and_grad(self, p, X, y, l1=0.0, l2=0.0, out=None) -> tuple[float, Params]:
        """The risk R and its gradient ``Params(∂R/∂W1, ∂R/∂b1, ∂R/∂W2, ∂R/∂b2)`` (2.#7–16).

        out: None (fresh gradient arrays), or an ``mlp.Params`` of preallocated buffers,
        e.g. ``mlp.empty_like(p)``: the gradient is written there and out is returned.
        """
        given = (p, X, y)
        p, X, y = check_inputs(p, X, y)
        l1, l2 = check_penalties(l1, l2)
        if out is None:
            loss, g = self.raw.loss_and_grad(p, X, y, l1, l2)
            return float(loss), g
        # The gradient may overlap neither what the caller passed nor its checked copies.
        out = check_out(out, p, (*given[0], *given[1:], *p, X, y))
        fn = self.raw.loss_and_grad
        if takes_out(fn):
            loss, _ = fn(p, X, y, l1, l2, out=out)
        else:
            loss, g = fn(p, X, y, l1, l2)
            _copy_into(out, g)
        return float(loss), out

    def backward(self, p, X, y, f, l1=0.0, l2=0.0, out=None) -> Params:
        """Gradient of R given the forward pass ``f = forward(p, X)`` (2.#7–16).

        out: as for ``loss_and_grad``; the gradient is written there and out is returned.
        """
        given = (p, X, y, f)
        p, X, y = check_inputs(p, X, y)
        l1, l2 = check_penalties(l1, l2)
        f = check_forward(f, p, X)
        if out is None:
            return self.raw.backward(p, X, y, f, l1, l2)
        out = check_out(out, p, (*given[0], *given[1:3], *given[3], *p, X, y, *f))
        fn = self.raw.backward
        if takes_out(fn):
            fn(p, X, y, f, l1, l2, out=out)
        else:
            _copy_into(out, fn(p, X, y, f, l1, l2))
        return out


@functools.lru_cache(maxsize=64)
def takes_out(fn) -> bool:
    """Whether a raw function accepts the keyword ``out``."""
    try:
        return "out" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _copy_into(out: Params, g) -> None:
    for dst, src in zip(out, g, strict=True):
        np.copyto(dst, src)


def register(name: str, loader: Callable[[], object] | str, *, replace: bool = False) -> None:
    """Add an implementation called ``name``.

    loader: a callable returning an object with the four raw functions (called on
    the first ``get(name)``), or the dotted name of a module that defines them.
    An existing name is an error unless ``replace=True``.
    """
    global IMPLEMENTATIONS, CORE_IMPLEMENTATIONS
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")
    if isinstance(loader, str):
        module = loader
        loader = lambda: importlib.import_module(module)  # noqa: E731
    if not callable(loader):
        raise TypeError(f"loader must be callable or a module name, got {type(loader).__name__}")
    if name in _loaders and not replace:
        raise ValueError(f"an MLP implementation named {name!r} is already registered")
    _loaders[name] = loader
    _loaded.pop(name, None)
    IMPLEMENTATIONS = tuple(_loaders)
    CORE_IMPLEMENTATIONS = tuple(n for n in _loaders if n not in _peers.PEERS)


def get(name: str) -> Implementation:
    """Return the implementation called ``name`` (one of ``IMPLEMENTATIONS``)."""
    impl = _loaded.get(name)
    if impl is None:
        if name not in _loaders:
            if name in _peers.PEERS:
                reason = _peers.unavailable().get(name, "not registered")
                raise _peers.PeerUnavailable(
                    f"MLP implementation {name!r} is not available: {reason}"
                )
            valid = ", ".join(repr(n) for n in IMPLEMENTATIONS)
            raise ValueError(f"unknown MLP implementation {name!r}; expected one of {valid}")
        impl = _loaded[name] = Implementation(name, _loaders[name]())
    return impl


# Optional peers (PyTorch, JAX): registered only where their package is installed;
# nothing is imported until get(name) (see mlpbench.mlp.peers).
for _name, _loader in _peers.available_loaders().items():
    register(_name, _loader)
