"""What every leaf goes through once its candidate questions exist: topic and repeat checks,
answers, a judge pass, near-duplicate removal, and the rows written out.

The pipelines are generators: each step yields the units it needs and receives their
results, so a scheduler can batch the units of many leaves together (see run.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from taxon.backends.base import ChatRequest
from taxon.core.settings import GenerateSettings
from taxon.generate.dedup import DUPLICATE, DuplicateFilter
from taxon.generate.filters import (
    CHECKER_WRONG,
    COPIES_INPUT,
    COPIES_SEED,
    CUT_OFF,
    DISAGREEMENT,
    HELD_OUT,
    MALFORMED,
    OFF_TOPIC,
    answer_problem,
    complete_sentences,
    is_off_topic,
    parse_list,
    reply_problem,
    same_answer,
)
from taxon.generate.judge import drop_reason, seed_baseline
from taxon.generate.prompts import Template, load_template
from taxon.generate.units import PIPELINE_VERSION, ChatUnit, JudgeUnit, request_seed, unit_key
from taxon.qna.checks import MIN_SEEDS, LeafChecks, failed
from taxon.qna.decisions import Decision
from taxon.qna.heldout import HeldOut
from taxon.qna.samples import make_sample, user_prompt
from taxon.qna.solvers import solve
from taxon.qna.taxonomy import Leaf
from taxon.qna.text import COPY_SHARE, STOPWORDS, copy_share, words

Steps = Generator[list[Any], list[Any], None]


@dataclass(frozen=True)
class LeafJob:
    leaf: Leaf
    settings: GenerateSettings
    teacher: str  # the teacher's name, part of every key and of the sample metadata
    training_seeds: tuple[int, ...]  # the seeds the teacher may see; the others are held out
    held_out: HeldOut  # questions evaluation keeps: nothing this leaf makes may come close
    checks: LeafChecks  # what its answers are held to (see checks.py)
    answer_tokens: int = 256  # an answer's length limit, from the leaf's longest seed answer
    solver: str | None = None  # the checker that knows this leaf's answers (`qna.solvers`), if any
    copying_is_the_task: bool = False  # the seed answers repeat their questions' words (title case)
    # The words every seed answer holds ("the plural of ... is"), where nearly every seed answer says
    # a word beyond them and its question ("mice"); None: the seeds' answers restate (parity, title case).
    form_words: frozenset[str] | None = None
    decisions: dict[str, Decision] = field(default_factory=dict)  # maintainers' decisions by sample id


@dataclass
class Candidate:
    """One sample in the making, kept or dropped, and where it came from."""

    seed: int | None
    chunk: int | None
    question: str
    context: str | None  # what the answer is grounded in
    reference: str  # text whose topic the question must share
    show_context: bool = True  # whether the finished sample shows the context
    answer: str = ""
    source: str = (
        "generated"  # "generated" by the teacher, "document" (derived without it) or "checker" (a checker's variant)
    )
    form: str = "teacher"  # how it was made: "teacher" or a core.settings.DocumentForm
    reason: str | None = None
    step: str | None = None  # the step that dropped it
    verdict: dict[str, Any] | None = None
    checks: dict[str, bool] | None = None  # name -> passed, for the checks that applied
    agreement: str | None = None  # "k/n": sampled answers agreeing with this one
    verified_by: str | None = None  # "checker": a checker computed the answer and it agrees
    repaired_from: str | None = None  # the teacher's wrong answer, when a checker repaired it

    @property
    def live(self) -> bool:
        return self.reason is None

    def drop(self, reason: str, step: str) -> None:
        self.reason, self.step = reason, step


def chat_unit(
    job: LeafJob,
    step: str,
    templates: list[Template],
    messages: list[dict[str, Any]],
    max_tokens: int,
    temperature: float,
    draw: int = 0,
) -> ChatUnit:
    """One request; `draw` > 0 samples the same prompt again with another seed."""
    messages_t = tuple(messages)
    request = ChatRequest(
        messages=messages_t,
        max_tokens=max_tokens,
        temperature=temperature,
        top_p=job.settings.top_p,
        seed=request_seed(job.settings.seed + draw, messages_t),
    )
    return ChatUnit(unit_key(step, job.teacher, templates, request), job.leaf.leaf_id, request)


def list_unit(job: LeafJob, template_name: str, **fields: object) -> ChatUnit:
    """A request for a list of new items (questions or contexts) from one template."""
    template = load_template(template_name)
    prompt = template.render(**fields)
    return chat_unit(
        job,
        template_name,
        [template],
        [{"role": "user", "content": prompt}],
        job.settings.list_max_new_tokens,
        job.settings.temperature,
    )


def list_items(
    unit: ChatUnit, completion: dict[str, Any], count: int, seed: int | None, chunk: int | None, step: str
) -> tuple[list[str], list[Candidate]]:
    """Up to `count` items of a list reply, and the rejects as dropped candidates. A cut-off
    reply loses its last item, which may be partial."""
    prompt = unit.request.messages[-1]["content"]

    def reject(text: str, reason: str) -> Candidate:
        candidate = Candidate(seed, chunk, prompt, None, "", answer=text)
        candidate.drop(reason, step)
        return candidate

    problem = reply_problem(completion)
    if problem:
        return [], [reject(completion["text"], problem)]
    items = parse_list(completion["text"])
    rejects = []
    if completion["finish_reason"] == "length" and items:
        rejects.append(reject(items.pop(), CUT_OFF))
    if not items and not rejects:
        rejects.append(reject(completion["text"], MALFORMED))
    return items[:count], rejects


def task_text(leaf: Leaf) -> str:
    return " ".join(part for part in (leaf.task_description, leaf.document_outline) if part)


def copy_problem(job: LeafJob, candidate: Candidate) -> str | None:
    """COPIES_INPUT for an answer made of its question's (or passage's) text, where the seeds'
    answers are not; COPIES_SEED for a seed's answer word for word, where the seeds' answers all
    differ (a label set repeats on purpose)."""
    if (
        not job.copying_is_the_task
        and copy_share(candidate.answer, user_prompt(candidate.question, candidate.context)) >= COPY_SHARE
    ):
        return COPIES_INPUT
    seeds = [tuple(words(seed.answer)) for seed in job.leaf.seeds]
    said = tuple(words(candidate.answer))
    if len(said) >= 4 and len(set(seeds)) == len(seeds) and said in seeds:
        return COPIES_SEED
    return None


def added_words(answer: str, asked: str, form_words: frozenset[str]) -> set[str]:
    """The answer's words, stopwords aside, that are neither in what was asked nor among
    `form_words` ("Synonym for Scout is scout." adds none to "A synonym for the word scout?")."""
    return set(words(answer)) - STOPWORDS - set(words(asked)) - form_words


ADDING_SHARE = 0.75  # of a leaf's seed answers saying a word of their own: one "sheep is sheep" in 12 is an exception


def answer_form_words(asked: list[tuple[str, str]]) -> frozenset[str] | None:
    """LeafJob.form_words from the training seeds' (prompt, answer) pairs."""
    if len(asked) < MIN_SEEDS:
        return None
    shared = frozenset(set.intersection(*(set(words(answer)) for _, answer in asked)))
    adding = sum(bool(added_words(answer, prompt, shared)) for prompt, answer in asked)
    return shared if adding >= ADDING_SHARE * len(asked) else None


