"""Publishing a verified bundle to the Hugging Face Hub: `hf://ORG/NAME` destinations, the
token from HF_TOKEN, and one thin call to huggingface_hub."""

from __future__ import annotations

import os
import re
from pathlib import Path

from taxon.core.errors import TaxonError, UsageError
from taxon.publish.dataset import DATASET_DIR
from taxon.publish.verify import sums_digest

HUB_PREFIX = "hf://"
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")


def hub_repo(dest: str) -> str | None:
    """'ORG/NAME' of an hf:// destination; None for a folder path."""
    if not str(dest).startswith(HUB_PREFIX):
        return None
    repo_id = str(dest)[len(HUB_PREFIX) :].strip("/")
    if not _REPO_ID.match(repo_id):
        raise UsageError(f"bad hub destination '{dest}'", hint="write hf://ORG/NAME")
    return repo_id


def hub_token(bundle: Path) -> str:
    token = os.environ.get("HF_TOKEN", "").strip()
    if not token:
        raise TaxonError(
            "no Hugging Face token: HF_TOKEN is not set, so the bundle was built and verified but not uploaded",
            where=str(bundle),
            hint="set HF_TOKEN (a token with write access) and rerun, or upload that folder yourself",
        )
    return token


def upload_bundle(bundle: Path, repo_id: str, token: str, private: bool, dataset_id: str | None = None) -> None:
    """Create the model repository when needed and upload the bundle folder as one commit; with
    `dataset_id`, its dataset/ folder to that dataset repository too (the card links it)."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    try:
        if dataset_id:
            api.create_repo(dataset_id, repo_type="dataset", private=private, exist_ok=True)
            api.upload_folder(
                folder_path=str(bundle / DATASET_DIR),
                repo_id=dataset_id,
                repo_type="dataset",
                commit_message=f"taxon: the training set of {repo_id}",
            )
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        api.upload_folder(
            folder_path=str(bundle),
            repo_id=repo_id,
            repo_type="model",
            # the digest to check a download against: taxon verify BUNDLE --sha256sums-digest D
            commit_message=f"taxon: publish {bundle.name} (SHA256SUMS sha256 {sums_digest(bundle)})",
        )
    except Exception as error:  # the hub client raises many types (HTTP, network, auth): report them all plainly
        raise TaxonError(f"upload to the Hugging Face Hub failed: {error}", where=f"{HUB_PREFIX}{repo_id}") from error
