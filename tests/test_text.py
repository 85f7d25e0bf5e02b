"""taxon.qna.text: one vocabulary for every comparison of words, and key facts that come from
a reference's content words and noun phrases (a real tagger), never from the question."""

import re
from pathlib import Path

from taxon.qna.text import content_terms, fact_match, key_facts, noun_phrases, words

PACKAGE = Path(__file__).resolve().parents[1] / "tools" / "taxon"


def test_words_keep_numbers_and_contractions_whole():
    assert words("Don’t pay £2.50 for 8,400 black-capped owls!") == [
        "don't",
        "pay",
        "2.50",
        "for",
        "8,400",
        "black",
        "capped",
        "owls",
    ]


def test_one_module_holds_the_word_lists_and_tokenisers():
    """No second stopword list or `words` tokeniser grows elsewhere in the package."""
    for path in PACKAGE.rglob("*.py"):
        if path.name == "text.py":
            continue
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"^STOPWORDS\s*=", source, re.M), path
        assert not re.search(r"^def words\(", source, re.M), path


def test_a_reference_without_numbers_or_names_is_held_to_its_content_terms():
    """The issue's case: the three longest words ("primarily, predation, including") made a right
    answer score 0; the tagger's nouns of noun phrases are the facts."""
    reference = "Black-capped chickadees are preyed on primarily by owls, hawks and shrikes."
    facts = key_facts(reference, "What preys on black-capped chickadees?")
    assert facts == ("term:owls", "term:hawks", "term:shrikes")
    question = "What preys on black-capped chickadees?"
    assert fact_match("Owls, hawks and shrikes prey on black-capped chickadees.", facts, question) == 1.0
    assert fact_match("Owls and hawks hunt them.", facts, question) == 1.0  # two of the three
    assert fact_match("Snakes and cats prey on black-capped chickadees.", facts, question) == 0.0
    assert fact_match("Chickadees are preyed on primarily, including predation.", facts, question) == 0.0


def test_text_the_question_already_holds_is_never_credited():
    """A cloze whose sentence holds the blank's number elsewhere: copying the question back is
    not an answer (the issue's base copying "2.50")."""
    question = 'Fill in the blank: "An adult pays 2.50 and a child ____, a dog 2.50."'
    facts = ("number:2.5",)
    assert fact_match(question, facts, question) == 0.0
    assert fact_match("An adult pays 2.50 and a child 2.50, a dog 2.50.", facts, question) == 1.0


def test_noun_phrases_and_content_terms_drop_grammar():
    assert noun_phrases("The Zephyr K3 holds 1.7 litres of water.") == ["zephyr k3", "1.7 litres", "water"]
    assert "primarily" not in content_terms("Predation comes primarily from owls, including barn owls.")
