"""User implementations (plugins): targets, loading, declared facts, and the checks of
their results.

An implementation written outside mlpbench is a module or an object with
``forward(p, X)``, ``loss(p, X, y, l1, l2)`` and ``loss_and_grad(p, X, y, l1, l2)``
(``backward(p, X, y, f, l1, l2)`` and ``out=`` buffers optional); docs/plugins.md is
the contract. This module does what the registry needs for them:

- :func:`parse_target` and :func:`load`: a target ``package.module[:attr]`` or
  ``path/to/file.py[:attr]`` to the object (files load under a private module name);
- :func:`adapt`: the raw functions, ``backward`` derived from ``loss_and_grad`` when
  absent; :func:`declared_facts`: facts the object declares (``MLPBENCH_JIT = True``,
  ``MLPBENCH_COLOUR = "#..."``, or a dict ``mlpbench_facts``);
- :func:`check_forward_result`, :func:`check_loss_result`, :func:`check_grad_result`:
  the checks of what an untrusted implementation returns (the registry's
  ``Implementation`` runs them for every call of its public functions);
  :class:`CallGuard`: copies of the inputs of one call, to detect and undo a mutation
  (the sweep's gate and ``mlpbench check`` use it);
- :func:`discovered_targets`: the entry points of the group ``mlpbench.implementations``
  and the variable ``MLPBENCH_IMPLEMENTATIONS`` (how child processes see the
  implementations a command line registered).

Every error names the implementation and the function: :class:`PluginError` (cannot be
loaded, exit status 2 in the commands), :class:`PluginContractError` (a function is
missing), :class:`PluginResultError` (a wrong result, exit status 1).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import math
import os
import re
import sys
import types
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlpbench.errors import InputTypeError, PluginError
from mlpbench.mlp.params import Forward, Params

__all__ = [
    "ENTRY_POINT_GROUP",
    "ENV_VAR",
    "FACTS",
    "OPTIONAL_FUNCTIONS",
    "REQUIRED_FUNCTIONS",
    "CallGuard",
    "PluginContractError",
    "PluginError",
    "PluginResultError",
    "Target",
    "adapt",
    "check_forward_result",
    "check_grad_result",
    "check_loss_result",
    "check_phase_result",
    "declared_facts",
    "discovered_targets",
    "export",
    "load",
    "parse_target",
]

#: The entry-point group an installed package declares its implementations in.
ENTRY_POINT_GROUP = "mlpbench.implementations"

#: ``NAME=TARGET,NAME=TARGET``: implementations registered in every process that
#: imports mlpbench (the commands set it, so that their child processes, e.g. the
#: cold-start measurements, know the implementations given with ``--impl NAME=TARGET``).
ENV_VAR = "MLPBENCH_IMPLEMENTATIONS"

#: Functions an implementation must define, and the one it may leave out.
REQUIRED_FUNCTIONS = ("forward", "loss", "loss_and_grad")
OPTIONAL_FUNCTIONS = ("backward",)

#: Facts an implementation may declare: key in ``mlpbench_facts`` -> module attribute.
FACTS = {
    "jit": "MLPBENCH_JIT",
    "colour": "MLPBENCH_COLOUR",
    "marker": "MLPBENCH_MARKER",
    "label": "MLPBENCH_LABEL",
    "order": "MLPBENCH_ORDER",
    "trusted": "MLPBENCH_TRUSTED",
}
FACTS_DICT = "mlpbench_facts"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


class PluginContractError(PluginError, InputTypeError):
    """An implementation that lacks a function of the contract (or whose function is not
    callable). Both a ValueError and a TypeError: it is the wrong kind of object."""


class PluginResultError(PluginError):
    """An implementation that returned a wrong result (wrong type, shape or dtype, NaN,
    a non-float loss) or changed its inputs. The commands exit with status 1."""

    exit_status = 1


# --- targets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where an implementation lives: a module (``kind="module"``, ``where`` its dotted
    name) or a file (``kind="file"``, ``where`` its absolute path), and the attribute of
    it that is the implementation (None: the module itself)."""

    kind: str
    where: str
    attr: str | None = None

    def __str__(self) -> str:
        return self.where + (f":{self.attr}" if self.attr else "")

    @property
    def module(self) -> str | None:
        return self.where if self.kind == "module" else None


