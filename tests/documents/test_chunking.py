"""Chunking by the teacher's tokenizer (here the tiny model's): bounded, overlapping by the
set amount, cut at paragraph breaks where it can, and the same every time."""

from __future__ import annotations

import itertools

import pytest

from taxon.core.errors import UsageError
from taxon.documents import Chunk, Document, chunk_documents

PARAGRAPHS = [
    "The black-capped chickadee is a small bird of North American forests. " * 3,
    "A skill turns five seed examples into many training samples. " * 2,
    "Question: what is the capital of France? Answer: Paris is the capital of France. " * 4,
    "Rewrite the sentence politely, then explain the change in one line. " * 2,
]


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def documents() -> list[Document]:
    text = "\n\n".join(paragraph.strip() for paragraph in PARAGRAPHS) + "\n"
    return [Document("birds.md", text, "in-tree", "0" * 64), Document("short.md", "Yes no.", "in-tree", "1" * 64)]


def token_count(tokenizer, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def test_chunks_are_bounded_overlap_and_cover_each_document(tokenizer):
    size, overlap = 40, 8
    chunks = chunk_documents(documents(), tokenizer, size, overlap)

    birds = [chunk for chunk in chunks if chunk.document == "birds.md"]
    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))
    assert len(birds) > 3 and all(chunk.tokens <= size for chunk in chunks)
    assert birds[0].token_start == 0
    assert birds[-1].token_end == token_count(tokenizer, documents()[0].text)
    for previous, following in itertools.pairwise(birds):
        assert following.token_start == previous.token_end - overlap
    assert chunks[-1] == Chunk(len(chunks) - 1, "Yes no.", "short.md", 0, token_count(tokenizer, "Yes no."))


def test_cuts_prefer_paragraph_breaks(tokenizer):
    first_paragraph = token_count(tokenizer, PARAGRAPHS[0].strip())
    size = first_paragraph + 10  # the first break falls inside the window's second half

    first = chunk_documents(documents()[:1], tokenizer, size, 0)[0]

    assert first.text == PARAGRAPHS[0].strip()


def test_chunking_is_deterministic_and_validates_its_settings(tokenizer):
    assert chunk_documents(documents(), tokenizer, 30, 5) == chunk_documents(documents(), tokenizer, 30, 5)
    assert chunk_documents([], tokenizer, 30, 5) == []
    for size, overlap in ((0, 0), (10, 10), (10, -1)):
        with pytest.raises(UsageError):
            chunk_documents(documents(), tokenizer, size, overlap)
