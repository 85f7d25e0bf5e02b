"""Document patterns: globs matched against the posix names of files already listed (the
leaf folder's or a fetched commit's), never against the disk and never through a regular
expression. A pattern is split into segments; a `**` segment spans any number of folders,
`*` and `?` stay within one segment, `[...]` is a character class (`[!...]` negated).

Both levels match greedily, backtracking only to the last star, so one match costs at most
(pattern length x name length) steps whatever the pattern; the caps below keep patterns
readable and their cost small. The one owner of the pattern rules: validate (P062, P064,
P063), documents (D005, D013) and through them generate use only this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

MAX_PATTERN_CHARS = 200
MAX_WILDCARDS = 6  # '*' and '?' in all segments together, '**' segments not counted
MAX_DOUBLE_STARS = 2  # '**' segments
MAX_SEGMENTS = 12  # folders deep, the file name included

_DRIVE = re.compile(r"[A-Za-z]:")


class PatternRefused(ValueError):
    """str() says why, as the end of a sentence starting with the pattern."""


def escape_problem(pattern: str) -> str | None:
    """Why a pattern could reach outside the leaf folder or repository, or None."""
    if pattern.startswith(("/", "~")) or _DRIVE.match(pattern) or "\\" in pattern:
        return "must be relative to the leaf folder (no leading '/', '~', drive or backslash)"
    if ".." in pattern.split("/"):
        return "must not contain '..'"
    return None


@dataclass(frozen=True)
class Pattern:
    text: str
    segments: tuple[tuple[str, ...] | None, ...]  # per segment its tokens; None for '**'

    def matches(self, name: str) -> bool:
        """Does the posix path `name` (relative, '/'-separated) match the whole pattern?"""
        parts = name.split("/")
        pattern, count = self.segments, len(self.segments)
        index = position = 0
        star, star_position = -1, 0
        while position < len(parts):
            if index < count and pattern[index] is None:
                star, star_position = index, position
                index += 1
            elif index < count and _segment_matches(pattern[index] or (), parts[position]):
                index += 1
                position += 1
            elif star >= 0:
                star_position += 1
                index, position = star + 1, star_position
            else:
                return False
        return all(segment is None for segment in pattern[index:])


def compile_pattern(pattern: str) -> Pattern:
    """The pattern, checked against the caps; PatternRefused saying why otherwise."""
    if not pattern.strip():
        raise PatternRefused("is empty")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternRefused(f"is longer than {MAX_PATTERN_CHARS} characters")
    escape = escape_problem(pattern)
    if escape:
        raise PatternRefused(escape)
    parts = pattern.split("/")
    if len(parts) > MAX_SEGMENTS:
        raise PatternRefused(f"has more than {MAX_SEGMENTS} segments: name a shallower folder")
    segments: list[tuple[str, ...] | None] = []
    for part in parts:
        if part in ("", "."):
            raise PatternRefused("has an empty or '.' segment: write a file name or glob between the slashes")
        if part == "**":
            if not segments or segments[-1] is not None:  # '**/**' is one '**'
                segments.append(None)
            continue
        if "**" in part:
            raise PatternRefused("has '**' inside a segment: '**' stands alone, as in 'docs/**/*.md'")
        tokens = _tokens(part)
        segments.append(tokens)
        if any(_backwards_range(token) for token in tokens):
            raise PatternRefused("has a character range written backwards, like [z-a]: write [a-z]")
    if sum(segment is None for segment in segments) > MAX_DOUBLE_STARS:
        raise PatternRefused(f"has more than {MAX_DOUBLE_STARS} '**' segments")
    wildcards = sum(token in ("*", "?") for segment in segments if segment for token in segment)
    if wildcards > MAX_WILDCARDS:
        raise PatternRefused(f"has more than {MAX_WILDCARDS} wildcards ('*', '?'): name the files more plainly")
    if segments[-1] is None:  # 'docs/**' is every file under docs/, not a file named docs
        segments.append(("*",))
    return Pattern(pattern, tuple(segments))


def pattern_problem(pattern: str) -> str | None:
    try:
        compile_pattern(pattern)
    except PatternRefused as refusal:
        return str(refusal)
    return None


def _tokens(segment: str) -> tuple[str, ...]:
    """'*', '?', a class '[...]' (kept with its brackets) or one literal character each."""
    tokens, index = [], 0
    while index < len(segment):
        char = segment[index]
        close = segment.find("]", index + 2) if char == "[" else -1
        if close > 0:
            tokens.append(segment[index : close + 1])
            index = close + 1
        else:
            tokens.append(char if char in "*?" else "\\" + char)
            index += 1
    return tuple(tokens)


def _ranges(body: str) -> Iterator[tuple[str, str]]:
    """(low, high) of each range and single character of a class body."""
    index = 0
    while index < len(body):
        if index + 2 < len(body) and body[index + 1] == "-":
            yield body[index], body[index + 2]
            index += 3
        else:
            yield body[index], body[index]
            index += 1


def _class_body(token: str) -> tuple[str, bool]:
    body = token[1:-1]
    return (body[1:], True) if body.startswith("!") else (body, False)


def _backwards_range(token: str) -> bool:
    return token[0] == "[" and any(low > high for low, high in _ranges(_class_body(token)[0]))


def _segment_matches(tokens: tuple[str, ...], text: str) -> bool:
    index = position = 0
    star, star_position = -1, 0
    while position < len(text):
        if index < len(tokens) and tokens[index] == "*":
            star, star_position = index, position
            index += 1
        elif index < len(tokens) and _token_matches(tokens[index], text[position]):
            index += 1
            position += 1
        elif star >= 0:
            star_position += 1
            index, position = star + 1, star_position
        else:
            return False
    return all(token == "*" for token in tokens[index:])


def _token_matches(token: str, char: str) -> bool:
    if token == "?":
        return True
    if token[0] == "\\":
        return token[1] == char
    body, negated = _class_body(token)
    return any(low <= char <= high for low, high in _ranges(body)) != negated
