import pytest

from taxon.core.config import load_config
from taxon.evaluate.forms import answer_form
from taxon.evaluate.sets import knowledge_eval_set
from taxon.qna.taxonomy import load_leaves
from taxon.qna.text import fact_match, key_facts, number_facts


def test_numbers_are_normalised_with_their_units():
    assert [f.value for f in number_facts("30 metres long, 2.5 m high, fourteen countries, 2,300 pairs")] == [
        "30 m",
        "2.5 m",
        "14",
        "2300",
    ]
    assert [f.value for f in number_facts("twenty-four points in 3 minutes 40 seconds")] == [
        "24 point",
        "3 min",
        "40 s",
    ]


@pytest.mark.parametrize(
    "answer, right",
    [
        ("It is 30 m long.", True),
        ("A court is thirty metres long.", True),
        ("30", True),  # the number without a unit counts
        ("It is 30 feet long.", False),  # another unit does not
        ("It is 50 metres long.", False),
        ("", False),
    ],
)
def test_a_number_fact_needs_the_number_and_no_other_unit(answer, right):
    assert fact_match(answer, ("number:30 m",)) == float(right)


def test_key_facts_are_what_the_question_does_not_already_say():
    assert key_facts("Glimmerball was invented by Marguerite Olande.", "Who invented glimmerball?") == (
        "name:marguerite olande",
    )
    assert key_facts("The ball is called the glimmer.", "What is the ball called?") == ("name:glimmer",)
    assert key_facts("No, body contact is not allowed.", "Is body contact allowed?") == ("polarity:no",)
    assert fact_match("Body contact is not allowed.", ("polarity:no",)) == 1.0
    assert fact_match("Yes, it is.", ("polarity:no",)) == 0.0
    # a possessive in the question still says the name
    assert key_facts("Brindlemoor is nicknamed the Slate Town.", "What is Brindlemoor's nickname?") == (
        "name:slate town",
    )


def test_a_year_beside_another_number_is_a_key_fact_only_when_the_question_asks_when():
    reference = "Brindlemoor had a population of 8,400 at the 2021 census."
    assert key_facts(reference, "What is the population of Brindlemoor?") == ("number:8400",)
    assert key_facts(reference, "When was the population of Brindlemoor 8,400?") == ("number:2021",)
    assert key_facts(reference, "In which year's census did Brindlemoor have 8,400 people?") == ("number:2021",)
    # a year alone is the answer whatever the question
    assert key_facts("The mill closed in 1968.", "What happened to the mill?") == ("number:1968",)


def test_every_seed_knowledge_leaf_has_at_least_twenty_fact_questions(repo_root):
    config = load_config("cpu", repo_root / "taxon.toml")
    leaves = [leaf for leaf in load_leaves(repo_root / "taxonomy") if leaf.kind == "knowledge"]
    assert len(leaves) == 4
    for leaf in leaves:
        eval_set = knowledge_eval_set(leaf, config.documents, config.dataset.eval_share, 0)
        assert len(eval_set.items) >= 20, leaf.leaf_id
        assert {item.source for item in eval_set.items} == {"seed", "document"}
        assert all(item.key_facts and len(item.choices) == 4 for item in eval_set.items)
        assert len({item.question for item in eval_set.items}) == len(eval_set.items)
        assert all(context not in item.question for item in eval_set.items for context in [leaf.seeds[0].context])


@pytest.mark.parametrize(
    "answers, kind, good, bad",
    [
        (["3 km = 3000 m.", "250 cm = 2.5 m.", "4 m = 400 cm."], "template", "7 cm = 70 mm.", "Sure! 7 cm = 70 mm."),
        (["37 is odd.", "128 is even."], "template", "451 is odd.", "It is odd."),
        (["Positive.", "Negative.", "Neutral."], "label", "Negative", "It is negative."),
        (["42", "7"], "number", "12.", "twelve"),
        (["rain at dawn\nfalls\nboats sleep", "a\nb\nc"], "lines", "x\ny\nz", "x y z"),
        (["The Wind in the Willows", "A Walk Along the River"], "title_case", "Notes from a Small Harbour", "notes"),
    ],
)
def test_the_answer_form_comes_from_the_seed_answers(answers, kind, good, bad):
    form = answer_form(answers)
    assert form.kind == kind and all(form.check(answer) for answer in answers)
    assert form.check(good) and not form.check(bad)
