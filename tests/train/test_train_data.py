import json
from collections import Counter

import pytest
from train_setup import small_config
from transformers import AutoTokenizer

from taxon.core.errors import TaxonError, UsageError
from taxon.qna.samples import bare_question, is_held_out, make_sample, seed_samples
from taxon.train.data import (
    BUILTIN_REPLAY,
    IGNORE,
    build_training_set,
    collect_samples,
    encode,
    repeat_to_floor,
    replay_mix,
)


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def trained_text(tokenizer, encoded) -> str:
    return tokenizer.decode([t for t in encoded.targets if t != IGNORE])


def test_loss_only_on_assistant_turns_with_the_end_marker(tokenizer):
    messages = [
        {"role": "user", "content": "What is 1 plus 2?"},
        {"role": "assistant", "content": "1 plus 2 equals 3."},
        {"role": "user", "content": "And 2 times 3?"},
        {"role": "assistant", "content": "6."},
    ]
    encoded, status = encode(tokenizer, messages, 512, "trim")
    assert status == "ok"
    assert trained_text(tokenizer, encoded) == "1 plus 2 equals 3.<|im_end|>6.<|im_end|>"
    rendered = tokenizer.apply_chat_template(messages, tokenize=False)
    assert tokenizer.decode(encoded.input_ids) == rendered
    # each target is the next input token: a causal LM predicts it from the position before
    for position, target in enumerate(encoded.targets):
        if target != IGNORE:
            assert encoded.input_ids[position + 1] == target


def test_overlong_samples_are_trimmed_or_dropped(tokenizer):
    messages = make_sample("What is 1 plus 2?", "yes " * 200, None, {})["messages"]
    trimmed, status = encode(tokenizer, messages, 40, "trim")
    assert status == "trimmed" and len(trimmed) == 40 and trimmed.target_count > 0
    assert encode(tokenizer, messages, 40, "drop") == (None, "too_long")
    long_question = make_sample("plus " * 100, "3.", None, {})["messages"]
    assert encode(tokenizer, long_question, 40, "trim") == (None, "no_answer_left_after_trim")


def test_training_set_holds_generated_seeds_and_replay_but_not_held_out(tmp_path, tokenizer, leaves, generated_dir):
    replay = tmp_path / "replay.jsonl"
    replay_rows = [make_sample(f"Say {n} yes", "yes " * (3 * n), None, {}) for n in range(1, 30)]
    replay.write_text("".join(json.dumps(row) + "\n" for row in replay_rows), encoding="utf-8")
    config = small_config(max_sample_tokens=60, pack_tokens=60, replay_share=1.0)  # every replay row
    rows = collect_samples(generated_dir, leaves, replay)
    assert len(rows) == 80 + sum(len(seed_samples(leaf)) for leaf in leaves) + len(replay_rows)
    held_out = [row for row in rows if is_held_out(row, config.dataset.eval_share)]
    assert 0 < len(held_out) < len(rows)

    training_set = build_training_set(generated_dir, leaves, replay, tokenizer, config)
    counts = training_set.counts
    assert counts["held_out"] == len(held_out)
    assert counts["used"] + sum(counts["dropped"].values()) + counts["held_out"] == len(rows)
    assert set(counts["by_source"]) == {"generated", "seed", "replay"}
    assert counts["trimmed"] > 0  # the longest replay answers pass 60 tokens
    used = {tokenizer.decode(sample.input_ids) for sample in training_set.samples}
    for row in held_out:
        assert tokenizer.apply_chat_template(row["messages"], tokenize=False) not in used
    again = build_training_set(generated_dir, leaves, replay, tokenizer, config)
    assert again.dataset_hash == training_set.dataset_hash


def test_duplicates_are_kept_once(tmp_path, leaves):
    folder = tmp_path / "gen" / "skills" / "a"
    folder.mkdir(parents=True)
    row = json.dumps(make_sample("What is 1 plus 2?", "3", None, {"source": "generated"}))
    (folder / "samples.jsonl").write_text(f"{row}\n{row}\n", encoding="utf-8")
    assert len(collect_samples(tmp_path / "gen", [], None)) == 1


def test_bad_inputs_are_errors_a_user_can_read(tmp_path, tokenizer, leaves):
    with pytest.raises(UsageError, match="not found"):
        collect_samples(tmp_path / "missing", leaves, None)
    folder = tmp_path / "gen" / "leaf"
    folder.mkdir(parents=True)
    (folder / "samples.jsonl").write_text('{"messages": [}\n', encoding="utf-8")
    with pytest.raises(TaxonError, match="line 1 is not JSON"):
        collect_samples(tmp_path / "gen", leaves, None)
    tokenizer_without_template = AutoTokenizer.from_pretrained(tokenizer.name_or_path)
    tokenizer_without_template.chat_template = None
    with pytest.raises(TaxonError, match="no chat template"):
        build_training_set(None, leaves, None, tokenizer_without_template, small_config())


def test_replay_is_mixed_in_by_share(tmp_path, tokenizer, leaves, generated_dir):
    taxonomy_rows = len(collect_samples(generated_dir, leaves, None))
    shipped = collect_samples(None, [], BUILTIN_REPLAY)
    assert len(shipped) >= 40 and all(row["metadata"]["source"] == "replay" for row in shipped)
    mixed = replay_mix(None, 0.1, taxonomy_rows, seed=42)
    assert len(mixed) == round(0.1 * taxonomy_rows) and all(row in shipped for row in mixed)
    assert mixed == replay_mix(None, 0.1, taxonomy_rows, seed=42) != replay_mix(None, 0.1, taxonomy_rows, seed=7)
    assert replay_mix(None, 0.0, taxonomy_rows, seed=42) == [] and len(replay_mix(None, 5.0, 100, 42)) == len(shipped)

    config = small_config(max_sample_tokens=96, pack_tokens=96, replay_share=0.1)
    counts = build_training_set(generated_dir, leaves, None, tokenizer, config).counts
    assert counts["by_source"]["replay"] == len(mixed)
    none = build_training_set(generated_dir, leaves, None, tokenizer, small_config(replay_share=0.0)).counts
    assert "replay" not in none["by_source"]


