"""Held-out hygiene, read from files only: for each held-out question, the closest question
of the training set (token Jaccard, the tokens of `qna.heldout`) and how many held-out
questions have one above the threshold. The training set is what train reads: the collected
rows its split (`qna.heldout.TrainingSplit`) puts on the training side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from taxon.core.settings import Config
from taxon.core.store import atomic_write_jsonl
from taxon.evaluate.items import KNOWLEDGE, SKILL, EvalSet
from taxon.qna.heldout import TRAIN, HeldOut, leaf_form, training_split
from taxon.qna.layout import HELDOUT_NAME
from taxon.qna.samples import bare_question, collect_samples
from taxon.qna.taxonomy import Leaf


def training_questions(dataset_dir: Path, leaves: list[Leaf], config: Config) -> list[str]:
    """Each trained question, without a chunk shown before it."""
    rows = collect_samples(dataset_dir, leaves, None)
    split = training_split(leaves, dataset_dir, config.dataset.eval_share, rows)
    return list(dict.fromkeys(bare_question(row).strip() for row in rows if split.side(row) == TRAIN))


def heldout_overlap(
    eval_sets: list[EvalSet], dataset_dir: Path, leaves: list[Leaf], config: Config, out_dir: Path
) -> dict[str, dict[str, Any]]:
    """leaf id -> {"threshold", "above", "max_jaccard", "items": [{id, question, closest, jaccard}]};
    the items also go to heldout.jsonl in the eval folder. Similarity as the split measures it
    (`qna.heldout.HeldOut`: a skill leaf's form words left out)."""
    threshold = config.evaluate.heldout_max_jaccard
    training = tuple(training_questions(dataset_dir, leaves, config))
    forms = {leaf.leaf_id: leaf_form(leaf) for leaf in leaves}
    report, rows = {}, []
    for eval_set in eval_sets:
        if eval_set.kind not in (KNOWLEDGE, SKILL):
            continue
        trained = HeldOut(training, threshold, forms.get(eval_set.set_id, frozenset()))
        items: list[dict[str, Any]] = []
        for item in eval_set.items:
            best, closest = trained.closest(item.question)
            items.append(
                {"id": item.id, "question": item.question, "closest": closest or "", "jaccard": round(best, 4)}
            )
        rows += [{"leaf": eval_set.set_id, **entry} for entry in items]
        report[eval_set.set_id] = {
            "threshold": threshold,
            "above": sum(entry["jaccard"] > threshold for entry in items),
            "max_jaccard": max((entry["jaccard"] for entry in items), default=None),
            "items": items,
        }
    atomic_write_jsonl(Path(out_dir) / HELDOUT_NAME, rows)
    return report
