"""Bundles that become releases, and releases that become baselines.

Build once, promote: a `v*` tag does not train. The release takes the bundle that the train
run on that very commit built and gated (found by head SHA among trusted runs, its archive
checked against the digest GitHub recorded), so the released bytes are the ones evaluated.
The train run in turn fetches the latest release's bundle as a second baseline (the model
users have now), trusted only as the release job made it: uploaded by the workflow's token,
checked against the digest GitHub recorded for the asset, and attested by `release.yml` on
that tag, from a GitHub-hosted runner (`gh attestation verify`). An asset anyone else
uploaded, or replaced, is refused.
"""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taxon.core.errors import TaxonError
from taxon.core.github import dig
from taxon.core.store import hash_file
from taxon.gitops import trusted
from taxon.gitops.gh import GhRunner, download, gh_json, run_gh
from taxon.qna.layout import SUMS_NAME, read_manifest

MAIN = "main"
RELEASE_WORKFLOW = ".github/workflows/release.yml"
RELEASE_UPLOADER = "github-actions[bot]"  # the release job uploads with the workflow's token


def release_archive_name(tag: str) -> str:
    """The bundle's asset name on the GitHub Release of `tag`."""
    return f"taxon-model-{tag}.tar.gz"


def release_sums_name(tag: str) -> str:
    """The asset of `tag`'s release holding the bundle's SHA256SUMS: its digest, recorded by
    GitHub and attested, is what `taxon verify --sha256sums-digest` checks a download against
    (a Hugging Face download has the files, never the archive)."""
    return f"taxon-model-{tag}.SHA256SUMS"


def how_to_build(sha: str, tag: str) -> str:
    return (
        f"run the train workflow on that commit: gh workflow run train.yml --ref {tag} "
        f"(or Actions > train on merge > Run workflow, on {tag}); once its gate passes, re-run this release job"
    )


@dataclass
class Build:
    run: dict[str, Any]  # the train run that built and gated the bundle
    archive: Path  # the packed bundle, renamed for the release
    bundle: Path  # the bundle folder unpacked from exactly that archive
    digest: str  # "sha256:HEX" of the archive: the attestation's subject
    sums: Path  # a copy of the bundle's SHA256SUMS, named for the release: the second subject
    sums_digest: str  # "sha256:HEX" of it: the digest `taxon verify --sha256sums-digest` takes
    gate_passed: bool | None


def find_build(repo: str, repository_id: int, sha: str, tag: str, out_dir: Path, gh: GhRunner = run_gh) -> Build:
    """The bundle the trusted train run of commit `sha` built, unpacked under `out_dir`."""
    runs = trusted.train_runs(repo, {"head_sha": sha, "status": "success"}, gh)
    found = trusted.trusted_runs(runs, repository_id, {MAIN, tag}, [sha])
    if not found:
        others = [
            f"run {run.get('id')}: {trusted.untrusted_reason(run, repository_id, {MAIN, tag})}"
            for run in runs
            if run.get("head_sha") == sha
        ]
        raise TaxonError(
            f"no successful train run on main or {tag} built commit {sha[:12]}, so there is no gated bundle to release"
            + (f" ({'; '.join(others)})" if others else ""),
            hint=how_to_build(sha, tag),
        )
    run = found[0]
    artifact = trusted.run_artifact(repo, run, trusted.bundle_artifact(sha), gh)
    if artifact is None:
        raise TaxonError(
            f"the train run {run.get('html_url') or run.get('id')} has no bundle artifact "
            f"{trusted.bundle_artifact(sha)} (expired, or the run published nothing)",
            hint=how_to_build(sha, tag),
        )
    out_dir = Path(out_dir)
    packed = trusted.download_artifact(repo, artifact, out_dir / f"{artifact['name']}.zip")
    members = trusted.zip_members(packed)
    if [info.filename for info in members] != [trusted.BUNDLE_ARCHIVE]:
        raise TaxonError(
            f"artifact {artifact['name']} holds {[info.filename for info in members]}, not {trusted.BUNDLE_ARCHIVE}",
            where=str(packed),
        )
    archive = out_dir / release_archive_name(tag)
    with zipfile.ZipFile(packed) as opened, opened.open(members[0]) as source, open(archive, "wb") as target:
        while chunk := source.read(1 << 20):
            target.write(chunk)
    packed.unlink()
    bundle = trusted.extract_bundle_archive(archive, out_dir / "unpacked")
    sums = bundle / SUMS_NAME
    if sums.is_symlink() or not sums.is_file():
        raise TaxonError(f"the bundle of {artifact['name']} has no {SUMS_NAME}", where=str(bundle))
    published = out_dir / release_sums_name(tag)
    shutil.copyfile(sums, published)
    manifest = read_manifest(bundle) or {}
    return Build(
        run,
        archive,
        bundle,
        f"sha256:{hash_file(archive)}",
        published,
        f"sha256:{hash_file(published)}",
        (manifest.get("eval") or {}).get("gate_passed"),
    )


