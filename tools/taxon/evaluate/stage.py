"""`evaluate`: ask every eval question of the candidate and each baseline, score the answers
(knowledge: fact match and multiple choice; skills: answer form with the task's checks, and ROUGE-L; general: probe
multiple choice and held-out text loss), compare with paired bootstrap intervals, check the
held-out questions against the training set, gate, and write report.json / .md / .png."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from taxon.backends.models import gguf_summary, model_fingerprint, resolve_model
from taxon.core.errors import UsageError
from taxon.core.progress import tracker
from taxon.core.settings import Config, EvaluateSettings, plain
from taxon.core.store import atomic_write_jsonl
from taxon.evaluate.answers import ModelOutputs, Progress, Scoring, cached_outputs
from taxon.evaluate.bootstrap import NEW, UNSCORED, Interval, direction, paired_bootstrap
from taxon.evaluate.choices import choice_accuracy
from taxon.evaluate.gate import GateResult, check_gate
from taxon.evaluate.harness import run_benchmarks, run_harness, write_harness_tasks
from taxon.evaluate.heldout import heldout_overlap
from taxon.evaluate.items import KNOWLEDGE, PROBE, SKILL, TEXT, EvalSet
from taxon.evaluate.judge import (
    cases,
    generated_prompts,
    generated_verdicts,
    likelihood_scorings,
    likelihood_verdicts,
)
from taxon.evaluate.judged import judged_chat, read_chat_prompts
from taxon.evaluate.report import write_reports
from taxon.evaluate.scores import rouge_l
from taxon.evaluate.sets import MAINTAINER, PROBE_ID, SEED, TEXT_ID, build_eval_sets, is_user_set
from taxon.evaluate.skills import Verdict, skill_verdict
from taxon.qna.decisions import curation_summary
from taxon.qna.layout import HARNESS_DIR, QUESTIONS_NAME, SEED_FACTS_TOTAL, SKILLS_NAME, read_bundle_leaves
from taxon.qna.taxonomy import Leaf
from taxon.qna.text import fact_match

REPORT_FORMAT = "taxon-eval/2"
# per set kind: the metrics scored, the first one decides verdicts and the gate
METRICS = {
    KNOWLEDGE: ("fact_accuracy", "mc_acc", "mc_acc_norm"),
    SKILL: ("skill_accuracy", "form_accuracy", "rouge_l"),
    PROBE: ("mc_acc", "mc_acc_norm"),
    TEXT: ("nll",),
}
LOWER_IS_BETTER = {"nll"}
TOTALS = {"knowledge": KNOWLEDGE, "skills": SKILL}
EXAMPLES_PER_LEAF = 3
# what each published GGUF file is asked: the facts the quantisation may lose, and the general probe
FILE_KINDS = (KNOWLEDGE, PROBE)


@dataclass
class EvalReport:
    out_dir: Path
    data: dict[str, Any]  # the content of report.json
    gate: GateResult

    @property
    def passed(self) -> bool:
        return self.gate.passed


@contextmanager
def _progress(total: int, quiet: bool, name: str = "evaluate: answering and scoring") -> Iterator[Progress]:
    if quiet:
        yield lambda advance: None
        return
    with tracker() as answers:
        yield answers.task(name, total=total).advance


def _user(text: str) -> tuple[dict[str, Any], ...]:
    return ({"role": "user", "content": text},)


def _model_inputs(
    eval_sets: list[EvalSet], max_new_tokens: int
) -> tuple[list[list[dict[str, Any]]], list[int], list[Scoring]]:
    """The conversations answered (knowledge and skill items) with each one's answer length, and
    the continuations scored (every option of every multiple-choice item, every paragraph of the
    general text)."""
    conversations: list[list[dict[str, Any]]] = []
    limits: list[int] = []
    scorings: list[Scoring] = []
    for eval_set in eval_sets:
        for item in eval_set.items:
            if eval_set.kind in (KNOWLEDGE, SKILL):
                conversations.append(list(_user(item.question)))
                limits.append(item.max_tokens or max_new_tokens)
            if eval_set.kind in (KNOWLEDGE, PROBE):
                scorings += [Scoring(_user(item.question), choice) for choice in item.choices]
            if eval_set.kind == TEXT:
                scorings.append(Scoring(_user(item.question), item.reference))
    return conversations, limits, scorings


def answers_by_set(eval_sets: list[EvalSet], outputs: ModelOutputs) -> dict[str, list[str]]:
    """set id -> the model's answers to its items, in the order `_model_inputs` laid them out."""
    found, position = {}, 0
    for eval_set in eval_sets:
        if eval_set.kind in (KNOWLEDGE, SKILL):
            found[eval_set.set_id] = outputs.answers[position : position + len(eval_set.items)]
            position += len(eval_set.items)
    return found


