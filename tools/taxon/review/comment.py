"""The sticky pull-request comment: per leaf the counts and drop reasons, a few sample pairs,
the teacher and its version, and the link to the artifact with the dataset and review page.

Every piece of contributed text lands inside a code span or a code fence longer than any
backtick run it holds, so it can't ping anyone, open HTML or end the block early. The
comment stays within GitHub's limit: leaves whose samples don't fit are named, not shown.
"""

from __future__ import annotations

import re

from taxon.core.github import COMMENT_MARKER, SAMPLES_LABEL
from taxon.core.markdown import code_span, table_code
from taxon.qna.decisions import decisions_still_needed
from taxon.review.data import ReviewData, ReviewLeaf, ReviewSample

GITHUB_COMMENT_LIMIT = 65_536
LEAF_ID_CHARS = 200
_SAFE_URL = re.compile(r"https://[^\s<>()\[\]\"'`]+")


def comment_size(text: str) -> int:
    """Characters as GitHub may count them: UTF-16 code units, never fewer than code points."""
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, max_chars: int) -> str:
    text = text.strip()
    return (
        text if len(text) <= max_chars else text[:max_chars].rstrip() + f" … [{len(text) - max_chars} more characters]"
    )


def fenced(text: str) -> str:
    """A code block that shows `text` literally: its fence is longer than any backtick run."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def _cell(text: str) -> str:
    return table_code(clip(text, LEAF_ID_CHARS))


def _reasons_cell(leaf: ReviewLeaf) -> str:
    reasons = leaf.dropped_reasons()
    return ", ".join(f"{_cell(reason)} {count}" for reason, count in reasons.items()) or "none"


def _count(leaf: ReviewLeaf, key: str, fallback: int) -> int:
    value = leaf.stats.get(key)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else fallback


def _decided(leaf: ReviewLeaf) -> int:
    return sum(1 for sample in leaf.samples if sample.decision is not None)


def _table_row(leaf: ReviewLeaf) -> str:
    kept = _count(leaf, "kept", len(leaf.kept))
    dropped = sum(leaf.dropped_reasons().values())
    generated = _count(leaf, "generated", kept + dropped)
    return (
        f"| {_cell(leaf.leaf_id)} | {_cell(leaf.kind)} | {generated} | {kept} | {dropped} | {_reasons_cell(leaf)} "
        f"| {_decided(leaf)} | {len(leaf.undecided)} |"
    )


def _sample_block(sample: ReviewSample, message_chars: int) -> str:
    score = f" · judge score {sample.score:g}" if sample.score is not None else ""
    return "\n".join(
        [
            f"**{code_span(sample.id)}**{score}: {code_span(f'/taxon keep {sample.id}')} · "
            f"{code_span(f'/taxon drop {sample.id}')} · {code_span(f'/taxon fix {sample.id} ANSWER')}",
            "",
            "**Question**",
            fenced(clip(sample.question, message_chars)),
            "**Answer**",
            fenced(clip(sample.answer, message_chars)),
        ]
    )


def _policy_line(leaf: ReviewLeaf, require_decisions: float) -> str:
    counts = leaf.stats.get("decisions")
    if require_decisions <= 0 or not isinstance(counts, dict):
        return ""
    needed = decisions_still_needed(counts, require_decisions)
    share = f"{require_decisions:.0%} of its teacher-written samples decided (`[review] require_decisions`)"
    return f"Main trains this leaf with {share}: {needed} more to go." if needed else f"It has {share}: ready to train."


def _leaf_section(leaf: ReviewLeaf, samples_per_leaf: int, message_chars: int, require_decisions: float) -> str:
    """A stable sample (by id, which is a hash: no order of the generator's) of the teacher-written
    samples still undecided, with the count left: the document's restatements are not the risk."""
    undecided = leaf.undecided
    shown = sorted(undecided, key=lambda sample: sample.id)[:samples_per_leaf]
    lines = [f"#### {_cell(leaf.leaf_id)}", ""]
    if undecided:
        lines.append(f"**{len(undecided)} teacher-written samples still to decide** ({_decided(leaf)} decided).")
    else:
        lines.append(f"Every teacher-written sample the filters kept has a decision ({_decided(leaf)} decided).")
    if policy := _policy_line(leaf, require_decisions):
        lines.append(policy)
    lines.append("")
    if shown:
        lines += [f"<details><summary>{len(shown)} of the {len(undecided)} undecided, picked by id</summary>", ""]
        for sample in shown:
            lines += [_sample_block(sample, message_chars), ""]
        lines += ["</details>", ""]
    lines.append("")
    return "\n".join(lines)


def _header(data: ReviewData, artifact_url: str | None, commit: str | None) -> list[str]:
    facts = [f"teacher {code_span(clip(data.teacher or 'unknown', LEAF_ID_CHARS))}"]
    if data.pipeline_version:
        facts.append(f"pipeline version {code_span(clip(data.pipeline_version, 40))}")
    if commit:
        facts.append(f"commit {code_span(clip(commit, 40))}")
    if artifact_url and _SAFE_URL.fullmatch(artifact_url):
        link = f"**[Download the dataset and the review page]({artifact_url})** (workflow artifact)."
    else:
        link = "The dataset and the review page are attached to the workflow run as an artifact."
    return [
        COMMENT_MARKER,
        "## Generated samples for review",
        "",
        "Made with " + ", ".join(facts) + ".",
        link,
        "",
    ]


def _footer() -> str:
    return (
        "\n---\n"
        "Open `review.html` from the artifact for every sample, its judge score and the dropped ones "
        "with their reasons; decide there (keep, drop, fix) and export the decisions as a patch. Or comment "
        "`/taxon keep ID`, `/taxon drop ID`, `/taxon fix ID ANSWER` (one a line, maintainers only): the "
        "decision is committed to this branch as `decisions/<leaf>/<ID>.yaml`. "
        f"A new push removes the {code_span(SAMPLES_LABEL)} label: "
        "review the new commits, then ask again (label, or comment `/taxon samples`)."
    )


LOG_TAIL_LINES = 30


def log_tail(log_text: str, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a generate log (where taxon prints the error and its hint)."""
    kept = [line.rstrip() for line in log_text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def _run_link(run_url: str | None) -> str:
    if run_url and _SAFE_URL.fullmatch(run_url):
        return f"[the workflow run's log]({run_url})"
    return "the workflow run's log"


def render_failure_comment(log_text: str, run_url: str | None = None, commit: str | None = None) -> str:
    """The sticky comment when generation failed before writing any sample (an unreachable or
    broken teacher, a bad setting): the error as taxon printed it and where the full log is."""
    on = f" for commit {code_span(clip(commit, 40))}" if commit else ""
    tail = log_tail(log_text) or "(generate printed nothing)"
    return "\n".join(
        [
            COMMENT_MARKER,
            "## Generated samples for review: generation failed",
            "",
            f"No samples were made{on}. The end of the generate step's output (secrets hidden):",
            "",
            fenced(clip(tail, 6000)),
            "",
            f"The whole output is in {_run_link(run_url)}. A maintainer can ask again once it is fixed "
            f"(label {code_span(SAMPLES_LABEL)}, or comment `/taxon samples`).",
            "",
        ]
    )


def render_comment(
    data: ReviewData,
    artifact_url: str | None = None,
    commit: str | None = None,
    samples_per_leaf: int = 3,
    message_chars: int = 600,
    limit: int = GITHUB_COMMENT_LIMIT,
    failure_log: str | None = None,
    run_url: str | None = None,
    require_decisions: float = 0.0,
) -> str:
    """The comment's markdown, at most `limit` characters (see `comment_size`). `failure_log`:
    generation failed after writing output (a leaf fell short, a teacher error midway): the
    end of its log is shown with the link to the run."""
    footer = _footer()
    reserve = 400  # room for the note saying what was left out
    parts = _header(data, artifact_url, commit)
    table = [
        "| Leaf | Kind | Generated | Kept | Dropped | Why dropped | Decided | To decide |",
        "|---|---|---:|---:|---:|---|---:|---:|",
    ]
    budget = limit - comment_size(footer) - reserve
    body = "\n".join(parts + table)
    rows_shown = 0
    for leaf in data.leaves:
        row = "\n" + _table_row(leaf)
        if comment_size(body) + comment_size(row) > budget:
            break
        body += row
        rows_shown += 1
    failed = [leaf for leaf in data.leaves[:rows_shown] if leaf.error]
    if failed:
        problems = "\n\n**Leaves that fell short** (the job fails until they are fixed):\n\n" + "\n".join(
            f"- {code_span(clip(leaf.leaf_id, LEAF_ID_CHARS))}: {code_span(clip(leaf.error or '', 500))}"
            for leaf in failed
        )
        if comment_size(body) + comment_size(problems) <= budget:
            body += problems
    if failure_log is not None:
        failure = (
            f"\n\n**Generation failed** (the job fails); the end of its output, in full in {_run_link(run_url)}:\n\n"
            + fenced(clip(log_tail(failure_log, 12) or "(generate printed nothing)", 2000))
        )
        if comment_size(body) + comment_size(failure) <= budget:
            body += failure
    notes = []
    if rows_shown < len(data.leaves):
        notes.append(f"{len(data.leaves) - rows_shown} more leaves are not listed")
    if not data.leaves:
        body += "\n\nThe pull request's leaves produced no output."
    body += "\n\n### Samples to decide on\n\n"
    sections_shown = 0
    for leaf in data.leaves[:rows_shown]:
        section = _leaf_section(leaf, samples_per_leaf, message_chars, require_decisions)
        if comment_size(body) + comment_size(section) > budget:
            break
        body += section
        sections_shown += 1
    if sections_shown < len(data.leaves):
        notes.append(f"the samples of {len(data.leaves) - sections_shown} leaves are not shown")
    if notes:
        body += (
            f"\n> [!NOTE]\n> This comment is limited to {limit:,} characters: "
            + "; ".join(notes)
            + ". The review page in the artifact has them all.\n"
        )
    return body + footer + "\n"
