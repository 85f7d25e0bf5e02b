"""What may sit under taxonomy/ (T003): leaf folders, each holding its qna.yaml, its
attribution.txt and, for a knowledge leaf, document files of the kinds taxon reads (also in
subfolders, where in-tree patterns may reach them). Anything else (a HEAD, a config,
objects/, scripts, dotfiles, files loose in folders that are not leaves) has no place in a
contribution: it is data nobody reviews as data, or a trap for tools that walk the tree.

The same decision serves `taxon validate` (files on disk) and `taxon gitops classify` (paths
a pull request changes, which then count as code)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Listing:
    """One folder under a walked root: `relative` to the root (posix, "" for the root
    itself), its subfolders as (name, is a symbolic link), its other entries as (name, is a
    regular file)."""

    relative: str
    folders: tuple[tuple[str, bool], ...]
    files: tuple[tuple[str, bool], ...]


def walk(root: Path, on_listing: Callable[[Listing], object] | None = None) -> list[Listing]:
    """Every folder under `root`, symbolic links to folders listed but not entered: one
    scandir a folder, the entry types as the file system reports them (os.walk with a stat
    per file took 0.3 s of a 2,000-leaf tree, and validate walked it twice). `on_listing`:
    called with each folder's listing as soon as it is made."""
    listings = []
    pending = [""]
    top = os.fspath(root)
    prefix = top if top.endswith(os.sep) else top + os.sep
    while pending:
        relative = pending.pop()
        try:
            with os.scandir(prefix + relative if relative else top) as entries:
                found = list(entries)
        except OSError:
            continue
        folders, files = [], []
        for entry in found:
            if entry.is_dir():
                link = entry.is_symlink()
                folders.append((entry.name, link))
                if not link:
                    pending.append(f"{relative}/{entry.name}" if relative else entry.name)
            else:
                files.append((entry.name, entry.is_file(follow_symlinks=False)))
        listings.append(Listing(relative, tuple(sorted(folders)), tuple(sorted(files))))
        if on_listing is not None:
            on_listing(listings[-1])
    return sorted(listings, key=lambda listing: listing.relative)


def tree_file_findings(root: Path, listings: list[Listing] | None = None) -> list[Finding]:
    """T003 for every file under `root` (a taxonomy folder, or part of one) that has no place
    there, and for every file that is not a regular file. Symlinked folders are Y011's.
    `listings`: the walk of root, when the caller has it already."""
    root = Path(root)
    files: list[PurePosixPath] = []
    irregular: list[PurePosixPath] = []
    plain: set[PurePosixPath] = set()  # a leaf's own qna.yaml and attribution.txt: their place is known
    for listing in listings if listings is not None else walk(root):
        if not listing.files:
            continue
        relative = PurePosixPath(listing.relative)
        # a leaf folder whose path is a usable name and not hidden: its own two files need no closer look
        is_leaf = any(is_qna_name(name) for name, _ in listing.files)
        known = is_leaf and not name_problem(listing.relative) and not listing.relative.startswith(".")
        known = known and "/." not in listing.relative
        for name, regular in listing.files:
            path = relative / name
            (files if regular else irregular).append(path)
            if regular and known and name in (*QNA_NAMES, ATTRIBUTION_NAME):
                plain.add(path)
    leaves = leaf_folders(files)
    found = [
        finding(str(root / path), 1, 1, "T003", "not a regular file (a symbolic link, FIFO or device): remove it")
        for path in irregular
    ]
    kind_path = PurePosixPath(root.resolve().as_posix())
    for path in files:
        reason = None if path in plain else misplaced(path, leaves, kind_path)
        if reason:
            found.append(finding(str(root / path), 1, 1, "T003", reason))
    return sorted(found, key=lambda f: f.path)
