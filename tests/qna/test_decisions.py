"""taxon.qna.decisions: the sample id, the decision file's form, and the filters' agreement
with the maintainers."""

from __future__ import annotations

import pytest

from taxon.qna.decisions import (
    Decision,
    agreement,
    decisions_still_needed,
    parse_decision,
    precision_recall,
    render_decision,
    row_sample_id,
    sample_id,
)
from taxon.qna.loader import parse_text

LEAF = "compositional_skills/linguistics/plural_nouns"


def _row(question: str, answer: str, **metadata) -> dict:
    return {
        "messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
        "metadata": {"leaf": LEAF, "source": "generated", **metadata},
    }


def test_the_id_is_a_hash_of_leaf_question_and_answer_only():
    first = sample_id(LEAF, "What is the plural of ox?", "Oxen.")
    assert len(first) == 12 and int(first, 16) >= 0
    assert first == sample_id(LEAF, "What is the plural of ox?", "Oxen.")  # stable across runs and machines
    # and across releases (decisions in the repository name it): sha256 of the JSON list [leaf, question, answer]
    assert first == "d9c10440e698"
    assert first != sample_id(LEAF, "What is the plural of ox?", "Oxes.")
    assert first != sample_id("compositional_skills/other", "What is the plural of ox?", "Oxen.")
    row = _row("What is the plural of ox?", "Oxen.", judge_score=-1.0, teacher="a", id="ffffffffffff")
    assert row_sample_id(row) == first  # the metadata, its claimed id included, counts for nothing
    fixed = _row("What is the plural of ox?", "The plural of ox is oxen.", decision="fix", original_answer="Oxen.")
    assert row_sample_id(fixed) == first  # a fixed row keeps the id of what was generated


@pytest.mark.parametrize(
    "question, answer",
    [
        ('Quote "this" and \\ that', "Line one\nline two\ttab"),
        ("Zero\u200bwidth and bidi \u202e here", "Bell \x07 and next-line \x85 and separator \u2028"),
        ("Emoji 🦆 and CJK 鴨", "'single' and {braces}: [brackets] # not a comment"),
    ],
)
def test_a_decision_file_reads_back_what_was_written(question, answer):
    decision = Decision(
        sample_id(LEAF, question, answer),
        LEAF,
        "fix",
        "alice",
        "2026-01-31T12:00:00Z",
        question,
        answer,
        "Geese.",
        'why: "x"',
    )
    text = render_decision(decision)
    parsed, findings = parse_decision(parse_text(text, "d.yaml"), LEAF, decision.sample)
    assert findings == [] and parsed is not None
    assert (parsed.sample, parsed.fixed_answer, parsed.reason, parsed.by) == (
        decision.sample,
        "Geese.",
        'why: "x"',
        "alice",
    )
    assert "\u200b" not in text and "\x07" not in text and "\u2028" not in text  # hidden characters written out
    assert parsed.question.count("<U+") == question.count("\u200b") + question.count("\u202e")


def test_agreement_counts_each_filters_verdict_against_the_maintainers():
    rows = [
        _row("a", "1", decision="keep", filter_reason=None, filter_step=None, judge="generated", checks={"form": True}),
        _row("b", "2", decision="drop", filter_reason=None, filter_step=None, judge="generated", checks={"form": True}),
        _row("c", "3", decision="fix", filter_reason=None, filter_step=None, judge="generated"),
        _row(
            "d",
            "4",
            decision="keep",
            filter_reason="judge_low",
            filter_step="judge",
            judge="generated",
            checks={"form": True},
        ),
        _row("e", "5", decision="drop", filter_reason="form", filter_step="check", checks={"form": False}),
        _row("f", "6"),  # undecided: not counted
    ]
    table = agreement(rows)
    assert table["filters"] == {"tp": 1, "fp": 2, "fn": 1, "tn": 1}
    assert table["judge"] == {"tp": 1, "fp": 2, "fn": 1, "tn": 0}
    assert table["checks"] == {"tp": 2, "fp": 1, "fn": 0, "tn": 1}
    assert precision_recall(table["filters"]) == (1 / 3, 0.5, 5)
    assert precision_recall({"tp": 0, "fp": 0, "fn": 0, "tn": 0}) == (None, None, 0)


def test_decisions_still_needed_rounds_up():
    assert decisions_still_needed({"teacher_written": 10, "teacher_reviewed": 0}, 0.25) == 3
    assert decisions_still_needed({"teacher_written": 10, "teacher_reviewed": 3}, 0.25) == 0
    assert decisions_still_needed({"teacher_written": 0, "teacher_reviewed": 0}, 1.0) == 0
    assert decisions_still_needed({"teacher_written": 7, "teacher_reviewed": 2}, 1.0) == 5
