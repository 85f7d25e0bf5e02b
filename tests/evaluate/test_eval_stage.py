import importlib.util
import json

import pytest

from support.runs import KNOWLEDGE_LEAF, make_config
from support.tiny_model import build_tiny_model
from taxon.cli import main
from taxon.core.errors import TaxonError, UsageError
from taxon.evaluate import evaluate
from taxon.evaluate.report import render_markdown
from taxon.evaluate.sets import PROBE_ID, TEXT_ID
from taxon.qna.layout import QUESTIONS_NAME, SEED_FACTS_TOTAL

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
    assert set(data["sets"]) == {leaf.leaf_id for leaf in leaves} | {PROBE_ID, TEXT_ID}
    assert data["sets"][PROBE_ID]["n"] == 40 and data["sets"][TEXT_ID]["metric"] == "nll"
    knowledge = data["sets"][KNOWLEDGE_LEAF]
    assert knowledge["metric"] == "fact_accuracy" and knowledge["n"] >= 15
    assert set(knowledge["scores"][str(other_model)]) == {"fact_accuracy", "mc_acc", "mc_acc_norm"}
    assert knowledge["overlap"]["above"] == 0 and len(knowledge["overlap"]["items"]) == knowledge["n"]
    assert len(knowledge["examples"]) == 3 and set(knowledge["examples"][0]) == {
        "question",
        "reference",
        "source",
        "base",
        "candidate",
        "base_right",
        "candidate_right",
    }
    skill = data["sets"]["compositional_skills/writing/polite"]
    assert skill["metric"] == "skill_accuracy" and skill["form"].startswith("template")
    assert data["totals"]["knowledge"]["n"] == knowledge["n"]
    # the facts asked in the contributor's own words, apart from the blanks in the document's sentences
    asked = [json.loads(line) for line in (out / QUESTIONS_NAME).read_text().splitlines()]
    seed_facts = data["totals"][SEED_FACTS_TOTAL]
    assert seed_facts["n"] == sum(row["kind"] == "knowledge" and row["source"] == "seed" for row in asked) > 0
    assert seed_facts["n"] < knowledge["n"] and seed_facts["metric"] == "fact_accuracy"
    for entry in [*data["sets"].values(), *data["totals"].values()]:
        assert set(entry["scores"]) == {str(other_model), str(tiny_model_dir)}
        comparison = entry["comparisons"][str(tiny_model_dir)]
        assert comparison["verdict"] in VERDICTS
        for interval in comparison["intervals"].values():
            assert interval["low"] <= interval["delta"] <= interval["high"]
    assert data["settings"]["max_per_leaf"] == 0 and data["settings"]["eval_share"] == 0.5
    assert report.passed and data["gate"]["passed"]
    markdown = (out / "report.md").read_text()
    assert "**Gate: passed**" in markdown and KNOWLEDGE_LEAF in markdown and "fact accuracy" in markdown
    assert f"| **{SEED_FACTS_TOTAL}** | {seed_facts['n']} | fact accuracy |" in markdown
    assert "Answers side by side" in markdown and "Held-out hygiene" in markdown
    examples = [example for entry in data["sets"].values() for example in entry.get("examples", [])]
    assert {example["source"] for example in examples} <= {"seed", "document", "checker", "maintainer"}
    # a skill example says where its reference comes from and how it was scored, and why each verdict
    skill_example = skill["examples"][0]
    assert skill_example["method"] == "template" and set(skill_example["why"]) == {"base", "candidate"}
    assert f"({skill_example['source']}, template)" in render_markdown(data)
    # the precision of the figures, and what bfloat16 means for greedy answers
    assert f"Computed in {data['dtype']}" in markdown
    assert "may change with the other questions in its batch" in render_markdown({**data, "dtype": "bfloat16"})
    assert "in its batch" not in render_markdown({**data, "dtype": "float32"})
    assert (out / "deltas.png").read_bytes().startswith(b"\x89PNG")
    assert len((out / "heldout.jsonl").read_text().splitlines()) == sum(
        data["sets"][leaf.leaf_id]["asked"] for leaf in leaves
    )
    assert (out / "lm_eval" / "taxon_knowledge_sports_quillball.yaml").is_file()
    # a rerun reads the cached answers and reports the same
    again = evaluate(str(other_model), [str(tiny_model_dir)], dataset, leaves, out, make_config(), quiet=True)
    assert again.data == report.data


