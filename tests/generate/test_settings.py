import pytest

from taxon.core.errors import UsageError
from taxon.generate.settings import Settings


def test_repo_config_gives_every_setting(make_config):
    settings = Settings.from_config(make_config())
    assert settings.questions_per_seed == 3 and settings.judge == "auto" and settings.min_kept_per_leaf == 1


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"questions_per_seed": "five"}, "must be int"),
        ({"judge_below_seeds": True}, "must be float"),
        ({"judge": "vibes"}, "must be one of"),
        ({"questions_per_sed": 3}, "unknown setting generate.questions_per_sed"),
        ({"batch_size": 0}, "at least 1"),
    ],
)
def test_bad_settings_are_usage_errors(make_config, bad, message):
    with pytest.raises(UsageError, match=message):
        Settings.from_config(make_config(**bad))


def test_int_accepted_for_float(make_config):
    assert Settings.from_config(make_config(judge_below_seeds=2)).judge_below_seeds == 2.0
