"""`taxon diff` on real git repositories made in temp folders."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.git import git
from taxon.cli import main
from taxon.core.errors import TaxonError
from taxon.diff import changed_leaves

LEAVES = ("knowledge/towns/alpha", "compositional_skills/style/beta", "foundational_skills/maths/gamma")


def write_leaf(root: Path, leaf: str, text: str = "") -> Path:
    folder = root / "taxonomy" / leaf
    folder.mkdir(parents=True, exist_ok=True)
    # A distinct body per leaf, so git's rename detection pairs the right files.
    (folder / "qna.yaml").write_text(f"version: 4\ncreated_by: {leaf}\n{text}")
    (folder / "attribution.txt").write_text(f"Title of work: {leaf}\nLicense of the work: CC0-1.0\n")
    return folder


def qna(leaf: str) -> Path:
    return Path("taxonomy", leaf, "qna.yaml")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main holds three leaves (one with an in-tree document) and a README; HEAD is a branch."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    for leaf in LEAVES:
        write_leaf(root, leaf)
    (root / "taxonomy" / LEAVES[0] / "document.md").write_text("# Alpha\n\nAlpha is a town.\n")
    (root / "README.md").write_text("readme\n")
    git(root, "add", "--all")
    git(root, "commit", "-q", "-m", "base")
    git(root, "checkout", "-q", "-b", "feature")
    return root


def test_no_changes(repo):
    changes = changed_leaves(repo)
    assert changes.base == "main"
    assert changes.base_commit == git(repo, "rev-parse", "main").strip()
    assert changes.is_empty() and changes.other_paths == [] and changes.to_validate() == []


def test_every_kind_of_change_uncommitted_and_untracked(repo):
    alpha, beta, gamma = LEAVES
    write_leaf(repo, "knowledge/towns/delta")  # untracked new leaf
    (repo / "taxonomy" / alpha / "document.md").write_text("# Alpha\n\nAlpha is a city now.\n")
    git(repo, "mv", f"taxonomy/{beta}", "taxonomy/compositional_skills/style/beta_renamed")
    (repo / "taxonomy" / gamma / "qna.yaml").unlink()
    (repo / "taxonomy" / gamma / "attribution.txt").unlink()
    (repo / "README.md").write_text("changed\n")

    changes = changed_leaves(repo)

    assert changes.added == [qna("knowledge/towns/delta")]
    assert changes.modified == [qna(alpha)]
    assert changes.renamed == [(qna(beta), qna("compositional_skills/style/beta_renamed"))]
    assert changes.deleted == [qna(gamma)]
    assert changes.other_paths == [Path("README.md")]
    assert changes.to_validate() == sorted(
        [qna("knowledge/towns/delta"), qna(alpha), qna("compositional_skills/style/beta_renamed")]
    )


def test_committed_branch_changes_count_and_later_main_commits_do_not(repo):
    write_leaf(repo, LEAVES[1], "task_description: changed\n")
    git(repo, "commit", "-q", "-am", "change beta")
    git(repo, "checkout", "-q", "main")
    write_leaf(repo, "knowledge/towns/on_main_only")
    git(repo, "add", "--all")
    git(repo, "commit", "-q", "-m", "main moves on")
    git(repo, "checkout", "-q", "feature")

    changes = changed_leaves(repo)

    assert changes.modified == [qna(LEAVES[1])]
    assert changes.added == []


def test_a_change_to_attribution_alone_modifies_the_leaf(repo):
    (repo / "taxonomy" / LEAVES[2] / "attribution.txt").write_text("License of the work: MIT\n")
    assert changed_leaves(repo).modified == [qna(LEAVES[2])]


def test_deleting_a_document_modifies_its_leaf_and_staged_changes_count(repo):
    git(repo, "rm", "-q", f"taxonomy/{LEAVES[0]}/document.md")
    assert changed_leaves(repo).modified == [qna(LEAVES[0])]


def test_folder_moved_without_git_mv_is_a_rename(repo):
    shutil.move(repo / "taxonomy" / LEAVES[0], repo / "taxonomy" / "knowledge" / "alpha_town")
    changes = changed_leaves(repo)
    assert changes.renamed == [(qna(LEAVES[0]), qna("knowledge/alpha_town"))]
    assert changes.added == changes.deleted == changes.modified == []


def test_a_renamed_and_edited_leaf_is_still_a_rename(repo):
    git(repo, "mv", f"taxonomy/{LEAVES[1]}", "taxonomy/compositional_skills/style/beta_v2")
    with open(repo / "taxonomy/compositional_skills/style/beta_v2/qna.yaml", "a") as handle:
        handle.write("task_description: one more line\n")
    changes = changed_leaves(repo)
    assert changes.renamed == [(qna(LEAVES[1]), qna("compositional_skills/style/beta_v2"))]
    assert changes.to_validate() == [qna("compositional_skills/style/beta_v2")]


def test_a_leaf_moved_out_of_the_taxonomy_is_deleted(repo):
    shutil.move(repo / "taxonomy" / LEAVES[2], repo / "attic")
    changes = changed_leaves(repo)
    assert changes.deleted == [qna(LEAVES[2])]
    assert changes.other_paths == [Path("attic/attribution.txt"), Path("attic/qna.yaml")]


def test_moving_a_document_between_leaves_modifies_both(repo):
    alpha, beta = LEAVES[0], LEAVES[1]
    shutil.move(repo / "taxonomy" / alpha / "document.md", repo / "taxonomy" / beta / "document.md")
    assert changed_leaves(repo).modified == sorted([qna(alpha), qna(beta)])


def test_a_nested_leaf_owns_its_own_files(repo):
    write_leaf(repo, f"{LEAVES[0]}/nested")
    git(repo, "add", "--all")
    git(repo, "commit", "-q", "-m", "nested leaf")
    git(repo, "branch", "-f", "main")
    (repo / "taxonomy" / LEAVES[0] / "nested" / "attribution.txt").write_text("License of the work: MIT\n")
    assert changed_leaves(repo).modified == [qna(f"{LEAVES[0]}/nested")]


def test_files_in_a_deleted_leaf_do_not_make_it_modified(repo):
    (repo / "taxonomy" / LEAVES[0] / "qna.yaml").unlink()
    (repo / "taxonomy" / LEAVES[0] / "document.md").write_text("left behind, edited\n")
    changes = changed_leaves(repo)
    assert changes.deleted == [qna(LEAVES[0])]
    assert changes.modified == [] and changes.to_validate() == []


def test_loose_files_and_ignored_files(repo):
    (repo / ".gitignore").write_text("*.log\n")
    (repo / "taxonomy" / "knowledge" / "NOTES.md").write_text("not in a leaf\n")
    (repo / "taxonomy" / LEAVES[0] / "debug.log").write_text("ignored\n")
    changes = changed_leaves(repo)
    assert changes.is_empty()
    assert changes.other_paths == [Path(".gitignore"), Path("taxonomy/knowledge/NOTES.md")]


def test_real_index_is_left_untouched(repo):
    write_leaf(repo, "knowledge/towns/untracked")
    before = (repo / ".git" / "index").read_bytes()
    changed_leaves(repo)
    assert (repo / ".git" / "index").read_bytes() == before
    assert "taxonomy/knowledge/towns/untracked" in git(repo, "status", "--porcelain", "--untracked-files=all")
    assert "A " not in git(repo, "status", "--porcelain")


def test_origin_main_is_the_default_base_in_a_clone(repo, tmp_path):
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--branch", "main", str(repo), str(clone))
    git(clone, "checkout", "-q", "-b", "topic")
    # local main moves ahead; the comparison must still be against origin/main
    write_leaf(clone, "knowledge/towns/local_main_leaf")
    git(clone, "add", "--all")
    git(clone, "commit", "-q", "-m", "on topic")
    git(clone, "branch", "-f", "main", "topic")

    changes = changed_leaves(clone)
    assert changes.base == "origin/main"
    assert changes.added == [qna("knowledge/towns/local_main_leaf")]
    assert changed_leaves(clone, base="main").added == []


def test_unknown_base_and_missing_repository_are_clear_errors(repo, tmp_path):
    with pytest.raises(TaxonError) as unknown:
        changed_leaves(repo, base="no-such-branch")
    assert "no-such-branch" in str(unknown.value) and "git fetch origin main" in unknown.value.hint
    git(repo, "branch", "-q", "-m", "main", "trunk")
    with pytest.raises(TaxonError, match="neither origin/main nor main"):
        changed_leaves(repo)
    outside = tmp_path / "not_a_repo"
    outside.mkdir()
    with pytest.raises(TaxonError, match="not inside a git repository"):
        changed_leaves(outside)


def test_a_shallow_clone_gets_an_unshallow_hint(repo, tmp_path):
    write_leaf(repo, "knowledge/towns/later")
    git(repo, "add", "--all")
    git(repo, "commit", "-q", "-m", "later on feature")
    git(repo, "checkout", "-q", "main")
    write_leaf(repo, "knowledge/towns/later_on_main")
    git(repo, "add", "--all")
    git(repo, "commit", "-q", "-m", "later on main")
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", "--no-single-branch", f"file://{repo}", str(shallow))
    git(shallow, "checkout", "-q", "feature")
    with pytest.raises(TaxonError, match="share no history") as error:
        changed_leaves(shallow)
    assert "--unshallow" in error.value.hint


def test_cli_json_and_text(repo, capsys):
    write_leaf(repo, "knowledge/towns/delta")
    assert main(["diff", "--repo", str(repo), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["added"] == ["taxonomy/knowledge/towns/delta/qna.yaml"]
    assert set(report) == {"base", "base_commit", "added", "modified", "renamed", "deleted", "other_paths"}

    assert main(["diff", "--repo", str(repo)]) == 0
    assert "added     taxonomy/knowledge/towns/delta/qna.yaml" in capsys.readouterr().out


def test_cli_error_has_no_traceback(tmp_path):
    command = [sys.executable, "-m", "taxon", "diff", "--base", "nope"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 1
    assert "not inside a git repository" in result.stderr and "Traceback" not in result.stderr
