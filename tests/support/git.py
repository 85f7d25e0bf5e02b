"""Real git repositories in temp folders: one way for every test to run git."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# A fixed identity and no system or user config, so a developer's git setup changes nothing.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def run_git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    """`git -C repo ARGS`, whatever it exits with (a merge that may conflict)."""
    command = ["git", "-C", str(repo), "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args]
    return subprocess.run(command, capture_output=True, text=True, env={**os.environ, **GIT_ENV})


def git(repo: Path, *args: str) -> str:
    """`git -C repo ARGS`, its stdout stripped; a failure raises with git's stderr."""
    result = run_git(repo, *args)
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
    return result.stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    """Stage everything, commit, and return the new commit's sha."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")
