"""The regression gate: a candidate is released only when every changed leaf improved its own
figure against every baseline (a knowledge leaf its fact accuracy, a skill leaf its skill
accuracy, the whole interval above zero), no held-out knowledge question has a near training
question, the general probe did not fall (its multiple-choice accuracy did not drop, nor its
loss on the held-out text rise, beyond the threshold with the whole interval on the wrong side
of zero), and each published GGUF file keeps its share of the facts the candidate knows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from taxon.core.settings import EvaluateGateSettings, plain
from taxon.evaluate.bootstrap import Interval


@dataclass
class GateResult:
    passed: bool
    reasons: list[str] = field(default_factory=list)  # one line per failed check, for people
    thresholds: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _span(interval: Interval) -> str:
    return f"delta {interval.delta:+.3f}, 95% interval [{interval.low:+.3f}, {interval.high:+.3f}], n={interval.n}"


def probe_failures(probe: dict[str, Interval | None], max_drop: float) -> list[str]:
    """An accuracy drop counts when it exceeds max_drop and the whole interval is below zero."""
    return [
        f"general probe accuracy fell against {baseline}: {_span(interval)} (threshold -{max_drop:.3f})"
        for baseline, interval in probe.items()
        if interval is not None and interval.delta < -max_drop and interval.high < 0
    ]


def text_failures(text: dict[str, Interval | None], max_rise: float) -> list[str]:
    """A loss rise counts when it exceeds max_rise and the whole interval is above zero."""
    return [
        f"general text loss rose against {baseline}: {_span(interval)} (threshold +{max_rise:.3f} nats per token)"
        for baseline, interval in text.items()
        if interval is not None and interval.delta > max_rise and interval.low > 0
    ]


def changed_failures(changed: dict[str, tuple[str, dict[str, Interval | None]]], min_delta: float) -> list[str]:
    reasons = []
    for leaf, (metric, by_baseline) in changed.items():
        for baseline, interval in by_baseline.items():
            if interval is None:
                reasons.append(
                    f"changed leaf {leaf} has no held-out question with a trusted reference, so it cannot show an "
                    "improvement: add seed examples (some are held out), or approve held-out samples in review"
                )
            elif interval.low <= 0 or interval.delta < min_delta:
                reasons.append(
                    f"changed leaf {leaf} did not improve its {metric} against {baseline}: {_span(interval)}"
                )
    return reasons


def overlap_failures(overlap: dict[str, dict[str, Any]]) -> list[str]:
    return [
        f"{entry['above']} held-out question(s) of {leaf} have a training question with token Jaccard above "
        f"{entry['threshold']}: the held-out figure is not held out (see heldout.jsonl)"
        for leaf, entry in overlap.items()
        if entry["above"]
    ]


def retention_failures(retention: dict[str, float | None], min_retention: float) -> list[str]:
    return [
        f"{name} keeps {kept:.0%} of the facts the candidate knows (publish.min_fact_retention {min_retention:.0%})"
        for name, kept in retention.items()
        if kept is not None and kept < min_retention
    ]


def check_gate(
    probe: dict[str, Interval | None],
    text: dict[str, Interval | None],
    changed: dict[str, tuple[str, dict[str, Interval | None]]],
    overlap: dict[str, dict[str, Any]],
    settings: EvaluateGateSettings,
    retention: dict[str, float | None] | None = None,
    min_retention: float = 0.0,
) -> GateResult:
    """probe, text: baseline -> interval of candidate minus baseline (probe accuracy, text loss);
    changed: leaf -> (its gate metric's name, baseline -> interval); overlap: knowledge leaf ->
    {"above": held-out questions with a training question above the threshold, "threshold"};
    retention: GGUF file -> share of the candidate's known facts it keeps, gated at
    `min_retention` (publish.min_fact_retention)."""
    reasons = probe_failures(probe, settings.probe_max_drop) + text_failures(text, settings.text_max_loss_rise)
    reasons += overlap_failures(overlap)
    if settings.changed_must_improve:
        reasons += changed_failures(changed, settings.changed_min_delta)
    reasons += retention_failures(retention or {}, min_retention)
    return GateResult(not reasons, reasons, {**plain(settings), "min_fact_retention": min_retention})
