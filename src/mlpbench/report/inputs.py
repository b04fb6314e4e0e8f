"""Read result files for the reports, turning every kind of bad input into one clear line."""

from __future__ import annotations

import json
from pathlib import Path

from mlpbench.errors import UsageError
from mlpbench.harness import schema


def load_results(path: str | Path) -> dict:
    """Load and validate one result file.

    Raises :class:`UsageError` when the file is missing, not JSON, of another schema
    or schema version, or holds no points.
    """
    path = Path(path)
    if not path.exists():
        raise UsageError(f"result file {path} does not exist")
    if not path.is_file():
        raise UsageError(f"result file {path} is not a file")
    try:
        with path.open(encoding="utf-8") as fh:
            doc = json.load(fh)
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not a result file: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not JSON: {exc.msg} at line {exc.lineno}") from None
    try:
        schema.validate(doc)
    except schema.SchemaError as exc:
        raise UsageError(f"{path}: {exc}") from None
    if not doc["points"]:
        raise UsageError(f"{path} holds no measured points; run the sweep (mlpbench bench) first")
    return doc


def load_all(paths: list[str | Path]) -> list[dict]:
    """Load several result files; each doc remembers where it came from under ``"_path"``."""
    docs = []
    for p in paths:
        doc = load_results(p)
        doc["_path"] = str(p)
        docs.append(doc)
    return docs
