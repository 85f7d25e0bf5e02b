"""The eval outputs: report.json (everything, machine-readable), report.md (tables for a
pull-request comment or a release note) and deltas.png (each set's delta on its own figure,
with its interval)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from taxon.core.store import atomic_write_bytes, atomic_write_json, atomic_write_text
from taxon.qna.decisions import FILTERS, precision_recall
from taxon.qna.layout import DELTAS_PNG, HELDOUT_NAME, METRIC_LABELS, REPORT_JSON, REPORT_MD

LOWER_NOTE = {"nll": ", lower is better"}


def write_reports(out_dir: Path, data: dict[str, Any]) -> None:
    """report.json last: once it is there, the evaluation is complete."""
    atomic_write_text(Path(out_dir) / REPORT_MD, render_markdown(data))
    atomic_write_bytes(Path(out_dir) / DELTAS_PNG, render_deltas_png(data))
    atomic_write_json(Path(out_dir) / REPORT_JSON, data)


def _rows(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Leaves, then the totals, then the general sets: the order of every table and of the plot."""
    leaves = [(set_id, entry) for set_id, entry in data["sets"].items() if entry["kind"] in ("knowledge", "skill")]
    general = [(set_id, entry) for set_id, entry in data["sets"].items() if entry["kind"] in ("probe", "text")]
    return [*leaves, *data["totals"].items(), *general]


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _delta(comparison: dict[str, Any], metric: str) -> str:
    interval = comparison["intervals"][metric]
    if interval is None:
        return "–"
    return f"{interval['delta']:+.3f} [{interval['low']:+.3f}, {interval['high']:+.3f}]"


def describe_sets(data: dict[str, Any]) -> str:
    settings = data["settings"]
    cap = settings.get("max_per_leaf", 0)
    cap_text = f"at most {cap} per leaf (evaluate.max_per_leaf)" if cap and cap > 0 else "no cap per leaf"
    probe = data["sets"].get("general/probe", {"n": 0})
    text = data["sets"].get("general/text", {"n": 0})
    return (
        "Knowledge leaves: fact questions asked without the document, the held-out seed questions "
        f"(a {settings['eval_share']:.0%} share, by hash of the question) and fill-in-the-blank questions made "
        "from the document's sentences; fact accuracy = share of answers containing every key fact of the "
        "reference (numbers with their units, names), and the same on the held-out seed questions alone "
        "(asked in the contributor's words; the blanks are in sentences training restates); MC = the right "
        "answer against distractors (altered numbers, the leaf's other answers), each option a whole answer "
        "(a blank's sentence with the option "
        "filled in), by summed log-likelihood, acc_norm per character as "
        f"lm-evaluation-harness reports it; {cap_text}. Skill leaves: skill accuracy = share of right answers "
        "among the held-out questions with a trusted reference (held-out seeds, samples a maintainer approved "
        "or fixed, answers a checker computes from the question, and checker-made questions up to "
        f"{settings.get('skill_min_items', 0)} per checkable leaf), each scored by the strictest method its "
        "reference allows: the checker's value, the same number or label, the seeds' template with the "
        "reference's content in its slots, word for word (title case), the reference's key facts, or a judge "
        f"({settings.get('skill_judge', 'loglikelihood')}, by {settings.get('skill_judge_model') or 'the teacher, or the base where it is served over HTTP'}) "
        "for free-form answers; a copy of the question, a seed's "
        "answer word for word, a broken check (equations, unit conversions, comparisons, parity, weekdays), "
        "or a judged answer without the number, label or yes or no the reference concludes "
        "is wrong whatever else it says (every verdict with its reason in skills.jsonl); form accuracy (the "
        "form the seed answers share, on every held-out question) and ROUGE-L (rouge-score, against the seeds' "
        "answers only) are secondary. "
        f"General: {probe['n']} multiple-choice questions shipped with taxon and the loss on "
        f"{text['n']} paragraphs of held-out prose, to catch forgetting. Greedy answers of at most "
        f"{settings['max_new_tokens']} new tokens ({settings['backend']}); paired bootstrap "
        f"{settings['confidence']:.0%} intervals of candidate minus baseline, {settings['n_resamples']} resamples, "
        f"seed {settings['seed']}."
    )


