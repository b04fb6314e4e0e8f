"""Atomic file writes, used for every file mlpbench produces.

``write_atomic`` gives a writer a temporary path next to the target and renames it
over the target only once the writer has finished: readers never see a half-written
file, and a failed or interrupted write leaves the previous file in place and no
temporary file behind.

Only regular files are ever replaced: a target that is a folder, a FIFO, a device
or a socket is refused before anything is written (a rename over ``/dev/null``
would replace the device with a file). A symbolic link to a regular file is
followed: the file it points to is replaced, the link stays. Any ``OSError`` while
writing (disk full, file too large, no permission) becomes a
:class:`~mlpbench.errors.FileError` naming the file and the cause.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from mlpbench.errors import FileError

__all__ = ["describe_kind", "write_atomic", "write_bytes", "write_text"]

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link"),
          (stat.S_ISREG, "a regular file"))


def describe_kind(st: os.stat_result) -> str:
    """What kind of file ``st`` describes, in words ("a character device", ...)."""
    for test, words in _KINDS:
        if test(st.st_mode):
            return words
    return "not a regular file"


def _target(path: Path) -> Path:
    """The file to replace: ``path``, or the file its symbolic link points to.

    Raises FileError if that exists and is not a regular file.
    """
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        st = os.stat(target)
    except (FileNotFoundError, NotADirectoryError):
        return target
    except OSError as exc:
        raise FileError(f"cannot write {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        via = f" (the link {path} points to {target})" if target != path else ""
        raise FileError(f"refusing to write {path}: it is {describe_kind(st)}{via}, not a "
                        "regular file, and would be replaced")
    return target


def write_atomic(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it over
    ``path``; the temporary file keeps ``path``'s suffix (for writers that look at it).

    Returns ``path``. Raises FileError when ``path`` is not a regular file (nothing is
    written) or when writing fails with an OSError (the previous file is kept).
    """
    path = Path(path)
    target = _target(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                   suffix=target.suffix)
    except OSError as exc:
        raise FileError(f"cannot write {path}: {exc.strerror or exc} "
                        f"(creating a file in {target.parent})") from None
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        _target(path)  # again, just before the rename: it may have changed meanwhile
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise FileError(f"cannot write {path}: {exc.strerror or exc}") from exc
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, flushed to disk before the rename."""
    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    return write_atomic(path, write)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"))
