from support.runs import scripted_scores as _scores
from taxon.evaluate.bootstrap import IMPROVED, REGRESSED, UNCHANGED, UNSCORED, direction, paired_bootstrap


def test_a_known_improvement_lies_inside_an_interval_above_zero():
    candidate, baseline = _scores(200, 0.1)
    interval = paired_bootstrap(candidate, baseline, n_resamples=1000, seed=0)
    assert interval.low < 0.1 < interval.high
    assert interval.low > 0 and direction(interval) == IMPROVED


def test_a_known_regression_is_regressed():
    candidate, baseline = _scores(200, -0.1)
    assert direction(paired_bootstrap(candidate, baseline, 1000, 0)) == REGRESSED


def test_identical_models_are_unchanged():
    _, baseline = _scores(50, 0.0)
    interval = paired_bootstrap(baseline, baseline, 500, 0)
    assert (interval.delta, interval.low, interval.high) == (0.0, 0.0, 0.0)
    assert direction(interval) == UNCHANGED


def test_pairing_removes_the_spread_between_questions():
    # every question gains exactly 0.01 although scores spread over [0, 1]: a paired test sees it
    _, baseline = _scores(30, 0.0)
    interval = paired_bootstrap([value + 0.01 for value in baseline], baseline, 500, 0)
    assert direction(interval) == IMPROVED


def test_the_interval_is_seeded():
    candidate, baseline = _scores(40, 0.02)
    assert paired_bootstrap(candidate, baseline, 300, 7) == paired_bootstrap(candidate, baseline, 300, 7)


def test_no_pairs_is_unscored():
    assert paired_bootstrap([], [], 100, 0) is None and direction(None) == UNSCORED
