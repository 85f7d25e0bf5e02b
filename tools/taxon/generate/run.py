"""`generate_leaves`: the skill and knowledge pipelines over a list of leaves, with every unit
of work cached, the per-leaf outputs written atomically, and a clear error for a leaf that
ends with too few samples (after the other leaves are finished)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cache
from inspect import getfile
from pathlib import Path
from typing import Any

from taxon.backends.base import Teacher
from taxon.core.errors import TaxonError
from taxon.core.progress import HEARTBEAT_S, Task, Tracker, tracker
from taxon.core.settings import Config, GenerateSettings, plain
from taxon.core.store import atomic_write_json, atomic_write_jsonl, hash_file, hash_tree, hash_value, read_jsonl
from taxon.documents.records import content_settings
from taxon.generate import derived, knowledge, skills
from taxon.generate.cache import UnitCache
from taxon.generate.filters import ERROR, HELD_OUT
from taxon.generate.prompts import template_identities
from taxon.generate.steps import (
    Candidate,
    LeafJob,
    answer_form_words,
    answer_step,
    drop_held_out,
    judge_step,
    kept_counts,
    remove_duplicates,
    sample_row,
)
from taxon.generate.units import PIPELINE_VERSION, UnitRunner
from taxon.qna import checks as qna_checks
from taxon.qna import solvers as qna_solvers
from taxon.qna.checks import LeafChecks
from taxon.qna.decisions import (
    agreement,
    apply_decisions,
    decision_counts,
    load_leaf_decisions,
    taxonomy_root_of,
)
from taxon.qna.facts import document_questions, leaf_names
from taxon.qna.heldout import leaf_held_out, training_seed_indexes
from taxon.qna.layout import DROPPED_NAME, EVAL_QUESTIONS_NAME, SAMPLES_NAME, STATS_NAME, SUMMARY_NAME, decisions_root
from taxon.qna.samples import user_prompt
from taxon.qna.solvers import leaf_solver
from taxon.qna.taxonomy import Leaf
from taxon.qna.text import COPY_SHARE, answer_token_limit, copy_share


@dataclass
class GenerateResult:
    out_dir: Path
    leaves: dict[str, dict[str, Any]] = field(default_factory=dict)  # leaf_id -> its stats.json
    calls: int = 0  # requests sent to the teacher in this run
    cached_units: int = 0  # units answered from the cache
    errors: dict[str, str] = field(default_factory=dict)  # leaf_id -> why it failed


class LeavesFailed(TaxonError):
    """Some leaves ended without enough samples; the others are finished and written."""

    def __init__(self, result: GenerateResult):
        reasons = "; ".join(f"{leaf}: {why}" for leaf, why in result.errors.items())
        super().__init__(
            f"{len(result.errors)} leaf(s) failed: {reasons}",
            hint=f"see dropped.jsonl and stats.json under {result.out_dir}",
        )
        self.result = result


@dataclass
class LeafOutcome:
    candidates: list[Candidate]
    eval_questions: tuple[str, ...] = ()  # what evaluation asks beyond the held-out seeds: kept out of training


def leaf_pipeline(job: LeafJob, config: Config) -> Generator[list[Any], list[Any], LeafOutcome]:
    if not job.training_seeds:
        raise TaxonError(
            f"all {len(job.leaf.seeds)} seed examples are held out for evaluation, none is left to generate from",
            where=job.leaf.leaf_id,
            hint="add seed examples (or lower dataset.eval_share)",
        )
    from_documents: list[Candidate] = []  # made without the teacher: from the documents, or by a checker
    asked: tuple[str, ...] = ()
    if job.leaf.kind == "knowledge":
        from taxon.documents.sections import document_sections

        documents, chunks = knowledge.load_documents(job, config)
        sections = [section for document in documents for section in document_sections(document)]
        # evaluation also asks a cloze per document fact: keep away from those questions too
        eval_share = config.dataset.eval_share
        sentences = [s for section in sections for s in section.sentences]
        asked = tuple(q.question for q in document_questions(job.leaf, sentences, leaf_names(job.leaf, sentences)))
        job = replace(job, held_out=leaf_held_out(job.leaf, eval_share, asked))
        from_documents = derived.document_candidates(job, sections, job.settings.document_forms)
        drop_held_out(job, from_documents, "derive")
        candidates = yield from knowledge.propose(job, chunks)
    else:
        from_documents = skills.checker_variants(job)
        drop_held_out(job, from_documents, "derive")
        candidates = yield from skills.propose(job)
    yield from answer_step(job, candidates)
    yield from judge_step(job, candidates)
    candidates = from_documents + candidates
    remove_duplicates(job, candidates)
    return LeafOutcome(candidates, asked)


def leaf_job(leaf: Leaf, settings: GenerateSettings, teacher: str, eval_share: float) -> LeafJob:
    training = tuple(training_seed_indexes(leaf, eval_share))
    examples = [(leaf.seeds[index].question, leaf.seeds[index].answer) for index in training]
    checks = LeafChecks.from_seeds(examples, knowledge=leaf.kind == "knowledge")
    decisions = load_leaf_decisions(decisions_root(taxonomy_root_of(leaf.folder, leaf.leaf_id)), leaf.leaf_id)
    asked = [
        (user_prompt(leaf.seeds[index].question, leaf.seeds[index].context), leaf.seeds[index].answer)
        for index in training
    ]
    copied = [copy_share(answer, question) for question, answer in asked]
    return LeafJob(
        leaf,
        settings,
        teacher,
        training,
        leaf_held_out(leaf, eval_share),
        checks,
        answer_tokens=answer_token_limit(
            [seed.answer for seed in leaf.seeds], settings.answer_length_factor, settings.max_new_tokens
        ),
        solver=leaf_solver(asked) if leaf.kind != "knowledge" else None,
        copying_is_the_task=bool(copied) and max(copied) >= COPY_SHARE,
        form_words=answer_form_words(asked) if leaf.kind != "knowledge" else None,
        decisions=decisions,
    )


def generate_leaves(
    leaves: list[Leaf], out_dir: Path, config: Config, teacher: Teacher | None = None, quiet: bool = False
) -> GenerateResult:
    """Generate samples for every leaf into `<out_dir>/<leaf_id>/`; LeavesFailed (with the
    result) when a leaf ends with fewer than `generate.min_kept_per_leaf` samples."""
    from taxon.backends import make_teacher, teacher_name

    settings = config.generate
    name = teacher.name if teacher is not None else teacher_name(settings, config.models)
    out_dir = Path(out_dir)
    eval_share = config.dataset.eval_share
    jobs = [leaf_job(leaf, settings, name, eval_share) for leaf in {leaf.leaf_id: leaf for leaf in leaves}.values()]
    result = GenerateResult(out_dir=out_dir)
    keys = {job.leaf.leaf_id: generation_key(job, config) for job in jobs}
    finished = {job.leaf.leaf_id: _finished_stats(out_dir / job.leaf.leaf_id, keys[job.leaf.leaf_id]) for job in jobs}
    to_do = [job for job in jobs if finished[job.leaf.leaf_id] is None]
    if to_do and teacher is None:
        teacher = make_teacher(config)  # only now: a finished run needs no model and no endpoint
    with _units_progress(quiet, len(to_do)) as progress:
        runner = UnitRunner(
            teacher,
            UnitCache(Path(settings.cache_dir)),
            settings.batch_size,
            settings.judge,
            on_done=progress.advance if progress else lambda n: None,
            max_calls=settings.max_teacher_calls,
        )
        try:
            for start in range(0, len(to_do), settings.leaves_per_batch):
                for job, outcome in _drive(to_do[start : start + settings.leaves_per_batch], runner, config, progress):
                    leaf_id = job.leaf.leaf_id
                    finished[leaf_id] = _write_leaf(job, outcome, out_dir / leaf_id, keys[leaf_id])
                    if progress:
                        progress.leaf_done()
        finally:
            result.calls, result.cached_units = runner.calls, runner.cached
    result.leaves = {leaf_id: stats for leaf_id, stats in finished.items() if stats is not None}  # all, by now
    result.errors = {leaf_id: stats["error"] for leaf_id, stats in result.leaves.items() if "error" in stats}
    summary = {
        "leaves": result.leaves,
        "teacher": name,
        "pipeline_version": PIPELINE_VERSION,
        "config": plain(settings),
    }
    _write_json(out_dir / SUMMARY_NAME, summary)
    if result.errors:
        raise LeavesFailed(result)
    return result


def recorded_parameters(settings: GenerateSettings) -> dict[str, Any]:
    """What goes into stats.json: every parameter but where the cache lives, the cap on
    teacher calls and the teacher (recorded on its own), none of which changes an output."""
    values: dict[str, Any] = plain(settings)
    for name in ("cache_dir", "max_teacher_calls", "backend", "teacher"):
        del values[name]
    return values


def generation_key(job: LeafJob, config: Config) -> str:
    """A hash of everything a leaf's output depends on. A leaf whose stats.json holds this
    key is finished and skipped whole: a rerun costs a hash per leaf, not a cache lookup per unit."""
    return hash_value(
        {
            "leaf": job.leaf.content_hash(),
            "teacher": job.teacher,
            "pipeline": PIPELINE_VERSION,
            "code": _pipeline_code(),
            "parameters": recorded_parameters(job.settings),
            "held_out": [*job.held_out.questions, *job.held_out.by_figures],
            "templates": template_identities(),
            "documents": content_settings(config.documents) if job.leaf.kind == "knowledge" else None,
            # a new decision re-derives the leaf from the unit cache: no teacher call
            "decisions": sorted((decision.to_json() for decision in job.decisions.values()), key=str),
        }
    )


@cache
def _pipeline_code() -> str:
    """The pipelines' own source and the checks and checkers they hold answers to (which also
    write the checker variants): a change to how replies are filtered or variants are made
    re-derives every leaf (from the unit cache, which holds raw teacher replies and stays valid)."""
    held_to = [Path(getfile(module)) for module in (qna_checks, qna_solvers)]
    return hash_value([hash_tree(Path(__file__).parent, "*.py"), *map(hash_file, held_to)])


def _finished_stats(folder: Path, key: str) -> dict[str, Any] | None:
    """The stats of a leaf finished with this key, or None. A leaf that failed, or lost
    samples to failed requests, is never finished: the next run tries those again."""
    try:
        stats = json.loads((folder / STATS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    complete = all((folder / name).is_file() for name in (SAMPLES_NAME, DROPPED_NAME, EVAL_QUESTIONS_NAME))
    if not (complete and isinstance(stats, dict) and stats.get("generation_key") == key):
        return None
    return None if "error" in stats or ERROR in stats.get("dropped", {}) else stats


def _drive(
    group: list[LeafJob], runner: UnitRunner, config: Config, progress: _UnitsProgress | None
) -> Iterator[tuple[LeafJob, LeafOutcome | TaxonError]]:
    """Advance the pipelines of a group of leaves together, one batch of units per step for
    all of them. Yields (job, its outcome or TaxonError) as each leaf finishes."""
    pipelines = {job.leaf.leaf_id: (job, leaf_pipeline(job, config)) for job in group}
    waiting: dict[str, list[Any]] = {}

    def advance(leaf_id: str, sent: list[Any] | None) -> tuple[LeafJob, LeafOutcome | TaxonError] | None:
        job, pipeline = pipelines[leaf_id]
        try:
            units = next(pipeline) if sent is None else pipeline.send(sent)
        except StopIteration as stop:
            return job, stop.value
        except TaxonError as error:  # this leaf can't go on (e.g. its documents); the others can
            return job, error
        if progress:
            progress.add(len(units))
        waiting[leaf_id] = units
        return None

    finished = [advance(leaf_id, None) for leaf_id in pipelines]
    yield from (done for done in finished if done)
    while waiting:
        asked = list(waiting.items())
        waiting.clear()
        results = runner.run([unit for _, units in asked for unit in units])
        offset = 0
        for leaf_id, units in asked:
            done = advance(leaf_id, results[offset : offset + len(units)])
            offset += len(units)
            if done:
                yield done


def _write_leaf(job: LeafJob, outcome: LeafOutcome | TaxonError, folder: Path, key: str) -> dict[str, Any]:
    """The leaf's files, stats.json last: its key marks the leaf finished."""
    leaf, settings = job.leaf, job.settings
    candidates = [] if isinstance(outcome, TaxonError) else outcome.candidates
    asked = () if isinstance(outcome, TaxonError) else outcome.eval_questions
    # the maintainers' decisions over the filters' verdicts; no decision keeps a question too
    # close to one evaluation asks
    decided = apply_decisions(
        [sample_row(job, c) for c in candidates if c.live],
        [sample_row(job, c) for c in candidates if not c.live],
        job.decisions if not isinstance(outcome, TaxonError) else {},
        protected=(HELD_OUT,),
    )
    kept, dropped = decided.kept, decided.dropped
    stats: dict[str, Any] = {
        "leaf": leaf.leaf_id,
        "kind": leaf.kind,
        "generated": len(candidates),
        "kept": len(kept),
        "kept_how": kept_counts(candidates),
        "dropped": dict(sorted(Counter(str(row["metadata"].get("reason")) for row in dropped).items())),
        "decisions": decision_counts(kept, dropped, decided.orphaned, decided.blocked),
        "agreement": agreement(kept + dropped),
        "teacher": job.teacher,
        "pipeline_version": PIPELINE_VERSION,
        "parameters": recorded_parameters(settings),
        "leaf_hash": leaf.content_hash(),
        "generation_key": key,
    }
    if isinstance(outcome, TaxonError):
        stats["error"] = outcome.message
    elif len(kept) < settings.min_kept_per_leaf:
        reasons = ", ".join(f"{reason} {n}" for reason, n in stats["dropped"].items()) or "no candidates"
        stats["error"] = (
            f"kept {len(kept)} of {len(candidates)} samples (minimum {settings.min_kept_per_leaf}; dropped: {reasons})"
        )
    _write_jsonl(folder / SAMPLES_NAME, kept)
    _write_jsonl(folder / DROPPED_NAME, dropped)
    _write_json(folder / EVAL_QUESTIONS_NAME, {"questions": list(asked)})
    _write_json(folder / STATS_NAME, stats)
    return stats


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """Atomic write, skipped when the file already holds these rows: a rerun of an unchanged
    leaf touches nothing."""
    try:
        if read_jsonl(path) == rows:
            return
    except (OSError, TaxonError):
        pass
    atomic_write_jsonl(path, rows)


