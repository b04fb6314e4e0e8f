"""Sweeps: time implementations over a range of sizes and write one result file.

For each (dtype, phase, point) in order of growing size, and each implementation:

1. estimate the point's memory (memory.py) and skip it when it cannot fit;
   predict its cost from the sizes already measured (budget.py) and skip it,
   with the prediction, when it would exceed the budget;
2. call it once, cold (numba compiles there), and compare that output with the
   ``numpy`` reference at the same point (gate.py): one that disagrees is not timed;
3. time the gated implementations of the point in turns (timing.py) and append
   them to the file, which is rewritten atomically after every point;
4. then, ``passes - 1`` more times, go over the whole sweep again and time every
   point once more on fresh inputs (:func:`retime_size`), appending its samples: each
   point's samples are spread over the sweep's whole duration, so a burst of load or
   a slow patch of the machine weighs on every point a little instead of on one point
   entirely (asv's rounds), and ``compare`` can see how much a point moves from pass
   to pass.

What to sweep and its validation are in config.py; this module is the loop.
Inputs are validated once per point with ``mlp.check_inputs`` and the ``raw``
functions are timed, so per-call validation does not weigh on small sizes. The
output is locked for the whole sweep (``files.output_lock``): a second sweep on
the same file is refused instead of overwriting the first one's results.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlpbench import __version__
from mlpbench.errors import InputError, PluginError, UsageError
from mlpbench.files import check_writable, output_lock, write_json
from mlpbench.harness import budget, memory, schema, stats
from mlpbench.harness.canary import (
    STEP_CANARY,
    STREAM_BOUND,
    STREAM_MAX_N,
    STREAM_PHASES,
    make_step_canary,
    make_stream_bound,
)
from mlpbench.harness.coldstart import jit_counters
from mlpbench.harness.config import (  # noqa: F401  (re-exported: the old import names)
    DEFAULT_BUDGET_S,
    DEFAULT_SIZES,
    GRID,
    POLICY,
    QUICK_POLICY,
    SWEEP_AXES,
    SweepConfig,
    available_implementations,
    default_sizes,
    validate_config,
)
from mlpbench.harness.gate import (  # noqa: F401  (re-exported: the old import names)
    GATE_RTOL,
    REFERENCE,
    check_point,
    error_text,
    gate_rtol,
    inputs_used,
    make_problem,
    max_rel_err,
    numpy_output,
    phase_call,
)
from mlpbench.harness.machine import available_memory_bytes, cpu_count
from mlpbench.harness.results import load_results, now_iso
from mlpbench.harness.timing import Policy, measure_interleaved, time_once
from mlpbench.harness.workers import in_fresh_process

__all__ = ["measure_size", "new_point", "run_sweep", "SweepConfig", "validate_config"]


def new_point(impl: str, dtype: str, phase: str, pt: Mapping[str, int], l1: float,
              l2: float, activation: str = "relu") -> dict[str, Any]:
    """A point with every schema field, status ``failed`` until filled in."""
    point: dict[str, Any] = dict.fromkeys(schema.POINT_FIELDS)
    point.update(impl=impl, dtype=dtype, phase=phase, **pt, l1=float(l1), l2=float(l2),
                 activation=activation,
                 status="failed", samples=0, loops=0, high_spread=False, warnings=[],
                 flops=schema.flops(phase, pt["n"], pt["d"], pt["d_h"], pt["m"]))
    return point


# --- the sweep -----------------------------------------------------------------------------


def _resolve(names: Sequence[str], impls: Mapping[str, Any] | None) -> dict[str, Any]:
    from mlpbench import mlp

    out = {}
    for name in dict.fromkeys([*names, REFERENCE]):
        try:
            out[name] = (impls or {}).get(name) or mlp.get(name)
        except Exception as exc:  # e.g. a peer whose package fails to import
            raise PluginError(f"cannot load implementation {name!r}: {error_text(exc)}") from exc
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
    try:
        return schema.validate_peak(peak)
    except schema.SchemaError as exc:
        raise InputError(f"peak must be the 'peak' object written by `mlpbench peak`: "
                         f"{exc}") from None


def _point_bytes(cfg: SweepConfig, name: str, dtype: str, phase: str,
                 pt: Mapping[str, int]) -> int:
    return memory.point_bytes(name, phase, pt["n"], pt["d"], pt["d_h"], pt["m"], dtype,
                              reference=REFERENCE, timed_together=len(cfg.implementations))


def check_memory(cfg: SweepConfig, available: int | None = None) -> None:
    """Refuse a sweep none of whose points fits in memory (InputError, before any work).

    A sweep with some points that fit runs, and records the others as skipped.
    ``available`` defaults to :func:`machine.available_memory_bytes`.
    """
    available = available_memory_bytes() if available is None else available
    if available is None:
        return
    smallest = None
    for dtype in cfg.dtypes:
        for phase in cfg.phases:
            for pt in cfg.points():
                for name in cfg.implementations:
                    need = _point_bytes(cfg, name, dtype, phase, pt)
                    if memory.too_big(need, available) is None:
                        return
                    if smallest is None or need < smallest[0]:
                        smallest = (need, name, dtype, phase, pt)
    if smallest is None:
        return
    need, name, dtype, phase, pt = smallest
    raise InputError(
        f"no point of this sweep fits in memory: the smallest, {name} {dtype} {phase} "
        f"n={pt['n']} d={pt['d']} d_h={pt['d_h']} m={pt['m']}, needs "
        f"~{memory.gib(need)} GiB and {memory.gib(available)} GiB are available; "
        "give smaller sizes")


def _start_document(cfg: SweepConfig, path: Path, resume: bool, peak: dict | None) -> dict:
    from mlpbench.harness.machine import machine_info, provenance

    sweep = cfg.as_dict()
    if resume and path.exists():
        doc = load_results(path)  # every point checked: a bad one refuses the file
        # Files written before a field existed ran with its default (peers: NumPy inputs).
        old = {"reference": "numpy", "precision": 0.03, "peer_inputs": "numpy",
               "activation": "relu", "passes": 1, "processes": 1, "settle_s": 0.0,
               **doc["sweep"]}
        new = _jsonish(sweep)
        if old != new:
            diff = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
            raise UsageError(f"{path} holds another sweep (it differs in: {', '.join(diff)}); "
                             "resume with the same options or write to a new file")
        doc.pop("_path", None)
        doc["complete"] = False
        if peak is not None:
            doc["peak"] = peak
        return doc
    created = now_iso()
    return {
        "schema": schema.SCHEMA, "schema_version": schema.SCHEMA_VERSION,
        "created": created, "updated": created, "complete": False,
        "mlpbench": __version__, "machine": machine_info(), "threads": None,
        "sweep": sweep, "peak": peak, "provenance": provenance(), "points": [],
        "canary": STEP_CANARY, "bound": STREAM_BOUND,
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
              impls: Mapping[str, Any] | None = None, clock: Any = None,
              canary: Any = None, spawn: Any = None) -> dict:
    """Run the sweep ``cfg`` and write its result file at ``out_path``; return the document.

    The file is rewritten atomically after every point. An existing file is an
    error unless ``resume`` (continue it: the sweep must be the same, finished
    points are kept and not redone; a missing file starts afresh) or ``force``
    (overwrite). On Ctrl-C the file holds every finished point with
    ``complete: false`` and KeyboardInterrupt propagates. ``peak`` is the object
    written by ``mlpbench peak``, copied into the file. ``impls`` maps extra
    names to implementation objects (with ``raw.forward``, ``raw.backward``,
    ``raw.loss_and_grad``), used before ``mlp.get``. ``clock`` replaces
    ``time.perf_counter`` and ``canary`` (X -> callable) replaces
    :func:`canary.make_step_canary`: tests drive the sweep with a synthetic timing source.

    With ``cfg.processes`` > 1 the passes are spread over that many fresh processes,
    one after the other (:meth:`SweepConfig.stages`): each resumes the file and times
    its passes, this process holding the output's lock meanwhile. ``spawn(fn, *args)``
    runs one of them (default :func:`workers.in_fresh_process`); injected ``impls``,
    ``clock`` or ``canary`` cannot cross into a new process, so they need a ``spawn``.

    Bad input raises :mod:`mlpbench.errors` classes before any work: a bad field
    (InputError), an output that exists or is being written by another sweep,
    or cannot be written (UsageError, FileError), a sweep no point of which fits
    in memory (InputError). Points that do not fit are recorded as skipped.
    """
    validate_config(cfg, impls)
    peak = _check_peak(peak)
    check_memory(cfg)
    with output_lock(out_path, "output"):
        path = check_writable(out_path, force=force, resume=resume)
        doc = _start_document(cfg, path, resume, peak)
        if cfg.processes == 1:
            return _sweep(cfg, path, doc, progress, impls, clock, canary)
        if spawn is None and (impls or clock is not None or canary is not None):
            raise UsageError("a sweep in several processes starts each afresh: injected "
                             "implementations, clocks or canaries need spawn= (or "
                             "processes=1)")
        write_json(path, doc)  # what the first process resumes
        before = 0
        for upto in cfg.stages():
            (spawn or in_fresh_process)(_stage, cfg, str(path), upto, before, progress,
                                        impls, clock, canary)
            before = upto
        return load_results(path)


def _stage(cfg: SweepConfig, path: str, upto: int, before: int, progress: bool,
           impls: Mapping[str, Any] | None = None, clock: Any = None,
           canary: Any = None) -> None:
    """One process's share of a sweep in several (run_sweep): resume the file at
    ``path`` and time passes ``before + 1`` to ``upto`` (the first process also the
    cold calls and the gate). The parent holds the output's lock."""
    doc = _start_document(cfg, Path(path), True, None)
    _sweep(cfg, Path(path), doc, progress, impls, clock, canary, upto=upto, before=before)


