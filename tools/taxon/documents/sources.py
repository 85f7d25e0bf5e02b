"""The files a leaf's document patterns choose from: the leaf's own folder (in-tree, schema
v4) or one pinned commit of an external repository. Both are listed without following a
symlink and within the listing caps (files, depth), names only; a fetched commit's blobs are
fetched only once the patterns chose them, and a file's bytes are read only after it passed
the pattern, type and size checks."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from taxon.core.git import GitFailed
from taxon.core.github import log_name
from taxon.core.settings import DocumentsSettings
from taxon.documents.git import blob_sizes, check_commit, fetch_blobs, fetch_commit, list_tree, read_blobs
from taxon.documents.mirrors import mirror_for
from taxon.documents.records import IN_TREE, DocumentProblem
from taxon.qna.layout import QNA_NAME
from taxon.qna.taxonomy import DocumentRef


@dataclass(frozen=True)
class ListingCaps:
    max_files: int  # files listed
    max_depth: int  # folders deep


@dataclass(frozen=True)
class BlobBatch:
    """The blobs of one fetched commit, fetched and read together."""

    git_dir: Path
    settings: DocumentsSettings
    repo: str
    mirror: str | None = None  # where the blobs come from instead ([documents] mirrors)

    def read(self, object_ids: list[str]) -> dict[str, bytes]:
        try:
            return read_blobs(self.git_dir, object_ids, self.settings)
        except GitFailed:
            raise DocumentProblem("D002", "cannot read the blobs of the fetched repository") from None

    def fetch(self, object_ids: list[str], max_bytes: int) -> dict[str, int]:
        """Fetch what is missing of these blobs (within `max_bytes`); their sizes by id."""
        try:
            fetch_blobs(self.git_dir, self.repo, object_ids, self.settings, max_bytes, self.mirror)
            return blob_sizes(self.git_dir, object_ids, self.settings)
        except GitFailed:
            raise DocumentProblem("D002", "cannot read the blobs of the fetched repository") from None


@dataclass(frozen=True)
class SourceFile:
    name: str  # posix path relative to the leaf folder or repository root
    size: int | None  # None for a fetched file until its blob is fetched (`with_sizes`)
    link: str | None  # "symlink", "submodule" or "special file": never read
    read: Callable[[], bytes]
    blob: tuple[BlobBatch, str] | None = None  # a fetched file: its commit's batch and object id


def read_all(files: list[SourceFile]) -> dict[str, bytes | DocumentProblem]:
    """The bytes of each file (or the problem reading it), by name: in-tree files one by one,
    a fetched commit's files by one batch."""
    contents: dict[str, bytes | DocumentProblem] = {}
    for batch, members in _by_batch(files, contents, read=True).items():
        try:
            blobs = batch.read([member.blob[1] for member in members if member.blob])
        except DocumentProblem as problem:
            blobs = {}
            contents.update({member.name: problem for member in members})
        for member in members:
            if member.blob and member.blob[1] in blobs:
                contents[member.name] = blobs[member.blob[1]]
            else:
                contents.setdefault(member.name, DocumentProblem("D002", f"{member.name}: its blob is missing"))
    return contents


def with_sizes(files: list[SourceFile], max_bytes: int) -> list[SourceFile]:
    """The files with their sizes: a fetched commit's selected blobs are fetched here, by one
    git process stopped past `max_bytes` (DocumentProblem D008), and sized locally."""
    sizes: dict[str, int] = {}
    for batch, members in _by_batch(files, {}, read=False).items():
        sizes.update(batch.fetch([member.blob[1] for member in members if member.blob], max_bytes))
    sized = []
    for file in files:
        if file.blob is None or file.link is not None:
            sized.append(file)
        elif file.blob[1] in sizes:
            sized.append(replace(file, size=sizes[file.blob[1]]))
        else:
            raise DocumentProblem("D002", f"{file.name}: the repository did not send its blob")
    return sized