def _score_table(data: dict[str, Any], labels: dict[str, str]) -> list[str]:
    header = ["Set", "n", "figure", "candidate"]
    for label in labels.values():
        header += [label, f"Δ vs {label} [95% CI]", "verdict"]
    header.append("MC acc (cand / B1)")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for set_id, entry in _rows(data):
        metric = entry["metric"]
        name = (
            f"**{set_id}**" if set_id in data["totals"] else (f"{set_id} (changed)" if entry.get("changed") else set_id)
        )
        cells = [name, str(entry["n"]), METRIC_LABELS[metric], _number(entry["scores"][data["candidate"]][metric])]
        for baseline in labels:
            comparison = entry["comparisons"][baseline]
            cells += [_number(entry["scores"][baseline][metric]), _delta(comparison, metric), comparison["verdict"]]
        mc = [entry["scores"][model].get("mc_acc") for model in (data["candidate"], data["baselines"][0])]
        cells.append(" / ".join(map(_number, mc)) if metric != "mc_acc" and mc[0] is not None else "")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _examples(data: dict[str, Any]) -> list[str]:
    lines = ["", "<details><summary>Answers side by side (three per leaf)</summary>", ""]
    lines += ["| Leaf | question | reference | base | candidate |", "|---|---|---|---|---|"]
    mark = {True: "✓", False: "✗"}
    for set_id, entry in data["sets"].items():
        for example in entry.get("examples", []):
            reference = _cell(example["reference"])
            if example.get("method"):
                reference = f"({example['source']}, {example['method']}) {reference}"
            elif example.get("source") == "generated":  # only the answer's form is scored on these
                reference = f"(the teacher's answer, not scored) {reference}"
            why = example.get("why", {})
            cells = [
                f"{mark[example[f'{model}_right']]} {_cell(example[model])}"
                + (f" ({_cell(why[model], 80)})" if model in why else "")
                for model in ("base", "candidate")
            ]
            lines.append(f"| {set_id} | {_cell(example['question'])} | {reference} | {cells[0]} | {cells[1]} |")
    return lines + ["", "</details>"]


def _hygiene(data: dict[str, Any]) -> list[str]:
    lines = ["", "Held-out hygiene (closest training question by token Jaccard, per held-out question in "]
    lines[-1] += f"{HELDOUT_NAME}):"
    lines += ["", "| Leaf | held out | max Jaccard | above threshold |", "|---|---|---|---|"]
    for set_id, entry in data["sets"].items():
        overlap = entry.get("overlap")
        if overlap is not None:
            above = f"{overlap['above']} (> {overlap['threshold']})"
            lines.append(
                f"| {set_id} | {entry.get('asked', entry['n'])} | {_number(overlap['max_jaccard'])} | {above} |"
            )
    return lines


def _harness(data: dict[str, Any]) -> list[str]:
    if not data.get("lm_eval"):
        return []
    lines = ["", "lm-evaluation-harness (`lm_eval.simple_evaluate`, model hf) on the same multiple-choice sets:", ""]
    lines += ["| Set | model | acc | acc_norm | ours: acc | ours: acc_norm |", "|---|---|---|---|---|---|"]
    for model, by_set in data["lm_eval"].items():
        for set_id, figures in by_set.items():
            ours = data["sets"][set_id]["scores"].get(model, {})
            lines.append(
                f"| {set_id} | `{model}` | {_number(figures['acc'])} | {_number(figures['acc_norm'])} | "
                f"{_number(ours.get('mc_acc'))} | {_number(ours.get('mc_acc_norm'))} |"
            )
    return lines


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _agreement_cells(cells: dict[str, int]) -> str:
    precision, recall, n = precision_recall(cells)
    return f"{_ratio(precision)} / {_ratio(recall)} ({n})" if n else "–"


