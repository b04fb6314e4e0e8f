"""Atomic file writes and the output folder rules shared by ``report``, ``compare`` and ``run``."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from mlpbench.errors import UsageError

#: Files a report or a comparison writes; ``--force`` removes these, and only these.
_OWNED = re.compile(
    r"^(?:(?:scaling|speedup|throughput|phases|compile|numerics|compare)[\w.-]*\.(?:png|svg)"
    r"|report\.(?:md|html)|compare\.md|numerics\.json)$"
)


def write_atomic(path: Path, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file next to ``path``, then rename it over ``path``.

    Readers never see a half-written file, and a failed write leaves the old file in place.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def prepare_out_dir(out: Path, force: bool) -> Path:
    """Create ``out``, or accept it if empty; a non-empty folder needs ``force``.

    With ``force``, the files a previous report or comparison wrote there are removed
    first, so the new figures replace the old ones instead of mixing with them; other
    files are left alone.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder")
    if out.is_dir():
        entries = [e for e in out.iterdir()]
        if entries and not force:
            raise UsageError(f"output folder {out} exists and is not empty; "
                             "pass --force to replace its report, or choose another --out")
        for entry in entries:
            if entry.is_file() and _OWNED.match(entry.name):
                entry.unlink()
    else:
        out.mkdir(parents=True)
    return out
