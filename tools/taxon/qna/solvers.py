"""Checkers that know the right answer: for the checkable tasks real taxonomies hold (sums and
other arithmetic, in digits or in words; which of two numbers is larger or smaller; odd or
even; unit conversions, metric and imperial; percentages; weekdays counted from another day or
from a date), the answer computed from the question itself.

A solver serves a leaf only when the leaf's own seeds show its task: it must solve at least
MIN_SEEDS of their questions and agree with every seed answer it solves, so a leaf that asks
"Which is heavier, a kilo of feathers or a pound of hammers?" is never held to a sum. For such
a leaf, generation holds each teacher answer to the solved value (and repairs or drops a wrong
one) and evaluation scores answers against it: a reference no teacher wrote."""

from __future__ import annotations

import datetime
import hashlib
import random
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from taxon.qna.text import NUMBER_WORDS, words

MIN_SEEDS = 3
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_SMALL = {"one": 1, "a": 1, "an": 1, **NUMBER_WORDS}
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:,\d{3})*(?:\.\d+)?(?![\d])")
MAX_DECIMALS = 6  # a result with more decimals (or none that end: 1/3) is written to SIGNIFICANT digits
SIGNIFICANT = 6


def _value(text: str) -> Fraction:
    return Fraction(text.replace(",", "").replace("−", "-"))


def numbers_in(text: str) -> list[Fraction]:
    """The numbers a text states, in digits or in words ("twenty-four", "a hundred")."""
    found: list[tuple[int, Fraction]] = [(m.start(), _value(m.group(0))) for m in _NUMBER.finditer(text)]
    for match in re.finditer(r"\b([a-z]+)(?:-([a-z]+))?\b", text.lower()):
        tens, ones = match.group(1), match.group(2)
        if tens in NUMBER_WORDS and tens != "hundred":
            value = NUMBER_WORDS[tens] + (NUMBER_WORDS[ones] if ones in NUMBER_WORDS else int(ones == "one"))
            found.append((match.start(), Fraction(value)))
        elif tens == "one" and ones is None:
            found.append((match.start(), Fraction(1)))
    return [value for _, value in sorted(found, key=lambda pair: pair[0])]


def _format(value: Fraction) -> str:
    """A number as people write it, with no float noise or exponent: whole ("4200", not
    "4200.0"), its decimals exact when it has at most MAX_DECIMALS of them ("12345.67"), else
    to SIGNIFICANT digits ("0.333333", "28.3495")."""
    if value.denominator == 1:
        return str(value.numerator)
    places = _decimal_places(value.denominator)
    if places is None or places > MAX_DECIMALS:
        exponent = Decimal(value.numerator / value.denominator).adjusted()  # of its first significant digit
        places = max(0, SIGNIFICANT - 1 - exponent)
        value = Fraction(round(value * 10**places), 10**places)
        if value.denominator == 1:
            return str(value.numerator)
    digits = f"{abs(value.numerator) * 10**places // value.denominator:0{places + 1}d}"
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[:-places]}.{digits[-places:]}".rstrip("0").rstrip(".")


def _decimal_places(denominator: int) -> int | None:
    """How many decimals a fraction with this (reduced) denominator ends after; None if never."""
    twos = fives = 0
    while denominator % 2 == 0:
        denominator, twos = denominator // 2, twos + 1
    while denominator % 5 == 0:
        denominator, fives = denominator // 5, fives + 1
    return max(twos, fives) if denominator == 1 else None


# --- units ----------------------------------------------------------------------------------------