def _curation(data: dict[str, Any]) -> list[str]:
    """The automatic filters against the maintainers: precision and recall of the filters'
    'kept' against the maintainers' 'keep' (a drop or a fix says the answer was not right)."""
    curation = data.get("curation") or {}
    totals = curation.get("decisions") or {}
    if not totals.get("reviewed"):
        return ["", "No maintainer has decided on a generated sample yet: the filters' agreement is not measured."]
    lines = [
        "",
        "The automatic filters against the maintainers' decisions (precision / recall of the filters' "
        "'kept' against 'keep', a drop or a fix counting as 'not right'; samples decided in brackets):",
        "",
        "| Leaf | decided | keep / drop / fix | all filters | judge | checks |",
        "|---|---|---|---|---|---|",
    ]
    entries = [*(curation.get("leaves") or {}).items(), ("**all leaves**", curation)]
    for leaf_id, entry in entries:
        counts, table = entry.get("decisions") or {}, entry.get("agreement") or {}
        if not counts.get("reviewed"):
            continue
        filters = " | ".join(_agreement_cells(table.get(name) or {}) for name in FILTERS)
        lines.append(
            f"| {leaf_id} | {counts['reviewed']} | {counts['keep']} / {counts['drop']} / {counts['fix']} | {filters} |"
        )
    return lines


def _gguf(data: dict[str, Any]) -> list[str]:
    files = data.get("gguf") or {}
    if not files:
        return []
    candidate = data.get("gguf_candidate") or {}
    knowledge, probe = candidate.get("knowledge", {}), candidate.get("general/probe", {})
    lines = [
        "",
        "The published GGUF files, each loaded back (transformers, dequantised) and asked the knowledge fact "
        "questions and the general probe beside the candidate asked the same in the same batches; facts kept = "
        "fact questions right in both the file and the candidate, of those right in the candidate:",
        "",
        "| File | weights | size | fact accuracy | Δ vs candidate [95% CI] | facts kept | knowledge MC acc | probe MC acc |",
        "|---|---|---|---|---|---|---|---|",
        f"| candidate (safetensors) | | | {_number(knowledge.get('fact_accuracy'))} | | | "
        f"{_number(knowledge.get('mc_acc'))} | {_number(probe.get('mc_acc'))} |",
    ]
    for name, entry in files.items():
        interval = entry["fact_accuracy_vs_candidate"]
        delta = f"{interval['delta']:+.3f} [{interval['low']:+.3f}, {interval['high']:+.3f}]" if interval else "–"
        retention = entry["fact_retention"]
        kept = f"{entry['facts_kept']}/{entry['facts_known_by_candidate']}" + (
            f" ({retention:.0%})" if retention is not None else ""
        )
        scores = entry["scores"]
        lines.append(
            f"| `{name}` | {entry['weights']} | {entry['size_bytes'] / 2**20:,.0f} MiB | "
            f"{_number(scores['knowledge']['fact_accuracy'])} | {delta} | {kept} | "
            f"{_number(scores['knowledge']['mc_acc'])} | {_number(scores.get('general/probe', {}).get('mc_acc'))} |"
        )
    return lines


def _benchmarks(data: dict[str, Any]) -> list[str]:
    entry = data.get("benchmarks")
    if not entry:
        return []
    candidate, base = data["candidate"], data["baselines"][0]
    limit = f", at most {entry['limit']} items a task" if entry.get("limit") else ""
    lines = ["", f"lm-evaluation-harness benchmarks (its own tasks and prompts{limit}):", ""]
    lines += ["| Task | metric | candidate | B1 | Δ |", "|---|---|---|---|---|"]
    for task, figures in entry["results"].get(candidate, {}).items():
        for metric, value in figures.items():
            theirs = entry["results"].get(base, {}).get(task, {}).get(metric)
            delta = f"{value - theirs:+.3f}" if theirs is not None else "–"
            lines.append(f"| {task} | {metric} | {_number(value)} | {_number(theirs)} | {delta} |")
    return lines


