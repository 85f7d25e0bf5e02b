"""Document bytes to text, by file type: Markdown and plain text as UTF-8, PDF with pypdf
(imported only when a PDF comes up). Any other type is refused, never guessed."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import PurePosixPath

from taxon.core.findings import WARNING
from taxon.documents.records import DocumentProblem

LFS_POINTER = b"version https://git-lfs.github.com/spec/"


def read_text(name: str, data: bytes) -> str:
    if data.startswith(LFS_POINTER):
        raise DocumentProblem(
            "D010", f"{name} is a Git LFS pointer, and LFS files are never fetched: commit the text itself"
        )
    try:
        if b"\0" in data:
            raise UnicodeError("NUL byte")
        return data.decode("utf-8-sig")
    except UnicodeError:
        raise DocumentProblem("D010", f"{name} is not UTF-8 text: convert it to UTF-8 Markdown or plain text") from None


def read_pdf(name: str, data: bytes) -> str:
    try:
        from pypdf import PdfReader
    except ImportError:
        raise DocumentProblem("D011", f"{name}: reading PDF needs the pypdf package: pip install 'taxon[train]'")
    try:
        pages = [page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages]
    except Exception as error:  # a malformed PDF makes pypdf raise many kinds of error
        raise DocumentProblem("D011", f"{name} is not a readable PDF ({error}): export it again or convert to Markdown")
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise DocumentProblem(
            "D011", f"{name} has no text layer (a scan?): add a Markdown or text version", severity=WARNING
        )
    return text


READERS: dict[str, Callable[[str, bytes], str]] = {
    ".md": read_text,
    ".markdown": read_text,
    ".txt": read_text,
    ".text": read_text,
    ".pdf": read_pdf,
}


def reader_for(name: str) -> Callable[[str, bytes], str]:
    """The reader for a file by its suffix; D009 for any type we don't read."""
    reader = READERS.get(PurePosixPath(name).suffix.lower())
    if reader is None:
        raise DocumentProblem(
            "D009", f"{name}: unsupported document type; use {', '.join(sorted(READERS))} (or narrow the pattern)"
        )
    return reader
