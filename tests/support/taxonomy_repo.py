"""Real git repositories in a temp folder, shaped like a taxonomy repo with a PR branch."""

from __future__ import annotations

import shutil
from pathlib import Path

from support.git import GIT_ENV, commit_all, git
from support.paths import REPO

# A leaf of the repository's own taxonomy that validates cleanly: the contribution in tests.
VALID_LEAF = "compositional_skills/grounded/extraction/event_dates"

__all__ = ["GIT_ENV", "REPO", "VALID_LEAF", "add_leaf", "commit_all", "git", "make_repo"]


def make_repo(root: Path) -> Path:
    """A repo on `main` with taxon.toml, a README and one existing leaf; `origin/main` points at it."""
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    shutil.copy(REPO / "taxon.toml", repo / "taxon.toml")
    (repo / "README.md").write_text("# a taxonomy\n")
    add_leaf(repo, "knowledge/existing/leaf")
    commit_all(repo, "main")
    git(repo, "update-ref", "refs/remotes/origin/main", "main")
    return repo


def add_leaf(repo: Path, leaf: str, source: str = VALID_LEAF) -> Path:
    """Copy a valid leaf of the real taxonomy to taxonomy/<leaf>."""
    folder = repo / "taxonomy" / leaf
    shutil.copytree(REPO / "taxonomy" / source, folder)
    return folder
