import pytest

from taxon.evaluate.scores import judge_messages, judge_to_unit, lcs_length, parse_judge_score, rouge_l, token_f1


def test_lcs_length_counts_the_longest_common_subsequence():
    assert lcs_length(["a", "b", "c", "d", "e"], ["a", "c", "e", "x"]) == 3
    assert lcs_length([], ["a"]) == 0


def test_rouge_l_matches_a_hand_computed_value():
    # LCS("the cat sat on the mat", "the cat is on the mat") = the cat on the mat = 5 of 6 and 6
    assert rouge_l("The cat sat on the mat.", "the cat is on the mat") == pytest.approx(5 / 6)
    assert rouge_l("Paris", "Paris") == 1.0
    assert rouge_l("", "Paris") == 0.0
    assert rouge_l("London", "Paris") == 0.0


def test_rouge_l_rewards_order_token_f1_does_not():
    assert token_f1("b a", "a b") == 1.0
    assert rouge_l("b a", "a b") == pytest.approx(0.5)


def test_token_f1_counts_repeated_words_once_each():
    # prediction "the the cat": overlap with "the cat" is 2 -> P=2/3, R=1
    assert token_f1("the the cat", "the cat") == pytest.approx(0.8)


@pytest.mark.parametrize(
    "reply, score",
    [
        ("Score: 4", 4.0),
        ("score 5", 5.0),
        ("**Rating:** 3", 3.0),
        ("I would give it 4/5 because it is mostly right.", 4.0),
        ("4 out of 5", 4.0),
        ("2", 2.0),
        ("The answer mentions 10 birds. Score: 2", 2.0),
        ("Score: 4.5", 4.5),
        ("Grade = 1.", 1.0),
        ("no idea", None),
        ("Score: 9", None),
        ("", None),
    ],
)
def test_parse_judge_score_finds_the_score_in_sloppy_replies(reply, score):
    assert parse_judge_score(reply) == score


def test_judge_scale_and_prompt():
    assert judge_to_unit(5.0) == 1.0 and judge_to_unit(1.0) == 0.0 and judge_to_unit(None) == 0.0
    messages = judge_messages("What is 2+2?", "4", "four")
    assert messages[0]["role"] == "system" and "1 to 5" in messages[0]["content"]
    assert "What is 2+2?" in messages[1]["content"] and "four" in messages[1]["content"]
