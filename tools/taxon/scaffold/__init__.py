"""`taxon init DIR`: a new taxonomy repository that works out of the box.

It gets the three kinds under `taxonomy/` with one example leaf each, this taxon's
`taxon.toml`, the four workflows of this repository with taxon pinned to one revision in
every install step, a `.pre-commit-config.yaml` running taxon's exported hook at that same
revision, CONTRIBUTING.md, SECURITY.md, a README and a .gitignore.

The templates are package data (templates/); the workflows and taxon.toml are this
repository's own files (taxon.core.shipped: the checkout's, or the wheel's copies), so a new
repository starts from exactly what this one runs. In a taxonomy repository there is no
test suite, so the pull-request workflow's code job validates the whole tree instead.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from taxon import __version__
from taxon.core.errors import UsageError
from taxon.core.shipped import shipped_path
from taxon.core.store import atomic_write_text

DEFAULT_REV = f"v{__version__}"
# `pip install -e .` or `-e '.[gpu]'`: this repository installing itself
_SELF_INSTALL = re.compile(r"""-e\s+(['"]?)\.(\[[\w,-]+\])?\1""")
# this repository's pins; a taxonomy repository gets taxon's own requirements instead
_CONSTRAINTS = re.compile(r"\s-c\s+requirements/constraints\.txt")
_TEST_SUITE = re.compile(r"^(?P<indent>\s*)run: make test\b.*$", re.MULTILINE)
_FILLED = {  # template -> file written, its {name}, {source} and {rev} filled in
    "README.md": "README.md",
    "CONTRIBUTING.md": "CONTRIBUTING.md",
    "SECURITY.md": "SECURITY.md",
    "pre-commit-config.yaml": ".pre-commit-config.yaml",
}
_COPIED = {"gitignore": ".gitignore"}


def install_spec(source: str, rev: str, extras: str = "") -> str:
    """The pip requirement for taxon at `rev` of the git repository `source`."""
    url = source if "://" in source else Path(source).resolve().as_uri()
    return f"taxon{extras} @ git+{url}@{rev}"


def pin_workflow(text: str, source: str, rev: str) -> str:
    """A workflow of this repository for a taxonomy repository: every install of taxon from
    the checkout becomes an install of the pinned revision, and the test suite (there is none)
    becomes a validation of the whole tree."""
    text = _CONSTRAINTS.sub("", text)
    text = _SELF_INSTALL.sub(lambda match: f"'{install_spec(source, rev, match.group(2) or '')}'", text)
    install = f"python -m pip install --no-cache-dir '{install_spec(source, rev)}'"
    text = _TEST_SUITE.sub(lambda match: f"{match['indent']}run: {install} && taxon validate", text)
    return text.replace("name: make test", "name: validate the whole tree")


def _templates():
    return resources.files("taxon.scaffold") / "templates"


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def _tree(folder) -> list[tuple[str, str]]:
    """(relative path, text) of every file under a template folder."""
    files = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            files += [(f"{entry.name}/{path}", text) for path, text in _tree(entry)]
        elif entry.is_file():
            files.append((entry.name, entry.read_text(encoding="utf-8")))
    return files


def init_repository(
    target: Path, source: str, rev: str = DEFAULT_REV, repository_name: str | None = None
) -> list[Path]:
    """Write the new repository's files into `target` (absent or empty); returns them."""
    target = Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"{target} exists and is not an empty folder", hint="taxon init a new folder")
    if not source:
        raise UsageError(
            "taxon init needs the git repository of taxon, to pin its hook and workflows to",
            hint="taxon init DIR --source https://github.com/OWNER/taxon [--rev TAG_OR_COMMIT]",
        )
    templates = _templates()
    values = {"name": repository_name or target.resolve().name, "source": source, "rev": rev}
    files = {f"taxonomy/{path}": text for path, text in _tree(templates / "taxonomy")}
    files |= {
        f".github/workflows/{path}": pin_workflow(text, source, rev)
        for path, text in _tree(shipped_path(".github/workflows"))
    }
    files |= {out: _fill((templates / name).read_text(encoding="utf-8"), values) for name, out in _FILLED.items()}
    files |= {out: (templates / name).read_text(encoding="utf-8") for name, out in _COPIED.items()}
    files["taxon.toml"] = shipped_path("taxon.toml").read_text(encoding="utf-8")
    written = []
    for relative, text in sorted(files.items()):
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
        written.append(path)
    return written