def _sweep(cfg: SweepConfig, path: Path, doc: dict, progress: bool,
           impls: Mapping[str, Any] | None, clock: Any = None, canary: Any = None,
           upto: int | None = None, before: int = 0) -> dict:
    """The sweep's passes up to ``upto`` (default: all), in this process; ``before``:
    the passes finished in earlier processes (the progress bar starts past them)."""
    from tqdm import tqdm

    from mlpbench.harness.machine import configured_threads
    from mlpbench.mlp.peers import peer_thread_settings

    done = {schema.point_key(p) for p in doc["points"]}
    resolved = _resolve(cfg.implementations, impls)
    tasks = [(dtype, phase, pt) for dtype in cfg.dtypes for phase in cfg.phases
             for pt in cfg.points()]

    def save() -> None:
        doc["updated"] = now_iso()
        if doc["threads"]:  # a peer's settings are known once it has loaded
            doc["threads"]["peers"] = peer_thread_settings()
        write_json(path, doc)

    upto = cfg.passes if upto is None else upto
    per_pass = len(tasks) * len(cfg.implementations)
    with configured_threads(cfg.threads) as threads, \
            tqdm(total=per_pass * cfg.passes, initial=per_pass * max(0, before - 1),
                 disable=not progress,
                 unit="pt", dynamic_ncols=True, leave=True) as bar:
        doc["threads"] = threads
        save()

        def record(points: list[dict]) -> None:
            doc["points"].extend(points)
            done.update(schema.point_key(p) for p in points)
            save()

        for dtype, phase, pt in tasks:
            measure_size(cfg, dtype, phase, pt, resolved, doc["points"], done, record, bar,
                         clock=clock, canary=canary)
        # The later passes, over the whole sweep again (see SweepConfig.passes). The
        # file is rewritten at most every SAVE_EVERY_S there (and at every pass's end,
        # and on Ctrl-C): rewriting it after each size cost a quarter of a quick sweep.
        last = [time.monotonic()]

        def save_now_and_then() -> None:
            if time.monotonic() - last[0] >= SAVE_EVERY_S:
                save()
                last[0] = time.monotonic()

        try:
            for j in range(max(2, before + 1), upto + 1):
                for dtype, phase, pt in tasks:
                    retime_size(cfg, dtype, phase, pt, resolved, doc["points"], j,
                                save_now_and_then, None, clock=clock, canary=canary)
                save()
                bar.update(per_pass)
        except KeyboardInterrupt:
            save()  # what the passes finished so far
            raise
        doc["complete"] = upto == cfg.passes
        save()
    return doc


