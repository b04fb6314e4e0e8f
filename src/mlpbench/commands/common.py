"""Options shared by several subcommands, declared once.

Lists (``--sizes``, ``--impl``, ``--dtype``, ...) accept ``1,16,256`` and ``1 16 256``
alike and refuse empty items (``1,,2``); ``--threads`` takes a count or ``all`` in every
command; ``--impl all`` stands for every registered implementation and ``--impl NAME=TARGET``
adds the user's own (``package.module[:attr]`` or ``path/to/file.py[:attr]``, see
docs/plugins.md), registered and loaded before the work starts; output folders and
files come with one ``--force``. Nothing here imports numpy or numba: ``--help`` stays
fast, and the registry is read only when a command runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

from mlpbench.errors import UsageError

__all__ = [
    "ALL",
    "ListAction",
    "add_dtypes",
    "add_force",
    "add_impl",
    "add_out_dir",
    "add_out_file",
    "add_threads",
    "implementations",
    "int_list",
    "name_list",
    "one_implementation",
    "parse_threads",
    "register_plugin",
    "resolve_threads",
    "split_items",
]

#: ``--impl all`` and ``--threads all``.
ALL = "all"

#: What the help of every list option says about the accepted forms.
LIST_FORMS = "comma- or space-separated"


def split_items(tokens: str | Sequence[str]) -> list[str]:
    """The items of a list option given as one or several command-line words.

    ``"1,16,256"``, ``["1", "16", "256"]``, ``"1 16 256"`` and ``"1, 16, 256"`` all give
    ``["1", "16", "256"]``. An empty item (``"1,,2"``, ``"1,"``, ``""``) is an error:
    it is almost always a typo, and dropping it silently would hide one.
    """
    if isinstance(tokens, str):
        tokens = [tokens]
    items: list[str] = []
    for token in tokens:
        for piece in token.split(","):
            words = piece.split()
            if not words:
                raise ValueError(f"empty item in {','.join(tokens)!r}; separate the items "
                                 "with one comma or with spaces, e.g. 1,16,256")
            items.extend(words)
    return items


def int_list(tokens: str | Sequence[str], minimum: int = 1) -> list[int]:
    """Integers >= ``minimum`` from :func:`split_items`; ValueError names the bad item."""
    values = []
    for item in split_items(tokens):
        try:
            value = int(item)
        except ValueError:
            raise ValueError(f"expected integers like 1,16,256, got {item!r}") from None
        if value < minimum:
            what = "positive integers" if minimum == 1 else f"integers >= {minimum}"
            raise ValueError(f"sizes must be {what}, got {value}")
        values.append(value)
    return values


def name_list(tokens: str | Sequence[str]) -> list[str]:
    """Names from :func:`split_items` (order kept)."""
    return split_items(tokens)


class ListAction(argparse.Action):
    """A list option: ``nargs='+'`` words parsed by ``parse`` into one flat list.

    Repeating the option extends the list (``--impl numpy --impl numba``); an item the
    parser refuses is an argparse error (one line, exit 2, see ``commands.main``).
    """

    def __init__(self, option_strings, dest, parse: Callable[[list[str]], list] = name_list,
                 **kwargs):
        kwargs.setdefault("nargs", "+")
        super().__init__(option_strings, dest, **kwargs)
        self.parse = parse

    def __call__(self, parser, namespace, values, option_string=None):
        try:
            items = self.parse(list(values))
        except ValueError as exc:
            raise argparse.ArgumentError(self, str(exc)) from None
        current = getattr(namespace, self.dest, None)
        if current is None or current is self.default:
            current = []
        setattr(namespace, self.dest, [*current, *items])


def add_int_list(parser, *flags, help: str, minimum: int = 1, **kwargs):
    """An integer list option (``--sizes 1,16,256`` or ``--sizes 1 16 256``)."""
    kwargs.setdefault("metavar", "LIST")
    return parser.add_argument(*flags, action=ListAction,
                               parse=lambda t: int_list(t, minimum), help=help, **kwargs)


#: What the help of ``--impl`` says about a user's own implementation.
PLUGIN_FORM = ("NAME=TARGET adds your own implementation, TARGET being package.module[:attr] "
               "or path/to/file.py[:attr] (docs/plugins.md)")


def add_impl(parser, *, default: str | None = ALL) -> None:
    """``--impl``: implementation names, ``all`` for every registered implementation, and
    ``NAME=TARGET`` for a user's own."""
    shown = f" (default: {default})" if default else ""
    parser.add_argument(
        "--impl", action=ListAction, metavar="LIST", default=None,
        help=f"implementations, {LIST_FORMS}, or 'all': every registered implementation, "
             f"the PyTorch/JAX peers included where installed (`mlpbench info` lists them); "
             f"{PLUGIN_FORM}{shown}")


def register_plugin(item: str) -> str:
    """Register and load ``NAME=TARGET`` (an ``--impl`` item); return NAME.

    :func:`mlpbench.mlp.registry.register_spec`: the target is loaded now, so one that
    cannot be imported, or lacks a function of the contract, stops the command before
    any work (PluginError: one line, exit 2); it is also put into
    ``$MLPBENCH_IMPLEMENTATIONS``, so that the command's child processes know it.
    """
    from mlpbench.mlp import registry

    return registry.register_spec(item, export=True, what=f"--impl {item}")


