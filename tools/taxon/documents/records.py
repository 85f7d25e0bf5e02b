"""What the documents stage hands on (documents and chunks) and the problems it reports,
each with a stable rule code (D001...) shared by `taxon validate --check-documents`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from taxon.core.findings import ERROR
from taxon.core.settings import DocumentsSettings, plain

IN_TREE = "in-tree"
# [documents] settings that say where a document is fetched from, not what it holds (a pinned
# commit is the same wherever it came from): no key of generated data depends on them
SOURCE_ONLY_KEYS = ("mirrors",)


def content_settings(settings: DocumentsSettings) -> dict[str, Any]:
    """[documents] as it decides what the documents of a leaf are and how they are cut."""
    return {key: value for key, value in plain(settings).items() if key not in SOURCE_ONLY_KEYS}


@dataclass(frozen=True)
class Document:
    name: str  # path relative to the leaf folder (in-tree) or the repository root
    text: str
    source: str  # "in-tree" or "REPO@COMMIT"
    sha256: str  # of the file's bytes


@dataclass(frozen=True)
class Chunk:
    index: int  # position among all chunks of the leaf
    text: str
    document: str  # Document.name
    token_start: int  # span in the document's tokens, end exclusive
    token_end: int

    @property
    def tokens(self) -> int:
        return self.token_end - self.token_start


@dataclass(frozen=True)
class Problem:
    rule: str
    message: str  # what is wrong and what to do
    severity: str = ERROR
    pattern: str | None = None  # the pattern it concerns, to point at its line


class DocumentProblem(Exception):
    """Raised inside the stage where one problem stops work on a file or a whole source."""

    def __init__(self, rule: str, message: str, severity: str = ERROR):
        super().__init__(message)
        self.problem = Problem(rule, message, severity)
