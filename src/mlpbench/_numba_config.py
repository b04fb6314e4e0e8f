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

