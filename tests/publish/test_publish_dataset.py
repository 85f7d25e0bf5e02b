"""The training set in every bundle: dataset/ as `datasets.load_dataset` reads it, split as
training and evaluation split it, checksummed and checked by `taxon verify`."""

import json
import shutil

import pytest

from support.runs import make_config
from taxon.publish import publish, verify_bundle
from taxon.publish.dataset import dataset_problems
from taxon.qna.heldout import TrainingSplit
from taxon.qna.samples import collect_samples, question_id


@pytest.fixture(scope="module")
def bundle(run_inputs, tmp_path_factory):
    leaves, dataset, train, evaluation = run_inputs
    return publish(train, evaluation, dataset, leaves, make_config(), str(tmp_path_factory.mktemp("out") / "bundle"))


def test_datasets_loads_the_training_set_and_the_held_out_questions(bundle, run_inputs, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(bundle.parent / "hf-home"))
    leaves, generated, _, _ = run_inputs
    loaded = datasets.load_dataset(
        str(bundle / "dataset"), cache_dir=str(bundle.parent / "hf-cache")
    )  # not ~/.cache: paths repeat across runs
    samples = collect_samples(generated, leaves, None)
    eval_share = make_config().dataset.eval_share
    sides = TrainingSplit(leaves, eval_share, rows=samples)
    expected = {side: [s for s in samples if sides.side(s) == side] for side in ("train", "held_out")}
    assert len(samples) > len(expected["train"]) + len(expected["held_out"])  # rewordings of held-out questions
    assert set(loaded) == {"train", "held_out"}
    for split, rows in expected.items():
        assert loaded[split]["messages"] == [s["messages"] for s in rows]
        assert loaded[split]["question_id"] == [question_id(s) for s in rows]
        assert loaded[split]["leaf"] == [s["metadata"]["leaf"] for s in rows]
    assert set(loaded["train"]["source"]) == {"generated", "seed"}
    stats = json.loads((bundle / "dataset" / "stats.json").read_text())
    assert stats["seeds"] == {"generate": 42, "train": 42, "evaluate": 0} and stats["eval_share"] == eval_share
    assert stats["held_out_question_ids"] == sorted(set(loaded["held_out"]["question_id"]))
    assert {leaf.leaf_id: stats["leaves"][leaf.leaf_id]["kept"] for leaf in leaves} == {
        leaf.leaf_id: 10 for leaf in leaves
    }
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["dataset"]["rows"] == {split: len(rows) for split, rows in expected.items()}


def test_the_model_card_links_the_dataset_and_sha256sums_covers_it(bundle):
    assert "[`dataset/`](dataset/README.md)" in (bundle / "README.md").read_text()
    sums = (bundle / "SHA256SUMS").read_text()
    assert "  dataset/data/train.jsonl\n" in sums and "  dataset/stats.json\n" in sums


def test_verify_finds_a_changed_or_missing_training_set(bundle, tmp_path):
    changed = shutil.copytree(bundle, tmp_path / "changed")
    rows = (changed / "dataset/data/train.jsonl").read_text().splitlines()
    (changed / "dataset/data/train.jsonl").write_text("\n".join(rows[1:]) + "\n")
    problems = verify_bundle(changed)
    assert "dataset/data/train.jsonl: checksum mismatch (the file changed after publishing)" in problems
    assert any("rows, manifest.json says" in problem for problem in dataset_problems(changed))

    missing = shutil.copytree(bundle, tmp_path / "missing")
    shutil.rmtree(missing / "dataset")
    assert "dataset/: the bundle has no training set (its manifest.json names none)" in verify_bundle(missing)
