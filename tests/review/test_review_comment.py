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
    assert "3 of 4 kept samples" in markdown  # samples_per_leaf of the haiku leaf's 4


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
