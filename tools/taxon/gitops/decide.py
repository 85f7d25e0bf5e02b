"""Decisions through the pull request: a maintainer's `/taxon keep|drop|fix` comment applied as
a commit to the pull request's branch, and the check that every decision a pull request adds,
changes or removes was made by a maintainer.

A comment's commands are matched against fixed forms (taxon.gitops.authorize); the samples
they name are looked up in the dataset the samples job uploaded for the pull request's head
(an artifact of a run of main's samples.yml, its digest checked), so an id that names no
sample of this head is refused, never recorded. The commit is built with git's plumbing from
the head's tree and the decision files alone: nothing of the pull request is checked out, and
nothing of the comment is run.

Who decided is only as good as the evidence: a decision file's `by` is text anyone can write.
So a decision changed by a pull request counts only when its maintainer (write access now)
is the pull request's author, or wrote the very command on this pull request (GitHub
authenticates comments); a removed decision only in a maintainer's own pull request.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlencode

from taxon.core.errors import TaxonError, UsageError
from taxon.core.git import GitFailed, Repository, find_repository, run_git
from taxon.core.github import dig
from taxon.core.markdown import code_span, table_code
from taxon.gitops.authorize import (
    DECISION_COMMANDS,
    CommentCommand,
    has_write_access,
    parse_comment_commands,
)
from taxon.gitops.gh import GhRunner, download, gh_json, run_gh
from taxon.gitops.trusted import check_digest, zip_members
from taxon.qna.decisions import (
    FIX,
    LOGIN,
    Decision,
    decision_for,
    find_samples,
    parse_decision,
    render_decision,
    write_decision,
)
from taxon.qna.layout import DECISION_SUFFIX
from taxon.qna.loader import parse_text

SAMPLES_WORKFLOW = ".github/workflows/samples.yml"
SAMPLES_EVENTS = ("pull_request_target", "issue_comment")  # runs of main's samples.yml, maintainer-gated
BOT = ("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com")
REPLY_MARKER = "<!-- taxon-decisions -->"
STATUS_CONTEXT = "taxon/decisions"
MAX_LOGINS = 20  # maintainers one pull request's decisions may name: each costs an API call
_BRANCH = re.compile(r"(?!-)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]{1,200}(?<![./])")


def samples_artifact(pr_number: int, head_sha: str) -> str:
    """The name samples.yml uploads a pull request head's dataset and review page under."""
    return f"samples-pr{pr_number}-{head_sha}"


@dataclass(frozen=True)
class DecisionRequest:
    pr_number: int
    head_sha: str
    head_ref: str  # the pull request's branch, in this repository
    requested_by: str
    commands: tuple[CommentCommand, ...]


def authorize_decisions(
    event_name: str, event: dict[str, Any], permission: dict[str, Any], pull: dict[str, Any], repository_id: int
) -> DecisionRequest:
    """Whether this event is a maintainer's decision comment on an open pull request whose
    branch is in this repository; TaxonError (or UsageError for a bad command) saying why not."""
    if event_name != "issue_comment" or event.get("action") != "created":
        raise TaxonError(f"decisions come from new pull request comments, not '{event_name}' events")
    if not isinstance(dig(event, "issue", "pull_request"), dict):
        raise TaxonError("the comment is not on a pull request")
    commands = tuple(
        c for c in parse_comment_commands(dig(event, "comment", "body") or "") if c.name in DECISION_COMMANDS
    )
    if not commands:
        raise TaxonError("the comment holds no /taxon keep, drop or fix command")
    sender = dig(event, "sender", "login") or ""
    permission_user = dig(permission, "user", "login")
    if permission_user is not None and permission_user != sender:
        raise TaxonError(f"the permission answer is for '{permission_user}', not for '{sender}'")
    if not has_write_access(permission) or not LOGIN.fullmatch(sender):
        raise TaxonError(f"'{sender}' has no write access to this repository", hint="only maintainers decide")
    number = dig(event, "issue", "number")
    if not isinstance(number, int) or pull.get("number") != number:
        raise TaxonError("the pull request answer does not match the event")
    if pull.get("state") != "open":
        raise TaxonError(f"pull request #{number} is not open")
    if dig(pull, "head", "repo", "id") != repository_id:
        raise TaxonError(
            "the pull request's branch is in a fork, which this workflow's token cannot push to",
            hint="record the decisions with `taxon review decide` (or the review page's patch) in a pull request "
            "of your own, or push them to the contributor's branch if it allows edits by maintainers",
        )
    head, ref = (dig(pull, "head", "sha") or "").lower(), dig(pull, "head", "ref") or ""
    if not re.fullmatch(r"[0-9a-f]{40}", head) or not _BRANCH.fullmatch(ref):
        raise TaxonError("the pull request's head is not a branch this workflow writes to")
    return DecisionRequest(number, head, ref, sender, commands)


