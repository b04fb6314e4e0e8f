"""Optional peer implementations of the MLP in PyTorch and JAX, and their thread settings.

The peers (``torch``, ``torch-autograd``, ``jax``) are registered only where their
package is installed (``pip install 'mlpbench[peers]'``); finding them does not
import them, so registering costs nothing until ``mlp.get(name)`` loads one.
This module imports neither PyTorch nor JAX itself.

Threads: call :func:`configure_threads` before loading a peer. PyTorch's count can
change at any time, but JAX's CPU backend reads ``XLA_FLAGS`` once, when it
starts (its first computation), so JAX threads must be set before that.
:func:`peer_thread_settings` records what is in force, for the result file.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from mlpbench.checks import check_positive_int

__all__ = [
    "PEERS",
    "RESIDENT_FUNCTIONS",
    "PeerUnavailable",
    "RawImpl",
    "apply_torch_threads",
    "available_loaders",
    "configure_threads",
    "has_resident",
    "peer_thread_settings",
    "to_numpy",
    "unavailable",
    "xla_thread_flags",
]

_INSTALL_HINT = "install the peers with: pip install 'mlpbench[peers]'"


class _Peer(NamedTuple):
    package: str  # the distribution's import name
    module: str  # the mlpbench module that defines the implementation
    attr: str  # the RawImpl inside it
    # The facts the registry records for it (see mlp.registry.ImplInfo):
    jit: bool  # its first call compiles
    colour: str  # hex, distinct from the other implementations' (Okabe-Ito / tab10)
    marker: str  # matplotlib marker
    label: str


#: Peer implementations: name -> where it lives, which package it needs, its facts.
#: In display order; they come after mlpbench's own implementations.
PEERS: dict[str, _Peer] = {
    "torch": _Peer("torch", "mlpbench.mlp.impl_torch", "MANUAL", False, "#CC79A7", "D",
                   "PyTorch, the spec's backward pass by hand"),
    "torch-autograd": _Peer("torch", "mlpbench.mlp.impl_torch", "AUTOGRAD", False, "#56B4E9",
                            "d", "PyTorch autograd"),
    "jax": _Peer("jax", "mlpbench.mlp.impl_jax", "JAX", True, "#8C564B", "P",
                 "JAX, jax.jit(jax.value_and_grad)"),
}


class PeerUnavailable(ImportError):
    """A peer implementation whose package is missing or fails to import; says why."""


class RawImpl(NamedTuple):
    """The four raw functions of one implementation (the registry's protocol), and
    optionally its resident form: how its own users run it, on its own types.

    ``prepare(p, X, y) -> resident`` converts a problem once (tensors, device arrays);
    ``resident_forward(resident)``, ``resident_loss_and_grad(resident, l1, l2)`` and
    ``resident_backward(resident, f, l1, l2)`` (f: what ``resident_forward`` returned)
    compute on it and return the library's own types, computed (not merely
    dispatched). The sweep times these by default (``--peer-inputs resident``), the
    conversion outside the timed call, as numba's workspace is; the correctness gate
    compares their results converted to NumPy (:func:`to_numpy`).
    """

    forward: Callable
    loss: Callable
    loss_and_grad: Callable
    backward: Callable
    prepare: Callable | None = None
    resident_forward: Callable | None = None
    resident_loss_and_grad: Callable | None = None
    resident_backward: Callable | None = None


#: The raw hooks of the resident form (see RawImpl).
RESIDENT_FUNCTIONS = ("prepare", "resident_forward", "resident_loss_and_grad",
                      "resident_backward")


def has_resident(raw: Any) -> bool:
    """Whether ``raw`` has the whole resident form (``prepare`` and the three calls)."""
    return all(callable(getattr(raw, f, None)) for f in RESIDENT_FUNCTIONS)


def to_numpy(out: Any) -> Any:
    """``out`` (a loss, a Params, a Forward, or a tuple of them) with every array of a
    peer's types (torch tensors, JAX arrays) turned into a NumPy array of the same
    dtype, the structure kept; NumPy arrays and floats are passed through."""
    if isinstance(out, tuple):
        items = [to_numpy(item) for item in out]
        return type(out)(*items) if hasattr(out, "_fields") else type(out)(items)
    if isinstance(out, list):
        return [to_numpy(item) for item in out]
    if isinstance(out, np.ndarray | float | int):
        return out
    detach = getattr(out, "detach", None)  # a torch tensor
    if callable(detach):
        out = detach().cpu().numpy()
    return np.asarray(out)


def _installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def unavailable() -> dict[str, str]:
    """Peers that cannot be registered here, each with the reason (for skipped points)."""
    return {
        name: f"{peer.package} is not installed; {_INSTALL_HINT}"
        for name, peer in PEERS.items()
        if not _installed(peer.package)
    }


def _loader(name: str) -> Callable[[], RawImpl]:
    peer = PEERS[name]

    def load() -> RawImpl:
        try:
            module = importlib.import_module(peer.module)
        except ImportError as exc:
            raise PeerUnavailable(
                f"MLP implementation {name!r} is not available: importing {peer.package} "
                f"failed ({exc}); {_INSTALL_HINT}"
            ) from exc
        return getattr(module, peer.attr)

    return load


def available_loaders() -> dict[str, Callable[[], RawImpl]]:
    """Loaders for the peers whose package is installed, for ``registry.register``.

    A loader imports the package on first use; if the import fails after all
    (a broken install) it raises :class:`PeerUnavailable` with the reason.
    """
    return {name: _loader(name) for name, peer in PEERS.items() if _installed(peer.package)}


# --- threads ------------------------------------------------------------------------

# XLA's CPU client sizes its thread pool from the cores it may run on; XLA_FLAGS can
# only switch the multithreaded kernels off (one thread) or leave them on (all cores).
_XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false"
_XLA_THREAD_FLAG = re.compile(r"\s*--xla_cpu_multi_thread_eigen=\S*")

#: What configure_threads asked of PyTorch, applied when impl_torch loads.
_torch_request: dict[str, int] = {}


def _cores() -> int:
    """CPU cores this process may run on (its affinity mask), as XLA counts them."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def xla_thread_flags(threads: int | None, flags: str = "") -> str:
    """XLA_FLAGS ``flags`` with its CPU thread flag set for ``threads`` threads.

    Other flags are kept. 1 adds ``--xla_cpu_multi_thread_eigen=false``; None or
    more than one removes it, leaving XLA's default of one thread per core (XLA has
    no flag for a count in between: restrict the process's CPU affinity for that).
    """
    kept = _XLA_THREAD_FLAG.sub("", flags).strip()
    if threads == 1:
        return f"{kept} {_XLA_ONE_THREAD}".strip()
    return kept