Verdicts = dict[str, list[Verdict | None]]  # set id -> each skill item's verdict (None: not scored)


def score_outputs(
    eval_sets: list[EvalSet], outputs: ModelOutputs, judged: dict[tuple[str, int, str], Verdict] | None = None
) -> tuple[dict[str, dict[str, list[float]]], dict[str, Any], Verdicts]:
    """set id -> metric -> scores (skill accuracy: one per scored item; the rest one per item),
    set id -> the model's answers, and set id -> each skill item's verdict (None: not scored),
    reading the outputs in the order `_model_inputs` laid them out; `judged`: the judge's
    verdicts on free-form skill answers (`evaluate.skill_judge`)."""
    next_answer, next_scoring = 0, 0
    scores, answered, verdicts = {}, {}, {}
    for eval_set in eval_sets:
        per_metric: dict[str, list[float]] = {metric: [] for metric in METRICS[eval_set.kind]}
        set_answers: list[str] = []
        set_verdicts: list[Verdict | None] = []
        for index, item in enumerate(eval_set.items):
            if eval_set.kind in (KNOWLEDGE, SKILL):
                answer = outputs.answers[next_answer]
                next_answer += 1
                set_answers.append(answer)
            if eval_set.kind in (KNOWLEDGE, PROBE):
                option_logprobs = outputs.logprobs[next_scoring : next_scoring + len(item.choices)]
                next_scoring += len(item.choices)
                acc, acc_norm = choice_accuracy(option_logprobs, item.choices, item.gold)
                per_metric["mc_acc"].append(acc)
                per_metric["mc_acc_norm"].append(acc_norm)
            if eval_set.kind == KNOWLEDGE:
                per_metric["fact_accuracy"].append(fact_match(answer, item.key_facts, item.question))
            elif eval_set.kind == SKILL:
                in_form = eval_set.form is not None and eval_set.form.check(answer)
                per_metric["form_accuracy"].append(float(in_form))
                verdict = skill_verdict(eval_set, index, answer, judged or {}) if item.method else None
                if verdict is not None:
                    per_metric["skill_accuracy"].append(float(verdict.right))
                set_verdicts.append(verdict)
                if item.source in (SEED, MAINTAINER):  # a generated question's answer is the teacher's: no reference
                    per_metric["rouge_l"].append(rouge_l(answer, item.reference))
            elif eval_set.kind == TEXT:
                per_metric["nll"].append(-outputs.logprobs[next_scoring] / outputs.tokens[next_scoring])
                next_scoring += 1
        scores[eval_set.set_id] = per_metric
        answered[eval_set.set_id] = set_answers
        if eval_set.kind == SKILL:
            verdicts[eval_set.set_id] = set_verdicts
    return scores, answered, verdicts


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _verdict_direction(interval: Interval | None, metric: str) -> str:
    if interval is not None and metric in LOWER_IS_BETTER:
        interval = Interval(-interval.delta, -interval.high, -interval.low, interval.n)
    return direction(interval)


