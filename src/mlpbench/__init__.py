"""mlpbench: a one-hidden-layer MLP and the derivatives it needs, written three ways.

``kernels`` holds spec part 1 (element-wise functions and their derivatives),
``mlp`` spec part 2 (forward, loss and gradient of the network); each exists as
``loops`` (pure Python), ``numpy`` (vectorized) and ``numba`` (JIT kernels).
"""

__version__ = "0.1.0"

__all__ = ["__version__", "kernels", "mlp"]


def __getattr__(name):
    # Subpackages load on first use so `mlpbench --help` does not import numba.
    if name in ("kernels", "mlp", "harness", "report"):
        import importlib

        return importlib.import_module(f"mlpbench.{name}")
    raise AttributeError(f"module 'mlpbench' has no attribute {name!r}")