# ------------------------------------------------------------------ the samples decided on


def _samples_run_problem(run: dict[str, Any], repository_id: int) -> str | None:
    if run.get("path") != SAMPLES_WORKFLOW:
        return f"a run of {run.get('path')!r}, not of {SAMPLES_WORKFLOW}"
    if run.get("event") not in SAMPLES_EVENTS:
        return f"started by a {run.get('event')!r} event"
    if dig(run, "repository", "id") != repository_id or dig(run, "head_repository", "id") != repository_id:
        return "another repository's run"
    return None


def samples_heads(repo_root: Path, head: str, decisions_dir: str, limit: int = 50) -> list[str]:
    """The head, then each commit before it (first parents) as long as the commits between
    changed only decisions: their samples are the head's, since a decision changes no leaf."""
    repository = _repository(repo_root)
    heads = [head]
    try:
        commits = repository.git("rev-list", "--first-parent", f"--max-count={limit}", head).decode().split()
        for commit, parent in itertools.pairwise(commits):
            changed = repository.git("diff", "--name-only", "-z", parent, commit).decode(errors="replace")
            if any(path and not path.startswith(f"{decisions_dir}/") for path in changed.split("\0")):
                break
            heads.append(parent)
    except GitFailed:
        pass  # the head alone
    return heads


def fetch_samples(
    repo: str, repository_id: int, pr_number: int, heads: list[str], dest: Path, gh: GhRunner = run_gh
) -> Path:
    """The dataset the samples job generated for the newest of `heads` that has one, unpacked
    under `dest`: the newest artifact of that name written by a run of main's samples.yml, its
    digest checked."""
    refused: list[str] = []
    for head_sha in heads:
        dataset = _fetch_samples_of(repo, repository_id, samples_artifact(pr_number, head_sha), dest, gh, refused)
        if dataset is not None:
            return dataset
    raise TaxonError(
        f"no samples were generated for the pull request's head {heads[0][:12]}"
        + (f" (artifacts not used: {'; '.join(refused)})" if refused else ""),
        hint="ask for them first (label generate-samples, or comment /taxon samples), then decide on their ids",
    )


def _fetch_samples_of(
    repo: str, repository_id: int, name: str, dest: Path, gh: GhRunner, refused: list[str]
) -> Path | None:
    answer = gh_json(gh, f"repos/{repo}/actions/artifacts?{urlencode({'name': name, 'per_page': 100})}") or {}
    candidates = [
        artifact
        for artifact in answer.get("artifacts") or []
        if isinstance(artifact, dict)
        and artifact.get("name") == name
        and not artifact.get("expired")
        and str(artifact.get("digest") or "").startswith("sha256:")
    ]
    for artifact in sorted(candidates, key=lambda a: -int(dig(a, "workflow_run", "id") or 0)):
        run = gh_json(gh, f"repos/{repo}/actions/runs/{int(dig(artifact, 'workflow_run', 'id') or 0)}") or {}
        problem = _samples_run_problem(run, repository_id)
        if problem:
            refused.append(problem)
            continue
        archive = download(["api", f"repos/{repo}/actions/artifacts/{int(artifact['id'])}/zip"], dest / "samples.zip")
        check_digest(archive, artifact["digest"], f"artifact {name}")
        members = zip_members(archive)
        with zipfile.ZipFile(archive) as opened:
            opened.extractall(dest / "samples", members=members)
        return dest / "samples" / "dataset"
    return None


