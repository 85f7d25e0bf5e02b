"""Checks an answer is held to without a model, and the pipeline applying them with
agreement among sampled answers, on a unit-conversion leaf with the scripted teacher."""

import json
import re
from fractions import Fraction

import yaml

from support.scripted_teacher import ScriptedTeacher
from taxon.core.store import read_jsonl
from taxon.generate.filters import complete_sentences, same_answer
from taxon.generate.run import generate_leaves
from taxon.generate.steps import added_words, answer_form_words
from taxon.qna.checks import LeafChecks, failed
from taxon.qna.taxonomy import load_leaves

CONVERSIONS = [
    ("Convert 3 km to metres.", "3 km = 3000 m."),
    ("How many metres is 250 cm?", "250 cm = 2.5 m."),
    ("Express 7 cm in millimetres.", "7 cm = 70 mm."),
    ("How many kilometres is 1500 m?", "1500 m = 1.5 km."),
]


def test_always_on_checks_catch_wrong_figures():
    checks = LeafChecks()
    for right in (
        "90 cm = 0.9 m.",
        "17 + 25 = 42.",
        "41 is larger than 14.",
        "-3 is larger than -8.",
        "37 is odd.",
        "Two days after Friday is Sunday.",
        "If today is Wednesday, yesterday was Tuesday.",
        "One week after Monday is Monday.",
        "3 miles × 5,280 feet/mile = 15,840 feet.",
        "14 kilometers is approximately 8.69 miles.",
        "20% of 150 is 30.",
        "Seven plus five is twelve.",
        "4 July 2021 was a Sunday.",
    ):
        assert failed(checks.results("", right)) is None, right
    wrong = {
        "90 cm = 90 m.": "check_conversion",
        "250 cm = 150.00015 m.": "check_conversion",
        "3 km = 3 kg.": "check_conversion",
        "3 km = 3 km.": "check_conversion",  # seen from the demo's candidate, asked for metres
        "17 + 25 = 43.": "check_equation",
        "14 is larger than 41.": "check_comparison",
        "38 is odd.": "check_parity",
        "Four days after Sunday is Sunday.": "check_weekday",  # both seen from the demo's candidate
        "The day before Saturday is Sunday.": "check_weekday",
        "If today is Saturday, tomorrow is Monday.": "check_weekday",
        # the real-leaf answers: imperial units, equations carrying units
        "3 miles × 5,280 feet/mile = 99 feet": "check_equation",
        "2 miles = 2 meters": "check_conversion",
        "20% of 150 is 35.": "check_percentage",
        "Seven plus five is eleven.": "check_word_arithmetic",
        "4 July 2021 was a Monday.": "check_dated_weekday",
    }
    for answer, reason in wrong.items():
        assert failed(checks.results("", answer)) == reason, answer
    assert checks.results("", "A poem about the sea.") == {}


def test_checks_learned_from_the_seeds():
    checks = LeafChecks.from_seeds(CONVERSIONS)
    assert checks.checkable and checks.carries_numbers
    assert failed(checks.results("Convert 6 km to metres.", "6 km = 6000 m.")) is None
    assert failed(checks.results("Convert 6 km to metres.", "6 km is 6000 metres, as 1 km is 1000 m.")) == "check_form"
    assert failed(checks.results("Convert 6 km to metres.", "6 km = 6000 m. " * 3)) == "check_form"
    assert checks.max_words == 8 and not checks.lower_case  # 1.5 times the longest seed answer (5 words)
    poems = LeafChecks.from_seeds(
        [
            ("Poem: rain.", "rain at dawn\nfalls on the harbour\nboats sleep"),
            ("Poem: snow.", "first snow\non the empty playground\nno footprints yet"),
            ("Poem: a cat.", "afternoon sun\na cat in its warm patch\nthe clock ticks on"),
        ]
    )
    assert (
        poems.lower_case
        and failed(poems.results("Poem: rain.", "Rain at dawn\nfalls\nboats sleep")) == "check_lower_case"
    )
    rambling = "It is a poem about the rain at dawn and the boats that sleep in the harbour, a fine one."
    assert failed(poems.results("Poem: rain.", rambling.lower())) == "check_length"
    # every seed poem has three lines: the 135M teacher's two-line "poems" are not kept
    two_lines = "the wind will carry the kites away,\nthe sky will never be the same."
    assert poems.lines == 3 and failed(poems.results("Poem: kites.", two_lines)) == "check_lines"
    assert failed(poems.results("Poem: kites.", "windy hill\n\nchildren with kites\nthe sky pulls back")) is None
    assert failed(checks.results("Convert 6 km to metres.", "5 km = 5000 m.")) == "check_question_numbers"
    free = LeafChecks.from_seeds([("Write a poem.", "Waves fold under the grey morning light, again and again.")] * 3)
    assert not free.checkable and free.results("Write a poem.", "Anything at all, in any form it likes.") == {
        "length": True
    }
    knowledge = LeafChecks.from_seeds([], knowledge=True)
    passage = "The court is 30 metres long and 18 metres wide."
    assert failed(knowledge.results("How long?", "It is 30 metres long.", passage)) is None
    assert failed(knowledge.results("How long?", "It is 50 feet long.", passage)) == "check_source_numbers"


