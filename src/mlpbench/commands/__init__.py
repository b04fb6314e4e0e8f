"""The ``mlpbench`` command: parser, dispatch, and the one place errors become exit codes.

One module per subcommand (:data:`COMMANDS`), each with ``register(subparsers)`` (its
options; shared ones come from :mod:`.common`) and ``run(args) -> int`` (imports the
working layers and does the job). :func:`main` maps what they raise:

- any :class:`~mlpbench.errors.MlpbenchError`, a bad option, an ``OSError`` (disk full,
  permission) or a ``MemoryError``: one line ``mlpbench CMD: error: ...`` on stderr,
  exit 2, never a traceback;
- Ctrl-C (exit 130) and SIGTERM (exit 143, raised as :class:`Terminated`, a
  KeyboardInterrupt, so it unwinds the same way): one line, with the command's
  ``args.interrupt_note`` (e.g. where the finished points are) when it set one;
- a closed stdout (``mlpbench ... | head``): quiet, exit 0.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import threading

__all__ = ["COMMANDS", "Terminated", "build_parser", "main"]

#: The subcommands, in the order ``mlpbench --help`` lists them; each is
#: ``mlpbench.commands.<name>`` (``-`` becomes ``_`` in the module name).
COMMANDS = ("run", "bench", "report", "compare", "check", "train", "peak", "info",
            "new-impl", "export")

#: Exit status of a command stopped by Ctrl-C / SIGTERM (128 + the signal number).
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that a run stops exactly as on Ctrl-C:
    every ``finally`` runs and a sweep keeps its finished points."""


class _ParseError(Exception):
    def __init__(self, prog: str, message: str):
        super().__init__(message)
        self.prog = prog


def _parser_class():
    import argparse

    class Parser(argparse.ArgumentParser):
        """argparse, with a bad option reported as one line (raised, not exited)."""

        def error(self, message):
            raise _ParseError(self.prog, message)

    return Parser


def build_parser():
    """The ``mlpbench`` parser with every subcommand of :data:`COMMANDS`."""
    from mlpbench import __version__

    parser = _parser_class()(
        prog="mlpbench",
        description="Benchmark a one-hidden-layer MLP and its derivatives, written several "
                    "ways (pure Python loops, NumPy, Numba, and the PyTorch/JAX peers): "
                    "check that they agree, time them as n, d and d_h grow, report.")
    parser.add_argument("--version", action="version", version=f"mlpbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"mlpbench.commands.{name.replace('-', '_')}")
        module.register(sub)
    return parser


def _on_sigterm(signum, frame):
    raise Terminated()


def _install_signals() -> dict:
    """Ctrl-C raises KeyboardInterrupt, SIGTERM raises Terminated; returns what to restore.

    Only the main thread may set handlers (``main`` called from a worker thread keeps
    the process's own); an ignored SIGINT (a background job) stays ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        return {}
    saved = {}
    if signal.getsignal(signal.SIGINT) is signal.SIG_DFL:
        saved[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
    if hasattr(signal, "SIGTERM"):
        saved[signal.SIGTERM] = signal.signal(signal.SIGTERM, _on_sigterm)
    return saved


def _restore_signals(saved: dict) -> None:
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def _ignore_signals(saved: dict) -> None:
    for signum in saved:
        signal.signal(signum, signal.SIG_IGN)


def _say(command: str | None, text: str) -> None:
    prefix = f"mlpbench {command}" if command else "mlpbench"
    print(f"{prefix}: {' '.join(str(text).split())}", file=sys.stderr, flush=True)


def _os_error_text(exc: OSError) -> str:
    why = exc.strerror or str(exc) or type(exc).__name__
    names = [n for n in (exc.filename, exc.filename2) if n is not None]
    return f"{' -> '.join(map(os.fsdecode, names))}: {why}" if names else why


def main(argv: list[str] | None = None) -> int:
    """Run ``mlpbench ARGV``; return the exit status (0 ok, 1 a failed check or a slower
    comparison, 2 bad input, 130/143 interrupted). Never raises for the user's errors."""
    saved = _install_signals()  # first: a Ctrl-C while the imports below run is handled
    args = None
    command = None
    try:
        from mlpbench.errors import MlpbenchError

        try:
            parser = build_parser()
            args = parser.parse_args(argv)
            command = args.command
            status = args.func(args)
        except _ParseError as exc:
            prog = exc.prog
            print(f"{prog}: error: {exc} (see `{prog} --help`)", file=sys.stderr)
            return 2
        except SystemExit as exc:  # --help and --version
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        except MlpbenchError as exc:
            _say(command, f"error: {exc}")
            # 2, or the error's own status (a plugin's wrong result: 1, mlp.plugins)
            return int(getattr(exc, "exit_status", 2))
        except BrokenPipeError:
            # The reader went away (`mlpbench ... | head`): stop quietly, and point stdout
            # at devnull so the interpreter's final flush does not raise again.
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            except (OSError, ValueError):  # stdout is not a file (embedded, captured)
                pass
            return 0
        except OSError as exc:
            _say(command, f"error: {_os_error_text(exc)}")
            return 2
        except MemoryError as exc:
            detail = f": {exc}" if str(exc) else ""
            _say(command, f"error: out of memory{detail}; try smaller sizes")
            return 2
        return int(status or 0)
    except KeyboardInterrupt as exc:
        _ignore_signals(saved)  # a second Ctrl-C while we report the first one
        note = getattr(args, "interrupt_note", None)
        terminated = isinstance(exc, Terminated)
        _say(command, ("terminated" if terminated else "interrupted")
             + (f"; {note}" if note else ""))
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    finally:
        _restore_signals(saved)
