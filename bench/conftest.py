"""Fixtures of the pytest-benchmark suite: thread settings, problems, references.

``pytest bench --benchmark-only`` times; under the project's default
``--benchmark-disable`` each case runs once and is checked against numpy.
"""

import pytest

from mlpbench.harness import machine
from mlpbench.harness.gate import REFERENCE, make_problem, phase_call


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    # pyproject's addopts disable benchmarks for the test run; an explicit
    # --benchmark-only means "time them", which pytest-benchmark would otherwise
    # refuse as contradicting --benchmark-disable.
    if config.getoption("benchmark_only", False):
        config.option.benchmark_enable = True


@pytest.fixture(scope="module", autouse=True)
def threads():
    """numba and BLAS threads and layer as the harness sets them (machine.DEFAULT_THREADS).

    Module-scoped, not session-scoped: the settings include the process's CPU affinity
    (pinned to DEFAULT_THREADS cores), which must be given back before the tests of
    other folders run in the same process (pytest-xdist's workers run both)."""
    with machine.configured_threads(None) as settings:
        yield settings


@pytest.fixture(scope="session")
def problem():
    """``problem((n, d, d_h, m))``: normalized float64 (p, X, y), built once per size."""
    cache = {}

    def get(dims):
        if dims not in cache:
            cache[dims] = make_problem(*dims, dtype="float64", seed=0)
        return cache[dims]

    return get


@pytest.fixture(scope="session")
def reference(problem):
    """``reference((n, d, d_h, m))``: numpy's loss_and_grad, what every case must match."""
    from mlpbench import mlp

    cache = {}

    def get(dims):
        if dims not in cache:
            cache[dims] = phase_call(mlp.get(REFERENCE), "step", problem(dims), 0.0, 0.0)()
        return cache[dims]

    return get


def pytest_benchmark_update_machine_info(config, machine_info):
    """Store the harness's machine description next to pytest-benchmark's own."""
    machine_info["mlpbench"] = {"machine": machine.machine_info(),
                                "threads": machine.thread_settings()}
