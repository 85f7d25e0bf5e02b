"""The files a leaf's document patterns choose from: the leaf's own folder (in-tree, schema
v4) or one pinned commit of an external repository. Both are listed without following a
symlink, and a file's bytes are read only after it passed the pattern, type and size checks."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from taxon.documents import git
from taxon.documents.records import IN_TREE, DocumentProblem
from taxon.qna.layout import QNA_NAME
from taxon.qna.taxonomy import DocumentRef


@dataclass(frozen=True)
class SourceFile:
    name: str  # posix path relative to the leaf folder or repository root
    size: int
    link: str | None  # "symlink", "submodule" or "special file": never read
    read: Callable[[], bytes]


def list_source(folder: Path, ref: DocumentRef, settings: git.FetchSettings) -> tuple[str, list[SourceFile]]:
    """(source label, files) for a document reference; DocumentProblem when unreachable."""
    if ref.repo is None:
        return IN_TREE, in_tree_files(folder)
    git_dir = git.fetch_commit(ref.repo, ref.commit, settings)
    commit = git.check_commit(ref.commit)  # the normalised sha fetch_commit pinned
    return f"{ref.repo}@{commit}", repo_files(git_dir, commit, settings)


def in_tree_files(folder: Path) -> list[SourceFile]:
    """Files under a leaf folder; subfolders holding their own qna.yaml belong to that leaf."""
    files = []
    for current, dirnames, filenames in os.walk(folder):
        current_path = Path(current)
        kept = []
        for dirname in sorted(dirnames):
            path = current_path / dirname
            if path.is_symlink():
                files.append(_unreadable(path.relative_to(folder).as_posix(), "symlink"))
            elif not (path / QNA_NAME).exists():
                kept.append(dirname)
        dirnames[:] = kept
        for filename in filenames:
            path = current_path / filename
            files.append(_in_tree_file(path, path.relative_to(folder).as_posix()))
    return sorted(files, key=lambda file: file.name)


def _in_tree_file(path: Path, name: str) -> SourceFile:
    status = os.lstat(path)
    if stat.S_ISLNK(status.st_mode):
        return _unreadable(name, "symlink")
    if not stat.S_ISREG(status.st_mode):
        return _unreadable(name, "special file")
    return SourceFile(name, status.st_size, None, lambda: _read_no_follow(path, name, status.st_size))


def _read_no_follow(path: Path, name: str, size: int) -> bytes:
    """The bytes of a regular file, refusing one swapped for a symlink or a pipe since it
    was listed."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        raise DocumentProblem("D006", f"{name} cannot be read ({error.strerror}): commit a regular file") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise DocumentProblem("D006", f"{name} is not a regular file: it is not read")
        return handle.read(size)  # a file grown since it was listed is cut at its checked size


def repo_files(git_dir: Path, commit: str, settings: git.FetchSettings) -> list[SourceFile]:
    try:
        entries = git.list_tree(git_dir, commit, settings)
    except git.GitFailed:
        raise DocumentProblem("D002", f"cannot list the files of the fetched commit {commit}") from None
    files = []
    for entry in entries:
        if entry.is_regular_file:
            files.append(SourceFile(entry.path, entry.size, None, _blob_reader(git_dir, entry.object_id, settings)))
        else:
            files.append(_unreadable(entry.path, "symlink" if entry.mode == "120000" else "submodule"))
    return files


def _blob_reader(git_dir: Path, object_id: str, settings: git.FetchSettings) -> Callable[[], bytes]:
    def read() -> bytes:
        try:
            return git.read_blob(git_dir, object_id, settings)
        except git.GitFailed:
            raise DocumentProblem("D002", f"cannot read object {object_id} of the fetched repository") from None

    return read


def _unreadable(name: str, link: str) -> SourceFile:
    return SourceFile(name, 0, link, lambda: b"")