@dataclass(frozen=True)
class _Comparing:
    """What every comparison of a set shares: the models, the leaves each baseline was trained
    on (a bundle's; None for a base model) and the bootstrap settings."""

    candidate: str
    baselines: list[str]
    known_leaves: dict[str, dict[str, Any] | None]
    settings: EvaluateSettings

    def compare(
        self, set_id: str, metrics: tuple[str, ...], scores: dict[str, dict[str, list[float]]]
    ) -> tuple[dict[str, Any], dict[str, Interval | None]]:
        """The report entry of one set (scores: model -> metric -> list) and the first metric's
        interval against each baseline."""
        candidate, settings = self.candidate, self.settings
        entry: dict[str, Any] = {
            "metric": metrics[0],
            "scores": {model: {m: _mean(scores[model][m]) for m in metrics} for model in [candidate, *self.baselines]},
            "comparisons": {},
        }
        gate_intervals = {}
        for baseline in self.baselines:
            intervals = {
                metric: paired_bootstrap(
                    scores[candidate][metric],
                    scores[baseline][metric],
                    settings.n_resamples,
                    settings.seed,
                    settings.confidence,
                )
                for metric in metrics
            }
            gate_interval = intervals[metrics[0]]
            leaves = self.known_leaves[baseline]
            moved = _verdict_direction(gate_interval, metrics[0])
            if gate_interval is None:
                verdict = UNSCORED
            elif (
                leaves is not None
                and set_id not in (PROBE_ID, TEXT_ID, SEED_FACTS_TOTAL, *TOTALS)
                and set_id not in leaves
            ):
                verdict = NEW
            else:
                verdict = moved
            entry["comparisons"][baseline] = {
                "verdict": verdict,
                "direction": moved,
                "intervals": {
                    metric: interval.to_json() if interval else None for metric, interval in intervals.items()
                },
            }
            if leaves is not None and set_id in leaves:
                entry["comparisons"][baseline]["baseline_leaf_hash"] = leaves[set_id]
            gate_intervals[baseline] = gate_interval
        return entry, gate_intervals


def _right(
    eval_set: EvalSet, index: int, scores: dict[str, Any], verdicts: dict[str, Verdicts], model: str
) -> bool | None:
    """Whether the model's answer to an item is right by the set's own figure (None: not scored)."""
    if eval_set.kind == SKILL:
        verdict = verdicts[model][eval_set.set_id][index]
        return None if verdict is None else verdict.right
    return bool(scores[model][eval_set.set_id][METRICS[eval_set.kind][0]][index])


def examples(
    eval_set: EvalSet,
    answered: dict[str, dict[str, Any]],
    scores: dict[str, Any],
    verdicts: dict[str, Verdicts],
    candidate: str,
    base: str,
) -> list[dict[str, Any]]:
    """Three scored answers side by side, those where base and candidate differ first."""
    rows = []
    for index, item in enumerate(eval_set.items):
        right = {model: _right(eval_set, index, scores, verdicts, model) for model in (candidate, base)}
        if right[candidate] is None:
            continue
        row = {
            "question": item.question,
            "reference": item.reference,
            "source": item.source,
            "base": answered[base][eval_set.set_id][index],
            "candidate": answered[candidate][eval_set.set_id][index],
            "base_right": right[base],
            "candidate_right": right[candidate],
        }
        if eval_set.kind == SKILL:
            row["method"] = item.method
            row["why"] = {
                "base": _verdict(verdicts, base, eval_set, index).why,
                "candidate": _verdict(verdicts, candidate, eval_set, index).why,
            }
        rows.append((right[candidate] == right[base], index, row))
    return [row for _, _, row in sorted(rows, key=lambda row: row[:2])[:EXAMPLES_PER_LEAF]]


def _verdict(verdicts: dict[str, Verdicts], model: str, eval_set: EvalSet, index: int) -> Verdict:
    """The verdict on a scored skill item's answer (every model's is scored when the item is)."""
    verdict = verdicts[model][eval_set.set_id][index]
    assert verdict is not None, "asked for the verdict on an item that is not scored"
    return verdict


