"""Skill correctness against trusted references: the content of an answer, not its form. The
issue's cases each get their verdict, and controls (the right form with wrong content, the
question copied back, a seed's answer word for word) score at most 10 %, on tiny models trained
in the test, with the gate failing them."""

import pytest

from support.paths import REPO
from support.runs import make_config
from support.tiny_model import build_tiny_model
from support.trained_models import general_rows, train_tiny, write_general_sets
from taxon.core.settings import EvaluateSettings
from taxon.evaluate import evaluate
from taxon.evaluate.answers import ModelOutputs
from taxon.evaluate.forms import answer_form
from taxon.evaluate.judge import JudgeCase, likelihood_scorings, likelihood_verdicts, parse_verdict
from taxon.evaluate.sets import CHECKER, SEED, skill_eval_set
from taxon.evaluate.skills import (
    EXACT,
    FACTS,
    JUDGE,
    LABEL,
    SOLVER,
    TEMPLATE,
    Verdict,
    copies,
    misses_the_claim,
    score_against_reference,
    scoring_method,
    skill_verdict,
)
from taxon.qna.solvers import solve_arithmetic, solve_comparison, solve_conversion, solve_weekday
from taxon.qna.taxonomy import load_leaf

PLURALS = "compositional_skills/linguistics/plural_nouns"
ADDITION = "foundational_skills/reasoning/arithmetic/two_number_addition"
POEMS = "compositional_skills/writing/poetry/three_line_poem"
DATES = "compositional_skills/grounded/extraction/event_dates"


def _leaf(repo_root, leaf_id):
    return load_leaf(repo_root / "taxonomy" / leaf_id / "qna.yaml")


def test_the_issues_wrong_answers_in_the_right_form_are_wrong(repo_root):
    plurals = answer_form([seed.answer for seed in _leaf(repo_root, PLURALS).seeds])
    dates = answer_form([seed.answer for seed in _leaf(repo_root, DATES).seeds])
    question = "What is the plural form of city?"
    assert scoring_method(plurals, "The plural of city is cities.", question, None) == TEMPLATE
    wrong = score_against_reference(
        TEMPLATE, "The plural of city is city.", "The plural of city is cities.", question, plurals, None
    )
    right = score_against_reference(
        TEMPLATE, "The plural of city is cities.", "The plural of city is cities.", question, plurals, None
    )
    assert (wrong.right, right.right) == (False, True)
    assert "cities ≠ city" in wrong.why
    reference = "The autumn bread tasting is on 2 November."
    said = "The autumn bread tasting is on 21 October."
    assert not score_against_reference(TEMPLATE, said, reference, "What is the date?", dates, None).right


def test_checkers_know_the_answer_in_digits_words_and_units():
    assert solve_arithmetic("What is 39 + 39?").holds("39 + 39 = 78.")
    assert not solve_arithmetic("What is 39 + 39?").holds("39 + 39 = 82.")
    assert solve_arithmetic("Add seven and five.").holds("Seven plus five is twelve.")
    three_miles = solve_conversion("How many feet are in 3 miles?")
    assert three_miles.holds("3 miles is 15,840 feet.")
    assert not three_miles.holds("3 miles × 5,280 feet/mile = 99 feet")
    assert solve_weekday("What day is four days after Sunday?").holds("Four days after Sunday is Thursday.")
    assert not solve_weekday("What day is four days after Sunday?").holds("Thursday or Friday.")
    assert solve_weekday("What day of the week was 4 July 2021?").value == "sunday"
    assert solve_arithmetic("What is 39 + 39?").repair("39 + 39 = 82.") == "39 + 39 = 78."