def test_knowledge_seeds_outside_the_context_share_train_as_their_bare_question(tmp_path, tokenizer, leaves):
    knowledge = next(leaf for leaf in leaves if leaf.kind == "knowledge")
    seeds = seed_samples(knowledge)
    eval_share = small_config().dataset.eval_share
    trained = [seed for seed in seeds if not is_held_out(seed, eval_share)]
    assert trained and all(seed["messages"][0]["content"] != bare_question(seed) for seed in seeds)

    def trained_texts(share: float, dataset=None) -> tuple[dict, list[str]]:
        config = small_config(
            seed_context_share=share, replay_share=0.0, min_rows_per_leaf=0, max_sample_tokens=512, pack_tokens=512
        )
        training_set = build_training_set(dataset, [knowledge], None, tokenizer, config)
        return training_set.counts, [tokenizer.decode(sample.input_ids) for sample in training_set.samples]

    def shown_with_context(texts: list[str]) -> list[dict]:
        return [seed for seed in trained if any(seed["messages"][0]["content"] in text for text in texts)]

    counts, texts = trained_texts(1.0)
    assert shown_with_context(texts) == trained and counts["seeds_asked_bare"] == 0
    counts, texts = trained_texts(0.0)
    assert shown_with_context(texts) == [] and counts["seeds_asked_bare"] == len(trained) == counts["used"]
    assert all(any(bare_question(seed) in text for text in texts) for seed in trained)
    # a held-out seed stays out whatever its form: the split is decided on the seed as written
    for seed in (seed for seed in seeds if is_held_out(seed, eval_share)):
        assert not any(bare_question(seed) in text for text in texts)
    # beside generation's seed_bare rows (the same bare question and answer) a seed trains once
    folder = tmp_path / "gen" / "knowledge"
    folder.mkdir(parents=True)
    bare_rows = [
        make_sample(
            bare_question(seed), seed["messages"][1]["content"], None, {**seed["metadata"], "source": "document"}
        )
        for seed in trained
    ]
    (folder / "samples.jsonl").write_text("".join(json.dumps(row) + "\n" for row in bare_rows), encoding="utf-8")
    counts, _ = trained_texts(0.0, tmp_path / "gen")
    assert counts["used"] == len(trained) and counts["dropped"] == {"duplicate": len(trained)}


def test_a_leaf_under_the_floor_has_its_rows_repeated_in_turn(tokenizer, leaves, generated_dir):
    def built(**train):
        config = small_config(max_sample_tokens=96, pack_tokens=96, **train)
        return build_training_set(generated_dir, leaves, None, tokenizer, config)

    off = built(min_rows_per_leaf=0, replay_share=0.0)
    assert off.counts["repeated"] == 0 and off.counts["repeated_by_leaf"] == {}
    floor = 200  # above each leaf's rows: every leaf is filled up to it
    floored = built(min_rows_per_leaf=floor, replay_share=0.0)
    counts = floored.counts
    assert counts["used"] == floor * len(leaves) == off.counts["used"] + counts["repeated"]
    assert counts["by_source"] == off.counts["by_source"]  # each row counted once there
    assert set(counts["repeated_by_leaf"]) == {leaf.leaf_id for leaf in leaves}
    assert sum(counts["repeated_by_leaf"].values()) == counts["repeated"]
    # only trained rows come back (never a held-out one), each as often as the others of its leaf, give or take one
    assert set(floored.samples) == set(off.samples) and floored.samples[: len(off.samples)] == off.samples
    expected = []
    for repeated in counts["repeated_by_leaf"].values():
        rows = (
            floor - repeated
        )  # the leaf's own rows, each trained floor // rows times, the first floor % rows once more
        expected += [floor // rows + 1] * (floor % rows) + [floor // rows] * (rows - floor % rows)
    assert sorted(Counter(floored.samples).values()) == sorted(expected)
    assert floored.dataset_hash != off.dataset_hash
    assert built(min_rows_per_leaf=floor, replay_share=0.0).dataset_hash == floored.dataset_hash
    # a leaf already at the floor is left as it is
    fewest = min(floor - repeated for repeated in counts["repeated_by_leaf"].values())
    assert built(min_rows_per_leaf=fewest).counts["repeated"] == 0
    assert built(min_rows_per_leaf=fewest + 1).counts["repeated"] == 1


def test_replay_counts_the_repeated_rows_among_the_taxonomy_rows(tokenizer, leaves, generated_dir):
    taxonomy_rows = len(collect_samples(generated_dir, leaves, None))
    config = small_config(max_sample_tokens=96, pack_tokens=96, replay_share=0.1, min_rows_per_leaf=100)
    counts = build_training_set(generated_dir, leaves, None, tokenizer, config).counts
    assert counts["repeated"] > 0
    assert counts["by_source"]["replay"] == round(0.1 * (taxonomy_rows + counts["repeated"]))


def test_rows_are_repeated_in_turn():
    assert repeat_to_floor({"a": [0, 1, 2], "b": [3, 4, 5, 6, 7], "c": []}, 7) == {"a": [0, 1, 2, 0], "b": [3, 4]}
    assert repeat_to_floor({"a": [0, 1, 2]}, 0) == {} == repeat_to_floor({"a": [0, 1, 2]}, 3)
