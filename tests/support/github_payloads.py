"""What GitHub's REST API answers and what it sends a workflow, as the stand-ins of the tests
(gitops/fake_github.py) and of bench/workflows.py serve them: a workflow run, a pull request, a
collaborator's permission, a pull request comment's event. Keyword fields override."""

from __future__ import annotations

from typing import Any

TRAIN_WORKFLOW = ".github/workflows/train.yml"


def workflow_run(run_id: int, sha: str, repository: str, repository_id: int, /, **fields: Any) -> dict:
    """A finished train.yml run on main of this repository, started by a push, that succeeded."""
    return {
        "id": run_id,
        "path": TRAIN_WORKFLOW,
        "event": "push",
        "head_branch": "main",
        "head_sha": sha,
        "conclusion": "success",
        "repository": {"id": repository_id},
        "head_repository": {"id": repository_id},
        "html_url": f"https://github.com/{repository}/actions/runs/{run_id}",
        **fields,
    }


def pull_request(number: int, head: str, ref: str, repository_id: int, /, **fields: Any) -> dict:
    """An open pull request of `contributor` from branch `ref` (at `head`) of this repository into main."""
    return {
        "number": number,
        "state": "open",
        "user": {"login": "contributor"},
        "head": {"sha": head, "ref": ref, "repo": {"id": repository_id}},
        "base": {"ref": "main"},
        **fields,
    }


def collaborator(login: str, write: bool = True) -> dict:
    """The collaborator-permission answer: a maintainer's (write), or a reader's."""
    if write:
        return {"permission": "write", "role_name": "maintain", "user": {"login": login}}
    return {"permission": "read", "role_name": "read", "user": {"login": login}}


def comment_event(number: int, body: str, sender: str, repository: str, repository_id: int) -> dict:
    """The issue_comment event of a member's new comment on pull request `number`."""
    return {
        "action": "created",
        "issue": {
            "number": number,
            "pull_request": {"url": f"https://api.github.com/repos/{repository}/pulls/{number}"},
        },
        "comment": {"body": body, "author_association": "MEMBER"},
        "sender": {"login": sender},
        "repository": {"full_name": repository, "id": repository_id, "default_branch": "main"},
    }
