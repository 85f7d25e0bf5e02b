"""A pull request's changed leaves written out as data: git blobs, never a checkout."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from taxon.core.errors import TaxonError
from taxon.core.git import batch_request, parse_batch
from taxon.core.settings import DocumentsSettings
from taxon.core.store import atomic_write_bytes
from taxon.gitops.changes import changed_paths, git_output, is_taxonomy_path
from taxon.qna.layout import DECISIONS_DIR, QNA_NAME, TAXONOMY_DIR, name_problem

REGULAR_FILE_MODES = ("100644", "100755")


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    kind: str
    sha: str
    size: int | None
    path: str


@dataclass
class ExportedTaxonomy:
    root: Path
    leaves: list[str] = field(default_factory=list)  # leaf folders, relative to the repo root
    files: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)


def _tree_entries(repo_root: Path, commit: str, folder: str = TAXONOMY_DIR) -> list[TreeEntry]:
    output = git_output(repo_root, "ls-tree", "-r", "-l", "-z", "--full-tree", "--end-of-options", commit, "--", folder)
    entries = []
    for record in output.decode("utf-8", errors="surrogateescape").split("\0"):
        if not record:
            continue
        meta, path = record.split("\t", 1)
        mode, kind, sha, size = meta.split()
        entries.append(TreeEntry(mode, kind, sha, int(size) if size.isdigit() else None, path))
    return entries


def _nearest_leaf(path: str, leaf_folders: set[str]) -> str | None:
    for folder in PurePosixPath(path).parents:
        if folder.as_posix() in leaf_folders:
            return folder.as_posix()
    return None


def safe_relative(path: str) -> bool:
    """A plain relative path: no empty, "." or ".." segment, no backslash, not absolute."""
    return bool(path) and "\\" not in path and all(part not in ("", ".", "..") for part in path.split("/"))


def export_pr_taxonomy(
    repo_root: Path, base: str, head: str, out_dir: Path, limits: DocumentsSettings
) -> ExportedTaxonomy:
    """Write the leaves a pull request adds or changes, as they are at `head`, under `out_dir`
    (keeping their taxonomy/... paths), with the maintainers' decisions on their samples
    (decisions/..., which generation applies). Only regular files of those leaf folders are written,
    read as git blobs: symlinks, submodules, unusable names and files over `max_file_bytes`
    are skipped. The sizes come from the tree listing, so the caps on files (kept or skipped)
    and bytes hold before any blob is read; the blobs are then read by one `git cat-file --batch`."""
    out_dir = Path(out_dir)
    changed = [path for path in changed_paths(repo_root, base, head) if is_taxonomy_path(path)]
    entries = _tree_entries(repo_root, head)
    leaf_folders = {PurePosixPath(e.path).parent.as_posix() for e in entries if PurePosixPath(e.path).name == QNA_NAME}
    wanted = sorted({leaf for leaf in (_nearest_leaf(path, leaf_folders) for path in changed) if leaf})
    exported = ExportedTaxonomy(out_dir, leaves=wanted)
    kept: list[TreeEntry] = []
    # the maintainers' decisions on those leaves' samples: decisions/<leaf id>/<id>.yaml
    decided = {f"{DECISIONS_DIR}/{PurePosixPath(leaf).relative_to(TAXONOMY_DIR)}" for leaf in wanted}
    for entry in entries + _tree_entries(repo_root, head, DECISIONS_DIR):
        in_decisions = PurePosixPath(entry.path).parent.as_posix() in decided
        if not in_decisions and _nearest_leaf(entry.path, leaf_folders) not in wanted:
            continue
        why = None
        if not safe_relative(entry.path):
            why = "unsafe path"
        elif name_problem(entry.path):
            why = name_problem(entry.path)
        elif entry.kind != "blob" or entry.mode not in REGULAR_FILE_MODES:
            why = "not a regular file (symlink or submodule)"
        elif entry.size is None or entry.size > limits.max_file_bytes:
            why = f"larger than {limits.max_file_bytes} bytes"
        if why:
            exported.skipped.append((entry.path, why))
        else:
            kept.append(entry)
    total = sum(entry.size or 0 for entry in kept)
    listed = len(kept) + len(exported.skipped)  # skipped entries count too: 150,000 links are no leaf
    if listed > limits.max_pr_files or total > limits.max_pr_bytes:
        raise TaxonError(
            f"the changed leaves hold {listed} files, {total} bytes: over the caps of "
            f"{limits.max_pr_files} files and {limits.max_pr_bytes} bytes a pull request may export",
            hint="split the contribution into smaller pull requests ([documents] max_pr_files, max_pr_bytes)",
        )
    blobs = parse_batch(git_output(repo_root, "cat-file", "--batch", input_bytes=batch_request([e.sha for e in kept])))
    for entry in kept:
        atomic_write_bytes(out_dir / entry.path, blobs[entry.sha])
        exported.files.append(entry.path)
    return exported
