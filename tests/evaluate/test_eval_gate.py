from run_fixtures import scripted_scores as _scores

from taxon.evaluate.bootstrap import paired_bootstrap
from taxon.evaluate.gate import check_gate


def test_gate_fails_on_a_probe_drop_beyond_the_threshold():
    candidate, baseline = _scores(50, -0.2)
    drop = paired_bootstrap(candidate, baseline, 500, 0)
    result = check_gate({"base": drop}, {}, {"probe_max_drop": 0.05})
    assert not result.passed and "general probe regressed against base" in result.reasons[0]


def test_gate_tolerates_a_probe_drop_within_the_threshold():
    candidate, baseline = _scores(200, -0.02)
    small_drop = paired_bootstrap(candidate, baseline, 500, 0)
    assert small_drop.high < 0  # a real drop, but a small one
    assert check_gate({"base": small_drop}, {}, {"probe_max_drop": 0.05}).passed


def test_gate_requires_changed_leaves_to_improve_against_every_baseline():
    better = paired_bootstrap(*_scores(60, 0.1), 500, 0)
    same = paired_bootstrap(*_scores(60, 0.0), 500, 0)
    settings = {"probe_max_drop": 0.05, "changed_must_improve": True}
    assert check_gate({}, {"skills/a": {"base": better, "prev": better}}, settings).passed
    failed = check_gate({}, {"skills/a": {"base": better, "prev": same}, "skills/b": {"base": None}}, settings)
    assert not failed.passed
    assert any("skills/a did not improve against prev" in reason for reason in failed.reasons)
    assert any("skills/b has no held-out questions" in reason for reason in failed.reasons)
    assert check_gate({}, {"skills/a": {"base": same}}, {**settings, "changed_must_improve": False}).passed
