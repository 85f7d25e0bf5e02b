"""Markdown as taxon reads it, through markdown-it-py (CommonMark with GitHub's tables): a
document's headings and paragraphs as plain text, and a seed's text with the line breaks
its YAML block keeps inside a paragraph folded into spaces.

Indented code blocks are off: text extracted from a PDF or a plain-text file is often
indented, and is prose all the same. Fenced code, tables and HTML blocks are no prose to
restate, so they yield no paragraph; list items and quotes do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from itertools import pairwise

from markdown_it import MarkdownIt
from markdown_it.token import Token

_WRAPPED_WORD = re.compile(r"(?<=[a-z])-$")  # "olive-" at a line's end, "brown" on the next: one word
_HARD_BREAK = re.compile(r"(?:  |\\)$")  # Markdown's own hard break: kept


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table").disable("code")


@dataclass(frozen=True)
class Block:
    level: int  # a heading's level (1-6); 0 for a paragraph
    text: str  # plain text: markup dropped, a link as its text, an image as its alt text, lines joined


def blocks(text: str) -> list[Block]:
    """The headings and paragraphs of a Markdown text, in order, as plain text."""
    found = []
    tokens = _parser().parse(text)
    for opening, inline in pairwise(tokens):
        if inline.type != "inline":
            continue
        if opening.type == "heading_open":
            found.append(Block(int(opening.tag[1:]), _plain(inline.children or [])))
        elif opening.type == "paragraph_open":
            found.append(Block(0, _plain(inline.children or [])))
    return found


def _plain(children: list[Token]) -> str:
    pieces: list[str] = []
    for token in children:
        if token.type in ("text", "code_inline"):
            pieces.append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            pieces.append("\n")
        elif token.type == "image":
            pieces.append(_plain(token.children or []))
    return _join_lines("".join(pieces).split("\n"))


def _join_lines(lines: list[str]) -> str:
    text = ""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if not text:
            text = line
        elif _WRAPPED_WORD.search(text) and line[:1].islower():
            text += line
        else:
            text += " " + line
    return re.sub(r"\s+", " ", text)


def fold_lines(text: str) -> str:
    """`text` with the line breaks inside each paragraph made spaces (a YAML `|` block keeps
    the lines its writer wrapped at 80 columns: "is a small,\\nnonmigratory, North American
    bird"). Paragraph breaks, list items, tables, fenced code, quotes and Markdown's own hard
    breaks stay as they are."""
    if "\n" not in text.strip():
        return text
    lines = text.split("\n")
    joined_to_next: set[int] = set()
    quoted = 0
    for token in _parser().parse(text):
        if token.type == "blockquote_open":
            quoted += 1
        elif token.type == "blockquote_close":
            quoted -= 1
        elif token.type == "paragraph_open" and token.map and not quoted:
            start, end = token.map
            joined_to_next.update(n for n in range(start, end - 1) if not _HARD_BREAK.search(lines[n]))
    if not joined_to_next:
        return text
    out: list[str] = []
    for number, line in enumerate(lines):
        if number - 1 in joined_to_next:
            before, line = out[-1].rstrip(), line.strip()
            out[-1] = before + ("" if _WRAPPED_WORD.search(before) and line[:1].islower() else " ") + line
        else:
            out.append(line)
    return "\n".join(out)
