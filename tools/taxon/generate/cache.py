"""Finished units of work, one JSON file per key, each renamed into place whole: a killed run
loses at most the units in flight, and a rerun finds every unit it finished."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from taxon.core.store import canonical_json
from taxon.qna.layout import UNITS_DIR, unit_entry


class UnitCache:
    def __init__(self, root: Path):
        self.root = Path(root) / UNITS_DIR

    def _path(self, key: str) -> Path:
        return self.root / unit_entry(key)

    def get(self, key: str) -> dict[str, Any] | None:
        """The unit's result; a hit refreshes the entry's mtime, so what a run used can be told
        from what it merely inherited (CI carries only the former to the next run)."""
        path = self._path(key)
        try:
            result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # missing, or unreadable: the unit is simply done again
        try:
            os.utime(path)
        except OSError:
            pass  # a read-only cache is still a cache
        return result

    def put(self, key: str, result: dict[str, Any]) -> None:
        """Atomic against a kill, but not fsynced (unlike taxon.core.store's writes): an entry a power
        loss tears reads as missing and is redone, and an fsync per unit would cost more than
        a fast teacher's reply."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(canonical_json(result))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
