import importlib.util
import json

import pytest
from run_fixtures import make_config

from taxon.cli import main
from taxon.core.errors import TaxonError, UsageError
from taxon.evaluate import evaluate
from taxon.evaluate.sets import PROBE_ID
from tiny_model import build_tiny_model

VERDICTS = {"improved", "regressed", "unchanged", "new", "unscored"}


@pytest.fixture(scope="module")
def other_model(tmp_path_factory):
    """The tiny model with other random weights (same tokenizer): a different candidate."""
    return build_tiny_model(tmp_path_factory.mktemp("other-model"), seed=1)


def test_evaluate_scores_every_set_against_every_baseline(eval_inputs, tiny_model_dir, other_model, tmp_path):
    leaves, dataset = eval_inputs
    out = tmp_path / "eval"
    report = evaluate(str(other_model), [str(tiny_model_dir)], dataset, leaves, out, make_config(), quiet=True)
    data = json.loads((out / "report.json").read_text())
    assert data == report.data
    assert set(data["sets"]) == {leaf.leaf_id for leaf in leaves} | {PROBE_ID}
    assert data["sets"][PROBE_ID]["n"] == 50 and data["overall"]["n"] == sum(
        data["sets"][leaf.leaf_id]["n"] for leaf in leaves
    )
    for entry in [*data["sets"].values(), data["overall"]]:
        assert set(entry["scores"]) == {str(other_model), str(tiny_model_dir)}
        comparison = entry["comparisons"][str(tiny_model_dir)]
        assert comparison["verdict"] in VERDICTS
        for interval in comparison["intervals"].values():
            assert interval["low"] <= interval["delta"] <= interval["high"]
    assert data["settings"]["max_per_leaf"] == 0 and data["settings"]["eval_share"] == 0.5
    assert report.passed and data["gate"]["passed"]
    markdown = (out / "report.md").read_text()
    assert "**Gate: passed**" in markdown and leaves[0].leaf_id in markdown and "held out from training" in markdown
    assert (out / "deltas.png").read_bytes().startswith(b"\x89PNG")
    # a rerun reads the cached answers and reports the same
    again = evaluate(str(other_model), [str(tiny_model_dir)], dataset, leaves, out, make_config(), quiet=True)
    assert again.data == report.data


def test_identical_models_are_unchanged_and_a_changed_leaf_fails_the_gate(eval_inputs, tiny_model_dir, tmp_path):
    leaves, dataset = eval_inputs
    changed = leaves[0].leaf_id
    report = evaluate(
        str(tiny_model_dir), [str(tiny_model_dir)], dataset, leaves, tmp_path, make_config(), [changed], quiet=True
    )
    verdicts = {entry["comparisons"][str(tiny_model_dir)]["verdict"] for entry in report.data["sets"].values()}
    assert verdicts == {"unchanged"}
    assert not report.passed
    assert report.gate.reasons == [
        f"changed leaf {changed} did not improve against {tiny_model_dir}: "
        f"delta +0.000, 95% interval [+0.000, +0.000], n={report.data['sets'][changed]['n']}"
    ]
    assert report.data["sets"][changed]["changed"] and "(changed)" in (tmp_path / "report.md").read_text()


def test_a_judge_model_adds_the_judge_metric(eval_inputs, tiny_model_dir, tmp_path):
    leaves, dataset = eval_inputs
    config = make_config(judge=str(tiny_model_dir), max_per_leaf=2, probe_file=str(_small_probe(tmp_path)))
    report = evaluate(
        str(tiny_model_dir), [str(tiny_model_dir)], dataset, leaves, tmp_path / "eval", config, quiet=True
    )
    assert report.data["metrics"] == ["rouge_l", "token_f1", "judge"]
    # the random tiny judge never writes a score: every reply counts as unparsed, scored 1 (0.0)
    assert report.data["judge_unparsed"] == {str(tiny_model_dir): 6}
    assert report.data["overall"]["scores"][str(tiny_model_dir)]["judge"] == 0.0