def test_identical_models_are_unchanged_and_a_changed_leaf_fails_the_gate(eval_inputs, tiny_model_dir, tmp_path):
    leaves, dataset = eval_inputs
    changed = KNOWLEDGE_LEAF
    report = evaluate(
        str(tiny_model_dir), [str(tiny_model_dir)], dataset, leaves, tmp_path, make_config(), [changed], quiet=True
    )
    verdicts = {entry["comparisons"][str(tiny_model_dir)]["verdict"] for entry in report.data["sets"].values()}
    assert verdicts == {"unchanged"}
    assert not report.passed
    assert report.gate.reasons == [
        f"changed leaf {changed} did not improve its fact_accuracy against {tiny_model_dir}: "
        f"delta +0.000, 95% interval [+0.000, +0.000], n={report.data['sets'][changed]['n']}"
    ]
    assert report.data["sets"][changed]["changed"] and "(changed)" in (tmp_path / "report.md").read_text()


def _small_probe(folder):
    path = folder / "probe.jsonl"
    path.write_text(
        '{"question": "What is 2 plus 2?", "choices": ["4", "5"], "answer": 0}\n'
        '{"question": "Capital of France?", "choices": ["Lyon", "Paris"], "answer": 1}\n'
    )
    return path


CONFIG_TOML = """
[taxonomy]
root = "taxonomy"
[dataset]
eval_share = 0.5
[evaluate]
backend = "transformers"
max_per_leaf = 2
probe_file = "{probe}"
text_file = ""
heldout_max_jaccard = 0.6
lm_eval = false
max_new_tokens = 4
batch_size = 8
n_resamples = 200
confidence = 0.95
seed = 0
[evaluate.gate]
probe_max_drop = 0.05
text_max_loss_rise = 0.1
changed_must_improve = true
[profiles.cpu]
"""


def test_the_command_exits_1_and_says_why_when_the_gate_fails(eval_inputs, tiny_model_dir, tmp_path, capsys):
    leaves, dataset = eval_inputs
    config = tmp_path / "taxon.toml"
    config.write_text(CONFIG_TOML.format(probe=_small_probe(tmp_path)))
    taxonomy = next(leaf for leaf in leaves if leaf.kind != "knowledge").qna_path.parents[3]
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
    skill = "compositional_skills/math/doubling"
    assert main(["evaluate", *common, "--out", str(tmp_path / "bad"), "--changed", skill]) == 1
    err = capsys.readouterr().err
    assert "the gate failed" in err and f"changed leaf {skill} did not improve its skill_accuracy" in err


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
    config = config.with_overrides({"dataset": {"eval_share": 0.0}})
    skill = next(leaf for leaf in leaves if leaf.kind != "knowledge").leaf_id
    report = evaluate(
        str(tiny_model_dir), [str(tiny_model_dir)], dataset, leaves, tmp_path / "eval", config, [skill], True
    )
    entry = report.data["sets"][skill]
    assert entry["n"] == 0 and entry["comparisons"][str(tiny_model_dir)]["verdict"] == "unscored"
    assert report.data["totals"]["skills"]["comparisons"][str(tiny_model_dir)]["intervals"]["skill_accuracy"] is None
    assert report.gate.reasons[0].startswith(f"changed leaf {skill} has no held-out question with a trusted reference")
    assert len(report.gate.reasons) == 1
    assert "| 0 | skill accuracy | – | – | – | unscored |" in (tmp_path / "eval" / "report.md").read_text()
