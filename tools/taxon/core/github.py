"""GitHub conventions shared by validate's reports, review's comment and the gitops steps:
workflow-command escaping, the samples label and the sticky comment's marker."""

from __future__ import annotations

import re
from typing import Any

from taxon.core.characters import hidden_runs

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


_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def log_name(name: str) -> str:
    """A name from outside (a file or folder name, a path, a branch, a pattern) as printable
    text on one line, for every log, report and message that shows it: backslashes, line
    breaks, control, format and other unprintable or invisible characters, and the bytes of a
    name that is not UTF-8 (read with surrogateescape) written as escapes (\\n, \\x1b,
    \\u200b, \\xe9); '::' and '##[' broken with an escape, so that the name can start a
    workflow command nowhere it is printed. A plain name comes back unchanged."""
    if name.isascii() and name.isprintable() and "\\" not in name and "::" not in name and "##[" not in name:
        return name  # the common case, without the walk over its characters
    hidden = {index for run in hidden_runs(name) for index in range(run.start, run.start + len(run.text))}
    shown = []
    for index, char in enumerate(name):
        if char in _SHORT_ESCAPES:
            shown.append(_SHORT_ESCAPES[char])
        elif "\udc80" <= char <= "\udcff":  # a byte that is not UTF-8, as os.fsdecode keeps it
            shown.append(f"\\x{ord(char) - 0xDC00:02x}")
        elif index in hidden or (not char.isprintable() and char != " "):
            code = ord(char)
            shown.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            shown.append(char)
    return "".join(shown).replace("::", ":\\x3a").replace("##[", "##\\x5b")


def annotation(level: str, message: str, title: str | None = None, file: str | None = None) -> str:
    """A workflow command such as `::error title=...::message`, escaped so that a message
    can neither end the command early nor start another one."""
    properties = [f"{key}={escape_property(value)}" for key, value in (("file", file), ("title", title)) if value]
    joined = " " + ",".join(properties) if properties else ""
    return f"::{level}{joined}::{escape_data(message)}"


def dig(mapping: Any, *keys: str) -> Any:
    """mapping[k1][k2]... of a JSON payload, None where a level is missing or not an object."""
    for key in keys:
        mapping = mapping.get(key) if isinstance(mapping, dict) else None
    return mapping
