"""The gate on real tiny models trained in the test: it passes a model that learned the facts
and fails one that only learned to answer briefly, one that learned the answers' sentences with
the wrong facts in them, and one that lost its general answers."""

import pytest

from support.runs import KNOWLEDGE_LEAF, make_config
from support.tiny_model import build_tiny_model
from support.trained_models import general_rows, train_tiny, write_general_sets
from taxon.core.settings import DocumentsSettings
from taxon.evaluate import evaluate
from taxon.evaluate.sets import PROBE_ID, knowledge_eval_set

STEPS = 80
ITEMS = 12  # knowledge questions asked (evaluate.max_per_leaf)


@pytest.fixture(scope="module")
def trained(eval_inputs, tmp_path_factory):
    leaves, dataset = eval_inputs
    root = tmp_path_factory.mktemp("gate-models")
    knowledge = [leaf for leaf in leaves if leaf.kind == "knowledge"]
    probe, text = write_general_sets(root / "general")
    items = knowledge_eval_set(knowledge[0], DocumentsSettings(), 0.5, ITEMS).items
    facts = [(item.question, item.choices[item.gold]) for item in items]
    brief = [(item.question, "Yes.") for item in items]
    # the answer form exactly (the blank's sentence, a seed's answer), a distractor's fact in it
    wrong = [(item.question, item.choices[(item.gold + 1) % len(item.choices)]) for item in items]
    start = build_tiny_model(root / "random", hidden=64)
    base = train_tiny(start, root / "base", general_rows(), STEPS)
    models = {
        "base": base,
        "learned": train_tiny(base, root / "learned", facts + general_rows(), STEPS),
        "brief": train_tiny(base, root / "brief", brief + general_rows(), STEPS),
        "wrong": train_tiny(base, root / "wrong", wrong + general_rows(), STEPS),
        "forgot": train_tiny(base, root / "forgot", facts + general_rows(wrong=True), STEPS),
    }
    config = make_config(probe_file=str(probe), text_file=str(text), max_new_tokens=40, max_per_leaf=ITEMS)
    return knowledge, dataset, models, config, root


def _evaluate(trained, name):
    knowledge, dataset, models, config, root = trained
    return evaluate(
        str(models[name]),
        [str(models["base"])],
        dataset,
        knowledge,
        root / f"eval-{name}",
        config,
        [KNOWLEDGE_LEAF],
        True,
    )


def _figure(report, set_id, metric, model):
    return report.data["sets"][set_id]["scores"][model][metric]


def test_the_gate_passes_a_model_that_learned_the_facts(trained):
    report = _evaluate(trained, "learned")
    _, _, models, _, _ = trained
    assert report.passed, report.gate.reasons
    assert _figure(report, KNOWLEDGE_LEAF, "fact_accuracy", str(models["learned"])) >= 0.5
    assert _figure(report, KNOWLEDGE_LEAF, "fact_accuracy", str(models["base"])) <= 0.2
    assert _figure(report, KNOWLEDGE_LEAF, "mc_acc", str(models["learned"])) > _figure(
        report, KNOWLEDGE_LEAF, "mc_acc", str(models["base"])
    )


def test_the_gate_fails_a_model_that_only_learned_to_answer_briefly(trained):
    report = _evaluate(trained, "brief")
    _, _, models, _, _ = trained
    assert not report.passed
    assert [reason.split(":")[0] for reason in report.gate.reasons] == [
        f"changed leaf {KNOWLEDGE_LEAF} did not improve its fact_accuracy against {models['base']}"
    ]
    answers = [example["candidate"] for example in report.data["sets"][KNOWLEDGE_LEAF]["examples"]]
    assert all(answer == "Yes." for answer in answers)


def test_a_model_that_learned_the_answer_form_with_wrong_facts_gains_neither_figure(trained):
    report = _evaluate(trained, "wrong")
    _, _, models, _, _ = trained
    wrong, base = str(models["wrong"]), str(models["base"])
    assert [reason.split(":")[0] for reason in report.gate.reasons] == [
        f"changed leaf {KNOWLEDGE_LEAF} did not improve its fact_accuracy against {base}"
    ]
    assert _figure(report, KNOWLEDGE_LEAF, "mc_acc", wrong) < _figure(report, KNOWLEDGE_LEAF, "mc_acc", base)


def test_the_gate_fails_a_model_that_lost_its_general_answers(trained):
    report = _evaluate(trained, "forgot")
    _, _, models, _, _ = trained
    assert not report.passed
    assert any(reason.startswith("general probe accuracy fell") for reason in report.gate.reasons)
    assert not any("did not improve" in reason for reason in report.gate.reasons)  # it did learn the facts
    assert _figure(report, PROBE_ID, "mc_acc", str(models["forgot"])) < _figure(
        report, PROBE_ID, "mc_acc", str(models["base"])
    )