def skill_records(
    eval_sets: list[EvalSet], answered: dict[str, Any], verdicts: dict[str, Verdicts], models: list[str]
) -> list[dict[str, Any]]:
    """Every scored skill item with each model's answer and verdict: skills.jsonl, for a hand check."""
    rows = []
    for eval_set in (s for s in eval_sets if s.kind == SKILL):
        for index, item in enumerate(eval_set.items):
            if not item.method:
                continue
            rows.append(
                {
                    "leaf": eval_set.set_id,
                    "id": item.id,
                    "source": item.source,
                    "method": item.method,
                    "question": item.question,
                    "reference": item.reference,
                    "answers": {
                        model: {
                            "answer": answered[model][eval_set.set_id][index],
                            "right": _verdict(verdicts, model, eval_set, index).right,
                            "why": _verdict(verdicts, model, eval_set, index).why,
                        }
                        for model in models
                    },
                }
            )
    return rows


def run_judge(
    eval_sets: list[EvalSet], answers: list[dict[str, list[str]]], config: Config, cache_dir: Path, quiet: bool
) -> dict[tuple[str, int, str], Verdict]:
    """The judge's verdicts on every free-form skill answer of every model (`evaluate.skill_judge`)."""
    settings = config.evaluate
    judged = cases(eval_sets, answers)
    if not judged:
        return {}
    # the teacher when it runs here; one served over HTTP gives no log-likelihoods, so the base judges
    local_teacher = config.generate.teacher if config.generate.backend != "openai" else config.models.base
    path = resolve_model(settings.skill_judge_model or local_teacher, config.models)
    if settings.skill_judge == "loglikelihood":
        scorings = likelihood_scorings(judged)
        with _progress(len(scorings), quiet, "evaluate: judging free-form answers") as advance:
            outputs = cached_outputs(cache_dir, path, [], scorings, settings, advance)
        return likelihood_verdicts(judged, outputs, settings.skill_judge_min_share)
    prompts = generated_prompts(judged)
    limits = [settings.skill_judge_max_new_tokens] * len(prompts)
    with _progress(len(prompts), quiet, "evaluate: judging free-form answers") as advance:
        outputs = cached_outputs(cache_dir, path, prompts, [], settings, advance, limits)
    return generated_verdicts(judged, outputs)


def score_files(
    files: list[Path],
    eval_sets: list[EvalSet],
    candidate_path: str,
    out_dir: Path,
    settings: EvaluateSettings,
    advance: Progress,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]:
    """Each GGUF file loaded back (transformers dequantises it; its own tokenizer and chat
    template) and asked the knowledge fact questions and the general probe, beside the candidate
    asked the same in the same batches (in bfloat16 greedy answers move with what else is in a
    batch: the demo's candidate alone against within all sets differed on 7 of 192): file name ->
    its weights (type, digest, size), figures, the share of the facts the candidate knows that
    the file still knows and the paired interval of its fact accuracy minus the candidate's; and
    the candidate's figures in that layout."""
    if not files:
        return {}, None
    file_sets = [eval_set for eval_set in eval_sets if eval_set.kind in FILE_KINDS]
    conversations, limits, scorings = _model_inputs(file_sets, settings.max_new_tokens)
    knowledge = [s.set_id for s in file_sets if s.kind == KNOWLEDGE and not is_user_set(s.set_id)]
    # through transformers on every profile: vLLM's GGUF loading is experimental
    file_settings = replace(settings, backend="transformers")

    def figures_of(model_path: str) -> tuple[list[float], dict[str, Any]]:
        outputs = cached_outputs(
            out_dir / "answers", model_path, conversations, scorings, file_settings, advance, limits
        )
        scores, _, _ = score_outputs(file_sets, outputs)
        figures = {
            "knowledge": {m: _mean([v for s in knowledge for v in scores[s][m]]) for m in METRICS[KNOWLEDGE]},
            **{s.set_id: {m: _mean(scores[s.set_id][m]) for m in METRICS[PROBE]} for s in file_sets if s.kind == PROBE},
        }
        return [value for set_id in knowledge for value in scores[set_id]["fact_accuracy"]], figures

    known, candidate_figures = figures_of(candidate_path)
    entries = {}
    for path in files:
        facts, figures = figures_of(str(path))
        kept = sum(1 for mine, theirs in zip(facts, known) if mine and theirs)
        interval = paired_bootstrap(facts, known, settings.n_resamples, settings.seed, settings.confidence)
        entries[path.name] = {
            **gguf_summary(path),
            "size_bytes": path.stat().st_size,
            "n": {"knowledge": len(facts), **{s.set_id: len(s.items) for s in file_sets if s.kind == PROBE}},
            "scores": figures,
            "facts_known_by_candidate": int(sum(known)),
            "facts_kept": kept,
            "fact_retention": kept / sum(known) if sum(known) else None,
            "fact_accuracy_vs_candidate": interval.to_json() if interval else None,
        }
    return entries, candidate_figures


