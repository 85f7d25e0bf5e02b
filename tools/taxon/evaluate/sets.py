"""What a model is scored on. Knowledge leaf: fact questions asked without the document (its
held-out seeds and cloze questions from its document's sentences, `taxon.qna.facts`), each
also as multiple choice. Skill leaf: its held-out questions (seeds and generated, by
`is_held_out`), scored for correctness where the reference is trusted (`evaluate.skills`) and
for the answer form its seeds state. General: multiple-choice questions and a held-out prose
text shipped with taxon, to catch forgetting.

A skill item's reference is trusted when it comes from a source no teacher controls
(`REFERENCE_SOURCES`): a held-out seed; a held-out generated sample whose answer a maintainer
approved or fixed (its metadata's `verified_by` is "maintainer": the review decisions write it)
or a checker computed ("checker"); or a question a checker made from the leaf's seed questions
with its computed answer, to bring a checkable leaf to `evaluate.skill_min_items`. Any other
held-out generated question is asked for its form only."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from taxon.core.errors import TaxonError
from taxon.core.store import read_jsonl
from taxon.documents.sections import leaf_sentences
from taxon.evaluate.choices import fact_choices
from taxon.evaluate.forms import AnswerForm, answer_form
from taxon.evaluate.skills import scoring_method
from taxon.qna.checks import LeafChecks
from taxon.qna.facts import fact_questions
from taxon.qna.heldout import checker_items
from taxon.qna.layout import SAMPLES_NAME
from taxon.qna.samples import answer_of, is_held_out, question_of, seed_samples, user_prompt
from taxon.qna.solvers import Solution, leaf_solver, solve
from taxon.qna.taxonomy import Leaf
from taxon.qna.text import answer_token_limit, words

PROBE_ID = "general/probe"
TEXT_ID = "general/text"
DATA_DIR = Path(__file__).resolve().parents[1] / "data"
BUILTIN_PROBE = DATA_DIR / "probe.jsonl"
BUILTIN_TEXT = DATA_DIR / "general_text.md"
KNOWLEDGE, SKILL, PROBE, TEXT = "knowledge", "skill", "probe", "text"
TEXT_PROMPT = "Write a paragraph of plain prose."
# where a skill reference may come from, each beyond any teacher's say
SEED, MAINTAINER, CHECKER = "seed", "maintainer", "checker"
REFERENCE_SOURCES = (SEED, MAINTAINER, CHECKER)


@dataclass(frozen=True)
class EvalItem:
    id: str
    question: str  # the user turn
    reference: str  # from the leaf (seed, document) or the shipped sets; for a generated skill question the
    # teacher's kept answer, shown beside the answers but scored against by nothing
    source: str  # "seed" | "document" | "generated" | "maintainer" | "checker" | "probe" | "text"
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

    def describe(self) -> dict:
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


def _generated_samples(dataset_dir: Path, leaf: Leaf) -> list[dict]:
    path = Path(dataset_dir) / leaf.leaf_id / SAMPLES_NAME
    if not path.is_file():
        return []
    try:
        return read_jsonl(path, hint="rerun: taxon generate")
    except OSError as error:
        raise TaxonError(f"cannot read samples: {error}", where=str(path), hint="rerun: taxon generate")


def _capped(items: list[EvalItem], max_per_leaf: int) -> tuple[EvalItem, ...]:
    return tuple(items[:max_per_leaf] if max_per_leaf > 0 else items)


def knowledge_eval_set(leaf: Leaf, config: dict, eval_share: float, max_per_leaf: int) -> EvalSet:
    """The leaf's fact questions (held-out seeds first, then the document's), with choices."""
    questions = fact_questions(leaf, leaf_sentences(leaf, config), eval_share)
    items = []
    for question in questions:
        choices, gold = fact_choices(question, questions)
        items.append(
            EvalItem(
                question.id, question.question, question.reference, question.source, question.key_facts, choices, gold
            )
        )
    return EvalSet(leaf.leaf_id, KNOWLEDGE, _capped(items, max_per_leaf), len(items))


def _verified_by(sample: dict) -> str | None:
    """Who vouches for a generated sample's answer: a maintainer or a checker (None: no one)."""
    verified = (sample.get("metadata") or {}).get("verified_by")
    return verified if verified in (MAINTAINER, CHECKER) else None


