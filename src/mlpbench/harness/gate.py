"""The correctness gate: an implementation is timed only if it agrees with the reference.

At each point the sweep builds one problem (:func:`make_problem`), calls the
reference (``numpy``) and each implementation once on it (:func:`phase_call`),
and compares their outputs (:func:`max_rel_err`) against a tolerance that grows
with the sizes (:func:`gate_rtol`). :func:`check_point` records the verdict in the
point: an implementation that raises or disagrees is ``failed`` and not timed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

#: The implementation every other one is compared with.
REFERENCE = "numpy"

#: The gate's floor on the accepted relative error (see gate_rtol).
GATE_RTOL = {"float64": 1e-9, "float32": 1e-4}


#: A hidden pre-activation is kept this many rounding units of its own terms away from
#: ReLU's kink (``eps · (‖x‖ ‖w‖ + |b|)``, ‖x‖ ‖w‖ ≥ Σ_k |x_k w_k|; see make_problem).
KINK_ULPS = 8
#: Rows of X are redrawn at most this many times.
_REDRAWS = 100


def make_problem(n: int, d: int, d_h: int, m: int, dtype: str, seed: int):
    """Parameters, inputs and labels for one point, normalized by ``mlp.check_inputs``.

    Rows of X whose hidden pre-activations lie within KINK_ULPS rounding units of
    ReLU's kink are redrawn: there, two correct implementations may round ``ha`` to
    opposite signs, and the one example's share of gW1's row then differs entirely
    (measured: numba-loops against numpy, float32, n=1024, d=784, d_h=2048: one
    ``ha`` of 1.9e-7 rounded to -1.0e-7, gW1 off by 1.9e-2 of its largest entry). The
    redrawn rows are a handful per point (their expected number is about
    ``n·d_h·KINK_ULPS·eps``), so the timed data stay standard normal for any purpose
    of timing.
    """
    from mlpbench import mlp

    rng = np.random.default_rng([seed, n, d, d_h, m])
    X = rng.standard_normal((n, d))
    y = rng.integers(0, m, size=n).astype(np.int64)
    p = mlp.init_params(d, d_h, m, seed=seed, dtype=np.dtype(dtype))
    eps = float(np.finfo(dtype).eps)
    W1, b1 = p.W1.astype(np.float64), p.b1.astype(np.float64)
    w_norm = np.sqrt(np.einsum("jk,jk->j", W1, W1))
    rows = np.arange(n)
    for _ in range(_REDRAWS):
        Xr = X[rows].astype(dtype).astype(np.float64)  # the values the implementations see
        ha = Xr @ W1.T + b1
        x_norm = np.sqrt(np.einsum("ik,ik->i", Xr, Xr))
        bound = KINK_ULPS * eps * (np.multiply.outer(x_norm, w_norm) + np.abs(b1))
        near = (np.abs(ha) < bound).any(axis=1)
        if not near.any():
            break
        rows = rows[near]
        X[rows] = rng.standard_normal((rows.size, d))
    return mlp.check_inputs(p, X.astype(dtype), y)


#: How a point's inputs reach the implementation (the point's ``inputs`` field):
#: converted once to its own types (``raw.prepare``), or NumPy arrays at every call.
INPUTS = ("resident", "numpy")


def inputs_used(impl: Any, peer_inputs: str = "resident") -> str:
    """``"resident"`` when ``impl`` is timed on its own types: ``peer_inputs`` asks for
    it and its raw functions have the resident form (``mlp.peers.has_resident``: the
    peers), and it is trusted; else ``"numpy"`` (mlpbench's own implementations, whose
    types are NumPy's, and plugins)."""
    from mlpbench.mlp.peers import has_resident

    if (peer_inputs == "resident" and getattr(impl, "trusted", True) is not False
            and has_resident(impl.raw)):
        return "resident"
    return "numpy"


def numpy_output(out: Any) -> Any:
    """A phase's output with a peer's tensors turned into NumPy arrays, for the gate."""
    from mlpbench.mlp.peers import to_numpy

    return to_numpy(out)


def phase_call(impl: Any, phase: str, problem: tuple, l1: float, l2: float,
               peer_inputs: str = "resident", activation: str = "relu") -> Callable[[], Any]:
    """The callable timed for ``phase``: raw forward, raw backward, or raw loss_and_grad.

    ``backward`` receives the implementation's own forward pass, computed here once.
    Where :func:`inputs_used` says ``"resident"`` (``peer_inputs="resident"``, a peer),
    the problem is converted to the implementation's own types here, once
    (``raw.prepare``), and the call is ``raw.resident_*`` on them: it returns the
    library's types (:func:`numpy_output` converts them for the gate).
    For an untrusted implementation (a user's plugin: ``impl.trusted`` is False) the
    first call also checks the result (type, shape, dtype, finite) and that the
    problem's arrays are unchanged (putting them back if not, for the others), and
    raises ``mlp.plugins.PluginResultError`` naming the function: the point fails with
    that reason and is not timed.

    ``activation``: the hidden activation, given to the raw functions as the keyword
    ``activation`` unless it is ReLU (an implementation without the keyword raises
    InputError here: the point fails with that reason).
    """
    p, X, y = problem
    raw, l1, l2 = impl.raw, float(l1), float(l2)
    resident = inputs_used(impl, peer_inputs) == "resident"
    a = _activation_kwargs(impl, phase, activation, resident)
    if resident:
        return _resident_call(raw, phase, problem, l1, l2, a)
    if getattr(impl, "trusted", True) is False:
        return _first_call_checked(impl, phase, problem, l1, l2, a)
    if phase == "forward":
        return lambda: raw.forward(p, X, **a)
    if phase == "backward":
        f = raw.forward(p, X, **a)
        return lambda: raw.backward(p, X, y, f, l1, l2, **a)
    return lambda: raw.loss_and_grad(p, X, y, l1, l2, **a)


def _activation_kwargs(impl: Any, phase: str, activation: str, resident: bool) -> dict:
    """``{}`` for ReLU, else ``{"activation": activation}`` once every raw function the
    phase calls takes that keyword (InputError otherwise)."""
    if activation == "relu":
        return {}
    from mlpbench.mlp.registry import activation_kwargs

    prefix = "resident_" if resident else ""
    names = {"forward": ("forward",), "backward": ("forward", "backward")}.get(
        phase, ("loss_and_grad",))
    kwargs: dict = {}
    for fn in names:
        kwargs = activation_kwargs(getattr(impl.raw, prefix + fn), activation,
                                   getattr(impl, "name", "implementation"))
    return kwargs


def _resident_call(raw: Any, phase: str, problem: tuple, l1: float, l2: float,
                   a: dict) -> Callable[[], Any]:
    resident = raw.prepare(*problem)  # once per point, outside the timed call
    if phase == "forward":
        return lambda: raw.resident_forward(resident, **a)
    if phase == "backward":
        f = raw.resident_forward(resident, **a)
        return lambda: raw.resident_backward(resident, f, l1, l2, **a)
    return lambda: raw.resident_loss_and_grad(resident, l1, l2, **a)


def _first_call_checked(impl: Any, phase: str, problem: tuple, l1: float, l2: float,
                        a: dict) -> Callable[[], Any]:
    from mlpbench.mlp import plugins

    p, X, y = problem
    raw, name = impl.raw, impl.name
    guard = plugins.CallGuard.for_problem(impl, problem)
    fn = {"forward": "forward", "backward": "backward"}.get(phase, "loss_and_grad")
    if phase == "forward":
        def call():
            return raw.forward(p, X, **a)
    elif phase == "backward":
        f = plugins.check_forward_result(name, raw.forward(p, X, **a), p, X)
        guard.check("forward")

        def call():
            return raw.backward(p, X, y, f, l1, l2, **a)
    else:
        def call():
            return raw.loss_and_grad(p, X, y, l1, l2, **a)
    first = [True]

    def checked():
        if not first[0]:
            return call()
        first[0] = False
        try:
            out = call()
        except Exception as exc:  # said with the function's name
            guard.restore()
            raise plugins.PluginResultError(
                f"implementation {name!r}: {fn} raised {error_text(exc)}") from exc
        except BaseException:
            guard.restore()
            raise
        guard.check(fn)  # inputs put back, PluginResultError if they changed
        plugins.check_phase_result(name, phase, out, p, X)
        return out

    return checked


def _leaves(out: Any) -> list[np.ndarray]:
    if isinstance(out, tuple | list):
        return [leaf for item in out for leaf in _leaves(item)]
    return [np.asarray(out, dtype=np.float64)]


def max_rel_err(out: Any, ref: Any) -> float:
    """Largest, over the outputs (loss, each array), of ``mlp.max_rel_err``:
    ``max |out - ref| / max(max |out|, max |ref|)``; inf if ``out`` is not finite.

    Raises ValueError when the outputs differ in structure or shape.
    """
    from mlpbench import mlp

    a, b = _leaves(out), _leaves(ref)
    if len(a) != len(b):
        raise ValueError(f"returned {len(a)} arrays where {REFERENCE} returns {len(b)}")
    worst = 0.0
    for i, (x, r) in enumerate(zip(a, b, strict=True)):
        if x.shape != r.shape:
            raise ValueError(f"output {i} has shape {x.shape}, {REFERENCE} gives {r.shape}")
        if x.size == 0:
            continue
        if not np.all(np.isfinite(x)):
            return math.inf
        worst = max(worst, mlp.max_rel_err(x, r))
    return worst


def gate_rtol(dtype: str, n: int, d: int, d_h: int, m: int) -> float:
    """Largest error the gate accepts: mlp's agreement tolerance, floored by GATE_RTOL.

    The floor keeps the gate about catching wrong code, not last-digit differences
    of summation order at large sizes.
    """
    from mlpbench import mlp

    return max(mlp.agreement_rtol(np.dtype(dtype), n, d, d_h, m), GATE_RTOL[dtype])


def error_text(exc: BaseException) -> str:
    """An exception as one short line: ``Type: message``."""
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def check_point(point: dict, out: Any, reference: Any) -> bool:
    """Compare an implementation's output at ``point`` with the reference's.

    ``reference`` is the reference's output, or the exception it raised. Fills in
    ``point["max_rel_err"]``, or ``point["reason"]`` when the point is not to be
    timed; returns whether it passed.
    """
    if isinstance(reference, BaseException):
        point["reason"] = f"no reference: {REFERENCE} raised {error_text(reference)}"
        return False
    try:
        err = max_rel_err(out, reference)
    except ValueError as exc:
        point["reason"] = f"output does not match {REFERENCE}: {exc}"
        return False
    point["max_rel_err"] = err
    rtol = gate_rtol(point["dtype"], point["n"], point["d"], point["d_h"], point["m"])
    if not err <= rtol:
        point["reason"] = (f"disagrees with {REFERENCE}: max relative error {err:.3g} "
                           f"> {rtol:.3g}; not timed")
        return False
    return True
