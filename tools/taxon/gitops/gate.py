"""What a train run on main says about its evaluation: the job summary with the candidate
against each baseline (the base model, and the latest release when there is one), and, when
the gate failed, the one marked issue that says which leaves regressed, by how much, what was
merged since the last good release and where the run is.

Everything is read from the evaluate stage's report.json (format taxon-eval/2): each set and
each total holds, per baseline, the intervals of its metrics, the first one deciding its
verdict; the verdict and kind strings below are that file's values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taxon.core.markdown import code_span, table_code
from taxon.gitops.comment import GATE_MARKER

REGRESSED = "regressed"
LEAF_KINDS = ("knowledge", "skill")
GATE_ISSUE_TITLE = "taxon: the evaluation gate failed on main"
SUBJECT_CHARS = 200
_PR_NUMBER = re.compile(r"^Merge pull request #(\d+) |\(#(\d+)\)$")


@dataclass(frozen=True)
class MergedChange:
    sha: str
    subject: str

    @property
    def pull_request(self) -> int | None:
        match = _PR_NUMBER.search(self.subject)
        return int(match.group(1) or match.group(2)) if match else None


def baseline_labels(report: dict[str, Any], previous_bundle: str | None, previous_tag: str | None) -> dict[str, str]:
    """A name for people for each baseline of the report: the latest release, or the base model."""
    previous = str(Path(previous_bundle).resolve()) if previous_bundle else None
    return {
        baseline: f"release {previous_tag}"
        if previous and str(Path(baseline).resolve()) == previous
        else f"base model {code_span(Path(baseline).name or baseline)}"
        for baseline in report["baselines"]
    }


def _interval(entry: dict[str, Any], baseline: str) -> str:
    comparison = entry["comparisons"][baseline]
    metric, interval = next(iter(comparison["intervals"].items()), (None, None))
    if not interval:
        return f"– ({comparison['verdict']})"
    return (
        f"{metric} {interval['delta']:+.3f} [{interval['low']:+.3f}, {interval['high']:+.3f}] {comparison['verdict']}"
    )


def _table(labels: dict[str, str], rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
    header = ["Set", "n", *(f"Δ vs {label} [95% CI]" for label in labels.values())]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for set_id, entry in rows:
        cells = [table_code(set_id), str(entry["n"]), *(_interval(entry, baseline) for baseline in labels)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def regressed_sets(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The sets (leaves and the probe) that regressed against any baseline, or that the gate named."""
    reasons = " ".join(report["gate"]["reasons"])
    return [
        (set_id, entry)
        for set_id, entry in report["sets"].items()
        if any(c["direction"] == REGRESSED for c in entry["comparisons"].values())
        or (entry.get("changed") and f"changed leaf {set_id} " in reasons)
    ]


def _comparisons_line(labels: dict[str, str]) -> str:
    named = " and ".join(labels.values())
    if not any(label.startswith("release ") for label in labels.values()):
        return (
            f"Compared with: {named}. First release: nothing has been released yet, so the candidate is "
            "compared with the base model only."
        )
    return f"Compared with: {named}."


def render_train_summary(report: dict[str, Any], labels: dict[str, str]) -> str:
    gate = report["gate"]
    rows = [(f"all {total_id}", entry) for total_id, entry in report["totals"].items()]
    rows += [(set_id, entry) for set_id, entry in report["sets"].items() if entry["kind"] not in LEAF_KINDS]
    rows += [(set_id, entry) for set_id, entry in report["sets"].items() if entry.get("changed")]
    regressed = [row for row in regressed_sets(report) if row not in rows]
    lines = [
        "## taxon: train on main",
        "",
        "Gate: **passed**" if gate["passed"] else "Gate: **FAILED**",
        *(f"- {code_span(reason)}" for reason in gate["reasons"]),
        "",
        _comparisons_line(labels),
        "Candidate minus baseline on held-out questions, in the metric that decides each set's verdict.",
        "",
        *_table(labels, rows + regressed),
        "",
    ]
    return "\n".join(lines)


def render_gate_issue(
    report: dict[str, Any],
    labels: dict[str, str],
    commit: str,
    run_url: str,
    merged: list[MergedChange],
    since_tag: str | None,
) -> str:
    regressed = regressed_sets(report)
    since = f"the last release ({code_span(since_tag)})" if since_tag else "the start (nothing was released yet)"
    lines = [
        GATE_MARKER,
        f"## The evaluation gate failed on main at {code_span(commit[:12])}",
        "",
        f"Run: {run_url}. Nothing from it was published. The next run on main is compared with "
        + ("the same release" if since_tag else "the base model")
        + "; this issue is updated while the gate keeps failing.",
        "",
        "**Why**",
        "",
        *(f"- {code_span(reason)}" for reason in report["gate"]["reasons"]),
        "",
        f"**Regressed sets** ({len(regressed)}; candidate minus baseline, 95% interval)",
        "",
        *(_table(labels, regressed) if regressed else ["None regressed outright: see the reasons above."]),
        "",
        f"**Merged since {since}** ({len(merged)})",
        "",
        # merged titles and branch names are contributed text: code spans, as in the PR comment, so
        # no link, image, HTML or @-mention of theirs renders or notifies anyone
        *(
            f"- {'#' + str(change.pull_request) if change.pull_request else code_span(change.sha[:12])} "
            f"{code_span(change.subject[:SUBJECT_CHARS])}"
            for change in merged
        ),
        "",
        "To fix: change or revert the regressed leaves in a pull request. A maintainer can publish a model "
        "anyway by setting `publish.require_passed_gate = false` in taxon.toml.",
        "",
    ]
    return "\n".join(lines)
