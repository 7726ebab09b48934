"""``nbauth/__init__.py`` keeps three lists of its public names by hand: ``__all__``, the lazy
table (``_LAZY``, what loads on first use) and the imports under TYPE_CHECKING (what type
checkers and IDEs see). They must agree, name for name and module for module."""

import ast
import importlib
from pathlib import Path

import nbauth

SOURCE = Path(nbauth.__file__).read_text()


def _imports(nodes):
    """{name: module} of the ``from .module import name`` statements among ``nodes``."""
    return {
        alias.asname or alias.name: node.module
        for node in nodes
        if isinstance(node, ast.ImportFrom) and node.level == 1
        for alias in node.names
    }


def test_all_the_lazy_table_and_the_type_checking_imports_agree():
    tree = ast.parse(SOURCE)
    eager = _imports(tree.body)
    checking = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
    )
    typed = _imports(checking.body)
    assert typed == nbauth._LAZY  # each lazy name, from the module the table loads it from
    assert set(nbauth.__all__) == set(eager) | set(nbauth._LAZY)
    assert sorted(nbauth.__all__) == nbauth.__all__


def test_every_exported_name_resolves_from_its_module():
    for name in nbauth.__all__:
        value = getattr(nbauth, name)
        module = nbauth._LAZY.get(name)
        if module is not None:
            assert value is getattr(importlib.import_module(f"nbauth.{module}"), name)
