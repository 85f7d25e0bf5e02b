"""The questions a model is scored on: per leaf, exactly the samples training held out
(generated samples and the leaf's own seeds, by `is_held_out`), and a general probe set
shipped with taxon, on topics a small base model already handles, to catch forgetting."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from taxon.core.errors import TaxonError
from taxon.core.store import read_jsonl
from taxon.qna.layout import SAMPLES_NAME
from taxon.qna.samples import answer_of, is_held_out, question_of, seed_samples
from taxon.qna.taxonomy import Leaf

PROBE_ID = "general/probe"
BUILTIN_PROBE = Path(__file__).resolve().parents[1] / "data" / "probe.jsonl"


@dataclass(frozen=True)
class EvalItem:
    question: str  # the user turn, with a knowledge leaf's context when it has one
    reference: str
    source: str  # "seed" | "generated" | "probe"


@dataclass(frozen=True)
class EvalSet:
    set_id: str  # a leaf id, or PROBE_ID
    items: tuple[EvalItem, ...]
    available: int  # held-out questions before the per-leaf cap

    def describe(self) -> dict:
        sources: dict[str, int] = {}
        for item in self.items:
            sources[item.source] = sources.get(item.source, 0) + 1
        return {"n": len(self.items), "available": self.available, "sources": sources}


def _generated_samples(dataset_dir: Path, leaf: Leaf) -> list[dict]:
    path = Path(dataset_dir) / leaf.leaf_id / SAMPLES_NAME
    if not path.is_file():
        return []
    try:
        return read_jsonl(path, hint="rerun: taxon generate")
    except OSError as error:
        raise TaxonError(f"cannot read samples: {error}", where=str(path), hint="rerun: taxon generate")


def leaf_eval_set(leaf: Leaf, dataset_dir: Path, eval_share: float, max_per_leaf: int) -> EvalSet:
    """Held-out seeds first, then held-out generated samples in file order; a question that
    appears twice is asked once. `max_per_leaf` <= 0 means no cap."""
    items: list[EvalItem] = []
    seen: set[str] = set()
    for sample in seed_samples(leaf) + _generated_samples(dataset_dir, leaf):
        question = question_of(sample)
        if question in seen or not is_held_out(sample, eval_share):
            continue
        seen.add(question)
        items.append(EvalItem(question, answer_of(sample), sample["metadata"].get("source", "generated")))
    capped = items[:max_per_leaf] if max_per_leaf > 0 else items
    return EvalSet(leaf.leaf_id, tuple(capped), len(items))


def probe_eval_set(probe_file: str | Path | None = None) -> EvalSet:
    path = Path(probe_file) if probe_file else BUILTIN_PROBE
    try:
        rows = read_jsonl(path, hint="set evaluate.probe_file")
    except OSError as error:
        raise TaxonError(f"cannot read the probe set: {error}", where=str(path), hint="set evaluate.probe_file")
    items = tuple(EvalItem(row["question"], row["answer"], "probe") for row in rows)
    return EvalSet(PROBE_ID, items, len(items))


def build_eval_sets(leaves: list[Leaf], dataset_dir: Path, config: dict) -> list[EvalSet]:
    """One set per leaf (sorted by leaf id), then the probe set."""
    if not Path(dataset_dir).is_dir():
        raise TaxonError("no generate output here", where=str(dataset_dir), hint="run: taxon generate")
    settings = config["evaluate"]
    eval_share = config["dataset"]["eval_share"]
    sets = [
        leaf_eval_set(leaf, dataset_dir, eval_share, int(settings.get("max_per_leaf", 0)))
        for leaf in sorted(leaves, key=lambda leaf: leaf.leaf_id)
    ]
    return sets + [probe_eval_set(settings.get("probe_file") or None)]
