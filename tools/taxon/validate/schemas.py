"""The versioned JSON Schemas in `schema/v<N>/<kind>.json`, read as data, and their errors as
findings placed on the offending node, with messages that say what to change. The files are
draft 2020-12 JSON Schema (tests check them with jsonschema); `taxon validate` checks data
with the small `checker` to start fast."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from taxon.core.errors import TaxonError
from taxon.core.findings import Finding
from taxon.core.rules import finding
from taxon.core.shipped import shipped_path
from taxon.qna.loader import Parsed
from taxon.validate.checker import Checker

VERSIONS = (1, 2, 3, 4)
LATEST = VERSIONS[-1]


def schema_dir() -> Path:
    """schema/ of the repository (or of the wheel); TAXON_SCHEMA_DIR overrides it."""
    override = os.environ.get("TAXON_SCHEMA_DIR")
    return Path(override) if override else shipped_path("schema")


def schema_files() -> list[Path]:
    return sorted(schema_dir().glob("v*/*.json"))


@cache
def validator(version: int, kind: str) -> Checker:
    """The checker for one kind at one version; `$ref`s resolve within the version's folder."""
    folder = schema_dir() / f"v{version}"
    resources = {path.name: json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))}
    if f"{kind}.json" not in resources:
        raise TaxonError(
            f"no schema for {kind} at version {version}",
            where=str(folder),
            hint="TAXON_SCHEMA_DIR names another folder; unset it, or reinstall taxon (its schema/ is missing)",
        )
    return Checker(resources[f"{kind}.json"], resources)


def schema_at(kind: str, version: int, path: tuple[str | int, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The schema of the node at `path` (keys and list indexes from the root) for `kind` at
    `version`, and that of its parent ({} for the root); {} for a node the schema doesn't know."""
    checker = validator(version, kind)
    schema, document = checker.schema, checker.schema
    parent: dict[str, Any] = {}
    for part in path:
        while "$ref" in schema:
            schema, document = checker.resolve(schema["$ref"], document)
        parent = schema
        following = schema.get("items" if isinstance(part, int) else "properties", {})
        schema = following if isinstance(part, int) else following.get(part, {})
    while "$ref" in schema:
        schema, document = checker.resolve(schema["$ref"], document)
    return schema, parent


def key_rule(kind: str, version: int, path: tuple[str | int, ...]) -> tuple[bool, str]:
    """Whether the schema requires the key at `path`, and its description ("" where none)."""
    schema, parent = schema_at(kind, version, path)
    required = bool(path) and isinstance(path[-1], str) and path[-1] in parent.get("required", ())
    description: str = schema.get("description", "")
    return required, description


def declared_version(data: dict[str, Any]) -> Any:
    """The file's `version` (files of version 1 usually leave it out)."""
    return data.get("version", 1)


def schema_findings(parsed: Parsed, kind: str, version: int, declared: Any = None) -> list[Finding]:
    """Findings of one parsed file against the schema of `kind` at `version`. When the file
    declares an older version than the one checked (--latest), one S008 says to migrate."""
    findings = []
    declared = version if declared is None else declared
    if declared != version:
        findings.append(
            finding(
                parsed.path,
                *parsed.position(("version",)),
                "S008",
                f"version {declared} is outdated: new and changed leaves use version {version}; "
                f"run `taxon migrate {parsed.path}` (it also says what a person must add)",
            )
        )
    reported: set[Any] = set()
    for error in validator(version, kind).iter_errors(parsed.data):
        path = tuple(error.absolute_path)
        if path == ("version",) and declared != version:
            continue
        key = (path, error.validator)
        if key in reported:
            continue  # one finding per node and rule: e.g. all missing keys in one go
        reported.add(key)
        findings.extend(_findings_of(error, path, parsed, version))
    return sorted(findings, key=lambda f: (f.line, f.column, f.rule))


def dotted(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


_TYPE_WORDS = {"string": "text", "array": "a list", "object": "a mapping of keys", "integer": "a whole number"}


def _type_word(value: Any) -> str:
    names = {str: "text", bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "a mapping"}
    return names.get(type(value), type(value).__name__)


def _findings_of(error: Any, path: tuple[Any, ...], parsed: Parsed, version: int) -> list[Finding]:
    where = f"`{dotted(path)}`" if path else "the file"
    instance, rule, expected = error.instance, error.validator, error.validator_value
    # a list, mapping or empty value is shown by its key: its own start may be on a later line
    place = parsed.position(path, key=instance is None or isinstance(instance, (list, dict)))
    description = error.schema.get("description", "") if isinstance(error.schema, dict) else ""
    if rule == "required":
        missing = [name for name in expected if name not in instance]
        return [
            finding(parsed.path, *place, "S001", f"add the key `{name}` to {where} (required at version {version})")
            for name in missing
        ]
    if rule == "dependentRequired":
        missing = [need for key, needs in expected.items() if key in instance for need in needs if need not in instance]
        return [finding(parsed.path, *place, "S001", f"add `{name}` to {where}: {description}") for name in missing]
    if rule == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        return [
            finding(
                parsed.path,
                *parsed.position(path + (name,), key=True),
                "S002",
                f"unknown key `{name}` in {where}: remove it or fix its spelling (allowed: {', '.join(allowed)})",
            )
            for name in instance
            if name not in allowed
        ]
    if rule == "type":
        wanted = _TYPE_WORDS.get(expected, expected)
        if instance is None:
            return [finding(parsed.path, *place, "S003", f"{where} is empty: write {wanted} there")]
        hint = " (put it in quotes)" if expected == "string" and not isinstance(instance, (list, dict)) else ""
        return [finding(parsed.path, *place, "S003", f"{where} must be {wanted}, not {_type_word(instance)}{hint}")]
    if rule in ("minItems", "maxItems"):
        count = len(instance)
        change = f"add {expected - count} more" if rule == "minItems" else f"remove {count - expected}"
        bound = "at least" if rule == "minItems" else "at most"
        return [finding(parsed.path, *place, "S004", f"{where} has {count} items, {bound} {expected} needed: {change}")]
    if rule in ("maxLength", "minLength"):
        return [
            finding(
                parsed.path, *place, "S005", f"{where} has {len(instance)} characters; shorten it to at most {expected}"
            )
        ]
    if rule == "uniqueItems":
        found = []
        for first, copy in _repeats(instance):
            line = parsed.position(path + (first,))[0]
            found.append(
                finding(
                    parsed.path,
                    *parsed.position(path + (copy,)),
                    "S007",
                    f"`{dotted(path + (copy,))}` repeats `{dotted(path + (first,))}` (line {line}) exactly: "
                    "remove the copy",
                )
            )
        return found
    if path == ("version",):
        return [
            finding(parsed.path, *place, "S008", f"`version: {instance!r}` does not match this schema: {description}")
        ]
    shown = repr(instance) if len(repr(instance)) <= 80 else repr(instance)[:77] + "..."
    return [finding(parsed.path, *place, "S006", f"{where} is {shown}: expected {description or error.message}")]


def _repeats(items: list[Any]) -> list[tuple[int, int]]:
    """(index of the first, index of the copy) for every item that repeats an earlier one."""
    first_of: dict[str, int] = {}
    pairs = []
    for index, item in enumerate(items):
        key = json.dumps(item, sort_keys=True, default=str)
        if key in first_of:
            pairs.append((first_of[key], index))
        else:
            first_of[key] = index
    return pairs
