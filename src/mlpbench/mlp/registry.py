"""The registry of MLP implementations: each one's loader and facts, and its validated face.

Every list, legend, colour, marker, display order and JIT fact of an implementation is
read from here (``info(name)``, ``infos()``, ``colour(name)``, ``is_jit(name)``,
``IMPLEMENTATIONS``); nothing else in mlpbench keeps one. A new implementation is one
``register`` call: a built-in's below, a user's own (a plugin, docs/plugins.md) from
Python, from a command line (``--impl NAME=TARGET``) or from an installed package's
entry point (group ``mlpbench.implementations``, found on first use of the names:
:func:`discover`). Names that are not registered (an old result file, a removed
plugin) get a stable fallback colour and marker, so drawing never fails on them.

An implementation is any object (usually a module) with raw functions that trust
their inputs: ``forward(p, X)``, ``loss(p, X, y, l1, l2)``,
``loss_and_grad(p, X, y, l1, l2)`` and optionally ``backward(p, X, y, f, l1, l2)``
(derived from ``loss_and_grad`` when absent, :func:`mlp.plugins.adapt`).
``Implementation`` wraps them with the checks of ``validation``, and for an untrusted
implementation (a plugin: fact ``trusted`` False) with the checks of what they return
(``mlp.plugins``). The last two may also take a keyword ``out``, an ``mlp.Params`` of
checked buffers to write the gradient into and return; for those that do not,
``Implementation`` copies their result into ``out``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
import types
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlpbench.errors import InputError, InputTypeError, PluginError
from mlpbench.mlp import peers as _peers
from mlpbench.mlp import plugins as _plugins
from mlpbench.mlp.params import Forward, Params
from mlpbench.mlp.validation import (
    DEFAULT_ACTIVATION,
    check_activation,
    check_forward,
    check_inputs,
    check_out,
    check_penalties,
)

__all__ = [
    "CORE_IMPLEMENTATIONS", "FALLBACK_COLOURS", "IMPLEMENTATIONS", "RAW_FUNCTIONS",
    "REQUIRED_FUNCTIONS", "ImplInfo", "Implementation", "activation_kwargs", "colour",
    "discover", "get", "info",
    "infos", "is_jit", "marker", "names", "register", "register_spec", "sort_key",
    "takes_out",
]

#: The raw functions of a loaded implementation (``Implementation.raw``).
RAW_FUNCTIONS = ("forward", "loss", "loss_and_grad", "backward")
#: Those an implementation must define (``backward`` is derived when absent).
REQUIRED_FUNCTIONS = _plugins.REQUIRED_FUNCTIONS


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
    legends (ascending). label: a short description for people. trusted: its results
    are not checked (mlpbench's own and the peers); an untrusted one (a plugin) has
    every result of its public functions checked (type, shape, dtype, finite). target:
    where a plugin was loaded from (``package.module[:attr]`` or an absolute
    ``file.py[:attr]``), None for an object or a callable.
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
    trusted: bool = True
    target: str | None = None


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
#: The facts each name was registered with explicitly (the others may come from what
#: the loaded implementation declares, mlp.plugins.declared_facts).
_explicit: dict[str, frozenset] = {}
#: Whether the entry points and $MLPBENCH_IMPLEMENTATIONS were read (discover()), and
#: what was wrong with those that could not be registered.
_discovered = False
_discovery_problems: dict[str, str] = {}

#: Registered implementation names, in display order; ``numpy`` is the reference.
IMPLEMENTATIONS: tuple[str, ...] = ()
#: The same without the optional peers (PyTorch, JAX): mlpbench's own implementations.
CORE_IMPLEMENTATIONS: tuple[str, ...] = ()


class Implementation:
    """One MLP implementation: validated public functions over unchecked ``raw`` ones.

    ``raw`` exposes the same four functions without any check; they require the
    normalized form returned by ``check_inputs`` (C-contiguous, one float dtype,
    int64 labels) and float penalties. A ``raw`` without ``backward`` gets one derived
    from ``loss_and_grad``. ``trusted=False`` (a plugin) also checks every result of
    the public functions (:mod:`mlp.plugins`: a Forward/Params of the right shapes and
    dtype, finite, a float loss) and raises :class:`~mlp.plugins.PluginResultError`
    naming the implementation and the function.
    """

    def __init__(self, name: str, raw, trusted: bool = True):
        self.name = name
        self.raw = _plugins.adapt(name, raw)
        self.trusted = bool(trusted)

    def __repr__(self) -> str:
        return f"<mlp implementation {self.name!r}>"

    def forward(self, p, X, *, activation=DEFAULT_ACTIVATION) -> Forward:
        """Forward pass: ``Forward(ha, hs, oa, os)`` for the n rows of X (2.#1–3).

        ``ha = X W1ᵀ + b1``, ``hs = act(ha)``, ``oa = hs W2ᵀ + b2``, ``os = softmax(oa)``;
        ha and hs are n×d_h, oa and os n×m, in the dtype of X. ``activation``: the hidden
        units' function, one of ``"relu"`` (the default), ``"tanh"``, ``"sigmoid"``,
        ``"softplus"`` (docs/math.md#hidden-activations); the same keyword in every
        function here.
        """
        act = _activation_kwargs(self.name, self.raw.forward, activation)
        p, X, _ = check_inputs(p, X)
        f = self.raw.forward(p, X, **act)
        if not self.trusted:
            f = _plugins.check_forward_result(self.name, f, p, X)
        return f

    def loss(self, p, X, y, l1=0.0, l2=0.0, *, activation=DEFAULT_ACTIVATION) -> float:
        """Regularized empirical risk (2.#4–5), a Python float:

        ``R = mean_i (logsumexp(oa_i) − oa[i, y_i]) + l1·(‖W1‖₁+‖W2‖₁) + l2·(‖W1‖₂²+‖W2‖₂²)``.
        """
        act = _activation_kwargs(self.name, self.raw.loss, activation)
        p, X, y = check_inputs(p, X, y)
        l1, l2 = check_penalties(l1, l2)
        loss = self.raw.loss(p, X, y, l1, l2, **act)
        if not self.trusted:
            return _plugins.check_loss_result(self.name, "loss", loss)
        return float(loss)

    def loss_and_grad(self, p, X, y, l1=0.0, l2=0.0, out=None, *,
                      activation=DEFAULT_ACTIVATION) -> tuple[float, Params]:
        """The risk R and its gradient ``Params(∂R/∂W1, ∂R/∂b1, ∂R/∂W2, ∂R/∂b2)`` (2.#7–16).

        out: None (fresh gradient arrays), or an ``mlp.Params`` of preallocated buffers,
        e.g. ``mlp.empty_like(p)``: the gradient is written there and out is returned.
        """
        act = _activation_kwargs(self.name, self.raw.loss_and_grad, activation)
        given = (p, X, y)
        p, X, y = check_inputs(p, X, y)
        l1, l2 = check_penalties(l1, l2)
        if out is None:
            result = self.raw.loss_and_grad(p, X, y, l1, l2, **act)
            if not self.trusted:
                return _plugins.check_loss_and_grad_result(self.name, result, p)
            loss, g = result
            return float(loss), g
        # The gradient may overlap neither what the caller passed nor its checked copies.
        out = check_out(out, p, (*given[0], *given[1:], *p, X, y))
        fn = self.raw.loss_and_grad
        if takes_out(fn):
            result = fn(p, X, y, l1, l2, out=out, **act)
            if not self.trusted:
                loss, _ = _plugins.check_loss_and_grad_result(self.name, result, p)
                _plugins.check_grad_result(self.name, "loss_and_grad (out=)", out, p)
                return loss, out
            loss, _ = result
        else:
            result = fn(p, X, y, l1, l2, **act)
            if not self.trusted:
                result = _plugins.check_loss_and_grad_result(self.name, result, p)
            loss, g = result
            _copy_into(out, g)
        return float(loss), out

    def backward(self, p, X, y, f, l1=0.0, l2=0.0, out=None, *,
                 activation=DEFAULT_ACTIVATION) -> Params:
        """Gradient of R given the forward pass ``f = forward(p, X, activation=...)``
        (2.#7–16), with the same activation.

        out: as for ``loss_and_grad``; the gradient is written there and out is returned.
        """
        act = _activation_kwargs(self.name, self.raw.backward, activation)
        given = (p, X, y, f)
        p, X, y = check_inputs(p, X, y)
        l1, l2 = check_penalties(l1, l2)
        f = check_forward(f, p, X)
        if out is None:
            g = self.raw.backward(p, X, y, f, l1, l2, **act)
            if not self.trusted:
                g = _plugins.check_grad_result(self.name, "backward", g, p)
            return g
        out = check_out(out, p, (*given[0], *given[1:3], *given[3], *p, X, y, *f))
        fn = self.raw.backward
        if takes_out(fn):
            fn(p, X, y, f, l1, l2, out=out, **act)
            if not self.trusted:
                _plugins.check_grad_result(self.name, "backward (out=)", out, p)
        else:
            g = fn(p, X, y, f, l1, l2, **act)
            if not self.trusted:
                g = _plugins.check_grad_result(self.name, "backward", g, p)
            _copy_into(out, g)
        return out


@functools.lru_cache(maxsize=64)
def takes_activation(fn) -> bool:
    """Whether a raw function accepts the keyword ``activation``."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "activation" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _activation_kwargs(name: str, fn, activation) -> dict:
    """The keywords that give raw ``fn`` the checked ``activation`` (the one boundary
    check, docs/math.md#hidden-activations): none for ReLU, so an implementation that
    knows only ReLU (an older plugin) runs unchanged; ``{"activation": ...}``
    otherwise, refused (InputError) for a function without that keyword."""
    activation = check_activation(activation)
    if activation == DEFAULT_ACTIVATION:
        return {}
    if not takes_activation(fn):
        raise InputError(f"implementation {name!r} computes ReLU hidden units only: its "
                         f"{getattr(fn, '__name__', 'function')} takes no activation "
                         f"keyword, so activation={activation!r} cannot be given to it")
    return {"activation": activation}


def activation_kwargs(fn, activation, name: str = "implementation") -> dict:
    """The keywords giving raw ``fn`` the ``activation`` (checked): ``{}`` for ReLU (every
    raw function computes it without a keyword), ``{"activation": a}`` otherwise. For the
    callers of raw functions (the harness, training), which check once per run."""
    return _activation_kwargs(name, fn, activation)


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


def register(name: str, loader: Any, *, replace: bool = False,
             jit: bool | None = None, peer: bool | None = None, colour: str | None = None,
             marker: str | None = None, order: int | None = None,
             label: str | None = None, trusted: bool | None = None) -> ImplInfo:
    """Add an implementation called ``name`` with its facts; return its :class:`ImplInfo`.

    loader (the target): the implementation itself, a module or an object with
    ``forward``, ``loss``, ``loss_and_grad`` (optionally ``backward``); a class
    (instantiated with no arguments on the first ``get(name)``); a string
    ``package.module[:attr]`` or ``path/to/file.py[:attr]`` (a relative path is
    relative to the current folder; imported on the first ``get(name)``); or a
    callable returning the implementation (called on the first ``get(name)``).
    An existing name is an error unless ``replace=True``; a replaced name keeps the
    facts not given again. Facts left None come from what the implementation declares
    (``MLPBENCH_JIT``, ``MLPBENCH_COLOUR``, ... or a dict ``mlpbench_facts``, read when
    it loads), else default to: not JIT-compiled, not a peer (a peer of
    ``mlp.peers.PEERS`` is one), a colour and a marker no other registered
    implementation uses, last in display order, the name as label, not trusted (its
    results are checked; mlpbench's own implementations and the peers are trusted).
    """
    if not isinstance(name, str) or not name:
        raise InputTypeError(f"name must be a non-empty string, got {name!r}")
    module = target = None
    declared: dict = {}
    if isinstance(loader, str):
        where = _plugins.parse_target(loader)
        module, target = where.module, str(where)
        loader = functools.partial(_plugins.load, where, name)
    elif isinstance(loader, type):
        loader = functools.partial(_plugins.instantiate, loader, name)
    elif isinstance(loader, types.ModuleType) or callable(getattr(loader, "forward", None)):
        obj = loader
        declared = _plugins.declared_facts(obj, name)
        if isinstance(obj, types.ModuleType):
            module = obj.__name__

        def loader():
            return obj
    if not callable(loader):
        raise InputTypeError(
            f"an implementation is a module or an object with forward, loss and "
            f"loss_and_grad, a class, a target 'package.module[:attr]' or 'file.py[:attr]', "
            f"or a callable returning one; got {type(loader).__name__}")
    old = _infos.get(name)
    if old is not None and not replace:
        raise InputError(f"an MLP implementation named {name!r} is already registered; "
                         "pass replace=True to replace it")
    facts = {"jit": jit, "peer": peer, "colour": colour, "marker": marker, "order": order,
             "label": label, "trusted": trusted}
    explicit = {k for k, v in facts.items() if v is not None}
    for key, value in declared.items():
        if facts[key] is None:
            facts[key] = value
    for key, value in list(facts.items()):
        if value is None and old is not None:
            facts[key] = getattr(old, key)
            if key in _explicit.get(name, ()):
                explicit.add(key)
    info_ = _make_info(name, loader, module, target, facts)
    _infos[name] = info_
    _explicit[name] = frozenset(explicit)
    _loaded.pop(name, None)
    _refresh()
    return info_


def _make_info(name: str, loader, module, target, facts: dict) -> ImplInfo:
    """The ImplInfo of ``name``, defaults filled in and every fact checked."""
    facts = dict(facts)
    others = [i for n, i in _infos.items() if n != name]
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
    if facts["trusted"] is None:
        facts["trusted"] = False
    return ImplInfo(
        name=name, loader=loader, module=module, jit=_flag("jit", facts["jit"]),
        peer=_flag("peer", facts["peer"]), colour=_hex_colour(facts["colour"]),
        marker=_text("marker", facts["marker"]), order=_order(facts["order"]),
        label=_text("label", facts["label"] if facts["label"] is not None else name),
        trusted=_flag("trusted", facts["trusted"]), target=target)


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


def register_spec(spec: str, *, export: bool = False, what: str | None = None) -> str:
    """Register and load ``NAME=TARGET`` (the form of ``--impl``); return NAME.

    TARGET is ``package.module[:attr]`` or ``path/to/file.py[:attr]``. The target is
    loaded now: one that cannot be imported, or lacks a function of the contract,
    raises :class:`~mlpbench.errors.PluginError`. A name of mlpbench's own (a trusted
    implementation) cannot be taken; a plugin's name is replaced. ``export``: also add
    it to ``$MLPBENCH_IMPLEMENTATIONS`` (child processes register it too). ``what``
    starts the error messages (default: the spec).
    """
    what = what or repr(spec)
    if not isinstance(spec, str) or "=" not in spec:
        raise PluginError(f"{what}: expected NAME=TARGET, TARGET being package.module[:attr] "
                          "or path/to/file.py[:attr]")
    name, _, target = spec.partition("=")
    name, target = name.strip(), target.strip()
    try:
        _plugins.check_name(name)
    except PluginError as exc:
        raise PluginError(f"{what}: {exc}") from None
    if not target:
        raise PluginError(f"{what}: give the target after '=': NAME=package.module[:attr] or "
                          "NAME=path/to/file.py[:attr]")
    where = _plugins.parse_target(target)
    known = names()
    if name in known and info(name).trusted and info(name).target != str(where):
        raise PluginError(f"{what}: {name!r} is one of mlpbench's implementations; give "
                          "yours another name")
    old, old_explicit = _infos.get(name), _explicit.get(name)
    register(name, str(where), replace=name in known)
    try:
        get(name)  # load it now: a target that cannot be loaded stops here
    except BaseException:  # leave the registry as it was
        _loaded.pop(name, None)
        if old is None:
            _infos.pop(name, None)
            _explicit.pop(name, None)
        else:
            _infos[name], _explicit[name] = old, old_explicit or frozenset()
        _refresh()
        raise
    if export:
        _plugins.export(name, where)
    return name


def discover() -> tuple[str, ...]:
    """Register, once, the implementations installed packages declare (entry points of
    the group ``mlpbench.implementations``: ``name = "package.module:attr"``) and those
    of the environment variable ``MLPBENCH_IMPLEMENTATIONS`` (``NAME=TARGET,...``, set
    by the commands for their child processes). Nothing is imported until
    ``get(name)``. Names already registered are kept (a built-in is never replaced);
    a declaration that cannot be registered is left out, its reason in
    :func:`discovery_problems`. Returns the names registered now.

    Called on the first use of the names (``mlp.IMPLEMENTATIONS``, :func:`infos`,
    :func:`names`, an unknown name in :func:`get` or :func:`info`).
    """
    global _discovered
    if _discovered:
        return ()
    _discovered = True
    added = []
    for name, target, source in _plugins.discovered_targets():
        try:
            _plugins.check_name(name)
            found = _infos.get(name)
            if found is not None:
                if found.target != str(_plugins.parse_target(target)):
                    _discovery_problems[name] = (
                        f"{source}: the name {name!r} is taken by another implementation")
                continue
            register(name, target)
            added.append(name)
        except PluginError as exc:
            _discovery_problems[name] = f"{source}: {exc}"
    return tuple(added)


def discovery_problems() -> dict[str, str]:
    """Declared implementations :func:`discover` could not register, with the reason."""
    discover()
    return dict(_discovery_problems)


def names() -> tuple[str, ...]:
    """Every registered name in display order (``IMPLEMENTATIONS``, after :func:`discover`)."""
    discover()
    return IMPLEMENTATIONS


def info(name: str) -> ImplInfo:
    """The facts of the registered implementation called ``name``."""
    found = _infos.get(name)
    if found is None and discover():
        found = _infos.get(name)
    if found is None:
        raise _unknown(name)
    return found


def infos() -> tuple[ImplInfo, ...]:
    """The facts of every registered implementation, in display order."""
    discover()
    return tuple(_infos[n] for n in IMPLEMENTATIONS)


def colour(name: str) -> str:
    """The colour (hex) every figure draws ``name`` in.

    A name that is not registered (read from an old result file, say) gets a stable
    colour of ``FALLBACK_COLOURS`` chosen by a hash of the name: never an error.
    """
    found = _lookup(name)
    if found is not None:
        return found.colour
    return FALLBACK_COLOURS[zlib.crc32(str(name).encode()) % len(FALLBACK_COLOURS)]


def marker(name: str) -> str:
    """The matplotlib marker of ``name``; a stable fallback for unregistered names."""
    found = _lookup(name)
    if found is not None:
        return found.marker
    return _FALLBACK_MARKERS[zlib.crc32(str(name).encode()) % len(_FALLBACK_MARKERS)]


def is_jit(name: str) -> bool:
    """Whether ``name``'s first call compiles (False for names not registered)."""
    found = _lookup(name)
    return found is not None and found.jit


def sort_key(name: str) -> tuple:
    """Key that sorts names in display order, unregistered ones after, by name."""
    found = _lookup(name)
    return (0, found.order, name) if found is not None else (1, 0, str(name))


def _lookup(name) -> ImplInfo | None:
    """The facts of ``name``, looking at the installed packages' implementations once
    (so a figure drawn in another process gives a plugin the same colour)."""
    found = _infos.get(name)
    if found is None and not _discovered and discover():
        found = _infos.get(name)
    return found


def _unknown(name: str) -> Exception:
    if name in _peers.PEERS:
        reason = _peers.unavailable().get(name, "not registered")
        return _peers.PeerUnavailable(f"MLP implementation {name!r} is not available: {reason}")
    valid = ", ".join(repr(n) for n in IMPLEMENTATIONS)
    return InputError(f"unknown MLP implementation {name!r}; expected one of {valid}")


def get(name: str) -> Implementation:
    """Return the implementation called ``name`` (one of ``IMPLEMENTATIONS``).

    The first call loads it; a plugin that cannot be loaded or lacks a function of
    the contract raises :class:`~mlpbench.errors.PluginError` naming it. Facts the
    loaded implementation declares and ``register`` was not given are recorded then.
    """
    impl = _loaded.get(name)
    if impl is None:
        found = _infos.get(name)
        if found is None and discover():
            found = _infos.get(name)
        if found is None:
            raise _unknown(name)
        obj = found.loader()
        found = _apply_declared(found, obj)
        impl = _loaded[name] = Implementation(name, obj, trusted=found.trusted)
    return impl


def _apply_declared(found: ImplInfo, obj) -> ImplInfo:
    """Record the facts ``obj`` declares that ``register`` was not given explicitly."""
    declared = _plugins.declared_facts(obj, found.name)
    explicit = _explicit.get(found.name, frozenset())
    changes = {k: v for k, v in declared.items() if k not in explicit}
    if not changes:
        return found
    facts = {k: getattr(found, k) for k in ("jit", "peer", "colour", "marker", "order",
                                              "label", "trusted")}
    facts.update(changes)
    updated = _make_info(found.name, found.loader, found.module, found.target, facts)
    _infos[found.name] = updated
    _refresh()
    return updated


for _i, (_name, _module, _jit, _colour, _marker, _label) in enumerate(_CORE):
    register(_name, _module, jit=_jit, peer=False, colour=_colour, marker=_marker, order=_i,
             label=_label, trusted=True)

# Optional peers (PyTorch, JAX): registered, with their facts, only where their package
# is installed; nothing is imported until get(name) (see mlpbench.mlp.peers).
for _name, _loader in _peers.available_loaders().items():
    _peer = _peers.PEERS[_name]
    register(_name, _loader, jit=_peer.jit, peer=True, colour=_peer.colour,
             marker=_peer.marker, order=len(_CORE) + list(_peers.PEERS).index(_name),
             label=_peer.label, trusted=True)
