"""`evaluate`: answer every eval question with the candidate and each baseline, score the
answers, compare with paired bootstrap intervals, gate, and write report.json / .md / .png."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from taxon.backends.models import model_fingerprint, resolve_model
from taxon.core.errors import UsageError
from taxon.core.progress import tracker
from taxon.evaluate.answers import Progress, cached_answers
from taxon.evaluate.bootstrap import NEW, UNSCORED, Interval, direction, paired_bootstrap
from taxon.evaluate.gate import GateResult, check_gate
from taxon.evaluate.report import write_reports
from taxon.evaluate.scores import (
    JUDGE_METRIC,
    REFERENCE_METRICS,
    judge_messages,
    judge_to_unit,
    parse_judge_score,
    reference_scores,
)
from taxon.evaluate.sets import PROBE_ID, EvalItem, EvalSet, build_eval_sets
from taxon.qna.layout import read_bundle_leaves
from taxon.qna.taxonomy import Leaf

REPORT_FORMAT = "taxon-eval/1"
OVERALL_ID = "overall"


@dataclass
class EvalReport:
    out_dir: Path
    data: dict  # the content of report.json
    gate: GateResult

    @property
    def passed(self) -> bool:
        return self.gate.passed


@dataclass
class ModelScores:
    scores: dict[str, list[float]]  # metric -> one score per eval item, in item order
    judge_unparsed: int = 0


@contextmanager
def _progress(total: int, quiet: bool) -> Iterator[Progress]:
    if quiet:
        yield lambda advance: None
        return
    with tracker() as answers:
        yield answers.task("evaluate: answering", total=total).advance


def _answer(model: str, items: list[EvalItem], out_dir: Path, config: dict, advance: Progress) -> list[str]:
    settings = config["evaluate"]
    return cached_answers(
        out_dir / "answers",
        resolve_model(model, config),
        [[{"role": "user", "content": item.question}] for item in items],
        settings,
        int(settings["max_new_tokens"]),
        advance,
    )


def _judge(
    judge: str, items: list[EvalItem], answers: dict[str, list[str]], out_dir: Path, config: dict, advance: Progress
) -> dict[str, list[float | None]]:
    """The judge's 1-5 score (None when unparsable) of every model's answer to every item,
    in one batch so the judge model loads once."""
    settings = config["evaluate"]
    conversations = [
        judge_messages(item.question, item.reference, answer)
        for model_answers in answers.values()
        for item, answer in zip(items, model_answers)
    ]
    replies = cached_answers(
        out_dir / "answers",
        resolve_model(judge, config),
        conversations,
        settings,
        int(settings["judge_max_new_tokens"]),
        advance,
    )
    scores = [parse_judge_score(reply) for reply in replies]
    return {model: scores[index * len(items) : (index + 1) * len(items)] for index, model in enumerate(answers)}


def _score_models(
    models: list[str], items: list[EvalItem], out_dir: Path, config: dict, judge: str | None, quiet: bool
) -> dict[str, ModelScores]:
    with _progress(len(items) * len(models) * (2 if judge else 1), quiet) as advance:
        answers = {model: _answer(model, items, out_dir, config, advance) for model in models}
        judged = _judge(judge, items, answers, out_dir, config, advance) if judge else {}
    scored = {}
    for model, model_answers in answers.items():
        per_item = [reference_scores(answer, item.reference) for answer, item in zip(model_answers, items)]
        scored[model] = ModelScores({metric: [row[metric] for row in per_item] for metric in REFERENCE_METRICS})
        if judge:
            scored[model].scores[JUDGE_METRIC] = [judge_to_unit(score) for score in judged[model]]
            scored[model].judge_unparsed = sum(score is None for score in judged[model])
    return scored


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _compare(
    set_id: str,
    indices: list[int],
    candidate: str,
    baselines: list[str],
    scored: dict[str, ModelScores],
    bundle_leaves: dict[str, dict | None],
    settings: dict,
) -> tuple[dict, dict[str, Interval | None]]:
    """The report entry of one set and the gate metric's interval against each baseline."""
    metrics = list(scored[candidate].scores)
    entry = {
        "scores": {
            model: {metric: _mean([scored[model].scores[metric][i] for i in indices]) for metric in metrics}
            for model in [candidate, *baselines]
        },
        "comparisons": {},
    }
    gate_intervals = {}
    for baseline in baselines:
        intervals = {
            metric: paired_bootstrap(
                [scored[candidate].scores[metric][i] for i in indices],
                [scored[baseline].scores[metric][i] for i in indices],
                int(settings["n_resamples"]),
                int(settings["seed"]),
                float(settings["confidence"]),
            )
            for metric in metrics
        }
        gate_interval = intervals[settings["metric"]]
        known_leaves = bundle_leaves[baseline]
        if gate_interval is None:
            verdict = UNSCORED
        elif known_leaves is not None and set_id not in (PROBE_ID, OVERALL_ID) and set_id not in known_leaves:
            verdict = NEW
        else:
            verdict = direction(gate_interval)
        entry["comparisons"][baseline] = {
            "verdict": verdict,
            "direction": direction(gate_interval),
            "intervals": {metric: interval.to_json() if interval else None for metric, interval in intervals.items()},
        }
        if known_leaves is not None and set_id in known_leaves:
            entry["comparisons"][baseline]["baseline_leaf_hash"] = known_leaves[set_id]
        gate_intervals[baseline] = gate_interval
    return entry, gate_intervals


