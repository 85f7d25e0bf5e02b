import json

import pytest
from run_fixtures import make_config

from taxon.core.errors import TaxonError
from taxon.core.store import read_jsonl
from taxon.evaluate.sets import BUILTIN_PROBE, PROBE_ID, build_eval_sets, leaf_eval_set, probe_eval_set
from taxon.qna.samples import is_held_out, question_of, seed_samples


def test_leaf_sets_hold_exactly_the_held_out_seeds_and_generated_samples(eval_inputs):
    leaves, dataset = eval_inputs
    for leaf in leaves:
        eval_set = leaf_eval_set(leaf, dataset, 0.5, max_per_leaf=0)
        rows = seed_samples(leaf) + read_jsonl(dataset / leaf.leaf_id / "samples.jsonl")
        held_out = [question_of(row) for row in rows if is_held_out(row, 0.5)]
        assert [item.question for item in eval_set.items] == held_out
        assert {item.source for item in eval_set.items} == {"seed", "generated"}
        assert eval_set.available == len(held_out)


def test_the_per_leaf_cap_keeps_seeds_first_and_records_what_was_available(eval_inputs):
    leaves, dataset = eval_inputs
    full = leaf_eval_set(leaves[0], dataset, 0.5, 0)
    capped = leaf_eval_set(leaves[0], dataset, 0.5, 2)
    assert capped.items == full.items[:2] and capped.available == full.available
    assert capped.describe()["n"] == 2 and capped.describe()["available"] == full.available


def test_a_leaf_without_generated_samples_is_scored_on_its_held_out_seeds(eval_inputs, tmp_path):
    leaves, _ = eval_inputs
    eval_set = leaf_eval_set(leaves[0], tmp_path, 0.5, 0)
    assert eval_set.items and {item.source for item in eval_set.items} == {"seed"}


def test_build_eval_sets_ends_with_the_probe(eval_inputs):
    leaves, dataset = eval_inputs
    sets = build_eval_sets(leaves, dataset, make_config())
    assert [s.set_id for s in sets] == sorted(leaf.leaf_id for leaf in leaves) + [PROBE_ID]


def test_the_shipped_probe_set_is_about_fifty_distinct_short_questions():
    rows = [json.loads(line) for line in BUILTIN_PROBE.read_text(encoding="utf-8").splitlines()]
    assert 45 <= len(rows) <= 60
    assert len({row["question"] for row in rows}) == len(rows) and len({row["id"] for row in rows}) == len(rows)
    assert all(row["question"].strip() and 0 < len(row["answer"].split()) <= 25 for row in rows)
    assert len(probe_eval_set().items) == len(rows)


def test_a_missing_generate_output_is_a_clear_error(eval_inputs, tmp_path):
    leaves, _ = eval_inputs
    with pytest.raises(TaxonError, match="no generate output here"):
        build_eval_sets(leaves, tmp_path / "nowhere", make_config())
