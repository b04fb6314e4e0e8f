"""The package's layers import downward only, and only the commands see argparse.

Order: kernels → mlp → harness → report → commands (``__main__`` above them all).
The top-level helpers (errors, checks, atomic, files, _numba_config, and the package's
own ``__init__``) sit below every layer and import none. Every import statement counts,
inside functions too, and so does ``importlib.import_module("mlpbench....")``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mlpbench

PACKAGE = Path(mlpbench.__file__).parent

#: Layer of each top-level name under ``mlpbench``; higher may import lower.
LAYERS = {"kernels": 0, "mlp": 1, "harness": 2, "report": 3, "commands": 4, "__main__": 5,
          "testing": 5}  # testing: the pytest suite users run on their own implementation
#: The helpers below every layer (and the package itself).
BASE = -1


def layer_of(module: str) -> int:
    """The layer of ``mlpbench.X...`` (BASE for the helpers and the package itself)."""
    parts = module.split(".")
    if parts[0] != "mlpbench":
        raise ValueError(f"not an mlpbench module: {module}")
    return LAYERS.get(parts[1], BASE) if len(parts) > 1 else BASE


def _imported(module: str, is_package: bool, tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every mlpbench or argparse import in ``tree``."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # `from mlpbench import report` imports the subpackage report.
            if target == "mlpbench":
                found += [(node.lineno, f"mlpbench.{a.name}") for a in node.names]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))
    return [(line, t) for line, t in found
            if t == "argparse" or t.startswith("argparse.") or t.split(".")[0] == "mlpbench"]


def violations(module: str, source: str, is_package: bool = False) -> list[str]:
    """What ``module`` (its ``source``) imports against the layer rules."""
    own = layer_of(module)
    out = []
    for line, target in _imported(module, is_package, ast.parse(source)):
        if target.split(".")[0] == "argparse":
            if own != LAYERS["commands"]:
                out.append(f"{module}:{line} imports argparse (only mlpbench.commands may)")
            continue
        theirs = layer_of(target)
        if theirs == BASE:
            continue
        if own == BASE or theirs > own:
            out.append(f"{module}:{line} imports {target}, a higher layer")
    return out


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        yield ".".join(parts), path, is_package


def test_no_module_imports_a_higher_layer_or_argparse():
    found = []
    modules = list(_modules())
    assert len(modules) > 30  # the walk found the package
    for module, path, is_package in modules:
        found += violations(module, path.read_text(encoding="utf-8"), is_package)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("module, source, bad", [
    ("mlpbench.mlp.train", "from mlpbench.report import training", True),
    ("mlpbench.mlp.train", "def f():\n    from mlpbench.report.training import plot", True),
    ("mlpbench.mlp.train", "from mlpbench import report", True),
    ("mlpbench.mlp.train", "import mlpbench.harness.sweep", True),
    ("mlpbench.mlp.train", "from ..harness import sweep", True),
    ("mlpbench.mlp.train", "importlib.import_module('mlpbench.commands.bench')", True),
    ("mlpbench.harness.sweep", "import argparse", True),
    ("mlpbench.report.build", "from argparse import Namespace", True),
    ("mlpbench.checks", "from mlpbench.kernels import relu", True),
    ("mlpbench.atomic", "from mlpbench import mlp", True),
    ("mlpbench.mlp.train", "from mlpbench.kernels import relu\nfrom mlpbench import errors", False),
    ("mlpbench.mlp.train", "from . import params\nfrom .params import Params", False),
    ("mlpbench.report.sheet", "from mlpbench.harness.epochs import time_epochs", False),
    ("mlpbench.commands.bench", "import argparse\nfrom mlpbench.report import build", False),
    ("mlpbench.checks", "import numpy as np\nfrom mlpbench.errors import InputError", False),
    ("mlpbench.__main__", "from mlpbench.commands import main", False),
])
def test_the_checker_itself(module, source, bad):
    assert bool(violations(module, source)) == bad


def test_relative_import_in_a_package_init():
    # In mlpbench/mlp/__init__.py, `from ..report import x` reaches mlpbench.report.
    assert violations("mlpbench.mlp", "from ..report import x", is_package=True)
    assert not violations("mlpbench.mlp", "from .data import load", is_package=True)