def _check_settings(settings: dict, judge: bool) -> None:
    metrics = [*REFERENCE_METRICS, *([JUDGE_METRIC] if judge else [])]
    if settings["metric"] not in metrics:
        raise UsageError(f"evaluate.metric '{settings['metric']}' is not one of: {', '.join(metrics)}")


def evaluate(
    candidate: str,
    baselines: list[str],
    dataset_dir: Path,
    leaves: list[Leaf],
    out_dir: Path,
    config: dict,
    changed_leaves: list[str] | None = None,
    quiet: bool = False,
) -> EvalReport:
    settings = config["evaluate"]
    if not baselines:
        raise UsageError("evaluate needs at least one baseline", hint="pass --baseline BASE_MODEL")
    judge = settings.get("judge") or None
    _check_settings(settings, bool(judge))
    out_dir = Path(out_dir)
    eval_sets: list[EvalSet] = build_eval_sets(leaves, dataset_dir, config)
    items = [item for eval_set in eval_sets for item in eval_set.items]
    scored = _score_models(list(dict.fromkeys([candidate, *baselines])), items, out_dir, config, judge, quiet)

    bundle_leaves = {baseline: read_bundle_leaves(Path(baseline)) for baseline in baselines}
    spans, start = {}, 0
    for eval_set in eval_sets:
        spans[eval_set.set_id] = list(range(start, start + len(eval_set.items)))
        start += len(eval_set.items)
    changed = sorted(set(changed_leaves or []))
    sets_report, gate_intervals = {}, {}
    for eval_set in eval_sets:
        entry, gate_intervals[eval_set.set_id] = _compare(
            eval_set.set_id, spans[eval_set.set_id], candidate, baselines, scored, bundle_leaves, settings
        )
        kind = "probe" if eval_set.set_id == PROBE_ID else "leaf"
        sets_report[eval_set.set_id] = {
            "kind": kind,
            "changed": eval_set.set_id in changed,
            **eval_set.describe(),
            **entry,
        }
    leaf_indices = [i for set_id, span in spans.items() if set_id != PROBE_ID for i in span]
    overall, _ = _compare(OVERALL_ID, leaf_indices, candidate, baselines, scored, bundle_leaves, settings)

    leaf_ids = {eval_set.set_id for eval_set in eval_sets} - {PROBE_ID}
    gate = check_gate(
        gate_intervals[PROBE_ID],
        {leaf: gate_intervals[leaf] for leaf in changed if leaf in leaf_ids},
        settings.get("gate", {}),
    )
    data = {
        "format": REPORT_FORMAT,
        "candidate": candidate,
        "candidate_hash": model_fingerprint(resolve_model(candidate, config)),
        "baselines": baselines,
        "metric": settings["metric"],
        "metrics": list(scored[candidate].scores),
        "settings": {
            **{key: value for key, value in settings.items() if key != "gate"},
            "eval_share": config["dataset"]["eval_share"],
        },
        "changed_leaves": changed,
        "changed_leaves_not_in_taxonomy": [leaf for leaf in changed if leaf not in leaf_ids],
        "judge_unparsed": {model: scores.judge_unparsed for model, scores in scored.items()} if judge else None,
        "sets": sets_report,
        "overall": {"kind": "overall", "n": len(leaf_indices), **overall},
        "gate": gate.to_json(),
    }
    write_reports(out_dir, data)
    return EvalReport(out_dir, data, gate)
