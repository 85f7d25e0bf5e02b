"""The bundle holds what reproduces its card: every scored question (eval/questions.jsonl), the
lm-evaluation-harness task files with paths relative to the bundle, and the command line the
card gives, which, run by the real `lm_eval` CLI in a copy of the bundle in another folder,
gives the card's multiple-choice acc."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support.runs import make_config, make_dataset, make_taxonomy, make_train_run
from taxon.evaluate import evaluate
from taxon.publish import publish


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("reproduce")
    leaves = make_taxonomy(root / "taxonomy", knowledge=True)
    dataset = make_dataset(root / "generate", leaves)
    train = make_train_run(root / "train", tiny_model_dir)
    config = make_config(dtype="float32").with_overrides({"publish": {"require_passed_gate": False}})
    report = evaluate(
        str(train / "model"), [str(tiny_model_dir)], dataset, leaves, root / "evaluate", config, quiet=True
    )
    return publish(train, root / "evaluate", dataset, leaves, config, str(root / "bundle")), report


def test_the_bundle_holds_every_scored_question(bundle):
    folder, report = bundle
    rows = [json.loads(line) for line in (folder / "eval" / "questions.jsonl").read_text().splitlines()]
    for set_id, entry in report.data["sets"].items():
        # every item asked; a skill set's n counts those with a trusted reference, marked by their method
        assert sum(row["set"] == set_id for row in rows) == entry["asked"]
        assert sum(row["set"] == set_id and bool(row.get("method")) for row in rows) == (
            entry["n"] if entry["kind"] == "skill" else 0
        )
    assert any(row["kind"] == "knowledge" and row["source"] == "document" and row["key_facts"] for row in rows)
    assert (folder / "eval" / "heldout.jsonl").is_file()  # the card's hygiene table cites it


def test_the_task_files_name_their_data_relative_to_the_bundle(bundle):
    folder, _ = bundle
    for path in (folder / "eval" / "lm_eval").glob("*.yaml"):
        config = yaml.safe_load(path.read_text())
        if "group" not in config:
            data = config["dataset_kwargs"]["data_files"]["test"]
            assert data == f"eval/lm_eval/{path.stem}.jsonl" and (folder / data).is_file()


def test_the_cards_lm_eval_command_gives_the_cards_acc_from_a_copy_elsewhere(bundle, tmp_path):
    folder, report = bundle
    copy = tmp_path / "downloaded" / "model"
    shutil.copytree(folder, copy)
    card = (copy / "README.md").read_text()
    command = re.search(r"^```\n(lm_eval [^\n]+)\n```$", card, re.MULTILINE).group(1)
    assert "pretrained=.," in command and "--include_path eval/lm_eval" in command
    lm_eval = Path(sys.executable).parent / "lm_eval"
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    environment["HF_DATASETS_CACHE"] = str(tmp_path / "datasets-cache")
    done = subprocess.run(
        [str(lm_eval), *shlex.split(command)[1:], "--output_path", "results", "--device", "cpu"],
        cwd=copy,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(next((copy / "results").rglob("results_*.json")).read_text())["results"]
    candidate = report.data["candidate"]
    knowledge = report.data["totals"]["knowledge"]["scores"][candidate]
    probe = report.data["sets"]["general/probe"]["scores"][candidate]
    assert results["taxon_knowledge"]["acc,none"] == pytest.approx(knowledge["mc_acc"], abs=1e-9)
    assert results["taxon_knowledge"]["acc_norm,none"] == pytest.approx(knowledge["mc_acc_norm"], abs=1e-9)
    assert results["taxon_general_probe"]["acc,none"] == pytest.approx(probe["mc_acc"], abs=1e-9)
    # the card's own figure (its model-index, rounded as shown)
    front = yaml.safe_load(card.split("---\n")[1])
    shown = {
        result["dataset"]["type"]: {metric["type"]: metric["value"] for metric in result["metrics"]}
        for result in front["model-index"][0]["results"]
    }
    assert round(results["taxon_knowledge"]["acc,none"], 4) == shown["taxon-knowledge"]["mc_acc"]
    assert round(results["taxon_general_probe"]["acc,none"], 4) == shown["taxon-probe"]["mc_acc"]
