"""taxon's one vocabulary for English text: the word tokens every comparison uses (held-out
guards, near-duplicates, topic checks), the one stopword list, salient words, and the facts a
text states (numbers with their units, names, defined terms, and the content words and noun
phrases a part-of-speech tagger finds). Validate, generate, evaluate and the held-out split
all read text through here, so that "the same words" means one thing everywhere.

The tagger is TextBlob's English parser (pattern's Brill tagger and chunker, its lexicon shipped
inside the wheel: nothing is downloaded at run time), loaded on first use: validate never loads it."""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from taxon.core.errors import TaxonError

_WORD = re.compile(r"[^\W_]+(?:[.,'][^\W_]+)*")
_ASCII_WORD = re.compile(r"[a-z0-9]+(?:[.,'][a-z0-9]+)*")  # the same on lower-case ASCII, a fifth faster


def words(text: str) -> list[str]:
    """Lower-case word tokens: letters and digits, an inner apostrophe or decimal point kept
    ("don't", "2.5", "8,400"), hyphens and other punctuation splitting."""
    lowered = text.lower().replace("’", "'")
    return (_ASCII_WORD if lowered.isascii() else _WORD).findall(lowered)


def _pairs(text: str) -> list[tuple[str, str]]:
    tokens = words(text)
    return list(itertools.pairwise(tokens)) if len(tokens) > 1 else [(token, "") for token in tokens]


COPY_SHARE = 0.8  # a text this much made of a source's word pairs copies it


def copy_share(text: str, source: str) -> float:
    """The share of the text's word pairs found in the source: 1.0 for a copy of it."""
    pairs = _pairs(text)
    if not pairs:
        return 0.0
    available = set(_pairs(source))
    return sum(pair in available for pair in pairs) / len(pairs)


def word_count(text: str | None) -> int:
    """Words as InstructLab counts them for its limits: runs of non-space characters."""
    return len(text.split()) if isinstance(text, str) else 0


CHARS_PER_TOKEN = 3.5  # English under the BPE tokenizers of small chat models, on the cautious side


def answer_token_limit(answers: list[str], factor: float, floor: int) -> int:
    """The new tokens an answer of a leaf may take: `factor` times its longest seed answer (in
    estimated tokens), and never fewer than `floor` (the configured max_new_tokens)."""
    longest = max((len(answer) for answer in answers), default=0) / CHARS_PER_TOKEN
    return max(floor, math.ceil(factor * longest))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not (a or b):
        return 1.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)  # the union's size, without building it


_STOPWORDS = """a an the and or but nor of in on at to for from by with without into onto about after before
over under up down out off than then so if as is are was were be been being am do does did done has have had having
can could may might must shall should will would it its this that these those there here what which who whom whose
when where why how i me my we us our you your he him his she her they them their not no yes only also very all any
each every some most more many much few one other such own same just too both either neither"""
STOPWORDS = frozenset(_STOPWORDS.split())
NEGATIONS = frozenset({"no", "not", "never", "cannot", "nobody", "nothing", "none", "n't"})


def fold(word: str) -> str:
    """A word with a plural or possessive 's' folded away, so "owls" and "owl's" meet "owl"."""
    word = word.removesuffix("'s")
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def content_words(text: str, extra_stopwords: frozenset[str] = frozenset()) -> set[str]:
    """The words that carry a text's topic, folded: no stopwords."""
    skip = STOPWORDS | extra_stopwords
    return {fold(word) for word in words(text) if word not in skip}


def salient_words(text: str, skip: set[str] | frozenset[str] = frozenset(), limit: int = 0) -> list[str]:
    """A text's content words in order, none of `skip`, each once; the first `limit` (0: all)."""
    found = [word for word in dict.fromkeys(words(text)) if word not in STOPWORDS and word not in skip]
    return found[:limit] if limit else found


# --- numbers and names -------------------------------------------------------------------------

_ONES = """zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen
seventeen eighteen nineteen"""
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety"
NUMBER_WORDS = {
    **{word: value for value, word in enumerate(_ONES.split()) if word != "one"},
    **{word: 20 + 10 * index for index, word in enumerate(_TENS.split())},
    "hundred": 100,
}
# "one" is left out on purpose: "one hand", "one by one" are rarely the fact a question is about.


def _units(*groups: tuple[str, list[str]]) -> dict[str, str]:
    return {name: symbol for symbol, names in groups for name in names}