def restates_question(job: LeafJob, candidate: Candidate) -> bool:
    """The answer says no word beyond its question's and its form's where the leaf's seed
    answers do: "The plural of boy is boy." beside "The plural of mouse is mice."."""
    asked = user_prompt(candidate.question, candidate.context)
    return job.form_words is not None and not added_words(candidate.answer, asked, job.form_words)


def check_with_solver(job: LeafJob, candidate: Candidate) -> str | None:
    """Hold the answer to the value a checker computes from the question, where one serves the
    leaf: a right answer is marked verified; a wrong one is repaired (its result replaced, and
    the teacher's answer kept beside it) when `on_wrong_answer` is "repair" and the repair
    passes every check, else dropped. Returns the drop reason, or None."""
    solution = solve(job.solver, user_prompt(candidate.question, candidate.context))
    if solution is None:
        return None
    if solution.holds(candidate.answer):
        candidate.verified_by = "checker"
        return None
    repaired = solution.repair(candidate.answer) if job.settings.on_wrong_answer == "repair" else None
    if repaired is None or not solution.holds(repaired):
        return CHECKER_WRONG
    if failed(job.checks.results(candidate.question, repaired, candidate.context)):
        return CHECKER_WRONG
    candidate.repaired_from, candidate.answer, candidate.verified_by = candidate.answer, repaired, "checker"
    return None


