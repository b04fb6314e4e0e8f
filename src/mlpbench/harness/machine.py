"""Machine metadata and thread settings, recorded in every result file.

``configure_threads`` is the one place that chooses numba's threading layer and
sets the numba and BLAS thread counts; ``thread_settings`` reports what is in
effect, ``machine_info`` describes the hardware and software.
"""

from __future__ import annotations

import os
import platform
import socket
from contextlib import contextmanager
from typing import Any

#: numba's threading layer. 'workqueue' puts its threads to sleep after a parallel
#: region; the OpenMP layer spins for a while, stealing the cores BLAS threads need
#: next (2-10x slowdowns measured on the project's 2-core machines). Measured again
#: for issue 12, 2 threads: OpenMP with its spin bounded (GOMP_SPINCOUNT=20000, ~0.3
#: ms) halves numba's small-n step when nothing else runs (its split over the hidden
#: units, impl_numba), but in a sweep next to NumPy's 2-thread OpenBLAS calls, whose
#: threads spin too, points came out 2-30x slower and erratic; under workqueue a
#: sleeping thread takes ~150 µs to wake on the project's VM, so numba's small-n step
#: stays serial there. Overridden by NUMBA_THREADING_LAYER (recorded, with
#: GOMP_SPINCOUNT), e.g. ``NUMBA_THREADING_LAYER=omp`` for that experiment.
THREADING_LAYER = "workqueue"

#: CPU flags that matter for these kernels, shown by ``mlpbench info``.
SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512vl", "avx512bw",
              "avx512_vnni", "amx_tile", "neon", "asimd", "sve")

#: Threads for numba and BLAS unless told otherwise. One: the loops are serial, so
#: one core each compares like with like, and on the shared two-core reference
#: machine two BLAS threads next to other processes made steps 3-100x slower and
#: erratic (a 1.4 ms step had medians of 35-160 ms) where one thread stayed steady.
#: Parallel speed-up is its own experiment: ``--threads 2`` (or ``all``).
DEFAULT_THREADS = 1

#: OpenBLAS kernel sets that use AVX-512 (threadpoolctl's ``architecture``).
AVX512_OPENBLAS_KERNELS = ("skylakex", "cooperlake", "sapphirerapids")


def blas_kernel_warning(machine: dict) -> str | None:
    """What to do when OpenBLAS runs kernels below the CPU's (None when it does not):
    OPENBLAS_CORETYPE forcing a pre-AVX-512 kernel set on a CPU with AVX-512. Read off
    a result file's ``machine`` (its ``env``, ``cpu_flags`` and ``blas``)."""
    env = machine.get("env") or {}
    forced = env.get("OPENBLAS_CORETYPE")
    if not forced or "avx512f" not in (machine.get("cpu_flags") or []):
        return None
    kernels = {str(b.get("architecture")) for b in machine.get("blas") or []
               if isinstance(b, dict) and b.get("internal_api") == "openblas"
               and b.get("architecture")}
    if not kernels or any(k.lower() in AVX512_OPENBLAS_KERNELS for k in kernels):
        return None
    return (f"OPENBLAS_CORETYPE={forced} makes OpenBLAS run its {', '.join(sorted(kernels))} "
            "kernels on a CPU with AVX-512: every BLAS-bound figure here is below what "
            "this machine does. Unset it (OpenBLAS then picks its AVX-512 kernels, "
            "SkylakeX) and measure again; on a 2-core AMD EPYC (Zen 5) VM that took "
            "dgemm from 48 to 74 GFLOP/s and sgemm from 93 to 190 GFLOP/s on the "
            "step's shapes, one core.")


#: Environment variables that change timings; recorded as they are, never changed.
ENV_VARS = (
    "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_VERBOSE",
    "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_PROC_BIND",
    "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER", "NUMBA_OPT",
    "NUMBA_CACHE_DIR", "NUMBA_DISABLE_JIT", "NUMBA_BOUNDSCHECK", "NUMBA_CPU_NAME",
    "NUMBA_CPU_FEATURES", "PYTHONHASHSEED",
)


