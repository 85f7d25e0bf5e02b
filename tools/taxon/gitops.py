"""What the GitHub workflows decide, as plain functions: what a pull request changes, who may
ask for samples, which files of a pull request are taxonomy data, and the sticky comment.

The workflow `run:` steps only call `taxon gitops <subcommand>`; everything they decide is
here and unit-tested. Nothing here executes content from a pull request: its files are read
as git blobs and written out as data.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

from taxon.errors import TaxonError, UsageError
from taxon.store import atomic_write_bytes
from taxon.taxonomy import QNA_NAME, leaf_id

TAXONOMY_DIR = "taxonomy"
SAMPLES_LABEL = "generate-samples"
COMMENT_MARKER = "<!-- taxon-samples -->"
COMMENT_AUTHOR = "github-actions[bot]"
# Roles that may ask for samples: the collaborator-permission API's `role_name`, and its
# legacy `permission` field, where "maintain" reads as "write".
WRITE_ROLES = frozenset({"admin", "maintain", "write"})
COMMAND_PREFIX = "/taxon"
COMMENT_COMMANDS = ("samples",)
SPLIT_HINT = (
    "Split it into two pull requests: one with only the files under taxonomy/ (the contribution) "
    "and one with everything else (the code change)."
)
REGULAR_FILE_MODES = ("100644", "100755")


# ---------------------------------------------------------------- what a pull request changes


@dataclass(frozen=True)
class PullRequestChanges:
    taxonomy: tuple[str, ...]
    other: tuple[str, ...]

    @property
    def kind(self) -> str:
        """"contribution" (only taxonomy/), "code" (no taxonomy/), "mixed", or "empty"."""
        if self.taxonomy and self.other:
            return "mixed"
        if self.taxonomy:
            return "contribution"
        return "code" if self.other else "empty"

    def leaf_ids(self) -> list[str]:
        """Leaves whose qna.yaml changed, or whose folder holds a changed file."""
        ids = set()
        for path in self.taxonomy:
            pure = PurePosixPath(path)
            ids.add(leaf_id(pure if pure.name == QNA_NAME else pure.parent / QNA_NAME))
        return sorted(ids)


def _git(repo_root: Path, *args: str, input_bytes: bytes | None = None) -> bytes:
    result = subprocess.run(
        ["git", "-C", str(repo_root), *args], input=input_bytes, capture_output=True, check=False
    )
    if result.returncode != 0:
        raise TaxonError(
            f"git {' '.join(args)} failed: {result.stderr.decode(errors='replace').strip()}",
            hint="fetch the base branch and the pull request head (actions/checkout with fetch-depth: 0)",
        )
    return result.stdout


def changed_paths(repo_root: Path, base: str, head: str = "HEAD") -> list[str]:
    """Files changed on `head` since its merge-base with `base`. Renames count as a delete and
    an add, so moving a file out of taxonomy/ shows on both sides."""
    output = _git(repo_root, "diff", "--name-only", "--no-renames", "-z", f"{base}...{head}", "--")
    return sorted(path for path in output.decode("utf-8", errors="surrogateescape").split("\0") if path)


def is_taxonomy_path(path: str) -> bool:
    return PurePosixPath(path).parts[:1] == (TAXONOMY_DIR,)


def classify_changes(paths: list[str]) -> PullRequestChanges:
    taxonomy = tuple(sorted(p for p in paths if is_taxonomy_path(p)))
    other = tuple(sorted(p for p in paths if not is_taxonomy_path(p)))
    return PullRequestChanges(taxonomy, other)


def split_message(changes: PullRequestChanges, shown: int = 10) -> str:
    listed = ", ".join(changes.other[:shown]) + (" ..." if len(changes.other) > shown else "")
    return (
        f"This pull request changes {len(changes.taxonomy)} file(s) under taxonomy/ and "
        f"{len(changes.other)} file(s) outside it ({listed}). {SPLIT_HINT}"
    )


def render_pr_summary(changes: PullRequestChanges) -> str:
    """The job summary (markdown) of the classify step."""
    lines = ["## taxon: pull request", ""]
    verdict = {
        "contribution": "a taxonomy contribution: the changed leaves are validated below",
        "code": "a code change: the test suite runs",
        "mixed": "**mixed**: it changes taxonomy/ and other files. " + SPLIT_HINT,
        "empty": "no file changes",
    }[changes.kind]
    lines += [f"This pull request is {verdict}.", ""]
    leaves = changes.leaf_ids()
    if leaves:
        lines += [f"Changed leaves ({len(leaves)}):", ""]
        lines += [f"- {code_span(leaf)}" for leaf in leaves]
        lines.append("")
    if changes.kind == "mixed":
        lines += [f"Files outside taxonomy/ ({len(changes.other)}):", ""]
        lines += [f"- {code_span(path)}" for path in changes.other]
        lines.append("")
    return "\n".join(lines)


def _table_text(text: str) -> str:
    """Plain text safe in a markdown table cell: no HTML, no cell break, one line."""
    return " ".join(str(text).split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def render_validation_summary(sarif: dict, max_rows: int = 100) -> str:
    """The job summary (markdown) of a validation run, from its SARIF report."""
    results = [r for run in sarif.get("runs") or [] for r in run.get("results") or [] if isinstance(r, dict)]
    levels = {level: sum(1 for r in results if r.get("level") == level) for level in ("error", "warning", "note")}
    verdict = "failed" if levels["error"] else "passed"
    lines = [
        "## taxon: validation",
        "",
        f"Validation {verdict}: {levels['error']} errors, {levels['warning']} warnings, {levels['note']} notes.",
        "",
    ]
    if results:
        lines += ["| Level | Rule | Where | Message |", "|---|---|---|---|"]
        for result in results[:max_rows]:
            location = _get(result, "locations")
            physical = location[0].get("physicalLocation", {}) if isinstance(location, list) and location else {}
            where = f"{_get(physical, 'artifactLocation', 'uri') or '?'}:{_get(physical, 'region', 'startLine') or 1}"
            lines.append(
                f"| {_table_text(result.get('level', ''))} | {_table_text(result.get('ruleId', ''))} "
                f"| {table_code(where)} | {_table_text(_get(result, 'message', 'text') or '')} |"
            )
        if len(results) > max_rows:
            lines += ["", f"... and {len(results) - max_rows} more (see the annotations and code scanning)."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- GitHub Actions plumbing


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, message: str, title: str | None = None, file: str | None = None) -> str:
    """A workflow command such as `::error title=...::message`, escaped so that a message
    can neither end the command early nor start another one."""
    properties = [f"{key}={_escape_property(value)}" for key, value in (("file", file), ("title", title)) if value]
    joined = " " + ",".join(properties) if properties else ""
    return f"::{level}{joined}::{_escape_data(message)}"


def write_outputs(path: str | os.PathLike | None, values: dict[str, str]) -> None:
    """Append step outputs to $GITHUB_OUTPUT, with a random delimiter per value so a value
    can't forge another output."""
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        for name, value in values.items():
            delimiter = f"taxon_{secrets.token_hex(8)}"
            handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def append_summary(path: str | os.PathLike | None, markdown: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(markdown.rstrip("\n") + "\n\n")


def load_event(path: str | os.PathLike | None) -> dict:
    if not path:
        raise UsageError("no event payload", hint="set GITHUB_EVENT_PATH (the runner does)")
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise UsageError(f"cannot read the event payload: {error}", where=str(path))
    if not isinstance(event, dict):
        raise UsageError("the event payload is not a JSON object", where=str(path))
    return event


# ---------------------------------------------------------------- who may ask for samples


@dataclass(frozen=True)
class CommentCommand:
    name: str
    commit: str | None = None  # a commit (prefix) the maintainer reviewed; None: the PR's head


_COMMIT_RE = re.compile(r"[0-9a-f]{7,40}")
_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def parse_comment_command(body: str) -> CommentCommand | None:
    """The first `/taxon COMMAND [COMMIT]` line of a comment, outside code blocks and quotes;
    None when there is none. An unknown command or argument is a UsageError."""
    fence = None
    for raw_line in body.splitlines():
        line = raw_line.rstrip()
        opener = _FENCE_RE.match(line)
        if fence:
            if opener and opener.group(1)[0] == fence[0] and len(opener.group(1)) >= len(fence):
                fence = None
            continue
        if opener:
            fence = opener.group(1)
            continue
        words = line.split()
        if not words or words[0] != COMMAND_PREFIX:
            continue
        if len(words) < 2 or words[1] not in COMMENT_COMMANDS:
            raise UsageError(
                f"unknown command: {line.strip()[:80]}", hint="write '/taxon samples' or '/taxon samples COMMIT'"
            )
        arguments = words[2:]
        if len(arguments) > 1 or (arguments and not _COMMIT_RE.fullmatch(arguments[0].lower())):
            raise UsageError(
                f"bad arguments to /taxon {words[1]}: {' '.join(arguments)[:80]}",
                hint="the only argument is an optional commit SHA (7 to 40 hex digits)",
            )
        return CommentCommand(words[1], arguments[0].lower() if arguments else None)
    return None


def has_write_access(permission: dict) -> bool:
    """From the collaborator-permission API (`gh api repos/R/collaborators/U/permission`)."""
    return permission.get("role_name") in WRITE_ROLES or permission.get("permission") in WRITE_ROLES


@dataclass(frozen=True)
class SamplesRequest:
    pr_number: int
    head_sha: str
    base_ref: str
    requested_by: str


def _get(mapping: dict, *keys: str):
    for key in keys:
        mapping = mapping.get(key) if isinstance(mapping, dict) else None
    return mapping


def authorize_samples(event_name: str, event: dict, permission: dict, pull: dict) -> SamplesRequest:
    """Decide whether this event is a maintainer's request for samples, and for which commit.

    `permission` is the sender's collaborator permission and `pull` the pull request, both as
    the REST API returns them now. Raises TaxonError saying why when the request is refused.
    """
    sender = _get(event, "sender", "login") or ""
    if event_name == "pull_request_target":
        if event.get("action") != "labeled" or _get(event, "label", "name") != SAMPLES_LABEL:
            raise TaxonError(f"not a '{SAMPLES_LABEL}' label event")
        number = _get(event, "pull_request", "number")
        wanted = _get(event, "pull_request", "head", "sha")
    elif event_name == "issue_comment":
        if event.get("action") != "created" or not isinstance(_get(event, "issue", "pull_request"), dict):
            raise TaxonError("not a new comment on a pull request")
        command = parse_comment_command(_get(event, "comment", "body") or "")
        if command is None or command.name != "samples":
            raise TaxonError("the comment holds no '/taxon samples' command")
        number = _get(event, "issue", "number")
        wanted = command.commit
    else:
        raise TaxonError(f"samples are not generated on '{event_name}' events")
    permission_user = _get(permission, "user", "login")
    if permission_user is not None and permission_user != sender:
        raise TaxonError(f"the permission answer is for '{permission_user}', not for '{sender}'")
    if not has_write_access(permission):
        raise TaxonError(
            f"'{sender}' has no write access to this repository",
            hint="a maintainer has to add the label or write the command",
        )
    if not isinstance(number, int) or pull.get("number") != number:
        raise TaxonError("the pull request answer does not match the event")
    if pull.get("state") != "open":
        raise TaxonError(f"pull request #{number} is not open")
    head = _get(pull, "head", "sha") or ""
    if wanted and not head.startswith(wanted):
        raise TaxonError(
            f"pull request #{number} moved on: its head is {head[:12]}, the request was for {wanted[:12]}",
            hint="review the new commits, then ask again",
        )
    return SamplesRequest(number, head, _get(pull, "base", "ref") or "", sender)


# ---------------------------------------------------------------- a pull request's taxonomy as data


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    kind: str
    sha: str
    size: int | None
    path: str


@dataclass
class ExportedTaxonomy:
    root: Path
    leaves: list[str] = field(default_factory=list)  # leaf folders, relative to the repo root
    files: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)


