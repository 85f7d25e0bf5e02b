"""Per-answer scores that are not facts or forms: ROUGE-L F1 from the `rouge-score` package
(the standard implementation, Porter stemming off), a secondary figure that decides nothing."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def _scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"])


def rouge_l(prediction: str, reference: str) -> float:
    return float(_scorer().score(reference, prediction)["rougeL"].fmeasure)