#: In the later passes the result file is rewritten at most this often (seconds).
SAVE_EVERY_S = 2.0


def measure_size(cfg: SweepConfig, dtype: str, phase: str, pt: Mapping[str, int],
                 resolved: Mapping[str, Any], history: Sequence[dict], done: set,
                 record: Any, bar: Any = None, *, clock: Any = None,
                 canary: Any = None) -> None:
    """Measure every implementation of ``cfg`` at one (dtype, phase, size): the memory
    and budget checks, the cold call and correctness gate, then the gated ones timed
    together in turns. This is the whole per-size code path of a sweep, shared by the
    local loop and the cluster's tasks (harness.cluster).

    ``resolved`` maps names to implementation objects (the reference included);
    ``history`` holds the points measured so far (the budget predicts from them);
    points whose key is in ``done`` are not redone. ``record(points)`` receives the
    finished points: each untimed one (skipped, failed) at once, then the timed ones
    together. ``bar`` is an optional tqdm bar, described and advanced here. Runs under
    the caller's thread settings (``configured_threads``). ``clock``, ``canary``: as for
    run_sweep.
    """
    clock = clock or time.perf_counter
    policy = cfg.policy()
    calls = budget.calls_per_point(policy.min_samples)
    # The reference runs first at each point: its cold call is truly cold, and its
    # output is the gate's reference for the others.
    order = sorted(cfg.implementations, key=lambda name: name != REFERENCE)
    where = f"{dtype} {phase} n={pt['n']} d={pt['d']} d_h={pt['d_h']}"
    problem = reference = None
    ready: list[tuple[dict, Any]] = []  # gated points, timed together in turns
    available = available_memory_bytes()
    # The reference's own need: without it, no other point can be gated.
    ref_short = memory.too_big(_point_bytes(cfg, REFERENCE, dtype, phase, pt), available)
    for name in order:
        if bar is not None:
            bar.set_description(f"{where} {name}")
        point = new_point(name, dtype, phase, pt, cfg.l1, cfg.l2, cfg.activation)
        if schema.point_key(point) in done:
            if bar is not None:
                bar.update()
            continue
        predicted = budget.predict_call_s(
            name, point["flops"], _history(history, name, dtype, phase))
        point["predicted_s"] = predicted
        short = memory.too_big(_point_bytes(cfg, name, dtype, phase, pt), available)
        if short or ref_short:
            point["status"] = "skipped"
            point["reason"] = short or f"{ref_short} for the {REFERENCE} reference"
        elif predicted is not None and predicted * calls > policy.budget_s:
            point["status"] = "skipped"
            point["reason"] = (f"predicted {predicted:.3g} s per call x {calls} calls "
                               f"exceeds the budget of {policy.budget_s:g} s")
        else:
            if problem is None:
                problem = make_problem(**pt, dtype=dtype, seed=cfg.seed)
            if reference is None and name != REFERENCE:
                reference = _reference(resolved[REFERENCE], phase, problem, cfg)
            out, call = _prepare_point(point, resolved[name], problem, reference, cfg, clock)
            if name == REFERENCE:
                reference = out
            if call is not None:  # timed below, with the others of this size
                ready.append((point, call))
                continue
        record([point])
        if bar is not None:
            bar.update()
    if ready:
        if bar is not None:
            bar.set_description(f"{where} timing {len(ready)} in turns")
        _time_together(ready, cfg.pass_policy(), problem, cfg.reference, clock,
                       canary, cfg.precision, phase)
        record([point for point, _ in ready])
        if bar is not None:
            bar.update(len(ready))