def _by_batch(
    files: list[SourceFile], contents: dict[str, bytes | DocumentProblem], read: bool
) -> dict[BlobBatch, list[SourceFile]]:
    """A fetched commit's readable files by their batch; in-tree files are read into
    `contents` on the way when `read`."""
    batches: dict[BlobBatch, list[SourceFile]] = {}
    for file in files:
        if file.blob is not None and file.link is None:
            batches.setdefault(file.blob[0], []).append(file)
        elif read:
            try:
                contents[file.name] = file.read()
            except DocumentProblem as problem:
                contents[file.name] = problem
    return batches


def list_source(
    folder: Path, ref: DocumentRef, settings: DocumentsSettings, caps: ListingCaps
) -> tuple[str, list[SourceFile]]:
    """(source label, files) for a document reference; DocumentProblem when unreachable or
    over the listing caps (D018)."""
    if ref.repo is None:
        return IN_TREE, in_tree_files(folder, caps)
    # resolved before the fetch: the maintainer's mirror of the repository, if any
    mirror = mirror_for(ref.repo, settings.mirrors)
    git_dir = fetch_commit(ref.repo, ref.commit, settings, mirror)
    commit = check_commit(ref.commit)  # the normalised sha fetch_commit pinned
    return f"{ref.repo}@{commit}", repo_files(git_dir, commit, settings, ref.repo, caps, mirror)


def _over_cap(count: str, caps: ListingCaps, where: str) -> DocumentProblem:
    return DocumentProblem(
        "D018",
        f"{where} lists {count} files, over max_listed_files ({caps.max_files}): "
        "keep the documents in a smaller folder or repository",
    )


def _too_deep(path: str, caps: ListingCaps) -> DocumentProblem:
    """`path` a file's, or a folder's with a trailing '/' (its files one level deeper)."""
    depth = path.count("/") + 1
    return DocumentProblem(
        "D018",
        f"{log_name(path[:200])}: files {depth} levels deep, over max_depth ({caps.max_depth}): "
        "keep the documents nearer the top",
    )


def in_tree_files(folder: Path, caps: ListingCaps) -> list[SourceFile]:
    """Files under a leaf folder; subfolders holding their own qna.yaml belong to that leaf.
    The walk stops at the first file past the caps."""
    files = []
    for current, dirnames, filenames in os.walk(folder):
        current_path = Path(current)
        kept = []
        for dirname in sorted(dirnames):
            path = current_path / dirname
            relative = path.relative_to(folder).as_posix()
            if path.is_symlink():
                files.append(_unreadable(relative, "symlink"))
            elif relative.count("/") + 1 >= caps.max_depth:
                raise _too_deep(f"{relative}/", caps)
            elif not (path / QNA_NAME).exists():
                kept.append(dirname)
        dirnames[:] = kept
        for filename in filenames:
            path = current_path / filename
            files.append(_in_tree_file(path, path.relative_to(folder).as_posix()))
        if len(files) > caps.max_files:
            raise _over_cap(f"more than {caps.max_files}", caps, "the leaf folder")
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


def repo_files(
    git_dir: Path, commit: str, settings: DocumentsSettings, repo: str, caps: ListingCaps, mirror: str | None = None
) -> list[SourceFile]:
    """The commit's files from its trees, names only (their blobs are fetched once selected)."""
    try:
        entries = list_tree(git_dir, commit, settings)
    except GitFailed:
        raise DocumentProblem("D002", f"cannot list the files of the fetched commit {commit}") from None
    if len(entries) > caps.max_files:
        raise _over_cap(str(len(entries)), caps, f"commit {commit}")
    deep = next((entry.path for entry in entries if entry.path.count("/") + 1 > caps.max_depth), None)
    if deep is not None:
        raise _too_deep(deep, caps)
    batch = BlobBatch(git_dir, settings, repo, mirror)
    files = []
    for entry in entries:
        if entry.is_regular_file:
            read = partial(_read_one, batch, entry.object_id)
            files.append(SourceFile(entry.path, None, None, read, (batch, entry.object_id)))
        else:
            files.append(_unreadable(entry.path, "symlink" if entry.mode == "120000" else "submodule"))
    return files


def _read_one(batch: BlobBatch, object_id: str) -> bytes:
    return batch.read([object_id])[object_id]


def _unreadable(name: str, link: str) -> SourceFile:
    return SourceFile(name, 0, link, lambda: b"")
