"""The eval outputs: report.json (everything, machine-readable), report.md (a table for a
pull-request comment or a release note) and deltas.png (per-set deltas with their intervals)."""

from __future__ import annotations

import io
from pathlib import Path

from taxon.core.store import atomic_write_bytes, atomic_write_json, atomic_write_text
from taxon.qna.layout import DELTAS_PNG, REPORT_JSON, REPORT_MD

METRIC_NAMES = {"rouge_l": "ROUGE-L F1", "token_f1": "token F1", "judge": "judge (1-5 as 0-1)"}


def write_reports(out_dir: Path, data: dict) -> None:
    """report.json last: once it is there, the evaluation is complete."""
    atomic_write_text(Path(out_dir) / REPORT_MD, render_markdown(data))
    atomic_write_bytes(Path(out_dir) / DELTAS_PNG, render_deltas_png(data))
    atomic_write_json(Path(out_dir) / REPORT_JSON, data)


def _rows(data: dict) -> list[tuple[str, dict]]:
    """Leaves, then overall, then the probe: the order of every table and of the plot."""
    leaves = [(set_id, entry) for set_id, entry in data["sets"].items() if entry["kind"] == "leaf"]
    probes = [(set_id, entry) for set_id, entry in data["sets"].items() if entry["kind"] == "probe"]
    return [*leaves, ("overall", data["overall"]), *probes]


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _delta(comparison: dict, metric: str) -> str:
    interval = comparison["intervals"][metric]
    if interval is None:
        return "–"
    return f"{interval['delta']:+.3f} [{interval['low']:+.3f}, {interval['high']:+.3f}]"


def describe_sets(data: dict) -> str:
    settings = data["settings"]
    cap = settings.get("max_per_leaf", 0)
    cap_text = f"at most {cap} per leaf (evaluate.max_per_leaf)" if cap and cap > 0 else "no cap per leaf"
    probe = next((entry for entry in data["sets"].values() if entry["kind"] == "probe"), {"n": 0})
    return (
        f"Per leaf: the questions held out from training (a {settings['eval_share']:.0%} share of questions, "
        f"chosen by hash of the question), from the generated samples and the leaf's own seed examples, "
        f"each with its reference answer; {cap_text}. "
        f"General probe: {probe['n']} questions shipped with taxon on topics the base model already handles, "
        f"to catch forgetting. Greedy answers of at most {settings['max_new_tokens']} new tokens "
        f"({settings['backend']}); paired bootstrap {settings['confidence']:.0%} intervals of candidate minus "
        f"baseline, {settings['n_resamples']} resamples, seed {settings['seed']}."
    )


def render_markdown(data: dict) -> str:
    metric = data["metric"]
    labels = {baseline: f"B{index}" for index, baseline in enumerate(data["baselines"], 1)}
    gate = data["gate"]
    lines = [
        f"## Evaluation of `{data['candidate']}`",
        "",
        "**Gate: passed**" if gate["passed"] else "**Gate: FAILED**",
    ]
    lines += [f"- {reason}" for reason in gate["reasons"]]
    lines += ["", "Baselines: " + "; ".join(f"{label} = `{baseline}`" for baseline, label in labels.items()), ""]
    header = ["Set", "n", f"candidate {METRIC_NAMES[metric]}"]
    for label in labels.values():
        header += [label, f"Δ vs {label} [95% CI]", "verdict"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for set_id, entry in _rows(data):
        name = f"**{set_id}**" if set_id == "overall" else (f"{set_id} (changed)" if entry.get("changed") else set_id)
        cells = [name, str(entry["n"]), _number(entry["scores"][data["candidate"]][metric])]
        for baseline in labels:
            comparison = entry["comparisons"][baseline]
            cells += [_number(entry["scores"][baseline][metric]), _delta(comparison, metric), comparison["verdict"]]
        lines.append("| " + " | ".join(cells) + " |")
    others = [name for name in data["metrics"] if name != metric]
    if others:
        lines += ["", "<details><summary>Other metrics (means)</summary>", ""]
        header = ["Set", "metric", "candidate", *labels.values()]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for set_id, entry in _rows(data):
            for name in others:
                values = [entry["scores"][model][name] for model in [data["candidate"], *labels]]
                lines.append("| " + " | ".join([set_id, METRIC_NAMES[name], *map(_number, values)]) + " |")
        lines += ["", "</details>"]
    lines += ["", describe_sets(data), ""]
    return "\n".join(lines)


def render_deltas_png(data: dict) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = data["metric"]
    rows = _rows(data)
    baselines = data["baselines"]
    figure, axes = plt.subplots(figsize=(8, 1.5 + 0.4 * len(rows)))
    step = 0.8 / max(1, len(baselines))
    for index, baseline in enumerate(baselines):
        positions, deltas, lows, highs = [], [], [], []
        for row, (_, entry) in enumerate(rows):
            interval = entry["comparisons"][baseline]["intervals"][metric]
            if interval is None:
                continue
            positions.append(row - 0.4 + step * (index + 0.5))
            deltas.append(interval["delta"])
            lows.append(interval["delta"] - interval["low"])
            highs.append(interval["high"] - interval["delta"])
        axes.errorbar(deltas, positions, xerr=[lows, highs], fmt="o", capsize=3, label=f"vs B{index + 1}")
    axes.axvline(0.0, color="grey", linewidth=1)
    axes.set_yticks(range(len(rows)), [set_id for set_id, _ in rows])
    axes.invert_yaxis()
    axes.set_xlabel(f"candidate − baseline, {METRIC_NAMES[metric]} (95% interval)")
    axes.legend(loc="best", fontsize="small")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()
