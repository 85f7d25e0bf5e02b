"""pre-commit integration: the hook this repository exports (tried with `pre-commit try-repo`,
which pip-installs the package into pre-commit's own environment, as a fork's pre-commit would)
and the local hooks of this repository's own config."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.git import git

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GOOD_LEAF = REPO / "taxonomy" / "foundational_skills" / "reasoning" / "arithmetic" / "odd_or_even"
GOOD = "taxonomy/foundational_skills/odd_or_even/qna.yaml"
BAD = "taxonomy/compositional_skills/unfinished/qna.yaml"


def pre_commit(repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    return subprocess.run([str(BIN / "pre-commit"), *args], cwd=repo, env=env, capture_output=True, text=True)


@pytest.fixture
def fork(tmp_path: Path) -> Path:
    """A taxonomy fork with one good leaf and one leaf missing its task and seeds, staged."""
    root = tmp_path / "fork"
    root.mkdir()
    git(root, "init", "-q")
    shutil.copytree(GOOD_LEAF, root / Path(GOOD).parent)
    bad = root / BAD
    bad.parent.mkdir(parents=True)
    bad.write_text("version: 4\ncreated_by: someone\n")
    (bad.parent / "attribution.txt").write_text((GOOD_LEAF / "attribution.txt").read_text())
    git(root, "add", "--all")
    return root


def test_manifest_and_config_are_valid(tmp_path):
    for command, name in (
        ("validate-manifest", ".pre-commit-hooks.yaml"),
        ("validate-config", ".pre-commit-config.yaml"),
    ):
        result = pre_commit(REPO, tmp_path, command, name)
        assert result.returncode == 0, result.stdout + result.stderr


def test_exported_hook_passes_a_good_file_and_fails_a_bad_one(fork, tmp_path):
    """One try-repo run: it keeps a temporary store of its own, so every run pip-installs the
    package afresh (~10-20 s here); findings are printed per file, so the good file's
    absence from them is its pass."""
    hook = ("try-repo", str(REPO), "taxon-validate")
    result = pre_commit(fork, tmp_path / "home", *hook, "--files", GOOD, BAD)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{BAD}:1:1: error S001" in result.stdout
    assert f"{GOOD}:" not in result.stdout
    assert "2 files checked" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


@pytest.fixture
def clone_with_local_hooks(tmp_path: Path) -> Path:
    """A repository with this config and the project's .venv, main holding the good leaf."""
    root = tmp_path / "clone"
    root.mkdir()
    git(root, "init", "-q")
    shutil.copy(REPO / ".pre-commit-config.yaml", root)
    (root / ".venv").symlink_to(BIN.parent)
    (root / ".gitignore").write_text(".venv\n")
    shutil.copytree(GOOD_LEAF, root / Path(GOOD).parent)
    git(root, "add", "--all")
    git(root, "commit", "-q", "-m", "base")
    git(root, "checkout", "-q", "-b", "topic")
    return root


def test_local_hooks_pass_a_clean_tree(clone_with_local_hooks, tmp_path):
    result = pre_commit(clone_with_local_hooks, tmp_path / "home", "run", "--all-files")
    assert result.returncode == 0, result.stdout + result.stderr


def test_local_hooks_catch_a_bad_leaf_and_trailing_whitespace(clone_with_local_hooks, tmp_path):
    root = clone_with_local_hooks
    (root / BAD).parent.mkdir(parents=True)
    (root / BAD).write_text("version: 4\ncreated_by: someone\n")
    (root / "notes.md").write_text("a line with a trailing space \n")
    git(root, "add", "--all")

    result = pre_commit(root, tmp_path / "home", "run", "--all-files")

    assert result.returncode == 1
    assert f"{BAD}:1:1: error S001" in result.stdout
    assert "notes.md:1:a line with a trailing space" in result.stdout
    assert GOOD not in result.stdout
