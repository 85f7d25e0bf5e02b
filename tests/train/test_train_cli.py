import json

from train_setup import REPO

from taxon.cli import main


def cli(*args: str) -> int:
    return main(["train", "--config", str(REPO / "taxon.toml"), "--quiet", *args])


def test_taxon_train_trains_with_flags_over_the_config(tmp_path, generated_dir, taxonomy_dir, tiny_model_dir):
    code = cli(
        "--data",
        str(generated_dir),
        "--taxonomy",
        str(taxonomy_dir),
        "--out",
        str(tmp_path),
        "--base",
        str(tiny_model_dir),
        "--threads",
        "1",
        "--no-resume",
        "--set",
        "train.max_steps=2",
        "--set",
        "train.pack_tokens=96",
        "--set",
        "train.max_sample_tokens=96",
    )
    assert code == 0
    summary = json.loads((tmp_path / "result.json").read_text())
    assert summary["steps"] == 2
    assert summary["config"]["threads"] == 1 and summary["config"]["resume"] is False


def test_usage_mistakes_exit_2_with_a_message(tmp_path, taxonomy_dir, tiny_model_dir, capsys):
    common = ["--taxonomy", str(taxonomy_dir), "--out", str(tmp_path), "--base", str(tiny_model_dir)]
    assert cli("--data", str(tmp_path / "missing"), *common) == 2
    assert "generated data folder not found" in capsys.readouterr().err
    assert cli("--data", str(tmp_path), *common, "--set", "train.method='adapters'") == 2
    assert "train.method must be one of lora, full" in capsys.readouterr().err
    assert cli("--data", str(tmp_path), *common, "--set", "train.max_sample_tokens=4096") == 2
    assert "must not exceed train.pack_tokens" in capsys.readouterr().err
