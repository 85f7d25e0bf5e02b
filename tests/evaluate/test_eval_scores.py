import pytest

from taxon.evaluate.choices import choice_accuracy
from taxon.evaluate.scores import rouge_l


def test_rouge_l_is_the_rouge_score_packages_f_measure():
    # LCS("the cat sat on the mat", "the cat is on the mat") = the cat on the mat = 5 of 6 and 6
    assert rouge_l("The cat sat on the mat.", "the cat is on the mat") == pytest.approx(5 / 6)
    assert rouge_l("Paris", "Paris") == 1.0
    assert rouge_l("", "Paris") == 0.0
    assert rouge_l("London", "Paris") == 0.0


def test_choice_accuracy_is_argmax_of_sums_and_of_sums_per_character():
    choices = ("a long right answer", "no")
    # the long option has the lower sum but the higher sum per character
    assert choice_accuracy([-6.0, -3.0], choices, 0) == (0.0, 1.0)
    assert choice_accuracy([-2.0, -3.0], choices, 0) == (1.0, 1.0)
    # ties go to the first option, as numpy's argmax does
    assert choice_accuracy([-1.0, -1.0], ("x", "y"), 1) == (0.0, 0.0)
