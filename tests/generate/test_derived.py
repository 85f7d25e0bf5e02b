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


KETTLE = [
    "The Zephyr K3 is a smart electric kettle made by Quillfeather Appliances and released in March 2023.",
    "It holds 1.7 litres of water, draws 2,200 watts and boils a full kettle in 3 minutes 40 seconds.",
    "The body is brushed steel with a cool-touch handle, and it weighs 1.1 kilograms when empty.",
    "E3 means the temperature sensor has failed: contact Quillfeather support.",
    "Descale the Zephyr K3 every four weeks in hard-water areas and every three months elsewhere.",
]


def test_the_subject_is_named_as_the_document_says_it_and_by_the_noun_it_is():
    from taxon.generate.derived import document_subject

    subject = document_subject("zephyr k3 kettle", "appliances", KETTLE)
    assert (subject.name, subject.said, subject.kind) == ("Zephyr K3", "The Zephyr K3", "kettle")
    town = ["The town hall is old.", "Brindlemoor railway station opened in 1861.", "Trains run to Kestlebury."]
    subject = document_subject("brindlemoor", "fictional_towns", town)
    assert (subject.name, subject.kind) == ("Brindlemoor", "town")  # no "X is a ..." sentence: the folder's noun
    assert subject.mention(town[0]) is None and subject.mention(town[1]) is None  # modifiers, not the subject


def test_the_subject_is_asked_for_from_what_each_sentence_says_of_it():
    """Reverse look-ups: a model taught "X is known as Y" does not answer "what is known as Y?"."""
    from taxon.generate.derived import document_subject, lookup

    subject = document_subject("zephyr k3 kettle", "appliances", KETTLE)
    assert lookup(subject, KETTLE[0], linked=True) == (
        "Which kettle is a smart electric kettle made by Quillfeather Appliances?",
        KETTLE[0],
    )
    question, answer = lookup(subject, KETTLE[1], linked=True)  # "It" stands for the subject
    assert question == "Which kettle holds 1.7 litres of water?"
    assert answer.startswith("The Zephyr K3 holds 1.7 litres of water")
    assert lookup(subject, KETTLE[2], linked=False) is None  # says nothing of the subject by name
    question, answer = lookup(subject, KETTLE[4], linked=False)
    assert question == "Descale which kettle every four weeks in hard-water areas?" and answer == KETTLE[4]


def test_each_fact_is_asked_in_its_own_clause_as_a_reader_asks_for_it():
    from taxon.generate.derived import document_subject, echo_question

    subject = document_subject("zephyr k3 kettle", "appliances", KETTLE)
    names = frozenset({"zephyr", "quillfeather"})
    topic = {"zephyr", "k3", "kettle"}
    asked = {
        sentence: [echo_question(subject, sentence, fact, linked) for fact in sentence_facts(sentence, names, topic)]
        for sentence, linked in zip(KETTLE, (True, True, False, False, False))
    }
    assert asked[KETTLE[1]][:2] == [
        "The Zephyr K3 holds how many litres of water?",
        "The Zephyr K3 holds 1.7 litres of water, draws how many watts?",
    ]
    assert asked[KETTLE[2]] == ["Zephyr K3: it weighs how many kilograms when empty?"]
    assert asked[KETTLE[3]][0] == "Zephyr K3: which code means the temperature sensor has failed?"
    for sentence, questions in asked.items():
        for fact, question in zip(sentence_facts(sentence, names, topic), questions):
            assert question is None or sentence[fact.start : fact.end] not in question
