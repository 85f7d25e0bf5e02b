"""A finding: one problem in one file, with a place, a stable rule code and what to change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, order=True, slots=True)
class Finding:
    path: str
    line: int
    column: int
    rule: str
    severity: str
    message: str

    def to_json(self) -> dict[str, Any]:
        """The finding without its path (its file's report holds it). Written out, not
        dataclasses.asdict, which deep-copies every field: a tree's 25,000 findings took 0.5 s."""
        return {
            "line": self.line,
            "column": self.column,
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
        }
