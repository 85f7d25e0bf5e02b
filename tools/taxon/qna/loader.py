"""Safe loading of qna.yaml files, in bounded time and memory, before anything else looks at them.

The file is refused unread when it is a symlink or over the size cap; its bytes must be strict
UTF-8 without control or bidi characters. Then PyYAML's parser (the C one where available) is
driven event by event and the data is built here, so anchors, aliases, tags, a second document
or deep nesting are rejected before anything is composed: a billion-laughs file stops at its
first anchor, and no constructor that could run code is ever reached. Every problem is a
Finding with a line and column; the data comes with a map from each node's path to its place.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn

import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode

from taxon.core.characters import HiddenRun, describe, hidden_runs, may_hide
from taxon.core.errors import TaxonError
from taxon.core.findings import ERROR, Finding
from taxon.core.rules import finding
from taxon.core.settings import ValidateSettings

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_STR_TAG = "tag:yaml.org,2002:str"

_CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff"
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL_OR_BIDI = re.compile(f"[{_CONTROL}{_BIDI}]")
_IS_BIDI = re.compile(f"[{_BIDI}]")
_VISIBLE_ASCII = bytes([0x09, 0x0A, 0x0D, *range(0x20, 0x7F)])  # tab, line breaks and the printable


def _plain_ascii(text: str) -> bool:
    """ASCII without control characters: nothing in it is a control, bidi or hidden character
    (every one of those is outside ASCII), so the scans for them can be skipped. 1,954 of the
    2,000 files of bench/validate.py's tree are such text (12 M characters: deleting the
    visible bytes takes a sixth of a regular expression's search for the others)."""
    return text.isascii() and not text.encode("ascii").translate(None, _VISIBLE_ASCII)


_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)

NodePath = tuple[str | int, ...]  # a node's place in the data: keys and list indexes from the root


