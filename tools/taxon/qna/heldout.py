"""What evaluation keeps for itself, and the one test of whether a question comes too close to
it. Held-out seeds never reach the teacher (as examples to imitate or answer) and never reach
training; a generated or derived question whose words overlap a held-out question by
`HELD_OUT_MAX_JACCARD` or more is dropped in generation and again in training, so a reworded
form of a held-out question cannot slip in either. For a skill leaf the words its questions'
form repeats ("what is the plural of") are left out of the comparison: every instance of the
form shares them, and learning the form is the point of a skill."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taxon.qna.layout import EVAL_QUESTIONS_NAME
from taxon.qna.samples import bare_question, is_held_out, question_of, seed_samples, user_prompt
from taxon.qna.solvers import WEEKDAYS, Solution, checker_questions, leaf_solver
from taxon.qna.taxonomy import Leaf
from taxon.qna.text import NUMBER_WORDS, jaccard, words

HELD_OUT_MAX_JACCARD = 0.6  # a training question this close to a held-out one is a leak


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
    # checker-made questions: the seeds' own words with new figures, so they are told apart by
    # their figures alone (a training question with the same numbers and days is one of them)
    by_figures: tuple[str, ...] = ()
    _sets: tuple[frozenset[str], ...] = field(init=False, repr=False, compare=False)
    _figures: frozenset[frozenset[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_sets", tuple(self.tokens(q) for q in self.questions))
        object.__setattr__(self, "_figures", frozenset(figures(q) for q in self.by_figures) - {frozenset()})

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
        return self.closest(question)[0] >= self.max_jaccard or figures(question) in self._figures


_RECKONING_WORDS = frozenset({"after", "before", "tomorrow", "yesterday", "ago", "since", "week", "weeks"})


def figures(question: str) -> frozenset[str]:
    """What sets a checkable question apart from others of its form: the numbers it states (in
    digits or words), its weekdays and which way it counts from them ("two days after Monday"
    is not "the day before Monday")."""
    wanted = WEEKDAYS + tuple(NUMBER_WORDS) + ("one",)
    found = {word for word in words(question) if word[0].isdigit() or word in wanted}
    return frozenset(found | (_RECKONING_WORDS & set(words(question))) if found else found)


def leaf_form(leaf: Leaf) -> frozenset[str]:
    """A skill leaf's form words, from all its seed questions; none for knowledge, where every
    word of a question may carry the fact."""
    return form_words(seed.question for seed in leaf.seeds) if leaf.kind != "knowledge" else frozenset()


CHECKER_ITEMS = (
    20  # questions a checker makes for a checkable skill leaf's evaluation (evaluate.skill_min_items takes some)
)


def checker_items(leaf: Leaf) -> list[tuple[str, Solution]]:
    """Questions in the form of a checkable skill leaf's seed questions, their numbers and days
    changed, with the answers a checker computes (`qna.solvers`): evaluation asks them, so
    nothing trains on them. None for a leaf no checker serves."""
    if leaf.kind == "knowledge":
        return []
    seeds = [(user_prompt(seed.question, seed.context), seed.answer) for seed in leaf.seeds]
    solver = leaf_solver(seeds)
    if solver is None:
        return []
    asked = [question for question, _ in seeds]
    return checker_questions(asked, solver, CHECKER_ITEMS, set(asked))


def leaf_held_out(leaf: Leaf, eval_share: float, extra_questions: tuple[str, ...] = ()) -> HeldOut:
    """The leaf's held-out seed questions and any further held-out questions evaluation asks,
    compared without the leaf's form words ("Is 37 odd or even?" and "Is 451 odd or even?"
    share 4 of 6 words, none of them beyond the form), and its checker-made questions, compared
    by their figures."""
    seeds = [leaf.seeds[index].question for index in sorted(held_out_seed_indexes(leaf, eval_share))]
    checker = tuple(question for question, _ in checker_items(leaf))
    return HeldOut(tuple(seeds) + tuple(extra_questions), HELD_OUT_MAX_JACCARD, leaf_form(leaf), checker)


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
        questions from its document, as generate wrote them: `eval_questions`). `rows`: the
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


def eval_questions(dataset_dir: Path | None, leaf_id: str) -> tuple[str, ...]:
    """The questions generate recorded that evaluation asks of a leaf beyond its held-out seeds
    (none without a generate output, or for an output from before it recorded them)."""
    if dataset_dir is None:
        return ()
    try:
        data = json.loads((Path(dataset_dir) / leaf_id / EVAL_QUESTIONS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ()
    questions = data.get("questions") if isinstance(data, dict) else None
    return tuple(q for q in questions if isinstance(q, str)) if isinstance(questions, list) else ()


def training_split(
    leaves: list[Leaf], dataset_dir: Path | None, eval_share: float, rows: Iterable[dict[str, Any]] = ()
) -> TrainingSplit:
    """The split training, evaluation and the published dataset share: the held-out seeds, the
    questions generate recorded that evaluation asks of each leaf (a knowledge leaf's fact
    questions), and (from `rows`, the collected samples) each skill leaf's held-out generated
    questions."""
    extra = {leaf.leaf_id: eval_questions(dataset_dir, leaf.leaf_id) for leaf in leaves}
    return TrainingSplit(leaves, eval_share, extra, rows)