def implementations(names: Sequence[str] | None, default: str = ALL) -> tuple[str, ...]:
    """``--impl`` as given, ``all`` standing for every registered name, ``NAME=TARGET``
    for a user's implementation (registered and loaded here, :func:`register_plugin`);
    duplicates dropped.

    Unknown names are left for the layer that uses them to refuse (it knows what it can
    load, e.g. the sweep's injected implementations).
    """
    names = list(names) if names else [default]
    names = [register_plugin(n) if "=" in n else n for n in names]
    if ALL in names:
        from mlpbench import mlp

        names = [*mlp.IMPLEMENTATIONS, *(n for n in names if n != ALL)]
    return tuple(dict.fromkeys(names))


def one_implementation(text: str) -> str:
    """One ``--impl`` (a registered name, or ``NAME=TARGET``) for the commands that take one."""
    try:
        items = split_items(text)
    except ValueError as exc:
        raise UsageError(f"--impl: {exc}") from None
    if len(items) != 1:
        raise UsageError(f"--impl takes one implementation here, got {len(items)}: {text!r}")
    if "=" in items[0]:
        return register_plugin(items[0])
    from mlpbench import mlp
    from mlpbench.checks import check_choice

    return check_choice("implementation", items[0], mlp.IMPLEMENTATIONS)


def check_implementations(names: Sequence[str]) -> tuple[str, ...]:
    """``names`` if every one is registered, else a UsageError listing the valid ones."""
    from mlpbench import mlp

    unknown = [n for n in names if n not in mlp.IMPLEMENTATIONS]
    if unknown:
        raise UsageError(f"unknown implementation(s) {', '.join(unknown)}; expected one of "
                         f"{', '.join(mlp.IMPLEMENTATIONS)}")
    return tuple(names)


def add_dtypes(parser, *, default: str = "float64") -> None:
    """``--dtype``: float32, float64 or both."""
    parser.add_argument("--dtype", action=ListAction, metavar="LIST", default=None,
                        help=f"float32, float64 or both, {LIST_FORMS} (default: {default})")


def add_activation(parser) -> None:
    """``--activation``: the hidden units' function (docs/math.md#hidden-activations)."""
    from mlpbench.mlp.validation import ACTIVATIONS, DEFAULT_ACTIVATION

    parser.add_argument("--activation", default=None, metavar="NAME",
                        help=f"hidden activation: {', '.join(ACTIVATIONS)} "
                             f"(default: {DEFAULT_ACTIVATION})")


def parse_threads(text: str) -> int | str:
    """``--threads``: a positive count, or ``all`` (resolved when the command runs)."""
    if text.strip() == ALL:
        return ALL
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive number or 'all', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a positive number or 'all', got {value}: threads must be at least 1")
    return value


def parse_thread_list(text: str) -> int | str | list[int | str]:
    """``--threads 1,2``: one sweep per thread count (each a count or ``all``); a single
    count is returned as it is, as :func:`parse_threads` gives it."""
    items = split_items(text)
    if not items:
        raise argparse.ArgumentTypeError("expected thread counts like 1 or 1,2 or all")
    values = [parse_threads(item) for item in items]
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"a thread count is listed twice: {text!r}")
    return values if len(values) > 1 else values[0]


def add_threads(parser, *, default: int | None, default_text: str,
                several: bool = False) -> None:
    """``--threads N|all``, the same in every command that has it; ``several``: a list
    (``--threads 1,2``), one sweep per count."""
    extra = (" A list (1,2) runs one sweep per thread count, into one file each "
             "(FILE.t1.json, FILE.t2.json), for the speed-up from more cores.") if several else ""
    parser.add_argument("--threads", type=parse_thread_list if several else parse_threads,
                        default=default, metavar="N|all" + (",..." if several else ""),
                        help=f"numba and BLAS threads, or 'all' (every CPU this process may "
                             f"use) (default: {default_text}).{extra}")


def resolve_threads(value: int | str | None) -> int | None:
    """``all`` becomes the number of CPUs this process may use; a count stays."""
    if value == ALL:
        from mlpbench.harness.machine import max_threads

        return max_threads()
    return value


def add_force(parser, what: str) -> None:
    parser.add_argument("--force", action="store_true", help=what)


def add_out_dir(parser, *, help: str, required: bool = False,
                force_help: str = "write into a non-empty --out, replacing the files an "
                                  "earlier run of this command wrote there (others stay)"
                ) -> None:
    """``--out DIR`` and ``--force`` for the commands that write a folder."""
    parser.add_argument("--out", type=Path, metavar="DIR", required=required, help=help)
    add_force(parser, force_help)


def add_out_file(parser, *, help: str, default: Path | None = None,
                 force_help: str = "overwrite an existing FILE") -> None:
    """``-o/--out FILE`` (``--output`` too) and ``--force`` for the commands that write a
    file."""
    parser.add_argument("-o", "--out", "--output", dest="out", type=Path, metavar="FILE",
                        default=default, help=help)
    add_force(parser, force_help)