def decisions_from(commands: Iterable[CommentCommand], dataset: Path, by: str) -> list[Decision]:
    """A decision per sample id, from the rows of the dataset; an id it does not hold refuses all."""
    commands = list(commands)
    wanted = [sample for command in commands for sample in command.ids]
    found = find_samples(dataset, wanted)
    unknown = [sample for sample in dict.fromkeys(wanted) if sample not in found]
    if unknown:
        raise UsageError(
            f"no sample {', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''} among this head's samples",
            hint="copy the ids from the samples comment or the review page",
        )
    decided = {}
    for command in commands:
        for sample in command.ids:
            text = command.text if command.name == FIX else None
            reason = None if command.name == FIX else command.text
            decided[sample] = decision_for(found[sample], command.name, by, text, reason)
    return list(decided.values())


# ------------------------------------------------------------------ the commit and the push


def _repository(repo_root: Path) -> Repository:
    repository = find_repository(repo_root)
    if repository is None:
        raise TaxonError("not inside a git repository", where=str(repo_root))
    return repository


def commit_decisions(
    repo_root: Path, head_sha: str, decisions: list[Decision], decisions_dir: str, message: str
) -> str:
    """A commit on `head_sha` adding the decision files, built in a temporary index from the
    head's tree: the work tree and the checked-out branch are never touched."""
    repository = _repository(repo_root)
    with tempfile.TemporaryDirectory() as scratch:
        for decision in decisions:  # every file checked as the command line checks it
            write_decision(Path(scratch), decision)
        env = {
            "GIT_INDEX_FILE": str(Path(scratch) / "index"),
            "GIT_AUTHOR_NAME": BOT[0],
            "GIT_AUTHOR_EMAIL": BOT[1],
            "GIT_COMMITTER_NAME": BOT[0],
            "GIT_COMMITTER_EMAIL": BOT[1],
        }
        try:
            repository.git("read-tree", head_sha, env=env)
            for decision in decisions:
                blob = repository.git("hash-object", "-w", "--stdin", input_bytes=render_decision(decision).encode())
                path = f"{decisions_dir}/{decision.leaf}/{decision.sample}{DECISION_SUFFIX}"
                repository.git(
                    "update-index", "--add", "--cacheinfo", f"100644,{blob.decode().strip()},{path}", env=env
                )
            tree = repository.git("write-tree", env=env).decode().strip()
            return repository.git("commit-tree", tree, "-p", head_sha, "-m", message, env=env).decode().strip()
        except GitFailed as failure:
            raise TaxonError(
                f"cannot build the decisions commit: {failure}", hint="fetch the pull request's head first"
            )


def push(repo_root: Path, commit: str, branch: str, token: str | None, remote: str = "origin") -> None:
    """Push `commit` to `branch` of the remote, as a fast-forward only: a branch that moved on
    since refuses it. The token goes in an environment-held header, never on a command line."""
    repository = _repository(repo_root)
    url = repository.git("remote", "get-url", remote).decode().strip()
    protocols = ("https",) if url.startswith("https://") else ("file",)
    env = {}
    if token and url.startswith("https://"):
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env = {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraheader",
            "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}",
        }
    try:
        run_git(
            ["push", "--porcelain", url, f"{commit}:refs/heads/{branch}"],
            git_dir=repository.root / ".git",
            work_tree=repository.root,
            protocols=protocols,
            env=env,
        )
    except GitFailed as failure:
        raise TaxonError(
            f"the push to {branch} was refused ({failure}): the branch moved on since the command",
            hint="look at the new commits, then comment the decisions again",
        )