# name -> (dimension, factor to the dimension's base unit)
UNIT_FACTORS: dict[str, tuple[str, Fraction]] = {}
UNIT_SYMBOL: dict[str, str] = {}
for _symbol, _dimension, _factor, _names in (
    ("mm", "length", Fraction(1, 1000), "mm millimetre millimetres millimeter millimeters"),
    ("cm", "length", Fraction(1, 100), "cm centimetre centimetres centimeter centimeters"),
    ("m", "length", Fraction(1), "m metre metres meter meters"),
    ("km", "length", Fraction(1000), "km kilometre kilometres kilometer kilometers"),
    ("in", "length", Fraction(254, 10000), "in inch inches"),
    ("ft", "length", Fraction(3048, 10000), "ft foot feet"),
    ("yd", "length", Fraction(9144, 10000), "yd yard yards"),
    ("mi", "length", Fraction(1609344, 1000), "mi mile miles"),
    ("mg", "mass", Fraction(1, 1000), "mg milligram milligrams"),
    ("g", "mass", Fraction(1), "g gram grams"),
    ("kg", "mass", Fraction(1000), "kg kilogram kilograms kilo kilos"),
    ("oz", "mass", Fraction(28349523125, 10**9), "oz ounce ounces"),
    ("lb", "mass", Fraction(45359237, 10**5), "lb lbs pound pounds"),
    ("ml", "volume", Fraction(1, 1000), "ml millilitre millilitres milliliter milliliters"),
    ("l", "volume", Fraction(1), "l litre litres liter liters"),
    ("gal", "volume", Fraction(3785411784, 10**9), "gal gallon gallons"),
    ("s", "time", Fraction(1), "s sec secs second seconds"),
    ("min", "time", Fraction(60), "min mins minute minutes"),
    ("h", "time", Fraction(3600), "h hr hrs hour hours"),
    ("day", "time", Fraction(86400), "day days"),
    ("week", "time", Fraction(604800), "week weeks"),
):
    for _name in _names.split():
        UNIT_FACTORS[_name] = (_dimension, _factor)
        UNIT_SYMBOL[_name] = _symbol
_UNIT_NAMES = "|".join(sorted(map(re.escape, UNIT_FACTORS), key=len, reverse=True))
_AMOUNT = re.compile(rf"(-?\d+(?:,\d{{3}})*(?:\.\d+)?)\s*({_UNIT_NAMES})\b", re.IGNORECASE)
_TARGET = re.compile(rf"\b(?:in|to|into|as|how many)\s+({_UNIT_NAMES})\b", re.IGNORECASE)


def amounts(text: str) -> list[tuple[Fraction, str]]:
    """(value, unit symbol) of each amount with a unit the text states."""
    return [(_value(number), UNIT_SYMBOL[unit.lower()]) for number, unit in _AMOUNT.findall(text)]


def close(a: Fraction, b: Fraction) -> bool:
    """Equal to the precision people write conversions with (half a percent)."""
    if a == b:
        return True
    scale = max(abs(a), abs(b))
    return scale > 0 and abs(a - b) / scale < Fraction(5, 1000)