def _small_probe(folder):
    path = folder / "probe.jsonl"
    path.write_text(
        '{"question": "What is 2 plus 2?", "answer": "4"}\n{"question": "Capital of France?", "answer": "Paris"}\n'
    )
    return path


CONFIG_TOML = """
[taxonomy]
root = "taxonomy"
[dataset]
eval_share = 0.5
[evaluate]
backend = "transformers"
metric = "rouge_l"
max_per_leaf = 2
probe_file = "{probe}"
max_new_tokens = 4
batch_size = 8
judge = ""
judge_max_new_tokens = 8
n_resamples = 200
confidence = 0.95
seed = 0
[evaluate.gate]
probe_max_drop = 0.05
changed_must_improve = true
[profiles.cpu]
"""


def test_the_command_exits_1_and_says_why_when_the_gate_fails(eval_inputs, tiny_model_dir, tmp_path, capsys):
    leaves, dataset = eval_inputs
    config = tmp_path / "taxon.toml"
    config.write_text(CONFIG_TOML.format(probe=_small_probe(tmp_path)))
    taxonomy = leaves[0].qna_path.parents[3]
    common = [
        "--candidate",
        str(tiny_model_dir),
        "--baseline",
        str(tiny_model_dir),
        "--data",
        str(dataset),
        "--taxonomy",
        str(taxonomy),
        "--config",
        str(config),
        "--quiet",
    ]
    assert main(["evaluate", *common, "--out", str(tmp_path / "ok")]) == 0
    assert "Gate: passed" in capsys.readouterr().out
    assert main(["evaluate", *common, "--out", str(tmp_path / "bad"), "--changed", leaves[1].leaf_id]) == 1
    err = capsys.readouterr().err
    assert "the gate failed" in err and f"changed leaf {leaves[1].leaf_id} did not improve" in err


def test_the_vllm_backend_without_vllm_says_what_to_install(eval_inputs, tiny_model_dir, tmp_path):
    leaves, dataset = eval_inputs
    if importlib.util.find_spec("vllm"):
        pytest.skip("vllm is installed here")
    config = make_config(backend="vllm", vllm_gpu_memory_utilization=0.3)
    with pytest.raises(UsageError, match="'vllm'") as caught:
        evaluate(str(tiny_model_dir), [str(tiny_model_dir)], dataset, leaves, tmp_path, config, quiet=True)
    assert "taxon[gpu]" in caught.value.hint


def test_a_missing_model_folder_is_a_clear_error(eval_inputs, tiny_model_dir, tmp_path):
    leaves, dataset = eval_inputs
    with pytest.raises(TaxonError, match="neither a folder here nor a Hugging Face id"):
        evaluate(str(tmp_path / "nowhere"), [str(tiny_model_dir)], dataset, leaves, tmp_path, make_config(), quiet=True)


def test_leaves_without_held_out_questions_are_unscored(eval_inputs, tiny_model_dir, tmp_path):
    leaves, dataset = eval_inputs
    config = make_config(probe_file=str(_small_probe(tmp_path)))
    config["dataset"]["eval_share"] = 0.0
    report = evaluate(
        str(tiny_model_dir),
        [str(tiny_model_dir)],
        dataset,
        leaves,
        tmp_path / "eval",
        config,
        [leaves[0].leaf_id],
        True,
    )
    entry = report.data["sets"][leaves[0].leaf_id]
    assert entry["n"] == 0 and entry["comparisons"][str(tiny_model_dir)]["verdict"] == "unscored"
    assert report.data["overall"]["comparisons"][str(tiny_model_dir)]["intervals"]["rouge_l"] is None
    assert report.gate.reasons == [
        f"changed leaf {leaves[0].leaf_id} has no held-out questions, so it cannot show an improvement"
    ]
    assert "| 0 | – | – | – | unscored |" in (tmp_path / "eval" / "report.md").read_text()