UNITS = _units(
    ("mm", ["mm", "millimetre", "millimetres", "millimeter", "millimeters"]),
    ("cm", ["cm", "centimetre", "centimetres", "centimeter", "centimeters"]),
    ("m", ["m", "metre", "metres", "meter", "meters"]),
    ("km", ["km", "kilometre", "kilometres", "kilometer", "kilometers"]),
    ("g", ["g", "gram", "grams"]),
    ("kg", ["kg", "kilogram", "kilograms"]),
    ("ml", ["ml", "millilitre", "millilitres", "milliliter", "milliliters"]),
    ("l", ["l", "litre", "litres", "liter", "liters"]),
    ("s", ["s", "sec", "second", "seconds"]),
    ("min", ["min", "minute", "minutes"]),
    ("h", ["h", "hour", "hours"]),
    ("day", ["day", "days"]),
    ("week", ["week", "weeks"]),
    ("month", ["month", "months"]),
    ("year", ["year", "years"]),
    ("point", ["point", "points"]),
    ("W", ["w", "watt", "watts"]),
    ("V", ["v", "volt", "volts"]),
    ("%", ["%", "percent", "per cent"]),
    ("°C", ["°c", "degrees", "degree"]),
    # units a wrong answer may use instead: known so that "30 feet" is not "30 metres"
    ("ft", ["ft", "foot", "feet"]),
    ("inch", ["in", "inch", "inches"]),
    ("yard", ["yd", "yard", "yards"]),
    ("mile", ["mi", "mile", "miles"]),
    ("lb", ["lb", "lbs", "pound", "pounds"]),
    ("oz", ["oz", "ounce", "ounces"]),
    ("gallon", ["gallon", "gallons", "pint", "pints"]),
)
_NUMBER = re.compile(
    r"(?<![\w.])(-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?|(?:"
    + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
    + r")(?:-(?:one|two|three|four|five|six|seven|eight|nine))?)(?![\w])"
    + r"(?:\s*(°c|%|per cent|[a-zA-Z]+))?",
    re.IGNORECASE,
)
_NAME = re.compile(r"\b[A-Z][\w'-]*(?:\s+(?:of\s+|the\s+)?[A-Z][\w'-]*)*")
_DEFINED = re.compile(r"\b(?:called|known as|named)\s+(?:the\s+|a\s+|an\s+)?([\w'-]+(?:\s+[\w'-]+)?)", re.IGNORECASE)


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

    kind: str  # "number" | "name"
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
    is a known name (seen capitalised inside a sentence elsewhere in the leaf) or a code with a
    digit in it ("E3")."""
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
        if start in starts and len(tokens) == 1 and span.lower() not in known_names and not re.search(r"\d", span):
            continue  # "Today ..." is no name; a code opening a sentence ("E3 means ...") is one
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


# --- the tagger --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    text: str
    tag: str  # Penn Treebank: NN, NNS, NNP, JJ, VBZ, CD, ...
    chunk: str  # B-NP, I-NP, B-VP, ... or O


@cache
def _parser() -> Any:
    try:
        import textblob.en
    except ImportError:
        raise TaxonError(
            "finding a text's noun phrases needs the textblob package",
            hint="install taxon with its training extra: pip install 'taxon[train]' (make install does)",
        )
    return textblob.en


@cache
def _stemmer() -> Any:
    from nltk.stem import PorterStemmer  # textblob's dependency; the stemmer needs no downloaded data

    return PorterStemmer()


@lru_cache(maxsize=20_000)
def tagged(text: str) -> tuple[Token, ...]:
    """The text's tokens with their part of speech and phrase chunk."""
    parsed = _parser().parse(text, True, True, True, False, False)
    return tuple(
        Token(fields[0].replace("&slash;", "/"), fields[1], fields[2])
        for sentence in parsed.split()
        for fields in sentence
    )


# verbs that carry no content of their own
# verbs with no content of their own beyond the stopwords' "be", "have" and "do"
AUXILIARIES = frozenset(["get", "gets", "got", "make", "makes", "made"])
_CONTENT_TAGS = ("NN", "JJ", "VB", "CD", "FW")


def stem(word: str) -> str:
    """The Porter stem of a lower-cased word: "predators" and "predation" meet at "predat"."""
    return str(_stemmer().stem(word.lower()))


