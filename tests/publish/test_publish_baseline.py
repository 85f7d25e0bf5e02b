from support.runs import make_config
from taxon.evaluate import evaluate
from taxon.publish import publish


def test_a_leaf_missing_from_a_baseline_bundle_is_new(run_inputs, tmp_path):
    leaves, dataset, train, _ = run_inputs
    old, added = sorted(leaves, key=lambda leaf: leaf.leaf_id)
    previous = publish(train, None, dataset, [old], make_config(), str(tmp_path / "previous"))
    report = evaluate(
        str(train / "model"),
        [str(previous)],
        dataset,
        leaves,
        tmp_path / "eval",
        make_config(max_per_leaf=3),
        quiet=True,
    )
    comparisons = {set_id: entry["comparisons"][str(previous)] for set_id, entry in report.data["sets"].items()}
    assert comparisons[added.leaf_id]["verdict"] == "new"
    # the same merged weights: the leaf the bundle knew is unchanged, and it records the known hash
    assert comparisons[old.leaf_id]["verdict"] == "unchanged"
    assert comparisons[old.leaf_id]["baseline_leaf_hash"] == old.content_hash()
