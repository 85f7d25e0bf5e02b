"""The training set shipped in every bundle, under dataset/: the rows the model was trained on
and the held-out rows its evaluation scored, as JSONL with one flat, typed column per metadata
field; stats.json with each leaf's generation stats, the seeds, the held-out question ids; and
a dataset card (README.md) whose YAML front matter names the splits, so
`datasets.load_dataset("BUNDLE/dataset")` reads it. SHA256SUMS and the manifest cover it like
every other file of the bundle."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from taxon.core.settings import Config, PublishSettings
from taxon.core.store import atomic_write_json, atomic_write_jsonl, atomic_write_text, hash_file
from taxon.publish.manifest import stage_seeds
from taxon.qna.decisions import add_counts, row_sample_id
from taxon.qna.heldout import NEAR_HELD_OUT, training_split
from taxon.qna.layout import MANIFEST_NAME, STATS_NAME, read_manifest
from taxon.qna.samples import collect_samples, question_id
from taxon.qna.taxonomy import Leaf

DATASET_DIR = "dataset"
DATASET_STATS = "stats.json"
SPLITS = ("train", "held_out")
# Every row has these columns, each of one type (or null), so the JSON reader infers one schema.
TEXT_FIELDS = ("leaf", "kind", "source", "teacher", "judge", "pipeline_version", "decision", "decided_by")
INTEGER_FIELDS = ("seed", "chunk")
FLOAT_FIELDS = ("judge_score", "judge_gain")


def split_path(split: str) -> str:
    return f"data/{split}.jsonl"


def _typed(value: Any, kind: Callable[[Any], object]) -> object:
    return None if value is None else kind(value)


def dataset_row(sample: dict[str, Any]) -> dict[str, Any]:
    metadata = sample.get("metadata") or {}
    row: dict[str, Any] = {"question_id": question_id(sample), "sample_id": row_sample_id(sample)}
    row.update({name: _typed(metadata.get(name), str) for name in TEXT_FIELDS})
    row.update({name: _typed(metadata.get(name), int) for name in INTEGER_FIELDS})
    row.update({name: _typed(metadata.get(name), float) for name in FLOAT_FIELDS})
    row["messages"] = [{"role": str(m.get("role")), "content": str(m.get("content"))} for m in sample["messages"]]
    return row


def size_category(rows: int) -> str:
    """The Hub's size_categories bucket for a row count."""
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < limit:
            return label
    return "n>1M"


def _review_line(counts: dict[str, int]) -> str:
    return (
        f"Maintainers decided on {counts['reviewed']} generated samples: kept {counts['keep']}, dropped "
        f"{counts['drop']}, fixed {counts['fix']} (trained with the maintainer's answer); {counts['unreviewed']} "
        "samples trained without a decision (the automatic filters' verdict). `decision` and `decided_by` say "
        "which rows a maintainer decided on; `sample_id` names a sample as the review page and "
        "`decisions/<leaf>/<sample_id>.yaml` do."
    )


def _card(name: str, splits: dict[str, int], settings: PublishSettings, decisions: dict[str, int]) -> str:
    front = {
        "license": settings.license,
        "language": list(settings.language),
        "size_categories": [size_category(sum(splits.values()))],
        "pretty_name": f"{name} training set",
        "task_categories": ["text-generation"],
        "tags": ["taxon", "synthetic"],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": split, "path": split_path(split)} for split, rows in splits.items() if rows],
            }
        ],
    }
    counts = ", ".join(f"{split} {rows}" for split, rows in splits.items())
    return "\n".join(
        [
            "---",
            yaml.safe_dump(front, sort_keys=False).rstrip(),
            "---",
            "",
            f"# {name} training set",
            "",
            f"The samples the model `{name}` was trained on (split `train`) and the questions held out from "
            f"training that its evaluation scored (split `held_out`); rows: {counts}. Each row is a chat "
            "(`messages`) with its leaf, kind, source (`seed`: the leaf's own example, `generated`: by the "
            "teacher, `document`: restated from the leaf's document, `checker`: a seed with new figures answered "
            "by a checker), the seed example and document chunk it grew from, and the judge's score.",
            "",
            f"`{DATASET_STATS}` holds each leaf's generation stats (generated, kept, dropped by reason, "
            "parameters), the random seeds of generation, training and evaluation, the held-out share and the "
            "held-out question ids (`question_id` is the sha256 of the user turn, which decides the split). "
            "Rows of a replay file (`train.replay`) are not redistributed; its sha256 is recorded there.",
            "",
            _review_line(decisions),
            "",
            'Load it with `datasets.load_dataset("path/to/this/folder")`.',
            "",
        ]
    )