def cpu_count() -> int:
    """Cores this process may run on (the affinity mask, not the host's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _cpuinfo() -> tuple[str, list[str]]:
    model, flags = platform.processor() or platform.machine(), []
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model in ("", platform.processor(), platform.machine()):
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = value.split()
    except OSError:
        pass
    return model, flags


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _read_int(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as f:
            text = f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None  # "max" (no limit) reads as None


def available_memory_bytes() -> int | None:
    """Memory this process can still take without swapping, or None if unknown.

    Linux's estimate (``MemAvailable`` in /proc/meminfo), lowered to what the
    process's cgroup (a container's memory limit) leaves, when there is one.
    """
    avail = None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError, UnicodeDecodeError):
        avail = None
    for limit_file, usage_file in (("memory.max", "memory.current"),  # cgroup v2
                                   ("memory/memory.limit_in_bytes",  # cgroup v1
                                    "memory/memory.usage_in_bytes")):
        limit = _read_int(f"/sys/fs/cgroup/{limit_file}")
        used = _read_int(f"/sys/fs/cgroup/{usage_file}")
        if limit is not None and used is not None:
            left = max(limit - used, 0)
            avail = left if avail is None else min(avail, left)
    return avail


def _load_blas() -> None:
    # numba's np.dot calls SciPy's BLAS; load it so threadpoolctl sees and limits it too.
    import numpy  # noqa: F401
    import scipy.linalg.cython_blas  # noqa: F401


def blas_info() -> list[dict]:
    """threadpoolctl's description of every BLAS/OpenMP library loaded (numpy's and SciPy's)."""
    from threadpoolctl import threadpool_info

    _load_blas()
    return threadpool_info()


