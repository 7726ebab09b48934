"""The layers of docs/architecture.md hold: no nbauth module imports one of a higher layer
(type-only imports and imports inside functions count), and no import cycle exists.

The layer of each module is read from the table in docs/architecture.md, so the picture and
this test cannot drift apart; a module the table does not name fails the test too.
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "nbauth"


def layers() -> dict[str, int]:
    """{module or module prefix ("nbauth.sandbox.*"): its layer}, from the doc's table."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    found = {}
    for row in re.finditer(r"^\| (\d+) [^|]+\| ([^|]+) \|", text, re.M):
        for name in re.findall(r"`([\w.*]+)`", row[2]):
            found[name] = int(row[1])
    return found


def layer_of(module: str, table: dict[str, int]) -> int:
    if module in table:
        return table[module]
    for name, layer in table.items():
        if name.endswith(".*") and module.startswith(name[:-1]):
            return layer
    raise AssertionError(f"docs/architecture.md puts {module} in no layer")


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The nbauth modules ``module`` imports anywhere in it."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
            if node.module:
                found.add(target)
            else:  # from . import a, b: the modules a and b (a name of the package otherwise)
                named = [f"{target}.{a.name}" for a in node.names]
                found.update(n if n in known else target for n in named)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nbauth"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("nbauth"))
    return {name for name in found if name in known and name != module}


def graph() -> dict[str, set[str]]:
    found = modules()
    return {module: imports(module, path, set(found)) for module, path in found.items()}


def test_every_module_has_a_layer_and_imports_none_above_it():
    table = layers()
    upward = [
        f"{module} (layer {layer_of(module, table)}) imports {target} "
        f"(layer {layer_of(target, table)})"
        for module, targets in graph().items()
        for target in targets
        if layer_of(target, table) > layer_of(module, table)
    ]
    assert upward == []


def test_no_import_cycle():
    edges = graph()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError("import cycle: " + " -> ".join([*path, module]))
        if module in done:
            return
        for target in sorted(edges[module]):
            # a package's own __init__ importing its modules is how packages are made
            if not target.startswith(module + "."):
                visit(target, [*path, module])
        done.add(module)

    for module in sorted(edges):
        visit(module, [])


def test_the_table_names_no_module_that_is_gone():
    present = set(modules())
    for name in layers():
        assert name.endswith(".*") or name in present, name
