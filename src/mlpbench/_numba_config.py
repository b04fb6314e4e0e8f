"""Numba compilation flags, set once here and used by every ``@njit`` in mlpbench.

``fastmath`` is restricted to flags that keep inf and NaN semantics: softmax and
logsumexp rely on ``exp(-inf) == 0`` (docs/math.md#stability). ``JIT_STRICT`` is for kernels whose
accuracy is tested to a few ulp against mpmath, where ``afn`` (approximate libm
calls) and reassociation are not allowed.
"""

FASTMATH = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})

#: Serial kernels on hot paths: cached on disk, GIL released, fast math without 'nnan'/'ninf'.
JIT = {"cache": True, "nogil": True, "fastmath": set(FASTMATH), "error_model": "numpy"}

#: Parallel drivers (prange). Use only where a benchmark shows it pays.
JIT_PARALLEL = {**JIT, "parallel": True}

#: Accuracy-critical kernels: IEEE semantics, still cached. ``fastmath=False`` is set
#: explicitly because numba gives a callee that leaves it unset its caller's flags: a
#: strict kernel called from a ``JIT`` one would be compiled with fast math.
JIT_STRICT = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": False}

#: numba's threading layers whose threads spin for a while after a parallel region, so
#: that the next region starts in ~2 µs; a layer whose threads sleep (workqueue) takes
#: ~150 µs to wake one on the project's VM, more than a small-n step.
SPINNING_LAYERS = frozenset({"omp", "tbb"})

#: The layer for one thread ('workqueue': no region is worth a spinning thread) and for
#: more ('omp', spinning at most ~0.3 ms after a region: see GOMP_SPINCOUNT).
THREADING_LAYERS = {1: "workqueue", 2: "omp"}

#: GNU OpenMP's spin count after a region when the user has not set one: 20000 spins
#: burn ~0.3 ms of a core (measured: 2000 0.13 ms, 20000 0.34 ms, the default 300000
#: 3.8 ms). Short enough that a spinning thread does not fight the BLAS call that comes
#: next for long, long enough to bridge the gaps between the regions of a step and
#: between steps.
GOMP_SPINCOUNT = "20000"


def threading_layer_for(threads: int) -> str:
    """The threading layer mlpbench chooses for ``threads`` numba threads."""
    return THREADING_LAYERS[1 if threads <= 1 else 2]
