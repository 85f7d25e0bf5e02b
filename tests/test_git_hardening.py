"""A contribution that shapes taxonomy/ like a git repository (HEAD, objects/, refs/, a config
whose core.fsmonitor is a command) never gets git to run that command: every git call of the
package goes through taxon.core.git, on the clone found by its `.git`. Real repositories,
real git and taxon processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.taxonomy_repo import add_leaf, commit_all, git, make_repo
from taxon.core.errors import TaxonError
from taxon.core.git import find_repository, hardened_env
from taxon.diff import changed_leaves
from taxon.publish.manifest import taxonomy_commit
from taxon.qna.taxonomy import load_leaves

FAKE_HEAD = "0123456789abcdef0123456789abcdef01234567"


def plant_fake_repository(taxonomy: Path, marker: Path) -> None:
    """The files of the attack, as a contribution adds them."""
    (taxonomy / "HEAD").write_text(FAKE_HEAD + "\n")
    for folder in ("objects", "refs"):
        (taxonomy / folder).mkdir(exist_ok=True)
        (taxonomy / folder / "README").write_text("nothing to see\n")
    (taxonomy / "config").write_text(
        f'[core]\n\tbare = false\n\tworktree = ..\n\tfsmonitor = "touch {marker}"\n\trepositoryformatversion = 0\n'
    )


@pytest.fixture
def attacked(tmp_path: Path) -> tuple[Path, Path, str]:
    """(repo, marker, head): a PR branch adding a valid leaf and the fake repository files."""
    repo = make_repo(tmp_path)
    git(repo, "checkout", "-q", "-b", "contribution")
    add_leaf(repo, "compositional_skills/grounded/new_dates")
    marker = tmp_path / "fsmonitor-ran"
    plant_fake_repository(repo / "taxonomy", marker)
    head = commit_all(repo, "contribution")
    return repo, marker, head


def taxon(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "taxon", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


def test_git_itself_would_run_the_command(attacked):
    """The premise: plain git discovers taxonomy/ as a repository and runs the fsmonitor."""
    repo, marker, _ = attacked
    subprocess.run(["git", "status", "--porcelain"], cwd=repo / "taxonomy" / "knowledge", capture_output=True)
    assert marker.exists()


def test_manifest_provenance_is_the_real_head(attacked):
    repo, marker, head = attacked
    leaves = load_leaves(repo / "taxonomy")
    assert os.path.commonpath([str(leaf.folder) for leaf in leaves]) == str(repo / "taxonomy")
    assert taxonomy_commit(leaves, "taxonomy") == {"commit": head, "dirty": False}
    assert not marker.exists()


def test_diff_from_inside_the_taxonomy(attacked):
    repo, marker, _ = attacked
    changes = changed_leaves(repo / "taxonomy" / "knowledge")
    assert changes.repo_root == repo
    assert [path.as_posix() for path in changes.added] == ["taxonomy/compositional_skills/grounded/new_dates/qna.yaml"]
    result = taxon("diff", "--repo", "taxonomy/knowledge", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert not marker.exists()


def test_validate_changed_classify_and_export(attacked, tmp_path):
    repo, marker, head = attacked
    inside = repo / "taxonomy" / "knowledge"
    for args in (
        ("validate", "--changed"),
        ("gitops", "classify", "--base", "origin/main"),
        ("gitops", "export-pr", "--base", "origin/main", "--head", head, "--out", str(tmp_path / "out")),
    ):
        for cwd in (repo, inside):
            result = taxon(*args, cwd=cwd)
            assert "Traceback" not in result.stderr, result.stderr
            assert not marker.exists(), args
    assert (tmp_path / "out" / "taxonomy" / "compositional_skills" / "grounded" / "new_dates" / "qna.yaml").is_file()


def test_the_callers_git_settings_never_reach_git(attacked, tmp_path, monkeypatch):
    """GIT_DIR, GIT_CONFIG_PARAMETERS (what `git -c` passes on) and a global config are the
    caller's: none of them is read."""
    repo, marker, head = attacked
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(f'[core]\n\tfsmonitor = "touch {marker}"\n')
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", f"'core.fsmonitor'='touch {marker}'")
    env = hardened_env()
    assert "GIT_DIR" not in env and "GIT_CONFIG_PARAMETERS" not in env and env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert taxonomy_commit(load_leaves(repo / "taxonomy"), "taxonomy") == {"commit": head, "dirty": False}
    assert changed_leaves(repo).repo_root == repo
    assert not marker.exists()


def test_only_a_dot_git_makes_a_repository(attacked):
    repo, _, _ = attacked
    assert find_repository(repo / "taxonomy" / "knowledge").root == repo
    assert find_repository(repo.parent) is None


def test_ci_provenance_is_github_sha_checked_against_head(attacked, monkeypatch):
    repo, marker, head = attacked
    leaves = load_leaves(repo / "taxonomy")
    monkeypatch.setenv("GITHUB_SHA", head)
    assert taxonomy_commit(leaves, "taxonomy")["commit"] == head
    monkeypatch.setenv("GITHUB_SHA", git(repo, "rev-parse", "main"))
    with pytest.raises(TaxonError, match="GITHUB_SHA is .* but the checkout's HEAD is " + head):
        taxonomy_commit(leaves, "taxonomy")
    assert not marker.exists()


ATTACK_FILES = ("taxonomy/HEAD", "taxonomy/config", "taxonomy/objects/README", "taxonomy/refs/README")


def test_validate_refuses_the_fake_repository_files(attacked):
    """Whole tree and --changed: each file of the attack is a T003 error naming its path."""
    repo, marker, _ = attacked
    for args in (("validate", "--format", "json"), ("validate", "--changed", "--format", "json")):
        result = taxon(*args, cwd=repo)
        assert result.returncode == 1, result.stdout + result.stderr
        report = json.loads(result.stdout)
        flagged = {file["path"] for file in report["tree"] for f in file["findings"] if f["rule"] == "T003"}
        assert not any(f["rule"] == "T003" for file in report["files"] for f in file["findings"]), args
        assert flagged == set(ATTACK_FILES), args
    assert not marker.exists()


def test_classify_counts_the_fake_repository_files_as_code(attacked, tmp_path):
    repo, marker, _ = attacked
    outputs = tmp_path / "outputs"
    result = taxon("gitops", "classify", "--base", "origin/main", cwd=repo, env={"GITHUB_OUTPUT": str(outputs)})
    assert result.returncode == 1 and "pull request kind: mixed" in result.stdout
    git(repo, "rm", "-q", "-r", "taxonomy/compositional_skills/grounded/new_dates")
    commit_all(repo, "only the attack left")
    result = taxon("gitops", "classify", "--base", "origin/main", cwd=repo, env={"GITHUB_OUTPUT": str(outputs)})
    assert result.returncode == 0 and "pull request kind: code (0 taxonomy, 4 other files)" in result.stdout
    assert not marker.exists()
