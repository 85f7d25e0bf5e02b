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
class BlobBatch:
    """The blobs of one fetched commit, read together by one `git cat-file --batch`."""

    git_dir: Path
    settings: git.FetchSettings

    def read(self, object_ids: list[str]) -> dict[str, bytes]:
        try:
            return git.read_blobs(self.git_dir, object_ids, self.settings)
        except git.GitFailed:
            raise DocumentProblem("D002", "cannot read the blobs of the fetched repository") from None


@dataclass(frozen=True)
class SourceFile:
    name: str  # posix path relative to the leaf folder or repository root
    size: int
    link: str | None  # "symlink", "submodule" or "special file": never read
    read: Callable[[], bytes]
    blob: tuple[BlobBatch, str] | None = None  # a fetched file: its commit's batch and object id


def read_all(files: list[SourceFile]) -> dict[str, bytes | DocumentProblem]:
    """The bytes of each file (or the problem reading it), by name: in-tree files one by one,
    a fetched commit's files by one batch."""
    contents: dict[str, bytes | DocumentProblem] = {}
    batches: dict[BlobBatch, list[SourceFile]] = {}
    for file in files:
        if file.blob is not None:
            batches.setdefault(file.blob[0], []).append(file)
            continue
        try:
            contents[file.name] = file.read()
        except DocumentProblem as problem:
            contents[file.name] = problem
    for batch, members in batches.items():
        try:
            blobs = batch.read([member.blob[1] for member in members])
        except DocumentProblem as problem:
            blobs = {}
            contents.update({member.name: problem for member in members})
        for member in members:
            if member.blob[1] in blobs:
                contents[member.name] = blobs[member.blob[1]]
            else:
                contents.setdefault(member.name, DocumentProblem("D002", f"{member.name}: its blob is missing"))
    return contents


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
    """The commit's files with the sizes git lists (`ls-tree -l`), so size caps hold before
    any blob is read."""
    try:
        entries = git.list_tree(git_dir, commit, settings)
    except git.GitFailed:
        raise DocumentProblem("D002", f"cannot list the files of the fetched commit {commit}") from None
    batch = BlobBatch(git_dir, settings)
    files = []
    for entry in entries:
        if entry.is_regular_file:
            blob = (batch, entry.object_id)
            files.append(
                SourceFile(entry.path, entry.size, None, lambda blob=blob: blob[0].read([blob[1]])[blob[1]], blob)
            )
        else:
            files.append(_unreadable(entry.path, "symlink" if entry.mode == "120000" else "submodule"))
    return files


def _unreadable(name: str, link: str) -> SourceFile:
    return SourceFile(name, 0, link, lambda: b"")