@dataclass
class Parsed:
    """One file after safe loading. `data` is None when it could not be read safely."""

    path: str
    text: str | None = None
    data: Any = None
    positions: dict[NodePath, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[NodePath, tuple[int, int]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return isinstance(self.data, dict)

    def position(self, node_path: NodePath, key: bool = False) -> tuple[int, int]:
        """Line and column of a node (or of its key), else of its nearest ancestor."""
        node_path = tuple(node_path)
        if key and node_path in self.key_positions:
            return self.key_positions[node_path]
        while node_path and node_path not in self.positions:
            node_path = node_path[:-1]
        return self.positions.get(node_path, (1, 1))


class _Stop(Exception):
    """A fatal finding: reading stops here."""


def line_column(text: str, offset: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def read_qna(path: Path, settings: ValidateSettings = ValidateSettings(), display: str | None = None) -> Parsed:
    """Read one file safely: never raises for anything in the file, returns findings instead."""
    parsed = Parsed(display or str(path))
    try:
        raw = _read_bytes(Path(path), parsed, settings.max_file_bytes)
        parsed.text = _decode(raw, parsed)
    except _Stop:
        return parsed
    return _parse(parsed, settings)


def parse_text(text: str, display: str, settings: ValidateSettings = ValidateSettings()) -> Parsed:
    """Safe loading of text already in memory (e.g. a migrated file before it is written)."""
    return _parse(Parsed(display, text), settings)


def _parse(parsed: Parsed, settings: ValidateSettings) -> Parsed:
    try:
        _check_characters(parsed.text or "", parsed, settings.max_findings_per_rule)
        _compose(parsed, settings.max_depth)
    except _Stop:
        parsed.data = None
    if parsed.data is None and not parsed.findings:
        parsed.findings.append(finding(parsed.path, 1, 1, "Y013", "the file is empty: write the leaf's keys"))
    elif parsed.data is not None and not isinstance(parsed.data, dict):
        parsed.findings.append(
            finding(
                parsed.path, 1, 1, "Y013", "the file must be a mapping of keys such as created_by and seed_examples"
            )
        )
    return parsed


def _stop(parsed: Parsed, line: int, column: int, code: str, message: str) -> NoReturn:
    parsed.findings.append(finding(parsed.path, line, column, code, message))
    raise _Stop


def _read_bytes(path: Path, parsed: Parsed, max_bytes: int) -> bytes:
    try:
        info = os.lstat(path)
    except OSError as error:
        _stop(parsed, 1, 1, "Y012", f"cannot read the file: {error.strerror or error}")
    if stat.S_ISLNK(info.st_mode):
        _stop(parsed, 1, 1, "Y011", "this is a symbolic link: replace it with the file itself")
    if not stat.S_ISREG(info.st_mode):
        _stop(parsed, 1, 1, "Y012", "not a regular file: a leaf's qna.yaml must be a plain file")
    if info.st_size > max_bytes:
        _stop(parsed, 1, 1, "Y002", f"the file has {info.st_size} bytes, over the cap of {max_bytes}: split the leaf")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            # read(max_bytes + 1) would allocate the cap whole (1 MB for a 6 kB file)
            size = min(os.fstat(fd).st_size, max_bytes)
            raw = handle.read(size + 1)
            if len(raw) > size:  # grown since it was measured: read on, to one byte past the cap
                raw += handle.read(max_bytes - size)
    except OSError as error:
        _stop(parsed, 1, 1, "Y012", f"cannot read the file: {error.strerror or error}")
    if len(raw) > max_bytes:
        _stop(parsed, 1, 1, "Y002", f"the file is over the cap of {max_bytes} bytes: split the leaf")
    return raw


def _decode(raw: bytes, parsed: Parsed) -> str:
    for bom, name in _BOMS:
        if raw.startswith(bom):
            _stop(parsed, 1, 1, "Y003", f"the file is {name} (byte-order mark found): save it as UTF-8 without a BOM")
    if raw.startswith(codecs.BOM_UTF8):
        parsed.findings.append(finding(parsed.path, 1, 1, "Y003", "remove the UTF-8 byte-order mark at the start"))
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        good = raw[: error.start].decode("utf-8")
        line, column = line_column(good, len(good))
        _stop(parsed, line, column, "Y003", f"byte 0x{raw[error.start]:02x} is not valid UTF-8: save the file as UTF-8")


def _control_message(char: str) -> tuple[str, str]:
    if _IS_BIDI.match(char):
        return "Y005", f"bidirectional control character U+{ord(char):04X}: remove it (text must read as stored)"
    return "Y004", f"control character U+{ord(char):04X}: remove it"


def _hidden_message(run: HiddenRun) -> str:
    return f"invisible characters {run.summary()}: remove them (reviewers cannot see them)"


def _own_runs(text: str) -> Iterator[HiddenRun]:
    """Runs of hidden characters that are not control or bidi characters only (Y004, Y005)."""
    return (run for run in hidden_runs(text) if not all(_CONTROL_OR_BIDI.match(char) for char in run.text))


def _check_characters(text: str, parsed: Parsed, cap: int) -> None:
    """Y004 / Y005 for each control or bidi character, Y015 for each run of characters a
    reviewer cannot see (taxon.core.characters): the first `cap` of each at their line and
    column, the last one shown counting the rest."""
    if _plain_ascii(text):
        return
    counts: dict[str, int] = {}
    for match in _CONTROL_OR_BIDI.finditer(text):
        code, message = _control_message(match.group())
        counts[code] = counts.get(code, 0) + 1
        if counts[code] <= cap:
            parsed.findings.append(finding(parsed.path, *line_column(text, match.start()), code, message))
        elif min(counts.get("Y004", 0), counts.get("Y005", 0)) > cap or (len(counts) == 1 and counts[code] > 2 * cap):
            break  # enough said; a file full of them is not scanned to the end
    if "Y004" in counts:
        raise _Stop  # the YAML parser would refuse them anyway, with a less useful message
    shown: list[Finding] = []
    more = hidden = 0
    for run in _own_runs(text):
        if len(shown) < cap:
            shown.append(finding(parsed.path, *line_column(text, run.start), "Y015", _hidden_message(run)))
        else:
            more += 1
        hidden += len(run.text)
    if more:
        last = shown[-1]
        shown[-1] = replace(
            last, message=f"{last.message}; {more} more runs after this one ({hidden} characters in all)"
        )
    parsed.findings += shown


def _check_escaped(value: str, event: Event, parsed: Parsed) -> None:
    """A double-quoted scalar can spell any character as an escape (\\u200b, \\U000E0041):
    its value gets the same checks. One finding per rule, at the first escape of such a
    character (not at the scalar's start, which may be lines earlier), naming every code
    point with the lines of its escapes; those written as themselves are reported where they
    stand by `_check_characters`."""
    if _plain_ascii(value):
        return
    text = parsed.text or ""
    escaped = "".join(map(_unescape, set(_ANY_ESCAPE.findall(text, event.start_mark.index + 1, event.end_mark.index))))
    if not (_CONTROL_OR_BIDI.search(escaped) or may_hide(escaped)):
        return  # no escape spells such a character (a text pasted from a PDF: thousands of \\u2019)
    bad = {match.group() for match in _CONTROL_OR_BIDI.finditer(value)}
    bad |= {char for run in _own_runs(value) for char in run.text}
    if not bad:
        return
    places: dict[str, list[int]] = {}  # character -> offsets of its escapes in the text
    for match in _escapes_of(frozenset(bad)).finditer(text, event.start_mark.index + 1, event.end_mark.index):
        escape = match.group()
        if escape == "\\\\":
            continue  # an escaped backslash: what follows it is text
        places.setdefault(_unescape(escape), []).append(match.start())
    by_rule: dict[str, list[str]] = {}
    for char in sorted(places, key=lambda c: places[c][0]):
        rule = _control_message(char)[0] if _CONTROL_OR_BIDI.match(char) else "Y015"
        by_rule.setdefault(rule, []).append(char)
    for rule, chars in by_rule.items():
        named = []
        for char in chars:
            lines = sorted({line_column(text, offset)[0] for offset in places[char]})
            shown = ", ".join(map(str, lines[:_SHOWN_LINES])) + (
                f" and {len(lines) - _SHOWN_LINES} more" if len(lines) > _SHOWN_LINES else ""
            )
            count = f" x{len(places[char])}" if len(places[char]) > 1 else ""
            named.append(f"{describe(char)}{count} (line{'s' if len(lines) > 1 else ''} {shown})")
        first = min(places[char][0] for char in chars)
        message = f"escaped {_ESCAPED_WHAT[rule]} {', '.join(named)}: remove the escapes ({_ESCAPED_WHY[rule]})"
        parsed.findings.append(finding(parsed.path, *line_column(text, first), rule, message))


# YAML's named escapes in a double-quoted scalar (besides \\xHH, \\uHHHH and \\UHHHHHHHH)
_NAMED_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "v": "\v", "f": "\f", "r": "\r", "e": "\x1b"}
_NAMED_ESCAPES |= {"N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029"}
_SHOWN_LINES = 5  # lines named per code point in one finding, then a count
_ESCAPED_WHAT = {
    "Y004": "control characters",
    "Y005": "bidirectional control characters",
    "Y015": "invisible characters",
}
_ESCAPED_WHY = {
    "Y004": "tools and reviewers mishandle them",
    "Y005": "text must read as stored",
    "Y015": "reviewers cannot see them",
}


# every escape that spells a character by its code or name, and escaped backslashes (which end no escape)
_ANY_ESCAPE = re.compile(r"\\\\|\\(?:x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|[0abtvfreN_LP])")


def _unescape(escape: str) -> str:
    """The character an escape of `_ANY_ESCAPE` spells ("" for an escaped backslash)."""
    if escape == "\\\\":
        return ""
    return chr(int(escape[2:], 16)) if escape[1] in "xuU" else _NAMED_ESCAPES[escape[1]]


@lru_cache(maxsize=64)
def _escapes_of(chars: frozenset[str]) -> re.Pattern[str]:
    """The escapes that spell these characters, and escaped backslashes (which end no escape):
    a table pasted from a PDF holds thousands of escapes, and only these are of interest."""
    named = [name for name, char in _NAMED_ESCAPES.items() if char in chars]
    codes = {ord(char) for char in chars}
    return re.compile(
        r"\\\\|\\(?:"
        + "|".join(
            [f"x(?i:{c:02x})" for c in codes if c < 0x100]
            + [f"u(?i:{c:04x})" for c in codes if c < 0x10000]
            + [f"U(?i:{c:08x})" for c in codes]
            + ([f"[{''.join(map(re.escape, named))}]"] if named else [])
        )
        + ")"
    )


def _scalar_value(event: ScalarEvent) -> Any:
    """A plain scalar resolved as YAML 1.1 would (numbers, booleans, null), others as text."""
    if not event.implicit[0]:
        return event.value
    tag = _RESOLVER.resolve(ScalarNode, event.value, (True, False))
    construct = _CONSTRUCTOR.yaml_constructors.get(tag)
    if tag == _STR_TAG or construct is None:
        return event.value
    try:
        return construct(_CONSTRUCTOR, ScalarNode(tag, event.value, event.start_mark, event.end_mark))
    except (ValueError, TypeError, ArithmeticError, yaml.YAMLError):
        return event.value  # looks like a date or number but isn't one (2024-13-45, 5000 digits)


class _Frame:
    __slots__ = ("container", "keep", "key", "path")

    def __init__(self, container: Any, path: NodePath, keep: bool):
        self.container = container
        self.path = path
        self.key: Any = _NO_KEY  # a mapping frame's key waiting for its value
        self.keep = keep  # False inside the value of a duplicate key: built, then dropped


_NO_KEY = object()
_DROP = object()


def _compose(parsed: Parsed, max_depth: int) -> None:
    loader = _Loader(parsed.text)
    try:
        _compose_events(loader, parsed, max_depth)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = " ".join(part for part in (error.context, error.problem) if part)
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        if "nesting depth" in problem:  # libyaml's own limit, met before our event-level one in flow style
            _stop(parsed, line, column, "Y009", f"nesting deeper than {max_depth} levels: flatten the data")
        _stop(parsed, line, column, "Y001", f"YAML syntax error: {problem}; fix the indentation or quoting here")
    except yaml.YAMLError as error:
        position = getattr(error, "position", 0) or 0
        text = parsed.text or ""
        _stop(parsed, *line_column(text, min(position, len(text))), "Y001", f"YAML error: {error}")
    finally:
        loader.dispose()


def _place(event: Event) -> tuple[int, int]:
    return event.start_mark.line + 1, event.start_mark.column + 1


def _compose_events(loader: Any, parsed: Parsed, max_depth: int) -> None:
    stack: list[_Frame] = []
    root: Any = None
    documents = 0
    while True:
        event = loader.get_event()
        kind = type(event)
        if kind is StreamEndEvent:
            break
        if kind is DocumentStartEvent:
            documents += 1
            if documents > 1:
                _stop(parsed, *_place(event), "Y008", "a second YAML document starts here: keep one document per file")
            continue
        if kind is MappingEndEvent or kind is SequenceEndEvent:
            stack.pop()
            continue
        if kind is AliasEvent:
            _stop(parsed, *_place(event), "Y006", f"alias *{event.anchor}: write the value out instead")
        if kind is not ScalarEvent and kind is not MappingStartEvent and kind is not SequenceStartEvent:
            continue
        if event.anchor is not None:
            _stop(parsed, *_place(event), "Y006", f"anchor &{event.anchor}: remove it and write values out")
        if event.tag is not None:
            _stop(parsed, *_place(event), "Y007", f"tag {event.tag}: remove it; plain values need no tags")
        parent = stack[-1] if stack else None
        if parent is not None and parent.key is _NO_KEY and isinstance(parent.container, dict):
            _take_key(event, parent, parsed)
            continue
        node_path, keep = _attach_point(parent)
        if kind is ScalarEvent:
            value = _scalar_value(event)
            if event.style == '"' and isinstance(value, str):
                _check_escaped(value, event, parsed)
        else:
            if len(stack) >= max_depth:
                _stop(parsed, *_place(event), "Y009", f"nesting deeper than {max_depth} levels: flatten the data")
            value = {} if kind is MappingStartEvent else []
        if keep:
            parsed.positions.setdefault(node_path, _place(event))
        if parent is None:
            root = value
        else:
            _add(parent, value)
        if kind is not ScalarEvent:
            stack.append(_Frame(value, node_path, keep))
    parsed.data = root


def _take_key(event: Event, parent: _Frame, parsed: Parsed) -> None:
    if type(event) is not ScalarEvent:
        _stop(parsed, *_place(event), "Y014", "a list or mapping used as a key: keys must be plain text")
    key = event.value
    if event.style == '"':
        _check_escaped(key, event, parsed)
    if key in parent.container:
        first = parsed.key_positions.get(parent.path + (key,))
        where = f" (first at line {first[0]})" if first else ""
        parsed.findings.append(finding(parsed.path, *_place(event), "Y010", f"duplicate key '{key}'{where}: keep one"))
        parent.key = _DROP
        return
    parent.key = key
    if parent.keep:
        parsed.key_positions[parent.path + (key,)] = _place(event)


def _attach_point(parent: _Frame | None) -> tuple[NodePath, bool]:
    if parent is None:
        return (), True
    if isinstance(parent.container, dict):
        return parent.path + (parent.key,), parent.keep and parent.key is not _DROP
    return parent.path + (len(parent.container),), parent.keep


def _add(parent: _Frame, value: Any) -> None:
    if isinstance(parent.container, dict):
        if parent.key is not _DROP:
            parent.container[parent.key] = value
        parent.key = _NO_KEY
    else:
        parent.container.append(value)


def load_qna(path: Path, settings: ValidateSettings = ValidateSettings()) -> dict[str, Any]:
    """Parsed qna.yaml as a dict, or TaxonError naming the first problem and its place."""
    parsed = read_qna(Path(path), settings)
    errors = [f for f in parsed.findings if f.severity == ERROR]
    if errors or not parsed.ok:
        first = errors[0]
        raise TaxonError(
            f"{first.message} [{first.rule}]",
            where=f"{path}:{first.line}:{first.column}",
            hint=f"run: taxon validate {path}",
        )
    data: dict[str, Any] = parsed.data
    return data