# --- the solvers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Solution:
    """The right answer to a question: `kind` says how an answer is held to `value`."""

    kind: str  # "number" | "weekday" | "parity" | "larger" | "amount"
    value: str  # "42", "thursday", "odd", "41", "3000 m"
    allowed: tuple[str, ...] = ()  # other values of its kind an answer may also state (the question's own)

    def holds(self, answer: str) -> bool:
        """Whether the answer states this value, and no other value of its kind than the question's."""
        if self.kind == "weekday":
            said = [word for word in words(answer) if word in WEEKDAYS]
            if self.value in self.allowed and said.count(self.value) < 2 and said != words(answer):
                return False  # the question's own day, said once: the question restated, not answered
            return self.value in said and set(said) <= {self.value, *self.allowed}
        if self.kind == "parity":
            return {word for word in words(answer) if word in ("odd", "even")} == {self.value}
        if self.kind == "amount":
            number, unit = self.value.split(" ")
            return any(u == unit and close(v, Fraction(number)) for v, u in amounts(answer))
        said_numbers = numbers_in(answer)
        value = Fraction(self.value)
        allowed = {Fraction(v) for v in self.allowed} | {value}
        if self.kind == "larger":  # the right number alone, or both with a true "X is larger than Y"
            if value not in said_numbers or not set(said_numbers) <= allowed or not _comparisons_hold(answer):
                return False
            return bool(_COMPARISON.search(answer)) or _names_larger(answer, value)
        return value in said_numbers and set(said_numbers) <= allowed

    def repair(self, answer: str) -> str | None:
        """The answer with its wrong result replaced by this value, or None when it can't say
        where its result is. The result is the last value of the kind that the question does
        not state."""
        if self.kind == "weekday":
            spots = [m for m in re.finditer(r"\b[A-Za-z]+day\b", answer) if m.group(0).lower() in WEEKDAYS]
            spots = [m for m in spots if m.group(0).lower() not in self.allowed]
            if not spots:
                return None
            last = spots[-1]
            day = self.value.capitalize() if last.group(0)[0].isupper() else self.value
            return answer[: last.start()] + day + answer[last.end() :]
        if self.kind == "parity":
            found = list(re.finditer(r"\b(odd|even)\b", answer, re.IGNORECASE))
            if len(found) != 1:
                return None
            return answer[: found[0].start()] + self.value + answer[found[0].end() :]
        if self.kind == "amount":  # the number said in the unit asked for
            number, unit = self.value.split(" ")
            spots = [m for m in _AMOUNT.finditer(answer) if UNIT_SYMBOL[m.group(2).lower()] == unit]
            if not spots:
                return None
            return answer[: spots[-1].start(1)] + number + answer[spots[-1].end(1) :]
        if self.kind == "larger":  # "X is larger than Y." with X and Y the wrong way round: swapped
            spots = [m for m in _NUMBER.finditer(answer) if _value(m.group(0)) in {Fraction(v) for v in self.allowed}]
            if len(spots) != 2 or _value(spots[0].group(0)) == _value(spots[1].group(0)):
                return None
            first, second = spots
            swapped = (
                answer[: first.start()]
                + second.group(0)
                + answer[first.end() : second.start()]
                + first.group(0)
                + answer[second.end() :]
            )
            return swapped if _comparisons_hold(swapped) else None
        if self.kind == "number":
            number = self.value
            spots = [
                m for m in _NUMBER.finditer(answer) if _value(m.group(0)) not in {Fraction(v) for v in self.allowed}
            ]
            if not spots:
                return None
            last = spots[-1]
            return answer[: last.start()] + number + answer[last.end() :]
        return None


# "X is larger than Y", "X is indeed a larger number than the number Y"
_COMPARISON = re.compile(
    r"(-?\d+(?:,\d{3})*(?:\.\d+)?)\s+is\s+(?:\w+\s+){0,3}?(larger|greater|bigger|more|smaller|less|lower)"
    r"(?:\s+number)?\s+than\s+(?:the\s+number\s+)?(-?\d+(?:,\d{3})*(?:\.\d+)?)",
    re.IGNORECASE,
)


def _names_larger(answer: str, value: Fraction) -> bool:
    """The answer names the value as the larger: the number alone, "X is the larger", "the
    bigger number is X" (a ramble that only mentions X does not)."""
    if re.fullmatch(r"\s*(?:the answer is\s+)?-?[\d,.]+\.?\s*", answer, re.IGNORECASE):
        return True
    for match in re.finditer(r"-?\d+(?:,\d{3})*(?:\.\d+)?", answer):
        if _value(match.group(0)) != value:
            continue
        before, after = answer[: match.start()][-40:], answer[match.end() :][:40]
        if re.search(r"(?:larger|greater|bigger|higher)(?:\s+(?:number|one|value))?\s+is\s*$", before, re.I):
            return True
        if re.match(r"\s+is\s+(?:the\s+)?(?:larger|greater|bigger|higher)\b", after, re.I):
            return True
    return False


def _comparisons_hold(answer: str) -> bool:
    for left, relation, right in _COMPARISON.findall(answer):
        bigger = relation.lower() in ("larger", "greater", "bigger", "more")
        if (_value(left) > _value(right)) != bigger or _value(left) == _value(right):
            return False
    return True


