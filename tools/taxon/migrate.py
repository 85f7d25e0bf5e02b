"""Upgrade qna.yaml files of versions 1-3 to version 4 in place, keeping comments and key order.

The mechanical part is done here (the `version` key; a knowledge file's `task_description`
becomes its `document_outline`) as small edits of the text at the places the safe loader
recorded, so every other byte stays as it was and the pull request diff shows only the
upgrade; files whose top level isn't a plain block mapping are round-tripped with
ruamel.yaml instead (comments and key order kept, long text refolded). What only a person can supply (the contexts a version 1
knowledge file never had, more seed examples, a full commit SHA) is reported instead, and
such a file is left untouched: a file is written only when it passes the version 4 schema.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taxon.core.findings import ERROR
from taxon.core.store import atomic_write_text
from taxon.qna.loader import Parsed, parse_text, read_qna
from taxon.qna.taxonomy import kind_of
from taxon.validate.schemas import LATEST, VERSIONS, declared_version, schema_findings

FLAT_KNOWLEDGE_NEEDS = (
    "knowledge files of version 1-2 have no contexts, which only a person can choose: rewrite seed_examples as "
    "at least 5 entries, each a `context` (a passage of the document, at most 500 words) with 3 "
    "`questions_and_answers` that the passage answers; then set `version: 3` and run `taxon migrate` again"
)


@dataclass
class Migration:
    path: Path
    from_version: object = None
    written: bool = False
    needs: list[str] = field(default_factory=list)  # what a person must add or change

    def describe(self) -> str:
        if self.written:
            return f"{self.path}: migrated from version {self.from_version} to {LATEST}"
        if not self.needs:
            return f"{self.path}: already version {LATEST}"
        return f"{self.path}: not migrated; a person must:\n" + "\n".join(f"  - {need}" for need in self.needs)


def migrate_file(path: Path) -> Migration:
    path = Path(path)
    result = Migration(path)
    parsed = read_qna(path)
    errors = [f for f in parsed.findings if f.severity == ERROR]
    if errors or not parsed.ok:
        result.needs = [f"fix line {f.line}, column {f.column}: {f.message}" for f in errors]
        return result
    kind = kind_of(Path(os.path.abspath(path)))
    version = result.from_version = declared_version(parsed.data)
    if kind is None:
        result.needs = ["move the file under knowledge/, compositional_skills/ or foundational_skills/"]
        return result
    if type(version) is not int or version not in VERSIONS:
        result.needs = [f"set `version:` to one of {', '.join(map(str, VERSIONS))} (it is {version!r})"]
        return result
    if version == LATEST:
        return result
    assert parsed.text is not None  # a file that parsed was read
    text = _edited_text(parsed, kind, version) or _round_tripped_text(parsed.text, kind, version)
    result.needs = _remaining_needs(text, str(path), kind, flat_knowledge=kind == "knowledge" and _flat(parsed.data))
    if not result.needs:
        atomic_write_text(path, text)
        result.written = True
    return result


def _flat(data: dict[str, Any]) -> bool:
    """Seeds written as bare question/answer pairs, without the contexts of version 3."""
    seeds = data.get("seed_examples")
    return isinstance(seeds, list) and any(isinstance(s, dict) and "questions_and_answers" not in s for s in seeds)


def _yaml(text: str) -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never refold text: refolding plain scalars leaves trailing spaces
    offset = _sequence_offset(text)
    yaml.indent(mapping=2, sequence=offset + 2, offset=offset)
    return yaml


def _sequence_offset(text: str) -> int:
    """How far the file indents `- ` items under their key (0 or, usually, 2)."""
    match = re.search(r"^[ ]*[A-Za-z_]+:[ ]*\n([ ]*)- ", text, re.M)
    return len(match.group(1)) if match else 0


def _round_tripped_text(text: str, kind: str, version: int) -> str:
    yaml = _yaml(text)
    document = yaml.load(text)
    if "version" in document:
        document["version"] = LATEST
    else:
        document.insert(0, "version", LATEST)
    for old, new in _renames(kind, version, document).items():
        _rename_key(document, old, new)
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def _renames(kind: str, version: int, data: dict[str, Any]) -> dict[str, str]:
    if kind == "knowledge" and version <= 2 and "document_outline" not in data and "task_description" in data:
        return {"task_description": "document_outline"}
    return {}


def _edited_text(parsed: Parsed, kind: str, version: int) -> str | None:
    """The upgrade as edits of the original text, or None when the layout is not the usual
    one (top-level keys unquoted at column 1, `version` a plain number)."""
    text = parsed.text
    if text is None:
        return None
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    top_keys = {path[0]: place for path, place in parsed.key_positions.items() if len(path) == 1}
    if not top_keys or any(column != 1 for _, column in top_keys.values()):
        return None
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in the original text
    for old, new in _renames(kind, version, parsed.data).items():
        start = starts[top_keys[old][0] - 1]
        if not text.startswith(f"{old}:", start):
            return None
        edits.append((start, start + len(old), new))
    if "version" in top_keys:
        version_line, column = parsed.positions[("version",)]
        start = starts[version_line - 1] + column - 1
        match = re.compile(r"[0-9]+(?=[ \t]*(#.*)?\r?$)", re.M).match(text, start)
        if not match:
            return None
        edits.append((start, match.end(), str(LATEST)))
    else:
        first_line = min(line for line, _ in top_keys.values())
        newline = "\r\n" if text.endswith("\r\n") else "\n"
        edits.append((starts[first_line - 1], starts[first_line - 1], f"version: {LATEST}{newline}"))
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def _rename_key(mapping: Any, old: str, new: str) -> None:
    """Rename a key in place, keeping its position and its comments."""
    if old not in mapping:
        return
    position = list(mapping).index(old)
    comment = mapping.ca.items.pop(old, None)
    value = mapping.pop(old)
    mapping.insert(position, new, value)
    if comment is not None:
        mapping.ca.items[new] = comment


def _remaining_needs(text: str, display: str, kind: str, flat_knowledge: bool) -> list[str]:
    parsed = parse_text(text, display)
    if not parsed.ok:
        return [f.message for f in parsed.findings]
    messages = [f.message for f in schema_findings(parsed, kind, LATEST)]
    if flat_knowledge:
        return [FLAT_KNOWLEDGE_NEEDS] + [m for m in messages if "seed_examples" not in m]
    return messages


def migrate_paths(paths: list[Path]) -> list[Migration]:
    from taxon.validate.engine import collect_targets

    return [migrate_file(target.path) for target in collect_targets(paths)]