def _tree_entries(repo_root: Path, commit: str) -> list[TreeEntry]:
    output = _git(repo_root, "ls-tree", "-r", "-l", "-z", "--full-tree", commit, "--", TAXONOMY_DIR)
    entries = []
    for record in output.decode("utf-8", errors="surrogateescape").split("\0"):
        if not record:
            continue
        meta, path = record.split("\t", 1)
        mode, kind, sha, size = meta.split()
        entries.append(TreeEntry(mode, kind, sha, int(size) if size.isdigit() else None, path))
    return entries


def _nearest_leaf(path: str, leaf_folders: set[str]) -> str | None:
    for folder in PurePosixPath(path).parents:
        if folder.as_posix() in leaf_folders:
            return folder.as_posix()
    return None


def _safe_relative(path: str) -> bool:
    """A plain relative path: no empty, "." or ".." segment, no backslash, not absolute."""
    return bool(path) and "\\" not in path and all(part not in ("", ".", "..") for part in path.split("/"))


def export_pr_taxonomy(
    repo_root: Path, base: str, head: str, out_dir: Path, max_file_bytes: int
) -> ExportedTaxonomy:
    """Write the leaves a pull request adds or changes, as they are at `head`, under `out_dir`
    (keeping their taxonomy/... paths). Only regular files of those leaf folders are written,
    read as git blobs: symlinks, submodules and files over `max_file_bytes` are skipped."""
    out_dir = Path(out_dir)
    changed = [path for path in changed_paths(repo_root, base, head) if is_taxonomy_path(path)]
    entries = _tree_entries(repo_root, head)
    leaf_folders = {
        PurePosixPath(e.path).parent.as_posix() for e in entries if PurePosixPath(e.path).name == QNA_NAME
    }
    wanted = sorted({leaf for leaf in (_nearest_leaf(path, leaf_folders) for path in changed) if leaf})
    exported = ExportedTaxonomy(out_dir, leaves=wanted)
    for entry in entries:
        if _nearest_leaf(entry.path, leaf_folders) not in wanted:
            continue
        why = None
        if not _safe_relative(entry.path):
            why = "unsafe path"
        elif entry.kind != "blob" or entry.mode not in REGULAR_FILE_MODES:
            why = "not a regular file (symlink or submodule)"
        elif entry.size is None or entry.size > max_file_bytes:
            why = f"larger than {max_file_bytes} bytes"
        if why:
            exported.skipped.append((entry.path, why))
            continue
        atomic_write_bytes(out_dir / entry.path, _git(repo_root, "cat-file", "blob", entry.sha))
        exported.files.append(entry.path)
    return exported


