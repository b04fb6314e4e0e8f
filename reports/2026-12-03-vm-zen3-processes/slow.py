"""numba's step, made slower by SLOW_FACTOR (busy-wait of that fraction of each call)."""
import os
import time

from mlpbench import mlp

_numba = mlp.get("numba").raw
FACTOR = float(os.environ.get("SLOW_FACTOR", "0"))
MLPBENCH_TRUSTED = True


def _slow(fn):
    def call(*args, **kwargs):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        end = time.perf_counter() + FACTOR * (time.perf_counter() - start)
        while time.perf_counter() < end:
            pass
        return out
    return call


forward = _slow(_numba.forward)
loss = _slow(_numba.loss)
loss_and_grad = _slow(_numba.loss_and_grad)
backward = _slow(_numba.backward)
