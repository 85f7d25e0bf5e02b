"""taxon.toml against its schema: every key declared once, with its type and default, checked
once at load into one frozen Config."""

import dataclasses
import json
import tomllib
from pathlib import Path

import pytest

from taxon.cli import main
from taxon.core.config import load_config
from taxon.core.errors import UsageError
from taxon.core.settings import SECTIONS, Config, TrainSettings, build_config, plain

REPO = Path(__file__).resolve().parents[2]


def test_every_profile_of_the_shipped_file_is_valid_and_complete():
    raw = tomllib.loads((REPO / "taxon.toml").read_text(encoding="utf-8"))
    for profile in raw["profiles"]:
        config = load_config(profile, REPO / "taxon.toml")
        assert isinstance(config, Config) and isinstance(config.train, TrainSettings)
        assert config.profile == profile and config.config_path == str(REPO / "taxon.toml")
    assert load_config("cpu", REPO / "taxon.toml").train.method == "full"  # the profile's value wins


def test_the_config_is_frozen():
    config = load_config("cpu", REPO / "taxon.toml")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.train.epochs = 3  # type: ignore[misc]
    assert isinstance(config.train.lora_targets, tuple)  # lists are read as tuples: nothing in it can change


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
    config = build_config({"train": {"learning_rate": 1, "nproc_per_node": "gpu"}}, "test")
    assert config.train.learning_rate == 1.0 and isinstance(config.train.learning_rate, float)
    assert config.train.nproc_per_node == "gpu"
    assert config.evaluate.gate == Config().evaluate.gate and config.serve == Config().serve
    for bad, message in (
        ({"train": {"epochs": "two"}}, "train.epochs must be int, not 'two'"),
        ({"train": {"resume": 1}}, "train.resume must be bool, not 1"),
        ({"train": {"epochs": True}}, "train.epochs must be int, not True"),
        ({"publish": {"tags": [1]}}, r"publish.tags\[0\] must be str, not 1"),
        ({"publish": {"tags": "one"}}, "publish.tags must be a list of str, not 'one'"),
        ({"evaluate": {"gate": {"probe_max_drop": "x"}}}, "evaluate.gate.probe_max_drop must be float"),
        ({"evaluate": {"gate": 3}}, r"\[evaluate.gate\] must be a table"),
    ):
        with pytest.raises(UsageError, match=message):
            build_config(bad, "test")


def test_a_value_outside_its_allowed_set_or_range_names_what_is_allowed():
    cases = (
        (
            {"generate": {"judge": "vibes"}},
            "generate.judge must be one of auto, loglikelihood, generated, none, not 'vibes'",
        ),
        (
            {"generate": {"document_forms": ["section", "essay"]}},
            r"generate.document_forms\[1\] must be one of section,",
        ),
        ({"evaluate": {"backend": "openai"}}, "evaluate.backend must be one of transformers, vllm"),
        ({"teacher": {"dtype": "fp8"}}, "teacher.dtype must be one of auto, bfloat16, float16, float32"),
        ({"train": {"autocast": "fp8"}}, "train.autocast must be one of auto, bf16, none, not 'fp8'"),
        ({"generate": {"batch_size": 0}}, "generate.batch_size must be at least 1, not 0"),
        ({"generate": {"knowledge_chunk_share": 1.5}}, "generate.knowledge_chunk_share must be between 0 and 1"),
        ({"review": {"require_decisions": -0.5}}, "review.require_decisions must be between 0 and 1, not -0.5"),
        ({"serve": {"max_n": 0}}, "serve.max_n must be a positive number, not 0"),
        ({"train": {"max_sample_tokens": 4096}}, "train.max_sample_tokens must not exceed train.pack_tokens"),
    )
    for tables, message in cases:
        with pytest.raises(UsageError, match=message) as raised:
            build_config(tables, "here")
        assert raised.value.where == "here"


