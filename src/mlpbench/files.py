"""Reading and writing the files mlpbench reads and writes: JSON, CSV, output folders.

Every function here turns what can go wrong with a path into one
:class:`~mlpbench.errors.FileError` whose message names the file and the cause:
missing, not a regular file (a folder, a FIFO, a device), unreadable, too large,
nested too deep, not UTF-8, not JSON, a file where a folder should be, disk full.

- :func:`read_json` reads only regular files, at most :data:`MAX_READ_BYTES`, and
  refuses documents nested deeper than :data:`MAX_DEPTH`; it never blocks on a
  FIFO nor reads a device.
- :func:`write_json`, :func:`write_csv` and :func:`write_text` write atomically
  (:mod:`mlpbench.atomic`): a reader sees the old file or the new one, a failed
  write (disk full) leaves the old one and no temporary file, and nothing that is
  not a regular file is ever replaced.
- :func:`check_writable` checks an output file before any work; :func:`output_lock`
  holds it for the length of a run, so two runs on one output cannot both pass the
  check; :func:`prepare_out_dir` is the rule for output folders.

This module is below every layer: it imports none of them.
"""

from __future__ import annotations

import csv
import errno
import fcntl
import io
import json
import math
import os
import re
import stat
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlpbench.atomic import describe_kind, write_atomic, write_bytes, write_text
from mlpbench.errors import FileError, UsageError

__all__ = [
    "MAX_DEPTH",
    "MAX_READ_BYTES",
    "check_writable",
    "ensure_folder",
    "json_text",
    "output_lock",
    "prepare_out_dir",
    "read_json",
    "read_regular",
    "write_atomic",
    "write_bytes",
    "write_csv",
    "write_json",
    "write_text",
]

#: Largest file :func:`read_json` reads (a result file of a long grid is a few MiB).
MAX_READ_BYTES = 256 * 2**20

#: Deepest nesting of arrays and objects :func:`read_json` accepts (result files: 5).
MAX_DEPTH = 64


# --- reading -------------------------------------------------------------------------------


def _cause(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def read_regular(path: str | os.PathLike, what: str = "file", *,
                 max_bytes: int = MAX_READ_BYTES) -> bytes:
    """The bytes of the regular file ``path`` (at most ``max_bytes``), or a FileError.

    Anything that is not a regular file is refused before it is opened, so a FIFO
    never blocks and a device is never read; the check is repeated on the open file.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise FileError(f"cannot read {what} {path}: {_cause(exc)}") from None
    if not stat.S_ISREG(st.st_mode):
        raise FileError(f"{what} {path} is not a regular file (it is {describe_kind(st)})")
    if st.st_size > max_bytes:
        raise FileError(f"{what} {path} is too large to read ({st.st_size / 2**20:.0f} MiB; "
                        f"the limit is {max_bytes / 2**20:.0f} MiB)")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise FileError(f"cannot read {what} {path}: {_cause(exc)}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced since the check
            raise FileError(f"{what} {path} is not a regular file")
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise FileError(f"cannot read {what} {path}: {_cause(exc)}") from None
    finally:
        os.close(fd)
    if size > max_bytes:  # it grew while we read it
        raise FileError(f"{what} {path} is too large to read (over "
                        f"{max_bytes / 2**20:.0f} MiB)")
    return b"".join(chunks)


def _json_error(exc: json.JSONDecodeError) -> str:
    # exc.msg can end in "starting at" (the position follows in str(exc)).
    where = f"line {exc.lineno}, column {exc.colno}"
    msg = exc.msg
    return f"{msg} {where}" if msg.endswith(" at") else f"{msg} at {where}"


def _depth_exceeds(doc: Any, limit: int) -> bool:
    stack = [(doc, 1)]
    while stack:
        obj, depth = stack.pop()
        if isinstance(obj, dict):
            children = obj.values()
        elif isinstance(obj, list):
            children = obj
        else:
            continue
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def read_json(path: str | os.PathLike, what: str = "file", *,
              max_bytes: int = MAX_READ_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON document in the regular file ``path``; any problem is one FileError.

    ``what`` names the file in messages ("result file", "peak file", ...). Refused:
    a missing path, anything but a regular file, a file over ``max_bytes``, one that
    cannot be read (permission), is empty, not UTF-8, not JSON, or nested deeper
    than ``max_depth``.
    """
    path = Path(path)
    data = read_regular(path, what, max_bytes=max_bytes)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileError(f"{what} {path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} "
                        f"at offset {exc.start}); is it a JSON file?") from None
    if not text.strip():
        raise FileError(f"{what} {path} is empty")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileError(f"{what} {path} is not valid JSON: {_json_error(exc)}") from None
    except RecursionError:
        raise FileError(f"{what} {path} is nested too deep to be read "
                        f"(the limit is {max_depth} levels)") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise FileError(f"{what} {path} is not valid JSON: {exc}") from None
    if _depth_exceeds(doc, max_depth):
        raise FileError(f"{what} {path} is nested too deep "
                        f"(more than {max_depth} levels of arrays and objects)")
    return doc


# --- writing -------------------------------------------------------------------------------


def _finite_or_none(obj: Any) -> Any:
    # JSON has no inf/NaN; a non-finite number becomes null rather than invalid JSON.
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite_or_none(v) for v in obj]
    return obj


