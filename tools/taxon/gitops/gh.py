"""The GitHub CLI (`gh`), the one way the workflow steps reach the GitHub API: JSON answers
in memory, downloads (artifacts, release assets) streamed to a file."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from taxon.core.errors import TaxonError

GhRunner = Callable[[list[str], bytes | None], bytes]
MISSING_HINT = "GitHub-hosted runners have it; else see cli.github.com"


def _failed(args: list[str], stderr: bytes) -> TaxonError:
    return TaxonError(f"gh {' '.join(args[:3])} failed: {stderr.decode(errors='replace').strip()}")


def run_gh(args: list[str], input_bytes: bytes | None = None) -> bytes:
    try:
        result = subprocess.run(["gh", *args], input=input_bytes, capture_output=True, check=False)
    except FileNotFoundError:
        raise TaxonError("the GitHub CLI (gh) is not installed", hint=MISSING_HINT)
    if result.returncode != 0:
        raise _failed(args, result.stderr)
    return result.stdout


def gh_json(gh: GhRunner, path: str) -> Any:
    """The JSON answer of `gh api PATH`."""
    answer = gh(["api", path], None)
    try:
        return json.loads(answer.decode("utf-8"))
    except ValueError as error:
        raise TaxonError(f"gh api {path}: the answer is not JSON: {error}")


def download(args: list[str], dest: Path) -> Path:
    """`gh ARGS` with its output streamed to `dest` (a model bundle does not fit in memory)."""
    Path(dest).parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(dest, "wb") as handle:
            result = subprocess.run(["gh", *args], stdout=handle, stderr=subprocess.PIPE, check=False)
    except FileNotFoundError:
        raise TaxonError("the GitHub CLI (gh) is not installed", hint=MISSING_HINT)
    if result.returncode != 0:
        Path(dest).unlink(missing_ok=True)
        raise _failed(args, result.stderr)
    return Path(dest)
