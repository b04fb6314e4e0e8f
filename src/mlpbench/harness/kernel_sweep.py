"""Kernel sweeps: spec part 1's kernels timed over array sizes, one result file.

``mlpbench bench --kernels`` runs this. For each (dtype, size, kernel) in order of
growing size, and each implementation that provides the kernel (``loops``, ``numpy``,
``numba``, and the PyTorch/JAX tables of ``kernels.impl_torch`` / ``kernels.impl_jax``
where installed), the same steps as the MLP sweep (harness.sweep):

1. the memory estimate and the budget's prediction (from the sizes this
   implementation has measured for this kernel; before any, a per-element prior for
   the pure-Python loops): a point that would not fit or would stall is skipped, with
   the reason;
2. the cold call (numba compiles, JAX traces and compiles there) and the correctness
   gate against the ``numpy`` kernel: element-wise kernels within twice the accuracy
   bound of the numerics tests (each kernel within :data:`ULP_BOUND` ulp of the
   correctly rounded value, tests/test_kernels_accuracy.py, so two kernels within
   twice that of each other), softmax/logsumexp and the norms to a relative error that
   grows with the terms summed;
3. the gated implementations timed in turns with the canary (``sweep.time_points``:
   the same samples, rounds, precision, ratios and warnings as the MLP sweep).

Inputs are made once per point, outside the timed call: a NumPy array of
``size`` elements (standard normal × 5, so both branches of every stable form are
taken), reshaped to rows of width ``m`` for softmax and logsumexp; the peers get it as
their own tensor, made once. ``numba`` writes the element-wise kernels into an
output array made once per point (its raw kernel is ``f(x, out)``); ``numpy``, the
loops and the peers allocate their results, as their formulas do.

Throughput: ``bytes`` is the memory a call must move at the least (read the input,
write the output: ``2·size·itemsize`` for an element-wise kernel and softmax,
``size·itemsize`` for a norm, plus one value per row for logsumexp; the
write-allocate traffic of a cache is not counted, as STREAM does not count it),
``gbs = bytes / median_s``, ``elements_per_s = elements / median_s``. The report
draws GB/s against the cache and DRAM bandwidths of ``mlpbench peak``.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlpbench import __version__, kernels
from mlpbench.checks import check_choice, check_positive, check_positive_int
from mlpbench.errors import InputError, InputTypeError, PluginError, UsageError
from mlpbench.files import check_writable, output_lock, write_json
from mlpbench.harness import budget, memory, schema
from mlpbench.harness.canary import KERNEL_CANARY, make_canary
from mlpbench.harness.coldstart import jit_counters
from mlpbench.harness.gate import error_text
from mlpbench.harness.machine import available_memory_bytes
from mlpbench.harness.results import load_results, now_iso
from mlpbench.harness.timing import Policy, time_once

__all__ = ["ELEMENTWISE", "KernelConfig", "KernelTable", "NORMS", "ROWS", "available",
           "check_kernel", "kernel_bytes", "run_kernel_sweep", "table", "validate_config"]

KIND = schema.KERNELS_KIND
NORMS = ("l1", "sq_l2")
ROWS = ("softmax", "logsumexp")
#: The element-wise kernels (functions and gradients), in kernels.NAMES order.
ELEMENTWISE = tuple(k for k in kernels.NAMES if k not in NORMS + ROWS)

#: mlpbench's own kernel implementations and the peers' kernel tables, in display order.
CORE = kernels.IMPLEMENTATIONS
PEERS = ("torch", "jax")
REFERENCE = "numpy"

#: Sizes (elements per call) when none are given: (full, quick). Powers of 4 from 1,
#: then 10**7 (80 MB in float64: past every cache but a very large L3).
DEFAULT_SIZES = ([4**k for k in range(12)] + [10**7], [1, 64, 4096, 262144, 10**7])
#: Per-implementation, per-point time budgets (seconds): (full, quick).
DEFAULT_BUDGET_S = (5.0, 1.0)
#: Seconds per element assumed for the pure-Python loops before they have been measured
#: (sigmoid took 1.8e-7 s per element on the reference machine; softmax takes longer).
PRIOR_S_PER_ELEMENT = {"loops": 1e-6}

#: Each element-wise kernel is within this many ulp of the correctly rounded value
#: (MAX_ULP of tests/test_kernels_accuracy.py): two of them are within twice it.
ULP_BOUND = 4.0
#: Relative accuracy of softmax, logsumexp and the norms against mpmath in the numerics
#: tests (tests/test_kernels_accuracy.py: rtol 1e-13 in float64, 1e-5 in float32); the
#: gate accepts twice it, grown with the number of terms summed (rounding of a sum of
#: k terms grows like k·eps at worst, sqrt(k)·eps typically; the norms sum millions).
SUM_RTOL = {"float64": 1e-13, "float32": 1e-5}

#: Scale of the inputs: standard normal × 5 reaches |x| ≈ 25, past where s rounds to 1
#: in float32 and the tails of the stable forms matter, without overflowing anything.
INPUT_SCALE = 5.0


# --- kernel tables ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KernelTable:
    """The kernels of one implementation, as the sweep times them.

    ``prepare(kernel, x)`` receives the point's input (a C-contiguous NumPy array of
    the point's dtype, never to be modified), does once what is not to be timed
    (tensors, output arrays), and returns the callable timed; its return value,
    through ``to_numpy``, is what the gate compares with numpy's.
    """

    name: str
    prepare: Callable[[str, np.ndarray], Callable[[], Any]]
    to_numpy: Callable[[Any], np.ndarray] = np.asarray
    provides: frozenset[str] = frozenset(kernels.NAMES)


def _core_table(name: str) -> KernelTable:
    raw = kernels.get(name).raw

    def prepare(kernel: str, x: np.ndarray) -> Callable[[], Any]:
        fn = getattr(raw, kernel)
        if kernel in NORMS:  # a scalar of x's dtype, as the public face returns
            return lambda: x.dtype.type(fn(x))
        if kernel not in ELEMENTWISE:
            return lambda: fn(x)
        if name == "numba":  # the compiled kernel f(x, out), out made once here
            flat = x.reshape(-1)
            out = np.empty_like(flat)

            def call():
                fn(flat, out)
                return out

            return call
        return lambda: raw.elementwise(fn, x)

    return KernelTable(name, prepare)


def _peer_table(name: str) -> KernelTable:
    try:
        mod = importlib.import_module(f"mlpbench.kernels.impl_{name}")
    except Exception as exc:
        raise PluginError(f"cannot load the {name} kernels: {error_text(exc)}") from exc
    return KernelTable(name, mod.prepare, mod.to_numpy)


def table(name: str) -> KernelTable:
    """The kernel table of implementation ``name`` (one of :func:`available`)."""
    check_choice("kernel implementation", name, (*CORE, *PEERS))
    return _core_table(name) if name in CORE else _peer_table(name)


def available() -> tuple[str, ...]:
    """The kernel implementations that can run here: the core three, and the peers whose
    package is installed (found without importing it)."""
    peers = tuple(p for p in PEERS if importlib.util.find_spec(p) is not None)
    return (*CORE, *peers)


# --- the configuration -----------------------------------------------------------------------


@dataclass
class KernelConfig:
    """What a kernel sweep measures. ``None`` fields take their defaults; ``kernels``
    defaults to all of ``kernels.NAMES``, ``implementations`` to :func:`available`."""

    kernels: Sequence[str] = kernels.NAMES
    sizes: Sequence[int] | None = None
    #: Row width of softmax and logsumexp (the number of classes of the MLP).
    m: int = 10
    implementations: Sequence[str] = field(default_factory=available)
    dtypes: Sequence[str] = ("float64", "float32")
    budget_s: float | None = None
    threads: int | None = None
    seed: int = 0
    quick: bool = False
    reference: str = REFERENCE
    precision: float = 0.03

    def resolved_sizes(self) -> list[int]:
        sizes = DEFAULT_SIZES[1 if self.quick else 0] if self.sizes is None else self.sizes
        return sorted(int(s) for s in sizes)

    def resolved_budget(self) -> float:
        if self.budget_s is not None:
            return float(self.budget_s)
        return DEFAULT_BUDGET_S[1 if self.quick else 0]

    def policy(self) -> Policy:
        from mlpbench.harness.config import sampling_policy

        return sampling_policy(self.quick, self.resolved_budget(), self.precision)

    def as_dict(self) -> dict[str, Any]:
        """The result file's ``sweep`` field; ``--resume`` requires it to match."""
        return {"kernels": list(self.kernels), "sizes": self.resolved_sizes(), "m": int(self.m),
                "implementations": list(self.implementations), "dtypes": list(self.dtypes),
                "budget_s": self.resolved_budget(), "seed": self.seed,
                "quick": bool(self.quick), "threads": self.threads,
                "reference": self.reference, "precision": float(self.precision)}