_OPERATIONS: tuple[tuple[str, Callable[[Fraction, Fraction], Fraction | None]], ...] = (
    (r"\+|\bplus\b|\badd\b|\badded\b|\bsum\b|\btotal\b|\baltogether\b", lambda a, b: a + b),
    (r"−|(?<=\d)\s*-\s*(?=\d)|\bminus\b|\bsubtract(?:ed)?\b|\btake away\b|\bdifference\b", lambda a, b: a - b),
    (r"[×x*](?=\s*\d)|\btimes\b|\bmultipl(?:y|ied)\b|\bproduct\b", lambda a, b: a * b),
    (r"[÷/]|\bdivided by\b|\bdivide\b", lambda a, b: a / b if b else None),
)


def solve_arithmetic(question: str) -> Solution | None:
    """Two numbers and one operation: "What is 17 + 25?", "Add thirty and twelve."."""
    if "%" in question or re.search(r"\bper ?cent\b", question, re.IGNORECASE) or amounts(question):
        return None
    found = numbers_in(question)
    operations = [operate for pattern, operate in _OPERATIONS if re.search(pattern, question, re.IGNORECASE)]
    if len(found) != 2 or len(operations) != 1:
        return None
    first, second = found
    if re.search(r"\bsubtract\s", question, re.IGNORECASE) and re.search(r"\bfrom\b", question, re.IGNORECASE):
        first, second = second, first  # "subtract 5 from 12"
    result = operations[0](first, second)
    if result is None:
        return None
    return Solution("number", _format(result), tuple(_format(n) for n in found))


def solve_comparison(question: str) -> Solution | None:
    """Which of two numbers is larger (or smaller)."""
    found = numbers_in(question)
    text = question.lower()
    larger = re.search(r"\b(larger|largest|greater|greatest|bigger|biggest|more|higher)\b", text)
    smaller = re.search(r"\b(smaller|smallest|less|least|lower|fewer)\b", text)
    if len(found) != 2 or found[0] == found[1] or bool(larger) == bool(smaller) or amounts(question):
        return None
    value = max(found) if larger else min(found)
    return Solution("larger", _format(value), tuple(_format(n) for n in found))


def solve_parity(question: str) -> Solution | None:
    found = numbers_in(question)
    if len(found) != 1 or found[0].denominator != 1 or not re.search(r"\b(odd|even)\b", question, re.IGNORECASE):
        return None
    return Solution("parity", "even" if found[0].numerator % 2 == 0 else "odd")


def solve_conversion(question: str) -> Solution | None:
    """An amount and the unit to express it in: "Convert 3 km to metres", "How many feet is 2 miles?"."""
    given = amounts(question)
    target = _TARGET.search(question)
    if len(given) != 1 or not target:
        return None
    value, unit = given[0]
    goal = target.group(1).lower()
    (dimension, factor), (goal_dimension, goal_factor) = UNIT_FACTORS[_unit_name(unit)], UNIT_FACTORS[goal]
    if dimension != goal_dimension or UNIT_SYMBOL[goal] == unit:
        return None
    return Solution("amount", f"{_format(value * factor / goal_factor)} {UNIT_SYMBOL[goal]}", (_format(value),))


def _unit_name(symbol: str) -> str:
    return next(name for name, own in UNIT_SYMBOL.items() if own == symbol)


def solve_percentage(question: str) -> Solution | None:
    """ "What is 20% of 150?" and "What percentage of 80 is 20?"."""
    text = re.sub(r"\bper ?cent\b", "%", question.lower())
    of = re.search(r"(-?\d+(?:\.\d+)?)\s*%\s+of\s+(-?\d+(?:,\d{3})*(?:\.\d+)?)", text)
    if of:
        share_of = _value(of.group(1)) * _value(of.group(2)) / 100
        return Solution("number", _format(share_of), (of.group(1), of.group(2).replace(",", "")))
    share = re.search(r"what (?:%|percentage) of (-?\d+(?:\.\d+)?) is (-?\d+(?:\.\d+)?)", text)
    share = share or re.search(r"(-?\d+(?:\.\d+)?) is what (?:%|percentage) of (-?\d+(?:\.\d+)?)", text)
    if share:
        first, second = share.group(1), share.group(2)
        whole, part = (first, second) if text.find("what") < text.find(first) else (second, first)
        if _value(whole) == 0:
            return None
        return Solution("number", _format(_value(part) * 100 / _value(whole)), (whole, part))
    return None


