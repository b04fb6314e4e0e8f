"""Output folders and atomic writes for the reports: :mod:`mlpbench.files` holds them.

Kept as a thin re-export for the callers that import them from here.
"""

from __future__ import annotations

from mlpbench.files import prepare_out_dir, write_atomic, write_text

__all__ = ["prepare_out_dir", "write_atomic", "write_text"]