def check_name(name: Any) -> str:
    """An implementation name as a command line takes it: letters, digits, ``_.+-``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name == "all":
        raise PluginError(f"an implementation name is letters, digits and _.+- (not 'all'), "
                          f"got {name!r}")
    return name


def parse_target(text: str, cwd: str | os.PathLike | None = None) -> Target:
    """``package.module[:attr]`` or ``path/to/file.py[:attr]`` as a :class:`Target`.

    A target is a file when it ends in ``.py`` (before ``:attr``) or contains a path
    separator; a relative path is relative to ``cwd`` (default: the current folder).
    """
    if not isinstance(text, str) or not text.strip():
        raise PluginError(f"a target is 'package.module[:attr]' or 'path/to/file.py[:attr]', "
                          f"got {text!r}")
    text = text.strip()
    where, attr = text, None
    head, sep, tail = text.rpartition(":")
    # 'C:\x.py' is a Windows drive, not an attribute.
    if sep and _DOTTED.fullmatch(tail) and len(head) > 1:
        where, attr = head, tail
    elif sep and not (len(head) == 1 and head.isalpha()):
        raise PluginError(f"target {text!r}: after ':' comes an attribute name like MLP or "
                          f"impl.MLP, got {tail!r}")
    is_file = where.endswith(".py") or "/" in where or os.sep in where
    if is_file:
        path = Path(where).expanduser()
        if not path.is_absolute():
            path = Path(cwd or os.getcwd()) / path
        return Target("file", str(path.resolve()), attr)
    if not _DOTTED.fullmatch(where):
        raise PluginError(f"target {text!r} is neither a module name (package.module) nor a "
                          "path to a .py file")
    return Target("module", where, attr)


def _module_name(path: str) -> str:
    stem = re.sub(r"\W", "_", Path(path).stem)
    return f"_mlpbench_plugin_{stem}_{zlib.crc32(path.encode()):08x}"


def _why(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        where = f" ({Path(exc.filename or '?').name}, line {exc.lineno})" if exc.lineno else ""
        return f"SyntaxError: {exc.msg}{where}"
    text = f"{type(exc).__name__}: {exc}".strip()
    return " ".join(text.split())[:300]


def load(target: Target | str, name: str) -> Any:
    """Import ``target`` and return the implementation object it names.

    A class is instantiated with no arguments. Raises :class:`PluginError` (one line,
    naming ``name`` and the target) when the module or file cannot be imported or
    the attribute is missing.
    """
    if isinstance(target, str):
        target = parse_target(target)
    where = f"implementation {name!r}: cannot load {target}"
    if target.kind == "file":
        path = Path(target.where)
        if not path.is_file():
            raise PluginError(f"{where}: no such file")
        module_name = _module_name(target.where)
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise PluginError(f"{where}: not a Python source file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # for dataclasses, pickling, typing inside it
        try:
            spec.loader.exec_module(module)
        except BaseException as exc:
            sys.modules.pop(module_name, None)
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise PluginError(f"{where}: importing it raised {_why(exc)}") from exc
    else:
        try:
            module = importlib.import_module(target.where)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise PluginError(f"{where}: importing it raised {_why(exc)}") from exc
    obj: Any = module
    for part in (target.attr or "").split(".") if target.attr else ():
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise PluginError(f"{where}: it has no attribute {part!r}") from None
    return instantiate(obj, name, str(target))


def instantiate(obj: Any, name: str, where: str = "") -> Any:
    """``obj``, or an instance of it when it is a class (created with no arguments)."""
    if not isinstance(obj, type):
        return obj
    try:
        return obj()
    except Exception as exc:
        at = f" {where}" if where else ""
        raise PluginError(f"implementation {name!r}: cannot create the class{at} with no "
                          f"arguments: {_why(exc)}") from exc


# --- the raw functions and the declared facts ------------------------------------------


@functools.lru_cache(maxsize=64)
def _takes_out(fn) -> bool:
    try:
        return "out" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def adapt(name: str, obj: Any) -> Any:
    """The raw functions of ``obj``: ``obj`` itself when it defines all four, else a
    namespace holding its functions and a ``backward`` derived from ``loss_and_grad``
    (the gradient of ``loss_and_grad(p, X, y, l1, l2)``; the forward pass is not used).

    Raises :class:`PluginContractError` when a required function is missing.
    """
    missing = [f for f in REQUIRED_FUNCTIONS if not callable(getattr(obj, f, None))]
    if missing:
        what = "a module" if isinstance(obj, types.ModuleType) else type(obj).__name__
        raise PluginContractError(
            f"implementation {name!r} lacks the raw function(s) {missing} ({what}); an "
            "implementation defines forward(p, X), loss(p, X, y, l1, l2) and "
            "loss_and_grad(p, X, y, l1, l2) (docs/plugins.md)")
    backward = getattr(obj, "backward", None)
    if backward is not None and not callable(backward):
        raise PluginContractError(f"implementation {name!r}: backward is not a function "
                                  f"({type(backward).__name__})")
    if backward is not None:
        return obj
    loss_and_grad = obj.loss_and_grad
    if _takes_out(loss_and_grad):
        def backward(p, X, y, f, l1=0.0, l2=0.0, out=None):
            return loss_and_grad(p, X, y, l1, l2, out=out)[1]
    else:
        def backward(p, X, y, f, l1=0.0, l2=0.0):
            return loss_and_grad(p, X, y, l1, l2)[1]
    backward.__doc__ = f"{name}'s gradient from its loss_and_grad (no backward of its own)"
    return types.SimpleNamespace(forward=obj.forward, loss=obj.loss,
                                 loss_and_grad=loss_and_grad, backward=backward,
                                 derived_backward=True, wrapped=obj)


def declared_facts(obj: Any, name: str) -> dict[str, Any]:
    """The facts ``obj`` declares: attributes ``MLPBENCH_JIT``, ``MLPBENCH_COLOUR``, ...
    (see :data:`FACTS`) and the dict ``mlpbench_facts``; the attributes win."""
    facts: dict[str, Any] = {}
    table = getattr(obj, FACTS_DICT, None)
    if table is not None:
        if not isinstance(table, Mapping):
            raise PluginError(f"implementation {name!r}: {FACTS_DICT} must be a dict, got "
                              f"{type(table).__name__}")
        aliases = {"color": "colour"}
        for key, value in table.items():
            key = aliases.get(key, key)
            if key not in FACTS:
                raise PluginError(f"implementation {name!r}: unknown fact {key!r} in "
                                  f"{FACTS_DICT}; known: {', '.join(FACTS)}")
            facts[key] = value
    for key, attr in FACTS.items():
        if hasattr(obj, attr):
            facts[key] = getattr(obj, attr)
    return facts


# --- targets found without a command line ----------------------------------------------


def discovered_targets() -> list[tuple[str, str, str]]:
    """``(name, target, source)`` of every implementation declared by an installed
    package (entry points of :data:`ENTRY_POINT_GROUP`, ``name = "package.module:attr"``)
    or by the environment variable :data:`ENV_VAR`; nothing is imported."""
    found = []
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        for item in env.split(","):
            item = item.strip()
            if item:
                name, _, target = item.partition("=")
                found.append((name.strip(), target.strip(), f"${ENV_VAR}"))
    try:
        from importlib.metadata import entry_points

        eps = entry_points(group=ENTRY_POINT_GROUP)
    except Exception:  # a broken installed distribution must not break mlpbench
        eps = ()
    for ep in eps:
        found.append((ep.name, ep.value, f"entry point {ep.value!r} of "
                                         f"{getattr(ep.dist, 'name', None) or 'a package'}"))
    return found


def export(name: str, target: Target | str) -> None:
    """Add ``name=target`` to :data:`ENV_VAR`, so child processes register it too."""
    items = [i for i in os.environ.get(ENV_VAR, "").split(",") if i.strip()]
    items = [i for i in items if i.partition("=")[0].strip() != name]
    items.append(f"{name}={target}")
    os.environ[ENV_VAR] = ",".join(items)


# --- checks of the results -------------------------------------------------------------


def _fault(name: str, fn: str, text: str) -> PluginResultError:
    return PluginResultError(f"implementation {name!r}: {fn} {text}")


def _array_fault(value: Any, label: str, shape: tuple, dtype: np.dtype, what: str
                 ) -> str | None:
    if not isinstance(value, np.ndarray):
        return f"returned {label} as {type(value).__name__}; expected a NumPy array"
    if value.shape != shape:
        return f"returned {label} of shape {value.shape}; expected {shape}, {what}"
    if value.dtype != dtype:
        return (f"returned {label} of dtype {value.dtype} for {dtype} inputs; results have "
                "the dtype of the inputs")
    if value.size and not np.isfinite(value).all():
        bad = np.argwhere(~np.isfinite(value))[0]
        where = tuple(int(i) for i in bad)
        return f"returned {label} with {value[where]} at index {where} (finite inputs)"
    return None


def _tuple_of(value: Any, cls: type, fn: str, name: str, what: str) -> tuple:
    if isinstance(value, cls):
        return value
    if isinstance(value, tuple) and len(value) == 4:
        return cls(*value)
    raise _fault(name, fn, f"returned {type(value).__name__}"
                           f"{f' of length {len(value)}' if isinstance(value, tuple) else ''}; "
                           f"expected {what}")


def check_forward_result(name: str, result: Any, p: Params, X: np.ndarray) -> Forward:
    """What ``forward`` returned: a ``Forward(ha, hs, oa, os)`` (or a tuple of four arrays)
    of shapes (n, d_h), (n, d_h), (n, m), (n, m), the dtype of X, finite. Returns it as
    a Forward; raises :class:`PluginResultError` naming the field."""
    f = _tuple_of(result, Forward, "forward", name, "an mlp.Forward(ha, hs, oa, os)")
    n, d_h, m = X.shape[0], p.W1.shape[0], p.W2.shape[0]
    shapes = {"ha": (n, d_h), "hs": (n, d_h), "oa": (n, m), "os": (n, m)}
    for field, value in zip(Forward._fields, f, strict=True):
        what = f"(n, d_h) = {shapes[field]}" if field in ("ha", "hs") else \
            f"(n, m) = {shapes[field]}"
        fault = _array_fault(value, field, shapes[field], X.dtype, what)
        if fault:
            raise _fault(name, "forward", fault)
    return f


def check_loss_result(name: str, fn: str, value: Any) -> float:
    """A loss: a real floating-point number (float, NumPy float scalar or 0-d float
    array), finite. Returns it as a Python float."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, bool | np.bool_) or not isinstance(value, float | np.floating):
        kind = type(value).__name__
        if isinstance(value, np.ndarray):
            kind = f"an array of shape {value.shape}"
        raise _fault(name, fn, f"returned a loss of type {kind}; expected a float")
    value = float(value)
    if not math.isfinite(value):
        raise _fault(name, fn, f"returned the loss {value} (finite inputs)")
    return value


