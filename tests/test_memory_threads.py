"""Memory per call (tracemalloc, numba's NRT counts) and --threads as a list."""

import json

import numpy as np
import pytest

from mlpbench.commands import main
from mlpbench.commands.common import parse_thread_list
from mlpbench.harness import memory


def test_measure_call_sees_numpy_allocations():
    got = memory.measure_call(lambda: np.ones(100_000))
    assert got["peak_bytes"] >= 800_000 and got["method"] == "tracemalloc"
    assert memory.measure_call(lambda: None)["peak_bytes"] < 10_000


def test_measure_call_counts_numba_runtime_allocations():
    import numba

    @numba.njit
    def three(n):
        return np.ones(n) + np.ones(n) + np.ones(n)

    three(4)
    got = memory.measure_call(lambda: three(4), jit=True)
    assert got["allocations"] >= 3 and "NRT" in got["method"]


def test_a_peer_is_not_measured_rather_than_zero():
    got = memory.measure_call(lambda: np.ones(10), peer=True)
    assert got["peak_bytes"] is None and got["method"].startswith("not measured")


def test_thread_lists():
    assert parse_thread_list("1,2") == [1, 2]
    assert parse_thread_list("all") == "all" and parse_thread_list("2") == 2
    for bad in ("1,1", "0", "x", ""):
        with pytest.raises(Exception):  # argparse.ArgumentTypeError
            parse_thread_list(bad)


def test_bench_threads_list_writes_one_file_per_count_with_memory(tmp_path, capsys):
    out = tmp_path / "r.json"
    status = main(["bench", "--vary", "n", "--sizes", "1,2", "--impl", "numpy", "--quick",
                   "--budget", "0.2", "--threads", "1,2", "-o", str(out), "--no-progress"])
    assert status == 0
    for t in (1, 2):
        doc = json.loads((tmp_path / f"r.t{t}.json").read_text())
        assert doc["sweep"]["threads"] == t
        assert all(p["memory"]["peak_bytes"] > 0 for p in doc["points"])
    assert not out.exists()


@pytest.mark.parametrize("argv", [["--data", "moons", "--n", "1000000000"],
                                  ["--data", "digits", "--hidden", "1000000000"]])
def test_train_refuses_sizes_that_cannot_fit(tmp_path, capsys, argv):
    status = main(["train", *argv, "--out", str(tmp_path / "t"), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2 and "cannot fit" in err and "Traceback" not in err
    assert not (tmp_path / "t").exists()


def test_a_forced_pre_avx512_openblas_kernel_is_called_out():
    from mlpbench.harness.machine import blas_kernel_warning

    forced = {"env": {"OPENBLAS_CORETYPE": "Haswell"}, "cpu_flags": ["avx2", "avx512f"],
              "blas": [{"internal_api": "openblas", "architecture": "Haswell"}]}
    warn = blas_kernel_warning(forced)
    assert warn and "OPENBLAS_CORETYPE=Haswell" in warn and "Unset it" in warn
    # Not forced, a CPU without AVX-512, or AVX-512 kernels already: nothing to say.
    assert blas_kernel_warning({**forced, "env": {"OPENBLAS_CORETYPE": None}}) is None
    assert blas_kernel_warning({**forced, "cpu_flags": ["avx2"]}) is None
    assert blas_kernel_warning({**forced, "blas": [{"internal_api": "openblas",
                                                    "architecture": "SkylakeX"}]}) is None
    assert blas_kernel_warning({}) is None
