"""Sweeps: time implementations over a range of sizes and write one result file.

For each (dtype, phase, point) in order of growing size, and each implementation:

1. predict the cost of the point from the sizes already measured (budget.py);
   skip it, with the prediction, when it would exceed the budget;
2. call it once, cold (numba compiles there), and compare that output with the
   ``numpy`` reference at the same point: one that disagrees is not timed;
3. time warm calls (timing.py) and append the point to the file, which is
   rewritten atomically after every point.

Inputs are validated once per point with ``mlp.check_inputs`` and the ``raw``
functions are timed, so per-call validation does not weigh on small sizes.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlpbench import __version__
from mlpbench.errors import UsageError
from mlpbench.harness import budget, schema
from mlpbench.harness.coldstart import jit_counters
from mlpbench.harness.machine import cpu_count
from mlpbench.harness.results import check_writable, load_results, now_iso, write_json_atomic
from mlpbench.harness.timing import Policy, measure_interleaved, time_once

REFERENCE = "numpy"
GRID = "grid"
SWEEP_AXES = (*schema.AXES, GRID)
DEFAULT_IMPLEMENTATIONS = ("loops", "numpy", "numba")

#: Swept sizes when none are given: (full, quick).
DEFAULT_SIZES = {
    "n": ([1, 4, 16, 64, 256, 1024, 4096], [1, 16, 256, 4096]),
    "d": ([16, 64, 256, 784, 2048], [16, 256, 2048]),
    "d_h": ([16, 64, 256, 1024, 2048], [16, 256, 2048]),
}
#: Per-implementation, per-point time budgets (seconds): (full, quick).
DEFAULT_BUDGET_S = (20.0, 5.0)

#: Sampling policies: (full, quick). Budgets come from the sweep's budget_s.
POLICY = Policy(min_sample_s=1e-3, target_s=1.0, min_samples=7, max_samples=200)
QUICK_POLICY = Policy(min_sample_s=1e-3, target_s=0.25, min_samples=5, max_samples=50)

#: The gate's floor on the accepted relative error (see gate_rtol).
GATE_RTOL = {"float64": 1e-9, "float32": 1e-4}


def default_sizes(axis: str, quick: bool = False) -> list[int] | dict[str, list[int]]:
    """Sizes swept when the user gives none (a mapping for the grid)."""
    if axis == GRID:
        return {a: list(DEFAULT_SIZES[a][1]) for a in schema.AXES}
    return list(DEFAULT_SIZES[axis][1 if quick else 0])


@dataclass
class SweepConfig:
    """What to sweep. ``sizes`` lists the values of ``axis`` (the others stay at
    ``base``); for ``axis="grid"`` it maps each of n, d, d_h to its values (an
    axis left out stays at ``base``). ``None`` fields take their defaults."""

    axis: str = "n"
    sizes: Sequence[int] | Mapping[str, Sequence[int]] | None = None
    base: Mapping[str, int] = field(default_factory=lambda: dict(schema.BASE))
    implementations: Sequence[str] = DEFAULT_IMPLEMENTATIONS
    dtypes: Sequence[str] = ("float64",)
    phases: Sequence[str] = ("step",)
    l1: float = 0.0
    l2: float = 0.0
    budget_s: float | None = None
    threads: int | None = None
    seed: int = 0
    quick: bool = False

    def resolved_budget(self) -> float:
        if self.budget_s is not None:
            return float(self.budget_s)
        return DEFAULT_BUDGET_S[1 if self.quick else 0]

    def swept_sizes(self) -> dict[str, list[int]]:
        """The values of n, d and d_h the sweep visits."""
        sizes = default_sizes(self.axis, self.quick) if self.sizes is None else self.sizes
        if self.axis == GRID:
            return {a: list(sizes.get(a, [self.base[a]])) for a in schema.AXES}
        return {a: (list(sizes) if a == self.axis else [self.base[a]]) for a in schema.AXES}

    def points(self) -> list[dict[str, int]]:
        """Every (n, d, d_h, m) of the sweep, ordered by growing FLOP count."""
        s = self.swept_sizes()
        pts = [{"n": n, "d": d, "d_h": d_h, "m": self.base["m"]}
               for n, d, d_h in itertools.product(s["n"], s["d"], s["d_h"])]
        return sorted(pts, key=lambda p: (schema.flops("step", **p), p["n"], p["d"], p["d_h"]))

    def policy(self) -> Policy:
        base = QUICK_POLICY if self.quick else POLICY
        return Policy(min_sample_s=base.min_sample_s, target_s=base.target_s,
                      min_samples=base.min_samples, max_samples=base.max_samples,
                      budget_s=self.resolved_budget())

    def as_dict(self) -> dict[str, Any]:
        """The result file's ``sweep`` field; ``--resume`` requires it to match."""
        return {
            "axis": self.axis, "sizes": self.swept_sizes(), "base": dict(self.base),
            "implementations": list(self.implementations), "dtypes": list(self.dtypes),
            "phases": list(self.phases), "l1": float(self.l1), "l2": float(self.l2),
            "budget_s": self.resolved_budget(), "seed": self.seed, "quick": bool(self.quick),
            "threads": self.threads,
        }


