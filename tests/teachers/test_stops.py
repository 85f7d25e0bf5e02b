"""backends.stops: the stop-string automaton against a brute-force search, fed as a decoder
feeds it (a character at a time, in pieces, with a rewritten last character)."""

import random

import pytest

from taxon.backends.stops import StopMatcher


def brute(text, stops):
    hit = any(stop in text for stop in stops)
    held = max((k for s in stops for k in range(1, len(s) + 1) if text.endswith(s[:k])), default=0)
    return hit, held


@pytest.mark.parametrize("seed", range(30))
def test_matches_a_brute_force_search(seed):
    rng = random.Random(seed)
    alphabet = "ab" if seed % 2 else "abc"
    stops = tuple("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))) for _ in range(rng.randint(1, 4)))
    text = "".join(rng.choice(alphabet) for _ in range(60))
    matcher = StopMatcher(stops)
    end = 0
    while end < len(text):
        end += rng.randint(1, 3)
        hit = matcher.feed(text[:end])
        expected_hit, expected_held = brute(text[:end], stops)
        assert hit == expected_hit
        if not hit:
            assert matcher.held == expected_held
        else:
            break


def test_a_rewritten_tail_starts_again():
    matcher = StopMatcher(("ab",))
    assert not matcher.feed("xa")
    assert matcher.held == 1
    assert not matcher.feed("xc")  # the decoder changed its last character
    assert matcher.held == 0
    assert matcher.feed("xcab")


def test_a_long_stop_string_of_repeats():
    stop = "Z" * 255 + "Y"
    matcher = StopMatcher((stop,))
    text = ""
    for _ in range(600):
        text += "Z"
        assert not matcher.feed(text)
    assert matcher.held == 255
    assert matcher.feed(text + "Y")
