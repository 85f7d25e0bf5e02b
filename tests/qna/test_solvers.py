"""The checkers' worked variants: numbers in the seeds' shapes and in others, each answer
computed by the solver, the labels balanced; and how results are written."""

import re
from collections import Counter
from fractions import Fraction

import pytest

from taxon.qna.solvers import (
    checker_questions,
    label,
    numbers_in,
    solve,
    solve_arithmetic,
    solve_conversion,
    worked_variants,
)

LARGER = [
    ("Which is larger, 41 or 14?", "41 is larger than 14."),
    ("Is 77 or 71 larger?", "77 is larger than 71."),
    ("Pick the bigger number: 68 or 86.", "86 is larger than 68."),
    ("Which is bigger, 52 or 25?", "52 is larger than 25."),
]


def _shape(number: Fraction, text: str) -> tuple[bool, bool, int]:
    """(negative, has decimals, digits of the whole part) of a number as a question writes it."""
    written = next(found for found in re.findall(r"-?\d+(?:\.\d+)?", text) if Fraction(found) == number)
    return written.startswith("-"), "." in written, len(written.lstrip("-").partition(".")[0])


def _share_digits(one: str, other: str) -> bool:
    """Two numbers a reader compares digit by digit: the same digits (6010, 6100), the same
    whole part (0.1, 0.09), or one the other with a digit more (45, 452)."""
    if one.startswith("-") != other.startswith("-"):
        return False
    digits = sorted((one.lstrip("-"), other.lstrip("-")), key=len)
    return (
        sorted(digits[0]) == sorted(digits[1])
        or digits[0].partition(".")[0] == digits[1].partition(".")[0]
        or digits[1].startswith(digits[0])
    )


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (Fraction(4200), "4200"),
        (Fraction(5, 2), "2.5"),
        (Fraction(1234567, 100), "12345.67"),  # was 12345.7: six significant digits cut a sum's cents
        (Fraction(2000001, 2), "1000000.5"),  # was 1e+06
        (Fraction(1, 10**8), "0.00000001"),  # was 1e-08
        (Fraction(-1, 20), "-0.05"),
        (Fraction(1, 3), "0.333333"),  # never ends: six significant digits
        (Fraction(10000, 3), "3333.33"),
        (Fraction(45359237, 1600000), "28.3495"),  # a pound in ounces' grams: nine decimals, cut to six digits
    ],
)
def test_results_are_written_as_people_write_numbers(value, written):
    from taxon.qna.solvers import _format

    assert _format(value) == written


def test_a_conversion_result_has_no_float_noise():
    assert solve_conversion("Convert 4.2 km to metres.").value == "4200 m"
    assert solve_conversion("How many kilometres is 1500 m?").value == "1.5 km"
    assert solve_conversion("How many km is 1 mi?").value == "1.609344 km"
    assert solve_arithmetic("What is 0.1 + 0.2?").value == "0.3"


def test_a_seed_that_repeats_a_number_gets_each_varied_number_in_its_place():
    """ "Calculate 39 + 39." varied to "Calculate 93 + 76." was restated "76 + 76 = 169.":
    both 39s of the answer took the last one's new value."""
    for question, answer in worked_variants("Calculate 39 + 39.", "39 + 39 = 78.", "arithmetic", 6, 1000, 0.5):
        first, second, total = (Fraction(n) for n in re.findall(r"-?\d+(?:\.\d+)?", answer))
        assert first + second == total and numbers_in(question) == [first, second], (question, answer)


def test_reshaped_variants_take_other_shapes_and_keep_the_labels_balanced():
    shapes, firsts, close_pairs = Counter(), 0, 0
    for seed_question, seed_answer in LARGER:
        variants = worked_variants(seed_question, seed_answer, "comparison", 8, 1000, 0.5)
        assert len(variants) == 8
        assert Counter(label(q, solve("comparison", q)) for q, _ in variants) == {"first": 4, "second": 4}
        reshaped = 0
        for question, answer in variants:
            first, second = numbers_in(question)
            larger, smaller = max(first, second), min(first, second)
            assert numbers_in(answer) == [larger, smaller]  # "X is larger than Y." computed, not copied
            assert re.fullmatch(r"-?\d+(\.\d+)? is larger than -?\d+(\.\d+)?\.", answer)
            found = {_shape(number, question) for number in (first, second)}
            reshaped += found != {(False, False, 2)}  # the seeds' numbers: whole, positive, two digits
            shapes.update(found)
            close_pairs += _share_digits(*re.findall(r"-?\d+(?:\.\d+)?", question))
            firsts += first > second
        assert reshaped == 4
    negative, decimals = any(shape[0] for shape in shapes), any(shape[1] for shape in shapes)
    assert negative and decimals and {shape[2] for shape in shapes} >= {1, 2, 3}
    assert close_pairs >= 2  # 6010 and 6100, 0.1 and 0.09, 45 and 452


def test_variants_are_drawn_deterministically_and_keep_the_seed_shapes_at_share_zero():
    again = worked_variants("Which is larger, 41 or 14?", "41 is larger than 14.", "comparison", 6, 1000, 0.5)
    assert again == worked_variants("Which is larger, 41 or 14?", "41 is larger than 14.", "comparison", 6, 1000, 0.5)
    plain = worked_variants("Which is larger, 41 or 14?", "41 is larger than 14.", "comparison", 6, 1000)
    for question, _ in plain:
        assert {_shape(number, question) for number in numbers_in(question)} == {(False, False, 2)}


def test_no_shape_makes_nonsense_of_a_unit_or_a_day():
    """A length is never negative; a weekday's count takes no other shape (a day's fraction)."""
    for question, answer in worked_variants("Convert 3 km to metres.", "3 km = 3000 m.", "conversion", 8, 1000, 1.0):
        assert "-" not in question and solve("conversion", question).holds(answer), (question, answer)
        assert re.fullmatch(r"\d+(\.\d+)? km = \d+(\.\d+)? m\.", answer)
    assert any(
        "." in question
        for question, _ in worked_variants("Convert 3 km to metres.", "3 km = 3000 m.", "conversion", 8, 1000, 1.0)
    )
    days = worked_variants(
        "What day is two days after Friday?", "Two days after Friday is Sunday.", "weekday", 4, 1000, 1.0
    )
    assert len(days) == 4 and not any(re.search(r"\d", question) for question, _ in days)
    for question, answer in worked_variants("Is 37 odd or even?", "37 is odd.", "parity", 6, 1000, 1.0):
        assert "." not in question and solve("parity", question).holds(answer)


def test_evaluation_checker_questions_keep_the_seeds_shapes():
    """Evaluation asks the leaf's own kind of question, the same items run to run: its
    checker questions are not reshaped."""
    questions = [question for question, _ in LARGER]
    for question, _ in checker_questions(questions, "comparison", 20, set(questions)):
        assert {_shape(number, question) for number in numbers_in(question)} == {(False, False, 2)}


def test_a_question_with_many_numbers_does_not_run_out_of_draws():
    question = "Add " + " and ".join(str(n) for n in range(1000, 1013)) + "."
    assert worked_variants(question, "That is a lot.", "arithmetic", 2, 1000, 0.5) == []
    assert checker_questions([question], "arithmetic", 2, set()) == []
