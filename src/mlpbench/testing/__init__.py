"""The project's agreement tests, to run against your own implementation (a plugin).

::

    pytest -p mlpbench.testing --pyargs mlpbench.testing --impl mine=./mine.py

This package is also the pytest plugin that adds ``--impl`` (``-p mlpbench.testing``,
or by itself where mlpbench is installed with its ``pytest11`` entry point): the same
list as the commands take (registered names and ``NAME=TARGET``, comma- or
space-separated, repeatable; default ``numpy``). Each ``NAME=TARGET`` is registered
and loaded before collection (a target that cannot be loaded stops pytest with one
line). Tests that ask for the fixture ``mlpbench_impl`` run once per implementation
given; the test modules here (``test_contract``) check agreement with numpy, the
finite-difference gradient, the result types and dtypes, that no input is changed and
that bad inputs raise their documented errors. See docs/plugins.md.

Nothing here is collected by the project's own ``pytest`` run (its testpaths are
``tests`` and ``bench``); importing this module imports nothing heavy.
"""

from __future__ import annotations

__all__ = ["DEFAULT", "FIXTURE", "implementations"]

#: The fixture parametrized over the implementations, and its default.
FIXTURE = "mlpbench_impl"
DEFAULT = ("numpy",)

_OPTION = "--impl"
_DEST = "mlpbench_impl"


def _declared(parser) -> bool:
    """Whether some other plugin or conftest already declared ``--impl``."""
    groups = [getattr(parser, "_anonymous", None), *getattr(parser, "_groups", [])]
    for group in groups:
        for opt in getattr(group, "options", ()):
            if _OPTION in opt.names():
                return True
    return False


def pytest_addoption(parser):
    if _declared(parser):  # e.g. a project conftest with its own --impl: read that one
        return
    group = parser.getgroup("mlpbench", "mlpbench implementations (docs/plugins.md)")
    group.addoption(
        _OPTION, action="append", dest=_DEST, default=None, metavar="LIST",
        help="implementations to test: registered names and NAME=TARGET (TARGET: "
             "package.module[:attr] or path/to/file.py[:attr]), comma- or space-separated, "
             "repeatable (default: numpy)")


def _given(config) -> list[str]:
    for dest in (_DEST, "impl"):
        value = getattr(config.option, dest, None)
        if value:
            return [value] if isinstance(value, str) else list(value)
    return []


def implementations(config) -> tuple[str, ...]:
    """The names ``--impl`` gives (``NAME=TARGET`` registered and loaded), in order."""
    cached = getattr(config, "_mlpbench_impls", None)
    if cached is not None:
        return cached
    import pytest

    from mlpbench.errors import MlpbenchError
    from mlpbench.mlp import registry

    items: list[str] = []
    for token in _given(config):
        items.extend(w for piece in token.split(",") for w in piece.split())
    names = []
    try:
        for item in items or DEFAULT:
            if "=" in item:
                names.append(registry.register_spec(item, what=f"--impl {item}"))
            elif item == "all":
                names.extend(registry.names())
            else:
                registry.get(item)  # unknown or unloadable: one line, below
                names.append(item)
    except MlpbenchError as exc:
        raise pytest.UsageError(f"mlpbench.testing: {exc}") from None
    config._mlpbench_impls = tuple(dict.fromkeys(names))
    return config._mlpbench_impls


def pytest_configure(config):
    if _given(config):
        implementations(config)  # a bad --impl stops pytest before collection


def pytest_report_header(config):
    if getattr(config, "_mlpbench_impls", None):
        return f"mlpbench implementations: {', '.join(config._mlpbench_impls)}"
    return None


def pytest_generate_tests(metafunc):
    if FIXTURE in metafunc.fixturenames:
        metafunc.parametrize(FIXTURE, implementations(metafunc.config))
