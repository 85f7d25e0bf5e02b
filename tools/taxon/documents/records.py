"""What the documents stage hands on (documents and chunks) and the problems it reports,
each with a stable rule code (D001...) shared by `taxon validate --check-documents`."""

from __future__ import annotations

from dataclasses import dataclass

from taxon.findings import ERROR

IN_TREE = "in-tree"

# [documents] settings when the config has none (a taxonomy fork without taxon.toml)
DEFAULT_SETTINGS = {
    "cache_dir": ".taxon-cache/documents",
    "chunk_tokens": 400,
    "chunk_overlap": 50,
    "max_file_bytes": 2_000_000,
    "max_leaf_bytes": 10_000_000,
    "fetch_timeout_s": 120,
    "allow_file_urls": False,
}


def document_settings(config: dict) -> dict:
    return {**DEFAULT_SETTINGS, **(config.get("documents") or {})}

# rule code -> what it checks (for the rules table)
RULES = {
    "D001": "an external document repository must be an https:// URL without credentials",
    "D002": "the document repository must be reachable (fetched within the timeout)",
    "D003": "the document commit must be a full sha that exists in the repository",
    "D004": "every document pattern must match at least one file",
    "D005": "document patterns stay inside the leaf folder or repository (no '..', no absolute paths)",
    "D006": "symlinks and submodules are never followed",
    "D007": "a document file must not exceed [documents] max_file_bytes",
    "D008": "a leaf's documents together must not exceed [documents] max_leaf_bytes",
    "D009": "documents must be Markdown, plain text or PDF",
    "D010": "a text document must be UTF-8 text (not binary, not a Git LFS pointer)",
    "D011": "a PDF document must be readable and contain text",
    "D012": "the fetched commit must pass git's object checks (fsck)",
}


@dataclass(frozen=True)
class Document:
    name: str    # path relative to the leaf folder (in-tree) or the repository root
    text: str
    source: str  # "in-tree" or "REPO@COMMIT"
    sha256: str  # of the file's bytes


@dataclass(frozen=True)
class Chunk:
    index: int        # position among all chunks of the leaf
    text: str
    document: str     # Document.name
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
