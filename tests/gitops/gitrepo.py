"""Real git repositories in a temp folder, shaped like a taxonomy repo with a PR branch."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# A leaf of the repository's own taxonomy that validates cleanly: the contribution in tests.
VALID_LEAF = "compositional_skills/grounded/extraction/event_dates"

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env={**os.environ, **GIT_ENV}, check=True
    )
    return result.stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


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