_DAY = "(" + "|".join(WEEKDAYS) + ")"


def solve_weekday(question: str) -> Solution | None:
    """A day counted from another ("two days after Friday", "the day before Monday", "if today is
    Saturday, what day is tomorrow"), or the weekday of a date ("4 July 2021", "July 4, 2021")."""
    text = question.lower()
    days = re.findall(_DAY, text)
    date = _date(text)
    if date is not None and not days:
        return Solution("weekday", WEEKDAYS[date.weekday()])
    if len(days) != 1:
        return None
    start = WEEKDAYS.index(days[0])
    step = None
    span = re.search(r"\b(\w+)\s+(days?|weeks?)\s+(after|before|from|since|ago)\b", text)
    if span and (span.group(1) in _SMALL or span.group(1).isdigit()):
        count = _SMALL[span.group(1)] if span.group(1) in _SMALL else int(span.group(1))
        count *= 7 if span.group(2).startswith("week") else 1
        step = -count if span.group(3) in ("before", "ago") else count
    elif re.search(rf"\b(?:the\s+)?day\s+(?:after|following)\s+{_DAY}", text) or re.search(rf"\bafter\s+{_DAY}", text):
        step = 1
    elif re.search(rf"\b(?:the\s+)?day\s+before\s+{_DAY}", text) or re.search(rf"\bbefore\s+{_DAY}", text):
        step = -1
    elif "today" in text and "tomorrow" in text:
        step = 1
    elif "today" in text and "yesterday" in text:
        step = -1
    if step is None:
        return None
    return Solution("weekday", WEEKDAYS[(start + step) % 7], (days[0],))


