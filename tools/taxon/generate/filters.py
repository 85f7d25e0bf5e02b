"""Checks on teacher output: replies that failed, were cut off, refused or came back empty;
lists of items parsed from a small model's sloppy formatting; questions off the leaf's topic."""

from __future__ import annotations

import re
from typing import Any

from taxon.qna.text import content_words, words

ERROR, EMPTY, CUT_OFF, REFUSAL, MALFORMED = "error", "empty", "cut_off", "refusal", "malformed"
OFF_TOPIC = "off_topic"
HELD_OUT = "held_out"  # too close to a question evaluation keeps
DISAGREEMENT = "disagreement"  # sampled again, the teacher mostly answers otherwise
# the answer repeats its question or passage (a "rewrite" left as it was), or says nothing beyond its
# question in the seeds' answer form where they do ("The plural of boy is boy.")
COPIES_INPUT = "copies_input"
COPIES_SEED = "copies_seed"  # the answer is a seed's answer word for word
CHECKER_WRONG = "checker_wrong"  # a checker knows the answer, the teacher's is wrong and was not repaired

_REFUSAL = re.compile(
    r"^\W*(i'?m sorry|i am sorry|sorry, (but )?i|i apologi[sz]e|as an ai\b|as a language model|as an assistant,? i"
    r"|i cannot|i can'?t|i can not|i'?m (unable|not able)|i am (unable|not able)|i won'?t be able)",
    re.IGNORECASE,
)
# "1." "2)" "(3)" "#4" "Q5:" "Question 6:" "Task 7 -" "- " "* " "• ", optionally in **bold**.
_ITEM_MARK = re.compile(
    r"^\s*(?:\*\*)?\s*(?:(?:question|task|text|q|item)\s*\d+\s*[:.)\-]|\(?#?\d{1,3}\s*[.):\-]|[-*•·–])\s*(?:\*\*)?\s*",
    re.IGNORECASE,
)
_REPEATED_MARK = re.compile(r"^\d{1,3}[.)]\s+")  # "1. 1. What ...": a number written twice
_LABEL = re.compile(r"^(?:\*\*)?\s*(?:question|task|text|q|input)\s*\d*\s*:\s*(?:\*\*)?\s*", re.IGNORECASE)
# A model asked for questions only sometimes answers them too: "... ? Answer: ...".
_ANSWER_LABEL = re.compile(r"^\W*(?:answer|a)\s*\d*\s*:", re.IGNORECASE)
_ANSWER_TAIL = re.compile(r"\s+(?:\*\*)?(?:answer|a)\s*:", re.IGNORECASE)
# our own prompts' instruction verbs: a question made mostly of them echoes the prompt
PROMPT_WORDS = frozenset(["please", "write", "give", "tell", "explain", "describe"])


def reply_problem(completion: dict[str, Any]) -> str | None:
    """Why a whole reply is unusable, or None."""
    if completion["finish_reason"] == "error":
        return ERROR
    text = completion["text"].strip()
    if not text:
        return EMPTY
    if _REFUSAL.match(text.replace("’", "'")):
        return REFUSAL
    return None


def answer_problem(completion: dict[str, Any]) -> str | None:
    """Why an answer is unusable: a reply problem, cut off by the token limit, or only an
    introduction ("The answer to your question would be:")."""
    problem = reply_problem(completion) or (CUT_OFF if completion["finish_reason"] == "length" else None)
    return problem or (MALFORMED if completion["text"].rstrip().endswith(":") else None)


def _clean_item(text: str) -> str:
    """The item's text without labels, quotes or a trailing answer; "" for an item that is
    itself an answer ("Answer: ...")."""
    if _ANSWER_LABEL.match(text):
        return ""
    text = re.sub(r"\s+", " ", _LABEL.sub("", text.strip()))
    text = _ANSWER_TAIL.split(text, maxsplit=1)[0]
    text = text.strip().strip("*").strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":
        text = text[1:-1].strip()
    return text


def parse_list(text: str) -> list[str]:
    """Items of a list as a model writes it: numbered, bulleted, labelled, or one per line.

    Text before the first marker is a preamble ("Here are five questions:"); lines right after
    an item without a marker continue it, and a blank line ends it (what follows unmarked is
    a postscript). Without any marker, every non-empty line is an item."""
    lines = text.replace("\r\n", "\n").split("\n")
    items: list[list[str]] = []
    marked = any(_ITEM_MARK.match(line) for line in lines)
    open_item = False
    for line in lines:
        match = _ITEM_MARK.match(line) if marked else None
        if match:
            items.append([_REPEATED_MARK.sub("", line[match.end() :])])
            open_item = True
        elif not line.strip():
            open_item = False
        elif marked and open_item:
            items[-1].append(line)
        elif not marked and not line.rstrip().endswith(":"):
            items.append([line])
    seen: set[str] = set()
    result = []
    for item in items:
        cleaned = _clean_item(" ".join(item))
        if len(cleaned) >= 3 and cleaned.lower() not in seen:
            seen.add(cleaned.lower())
            result.append(cleaned)
    return result


def topic_overlap(text: str, reference: str) -> float:
    """Share of the text's content words that also appear in the reference."""
    own = content_words(text, PROMPT_WORDS)
    if not own:
        return 0.0
    return len(own & content_words(reference, PROMPT_WORDS)) / len(own)


def is_off_topic(text: str, reference: str, instructions: str, min_overlap: float) -> bool:
    """Too few of the text's content words in the reference, or as many of them in our own
    prompt's instructions as in the reference (a small model echoing the prompt)."""
    on_topic = topic_overlap(text, reference)
    echoed = topic_overlap(text, instructions)
    return on_topic < min_overlap or (echoed > 0 and echoed >= on_topic)


_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s|$)")


def complete_sentences(text: str) -> str:
    """The text up to its last complete sentence ("" when none is complete)."""
    ends = [match.end() for match in _SENTENCE_END.finditer(text)]
    return text[: ends[-1]].strip() if ends else ""


def same_answer(a: str, b: str) -> bool:
    """Whether two short answers say the same: the same words and numbers, case, spacing
    and final punctuation aside."""
    return words(a) == words(b)
