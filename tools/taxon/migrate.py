"""Upgrade qna.yaml files of versions 1-3 to version 4 in place, keeping comments and key order.

The mechanical part is done here (the `version` key; a knowledge file's `task_description`
becomes its `document_outline`) as small edits of the text at the places the safe loader
recorded, so every other byte stays as it was and the pull request diff shows only the
upgrade; files whose top level isn't a plain block mapping are round-tripped with
ruamel.yaml instead (comments and key order kept, long text refolded). What only a person can supply (the contexts a version 1
knowledge file never had, more seed examples, a full commit SHA) is reported instead, and
such a file is left untouched: a file is written only when it passes the version 4 schema.

Each file's report lists everything `taxon validate --latest` would still say of it, at once
and at the lines of the file on disk (`Need`s by the report's columns: seeds, contexts,
attribution, license, other fixes), and the defaults taxon.toml allows (an attribution.txt
naming [validate] repository_license), written when accepted. `report_markdown` makes one
table of a tree; `report_json` the same as data.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from taxon.core.findings import ERROR, Finding
from taxon.core.settings import ValidateSettings
from taxon.core.store import atomic_write_text
from taxon.qna.layout import ATTRIBUTION_NAME
from taxon.qna.loader import NodePath, Parsed, parse_text, read_qna
from taxon.qna.taxonomy import kind_of, leaf_id
from taxon.validate.engine import check_parsed
from taxon.validate.policy import covered_by_repository_license, name_findings
from taxon.validate.schemas import LATEST, VERSIONS, declared_version, schema_at, schema_findings

FLAT_KNOWLEDGE_NEEDS = (
    "knowledge files of version 1-2 have no contexts, which only a person can choose: rewrite seed_examples as "
    "at least 5 entries, each a `context` (a passage of the document, at most 500 words) with 3 "
    "`questions_and_answers` that the passage answers; then set `version: 3` and run `taxon migrate` again"
)
# What a person must do, by the column of the report it goes in
SEEDS, CONTEXTS, ATTRIBUTION, LICENSE, FIX = "seeds", "contexts", "attribution", "license", "fix"


@dataclass(frozen=True)
class Need:
    """One thing a person must do before the file passes `taxon validate --latest`."""

    what: str  # SEEDS | CONTEXTS | ATTRIBUTION | LICENSE | FIX
    message: str
    line: int = 1
    column: int = 1
    rule: str = ""
    count: int = 0  # SEEDS: how many seed examples to add

    def __str__(self) -> str:
        return self.message

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Migration:
    path: Path
    from_version: object = None
    written: bool = False  # the upgrade to the newest version was written
    needs: list[Need] = field(default_factory=list)  # what a person must add or change
    defaults: list[str] = field(default_factory=list)  # defaults written (--accept-defaults)
    offered: list[str] = field(default_factory=list)  # defaults a person can accept

    @property
    def action(self) -> str:
        """What migrate did to the file: upgraded, current, waits (the upgrade is written once
        the needs are met) or blocked (unreadable, no kind folder, an unknown version)."""
        if self.written:
            return "upgraded"
        if self.from_version == LATEST:
            return "current"
        return "blocked" if self.from_version is None else "waits"

    @property
    def check_command(self) -> str:
        """The command that checks the file again once a person has done what it needs."""
        if self.action in ("waits", "blocked"):
            return f"taxon migrate {self.path}"
        return f"taxon validate --latest {self.path}"

    def describe(self) -> str:
        done = {
            "upgraded": f"migrated from version {self.from_version} to {LATEST}",
            "current": f"already version {LATEST}",
            "waits": f"not migrated (version {self.from_version})",
            "blocked": "not migrated",
        }[self.action]
        lines = [f"{self.path}: {done}" + ("; a person must:" if self.needs else "")]
        lines += [f"  - {need}" for need in self.needs]
        lines += [f"  default written: {default}" for default in self.defaults]
        lines += [f"  default to accept (taxon migrate --accept-defaults): {offer}" for offer in self.offered]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "from_version": self.from_version,
            "action": self.action,
            "needs": [need.to_json() for need in self.needs],
            "defaults": self.defaults,
            "offered": self.offered,
            "check": self.check_command,
        }


def migrate_file(
    path: Path, settings: ValidateSettings = ValidateSettings(), accept_defaults: bool = False
) -> Migration:
    """Upgrade one file where the schema allows, then list everything a person must still do
    for it to pass `taxon validate --latest` (all at once: one round, not one per error);
    with `accept_defaults`, first write the defaults taxon.toml allows (an attribution.txt)."""
    path = Path(path)
    result = Migration(path)
    parsed = read_qna(path, settings)
    if not parsed.ok:
        result.needs = [_fix(f, prefix=True) for f in parsed.findings if f.severity == ERROR]
        return result
    kind = kind_of(Path(os.path.abspath(path)))
    version = declared_version(parsed.data)
    if kind is None:
        result.needs = [Need(FIX, "move the file under knowledge/, compositional_skills/ or foundational_skills/")]
        return result
    if type(version) is not int or version not in VERSIONS:
        result.needs = [Need(FIX, f"set `version:` to one of {', '.join(map(str, VERSIONS))} (it is {version!r})")]
        return result
    result.from_version = version
    flat = kind == "knowledge" and version < LATEST and _flat(parsed.data)
    checked = parsed  # what the needs are read from, placed as the file on disk is
    if version != LATEST:
        assert parsed.text is not None  # a file that parsed was read
        text = _edited_text(parsed, kind, version) or _round_tripped_text(parsed.text, kind, version)
        upgraded = parse_text(text, str(path), settings)
        if upgraded.ok and not flat and not schema_findings(upgraded, kind, LATEST):
            atomic_write_text(path, text)
            result.written = True
            checked = upgraded
        else:
            checked = _upgraded_view(parsed, kind, version)
    _attribution_default(result, kind, checked.data, settings, accept_defaults)
    found, _ = check_parsed(checked, path, settings, latest=True)
    found += name_findings(str(path), os.path.abspath(path).split(os.sep))  # a folder to rename (P051)
    result.needs = _needs(found, checked, flat, schema_at(kind, LATEST, ("seed_examples",))[0].get("minItems", 0))
    return result


def _upgraded_view(parsed: Parsed, kind: str, version: int) -> Parsed:
    """The file as the upgrade would make it, with the places it has now: the needs of a file
    left unwritten point at its lines, not at those of an upgrade nobody sees."""
    renames = _renames(kind, version, parsed.data)

    def moved(path: NodePath) -> NodePath:
        return (renames[path[0]], *path[1:]) if path and path[0] in renames else path

    data = {"version": LATEST} | {
        renames.get(key, key): value for key, value in parsed.data.items() if key != "version"
    }
    return replace(
        parsed,
        data=data,
        positions={moved(path): place for path, place in parsed.positions.items()},
        key_positions={moved(path): place for path, place in parsed.key_positions.items()},
    )


def _fix(f: Finding, prefix: bool = False) -> Need:
    where = f"fix line {f.line}, column {f.column}: " if prefix else ""
    return Need(FIX, f"{where}{f.message}", f.line, f.column, f.rule)


def _needs(found: list[Finding], parsed: Parsed, flat: bool, minimum_seeds: int) -> list[Need]:
    """The errors of the upgraded file as needs, in place order; the count of seeds to add
    from the schema's minimum. Outdated-version findings are migrate's own business."""
    seeds_at = parsed.position(("seed_examples",), key=True)
    needs = [Need(CONTEXTS, FLAT_KNOWLEDGE_NEEDS, *seeds_at)] if flat else []
    for f in sorted(found, key=lambda f: (f.line, f.column, f.rule)):
        if f.severity != ERROR or f.rule == "S008" or (f.rule == "S001" and "`version`" in f.message):
            continue
        if f.rule == "S004" and (f.line, f.column) == seeds_at:
            if flat:
                continue
            count = minimum_seeds - len(parsed.data.get("seed_examples") or [])
            needs.append(Need(SEEDS, f.message, f.line, f.column, f.rule, max(count, 0)))
        elif flat and "seed_examples" in f.message:
            continue  # the contexts a person writes replace these seeds whole
        elif f.rule == "P040":
            needs.append(Need(ATTRIBUTION, f.message, f.line, f.column, f.rule))
        elif f.rule == "P041":
            needs.append(Need(LICENSE, f.message, f.line, f.column, f.rule))
        else:
            needs.append(_fix(f))
    return needs


def default_attribution(leaf: str, created_by: str, license_id: str) -> str:
    """attribution.txt of content written for the repository itself, under its license."""
    return (
        f"Title of work: {leaf}\n"
        "Link to work: this repository (content written for it)\n"
        f"License of the work: {license_id}\n"
        f"Creator names: {created_by or 'the contributors of this repository'}\n"
        "Source of this file: [validate] repository_license of taxon.toml, written by taxon migrate --accept-defaults\n"
    )


def _attribution_default(result: Migration, kind: str, data: Any, settings: ValidateSettings, accept: bool) -> None:
    folder = result.path.parent
    leaf = leaf_id(Path(os.path.abspath(result.path)))
    if (folder / ATTRIBUTION_NAME).exists() or (folder / ATTRIBUTION_NAME).is_symlink():
        return
    if not settings.require_attribution or not covered_by_repository_license(leaf, settings):
        return
    created_by = data.get("created_by") if isinstance(data, dict) else None
    created_by = created_by if isinstance(created_by, str) else ""
    what = f"{ATTRIBUTION_NAME} naming {settings.repository_license} ([validate] repository_license)"
    if accept:
        atomic_write_text(folder / ATTRIBUTION_NAME, default_attribution(leaf, created_by, settings.repository_license))
        result.defaults.append(what)
    else:
        result.offered.append(what)


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


def migrate_paths(
    paths: list[Path], settings: ValidateSettings = ValidateSettings(), accept_defaults: bool = False
) -> list[Migration]:
    from taxon.validate.engine import collect_targets

    return [migrate_file(target.path, settings, accept_defaults) for target in collect_targets(paths)]


REPORT_COLUMNS = ("file", "migrate did", "seeds to add", "attribution", "license", "also to fix", "check again")


def report_rows(results: list[Migration]) -> list[tuple[str, ...]]:
    """One row per file, the cells of REPORT_COLUMNS."""
    rows: list[tuple[str, ...]] = []
    for result in results:
        by_what: dict[str, list[Need]] = {}
        for need in result.needs:
            by_what.setdefault(need.what, []).append(need)
        did = {
            "upgraded": f"{result.from_version} → {LATEST}",
            "current": f"nothing (version {LATEST})",
            "waits": f"{result.from_version} → {LATEST} once it passes the schema",
            "blocked": "nothing",
        }[result.action]
        seeds = str(sum(need.count for need in by_what.get(SEEDS, [])) or "")
        if CONTEXTS in by_what:
            seeds = "contexts: at least 5 passages with 3 questions each"
        attribution = ""
        if result.defaults:
            attribution = "written: " + "; ".join(result.defaults)
        elif ATTRIBUTION in by_what:
            attribution = f"add {ATTRIBUTION_NAME}"
            if result.offered:
                attribution += ", or accept the default: " + "; ".join(result.offered)
        license_cell = "; ".join(need.message.split(" (")[0] for need in by_what.get(LICENSE, []))
        fixes = "; ".join(
            f"line {need.line}: {need.rule} {need.message}".replace(" : ", ": ") for need in by_what.get(FIX, [])
        )
        check = "" if not result.needs else result.check_command
        rows.append((str(result.path), did, seeds, attribution, license_cell, fixes, check))
    return rows


def report_markdown(results: list[Migration]) -> str:
    """The report as one Markdown table (a checklist to paste into an issue), then the summary."""

    def cell(text: str, code: bool = False) -> str:
        text = text.replace("|", "\\|").replace("\n", " ")
        return f"`{text}`" if code and text else text

    lines = ["| " + " | ".join(REPORT_COLUMNS) + " |", "|" + " --- |" * len(REPORT_COLUMNS)]
    for row in report_rows(results):
        cells = [cell(row[0], code=True), *map(cell, row[1:-1]), cell(row[-1], code=True)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n" + summary(results) + "\n"


def report_json(results: list[Migration]) -> str:
    import json

    return json.dumps({"files": [r.to_json() for r in results], "summary": summary(results)}, indent=2) + "\n"


def summary(results: list[Migration]) -> str:
    """What migrate did and what is left, counted over the files."""
    actions = {
        action: sum(r.action == action for r in results) for action in ("upgraded", "current", "waits", "blocked")
    }
    ready = sum(not r.needs for r in results)

    def files_with(what: str) -> list[Migration]:
        return [r for r in results if any(need.what == what for need in r.needs)]

    left = []
    seeds = files_with(SEEDS)
    if seeds:
        count = sum(need.count for r in seeds for need in r.needs if need.what == SEEDS)
        left.append(f"add {count} seed examples to {len(seeds)} files")
    if files_with(CONTEXTS):
        left.append(f"write contexts for the knowledge files of version 1-2 ({len(files_with(CONTEXTS))})")
    attribution = files_with(ATTRIBUTION)
    if attribution:
        offered = sum(bool(r.offered) for r in attribution)
        accept = f" ({offered} can accept the default: taxon migrate --accept-defaults)" if offered else ""
        left.append(f"add {ATTRIBUTION_NAME} to {len(attribution)} files{accept}")
    written = sum(bool(r.defaults) for r in results)
    if files_with(LICENSE):
        left.append(f"settle the license of {len(files_with(LICENSE))} files")
    fixes = files_with(FIX)
    if fixes:
        count = sum(need.what == FIX for r in fixes for need in r.needs)
        left.append(f"fix {count} other findings in {len(fixes)} files")
    parts = [
        f"{len(results)} files: {actions['upgraded']} upgraded to version {LATEST}, {actions['current']} already at it, "
        f"{actions['waits']} waiting for a person, {actions['blocked']} blocked",
    ]
    if written:
        parts.append(f"defaults written for {written} files")
    parts.append(f"{ready} ready (they pass taxon validate --latest)")
    text = "; ".join(parts) + "."
    return text + (" A person must: " + "; ".join(left) + "." if left else "")
