"""Held-out hygiene on a real generate run: the seeds evaluation keeps never reach the teacher,
and nothing generated, derived or trained comes within the held-out Jaccard of them."""

import shutil

from support.scripted_teacher import ScriptedTeacher
from taxon.core.store import read_jsonl
from taxon.generate.run import generate_leaves
from taxon.qna.heldout import (
    HELD_OUT_MAX_JACCARD,
    HeldOut,
    eval_questions,
    held_out_seed_indexes,
    leaf_form,
    leaf_held_out,
)
from taxon.qna.samples import question_of
from taxon.qna.taxonomy import load_leaf
from taxon.train.data import build_training_set

FINCH = "taxonomy/knowledge/science/fictional_species/marrowick_finch"


def test_jaccard_guard():
    guard = HeldOut(("How many eggs does a Marrowick finch lay?",))
    assert guard.too_close("How many eggs does the Marrowick finch lay?")
    assert not guard.too_close("What colour are Marrowick finch eggs?")
    score, question = guard.closest("How many eggs does a finch lay?")
    assert question == guard.questions[0] and HELD_OUT_MAX_JACCARD <= score < 1


def test_a_skill_question_is_compared_without_the_words_its_form_repeats(repo_root):
    """Two instances of a skill's form are different questions; a reworded instance is not."""
    plurals = load_leaf(repo_root / "taxonomy/compositional_skills/linguistics/plural_nouns/qna.yaml")
    assert {"plural", "of", "what", "is"} <= leaf_form(plurals)
    guard = HeldOut(("What is the plural form of city?",), form=leaf_form(plurals))
    assert not guard.too_close("What is the plural form of leaf?")  # 0.75 with the form's words
    assert guard.too_close("What is the plural form of the word city?")
    poems = load_leaf(repo_root / "taxonomy/compositional_skills/writing/poetry/three_line_poem/qna.yaml")
    guard = HeldOut(('Write a haiku with three syllables, rhyming with "tak".',), form=leaf_form(poems))
    assert guard.too_close('Write a haiku with three syllables, rhyming with "to kyak".')  # seen in a demo run
    assert leaf_form(load_leaf(repo_root / FINCH / "qna.yaml")) == frozenset()  # every word of a fact counts


def test_held_out_seeds_reach_neither_teacher_nor_training(tmp_path, repo_root, make_config, tiny_model_dir):
    shutil.copytree(repo_root / FINCH, tmp_path / FINCH)
    leaf = load_leaf(tmp_path / FINCH / "qna.yaml")
    config = make_config(eval_share=0.3, chunk_tokenizer=str(tiny_model_dir), seeds_per_chunk=0)
    held = held_out_seed_indexes(leaf, 0.3)
    assert 0 < len(held) < len(leaf.seeds)
    teacher = ScriptedTeacher()
    result = generate_leaves([leaf], tmp_path / "out", config, teacher, quiet=True)

    sent = "\n".join(message["content"] for request in teacher.requests for message in request.messages)
    for index in held:
        assert leaf.seeds[index].question not in sent and leaf.seeds[index].answer not in sent
    kept = read_jsonl(tmp_path / "out" / leaf.leaf_id / "samples.jsonl")
    facts = eval_questions(tmp_path / "out", leaf.leaf_id)  # the document clozes, as generate recorded them
    assert len(facts) > 20 and all("fill in the blank" in question for question in facts)
    guard = leaf_held_out(leaf, 0.3, facts)
    bare = [question_of(row).rpartition("\n\n")[2] for row in kept]
    assert bare and not any(guard.too_close(question) for question in bare)
    assert result.leaves[leaf.leaf_id]["dropped"].get("held_out", 0) > 0  # the seed_bare forms of held-out seeds

    from transformers import AutoTokenizer

    config = config.with_overrides({"train": {"max_sample_tokens": 512, "pack_tokens": 512}})
    training = build_training_set(tmp_path / "out", [leaf], None, AutoTokenizer.from_pretrained(tiny_model_dir), config)
    tokenizer_text = AutoTokenizer.from_pretrained(tiny_model_dir)
    trained = [tokenizer_text.decode(sample.input_ids) for sample in training.samples]
    for index in held:
        assert not any(leaf.seeds[index].question in text or leaf.seeds[index].answer in text for text in trained)
    assert training.counts["by_source"]["document"] > 0


def test_a_near_copy_of_a_held_out_generated_skill_question_is_not_trained(repo_root):
    """Evaluation asks a skill leaf's held-out generated questions too (seen in a demo run: a
    training question at Jaccard 0.625 to one of them)."""
    from taxon.qna.heldout import HELD_OUT, NEAR_HELD_OUT, TRAIN, TrainingSplit
    from taxon.qna.samples import is_held_out, make_sample

    poems = load_leaf(repo_root / "taxonomy/compositional_skills/writing/poetry/three_line_poem/qna.yaml")

    def generated(question: str) -> dict:
        return make_sample(question, "a line\nanother\na third", None, {"leaf": poems.leaf_id, "kind": "skill"})

    held = next(
        row
        for row in (
            generated(f'Write a haiku with three syllables, rhyming with "{w}".')
            for w in ("tak", "mo", "ra", "zi", "pu", "ke")
        )
        if is_held_out(row, 0.2)
    )
    near = generated(question_of(held).replace("rhyming with", "rhyming with the word"))
    other = generated("Turn into a three-line poem: The tide went out at noon.")
    assert not is_held_out(near, 0.2) and not is_held_out(other, 0.2)
    split = TrainingSplit([poems], 0.2, rows=[held, near, other])
    assert [split.side(row) for row in (held, near, other)] == [HELD_OUT, NEAR_HELD_OUT, TRAIN]
    assert TrainingSplit([poems], 0.2).side(near) == TRAIN  # without the rows, only the seeds guard


def test_checker_made_questions_are_told_apart_by_their_figures(repo_root):
    """Evaluation's checker-made questions are the seeds' own words with new figures: a training
    seed is never dropped for sharing their words, a question with their figures always is."""
    from taxon.qna.heldout import HELD_OUT, NEAR_HELD_OUT, TRAIN, TrainingSplit, checker_items
    from taxon.qna.samples import make_sample, seed_samples

    leaf = load_leaf(repo_root / "taxonomy/foundational_skills/reasoning/arithmetic/two_number_addition/qna.yaml")
    split = TrainingSplit([leaf], 0.2)
    sides = [split.side(sample) for sample in seed_samples(leaf)]
    assert NEAR_HELD_OUT not in sides and sides.count(HELD_OUT) < len(sides)
    (question, solution), *_ = checker_items(leaf)
    first, second = solution.allowed
    asked_again = make_sample(f"Please add {first} and {second}.", "", None, {"leaf": leaf.leaf_id, "kind": leaf.kind})
    assert split.side(asked_again) in (NEAR_HELD_OUT, HELD_OUT)
    other = make_sample("Please add 1 and 2.", "", None, {"leaf": leaf.leaf_id, "kind": leaf.kind})
    assert split.side(other) in (TRAIN, HELD_OUT)
