"""Errors shared by the command line and the public API."""


class UsageError(Exception):
    """A user mistake on the command line (bad option, missing file, ...).

    The CLI prints it as one line, ``mlpbench CMD: error: MESSAGE``, and exits 2.
    """