def _date(text: str) -> datetime.date | None:
    month = "(" + "|".join(MONTHS) + ")"
    found = re.search(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+{month}\s*,?\s+(\d{{4}})\b", text)
    if found:
        day, name, year = found.groups()
    else:
        found = re.search(rf"\b{month}\s+(\d{{1,2}})(?:st|nd|rd|th)?\s*,?\s+(\d{{4}})\b", text)
        if not found:
            return None
        name, day, year = found.groups()
    try:
        return datetime.date(int(year), MONTHS.index(name) + 1, int(day))
    except ValueError:
        return None


SOLVERS: dict[str, Callable[[str], Solution | None]] = {
    "arithmetic": solve_arithmetic,
    "comparison": solve_comparison,
    "parity": solve_parity,
    "conversion": solve_conversion,
    "percentage": solve_percentage,
    "weekday": solve_weekday,
}


def leaf_solver(seeds: list[tuple[str, str]]) -> str | None:
    """The solver whose task the leaf's (question, answer) seeds show, or None: it solves at
    least MIN_SEEDS of them and every seed answer it solves states its value."""
    for name, solve in SOLVERS.items():
        solved = [(solution, answer) for question, answer in seeds if (solution := solve(question)) is not None]
        if len(solved) >= MIN_SEEDS and all(solution.holds(answer) for solution, answer in solved):
            return name
    return None


def solve(solver: str | None, question: str) -> Solution | None:
    return SOLVERS[solver](question) if solver else None


def _drawn_bytes(key: str) -> Iterator[int]:
    """Bytes drawn from `key`: its sha256, then the sha256 of that, and on (a question with many
    numbers never runs out)."""
    digest = hashlib.sha256(key.encode()).digest()
    while True:
        yield from digest
        digest = hashlib.sha256(digest).digest()


def _vary(question: str, draw: int, salt: str = "") -> str:
    """The question with each number (digits) and weekday changed, deterministically by `draw`
    (and `salt`, which draws apart): a number keeps its count of digits and its decimals, a day
    moves on by a drawn step."""
    pick = _drawn_bytes(f"{salt}{draw}\0{question}")

    def number(match: re.Match[str]) -> str:
        text = match.group(0)
        whole, _, decimals = text.replace(",", "").lstrip("-").partition(".")
        low = 10 ** (len(whole) - 1) if len(whole) > 1 else int(whole != "0")
        value = low + (next(pick) * 256 + next(pick)) % (10 ** len(whole) - low)
        fraction = "".join(str(next(pick) % 10) for _ in decimals)
        return ("-" if text.startswith("-") else "") + str(value) + (f".{fraction}" if decimals else "")

    def day(match: re.Match[str]) -> str:
        found = WEEKDAYS[(WEEKDAYS.index(match.group(0).lower()) + 1 + next(pick) % 6) % 7]
        return found.capitalize() if match.group(0)[0].isupper() else found

    def counted(match: re.Match[str]) -> str:  # "two days" -> "five days": a count of two to ten stays plural
        found = _COUNT_WORDS[(_COUNT_WORDS.index(match.group(0).lower()) + 1 + next(pick) % 8) % 9]
        return found.capitalize() if match.group(0)[0].isupper() else found

    varied = _NUMBER.sub(number, question)
    varied = _counts().sub(counted, varied)
    return re.sub(r"\b(?:" + "|".join(WEEKDAYS) + r")\b", day, varied, flags=re.IGNORECASE)


_COUNT_WORDS = ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def _counts() -> re.Pattern[str]:
    """A count in words before a plural noun ("two days", "Three days")."""
    return re.compile(r"\b(?:" + "|".join(_COUNT_WORDS) + r")\b(?=\s+[a-z]+s\b)", re.IGNORECASE)


# The shapes other than the seed's that a number of each solver's questions may take in
# training's variants (`worked_variants`): "point" a whole number given one or two decimals, or a
# decimal made whole; "digits" one digit more or fewer; "negative" its sign turned; "close" a
# pair made of the same digits (6010 and 6100; 0.1 and 0.09; 45 and 452). No negative amount,
# no fraction of a day, no other shape for a weekday's count or a date.
SHAPES: dict[str, tuple[str, ...]] = {
    "arithmetic": ("point", "digits", "negative"),
    "comparison": ("point", "digits", "negative", "close"),
    "parity": ("digits", "negative"),
    "conversion": ("point", "digits"),
    "percentage": ("point", "digits"),
    "weekday": (),
}


def _reshaped(question: str, draw: int, shapes: tuple[str, ...]) -> str:
    """A variant of the question (as `_vary` makes) with one of its numbers in another shape
    of `shapes`, deterministically by `draw`; the question as `_vary` makes it when no shape
    applies."""
    varied = _vary(question, draw, salt="shape\0")
    rng = random.Random(f"shape\0{draw}\0{question}")
    found = [_without_trailing_zero(match.group(0).replace(",", ""), rng) for match in _NUMBER.finditer(varied)]
    usable = [shape for shape in shapes if shape != "close" or len(found) == 2]
    shape = rng.choice(usable) if usable and found else None
    if shape == "close":
        found = _close_pair(found[0], rng)
    elif shape is not None:
        target = rng.randrange(len(found))
        found[target] = _SHAPERS[shape](found[target], rng)
        if shape == "negative" and rng.random() < 0.5:  # both negative, as "-3 or -8"
            found = [_SHAPERS["negative"](text, rng) if index != target else text for index, text in enumerate(found)]
    numbers = iter(found)
    return _NUMBER.sub(lambda match: next(numbers), varied)


def _digits(count: int, rng: random.Random) -> str:
    """A whole number of `count` digits (no leading zero)."""
    return str(rng.randrange(10 ** (count - 1) if count > 1 else 1, 10**count))


def _decimals(count: int, rng: random.Random) -> str:
    """`count` decimals, the last one not 0 (2.50 is 2.5)."""
    return "".join(str(rng.randrange(10)) for _ in range(count - 1)) + str(rng.randrange(1, 10))


def _point(text: str, rng: random.Random) -> str:
    """A whole number given one or two decimals, a decimal made whole (not 0)."""
    sign, whole, decimals = _parts(text)
    if decimals:
        return sign + (whole if whole != "0" else _digits(1, rng))
    return f"{sign}{whole}.{_decimals(rng.choice((1, 2)), rng)}"


def _more_or_fewer_digits(text: str, rng: random.Random) -> str:
    sign, whole, decimals = _parts(text)
    count = len(whole) + (1 if len(whole) == 1 or rng.random() < 0.5 else -1)
    return sign + _digits(count, rng) + (f".{decimals}" if decimals else "")


def _negated(text: str, rng: random.Random) -> str:
    sign, whole, decimals = _parts(text)
    if Fraction(f"{whole}.{decimals or 0}") == 0:
        return _more_or_fewer_digits(text, rng)  # -0 is no negative
    return ("" if sign else "-") + whole + (f".{decimals}" if decimals else "")


def _without_trailing_zero(text: str, rng: random.Random) -> str:
    """A decimal's last digit drawn again when it is 0 (3.0 and 2.50 are written 3 and 2.5)."""
    return text[:-1] + str(rng.randrange(1, 10)) if "." in text and text.endswith("0") else text


def _parts(text: str) -> tuple[str, str, str]:
    """(sign, whole digits, decimals) of a number written without commas."""
    whole, _, decimals = text.lstrip("-").partition(".")
    return ("-" if text.startswith("-") else ""), whole, decimals


_SHAPERS: dict[str, Callable[[str, random.Random], str]] = {
    "point": _point,
    "digits": _more_or_fewer_digits,
    "negative": _negated,
}


def _close_pair(first: str, rng: random.Random) -> list[str]:
    """Two numbers that share their digits, the kind a reader compares digit by digit and gets
    wrong: the same digits with two of them swapped (6010, 6100), one decimal against two
    (0.1, 0.09; 2.9, 2.19), or one digit more (45, 452). In a drawn order; never equal."""
    sign, whole, decimals = _parts(first)
    swappable = [i for i in range(len(whole) - 1) if whole[i] != whole[i + 1] and (i or whole[i + 1] != "0")]
    ways = ["decimals"] + (["swap"] if swappable else []) + (["longer"] if whole != "0" else [])
    way = rng.choice(ways)
    if way == "swap":
        i = rng.choice(swappable)
        swapped = whole[:i] + whole[i + 1] + whole[i] + whole[i + 2 :]
        pair = [first, sign + swapped + (f".{decimals}" if decimals else "")]
    elif way == "decimals":
        pair = [f"{sign}{whole}.{_decimals(1, rng)}", f"{sign}{whole}.{rng.randrange(10)}{_decimals(1, rng)}"]
    else:
        pair = [sign + whole, sign + whole + str(rng.randrange(10))]
    rng.shuffle(pair)
    return pair


def checker_questions(questions: list[str], solver: str, count: int, avoid: set[str]) -> list[tuple[str, Solution]]:
    """Up to `count` new questions in the form of the given ones (a leaf's seed questions), their
    numbers and days changed, each with the answer the solver computes: items with a reference no
    one wrote by hand. None repeats a question of `avoid`."""
    found: dict[str, Solution] = {}
    for draw in range(1, 1 + 8 * max(count, 1)):
        if len(found) >= count or not questions:
            break
        varied = _vary(questions[(draw - 1) % len(questions)], draw)
        solution = solve(solver, varied)
        if solution is not None and varied not in avoid and varied not in found:
            found[varied] = solution
    return list(found.items())


def _day_pattern() -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(WEEKDAYS) + r")\b", re.IGNORECASE)


