"""Skills: for each seed, new questions in its style; a grounded seed (one with a context)
also gets new contexts, paired with the new questions in turn."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from taxon.generate.steps import Candidate, LeafJob, list_items, list_unit, task_text
from taxon.qna.checks import failed
from taxon.qna.solvers import worked_variants

VARIANT_DRAWS = 1000  # training's variants are drawn apart from evaluation's checker questions (draws 1, 2, ...)


def checker_variants(job: LeafJob) -> list[Candidate]:
    """For a leaf a checker serves: each training seed in its own words with new numbers or days,
    answered by the checker in the seed's answer form (`qna.solvers.worked_variants`), no teacher
    asked: `checker_variants_per_seed` of them a seed, `checker_variants_reshaped_share` of
    those with a number in another shape than the seed's. Each is held to the leaf's checks as
    a teacher's answer is (an equation that must add up, the seeds' form, the question's
    numbers restated); one that fails is dropped with its reason."""
    settings = job.settings
    if job.solver is None or settings.checker_variants_per_seed <= 0:
        return []
    found = []
    for index in job.training_seeds:
        seed = job.leaf.seeds[index]
        if seed.context:  # a grounded seed's figures live in its passage: left to the teacher
            continue
        for question, answer in worked_variants(
            seed.question,
            seed.answer,
            job.solver,
            settings.checker_variants_per_seed,
            VARIANT_DRAWS,
            settings.checker_variants_reshaped_share,
        ):
            candidate = Candidate(
                index, None, question, None, "", answer=answer, source="checker", form="checker_variant"
            )
            candidate.verified_by = "checker"
            candidate.checks = job.checks.results(question, answer)
            if reason := failed(candidate.checks):
                candidate.drop(reason, "derive")
            found.append(candidate)
    return found


def propose(job: LeafJob) -> Generator[list[Any], list[Any], list[Candidate]]:
    leaf, settings = job.leaf, job.settings
    seeds = [leaf.seeds[index] for index in job.training_seeds]
    # what a task of this leaf asks about: the task and the seeds' questions, not their answers
    # (a poem's words made "You're ready to start! What do you need?" a poem task)
    reference = " ".join([task_text(leaf), leaf.domain] + [s.question for s in seeds])
    task = leaf.task_description or leaf.domain
    question_units, context_units = [], []
    for seed in seeds:
        question_units.append(
            list_unit(job, "skill_questions", task=task, example=seed.question, count=settings.questions_per_seed)
        )
        context_units.append(
            list_unit(job, "skill_contexts", task=task, example=seed.context, count=settings.contexts_per_seed)
            if seed.context and settings.contexts_per_seed > 0
            else None
        )
    asked = question_units + [unit for unit in context_units if unit]
    replies = dict(zip((unit.key for unit in asked), (yield asked)))

    candidates: list[Candidate] = []
    for position, (index, seed) in enumerate(zip(job.training_seeds, seeds)):
        contexts = [seed.context] if seed.context else [None]
        if (context_unit := context_units[position]) is not None:
            new_contexts, rejects = list_items(
                context_unit, replies[context_unit.key], settings.contexts_per_seed, index, None, "contexts"
            )
            candidates += rejects
            contexts = new_contexts or contexts
        unit = question_units[position]
        questions, rejects = list_items(unit, replies[unit.key], settings.questions_per_seed, index, None, "questions")
        candidates += rejects
        candidates += [
            Candidate(index, None, question, contexts[number % len(contexts)], reference)
            for number, question in enumerate(questions)
        ]
    return candidates
