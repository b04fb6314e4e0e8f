"""The output folder rules shared by ``report``, ``compare`` and ``run``.

``write_atomic`` and ``write_text`` are re-exported from :mod:`mlpbench.atomic`.
"""

from __future__ import annotations

import re
from pathlib import Path

from mlpbench.atomic import write_atomic, write_text
from mlpbench.errors import UsageError

__all__ = ["prepare_out_dir", "write_atomic", "write_text"]

#: Files a report or a comparison writes; ``--force`` removes these, and only these.
_OWNED = re.compile(
    r"^(?:(?:scaling|speedup|throughput|phases|compile|numerics|compare)[\w.-]*\.(?:png|svg)"
    r"|report\.(?:md|html)|compare\.md|numerics\.json)$"
)


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