def test_a_resolved_config_round_trips_and_is_checked_too(tmp_path):
    """What a run records in config.json (and the training process loads) is the same Config."""
    config = load_config("cpu", REPO / "taxon.toml", {"pipeline": {"changed_leaves": ["a/b"]}})
    (tmp_path / "config.json").write_text(json.dumps(config.to_dict()))
    assert load_config(path=tmp_path / "config.json") == config
    assert load_config(path=tmp_path / "config.json", overrides={"train": {"threads": 1}}).train.threads == 1
    data = config.to_dict()
    (tmp_path / "config.json").write_text(json.dumps({**data, "train": {**data["train"], "epoch": 3}}))
    with pytest.raises(UsageError, match=r"train\.epoch"):
        load_config(path=tmp_path / "config.json")


def test_overrides_are_checked_as_set_is():
    config = Config().with_overrides({"generate": {"backend": "openai", "teacher": "m"}})
    assert config.generate.backend == "openai" and config.generate.teacher == "m"
    with pytest.raises(UsageError, match=r"generate\.backend must be one of"):
        config.with_overrides({"generate": {"backend": "llama"}})


def test_taxon_toml_states_every_key_with_the_schemas_default():
    """The two places a default may live agree: the schema and the shared tables of taxon.toml."""
    raw = tomllib.loads((REPO / "taxon.toml").read_text(encoding="utf-8"))
    raw.pop("profiles")
    assert set(raw) == set(SECTIONS)
    assert build_config(raw, "taxon.toml") == Config()
    assert plain(Config()) == {
        **{name: plain(getattr(Config(), name)) for name in SECTIONS},
        "profile": "",
        "config_path": "",
    }


def test_config_show_names_where_each_value_came_from(tmp_path, capsys):
    """taxon config show: the schema's default, taxon.toml, the profile or --set, the last that
    set it; the text it prints reads back as TOML with the same values."""
    import json
    import tomllib

    from taxon.cli import main
    from taxon.core.config import config_sources, load_config

    path = tmp_path / "taxon.toml"
    path.write_text("[train]\nepochs = 3\nseed = 1\n\n[profiles.fast.train]\nlearning_rate = 0.1\nseed = 2\n")
    config, rows = config_sources("fast", path, {"train": {"seed": 7}})
    assert config == load_config("fast", path, {"train": {"seed": 7}})  # the same loader, not a second
    sources = {key: (value, source) for key, value, source in rows}
    assert sources["train.epochs"] == (3, "taxon.toml")
    assert sources["train.learning_rate"] == (0.1, "profile fast")
    assert sources["train.seed"] == (7, "--set")
    assert sources["train.rows_per_step"] == (8, "default")
    assert sources["evaluate.gate.probe_max_drop"] == (0.05, "default")

    assert main(["config", "show", "--profile", "fast", "--config", str(path), "--set", "train.seed=7"]) == 0
    text = capsys.readouterr().out
    assert "learning_rate = 0.1" in text and "# profile fast" in text
    assert (
        tomllib.loads(text)["train"]["seed"] == 7 and tomllib.loads(text)["evaluate"]["gate"]["probe_max_drop"] == 0.05
    )
    assert main(["config", "show", "--profile", "fast", "--config", str(path), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {"key": "train.seed", "value": 2, "source": "profile fast"} in rows
    resolved = tmp_path / "config.json"  # a run's resolved config: every value came from it
    resolved.write_text(json.dumps({"train": {"epochs": 4}}))
    sources = {key: (value, source) for key, value, source in config_sources("fast", resolved)[1]}
    assert sources["train.epochs"] == (4, str(resolved)) and sources["train.seed"] == (42, "default")


def test_config_show_into_a_reader_that_went_away_is_no_traceback():
    """`taxon config show | head`: the pipe closes before the config is written; taxon stops quietly."""
    import subprocess
    import sys

    child = subprocess.Popen(
        [sys.executable, "-m", "taxon", "config", "show"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    child.stdout.close()  # the reader is gone before the first line
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=60) == 0 and "Traceback" not in stderr and "BrokenPipe" not in stderr