def test_the_hand_checks_disagreements_are_scored_as_a_reader_would(repo_root):
    """Verdicts hand checks of the demo's report disagreed with: a right date or plural outside the
    seeds' sentence, a right label in a sentence, a right comparison that does not restate the
    other number, and rambles that name the numbers without saying which is larger."""
    dates = answer_form([seed.answer for seed in _leaf(repo_root, DATES).seeds])
    reference, question = "The autumn bread tasting is on 2 November.", "What is the date of the autumn bread tasting?"
    assert score_against_reference(
        TEMPLATE, "The date of the autumn bread tasting is 2 November.", reference, question, dates, None
    ).right
    other = "The date of the autumn bread tasting is 12 October."
    assert not score_against_reference(TEMPLATE, other, reference, question, dates, None).right
    plurals = answer_form([seed.answer for seed in _leaf(repo_root, PLURALS).seeds])
    plural = ("The plural form of city is cities.", "The plural of city is cities.", "What is the plural of city?")
    assert score_against_reference(TEMPLATE, *plural, plurals, None).right
    labels = answer_form(["Positive.", "Negative.", "Neutral."])
    question = "Label the sentiment: I waited two hours and nobody came."
    said = "The sentiment of this sentence is negative. Nobody came."
    assert score_against_reference(LABEL, said, "Negative.", question, labels, None).right
    hedged = "It is negative, or maybe neutral."
    assert not score_against_reference(LABEL, hedged, "Negative.", question, labels, None).right
    larger = solve_comparison("Pick the bigger number: 82 or 39.")
    assert larger.holds("The bigger number is 82.") and larger.holds("82 is larger than 39.")
    assert not larger.holds("The number of items is 82. The size of the item is 39.")
    assert not solve_comparison("Which is greater, 0.5 or 0.25?").holds("The numerator of 0.5 is 0.5, which")
    week = solve_weekday("What day is seven days after Wednesday?")
    assert week.holds("Seven days after Wednesday is Wednesday.") and week.holds("Wednesday")
    assert not week.holds("The day seven days after Wednesday is a classic example of a logical fallacy.")
    assert not solve_comparison("Is 253 or 490 the larger number?").holds("253 is indeed a larger number than 490.")
    assert not solve_comparison("Which is bigger: 6,000 or 6,100?").holds("6,000 is larger than 6,100.")


def test_free_and_short_answers_are_held_to_the_reference():
    assert (
        scoring_method(None, "Four days after Sunday is Thursday.", "What day is four days after Sunday?", None)
        == FACTS
    )
    verdict = score_against_reference(
        FACTS,
        "It is Thursday, or maybe Friday.",
        "Four days after Sunday is Thursday.",
        "What day is four days after Sunday?",
        None,
        None,
    )
    assert not verdict.right and "friday" in verdict.why
    title = answer_form(["The Wind in the Willows", "A Walk Along the River"])
    assert (
        scoring_method(title, "Notes from a Small Harbour", "Put in title case: notes from a small harbour", None)
        == EXACT
    )
    poem = "night train\nthrough the sleeping village\none window lit"
    assert scoring_method(answer_form([poem, "a\nb\nc"]), poem, "Turn into a poem: ...", None) == JUDGE
    assert copies(
        "The night train passes a sleeping village.",
        "Turn into a poem: The night train passes a sleeping village.",
        poem,
    )


def test_the_likelihood_judge_wants_an_answer_that_depends_on_its_question():
    case = JudgeCase("leaf", 0, "q", "ref", "ref", "task", ("q1", "q2"))
    other = JudgeCase("leaf", 0, "q", "ref", "generic", "task", ("q1", "q2"))
    scorings = likelihood_scorings([case, other])
    assert len(scorings) == 6
    # mean log-probabilities after q, q1, q2: the reference -1 against -3 (PMI 2); the generic
    # answer -2 against -2.2 (PMI 0.2, a tenth of the reference's)
    outputs = ModelOutputs([], [-1.0, -3.0, -3.0, -2.0, -2.2, -2.2], [1] * 6)
    verdicts = likelihood_verdicts([case, other], outputs, 0.5)
    assert verdicts[("leaf", 0, "ref")].right and not verdicts[("leaf", 0, "generic")].right
    assert parse_verdict("It names the wrong day.\nVerdict: wrong") == Verdict(False, "judge: It names the wrong day.")
    assert parse_verdict("Same content.\n**Verdict: Right**").right
    assert not parse_verdict("I think so.").right


