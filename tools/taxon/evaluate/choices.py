"""Multiple choice by log-likelihood, as lm-evaluation-harness scores it: the right answer of
a fact question against distractors made from the leaf's other answers and altered numbers;
acc picks the option with the highest summed log-probability, acc_norm divides that by the
option's length in characters. Every option is a whole answer: a seed's answer, or a blank's
sentence with the option filled in, so that options differ only in the fact and are scored in
the form a model that knows it answers (a bare "30 m" is a continuation no answer starts with)."""

from __future__ import annotations

import hashlib
import re

from taxon.qna.facts import FactQuestion
from taxon.qna.solvers import MONTHS, WEEKDAYS
from taxon.qna.text import NUMBER_WORDS, is_year, number_facts

N_CHOICES = 4
_WORD_OF = {value: word for word, value in NUMBER_WORDS.items()}


def _order(key: str, values: list[str]) -> list[str]:
    """A fixed pseudo-random order of values, keyed by the question."""
    return sorted(values, key=lambda value: hashlib.sha256(f"{key}\0{value}".encode()).hexdigest())


def _spelled(value: float, like: str) -> str:
    """A number written the way the original was: a word for a word, digits otherwise."""
    if like.isalpha() and value.is_integer() and int(value) in _WORD_OF:
        word = _WORD_OF[int(value)]
        return word.capitalize() if like[0].isupper() else word
    text = str(int(value)) if value.is_integer() else f"{value:g}"
    return f"{int(value):,}" if "," in like and value.is_integer() else text


def _altered_numbers(value: float, unit: str | None, pool: list[tuple[float, str | None]]) -> list[float]:
    """Other numbers of the leaf with the same unit first, then nearby and scaled values."""
    year = is_year(value, unit)
    same_unit = [other for other, other_unit in pool if other_unit == unit and is_year(other, other_unit) == year]
    scaled = round(value * 1.5) if value.is_integer() else value * 1.5
    nearby = [value + d for d in (7, -11, 23)] if year else [value * 2, value + 1, scaled, value + 10]
    if not year and value > 1:
        nearby.append(value - 1)
    found: list[float] = []
    for candidate in [*dict.fromkeys(same_unit), *nearby]:
        candidate = float(round(candidate, 2))
        if candidate != value and candidate >= 0 and candidate not in found:
            found.append(candidate)
    return found


def _number_variants(text: str, key: str, pool: list[tuple[float, str | None]]) -> list[str]:
    """The text with its first key number replaced by altered values."""
    facts = number_facts(text)
    if not facts:
        return []
    fact = facts[0]
    found = re.match(r"-?[\d,.]+|[A-Za-z-]+", text[fact.start : fact.end])
    number_text = found.group(0) if found else text[fact.start : fact.end]
    value = float(fact.number)
    variants = []
    for altered in _altered_numbers(value, fact.unit, pool):
        variants.append(text[: fact.start] + _spelled(altered, number_text) + text[fact.start + len(number_text) :])
    return variants[: N_CHOICES - 1] if len(variants) <= N_CHOICES - 1 else _order(key, variants[:5])[: N_CHOICES - 1]


CALENDAR = frozenset([*MONTHS, *WEEKDAYS, "spring", "summer", "autumn", "winter"])


def _name_kind(name: str) -> tuple[bool, int]:
    """What a distractor should share with the right name to be a fair one: a calendar word
    for a calendar word, and the same number of words."""
    tokens = name.lower().split()
    return tokens[0] in CALENDAR, len(tokens)


def _name_variants(question: FactQuestion, others: list[FactQuestion]) -> list[str]:
    """The answer with its name swapped for the leaf's other names, those of its own kind first
    (a month for a month, two words for two words), so that no option is out of place."""
    names = [o.answer for o in others if o.source == "document" and o.key_facts[0].startswith("name:")]
    value = next(fact.split(":", 1)[1] for fact in question.key_facts if fact.startswith("name:"))
    calendar, length = _name_kind(value)
    names = _order(question.id, [name for name in dict.fromkeys(names) if name.lower() != value])
    names.sort(key=lambda name: (_name_kind(name)[0] != calendar, abs(_name_kind(name)[1] - length)))
    if question.source == "document":
        return names[: N_CHOICES - 1]
    match = re.search(re.escape(value).replace(r"\ ", r"\s+"), question.answer, re.IGNORECASE)
    if not match:
        return []
    return [question.answer[: match.start()] + name + question.answer[match.end() :] for name in names[: N_CHOICES - 1]]


def fact_choices(question: FactQuestion, questions: list[FactQuestion]) -> tuple[tuple[str, ...], int]:
    """Options for one fact question, each a whole answer, and the index of the right one (the
    reference): altered numbers or swapped names of the right answer, topped up with other
    answers of the same leaf."""
    others = [other for other in questions if other.id != question.id]
    pool = [(float(f.number), f.unit) for other in questions for f in number_facts(other.answer)]
    kind = question.key_facts[0].split(":", 1)[0] if question.key_facts else "word"
    if kind == "number":
        distractors = _number_variants(question.answer, question.id, pool)
    elif kind == "name":
        distractors = _name_variants(question, others)
    else:
        distractors = []
    same_source = [other.answer for other in others if other.source == question.source]
    for answer in _order(question.id, same_source):
        if len(distractors) >= N_CHOICES - 1:
            break
        if answer != question.answer and answer not in distractors:
            distractors.append(answer)
    distractors = [d for d in dict.fromkeys(distractors) if d != question.answer]
    options = _order(f"{question.id}/options", [question.answer, *distractors[: N_CHOICES - 1]])
    start, end = question.answer_start, question.answer_start + len(question.answer)
    sentences = [question.reference[:start] + option + question.reference[end:] for option in options]
    return tuple(sentences), options.index(question.answer)


def choice_accuracy(logprobs: list[float], choices: tuple[str, ...], gold: int) -> tuple[float, float]:
    """(acc, acc_norm) of one question: 1.0 when the right option has the highest summed
    log-probability (acc_norm: per character), else 0.0; ties go to the first option."""
    best = max(range(len(choices)), key=lambda i: (logprobs[i], -i))
    best_norm = max(range(len(choices)), key=lambda i: (logprobs[i] / max(1, len(choices[i])), -i))
    return float(best == gold), float(best_norm == gold)