def retime_size(cfg: SweepConfig, dtype: str, phase: str, pt: Mapping[str, int],
                resolved: Mapping[str, Any], points: Sequence[dict], passes: int,
                save: Any = None, bar: Any = None, *, clock: Any = None,
                canary: Any = None) -> int:
    """One more pass over one size: the points of ``points`` at (dtype, phase, pt) that
    were timed (status ``ok``) in fewer than ``passes`` passes are timed again, together,
    on fresh copies of the inputs (made, and for a peer converted, anew), and their
    samples appended (:func:`time_points`). The gate is not repeated: the code is the
    same. ``save()`` is called after. Returns how many points were timed."""
    clock = clock or time.perf_counter
    mine = [p for p in points if p["dtype"] == dtype and p["phase"] == phase
            and all(p[k] == pt[k] for k in schema.SIZE_KEYS) and p["status"] == "ok"
            and (p.get("passes") or 1) < passes
            and p.get("l1") == float(cfg.l1) and p.get("l2") == float(cfg.l2)
            and p.get("activation", "relu") == cfg.activation]
    if not mine:
        return 0
    if bar is not None:
        bar.set_description(f"{dtype} {phase} n={pt['n']} d={pt['d']} d_h={pt['d_h']} "
                            f"pass {passes}/{cfg.passes}")
    problem = make_problem(**pt, dtype=dtype, seed=cfg.seed)
    ready = []
    for point in mine:
        try:
            call = phase_call(resolved[point["impl"]], phase, problem, cfg.l1, cfg.l2,
                              cfg.peer_inputs, cfg.activation)
            call()  # warm: the first call on the new arrays (a peer's conversion) apart
        except Exception as exc:
            point["status"] = "failed"
            point["reason"] = f"raised in pass {passes}: {error_text(exc)}"
            continue
        ready.append((point, call))
    if ready:
        _time_together(ready, cfg.pass_policy(passes), problem, cfg.reference, clock,
                       canary, cfg.precision, phase)
    if save is not None:
        save()
    if bar is not None:
        bar.update(len(mine))
    return len(mine)