def write_dataset(
    bundle: Path, generate_dir: Path, leaves: list[Leaf], dataset_summary: dict[str, Any], config: Config, name: str
) -> dict[str, Any]:
    """Write dataset/ into a bundle being built; returns its manifest entry."""
    folder = Path(bundle) / DATASET_DIR
    eval_share = config.dataset.eval_share
    splits: dict[str, list[dict[str, Any]]] = {split: [] for split in SPLITS}
    samples = collect_samples(generate_dir, leaves, None)
    splitter = training_split(leaves, generate_dir, eval_share, samples)
    for sample in samples:
        side = splitter.side(sample)
        if side != NEAR_HELD_OUT:  # training drops those too: the dataset is what was trained
            splits[side].append(dataset_row(sample))
    for split, rows in splits.items():
        atomic_write_jsonl(folder / split_path(split), rows)
    replay = config.train.replay
    counts = {split: len(rows) for split, rows in splits.items()}
    leaf_stats = {
        leaf.leaf_id: _leaf_stats(Path(generate_dir) / leaf.leaf_id / STATS_NAME)
        for leaf in sorted(leaves, key=lambda leaf: leaf.leaf_id)
    }
    decisions = add_counts(entry.get("decisions") or {} for entry in leaf_stats.values() if entry is not None)
    stats = {
        "leaves": leaf_stats,
        "teacher": dataset_summary.get("teacher"),
        "seeds": stage_seeds(config),
        "eval_share": eval_share,
        "rows": counts,
        "held_out_question_ids": sorted({row["question_id"] for row in splits["held_out"]}),
        "replay_sha256": hash_file(Path(replay)) if replay and Path(replay).is_file() else None,
        "decisions": decisions,
    }
    atomic_write_json(folder / DATASET_STATS, stats)
    atomic_write_text(folder / "README.md", _card(name, counts, config.publish, decisions))
    return {"folder": DATASET_DIR, "rows": counts}


def _leaf_stats(path: Path) -> dict[str, Any] | None:
    try:
        stats = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    keys = ("generated", "kept", "dropped", "decisions", "agreement", "parameters", "leaf_hash")
    return {key: stats.get(key) for key in keys if key in stats}


def dataset_problems(bundle: Path) -> list[str]:
    """The training set is there, its card names its splits, and its rows are what the manifest says."""
    manifest = read_manifest(bundle) or {}
    entry = (manifest.get("dataset") or {}).get("folder")
    if entry != DATASET_DIR or not (Path(bundle) / DATASET_DIR).is_dir():
        return [f"{DATASET_DIR}/: the bundle has no training set (its {MANIFEST_NAME} names none)"]
    folder = Path(bundle) / DATASET_DIR
    expected = (manifest.get("dataset") or {}).get("rows") or {}
    problems, held_out_ids = [], set()
    card = (folder / "README.md").read_text(encoding="utf-8") if (folder / "README.md").is_file() else ""
    match = re.match(r"---\n(.*?)\n---\n", card, re.DOTALL)
    try:
        front = yaml.safe_load(match.group(1)) if match else None
    except yaml.YAMLError:
        front = None
    configs = front.get("configs") if isinstance(front, dict) else None
    listed = {
        item.get("path")
        for config in configs or []
        if isinstance(config, dict)
        for item in config.get("data_files") or []
        if isinstance(item, dict)
    }
    if not configs:
        problems.append(f"{DATASET_DIR}/README.md: no dataset card front matter with configs")
    problems += _card_path_problems(configs if isinstance(configs, list) else [], folder)
    for split in SPLITS:
        path = folder / split_path(split)
        rows = _read_rows(path, problems)
        if rows is None:
            continue
        if rows and split_path(split) not in listed:
            problems.append(f"{DATASET_DIR}/README.md: the card does not name {split_path(split)}")
        if len(rows) != expected.get(split):
            problems.append(
                f"{DATASET_DIR}/{split_path(split)}: {len(rows)} rows, {MANIFEST_NAME} says {expected.get(split)}"
            )
        if split == "held_out":
            held_out_ids = {row.get("question_id") for row in rows}
    try:
        stats = json.loads((folder / DATASET_STATS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [*problems, f"{DATASET_DIR}/{DATASET_STATS} is missing or not JSON"]
    if not isinstance(stats, dict) or set(stats.get("held_out_question_ids") or []) != held_out_ids:
        problems.append(f"{DATASET_DIR}/{DATASET_STATS}: the held-out question ids differ from the held_out rows")
    return problems


def _card_path_problems(configs: list[Any], folder: Path) -> list[str]:
    """Every path the card's configs name (`data_files` in any of its shapes, `data_dir`) must
    be a file or folder of the training set itself, written plainly: `datasets.load_dataset`
    reads whatever the card names, an absolute path, `..`, a glob or another repository too."""
    present = {path.relative_to(folder).as_posix() for path in folder.rglob("*")}
    problems = []
    for config in configs:
        named = _card_paths(config.get("data_files")) if isinstance(config, dict) else []
        if isinstance(config, dict) and "data_dir" in config:
            named.append(config["data_dir"])
        for path in named:
            plain = isinstance(path, str) and _PLAIN_PATH.fullmatch(path) and ".." not in path.split("/")
            if not plain or path not in present:
                shown = str(path)[:80].encode("unicode_escape").decode()
                problems.append(f"{DATASET_DIR}/README.md: the card names '{shown}', not a file of the training set")
    return problems


_PLAIN_PATH = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")


def _card_paths(value: object) -> list[Any]:
    """The paths of a `data_files` value: a string, a list of strings or {split, path}, a
    mapping of split to path(s); anything else is returned as is, to be refused."""
    if isinstance(value, list):
        return [path for item in value for path in _card_paths(item)]
    if isinstance(value, dict):
        if "path" in value:
            return _card_paths(value["path"])
        return [path for item in value.values() for path in _card_paths(item)]
    return [] if value is None else [value]


def _read_rows(path: Path, problems: list[str]) -> list[dict[str, Any]] | None:
    relative = f"{DATASET_DIR}/{path.relative_to(path.parents[1]).as_posix()}"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        problems.append(f"{relative} is missing or not UTF-8")
        return None
    rows = []
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if not isinstance(row, dict) or not isinstance(row.get("messages"), list) or not row.get("question_id"):
            problems.append(f"{relative} line {number}: not a row with question_id and messages")
            return None
        rows.append(row)
    return rows
