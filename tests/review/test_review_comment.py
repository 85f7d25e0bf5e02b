import json
import re

import pytest
from review_fixtures import HOSTILE_ANSWER, TEACHER, write_gen_out, write_taxonomy

from taxon.core.github import COMMENT_MARKER
from taxon.core.markdown import code_span
from taxon.review.comment import GITHUB_COMMENT_LIMIT, comment_size, fenced, render_comment
from taxon.review.data import load_review


@pytest.fixture
def review(tmp_path):
    return load_review(write_gen_out(tmp_path / "gen"), write_taxonomy(tmp_path / "taxonomy"))


def _outside_code(markdown: str) -> str:
    """The markdown with fenced blocks and code spans removed: what GitHub renders as text."""
    without_fences = re.sub(r"(?ms)^(`{3,})text\n.*?\n\1$", "", markdown)
    return re.sub(r"(`+).*?\1", "", without_fences)


def test_comment_has_marker_counts_reasons_teacher_and_link(review):
    url = "https://github.com/o/r/actions/runs/1/artifacts/2"
    markdown = render_comment(review, artifact_url=url, commit="abcdef1234")
    assert markdown.startswith(COMMENT_MARKER + "\n")
    assert f"teacher `{TEACHER}`" in markdown and "pipeline version `2`" in markdown
    assert f"]({url})" in markdown
    assert (
        "| `knowledge/science/birds` | `knowledge` | 8 | 5 | 3 | `duplicate` 1, `judge_low` 1, `refusal` 1 |"
        in markdown
    )
    assert "3 of the 4 undecided, picked by id" in markdown  # samples_per_leaf of the haiku leaf's 4


def test_unsafe_artifact_url_is_not_linked(review):
    markdown = render_comment(review, artifact_url="javascript:alert(1)")
    assert "javascript:" not in markdown and "attached to the workflow run" in markdown


def test_hostile_sample_stays_inside_code(review):
    markdown = render_comment(review, samples_per_leaf=10)
    assert HOSTILE_ANSWER in markdown  # shown in full, literally
    text = _outside_code(markdown)
    for hostile in ("<script", "</script", "<img", "@octocat", "@everyone", "</details>\n`"):
        assert hostile not in text
    assert text.count("<details>") == text.count("</details>") == 2


def test_fence_is_longer_than_any_backtick_run():
    block = fenced("a ````` b\n```\nc")
    assert block.startswith("``````text\n") and block.endswith("\n``````")
    assert code_span("x ` y") == "``x ` y``" and code_span("`x`") == "`` `x` ``"
    assert code_span("a | b\nc") == "`a | b c`"


def test_long_comment_is_cut_to_the_limit_with_a_note(tmp_path):
    data = load_review(write_gen_out(tmp_path / "gen", generated_per_leaf=6, extra_leaves=400))
    markdown = render_comment(data, samples_per_leaf=6, message_chars=2000)
    assert comment_size(markdown) <= GITHUB_COMMENT_LIMIT
    assert "This comment is limited to 65,536 characters" in markdown
    assert "leaves are not shown" in markdown
    assert markdown.rstrip().endswith("`/taxon samples`).")
    small = render_comment(data, limit=5000)
    assert comment_size(small) <= 5000 and "more leaves are not listed" in small


def test_size_counts_utf16_units():
    assert comment_size("a😀") == 3


def test_message_is_clipped(review):
    markdown = render_comment(review, samples_per_leaf=10, message_chars=10)
    assert "more characters]" in markdown


def test_a_failure_comment_shows_the_logs_end_literally_and_links_the_run():
    from taxon.review.comment import render_failure_comment

    log = "".join(f"progress {i}\n" for i in range(100)) + "taxon generate: error: ```\n@octo/team [x](https://evil)\n"
    body = render_failure_comment(log, "https://github.com/o/r/actions/runs/5", "a" * 40)
    assert body.startswith(COMMENT_MARKER) and "generation failed" in body and f"`{'a' * 40}`" in body
    assert "[the workflow run's log](https://github.com/o/r/actions/runs/5)" in body
    assert "progress 71\n" not in body and "progress 72\n" in body  # the last 30 lines
    assert "````text\nprogress 72" in body  # a fence longer than the log's backtick run: shown literally
    assert "](javascript" not in render_failure_comment(log, "javascript:alert(1)")


def _decide(gen_out, leaf: str, question: str, action: str, fixed: str | None = None) -> None:
    """Mark a row of a generate output decided, as generation writes it."""
    import json

    for name in ("samples.jsonl", "dropped.jsonl"):
        path = gen_out / leaf / name
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        for row in rows:
            if row["messages"][0]["content"] == question:
                row["metadata"].update(decision=action, decided_by="alice", decided_at="2026-01-01T00:00:00Z")
                if fixed:
                    row["metadata"]["original_answer"] = row["messages"][-1]["content"]
                    row["messages"][-1]["content"] = fixed
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_the_comment_shows_undecided_teacher_samples_by_id_with_their_commands(tmp_path):
    gen_out, taxonomy = write_gen_out(tmp_path / "gen", generated_per_leaf=8), write_taxonomy(tmp_path / "taxonomy")
    leaf = "compositional_skills/writing/haiku"
    for number in range(3):
        _decide(gen_out, leaf, f"Generated question {number} about {leaf}?", "keep")
    stats_file = gen_out / leaf / "stats.json"
    stats = json.loads(stats_file.read_text())
    stats["decisions"] = {"teacher_written": 8, "teacher_reviewed": 3}
    stats_file.write_text(json.dumps(stats))
    data = load_review(gen_out, taxonomy)
    haiku = next(entry for entry in data.leaves if entry.leaf_id == leaf)
    markdown = render_comment(data, samples_per_leaf=3, require_decisions=0.5)

    undecided = sorted(sample.id for sample in haiku.undecided)
    assert len(undecided) == 5  # the seed row is no teacher's, the three decided are done
    section = markdown.split(f"#### `{leaf}`")[1].split("#### ")[0]
    assert "**5 teacher-written samples still to decide** (3 decided)." in section
    assert "with 50% of its teacher-written samples decided (`[review] require_decisions`): 1 more to go." in section
    shown = re.findall(r"\*\*`([0-9a-f]{12})`\*\*", section)
    assert shown == undecided[:3]  # a stable sample by id, not the generator's first three
    decided_ids = {sample.id for sample in haiku.samples if sample.decision}
    assert not decided_ids & set(shown) and f"`/taxon drop {shown[0]}`" in section
    assert f"| `{leaf}` | `compositional_skills` | 10 | 8 | 2 |" in markdown and "| 3 | 5 |" in markdown


def test_a_leaf_with_every_teacher_sample_decided_says_so(tmp_path):
    gen_out = write_gen_out(tmp_path / "gen", generated_per_leaf=1)
    leaf = "compositional_skills/writing/haiku"
    _decide(gen_out, leaf, f"Generated question 0 about {leaf}?", "fix", "A better haiku.")
    markdown = render_comment(load_review(gen_out))
    assert "Every teacher-written sample the filters kept has a decision (1 decided)." in markdown
