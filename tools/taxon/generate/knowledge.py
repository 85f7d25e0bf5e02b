"""Knowledge: each document chunk paired with seed examples; the teacher writes questions the
chunk answers, in the style of the seed's question and answer, answered from the chunk and
judged for faithfulness to it. Only a `knowledge_chunk_share` of the finished samples show
the chunk (grounded answering); the rest ask the question bare, which trains remembering."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Generator
from typing import Any

from taxon.core.errors import TaxonError
from taxon.core.settings import Config
from taxon.documents.records import Chunk, Document
from taxon.generate.steps import Candidate, LeafJob, list_items, list_unit


def seeds_for_chunk(chunk_index: int, seed_count: int, per_chunk: int) -> list[int]:
    """The seeds paired with a chunk: all of them, or `per_chunk` in rotation so that every
    seed serves as an example across the chunks."""
    if per_chunk <= 0 or per_chunk >= seed_count:
        return list(range(seed_count))
    return [(chunk_index * per_chunk + offset) % seed_count for offset in range(per_chunk)]


def shows_chunk(question: str, share: float) -> bool:
    """Whether a sample shows its chunk: a fixed draw per question, so a rerun agrees."""
    digest = hashlib.sha256(question.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


# "According to the passage, ..." asks the reader to look: without the passage the question
# is empty, so such a question keeps its chunk in every sample
_NEEDS_PASSAGE = re.compile(
    r"\b(?:the|this|that|above|given) (?:passage|text|document|excerpt|paragraph|article)\b", re.IGNORECASE
)


def needs_passage(question: str) -> bool:
    return bool(_NEEDS_PASSAGE.search(question))


def load_documents(job: LeafJob, config: Config) -> tuple[list[Document], list[Chunk]]:
    """The leaf's documents and their chunks, by the teacher's tokenizer (or `generate.chunk_tokenizer`)."""
    from taxon.backends.tokenizers import chunk_tokenizer
    from taxon.documents import chunk_documents, load_leaf_documents

    settings = config.documents
    documents = load_leaf_documents(job.leaf, settings)
    tokenizer = chunk_tokenizer(config.generate, config.models)
    chunks = chunk_documents(documents, tokenizer, settings.chunk_tokens, settings.chunk_overlap)
    if not chunks:
        raise TaxonError("its documents hold no text to generate from", where=job.leaf.leaf_id)
    cap = settings.max_chunks_per_leaf
    if len(chunks) > cap:
        raise TaxonError(
            f"D016 its documents make {len(chunks)} chunks, over [documents] max_chunks_per_leaf ({cap})",
            where=job.leaf.leaf_id,
            hint="split the leaf or narrow its document patterns",
        )
    return documents, chunks


def propose(job: LeafJob, chunks: list[Any]) -> Generator[list[Any], list[Any], list[Candidate]]:
    """The teacher's questions on each chunk; none when `questions_per_chunk` is 0 (the leaf
    then trains on what its documents and seeds say, restated without a teacher)."""
    leaf, settings = job.leaf, job.settings
    if settings.questions_per_chunk == 0:
        return []
    outline = leaf.document_outline or leaf.domain or leaf.leaf_id
    plan = []
    for chunk in chunks:
        for position in seeds_for_chunk(chunk.index, len(job.training_seeds), settings.seeds_per_chunk):
            seed_index = job.training_seeds[position]
            seed = leaf.seeds[seed_index]
            unit = list_unit(
                job,
                "knowledge_questions",
                outline=outline,
                chunk=chunk.text,
                example_question=seed.question,
                example_answer=seed.answer,
                count=settings.questions_per_chunk,
            )
            plan.append((chunk, seed_index, unit))
    replies = yield [unit for _, _, unit in plan]

    candidates: list[Candidate] = []
    for (chunk, seed_index, unit), reply in zip(plan, replies):
        questions, rejects = list_items(unit, reply, settings.questions_per_chunk, seed_index, chunk.index, "questions")
        reference = f"{chunk.text} {outline} {leaf.domain}"
        candidates += rejects
        candidates += [
            Candidate(
                seed_index,
                chunk.index,
                question,
                chunk.text,
                reference,
                needs_passage(question) or shows_chunk(question, settings.knowledge_chunk_share),
            )
            for question in questions
        ]
    return candidates
