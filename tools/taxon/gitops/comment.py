"""The sticky pull-request comment: found by marker and author, created or edited in place."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

from taxon.core.errors import TaxonError
from taxon.core.github import COMMENT_AUTHOR, COMMENT_MARKER, dig


def find_sticky_comment(comments: list[dict], marker: str = COMMENT_MARKER, author: str = COMMENT_AUTHOR) -> int | None:
    """The id of our own earlier comment: it holds the marker AND was written by the bot, so a
    comment anyone else writes with the marker in it is never edited."""
    ours = [
        c["id"]
        for c in comments
        if marker in (c.get("body") or "") and dig(c, "user", "login") == author and dig(c, "user", "type") == "Bot"
    ]
    return ours[-1] if ours else None


GhRunner = Callable[[list[str], bytes | None], bytes]


def run_gh(args: list[str], input_bytes: bytes | None = None) -> bytes:
    try:
        result = subprocess.run(["gh", *args], input=input_bytes, capture_output=True, check=False)
    except FileNotFoundError:
        raise TaxonError(
            "the GitHub CLI (gh) is not installed", hint="GitHub-hosted runners have it; else see cli.github.com"
        )
    if result.returncode != 0:
        raise TaxonError(f"gh {' '.join(args[:3])} failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def post_sticky_comment(repo: str, pr_number: int, body: str, gh: GhRunner = run_gh) -> str:
    """Create the sticky comment, or update it in place; returns "created" or "updated"."""
    listing = gh(
        [
            "api",
            "--paginate",
            f"repos/{repo}/issues/{pr_number}/comments",
            "--jq",
            ".[] | {id, body, user: {login: .user.login, type: .user.type}}",
        ],
        None,
    )
    comments = [json.loads(line) for line in listing.decode("utf-8").splitlines() if line.strip()]
    payload = json.dumps({"body": body}).encode("utf-8")
    existing = find_sticky_comment(comments)
    if existing is None:
        gh(["api", "--method", "POST", f"repos/{repo}/issues/{pr_number}/comments", "--input", "-"], payload)
        return "created"
    gh(["api", "--method", "PATCH", f"repos/{repo}/issues/comments/{existing}", "--input", "-"], payload)
    return "updated"
