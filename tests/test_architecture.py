"""The package's layers: import-linter's contracts hold, README describes the same layers, and
the layers under the backends import without any model library installed."""

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _contracts() -> list[dict]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]


def layers() -> list[str]:
    """Top first, as import-linter reads them; siblings in one layer separated by '|'."""
    return next(contract["layers"] for contract in _contracts() if contract["type"] == "layers")


def test_import_contracts_hold():
    done = subprocess.run([str(BIN / "lint-imports")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def allowed_imports() -> dict[str, list[str]]:
    """Each layer -> the layers the contracts let it import, nearest first."""
    forbidden = next(c for c in _contracts() if c["type"] == "forbidden")
    rows = [[name.strip() for name in layer.split("|")] for layer in reversed(layers())]  # bottom up
    allowed = {}
    for height, row in enumerate(rows):
        below = [name for lower in reversed(rows[:height]) for name in lower]
        for name in row:
            banned = forbidden["forbidden_modules"] if f"taxon.{name}" in forbidden["source_modules"] else []
            allowed[name] = [other for other in below if f"taxon.{other}" not in banned]
    return allowed


def test_readme_lists_the_layers_of_the_contract_and_what_each_may_import():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:3] for line in section.splitlines() if line.startswith("| `")]
    listed = {layer.strip().strip("`"): imports.strip() for layer, imports in rows}
    expected = allowed_imports()
    assert list(listed) == list(expected)  # bottom up, in the contract's order
    assert listed == {name: ", ".join(below) or "nothing of taxon" for name, below in expected.items()}


def test_the_lower_layers_import_with_torch_and_transformers_blocked():
    forbidden = next(c for c in _contracts() if c["type"] == "forbidden")
    blocked = [name for name in forbidden["forbidden_modules"] if not name.startswith("taxon")]
    probe = (
        "import importlib, pkgutil, sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None\n"
        f"for package in {forbidden['source_modules']!r}:\n"
        "    module = importlib.import_module(package)\n"
        "    for info in pkgutil.walk_packages(getattr(module, '__path__', []), package + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "from taxon.cli import main\n"
        "sys.exit(main(['validate', '-q', 'taxonomy']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ}
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _imports(path: Path, module: str, modules: set[str]) -> set[str]:
    """The package's modules `module` imports, anywhere in it (a function's lazy import too).
    `from P import name` imports P's face (its __init__) and, when name is a module, that module."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            source = ".".join(part for part in (base, node.module or "") if part)
            imported |= {source, *(f"{source}.{alias.name}" for alias in node.names)}
    return (imported & modules) - {module}


def _import_graph() -> dict[str, set[str]]:
    root = REPO / "tools"
    paths = {}
    for path in (root / "taxon").rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        paths[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return {module: _imports(path, module, set(paths)) for module, path in paths.items()}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in sorted(graph[module]):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while not component or component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return circles


def test_no_import_circle_at_any_level_package_faces_included():
    """No module reaches itself through imports: not between the layers (import-linter's
    contracts), and not through a package's face either (a module importing its own package's
    __init__, which imports it back)."""
    graph = _import_graph()
    assert graph["taxon.cli"] and "taxon.documents" in graph["taxon.commands.documents"]  # the graph is read
    assert _circles(graph) == []


def test_the_circle_check_sees_a_circle_through_a_package_face():
    graph = {"p": {"p.a"}, "p.a": {"p.b"}, "p.b": {"p"}, "q": set()}
    assert _circles(graph) == [["p", "p.a", "p.b"]]