def _positive_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool) and value > 0


def _one_of(what: str, values: Sequence[str], allowed: Sequence[str]) -> None:
    if isinstance(values, str) or not list(values):
        raise UsageError(f"give at least one {what} (a list), from: {', '.join(allowed)}")
    for v in values:
        if v not in allowed:
            raise UsageError(f"unknown {what} {v!r}; choose from: {', '.join(allowed)}")
    if len(set(values)) != len(values):
        raise UsageError(f"{what}s are listed twice: {', '.join(values)}")


def available_implementations(extra: Mapping[str, Any] | None = None) -> list[str]:
    """Names the sweep can time: mlp's registry plus any injected implementations."""
    from mlpbench import mlp

    return list(dict.fromkeys([*mlp.IMPLEMENTATIONS, *(extra or {})]))


def validate_config(cfg: SweepConfig, impls: Mapping[str, Any] | None = None) -> SweepConfig:
    """Check every field once, at the boundary; raise UsageError naming the problem."""
    from mlpbench.harness.machine import check_threads

    if cfg.axis not in SWEEP_AXES:
        raise UsageError(f"unknown axis {cfg.axis!r}; choose from: {', '.join(SWEEP_AXES)}")
    for k in ("n", "d", "d_h", "m"):
        if k not in cfg.base or not _positive_int(cfg.base[k]):
            raise UsageError(f"base {k} must be a positive integer, got {cfg.base.get(k)!r}")
    if cfg.sizes is not None:
        if cfg.axis == GRID:
            if not isinstance(cfg.sizes, Mapping) or set(cfg.sizes) - set(schema.AXES):
                raise UsageError("grid sizes must map some of n, d, d_h to lists of sizes")
            lists = dict(cfg.sizes)
        else:
            if isinstance(cfg.sizes, Mapping | str):
                raise UsageError(f"sizes for axis {cfg.axis} must be a list of integers")
            lists = {cfg.axis: cfg.sizes}
        for axis, values in lists.items():
            values = list(values)
            if not values:
                raise UsageError(f"the size list for {axis} is empty; give at least one size")
            bad = [v for v in values if not _positive_int(v)]
            if bad:
                raise UsageError(f"sizes for {axis} must be positive integers, got {bad[0]!r}")
            if len(set(values)) != len(values):
                raise UsageError(f"the size list for {axis} repeats a size: {values}")
    _one_of("implementation", cfg.implementations, available_implementations(impls))
    _one_of("dtype", cfg.dtypes, schema.DTYPES)
    _one_of("phase", cfg.phases, schema.PHASES)
    for name in ("l1", "l2"):
        v = getattr(cfg, name)
        if not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
            raise UsageError(f"{name} must be a finite number >= 0, got {v!r}")
    b = cfg.budget_s
    if b is not None and (not isinstance(b, int | float) or not math.isfinite(b) or b <= 0):
        raise UsageError(f"budget must be a positive number of seconds, got {b!r}")
    if not isinstance(cfg.seed, int) or cfg.seed < 0:
        raise UsageError(f"seed must be a non-negative integer, got {cfg.seed!r}")
    try:
        check_threads(cfg.threads)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return cfg


