"""The answer form a skill states, derived from its seed answers and checked exactly: a number,
one word from the seeds' labels, a fixed line count, a template skeleton shared by every seed
answer (its words and number slots in order, starting and ending where every seed does), title
case; else a length within the seeds'."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(r"-?\d+(?:[.,]\d+)*|\w+|[^\w\s]", re.UNICODE)
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)*")
NUM = "<num>"
SMALL_WORDS = frozenset(
    ["a", "an", "and", "as", "at", "but", "by", "for", "from", "in", "into", "of", "on", "or", "the", "to", "with"]
)


def _tokens(text: str) -> list[str]:
    return [NUM if _NUMBER.fullmatch(token) else token.lower() for token in _TOKEN.findall(text)]


def _content(text: str) -> list[str]:
    return [token for token in _tokens(text) if token not in (".", "!")]


def _common_subsequence(first: list[str], second: list[str]) -> list[str]:
    table = [[0] * (len(second) + 1) for _ in range(len(first) + 1)]
    for i in range(len(first) - 1, -1, -1):
        for j in range(len(second) - 1, -1, -1):
            table[i][j] = table[i + 1][j + 1] + 1 if first[i] == second[j] else max(table[i + 1][j], table[i][j + 1])
    common, i, j = [], 0, 0
    while i < len(first) and j < len(second):
        if first[i] == second[j]:
            common.append(first[i])
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return common


def _is_subsequence(needle: list[str], haystack: list[str]) -> bool:
    remaining = iter(haystack)
    return all(token in remaining for token in needle)


def _title_case(text: str) -> bool:
    found = re.findall(r"[A-Za-z][\w']*", text)
    return bool(found) and found[0][0].isupper() and all(w[0].isupper() or w in SMALL_WORDS for w in found)


def _lines(text: str) -> list[str]:
    return [line for line in text.strip().splitlines() if line.strip()]


@dataclass(frozen=True)
class AnswerForm:
    kind: str  # number | label | lines | template | title_case | length
    detail: tuple[Any, ...]  # labels, line count, skeleton, (min, max) words
    anchors: tuple[bool, bool] = (False, False)  # template: every seed answer starts / ends with the skeleton's ends

    def describe(self) -> str:
        if self.kind == "label":
            return "one word of: " + ", ".join(self.detail)
        if self.kind == "lines":
            return f"{self.detail[0]} lines"
        if self.kind == "template":
            return "template: " + " ".join(self.detail)
        if self.kind == "length":
            return f"{self.detail[0]}-{self.detail[1]} words"
        return self.kind.replace("_", " ")

    def check(self, answer: str) -> bool:
        text = answer.strip()
        if self.kind == "number":
            return _content(text) == [NUM]
        if self.kind == "label":
            return len(_content(text)) == 1 and _content(text)[0] in self.detail
        if self.kind == "lines":
            return len(_lines(text)) == self.detail[0]
        if self.kind == "template":
            tokens = _tokens(text)
            if not tokens or (self.anchors[0] and tokens[0] != self.detail[0]):
                return False
            return not (self.anchors[1] and tokens[-1] != self.detail[-1]) and _is_subsequence(
                list(self.detail), tokens
            )
        if self.kind == "title_case":
            return len(_lines(text)) == 1 and _title_case(text)
        low, high = self.detail
        return low <= len(text.split()) <= high


LABEL_MAX = 8  # distinct one-word answers that still read as a label set, not free words
TEMPLATE_MIN_LITERALS = 2  # tokens a skeleton needs beyond number slots and end punctuation to state a form


def answer_form(answers: list[str]) -> AnswerForm | None:
    """The strictest form every seed answer has; None without seed answers."""
    answers = [answer.strip() for answer in answers if answer and answer.strip()]
    if not answers:
        return None
    contents = [_content(answer) for answer in answers]
    if all(content == [NUM] for content in contents):
        return AnswerForm("number", ())
    if all(len(content) == 1 for content in contents):
        labels = sorted({content[0] for content in contents})
        if len(labels) <= LABEL_MAX:
            return AnswerForm("label", tuple(labels))
    line_counts = {len(_lines(answer)) for answer in answers}
    if len(line_counts) == 1 and next(iter(line_counts)) > 1:
        return AnswerForm("lines", (line_counts.pop(),))
    skeleton = _tokens(answers[0])
    for answer in answers[1:]:
        skeleton = _common_subsequence(skeleton, _tokens(answer))
    literals = [token for token in skeleton if token != NUM and token not in ".!?,"]
    if len(literals) >= TEMPLATE_MIN_LITERALS or (literals and NUM in skeleton):
        seeds = [_tokens(answer) for answer in answers]
        anchors = (all(t[0] == skeleton[0] for t in seeds), all(t[-1] == skeleton[-1] for t in seeds))
        return AnswerForm("template", tuple(skeleton), anchors)
    if all(_title_case(answer) and len(_lines(answer)) == 1 for answer in answers):
        return AnswerForm("title_case", ())
    lengths = [len(answer.split()) for answer in answers]
    return AnswerForm("length", (max(1, min(lengths) // 2), max(lengths) * 2))
