"""manifest.json: what a bundle is made of and from (taxonomy commit, every leaf with its
content hash, dataset hash, config, seeds, teacher, library versions) and every file with
its sha256. SHA256SUMS (sha256sum format) covers the manifest itself."""

from __future__ import annotations

import os
import subprocess
from importlib import metadata
from pathlib import Path

from taxon.core.store import hash_file, hash_tree
from taxon.qna.layout import BUNDLE_FORMAT, MANIFEST_NAME, SUMS_NAME
from taxon.qna.taxonomy import Leaf

LIBRARIES = ("taxon", "torch", "transformers", "peft", "safetensors", "huggingface_hub")


def library_versions() -> dict[str, str | None]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def taxonomy_commit(leaves: list[Leaf], config: dict) -> dict:
    """HEAD of the git repository holding the leaves (null outside one), and whether their
    files differ from it."""
    folders = [str(leaf.folder.resolve()) for leaf in leaves]
    root = Path(os.path.commonpath(folders)) if folders else Path(config["taxonomy"]["root"])
    if not root.is_dir():
        return {"commit": None, "dirty": None}
    commit = _git(root, "rev-parse", "HEAD")
    status = _git(root, "status", "--porcelain", "--", ".") if commit else None
    return {"commit": commit, "dirty": bool(status) if commit else None}


def leaf_entries(leaves: list[Leaf]) -> list[dict]:
    return [
        {"leaf_id": leaf.leaf_id, "kind": leaf.kind, "version": leaf.version, "content_hash": leaf.content_hash()}
        for leaf in sorted(leaves, key=lambda leaf: leaf.leaf_id)
    ]


def bundle_files(bundle: Path) -> dict[str, dict]:
    """Every file of the bundle but the manifest and the checksum list: path -> sha256, size."""
    return {
        path.relative_to(bundle).as_posix(): {"sha256": hash_file(path), "size": path.stat().st_size}
        for path in sorted(Path(bundle).rglob("*"))
        if path.is_file() and path.relative_to(bundle).as_posix() not in (MANIFEST_NAME, SUMS_NAME)
    }


def build_manifest(
    *,
    name: str,
    leaves: list[Leaf],
    dataset_dir: Path,
    train_result: dict,
    dataset_summary: dict,
    eval_report: dict | None,
    config: dict,
    has_adapter: bool,
) -> dict:
    """The manifest without its file list (added once every other file is written)."""
    shared_config = {key: value for key, value in config.items() if key != "config_path"}
    return {
        "format": BUNDLE_FORMAT,
        "name": name,
        "base_model": train_result.get("base_model"),
        "adapter": "adapter" if has_adapter else None,
        "taxonomy": taxonomy_commit(leaves, config),
        "leaves": leaf_entries(leaves),
        "dataset": {
            "hash": hash_tree(dataset_dir),
            "leaves": {leaf: stats.get("kept") for leaf, stats in sorted(dataset_summary.get("leaves", {}).items())},
        },
        "teacher": dataset_summary.get("teacher") or config.get("generate", {}).get("teacher"),
        "seeds": {stage: config.get(stage, {}).get("seed") for stage in ("generate", "train", "evaluate")},
        "train": train_result,
        "eval": None
        if eval_report is None
        else {
            "report": "eval/report.json",
            "gate_passed": eval_report["gate"]["passed"],
            "metric": eval_report["metric"],
        },
        "config": shared_config,
        "libraries": library_versions(),
    }


def sha256sums_text(bundle: Path) -> str:
    lines = [
        f"{hash_file(path)}  {path.relative_to(bundle).as_posix()}"
        for path in sorted(Path(bundle).rglob("*"))
        if path.is_file() and path.relative_to(bundle).as_posix() != SUMS_NAME
    ]
    return "\n".join(lines) + "\n"
