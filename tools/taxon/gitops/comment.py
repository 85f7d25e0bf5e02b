"""Our own marked posts, found by marker and author and created or edited in place: the sticky
pull-request comment of the samples job, and the one issue of a failed gate on main."""

from __future__ import annotations

import json
from typing import Any

from taxon.core.github import COMMENT_AUTHOR, COMMENT_MARKER, dig
from taxon.gitops.gh import GhRunner, run_gh

GATE_MARKER = "<!-- taxon-gate -->"


def find_sticky_comment(
    comments: list[dict[str, Any]], marker: str = COMMENT_MARKER, author: str = COMMENT_AUTHOR
) -> int | None:
    """The id of our own earlier post: it holds the marker AND was written by the bot, so a
    post anyone else writes with the marker in it is never edited."""
    ours = [
        c["id"]
        for c in comments
        if marker in (c.get("body") or "") and dig(c, "user", "login") == author and dig(c, "user", "type") == "Bot"
    ]
    return ours[-1] if ours else None


def _find_marked(gh: GhRunner, listing: str, id_field: str, marker: str) -> int | None:
    jq = f".[] | select(.pull_request == null) | {{id: .{id_field}, body, user: {{login: .user.login, type: .user.type}}}}"
    answer = gh(["api", "--paginate", listing, "--jq", jq], None)
    return find_sticky_comment(
        [json.loads(line) for line in answer.decode("utf-8").splitlines() if line.strip()], marker
    )


def _post_marked(
    gh: GhRunner, listing: str, id_field: str, create: str, edit: str, payload: dict[str, Any], marker: str
) -> str:
    """Edit our marked post among those `listing` answers (PATCH `edit`/ID), or create one
    (POST `create`); returns "created" or "updated"."""
    body = json.dumps(payload).encode("utf-8")
    existing = _find_marked(gh, listing, id_field, marker)
    if existing is None:
        gh(["api", "--method", "POST", create, "--input", "-"], body)
        return "created"
    gh(["api", "--method", "PATCH", f"{edit}/{existing}", "--input", "-"], body)
    return "updated"


def post_sticky_comment(repo: str, pr_number: int, body: str, gh: GhRunner = run_gh) -> str:
    """Create the sticky comment, or update it in place; returns "created" or "updated"."""
    return _post_marked(
        gh,
        f"repos/{repo}/issues/{pr_number}/comments",
        "id",
        f"repos/{repo}/issues/{pr_number}/comments",
        f"repos/{repo}/issues/comments",
        {"body": body},
        COMMENT_MARKER,
    )


def _open_issues(repo: str) -> str:
    return f"repos/{repo}/issues?state=open&per_page=100"


def post_gate_issue(repo: str, title: str, body: str, gh: GhRunner = run_gh) -> str:
    """Open the failed-gate issue, or update the open one in place; returns "created" or "updated"."""
    return _post_marked(
        gh,
        _open_issues(repo),
        "number",
        f"repos/{repo}/issues",
        f"repos/{repo}/issues",
        {"title": title, "body": body},
        GATE_MARKER,
    )


def close_gate_issue(repo: str, note: str, gh: GhRunner = run_gh) -> int | None:
    """Close the open failed-gate issue, if there is one, with a comment; returns its number."""
    number = _find_marked(gh, _open_issues(repo), "number", GATE_MARKER)
    if number is not None:
        gh(
            ["api", "--method", "POST", f"repos/{repo}/issues/{number}/comments", "--input", "-"],
            json.dumps({"body": note}).encode(),
        )
        payload = json.dumps({"state": "closed", "state_reason": "completed"}).encode()
        gh(["api", "--method", "PATCH", f"repos/{repo}/issues/{number}", "--input", "-"], payload)
    return number
