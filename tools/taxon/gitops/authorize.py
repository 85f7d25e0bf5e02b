"""Who may ask for samples or decide on them, and for which commit: a label, or `/taxon`
commands in a pull request's comments.

A comment is read in three separate steps: which of its lines are commands a reader sees
(`command_lines`: block detection, as GitHub renders the comment), which command each names
(`COMMANDS`: the table), and that command's arguments (each command's own parser). Nothing of a comment is ever run: the
arguments are matched against fixed forms (a full commit sha, sample ids) or kept as text."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt

from taxon.core.errors import TaxonError, UsageError
from taxon.core.github import SAMPLES_LABEL, dig
from taxon.qna.decisions import FIX, MAX_DECISIONS_PER_COMMENT, MAX_REASON, MAX_TEXT, SAMPLE_ID

# Roles that may ask for samples: the collaborator-permission API's `role_name`, and its
# legacy `permission` field, where "maintain" reads as "write".
WRITE_ROLES = frozenset({"admin", "maintain", "write"})
COMMAND_PREFIX = "/taxon"
DECISION_COMMANDS = ("keep", "drop", "fix")


@dataclass(frozen=True)
class CommentCommand:
    name: str
    commit: str | None = None  # samples: the full sha the maintainer reviewed; None: the head at comment time
    ids: tuple[str, ...] = ()  # keep, drop, fix: the samples decided on
    text: str | None = None  # fix: the answer to train instead; keep, drop: the reason, if any


FULL_SHA = re.compile(r"[0-9a-f]{40}")  # a prefix is no pin: 7 hex digits collide in minutes
# GitHub renders comments as GitHub Flavored Markdown: CommonMark with tables and strikethrough.
_MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])
_HTML_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)\b[^>]*?(/?)>")
_VOID_TAGS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})
_NOT_TEXT = "\0"  # stands for anything in a line that is not plain text (code, a link, emphasis, HTML)


def command_lines(body: str) -> list[str]:
    """The lines of a comment that are `/taxon` commands as GitHub renders it: parsed as
    CommonMark (markdown-it-py), a command is a line of plain text in a paragraph at the top
    level of the comment. Nothing else counts, whatever it shows: code (fenced with any info
    string or fence length, indented, inline), HTML blocks and what they enclose (`<pre>`,
    `<details>`, a `<div>`, comments), block quotes, list items, headings, tables, emphasis
    and links. Anything that is not plain text inside a command's line stands as _NOT_TEXT."""
    found = []
    for line in _top_level_lines(body):
        words = line.split(maxsplit=1)
        if words and words[0] == COMMAND_PREFIX:
            found.append(line.strip())
    return found


def _top_level_lines(body: str) -> Iterator[str]:
    """The lines of the paragraphs at the comment's top level, outside any HTML element, as
    plain text (anything else in a line stands as _NOT_TEXT)."""
    open_elements = 0
    tokens = _MARKDOWN.parse(body)
    for index, token in enumerate(tokens):
        if token.type == "html_block":
            open_elements = max(0, open_elements + _element_depth(token.content))
        elif token.type == "paragraph_open" and token.level == 0 and open_elements == 0:
            yield from _plain_lines(tokens[index + 1].children or [])


def _element_depth(html: str) -> int:
    """Elements an HTML block opens, less those it closes."""
    depth = 0
    for closing, name, self_closing in _HTML_TAG.findall(html):
        if name.lower() in _VOID_TAGS or self_closing:
            continue
        depth += -1 if closing else 1
    return depth


def _plain_lines(children: Any) -> list[str]:
    lines: list[str] = []
    current: list[str] = []
    for child in children:
        if child.type in ("softbreak", "hardbreak"):
            lines.append("".join(current))
            current = []
        elif child.type == "text":
            current.append(child.content)
        else:
            current.append(_NOT_TEXT)
    lines.append("".join(current))
    return lines


def _shown(text: str, limit: int = 80) -> str:
    """Words of a comment in a message: at most `limit` characters, markdown shown as '?'."""
    return text[:limit].replace(_NOT_TEXT, "?")


def _samples_arguments(name: str, arguments: str) -> CommentCommand:
    words = arguments.split()
    if len(words) > 1 or (words and not FULL_SHA.fullmatch(words[0].lower())):
        raise UsageError(
            f"bad arguments to /taxon {name}: {_shown(arguments)}",
            hint="the only argument is an optional full commit SHA (all 40 hex digits)",
        )
    return CommentCommand(name, words[0].lower() if words else None)


