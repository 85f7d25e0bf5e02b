"""taxon.toml against its schema: every key declared once, with its type and default."""

import json
import tomllib
from pathlib import Path

import pytest

from taxon.cli import main
from taxon.core.config import load_config
from taxon.core.errors import UsageError
from taxon.core.settings import SECTIONS, TrainSettings, check_config, defaults, settings_of

REPO = Path(__file__).resolve().parents[2]


def test_every_profile_of_the_shipped_file_is_valid_and_complete():
    raw = tomllib.loads((REPO / "taxon.toml").read_text(encoding="utf-8"))
    for profile in raw["profiles"]:
        config = load_config(profile, REPO / "taxon.toml")
        assert set(SECTIONS) <= set(config)
        assert isinstance(settings_of(config, "train"), TrainSettings)


def test_a_misspelt_set_is_a_usage_error_naming_the_closest_key(capsys):
    with pytest.raises(UsageError) as raised:
        load_config("cpu", REPO / "taxon.toml", {"train": {"learnig_rate": 1.0}})
    assert "train.learnig_rate" in str(raised.value) and "train.learning_rate" in raised.value.hint
    code = main(
        ["train", "--config", str(REPO / "taxon.toml"), "--set", "train.learnig_rate=1", "--data", "x", "--out", "y"]
    )
    assert code == 2 and "did you mean train.learning_rate" in capsys.readouterr().err


def test_an_unknown_key_in_the_file_or_a_profile_is_refused(tmp_path):
    text = (REPO / "taxon.toml").read_text(encoding="utf-8")
    (tmp_path / "taxon.toml").write_text(
        text.replace("[profiles.cpu.teacher]", "[profiles.cpu.teacher]\nbatch_sise = 4")
    )
    with pytest.raises(UsageError, match=r"teacher\.batch_sise") as raised:
        load_config("gpu", tmp_path / "taxon.toml")
    assert "profiles.cpu" in raised.value.where and "teacher.batch_size" in raised.value.hint
    (tmp_path / "taxon.toml").write_text(text + "\n[tarin]\nepochs = 1\n")
    with pytest.raises(UsageError, match="unknown setting tarin") as raised:
        load_config("cpu", tmp_path / "taxon.toml")
    assert "train" in raised.value.hint


def test_types_are_checked_and_defaults_filled():
    checked = check_config({"train": {"learning_rate": 1, "nproc_per_node": "gpu"}}, "test")
    assert checked["train"]["learning_rate"] == 1.0 and isinstance(checked["train"]["learning_rate"], float)
    assert checked["evaluate"]["gate"] == defaults("evaluate")["gate"] and checked["serve"] == defaults("serve")
    for bad in (
        {"train": {"epochs": "two"}},
        {"train": {"resume": 1}},
        {"train": {"epochs": True}},
        {"publish": {"tags": [1]}},
    ):
        with pytest.raises(UsageError, match="must be"):
            check_config(bad, "test")


def test_a_resolved_config_is_checked_too(tmp_path):
    config = load_config("cpu", REPO / "taxon.toml")
    (tmp_path / "config.json").write_text(json.dumps({**config, "train": {**config["train"], "epoch": 3}}))
    with pytest.raises(UsageError, match=r"train\.epoch"):
        load_config(path=tmp_path / "config.json")


def test_taxon_toml_states_every_key_with_the_schemas_default():
    """The two places a default may live agree: the schema and the shared tables of taxon.toml."""
    raw = tomllib.loads((REPO / "taxon.toml").read_text(encoding="utf-8"))
    raw.pop("profiles")
    assert set(raw) == set(SECTIONS)
    assert check_config(raw, "taxon.toml") == {name: defaults(name) for name in SECTIONS}
