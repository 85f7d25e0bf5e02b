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
from pathlib import Path
from typing import Any

from taxon.core.errors import TaxonError
from taxon.core.settings import Config, DocumentsSettings, EvaluateSettings
from taxon.core.store import read_jsonl
from taxon.documents.sections import leaf_sentences
from taxon.evaluate.choices import fact_choices
from taxon.evaluate.forms import answer_form
from taxon.evaluate.items import KNOWLEDGE, PROBE, SKILL, TEXT, EvalItem, EvalSet
from taxon.evaluate.skills import scoring_method
from taxon.qna.checks import LeafChecks
from taxon.qna.decisions import FIX
from taxon.qna.facts import FactQuestion, fact_questions
from taxon.qna.heldout import checker_items
from taxon.qna.layout import SAMPLES_NAME
from taxon.qna.samples import answer_of, is_held_out, question_of, seed_samples, user_prompt
from taxon.qna.solvers import leaf_solver, solve
from taxon.qna.taxonomy import Leaf
from taxon.qna.text import answer_token_limit, key_facts, words

PROBE_ID = "general/probe"
TEXT_ID = "general/text"
DATA_DIR = Path(__file__).resolve().parents[1] / "data"
BUILTIN_PROBE = DATA_DIR / "probe.jsonl"
BUILTIN_TEXT = DATA_DIR / "general_text.md"
TEXT_PROMPT = "Write a paragraph of plain prose."
# where a skill reference may come from, each beyond any teacher's say
SEED, MAINTAINER, CHECKER = "seed", "maintainer", "checker"
REFERENCE_SOURCES = (SEED, MAINTAINER, CHECKER)


def _generated_samples(dataset_dir: Path, leaf: Leaf) -> list[dict[str, Any]]:
    path = Path(dataset_dir) / leaf.leaf_id / SAMPLES_NAME
    if not path.is_file():
        return []
    try:
        return read_jsonl(path, hint="rerun: taxon generate")
    except OSError as error:
        raise TaxonError(f"cannot read samples: {error}", where=str(path), hint="rerun: taxon generate")


def _capped(items: list[EvalItem], max_per_leaf: int) -> tuple[EvalItem, ...]:
    return tuple(items[:max_per_leaf] if max_per_leaf > 0 else items)


def knowledge_eval_set(leaf: Leaf, documents: DocumentsSettings, eval_share: float, max_per_leaf: int) -> EvalSet:
    """The leaf's fact questions (held-out seeds first, then the document's), with choices."""
    questions = fact_questions(leaf, leaf_sentences(leaf, documents), eval_share)
    items = []
    for question in questions:
        choices, gold = fact_choices(question, questions)
        items.append(
            EvalItem(
                question.id, question.question, question.reference, question.source, question.key_facts, choices, gold
            )
        )
    return EvalSet(leaf.leaf_id, KNOWLEDGE, _capped(items, max_per_leaf), len(items))


def _verified_by(sample: dict[str, Any]) -> str | None:
    """Who vouches for a generated sample's answer: a maintainer or a checker (None: no one)."""
    metadata = sample.get("metadata") or {}
    if metadata.get("decision") == FIX:  # a maintainer's own answer (qna.decisions)
        return MAINTAINER
    verified = metadata.get("verified_by")
    return verified if verified in (MAINTAINER, CHECKER) else None


def skill_eval_set(
    leaf: Leaf, dataset_dir: Path, eval_share: float, max_per_leaf: int, settings: EvaluateSettings
) -> EvalSet:
    """Held-out seeds first, then held-out generated samples in file order (a question that
    appears twice is asked once), then checker-made questions up to `skill_min_items` scored
    items. Each item names how its correctness is scored, or "" when its reference is the
    teacher's alone (form only)."""
    form = answer_form([seed.answer for seed in leaf.seeds])
    seeds = [(user_prompt(seed.question, seed.context), seed.answer) for seed in leaf.seeds]
    solver = leaf_solver(seeds)
    limit = answer_token_limit(
        [seed.answer for seed in leaf.seeds],
        settings.answer_length_factor,
        settings.max_new_tokens,
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
    wanted = settings.skill_min_items - sum(bool(item.method) for item in items)
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


QUESTIONS_PREFIX = "questions/"  # a user's own question file's set id: questions/<file stem>


def is_user_set(set_id: str) -> bool:
    """A set from `taxon evaluate --questions`: scored as the knowledge facts are, apart from the
    taxonomy's totals and gate."""
    return set_id.startswith(QUESTIONS_PREFIX)


def questions_eval_set(path: Path) -> EvalSet:
    """A user's own questions with their answers (JSONL or YAML rows: {"question", "answer"},
    an "id" optional), scored as the knowledge facts are: the answer's key facts (numbers with
    their units, names) must be in the model's, and multiple choice against altered facts and
    the file's other answers."""
    import yaml

    path = Path(path)
    hint = 'rows look like {"question": "How tall is the tower?", "answer": "The tower is 48 metres tall."}'
    try:
        text = path.read_text(encoding="utf-8")
        rows = read_jsonl(path, hint=hint) if path.suffix == ".jsonl" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise TaxonError(f"cannot read the questions: {error}", where=str(path), hint=hint)
    if not isinstance(rows, list) or not rows:
        raise TaxonError("the questions file holds no list of questions", where=str(path), hint=hint)
    questions = []
    for number, row in enumerate(rows, 1):
        if not (isinstance(row, dict) and isinstance(row.get("question"), str) and isinstance(row.get("answer"), str)):
            raise TaxonError(f"row {number} needs a question and an answer, both text", where=str(path), hint=hint)
        question, answer = row["question"].strip(), row["answer"].strip()
        facts = key_facts(answer, question)
        questions.append(FactQuestion(str(row.get("id", number)), question, answer, answer, facts, "user"))
    items = []
    for question in questions:
        choices, gold = fact_choices(question, questions)
        items.append(
            EvalItem(question.id, question.question, question.reference, "user", question.key_facts, choices, gold)
        )
    return EvalSet(f"{QUESTIONS_PREFIX}{path.stem}", KNOWLEDGE, tuple(items), len(items))


def build_eval_sets(
    leaves: list[Leaf], dataset_dir: Path, config: Config, questions: list[Path] | None = None
) -> list[EvalSet]:
    """One set per leaf (sorted by leaf id), a user's question files, then the probe and the general text."""
    if not Path(dataset_dir).is_dir():
        raise TaxonError("no generate output here", where=str(dataset_dir), hint="run: taxon generate")
    settings, eval_share = config.evaluate, config.dataset.eval_share
    cap = settings.max_per_leaf
    sets = [
        knowledge_eval_set(leaf, config.documents, eval_share, cap)
        if leaf.kind == "knowledge"
        else skill_eval_set(leaf, dataset_dir, eval_share, cap, settings)
        for leaf in sorted(leaves, key=lambda leaf: leaf.leaf_id)
    ]
    sets += [questions_eval_set(path) for path in questions or []]
    return sets + [probe_eval_set(settings.probe_file or None), text_eval_set(settings.text_file or None)]
