"""The knowledge samples made from a document without the teacher."""

from taxon.documents.sections import Section
from taxon.generate.derived import fact_question
from taxon.qna.text import sentence_facts, words

SENTENCE = "The first club, the Fennick Comets, was formed in 1989."
SECTION = Section("glimmerball.md", "Glimmerball: the game and its rules", "Origin", (SENTENCE,))


def test_each_fact_of_a_sentence_is_asked_for_without_being_named():
    facts = sentence_facts(SENTENCE, frozenset({"fennick", "comets"}), {"glimmerball"})
    assert [fact.value for fact in facts] == ["fennick comets", "1989"]
    questions = [fact_question(SECTION, SENTENCE, fact) for fact in facts]
    assert questions == [
        "Glimmerball: the game and its rules, Origin: which name first club formed 1989?",
        "Glimmerball: the game and its rules, Origin: in which year first club fennick comets formed?",
    ]
    for fact, question in zip(facts, questions):
        assert not set(fact.value.split()) & set(words(question))


def test_a_fact_with_too_little_around_it_is_not_asked_for():
    sentence = "It opened in 1952."
    (fact,) = sentence_facts(sentence, frozenset(), set())
    assert fact_question(SECTION, sentence, fact) is None


def test_a_fact_of_a_sentence_of_several_is_restated_by_its_own_clause():
    """The answer restates the fact apart from most of what the sentence says beside it."""
    from taxon.generate.derived import fact_clause

    sentence = "A glimmerball court is a rectangle 30 metres long and 18 metres wide."
    first, second = sentence_facts(sentence, frozenset(), set())
    assert fact_clause(sentence, first) == "A glimmerball court is a rectangle 30 metres long."
    assert fact_clause(sentence, second) == "A glimmerball court is a rectangle 18 metres wide."
    assert fact_question(SECTION, sentence, second).startswith(
        "Glimmerball: the game and its rules, Origin: how many metres"
    )
