"""manifest.json: what a bundle is made of and from (taxonomy commit, every leaf with its
content hash, dataset hash, config, seeds, teacher, library versions) and every file with
its sha256. SHA256SUMS (sha256sum format) covers the manifest itself."""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path
from typing import Any

from taxon.core.errors import TaxonError
from taxon.core.git import GitFailed, find_repository, printable
from taxon.core.settings import Config
from taxon.core.store import hash_file, hash_tree
from taxon.qna.layout import ADAPTER_DIR, BUNDLE_EVAL_DIR, BUNDLE_FORMAT, MANIFEST_NAME, REPORT_JSON, SUMS_NAME
from taxon.qna.taxonomy import Leaf

LIBRARIES = ("taxon", "torch", "transformers", "peft", "safetensors", "huggingface_hub")


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def taxonomy_commit(leaves: list[Leaf], taxonomy_root: str) -> dict[str, Any]:
    """HEAD of the clone holding the leaves (null outside one), and whether their files differ
    from it. In CI (GITHUB_SHA set) the commit is GITHUB_SHA, and a clone whose HEAD is
    another commit is an error: the bundle would claim a commit it was not built from."""
    folders = [str(leaf.folder.resolve()) for leaf in leaves]
    folder = Path(os.path.commonpath(folders)) if folders else Path(taxonomy_root)
    repository = find_repository(folder) if folder.is_dir() else None
    if repository is None:
        return {"commit": None, "dirty": None}
    try:
        head = repository.git("rev-parse", "--verify", "HEAD^{commit}").decode().strip()
        status = repository.git("status", "--porcelain", "--untracked-files=all", "--", str(folder))
    except GitFailed:
        return {"commit": None, "dirty": None}
    expected = os.environ.get("GITHUB_SHA")
    if expected and expected.lower() != head:
        raise TaxonError(
            f"GITHUB_SHA is {printable(expected)} but the checkout's HEAD is {head}",
            where=str(repository.root),
            hint="publish from a checkout of the commit the workflow runs for (actions/checkout without a ref)",
        )
    return {"commit": head, "dirty": bool(status)}


def leaf_entries(leaves: list[Leaf]) -> list[dict[str, Any]]:
    return [
        {"leaf_id": leaf.leaf_id, "kind": leaf.kind, "version": leaf.version, "content_hash": leaf.content_hash()}
        for leaf in sorted(leaves, key=lambda leaf: leaf.leaf_id)
    ]


def bundle_files(bundle: Path) -> dict[str, dict[str, Any]]:
    """Every file of the bundle but the manifest and the checksum list: path -> sha256, size."""
    return {
        path.relative_to(bundle).as_posix(): {"sha256": hash_file(path), "size": path.stat().st_size}
        for path in sorted(Path(bundle).rglob("*"))
        if path.is_file() and path.relative_to(bundle).as_posix() not in (MANIFEST_NAME, SUMS_NAME)
    }


def build_manifest(
    *,
    name: str,
    taxonomy: dict[str, Any],
    leaves: list[Leaf],
    dataset_dir: Path,
    train_result: dict[str, Any],
    dataset_summary: dict[str, Any],
    eval_report: dict[str, Any] | None,
    config: Config,
    has_adapter: bool,
) -> dict[str, Any]:
    """The manifest without its file list (added once every other file is written)."""
    shared_config = {key: value for key, value in config.to_dict().items() if key != "config_path"}
    return {
        "format": BUNDLE_FORMAT,
        "name": name,
        "base_model": train_result.get("base_model"),
        "adapter": ADAPTER_DIR if has_adapter else None,
        "taxonomy": taxonomy,
        "leaves": leaf_entries(leaves),
        "dataset": {
            "hash": hash_tree(dataset_dir),
            "leaves": {leaf: stats.get("kept") for leaf, stats in sorted(dataset_summary.get("leaves", {}).items())},
        },
        "teacher": dataset_summary.get("teacher") or config.generate.teacher,
        "seeds": stage_seeds(config),
        "train": train_result,
        "eval": None
        if eval_report is None
        else {
            "report": f"{BUNDLE_EVAL_DIR}/{REPORT_JSON}",
            "gate_passed": eval_report["gate"]["passed"],
        },
        "config": shared_config,
        "libraries": library_versions(),
    }


def stage_seeds(config: Config) -> dict[str, int]:
    """The random seeds of generation, training and evaluation, as the bundle records them."""
    return {"generate": config.generate.seed, "train": config.train.seed, "evaluate": config.evaluate.seed}


def sha256sums_text(bundle: Path) -> str:
    lines = [
        f"{hash_file(path)}  {path.relative_to(bundle).as_posix()}"
        for path in sorted(Path(bundle).rglob("*"))
        if path.is_file() and path.relative_to(bundle).as_posix() != SUMS_NAME
    ]
    return "\n".join(lines) + "\n"