def _chat(data: dict[str, Any]) -> list[str]:
    entry = data.get("chat")
    if not entry:
        return []
    candidate, base = data["candidate"], data["baselines"][0]
    interval = entry["comparisons"].get(base)
    delta = f"{interval['delta']:+.2f} [{interval['low']:+.2f}, {interval['high']:+.2f}]" if interval else "–"
    lines = [
        "",
        f"Judged chat set ({entry['n']} prompts of `{entry['file']}`, each answer rated 1-10 by `{entry['judge']}`; "
        f"unrated replies: candidate {entry['unrated'][candidate]}, B1 {entry['unrated'][base]}):",
        "",
        "| Category | candidate | B1 |",
        "|---|---|---|",
    ]
    for category, scores in entry["by_category"].items():
        lines.append(f"| {category} | {_number(scores.get(candidate))} | {_number(scores.get(base))} |")
    lines.append(f"| **all** | {_number(entry['scores'][candidate])} | {_number(entry['scores'][base])} (Δ {delta}) |")
    return lines


def _precision(data: dict[str, Any]) -> list[str]:
    """The dtype the figures were computed in, and what a 16-bit one means for greedy answers."""
    dtype = data.get("dtype")
    if not dtype or dtype == "auto":  # vLLM's own choice, not known here
        return []
    if dtype not in ("bfloat16", "float16"):
        return [f"Computed in {dtype}.", ""]
    return [
        f"Computed in {dtype}: a greedy answer may change with the other questions in its batch, so every model "
        "is asked the same questions in the same batches (`--set evaluate.dtype=float32` for answers that do not "
        "depend on the batch).",
        "",
    ]


def render_markdown(data: dict[str, Any]) -> str:
    labels = {baseline: f"B{index}" for index, baseline in enumerate(data["baselines"], 1)}
    gate = data["gate"]
    lines = [
        f"## Evaluation of `{data['candidate']}`",
        "",
        "**Gate: passed**" if gate["passed"] else "**Gate: FAILED**",
    ]
    lines += [f"- {reason}" for reason in gate["reasons"]]
    lines += ["", "Baselines: " + "; ".join(f"{label} = `{baseline}`" for baseline, label in labels.items()), ""]
    lines += _precision(data)
    lines += _score_table(data, labels)
    lines += _gguf(data) + _chat(data) + _benchmarks(data) + _examples(data) + _hygiene(data) + _harness(data)
    lines += _curation(data)
    lines += ["", describe_sets(data), ""]
    return "\n".join(lines)


def render_deltas_png(data: dict[str, Any]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _rows(data)
    baselines = data["baselines"]
    figure, axes = plt.subplots(figsize=(9, 1.5 + 0.4 * len(rows)))
    step = 0.8 / max(1, len(baselines))
    for index, baseline in enumerate(baselines):
        positions, deltas, lows, highs = [], [], [], []
        for row, (_, entry) in enumerate(rows):
            interval = entry["comparisons"][baseline]["intervals"][entry["metric"]]
            if interval is None:
                continue
            positions.append(row - 0.4 + step * (index + 0.5))
            deltas.append(interval["delta"])
            lows.append(interval["delta"] - interval["low"])
            highs.append(interval["high"] - interval["delta"])
        axes.errorbar(deltas, positions, xerr=[lows, highs], fmt="o", capsize=3, label=f"vs B{index + 1}")
    axes.axvline(0.0, color="grey", linewidth=1)
    # a leaf by its own name (the last folder): full ids squeeze the plot to a sliver
    labels = [
        f"{set_id.rsplit('/', 1)[-1]} ({METRIC_LABELS[entry['metric']]}{LOWER_NOTE.get(entry['metric'], '')}, "
        f"n={entry['n']})"
        for set_id, entry in rows
    ]
    axes.set_yticks(range(len(rows)), labels)
    axes.invert_yaxis()
    axes.grid(axis="x", alpha=0.3)
    axes.set_title("candidate − baseline per set, 95% interval (the gate's figure of each set)", fontsize="medium")
    axes.legend(loc="best", fontsize="small")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()
