"""publish.quantize: quantised GGUF files beside model.gguf (the `gguf` package's quantisers),
each loaded back by transformers and asked the knowledge facts and the general probe, on a tiny
model trained in the test to know the facts; the gate's publish.min_fact_retention; a bundle
ships only files whose very weights were evaluated."""

import json

import pytest
import yaml

from support.runs import make_config
from support.tiny_model import build_tiny_model
from support.trained_models import general_rows, train_tiny, write_general_sets
from taxon.core.errors import TaxonError, UsageError
from taxon.core.settings import DocumentsSettings, PublishSettings
from taxon.evaluate import evaluate
from taxon.evaluate.sets import knowledge_eval_set
from taxon.publish import publish, verify_bundle
from taxon.publish.bundle import gguf_files_to_evaluate

STEPS = 80
ITEMS = 12
QUANTIZE = ["q8_0", "q4_0"]


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    """(leaves, dataset, base, learned, config, root): a tiny model that learned the knowledge
    leaf's facts from a base that knows the general probe."""
    from support.runs import make_dataset, make_taxonomy

    root = tmp_path_factory.mktemp("quantize")
    leaves = make_taxonomy(root / "taxonomy", knowledge=True)
    dataset = make_dataset(root / "generate", leaves)
    knowledge = [leaf for leaf in leaves if leaf.kind == "knowledge"]
    probe, text = write_general_sets(root / "general")
    items = knowledge_eval_set(knowledge[0], DocumentsSettings(), 0.5, ITEMS).items
    facts = [(item.question, item.choices[item.gold]) for item in items]
    start = build_tiny_model(root / "random", hidden=64)
    base = train_tiny(start, root / "base", general_rows(), STEPS)
    model = train_tiny(base, root / "learned", facts + general_rows(), STEPS)
    config = make_config(probe_file=str(probe), text_file=str(text), max_new_tokens=40, max_per_leaf=ITEMS)
    config = config.with_overrides({"publish": {"quantize": QUANTIZE, "min_fact_retention": 0.0}})
    return leaves, dataset, base, model, config, root


@pytest.fixture(scope="module")
def report(learned):
    leaves, dataset, base, model, config, root = learned
    files = gguf_files_to_evaluate(model, root / "eval" / "gguf", config.publish)
    assert [path.name for path in files] == ["model.gguf", "model.q8_0.gguf", "model.q4_0.gguf"]
    return evaluate(str(model), [str(base)], dataset, leaves, root / "eval", config, quiet=True, gguf_files=files)


def test_each_gguf_file_is_scored_on_the_facts_and_the_probe(report, learned):
    _, _, _, model, _, _ = learned
    files = report.data["gguf"]
    candidate_facts = report.data["totals"]["knowledge"]["scores"][str(model)]["fact_accuracy"]
    assert candidate_facts >= 0.5
    assert [files[name]["weights"] for name in files] == ["F32", "Q8_0", "Q4_0"]
    assert (
        files["model.q4_0.gguf"]["size_bytes"]
        < files["model.q8_0.gguf"]["size_bytes"]
        < files["model.gguf"]["size_bytes"]
    )
    # model.gguf is the candidate's own weights: the same answers, every fact kept
    exact = files["model.gguf"]
    assert exact["scores"]["knowledge"]["fact_accuracy"] == candidate_facts and exact["fact_retention"] == 1.0
    assert files["model.q8_0.gguf"]["fact_retention"] >= 0.9
    for entry in files.values():
        assert entry["facts_known_by_candidate"] == round(candidate_facts * entry["n"]["knowledge"])
        assert entry["scores"]["general/probe"]["mc_acc"] is not None
    markdown = (report.out_dir / "report.md").read_text()
    assert "| `model.q4_0.gguf` | Q4_0 |" in markdown and "facts kept" in markdown


def test_a_file_of_another_model_keeps_none_of_the_facts(learned, report):
    """The control: the base model's GGUF in place of the candidate's knows none of its facts,
    so the retention figure measures the file, not the questions."""
    leaves, dataset, base, model, config, root = learned
    other = gguf_files_to_evaluate(base, root / "base-gguf", PublishSettings(gguf=True))
    control = evaluate(
        str(model), [str(base)], dataset, leaves, root / "eval-control", config, quiet=True, gguf_files=other
    )
    assert control.data["gguf"]["model.gguf"]["fact_retention"] <= 0.2


def test_the_gate_holds_each_file_to_publish_min_fact_retention(learned, report):
    """The candidate's own files keep its facts and pass a retention of one half; the base
    model's file, the control, keeps next to none and fails it, named in the gate's reasons."""
    leaves, dataset, base, model, config, root = learned
    strict = config.with_overrides({"publish": {"min_fact_retention": 0.5}})
    own = [root / "eval" / "gguf" / name for name in report.data["gguf"]]
    kept = evaluate(str(model), [str(base)], dataset, leaves, root / "eval-kept", strict, quiet=True, gguf_files=own)
    assert not [reason for reason in kept.gate.reasons if " keeps " in reason]
    other = gguf_files_to_evaluate(base, root / "base-gguf-gated", PublishSettings(gguf=True))
    gated = evaluate(
        str(model), [str(base)], dataset, leaves, root / "eval-gated", strict, quiet=True, gguf_files=other
    )
    assert not gated.passed
    assert [reason.split(" keeps ")[0] for reason in gated.gate.reasons if " keeps " in reason] == ["model.gguf"]
    assert gated.data["gate"]["thresholds"]["min_fact_retention"] == 0.5
    with pytest.raises(UsageError, match=r"publish.min_fact_retention must be between 0 and 1"):
        config.with_overrides({"publish": {"min_fact_retention": 1.01}})


