"""Sweeps on a Dask cluster: the points of a sweep run on other machines, as tasks.

Needs the ``cluster`` extra (``pip install -e '.[cluster]'``, Dask's distributed
scheduler); Dask is imported only inside the functions that use it, so the rest of
mlpbench works without it. docs/cluster.md tells how to start a scheduler and workers.

**One task is one size** (n, d, d_h, m): every implementation, dtype and phase of it,
because the implementations of one size are timed in turns (timing.py) and that
interleaving must happen on one machine, in one process. A task runs
:func:`harness.sweep.measure_size`, the very code path of the local sweep (memory
and budget checks, cold call, correctness gate, interleaved timing), under the
sweep's thread settings (``machine.configured_threads``: numba and BLAS limited,
threads pinned), and returns its points with the worker's machine description.

**Honest timing.** Tasks ask for the worker resource ``bench=1``: a worker started
with ``--resources bench=1`` runs one benchmark at a time. Give that slot to one
worker per machine (``--nworkers 1``): a sweep refuses to start when one machine
offers two, and the points of tasks that still overlapped on one machine (a worker
joined later) carry a warning.

**Modes** (recorded in the file, ``cluster.mode``):

- ``shard``: identical machines share one sweep; a task goes wherever a slot is free,
  each point records its ``host``, and points of machines that differ in what makes
  timings incomparable (:func:`machine_identity`: CPU model, memory, Python, NumPy,
  numba, BLAS libraries, mlpbench) are refused, before any work when the machines are
  known at the start, else when their first result arrives (InputError).
- ``every-machine``: each machine runs the whole sweep into its own file,
  ``OUT.stem.<machine>.json`` beside ``OUT`` (or ``<folder>/<machine>.json`` when OUT
  is a folder).

**Nothing lost.** The file is rewritten atomically (``files.write_json``) after every
task that arrives. A worker killed mid-task loses that task only: Dask reruns it on
another worker (shard mode), and a task that raised is retried once; a task that
cannot be run (it killed its workers, no worker of its machine is left) is recorded
as points with status ``failed``, ``lost: true`` and the reason. On Ctrl-C the file
keeps every point that arrived, pending tasks are cancelled and KeyboardInterrupt
propagates. ``resume`` resubmits only the sizes with missing (or lost) points.

The machine's name is its hostname, or the worker's ``MLPBENCH_MACHINE_ID``
environment variable when set (to name machines in the files, or, for tests,
to let several workers of one host pose as several machines).
"""

from __future__ import annotations

import itertools
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlpbench.checks import check_choice, check_positive, check_positive_int
from mlpbench.errors import InputError, InputTypeError, UsageError
from mlpbench.files import check_writable, output_lock, write_json
from mlpbench.harness import schema
from mlpbench.harness.config import SweepConfig, validate_config
from mlpbench.harness.results import now_iso

__all__ = ["EVERY_MACHINE", "MACHINE_ID_VAR", "MODES", "SHARD", "call_on_bench",
           "check_alike", "describe_worker", "identity_differences", "machine_identity",
           "machine_name", "machine_path", "run_cluster_sweep", "run_size_task",
           "validate_cluster_fields"]

#: ``shard`` and ``every-machine`` (the result file's ``cluster.mode``).
MODES = schema.CLUSTER_MODES
SHARD, EVERY_MACHINE = MODES

#: The worker resource a benchmarking task takes (``dask worker --resources bench=1``).
RESOURCE = "bench"

#: Environment variable naming a worker's machine (instead of its hostname).
MACHINE_ID_VAR = "MLPBENCH_MACHINE_ID"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

#: What must agree between machines whose points share one file (``shard``).
IDENTITY_FIELDS = ("cpu_model", "memory_gib", "python", "numpy", "numba", "blas", "mlpbench")
#: Memory sizes closer than this (relative) count as equal: identical machines can
#: differ by what their firmware or kernel reserves.
MEMORY_TOLERANCE = 0.02

#: Seconds the client waits for a worker of a machine that left (every-machine), or
#: for any worker with a bench slot (shard), before it records the task as lost.
LOST_AFTER_S = 120.0
#: Seconds between two looks at the workers while waiting for results.
WATCH_EVERY_S = 1.0
#: Seconds to fetch the result of a finished task; past it (its worker died meanwhile)
#: the task is submitted again, at most MAX_REQUEUE times.
GATHER_TIMEOUT_S = 30.0
MAX_REQUEUE = 3