def _loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):  # not available on this OS
        return None


def _reference(ref_impl: Any, phase: str, problem: tuple, cfg: SweepConfig) -> Any:
    """The reference's output at this point, or the exception it raised."""
    try:
        return numpy_output(phase_call(ref_impl, phase, problem, cfg.l1, cfg.l2,
                                       cfg.peer_inputs, cfg.activation)())
    except Exception as exc:  # reported on every gated point of this size
        return exc


def _prepare_point(point: dict, impl: Any, problem: tuple, reference: Any,
                   cfg: SweepConfig, clock: Any = time.perf_counter) -> tuple[Any, Any]:
    """The cold call and the correctness gate of ``point``.

    Returns the cold call's output (or the exception it raised) and the call to time,
    or None when the point is not to be timed (it raised, or failed the gate; the
    reason is in the point).
    """
    name = point["impl"]
    try:
        point["inputs"] = inputs_used(impl, cfg.peer_inputs)
        call = phase_call(impl, point["phase"], problem, cfg.l1, cfg.l2, cfg.peer_inputs,
                          cfg.activation)
        before = jit_counters()
        point["cold_s"], out = time_once(call, clock)
        after = jit_counters()
        out = numpy_output(out)  # a peer's tensors, for the gate
        # What the first call did besides computing: compile, or load numba's disk cache.
        point["jit_compiled"] = after[0] - before[0]
        point["jit_cached"] = after[1] - before[1]
    except Exception as exc:
        point["reason"] = f"raised {error_text(exc)}"
        return exc, None
    if name != REFERENCE and not check_point(point, out, reference):
        return out, None
    return out, call


def _time_together(ready: list[tuple[dict, Any]], policy: Policy, problem: tuple,
                   reference: str = REFERENCE, clock: Any = time.perf_counter,
                   canary_for: Any = None, target: float | None = None,
                   phase: str | None = None) -> None:
    """Time the gated points of one size in turns, with the canary, and fill in their
    statistics, raw samples (``times_s``, ``rounds``, ``canary_s``: the canary's time in
    each sample's round), the precision reached, and the paired ratio to ``reference``.
    A ``phase`` that writes gW1 with at most ``STREAM_MAX_N`` examples also times its
    memory bound in the same rounds (``bound_s``, canary.make_stream_bound), unless a
    synthetic canary (``canary_for``) stands in for the real one.

    Each implementation's budget is the point budget less its cold call.
    """
    canary = make_step_canary(problem) if canary_for is None else canary_for(problem[1])
    bound = None
    if canary_for is None and phase in STREAM_PHASES and problem[1].shape[0] <= STREAM_MAX_N:
        bound = make_stream_bound(problem)
    time_points(ready, policy, canary, reference, clock, _gflops, target, bound)


