"""Paired bootstrap of a mean difference: resample the same questions for both models, so
the interval reflects how much the candidate's gain depends on which questions were asked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

IMPROVED, REGRESSED, UNCHANGED, NEW, UNSCORED = "improved", "regressed", "unchanged", "new", "unscored"


@dataclass(frozen=True)
class Interval:
    delta: float  # mean of candidate minus baseline over the questions
    low: float
    high: float
    n: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def paired_bootstrap(
    candidate: Sequence[float],
    baseline: Sequence[float],
    n_resamples: int,
    seed: int,
    confidence: float = 0.95,
) -> Interval | None:
    """Percentile interval of mean(candidate - baseline); None when there are no pairs."""
    import numpy as np

    if len(candidate) != len(baseline):
        raise ValueError(f"paired scores differ in length: {len(candidate)} != {len(baseline)}")
    differences = np.asarray(candidate, dtype=float) - np.asarray(baseline, dtype=float)
    if differences.size == 0:
        return None
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, differences.size, size=(n_resamples, differences.size))
    means = differences[picks].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return Interval(float(differences.mean()), float(low), float(high), int(differences.size))


def direction(interval: Interval | None) -> str:
    """improved when the whole interval is above zero, regressed when below, else unchanged."""
    if interval is None:
        return UNSCORED
    if interval.low > 0:
        return IMPROVED
    if interval.high < 0:
        return REGRESSED
    return UNCHANGED