# --- one point ----------------------------------------------------------------------------


def make_problem(n: int, d: int, d_h: int, m: int, dtype: str, seed: int):
    """Parameters, inputs and labels for one point, normalized by ``mlp.check_inputs``."""
    from mlpbench import mlp

    rng = np.random.default_rng([seed, n, d, d_h, m])
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, m, size=n).astype(np.int64)
    p = mlp.init_params(d, d_h, m, seed=seed, dtype=np.dtype(dtype))
    return mlp.check_inputs(p, X, y)


def phase_call(impl: Any, phase: str, problem: tuple, l1: float, l2: float) -> Callable[[], Any]:
    """The callable timed for ``phase``: raw forward, raw backward, or raw loss_and_grad.

    ``backward`` receives the implementation's own forward pass, computed here once.
    """
    p, X, y = problem
    raw, l1, l2 = impl.raw, float(l1), float(l2)
    if phase == "forward":
        return lambda: raw.forward(p, X)
    if phase == "backward":
        f = raw.forward(p, X)
        return lambda: raw.backward(p, X, y, f, l1, l2)
    return lambda: raw.loss_and_grad(p, X, y, l1, l2)


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


def new_point(impl: str, dtype: str, phase: str, pt: Mapping[str, int], l1: float,
              l2: float) -> dict[str, Any]:
    """A point with every schema field, status ``failed`` until filled in."""
    point: dict[str, Any] = dict.fromkeys(schema.POINT_FIELDS)
    point.update(impl=impl, dtype=dtype, phase=phase, **pt, l1=float(l1), l2=float(l2),
                 status="failed", samples=0, loops=0, high_spread=False, warnings=[],
                 flops=schema.flops(phase, pt["n"], pt["d"], pt["d_h"], pt["m"]))
    return point


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


# --- the sweep -----------------------------------------------------------------------------


def _resolve(names: Sequence[str], impls: Mapping[str, Any] | None) -> dict[str, Any]:
    from mlpbench import mlp

    out = {}
    for name in dict.fromkeys([*names, REFERENCE]):
        try:
            out[name] = (impls or {}).get(name) or mlp.get(name)
        except Exception as exc:  # e.g. a peer whose package fails to import
            raise UsageError(f"cannot load implementation {name!r}: {_error_text(exc)}") from exc
    return out


def _history(points: list[dict], impl: str, dtype: str, phase: str) -> list[tuple[float, float]]:
    # The fastest sample, not the median: on a busy machine the median can be inflated
    # many times by other processes, and an inflated history would skip fast code.
    return [(p["flops"], p["min_s"]) for p in points
            if p["impl"] == impl and p["dtype"] == dtype and p["phase"] == phase
            and p["status"] == "ok" and p["min_s"]]


def _check_peak(peak: Any) -> dict | None:
    if peak is None:
        return None
    if not isinstance(peak, dict) or not isinstance(peak.get("gemm_gflops"), dict):
        raise UsageError("peak must be the 'peak' object written by `mlpbench peak`")
    return peak


def _start_document(cfg: SweepConfig, path: Path, resume: bool, peak: dict | None) -> dict:
    from mlpbench.harness.machine import machine_info

    sweep = cfg.as_dict()
    if resume and path.exists():
        doc = load_results(path)
        old, new = doc["sweep"], _jsonish(sweep)
        if old != new:
            diff = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
            raise UsageError(f"{path} holds another sweep (it differs in: {', '.join(diff)}); "
                             "resume with the same options or write to a new file")
        doc["complete"] = False
        if peak is not None:
            doc["peak"] = peak
        return doc
    created = now_iso()
    return {
        "schema": schema.SCHEMA, "schema_version": schema.SCHEMA_VERSION,
        "created": created, "updated": created, "complete": False,
        "mlpbench": __version__, "machine": machine_info(), "threads": None,
        "sweep": sweep, "peak": peak, "points": [],
    }