def machine_info() -> dict:
    """Hardware and software description for the result file's ``machine`` field."""
    import llvmlite
    import numba
    import numpy
    import scipy

    model, flags = _cpuinfo()
    return {
        "cpu_model": model,
        "cpu_flags": flags,
        "cores": cpu_count(),
        "host_cpus": os.cpu_count(),
        "memory_bytes": _memory_bytes(),
        "loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "os": platform.platform(),
        "hostname": socket.gethostname(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "llvmlite": llvmlite.__version__,
        "scipy": scipy.__version__,
        "blas": blas_info(),
        "env": {k: os.environ.get(k) for k in ENV_VARS},
    }


def _launched_layer() -> str | None:
    from numba.np.ufunc import parallel

    return parallel._threading_layer if parallel._is_initialized else None


def _next_layer(numba) -> str:
    layer = numba.config.THREADING_LAYER
    if layer == "default":
        return numba.config.THREADING_LAYER_PRIORITY[0]
    return layer


def thread_settings() -> dict:
    """The numba thread count, threading layer and BLAS thread count now in effect,
    and the thread settings of the PyTorch/JAX peers (``peers``).

    ``threading_layer`` is the layer numba launched, or the one it will launch
    (``numba.config.THREADING_LAYER``) if no parallel code has run yet.
    """
    import numba

    libs = [lib for lib in blas_info() if lib.get("user_api") == "blas"]
    counts = sorted({lib["num_threads"] for lib in libs})
    from mlpbench.mlp.peers import peer_thread_settings

    return {
        "numba_threads": numba.get_num_threads(),
        "threading_layer": _launched_layer() or _next_layer(numba),
        "gomp_spincount": os.environ.get("GOMP_SPINCOUNT"),
        "blas_threads": counts[-1] if counts else None,
        "blas": [{"prefix": lib.get("prefix"), "internal_api": lib.get("internal_api"),
                  "num_threads": lib.get("num_threads")} for lib in libs],
        "peers": peer_thread_settings(),
    }


def max_threads() -> int:
    """Threads numba and BLAS may use without oversubscribing this process's cores."""
    import numba

    return min(cpu_count(), numba.config.NUMBA_NUM_THREADS)


def check_threads(threads: int | None) -> int:
    """Return the thread count to use: ``threads`` if valid, else :data:`DEFAULT_THREADS`."""
    limit = max_threads()
    if threads is None:
        return min(DEFAULT_THREADS, limit)
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    if threads > limit:
        raise ValueError(f"threads={threads} exceeds the {limit} cores available "
                         "(more would oversubscribe them)")
    return threads


@contextmanager
def configured_threads(threads: int | None):
    """Run a block with numba and BLAS both limited to ``threads`` (default: DEFAULT_THREADS).

    Chooses :data:`THREADING_LAYER` unless numba has already launched its threads
    or NUMBA_THREADING_LAYER says otherwise. numba's parallel regions and BLAS calls
    alternate, never nest inside one step, so both may use every core; the layer's
    threads sleep while BLAS runs. Yields :func:`thread_settings`.
    """
    import numba
    from threadpoolctl import threadpool_limits

    count = check_threads(threads)
    if _launched_layer() is None and "NUMBA_THREADING_LAYER" not in os.environ:
        numba.config.THREADING_LAYER = THREADING_LAYER
    _load_blas()
    previous = numba.get_num_threads()
    numba.set_num_threads(count)
    peer_problem = _configure_peers(count)
    pinned = _pin(count)
    try:
        with threadpool_limits(limits=count, user_api="blas"):
            settings = thread_settings()
            settings["cpu_affinity"] = sorted(pinned[1]) if pinned else None
            if peer_problem:
                settings["peers_warning"] = peer_problem
            yield settings
    finally:
        numba.set_num_threads(previous)
        if pinned:
            os.sched_setaffinity(0, pinned[0])


def _pin(count: int) -> tuple[set[int], set[int]] | None:
    """Restrict this thread, and the threads it starts, to ``count`` of its CPUs.

    Thread-count settings are requests that some libraries take loosely (JAX's CPU
    backend runs work on more threads than its single-thread flag suggests); the CPU
    affinity makes "``count`` threads" mean at most ``count`` cores for everything
    started from here. Returns (previous CPUs, pinned CPUs), or None where the OS
    has no affinity call or no restriction is needed.
    """
    if not hasattr(os, "sched_setaffinity"):
        return None
    before = os.sched_getaffinity(0)
    if count >= len(before):
        return None
    chosen = set(_idlest_cpus(sorted(before), count))
    os.sched_setaffinity(0, chosen)
    return before, chosen


def _idlest_cpus(cpus: list[int], count: int, window_s: float = 0.05) -> list[int]:
    """The ``count`` CPUs of ``cpus`` that were least busy over ``window_s`` (from
    /proc/stat), so that two benchmarks started on one machine do not both pin the first
    core and halve each other's speed; the first ``count`` where that cannot be read."""
    def busy() -> dict[int, tuple[int, int]]:
        out = {}
        with open("/proc/stat", encoding="ascii") as fh:
            for line in fh:
                name, *fields = line.split()
                if name.startswith("cpu") and name[3:].isdigit():
                    values = [int(v) for v in fields]
                    idle = values[3] + (values[4] if len(values) > 4 else 0)
                    out[int(name[3:])] = (sum(values) - idle, sum(values))
        return out

    try:
        import time

        first = busy()
        time.sleep(window_s)
        second = busy()
        load = {c: (second[c][0] - first[c][0]) / max(second[c][1] - first[c][1], 1)
                for c in cpus if c in first and c in second}
    except (OSError, ValueError, IndexError):
        return cpus[:count]
    if len(load) < count:
        return cpus[:count]
    return sorted(load, key=lambda c: (load[c], c))[:count]


def _configure_peers(count: int) -> str | None:
    """Give the optional peers (PyTorch, JAX) the same thread count as numba and BLAS.

    Returns why that was not possible, or None. JAX reads its thread setting once,
    when its backend starts; if it started earlier in this process with another
    count, its timings use that count and the result file says so.
    """
    from mlpbench.mlp import peers

    try:
        peers.configure_threads(count)
    except RuntimeError as exc:
        return str(exc)
    return None


def provenance() -> dict[str, Any]:
    """Who wrote a result file: the project version, its git commit when it runs from a
    checkout (None otherwise), the command line, and the numba flags every kernel uses."""
    import subprocess
    import sys

    from mlpbench import __version__
    from mlpbench._numba_config import JIT

    commit = None
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        done = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=5, check=False)
        if done.returncode == 0:
            commit = done.stdout.strip() or None
            dirty = subprocess.run(["git", "-C", here, "status", "--porcelain", "-uno"],
                                   capture_output=True, text=True, timeout=5, check=False)
            if dirty.returncode == 0 and dirty.stdout.strip():
                commit += "-dirty"
    except (OSError, subprocess.SubprocessError):
        pass
    flags = {k: sorted(v) if isinstance(v, set | frozenset) else v for k, v in JIT.items()}
    return {"mlpbench": __version__, "git_commit": commit,
            "command": " ".join(["mlpbench", *sys.argv[1:]]) if sys.argv else None,
            "numba_flags": flags}