def restated_answer(question: str, answer: str, varied: str, solver: str) -> str | None:
    """A seed's answer made the answer of a varied form of its question: the question's changed
    numbers and days put in the answer's matching places, and the result set to the value the
    solver computes (None when the result can't be placed)."""
    solution = solve(solver, varied)
    if solution is None:
        return None
    numbers: dict[str, list[str]] = {}  # "39 + 39": each 39 of the answer, in turn, the varied one in its place
    for old, new in zip(_NUMBER.findall(question), _NUMBER.findall(varied)):
        numbers.setdefault(old, []).append(new)
    said: Counter[str] = Counter()

    def renumbered(match: re.Match[str]) -> str:
        text = match.group(0)
        if text not in numbers:
            return text
        said[text] += 1
        return numbers[text][min(said[text], len(numbers[text])) - 1]

    days = {old.lower(): new for old, new in zip(_day_pattern().findall(question), _day_pattern().findall(varied))}
    counts = {old.lower(): new for old, new in zip(_counts().findall(question), _counts().findall(varied))}

    def renamed(names: dict[str, str]) -> Callable[[re.Match[str]], str]:
        def rename(match: re.Match[str]) -> str:
            new = names.get(match.group(0).lower(), match.group(0))
            return str(new.capitalize() if match.group(0)[0].isupper() else new.lower())

        return rename

    rendered = _NUMBER.sub(renumbered, answer)
    rendered = _counts().sub(renamed(counts), _day_pattern().sub(renamed(days), rendered))
    if not solution.holds(rendered):
        rendered = solution.repair(rendered) or ""
    return rendered if rendered and solution.holds(rendered) else None


