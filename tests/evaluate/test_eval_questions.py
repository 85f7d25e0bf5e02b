"""taxon evaluate --questions FILE: a user's own questions with their answers, scored as the
knowledge facts are (key facts in the answer, multiple choice), on a tiny model trained in the
test to know them, apart from the taxonomy's totals; a bad file is a clear error."""

import json

import pytest

from support.runs import make_config
from support.tiny_model import build_tiny_model
from support.trained_models import general_rows, train_tiny, write_general_sets
from taxon.cli import main
from taxon.evaluate import evaluate

QUESTIONS = [
    ("How tall is the Grell tower?", "The Grell tower is 48 metres tall."),
    ("When did the Grell ferry start?", "The Grell ferry started in 1911."),
    ("How many bells hang in Grell chapel?", "Grell chapel has 7 bells."),
    ("Who founded the town of Grell?", "Grell was founded by Osric Vale."),
    ("How long is the Grell bridge?", "The Grell bridge is 120 metres long."),
    ("How many people live in Grell?", "About 3,600 people live in Grell."),
]


@pytest.fixture(scope="module")
def models(eval_inputs, tmp_path_factory):
    root = tmp_path_factory.mktemp("questions")
    probe, text = write_general_sets(root / "general")
    base = train_tiny(build_tiny_model(root / "random", hidden=64), root / "base", general_rows(), 80)
    learned = train_tiny(base, root / "learned", QUESTIONS + general_rows(), 80)
    mine = root / "mine.jsonl"
    mine.write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in QUESTIONS))
    # the control: the same questions whose answers hold other facts, in the same form
    wrong = root / "wrong.yaml"
    swaps = {
        "48": "53",
        "1911": "1877",
        "7 bells": "5 bells",
        "Osric Vale": "Tamsin Reed",
        "120": "85",
        "3,600": "2,100",
    }
    rows = []
    for question, answer in QUESTIONS:
        for old, new in swaps.items():
            answer = answer.replace(old, new)
        rows.append(f"- question: {question!r}\n  answer: {answer!r}\n")
    wrong.write_text("".join(rows))
    config = make_config(probe_file=str(probe), text_file=str(text), max_new_tokens=24, max_per_leaf=4)
    return base, learned, mine, wrong, config, root


def test_a_users_questions_are_scored_as_the_knowledge_facts_apart_from_the_totals(eval_inputs, models):
    leaves, dataset = eval_inputs
    base, learned, mine, wrong, config, root = models
    report = evaluate(str(learned), [str(base)], dataset, leaves, root / "eval", config, quiet=True, questions=[mine])
    plain = evaluate(str(learned), [str(base)], dataset, leaves, root / "eval-plain", config, quiet=True)
    entry = report.data["sets"]["questions/mine"]
    assert entry["kind"] == "knowledge" and entry["n"] == len(QUESTIONS) and entry["metric"] == "fact_accuracy"
    assert entry["scores"][str(learned)]["fact_accuracy"] >= 0.5
    assert entry["scores"][str(base)]["fact_accuracy"] <= 0.2
    assert entry["scores"][str(learned)]["mc_acc"] > entry["scores"][str(base)]["mc_acc"]
    assert report.data["totals"] == plain.data["totals"]  # the taxonomy's figures are its own
    assert report.passed == plain.passed
    assert "questions/mine" in (root / "eval" / "report.md").read_text()


def test_a_wrong_reference_scores_the_learned_answers_wrong(eval_inputs, models):
    leaves, dataset = eval_inputs
    base, learned, mine, wrong, config, root = models
    report = evaluate(
        str(learned), [str(base)], dataset, leaves, root / "eval-wrong", config, quiet=True, questions=[wrong]
    )
    assert report.data["sets"]["questions/wrong"]["scores"][str(learned)]["fact_accuracy"] <= 0.2


def test_a_questions_file_without_answers_is_a_clear_error(eval_inputs, models, tmp_path, capsys, repo_root):
    _, dataset = eval_inputs
    base, learned, *_ = models
    bad = tmp_path / "bad.yaml"
    bad.write_text("- question: How tall is it?\n")
    code = main(
        ["evaluate", "--candidate", str(learned), "--baseline", str(base), "--data", str(dataset), "--out"]
        + [str(tmp_path / "out"), "--questions", str(bad), "--config", str(repo_root / "taxon.toml"), "--quiet"]
    )
    error = capsys.readouterr().err
    assert code != 0 and "row 1 needs a question and an answer" in error and "Traceback" not in error
