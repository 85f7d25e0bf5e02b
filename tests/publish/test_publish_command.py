import json

from taxon.cli import main

CONFIG_TOML = """
[taxonomy]
root = "taxonomy"
[dataset]
eval_share = 0.5
[generate]
teacher = "scripted"
seed = 42
[train]
seed = 42
[evaluate]
seed = 0
[publish]
max_shard_size = "2GB"
license = "apache-2.0"
base_model_id = "HuggingFaceTB/SmolLM2-135M-Instruct"
tags = []
require_passed_gate = true
hub_staging_dir = "{staging}"
[profiles.cpu]
"""


def test_taxon_publish_from_a_run_folder_then_taxon_verify(run_inputs, tmp_path, capsys):
    leaves, dataset, train, evaluation = run_inputs
    run = tmp_path / "run"
    run.mkdir()
    for name, target in (("train", train), ("evaluate", evaluation), ("generate", dataset)):
        (run / name).symlink_to(target, target_is_directory=True)
    config = tmp_path / "taxon.toml"
    config.write_text(CONFIG_TOML.format(staging=tmp_path / "staging"))
    taxonomy = str(leaves[0].qna_path.parents[3])
    dest = tmp_path / "bundle"
    assert main(["publish", str(run), "--to", str(dest), "--taxonomy", taxonomy, "--config", str(config)]) == 0
    assert f"bundle verified: {dest}" in capsys.readouterr().out
    assert json.loads((dest / "manifest.json").read_text())["eval"]["gate_passed"] is True
    assert main(["verify", str(dest)]) == 0


def test_taxon_publish_needs_a_run_or_its_folders(tmp_path, capsys):
    assert main(["publish", "--to", str(tmp_path / "bundle")]) == 2
    assert "give a run folder, or --train and --data" in capsys.readouterr().err
