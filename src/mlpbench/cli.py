"""The ``mlpbench`` command: one subcommand per job.

Each subcommand lives next to the code it drives and adds itself through a
``register(subparsers)`` function; modules keep heavy imports (numba, matplotlib)
inside the command so that ``mlpbench --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from mlpbench import __version__
from mlpbench.errors import UsageError

#: Modules that define subcommands, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "mlpbench.report.cli",      # run, report, compare
    "mlpbench.harness.cli",     # bench, peak, info
    "mlpbench.mlp.cli",         # check
    "mlpbench.mlp.train_cli",   # train
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlpbench",
        description="Benchmark a one-hidden-layer MLP written three ways: loops, NumPy, Numba.",
    )
    parser.add_argument("--version", action="version", version=f"mlpbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that part of the tool is not built yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = args.func(args)
    except UsageError as exc:
        print(f"mlpbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`mlpbench ... | head`): stop quietly, and point stdout
        # at devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"mlpbench {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
