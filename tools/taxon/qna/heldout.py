"""What evaluation keeps for itself, and the one test of whether a question comes too close to
it. Held-out seeds never reach the teacher (as examples to imitate or answer) and never reach
training; a generated or derived question whose words overlap a held-out question by
`HELD_OUT_MAX_JACCARD` or more is dropped in generation and again in training, so a reworded
form of a held-out question cannot slip in either. For a skill leaf the words its questions'
form repeats ("what is the plural of") are left out of the comparison: every instance of the
form shares them, and learning the form is the point of a skill."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from taxon.qna.samples import bare_question, is_held_out, question_of, seed_samples
from taxon.qna.taxonomy import Leaf

HELD_OUT_MAX_JACCARD = 0.6  # a training question this close to a held-out one is a leak


def words(text: str) -> list[str]:
    """Lower-case word tokens, apostrophes normalised."""
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower().replace("’", "'"))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def held_out_seed_indexes(leaf: Leaf, eval_share: float) -> set[int]:
    """The seeds evaluation keeps, by the same split as every other sample (`is_held_out`)."""
    return {index for index, sample in enumerate(seed_samples(leaf)) if is_held_out(sample, eval_share)}


def training_seed_indexes(leaf: Leaf, eval_share: float) -> list[int]:
    held = held_out_seed_indexes(leaf, eval_share)
    return [index for index in range(len(leaf.seeds)) if index not in held]


def form_words(questions: Iterable[str]) -> frozenset[str]:
    """The words that recur in at least a third of these questions (of two or more): a skill's form."""
    sets = [frozenset(words(question)) for question in questions]
    if len(sets) < 2:
        return frozenset()
    counts = Counter(word for found in sets for word in found)
    return frozenset(word for word, count in counts.items() if 3 * count >= len(sets))


@dataclass(frozen=True)
class HeldOut:
    """The held-out questions of a leaf (or of several), as token sets, less `form` (the words
    every question of a skill's form repeats)."""

    questions: tuple[str, ...]
    max_jaccard: float = HELD_OUT_MAX_JACCARD
    form: frozenset[str] = frozenset()
    _sets: tuple[frozenset[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_sets", tuple(self.tokens(q) for q in self.questions))

    def tokens(self, question: str) -> frozenset[str]:
        return frozenset(words(question)) - self.form

    def closest(self, question: str) -> tuple[float, str | None]:
        """(similarity, held-out question) of the nearest held-out question; (0, None) when none."""
        own = self.tokens(question)
        best, best_question = 0.0, None
        for held, text in zip(self._sets, self.questions):
            score = jaccard(own, held)
            if score > best:
                best, best_question = score, text
        return best, best_question

    def too_close(self, question: str) -> bool:
        return self.closest(question)[0] >= self.max_jaccard


def leaf_form(leaf: Leaf) -> frozenset[str]:
    """A skill leaf's form words, from all its seed questions; none for knowledge, where every
    word of a question may carry the fact."""
    return form_words(seed.question for seed in leaf.seeds) if leaf.kind != "knowledge" else frozenset()


def leaf_held_out(leaf: Leaf, eval_share: float, extra_questions: tuple[str, ...] = ()) -> HeldOut:
    """The leaf's held-out seed questions and any further held-out questions evaluation asks,
    compared without the leaf's form words ("Is 37 odd or even?" and "Is 451 odd or even?"
    share 4 of 6 words, none of them beyond the form)."""
    seeds = [leaf.seeds[index].question for index in sorted(held_out_seed_indexes(leaf, eval_share))]
    return HeldOut(tuple(seeds) + tuple(extra_questions), HELD_OUT_MAX_JACCARD, leaf_form(leaf))


TRAIN, HELD_OUT, NEAR_HELD_OUT = "train", "held_out", "near_held_out"


class TrainingSplit:
    """Which side of the split each collected row falls on: held out (evaluation's by the
    question hash), near a held-out question (trained by no one, kept by no one), or train.
    Training and the published dataset both split by it, so they agree."""

    def __init__(
        self,
        leaves: list[Leaf],
        eval_share: float,
        extra: dict[str, tuple[str, ...]] | None = None,
        rows: Iterable[dict[str, Any]] = (),
    ):
        """`extra`: per leaf id, further questions evaluation asks (a knowledge leaf's fact
        questions from its document, `documents.sections.held_out_fact_questions`). `rows`: the
        collected samples; a skill leaf's held-out generated questions are asked by evaluation
        too, so a near copy of one is no more trained than a near copy of a held-out seed."""
        self.eval_share = eval_share
        asked = {leaf_id: list(questions) for leaf_id, questions in (extra or {}).items()}
        skills = {leaf.leaf_id for leaf in leaves if leaf.kind != "knowledge"}
        for row in rows:
            leaf_id = str((row.get("metadata") or {}).get("leaf"))
            if leaf_id in skills and is_held_out(row, eval_share):
                asked.setdefault(leaf_id, []).append(bare_question(row))
        self.guards = {
            leaf.leaf_id: leaf_held_out(leaf, eval_share, tuple(asked.get(leaf.leaf_id, ()))) for leaf in leaves
        }
        knowledge = [self.guards[leaf.leaf_id] for leaf in leaves if leaf.kind == "knowledge"]
        self.everything = HeldOut(tuple(q for guard in knowledge for q in guard.questions))

    def side(self, row: dict[str, Any]) -> str:
        if is_held_out(row, self.eval_share):
            return HELD_OUT
        # the question itself, without a context shown before it; a row of no leaf (replay)
        # is checked against every knowledge leaf
        guard = self.guards.get(str((row.get("metadata") or {}).get("leaf")), self.everything)
        if guard.too_close(bare_question(row)) or guard.too_close(question_of(row)):
            return NEAR_HELD_OUT
        return TRAIN
