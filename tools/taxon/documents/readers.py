"""Document bytes to text, by file type: Markdown and plain text as UTF-8, PDF with pypdf
(imported only when a PDF comes up). Any other type is refused, never guessed. Text is
extracted within caps (TextLimits): a PDF's pages are counted before any is read, each page's
content is sized before its text is extracted, and extraction stops at the character cap."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from taxon.core.findings import WARNING
from taxon.core.settings import DocumentsSettings
from taxon.documents.records import DocumentProblem

LFS_POINTER = b"version https://git-lfs.github.com/spec/"
CONTENT_BYTES_PER_CHAR = 4  # page content a PDF may hold per character it may yield (operators, positions)


@dataclass(frozen=True)
class TextLimits:
    max_pages: int  # of one PDF
    max_chars: int  # text this document may yield
    cap_name: str  # the setting that set max_chars, for the message

    @classmethod
    def within(cls, settings: DocumentsSettings, leaf_chars: int) -> TextLimits:
        """The caps of one document: its own, or what is left of the leaf's, the smaller."""
        left = settings.max_leaf_chars - leaf_chars
        if left < settings.max_document_chars:
            return cls(settings.max_pdf_pages, max(0, left), "max_leaf_chars")
        return cls(settings.max_pdf_pages, settings.max_document_chars, "max_document_chars")

    def over(self, name: str, count: str) -> DocumentProblem:
        return DocumentProblem(
            "D018",
            f"{name} yields {count} characters of text, over {self.cap_name} ({self.max_chars}): split it or the leaf",
        )


Reader = Callable[[str, bytes, TextLimits], str]


def default_limits() -> TextLimits:
    return TextLimits.within(DocumentsSettings(), 0)


def read_text(name: str, data: bytes, limits: TextLimits | None = None) -> str:
    limits = limits or default_limits()
    if data.startswith(LFS_POINTER):
        raise DocumentProblem(
            "D010", f"{name} is a Git LFS pointer, and LFS files are never fetched: commit the text itself"
        )
    try:
        if b"\0" in data:
            raise UnicodeError("NUL byte")
        text = data.decode("utf-8-sig")
    except UnicodeError:
        raise DocumentProblem("D010", f"{name} is not UTF-8 text: convert it to UTF-8 Markdown or plain text") from None
    if len(text) > limits.max_chars:
        raise limits.over(name, str(len(text)))
    return text


def read_pdf(name: str, data: bytes, limits: TextLimits | None = None) -> str:
    limits = limits or default_limits()
    try:
        from pypdf import PdfReader
    except ImportError:
        raise DocumentProblem("D011", f"{name}: reading PDF needs the pypdf package: pip install 'taxon[train]'")
    try:
        reader = PdfReader(io.BytesIO(data))
        _check_pages(name, reader, limits)
        pages = _page_texts(name, reader, limits)
    except DocumentProblem:
        raise
    except Exception as error:  # a malformed PDF makes pypdf raise many kinds of error
        raise DocumentProblem("D011", f"{name} is not a readable PDF ({error}): export it again or convert to Markdown")
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise DocumentProblem(
            "D011", f"{name} has no text layer (a scan?): add a Markdown or text version", severity=WARNING
        )
    return text


def _check_pages(name: str, reader: Any, limits: TextLimits) -> None:
    """D018 for more pages than the cap: the count the file declares first (read without
    walking the page tree), then the pages the tree really holds."""
    declared = reader.trailer["/Root"]["/Pages"].get("/Count", 0)
    for count in (declared, len(reader.pages)):
        if isinstance(count, int) and count > limits.max_pages:
            raise DocumentProblem(
                "D018", f"{name} has {count} pages, over max_pdf_pages ({limits.max_pages}): split it or the leaf"
            )


def _page_texts(name: str, reader: Any, limits: TextLimits) -> list[str]:
    """Each page's text, the page's content sized before its text is extracted (pages may
    share one stream: each page is work of its own) and the characters counted after."""
    texts: list[str] = []
    content_bytes = chars = 0
    max_content = limits.max_chars * CONTENT_BYTES_PER_CHAR
    for number, page in enumerate(reader.pages, 1):
        contents = page.get_contents()
        content_bytes += len(contents.get_data()) if contents is not None else 0
        if content_bytes > max_content:
            raise DocumentProblem(
                "D018",
                f"{name} holds more than {max_content} bytes of page content by page {number} "
                f"({CONTENT_BYTES_PER_CHAR} per character of {limits.cap_name}, {limits.max_chars}): "
                "split it or the leaf",
            )
        texts.append(page.extract_text() or "")
        chars += len(texts[-1])
        if chars > limits.max_chars:
            raise limits.over(name, f"more than {chars} (by page {number})")
    return texts


READERS: dict[str, Reader] = {
    ".md": read_text,
    ".markdown": read_text,
    ".txt": read_text,
    ".text": read_text,
    ".pdf": read_pdf,
}


def reader_for(name: str) -> Reader:
    """The reader for a file by its suffix; D009 for any type we don't read."""
    reader = READERS.get(PurePosixPath(name).suffix.lower())
    if reader is None:
        raise DocumentProblem(
            "D009", f"{name}: unsupported document type; use {', '.join(sorted(READERS))} (or narrow the pattern)"
        )
    return reader
