"""Finished units of work, one JSON file per key, written atomically: a killed run loses at
most the units in flight, and a rerun finds every unit it finished."""

from __future__ import annotations

import json
from pathlib import Path

from taxon.store import atomic_write_json


class UnitCache:
    def __init__(self, root: Path):
        self.root = Path(root) / "units"

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        try:
            return json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # missing, or unreadable: the unit is simply done again

    def put(self, key: str, result: dict) -> None:
        atomic_write_json(self._path(key), result)
