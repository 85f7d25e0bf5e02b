"""The knowledge pipeline on a leaf with an in-tree document, chunked by a real tokenizer."""

import shutil

import pytest

from support.scripted_teacher import ScriptedTeacher
from taxon.core.store import read_jsonl
from taxon.generate.knowledge import needs_passage, seeds_for_chunk
from taxon.generate.run import generate_leaves
from taxon.qna.taxonomy import load_leaf

FINCH = "taxonomy/knowledge/science/fictional_species/marrowick_finch"


def test_seeds_rotate_over_chunks():
    assert seeds_for_chunk(0, 5, 2) == [0, 1] and seeds_for_chunk(1, 5, 2) == [2, 3]
    assert seeds_for_chunk(2, 5, 2) == [4, 0] and seeds_for_chunk(3, 3, 0) == [0, 1, 2]


def test_a_question_that_points_at_the_passage_keeps_it():
    assert needs_passage("According to the passage, what does the finch eat?")
    assert needs_passage("What does this text say about rats?")
    assert not needs_passage("What does the Marrowick finch eat in summer?")


def finch_leaf(tmp_path, repo_root):
    leaf_folder = tmp_path / FINCH
    shutil.copytree(repo_root / FINCH, leaf_folder)
    return load_leaf(leaf_folder / "qna.yaml")


def test_knowledge_samples_are_grounded_in_chunks(tmp_path, repo_root, make_config, tiny_model_dir):
    leaf = finch_leaf(tmp_path, repo_root)
    config = make_config(
        chunk_tokenizer=str(tiny_model_dir),
        seeds_per_chunk=1,
        questions_per_chunk=2,
        judge="generated",
        knowledge_chunk_share=1.0,
        document_forms=[],
    )
    config = config.with_overrides({"documents": {"chunk_tokens": 200}})
    teacher = ScriptedTeacher(loglikelihood=False)
    result = generate_leaves([leaf], tmp_path / "out", config, teacher, quiet=True)

    stats = result.leaves[leaf.leaf_id]
    rows = read_jsonl(tmp_path / "out" / leaf.leaf_id / "samples.jsonl")
    chunks = {row["metadata"]["chunk"] for row in rows}
    assert len(chunks) > 1 and stats["kept"] == len(rows) > 0
    document = (tmp_path / FINCH / "document.md").read_text()
    for row in rows:
        context, _, question = row["messages"][0]["content"].rpartition("\n\n")
        assert context.strip()[:40] in document and question
        assert row["metadata"]["judge"] == "generated" and row["metadata"]["judge_score"] == 5
    prompts = [r.messages[-1]["content"] for r in teacher.requests]
    assert any(p.startswith("Rate how faithful") for p in prompts)
    dropped = read_jsonl(tmp_path / "out" / leaf.leaf_id / "dropped.jsonl")
    asked = chunks | {row["metadata"]["chunk"] for row in dropped}
    assert sum(p.startswith("Here is a passage") for p in prompts) == len(asked)  # one seed per chunk


def test_most_knowledge_samples_ask_without_the_chunk(tmp_path, repo_root, make_config, tiny_model_dir):
    leaf = finch_leaf(tmp_path, repo_root)
    config = make_config(
        chunk_tokenizer=str(tiny_model_dir),
        seeds_per_chunk=0,
        knowledge_chunk_share=0.2,
        document_forms=["section", "sentence_topic", "sentence_continue", "sentence_fact", "seed_bare"],
    )
    teacher = ScriptedTeacher()
    generate_leaves([leaf], tmp_path / "out", config, teacher, quiet=True)
    rows = read_jsonl(tmp_path / "out" / leaf.leaf_id / "samples.jsonl")
    taught = [row for row in rows if row["metadata"]["source"] == "generated"]
    shown = [row for row in taught if "\n\n" in row["messages"][0]["content"]]
    assert len(taught) >= 20 and 0 < len(shown) < len(taught) * 0.4
    derived = [row for row in rows if row["metadata"]["source"] == "document"]
    assert {row["metadata"]["form"] for row in derived} == {
        "section",
        "sentence_topic",
        "sentence_continue",
        "sentence_fact",
        "seed_bare",
    }
    assert all("\n\n" not in row["messages"][0]["content"] for row in derived)
    answers = {row["messages"][1]["content"] for row in derived}
    assert "The female lays a clutch of three eggs, which are pale blue with brown speckles." in answers
    # a sentence of two facts answers a question for each, near-duplicates kept on purpose
    two_facts = "She incubates them for 13 days, and the chicks leave the nest 16 days after hatching."
    asked = [
        row["messages"][0]["content"]
        for row in derived
        if row["metadata"]["form"] == "sentence_fact" and row["messages"][1]["content"] == two_facts
    ]
    assert len(asked) == 2 and "how many days" in asked[0] and "13" not in asked[0] and "16" not in asked[1]