def test_salvage_and_agreement_helpers():
    assert complete_sentences("The finch eats seeds. In summer it also eats cater") == "The finch eats seeds."
    assert complete_sentences("No sentence ends here") == ""
    assert same_answer("4 m = 400 cm.", "4 m = 400 cm") and not same_answer("4 m = 400 cm.", "4 m = 40 cm.")


def _conversion_leaf(tmp_path):
    seeds = [
        {"question": "What is 4 m in centimetres? [units-right]", "answer": "4 m = 400 cm."},
        {"question": "How many centimetres is 4 m? [units-right]", "answer": "4 m = 400 cm."},
        {"question": "Convert 90 cm to metres. [units-wrong]", "answer": "90 cm = 0.9 m."},
        {"question": "Convert a few centimetres to millimetres. [flaky]", "answer": "4 cm = 40 mm."},
    ]
    path = tmp_path / "taxonomy/compositional_skills/conversion/lengths/qna.yaml"
    path.parent.mkdir(parents=True)
    task = "Convert a length between units, in the form X unit = Y unit."
    path.write_text(yaml.safe_dump({"version": 3, "created_by": "t", "task_description": task, "seed_examples": seeds}))
    return load_leaves(tmp_path / "taxonomy"), len(seeds), "compositional_skills/conversion/lengths"


def test_wrong_and_unstable_answers_are_dropped_with_their_reason(tmp_path, make_config):
    """The seeds show conversions, so a checker knows each answer it can compute: a right one
    is verified without sampling it again, a wrong one dropped; an answer no checker can
    compute ("a few centimetres") is held to agreement among sampled answers."""
    leaves, count, leaf = _conversion_leaf(tmp_path)
    teacher = ScriptedTeacher()
    out = tmp_path / "out"
    config = make_config(agreement_samples=2, on_wrong_answer="drop", checker_variants_per_seed=0)
    generate_leaves(leaves, out, config, teacher, quiet=True)

    stats = json.loads((out / leaf / "stats.json").read_text())
    assert stats["dropped"]["checker_wrong"] == 3 and stats["dropped"]["disagreement"] == 3
    assert stats["kept_how"] == {"checker": 6}
    kept = read_jsonl(out / leaf / "samples.jsonl")
    assert kept and all(row["messages"][1]["content"] == "4 m = 400 cm." for row in kept)
    for row in kept:  # why each was kept, for the review page
        meta = row["metadata"]
        assert meta["checks"] == {"conversion": True, "form": True, "question_numbers": True, "length": True}
        assert meta["verified_by"] == "checker" and meta["agreement"] is None and meta["judge_score"] is None
    answers = [r for r in teacher.requests if r.messages[0]["role"] == "system"]
    assert len(answers) == 3 * 3 + 3 * 3  # the checkable answers once, the flaky ones three times


def test_a_wrong_answer_a_checker_knows_is_repaired_and_marked(tmp_path, make_config):
    leaves, _, leaf = _conversion_leaf(tmp_path)
    out = tmp_path / "out"
    generate_leaves(
        leaves,
        out,
        make_config(agreement_samples=2, on_wrong_answer="repair", checker_variants_per_seed=0),
        ScriptedTeacher(),
        quiet=True,
    )
    stats = json.loads((out / leaf / "stats.json").read_text())
    # the three repaired answers read alike: one of them is a near-duplicate of another
    assert stats["kept_how"] == {"checker": 6, "repaired": 2} and stats["dropped"] == {
        "disagreement": 3,
        "near_duplicate": 1,
    }
    repaired = [row for row in read_jsonl(out / leaf / "samples.jsonl") if "repaired_from" in row["metadata"]]
    assert {row["messages"][1]["content"] for row in repaired} == {"90 cm = 0.9 m."}
    assert {row["metadata"]["repaired_from"] for row in repaired} == {"90 cm = 90 m."}


