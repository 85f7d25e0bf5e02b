"""What a trusted job may take from other workflow runs, and taking it with its digest checked.

An artifact is only as trustworthy as the run that wrote it. A run of train.yml started by a
push to main, or by a maintainer's manual run on main or on a release tag, ran this
repository's own reviewed code; anything a pull request can start (pull_request,
pull_request_target, issue_comment, workflow_run) or a fork's code could have written
whatever it liked under the same artifact name. So every run is checked here, field by field
of the API's answer, before any of its artifacts is downloaded; and every download is checked
against the sha256 digest GitHub recorded for it when it was uploaded.
"""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from taxon.core.errors import TaxonError
from taxon.core.github import dig
from taxon.core.store import hash_file
from taxon.gitops.export import safe_relative
from taxon.gitops.gh import GhRunner, download, gh_json, run_gh

TRAIN_WORKFLOW = ".github/workflows/train.yml"
TRUSTED_EVENTS = ("push", "workflow_dispatch")
BUNDLE_ARCHIVE = "taxon-model.tar.gz"


def bundle_artifact(sha: str) -> str:
    """The name train.yml uploads the packed bundle of commit `sha` under."""
    return f"bundle-{sha}"


def generate_cache_artifact(sha: str) -> str:
    """The name train.yml uploads its generation unit cache under."""
    return f"generate-cache-{sha}"


def untrusted_reason(run: dict[str, Any], repository_id: int, refs: set[str]) -> str | None:
    """Why a workflow run's artifacts must not be used by a trusted job; None when they may:
    a successful train.yml run, started by a push or a manual run, on one of `refs` (branch or
    tag names), of this repository's own code."""
    event, ref = run.get("event"), run.get("head_branch")
    if run.get("path") != TRAIN_WORKFLOW:
        return f"a run of {run.get('path')!r}, not of {TRAIN_WORKFLOW}"
    if event not in TRUSTED_EVENTS:
        return f"started by a {event!r} event (only {' and '.join(TRUSTED_EVENTS)} runs are trusted)"
    if ref not in refs:
        return f"ran on {ref!r}, not on {' or '.join(sorted(refs))}"
    if dig(run, "repository", "id") != repository_id or dig(run, "head_repository", "id") != repository_id:
        return "ran another repository's code (a fork)"
    if run.get("conclusion") != "success":
        return f"did not succeed ({run.get('conclusion')})"
    return None


def trusted_runs(
    runs: list[dict[str, Any]], repository_id: int, refs: set[str], commits: list[str]
) -> list[dict[str, Any]]:
    """The trusted runs of `commits` (newest first), newest commit first; of several runs of
    one commit, the latest first."""
    order = {sha: index for index, sha in enumerate(commits)}
    trusted = [
        run for run in runs if run.get("head_sha") in order and untrusted_reason(run, repository_id, refs) is None
    ]
    return sorted(trusted, key=lambda run: (order[run["head_sha"]], -int(run.get("id") or 0)))


def select_artifact(artifacts: list[dict[str, Any]], name: str, run: dict[str, Any]) -> dict[str, Any] | None:
    """The unexpired artifact `name` that `run` itself wrote, with a recorded sha256 digest."""
    for artifact in artifacts:
        if (
            artifact.get("name") == name
            and not artifact.get("expired")
            and dig(artifact, "workflow_run", "id") == run.get("id")
            and str(artifact.get("digest") or "").startswith("sha256:")
        ):
            return artifact
    return None


def train_runs(repo: str, query: dict[str, Any], gh: GhRunner = run_gh) -> list[dict[str, Any]]:
    """One page (the newest 100) of train.yml runs; the API's filters narrow it, the checks above decide."""
    answer = gh_json(gh, f"repos/{repo}/actions/workflows/train.yml/runs?{urlencode({**query, 'per_page': 100})}")
    return [run for run in (answer or {}).get("workflow_runs") or [] if isinstance(run, dict)]


def run_artifact(repo: str, run: dict[str, Any], name: str, gh: GhRunner = run_gh) -> dict[str, Any] | None:
    answer = gh_json(gh, f"repos/{repo}/actions/runs/{run['id']}/artifacts?{urlencode({'name': name})}")
    return select_artifact([a for a in (answer or {}).get("artifacts") or [] if isinstance(a, dict)], name, run)


def check_digest(path: Path, recorded: str, what: str) -> str:
    """The file's "sha256:HEX", which must be the digest recorded for it."""
    digest = f"sha256:{hash_file(path)}"
    if digest != recorded:
        raise TaxonError(
            f"{what} does not match the digest GitHub recorded for it ({recorded}); it is {digest}",
            where=str(path),
            hint="nothing from it was used; a rerun downloads it again",
        )
    return digest


def download_artifact(repo: str, artifact: dict[str, Any], dest: Path) -> Path:
    """The artifact's zip, streamed to `dest` and checked against its recorded digest."""
    path = download(["api", f"repos/{repo}/actions/artifacts/{artifact['id']}/zip"], dest)
    check_digest(path, artifact["digest"], f"artifact {artifact['name']}")
    return path


def zip_members(path: Path) -> list[zipfile.ZipInfo]:
    """The regular files of a zip; a link, an absolute or `..` path refuses the whole archive."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as error:
        raise TaxonError(f"not a zip archive: {error}", where=str(path))
    members = []
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            kind = (info.external_attr >> 16) & 0o170000
            if not safe_relative(info.filename) or kind not in (0, 0o100000):
                raise TaxonError(f"the archive holds {info.filename!r}, which is not a plain file", where=str(path))
            members.append(info)
    return members


def extract_bundle_archive(archive: Path, dest: Path) -> Path:
    """Unpack a packed bundle (a tar.gz of one `bundle/` folder) under `dest`; returns the folder.
    Links, devices and paths outside `bundle/` refuse the archive."""
    dest = Path(dest)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                parts = member.name.split("/")
                if not (member.isfile() or member.isdir()) or parts[0] != "bundle" or not safe_relative(member.name):
                    raise TaxonError(f"the bundle archive holds {member.name!r}", where=str(archive))
            tar.extractall(dest, members=members, filter="data")
    except (OSError, tarfile.TarError) as error:
        raise TaxonError(f"cannot unpack the bundle archive: {error}", where=str(archive))
    if not (dest / "bundle").is_dir():
        raise TaxonError("the bundle archive holds no bundle/ folder", where=str(archive))
    return dest / "bundle"