def check_grad_result(name: str, fn: str, result: Any, p: Params) -> Params:
    """A gradient: a ``Params(gW1, gb1, gW2, gb2)`` (or a tuple of four arrays) with the
    shapes and dtype of p, finite. Returns it as Params."""
    g = _tuple_of(result, Params, fn, name, "an mlp.Params(W1, b1, W2, b2) of gradients")
    for field, value, ref in zip(Params._fields, g, p, strict=True):
        fault = _array_fault(value, f"g{field}", ref.shape, ref.dtype, f"the shape of {field}")
        if fault:
            raise _fault(name, fn, fault)
    return g


def check_loss_and_grad_result(name: str, result: Any, p: Params) -> tuple[float, Params]:
    """What ``loss_and_grad`` returned: ``(loss, gradient)``."""
    if not isinstance(result, tuple) or len(result) != 2:
        size = f" of length {len(result)}" if isinstance(result, tuple) else ""
        raise _fault(name, "loss_and_grad", f"returned {type(result).__name__}{size}; "
                                            "expected a pair (loss, mlp.Params gradient)")
    loss = check_loss_result(name, "loss_and_grad", result[0])
    return loss, check_grad_result(name, "loss_and_grad", result[1], p)


def check_phase_result(name: str, phase: str, result: Any, p: Params, X: np.ndarray) -> None:
    """Check the raw result of one sweep phase (forward, backward, or step =
    loss_and_grad); raises :class:`PluginResultError`."""
    if phase == "forward":
        check_forward_result(name, result, p, X)
    elif phase == "backward":
        check_grad_result(name, "backward", result, p)
    else:
        check_loss_and_grad_result(name, result, p)