def test_a_checkable_leaf_trains_on_its_seeds_with_new_figures_answered_by_its_checker(
    tmp_path, make_config, repo_root
):
    leaf = "foundational_skills/reasoning/arithmetic/two_number_addition"
    leaves = [found for found in load_leaves(repo_root / "taxonomy") if found.leaf_id == leaf]
    out = tmp_path / "out"
    config = make_config(eval_share=0.2, checker_variants_per_seed=4, checker_variants_reshaped_share=0.5)
    generate_leaves(leaves, out, config, ScriptedTeacher(), quiet=True)
    variants = [row for row in read_jsonl(out / leaf / "samples.jsonl") if row["metadata"]["source"] == "checker"]
    dropped = [row for row in read_jsonl(out / leaf / "dropped.jsonl") if row["metadata"]["source"] == "checker"]
    # up to four for each of the 8 training seeds; one phrased too like a question evaluation keeps is not trained
    assert len(variants) >= 24 and len(variants) + len(dropped) <= 4 * 8
    assert {row["metadata"]["reason"] for row in dropped} <= {"held_out"}
    reshaped = 0
    for row in variants:
        question, answer = row["messages"][0]["content"], row["messages"][1]["content"]
        said = re.findall(r"-?\d+(?:\.\d+)?", answer)
        first, second, total = map(Fraction, said)
        assert first + second == total and said[0] in question and said[1] in question, answer
        assert re.fullmatch(r"-?\d+(\.\d+)? \+ -?\d+(\.\d+)? = -?\d+(\.\d+)?\.", answer)  # no float noise
        assert row["metadata"]["form"] == "checker_variant" and row["metadata"]["verified_by"] == "checker"
        reshaped += first < 0 or second < 0 or first.denominator > 1 or second.denominator > 1
    assert reshaped >= len(variants) // 4  # the seeds' numbers are all whole and positive
    assert json.loads((out / leaf / "stats.json").read_text())["kept_how"]["checker"] >= len(variants)


def test_a_checker_variant_that_fails_the_leafs_checks_is_dropped_with_its_reason(
    tmp_path, make_config, repo_root, monkeypatch
):
    """The variants are held to the leaf's checks as a teacher's answers are: one whose
    equation does not add up (as "76 + 76 = 169." for "Calculate 93 + 76." once did) is not trained."""
    from taxon.generate import skills

    leaf = "foundational_skills/reasoning/arithmetic/two_number_addition"
    leaves = [found for found in load_leaves(repo_root / "taxonomy") if found.leaf_id == leaf]
    monkeypatch.setattr(
        skills,
        "worked_variants",
        lambda *args: [("Calculate 93 + 76.", "76 + 76 = 169."), ("Add 5 and 6.", "5 + 6 = 11.")],
    )
    out = tmp_path / "out"
    generate_leaves(leaves, out, make_config(checker_variants_per_seed=2), ScriptedTeacher(), quiet=True)
    kept = {row["messages"][1]["content"] for row in read_jsonl(out / leaf / "samples.jsonl")}
    dropped = [row for row in read_jsonl(out / leaf / "dropped.jsonl") if row["metadata"]["source"] == "checker"]
    assert "5 + 6 = 11." in kept and "76 + 76 = 169." not in kept
    wrong = [row for row in dropped if row["messages"][1]["content"] == "76 + 76 = 169."]
    assert wrong and {row["metadata"]["reason"] for row in wrong} == {"check_equation"}


def test_checker_variants_spread_their_answers_over_the_labels():
    """A model trained on variants that are mostly "odd" (or mostly "the first number") learns to
    say that to everything: the variants of each seed alternate between the answers."""
    from collections import Counter

    from taxon.qna.solvers import solve_comparison, worked_variants

    parity = worked_variants("Is 37 odd or even?", "37 is odd.", "parity", 6, 1000)
    assert Counter(answer.split()[-1] for _, answer in parity) == {"odd.": 3, "even.": 3}
    larger = worked_variants("Which is larger, 41 or 14?", "41 is larger than 14.", "comparison", 6, 1000)
    firsts = 0
    for question, answer in larger:
        first, second = (int(n) for n in re.findall(r"\d+", question))
        assert answer == f"{max(first, second)} is larger than {min(first, second)}."
        firsts += first > second
    assert firsts == 3  # the seed's first-is-larger answer swapped for half of them
    assert solve_comparison("Which is larger, 12 or 70?").repair("12 is larger than 70.") == "70 is larger than 12."


