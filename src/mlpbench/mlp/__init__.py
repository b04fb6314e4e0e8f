"""Spec part 2: forward pass, loss and gradient of a one-hidden-layer MLP.

``get(name)`` returns one implementation ("loops", "numpy", "numba", ...); each has
validated ``forward``, ``loss``, ``loss_and_grad`` and ``backward``, and the same
functions unchecked under ``raw``. ``registry`` holds every implementation's facts
(``registry.info(name)``: JIT or not, peer or not, colour, marker, display order);
``IMPLEMENTATIONS`` lists the names in display order; ``ACTIVATIONS`` the hidden
activations every function takes (keyword ``activation``, default ``"relu"``).
``gradcheck`` compares a gradient with finite differences. ``train`` runs gradient
descent (2.#6) with any of them; ``data`` holds the data sets.
"""

from __future__ import annotations

from mlpbench.mlp import data, registry
from mlpbench.mlp.gradcheck import (
    AGREE_RTOL_F64,
    GRADCHECK_TOL,
    agreement_rtol,
    gradcheck,
    make_problem,
    max_rel_err,
)
from mlpbench.mlp.params import Forward, Params, Workspace, empty_like, init_params, n_params
from mlpbench.mlp.registry import Implementation, ImplInfo, get, register
from mlpbench.mlp.train import History, TrainingDiverged, TrainResult, time_epoch, train
from mlpbench.mlp.validation import ACTIVATIONS, check_activation, check_inputs

__all__ = [
    "ACTIVATIONS",
    "AGREE_RTOL_F64",
    "CORE_IMPLEMENTATIONS",
    "GRADCHECK_TOL",
    "History",
    "IMPLEMENTATIONS",
    "Forward",
    "ImplInfo",
    "Implementation",
    "Params",
    "Workspace",
    "TrainResult",
    "TrainingDiverged",
    "agreement_rtol",
    "check_activation",
    "check_inputs",
    "empty_like",
    "data",
    "get",
    "gradcheck",
    "init_params",
    "make_problem",
    "max_rel_err",
    "n_params",
    "register",
    "registry",
    "time_epoch",
    "train",
]


def __getattr__(name):
    # The name lists grow with register(); read it from the registry each time.
    if name in ("IMPLEMENTATIONS", "CORE_IMPLEMENTATIONS"):
        registry.discover()  # installed packages' implementations (entry points), once
        return getattr(registry, name)
    raise AttributeError(f"module 'mlpbench.mlp' has no attribute {name!r}")
