"""The regression gate: a candidate is released only when the general probe has not dropped
beyond its threshold against any baseline and every changed leaf improved against every
baseline (its whole interval above zero)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from taxon.evaluate.bootstrap import Interval


@dataclass
class GateResult:
    passed: bool
    reasons: list[str] = field(default_factory=list)  # one line per failed check, for people
    thresholds: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


def _span(interval: Interval) -> str:
    return f"delta {interval.delta:+.3f}, 95% interval [{interval.low:+.3f}, {interval.high:+.3f}], n={interval.n}"


def probe_failures(probe: dict[str, Interval | None], max_drop: float) -> list[str]:
    """A drop counts when the mean falls by more than max_drop and the whole interval is below zero."""
    return [
        f"general probe regressed against {baseline}: {_span(interval)} (threshold -{max_drop:.3f})"
        for baseline, interval in probe.items()
        if interval is not None and interval.delta < -max_drop and interval.high < 0
    ]


def changed_failures(changed: dict[str, dict[str, Interval | None]], min_delta: float) -> list[str]:
    reasons = []
    for leaf, by_baseline in changed.items():
        for baseline, interval in by_baseline.items():
            if interval is None:
                reasons.append(f"changed leaf {leaf} has no held-out questions, so it cannot show an improvement")
            elif interval.low <= 0 or interval.delta < min_delta:
                reasons.append(f"changed leaf {leaf} did not improve against {baseline}: {_span(interval)}")
    return reasons


def check_gate(
    probe: dict[str, Interval | None], changed: dict[str, dict[str, Interval | None]], settings: dict
) -> GateResult:
    """probe: baseline -> interval on the probe set; changed: leaf -> baseline -> interval."""
    max_drop = float(settings.get("probe_max_drop", 0.05))
    must_improve = bool(settings.get("changed_must_improve", True))
    min_delta = float(settings.get("changed_min_delta", 0.0))
    reasons = probe_failures(probe, max_drop)
    if must_improve:
        reasons += changed_failures(changed, min_delta)
    thresholds = {"probe_max_drop": max_drop, "changed_must_improve": must_improve, "changed_min_delta": min_delta}
    return GateResult(not reasons, reasons, thresholds)
