"""Fact questions of a knowledge leaf, asked without its document: the held-out seed Q&As and
cloze questions built from the document's own sentences, each with the key facts an answer must contain (`taxon.qna.text.key_facts`). Built deterministically
from the leaf alone, so references never come from a teacher, and shared by generate and train
(which keep them out of training) and evaluate (which asks them). Text only: the caller passes
the document's sentences (`taxon.documents.sections`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from taxon.qna.heldout import held_out_seed_indexes
from taxon.qna.taxonomy import Leaf
from taxon.qna.text import key_facts, known_names, sentence_facts, words


@dataclass(frozen=True)
class FactQuestion:
    id: str  # "seed-<index>" or "doc-<hash of the question>"
    question: str  # asked without the document
    reference: str  # the seed's answer, or the document sentence
    answer: str  # the short right answer (the blanked fact for a document question; the seed answer)
    key_facts: tuple[str, ...]
    source: str  # "seed" | "document"
    answer_start: int = 0  # where `answer` begins in `reference` (the blank of a document question)


def topic_of(leaf: Leaf) -> str:
    return leaf.folder.name.replace("_", " ")


def document_questions(leaf: Leaf, sentences: list[str], names: frozenset[str]) -> list[FactQuestion]:
    """One cloze question per fact of each document sentence: the sentence with that fact blanked.
    Ordered by the fact's place in its sentence, then by sentence: every sentence's first fact
    before any second one, so a per-leaf cap still covers the whole document."""
    topic = topic_of(leaf)
    topic_words = set(words(topic))
    facts = [
        (rank, number, sentence, fact)
        for number, sentence in enumerate(sentences)
        for rank, fact in enumerate(sentence_facts(sentence, names, topic_words))
    ]
    questions, seen = [], set()
    for _, _, sentence, fact in sorted(facts, key=lambda entry: entry[:2]):
        cloze = f"{sentence[: fact.start]}____{sentence[fact.end :]}"
        question = f'About {topic}: fill in the blank. "{cloze}"'
        if question in seen:
            continue
        seen.add(question)
        kind = "number" if fact.kind == "number" else "name"
        questions.append(
            FactQuestion(
                "doc-" + hashlib.sha256(question.encode("utf-8")).hexdigest()[:12],
                question,
                sentence,
                sentence[fact.start : fact.end],
                (f"{kind}:{fact.value}",),
                "document",
                fact.start,
            )
        )
    return questions


def held_out_seed_questions(leaf: Leaf, eval_share: float, names: frozenset[str]) -> list[FactQuestion]:
    items = []
    held_out = held_out_seed_indexes(leaf, eval_share)
    for index, seed in enumerate(leaf.seeds):
        if index not in held_out or not seed.question:
            continue
        facts = key_facts(seed.answer, seed.question, names)
        if facts:
            items.append(FactQuestion(f"seed-{index}", seed.question, seed.answer, seed.answer, facts, "seed"))
    return items


def leaf_names(leaf: Leaf, sentences: list[str]) -> frozenset[str]:
    return known_names([*sentences, *(seed.context or "" for seed in leaf.seeds), *(s.answer for s in leaf.seeds)])


def fact_questions(leaf: Leaf, sentences: list[str], eval_share: float) -> list[FactQuestion]:
    """Every fact question of a knowledge leaf: its held-out seeds first (the split of
    `qna.heldout`), then one per fact of its document sentences (`documents.document_sections`)."""
    names = leaf_names(leaf, sentences)
    return held_out_seed_questions(leaf, eval_share, names) + document_questions(leaf, sentences, names)
