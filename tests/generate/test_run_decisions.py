"""Generation honours the maintainers' decisions (decisions/ beside the taxonomy): a drop
never trains and a regeneration never keeps it again, a keep stays kept whatever the
filters say, a fix trains with the maintainer's answer; a new decision re-derives the leaf
from the unit cache without asking the teacher anything."""

import json
from pathlib import Path

import pytest
from generate_helpers import BIRD_QUESTIONS, write_skill

from support.scripted_teacher import ScriptedTeacher
from taxon.core.errors import TaxonError
from taxon.core.store import read_jsonl
from taxon.generate.run import generate_leaves
from taxon.qna.decisions import Decision, now, row_sample_id, write_decision
from taxon.qna.layout import DROPPED_NAME, SAMPLES_NAME, STATS_NAME
from taxon.qna.taxonomy import load_leaves

LEAF = "compositional_skills/birds"


def _generate(tmp_path: Path, make_config, teacher=None):
    leaves = load_leaves(tmp_path / "taxonomy")
    teacher = teacher or ScriptedTeacher()
    generate_leaves(leaves, tmp_path / "out", make_config(), teacher, quiet=True)
    folder = tmp_path / "out" / LEAF
    stats = json.loads((folder / STATS_NAME).read_text())
    return read_jsonl(folder / SAMPLES_NAME), read_jsonl(folder / DROPPED_NAME), stats, teacher


def _decide(tmp_path: Path, row: dict, action: str, fixed: str | None = None) -> Decision:
    messages = row["messages"]
    decision = Decision(
        row_sample_id(row), LEAF, action, "alice", now(), messages[0]["content"], messages[-1]["content"], fixed
    )
    write_decision(tmp_path / "decisions", decision)
    return decision


def _by_id(rows: list[dict]) -> dict[str, dict]:
    return {row["metadata"]["id"]: row for row in rows}


@pytest.fixture
def taxonomy(tmp_path):
    write_skill(tmp_path / "taxonomy", "birds", [*BIRD_QUESTIONS, "What do finches eat? [wrong]"])
    return tmp_path / "taxonomy"


def test_every_sample_has_its_content_hash_as_id(tmp_path, make_config, taxonomy):
    kept, dropped, stats, _ = _generate(tmp_path, make_config)
    rows = kept + dropped
    assert all(row["metadata"]["id"] == row_sample_id(row) for row in rows)
    assert len({row["metadata"]["id"] for row in rows}) == len(rows)
    assert stats["decisions"] == {
        "reviewed": 0,
        "keep": 0,
        "drop": 0,
        "fix": 0,
        "unreviewed": len(kept),
        "teacher_written": len(kept),
        "teacher_reviewed": 0,
        "orphaned": [],
        "blocked": [],
    }


