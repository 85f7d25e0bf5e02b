"""[generate] as generate_leaves reads it: the shipped profile's values, and bad ones refused at load."""

import pytest

from taxon.core.errors import UsageError


def test_repo_config_gives_every_setting(make_config):
    settings = make_config().generate
    assert settings.questions_per_seed == 3 and settings.judge == "auto" and settings.min_kept_per_leaf == 1


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"questions_per_seed": "five"}, "must be int"),
        ({"judge_below_seeds": True}, "must be float"),
        ({"judge": "vibes"}, "must be one of"),
        ({"questions_per_sed": 3}, "unknown setting generate.questions_per_sed"),
        ({"batch_size": 0}, "at least 1"),
        ({"agreement_samples": -1}, "at least 0"),
        ({"document_forms": ["section", "essay"]}, r"document_forms\[1\] must be one of section"),
    ],
)
def test_bad_settings_are_usage_errors(make_config, bad, message):
    with pytest.raises(UsageError, match=message):
        make_config(**bad)


def test_int_accepted_for_float(make_config):
    assert make_config(judge_below_seeds=2).generate.judge_below_seeds == 2.0
