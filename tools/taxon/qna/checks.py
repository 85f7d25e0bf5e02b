"""Checks an answer is held to without a model, where the task makes it checkable. A small
teacher writes "90 cm = 90 m" as fluently as "90 cm = 0.9 m", and a likelihood judge scores
both alike; arithmetic does not.

Always, wherever the answer states one: an equation ("17 + 25 = 42"), a unit conversion
("250 cm = 2.5 m"), a comparison ("41 is larger than 14"), a parity ("37 is odd"), a weekday
reckoning ("Two days after Friday is Sunday", "If today is Saturday, tomorrow is Sunday").
Learned from the leaf's own seeds, when every seed answer shows it (and there are at least
MIN_SEEDS of them): the answer form (the shape of "N W ." or "N W = N W .", for seed
answers of at most FORM_MAX_WORDS words), and that
the question's numbers appear in the answer. For knowledge, the answer's numbers must appear
in the passage it was answered from.

Each check says True (holds), False (broken) or None (says nothing about this answer)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction

from taxon.qna.solvers import MONTHS, UNIT_FACTORS, WEEKDAYS, close, numbers_in, solve_weekday

MIN_SEEDS = 3
LENGTH_MARGIN = 1.5  # a skill's answer may run to this many times its longest seed answer, in words
FORM_MAX_WORDS = 8  # a fixed answer form is a short one: longer answers vary in form even when they share words
_NUMBER = r"(?<![\w.])-?\d+(?:,\d{3})*(?:\.\d+)?"
_NUMBER_RE = re.compile(_NUMBER)
_TOKEN = re.compile(_NUMBER + r"|[A-Za-z]+(?:'[a-z]+)?|[^\sA-Za-z\d]")
_EQUATION = re.compile(rf"({_NUMBER})\s*([-+*/x×÷−])\s*({_NUMBER})\s*=\s*({_NUMBER})")
_UNIT_NAMES = "|".join(sorted(map(re.escape, UNIT_FACTORS), key=len, reverse=True))
_CONVERSION = re.compile(
    rf"({_NUMBER})\s*({_UNIT_NAMES})\b\.?\s*(?:=|is|are|equals|is equal to|makes|is about|is approximately|≈)\s*({_NUMBER})\s*({_UNIT_NAMES})\b",
    re.IGNORECASE,
)
# "3 miles × 5,280 feet/mile = 15,840 feet": an equation whose numbers carry units
_UNIT_EQUATION = re.compile(
    rf"({_NUMBER})\s*(?:{_UNIT_NAMES})?\s*([-+*/x×÷−])\s*({_NUMBER})\s*(?:(?:{_UNIT_NAMES})(?:\s*(?:/|per)\s*(?:{_UNIT_NAMES}))?)?\s*=\s*({_NUMBER})",
    re.IGNORECASE,
)
_PERCENTAGE = re.compile(
    rf"({_NUMBER})\s*(?:%|per ?cent)\s+of\s+({_NUMBER})\s*(?:is|=|equals|makes)\s*({_NUMBER})", re.IGNORECASE
)
_WORD_NUMBER = r"(?:\d+|[a-z]+(?:-[a-z]+)?)"
_WORD_SUM = re.compile(
    rf"\b({_WORD_NUMBER})\s+(plus|minus|times|multiplied by|divided by)\s+({_WORD_NUMBER})\s+(?:is|equals|makes|=)\s+({_WORD_NUMBER})\b",
    re.IGNORECASE,
)
_COMPARISON = re.compile(
    rf"({_NUMBER})\s+is\s+(larger|greater|bigger|more|smaller|less|lower)\s+than\s+({_NUMBER})", re.IGNORECASE
)
_PARITY = re.compile(rf"({_NUMBER})\s+is\s+(?:an?\s+)?(odd|even)\b", re.IGNORECASE)
_COUNTS = {
    **{str(n): n for n in range(1, 100)},
    **dict(zip(("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"), range(1, 11))),
    "a": 1,
}
_DAY = "(" + "|".join(WEEKDAYS) + ")"
_SPAN = r"(?:the\s+day|(\w+)\s+(days?|weeks?))"
_RECKONING = re.compile(rf"\b{_SPAN}\s+(after|before)\s+{_DAY}\s+(?:is|was|will\s+be)\s+{_DAY}\b", re.IGNORECASE)
_MONTH = "(?:" + "|".join(MONTHS) + ")"
_DATED = re.compile(
    rf"\b(\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}\s*,?\s+\d{{4}}|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\s*,?\s+\d{{4}})"
    rf"\s+(?:is|was|will be|falls on|fell on)\s+(?:a\s+)?{_DAY}\b",
    re.IGNORECASE,
)
_TODAY = re.compile(rf"\btoday\s+is\s+{_DAY}\W+(tomorrow|yesterday)\s+(?:is|was|will\s+be)\s+{_DAY}\b", re.IGNORECASE)


def _value(text: str) -> Fraction:
    return Fraction(text.replace(",", "").replace("−", "-"))


def numbers(text: str) -> list[Fraction]:
    return [_value(match) for match in _NUMBER_RE.findall(text)]


def check_equations(answer: str) -> bool | None:
    found = _EQUATION.findall(answer) + _UNIT_EQUATION.findall(answer)
    if not found:
        return None
    for left, operator, right, result in found:
        a, b, c = _value(left), _value(right), _value(result)
        if operator in "/÷" and b == 0:
            return False
        value = {"+": a + b, "-": a - b, "−": a - b, "*": a * b, "x": a * b, "×": a * b}.get(operator)
        if (value if value is not None else a / b) != c:
            return False
    return True


def check_conversions(answer: str) -> bool | None:
    """Metric and imperial amounts said to be equal are (to three significant figures)."""
    found = _CONVERSION.findall(answer)
    if not found:
        return None
    for amount, unit, converted, target in found:
        (dimension, factor), (target_dimension, target_factor) = (
            UNIT_FACTORS[unit.lower()],
            UNIT_FACTORS[target.lower()],
        )
        if dimension != target_dimension or not close(_value(amount) * factor, _value(converted) * target_factor):
            return False
        if factor == target_factor:  # "3 km = 3 km." is true and converts nothing
            return False
    return True


def check_percentages(answer: str) -> bool | None:
    """ "20% of 150 is 30"."""
    found = _PERCENTAGE.findall(answer)
    if not found:
        return None
    return all(close(_value(share) * _value(whole) / 100, _value(part)) for share, whole, part in found)


def _word_value(text: str) -> Fraction | None:
    found = numbers_in(text)
    return found[0] if len(found) == 1 else None


def check_word_arithmetic(answer: str) -> bool | None:
    """ "Seven plus five is twelve.": arithmetic in words (or digits) with a word for the operation."""
    checked = []
    for left, operation, right, result in _WORD_SUM.findall(answer):
        a, b, c = _word_value(left), _word_value(right), _word_value(result)
        if a is None or b is None or c is None:
            continue
        operation = operation.lower()
        if operation == "divided by" and b == 0:
            checked.append(False)
            continue
        value = {"plus": a + b, "minus": a - b, "times": a * b, "multiplied by": a * b}.get(operation)
        checked.append((value if value is not None else a / b) == c)
    return all(checked) if checked else None


def check_dated_weekdays(answer: str) -> bool | None:
    """ "4 July 2021 was a Sunday.": a date and the weekday said of it."""
    found = [(date, day) for date, day in _DATED.findall(answer)]
    checked = []
    for date_text, day in found:
        solution = solve_weekday(f"What day of the week was {date_text}?")
        if solution is not None:
            checked.append(solution.value == day.lower())
    return all(checked) if checked else None


def check_comparisons(answer: str) -> bool | None:
    found = _COMPARISON.findall(answer)
    if not found:
        return None
    for left, relation, right in found:
        bigger = relation.lower() in ("larger", "greater", "bigger", "more")
        if (_value(left) > _value(right)) != bigger or _value(left) == _value(right):
            return False
    return True


def check_parity(answer: str) -> bool | None:
    found = _PARITY.findall(answer)
    if not found:
        return None
    for number, parity in found:
        value = _value(number)
        if value.denominator != 1 or (value.numerator % 2 == 0) != (parity.lower() == "even"):
            return False
    return True


def check_weekdays(answer: str) -> bool | None:
    found = [
        (count, unit, direction, start, end)
        for count, unit, direction, start, end in _RECKONING.findall(answer)
        if not count or count.lower() in _COUNTS
    ]
    found += [
        ("1", "day", "after" if when.lower() == "tomorrow" else "before", start, end)
        for start, when, end in _TODAY.findall(answer)
    ]
    if not found:
        return None
    for count, unit, direction, start, end in found:
        days = (_COUNTS[count.lower()] if count else 1) * (7 if unit.lower().startswith("week") else 1)
        step = days if direction.lower() == "after" else -days
        if WEEKDAYS[(WEEKDAYS.index(start.lower()) + step) % 7] != end.lower():
            return False
    return True


ALWAYS: dict[str, Callable[[str], bool | None]] = {
    "equation": check_equations,
    "conversion": check_conversions,
    "percentage": check_percentages,
    "word_arithmetic": check_word_arithmetic,
    "comparison": check_comparisons,
    "parity": check_parity,
    "weekday": check_weekdays,
    "dated_weekday": check_dated_weekdays,
}


def shape(answer: str) -> tuple[str, ...]:
    """The answer's form: numbers as N, each run of words as one W, punctuation as itself
    ("3 km = 3000 m." is N W = N W .; "41 is larger than 14." is N W N .)."""
    parts: list[str] = []
    for token in _TOKEN.findall(answer.strip()):
        part = "N" if _NUMBER_RE.fullmatch(token) else "W" if token[0].isalpha() else token
        if not (part == "W" and parts and parts[-1] == "W"):
            parts.append(part)
    return tuple(parts)


def line_count(answer: str) -> int:
    """The answer's non-empty lines."""
    return sum(1 for line in answer.splitlines() if line.strip())


