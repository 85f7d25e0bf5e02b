"""The release artifact: a verified bundle folder (merged weights, adapter, tokenizer, model
card, manifest, eval report, SHA256SUMS), written atomically or uploaded to the Hub."""

from __future__ import annotations

from pathlib import Path

from taxon.core.settings import Config
from taxon.publish.bundle import build_bundle
from taxon.publish.hub import hub_repo, hub_token, upload_bundle
from taxon.publish.verify import verify_bundle
from taxon.qna.taxonomy import Leaf

__all__ = ["publish", "verify_bundle"]


def publish(
    train_dir: Path, eval_dir: Path | None, dataset_dir: Path, leaves: list[Leaf], config: Config, dest: str
) -> Path:
    """Build and verify the bundle at `dest` (a folder), or in `publish.hub_staging_dir` and then
    upload it for `hf://ORG/NAME` (and its dataset/ as the dataset ORG/NAME-dataset, which the
    model card links, unless publish.hub_dataset is false). Returns the local bundle folder."""
    repo_id = hub_repo(dest)
    if repo_id is None:
        return build_bundle(train_dir, eval_dir, dataset_dir, leaves, config, Path(dest))
    settings = config.publish
    staging = Path(settings.hub_staging_dir) / repo_id
    dataset_id = f"{repo_id}-dataset" if settings.hub_dataset else None
    hub = {"hub_model": repo_id, **({"hub_id": dataset_id} if dataset_id else {})}
    bundle = build_bundle(train_dir, eval_dir, dataset_dir, leaves, config, staging, hub)
    upload_bundle(bundle, repo_id, hub_token(bundle), settings.hub_private, dataset_id)
    return bundle
