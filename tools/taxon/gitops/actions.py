"""GitHub Actions plumbing: step outputs, the job summary, the event payload."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from taxon.core.errors import UsageError


def write_outputs(path: str | os.PathLike[str] | None, values: dict[str, str]) -> None:
    """Append step outputs to $GITHUB_OUTPUT, with a random delimiter per value so a value
    can't forge another output."""
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        for name, value in values.items():
            delimiter = f"taxon_{secrets.token_hex(8)}"
            handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def append_summary(path: str | os.PathLike[str] | None, markdown: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(markdown.rstrip("\n") + "\n\n")


def load_event(path: str | os.PathLike[str] | None) -> dict[str, Any]:
    if not path:
        raise UsageError("no event payload", hint="set GITHUB_EVENT_PATH (the runner does)")
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise UsageError(f"cannot read the event payload: {error}", where=str(path))
    if not isinstance(event, dict):
        raise UsageError("the event payload is not a JSON object", where=str(path))
    return event
