"""Leaves and git repositories made in tmp folders, for the documents tests."""

from __future__ import annotations

from pathlib import Path

import yaml

from support.git import git
from taxon.qna.taxonomy import Leaf, load_leaf


def make_repo(folder: Path, files: dict[str, bytes | str]) -> str:
    """A git repository holding `files` in one commit; returns the commit sha."""
    folder.mkdir(parents=True)
    git(folder, "init", "--quiet")
    write_files(folder, files)
    git(folder, "add", "--all")
    git(folder, "commit", "--quiet", "-m", "documents")
    return git(folder, "rev-parse", "HEAD")


def write_files(folder: Path, files: dict[str, bytes | str]) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def make_leaf(root: Path, document: dict, files: dict[str, bytes | str] | None = None) -> Leaf:
    """A knowledge leaf under root/taxonomy with the given `document` section and files."""
    folder = root / "taxonomy" / "knowledge" / "science" / "birds"
    folder.mkdir(parents=True, exist_ok=True)
    write_files(folder, files or {})
    data = {
        "version": 4,
        "created_by": "tester",
        "domain": "birds",
        "document_outline": "Chickadees",
        "seed_examples": [
            {
                "context": "Chickadees are small birds.",
                "questions_and_answers": [{"question": "What are chickadees?", "answer": "Small birds."}],
            }
        ],
        "document": document,
    }
    (folder / "qna.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return load_leaf(folder / "qna.yaml")