def _skill_leaf(tmp_path, leaf, task, seeds):
    path = tmp_path / "taxonomy" / leaf / "qna.yaml"
    path.parent.mkdir(parents=True)
    rows = [{"question": question, "answer": answer} for question, answer in seeds]
    path.write_text(yaml.safe_dump({"version": 3, "created_by": "t", "task_description": task, "seed_examples": rows}))
    return load_leaves(tmp_path / "taxonomy")


PLURALS = [
    ("What is the plural of mouse? [restate]", "The plural of mouse is mice."),
    ("What is the plural of child? [restate]", "The plural of child is children."),
    ("What is the plural of tooth? [restate]", "The plural of tooth is teeth."),
    ("What is the plural of knife? [restate]", "The plural of knife is knives."),
    ("What is the plural of sheep? [restate]", "The plural of sheep is sheep."),  # an exception, not the rule
]


def test_an_answer_that_says_nothing_beyond_its_question_is_dropped_as_a_copy(tmp_path, make_config):
    """The demo's 135M teacher answered "Give the plural of boy." with "The plural of boy is
    boy." (three such kept before): where the seeds' answers say a word of their own beyond
    their question and their shared form, an answer that says none is dropped as copies_input.
    The scripted teacher does the same where a question says [restate]: it puts the question's
    last word in place of the example's; otherwise a word of its own, and the answer is kept."""
    leaf = "compositional_skills/linguistics/plurals"
    leaves = _skill_leaf(tmp_path, leaf, "Give the plural of a noun.", PLURALS)
    out = tmp_path / "out"
    generate_leaves(leaves, out, make_config(min_kept_per_leaf=0), ScriptedTeacher(), quiet=True)
    stats = json.loads((out / leaf / "stats.json").read_text())
    assert stats["kept"] == 0 and stats["dropped"] == {"copies_input": 15}
    dropped = read_jsonl(out / leaf / "dropped.jsonl")
    assert all(row["messages"][1]["content"].startswith("The plural of ") for row in dropped)
    assert {row["metadata"]["step"] for row in dropped} == {"copy"}
    plain = [(question.replace(" [restate]", ""), answer) for question, answer in PLURALS]
    leaves = _skill_leaf(tmp_path / "plain", leaf, "Give the plural of a noun.", plain)
    generate_leaves(leaves, tmp_path / "plain-out", make_config(min_kept_per_leaf=0), ScriptedTeacher(), quiet=True)
    assert json.loads((tmp_path / "plain-out" / leaf / "stats.json").read_text())["kept"] == 15

    asked = [(question, answer) for question, answer in PLURALS]
    assert answer_form_words(asked) == {"the", "plural", "of", "is"}
    assert not added_words("The plural of boy is boy.", "Give the plural of boy.", answer_form_words(asked))
    assert added_words("The plural of boy is boys.", "Give the plural of boy.", answer_form_words(asked)) == {"boys"}
    # stopwords add nothing: seen on a real InstructLab synonyms leaf
    assert not added_words("Synonym for Scout is scout.", "List a synonym for the word 'scout'.", frozenset())
    # answers that restate their question are the task: title case, parity, comparisons
    title_case = [("Title case: the old man and the sea", "The Old Man and the Sea")] * 3
    parity = [("Is 58 odd or even?", "58 is even."), ("Is 7 odd or even?", "7 is odd."), ("Is 3 odd?", "3 is odd.")]
    assert answer_form_words(title_case) is None and answer_form_words(parity) is None
    assert answer_form_words(PLURALS[:2]) is None  # too few seeds to tell


def test_a_question_sharing_words_only_with_the_seeds_answers_is_off_topic(tmp_path, make_config):
    """A skill's new question must share words with the task or the seeds' questions: the demo's
    teacher asked "You're ready to start! What do you need from me today?" of the poem leaf, and
    "start" (from a seed poem's "starts to whistle") made it a poem task."""
    leaf = "compositional_skills/writing/volcano_haiku"
    seeds = [
        (
            f"Write a haiku from: {line} [offtopic]",
            f"{line.lower()}\nhow do volcanoes erupt\nthe tallest mountain waits",
        )
        for line in ("The rain fell at dawn.", "A cat sleeps in the sun.", "Snow covers the playground.")
    ]
    leaves = _skill_leaf(tmp_path, leaf, "Turn a sentence into a haiku.", seeds)
    out = tmp_path / "out"
    generate_leaves(leaves, out, make_config(min_kept_per_leaf=0), ScriptedTeacher(), quiet=True)
    stats = json.loads((out / leaf / "stats.json").read_text())
    # all three questions of each seed; "What is the tallest mountain in Europe?" and "How do
    # volcanoes erupt?" share words with the seed poems alone
    assert stats["kept"] == 0 and stats["dropped"]["off_topic"] == 9
