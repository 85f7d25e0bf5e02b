"""GitHub conventions shared by validate's reports, review's comment and the gitops steps:
workflow-command escaping, the samples label and the sticky comment's marker."""

from __future__ import annotations

import re

SAMPLES_LABEL = "generate-samples"
COMMENT_MARKER = "<!-- taxon-samples -->"
COMMENT_AUTHOR = "github-actions[bot]"


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A").replace("##[", "##%5B")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


_COMMAND_AT_LINE_START = re.compile(r"^(\s*)::", re.M)


def log_safe(text: str) -> str:
    """Text that may carry contributed words (file names, patterns, messages), made safe to
    print on a runner's log: no line of it starts a workflow command (`::add-mask::...`,
    read after leading spaces) and no `##[` (the older command form) remains. Lines stay
    lines; carriage returns are written as %0D."""
    text = text.replace("\r", "%0D").replace("##[", "##%5B")
    return _COMMAND_AT_LINE_START.sub(r"\1:%3A", text)


def annotation(level: str, message: str, title: str | None = None, file: str | None = None) -> str:
    """A workflow command such as `::error title=...::message`, escaped so that a message
    can neither end the command early nor start another one."""
    properties = [f"{key}={escape_property(value)}" for key, value in (("file", file), ("title", title)) if value]
    joined = " " + ",".join(properties) if properties else ""
    return f"::{level}{joined}::{escape_data(message)}"


def dig(mapping, *keys: str):
    """mapping[k1][k2]... of a JSON payload, None where a level is missing or not an object."""
    for key in keys:
        mapping = mapping.get(key) if isinstance(mapping, dict) else None
    return mapping