def _xla_threads(flags: str) -> int:
    """The CPU threads XLA uses under ``flags``."""
    return 1 if _XLA_ONE_THREAD in flags.split() else _cores()


def _jax_started() -> bool:
    """Whether JAX has started a backend, after which XLA_FLAGS are no longer read.

    JAX has no public way to ask this without starting one (``jax.devices()`` would), so
    its private ``xla_bridge.backends_are_initialized`` is asked, guarded: if that is
    missing or fails (another JAX version), a loaded JAX counts as started, so that a
    thread setting JAX would ignore is refused rather than silently recorded.
    """
    if "jax" not in sys.modules:
        return False
    try:
        return bool(sys.modules["jax._src.xla_bridge"].backends_are_initialized())
    except Exception:  # a private API: any failure means "cannot tell"
        return True


def apply_torch_threads(torch) -> None:
    """Apply the thread counts asked for by :func:`configure_threads` to ``torch``.

    ``set_num_interop_threads`` works only before PyTorch's first inter-op parallel
    work; a refusal is let pass (mlpbench runs no inter-op work, so that pool does
    not affect its timings) and shows in :func:`peer_thread_settings`.
    """
    if "threads" in _torch_request:
        torch.set_num_threads(_torch_request["threads"])
    if "interop" in _torch_request and torch.get_num_interop_threads() != _torch_request["interop"]:
        try:
            torch.set_num_interop_threads(_torch_request["interop"])
        except RuntimeError:
            pass


