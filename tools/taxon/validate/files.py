"""What may sit under taxonomy/ (T003): leaf folders, each holding its qna.yaml, its
attribution.txt and, for a knowledge leaf, document files of the kinds taxon reads (also in
subfolders, where in-tree patterns may reach them). Anything else (a HEAD, a config,
objects/, scripts, dotfiles, files loose in folders that are not leaves) has no place in a
contribution: it is data nobody reviews as data, or a trap for tools that walk the tree.

The same decision serves `taxon validate` (files on disk) and `taxon gitops classify` (paths
a pull request changes, which then count as code)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from taxon.core.findings import Finding
from taxon.core.rules import finding
from taxon.documents.readers import READERS
from taxon.qna.layout import ATTRIBUTION_NAME, QNA_NAME, name_problem
from taxon.qna.taxonomy import kind_of

QNA_NAMES = (QNA_NAME, "qna.yml")  # compared case-insensitively: P050 names the misspelling
ALLOWED = f"a leaf holds only qna.yaml, {ATTRIBUTION_NAME} and, for knowledge, documents ({', '.join(READERS)})"


def is_qna_name(name: str) -> bool:
    return name.lower() in QNA_NAMES


def leaf_folders(paths: Iterable[PurePosixPath]) -> set[PurePosixPath]:
    """The folders holding a qna.yaml, among these file paths."""
    return {path.parent for path in paths if is_qna_name(path.name)}


def misplaced(path: PurePosixPath, leaves: set[PurePosixPath], kind_path: PurePosixPath | None = None) -> str | None:
    """Why the file at `path` has no place in the taxonomy, and what to do, or None when it
    has one. `path` and `leaves` are relative to the taxonomy folder; `kind_path`, where the
    kind is read from (default: the leaf's own path)."""
    unusable = name_problem(path.as_posix())
    if unusable:
        return unusable
    if any(part.startswith(".") for part in path.parts):
        return "hidden files and folders have no place in the taxonomy: remove it"
    leaf = next((folder for folder in path.parents if folder in leaves), None)
    if leaf is None:
        return "this file is in no leaf folder (a folder holding a qna.yaml): remove it"
    name = path.name.lower()
    if path.parent == leaf and (is_qna_name(name) or name == ATTRIBUTION_NAME):
        return None
    if kind_of(Path(kind_path or PurePosixPath()) / leaf) == "knowledge" and PurePosixPath(name).suffix in READERS:
        return None
    return f"this file has no place in a leaf: {ALLOWED}: remove it"


def tree_file_findings(root: Path) -> list[Finding]:
    """T003 for every file under `root` (a taxonomy folder, or part of one) that has no place
    there, and for every file that is not a regular file. Symlinked folders are Y011's."""
    root = Path(root)
    files: list[PurePosixPath] = []
    irregular: list[PurePosixPath] = []
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(name for name in dirnames if not os.path.islink(os.path.join(folder, name)))
        relative = PurePosixPath(Path(folder).relative_to(root).as_posix())
        for name in sorted(filenames):
            entry = Path(folder) / name
            (files if entry.is_file() and not entry.is_symlink() else irregular).append(relative / name)
    leaves = leaf_folders(files)
    found = [
        finding(str(root / path), 1, 1, "T003", "not a regular file (a symbolic link, FIFO or device): remove it")
        for path in irregular
    ]
    for path in files:
        reason = misplaced(path, leaves, PurePosixPath(root.resolve().as_posix()))
        if reason:
            found.append(finding(str(root / path), 1, 1, "T003", reason))
    return sorted(found, key=lambda f: f.path)