def json_text(doc: Any, indent: int | None = 1) -> str:
    """``doc`` as JSON text ending in a newline; non-finite numbers become null."""
    return json.dumps(_finite_or_none(doc), indent=indent, allow_nan=False) + "\n"


def write_json(path: str | os.PathLike, doc: Any, *, indent: int | None = 1) -> Path:
    """Write ``doc`` as JSON to ``path`` atomically (non-finite numbers become null)."""
    return write_text(path, json_text(doc, indent))


def write_csv(path: str | os.PathLike, rows: Iterable[Sequence[Any]],
              header: Sequence[str] | None = None) -> Path:
    """Write ``rows`` (and ``header`` first, if given) as CSV to ``path`` atomically."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return write_text(path, buf.getvalue())


# --- outputs -------------------------------------------------------------------------------


def ensure_folder(folder: str | os.PathLike, what: str = "the output folder") -> Path:
    """Create ``folder`` and its parents as needed; return it as a Path.

    A file in the way (the folder itself, or one of its parents, is a file) or any
    other failure is a FileError naming ``what`` and the cause.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in [folder, *folder.parents]
                        if os.path.lexists(p) and not p.is_dir()), None)
        where = f"{blocker} is a file, not a folder" if blocker else "a file is in the way"
        raise FileError(f"{what} cannot be created: {where}") from None
    except OSError as exc:
        raise FileError(f"{what} cannot be created: {_cause(exc)}") from None
    return folder