def answer_step(job: LeafJob, candidates: list[Candidate]) -> Steps:
    """Drop questions off topic or repeating a seed or each other, then ask the teacher to
    answer the rest, with the seed they grew from as a worked example; drop an answer that
    copies its input or a seed's answer; hold it to the value a checker computes where one
    serves the leaf (repairing or dropping a wrong one), to the leaf's checks, and where
    answers have one fixed form and no checker knows them, to agreement with
    `agreement_samples` more answers sampled to the same request."""
    settings, leaf = job.settings, job.leaf
    instructions = load_template("knowledge_questions" if leaf.kind == "knowledge" else "skill_questions").text
    seen = {(tuple(words(seed.question)), seed.context) for seed in leaf.seeds}
    drop_held_out(job, candidates, "questions")
    for candidate in (c for c in candidates if c.live):
        identity = (tuple(words(candidate.question)), candidate.context)
        if is_off_topic(candidate.question, candidate.reference, instructions, settings.on_topic_min_overlap):
            candidate.drop(OFF_TOPIC, "questions")
        elif identity in seen:
            candidate.drop(DUPLICATE, "questions")
        seen.add(identity)
    template = load_template("answer_system")
    system = template.render(task=task_text(leaf))
    live = [c for c in candidates if c.live]
    # a checker that knows the answer makes sampling it again for agreement pointless
    draws = [
        1
        + (
            settings.agreement_samples
            if job.checks.checkable and solve(job.solver, user_prompt(c.question, c.context)) is None
            else 0
        )
        for c in live
    ]
    units = []
    for candidate, count in zip(live, draws):
        assert candidate.seed is not None  # a teacher's question grows from a seed example
        example = leaf.seeds[candidate.seed]
        messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": user_prompt(example.question, example.context)},
            {"role": "assistant", "content": example.answer},
            {"role": "user", "content": user_prompt(candidate.question, candidate.context)},
        ]
        units += [
            chat_unit(job, "answer", [template], messages, job.answer_tokens, settings.temperature, draw)
            for draw in range(count)
        ]
    completions = yield units
    offsets = [sum(draws[:number]) for number in range(len(draws))]
    for candidate, offset, count in zip(live, offsets, draws):
        completion, *others = completions[offset : offset + count]
        candidate.answer = completion["text"].strip()
        problem = answer_problem(completion)
        if problem == CUT_OFF and leaf.kind == "knowledge":
            # a knowledge answer cut off after whole sentences keeps those
            candidate.answer = complete_sentences(candidate.answer)
            problem = None if candidate.answer else CUT_OFF
        if problem:
            candidate.drop(problem, "answer")
            continue
        problem = copy_problem(job, candidate)
        if problem:
            candidate.drop(problem, "copy")
            continue
        if job.checks.lower_case and candidate.answer != candidate.answer.lower():  # the seeds' case, kept
            candidate.repaired_from, candidate.answer = candidate.answer, candidate.answer.lower()
        problem = check_with_solver(job, candidate)
        if problem:
            candidate.drop(problem, "check")
            continue
        if candidate.verified_by is None and restates_question(job, candidate):  # a checker's answer stands
            candidate.drop(COPIES_INPUT, "copy")
            continue
        candidate.checks = job.checks.results(candidate.question, candidate.answer, candidate.context)
        problem = failed(candidate.checks)
        if problem:
            candidate.drop(problem, "check")
            continue
        if others:
            answers = [candidate.answer] + [o["text"].strip() for o in others if not answer_problem(o)]
            agreeing = sum(same_answer(answer, candidate.answer) for answer in answers)
            candidate.checks["agreement"] = agreeing * 2 > len(others) + 1
            candidate.agreement = f"{agreeing}/{len(others) + 1}"
            if not candidate.checks["agreement"]:
                candidate.drop(DISAGREEMENT, "agreement")


