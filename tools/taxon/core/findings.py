"""A finding: one problem in one file, with a place, a stable rule code and what to change."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    column: int
    rule: str
    severity: str
    message: str

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["path"]
        return data