INSTALL_HINT = "--cluster needs Dask's distributed scheduler: pip install -e '.[cluster]'"


def _distributed():
    try:
        import distributed
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    return distributed


# --- the machine a worker runs on -------------------------------------------------------------


def machine_name() -> str:
    """This machine's name: ``$MLPBENCH_MACHINE_ID`` if set, else its hostname."""
    value = os.environ.get(MACHINE_ID_VAR)
    if not value:
        return socket.gethostname() or "host"
    if not _NAME.fullmatch(value):
        raise InputError(f"{MACHINE_ID_VAR} must be a name of letters, digits, '.', '_' "
                         f"or '-' (at most 64, starting with a letter or digit), "
                         f"got {value!r}")
    return value


def describe_worker() -> dict:
    """Run on a worker: its machine's name, description (``machine.machine_info``),
    mlpbench version, the most threads a sweep may ask of it and the implementations
    its registry knows."""
    from mlpbench import __version__, mlp
    from mlpbench.harness import machine

    return {"name": machine_name(), "machine": machine.machine_info(),
            "mlpbench": __version__, "max_threads": machine.max_threads(),
            "implementations": list(mlp.IMPLEMENTATIONS)}


def _blas_libs(libs: Any) -> list[str]:
    out = set()
    for lib in libs or []:
        if isinstance(lib, Mapping) and lib.get("user_api", "blas") == "blas":
            out.add(" ".join(str(lib.get(k) or "-") for k in
                             ("internal_api", "version", "architecture", "threading_layer")))
    return sorted(out)


def machine_identity(machine: Mapping[str, Any], version: str | None = None) -> dict:
    """What must agree between machines whose timings share one sweep: CPU model,
    memory (GiB, to 0.1), Python, NumPy, numba, the BLAS libraries (kind, version,
    kernel architecture, threading) and the mlpbench version."""
    mem = machine.get("memory_bytes")
    return {"cpu_model": machine.get("cpu_model"),
            "memory_gib": round(mem / 2**30, 1) if isinstance(mem, int) and mem else None,
            "python": machine.get("python"), "numpy": machine.get("numpy"),
            "numba": machine.get("numba"), "blas": _blas_libs(machine.get("blas")),
            "mlpbench": version}


def identity_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """The fields of two :func:`machine_identity` that differ, as ``field (x vs y)``."""
    out = []
    for key in IDENTITY_FIELDS:
        x, y = a.get(key), b.get(key)
        if key == "memory_gib" and x and y and abs(x - y) <= MEMORY_TOLERANCE * max(x, y):
            continue
        if x != y:
            show = (lambda v: "; ".join(v) or "none") if key == "blas" else repr
            out.append(f"{key} ({show(x)} vs {show(y)})")
    return out


def check_alike(name_a: str, a: Mapping[str, Any], name_b: str, b: Mapping[str, Any]) -> None:
    """Refuse (InputError) to merge the points of two machines whose identities differ."""
    diff = identity_differences(a, b)
    if diff:
        raise InputError(f"refusing to merge points of unlike machines in one sharded sweep: "
                         f"{name_a} and {name_b} differ in {', '.join(diff)}; run them with "
                         "--every-machine (one result file per machine) instead")


# --- the task ---------------------------------------------------------------------------------


