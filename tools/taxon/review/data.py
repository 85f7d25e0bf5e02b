"""What a reviewer sees, read from a generate output folder: per leaf its seeds, the kept and
dropped samples with their judge scores and drop reasons, and the stats. Everything read here
came from a contribution, so it is hostile text: renderers escape it, this module only
gathers it."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from taxon.core.errors import TaxonError
from taxon.core.store import read_jsonl
from taxon.qna.layout import DROPPED_NAME, QNA_NAME, SAMPLES_NAME, STATS_NAME, SUMMARY_NAME
from taxon.qna.taxonomy import Seed, load_leaf


@dataclass(frozen=True)
class ReviewSample:
    status: str  # "kept" | "dropped"
    source: str  # "seed" | "generated"
    question: str
    answer: str
    score: float | None
    reason: str | None
    seed: int | None
    why: tuple[str, ...] = ()  # the scores and checks it passed (or failed), one phrase each


@dataclass
class ReviewLeaf:
    leaf_id: str
    kind: str
    stats: dict[str, Any]
    seeds: list[Seed] = field(default_factory=list)
    samples: list[ReviewSample] = field(default_factory=list)

    @property
    def error(self) -> str | None:
        """Why generation fell short for this leaf (too few kept, documents unreadable...)."""
        error = self.stats.get("error")
        return str(error) if error else None

    @property
    def kept(self) -> list[ReviewSample]:
        return [s for s in self.samples if s.status == "kept" and s.source == "generated"]

    @property
    def dropped(self) -> list[ReviewSample]:
        return [s for s in self.samples if s.status == "dropped"]

    def dropped_reasons(self) -> dict[str, int]:
        """From stats.json when it has them (it counts every drop), else from dropped.jsonl."""
        reasons = self.stats.get("dropped")
        if isinstance(reasons, dict) and reasons:
            return {str(k): int(v) for k, v in sorted(reasons.items()) if isinstance(v, (int, float))}
        counted: dict[str, int] = {}
        for sample in self.dropped:
            counted[sample.reason or "unknown"] = counted.get(sample.reason or "unknown", 0) + 1
        return dict(sorted(counted.items()))


@dataclass
class ReviewData:
    leaves: list[ReviewLeaf]
    teacher: str | None
    pipeline_version: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "teacher": self.teacher,
            "pipeline_version": self.pipeline_version,
            "leaves": [
                {
                    "id": leaf.leaf_id,
                    "kind": leaf.kind,
                    "stats": leaf.stats,
                    "seeds": [asdict(seed) for seed in leaf.seeds],
                    "samples": [asdict(sample) for sample in leaf.samples],
                }
                for leaf in self.leaves
            ],
        }


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TaxonError(f"cannot read: {error}", where=str(path), hint="rerun taxon generate")
    return value if isinstance(value, dict) else {}


def _read_rows(path: Path) -> list[dict[str, Any]]:
    return read_jsonl(path, hint="rerun taxon generate") if path.is_file() else []


def _turn(row: dict[str, Any], role: str, last: bool = False) -> str:
    messages = [m for m in row.get("messages") or [] if isinstance(m, dict) and m.get("role") == role]
    if not messages:
        return ""
    content = messages[-1 if last else 0].get("content")
    return content if isinstance(content, str) else ""


def _number(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _why(metadata: dict[str, Any]) -> tuple[str, ...]:
    """The record of a sample's judgement, as short phrases: how it was made, its score
    against the leaf's seed answers, its context gain, its checks and agreement."""
    phrases = []
    form = metadata.get("form")
    if metadata.get("source") == "document" and isinstance(form, str):
        phrases.append(f"from the document ({form}), no teacher")
    if metadata.get("source") == "checker":
        phrases.append("a seed with new figures, answered by a checker, no teacher")
    score, median, gain = (_number(metadata.get(key)) for key in ("judge_score", "judge_seed_median", "judge_gain"))
    if score is not None and median is not None:
        phrases.append(f"likelihood {score:.2f} vs seeds' median {median:.2f} ({score - median:+.2f})")
    if gain is not None:
        phrases.append(f"context gain {gain:+.2f}")
    checks = metadata.get("checks")
    if isinstance(checks, dict):
        phrases += [f"{name} {'passed' if passed is True else 'failed'}" for name, passed in sorted(checks.items())]
    agreement = metadata.get("agreement")
    if isinstance(agreement, str):
        phrases.append(f"sampled answers agreeing {agreement}")
    repaired = metadata.get("repaired_from")
    if isinstance(repaired, str):
        phrases.append(f"REPAIRED; the teacher said: {repaired}")
    elif metadata.get("verified_by") == "checker" and metadata.get("source") != "checker":
        phrases.append("a checker computed this answer")
    return tuple(phrases)


def _sample(row: dict[str, Any], status: str) -> ReviewSample:
    found = row.get("metadata")
    metadata: dict[str, Any] = found if isinstance(found, dict) else {}
    seed = metadata.get("seed")
    reason = metadata.get("reason")
    return ReviewSample(
        status=status,
        source="seed" if metadata.get("source") == "seed" else "generated",
        question=_turn(row, "user"),
        answer=_turn(row, "assistant", last=True),
        score=_number(metadata.get("judge_score")),
        reason=str(reason) if reason is not None else ("unknown" if status == "dropped" else None),
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        why=_why(metadata),
    )


def _seeds(leaf_id: str, taxonomy_root: Path | None, samples: list[ReviewSample]) -> list[Seed]:
    """The leaf's seeds from its qna.yaml when the taxonomy is at hand, else its seed rows."""
    qna = Path(taxonomy_root) / leaf_id / QNA_NAME if taxonomy_root else None
    if qna is not None and qna.is_file():
        try:
            return load_leaf(qna).seeds
        except TaxonError:
            pass
    return [Seed(s.question, s.answer) for s in samples if s.source == "seed"]


def leaf_folders(gen_out: Path) -> list[Path]:
    """Leaf folders of a generate output: those holding samples.jsonl or stats.json."""
    found = {p.parent for name in (SAMPLES_NAME, STATS_NAME) for p in Path(gen_out).rglob(name)}
    return sorted(folder for folder in found if not folder.is_symlink())


def load_review(gen_out: Path, taxonomy_root: Path | None = None) -> ReviewData:
    gen_out = Path(gen_out)
    if not gen_out.is_dir():
        raise TaxonError("no such folder", where=str(gen_out), hint="pass the --out folder of taxon generate")
    summary = _read_json(gen_out / SUMMARY_NAME) if (gen_out / SUMMARY_NAME).is_file() else {}
    leaves = []
    for folder in leaf_folders(gen_out):
        leaf_id = folder.relative_to(gen_out).as_posix()
        stats = _read_json(folder / STATS_NAME) if (folder / STATS_NAME).is_file() else {}
        samples = [_sample(row, "kept") for row in _read_rows(folder / SAMPLES_NAME)]
        samples += [_sample(row, "dropped") for row in _read_rows(folder / DROPPED_NAME)]
        kind = stats["kind"] if isinstance(stats.get("kind"), str) else leaf_id.split("/", 1)[0]
        leaves.append(ReviewLeaf(leaf_id, kind, stats, _seeds(leaf_id, taxonomy_root, samples), samples))
    first_stats = leaves[0].stats if leaves else {}
    teacher = summary.get("teacher") or first_stats.get("teacher")
    version = summary.get("pipeline_version") or first_stats.get("pipeline_version")
    return ReviewData(leaves, str(teacher) if teacher else None, str(version) if version is not None else None)
