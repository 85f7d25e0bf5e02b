"""Fact questions of a knowledge leaf, asked without its document: the held-out seed Q&As and
cloze questions built from the document's own sentences, each with the key facts (normalised
numbers with units, names, defined terms) an answer must contain. Built deterministically
from the leaf alone, so references never come from a teacher, and shared by generate and train
(which keep them out of training) and evaluate (which asks them). Text only: the caller passes
the document's sentences (`taxon.documents.sections`)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from taxon.qna.heldout import held_out_seed_indexes
from taxon.qna.taxonomy import Leaf

_WORD = re.compile(r"[\w'-]+", re.UNICODE)
NUMBER_WORDS = {
    "zero": 0,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
}
# "one" is left out on purpose: "one hand", "one by one" are rarely the fact a question is about.
UNITS = {
    **dict.fromkeys(["mm", "millimetre", "millimetres", "millimeter", "millimeters"], "mm"),
    **dict.fromkeys(["cm", "centimetre", "centimetres", "centimeter", "centimeters"], "cm"),
    **dict.fromkeys(["m", "metre", "metres", "meter", "meters"], "m"),
    **dict.fromkeys(["km", "kilometre", "kilometres", "kilometer", "kilometers"], "km"),
    **dict.fromkeys(["g", "gram", "grams"], "g"),
    **dict.fromkeys(["kg", "kilogram", "kilograms"], "kg"),
    **dict.fromkeys(["ml", "millilitre", "millilitres", "milliliter", "milliliters"], "ml"),
    **dict.fromkeys(["l", "litre", "litres", "liter", "liters"], "l"),
    **dict.fromkeys(["s", "sec", "second", "seconds"], "s"),
    **dict.fromkeys(["min", "minute", "minutes"], "min"),
    **dict.fromkeys(["h", "hour", "hours"], "h"),
    **dict.fromkeys(["day", "days"], "day"),
    **dict.fromkeys(["week", "weeks"], "week"),
    **dict.fromkeys(["month", "months"], "month"),
    **dict.fromkeys(["year", "years"], "year"),
    **dict.fromkeys(["point", "points"], "point"),
    **dict.fromkeys(["w", "watt", "watts"], "W"),
    **dict.fromkeys(["v", "volt", "volts"], "V"),
    **dict.fromkeys(["%", "percent", "per cent"], "%"),
    **dict.fromkeys(["°c", "degrees", "degree"], "°C"),
    # units a wrong answer may use instead: known so that "30 feet" is not "30 metres"
    **dict.fromkeys(["ft", "foot", "feet"], "ft"),
    **dict.fromkeys(["inch", "inches"], "inch"),
    **dict.fromkeys(["yard", "yards"], "yard"),
    **dict.fromkeys(["mile", "miles"], "mile"),
    **dict.fromkeys(["lb", "lbs", "pound", "pounds"], "lb"),
    **dict.fromkeys(["oz", "ounce", "ounces"], "oz"),
    **dict.fromkeys(["gallon", "gallons", "pint", "pints"], "gallon"),
}
_NUMBER = re.compile(
    r"(?<![\w.])(-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?|(?:"
    + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
    + r")(?:-(?:one|two|three|four|five|six|seven|eight|nine))?)(?![\w])"
    + r"(?:\s*(°c|%|per cent|[a-zA-Z]+))?",
    re.IGNORECASE,
)
_NAME = re.compile(r"\b[A-Z][\w'-]*(?:\s+(?:of\s+|the\s+)?[A-Z][\w'-]*)*")
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "from",
        "by",
        "with",
        "without",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "do",
        "does",
        "did",
        "can",
        "could",
        "may",
        "might",
        "must",
        "shall",
        "should",
        "will",
        "would",
        "has",
        "have",
        "had",
        "not",
        "no",
        "yes",
        "only",
        "also",
        "very",
        "as",
        "than",
        "then",
        "there",
        "their",
        "they",
        "them",
        "he",
        "she",
        "his",
        "her",
        "i",
        "you",
        "we",
        "our",
        "your",
        "my",
        "me",
        "so",
        "if",
        "into",
        "onto",
        "about",
        "after",
        "before",
        "over",
        "under",
        "up",
        "down",
        "out",
        "off",
        "all",
        "any",
        "each",
        "every",
        "some",
        "most",
        "more",
        "many",
        "much",
        "few",
        "one",
    ]
)
NEGATIONS = frozenset({"no", "not", "never", "cannot", "nobody", "nothing", "none"})


def words(text: str) -> list[str]:
    return [word.strip("'-") for word in _WORD.findall(text.lower()) if word.strip("'-")]


def _number_value(text: str) -> str:
    text = text.lower().replace(",", "")
    value: float
    if "-" in text[1:] and not text[0].isdigit():
        tens, ones = text.split("-", 1)
        value = float(NUMBER_WORDS[tens] + {"one": 1, **NUMBER_WORDS}[ones])
    else:
        value = float(NUMBER_WORDS[text]) if text in NUMBER_WORDS else float(text)
    return str(int(value)) if value.is_integer() else f"{value:g}"


@dataclass(frozen=True)
class Fact:
    """One key fact: its normalised form ("30 m", "1987", "fennick comets") and where it is."""

    kind: str  # "number" | "name" | "word"
    value: str
    start: int
    end: int

    @property
    def number(self) -> str:
        return self.value.split(" ")[0]

    @property
    def unit(self) -> str | None:
        parts = self.value.split(" ", 1)
        return parts[1] if len(parts) == 2 else None

    @property
    def is_year(self) -> bool:
        return is_year(float(self.number), self.unit)


def is_year(value: float, unit: str | None) -> bool:
    return unit is None and value.is_integer() and 1000 <= value <= 2100


def number_facts(text: str) -> list[Fact]:
    """Numbers (digits or words) with their unit when one follows, normalised: "30 metres" -> "30 m"."""
    facts = []
    for match in _NUMBER.finditer(text):
        value = _number_value(match.group(1))
        unit = UNITS.get((match.group(2) or "").lower())
        end = match.end() if unit else match.end(1)
        facts.append(Fact("number", f"{value} {unit}" if unit else value, match.start(), end))
    return facts


def _sentence_starts(text: str) -> set[int]:
    starts = {0}
    for match in re.finditer(r"[.!?:;]\s+|\n\s*", text):
        starts.add(match.end())
    return starts


def name_facts(text: str, known_names: frozenset[str] = frozenset()) -> list[Fact]:
    """Capitalised word runs. A single capitalised word opening a sentence counts only when it
    is a known name (seen capitalised inside a sentence elsewhere in the leaf)."""
    starts = _sentence_starts(text)
    facts = []
    for match in _NAME.finditer(text):
        span = match.group(0)
        tokens = span.split()
        start = match.start()
        if start in starts and tokens[0].lower() in STOPWORDS | set(NUMBER_WORDS):
            tokens = tokens[1:]
            if not tokens:
                continue
            start = match.start() + span.index(tokens[0])
            span = " ".join(tokens)
        if start in starts and len(tokens) == 1 and span.lower() not in known_names:
            continue
        if span.lower() in NUMBER_WORDS:
            continue
        facts.append(Fact("name", " ".join(words(span)), start, start + len(span)))
    return facts


def known_names(texts: list[str]) -> frozenset[str]:
    """Lower-cased capitalised words that appear inside a sentence (not at its start)."""
    names = set()
    for text in texts:
        starts = _sentence_starts(text)
        for match in re.finditer(r"\b[A-Z][\w'-]*", text):
            if match.start() not in starts and match.group(0).lower() not in STOPWORDS:
                names.add(match.group(0).lower())
    return frozenset(names)


def _stem(word: str) -> str:
    return word[:5]


def _asked(word: str, asked: set[str]) -> bool:
    """Whether the question already says the word (or its singular or plural)."""
    return word in asked or f"{word}s" in asked or word.rstrip("s") in asked


def _asks_when(question_words: set[str]) -> bool:
    return bool({"when", "year", "years", "date"} & question_words)


def key_facts(reference: str, question: str = "", names: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """The facts of the reference an answer must contain, minus those the question already
    gives: numbers and names; failing those, yes/no; failing that, up to three content words.
    A year beside another number is when that number held ("8,400 at the 2021 census"): it is
    a key fact only when the question asks when."""
    asked_numbers = {fact.value for fact in number_facts(question)}
    asked_words = set(words(question))
    asked_words |= {word.removesuffix("'s") for word in asked_words}
    numbers = [fact for fact in number_facts(reference) if fact.value not in asked_numbers]
    if not _asks_when(asked_words) and any(not fact.is_year for fact in numbers):
        numbers = [fact for fact in numbers if not fact.is_year]
    facts = [f"number:{fact.value}" for fact in numbers]
    for fact in name_facts(reference, names) + defined_terms(reference):
        if not all(_asked(word, asked_words) for word in fact.value.split()):
            facts.append(f"name:{fact.value}")
    if facts:
        return tuple(dict.fromkeys(facts))
    reference_words = words(reference)
    if reference_words and reference_words[0] in ("yes", "no"):
        return (f"polarity:{reference_words[0]}",)
    content = [w for w in reference_words if w not in STOPWORDS and not _asked(w, asked_words) and len(w) > 2]
    content = sorted(dict.fromkeys(content), key=lambda w: (-len(w), reference_words.index(w)))[:3]
    return tuple(f"word:{word}" for word in content)


def found_facts(answer: str, facts: tuple[str, ...], names: frozenset[str] = frozenset()) -> list[bool]:
    """Whether each key fact is in the answer. A number must appear with the same unit, or with
    none; a name or word as whole words (a word by its first five letters); "no" as a negation."""
    numbers = number_facts(answer)
    answer_words = words(answer)
    answer_stems = {_stem(word) for word in answer_words}
    joined = " " + " ".join(answer_words) + " "
    found = []
    for fact in facts:
        kind, value = fact.split(":", 1)
        if kind == "number":
            wanted = Fact("number", value, 0, 0)
            found.append(
                any(n.number == wanted.number and n.unit in (wanted.unit, None) for n in numbers)
                or (wanted.unit is None and any(n.number == wanted.number for n in numbers))
            )
        elif kind == "name":
            found.append(f" {value} " in joined)
        elif kind == "polarity":
            negated = bool(NEGATIONS & set(answer_words)) or "n't" in answer.lower()
            found.append(negated if value == "no" else (not negated and bool(answer_words)))
        else:
            found.append(_stem(value) in answer_stems)
    return found


def fact_match(answer: str, facts: tuple[str, ...]) -> float:
    """1.0 when every key fact is in the answer, else 0.0 (a question without facts scores 0)."""
    return 1.0 if facts and all(found_facts(answer, facts)) else 0.0


@dataclass(frozen=True)
class FactQuestion:
    id: str  # "seed-<index>" or "doc-<hash of the question>"
    question: str  # asked without the document
    reference: str  # the seed's answer, or the document sentence
    answer: str  # the short right answer (the blanked fact for a document question; the seed answer)
    key_facts: tuple[str, ...]
    source: str  # "seed" | "document"
    answer_start: int = 0  # where `answer` begins in `reference` (the blank of a document question)


def topic_of(leaf: Leaf) -> str:
    return leaf.folder.name.replace("_", " ")


_DEFINED = re.compile(r"\b(?:called|known as|named)\s+(?:the\s+|a\s+|an\s+)?([\w'-]+(?:\s+[\w'-]+)?)", re.IGNORECASE)


def defined_terms(text: str) -> list[Fact]:
    """Terms a text defines: "called the glimmer", "known as the Slate Town"."""
    facts = []
    for match in _DEFINED.finditer(text):
        term = match.group(1).rstrip(",.;")
        if words(term) and words(term)[0] not in STOPWORDS:
            facts.append(Fact("name", " ".join(words(term)), match.start(1), match.start(1) + len(term)))
    return facts


def sentence_facts(sentence: str, names: frozenset[str], topic_words: set[str]) -> list[Fact]:
    """The sentence's facts a reader could be asked for, in order, none overlapping and no name
    that only repeats the leaf's topic."""
    facts = number_facts(sentence) + name_facts(sentence, names) + defined_terms(sentence)
    kept: list[Fact] = []
    taken: list[tuple[int, int]] = []
    for fact in sorted(facts, key=lambda f: (f.start, -(f.end - f.start))):
        if any(fact.start < end and start < fact.end for start, end in taken):
            continue
        if fact.kind == "name" and set(fact.value.split()) <= topic_words:
            continue
        kept.append(fact)
        taken.append((fact.start, fact.end))
    return kept