def run_size_task(cfg: SweepConfig, pt: Mapping[str, int], history: Sequence[dict],
                  done: Sequence[tuple]) -> dict:
    """Run on a worker: every implementation, dtype and phase of the size ``pt``.

    The same code path as the local sweep (:func:`harness.sweep.measure_size`) under
    the sweep's thread settings. ``history``: points measured before (the budget
    predicts from them); ``done``: keys of points not to redo. Returns the points
    (each with its ``host``), the machine's description and the thread settings.
    """
    from mlpbench.harness import machine
    from mlpbench.harness.sweep import _resolve, measure_size, retime_size
    from mlpbench.mlp.peers import peer_thread_settings

    started = time.time()
    about = describe_worker()
    resolved = _resolve(cfg.implementations, None)
    done_keys = {tuple(k) for k in done}
    points: list[dict] = []
    with machine.configured_threads(cfg.threads) as threads:
        for dtype, phase in itertools.product(cfg.dtypes, cfg.phases):
            measure_size(cfg, dtype, phase, pt, resolved, [*history, *points], done_keys,
                         points.extend)
            # A task is one size: its passes follow each other here (fresh inputs each).
            for j in range(2, cfg.passes + 1):
                retime_size(cfg, dtype, phase, pt, resolved, points, j)
        threads["peers"] = peer_thread_settings()
    for p in points:
        p["host"] = about["name"]
    return {**about, "points": points, "threads": threads, "started": started,
            "ended": time.time(), "worker": _worker_address()}


def _worker_address() -> str | None:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return None


def _call(fn: Callable, args: tuple, kwargs: dict) -> Any:
    return fn(*args, **kwargs)


# --- the client ------------------------------------------------------------------------------


@dataclass
class _Machine:
    name: str
    worker: str
    identity: dict
    about: dict


@dataclass
class _Output:
    """One result file: the document, the sizes still to submit, the tasks in flight."""

    path: Path
    doc: dict
    machine: str | None                 # every-machine: the machine it belongs to
    queue: list[dict] = field(default_factory=list)
    inflight: dict = field(default_factory=dict)   # future key -> (future, size)
    lost_since: float | None = None
    requeued: dict = field(default_factory=dict)   # size -> times submitted again
    intervals: dict = field(default_factory=dict)  # machine -> [(start, end, size)]