def question_rows(eval_sets: list[EvalSet]) -> list[dict[str, Any]]:
    """Every scored item of every set, as asked and as scored (questions.jsonl): what the
    report's figures count, shipped with the bundle."""
    rows = []
    for eval_set in eval_sets:
        for item in eval_set.items:
            row: dict[str, Any] = {"set": eval_set.set_id, "kind": eval_set.kind, "id": item.id, "source": item.source}
            row |= {"question": item.question, "reference": item.reference}
            if item.method:  # a skill item with a trusted reference: how its answers are scored
                row["method"] = item.method
            if item.key_facts:
                row["key_facts"] = list(item.key_facts)
            if item.choices:
                row |= {"choices": list(item.choices), "gold": item.gold}
            rows.append(row)
    return rows


def computed_dtype(settings: EvaluateSettings, model_path: str) -> str:
    """The dtype the candidate's figures were computed in ("auto" resolved on this machine):
    what reproduces them."""
    if settings.backend != "transformers":
        return settings.dtype
    import torch

    from taxon.backends.transformers import torch_dtype

    device = "cuda" if torch.cuda.is_available() else "cpu"
    return str(torch_dtype(settings.dtype, model_path, device)).removeprefix("torch.")


def evaluate(
    candidate: str,
    baselines: list[str],
    dataset_dir: Path,
    leaves: list[Leaf],
    out_dir: Path,
    config: Config,
    changed_leaves: list[str] | None = None,
    quiet: bool = False,
    gguf_files: list[Path] | None = None,
    questions: list[Path] | None = None,
) -> EvalReport:
    """Score `candidate` and each baseline (model folders, hub ids or packaged specs) on every
    leaf's held-out questions and the general sets, compare, gate, and write the reports.
    `gguf_files`: the candidate as the GGUF files publish will ship (publish.quantize), each
    scored on the knowledge facts and the general probe beside it. `questions`: a user's own
    question files (`taxon evaluate --questions`), each a set scored as the knowledge facts are,
    reported apart from the taxonomy's totals and gate."""
    settings = config.evaluate
    if not baselines:
        raise UsageError("evaluate needs at least one baseline", hint="pass --baseline BASE_MODEL")
    out_dir = Path(out_dir)
    eval_sets = build_eval_sets(leaves, dataset_dir, config, questions)
    models = list(dict.fromkeys([candidate, *baselines]))
    paths = {model: resolve_model(model, config.models) for model in models}
    scores, answered, verdicts, files, files_candidate = _score_models(
        eval_sets, paths, candidate, [Path(path) for path in gguf_files or []], out_dir, config, quiet
    )
    atomic_write_jsonl(out_dir / SKILLS_NAME, skill_records(eval_sets, answered, verdicts, models))
    chat = _judged_chat({model: paths[model] for model in (candidate, baselines[0])}, out_dir, config, quiet)
    known_leaves = {baseline: read_bundle_leaves(Path(baseline)) for baseline in baselines}
    changed = sorted(set(changed_leaves or []))
    overlap = heldout_overlap(eval_sets, dataset_dir, leaves, config, out_dir)
    comparing = _Comparing(candidate, baselines, known_leaves, settings)
    sets_report, gate_intervals = {}, {}
    for eval_set in eval_sets:
        per_model = {model: scores[model][eval_set.set_id] for model in models}
        entry, gate_intervals[eval_set.set_id] = comparing.compare(eval_set.set_id, METRICS[eval_set.kind], per_model)
        sets_report[eval_set.set_id] = {
            "kind": eval_set.kind,
            "changed": eval_set.set_id in changed,
            **eval_set.describe(),
            **entry,
            **({"overlap": overlap[eval_set.set_id]} if eval_set.set_id in overlap else {}),
            **(
                {"examples": examples(eval_set, answered, scores, verdicts, candidate, baselines[0])}
                if eval_set.kind in (KNOWLEDGE, SKILL) and eval_set.items
                else {}
            ),
        }
    atomic_write_jsonl(out_dir / QUESTIONS_NAME, question_rows(eval_sets))
    harness = write_harness_tasks(eval_sets, out_dir / HARNESS_DIR)
    dtype = computed_dtype(settings, paths[candidate])
    benchmarks = (
        run_benchmarks({model: paths[model] for model in (candidate, baselines[0])}, settings, dtype)
        if settings.benchmarks
        else None
    )
    leaf_sets = {s.set_id: s for s in eval_sets if s.kind in (KNOWLEDGE, SKILL) and not is_user_set(s.set_id)}
    gate = check_gate(
        gate_intervals[PROBE_ID],
        gate_intervals[TEXT_ID],
        {leaf: (METRICS[leaf_sets[leaf].kind][0], gate_intervals[leaf]) for leaf in changed if leaf in leaf_sets},
        {
            set_id: entry
            for set_id, entry in overlap.items()
            if set_id in leaf_sets and leaf_sets[set_id].kind == KNOWLEDGE
        },
        settings.gate,
        {name: entry["fact_retention"] for name, entry in files.items()},
        config.publish.min_fact_retention,
    )
    data = {
        "format": REPORT_FORMAT,
        "candidate": candidate,
        "candidate_hash": model_fingerprint(paths[candidate]),
        "dtype": dtype,
        "baselines": baselines,
        "settings": {
            **{key: value for key, value in plain(settings).items() if key != "gate"},
            "eval_share": config.dataset.eval_share,
        },
        "changed_leaves": changed,
        "changed_leaves_not_in_taxonomy": [leaf for leaf in changed if leaf not in leaf_sets],
        "sets": sets_report,
        "totals": _totals(eval_sets, scores, comparing),
        "lm_eval": run_harness(harness, out_dir / HARNESS_DIR, paths, settings) if settings.lm_eval else None,
        "gguf": files,
        "gguf_candidate": files_candidate,  # the candidate's figures asked as the files were
        "benchmarks": benchmarks,
        "chat": chat,
        "gate": gate.to_json(),
        # the maintainers' decisions on the generated samples, and the filters' agreement with them
        "curation": curation_summary(dataset_dir, [leaf.leaf_id for leaf in leaves]),
    }
    write_reports(out_dir, data)
    return EvalReport(out_dir, data, gate)