def render_reply(
    request: DecisionRequest, decisions: list[Decision] | None, commit: str | None, refusal: str | None
) -> str:
    """The reply to a decision comment: what was committed, or why nothing was."""
    who = code_span(request.requested_by) if request.requested_by else "the commenter"
    if refusal is not None:
        return (
            f"{REPLY_MARKER}\n**Decisions not applied** (comment by {who}): {code_span(refusal)}\n\n"
            "Nothing was committed. Commands: `/taxon keep ID`, `/taxon drop ID [reason]`, "
            "`/taxon fix ID ANSWER`, one a line, ids from the samples comment.\n"
        )
    lines = [
        REPLY_MARKER,
        f"**{len(decisions or [])} decisions by {who} committed** to {code_span(request.head_ref)} "
        f"as {code_span((commit or '')[:12])}:",
        "",
        "| Sample | Leaf | Decision | Reason or answer |",
        "|---|---|---|---|",
    ]
    for decision in decisions or []:
        detail = decision.fixed_answer if decision.action == FIX else decision.reason or ""
        lines.append(
            f"| {table_code(decision.sample)} | {table_code(decision.leaf)} | {decision.action} | "
            f"{table_code(detail[:200]) if detail else ''} |"
        )
    lines += ["", "The next `/taxon samples` shows them; merged, they decide what trains."]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ the check on a pull request


@dataclass(frozen=True)
class ChangedDecision:
    path: str
    status: str  # "A" added, "M" modified, "D" deleted
    decision: Decision | None  # the file at the head (None: deleted, or not a valid decision)
    problem: str | None = None


def changed_decisions(repo_root: Path, base: str, head: str, decisions_dir: str) -> list[ChangedDecision]:
    """The decision files a pull request changes (merge-base of base and head, to head), read
    from git objects: nothing is checked out."""
    repository = _repository(repo_root)
    try:
        listing = repository.git("diff", "--name-status", "--no-renames", "-z", f"{base}...{head}", "--", decisions_dir)
    except GitFailed as failure:
        raise TaxonError(f"git diff failed: {failure}", hint="fetch the base branch and the pull request head")
    fields = listing.decode("utf-8", errors="surrogateescape").split("\0")
    changed = []
    for status, path in zip(fields[::2], fields[1::2], strict=False):
        if not path:
            continue
        if status.startswith("D"):
            changed.append(ChangedDecision(path, "D", None))
            continue
        relative = PurePosixPath(path).relative_to(decisions_dir)
        if relative.suffix != DECISION_SUFFIX or len(relative.parts) < 2:
            changed.append(ChangedDecision(path, status[:1], None, "not a decision file"))
            continue
        try:
            text = repository.git("show", f"{head}:{path}").decode("utf-8")
        except (GitFailed, UnicodeDecodeError):
            changed.append(ChangedDecision(path, status[:1], None, "not a readable text file"))
            continue
        decision, findings = parse_decision(parse_text(text, path), relative.parent.as_posix(), relative.stem)
        problem = None if decision else "; ".join(f"{f.message} [{f.rule}]" for f in findings[:3])
        changed.append(ChangedDecision(path, status[:1], decision, problem))
    return changed


@dataclass
class Vouching:
    """Why each changed decision counts, or doesn't."""

    vouched: list[tuple[str, str]] = field(default_factory=list)  # (path, by what)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (path, why not)


def _commands_by(comments: list[dict[str, Any]]) -> dict[str, set[tuple[str, str, str | None]]]:
    """login -> the (action, sample id, fix answer) its comments command."""
    found: dict[str, set[tuple[str, str, str | None]]] = {}
    for comment in comments:
        login = dig(comment, "user", "login")
        if not isinstance(login, str):
            continue
        try:
            commands = parse_comment_commands(str(comment.get("body") or ""))
        except UsageError:
            continue
        for command in commands:
            if command.name in DECISION_COMMANDS:
                for sample in command.ids:
                    text = command.text if command.name == FIX else None
                    found.setdefault(login, set()).add((command.name, sample, text))
    return found