def test_unusable_documents_fail_their_leaf_only(tmp_path, repo_root, make_config):
    from generate_helpers import BIRD_QUESTIONS, write_skill

    from taxon.generate.run import LeavesFailed
    from taxon.qna.taxonomy import load_leaves

    shutil.copytree(repo_root / FINCH, tmp_path / FINCH)
    (tmp_path / FINCH / "document.md").unlink()
    write_skill(tmp_path / "taxonomy", "birds", BIRD_QUESTIONS)
    leaves = load_leaves(tmp_path / "taxonomy")
    with pytest.raises(LeavesFailed) as failure:
        generate_leaves(leaves, tmp_path / "out", make_config(), ScriptedTeacher(), quiet=False)  # progress bars on
    result = failure.value.result
    assert list(result.errors) == ["knowledge/science/fictional_species/marrowick_finch"]
    assert "documents" in result.errors["knowledge/science/fictional_species/marrowick_finch"]
    assert result.leaves["compositional_skills/birds"]["kept"] > 0


def test_no_teacher_questions_leaves_the_documents_own_restatements(tmp_path, repo_root, make_config, tiny_model_dir):
    """questions_per_chunk = 0: a small teacher's questions on a passage are left out (the cpu profile's
    135M teacher wrote "The Marrowick finch lives up to 13 days after hatching, so it is around 13 feet
    high"); the leaf trains on its document's sentences restated, the look-ups and its seeds."""
    leaf = finch_leaf(tmp_path, repo_root)
    config = make_config(
        chunk_tokenizer=str(tiny_model_dir),
        questions_per_chunk=0,
        document_forms=["sentence_fact", "fact_echo", "subject_lookup", "seed_bare"],
    )
    teacher = ScriptedTeacher()
    generate_leaves([leaf], tmp_path / "out", config, teacher, quiet=True)
    rows = read_jsonl(tmp_path / "out" / leaf.leaf_id / "samples.jsonl")
    assert {row["metadata"]["source"] for row in rows} == {"document"}
    assert not [r for r in teacher.requests if r.messages[-1]["content"].startswith("Here is a passage")]
    forms = {row["metadata"]["form"] for row in rows}
    assert forms == {"sentence_fact", "fact_echo", "subject_lookup", "seed_bare"}
    pairs = {row["messages"][0]["content"]: row["messages"][1]["content"] for row in rows}
    assert pairs["Which songbird was first described in 1881 by the naturalist Tobias Quenby?"].startswith(
        "The Marrowick finch was first described in 1881"
    )


def test_a_sentence_to_complete_stops_before_a_fact():
    from taxon.documents.sections import Section
    from taxon.generate.derived import continue_question
    from taxon.qna.text import sentence_facts

    section = Section("town.md", "Brindlemoor", "Landmarks", ())
    church = "Saint Aldric's Church, on the hill above the square, has a window showing the river in twelve panels."
    asked = continue_question(section, church, sentence_facts(church, frozenset(), set()))
    # the name opens the sentence: the number is the fact to recall
    assert asked == (
        "Complete this statement from the document on Brindlemoor: \"Saint Aldric's Church, on the hill above "
        'the square, has a window showing the river in ..."'
    )
    plain = "The square is busy on market days and quiet in the evenings."
    assert continue_question(section, plain, sentence_facts(plain, frozenset(), set())) is None