def test_decisions_apply_and_a_new_one_costs_no_teacher_call(tmp_path, make_config, taxonomy):
    kept, dropped, _, first = _generate(tmp_path, make_config)
    assert first.calls > 0
    judged_low = next(row for row in dropped if row["metadata"]["reason"] == "judge_low")
    dropped_ids = [_decide(tmp_path, row, "drop").sample for row in kept[:2]]
    fixed = _decide(tmp_path, kept[2], "fix", "Robins build their nests in hedges and ivy.")
    rescued = _decide(tmp_path, judged_low, "keep")
    confirmed = _decide(tmp_path, kept[3], "keep")

    again = ScriptedTeacher()
    kept2, dropped2, stats, _ = _generate(tmp_path, make_config, again)
    assert again.calls == 0  # every unit was cached: the leaf was re-derived, not regenerated
    kept_ids, dropped_ids2 = _by_id(kept2), _by_id(dropped2)
    for sample in dropped_ids:
        assert sample not in kept_ids
        assert dropped_ids2[sample]["metadata"]["reason"] == "dropped_by_maintainer"
        assert dropped_ids2[sample]["metadata"]["filter_reason"] is None  # the filters had kept it
    fixed_row = kept_ids[fixed.sample]
    assert fixed_row["messages"][-1]["content"] == "Robins build their nests in hedges and ivy."
    assert fixed_row["metadata"]["original_answer"] == kept[2]["messages"][-1]["content"]
    assert fixed_row["metadata"]["decision"] == "fix" and fixed_row["metadata"]["decided_by"] == "alice"
    assert kept_ids[rescued.sample]["metadata"]["filter_reason"] == "judge_low"
    assert "reason" not in kept_ids[rescued.sample]["metadata"]
    assert kept_ids[confirmed.sample]["metadata"]["decision"] == "keep"
    assert stats["kept"] == len(kept) - 2 + 1 and stats["dropped"]["dropped_by_maintainer"] == 2
    decisions = stats["decisions"]
    assert (decisions["reviewed"], decisions["keep"], decisions["drop"], decisions["fix"]) == (5, 2, 2, 1)
    assert decisions["unreviewed"] == len(kept) - 4 and decisions["teacher_reviewed"] == 4
    # the filters kept 4 decided samples (1 keep, 2 drops, 1 fix) and dropped one a maintainer kept
    assert stats["agreement"]["filters"] == {"tp": 1, "fp": 3, "fn": 1, "tn": 0}

    unchanged = ScriptedTeacher()
    assert _generate(tmp_path, make_config, unchanged)[:2] == (kept2, dropped2)  # finished: skipped whole
    assert unchanged.calls == 0


def test_a_regeneration_never_keeps_a_dropped_sample_again(tmp_path, make_config, taxonomy):
    kept, _, _, _ = _generate(tmp_path, make_config)
    dropped = _decide(tmp_path, kept[0], "drop")
    # an unrelated change: another leaf, and a setting that leaves this leaf's samples as they were
    write_skill(tmp_path / "taxonomy", "owls", ["Where do owls sleep?", "What do owls eat?"], task="owls at night")
    kept2, dropped2, _, _ = _generate(tmp_path, make_config)
    assert dropped.sample not in _by_id(kept2) and dropped.sample in _by_id(dropped2)
    assert {row["metadata"]["id"] for row in kept2} == {row["metadata"]["id"] for row in kept} - {dropped.sample}


def test_a_decision_for_content_no_longer_generated_is_orphaned_not_applied(tmp_path, make_config, taxonomy):
    kept, _, _, _ = _generate(tmp_path, make_config)
    row = json.loads(json.dumps(kept[0]))
    row["messages"][-1]["content"] = "An answer the teacher never gave."
    orphan = _decide(tmp_path, row, "drop")
    kept2, _, stats, _ = _generate(tmp_path, make_config)
    assert stats["decisions"]["orphaned"] == [orphan.sample]
    assert len(kept2) == len(kept)


def test_no_decision_keeps_a_question_too_close_to_a_held_out_one(tmp_path, make_config, taxonomy):
    from taxon.generate.filters import HELD_OUT
    from taxon.qna.decisions import apply_decisions

    row = {
        "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
        "metadata": {"leaf": LEAF, "reason": HELD_OUT, "step": "questions", "source": "generated"},
    }
    decision = Decision(row_sample_id(row), LEAF, "keep", "alice", now(), "q", "a")
    applied = apply_decisions([], [row], {decision.sample: decision}, protected=(HELD_OUT,))
    assert applied.kept == [] and applied.blocked == [decision.sample]
    assert applied.dropped[0]["metadata"]["reason"] == HELD_OUT


def test_a_broken_decision_file_stops_generation_and_says_where(tmp_path, make_config, taxonomy):
    folder = tmp_path / "decisions" / LEAF
    folder.mkdir(parents=True)
    (folder / "0123456789ab.yaml").write_text('version: 1\nid: "0123456789ab"\ndecision: "maybe"\n')
    with pytest.raises(TaxonError, match="R001") as caught:
        _generate(tmp_path, make_config)
    assert "0123456789ab.yaml" in caught.value.where and "taxon validate" in caught.value.hint