def check_writable(path: str | os.PathLike, *, force: bool = False, resume: bool = False,
                   what: str = "output") -> Path:
    """Check before any work that the file ``path`` can be written; return it as a Path.

    Refused (FileError): a folder, a FIFO, a device or anything else that is not a
    regular file; a parent that is a file; a folder where files cannot be created.
    An existing file is a UsageError unless ``force`` (overwrite) or ``resume``.
    The parent folders are created. To keep a second run from passing the same
    check while the first one works, hold :func:`output_lock` around the check and
    the work.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        st = None  # a parent is a file: ensure_folder says which
    except OSError as exc:
        raise FileError(f"{what} {path} cannot be checked: {_cause(exc)}") from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise FileError(f"{what} {path} is a folder; give a file name such as "
                            f"{path}/bench.json")
        if not stat.S_ISREG(st.st_mode):
            raise FileError(f"{what} {path} is {describe_kind(st)}, not a regular file; "
                            "mlpbench writes only regular files")
        if not (force or resume):
            raise UsageError(f"{what} {path} already exists; use --resume to continue it "
                             "or --force to overwrite it")
    folder = ensure_folder(path.parent, f"the folder of {what} {path}")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise FileError(f"cannot write in {folder}: {_cause(exc)}") from None
    return path


def _lock_path(path: Path) -> Path:
    return path.parent / f".{path.name}.lock"


@contextmanager
def output_lock(path: str | os.PathLike, what: str = "output") -> Iterator[Path]:
    """Hold an exclusive lock on the output ``path`` for the block (``.NAME.lock`` beside it).

    A second process asking for the same output while the block runs gets a
    FileError at once instead of passing the "already exists" check and overwriting
    the first one's results. The lock is an ``flock``: the system releases it when the
    process dies, so a killed run never blocks the next one (which removes the stale
    lock file). The lock file is removed when the block ends.
    """
    path = Path(path)
    ensure_folder(path.parent, f"the folder of {what} {path}")
    lock = _lock_path(path)
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
                         | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as exc:
            raise FileError(f"cannot create the lock file {lock} for {what} {path}: "
                            f"{_cause(exc)}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise FileError(f"{what} {path} is being written by another mlpbench "
                                f"process (it holds {lock}); wait for it to finish or "
                                "choose another output") from None
            raise FileError(f"cannot lock {what} {path}: {_cause(exc)}") from None
        # The previous holder may have removed the file between our open and our lock:
        # then we hold a lock on a file nobody else can see. Take the lock again.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except OSError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield path
    finally:
        try:
            os.unlink(lock)  # while still holding it (see above)
        except OSError:
            pass
        os.close(fd)


#: Files a report or a comparison writes; ``--force`` removes these, and only these.
REPORT_FILES = re.compile(
    r"^(?:(?:scaling|speedup|throughput|phases|compile|numerics|compare|winner|costs|memory"
    r"|threads|machines)[\w.-]*\.(?:png|svg)"
    r"|report\.(?:md|html)|compare\.md|numerics\.json)$"
)


def _owns(owned: re.Pattern | Collection[str] | Callable[[str], bool]) -> Callable[[str], bool]:
    if isinstance(owned, re.Pattern):
        return lambda name: owned.match(name) is not None
    if callable(owned):
        return owned
    names = frozenset(owned)
    return names.__contains__


def prepare_out_dir(out: str | os.PathLike, force: bool,
                    owned: re.Pattern | Collection[str] | Callable[[str], bool] = REPORT_FILES,
                    what: str = "output folder") -> Path:
    """Create the folder ``out``, or accept it if empty; a non-empty folder needs ``force``.

    With ``force``, the regular files in ``out`` that ``owned`` names (the files a
    previous run of the same command wrote: a pattern their names match, a collection
    of names, or a predicate on a name) are removed first, so the new ones replace
    them instead of mixing with them; other files are left alone. A path that is a
    file, or lies under one, is a FileError.
    """
    owns = _owns(owned)
    out = Path(out)
    try:
        st = os.stat(out)
    except (FileNotFoundError, NotADirectoryError):
        st = None
    except OSError as exc:
        raise FileError(f"{what} {out} cannot be checked: {_cause(exc)}") from None
    if st is None:
        return ensure_folder(out, f"{what} {out}")
    if not stat.S_ISDIR(st.st_mode):
        raise FileError(f"--out {out} exists and is not a folder (it is {describe_kind(st)})")
    try:
        entries = list(out.iterdir())
    except OSError as exc:
        raise FileError(f"{what} {out} cannot be listed: {_cause(exc)}") from None
    if entries and not force:
        raise UsageError(f"{what} {out} exists and is not empty; pass --force to replace "
                         "what a previous run wrote there, or choose another --out")
    for entry in entries:
        if owns(entry.name) and entry.is_file() and not entry.is_symlink():
            try:
                entry.unlink()
            except OSError as exc:
                raise FileError(f"cannot remove the old {entry}: {_cause(exc)}") from None
    return out