def _write_json(path: Path, value: dict[str, Any]) -> None:
    try:
        if json.loads(path.read_text(encoding="utf-8")) == value:
            return
    except (OSError, ValueError):
        pass
    atomic_write_json(path, value)


class _UnitsProgress:
    """One task for the whole run: units of work done of those asked for so far (each leaf's
    steps ask for more as they go), moved as the teacher answers each request, with the
    leaves finished beside it. Per-leaf tasks showed nothing until a batch of many leaves
    ended, then each leaf at 100 % once per step."""

    def __init__(self, shown: Tracker, leaves: int):
        self.leaves, self.finished = leaves, 0
        self.task: Task = shown.task("generate: units", open_ended=True, leaves=f"0/{leaves} done")

    def add(self, count: int) -> None:
        self.task.grow(count)

    def advance(self, count: int) -> None:
        self.task.advance(count)

    def leaf_done(self) -> None:
        self.finished += 1
        if self.finished == self.leaves:
            self.task.end_known()
        self.task.advance(0, leaves=f"{self.finished}/{self.leaves} done")


@contextmanager
def _units_progress(quiet: bool, leaves: int) -> Iterator[_UnitsProgress | None]:
    if quiet or not leaves:
        yield None
        return
    # off a terminal a line every 30 s: a log of a long run stays readable, and never silent
    with tracker(interval_s=HEARTBEAT_S) as shown:
        yield _UnitsProgress(shown, leaves)
