"""pytest-benchmark cases: one step (loss_and_grad) per registered implementation and size.

Every implementation of ``mlp.IMPLEMENTATIONS`` is timed (the peers where installed),
read from the registry when the suite is collected, so a new implementation is timed
without an edit here.

Grouped by size (``benchmark.group``) so each table compares implementations at
one point; ``extra_info`` carries n, d, d_h, m and the FLOP count. The raw
functions are timed on inputs normalized once (mlp.check_inputs), and each case
is called once before the timed rounds so numba compiles outside them. With
``--benchmark-disable`` (the default test run) each case runs once and is
compared with numpy, so the suite cannot rot.
"""

import pytest

from mlpbench import mlp
from mlpbench.harness import schema
from mlpbench.harness.gate import gate_rtol, max_rel_err, phase_call

#: name -> (n, d, d_h, m).
SIZES = {"tiny": (4, 16, 8, 3), "small": (64, 784, 128, 10), "base": (1024, 784, 256, 10)}
#: Sizes of the pure-Python loops, which take seconds a step beyond the tiny one.
LOOPS_SIZES = ("tiny",)
CASES = [(impl, size) for size in SIZES for impl in mlp.IMPLEMENTATIONS
         if impl != "loops" or size in LOOPS_SIZES]


@pytest.mark.parametrize("impl, size", CASES, ids=[f"{size}-{impl}" for impl, size in CASES])
def test_step(benchmark, problem, reference, impl, size):
    n, d, d_h, m = dims = SIZES[size]
    call = phase_call(mlp.get(impl), "step", problem(dims), 0.0, 0.0)
    call()  # compile (numba) and warm up before the timed rounds
    benchmark.group = f"step n={n} d={d} d_h={d_h} m={m}"
    benchmark.extra_info.update(impl=impl, n=n, d=d, d_h=d_h, m=m, dtype="float64",
                                flops=schema.flops("step", n, d, d_h, m))
    out = benchmark(call)
    assert max_rel_err(out, reference(dims)) <= gate_rtol("float64", *dims)
