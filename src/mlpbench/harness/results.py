"""Reading and writing result files: atomic writes, checked loads.

A result file is replaced in one step (a temporary file in the same folder, then
``os.replace``), so an interruption at any moment leaves either the previous
version or the new one, never a torn file.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlpbench.atomic import write_text
from mlpbench.errors import UsageError
from mlpbench.harness import schema


def now_iso() -> str:
    """The current time, ISO 8601 in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _finite_or_none(obj: Any) -> Any:
    # JSON has no inf/NaN; a non-finite number becomes null rather than invalid JSON.
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite_or_none(v) for v in obj]
    return obj


def write_json_atomic(path: str | os.PathLike, doc: Any) -> None:
    """Write ``doc`` as JSON to ``path`` atomically (non-finite numbers become null)."""
    text = json.dumps(_finite_or_none(doc), indent=1, allow_nan=False) + "\n"
    write_text(path, text)


def check_writable(path: str | os.PathLike, *, force: bool = False, resume: bool = False) -> Path:
    """Check before any work that ``path`` can be written; raise UsageError if not.

    An existing file is an error unless ``force`` (overwrite) or ``resume``.
    """
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"output {path} is a folder; give a file name such as {path}/bench.json")
    if path.exists() and not (force or resume):
        raise UsageError(f"output {path} already exists; use --resume to continue it "
                         "or --force to overwrite it")
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise UsageError(f"cannot write in {folder}: {exc.strerror or exc}") from None
    return path


def read_json(path: str | os.PathLike, what: str = "file") -> Any:
    """Load JSON from ``path``; a missing or malformed file is a UsageError."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise UsageError(f"{what} {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {what} {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{what} {path} is not valid JSON "
                         f"({exc.msg}, line {exc.lineno})") from None


def load_results(path: str | os.PathLike) -> dict:
    """Load and validate a result file; problems are one-line UsageErrors."""
    doc = read_json(path, "result file")
    try:
        return schema.validate(doc)
    except schema.SchemaError as exc:
        raise UsageError(f"{path}: {exc}") from None
