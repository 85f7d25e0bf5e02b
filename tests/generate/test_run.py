import json
from pathlib import Path

import pytest
from generate_helpers import BIRD_QUESTIONS, write_skill

from support.scripted_teacher import ScriptedTeacher
from taxon.core.errors import TaxonError
from taxon.core.store import read_jsonl
from taxon.generate.run import generate_leaves
from taxon.qna.layout import DROPPED_NAME, SAMPLES_NAME, STATS_NAME
from taxon.qna.taxonomy import load_leaves


def stats_of(out: Path, leaf_id: str) -> dict:
    return json.loads((out / leaf_id / STATS_NAME).read_text())


def test_counts_and_reasons_for_bad_replies(tmp_path, make_config):
    questions = BIRD_QUESTIONS + [
        "What do wrens eat? [refuse]",
        "What do wrens eat? [empty]",
        "What do wrens eat? [malformed]",
        "What do wrens eat? [error]",
        "What do wrens eat? [cutoff]",
        "What do finches eat? [offtopic]",
        "What do finches eat? [answer-refuse]",
        "What do finches eat? [answer-empty]",
        "What do finches eat? [answer-cutoff]",
        "What do finches eat? [wrong]",
        "What do finches eat? [dupes]",
    ]
    write_skill(tmp_path / "taxonomy", "birds", questions)
    leaves = load_leaves(tmp_path / "taxonomy")
    result = generate_leaves(leaves, tmp_path / "out", make_config(), ScriptedTeacher(), quiet=True)

    stats = stats_of(tmp_path / "out", "compositional_skills/birds")
    assert stats["dropped"] == {
        "cut_off": 1 + 3,  # the cut-off list loses its last item; three answers cut off
        "empty": 1 + 3,
        "error": 1,
        "judge_low": 3,
        "malformed": 1,
        "near_duplicate": 2,
        "off_topic": 3,
        "refusal": 1 + 3,
    }
    assert stats["kept"] == 3 * 3 + 2 + 1  # three good seeds, the cut-off list's two, one of the dupes
    assert stats["generated"] == stats["kept"] + sum(stats["dropped"].values())
    assert result.leaves["compositional_skills/birds"] == stats
    assert stats["parameters"]["questions_per_seed"] == 3 and stats["teacher"] == "scripted:v1"

    kept = read_jsonl(tmp_path / "out/compositional_skills/birds" / SAMPLES_NAME)
    dropped = read_jsonl(tmp_path / "out/compositional_skills/birds" / DROPPED_NAME)
    assert len(kept) == stats["kept"] and len(dropped) == sum(stats["dropped"].values())
    assert all(row["metadata"]["source"] == "generated" and row["metadata"]["judge"] == "loglikelihood" for row in kept)
    assert {row["metadata"]["reason"] for row in dropped} == set(stats["dropped"])
    assert all(row["metadata"]["judge_score"] == -1.0 for row in kept)
    assert [m["role"] for m in kept[0]["messages"]] == ["user", "assistant"]


def test_loglikelihood_judge_needs_a_teacher_that_scores(tmp_path, make_config):
    write_skill(tmp_path / "taxonomy", "birds", BIRD_QUESTIONS)
    with pytest.raises(TaxonError, match="can't score answers by log-likelihood"):
        generate_leaves(
            load_leaves(tmp_path / "taxonomy"),
            tmp_path / "out",
            make_config(judge="loglikelihood"),
            ScriptedTeacher(loglikelihood=False),
            quiet=True,
        )


def test_judge_none_keeps_answers_unscored(tmp_path, make_config):
    write_skill(tmp_path / "taxonomy", "birds", BIRD_QUESTIONS + ["What do owls eat? [wrong]"])
    teacher = ScriptedTeacher()
    result = generate_leaves(
        load_leaves(tmp_path / "taxonomy"), tmp_path / "out", make_config(judge="none"), teacher, quiet=True
    )
    assert result.leaves["compositional_skills/birds"]["kept"] == 12 and teacher.scored == 0


class ReportingTeacher(ScriptedTeacher):
    """Reports each request as it finishes, as the real backends do."""

    def chat(self, requests, progress=None):
        completions = super().chat(requests)
        for _ in completions:
            progress(1)
        return completions


def test_progress_counts_units_as_the_teacher_answers_them(tmp_path, make_config, monkeypatch, capsys):
    """One task for the run, moved by each finished request (log-likelihood scores, which a
    teacher answers as a batch, are counted when the batch ends), with the leaves finished:
    off a terminal its last line is the only one at 100 %, not each leaf's once per step."""
    from taxon.generate import units

    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    write_skill(tmp_path / "taxonomy", "birds", BIRD_QUESTIONS)
    write_skill(tmp_path / "taxonomy", "wrens", [q.replace("finch", "wren") for q in BIRD_QUESTIONS])
    counts: list[int] = []
    original = units.UnitRunner._answered
    monkeypatch.setattr(units.UnitRunner, "_answered", lambda self, n: (counts.append(n), original(self, n)))
    teacher = ReportingTeacher()
    result = generate_leaves(load_leaves(tmp_path / "taxonomy"), tmp_path / "out", make_config(), teacher)
    assert counts and set(counts) == {1} and len(counts) == len(teacher.requests)
    lines = capsys.readouterr().err.splitlines()
    total = len(teacher.requests) + teacher.scored
    assert [line for line in lines if "%" in line] == [lines[-1]]
    assert lines[-1].startswith(f"generate: units: {total}/{total} (100%), leaves 2/2 done, elapsed ")
    assert result.calls == total
