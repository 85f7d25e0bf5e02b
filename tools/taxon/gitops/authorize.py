"""Who may ask for samples, and for which commit: a label or a `/taxon samples` comment."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt

from taxon.core.errors import TaxonError, UsageError
from taxon.core.github import SAMPLES_LABEL, dig

# Roles that may ask for samples: the collaborator-permission API's `role_name`, and its
# legacy `permission` field, where "maintain" reads as "write".
WRITE_ROLES = frozenset({"admin", "maintain", "write"})
COMMAND_PREFIX = "/taxon"
COMMENT_COMMANDS = ("samples",)


@dataclass(frozen=True)
class CommentCommand:
    name: str
    commit: str | None = None  # the full sha the maintainer reviewed; None: the head at comment time


FULL_SHA = re.compile(r"[0-9a-f]{40}")  # a prefix is no pin: 7 hex digits collide in minutes
# GitHub renders comments as GitHub Flavored Markdown: CommonMark with tables and strikethrough.
_MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])
_HTML_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)\b[^>]*?(/?)>")
_VOID_TAGS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})
_NOT_TEXT = "\0"  # stands for anything in a line that is not plain text (code, a link, emphasis, HTML)


def parse_comment_command(body: str) -> CommentCommand | None:
    """The first `/taxon COMMAND [COMMIT]` line of a comment, as GitHub renders it: parsed as
    CommonMark (markdown-it-py), a command is a line of plain text in a paragraph at the top
    level of the comment. Nothing else counts, whatever it shows: code (fenced with any info
    string or fence length, indented, inline), HTML blocks and what they enclose (`<pre>`,
    `<details>`, a `<div>`, comments), block quotes, list items, headings, tables, emphasis
    and links. None when there is none. An unknown command or argument is a UsageError."""
    for line in _top_level_lines(body):
        words = line.split()
        if not words or words[0] != COMMAND_PREFIX:
            continue
        if len(words) < 2 or words[1] not in COMMENT_COMMANDS:
            raise UsageError(
                f"unknown command: {line.strip()[:80]}", hint="write '/taxon samples' or '/taxon samples COMMIT'"
            )
        arguments = words[2:]
        if len(arguments) > 1 or (arguments and not FULL_SHA.fullmatch(arguments[0].lower())):
            raise UsageError(
                f"bad arguments to /taxon {words[1]}: {' '.join(arguments)[:80].replace(_NOT_TEXT, '?')}",
                hint="the only argument is an optional full commit SHA (all 40 hex digits)",
            )
        return CommentCommand(words[1], arguments[0].lower() if arguments else None)
    return None


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
        command = parse_comment_command(dig(event, "comment", "body") or "")
        if command is None or command.name != "samples":
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
