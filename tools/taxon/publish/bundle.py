"""Building a bundle from a training run: merged weights (safetensors shards under the size
limit), the adapter, tokenizer and configs, the training records, the eval report, the
training set (dataset/), the model card, the manifest and SHA256SUMS. Built in a temporary folder, verified, then renamed into
place, so a reader never sees a partial bundle and a killed publish leaves nothing finished."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from taxon.core.errors import TaxonError, UsageError
from taxon.core.store import atomic_dir, atomic_write_json, atomic_write_text
from taxon.publish.card import render_card
from taxon.publish.dataset import write_dataset
from taxon.publish.manifest import build_manifest, bundle_files, sha256sums_text
from taxon.publish.verify import parse_size, verify_bundle
from taxon.qna.layout import (
    ADAPTER_DIR,
    EVAL_RECORDS,
    MANIFEST_NAME,
    MODEL_DIR,
    REPORT_JSON,
    SUMMARY_NAME,
    SUMS_NAME,
    TRAIN_RECORDS,
    TRAIN_RESULT_NAME,
)
from taxon.qna.taxonomy import Leaf

WEIGHT_INDEX = "model.safetensors.index.json"


def _read_json(path: Path, hint: str) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise TaxonError(f"cannot read: {error}", where=str(path), hint=hint)


def _copy_tree(source: Path, target: Path, skip=lambda path: False) -> None:
    for path in sorted(Path(source).rglob("*")):
        if path.is_file() and not skip(path):
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)


def _copy_named(source: Path, names: tuple[str, ...], target: Path) -> None:
    for name in names:
        if (source / name).is_file():
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, target / name)


def _is_weight_file(path: Path) -> bool:
    return path.suffix == ".safetensors" or path.name == WEIGHT_INDEX


def copy_merged_model(model_dir: Path, bundle: Path, max_shard_size: str) -> None:
    """The merged model's files, its weight shards copied when each is within the limit,
    re-sharded by transformers otherwise."""
    try:
        limit = parse_size(max_shard_size)
    except ValueError as error:
        raise UsageError(f"publish.max_shard_size: {error}")
    shards = sorted(Path(model_dir).glob("*.safetensors"))
    if not shards:
        raise TaxonError("the merged model has no safetensors weights", where=str(model_dir), hint="rerun: taxon train")
    if all(shard.stat().st_size <= limit for shard in shards):
        _copy_tree(model_dir, bundle)
        return
    from transformers import AutoModelForCausalLM

    _copy_tree(model_dir, bundle, skip=_is_weight_file)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    model.save_pretrained(bundle, max_shard_size=max_shard_size)


def _check_evaluation(eval_report: dict | None, settings: dict, eval_dir: Path | None, model_dir: Path) -> None:
    """The report must be of this very model, and (unless told otherwise) its gate passed."""
    from taxon.backends.models import model_fingerprint

    if eval_report and eval_report.get("candidate_hash") != model_fingerprint(str(model_dir)):
        raise TaxonError(
            f"the evaluation report is of another model ({eval_report.get('candidate')})",
            where=str(eval_dir),
            hint=f"evaluate this run's model: taxon evaluate --candidate {model_dir} ...",
        )
    if eval_report and settings.get("require_passed_gate", True) and not eval_report["gate"]["passed"]:
        reasons = "\n  ".join(eval_report["gate"]["reasons"])
        raise TaxonError(
            f"the evaluation gate failed, so the model is not published:\n  {reasons}",
            where=str(eval_dir),
            hint="improve the model, or publish anyway with --set publish.require_passed_gate=false",
        )


def build_bundle(
    train_dir: Path,
    eval_dir: Path | None,
    dataset_dir: Path,
    leaves: list[Leaf],
    config: dict,
    final: Path,
    name: str,
) -> Path:
    settings = config["publish"]
    train_dir, dataset_dir = Path(train_dir), Path(dataset_dir)
    model_dir, adapter_dir = train_dir / MODEL_DIR, train_dir / ADAPTER_DIR
    if not (model_dir / "config.json").is_file():
        raise TaxonError("no merged model in the training run", where=str(model_dir), hint="run: taxon train")
    if not dataset_dir.is_dir():
        raise TaxonError("no generate output here", where=str(dataset_dir), hint="run: taxon generate")
    train_result = _read_json(train_dir / TRAIN_RESULT_NAME, hint="run: taxon train")
    summary_path = dataset_dir / SUMMARY_NAME
    dataset_summary = _read_json(summary_path, hint="run: taxon generate") if summary_path.is_file() else {}
    eval_report = _read_json(Path(eval_dir) / REPORT_JSON, hint="run: taxon evaluate") if eval_dir else None
    _check_evaluation(eval_report, settings, eval_dir, model_dir)
    has_adapter = (adapter_dir / "adapter_config.json").is_file()

    with atomic_dir(Path(final)) as staging:
        copy_merged_model(model_dir, staging, settings.get("max_shard_size", "2GB"))
        if has_adapter:
            # peft's placeholder card would sit beside the bundle's own
            _copy_tree(adapter_dir, staging / "adapter", skip=lambda path: path.name == "README.md")
        _copy_named(train_dir, TRAIN_RECORDS, staging / "train")
        if eval_dir:
            _copy_named(Path(eval_dir), EVAL_RECORDS, staging / "eval")
        manifest = build_manifest(
            name=name,
            leaves=leaves,
            dataset_dir=dataset_dir,
            train_result=train_result,
            dataset_summary=dataset_summary,
            eval_report=eval_report,
            config=config,
            has_adapter=has_adapter,
        )
        manifest["dataset"].update(write_dataset(staging, dataset_dir, leaves, dataset_summary, config, name))
        eval_markdown_path = staging / "eval" / "report.md"
        eval_markdown = eval_markdown_path.read_text(encoding="utf-8") if eval_markdown_path.is_file() else None
        atomic_write_text(staging / "README.md", render_card(manifest, eval_report, eval_markdown, settings))
        manifest["files"] = bundle_files(staging)
        atomic_write_json(staging / MANIFEST_NAME, manifest)
        atomic_write_text(staging / SUMS_NAME, sha256sums_text(staging))
        problems = verify_bundle(staging)
        if problems:
            raise TaxonError(
                "the bundle failed verification, nothing was published:\n  " + "\n  ".join(problems), where=str(final)
            )
    return Path(final)
