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
from taxon.core.store import hash_value, read_jsonl
from taxon.qna.decisions import (
    ACTIONS,
    FIX,
    FORMAT_VERSION,
    HEADER,
    LOGIN,
    MAX_DECISIONS_PER_COMMENT,
    SAMPLE_ID,
    decision_path,
    hidden_ranges,
    row_sample_id,
)
from taxon.qna.layout import (
    DECISIONS_DIR,
    DROPPED_NAME,
    QNA_NAME,
    SAMPLES_NAME,
    STATS_NAME,
    SUMMARY_NAME,
    decisions_root,
)
from taxon.qna.taxonomy import Seed, load_leaf


@dataclass(frozen=True)
class ReviewSample:
    status: str  # "kept" | "dropped"
    source: str  # "seed" | "generated"
    question: str  # the user turn (with any context it shows)
    answer: str  # the answer it trains on (a fix's: the maintainer's)
    score: float | None
    reason: str | None
    seed: int | None
    why: tuple[str, ...] = ()  # the scores and checks it passed (or failed), one phrase each
    id: str = ""  # the sample id decisions name
    made_by: str = "teacher"  # "teacher" | "document" (derived without the teacher) | "seed"
    generated_answer: str = ""  # the answer as generated (what a decision file records)
    decision: dict[str, Any] | None = (
        None  # {"action", "by", "at", "reason", "fixed_answer"} of a maintainer's decision
    )
    decision_file: str | None = None  # that decision's file text, when the taxonomy's decisions are at hand

    @property
    def undecided_teacher_sample(self) -> bool:
        """Written by the teacher, kept by the filters, and no maintainer has decided on it yet."""
        return self.made_by == "teacher" and self.status == "kept" and self.decision is None


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
    def undecided(self) -> list[ReviewSample]:
        """The teacher-written samples the filters kept that no maintainer has decided on."""
        return [s for s in self.samples if s.undecided_teacher_sample]

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
    decisions_dir: str = DECISIONS_DIR  # where decision files go, from the repository root

    def to_json(self) -> dict[str, Any]:
        return {
            "teacher": self.teacher,
            "pipeline_version": self.pipeline_version,
            # names the page's decisions in the browser's storage: the same samples, the same key
            "key": hash_value(sorted(sample.id for leaf in self.leaves for sample in leaf.samples))[:16],
            # how the page writes decision files: as taxon.qna.decisions.render_decision does
            "decision_format": {
                "dir": self.decisions_dir,
                "header": HEADER,
                "version": FORMAT_VERSION,
                "hidden": hidden_ranges(),
                "login": LOGIN.pattern,
                "per_comment": MAX_DECISIONS_PER_COMMENT,
            },
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


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _decision(metadata: dict[str, Any]) -> dict[str, Any] | None:
    action = metadata.get("decision")
    if action not in ACTIONS:
        return None
    fields = ("decided_by", "decided_at", "decision_reason")
    by, at, reason = (_text(metadata.get(key)) for key in fields)
    return {"action": action, "by": by, "at": at, "reason": reason}


def _sample(row: dict[str, Any], status: str, leaf_id: str, decisions: Path | None) -> ReviewSample:
    found = row.get("metadata")
    metadata: dict[str, Any] = found if isinstance(found, dict) else {}
    seed = metadata.get("seed")
    reason = metadata.get("reason")
    source = metadata.get("source")
    answer = _turn(row, "assistant", last=True)
    decision = _decision(metadata)
    original = _text(metadata.get("original_answer")) if decision and decision["action"] == FIX else None
    identity = row_sample_id({**row, "metadata": {**metadata, "leaf": leaf_id}}) if row.get("messages") else ""
    if decision is not None:
        decision["fixed_answer"] = answer if decision["action"] == FIX else None
    file_text = None
    if decision is not None and decisions is not None and SAMPLE_ID.fullmatch(identity):
        path = decision_path(decisions, leaf_id, identity)
        if path.is_file() and not path.is_symlink():
            file_text = path.read_text(encoding="utf-8", errors="replace")
    return ReviewSample(
        status=status,
        source="seed" if source == "seed" else "generated",
        question=_turn(row, "user"),
        answer=answer,
        score=_number(metadata.get("judge_score")),
        reason=str(reason) if reason is not None else ("unknown" if status == "dropped" else None),
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        why=_why(metadata),
        id=identity,
        made_by={"seed": "seed", "document": "document"}.get(str(source), "teacher"),
        generated_answer=original if original is not None else answer,
        decision=decision,
        decision_file=file_text,
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
    decisions = decisions_root(taxonomy_root) if taxonomy_root is not None else None
    for folder in leaf_folders(gen_out):
        leaf_id = folder.relative_to(gen_out).as_posix()
        stats = _read_json(folder / STATS_NAME) if (folder / STATS_NAME).is_file() else {}
        samples = [_sample(row, "kept", leaf_id, decisions) for row in _read_rows(folder / SAMPLES_NAME)]
        samples += [_sample(row, "dropped", leaf_id, decisions) for row in _read_rows(folder / DROPPED_NAME)]
        kind = stats["kind"] if isinstance(stats.get("kind"), str) else leaf_id.split("/", 1)[0]
        leaves.append(ReviewLeaf(leaf_id, kind, stats, _seeds(leaf_id, taxonomy_root, samples), samples))
    first_stats = leaves[0].stats if leaves else {}
    teacher = summary.get("teacher") or first_stats.get("teacher")
    version = summary.get("pipeline_version") or first_stats.get("pipeline_version")
    return ReviewData(leaves, str(teacher) if teacher else None, str(version) if version is not None else None)