def _gflops(point: dict, median_s: float) -> None:
    point["gflops"] = point["flops"] / median_s / 1e9 if median_s > 0 else None


#: The warnings time_points writes (rewritten as each pass adds samples).
_TIMING_WARNINGS = ("busy machine", "high spread", "precision target", "over budget")


def time_points(ready: list[tuple[dict, Any]], policy: Policy, canary: Any,
                reference: str = REFERENCE, clock: Any = time.perf_counter,
                rates: Any = _gflops, target: float | None = None,
                bound: Any = None) -> None:
    """The timing shared by the MLP and kernel sweeps (harness.kernel_sweep): the gated
    ``(point, call)`` pairs of one size timed in turns with ``canary``, their fields
    filled in as :func:`_time_together` says; ``rates(point, median_s)`` adds the
    throughput fields (GFLOP/s here, GB/s and elements/s for kernels).

    A point that already holds samples (an earlier pass) keeps them: this pass's are
    appended, its rounds numbered after the earlier ones (``pass_starts`` lists the
    first round of each pass), and every statistic is recomputed from all of them;
    ``target`` is the point's precision target they are checked against (default:
    ``policy.precision``; a pass's own policy aims wider, see config.per_pass). The
    adaptive stop reads the earlier passes' samples with this pass's. ``bound``: a
    second reference workload (the point's memory bound), followed like the canary and
    kept per sample as ``bound_s``."""
    extra = [canary] if bound is None else [bound, canary]
    fns = [call for _, call in ready] + extra
    budgets = [max(policy.budget_s - (0.0 if point.get("times_s") else point["cold_s"] or 0.0),
                   0.0) for point, _ in ready]
    budgets += [policy.budget_s] * len(extra)
    names = [point["impl"] for point, _ in ready]
    ref = names.index(reference) if reference in names else None
    # Earlier passes' rounds, shifted below 0 by one offset for all (pairs kept).
    top = max((max(point["rounds"]) + 1 for point, _ in ready if point.get("rounds")),
              default=0)
    prior = [_prior(point, top) for point, _ in ready] + [None] * len(extra)
    try:
        results = measure_interleaved(fns, policy, budgets, reference=ref,
                                      follow=range(len(ready), len(fns)), clock=clock,
                                      prior=prior)
    except Exception:
        # One of them raised while timing: time them one by one to say which.
        results = []
        for (point, call), left in zip(ready, budgets, strict=False):
            try:
                results.append(measure_interleaved([call, canary], policy, [left, left],
                                                   follow=[1], clock=clock)[0])
            except Exception as exc:
                point["reason"] = f"raised while timing: {error_text(exc)}"
                point["status"] = "failed"
                results.append(None)
        results += [None] * len(extra)

    def by_round(result: Any) -> dict:
        return {} if result is None else dict(zip(result.rounds, result.times, strict=True))

    canary_by_round = by_round(results[-1])
    bound_by_round = by_round(results[-2]) if bound is not None else None
    load = _loadavg()
    cores = cpu_count()
    for (point, call), result, left in zip(ready, results, budgets, strict=False):
        if result is not None:
            _add_samples(point, result, canary_by_round, load, top, bound_by_round)
    ref_point = ready[ref][0] if ref is not None and results[ref] is not None else None
    for (point, call), result, left in zip(ready, results, budgets, strict=False):
        if result is None:
            continue
        _fill_statistics(point, policy.precision if target is None else target, ref_point,
                         reference, rates)
        if load is not None and load > cores:
            point["warnings"].append(f"busy machine: load average {load:.1f} on "
                                     f"{cores} cores while timing")
        if point.get("memory") is None and point["median_s"] < MEMORY_MAX_CALL_S:
            point["memory"] = _memory(point["impl"], call)
        if result.spent_s > left and result.stats.samples <= policy.min_samples:
            point["warnings"].append("over budget: the minimum number of samples took longer "
                                     "than the budget")


def _prior(point: dict, top: int) -> tuple[list[float], list[int]] | None:
    """A point's samples from earlier passes, their rounds less ``top`` (below 0: kept
    apart from this pass's; the same ``top`` for every point of a size keeps pairs)."""
    times, rounds = point.get("times_s"), point.get("rounds")
    if not times:
        return None
    return list(times), [int(r) - top for r in rounds]


