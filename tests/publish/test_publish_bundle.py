import json
import subprocess

import pytest
import yaml

from support.runs import make_config
from taxon.core.errors import TaxonError
from taxon.core.store import hash_tree
from taxon.publish import publish, verify_bundle

EXPECTED_FILES = {
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "adapter/adapter_config.json",
    "adapter/adapter_model.safetensors",
    "eval/report.json",
    "eval/report.md",
    "eval/deltas.png",
    "eval/heldout.jsonl",
    "eval/questions.jsonl",
    "eval/skills.jsonl",
    "eval/lm_eval/taxon_general_probe.yaml",
    "eval/lm_eval/taxon_general_probe.jsonl",
    "train/result.json",
    "train/train_log.jsonl",
    "README.md",
    "dataset/README.md",
    "dataset/stats.json",
    "dataset/data/train.jsonl",
    "dataset/data/held_out.jsonl",
    "manifest.json",
    "SHA256SUMS",
}


@pytest.fixture(scope="module")
def bundle(run_inputs, tmp_path_factory):
    leaves, dataset, train, evaluation = run_inputs
    return publish(train, evaluation, dataset, leaves, make_config(), str(tmp_path_factory.mktemp("out") / "bundle"))


def _front_matter(bundle):
    text = (bundle / "README.md").read_text()
    return yaml.safe_load(text.split("---\n")[1])


def test_the_bundle_holds_the_model_adapter_records_and_checks(bundle):
    files = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    assert files >= EXPECTED_FILES
    assert verify_bundle(bundle) == []
    # SHA256SUMS is in sha256sum's own format
    assert subprocess.run(["sha256sum", "--check", "--quiet", "SHA256SUMS"], cwd=bundle).returncode == 0


def test_the_bundle_loads_as_the_merged_model_and_the_adapter_on_the_base(bundle, run_inputs, tiny_model_dir):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, _, train, _ = run_inputs
    tokenizer = AutoTokenizer.from_pretrained(bundle)
    assert tokenizer.chat_template
    ids = torch.tensor([[1, 5, 9, 12]])
    published = AutoModelForCausalLM.from_pretrained(bundle)(ids).logits
    assert torch.equal(published, AutoModelForCausalLM.from_pretrained(train / "model")(ids).logits)
    adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), bundle / "adapter")
    assert torch.allclose(adapted(ids).logits, published, atol=1e-5)


def test_the_manifest_records_what_the_model_was_made_from(bundle, run_inputs):
    leaves, dataset, train, _ = run_inputs
    manifest = json.loads((bundle / "manifest.json").read_text())
    head = subprocess.run(["git", "-C", str(leaves[0].folder), "rev-parse", "HEAD"], capture_output=True, text=True)
    assert manifest["taxonomy"] == {"commit": head.stdout.strip(), "dirty": False}
    assert manifest["leaves"] == [
        {"leaf_id": leaf.leaf_id, "kind": leaf.kind, "version": 3, "content_hash": leaf.content_hash()}
        for leaf in sorted(leaves, key=lambda leaf: leaf.leaf_id)
    ]
    assert manifest["dataset"]["hash"] == hash_tree(dataset)
    assert manifest["teacher"] == "scripted" and manifest["seeds"] == {"generate": 42, "train": 42, "evaluate": 0}
    assert manifest["train"] == json.loads((train / "result.json").read_text())
    assert manifest["eval"] == {"report": "eval/report.json", "gate_passed": True}
    assert all(manifest["libraries"][name] for name in ("taxon", "torch", "transformers", "peft"))
    assert "config_path" not in manifest["config"]
    assert set(manifest["files"]) == EXPECTED_FILES - {"manifest.json", "SHA256SUMS"}


def test_the_model_card_carries_hub_metadata_and_the_eval_results(bundle):
    front = _front_matter(bundle)
    assert front["license"] == "apache-2.0"
    assert front["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"  # the trained base is a local folder
    assert front["base_model_relation"] == "finetune" and "lora" in front["tags"]
    results = front["model-index"][0]["results"]
    assert [r["dataset"]["type"] for r in results] == ["taxon-skills", "taxon-probe", "taxon-general-text"]
    assert {m["type"] for m in results[0]["metrics"]} == {"skill_accuracy", "form_accuracy", "rouge_l"}
    body = (bundle / "README.md").read_text()
    assert "### Evaluation of" in body and "Gate: passed" in body


def test_a_failed_gate_publishes_nothing(run_inputs, tmp_path):
    leaves, dataset, train, evaluation = run_inputs
    failed = tmp_path / "failed-eval"
    failed.mkdir()
    report = json.loads((evaluation / "report.json").read_text())
    report["gate"] = {"passed": False, "reasons": ["general probe regressed"], "thresholds": {}}
    (failed / "report.json").write_text(json.dumps(report))
    with pytest.raises(TaxonError, match="general probe regressed"):
        publish(train, failed, dataset, leaves, make_config(), str(tmp_path / "bundle"))
    assert list(tmp_path.iterdir()) == [failed]


def test_an_interrupted_publish_leaves_nothing_that_looks_finished(run_inputs, tmp_path, monkeypatch):
    import taxon.publish.bundle as bundle_module

    leaves, dataset, train, evaluation = run_inputs
    stale = tmp_path / ".bundle.killed.partial"  # what a SIGKILLed publish leaves
    (stale / "adapter").mkdir(parents=True)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(bundle_module, "render_card", killed)
    with pytest.raises(KeyboardInterrupt):
        publish(train, evaluation, dataset, leaves, make_config(), str(tmp_path / "bundle"))
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    first = publish(train, evaluation, dataset, leaves, make_config(), str(tmp_path / "bundle"))
    second = publish(train, evaluation, dataset, leaves, make_config(), str(tmp_path / "bundle"))
    assert first == second and verify_bundle(second) == [] and [p.name for p in tmp_path.iterdir()] == ["bundle"]


def test_large_weights_are_resharded_under_the_limit(run_inputs, tmp_path):
    from transformers import AutoModelForCausalLM

    leaves, dataset, train, evaluation = run_inputs
    config = make_config().with_overrides({"publish": {"max_shard_size": "60KB"}})
    bundle = publish(train, evaluation, dataset, leaves, config, str(tmp_path / "bundle"))
    shards = sorted(bundle.glob("*.safetensors"))
    assert len(shards) > 1 and all(shard.stat().st_size <= 60_000 for shard in shards)
    assert (bundle / "model.safetensors.index.json").is_file() and verify_bundle(bundle) == []
    AutoModelForCausalLM.from_pretrained(bundle)


def test_publishing_without_an_evaluation_says_so(run_inputs, tmp_path):
    leaves, dataset, train, _ = run_inputs
    bundle = publish(train, None, dataset, leaves, make_config(), str(tmp_path / "bundle"))
    assert verify_bundle(bundle) == [] and not (bundle / "eval").exists()
    assert "published without an evaluation" in (bundle / "README.md").read_text()
    assert _front_matter(bundle)["model-index"][0]["results"] == []


def test_an_evaluation_of_another_model_is_refused(run_inputs, tiny_model_dir, tmp_path):
    from taxon.evaluate import evaluate

    leaves, dataset, train, _ = run_inputs
    other = tmp_path / "other-eval"
    evaluate(
        str(tiny_model_dir), [str(tiny_model_dir)], dataset, leaves, other, make_config(max_per_leaf=1), quiet=True
    )
    with pytest.raises(TaxonError, match="the evaluation report is of another model"):
        publish(train, other, dataset, leaves, make_config(), str(tmp_path / "bundle"))
    assert not (tmp_path / "bundle").exists()