def test_the_bundle_ships_the_evaluated_files_with_their_figures(learned, report, tmp_path):
    import gguf

    leaves, dataset, base, model, config, root = learned
    train = _train_run(model, base, tmp_path)
    bundle = publish(train, report.out_dir, dataset, leaves, config, str(tmp_path / "bundle"))
    assert verify_bundle(bundle) == []
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert {name: entry["evaluated"] for name, entry in manifest["gguf"].items()} == dict.fromkeys(
        ["model.gguf", "model.q8_0.gguf", "model.q4_0.gguf"], True
    )
    reader = gguf.GGUFReader(bundle / "model.q4_0.gguf")
    assert reader.fields["general.name"].contents() == manifest["name"]  # its own name, the evaluated weights
    card = (bundle / "README.md").read_text()
    assert "| `model.q8_0.gguf` | Q8_0 |" in card  # the evaluation's table
    assert "| `model.q4_0.gguf` | Q4_0 | 0 MiB | 100% |" in card  # what each file keeps, beside how to run it
    assert "llama-cli -m model.q4_0.gguf" in card and "ollama create NAME -f Modelfile" in card
    front = yaml.safe_load(card.split("---\n")[1])
    assert "gguf" in front["tags"] and front["language"] == ["en"]
    # no folder of the machine that made it: the candidate is this model, the base its hub id
    assert str(tmp_path) not in card and str(root) not in card and "/tmp/" not in card
    assert f"### Evaluation of `this model ({manifest['name']})`" in card
    assert "B1 = `HuggingFaceTB/SmolLM2-135M-Instruct`" in card


def test_a_quantisation_the_evaluation_did_not_score_is_refused(learned, report, tmp_path):
    leaves, dataset, base, model, config, root = learned
    train = _train_run(model, base, tmp_path)
    more = config.with_overrides({"publish": {"quantize": [*QUANTIZE, "q5_0"]}})
    with pytest.raises(TaxonError, match=r"model.q5_0.gguf was not evaluated"):
        publish(train, report.out_dir, dataset, leaves, more, str(tmp_path / "bundle"))
    assert not (tmp_path / "bundle").exists()


def _train_run(model, base, folder):
    import shutil

    train = folder / "train"
    shutil.copytree(model, train / "model")
    result = {"base_model": str(base), "steps": 80, "tokens": 1, "real_token_fraction": 1.0, "final_loss": 1.0}
    (train / "result.json").write_text(json.dumps({**result, "dataset_hash": "0" * 64, "config": {"method": "full"}}))
    return train


def test_a_gguf_file_is_a_model_wherever_taxon_takes_one(learned, report):
    """taxon serve, chat and evaluate load a GGUF file as they load a folder: model.gguf (the
    candidate's own weights) answers as the candidate does."""
    from taxon.backends import local_model
    from taxon.backends.base import ChatRequest
    from taxon.backends.models import resolve_model

    _, _, _, model, _, root = learned
    path = str(root / "eval" / "gguf" / "model.gguf")
    assert resolve_model(path, {}) == path
    request = ChatRequest(({"role": "user", "content": "What is 7 plus 5?"},), max_tokens=12, temperature=0.0)
    answers = [local_model("transformers", str(m), dtype="float32").chat([request])[0].text for m in (path, model)]
    assert answers[0] == answers[1] and answers[0]


def test_files_are_evaluated_in_the_dtype_the_bundle_is_published_in(learned, tmp_path):
    """The demo's case: a float32 model trained from a bfloat16 base is published in bfloat16,
    so the GGUF files evaluation loads back are made from the bfloat16 weights too, and publish
    finds each file it writes evaluated."""
    import torch
    from transformers import AutoModelForCausalLM

    leaves, dataset, base, model, config, root = learned
    bf16_base = tmp_path / "bf16-base"
    AutoModelForCausalLM.from_pretrained(base).to(torch.bfloat16).save_pretrained(bf16_base)
    train = _train_run(model, bf16_base, tmp_path)
    files = gguf_files_to_evaluate(train / "model", tmp_path / "eval" / "gguf", config.publish)
    report = evaluate(
        str(train / "model"), [str(base)], dataset, leaves, tmp_path / "eval", config, quiet=True, gguf_files=files
    )
    assert report.data["gguf"]["model.gguf"]["weights"] == "BF16"
    bundle = publish(train, tmp_path / "eval", dataset, leaves, config, str(tmp_path / "bundle"))
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["dtype"] == "bfloat16" and all(entry["evaluated"] for entry in manifest["gguf"].values())
