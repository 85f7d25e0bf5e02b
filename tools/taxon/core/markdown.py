"""Markdown that shows contributed text literally: code spans and table cells."""

from __future__ import annotations

import re


def table_text(text: str) -> str:
    """Plain text safe in a markdown table cell: no HTML, no cell break, one line."""
    return (
        " ".join(str(text).split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
    )


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