def vouch(
    changed: list[ChangedDecision], author: str, comments: list[dict[str, Any]], can_write: Callable[[str], bool]
) -> Vouching:
    """A changed decision counts when its `by` has write access and is the pull request's
    author, or commanded exactly this decision in a comment here; a removed decision only in a
    maintainer's own pull request. Everything else is refused, saying why."""
    commanded = _commands_by(comments)
    result = Vouching()
    logins = {change.decision.by for change in changed if change.decision} | {author}
    if len(logins) > MAX_LOGINS:
        for change in changed:
            result.refused.append((change.path, f"the decisions name {len(logins)} people, over {MAX_LOGINS}"))
        return result
    access = {login: can_write(login) for login in sorted(logins)}
    for change in changed:
        if change.problem:
            result.refused.append((change.path, change.problem))
        elif change.decision is None:
            if access[author]:
                result.vouched.append((change.path, f"removed in the pull request of maintainer {author}"))
            else:
                result.refused.append((change.path, f"removes a maintainer's decision; {author} is no maintainer"))
        else:
            decision = change.decision
            key = (decision.action, decision.sample, decision.fixed_answer)
            if not access[decision.by]:
                result.refused.append((change.path, f"by '{decision.by}', who has no write access here"))
            elif decision.by == author:
                result.vouched.append((change.path, f"in the pull request of maintainer {author}"))
            elif key in commanded.get(decision.by, set()):
                result.vouched.append((change.path, f"commanded by {decision.by} in a comment here"))
            else:
                result.refused.append(
                    (
                        change.path,
                        f"claims to be by '{decision.by}', who neither opened this pull request nor commented "
                        f"'/taxon {decision.action} {decision.sample}' on it",
                    )
                )
    return result


def list_comments(repo: str, pr_number: int, gh: GhRunner = run_gh) -> list[dict[str, Any]]:
    jq = ".[] | {body, user: {login: .user.login}}"
    answer = gh(["api", "--paginate", f"repos/{repo}/issues/{pr_number}/comments", "--jq", jq], None)
    return [json.loads(line) for line in answer.decode("utf-8").splitlines() if line.strip()]


def write_access(repo: str, gh: GhRunner = run_gh) -> Callable[[str], bool]:
    def can_write(login: str) -> bool:
        if not LOGIN.fullmatch(login):
            return False
        try:
            permission = gh_json(gh, f"repos/{repo}/collaborators/{login}/permission") or {}
        except TaxonError:  # not a collaborator, not a user
            return False
        return dig(permission, "user", "login") in (None, login) and has_write_access(permission)

    return can_write


def post_status(repo: str, sha: str, vouching: Vouching, gh: GhRunner = run_gh) -> None:
    """The commit status a branch ruleset can require: success when every changed decision counts."""

    state = "failure" if vouching.refused else "success"
    if vouching.refused:
        description = f"{len(vouching.refused)} decision(s) not made by a maintainer"
    else:
        description = f"{len(vouching.vouched)} changed decision(s), each a maintainer's"
    payload = {"state": state, "context": STATUS_CONTEXT, "description": description[:140]}
    gh(["api", "--method", "POST", f"repos/{repo}/statuses/{sha}", "--input", "-"], json.dumps(payload).encode())


def post_reply(repo: str, pr_number: int, body: str, gh: GhRunner = run_gh) -> None:
    payload = json.dumps({"body": body}).encode()
    gh(["api", "--method", "POST", f"repos/{repo}/issues/{pr_number}/comments", "--input", "-"], payload)


def env_token() -> str | None:
    return os.environ.get("GH_TOKEN") or os.environ.get("GITHUB_TOKEN") or None