def document_questions(leaf: Leaf, sentences: list[str], names: frozenset[str]) -> list[FactQuestion]:
    """One cloze question per fact of each document sentence: the sentence with that fact blanked.
    Ordered by the fact's place in its sentence, then by sentence: every sentence's first fact
    before any second one, so a per-leaf cap still covers the whole document."""
    topic = topic_of(leaf)
    topic_words = set(words(topic))
    facts = [
        (rank, number, sentence, fact)
        for number, sentence in enumerate(sentences)
        for rank, fact in enumerate(sentence_facts(sentence, names, topic_words))
    ]
    questions, seen = [], set()
    for _, _, sentence, fact in sorted(facts, key=lambda entry: entry[:2]):
        cloze = f"{sentence[: fact.start]}____{sentence[fact.end :]}"
        question = f'About {topic}: fill in the blank. "{cloze}"'
        if question in seen:
            continue
        seen.add(question)
        kind = "number" if fact.kind == "number" else "name"
        questions.append(
            FactQuestion(
                "doc-" + hashlib.sha256(question.encode("utf-8")).hexdigest()[:12],
                question,
                sentence,
                sentence[fact.start : fact.end],
                (f"{kind}:{fact.value}",),
                "document",
                fact.start,
            )
        )
    return questions


def held_out_seed_questions(leaf: Leaf, eval_share: float, names: frozenset[str]) -> list[FactQuestion]:
    items = []
    held_out = held_out_seed_indexes(leaf, eval_share)
    for index, seed in enumerate(leaf.seeds):
        if index not in held_out or not seed.question:
            continue
        facts = key_facts(seed.answer, seed.question, names)
        if facts:
            items.append(FactQuestion(f"seed-{index}", seed.question, seed.answer, seed.answer, facts, "seed"))
    return items


def leaf_names(leaf: Leaf, sentences: list[str]) -> frozenset[str]:
    return known_names([*sentences, *(seed.context or "" for seed in leaf.seeds), *(s.answer for s in leaf.seeds)])


def fact_questions(leaf: Leaf, sentences: list[str], eval_share: float) -> list[FactQuestion]:
    """Every fact question of a knowledge leaf: its held-out seeds first (the split of
    `qna.heldout`), then one per fact of its document sentences (`documents.document_sections`)."""
    names = leaf_names(leaf, sentences)
    return held_out_seed_questions(leaf, eval_share, names) + document_questions(leaf, sentences, names)