def _names(what: str, values: Any, allowed: Sequence[str]) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Sequence) or not list(values):
        raise UsageError(f"give at least one {what} (a list), from: {', '.join(allowed)}")
    for v in values:
        check_choice(what, v, allowed)
    if len(set(values)) != len(values):
        raise UsageError(f"{what}s are listed twice: {', '.join(values)}")
    return list(values)


def validate_config(cfg: KernelConfig, tables: Mapping[str, Any] | None = None) -> KernelConfig:
    """Check every field once, at the boundary; return ``cfg`` (sizes as plain ints).

    ``tables`` maps extra implementation names to :class:`KernelTable` objects (tests
    inject a deliberately wrong one). Raises :mod:`mlpbench.errors` classes naming the
    field.
    """
    from mlpbench.harness.machine import check_threads

    cfg.kernels = _names("kernel", cfg.kernels, kernels.NAMES)
    allowed = list(dict.fromkeys([*CORE, *PEERS, *(tables or {})]))
    cfg.implementations = _names("kernel implementation", cfg.implementations, allowed)
    missing = [n for n in cfg.implementations
               if n in PEERS and n not in (tables or {}) and n not in available()]
    if missing:
        raise PluginError(f"the {', '.join(missing)} kernels need their package: install "
                          "the peers with: pip install 'mlpbench[peers]'")
    cfg.dtypes = _names("dtype", cfg.dtypes, schema.DTYPES)
    if cfg.sizes is not None:
        if isinstance(cfg.sizes, str) or not isinstance(cfg.sizes, Sequence) or not cfg.sizes:
            raise InputTypeError("sizes must be a non-empty list of integers")
        cfg.sizes = [check_positive_int("kernel size", s, maximum=schema.MAX_SIZE)
                     for s in cfg.sizes]
        if len(set(cfg.sizes)) != len(cfg.sizes):
            raise InputError(f"the size list repeats a size: {cfg.sizes}")
    cfg.m = check_positive_int("m (row width of softmax and logsumexp)", cfg.m,
                               maximum=schema.MAX_SIZE)
    if cfg.budget_s is not None:
        check_positive("budget (seconds)", cfg.budget_s)
    if not isinstance(cfg.seed, int) or isinstance(cfg.seed, bool) or cfg.seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {cfg.seed!r}")
    check_choice("reference", cfg.reference, allowed)
    check_positive("precision", cfg.precision)
    if cfg.precision >= 1:
        raise InputError(f"precision is a relative half-width below 1 (0.03 = ±3%), "
                         f"got {cfg.precision}")
    if not isinstance(cfg.quick, bool):
        raise InputTypeError(f"quick must be true or false, got {cfg.quick!r}")
    try:
        check_threads(cfg.threads)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    return cfg


