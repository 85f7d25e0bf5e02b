"""A small JSON Schema (draft 2020-12) checker for the keywords our schema files use.

Why not jsonschema at run time: importing it (with referencing, rpds and attrs) costs more
than everything else `taxon validate` does for one file, and the command must start in well
under 0.3 s. The tests check every schema file against the real 2020-12 metaschema and
compare this checker's errors with jsonschema's on the corpus and on broken files, so the
two never drift; a keyword this checker doesn't know is refused when a schema is loaded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "title", "description", "$comment", "examples", "default"})


@dataclass(frozen=True)
class SchemaError:
    """One failed keyword: named like jsonschema's ValidationError attributes we read."""

    validator: str  # the keyword
    validator_value: Any
    instance: Any
    schema: dict[str, Any]
    absolute_path: tuple[Any, ...]


def _is_type(value: Any, name: str | list[Any]) -> bool:
    if isinstance(name, list):
        return any(_is_type(value, one) for one in name)
    if name == "string":
        return isinstance(value, str)
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if isinstance(value, bool):
        return False
    if name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, (int, float))
    raise ValueError(f"unknown type {name!r}")


def _canonical(value: Any) -> str:
    """Equality as JSON sees it: true is not 1, key order doesn't matter."""
    return json.dumps(value, sort_keys=True, default=str)


@lru_cache(maxsize=256)
def _pattern(text: str) -> re.Pattern[str]:
    """A schema `pattern` with JSON Schema's (ECMA-262) meaning of `$`: the end of the text
    only. Python's `$` also matches before a final newline, which would let "https://x\\n"
    through `^https://[^\\s]+$`."""
    return re.compile(ecma_anchors(text))


def ecma_anchors(pattern: str) -> str:
    """`pattern` with every `$` outside a character class and not escaped written as `\\Z`."""
    out, escaped, in_class = [], False, False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        elif char == "$" and not in_class:
            out.append("\\Z")
            continue
        out.append(char)
    return "".join(out)


class Checker:
    """Checks instances against one schema; `resources` maps file names of the same folder
    to their schemas, for `$ref: other.json` (and `#/$defs/...` within a document)."""

    def __init__(self, schema: dict[str, Any], resources: dict[str, dict[str, Any]]):
        self.schema = schema
        self.resources = resources
        for document in (schema, *resources.values()):
            _check_keywords(document)

    def iter_errors(self, instance: Any) -> Iterator[SchemaError]:
        yield from self._check(instance, self.schema, self.schema, ())

    def is_valid(self, instance: Any) -> bool:
        return next(self.iter_errors(instance), None) is None

    def resolve(self, ref: str, document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        name, _, pointer = ref.partition("#")
        if name:
            document = self.resources[name]
        target = document
        for part in filter(None, pointer.split("/")):
            target = target[part]
        return target, document

    def _check(
        self, instance: Any, schema: dict[str, Any], document: dict[str, Any], path: tuple[Any, ...]
    ) -> Iterator[SchemaError]:
        def error(keyword: str) -> SchemaError:
            return SchemaError(keyword, schema[keyword], instance, schema, path)

        if "$ref" in schema:
            target, target_document = self.resolve(schema["$ref"], document)
            yield from self._check(instance, target, target_document, path)
        if "type" in schema and not _is_type(instance, schema["type"]):
            yield error("type")
        if "const" in schema and _canonical(instance) != _canonical(schema["const"]):
            yield error("const")
        if "enum" in schema and _canonical(instance) not in {_canonical(v) for v in schema["enum"]}:
            yield error("enum")
        if isinstance(instance, str):
            if "minLength" in schema and len(instance) < schema["minLength"]:
                yield error("minLength")
            if "maxLength" in schema and len(instance) > schema["maxLength"]:
                yield error("maxLength")
            if "pattern" in schema and not _pattern(schema["pattern"]).search(instance):
                yield error("pattern")
        elif isinstance(instance, list):
            if "minItems" in schema and len(instance) < schema["minItems"]:
                yield error("minItems")
            if "maxItems" in schema and len(instance) > schema["maxItems"]:
                yield error("maxItems")
            if schema.get("uniqueItems") and len({_canonical(item) for item in instance}) < len(instance):
                yield error("uniqueItems")
            if "items" in schema:
                for index, item in enumerate(instance):
                    yield from self._check(item, schema["items"], document, path + (index,))
        elif isinstance(instance, dict):
            yield from self._check_object(instance, schema, document, path, error)

    def _check_object(
        self,
        instance: dict[str, Any],
        schema: dict[str, Any],
        document: dict[str, Any],
        path: tuple[Any, ...],
        error: Callable[..., SchemaError],
    ) -> Iterator[SchemaError]:
        if "required" in schema and any(name not in instance for name in schema["required"]):
            yield error("required")
        dependent = schema.get("dependentRequired", {})
        if any(key in instance and need not in instance for key, needs in dependent.items() for need in needs):
            yield error("dependentRequired")
        properties = schema.get("properties", {})
        for name, value in instance.items():
            if name in properties:
                yield from self._check(value, properties[name], document, path + (name,))
        extra = schema.get("additionalProperties", True)
        if extra is False and any(name not in properties for name in instance):
            yield error("additionalProperties")


_KNOWN = ANNOTATIONS | {
    "$ref",
    "type",
    "const",
    "enum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "items",
    "required",
    "dependentRequired",
    "properties",
    "additionalProperties",
}


def _check_keywords(schema: Any) -> None:
    """Refuse a schema using a keyword this checker would silently ignore."""
    if not isinstance(schema, dict):
        return
    unknown = set(schema) - _KNOWN
    if unknown:
        raise ValueError(f"schema keyword(s) not supported by taxon's checker: {', '.join(sorted(unknown))}")
    if schema.get("additionalProperties") not in (None, True, False):
        raise ValueError("additionalProperties must be true or false")
    _check_keywords(schema.get("items"))
    for group in ("properties", "$defs"):
        for sub in schema.get(group, {}).values():
            _check_keywords(sub)
