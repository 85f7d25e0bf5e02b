"""A generate output folder written by hand in the documented layout, with a taxonomy beside
it, for the review and gitops tests. One sample is hostile on purpose."""

from __future__ import annotations

import json
from pathlib import Path

HOSTILE_QUESTION = "Is <script>alert(1)</script> safe? </script><b>bold</b> &amp; @octocat"
HOSTILE_ANSWER = "No.\n```\n</details>\n````` five backticks\n<img src=x onerror=alert(2)> @everyone"
TEACHER = "openai:granite-teacher@rev-3"
PIPELINE_VERSION = "2"

BIRDS_QNA = """\
version: 3
domain: birds
created_by: tester
document_outline: Facts about songbirds
seed_examples:
  - context: |
      The European robin sings at night near street lights.
    questions_and_answers:
      - question: When does the robin sing near street lights?
        answer: At night.
      - question: Which robin sings at night?
        answer: The European robin.
document:
  repo: https://example.org/birds.git
  commit: 0123456789abcdef0123456789abcdef01234567
  patterns: ["birds.md"]
"""

HAIKU_QNA = """\
version: 2
task_description: Write a haiku about a subject.
created_by: tester
seed_examples:
  - question: Write a haiku about rain.
    answer: |
      Soft rain on the roof
      the gutters hum a low song
      puddles hold the sky
"""

LEAVES = {
    "knowledge/science/birds": BIRDS_QNA,
    "compositional_skills/writing/haiku": HAIKU_QNA,
}


def _row(leaf: str, question: str, answer: str, source: str, score, seed, reason=None) -> dict:
    metadata = {
        "leaf": leaf,
        "kind": leaf.split("/", 1)[0],
        "seed": seed,
        "chunk": None,
        "teacher": None if source == "seed" else TEACHER,
        "pipeline_version": PIPELINE_VERSION,
        "judge_score": score,
        "source": source,
    }
    if reason:
        metadata["reason"] = reason
    return {
        "messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
        "metadata": metadata,
    }


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def write_taxonomy(root: Path) -> Path:
    for leaf, text in LEAVES.items():
        folder = root / leaf
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "qna.yaml").write_text(text, encoding="utf-8")
    return root


def write_gen_out(gen_out: Path, generated_per_leaf: int = 4, extra_leaves: int = 0) -> Path:
    """Two leaves (plus `extra_leaves` plain ones): seeds, generated samples with judge
    scores, dropped samples with reasons, stats.json and summary.json."""
    summary = {"leaves": {}, "teacher": TEACHER, "config": {"backend": "openai"}}
    leaf_ids = list(LEAVES) + [f"knowledge/extra/leaf{i:03d}" for i in range(extra_leaves)]
    for leaf in leaf_ids:
        folder = gen_out / leaf
        folder.mkdir(parents=True, exist_ok=True)
        kept = [_row(leaf, f"Seed question of {leaf}?", "Seed answer.", "seed", None, 0)]
        kept += [
            _row(leaf, f"Generated question {i} about {leaf}?", f"Generated answer {i}.", "generated", 3.0 + i / 4, 0)
            for i in range(generated_per_leaf)
        ]
        dropped = [
            _row(leaf, f"Duplicate question about {leaf}?", "Same again.", "generated", 4.0, 0, reason="duplicate"),
            _row(leaf, f"Weak question about {leaf}?", "Weak answer.", "generated", 1.0, 0, reason="judge_low"),
        ]
        if leaf == "knowledge/science/birds":
            kept.append(_row(leaf, HOSTILE_QUESTION, HOSTILE_ANSWER, "generated", 5.0, 1))
            dropped.append(_row(leaf, "</script><script>alert(3)</script>", "x", "generated", 0.5, 1, reason="refusal"))
        _write_jsonl(folder / "samples.jsonl", kept)
        _write_jsonl(folder / "dropped.jsonl", dropped)
        reasons: dict[str, int] = {}
        for row in dropped:
            reasons[row["metadata"]["reason"]] = reasons.get(row["metadata"]["reason"], 0) + 1
        generated = sum(1 for row in kept if row["metadata"]["source"] == "generated") + len(dropped)
        stats = {
            "leaf": leaf,
            "kind": leaf.split("/", 1)[0],
            "generated": generated,
            "kept": generated - len(dropped),
            "dropped": reasons,
            "teacher": TEACHER,
            "pipeline_version": PIPELINE_VERSION,
            "parameters": {"questions_per_seed": 4},
            "leaf_hash": "0" * 64,
        }
        (folder / "stats.json").write_text(json.dumps(stats), encoding="utf-8")
        summary["leaves"][leaf] = stats
    (gen_out / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return gen_out


def render_review_page(gen_out: Path, taxonomy_root: Path | None, out_html: Path) -> Path:
    """The review page of a generate output folder, written as `taxon review --html` writes it."""
    from taxon.core.store import atomic_write_text
    from taxon.review.data import load_review
    from taxon.review.page import render_page_html

    atomic_write_text(out_html, render_page_html(load_review(gen_out, taxonomy_root)))
    return Path(out_html)
