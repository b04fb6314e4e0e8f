"""What a numba user pays before the first fast call: compilation, or loading the cache.

A sweep's first call of an implementation mixes several costs depending on what
the process has done before. This module measures them apart, each in a fresh
Python process with its own, initially empty, numba cache directory:

1. **compile**: first step with an empty cache (type inference + LLVM, then the
   machine code is written to the cache);
2. **cached**: first step in a second new process, the cache now warm (loading
   and linking the cached machine code, plus numba's one-time start-up);
3. **warm**: the second step in that process (the steady per-call cost).

``jit_counters`` counts, within this process, the signatures mlpbench's numba
functions have compiled or loaded from the cache, so a sweep can say which of the
two its first call did.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from typing import Any

#: Runs in the child process: argv = impl, dtype, n, d, d_h, m.
_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from mlpbench import mlp
t1 = time.perf_counter()
name, dtype = sys.argv[1], sys.argv[2]
n, d, d_h, m = map(int, sys.argv[3:7])
p, X, y = mlp.check_inputs(*mlp.make_problem(n, d, d_h, m, seed=0, dtype=dtype))
raw = mlp.get(name).raw
t2 = time.perf_counter()
if "numba" in sys.modules:  # numba's one-time start-up, timed apart (see below)
    from numba.core.registry import cpu_target
    cpu_target.target_context.refresh()
    cpu_target.typing_context.refresh()
t2b = time.perf_counter()
raw.loss_and_grad(p, X, y, 0.0, 0.0)
t3 = time.perf_counter()
raw.loss_and_grad(p, X, y, 0.0, 0.0)
t4 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_s": t3 - t2, "init_s": t2b - t2,
                  "second_s": t4 - t3}))
"""


def jit_counters() -> tuple[int, int]:
    """(signatures compiled, signatures loaded from the on-disk cache) so far in this process,
    summed over the numba functions of the mlpbench modules loaded."""
    try:
        from numba.core.dispatcher import Dispatcher
    except ImportError:  # pragma: no cover - numba is a core dependency
        return 0, 0
    compiled = loaded = 0
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "mlpbench" or name.startswith("mlpbench.")):
            continue
        for obj in list(vars(module).values()):
            if isinstance(obj, Dispatcher):
                hits = sum(obj.stats.cache_hits.values())
                loaded += hits
                compiled += max(len(obj.overloads) - hits, 0)
    return compiled, loaded


def _child(args: list[str], cache_dir: str, timeout: float) -> dict[str, float]:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    proc = subprocess.run([sys.executable, "-c", _CHILD, *args], env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"cold-start child for {args[:2]} failed: {last}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_cold_start(impl: str, dtype: str, sizes: Mapping[str, int],
                       timeout: float = 300.0) -> dict[str, Any]:
    """Compile time, cached first call and warm call of ``impl``'s step, from new processes.

    Returns ``{"impl", "dtype", "n", "d", "d_h", "m", "compile_s", "cached_first_s",
    "warm_s", "import_s", "numba_init_s", "cached_load_s"}``; ``compile_s`` is the first
    call with an empty cache minus a warm call (what compilation adds),
    ``cached_first_s`` the whole first call with a warm cache (the issue's "first call in
    a new process"), of which ``numba_init_s`` is numba's own one-time start-up (its
    typing and lowering registries, which import scipy.linalg for np.dot: paid by the
    first compile or cache load of any numba function, ~0.3 s here, measured on a
    trivial cached function too) and ``cached_load_s`` the rest: loading this step's
    cached machine code and running it once.
    """
    args = [impl, dtype, *(str(sizes[k]) for k in ("n", "d", "d_h", "m"))]
    with tempfile.TemporaryDirectory(prefix="mlpbench-numba-cache-") as cache_dir:
        cold = _child(args, cache_dir, timeout)
        cached = _child(args, cache_dir, timeout)
    return {"impl": impl, "dtype": dtype, **{k: int(sizes[k]) for k in ("n", "d", "d_h", "m")},
            "compile_s": max(cold["first_s"] - cached["second_s"], 0.0),
            "cached_first_s": cached["first_s"], "warm_s": cached["second_s"],
            "import_s": cached["import_s"], "numba_init_s": cached["init_s"],
            "cached_load_s": max(cached["first_s"] - cached["init_s"], 0.0)}


def measure_all(impls: Iterable[str], dtypes: Iterable[str], sizes: Mapping[str, int],
                timeout: float = 300.0) -> list[dict[str, Any]]:
    """:func:`measure_cold_start` for each implementation and dtype (one record each)."""
    return [measure_cold_start(i, dt, sizes, timeout) for i in impls for dt in dtypes]