def _add_samples(point: dict, result: Any, canary_by_round: dict, load: float | None,
                 offset: int, bound_by_round: dict | None = None) -> None:
    """Append one pass's samples to ``point``, its rounds numbered from ``offset`` (the
    same for every point of the size, past all their earlier rounds: pairs kept);
    ``bound_by_round``: the memory bound's time by round, kept as ``bound_s`` (None:
    not timed in this pass; a point that has ``bound_s`` gets null for its samples)."""
    times = list(point.get("times_s") or [])
    rounds = list(point.get("rounds") or [])
    starts = list(point.get("pass_starts") or [])
    canary = list(point.get("canary_s") or [None] * len(times))
    point["pass_starts"] = [*starts, offset]
    point["times_s"] = times + [_sig(t) for t in result.times]
    point["rounds"] = rounds + [int(r) + offset for r in result.rounds]
    point["canary_s"] = canary + [_sig(canary_by_round.get(r, math.nan)) for r in result.rounds]
    if not any(c is not None for c in point["canary_s"]):
        del point["canary_s"]
    if bound_by_round is not None or "bound_s" in point:
        got = list(point.get("bound_s") or [None] * len(times))
        point["bound_s"] = got + [_sig(bound_by_round.get(r, math.nan))
                                  if bound_by_round is not None else None
                                  for r in result.rounds]
    point["passes"] = len(point["pass_starts"])
    point["loops"] = result.stats.loops
    point["status"] = "ok"
    point["loadavg"] = load if point.get("loadavg") is None or load is None \
        else max(load, point["loadavg"])


def _fill_statistics(point: dict, target: float, ref_point: dict | None, reference: str,
                     rates: Any) -> None:
    """Every statistic of ``point`` from all its samples: the summary, the precision
    reached (median, and ratio to ``ref_point``), the paired ratio, the throughput."""
    from mlpbench.harness.timing import summarize

    times = point["times_s"]
    st = summarize(times, point["loops"])
    point.update(st.as_dict())
    point["warnings"] = [w for w in point.get("warnings") or []
                         if not w.startswith(_TIMING_WARNINGS)]
    median_p = stats.median_ci(times).halfwidth
    ratio_p, est = None, None
    if ref_point is not None and point is not ref_point:
        est = stats.paired_ratio(times, point["rounds"], ref_point["times_s"],
                                 ref_point["rounds"])
        ratio_p = est.halfwidth
    met = median_p <= target and (ratio_p is None or ratio_p <= target)
    point["precision"] = {"target": target, "median": _sig(median_p),
                          "ratio": None if ratio_p is None else _sig(ratio_p), "met": met}
    if est is not None:
        point["ratio"] = {"reference": reference, "value": _sig(est.value),
                          "lo": _sig(est.lo), "hi": _sig(est.hi), "pairs": est.count,
                          "verdict": stats.verdict(est)}
    rates(point, st.median_s)
    if st.high_spread:
        point["warnings"].append(f"high spread: IQR is {st.iqr_s / st.median_s:.0%} "
                                 "of the median (shared or busy machine?)")
    if not met:
        reached = max(median_p, ratio_p or 0.0)
        point["warnings"].append(
            f"precision target ±{target:.0%} not reached (±{reached:.1%}) "
            f"within the budget, after {st.samples} samples")


#: Memory is measured in one extra call after timing, for calls shorter than this.
MEMORY_MAX_CALL_S = 0.5


def _memory(name: str, call: Any) -> dict:
    from mlpbench.mlp import registry

    try:
        info = registry.info(name)
        peer, jit = info.peer, info.jit
    except Exception:  # an implementation injected by a caller, not registered
        peer, jit = False, False
    try:
        return memory.measure_call(call, peer=peer, jit=jit)
    except Exception as exc:  # measuring must never lose the timed point
        return {"peak_bytes": None, "allocations": None,
                "method": f"not measured ({error_text(exc)})"}


def _sig(x: float) -> float:
    """``x`` to 4 significant digits (samples in the file: precise enough, 3× smaller)."""
    if not math.isfinite(x) or x == 0:
        return x if math.isfinite(x) else None
    return float(f"{x:.4g}")