def test_a_judged_answer_that_leaves_out_the_references_conclusion_is_wrong():
    """The base's answers on real InstructLab reasoning leaves that the likelihood judge passed
    (bench/real_skills.py): each leaves out the number, the label or the yes or no the reference
    concludes; a right answer in other words keeps its verdict."""
    servers = "10 servers require 1 administrator to manage. How many servers can I manage with 10 administrators?"
    reference = "100 servers. If 1 Administrator can manage 10 servers, 10 administrators could handle 10x10=100"
    assert misses_the_claim("10 servers require 10 administrators to manage.", reference, servers)
    assert misses_the_claim("With 10 of them you can manage 100 servers.", reference, servers) is None
    driveway = (
        "Jane has 1 car. When she is at home her car is in the driveway. She is at her office. Cars in the driveway?"
    )
    because = "Jane has one car and it is in the driveway when she is at home. She took it. Therefore the answer is 0."
    assert misses_the_claim("The number of cars in her driveway is the number in her office.", because, driveway)
    assert misses_the_claim("There are no cars in the driveway: 0.", because, driveway) is None
    levels = "For 0 to 2 landmarks, Casual. For 3 to 5, Enthusiast. For 6 to 8, Adventurer. Landmarks visited: 4"
    assert misses_the_claim("The travel exploration level is Explorer.", "Enthusiast", levels)
    assert misses_the_claim("The level is Enthusiast.", "Enthusiast", levels) is None
    squares = "If all squares are rectangles and a rectangle has four sides, do all squares have four sides?"
    yes = "Yes, we can conclude that all squares have four sides based on the given premises."
    assert misses_the_claim("No, the statement is incomplete.", yes, squares) == "says no where the reference says yes"
    assert misses_the_claim("Yes: a square is a rectangle, so it has four sides.", yes, squares) is None
    # working in the middle of a reference is not its conclusion: "30 minutes" is a step of "one hour"
    pills = "A doctor gives you three pills, one every half hour. How long do they last?"
    working = (
        "You take one pill every half hour. So, the second after 30 minutes and the third after another 30 minutes."
    )
    assert misses_the_claim("They last one hour.", working, pills) is None
    # a concluding sentence is the claim over the first; numbers in words are a poem's, not a claim
    assert misses_the_claim("They last 30 minutes.", working + " Therefore the answer is 60 minutes.", pills)
    poem = "night train\nthrough the sleeping village\none window lit"
    assert (
        misses_the_claim("the train goes by\nthe village sleeps\nlights go out", poem, "Poem: a night train.") is None
    )


def test_every_checkable_leaf_has_at_least_ten_scored_items(repo_root, tmp_path):
    for leaf_id, kind in ((ADDITION, SOLVER), ("foundational_skills/reasoning/temporal/days_of_the_week", SOLVER)):
        eval_set = skill_eval_set(_leaf(repo_root, leaf_id), tmp_path, 0.2, 0, EvaluateSettings(skill_min_items=10))
        scored = [item for item in eval_set.items if item.method]
        assert len(scored) >= 10, leaf_id
        assert {item.method for item in scored} == {kind}
        assert {item.source for item in scored} <= {SEED, CHECKER}
        assert all(item.solution.holds(item.reference) for item in scored)


# --- controls on tiny models -------------------------------------------------------------------

STEPS = 80


@pytest.fixture(scope="module")
def skill_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("skill-controls")
    (root / "generate").mkdir()
    leaves = [_leaf(REPO, leaf_id) for leaf_id in (PLURALS, ADDITION, POEMS)]
    config = make_config(max_new_tokens=24, skill_min_items=10, max_per_leaf=0)
    config = config.with_overrides({"dataset": {"eval_share": 0.5}})
    eval_sets = [skill_eval_set(leaf, root / "generate", 0.5, 0, config.evaluate) for leaf in leaves]
    items = [(eval_set, item) for eval_set in eval_sets for item in eval_set.items if item.method]

    def right_answer(eval_set, item):
        if item.source == CHECKER:
            first, second = item.solution.allowed
            return f"{first} + {second} = {item.solution.value}."
        return item.reference

    def wrong_content(eval_set, item):
        if eval_set.set_id == PLURALS:
            noun = item.question.rstrip("?.").split()[-1]
            return f"The plural of {noun} is {noun}."
        if eval_set.set_id == ADDITION:
            return f"1 + 2 = {int(float(item.solution.value)) + 10}."
        return "the old gate\nopens on the empty road\nrain on the roof"

    def seed_answer(eval_set, item):
        leaf = next(leaf for leaf in leaves if leaf.leaf_id == eval_set.set_id)
        return next(seed.answer for seed in leaf.seeds if seed.answer.strip() != item.reference.strip())

    probe, text = write_general_sets(root / "general")
    base = train_tiny(build_tiny_model(root / "random", hidden=64), root / "base", general_rows(), STEPS)
    models = {"base": base}
    answers = {}
    for name, answer in (
        ("learned", right_answer),
        ("wrong_content", wrong_content),
        ("copy_question", lambda eval_set, item: item.question),
        ("seed_answer", seed_answer),
    ):
        rows = [(item.question, answer(eval_set, item)) for eval_set, item in items]
        answers[name] = dict(rows)
        models[name] = train_tiny(base, root / name, rows + general_rows(), STEPS)
    config = config.with_overrides(
        {"evaluate": {"probe_file": str(probe), "text_file": str(text), "skill_judge_model": str(base)}}
    )
    return leaves, root, models, config, answers


