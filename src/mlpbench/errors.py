"""The project's one error policy: every error a user can cause is one of these.

Library code (``kernels``, ``mlp``, ``harness``, ``report``) raises them with a
message that names the argument and says what was expected; ``mlpbench.commands``
turns any :class:`MlpbenchError` into one line on stderr and exit status 2, never a
traceback. They subclass ``ValueError``/``TypeError`` so that a caller of the Python
API can catch them the ordinary way.
"""

from __future__ import annotations

__all__ = [
    "FileError",
    "InputError",
    "InputTypeError",
    "MlpbenchError",
    "PluginError",
    "ResultFileError",
    "UsageError",
]


class MlpbenchError(Exception):
    """Base of every error mlpbench raises on purpose (never raised itself)."""


class InputError(MlpbenchError, ValueError):
    """A value of the right kind but wrong (shape, range, NaN, unknown name, ...)."""


class InputTypeError(MlpbenchError, TypeError):
    """A value of the wrong kind (a list for an array, a string for a number, ...)."""


class UsageError(InputError):
    """A mistake in how a command or function was asked to run (contradictory options,
    an output that exists without ``force``, ...)."""


class FileError(InputError):
    """A file or folder that cannot be read or written as asked (missing, not a regular
    file, no permission, disk full, ...). The message names the path and the cause."""


class ResultFileError(FileError):
    """A result file that exists but is not a valid mlpbench result file."""


class PluginError(InputError):
    """A user's implementation that cannot be loaded, or does not honour the contract."""
