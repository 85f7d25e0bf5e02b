"""What a model is asked, as `evaluate.sets` builds it and `evaluate.skills`, `evaluate.judge`
and the stage score it: one set per leaf (or general set) of items, each with its reference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from taxon.evaluate.forms import AnswerForm
from taxon.qna.checks import LeafChecks
from taxon.qna.solvers import Solution

KNOWLEDGE, SKILL, PROBE, TEXT = "knowledge", "skill", "probe", "text"


@dataclass(frozen=True)
class EvalItem:
    id: str
    question: str  # the user turn
    reference: str  # from the leaf (seed, document) or the shipped sets; for a generated skill question the
    # teacher's kept answer, shown beside the answers but scored against by nothing
    source: str  # "seed" | "document" | "generated" | "maintainer" | "checker" | "user" | "probe" | "text"
    key_facts: tuple[str, ...] = ()  # knowledge: what a right answer contains
    choices: tuple[str, ...] = ()  # multiple choice: the options, right one at `gold`
    gold: int = 0
    method: str = ""  # skills: how correctness is scored (`evaluate.skills`); "" = form only, no trusted reference
    solution: Solution | None = None  # skills: the answer a checker computed from the question
    max_tokens: int = 0  # the answer's length limit (0: evaluate.max_new_tokens)


@dataclass(frozen=True)
class EvalSet:
    set_id: str  # a leaf id, PROBE_ID or TEXT_ID
    kind: str  # KNOWLEDGE | SKILL | PROBE | TEXT
    items: tuple[EvalItem, ...]
    available: int  # items before the per-leaf cap
    form: AnswerForm | None = None  # skills: the form answers are checked against
    checks: LeafChecks | None = None  # skills: what a right answer also passes, where the task is checkable
    task: str = ""  # skills: the task description, for a judge
    seed_answers: frozenset[tuple[str, ...]] = frozenset()  # skills: every seed's answer, as words
    seed_questions: tuple[str, ...] = ()  # skills: the leaf's seed questions (with their contexts), for a judge

    def describe(self) -> dict[str, Any]:
        sources: dict[str, int] = {}
        for item in self.items:
            sources[item.source] = sources.get(item.source, 0) + 1
        # n: the items the set's own figure counts (a skill leaf's scored ones); asked: every item
        described = {"n": len(self.items), "asked": len(self.items), "available": self.available, "sources": sources}
        if self.form is not None:
            described["form"] = self.form.describe()
        if self.kind == SKILL:
            methods: dict[str, int] = {}
            for item in self.items:
                if item.method:
                    methods[item.method] = methods.get(item.method, 0) + 1
            described["n"] = sum(methods.values())
            described["methods"] = methods
        return described