def _evaluate(skill_models, name):
    leaves, root, models, config, _ = skill_models
    return evaluate(
        str(models[name]),
        [str(models["base"])],
        root / "generate",
        leaves,
        root / f"eval-{name}",
        config,
        [leaf.leaf_id for leaf in leaves],
        True,
    )


def _said_as_trained(report, answers: dict[str, str]) -> float:
    """The share of the candidate's answers that are what it was trained to say."""
    import json

    rows = [json.loads(line) for line in (report.out_dir / "skills.jsonl").read_text().splitlines()]
    said = [row["answers"][report.data["candidate"]]["answer"].strip() for row in rows]
    return sum(answer == answers[row["question"]].strip() for answer, row in zip(said, rows)) / len(rows)


def test_a_model_that_learned_the_answers_scores_on_the_checkable_leaves(skill_models):
    _, _, models, _, answers = skill_models
    report = _evaluate(skill_models, "learned")
    assert _said_as_trained(report, answers["learned"]) >= 0.8
    for leaf_id in (PLURALS, ADDITION):
        assert report.data["sets"][leaf_id]["scores"][str(models["learned"])]["skill_accuracy"] >= 0.8, leaf_id


@pytest.mark.parametrize("control", ["wrong_content", "copy_question", "seed_answer"])
def test_controls_score_at_most_a_tenth_and_fail_the_gate(skill_models, control):
    leaves, _, models, _, answers = skill_models
    report = _evaluate(skill_models, control)
    assert _said_as_trained(report, answers[control]) >= 0.8  # the control says what it should
    assert not report.passed
    candidate = str(models[control])
    for leaf in leaves:
        entry = report.data["sets"][leaf.leaf_id]
        assert entry["n"] >= 4, leaf.leaf_id
        assert entry["scores"][candidate]["skill_accuracy"] <= 0.1, (leaf.leaf_id, entry["examples"])
        assert any(reason.startswith(f"changed leaf {leaf.leaf_id} did not improve") for reason in report.gate.reasons)


def test_a_scored_verdict_says_why(repo_root, tmp_path):
    eval_set = skill_eval_set(_leaf(repo_root, ADDITION), tmp_path, 1.0, 0, EvaluateSettings(skill_min_items=0))
    index = next(i for i, item in enumerate(eval_set.items) if item.question == "Calculate 39 + 39.")
    assert skill_verdict(eval_set, index, "39 + 39 = 82.", {}).why.startswith("breaks equation")
    assert skill_verdict(eval_set, index, "Calculate 39 + 39.", {}).why == "copies the question"
    assert skill_verdict(eval_set, index, "17 + 25 = 42.", {}).why == "a seed's answer, word for word"
    assert skill_verdict(eval_set, index, "39 + 39 = 78.", {}).right


def test_a_free_form_answer_is_right_only_in_its_form(repo_root, tmp_path):
    """Seen on the demo: a one-line sentence passed the likelihood judge as a three-line poem."""
    eval_set = skill_eval_set(_leaf(repo_root, POEMS), tmp_path, 1.0, 0, EvaluateSettings(skill_min_items=0))
    index = next(i for i, item in enumerate(eval_set.items) if "night train" in item.question)
    answer = "The night train passes a sleeping village, a beacon of hope in the night."
    judged = {(eval_set.set_id, index, answer): Verdict(True, "judge: PMI 2.78 against the reference's 2.22")}
    assert skill_verdict(eval_set, index, answer, judged) == Verdict(False, "not in the form (3 lines)")