def _decision_arguments(name: str, arguments: str) -> CommentCommand:
    """`keep|drop ID [ID ...] [reason]`, `fix ID ANSWER`: ids first, then free text."""
    words = arguments.split(" ")
    ids = []
    while words and (SAMPLE_ID.fullmatch(words[0]) or not words[0]):
        if words[0]:
            ids.append(words[0])
        words.pop(0)
        if len(ids) > MAX_DECISIONS_PER_COMMENT:
            raise UsageError(
                f"/taxon {name} names over {MAX_DECISIONS_PER_COMMENT} sample ids: one comment decides on at most {MAX_DECISIONS_PER_COMMENT}",
                hint="split the decisions over several comments, or decide on the review page",
            )
    text = " ".join(words).strip()
    if not ids:
        raise UsageError(
            f"/taxon {name} needs a sample id (12 hex digits), not {_shown(arguments, 40)!r}",
            hint="the ids are in the pull request's samples comment and on the review page",
        )
    if name == FIX and (len(ids) != 1 or not text):
        raise UsageError("/taxon fix takes one sample id and the answer to train instead: /taxon fix ID ANSWER")
    if _NOT_TEXT in text:
        raise UsageError(
            f"the text of /taxon {name} holds markdown (code, a link, emphasis, HTML): {_shown(text)}",
            hint="write it as plain text (escape with \\ what markdown would read), or decide on the review page",
        )
    limit = MAX_TEXT if name == FIX else MAX_REASON
    if len(text) > limit:
        raise UsageError(f"the text of /taxon {name} is over {limit} characters")
    return CommentCommand(name, ids=tuple(ids), text=text or None)


# command -> its argument parser (the command's name, the rest of its line)
COMMANDS: dict[str, Callable[[str, str], CommentCommand]] = {
    "samples": _samples_arguments,
    **dict.fromkeys(DECISION_COMMANDS, _decision_arguments),
}


def parse_command_line(line: str) -> CommentCommand:
    """One `/taxon COMMAND ARGUMENTS` line; an unknown command or bad arguments: UsageError."""
    _, _, rest = line.partition(COMMAND_PREFIX)
    name, _, arguments = rest.strip().partition(" ")
    if name not in COMMANDS:
        raise UsageError(
            f"unknown command: {_shown(line)}",
            hint="write '/taxon samples [COMMIT]', or '/taxon keep|drop ID' or '/taxon fix ID ANSWER'",
        )
    return COMMANDS[name](name, arguments.strip())


def parse_comment_commands(body: str) -> list[CommentCommand]:
    """Every command of a comment, in order; the first bad one is a UsageError. At most
    MAX_DECISIONS_PER_COMMENT sample ids in all."""
    commands = [parse_command_line(line) for line in command_lines(body)]
    decided = sum(len(command.ids) for command in commands)
    if decided > MAX_DECISIONS_PER_COMMENT:
        raise UsageError(
            f"the comment decides on {decided} samples: one comment decides on at most {MAX_DECISIONS_PER_COMMENT}",
            hint="split the decisions over several comments, or decide on the review page",
        )
    return commands


def parse_comment_command(body: str) -> CommentCommand | None:
    """The first command of a comment, or None when it has none."""
    lines = command_lines(body)
    return parse_command_line(lines[0]) if lines else None


def has_write_access(permission: dict[str, Any]) -> bool:
    """From the collaborator-permission API (`gh api repos/R/collaborators/U/permission`)."""
    return permission.get("role_name") in WRITE_ROLES or permission.get("permission") in WRITE_ROLES


@dataclass(frozen=True)
class SamplesRequest:
    pr_number: int
    head_sha: str
    base_ref: str
    requested_by: str


def authorize_samples(
    event_name: str,
    event: dict[str, Any],
    permission: dict[str, Any],
    pull: dict[str, Any],
    pinned_head: str | None = None,
) -> SamplesRequest:
    """Decide whether this event is a maintainer's request for samples, and for which commit.

    `permission` is the sender's collaborator permission and `pull` the pull request, both as
    the REST API returns them now. `pinned_head` is the head a first check found when the
    request was made (a bare `/taxon samples` is for that head): after the environment's
    approval, a pull request at any other head is refused. Raises TaxonError saying why when
    the request is refused.
    """
    sender = dig(event, "sender", "login") or ""
    if event_name == "pull_request_target":
        if event.get("action") != "labeled" or dig(event, "label", "name") != SAMPLES_LABEL:
            raise TaxonError(f"not a '{SAMPLES_LABEL}' label event")
        number = dig(event, "pull_request", "number")
        wanted = dig(event, "pull_request", "head", "sha")
    elif event_name == "issue_comment":
        if event.get("action") != "created" or not isinstance(dig(event, "issue", "pull_request"), dict):
            raise TaxonError("not a new comment on a pull request")
        command = next(
            (c for c in parse_comment_commands(dig(event, "comment", "body") or "") if c.name == "samples"), None
        )
        if command is None:
            raise TaxonError("the comment holds no '/taxon samples' command")
        number = dig(event, "issue", "number")
        wanted = command.commit
    else:
        raise TaxonError(f"samples are not generated on '{event_name}' events")
    permission_user = dig(permission, "user", "login")
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
    if pinned_head is not None:
        pinned_head = pinned_head.lower()
        if not FULL_SHA.fullmatch(pinned_head) or (wanted and wanted.lower() != pinned_head):
            raise TaxonError(f"the pinned head '{pinned_head[:40]}' is not the full sha this request was made for")
        wanted = pinned_head
    head = (dig(pull, "head", "sha") or "").lower()
    if wanted and head != wanted.lower():
        raise TaxonError(
            f"pull request #{number} moved on: its head is {head[:12]}, the request was for {wanted[:12]}",
            hint="review the new commits, then ask again",
        )
    return SamplesRequest(number, head, dig(pull, "base", "ref") or "", sender)
