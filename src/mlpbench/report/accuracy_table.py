"""The accuracy table file (``numerics.json``, written by ``mlpbench run``) read back for
``mlpbench report --numerics``: worst ulp errors ``{dtype: {kernel: {impl: ulp}}}``."""

from __future__ import annotations

import math
from pathlib import Path

from mlpbench.errors import FileError
from mlpbench.files import read_json

__all__ = ["load_numerics"]


def _is_table(t) -> bool:
    return isinstance(t, dict) and bool(t) and all(
        isinstance(row, dict) and all(
            v is None or (isinstance(v, int | float) and not isinstance(v, bool)
                          and math.isfinite(v) and v >= 0)
            for v in row.values())
        for row in t.values())


def load_numerics(path: str | Path) -> dict:
    """An accuracy table file: ``{dtype: {kernel: {impl: ulp}}}``, or one dtype's table
    (taken as float64). Anything else is a :class:`~mlpbench.errors.FileError` naming
    the path."""
    doc = read_json(path, "numerics file")
    if _is_table(doc):
        return {"float64": doc}
    if isinstance(doc, dict) and doc and all(_is_table(t) for t in doc.values()):
        return doc
    raise FileError(f"{path} is not an accuracy table "
                    "({dtype: {kernel: {impl: ulp}}}, as mlpbench run writes numerics.json)")