def configure_threads(threads: int | None, *, interop: int | None = None) -> dict[str, Any]:
    """Set the CPU threads of the peers; returns :func:`peer_thread_settings`.

    threads: intra-op threads for PyTorch (``torch.set_num_threads``) and for XLA's
    CPU backend (through ``XLA_FLAGS``, see :func:`xla_thread_flags`: 1, or one per
    core), or None to leave both at their defaults (one per core). interop:
    PyTorch's inter-op pool (default: unchanged). PyTorch, if not yet imported,
    gets the setting when ``impl_torch`` loads.

    JAX reads XLA_FLAGS once, when it starts its backend: call this before the
    first JAX computation (in practice, before ``mlp.get("jax")`` is first used),
    or set XLA_FLAGS in the environment. Asking for a different JAX setting after
    that raises ``RuntimeError`` rather than silently measuring something else.
    """
    if threads is not None:
        threads = check_positive_int("threads", threads)
    if interop is not None:
        interop = check_positive_int("interop", interop)
    # PyTorch first: its count can change at any time, so it is right even where JAX's
    # cannot be (below).
    _torch_request.clear()
    if threads is not None:
        _torch_request["threads"] = threads
    if interop is not None:
        _torch_request["interop"] = interop
    if "torch" in sys.modules:
        apply_torch_threads(sys.modules["torch"])
    current = os.environ.get("XLA_FLAGS", "")
    wanted = xla_thread_flags(threads, current)
    if wanted != current.strip():
        if _jax_started():
            raise RuntimeError(
                "JAX has already started its CPU backend, which read XLA_FLAGS "
                f"({current!r}) once; set the threads before the first JAX computation "
                "or export XLA_FLAGS before starting Python"
            )
        os.environ["XLA_FLAGS"] = wanted
    return peer_thread_settings()


def _torch_settings() -> dict[str, Any]:
    if "torch" not in sys.modules:
        return {"installed": _installed("torch"), "loaded": False}
    torch = sys.modules["torch"]
    backend = re.search(r"ATen parallel backend:\s*(.+)", torch.__config__.parallel_info())
    return {
        "installed": True,
        "loaded": True,
        "version": torch.__version__,
        "num_threads": torch.get_num_threads(),
        "num_interop_threads": torch.get_num_interop_threads(),
        "parallel_backend": backend.group(1).strip() if backend else None,
    }


def _jax_settings() -> dict[str, Any]:
    flags = os.environ.get("XLA_FLAGS", "")
    settings: dict[str, Any] = {
        "installed": _installed("jax"),
        "loaded": "jax" in sys.modules,
        "XLA_FLAGS": flags,
        "num_threads": _xla_threads(flags),
        "backend_started": _jax_started(),
    }
    if "jax" in sys.modules:
        settings["version"] = sys.modules["jax"].__version__
        settings["jaxlib"] = getattr(sys.modules.get("jaxlib"), "__version__", None)
        try:
            settings["x64"] = bool(sys.modules["jax"].config.jax_enable_x64)
        except Exception:  # another JAX version: not known
            settings["x64"] = None
    return settings


def peer_thread_settings() -> dict[str, Any]:
    """Versions and thread settings of the peers, for the result file's metadata.

    ``{"torch": {installed, loaded, version, num_threads, num_interop_threads,
    parallel_backend}, "jax": {installed, loaded, XLA_FLAGS, num_threads,
    backend_started, version, jaxlib}}``. Nothing is imported to find these: a
    peer that is not loaded reports what can be known without it. JAX's
    ``num_threads`` is what XLA_FLAGS give (1, or one per core); impl_jax turns
    64-bit types on once, when it loads (``jax_enable_x64``).
    """
    return {"torch": _torch_settings(), "jax": _jax_settings()}