# --- inputs left as they were ----------------------------------------------------------


class CallGuard:
    """Copies of the arrays a call reads, to say whether it changed them, and undo it.

    ``CallGuard(name, {"W1": p.W1, ..., "X": X})``; after the call, :meth:`changed`
    lists the names of the arrays that differ from their copy, :meth:`restore` copies
    them back (so that the next implementation at a point reads the same problem) and
    :meth:`check` raises :class:`PluginResultError` naming them. ``CallGuard.none()`` is
    a guard that copies nothing (for trusted implementations).
    """

    def __init__(self, name: str, arrays: Mapping[str, Any], fn: str = "a call"):
        self.name, self.fn = name, fn
        self._arrays = {k: v for k, v in arrays.items() if isinstance(v, np.ndarray)}
        self._copies = {k: v.copy() for k, v in self._arrays.items()}

    @classmethod
    def none(cls) -> CallGuard:
        return cls("", {})

    @classmethod
    def for_problem(cls, impl: Any, problem: tuple, fn: str = "a call") -> CallGuard:
        """A guard of ``problem = (p, X, y)`` for ``impl`` when it is untrusted (a plugin:
        ``impl.trusted`` is False), else one that copies nothing."""
        if getattr(impl, "trusted", True):
            return cls.none()
        p, X, y = problem
        return cls(getattr(impl, "name", "?"), named_inputs(p, X, y), fn)

    def changed(self) -> list[str]:
        return [k for k, v in self._arrays.items()
                if not np.array_equal(v, self._copies[k], equal_nan=True)]

    def restore(self) -> list[str]:
        changed = self.changed()
        for k in changed:
            arr = self._arrays[k]
            if arr.flags.writeable:
                np.copyto(arr, self._copies[k])
        return changed

    def check(self, fn: str | None = None) -> None:
        changed = self.restore()
        if changed:
            raise _fault(self.name, fn or self.fn,
                         f"changed its input(s) {', '.join(changed)}; an implementation "
                         "must not write into p, X, y or f (copy them first)")


def named_inputs(p: Iterable | None, X: Any = None, y: Any = None, f: Iterable | None = None
                 ) -> dict[str, Any]:
    """The arrays of a call, by the names messages use (W1 ... b2, X, y, f.ha ... f.os)."""
    out: dict[str, Any] = {}
    if p is not None:
        out.update(zip(Params._fields, p, strict=False))
    out.update({"X": X, "y": y})
    if f is not None:
        out.update({f"f.{k}": v for k, v in zip(Forward._fields, f, strict=False)})
    return out