@dataclass
class Release:
    tag: str
    bundle: Path
    digest: str


def latest_release(repo: str, gh: GhRunner = run_gh) -> dict[str, Any] | None:
    """The newest published release (no draft, no pre-release), None before the first."""
    releases = gh_json(gh, f"repos/{repo}/releases?per_page=30") or []
    published = [r for r in releases if isinstance(r, dict) and not r.get("draft") and not r.get("prerelease")]
    return published[0] if published else None


def fetch_release_bundle(repo: str, out_dir: Path, gh: GhRunner = run_gh) -> Release | None:
    """The latest release's bundle, its asset checked against the digest GitHub recorded, and
    unpacked under `out_dir`; None when nothing was released yet."""
    release = latest_release(repo, gh)
    if release is None:
        return None
    tag = str(release.get("tag_name"))
    name = release_archive_name(tag)
    asset = next((a for a in release.get("assets") or [] if isinstance(a, dict) and a.get("name") == name), None)
    if asset is None or not str(asset.get("digest") or "").startswith("sha256:"):
        raise TaxonError(
            f"release {tag} has no {name} asset with a recorded digest",
            hint="attach the bundle with the release workflow, or mark that release a pre-release",
        )
    uploader = dig(asset, "uploader", "login")
    if uploader != RELEASE_UPLOADER:
        raise TaxonError(
            f"release {tag}'s {name} was uploaded by {uploader!r}, not by the release workflow: it is not used",
            hint="re-run the release workflow on the tag, or mark that release a pre-release",
        )
    archive = download(
        ["api", f"repos/{repo}/releases/assets/{asset['id']}", "-H", "Accept: application/octet-stream"],
        Path(out_dir) / name,
    )
    digest = trusted.check_digest(archive, asset["digest"], f"release asset {name}")
    check_attestation(archive, repo, tag, gh)
    return Release(tag, trusted.extract_bundle_archive(archive, Path(out_dir)), digest)


def check_attestation(archive: Path, repo: str, tag: str, gh: GhRunner = run_gh) -> None:
    """TaxonError unless the archive is attested by this repository's release workflow, run on
    the tag, on a GitHub-hosted runner (Sigstore, verified by `gh attestation verify`)."""
    args = [
        "attestation",
        "verify",
        str(archive),
        "--repo",
        repo,
        "--signer-workflow",
        f"{repo}/{RELEASE_WORKFLOW}",
        "--source-ref",
        f"refs/tags/{tag}",
        "--deny-self-hosted-runners",
        "--format",
        "json",
    ]
    try:
        gh(args, None)
    except TaxonError as failure:
        raise TaxonError(
            f"release {tag}'s bundle has no attestation by {RELEASE_WORKFLOW} on refs/tags/{tag}: it is not used "
            f"({failure.message})",
            hint="re-run the release workflow on the tag, or mark that release a pre-release",
        ) from None