Scores = dict[str, dict[str, dict[str, list[float]]]]  # model -> set id -> metric -> one score per item


def _score_models(
    eval_sets: list[EvalSet],
    paths: dict[str, str],
    candidate: str,
    gguf_files: list[Path],
    out_dir: Path,
    config: Config,
    quiet: bool,
) -> tuple[
    Scores, dict[str, dict[str, list[str]]], dict[str, Verdicts], dict[str, dict[str, Any]], dict[str, Any] | None
]:
    """The scores (skill accuracy: per scored item), model -> set id -> its answers, model -> set
    id -> each skill item's verdict, and the GGUF files' entries with the candidate's figures
    asked as they were (score_files); each model's outputs (and the judge's) cached under
    `out_dir/answers`."""
    settings = config.evaluate
    conversations, limits, scorings = _model_inputs(eval_sets, settings.max_new_tokens)
    file_conversations, _, file_scorings = _model_inputs(
        [eval_set for eval_set in eval_sets if eval_set.kind in FILE_KINDS], settings.max_new_tokens
    )
    file_runs = len(gguf_files) + 1 if gguf_files else 0  # each file, and the candidate in the files' layout
    total = (len(conversations) + len(scorings)) * len(paths) + (
        len(file_conversations) + len(file_scorings)
    ) * file_runs
    outputs = {}
    with _progress(total, quiet) as advance:
        for model, path in paths.items():
            outputs[model] = cached_outputs(
                out_dir / "answers", path, conversations, scorings, settings, advance, limits
            )
        files, files_candidate = score_files(gguf_files, eval_sets, paths[candidate], out_dir, settings, advance)
    judged = run_judge(
        eval_sets, [answers_by_set(eval_sets, found) for found in outputs.values()], config, out_dir / "answers", quiet
    )
    scores, answered, verdicts = {}, {}, {}
    for model, found in outputs.items():
        scores[model], answered[model], verdicts[model] = score_outputs(eval_sets, found, judged)
    return scores, answered, verdicts, files, files_candidate


