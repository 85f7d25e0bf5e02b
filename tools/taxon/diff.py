"""Which leaves a branch changes: added, modified, renamed and deleted leaves between the
merge-base with a base ref and the working tree (untracked files included).

A leaf is a folder holding a qna.yaml under the taxonomy folder; it changes when any file
in it changes (qna.yaml, attribution.txt, in-tree documents), not counting files of leaves
nested below it. Paths are relative to the repository root. git runs through the hardened
runner (taxon.core.git), on the clone found by its `.git`, never discovered under taxonomy/.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from taxon.core.errors import TaxonError
from taxon.core.git import GitFailed, Repository, find_repository
from taxon.qna.layout import QNA_NAME, TAXONOMY_DIR

DEFAULT_BASES = ("origin/main", "main")
BASE_HINT = "run 'git fetch origin main', or name the base with --base REF"
SHALLOW_HINT = "this clone is shallow: run 'git fetch --unshallow' (in CI, check out with fetch-depth: 0)"


@dataclass
class LeafChanges:
    """Changed leaves as paths of their qna.yaml, relative to the repository root."""

    repo_root: Path
    base: str  # the ref compared against, as named
    base_commit: str  # the merge-base of that ref and HEAD
    added: list[Path] = field(default_factory=list)
    modified: list[Path] = field(default_factory=list)
    renamed: list[tuple[Path, Path]] = field(default_factory=list)  # (old, new)
    deleted: list[Path] = field(default_factory=list)
    # Changed files that belong to no leaf: outside the taxonomy folder, or loose in it.
    other_paths: list[Path] = field(default_factory=list)

    def to_validate(self) -> list[Path]:
        """The changed qna.yaml files that exist in the working tree, relative to repo_root."""
        candidates = [*self.added, *self.modified, *(new for _, new in self.renamed)]
        return sorted(path for path in candidates if (self.repo_root / path).is_file())

    def is_empty(self) -> bool:
        return not (self.added or self.modified or self.renamed or self.deleted)

    def to_json(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "base_commit": self.base_commit,
            "added": [path.as_posix() for path in self.added],
            "modified": [path.as_posix() for path in self.modified],
            "renamed": [{"old": old.as_posix(), "new": new.as_posix()} for old, new in self.renamed],
            "deleted": [path.as_posix() for path in self.deleted],
            "other_paths": [path.as_posix() for path in self.other_paths],
        }


@dataclass(frozen=True)
class FileChange:
    status: str  # git's status letter: A, M, D, R, T, U
    path: str  # the path in the working tree (the old path for D)
    old_path: str | None = None  # set for R only


def changed_leaves(repo_root: Path, base: str | None = None, taxonomy_dir: str = TAXONOMY_DIR) -> LeafChanges:
    """Leaves changed between the merge-base of `base` (default origin/main, else main) and
    HEAD, and the working tree. TaxonError when repo_root is not in a git repository or the
    base ref is unknown."""
    repository = _open_repository(Path(repo_root))
    base_name, base_sha = _merge_base(repository, base)
    base_qna = _qna_paths_at(repository, base_sha, taxonomy_dir)
    root = repository.root

    def qna_exists(qna_path: PurePosixPath) -> bool:
        return (root / qna_path).is_file() or qna_path in base_qna

    changes = _classify(_working_tree_changes(repository, base_sha), PurePosixPath(taxonomy_dir), qna_exists)
    return LeafChanges(repo_root=root, base=base_name, base_commit=base_sha, **changes)


def _open_repository(path: Path) -> Repository:
    repository = find_repository(path) if path.exists() else None
    if repository is None:
        raise TaxonError(
            "not inside a git repository", where=str(path.resolve()), hint="run from a clone of the taxonomy"
        )
    return repository


def _git(repository: Repository, *args: str, env: dict[str, Any] | None = None) -> str:
    try:
        return repository.git(*args, env=env).decode("utf-8", errors="surrogateescape")
    except GitFailed as failure:
        if str(failure).startswith("git cannot run"):
            raise TaxonError("the git executable was not found", hint="install git") from None
        raise TaxonError(f"git {args[0]} failed: {failure}", where=str(repository.root)) from None


def _commit(repository: Repository, name: str) -> str | None:
    """The commit `name` names, or None (a name that looks like an option names nothing)."""
    if name.startswith("-"):
        return None
    try:
        return (
            repository.git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{name}^{{commit}}")
            .decode()
            .strip()
        )
    except GitFailed:
        return None


def _merge_base(repository: Repository, base: str | None) -> tuple[str, str]:
    """(name of the base ref used, sha of its merge-base with HEAD)."""
    base_commit = None
    for name in (base,) if base else DEFAULT_BASES:
        base_commit, base_name = _commit(repository, name), name
        if base_commit:
            break
    if base_commit is None:
        wanted = f"'{base}' does not exist" if base else "neither origin/main nor main exists"
        raise TaxonError(f"unknown base ref: {wanted} in this repository", hint=BASE_HINT)
    head = _commit(repository, "HEAD")
    if head is None:
        raise TaxonError("the repository has no commit yet", hint="commit once, then compare")
    try:
        return base_name, repository.git("merge-base", "--end-of-options", base_commit, head).decode().strip()
    except GitFailed:
        shallow = _git(repository, "rev-parse", "--is-shallow-repository").strip() == "true"
        raise TaxonError(f"'{base_name}' and HEAD share no history", hint=SHALLOW_HINT if shallow else BASE_HINT)


def _qna_paths_at(repository: Repository, commit: str, taxonomy_dir: str) -> set[PurePosixPath]:
    """Every qna.yaml under the taxonomy folder in `commit` (one git call, not one per path)."""
    output = _git(
        repository, "ls-tree", "-r", "--name-only", "-z", "--full-tree", "--end-of-options", commit, "--", taxonomy_dir
    )
    return {PurePosixPath(path) for path in output.split("\0") if path and PurePosixPath(path).name == QNA_NAME}


def _working_tree_changes(repository: Repository, base_sha: str) -> list[FileChange]:
    """git's name-status of base_sha against the whole working tree, untracked files included.

    The working tree is staged into a throwaway copy of the index, so git's own rename
    detection also pairs folders moved without `git mv`, .gitignore is honoured, and the
    user's real index is never touched.
    """
    index_path = repository.root / _git(repository, "rev-parse", "--git-path", "index").strip()
    with tempfile.TemporaryDirectory(prefix="taxon-diff-") as scratch:
        scratch_index = Path(scratch) / "index"
        if index_path.is_file():
            shutil.copyfile(index_path, scratch_index)
        env = {"GIT_INDEX_FILE": str(scratch_index)}
        _git(repository, "add", "--all", "--", ".", env=env)
        output = _git(
            repository,
            "diff",
            "--cached",
            "--name-status",
            "-z",
            "--find-renames",
            "--end-of-options",
            base_sha,
            env=env,
        )
    return _parse_name_status(output)


def _parse_name_status(output: str) -> list[FileChange]:
    """`git diff --name-status -z`: STATUS NUL PATH NUL, or R<score> NUL OLD NUL NEW NUL."""
    fields = output.split("\0")
    changes, index = [], 0
    while index < len(fields) and fields[index]:
        status = fields[index][0]
        if status == "R":
            changes.append(FileChange("R", fields[index + 2], fields[index + 1]))
            index += 3
        else:
            changes.append(FileChange(status, fields[index + 1]))
            index += 2
    return changes


def _is_qna(path: PurePosixPath, taxonomy: PurePosixPath) -> bool:
    return path.name == QNA_NAME and taxonomy in path.parents


def _owner_leaf(
    path: PurePosixPath, taxonomy: PurePosixPath, qna_exists: Callable[[PurePosixPath], bool]
) -> PurePosixPath | None:
    """The qna.yaml of the nearest folder above `path` that is a leaf now or was one at base."""
    if taxonomy not in path.parents:
        return None
    for folder in path.parents:
        if folder == taxonomy:
            return None
        if qna_exists(folder / QNA_NAME):
            return folder / QNA_NAME
    return None


def _classify(
    changes: list[FileChange], taxonomy: PurePosixPath, qna_exists: Callable[[PurePosixPath], bool]
) -> dict[str, list[Any]]:
    added: set[PurePosixPath] = set()
    modified: set[PurePosixPath] = set()
    deleted: set[PurePosixPath] = set()
    renamed: list[tuple[PurePosixPath, PurePosixPath]] = []
    loose: list[PurePosixPath] = []
    for change in changes:
        new = PurePosixPath(change.path)
        if change.status == "R":
            old = PurePosixPath(change.old_path or change.path)
            if _is_qna(old, taxonomy) and _is_qna(new, taxonomy):
                renamed.append((old, new))
                continue
            touched = [(old, "D"), (new, "A")]  # a rename in or out of the taxonomy: one side each
        else:
            touched = [(new, change.status)]
        for path, status in touched:
            if _is_qna(path, taxonomy):
                {"A": added, "D": deleted}.get(status, modified).add(path)
            else:
                loose.append(path)
    whole_leaf_changes = added | deleted | {path for pair in renamed for path in pair}
    other = set()
    for path in loose:
        owner = _owner_leaf(path, taxonomy, qna_exists)
        if owner is None:
            other.add(path)
        elif owner not in whole_leaf_changes:
            modified.add(owner)
    return {
        "added": _paths(added),
        "modified": _paths(modified),
        "renamed": sorted((Path(old), Path(new)) for old, new in renamed),
        "deleted": _paths(deleted),
        "other_paths": _paths(other),
    }


def _paths(paths: set[PurePosixPath]) -> list[Path]:
    return sorted(Path(path) for path in paths)