def _jsonish(obj: Any) -> Any:
    # The sweep as it reads back from JSON (tuples become lists), for comparison.
    if isinstance(obj, dict):
        return {k: _jsonish(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonish(v) for v in obj]
    return obj


def run_sweep(cfg: SweepConfig, out_path: str | os.PathLike, resume: bool = False,
              progress: bool = True, peak: dict | None = None, *, force: bool = False,
              impls: Mapping[str, Any] | None = None) -> dict:
    """Run the sweep ``cfg`` and write its result file at ``out_path``; return the document.

    The file is rewritten atomically after every point. An existing file is an
    error unless ``resume`` (continue it: the sweep must be the same, finished
    points are kept and not redone; a missing file starts afresh) or ``force``
    (overwrite). On Ctrl-C the file holds every finished point with
    ``complete: false`` and KeyboardInterrupt propagates. ``peak`` is the object
    written by ``mlpbench peak``, copied into the file. ``impls`` maps extra
    names to implementation objects (with ``raw.forward``, ``raw.backward``,
    ``raw.loss_and_grad``), used before ``mlp.get``. Bad input raises UsageError.
    """
    from tqdm import tqdm

    from mlpbench.harness.machine import configured_threads
    from mlpbench.mlp.peers import peer_thread_settings

    validate_config(cfg, impls)
    peak = _check_peak(peak)
    path = check_writable(out_path, force=force, resume=resume)
    doc = _start_document(cfg, path, resume, peak)
    done = {schema.point_key(p) for p in doc["points"]}
    resolved = _resolve(cfg.implementations, impls)
    policy = cfg.policy()
    calls = budget.calls_per_point(policy.min_samples)
    tasks = [(dtype, phase, pt) for dtype in cfg.dtypes for phase in cfg.phases
             for pt in cfg.points()]
    # The reference runs first at each point: its cold call is truly cold, and its
    # output is the gate's reference for the others.
    order = sorted(cfg.implementations, key=lambda name: name != REFERENCE)

    def save() -> None:
        doc["updated"] = now_iso()
        if doc["threads"]:  # a peer's settings are known once it has loaded
            doc["threads"]["peers"] = peer_thread_settings()
        write_json_atomic(path, doc)

    with configured_threads(cfg.threads) as threads, \
            tqdm(total=len(tasks) * len(cfg.implementations), disable=not progress,
                 unit="pt", dynamic_ncols=True, leave=True) as bar:
        doc["threads"] = threads
        save()
        for dtype, phase, pt in tasks:
            problem = reference = None
            ready: list[tuple[dict, Any]] = []  # gated points, timed together in turns
            for name in order:
                bar.set_description(f"{dtype} {phase} n={pt['n']} d={pt['d']} "
                                    f"d_h={pt['d_h']} {name}")
                point = new_point(name, dtype, phase, pt, cfg.l1, cfg.l2)
                if schema.point_key(point) in done:
                    bar.update()
                    continue
                predicted = budget.predict_call_s(
                    name, point["flops"], _history(doc["points"], name, dtype, phase))
                point["predicted_s"] = predicted
                if predicted is not None and predicted * calls > policy.budget_s:
                    point["status"] = "skipped"
                    point["reason"] = (f"predicted {predicted:.3g} s per call x {calls} calls "
                                       f"exceeds the budget of {policy.budget_s:g} s")
                else:
                    if problem is None:
                        problem = make_problem(**pt, dtype=dtype, seed=cfg.seed)
                    if reference is None and name != REFERENCE:
                        reference = _reference(resolved[REFERENCE], phase, problem, cfg)
                    out, call = _prepare_point(point, resolved[name], problem, reference, cfg)
                    if name == REFERENCE:
                        reference = out
                    if call is not None:  # timed below, with the others of this size
                        ready.append((point, call))
                        continue
                doc["points"].append(point)
                done.add(schema.point_key(point))
                save()
                bar.update()
            if ready:
                bar.set_description(f"{dtype} {phase} n={pt['n']} d={pt['d']} d_h={pt['d_h']} "
                                    f"timing {len(ready)} in turns")
                _time_together(ready, policy)
                for point, _ in ready:
                    doc["points"].append(point)
                    done.add(schema.point_key(point))
                    bar.update()
                save()
        doc["complete"] = True
        save()
    return doc


def _loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):  # not available on this OS
        return None


