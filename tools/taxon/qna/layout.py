"""Every on-disk name that more than one module reads or writes: the taxonomy tree, the
outputs of each stage, the bundle, and the run folder that holds them. Stages meet through
these files, never through imports of one another."""

from __future__ import annotations

import json
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taxon.core.characters import describe, hidden_runs

# the taxonomy tree
TAXONOMY_DIR = "taxonomy"
QNA_NAME = "qna.yaml"
ATTRIBUTION_NAME = "attribution.txt"

# maintainers' decisions on generated samples, beside the taxonomy folder:
# decisions/<leaf_id>/<sample id>.yaml, one file per decision (taxon.qna.decisions)
DECISIONS_DIR = "decisions"
DECISION_SUFFIX = ".yaml"


def decisions_root(taxonomy_root: Path) -> Path:
    """`decisions/` beside the taxonomy folder (`taxonomy/` -> `decisions/`)."""
    return Path(taxonomy_root).resolve().parent / DECISIONS_DIR


def decisions_root_of(path: Path) -> Path | None:
    """The decisions folder a path is in (or is), by its name."""
    resolved = Path(os.path.abspath(path))
    for folder in (resolved, *resolved.parents):
        if folder.name == DECISIONS_DIR:
            return folder
    return None


def name_problem(name: str) -> str | None:
    """Why a contributed file or folder name (one part of a path, or a whole posix path) is
    unusable, or None. Names travel through git, JSON, hashes and logs as UTF-8 text on one
    line: a name that is not UTF-8 (os.fsdecode keeps its bytes as surrogates), or holds a
    control, line-break or invisible character, is refused where it is found."""
    if name.isascii() and name.isprintable():
        return None  # none of those is printable ASCII: the common case, without a walk over its characters
    if any("\ud800" <= char <= "\udfff" for char in name):
        return "its name is not UTF-8: rename it (UTF-8 only)"
    control = next((char for char in name if unicodedata.category(char) in ("Cc", "Zl", "Zp")), None)
    if control is not None:
        return f"its name holds the control character {describe(control)}: rename it"
    hidden = next(hidden_runs(name), None)
    if hidden is not None:
        return f"its name holds invisible characters {hidden.summary()}: rename it"
    return None


# generate: <out>/<leaf_id>/{samples,dropped}.jsonl, stats.json; <out>/summary.json
SAMPLES_NAME = "samples.jsonl"  # kept samples of one leaf
DROPPED_NAME = "dropped.jsonl"  # dropped samples with metadata.reason
STATS_NAME = "stats.json"  # {"generated", "kept", "dropped": {reason: n}, "parameters": {...}}
SUMMARY_NAME = "summary.json"  # every leaf's stats, the teacher, the config
# the questions evaluation asks of a leaf beyond its held-out seeds and samples (a knowledge leaf's
# cloze per document fact): {"questions": [...]}, so that train and publish keep away from them
EVAL_QUESTIONS_NAME = "eval_questions.json"

# generate's unit cache: <generate.cache_dir>/units/<key[:2]>/<key>.json, one finished unit
# of work (a raw teacher reply or verdict) per key; CI carries it from one run on main to the next
UNITS_DIR = "units"


def unit_entry(key: str) -> str:
    """A unit's file under UNITS_DIR."""
    return f"{key[:2]}/{key}.json"


# train: <out>/{model,adapter}/, result.json, train_log.jsonl, loss.png, checkpoints/
MODEL_DIR = "model"
ADAPTER_DIR = "adapter"
TRAIN_RESULT_NAME = "result.json"
TRAIN_LOG_NAME = "train_log.jsonl"
LOSS_PLOT_NAME = "loss.png"
TENSORBOARD_DIR = "tensorboard"  # the log as TensorBoard events, when tensorboard is installed
TRAIN_RECORDS = (TRAIN_RESULT_NAME, TRAIN_LOG_NAME, LOSS_PLOT_NAME)

# evaluate: <out>/report.json, report.md, deltas.png, heldout.jsonl (closest training question per held-out item),
# questions.jsonl (every scored item), lm_eval/ (the multiple-choice sets as lm-evaluation-harness tasks)
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
DELTAS_PNG = "deltas.png"
HELDOUT_NAME = "heldout.jsonl"
SKILLS_NAME = "skills.jsonl"  # every scored skill item: each model's answer, verdict and why (for a hand check)
QUESTIONS_NAME = "questions.jsonl"
HARNESS_DIR = "lm_eval"
EVAL_RECORDS = (REPORT_JSON, REPORT_MD, DELTAS_PNG, HELDOUT_NAME, QUESTIONS_NAME, SKILLS_NAME)
# report.json's metric names, as people read them (the report's tables and plot, the model card)
METRIC_LABELS = {
    "fact_accuracy": "fact accuracy",
    "skill_accuracy": "skill accuracy",
    "form_accuracy": "form accuracy",
    "mc_acc": "multiple-choice acc",
    "mc_acc_norm": "multiple-choice acc_norm",
    "rouge_l": "ROUGE-L F1",
    "nll": "loss (nats/token)",
}
# report.json's totals beside "knowledge" and "skills": the knowledge figures on the held-out seed
# questions alone (asked in a contributor's words; most fact questions are blanks in the document
# sentences training restates: on the demo 24 of 196, 50-62 % right where all said 78-87 %)
SEED_FACTS_TOTAL = "knowledge (held-out seeds)"

# a bundle: the merged model's files, adapter/ (ADAPTER_DIR), the train and eval records under
# train/ and eval/, manifest.json, SHA256SUMS (covering the manifest too)
BUNDLE_FORMAT = "taxon-bundle/1"
BUNDLE_TRAIN_DIR = "train"
BUNDLE_EVAL_DIR = "eval"
MANIFEST_NAME = "manifest.json"
SUMS_NAME = "SHA256SUMS"


@dataclass(frozen=True)
class RunLayout:
    """runs/<profile>/: one folder per stage, the resolved config, and the stage markers."""

    run_dir: Path

    @property
    def generate_dir(self) -> Path:
        return self.run_dir / "generate"

    @property
    def train_dir(self) -> Path:
        return self.run_dir / "train"

    @property
    def eval_dir(self) -> Path:
        return self.run_dir / "evaluate"

    @property
    def bundle_dir(self) -> Path:
        return self.run_dir / "bundle"

    @property
    def config_file(self) -> Path:
        """The resolved config of this run, for the record and for launched processes."""
        return self.run_dir / "config.json"

    @property
    def leaves_file(self) -> Path:
        """The leaves this run is over and those [pipeline] leaves left out, by id."""
        return self.run_dir / "leaves.json"

    @property
    def markers_dir(self) -> Path:
        """<run>/stages/<stage>.json: the key and figures of each stage's last success."""
        return self.run_dir / "stages"


def default_run_dir(config_path: Path, profile: str) -> Path:
    return Path(config_path).parent / "runs" / profile


def read_manifest(bundle: Path) -> dict[str, Any] | None:
    """The manifest of a taxon bundle folder, or None when the folder is not one."""
    path = Path(bundle) / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("format") == BUNDLE_FORMAT else None


def read_bundle_leaves(bundle: Path) -> dict[str, str] | None:
    """leaf id -> content hash of the leaves a published bundle was trained on; None when
    the folder is not a bundle (a plain model)."""
    manifest = read_manifest(bundle)
    if manifest is None:
        return None
    return {entry["leaf_id"]: entry["content_hash"] for entry in manifest.get("leaves", [])}
