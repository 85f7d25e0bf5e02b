"""The package's layers: import-linter's contracts hold, README describes the same layers, and
the layers under the backends import without any model library installed."""

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


def test_readme_lists_the_layers_of_the_contract():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    listed = [line.split("`")[1] for line in section.splitlines() if line.startswith("| `")]
    expected = [name.strip() for layer in reversed(layers()) for name in layer.split("|")]
    assert listed == expected


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
