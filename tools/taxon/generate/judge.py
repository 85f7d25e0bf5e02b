"""Judging generated answers. Two ways, chosen by `generate.judge`:

- "loglikelihood": the score is the mean token log-probability of the answer given its
  context and question (`teacher.answer_loglikelihood`). A small teacher (SmolLM2-135M)
  answers "No" to every yes/no question and gives useless 1-5 ratings, yet this score
  separates right from wrong answers (measured AUC 0.97 for plainly wrong, 0.83 for subtly
  wrong ones). The leaf's own seed answers are scored the same way, and an answer is kept
  when it scores within `judge_below_seeds` of their median: what is likely differs by task
  (a poem or a one-word label scores low even when right), so the floor comes from answers
  known to be right, not from a constant. Where the question has a context (a chunk, a
  grounded skill's text), the answer must also not lose likelihood when the context is
  shown: its gain over the bare question must reach `judge_min_context_gain`. A teacher
  rates its own sampled answers as likely, so the score alone lets through fluent answers
  that contradict the chunk; the gain catches those.
- "generated": the teacher rates the answer 1-5 (faithfulness to the chunk for knowledge);
  the rating is parsed from sloppy output; keep when it reaches `judge_min_score`.

"auto" uses the log-likelihood when the teacher can compute it, else a generated rating.
"none" keeps every answer unjudged.
"""

from __future__ import annotations

import re
from typing import Any

from taxon.generate.filters import MALFORMED, reply_problem

JUDGE_LOW = "judge_low"

_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_SCORE_PATTERNS = (
    re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:/|out of)\s*5\b", re.IGNORECASE),  # 4/5, 4 out of 5
    re.compile(
        r"\b(?:score|rating|rate|grade)d?\b[^0-9a-z]{0,6}(?:is|of|a|an)?\s*\**\s*(\d+(?:\.\d+)?|[a-z]+)", re.IGNORECASE
    ),
    re.compile(r"\*\*\s*(\d+(?:\.\d+)?)\s*\*\*"),  # **4**
    re.compile(r"^\W*(\d+(?:\.\d+)?|[a-z]+)\W*$", re.IGNORECASE),  # just "4" or "four."
    re.compile(r"(?<![\d.])\b([1-5])\b(?!\.?\d)"),  # any lone 1-5, last resort
    re.compile(r"\b(one|two|three|four|five)\b", re.IGNORECASE),
)


def _as_score(token: str) -> int | None:
    token = token.lower()
    if token in _NUMBER_WORDS:
        return _NUMBER_WORDS[token]
    try:
        value = float(token)
    except ValueError:
        return None
    return int(value) if value == int(value) and 1 <= value <= 5 else None


def parse_score(text: str) -> int | None:
    """A 1-5 rating from a model's reply: "Score: 4", "4/5", "**4**", "four", "I'd rate it 3."
    None when no pattern finds a rating in range."""
    for pattern in _SCORE_PATTERNS:
        match = pattern.search(text.strip())
        if match:
            score = _as_score(match.group(1))
            if score is not None:
                return score
    return None


def generated_verdict(completion: dict[str, Any]) -> dict[str, Any]:
    """The cached result of a generated rating."""
    problem = reply_problem(completion)
    score = None if problem else parse_score(completion["text"])
    if problem is None and score is None:
        problem = MALFORMED
    return {"mode": "generated", "score": score, "problem": problem, "raw": completion["text"]}


def loglikelihood_verdict(logprob: float, bare_logprob: float | None) -> dict[str, Any]:
    """The score given context and question, and with a context, its gain over the same
    answer scored after the bare question."""
    gain = None if bare_logprob is None else float(logprob) - float(bare_logprob)
    return {"mode": "loglikelihood", "score": float(logprob), "gain": gain, "problem": None, "raw": None}


def seed_baseline(seed_verdicts: list[dict[str, Any]]) -> float | None:
    """The median likelihood score of the leaf's own seed answers (None without any)."""
    scores: list[float] = sorted(v["score"] for v in seed_verdicts if v["mode"] == "loglikelihood" and not v["problem"])
    if not scores:
        return None
    middle = len(scores) // 2
    return scores[middle] if len(scores) % 2 else (scores[middle - 1] + scores[middle]) / 2


def drop_reason(verdict: dict[str, Any], below_seeds: float, min_gain: float, min_score: int) -> str | None:
    """Why a judged answer is dropped, or None to keep it. Thresholds apply here, not in the
    cached verdict, so changing one re-filters without asking the teacher again."""
    if verdict["problem"]:
        return str(verdict["problem"])
    if verdict["mode"] == "generated":
        return JUDGE_LOW if verdict["score"] < min_score else None
    low = verdict["score"] < verdict["seed_median"] - below_seeds
    return JUDGE_LOW if low or (verdict["gain"] is not None and verdict["gain"] < min_gain) else None
