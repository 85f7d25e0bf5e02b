"""Documents cut into chunks a teacher can read: measured in the teacher's own tokens, at
most `chunk_tokens` each, consecutive chunks of a document sharing exactly `overlap` tokens,
and cut at a paragraph break where one falls in the second half of the window (else at a
sentence or line break, else mid-text). Same input, same chunks."""

from __future__ import annotations

import bisect
import re
from typing import Any

from taxon.core.errors import TaxonError, UsageError
from taxon.documents.records import Chunk, Document

PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
SENTENCE_BREAK = re.compile(r"[.!?][\"')\]]*\s+|\n\s*")


def chunk_documents(documents: list[Document], tokenizer: Any, chunk_tokens: int, overlap: int) -> list[Chunk]:
    """Chunks of every document in order, indexed from 0 across the whole list. `tokenizer`
    is any Hugging Face fast tokenizer (it must report character offsets)."""
    if chunk_tokens < 1 or not 0 <= overlap < chunk_tokens:
        raise UsageError(
            f"bad chunking: chunk_tokens={chunk_tokens}, overlap={overlap}",
            hint="set [documents] chunk_tokens >= 1 and 0 <= chunk_overlap < chunk_tokens",
        )
    chunks: list[Chunk] = []
    for document in documents:
        spans = _document_spans(document.text, tokenizer, chunk_tokens, overlap)
        for start_char, end_char, token_start, token_end in spans:
            text = document.text[start_char:end_char].strip()
            if text:
                chunks.append(Chunk(len(chunks), text, document.name, token_start, token_end))
    return chunks


def _document_spans(text: str, tokenizer: Any, chunk_tokens: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """(start char, end char, start token, end token) of each chunk of one text."""
    offsets = _offsets(text, tokenizer)
    ends = [end for _, end in offsets]
    paragraph_starts = _boundary_tokens(PARAGRAPH_BREAK, text, ends)
    sentence_starts = _boundary_tokens(SENTENCE_BREAK, text, ends)
    spans, start, count = [], 0, len(offsets)
    while start < count:
        limit = start + chunk_tokens
        if limit >= count:
            end = count
        else:
            # never below half a window, and always past the overlap so the next chunk advances
            floor = start + max(overlap + 1, chunk_tokens // 2)
            end = _last_between(paragraph_starts, floor, limit) or _last_between(sentence_starts, floor, limit) or limit
        spans.append((offsets[start][0], offsets[end - 1][1], start, end))
        if end == count:
            break
        start = end - overlap
    return spans


def _offsets(text: str, tokenizer: Any) -> list[tuple[int, int]]:
    try:
        encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    except NotImplementedError:
        raise TaxonError(
            f"the tokenizer {type(tokenizer).__name__} cannot report character offsets",
            hint="use a model with a fast (tokenizer.json) tokenizer for chunking",
        ) from None
    return [tuple(pair) for pair in encoding["offset_mapping"]]


def _boundary_tokens(breaks: re.Pattern[str], text: str, token_ends: list[int]) -> list[int]:
    """Index of the first token of each piece of text that follows a break (the first token
    ending past the break), sorted."""
    return sorted({bisect.bisect_right(token_ends, match.end()) for match in breaks.finditer(text)})


def _last_between(boundaries: list[int], low: int, high: int) -> int | None:
    position = bisect.bisect_right(boundaries, high) - 1
    if position >= 0 and boundaries[position] >= low:
        return boundaries[position]
    return None