def _reference(ref_impl: Any, phase: str, problem: tuple, cfg: SweepConfig) -> Any:
    """The reference's output at this point, or the exception it raised."""
    try:
        return phase_call(ref_impl, phase, problem, cfg.l1, cfg.l2)()
    except Exception as exc:  # reported on every gated point of this size
        return exc


def _prepare_point(point: dict, impl: Any, problem: tuple, reference: Any,
                   cfg: SweepConfig) -> tuple[Any, Any]:
    """The cold call and the correctness gate of ``point``.

    Returns the cold call's output (or the exception it raised) and the call to time,
    or None when the point is not to be timed (it raised, or failed the gate; the
    reason is in the point).
    """
    name, dtype = point["impl"], point["dtype"]
    try:
        call = phase_call(impl, point["phase"], problem, cfg.l1, cfg.l2)
        before = jit_counters()
        point["cold_s"], out = time_once(call)
        after = jit_counters()
        # What the first call did besides computing: compile, or load numba's disk cache.
        point["jit_compiled"] = after[0] - before[0]
        point["jit_cached"] = after[1] - before[1]
    except Exception as exc:
        point["reason"] = f"raised {_error_text(exc)}"
        return exc, None
    if name != REFERENCE:
        if isinstance(reference, Exception):
            point["reason"] = f"no reference: {REFERENCE} raised {_error_text(reference)}"
            return out, None
        try:
            err = max_rel_err(out, reference)
        except ValueError as exc:
            point["reason"] = f"output does not match {REFERENCE}: {exc}"
            return out, None
        point["max_rel_err"] = err
        rtol = gate_rtol(dtype, point["n"], point["d"], point["d_h"], point["m"])
        if not err <= rtol:
            point["reason"] = (f"disagrees with {REFERENCE}: max relative error {err:.3g} "
                               f"> {rtol:.3g}; not timed")
            return out, None
    return out, call


def _time_together(ready: list[tuple[dict, Any]], policy: Policy) -> None:
    """Time the gated points of one size in turns and fill in their statistics.

    Each implementation's budget is the point budget less its cold call.
    """
    budgets = [max(policy.budget_s - (point["cold_s"] or 0.0), 0.0) for point, _ in ready]
    try:
        results = measure_interleaved([call for _, call in ready], policy, budgets)
    except Exception:
        # One of them raised while timing: time them one by one to say which.
        results = []
        for (point, call), left in zip(ready, budgets, strict=True):
            try:
                results.append(measure_interleaved([call], policy, [left])[0])
            except Exception as exc:
                point["reason"] = f"raised while timing: {_error_text(exc)}"
                results.append(None)
    load = _loadavg()
    cores = cpu_count()
    for (point, _), result, left in zip(ready, results, budgets, strict=True):
        if result is None:
            continue
        stats, spent = result
        point.update(stats.as_dict(), status="ok", loadavg=load)
        if load is not None and load > cores:
            point["warnings"].append(f"busy machine: load average {load:.1f} on "
                                     f"{cores} cores while timing")
        point["gflops"] = point["flops"] / stats.median_s / 1e9 if stats.median_s > 0 else None
        if stats.high_spread:
            point["warnings"].append(f"high spread: IQR is {stats.iqr_s / stats.median_s:.0%} "
                                     "of the median (shared or busy machine?)")
        if spent > left and stats.samples <= policy.min_samples:
            point["warnings"].append("over budget: the minimum number of samples took longer "
                                     "than the budget")
