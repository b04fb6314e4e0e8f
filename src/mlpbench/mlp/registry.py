"""The registry of MLP implementations: each one's loader and facts, and its validated face.

Every list, legend, colour, marker, display order and JIT fact of an implementation is
read from here (``info(name)``, ``infos()``, ``colour(name)``, ``is_jit(name)``,
``IMPLEMENTATIONS``); nothing else in mlpbench keeps one. A new implementation is one
``register`` call. Names that are not registered (an old result file, a removed
plugin) get a stable fallback colour and marker, so drawing never fails on them.

An implementation is any object (usually a module) with four raw functions that
trust their inputs: ``forward(p, X)``, ``loss(p, X, y, l1, l2)``,
``loss_and_grad(p, X, y, l1, l2)`` and ``backward(p, X, y, f, l1, l2)``.
``Implementation`` wraps them with the checks of ``validation``. The last two may also
take a keyword ``out``, an ``mlp.Params`` of checked buffers to write the gradient into
and return; for those that do not, ``Implementation`` copies their result into ``out``.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mlpbench.errors import InputError, InputTypeError
from mlpbench.mlp import peers as _peers
from mlpbench.mlp.params import Forward, Params
from mlpbench.mlp.validation import check_forward, check_inputs, check_out, check_penalties

__all__ = [
    "CORE_IMPLEMENTATIONS", "FALLBACK_COLOURS", "IMPLEMENTATIONS", "RAW_FUNCTIONS",
    "ImplInfo", "Implementation", "colour", "get", "info", "infos", "is_jit", "marker",
    "register", "sort_key", "takes_out",
]

#: Functions every raw implementation defines.
RAW_FUNCTIONS = ("forward", "loss", "loss_and_grad", "backward")


@dataclass(frozen=True)
class ImplInfo:
    """The facts of one registered implementation.

    name: what users type (``--impl``, ``mlp.get``). loader: returns the raw
    implementation, called on the first ``get(name)``. module: the dotted module the
    loader imports, when it was registered by module name (None for a callable).
    jit: its first call compiles machine code (numba, ``jax.jit``), so a first call
    costs more than the others and cold starts are worth measuring. peer: another
    library's implementation (PyTorch, JAX), not mlpbench's own. colour (hex), marker
    (matplotlib): how every figure draws it. order: its place in lists, tables and
    legends (ascending). label: a short description for people.
    """

    name: str
    loader: Callable[[], object] = dataclasses.field(repr=False, compare=False)
    module: str | None
    jit: bool
    peer: bool
    colour: str
    marker: str
    order: int
    label: str


# Colours: the Okabe–Ito palette (distinct under the common colour-vision
# deficiencies) without its black, kept for reference lines, and its pale yellow,
# which does not show on white; JAX gets a brown from tab10, far from the others in
# lightness. Markers differ too, so no pair relies on colour alone.
_CORE = (
    # name, module, jit, colour, marker, label
    ("loops", "mlpbench.mlp.impl_loops", False, "#009E73", "s",
     "pure Python loops, one line per scalar formula"),
    ("numpy", "mlpbench.mlp.impl_numpy", False, "#0072B2", "o",
     "NumPy matrix forms (the reference)"),
    ("numba", "mlpbench.mlp.impl_numba", True, "#D55E00", "^",
     "Numba JIT, fused row passes and BLAS products"),
    ("numba-loops", "mlpbench.mlp.impl_numba_loops", True, "#E69F00", "v",
     "Numba JIT, BLAS-free cache-blocked loops"),
)

#: Colours for names without one: implementations registered without a colour take
#: the first one no registered implementation uses; unregistered names (in old result
#: files) a stable one chosen by a hash of the name. None is a registered colour.
FALLBACK_COLOURS = ("#7F7F7F", "#BCBD22", "#9467BD", "#332288", "#882255", "#17BECF")
_HEX = re.compile(r"#[0-9A-Fa-f]{6}")
#: Markers likewise.
_FALLBACK_MARKERS = ("X", "*", "h", "p", "<", ">", "8", "H")

_infos: dict[str, ImplInfo] = {}
_loaded: dict[str, Implementation] = {}

#: Registered implementation names, in display order; ``numpy`` is the reference.
IMPLEMENTATIONS: tuple[str, ...] = ()
#: The same without the optional peers (PyTorch, JAX): mlpbench's own implementations.
CORE_IMPLEMENTATIONS: tuple[str, ...] = ()


class Implementation:
    """One MLP implementation: validated public functions over unchecked ``raw`` ones.

    ``raw`` exposes the same four functions without any check; they require the
    normalized form returned by ``check_inputs`` (C-contiguous, one float dtype,
    int64 labels) and float penalties.
    """

    def __init__(self, name: str, raw):
        missing = [f for f in RAW_FUNCTIONS if not callable(getattr(raw, f, None))]
        if missing:
            raise InputTypeError(f"implementation {name!r} lacks the raw function(s) {missing}")
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


def _default(values, used, name: str):
    """The first of ``values`` not in ``used``, else one chosen by a stable hash of name."""
    for value in values:
        if value not in used:
            return value
    return values[zlib.crc32(name.encode()) % len(values)]


def _refresh() -> None:
    global IMPLEMENTATIONS, CORE_IMPLEMENTATIONS
    ordered = sorted(_infos.values(), key=lambda i: (i.order, i.name))
    IMPLEMENTATIONS = tuple(i.name for i in ordered)
    CORE_IMPLEMENTATIONS = tuple(i.name for i in ordered if not i.peer)


def register(name: str, loader: Callable[[], object] | str, *, replace: bool = False,
             jit: bool | None = None, peer: bool | None = None, colour: str | None = None,
             marker: str | None = None, order: int | None = None,
             label: str | None = None) -> ImplInfo:
    """Add an implementation called ``name`` with its facts; return its :class:`ImplInfo`.

    loader: a callable returning an object with the four raw functions (called on
    the first ``get(name)``), or the dotted name of a module that defines them.
    An existing name is an error unless ``replace=True``; a replaced name keeps the
    facts not given again. Facts left None default to: not JIT-compiled, not a peer
    (a peer of ``mlp.peers.PEERS`` is one), a colour and a marker no other registered
    implementation uses, last in display order, the name as label.
    """
    if not isinstance(name, str) or not name:
        raise InputTypeError(f"name must be a non-empty string, got {name!r}")
    module = None
    if isinstance(loader, str):
        module = loader
        loader = functools.partial(importlib.import_module, module)
    if not callable(loader):
        raise InputTypeError(
            f"loader must be callable or a module name, got {type(loader).__name__}")
    old = _infos.get(name)
    if old is not None and not replace:
        raise InputError(f"an MLP implementation named {name!r} is already registered; "
                         "pass replace=True to replace it")
    others = [i for n, i in _infos.items() if n != name]
    facts = {"jit": jit, "peer": peer, "colour": colour, "marker": marker, "order": order,
             "label": label}
    for key, value in list(facts.items()):
        if value is None and old is not None:
            facts[key] = getattr(old, key)
    if facts["colour"] is None:
        facts["colour"] = _default(FALLBACK_COLOURS, {i.colour for i in others}, name)
    if facts["marker"] is None:
        facts["marker"] = _default(_FALLBACK_MARKERS, {i.marker for i in others}, name)
    if facts["order"] is None:
        facts["order"] = max((i.order for i in others), default=-1) + 1
    if facts["peer"] is None:
        facts["peer"] = name in _peers.PEERS
    if facts["jit"] is None:
        facts["jit"] = False
    info_ = ImplInfo(
        name=name, loader=loader, module=module, jit=_flag("jit", facts["jit"]),
        peer=_flag("peer", facts["peer"]), colour=_hex_colour(facts["colour"]),
        marker=_text("marker", facts["marker"]), order=_order(facts["order"]),
        label=_text("label", facts["label"] if facts["label"] is not None else name))
    _infos[name] = info_
    _loaded.pop(name, None)
    _refresh()
    return info_


def _flag(key: str, value) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise InputTypeError(f"{key} must be True or False, got {type(value).__name__}")
    return bool(value)


def _hex_colour(value) -> str:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise InputError(f"colour must be a hex colour '#RRGGBB', got {value!r}")
    return value.upper()


def _text(key: str, value) -> str:
    if not isinstance(value, str) or not value:
        raise InputTypeError(f"{key} must be a non-empty string, got {value!r}")
    return value


def _order(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputTypeError(f"order must be an integer, got {type(value).__name__}")
    return int(value)


def info(name: str) -> ImplInfo:
    """The facts of the registered implementation called ``name``."""
    found = _infos.get(name)
    if found is None:
        raise _unknown(name)
    return found


def infos() -> tuple[ImplInfo, ...]:
    """The facts of every registered implementation, in display order."""
    return tuple(_infos[n] for n in IMPLEMENTATIONS)


def colour(name: str) -> str:
    """The colour (hex) every figure draws ``name`` in.

    A name that is not registered (read from an old result file, say) gets a stable
    colour of ``FALLBACK_COLOURS`` chosen by a hash of the name: never an error.
    """
    found = _infos.get(name)
    if found is not None:
        return found.colour
    return FALLBACK_COLOURS[zlib.crc32(str(name).encode()) % len(FALLBACK_COLOURS)]


def marker(name: str) -> str:
    """The matplotlib marker of ``name``; a stable fallback for unregistered names."""
    found = _infos.get(name)
    if found is not None:
        return found.marker
    return _FALLBACK_MARKERS[zlib.crc32(str(name).encode()) % len(_FALLBACK_MARKERS)]


def is_jit(name: str) -> bool:
    """Whether ``name``'s first call compiles (False for names not registered)."""
    found = _infos.get(name)
    return found is not None and found.jit