def _judged_chat(models: dict[str, str], out_dir: Path, config: Config, quiet: bool) -> dict[str, Any] | None:
    """The judge-scored chat set of the candidate and the first baseline, when evaluate.judge_model is set."""
    settings = config.evaluate
    if not settings.judge_model:
        return None
    prompts = read_chat_prompts(Path(settings.chat_file) if settings.chat_file else None)
    with _progress(len(prompts) * len(models), quiet) as advance:
        return judged_chat(models, out_dir, settings, config.teacher, advance)


def _totals(eval_sets: list[EvalSet], scores: Scores, comparing: _Comparing) -> dict[str, dict[str, Any]]:
    """The knowledge and skill totals: every item of the taxonomy's sets of that kind pooled (a
    user's question files apart); after the knowledge total, the same on its held-out seeds."""
    totals = {}
    for total_id, kind in TOTALS.items():
        metrics = METRICS[kind]
        kind_sets = [s.set_id for s in eval_sets if s.kind == kind and not is_user_set(s.set_id)]
        per_model = {
            model: {m: [v for set_id in kind_sets for v in model_scores[set_id][m]] for m in metrics}
            for model, model_scores in scores.items()
        }
        entry, _ = comparing.compare(total_id, metrics, per_model)
        totals[total_id] = {"n": len(per_model[comparing.candidate][metrics[0]]), **entry}
        if kind == KNOWLEDGE and (seed_facts := _seed_facts(eval_sets, scores, comparing)):
            totals[SEED_FACTS_TOTAL] = seed_facts
    return totals


def _seed_facts(eval_sets: list[EvalSet], scores: Scores, comparing: _Comparing) -> dict[str, Any] | None:
    """The knowledge figures on the held-out seed questions alone (None: no leaf holds one out)."""
    seeds = [
        (s.set_id, index)
        for s in eval_sets
        if s.kind == KNOWLEDGE and not is_user_set(s.set_id)
        for index, item in enumerate(s.items)
        if item.source == SEED
    ]
    if not seeds:
        return None
    metrics = METRICS[KNOWLEDGE]
    per_model = {
        model: {m: [model_scores[set_id][m][index] for set_id, index in seeds] for m in metrics}
        for model, model_scores in scores.items()
    }
    entry, _ = comparing.compare(SEED_FACTS_TOTAL, metrics, per_model)
    return {"n": len(seeds), **entry}
