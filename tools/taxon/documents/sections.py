"""A document's text as sections of sentences: the units knowledge is restated in (one training
sample per section and per sentence) and fact questions are drawn from. Markdown headings
start sections; markup is stripped by a Markdown parser; same text, same sections."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from taxon.core.settings import DocumentsSettings
from taxon.documents.leaf import load_leaf_documents
from taxon.documents.records import Document
from taxon.qna.markdown import blocks as markdown_blocks
from taxon.qna.taxonomy import Leaf

# a sentence ends at . ! ? (and closing quotes) before a capital, digit or quote; not after
# a common abbreviation or a single initial
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "mr.", "mrs.", "ms.", "dr.", "st.", "no.", "approx.", "ca.")
MIN_SENTENCE_WORDS = 4


@dataclass(frozen=True)
class Section:
    document: str  # Document.name
    title: str  # the document's first top-level heading, else its file name
    heading: str  # the section's own heading ("" for text before the first one)
    sentences: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def split_sentences(text: str) -> list[str]:
    pieces, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        before = text[start : match.start()].rstrip("\"')]")
        last = before.rsplit(None, 1)[-1].lower() if before.split() else ""
        if last in _ABBREVIATIONS or re.fullmatch(r"[a-z]\.", last):
            continue
        pieces.append(text[start : match.start()].strip())
        start = match.end()
    pieces.append(text[start:].strip())
    return [piece for piece in pieces if piece]


def document_sections(document: Document) -> list[Section]:
    """The sections of a document, each with its sentences (short fragments of fewer than
    MIN_SENTENCE_WORDS words, such as captions, left out). The text is read as Markdown by
    a parser (taxon.qna.markdown): links become their text, whatever their URL holds
    (Wikipedia's `[family](family_(biology) "wikilink")`), and tables and code are left out."""
    title, heading = "", ""
    sections: list[Section] = []
    paragraphs: list[str] = []

    def end_section() -> None:
        sentences = [s for p in paragraphs for s in split_sentences(p) if len(s.split()) >= MIN_SENTENCE_WORDS]
        if sentences:
            sections.append(Section(document.name, title, heading, tuple(sentences)))
        paragraphs.clear()

    for block in markdown_blocks(document.text):
        if block.level:
            end_section()
            if block.level == 1 and not title:
                title = block.text
            heading = block.text
        else:
            paragraphs.append(block.text)
    end_section()
    name = PurePosixPath(document.name).stem.replace("_", " ").replace("-", " ")
    return [
        Section(s.document, s.title or name, "" if s.heading == s.title else s.heading, s.sentences) for s in sections
    ]


def leaf_sentences(leaf: Leaf, settings: DocumentsSettings) -> list[str]:
    """Every sentence of a knowledge leaf's documents, in order."""
    return [
        sentence
        for document in load_leaf_documents(leaf, settings)
        for section in document_sections(document)
        for sentence in section.sentences
    ]
