"""The latest release as a baseline (taxon.gitops.releases.fetch_release_bundle): used only as
the release job made it (uploaded by the workflow's token, its recorded digest, attested by
release.yml on its tag from a GitHub-hosted runner); and refs from outside never reach git as
options (`--end-of-options`)."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest
from fake_github import FakeGitHub

from support.taxonomy_repo import commit_all, git, make_repo
from taxon.core.errors import TaxonError
from taxon.gitops import releases

REPO = "octo/taxonomy"
LISTING = f"repos/{REPO}/releases?per_page=30"


def _archive(folder: Path, text: str) -> Path:
    data = text.encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as packed:
        member = tarfile.TarInfo("bundle/README.md")
        member.size = len(data)
        packed.addfile(member, io.BytesIO(data))
    path = folder / "taxon-model-v1.tar.gz"
    path.write_bytes(buffer.getvalue())
    return path


def _published(tmp_path: Path, uploader: str = "github-actions[bot]") -> tuple[FakeGitHub, Path]:
    """A release v1 whose asset is an archive: the state a release job (or someone else) left."""
    import hashlib

    github = FakeGitHub(tmp_path / "github")
    folder = tmp_path / "published"
    folder.mkdir()
    archive = _archive(folder, "the released model\n")
    github.load()
    github.files[f"repos/{REPO}/releases/assets/501"] = str(archive)
    asset = {
        "id": 501,
        "name": archive.name,
        "digest": f"sha256:{hashlib.sha256(archive.read_bytes()).hexdigest()}",
        "uploader": {"login": uploader, "type": "Bot" if uploader.endswith("[bot]") else "User"},
    }
    github.routes[LISTING] = [{"tag_name": "v1", "draft": False, "prerelease": False, "assets": [asset]}]
    github.save()
    return github, archive


@pytest.fixture
def on_path(monkeypatch):
    def use(github: FakeGitHub) -> None:
        monkeypatch.setenv("PATH", f"{github.bin}:{__import__('os').environ['PATH']}")
        for key, value in github.env.items():
            monkeypatch.setenv(key, value)

    return use


def test_a_release_the_workflow_made_and_attested_is_the_baseline(tmp_path, on_path):
    github, archive = _published(tmp_path)
    github.attest(archive, ref="refs/tags/v1")
    on_path(github)
    release = releases.fetch_release_bundle(REPO, tmp_path / "out")
    assert release.tag == "v1" and (release.bundle / "README.md").read_text() == "the released model\n"


@pytest.mark.parametrize(
    "attestation",
    [
        None,  # nothing attested
        {"workflow": ".github/workflows/evil.yml"},  # another workflow of the repository signed it
        {"ref": "refs/heads/main"},  # not the tag's run
        {"hosted": False},  # a self-hosted runner made it
        {"other_file": True},  # the asset was replaced after the release job attested its archive
    ],
    ids=["unattested", "another workflow", "another ref", "self-hosted", "replaced"],
)
def test_an_unattested_or_differently_attested_asset_is_refused(tmp_path, on_path, attestation):
    github, archive = _published(tmp_path)
    if attestation is not None:
        if attestation.get("other_file"):
            original = _archive(tmp_path, "what the release job attested\n")
            github.attest(original, ref="refs/tags/v1")
        else:
            github.attest(
                archive,
                ref=attestation.get("ref", "refs/tags/v1"),
                workflow=attestation.get("workflow", ".github/workflows/release.yml"),
                hosted=attestation.get("hosted", True),
            )
    on_path(github)
    with pytest.raises(TaxonError, match=r"has no attestation by \.github/workflows/release\.yml on refs/tags/v1"):
        releases.fetch_release_bundle(REPO, tmp_path / "out")
    assert not (tmp_path / "out" / "bundle").exists()


def test_an_asset_someone_else_uploaded_is_refused_before_download(tmp_path, on_path):
    github, archive = _published(tmp_path, uploader="mallory")
    github.attest(archive, ref="refs/tags/v1")
    on_path(github)
    with pytest.raises(TaxonError, match="uploaded by 'mallory', not by the release workflow"):
        releases.fetch_release_bundle(REPO, tmp_path / "out")
    assert not any("releases/assets" in " ".join(call["args"]) for call in github.calls())


# ------------------------------------------------------------------ refs from outside are never options


@pytest.fixture
def clone(tmp_path) -> Path:
    repo = make_repo(tmp_path)
    (repo / "README.md").write_text("# a taxonomy, changed\n")
    commit_all(repo, "two")
    return repo


def _taxon(repo: Path, *args: str) -> subprocess.CompletedProcess:
    import sys

    return subprocess.run(
        [sys.executable, "-m", "taxon", *args], cwd=repo, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    "command",
    [
        ("gitops", "export-pr", "--base={option}", "--head", "HEAD", "--out", "out", "--config", "{config}"),
        ("gitops", "export-pr", "--base", "main", "--head={option}", "--out", "out", "--config", "{config}"),
        ("gitops", "classify", "--base={option}", "--head", "HEAD"),
        ("diff", "--base={option}"),
        ("validate", "--changed", "--base={option}"),
    ],
    ids=lambda command: " ".join(command[:3]),
)
def test_a_ref_shaped_like_an_option_writes_nothing(clone, tmp_path, command):
    planted = tmp_path / "planted"
    config = Path(__file__).resolve().parents[2] / "taxon.toml"
    args = [part.format(option=f"--output={planted}", config=config) for part in command]
    result = _taxon(clone, *args)
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert not list(tmp_path.glob("planted*")), "git took the ref for an option and wrote a file"


def test_a_release_tag_shaped_like_an_option_writes_nothing(clone, tmp_path, monkeypatch):
    """The tag comes from the releases API (the gate issue lists the merges since it)."""
    from taxon.commands.gitops import _merged_since

    monkeypatch.chdir(clone)
    planted = tmp_path / "planted"
    with pytest.raises(TaxonError):
        _merged_since(f"--output={planted}")
    assert not list(tmp_path.glob("planted*"))
    git(clone, "tag", "v1", "HEAD~1")
    assert [change.subject for change in _merged_since("v1")] == ["two"]
