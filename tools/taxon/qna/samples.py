"""Training samples: the JSONL row format shared by generate, review, train and evaluate,
and the deterministic split between training and held-out evaluation.

A row is {"messages": [{"role", "content"}, ...], "metadata": {...}}. The metadata holds at
least: leaf, kind, seed (index of the seed it grew from, or null), chunk (index or null),
teacher, pipeline_version, judge_score (float or null), source ("seed", "generated" by the
teacher, "document" derived from the documents without it, "checker" made by a checker from a
seed, or "replay").
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from taxon.core.errors import TaxonError, UsageError
from taxon.core.store import hash_value, read_jsonl
from taxon.qna.layout import SAMPLES_NAME
from taxon.qna.taxonomy import Leaf


def user_prompt(question: str, context: str | None = None) -> str:
    """The user turn for a question, with its grounding context when there is one."""
    if context:
        return f"{context.strip()}\n\n{question.strip()}"
    return question.strip()


def make_sample(question: str, answer: str, context: str | None, metadata: dict[str, Any]) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "user", "content": user_prompt(question, context)},
            {"role": "assistant", "content": answer.strip()},
        ],
        "metadata": metadata,
    }


def seed_samples(leaf: Leaf) -> list[dict[str, Any]]:
    """The leaf's own seed examples as samples (knowledge seeds carry their context)."""
    return [
        make_sample(
            seed.question,
            seed.answer,
            seed.context,
            {
                "leaf": leaf.leaf_id,
                "kind": leaf.kind,
                "seed": index,
                "chunk": None,
                "teacher": None,
                "pipeline_version": None,
                "judge_score": None,
                "source": "seed",
            },
        )
        for index, seed in enumerate(leaf.seeds)
    ]


def question_of(sample: dict[str, Any]) -> str:
    return str(next(m["content"] for m in sample["messages"] if m["role"] == "user"))


def bare_question(sample: dict[str, Any]) -> str:
    """The question itself, without a context (a chunk, a passage) shown before it."""
    return question_of(sample).rpartition("\n\n")[2]


def answer_of(sample: dict[str, Any]) -> str:
    return str(next(m["content"] for m in reversed(sample["messages"]) if m["role"] == "assistant"))


def question_id(sample: dict[str, Any]) -> str:
    """The sha256 of the user turn's text: what the held-out split is decided by, and how the
    published dataset names each question."""
    return hashlib.sha256(question_of(sample).encode("utf-8")).hexdigest()


def is_held_out(sample: dict[str, Any], eval_share: float) -> bool:
    """Deterministic split by the user turn's text: the same question always lands on the
    same side, across runs and machines, so evaluation never sees a trained question.
    Only seeds and generated skill samples are references to score against: samples derived
    from documents (restatements of the material) or made by a checker (evaluation makes its
    own), generated knowledge samples (knowledge is scored on fact questions from the leaf
    itself) and replay rows always train."""
    metadata = sample.get("metadata") or {}
    source = metadata.get("source", "generated")
    if source in ("document", "checker", "replay") or (source == "generated" and metadata.get("kind") == "knowledge"):
        return False
    return int(question_id(sample)[:16], 16) / 2**64 < eval_share


def leaf_sample_dirs(generate_out: Path) -> list[Path]:
    """Every leaf folder under a generate output folder (those holding samples.jsonl)."""
    return sorted(path.parent for path in Path(generate_out).rglob(SAMPLES_NAME))


def _read_rows(path: Path) -> list[dict[str, Any]]:
    rows = read_jsonl(path)
    for number, row in enumerate(rows, 1):
        if not isinstance(row.get("messages"), list):
            raise TaxonError(f"row {number} has no 'messages' list", where=str(path))
    return rows


def collect_samples(dataset_dir: Path | None, leaves: list[Leaf], replay: Path | None) -> list[dict[str, Any]]:
    """Generated samples of every leaf folder, then each leaf's seed examples, then the replay
    rows, in a fixed order; exact duplicates (same messages) kept once."""
    rows: list[dict[str, Any]] = []
    if dataset_dir is not None:
        if not Path(dataset_dir).is_dir():
            raise UsageError("generated data folder not found", where=str(dataset_dir))
        for folder in leaf_sample_dirs(Path(dataset_dir)):
            rows.extend(_read_rows(folder / SAMPLES_NAME))
    for leaf in leaves:
        rows.extend(seed_samples(leaf))
    if replay is not None:
        if not Path(replay).is_file():
            raise UsageError("replay file not found", where=str(replay))
        for row in _read_rows(Path(replay)):
            row.setdefault("metadata", {}).setdefault("source", "replay")
            rows.append(row)
    seen, unique = set(), []
    for row in rows:
        key = hash_value(row["messages"])
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return unique