def machine_path(out: str | os.PathLike, name: str) -> Path:
    """Where ``every-machine`` writes the file of machine ``name``: ``OUT.stem.NAME.json``
    beside ``OUT``, or ``OUT/NAME.json`` when ``OUT`` is a folder (or ends in ``/``)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "host"
    text = os.fspath(out)
    path = Path(out)
    if text.endswith(("/", os.sep)) or path.is_dir():
        return path / f"{safe}.json"
    return path.with_name(f"{path.stem}.{safe}{path.suffix or '.json'}")


def _connect(address: Any, timeout_s: float):
    distributed = _distributed()
    if isinstance(address, distributed.Client):
        return address, False
    if not isinstance(address, str) or not address.strip():
        raise InputTypeError(f"the scheduler address must be a string like "
                             f"tcp://HOST:8786, got {address!r}")
    try:
        client = distributed.Client(address.strip(), timeout=f"{timeout_s}s",
                                    set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {address}: "
                         f"{str(exc) or type(exc).__name__} (start one with `dask scheduler`; "
                         "see docs/cluster.md)") from None
    return client, True


def _bench_workers(client) -> dict[str, dict]:
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    return {addr: w for addr, w in workers.items()
            if (w.get("resources") or {}).get(RESOURCE, 0) >= 1}


def _probe(client, addresses: Sequence[str]) -> dict[str, dict]:
    if not addresses:
        return {}
    try:
        return client.run(describe_worker, workers=list(addresses))
    except InputError:
        raise
    except Exception as exc:  # a worker without mlpbench, or one that died meanwhile
        raise InputError(f"cannot describe the workers {', '.join(addresses)}: "
                         f"{type(exc).__name__}: {exc} (is mlpbench installed there?)") from None


def _machines(client, address: Any, cfg: SweepConfig) -> dict[str, _Machine]:
    workers = _bench_workers(client)
    if not workers:
        raise UsageError(f"no worker of the Dask scheduler at {address} offers a "
                         f"'{RESOURCE}' slot; start workers with `dask worker ADDRESS "
                         "--nworkers 1 --nthreads 1 --resources bench=1`")
    by_name: dict[str, list[tuple[str, dict]]] = {}
    for addr, about in sorted(_probe(client, list(workers)).items()):
        by_name.setdefault(about["name"], []).append((addr, about))
    machines = {}
    for name, entries in sorted(by_name.items()):
        if len(entries) > 1:
            raise UsageError(f"machine {name} runs {len(entries)} workers with a "
                             f"'{RESOURCE}' slot ({', '.join(a for a, _ in entries)}), so it "
                             "would run several benchmarks at once; give bench=1 to one "
                             "worker per machine (dask worker --nworkers 1 --resources "
                             "bench=1)")
        addr, about = entries[0]
        if cfg.threads is not None and cfg.threads > about["max_threads"]:
            raise UsageError(f"threads={cfg.threads} exceeds the {about['max_threads']} "
                             f"cores machine {name} may use")
        unknown = [i for i in cfg.implementations if i not in about["implementations"]]
        if unknown:
            raise UsageError(f"machine {name} does not know the implementation(s) "
                             f"{', '.join(unknown)} (not installed there, or a plugin "
                             "registered on this machine only: make it importable on the "
                             "workers and register it there)")
        machines[name] = _Machine(name, addr, machine_identity(about["machine"],
                                                               about["mlpbench"]), about)
    return machines


def _check_config(cfg: SweepConfig) -> SweepConfig:
    if not isinstance(cfg, SweepConfig):
        raise InputTypeError(f"cfg must be a SweepConfig, got {type(cfg).__name__}")
    # Thread counts are checked against each worker's cores, not this client's.
    validate_config(replace(cfg, threads=None))
    if cfg.processes != 1:
        raise UsageError("a cluster sweep times each size in one worker process; "
                         "--processes is for a sweep on this machine")
    if cfg.threads is not None:
        check_positive_int("threads", cfg.threads)
    return cfg


def _lost_point(cfg: SweepConfig, key: tuple, why: str, host: str | None) -> dict:
    from mlpbench.harness.sweep import new_point

    impl, dtype, phase, n, d, d_h, m = key[:7]
    point = new_point(impl, dtype, phase, {"n": n, "d": d, "d_h": d_h, "m": m}, cfg.l1, cfg.l2,
                      cfg.activation)
    point.update(reason=f"not measured: {why}", lost=True, host=host)
    return point


def _size_keys(cfg: SweepConfig, pt: Mapping[str, int]) -> list[tuple]:
    from mlpbench.harness.sweep import new_point

    return [schema.point_key(new_point(impl, dtype, phase, pt, cfg.l1, cfg.l2, cfg.activation))
            for dtype, phase, impl in itertools.product(cfg.dtypes, cfg.phases,
                                                        cfg.implementations)]


def _size_key(pt: Mapping[str, int]) -> tuple:
    return tuple(pt[k] for k in schema.SIZE_KEYS)


def _slim(points: list[dict]) -> list[dict]:
    # What the budget's prediction reads (sweep._history): the ok points' fastest times.
    return [{k: p[k] for k in ("impl", "dtype", "phase", "status", "flops", "min_s")}
            for p in points if p["status"] == "ok"]


def _start(cfg: SweepConfig, path: Path, resume: bool, peak: dict | None, mode: str,
           address: str, machine: _Machine) -> dict:
    """The document of one output: new, or the file to resume (its lost points dropped,
    so that they are measured again)."""
    from mlpbench.harness.sweep import _start_document

    existed = resume and path.exists()
    doc = _start_document(cfg, path, resume, peak)
    if existed:
        old = doc.get("cluster") or {}
        if old.get("mode") not in (None, mode):
            raise UsageError(f"{path} was written in {old['mode']} mode; resume it with "
                             f"--{old['mode']}")
        doc["points"] = [p for p in doc["points"] if not p.get("lost")]
        if doc["points"] and doc.get("machine"):
            was = (old.get("host") or (doc["machine"] or {}).get("hostname") or "?")
            kept = machine_identity(doc["machine"], doc.get("mlpbench"))
            check_alike(f"{was} (in {path})", kept, machine.name, machine.identity)
    doc["machine"] = machine.about["machine"]
    doc["mlpbench"] = machine.about["mlpbench"]
    cluster = doc.setdefault("cluster", {})
    cluster.update(mode=mode, scheduler=str(address))
    cluster.setdefault("machines", {})
    cluster.setdefault("tasks", [])
    if mode == EVERY_MACHINE:
        cluster["host"] = machine.name
    return doc


def _record_machine(doc: dict, result: dict) -> None:
    entry = doc["cluster"]["machines"].setdefault(result["name"], {})
    entry.update(identity=machine_identity(result["machine"], result["mlpbench"]),
                 cpu_model=result["machine"].get("cpu_model"),
                 hostname=result["machine"].get("hostname"), threads=result["threads"])
    workers = entry.setdefault("workers", [])
    if result.get("worker") and result["worker"] not in workers:
        workers.append(result["worker"])


def run_cluster_sweep(cfg: SweepConfig, out_path: str | os.PathLike, address: Any,
                      mode: str = SHARD, resume: bool = False, progress: bool = True,
                      peak: dict | None = None, *, force: bool = False,
                      on_task: Callable[[dict], None] | None = None,
                      connect_timeout_s: float = 10.0,
                      lost_after_s: float = LOST_AFTER_S) -> dict[Path, dict]:
    """Run the sweep ``cfg`` on the Dask scheduler at ``address``; return ``{file: doc}``.

    ``address`` is ``tcp://HOST:PORT`` (or a ``distributed.Client``, left open).
    ``mode`` is ``"shard"`` (one file, ``out_path``) or ``"every-machine"`` (one file
    per machine, :func:`machine_path`). ``resume``, ``force`` and ``peak`` are as in
    :func:`harness.sweep.run_sweep`; ``on_task(info)`` is called after each arriving
    task is written (info: ``size``, ``host``, ``path``, ``status``, ``points``).

    Raises UsageError when Dask is not installed (the hint names the extra), the
    scheduler has no worker with a ``bench`` slot or one machine has several;
    InputError when it cannot be reached or machines to merge differ (shard);
    the errors of :func:`~harness.sweep.run_sweep` for bad fields and outputs.
    """
    _check_config(cfg)
    check_choice("mode", mode, MODES)
    check_positive("lost_after_s", lost_after_s)
    from mlpbench.harness.sweep import _check_peak

    peak = _check_peak(peak)
    client, owned = _connect(address, connect_timeout_s)
    shown = address if isinstance(address, str) else getattr(client.scheduler, "address", "?")
    try:
        machines = _machines(client, shown, cfg)
        names = list(machines)
        if mode == SHARD:
            for other in names[1:]:
                check_alike(names[0], machines[names[0]].identity, other,
                            machines[other].identity)
            targets = [(Path(out_path), None)]
        else:
            targets = [(machine_path(out_path, n), n) for n in names]
        with ExitStack() as stack:
            outputs = []
            for path, name in targets:
                stack.enter_context(output_lock(path, "output"))
                path = check_writable(path, force=force, resume=resume)
                doc = _start(cfg, path, resume, peak, mode, shown, machines[name or names[0]])
                outputs.append(_Output(path, doc, name))
            return _drive(client, cfg, outputs, machines, progress, on_task,
                          lost_after_s)
    finally:
        if owned:
            client.close()


def _missing(cfg: SweepConfig, out: _Output, pt: Mapping[str, int]) -> list[tuple]:
    have = {schema.point_key(p) for p in out.doc["points"]}
    return [k for k in _size_keys(cfg, pt) if k not in have]


def _drive(client, cfg: SweepConfig, outputs: list[_Output], machines: dict[str, _Machine],
           progress: bool, on_task, lost_after_s: float) -> dict[Path, dict]:
    from tqdm import tqdm

    distributed = _distributed()
    for out in outputs:
        out.queue = [pt for pt in cfg.points() if _missing(cfg, out, pt)]
    slots = len(machines)
    ac = distributed.as_completed(loop=client.loop)
    reference = next(iter(machines.values()))

    def save(out: _Output) -> None:
        out.doc["updated"] = now_iso()
        write_json(out.path, out.doc)

    def submit(out: _Output, pt: dict) -> None:
        have = [schema.point_key(p) for p in out.doc["points"]]
        size_keys = set(_size_keys(cfg, pt))
        done = [k for k in have if k in size_keys]
        kw: dict[str, Any] = {"resources": {RESOURCE: 1}, "retries": 1, "pure": False,
                              "key": f"mlpbench-size-n{pt['n']}-d{pt['d']}-dh{pt['d_h']}-"
                                     f"{uuid.uuid4().hex[:12]}"}
        if out.machine is not None:
            kw.update(workers=[machines[out.machine].worker], allow_other_workers=False)
        fut = client.submit(run_size_task, cfg, pt, _slim(out.doc["points"]), done, **kw)
        out.inflight[fut.key] = (fut, pt)
        ac.add(fut)

    def fill() -> None:
        for out in outputs:
            limit = 1 if out.machine is not None else slots
            while out.queue and len(out.inflight) < limit:
                submit(out, out.queue.pop(0))

    def record_lost(out: _Output, pt: dict, why: str, host: str | None) -> dict:
        points = [_lost_point(cfg, key, why, host) for key in _missing(cfg, out, pt)]
        out.doc["points"].extend(points)
        out.doc["cluster"]["tasks"].append({"size": dict(pt), "host": host,
                                            "status": "lost", "reason": why})
        return {"status": "lost", "host": host, "points": points, "reason": why}

    def arrived(out: _Output, fut, pt: dict) -> dict | None:
        """Merge a task that ended; None when its result is gone (to be submitted again)."""
        result = exc = None
        try:
            if fut.status == "finished":
                result = fut.result(timeout=GATHER_TIMEOUT_S)
            elif fut.status == "error":
                exc = fut.exception(timeout=GATHER_TIMEOUT_S)
        except TimeoutError:
            pass
        except Exception as raised:  # it failed between the notice and the gather
            exc = raised
        if result is None and exc is None:
            # Done, but its worker died before the result was fetched (Dask would
            # compute it again, but not where no worker may run it): submit it anew.
            fut.release()
            tries = out.requeued[_size_key(pt)] = out.requeued.get(_size_key(pt), 0) + 1
            if tries <= MAX_REQUEUE:
                out.queue.insert(0, pt)
                return None
            exc = RuntimeError(f"its result was lost {tries} times with its worker")
        if result is not None:
            # Shard: every machine like the first one (also one that joined since the
            # start); every-machine: still the machine the file was started for.
            like = reference if out.machine is None else machines[out.machine]
            check_alike(like.name, like.identity, result["name"],
                        machine_identity(result["machine"], result["mlpbench"]))
            _merge(out, result, pt)
            return {"status": "ok", "host": result["name"], "points": result["points"]}
        return record_lost(out, pt, _task_error(exc), out.machine)

    total = sum(len(o.queue) for o in outputs)

    def finished(out: _Output, pt: dict, info: dict) -> None:
        save(out)
        bar.set_description(f"{info['host'] or '?'} n={pt['n']} d={pt['d']} d_h={pt['d_h']}")
        bar.update()
        if on_task is not None:
            on_task({**info, "size": dict(pt), "path": out.path})

    with tqdm(total=total, disable=not progress, unit="size", dynamic_ncols=True,
              leave=True) as bar:
        watched = time.monotonic()
        try:
            for out in outputs:
                save(out)
            fill()
            while any(o.inflight for o in outputs):
                batch = ac.next_batch(block=False)
                if not batch:
                    time.sleep(0.05)
                    if time.monotonic() - watched > WATCH_EVERY_S:
                        for out, pt, info in _watch(client, outputs, machines, lost_after_s,
                                                    submit, record_lost):
                            finished(out, pt, info)
                        watched = time.monotonic()
                    continue
                for fut in batch:
                    out = next((o for o in outputs if fut.key in o.inflight), None)
                    if out is None or out.inflight[fut.key][0] is not fut:
                        continue  # cancelled and resubmitted
                    _, pt = out.inflight.pop(fut.key)
                    if fut.status == "cancelled":
                        continue
                    info = arrived(out, fut, pt)
                    if info is not None:
                        finished(out, pt, info)
                fill()
        except BaseException:
            pending = [f for o in outputs for f, _ in o.inflight.values()]
            if pending:
                client.cancel(pending)
            for out in outputs:
                save(out)  # complete stays false; every arrived point is in the file
            raise
    result = {}
    for out in outputs:
        out.doc["complete"] = (not out.queue and not any(p.get("lost") for p in
                                                         out.doc["points"])
                               and all(not _missing(cfg, out, pt) for pt in cfg.points()))
        save(out)
        result[out.path] = out.doc
    return result


def _task_error(exc: BaseException | None) -> str:
    name = type(exc).__name__ if exc is not None else "unknown error"
    if name == "KilledWorker":
        return f"the workers running this task died ({exc})"
    return f"the task raised {name}: {exc}"


def _merge(out: _Output, result: dict, pt: dict) -> None:
    doc = out.doc
    _record_machine(doc, result)
    if doc["threads"] is None:
        doc["threads"] = result["threads"]
    have = {schema.point_key(p) for p in doc["points"]}
    overlap = _overlaps(out, result, pt)
    for i, p in enumerate(result["points"]):
        try:
            schema.validate_point(p, i)
        except schema.SchemaError as exc:
            raise InputError(f"machine {result['name']} sent a point that is not valid "
                             f"({exc}); is it running another mlpbench?") from None
        if overlap:
            p["warnings"].append(overlap)
        if schema.point_key(p) not in have:
            doc["points"].append(p)
    doc["cluster"]["tasks"].append({"size": dict(pt), "host": result["name"],
                                    "worker": result.get("worker"), "status": "ok",
                                    "seconds": round(result["ended"] - result["started"], 3)})


def _overlaps(out: _Output, result: dict, pt: dict) -> str | None:
    spans = out.intervals.setdefault(result["name"], [])
    start, end = result["started"], result["ended"]
    clash = next((s for s in spans if s[0] < end and start < s[1]), None)
    spans.append((start, end, pt))
    if clash is None:
        return None
    other = clash[2]
    return (f"timed while another benchmark task ran on machine {result['name']} "
            f"(n={other['n']} d={other['d']} d_h={other['d_h']}): two workers with a bench "
            "slot on one machine?")


def _watch(client, outputs: list[_Output], machines: dict[str, _Machine],
           lost_after_s: float, submit, record_lost) -> list[tuple]:
    """Tasks that no worker can run: a machine's worker left (every-machine: move its task
    to a new worker of the same machine, if one comes), or no bench worker is left.
    Returns ``(output, size, info)`` of each task given up as lost."""
    events = []
    now = time.monotonic()
    live = _bench_workers(client) if any(o.inflight for o in outputs) else {}
    for out in outputs:
        if not out.inflight:
            out.lost_since = None
            continue
        if out.machine is None:
            ok = bool(live)
        else:
            m = machines[out.machine]
            ok = m.worker in live
            if not ok:
                fresh = [a for a in live if a not in {x.worker for x in machines.values()}]
                try:
                    probes = _probe(client, fresh)
                except InputError:
                    probes = {}
                match = next((a for a, about in probes.items()
                              if about["name"] == m.name), None)
                if match is not None:
                    m.worker = match
                    for key, (fut, pt) in list(out.inflight.items()):
                        del out.inflight[key]
                        fut.cancel()
                        submit(out, pt)
                    ok = True
        if ok:
            out.lost_since = None
            continue
        if out.lost_since is None:
            out.lost_since = now
        elif now - out.lost_since > lost_after_s:
            who = (f"the worker of machine {out.machine} left" if out.machine
                   else "no worker with a bench slot is left")
            for key, (fut, pt) in list(out.inflight.items()):
                del out.inflight[key]
                fut.cancel()
                why = f"{who} and none came back within {lost_after_s:g} s"
                events.append((out, pt, record_lost(out, pt, why, out.machine)))
            out.queue.clear()  # the rest stays missing: --resume measures it
            out.lost_since = None
    return events


def call_on_bench(address: Any, fn: Callable, *args: Any, connect_timeout_s: float = 10.0,
                  **kwargs: Any) -> Any:
    """Run ``fn(*args, **kwargs)`` in a benchmark slot of the cluster (one machine's
    ``bench`` resource, like a sweep's task) and return its result; e.g. the ceilings
    (``peak.measure_peak``) or cold starts measured on the machines, not on the client."""
    client, owned = _connect(address, connect_timeout_s)
    try:
        fut = client.submit(_call, fn, args, kwargs, resources={RESOURCE: 1}, pure=False)
        return fut.result()
    finally:
        if owned:
            client.close()


# --- the fields a cluster sweep adds to a result file -----------------------------------------


def validate_cluster_fields(doc: Mapping[str, Any]) -> None:
    """Check the optional fields a cluster sweep writes (``cluster``, each point's
    ``host`` and ``lost``); :func:`harness.results.load_results` checks them too.
    Raises schema.SchemaError."""
    schema.validate_cluster(doc)
