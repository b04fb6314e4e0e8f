"""Result files for the reports: :mod:`mlpbench.harness.results` is the one loader.

Kept as a thin re-export for the callers that import it from here; reports need at
least one point, so ``load_results`` here defaults to ``need_points=True``.
"""

from __future__ import annotations

import os

from mlpbench.harness import results
from mlpbench.harness.results import load_all

__all__ = ["load_all", "load_results"]


def load_results(path: str | os.PathLike) -> dict:
    """:func:`mlpbench.harness.results.load_results` with ``need_points=True``."""
    return results.load_results(path, need_points=True)
