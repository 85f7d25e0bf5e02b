from dataclasses import replace

from support.runs import scripted_scores as _scores
from taxon.core.settings import EvaluateGateSettings
from taxon.evaluate.bootstrap import paired_bootstrap
from taxon.evaluate.gate import check_gate

SETTINGS = EvaluateGateSettings(probe_max_drop=0.05, text_max_loss_rise=0.1, changed_must_improve=True)


def test_gate_fails_on_a_probe_drop_beyond_the_threshold():
    drop = paired_bootstrap(*_scores(50, -0.2), 500, 0)
    result = check_gate({"base": drop}, {}, {}, {}, SETTINGS)
    assert not result.passed and "general probe accuracy fell against base" in result.reasons[0]


def test_gate_tolerates_a_probe_drop_within_the_threshold():
    small_drop = paired_bootstrap(*_scores(200, -0.02), 500, 0)
    assert small_drop.high < 0  # a real drop, but a small one
    assert check_gate({"base": small_drop}, {}, {}, {}, SETTINGS).passed


def test_gate_fails_on_a_text_loss_rise_beyond_the_threshold():
    rise = paired_bootstrap(*_scores(30, 0.5), 500, 0)
    result = check_gate({}, {"base": rise}, {}, {}, SETTINGS)
    assert not result.passed and "general text loss rose against base" in result.reasons[0]
    fall = paired_bootstrap(*_scores(30, -0.5), 500, 0)
    assert check_gate({}, {"base": fall}, {}, {}, SETTINGS).passed


def test_gate_requires_changed_leaves_to_improve_their_own_figure_against_every_baseline():
    better = paired_bootstrap(*_scores(60, 0.1), 500, 0)
    same = paired_bootstrap(*_scores(60, 0.0), 500, 0)
    passing = {"knowledge/a": ("fact_accuracy", {"base": better, "prev": better})}
    assert check_gate({}, {}, passing, {}, SETTINGS).passed
    failing = {
        "knowledge/a": ("fact_accuracy", {"base": better, "prev": same}),
        "skills/b": ("form_accuracy", {"base": None}),
    }
    failed = check_gate({}, {}, failing, {}, SETTINGS)
    assert not failed.passed
    assert any("knowledge/a did not improve its fact_accuracy against prev" in reason for reason in failed.reasons)
    assert any("skills/b has no held-out question with a trusted reference" in reason for reason in failed.reasons)
    lenient = replace(SETTINGS, changed_must_improve=False)
    assert check_gate({}, {}, {"skills/a": ("form_accuracy", {"base": same})}, {}, lenient).passed


def test_gate_fails_when_a_held_out_question_is_near_a_training_question():
    overlap = {"knowledge/a": {"above": 2, "threshold": 0.6}, "knowledge/b": {"above": 0, "threshold": 0.6}}
    result = check_gate({}, {}, {}, overlap, SETTINGS)
    assert result.reasons == [
        "2 held-out question(s) of knowledge/a have a training question with token Jaccard above 0.6: "
        "the held-out figure is not held out (see heldout.jsonl)"
    ]