def sort_key(name: str) -> tuple:
    """Key that sorts names in display order, unregistered ones after, by name."""
    found = _infos.get(name)
    return (0, found.order, name) if found is not None else (1, 0, str(name))


def _unknown(name: str) -> Exception:
    if name in _peers.PEERS:
        reason = _peers.unavailable().get(name, "not registered")
        return _peers.PeerUnavailable(f"MLP implementation {name!r} is not available: {reason}")
    valid = ", ".join(repr(n) for n in IMPLEMENTATIONS)
    return InputError(f"unknown MLP implementation {name!r}; expected one of {valid}")


def get(name: str) -> Implementation:
    """Return the implementation called ``name`` (one of ``IMPLEMENTATIONS``)."""
    impl = _loaded.get(name)
    if impl is None:
        found = _infos.get(name)
        if found is None:
            raise _unknown(name)
        impl = _loaded[name] = Implementation(name, found.loader())
    return impl


for _i, (_name, _module, _jit, _colour, _marker, _label) in enumerate(_CORE):
    register(_name, _module, jit=_jit, peer=False, colour=_colour, marker=_marker, order=_i,
             label=_label)

# Optional peers (PyTorch, JAX): registered, with their facts, only where their package
# is installed; nothing is imported until get(name) (see mlpbench.mlp.peers).
for _name, _loader in _peers.available_loaders().items():
    _peer = _peers.PEERS[_name]
    register(_name, _loader, jit=_peer.jit, peer=True, colour=_peer.colour,
             marker=_peer.marker, order=len(_CORE) + list(_peers.PEERS).index(_name),
             label=_peer.label)
