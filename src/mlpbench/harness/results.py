"""Result files: the one loader and checker every command that reads them uses.

:func:`load_results` reads a file with :func:`mlpbench.files.read_json` (regular
files only, size and depth capped, every read or parse failure one FileError
naming the file) and checks it with :func:`mlpbench.harness.schema.validate`
(every field a reader uses: types, ranges, finiteness); a file that parses but
lies is refused here with a ResultFileError, never later by a reader. Writing is
:func:`mlpbench.files.write_json` (atomic).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlpbench.errors import ResultFileError
from mlpbench.files import check_writable, read_json, write_json
from mlpbench.harness import schema

__all__ = ["check_writable", "load_all", "load_results", "now_iso", "read_json",
           "write_json", "write_json_atomic"]


def now_iso() -> str:
    """The current time, ISO 8601 in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def write_json_atomic(path: str | os.PathLike, doc: Any) -> None:
    """Write ``doc`` as JSON to ``path`` atomically (non-finite numbers become null).

    The same as :func:`mlpbench.files.write_json`, under its older name.
    """
    write_json(path, doc)


def load_results(path: str | os.PathLike, *, need_points: bool = False) -> dict:
    """Load and validate the result file ``path``; return the document.

    Raises FileError when it cannot be read as JSON (missing, not a regular file,
    unreadable, too large, nested too deep, not UTF-8, not JSON) and
    ResultFileError when it is not a valid result file (another schema or
    version, a field of the wrong type or out of range) or, with ``need_points``,
    holds no point. Every message is one line naming the file.
    """
    doc = read_json(path, "result file")
    try:
        schema.validate(doc)
    except schema.SchemaError as exc:
        raise ResultFileError(f"result file {path}: {exc}") from None
    if need_points and not doc["points"]:
        raise ResultFileError(f"result file {path} holds no measured points; run the sweep "
                              "(mlpbench bench) first")
    return doc


def load_all(paths: Iterable[str | os.PathLike], *, need_points: bool = True) -> list[dict]:
    """Load several result files (:func:`load_results`); each document remembers where
    it came from under ``"_path"``."""
    docs = []
    for p in paths:
        doc = load_results(p, need_points=need_points)
        doc["_path"] = str(Path(p))
        docs.append(doc)
    return docs