def _carries_numbers(question: str, answer: str) -> bool | None:
    asked = numbers(question)
    if not asked:
        return None
    said = numbers(answer)
    return all(number in said for number in asked)


@dataclass(frozen=True)
class LeafChecks:
    """The checks one leaf's answers are held to."""

    form: tuple[str, ...] | None = None  # the shape every seed answer has, when they share one
    carries_numbers: bool = False  # every seed answer repeats its question's numbers
    grounded_numbers: bool = False  # knowledge: the answer's numbers come from its passage
    max_words: int | None = None  # answers run to at most LENGTH_MARGIN times the longest seed answer
    lower_case: bool = False  # every seed answer is in lower case, from its first letter (a haiku-like poem)
    lines: int | None = None  # every seed answer has this many lines (more than one): a three-line poem

    @classmethod
    def from_seeds(cls, seeds: list[tuple[str, str]], knowledge: bool = False) -> LeafChecks:
        """Learned from (question, answer) pairs of the leaf's training seeds."""
        if knowledge or len(seeds) < MIN_SEEDS:
            return cls(grounded_numbers=knowledge)
        short = all(len(answer.split()) <= FORM_MAX_WORDS for _, answer in seeds)
        shapes = {shape(answer) for _, answer in seeds} if short else set()
        carried = [_carries_numbers(question, answer) for question, answer in seeds]
        with_numbers = [result for result in carried if result is not None]
        lengths = [len(answer.split()) for _, answer in seeds]
        line_counts = {line_count(answer) for _, answer in seeds}
        return cls(
            form=next(iter(shapes)) if len(shapes) == 1 else None,
            carries_numbers=len(with_numbers) >= MIN_SEEDS and all(with_numbers),
            max_words=math.ceil(LENGTH_MARGIN * max(lengths)),
            lower_case=all(answer == answer.lower() and re.match(r"\s*[a-z]", answer) for _, answer in seeds),
            lines=line_counts.pop() if len(line_counts) == 1 and min(line_counts) > 1 else None,
        )

    @property
    def content_only(self) -> LeafChecks:
        """The checks of what an answer says, without those of its form (shape, length, case, the
        question's numbers restated): evaluation's, where the form is a figure of its own."""
        return replace(self, form=None, carries_numbers=False, max_words=None, lower_case=False, lines=None)

    @property
    def checkable(self) -> bool:
        """Answers of one fixed form: short enough that several sampled answers can agree."""
        return self.form is not None

    def results(self, question: str, answer: str, source: str | None = None) -> dict[str, bool]:
        """name -> passed, for every check that applies to this answer."""
        results = {name: check(answer) for name, check in ALWAYS.items()}
        if self.form is not None:
            results["form"] = shape(answer) == self.form
        if self.carries_numbers:
            results["question_numbers"] = _carries_numbers(question, answer)
        if self.max_words is not None:
            results["length"] = len(answer.split()) <= self.max_words
        if self.lower_case:
            results["lower_case"] = answer == answer.lower()
        if self.lines is not None:
            results["lines"] = line_count(answer) == self.lines
        if self.grounded_numbers and source:
            said, available = numbers(answer), set(numbers(source))
            results["source_numbers"] = all(number in available for number in said) if said else None
        return {name: passed for name, passed in results.items() if passed is not None}


def failed(results: dict[str, bool]) -> str | None:
    """The drop reason for the first failed check, or None."""
    return next((f"check_{name}" for name, passed in results.items() if not passed), None)