def skill_eval_set(
    leaf: Leaf, dataset_dir: Path, eval_share: float, max_per_leaf: int, settings: dict | None = None
) -> EvalSet:
    """Held-out seeds first, then held-out generated samples in file order (a question that
    appears twice is asked once), then checker-made questions up to `skill_min_items` scored
    items. Each item names how its correctness is scored, or "" when its reference is the
    teacher's alone (form only)."""
    settings = settings or {}
    form = answer_form([seed.answer for seed in leaf.seeds])
    seeds = [(user_prompt(seed.question, seed.context), seed.answer) for seed in leaf.seeds]
    solver = leaf_solver(seeds)
    limit = answer_token_limit(
        [seed.answer for seed in leaf.seeds],
        float(settings.get("answer_length_factor", 1.5)),
        int(settings.get("max_new_tokens", 64)),
    )
    items: list[EvalItem] = []
    seen: set[str] = set()
    for sample in seed_samples(leaf) + _generated_samples(dataset_dir, leaf):
        question = question_of(sample)
        if question in seen or not is_held_out(sample, eval_share):
            continue
        seen.add(question)
        source = sample["metadata"].get("source", "generated")
        reference = answer_of(sample)
        verified = SEED if source == SEED else _verified_by(sample)
        solution = solve(solver, question)
        method = ""
        if verified or solution is not None:
            method = scoring_method(form, reference, question, solution)
            source = verified or CHECKER
            if solution is not None and not solution.holds(reference):
                reference = solution.value  # the teacher's answer was wrong: the checker's is the reference
        items.append(
            EvalItem(
                f"{source}-{len(items)}",
                question,
                reference,
                source,
                method=method,
                solution=solution,
                max_tokens=limit,
            )
        )
    wanted = int(settings.get("skill_min_items", 0)) - sum(bool(item.method) for item in items)
    for question, solution in [(q, s) for q, s in checker_items(leaf) if q not in seen][: max(wanted, 0)]:
        items.append(
            EvalItem(
                f"checker-{len(items)}",
                question,
                solution.value,
                CHECKER,
                method="solver",
                solution=solution,
                max_tokens=limit,
            )
        )
    # the checks generation holds answers to, learned from every seed; the answer's form is `form`'s to check
    checks = LeafChecks.from_seeds([(seed.question, seed.answer) for seed in leaf.seeds]).content_only
    return EvalSet(
        leaf.leaf_id,
        SKILL,
        _capped(items, max_per_leaf),
        len(items),
        form,
        checks,
        task=leaf.task_description or leaf.domain or "",
        seed_answers=frozenset(tuple(words(seed.answer)) for seed in leaf.seeds),
        seed_questions=tuple(question for question, _ in seeds),
    )


def probe_eval_set(probe_file: str | Path | None = None) -> EvalSet:
    """Multiple-choice general questions: {"id", "question", "choices": [...], "answer": index}."""
    path = Path(probe_file) if probe_file else BUILTIN_PROBE
    try:
        rows = read_jsonl(path, hint="set evaluate.probe_file")
    except OSError as error:
        raise TaxonError(f"cannot read the probe set: {error}", where=str(path), hint="set evaluate.probe_file")
    items = []
    for number, row in enumerate(rows, 1):
        choices = row.get("choices")
        if not isinstance(choices, list) or len(choices) < 2 or not 0 <= int(row.get("answer", -1)) < len(choices):
            raise TaxonError(
                f"probe row {number} needs a question, two or more choices and the index of the right one",
                where=str(path),
                hint='rows look like {"id": "p1", "question": "...", "choices": ["...", "..."], "answer": 0}',
            )
        gold = int(row["answer"])
        items.append(
            EvalItem(str(row.get("id", number)), row["question"], choices[gold], "probe", (), tuple(choices), gold)
        )
    return EvalSet(PROBE_ID, PROBE, tuple(items), len(items))


def text_eval_set(text_file: str | Path | None = None) -> EvalSet:
    """The held-out general text, one item per paragraph (headings dropped)."""
    path = Path(text_file) if text_file else BUILTIN_TEXT
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise TaxonError(f"cannot read the general text: {error}", where=str(path), hint="set evaluate.text_file")
    paragraphs = [
        " ".join(block.split())
        for block in re.split(r"\n\s*\n", text)
        if block.strip() and not block.lstrip().startswith("#")
    ]
    items = tuple(EvalItem(f"paragraph-{i}", TEXT_PROMPT, p, "text") for i, p in enumerate(paragraphs, 1))
    return EvalSet(TEXT_ID, TEXT, items, len(items))


def build_eval_sets(leaves: list[Leaf], dataset_dir: Path, config: dict) -> list[EvalSet]:
    """One set per leaf (sorted by leaf id), then the probe and the general text."""
    if not Path(dataset_dir).is_dir():
        raise TaxonError("no generate output here", where=str(dataset_dir), hint="run: taxon generate")
    settings = config["evaluate"]
    eval_share = config["dataset"]["eval_share"]
    cap = int(settings.get("max_per_leaf", 0))
    sets = [
        knowledge_eval_set(leaf, config, eval_share, cap)
        if leaf.kind == "knowledge"
        else skill_eval_set(leaf, dataset_dir, eval_share, cap, settings)
        for leaf in sorted(leaves, key=lambda leaf: leaf.leaf_id)
    ]
    return sets + [probe_eval_set(settings.get("probe_file") or None), text_eval_set(settings.get("text_file") or None)]