def label(question: str, solution: Solution) -> str:
    """What a model could answer every question of a kind with and be right half the time or
    more: the parity, which of the two numbers is the larger, the weekday; "" for a result that
    is a number of its own (a sum, a conversion)."""
    if solution.kind in ("parity", "weekday"):
        return solution.value
    if solution.kind == "larger":
        found = numbers_in(question)
        return "first" if found and found[0] == Fraction(solution.value) else "second"
    return ""


def worked_variants(
    question: str, answer: str, solver: str, count: int, first_draw: int, reshaped_share: float = 0.0
) -> list[tuple[str, str]]:
    """Up to `count` (question, answer) pairs in a seed's own words, its numbers and days changed
    and its answer worked out by the solver: training samples no teacher wrote. `reshaped_share`
    of them have a number in another shape than the seed's (`SHAPES`: decimals, more or fewer
    digits, a negative, a close pair), so that a leaf whose seeds are all whole numbers of two
    digits is not trained on those alone. Their answers are spread evenly over the labels (odd
    and even, the first or the second number larger), the reshaped ones continuing the labels'
    turn where the others stop, so that no one answer is right for most of them."""
    reshaped = round(count * reshaped_share) if SHAPES[solver] else 0
    draws = range(first_draw, first_draw + 8 * max(count, 1))
    plain = _by_label(question, answer, solver, [_vary(question, draw) for draw in draws])
    shaped = _by_label(question, answer, solver, [_reshaped(question, draw, SHAPES[solver]) for draw in draws])
    labels = sorted(set(plain) | set(shaped))
    if not labels:
        return []
    start = int(hashlib.sha256(question.encode()).hexdigest()[:8], 16) % len(labels)  # which label comes first
    turns = [labels[(start + turn) % len(labels)] for turn in range(count)]
    found: dict[str, str] = {}
    for pool, wanted in ((plain, turns[: count - reshaped]), (shaped, turns[count - reshaped :])):
        for label_turn in wanted:
            queue = pool.get(label_turn) or next((rest for rest in pool.values() if rest), [])
            while queue and queue[0][0] in found:
                queue.pop(0)
            if queue:
                varied, restated = queue.pop(0)
                found[varied] = restated
    for queue in [*plain.values(), *shaped.values()]:  # a pool short of a label: filled from the rest
        while len(found) < count and queue:
            varied, restated = queue.pop(0)
            found.setdefault(varied, restated)
    return list(found.items())


def _by_label(question: str, answer: str, solver: str, variants: list[str]) -> dict[str, list[tuple[str, str]]]:
    """The variants the solver answers and the seed's answer can be restated for, by label, in
    draw order, each once."""
    by_label: dict[str, list[tuple[str, str]]] = {}
    seen = {question}
    for varied in variants:
        if varied in seen:
            continue
        seen.add(varied)
        restated = restated_answer(question, answer, varied, solver)
        solution = solve(solver, varied)
        if restated is not None and solution is not None:
            by_label.setdefault(label(varied, solution), []).append((varied, restated))
    return by_label
