"""Reference-based scores (ROUGE-L F1 and token F1, each in [0, 1]) and the judge's 1-5
score: the prompt that asks for it and a parser that finds it in sloppy output."""

from __future__ import annotations

import re
from collections import Counter

_WORD = re.compile(r"\w+", re.UNICODE)
REFERENCE_METRICS = ("rouge_l", "token_f1")
JUDGE_METRIC = "judge"


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _f1(overlap: int, predicted: int, expected: int) -> float:
    if overlap == 0:
        return 0.0
    precision, recall = overlap / predicted, overlap / expected
    return 2 * precision * recall / (precision + recall)


def lcs_length(first: list[str], second: list[str]) -> int:
    """Length of the longest common subsequence, one row of the table at a time."""
    if len(first) < len(second):
        first, second = second, first
    previous = [0] * (len(second) + 1)
    for item in first:
        current = [0]
        for index, other in enumerate(second):
            current.append(previous[index] + 1 if item == other else max(previous[index + 1], current[index]))
        previous = current
    return previous[-1]


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F1 over lower-cased word tokens."""
    predicted, expected = words(prediction), words(reference)
    return _f1(lcs_length(predicted, expected), len(predicted), len(expected))


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style F1 of the bags of lower-cased word tokens."""
    predicted, expected = words(prediction), words(reference)
    overlap = sum((Counter(predicted) & Counter(expected)).values())
    return _f1(overlap, len(predicted), len(expected))


def reference_scores(prediction: str, reference: str) -> dict[str, float]:
    return {"rouge_l": rouge_l(prediction, reference), "token_f1": token_f1(prediction, reference)}


JUDGE_SYSTEM = (
    "You grade answers. Compare the answer with the reference answer and rate it from 1 to 5: "
    "5 = correct and complete, 4 = correct with small gaps, 3 = partly correct, "
    "2 = mostly wrong, 1 = wrong or off topic. Reply with the score only, like: Score: 4"
)


def judge_messages(question: str, reference: str, answer: str) -> list[dict]:
    return [
        {"role": "system", "content": JUDGE_SYSTEM},
        {
            "role": "user",
            "content": f"Question:\n{question}\n\nReference answer:\n{reference}\n\nAnswer to grade:\n{answer}\n\nScore:",
        },
    ]


# Most specific first: "Score: 4", "4/5", "4 out of 5", "rating 4", then a lone digit 1-5.
_JUDGE_PATTERNS = (
    re.compile(r"\b(?:score|rating|grade)\s*(?:is|of|=|:)?\s*\**\s*([1-5](?:\.\d+)?)(?!\d)", re.IGNORECASE),
    re.compile(r"(?<![\d.])([1-5](?:\.\d+)?)\s*(?:/|out of)\s*5\b", re.IGNORECASE),
    re.compile(r"(?<![\d.])([1-5])(?![\d.]\d)"),
)


def parse_judge_score(text: str) -> float | None:
    """The 1-5 score in a judge's reply, or None when there is none in range."""
    for pattern in _JUDGE_PATTERNS:
        match = pattern.search(text or "")
        if match:
            value = float(match.group(1))
            if 1.0 <= value <= 5.0:
                return value
    return None


def judge_to_unit(score: float | None) -> float:
    """A 1-5 judge score on the [0, 1] scale of the other metrics; an unparsable reply counts as 1."""
    return 0.0 if score is None else (score - 1.0) / 4.0