# --- one point -------------------------------------------------------------------------------


def shape_of(kernel: str, size: int, m: int) -> tuple[int, ...]:
    """The input's shape: ``(size,)``, or rows of width ``min(m, size)`` for softmax and
    logsumexp (``size // width`` of them: a size not a multiple of m loses its rest)."""
    if kernel in ROWS:
        width = min(m, size)
        return (size // width, width)
    return (size,)


def kernel_bytes(kernel: str, shape: tuple[int, ...], dtype: str) -> int:
    """Bytes a call must move at the least: its input read once, its output written once."""
    item = np.dtype(dtype).itemsize
    elements = math.prod(shape)
    if kernel in NORMS:
        return elements * item
    if kernel == "logsumexp":
        return (elements + shape[0]) * item
    return 2 * elements * item


def _need_bytes(kernel: str, shape: tuple[int, ...], dtype: str, impls: Sequence[str]) -> int:
    """Memory of one point (generous): the input, numpy's output and temporaries, one
    output per implementation timed together, Python lists for the loops."""
    item = np.dtype(dtype).itemsize
    elements = math.prod(shape)
    need = elements * item * (8 + len(impls))
    if "loops" in impls:
        need += 2 * memory.PY_NUMBER_BYTES * elements
    return need


def new_point(kernel: str, impl: str, dtype: str, size: int,
              shape: tuple[int, ...]) -> dict[str, Any]:
    """A kernel point with every schema field, status ``failed`` until filled in."""
    point: dict[str, Any] = dict.fromkeys(schema.KERNEL_POINT_FIELDS)
    point.update(kernel=kernel, impl=impl, dtype=dtype, size=int(size),
                 elements=int(math.prod(shape)), shape=list(shape),
                 m=int(shape[-1]) if kernel in ROWS else None, status="failed", samples=0,
                 loops=0, high_spread=False, warnings=[],
                 bytes=kernel_bytes(kernel, shape, dtype))
    return point


def make_input(shape: tuple[int, ...], dtype: str, seed: int) -> np.ndarray:
    """The point's input: standard normal × :data:`INPUT_SCALE`, C-contiguous.

    Writeable although no kernel may change it: numba's raw functions copy a read-only
    array first (a read-only array is another numba type), which would time a copy.
    """
    rng = np.random.default_rng([seed, math.prod(shape), len(shape)])
    return (rng.standard_normal(math.prod(shape)) * INPUT_SCALE).astype(dtype).reshape(shape)


def gate_tolerance(kernel: str, shape: tuple[int, ...], dtype: str) -> tuple[float, str]:
    """What the gate accepts for ``kernel``: (bound, unit), unit ``"ulp"`` or ``"rel"``."""
    if kernel in ELEMENTWISE:
        return 2 * ULP_BOUND, "ulp"
    eps = float(np.finfo(dtype).eps)
    terms = shape[-1] if kernel in ROWS else math.prod(shape)
    grown = 4 * terms * eps if kernel in ROWS else 4 * math.sqrt(terms) * eps
    return max(2 * SUM_RTOL[dtype], grown), "rel"


def check_kernel(point: dict, out: Any, reference: Any) -> bool:
    """Compare an implementation's output at a kernel point with numpy's.

    ``out`` and ``reference`` are NumPy arrays (or the exception the reference raised).
    Fills in ``max_ulp`` (element-wise kernels) or ``max_rel_err``, or ``reason`` when
    the point is not to be timed; returns whether it passed.
    """
    from mlpbench.kernels.accuracy import ulp_error

    if isinstance(reference, BaseException):
        point["reason"] = f"no reference: {REFERENCE} raised {error_text(reference)}"
        return False
    a, r = np.asarray(out), np.asarray(reference)
    if a.size != r.size:
        point["reason"] = (f"output has {a.size} elements where {REFERENCE} gives {r.size}; "
                           "not timed")
        return False
    if a.dtype != r.dtype:
        point["reason"] = f"output is {a.dtype}, {REFERENCE} gives {r.dtype}; not timed"
        return False
    a, r = a.reshape(-1), r.reshape(-1)
    bound, unit = gate_tolerance(point["kernel"], tuple(point["shape"]), point["dtype"])
    if unit == "ulp":
        err = float(np.max(ulp_error(a, r))) if a.size else 0.0
        point["max_ulp"] = err if math.isfinite(err) else None
    else:
        a64, r64 = a.astype(np.float64), r.astype(np.float64)
        if not np.all(np.isfinite(a64)):
            err = math.inf
        else:
            scale = max(float(np.max(np.abs(a64), initial=0.0)),
                        float(np.max(np.abs(r64), initial=0.0)))
            err = float(np.max(np.abs(a64 - r64), initial=0.0)) / scale if scale else 0.0
        point["max_rel_err"] = err if math.isfinite(err) else None
    if not err <= bound:
        shown = f"{err:.3g} ulp" if unit == "ulp" else f"relative error {err:.3g}"
        point["reason"] = (f"disagrees with {REFERENCE}: {shown} > {bound:.3g}; not timed")
        return False
    return True


def _history(points: Sequence[dict], kernel: str, impl: str, dtype: str
             ) -> list[tuple[float, float]]:
    # As in the MLP sweep: the fastest sample, which a busy machine inflates least.
    return [(p["elements"], p["min_s"]) for p in points
            if p["kernel"] == kernel and p["impl"] == impl and p["dtype"] == dtype
            and p["status"] == "ok" and p["min_s"]]


def predict_call_s(impl: str, elements: int, history: list[tuple[float, float]]) -> float | None:
    """Seconds per call predicted from ``history`` (elements, seconds), or the prior."""
    if history:
        return budget.predict_call_s(impl, elements, history)
    rate = PRIOR_S_PER_ELEMENT.get(impl)
    return None if rate is None else rate * elements


def _rates(point: dict, median_s: float) -> None:
    if median_s > 0:
        point["gbs"] = point["bytes"] / median_s / 1e9
        point["elements_per_s"] = point["elements"] / median_s


def measure_kernel_point(cfg: KernelConfig, dtype: str, size: int, kernel: str,
                         tables: Mapping[str, KernelTable], history: Sequence[dict],
                         done: set, record: Callable[[list[dict]], None], bar: Any = None, *,
                         clock: Any = None, canary: Any = None) -> None:
    """Measure every implementation of ``cfg`` providing ``kernel`` at one (dtype, size):
    the memory and budget checks, the cold call and the gate, then the gated ones timed
    together in turns (``sweep.time_points``). ``record(points)`` receives the finished
    points: each untimed one at once, then the timed ones together."""
    from mlpbench.harness.sweep import time_points

    clock = clock or time.perf_counter
    policy = cfg.policy()
    calls = budget.calls_per_point(policy.min_samples)
    shape = shape_of(kernel, size, cfg.m)
    names = [n for n in sorted(cfg.implementations, key=lambda n: n != REFERENCE)
             if kernel in tables[n].provides]
    short = memory.too_big(_need_bytes(kernel, shape, dtype, names), available_memory_bytes())
    x = reference = None
    ready: list[tuple[dict, Any]] = []
    for name in names:
        if bar is not None:
            bar.set_description(f"{dtype} {kernel} size={size} {name}")
        point = new_point(kernel, name, dtype, size, shape)
        if schema.point_key(point) in done:
            if bar is not None:
                bar.update()
            continue
        predicted = predict_call_s(name, point["elements"],
                                   _history(history, kernel, name, dtype))
        point["predicted_s"] = predicted
        if short:
            point["status"], point["reason"] = "skipped", short
        elif predicted is not None and predicted * calls > policy.budget_s:
            point["status"] = "skipped"
            point["reason"] = (f"predicted {predicted:.3g} s per call x {calls} calls "
                               f"exceeds the budget of {policy.budget_s:g} s")
        else:
            if x is None:
                x = make_input(shape, dtype, cfg.seed)
            if reference is None and name != REFERENCE:
                reference = _reference(tables[REFERENCE], kernel, x)
            out, call = _prepare(point, tables[name], x, reference, clock)
            if name == REFERENCE:
                reference = out
            if call is not None:
                ready.append((point, call))
                continue
        record([point])
        if bar is not None:
            bar.update()
    if ready:
        if bar is not None:
            bar.set_description(f"{dtype} {kernel} size={size} timing {len(ready)} in turns")
        time_points(ready, policy, (canary or make_canary)(x), cfg.reference, clock, _rates)
        record([point for point, _ in ready])
        if bar is not None:
            bar.update(len(ready))


def _reference(tab: KernelTable, kernel: str, x: np.ndarray) -> Any:
    try:
        return np.array(tab.to_numpy(tab.prepare(kernel, x)()))
    except Exception as exc:  # reported on every gated point of this size
        return exc


def _prepare(point: dict, tab: KernelTable, x: np.ndarray, reference: Any,
             clock: Any) -> tuple[Any, Any]:
    """The cold call and the gate of ``point``: (its output or exception, the call to
    time or None)."""
    try:
        call = tab.prepare(point["kernel"], x)
        before = jit_counters()
        point["cold_s"], out = time_once(call, clock)
        after = jit_counters()
        point["jit_compiled"] = after[0] - before[0]
        point["jit_cached"] = after[1] - before[1]
        out = np.array(tab.to_numpy(out))  # a copy: numba's output array is reused
    except Exception as exc:
        point["reason"] = f"raised {error_text(exc)}"
        return exc, None
    if point["impl"] != REFERENCE and not check_kernel(point, out, reference):
        return out, None
    return out, call


# --- the sweep -------------------------------------------------------------------------------


def _start_document(cfg: KernelConfig, path: Path, resume: bool, peak: dict | None) -> dict:
    from mlpbench.harness.machine import machine_info, provenance

    sweep = cfg.as_dict()
    if resume and path.exists():
        doc = load_results(path)
        if doc.get("kind") != KIND:
            raise UsageError(f"{path} holds an MLP sweep, not a kernel sweep; resume it with "
                             "mlpbench bench (without --kernels) or write to a new file")
        old, new = doc["sweep"], {k: list(v) if isinstance(v, tuple) else v
                                  for k, v in sweep.items()}
        if old != new:
            diff = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
            raise UsageError(f"{path} holds another kernel sweep (it differs in: "
                             f"{', '.join(diff)}); resume with the same options or write "
                             "to a new file")
        doc.pop("_path", None)
        doc["complete"] = False
        if peak is not None:
            doc["peak"] = peak
        return doc
    created = now_iso()
    return {"schema": schema.SCHEMA, "schema_version": schema.SCHEMA_VERSION, "kind": KIND,
            "created": created, "updated": created, "complete": False,
            "mlpbench": __version__, "machine": machine_info(), "threads": None,
            "sweep": sweep, "peak": peak, "provenance": provenance(), "points": [],
            "canary": KERNEL_CANARY}


def check_memory(cfg: KernelConfig, available_bytes: int | None = None) -> None:
    """Refuse a sweep none of whose points fits in memory (InputError, before any work)."""
    available_bytes = available_memory_bytes() if available_bytes is None else available_bytes
    if available_bytes is None:
        return
    kernel = min(cfg.kernels, key=lambda k: kernel_bytes(k, (1,), "float32"))
    size, dtype = min(cfg.resolved_sizes()), min(cfg.dtypes, key=lambda d: np.dtype(d).itemsize)
    need = _need_bytes(kernel, shape_of(kernel, size, cfg.m), dtype, cfg.implementations)
    if memory.too_big(need, available_bytes):
        raise InputError(f"no point of this kernel sweep fits in memory: the smallest, "
                         f"{kernel} {dtype} size={size}, needs ~{memory.gib(need)} GiB and "
                         f"{memory.gib(available_bytes)} GiB are available; give smaller sizes")


def run_kernel_sweep(cfg: KernelConfig, out_path: str | os.PathLike, resume: bool = False,
                     progress: bool = True, peak: dict | None = None, *, force: bool = False,
                     tables: Mapping[str, KernelTable] | None = None, clock: Any = None,
                     canary: Any = None) -> dict:
    """Run the kernel sweep ``cfg`` and write its result file (``"kind": "kernels"``) at
    ``out_path``, rewritten atomically after every point; return the document.

    ``resume``, ``force``, ``peak``, ``clock`` and ``canary`` as for
    :func:`harness.sweep.run_sweep`; ``tables`` maps names to :class:`KernelTable`
    objects used before the built-in ones. Bad input raises :mod:`mlpbench.errors`
    classes before any work.
    """
    from tqdm import tqdm

    from mlpbench.harness.machine import configured_threads
    from mlpbench.harness.sweep import _check_peak

    validate_config(cfg, tables)
    peak = _check_peak(peak)
    check_memory(cfg)
    with output_lock(out_path, "output"):
        path = check_writable(out_path, force=force, resume=resume)
        doc = _start_document(cfg, path, resume, peak)
        done = {schema.point_key(p) for p in doc["points"]}
        with configured_threads(cfg.threads) as threads:
            # Loaded under the thread settings: JAX reads its thread count when it starts.
            resolved = {n: (tables or {}).get(n) or table(n)
                        for n in dict.fromkeys([*cfg.implementations, REFERENCE])}
            tasks = [(dtype, size, kernel) for dtype in cfg.dtypes
                     for size in cfg.resolved_sizes() for kernel in cfg.kernels]
            total = sum(sum(k in resolved[n].provides for n in cfg.implementations)
                        for _, _, k in tasks)
            doc["threads"] = threads

            def save() -> None:
                doc["updated"] = now_iso()
                write_json(path, doc)

            def record(points: list[dict]) -> None:
                doc["points"].extend(points)
                done.update(schema.point_key(p) for p in points)
                save()

            save()
            with tqdm(total=total, disable=not progress, unit="pt", dynamic_ncols=True,
                      leave=True) as bar:
                for dtype, size, kernel in tasks:
                    measure_kernel_point(cfg, dtype, size, kernel, resolved, doc["points"],
                                         done, record, bar, clock=clock, canary=canary)
            doc["complete"] = True
            save()
    return doc


def summary_lines(doc: dict) -> list[str]:
    """One line per kernel and dtype at the largest size: GB/s of each implementation."""
    lines = []
    points = [p for p in doc["points"] if p["status"] == "ok" and p.get("gbs")]
    for dtype in doc["sweep"]["dtypes"]:
        for kernel in doc["sweep"]["kernels"]:
            mine = [p for p in points if p["dtype"] == dtype and p["kernel"] == kernel]
            if not mine:
                continue
            top = max(p["size"] for p in mine)
            cells = ", ".join(f"{p['impl']} {p['gbs']:.3g}" for p in mine if p["size"] == top)
            lines.append(f"  {dtype} {kernel} at {top:,} elements (GB/s): {cells}")
    return lines