def judge_step(job: LeafJob, candidates: list[Candidate]) -> Steps:
    """Score each answer, and the leaf's own training seed answers the same way: a
    likelihood judge keeps an answer that scores within `judge_below_seeds` of the seeds'
    median (a poem and a one-word label score low even when right; a wrong figure scores
    lower than the leaf's right ones)."""
    settings = job.settings
    if settings.judge == "none":
        return
    rating = load_template("judge_knowledge" if job.leaf.kind == "knowledge" else "judge_skill")
    live = [c for c in candidates if c.live and c.verified_by is None]  # a checker's word is final
    seeds = [job.leaf.seeds[index] for index in job.training_seeds]
    judged = [(c.question, c.context, c.answer) for c in live] + [(s.question, s.context, s.answer) for s in seeds]
    units = []
    for question, context, answer in judged:
        prompt = user_prompt(question, context)
        rating_prompt = rating.render(
            question=question if job.leaf.kind == "knowledge" else prompt, context=context or "", answer=answer
        )
        rating_unit = chat_unit(
            job,
            "judge",
            [rating],
            [{"role": "user", "content": rating_prompt}],
            settings.judge_max_new_tokens,
            settings.judge_temperature,
        )
        messages = ({"role": "user", "content": prompt},)
        bare = ({"role": "user", "content": question},) if context else None
        key = unit_key(
            "judge",
            job.teacher,
            [rating],
            rating_unit.request,
            extra={"mode": settings.judge, "messages": list(messages), "bare": bare, "answer": answer},
        )
        units.append(JudgeUnit(key, job.leaf.leaf_id, messages, bare, answer, rating_unit.request))
    verdicts = yield units
    baseline = seed_baseline(verdicts[len(live) :])
    for candidate, verdict in zip(live, verdicts):
        candidate.verdict = {**verdict, "seed_median": baseline}
        reason = drop_reason(
            candidate.verdict, settings.judge_below_seeds, settings.judge_min_context_gain, settings.judge_min_score
        )
        if reason:
            candidate.drop(reason, "judge")


def drop_held_out(job: LeafJob, candidates: list[Candidate], step: str) -> None:
    """Drop every question too close to one evaluation keeps (a held-out seed reworded)."""
    for candidate in (c for c in candidates if c.live):
        if job.held_out.too_close(candidate.question):
            candidate.drop(HELD_OUT, step)


def remove_duplicates(job: LeafJob, candidates: list[Candidate]) -> None:
    """Drop samples repeating a seed or an earlier sample, by question and answer (a seed
    asked without its passage is that seed on purpose). A document's samples drop only exact
    repeats: one sentence answering several questions is what their forms are for."""
    seeds = [f"{seed.question} {seed.answer}" for seed in job.leaf.seeds]
    duplicates = DuplicateFilter(job.settings.dedup_threshold, seeds)
    for candidate in (c for c in candidates if c.live and c.form != "seed_bare"):
        problem = duplicates.check(f"{candidate.question} {candidate.answer}", near=candidate.source == "generated")
        if problem:
            candidate.drop(problem, "dedup")


def sample_row(job: LeafJob, candidate: Candidate) -> dict[str, Any]:
    verdict = candidate.verdict or {}
    metadata = {
        "leaf": job.leaf.leaf_id,
        "kind": job.leaf.kind,
        "seed": candidate.seed,
        "chunk": candidate.chunk,
        "teacher": job.teacher,
        "pipeline_version": PIPELINE_VERSION,
        "judge_score": verdict.get("score"),
        "judge_gain": verdict.get("gain"),
        "judge_seed_median": verdict.get("seed_median"),
        "checks": candidate.checks,
        "agreement": candidate.agreement,
        "judge": verdict.get("mode"),
        "source": candidate.source,
        "form": candidate.form,
        "verified_by": candidate.verified_by,
    }
    if candidate.repaired_from is not None:
        metadata["repaired_from"] = candidate.repaired_from
    if not candidate.live:
        metadata.update(reason=candidate.reason, step=candidate.step)
    context = candidate.context if candidate.show_context else None
    return make_sample(candidate.question, candidate.answer, context, metadata)


def kept_how(candidate: Candidate) -> str:
    """What vouches for a kept sample: the document it restates, a checker (that agreed, or
    repaired the answer), the judge, or the checks alone."""
    if candidate.source in ("document", "checker"):
        return candidate.source
    if candidate.verified_by:
        return "repaired" if candidate.repaired_from is not None else "checker"
    return "judge" if candidate.verdict is not None else "checks"


def kept_counts(candidates: list[Candidate]) -> dict[str, int]:
    return dict(sorted(Counter(kept_how(c) for c in candidates if c.live).items()))
