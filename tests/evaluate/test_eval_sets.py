import json
import re

import pytest

from support.runs import KNOWLEDGE_LEAF, make_config
from taxon.core.errors import TaxonError
from taxon.core.settings import DocumentsSettings, EvaluateSettings
from taxon.core.store import read_jsonl
from taxon.evaluate.sets import (
    BUILTIN_PROBE,
    BUILTIN_TEXT,
    PROBE_ID,
    TEXT_ID,
    build_eval_sets,
    knowledge_eval_set,
    probe_eval_set,
    skill_eval_set,
    text_eval_set,
)
from taxon.qna.heldout import held_out_seed_indexes
from taxon.qna.samples import is_held_out, question_of, seed_samples


def _skills(leaves):
    return [leaf for leaf in leaves if leaf.kind != "knowledge"]


def test_skill_sets_hold_exactly_the_held_out_seeds_and_generated_samples(eval_inputs):
    leaves, dataset = eval_inputs
    for leaf in _skills(leaves):
        eval_set = skill_eval_set(leaf, dataset, 0.5, 0, EvaluateSettings(skill_min_items=0))
        rows = seed_samples(leaf) + read_jsonl(dataset / leaf.leaf_id / "samples.jsonl")
        held_out = [question_of(row) for row in rows if is_held_out(row, 0.5)]
        assert [item.question for item in eval_set.items] == held_out
        assert {item.source for item in eval_set.items} == {"seed", "generated"}
        assert eval_set.available == len(held_out) and eval_set.form is not None


def test_the_per_leaf_cap_keeps_seeds_first_and_records_what_was_available(eval_inputs):
    leaves, dataset = eval_inputs
    leaf = _skills(leaves)[0]
    full = skill_eval_set(leaf, dataset, 0.5, 0, EvaluateSettings(skill_min_items=0))
    capped = skill_eval_set(leaf, dataset, 0.5, 2, EvaluateSettings(skill_min_items=0))
    assert capped.items == full.items[:2] and capped.available == full.available
    assert capped.describe()["n"] == 2 and capped.describe()["available"] == full.available


def test_a_knowledge_set_asks_its_held_out_seeds_without_context_then_the_documents_facts(eval_inputs):
    leaves, _ = eval_inputs
    leaf = next(leaf for leaf in leaves if leaf.leaf_id == KNOWLEDGE_LEAF)
    eval_set = knowledge_eval_set(leaf, DocumentsSettings(), 0.5, 0)
    seeds = [item for item in eval_set.items if item.source == "seed"]
    assert [item.question for item in seeds] == [
        leaf.seeds[index].question for index in sorted(held_out_seed_indexes(leaf, 0.5))
    ]
    document = [item for item in eval_set.items if item.source == "document"]
    assert len(document) >= 15 and all("____" in item.question for item in document)
    for item in eval_set.items:
        assert item.key_facts and len(set(item.choices)) == len(item.choices) == 4
        assert item.choices[item.gold] == item.reference
    blank = next(item for item in document if "pitch is ____ long" in item.question)
    assert blank.key_facts == ("number:40 m",)
    # the options are the blank's sentence with each one filled in: they differ only in the fact
    prefix, suffix = blank.reference.split("40 metres")
    assert all(option.startswith(prefix) and option.endswith(suffix) for option in blank.choices)
    fillings = {option[len(prefix) : len(option) - len(suffix)] for option in blank.choices}
    assert len(fillings) == 4 and all(re.fullmatch(r"\d+ metres", filling) for filling in fillings)


def test_build_eval_sets_ends_with_the_probe_and_the_text(eval_inputs):
    leaves, dataset = eval_inputs
    sets = build_eval_sets(leaves, dataset, make_config())
    assert [s.set_id for s in sets] == sorted(leaf.leaf_id for leaf in leaves) + [PROBE_ID, TEXT_ID]


def test_the_shipped_probe_is_forty_multiple_choice_questions_with_the_right_answer_anywhere():
    rows = [json.loads(line) for line in BUILTIN_PROBE.read_text(encoding="utf-8").splitlines()]
    assert 35 <= len(rows) <= 60
    assert len({row["question"] for row in rows}) == len(rows) and len({row["id"] for row in rows}) == len(rows)
    assert all(len(row["choices"]) == 4 and len(set(row["choices"])) == 4 for row in rows)
    assert len({row["answer"] for row in rows}) == 4  # gold is not always first
    assert len(probe_eval_set().items) == len(rows)


def test_the_shipped_general_text_is_one_to_two_thousand_words_of_paragraphs():
    words = sum(len(item.reference.split()) for item in text_eval_set().items)
    assert 1000 <= words <= 2000 and len(text_eval_set().items) >= 10
    assert "#" not in "".join(item.reference for item in text_eval_set(BUILTIN_TEXT).items)


def test_a_probe_row_without_choices_is_a_clear_error(tmp_path):
    path = tmp_path / "probe.jsonl"
    path.write_text('{"question": "What is 2 plus 2?", "answer": "4"}\n')
    with pytest.raises(TaxonError, match="probe row 1 needs a question, two or more choices"):
        probe_eval_set(path)


def test_a_missing_generate_output_is_a_clear_error(eval_inputs, tmp_path):
    leaves, _ = eval_inputs
    with pytest.raises(TaxonError, match="no generate output here"):
        build_eval_sets(leaves, tmp_path / "nowhere", make_config())