def content_terms(text: str) -> list[str]:
    """The content words of a text as the tagger reads them (nouns, adjectives, verbs other
    than auxiliaries, numbers), lower-cased, each once, nouns of noun phrases first: a fact's
    substance, never its grammar ("primarily", "including" and "the" are not facts)."""
    nouns: list[str] = []
    others: list[str] = []
    for token in tagged(text):
        if not token.tag.startswith(_CONTENT_TAGS):
            continue
        found = [word for word in words(token.text) if word not in STOPWORDS and word not in AUXILIARIES]
        (nouns if token.tag.startswith("NN") and token.chunk.endswith("NP") else others).extend(found)
    return list(dict.fromkeys(nouns + others))


def noun_phrases(text: str) -> list[str]:
    """The text's noun phrases, lower-cased, without their determiners and pronouns."""
    phrases: list[list[str]] = []
    for token in tagged(text):
        if not token.chunk.endswith("NP"):
            continue
        word = " ".join(words(token.text))
        if token.chunk.startswith("B") or not phrases:
            phrases.append([])
        if word and word not in STOPWORDS:
            phrases[-1].append(word)
    return [" ".join(phrase) for phrase in phrases if phrase]


# --- key facts of a reference answer -----------------------------------------------------------

TERMS_MAX = 4  # content terms a reference without numbers or names is checked for


def _asked(word: str, asked: set[str]) -> bool:
    """Whether the question already says the word (or its singular or plural)."""
    return word in asked or f"{word}s" in asked or word.rstrip("s") in asked


def _asks_when(question_words: set[str]) -> bool:
    return bool({"when", "year", "years", "date"} & question_words)


def key_facts(reference: str, question: str = "", names: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """The facts of the reference an answer must contain, minus those the question already
    gives: numbers and names; failing those, yes/no; failing that, the reference's content terms
    (the tagger's nouns of noun phrases first, then its adjectives and verbs) that the question
    does not hold, compared by stem. A year beside another number is when that number held
    ("8,400 at the 2021 census"): it is a key fact only when the question asks when."""
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
    asked_stems = {stem(word) for word in asked_words}
    terms = [term for term in content_terms(reference) if stem(term) not in asked_stems]
    return tuple(f"term:{term}" for term in dict.fromkeys(terms[:TERMS_MAX]))


def _mentions(text_words: list[str], value: str) -> int:
    """How often a name (a run of words) is said in the text."""
    wanted = value.split()
    return sum(text_words[i : i + len(wanted)] == wanted for i in range(len(text_words) - len(wanted) + 1))


def _number_mentions(numbers: list[Fact], wanted: Fact) -> int:
    """How often a number is stated with the same unit or none (a unitless fact: any unit)."""
    return sum(n.number == wanted.number and (wanted.unit is None or n.unit in (wanted.unit, None)) for n in numbers)


def found_facts(answer: str, facts: tuple[str, ...], question: str = "") -> list[bool]:
    """Whether each key fact is in the answer, said more often than the question says it: text
    copied from the question never counts (a cloze's other "2.50" copied back is not its blank).
    A number must appear with the same unit, or with none; a name as whole words; a term by its
    stem; "no" as a negation."""
    answer_numbers, question_numbers = number_facts(answer), number_facts(question)
    answer_words, question_words = words(answer), words(question)
    answer_stems = Counter(stem(word) for word in answer_words)
    question_stems = Counter(stem(word) for word in question_words)
    found = []
    for fact in facts:
        kind, value = fact.split(":", 1)
        if kind == "number":
            wanted = Fact("number", value, 0, 0)
            found.append(_number_mentions(answer_numbers, wanted) > _number_mentions(question_numbers, wanted))
        elif kind == "name":
            found.append(_mentions(answer_words, value) > _mentions(question_words, value))
        elif kind == "polarity":
            negated = bool(NEGATIONS & set(answer_words)) or "n't" in answer.lower()
            found.append(negated if value == "no" else (not negated and bool(answer_words)))
        else:
            term_stem = stem(value)
            found.append(answer_stems[term_stem] > question_stems[term_stem])
    return found


def fact_match(answer: str, facts: tuple[str, ...], question: str = "") -> float:
    """1.0 when the answer holds the reference's facts, else 0.0 (a question without facts
    scores 0): every number, name and polarity, and at least half of the content terms."""
    if not facts:
        return 0.0
    found = found_facts(answer, facts, question)
    exact = [hit for fact, hit in zip(facts, found) if not fact.startswith("term:")]
    terms = [hit for fact, hit in zip(facts, found) if fact.startswith("term:")]
    return float(all(exact) and (not terms or 2 * sum(terms) >= len(terms)))
