"""Building a bundle from a training run: merged weights (safetensors shards under the size
limit), the adapter, tokenizer and configs, the training records, the eval report, the
training set (dataset/), the model card, the manifest and SHA256SUMS. Built in a temporary folder, verified, then renamed into
place, so a reader never sees a partial bundle and a killed publish leaves nothing finished."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from taxon.core.errors import TaxonError, UsageError
from taxon.core.settings import Config, PublishSettings
from taxon.core.store import atomic_dir, atomic_write_json, atomic_write_text
from taxon.publish.card import render_card
from taxon.publish.compat import make_compatible
from taxon.publish.dataset import write_dataset
from taxon.publish.gguf import GGUF_NAME, wanted_quantizations, write_gguf_and_modelfile, write_gguf_files
from taxon.publish.manifest import build_manifest, bundle_files, sha256sums_text, taxonomy_commit
from taxon.publish.reproduce import copy_harness_tasks, lm_eval_command
from taxon.publish.verify import parse_size, verify_bundle
from taxon.qna.layout import (
    ADAPTER_DIR,
    BUNDLE_EVAL_DIR,
    BUNDLE_TRAIN_DIR,
    EVAL_RECORDS,
    MANIFEST_NAME,
    MODEL_DIR,
    REPORT_JSON,
    REPORT_MD,
    SUMMARY_NAME,
    SUMS_NAME,
    TRAIN_RECORDS,
    TRAIN_RESULT_NAME,
)
from taxon.qna.taxonomy import Leaf

WEIGHT_INDEX = "model.safetensors.index.json"


def _read_json(path: Path, hint: str) -> dict[str, Any]:
    try:
        value: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise TaxonError(f"cannot read: {error}", where=str(path), hint=hint)
    return value


def _copy_tree(source: Path, target: Path, skip: Callable[[Path], bool] = lambda path: False) -> None:
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


def publish_dtype(settings: PublishSettings, base_model: str | None) -> str:
    """publish.dtype: "base" (the base model's declared dtype, bf16 for SmolLM2) or a dtype named."""
    from taxon.backends.models import declared_dtype

    if settings.dtype == "base":
        return declared_dtype(base_model) if base_model else "float32"
    return settings.dtype


def gguf_files_to_evaluate(model_dir: Path, folder: Path, settings: PublishSettings) -> list[Path]:
    """The GGUF files publish will ship for this model (publish.gguf, publish.quantize), written
    into `folder` for evaluation to load back; [] when publish writes none. Their weights are in
    the dtype publish gives the bundle (publish.dtype; "base": the dtype of the base named by the
    training run's result.json beside the model), so the quantised files are the very ones
    publish writes: a demo model trained in float32 is published, and quantised, from bfloat16."""
    from taxon.backends.models import declared_dtype

    quantize = wanted_quantizations(settings)
    if quantize is None:
        return []
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise UsageError(
            f"publish.quantize needs the candidate as a local model folder, not '{model_dir}'",
            hint="evaluate the training run's model/ folder, or set publish.quantize = []",
        )
    try:
        base = json.loads((model_dir.parent / TRAIN_RESULT_NAME).read_text(encoding="utf-8")).get("base_model")
    except (OSError, ValueError):
        base = None
    dtype = publish_dtype(settings, base) if base or settings.dtype != "base" else declared_dtype(str(model_dir))
    Path(folder).mkdir(parents=True, exist_ok=True)
    return list(write_gguf_files(model_dir, Path(folder), "candidate", quantize, dtype).values())


def _stored_dtype(model_dir: Path) -> str | None:
    config = _read_json(Path(model_dir) / "config.json", hint="rerun: taxon train")
    return config.get("dtype") or config.get("torch_dtype")


def copy_merged_model(model_dir: Path, bundle: Path, max_shard_size: str, dtype: str) -> None:
    """The merged model's files in `dtype`: its weight shards copied when they are in it and
    each is within the size limit, converted and re-sharded by transformers otherwise."""
    try:
        limit = parse_size(max_shard_size)
    except ValueError as error:
        raise UsageError(f"publish.max_shard_size: {error}")
    shards = sorted(Path(model_dir).glob("*.safetensors"))
    if not shards:
        raise TaxonError("the merged model has no safetensors weights", where=str(model_dir), hint="rerun: taxon train")
    if _stored_dtype(model_dir) == dtype and all(shard.stat().st_size <= limit for shard in shards):
        _copy_tree(model_dir, bundle)
        return
    from transformers import AutoModelForCausalLM

    _copy_tree(model_dir, bundle, skip=lambda path: _is_weight_file(path) or path.name == "config.json")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    model.save_pretrained(bundle, max_shard_size=max_shard_size)


def bundle_name(settings: PublishSettings, config_path: str, commit: str | None) -> str:
    """publish.name, or the repository's name and version: the release tag in a tag's workflow
    run, else the taxonomy's short commit ("dev" outside a git checkout)."""
    if settings.name:
        return settings.name
    repository = os.environ.get("GITHUB_REPOSITORY", "").rpartition("/")[2]
    if not repository:
        repository = Path(config_path or ".").resolve().parent.name
    if os.environ.get("GITHUB_REF_TYPE") == "tag" and os.environ.get("GITHUB_REF_NAME"):
        version = os.environ["GITHUB_REF_NAME"]
    else:
        version = commit[:7] if commit else "dev"
    return f"{repository}-{version}"


def _check_evaluation(
    eval_report: dict[str, Any] | None, settings: PublishSettings, eval_dir: Path | None, model_dir: Path
) -> None:
    """The report must be of this very model, and (unless told otherwise) its gate passed."""
    from taxon.backends.models import model_fingerprint

    if eval_report and eval_report.get("candidate_hash") != model_fingerprint(str(model_dir)):
        raise TaxonError(
            f"the evaluation report is of another model ({eval_report.get('candidate')})",
            where=str(eval_dir),
            hint=f"evaluate this run's model: taxon evaluate --candidate {model_dir} ...",
        )
    if eval_report and settings.require_passed_gate and not eval_report["gate"]["passed"]:
        reasons = "\n  ".join(eval_report["gate"]["reasons"])
        raise TaxonError(
            f"the evaluation gate failed, so the model is not published:\n  {reasons}",
            where=str(eval_dir),
            hint="improve the model, or publish anyway with --set publish.require_passed_gate=false",
        )


def _portable_eval(eval_copy: Path, report: dict[str, Any]) -> dict[str, Any]:
    """The bundle's evaluation records with no absolute path of the machine that made them (a
    runner's work folder, a home directory): a model path under the working folder is named
    relative to it, any other by its last two parts. report.json's keys and values and
    report.md alike; returns the report as written."""
    found: set[str] = set()
    _absolute_paths(report, found)
    names = {path: _portable_path(path) for path in found}
    portable: dict[str, Any] = _renamed(report, names)
    atomic_write_json(eval_copy / REPORT_JSON, portable)
    markdown = eval_copy / REPORT_MD
    if markdown.is_file():
        text = markdown.read_text(encoding="utf-8")
        for path in sorted(names, key=len, reverse=True):
            text = text.replace(path, names[path])
        atomic_write_text(markdown, text)
    return portable


def _absolute_paths(value: object, found: set[str]) -> None:
    if isinstance(value, str):
        if os.path.isabs(value):
            found.add(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _absolute_paths(key, found)
            _absolute_paths(item, found)
    elif isinstance(value, list):
        for item in value:
            _absolute_paths(item, found)


def _portable_path(path: str) -> str:
    try:
        return Path(path).relative_to(Path.cwd()).as_posix()
    except ValueError:
        return "/".join(Path(path).parts[-2:])


def _renamed(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, dict):
        return {names.get(key, key): _renamed(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [_renamed(item, names) for item in value]
    return value


def evaluated_gguf(
    files: dict[str, Path], eval_report: dict[str, Any] | None, eval_dir: Path | None
) -> dict[str, dict[str, Any]]:
    """file name -> its weights and whether these very weights were evaluated (the report's entry
    for the file has their digest). A quantised file must have been, when there is a report: its
    figures are the only word on what the quantisation lost; model.gguf in the weights' own
    dtype may go unevaluated (the card says so)."""
    from taxon.backends.models import gguf_summary

    evaluated = (eval_report or {}).get("gguf") or {}
    entries = {}
    for name, path in files.items():
        summary = gguf_summary(path)
        matches = evaluated.get(name, {}).get("weights_sha256") == summary["weights_sha256"]
        if eval_report and not matches and name != GGUF_NAME:
            problem = "differs from the file evaluated" if name in evaluated else "was not evaluated"
            raise TaxonError(
                f"{name} {problem}, so the card could not say what it still knows",
                where=str(eval_dir),
                hint="evaluate with the same publish.quantize (the pipeline does), or publish without it",
            )
        retention = evaluated[name].get("fact_retention") if matches else None
        entries[name] = {
            **summary,
            "size_bytes": path.stat().st_size,
            "evaluated": matches,
            "fact_retention": retention,
        }
    return entries


def build_bundle(
    train_dir: Path,
    eval_dir: Path | None,
    dataset_dir: Path,
    leaves: list[Leaf],
    config: Config,
    final: Path,
    hub: dict[str, str] | None = None,
) -> Path:
    """`hub`: the repositories it goes to ({"hub_model": ORG/NAME, "hub_id": the dataset's}), for the cards."""
    settings = config.publish
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

    dtype = publish_dtype(settings, train_result.get("base_model"))
    with atomic_dir(Path(final)) as staging:
        copy_merged_model(model_dir, staging, settings.max_shard_size, dtype)
        make_compatible(staging)
        if has_adapter:
            # peft's placeholder card would sit beside the bundle's own
            _copy_tree(adapter_dir, staging / ADAPTER_DIR, skip=lambda path: path.name == "README.md")
        _copy_named(train_dir, TRAIN_RECORDS, staging / BUNDLE_TRAIN_DIR)
        harness_tasks = copy_harness_tasks(Path(eval_dir), staging) if eval_dir and eval_report is not None else []
        if eval_dir and eval_report is not None:
            _copy_named(Path(eval_dir), EVAL_RECORDS, staging / BUNDLE_EVAL_DIR)
            eval_report = _portable_eval(staging / BUNDLE_EVAL_DIR, eval_report)
        taxonomy = taxonomy_commit(leaves, config.taxonomy.root)
        name = bundle_name(settings, config.config_path, taxonomy["commit"])
        manifest = build_manifest(
            name=name,
            taxonomy=taxonomy,
            leaves=leaves,
            dataset_dir=dataset_dir,
            train_result=train_result,
            dataset_summary=dataset_summary,
            eval_report=eval_report,
            config=config,
            has_adapter=has_adapter,
        )
        manifest["dtype"] = dtype
        if eval_report and harness_tasks:
            computed = eval_report.get("dtype", "float32")
            manifest["lm_eval"] = {"tasks": harness_tasks, "command": lm_eval_command(harness_tasks, computed)}
        quantize = wanted_quantizations(settings)
        if quantize is not None:
            gguf_files = write_gguf_and_modelfile(staging, staging, name, quantize)
            manifest["gguf"] = evaluated_gguf(gguf_files, eval_report, eval_dir)
        manifest["dataset"].update(write_dataset(staging, dataset_dir, leaves, dataset_summary, config, name))
        manifest["dataset"].update(hub or {})
        eval_markdown_path = staging / BUNDLE_EVAL_DIR / REPORT_MD
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