# ---------------------------------------------------------------- the sticky comment


def code_span(text: str) -> str:
    """Inline code that shows `text` literally whatever backticks it holds (one line)."""
    text = " ".join(str(text).split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    padding = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{ticks}{padding}{text}{padding}{ticks}"


def table_code(text: str) -> str:
    """A code span inside a markdown table cell (a `|` would end the cell even there)."""
    return code_span(text).replace("|", "\\|")


def find_sticky_comment(comments: list[dict], marker: str = COMMENT_MARKER, author: str = COMMENT_AUTHOR) -> int | None:
    """The id of our own earlier comment: it holds the marker AND was written by the bot, so a
    comment anyone else writes with the marker in it is never edited."""
    ours = [
        c["id"]
        for c in comments
        if marker in (c.get("body") or "") and _get(c, "user", "login") == author and _get(c, "user", "type") == "Bot"
    ]
    return ours[-1] if ours else None


GhRunner = Callable[[list[str], bytes | None], bytes]


def run_gh(args: list[str], input_bytes: bytes | None = None) -> bytes:
    try:
        result = subprocess.run(["gh", *args], input=input_bytes, capture_output=True, check=False)
    except FileNotFoundError:
        raise TaxonError("the GitHub CLI (gh) is not installed", hint="GitHub-hosted runners have it; else see cli.github.com")
    if result.returncode != 0:
        raise TaxonError(f"gh {' '.join(args[:3])} failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def post_sticky_comment(repo: str, pr_number: int, body: str, gh: GhRunner = run_gh) -> str:
    """Create the sticky comment, or update it in place; returns "created" or "updated"."""
    listing = gh(
        ["api", "--paginate", f"repos/{repo}/issues/{pr_number}/comments",
         "--jq", ".[] | {id, body, user: {login: .user.login, type: .user.type}}"],
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
