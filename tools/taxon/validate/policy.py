"""Policy rules for one leaf, beyond what a schema can say: whitespace hygiene, word budgets,
empty values, repeated seeds, attribution and license, names, and document references."""

from __future__ import annotations

import os
import re
import stat
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taxon.core.findings import Finding
from taxon.core.rules import finding
from taxon.core.settings import DocumentsSettings, ValidateSettings
from taxon.documents.leaf import pattern_count_problem
from taxon.documents.patterns import compile_pattern, escape_problem, pattern_problem
from taxon.documents.records import DocumentProblem
from taxon.documents.sources import ListingCaps, in_tree_files
from taxon.qna.layout import ATTRIBUTION_NAME, QNA_NAME
from taxon.qna.loader import NodePath, Parsed, line_column
from taxon.qna.taxonomy import KINDS, leaf_id
from taxon.qna.text import jaccard, word_count, words
from taxon.validate.schemas import dotted, key_rule
from taxon.validate.tree import SeedKey

_TAB = re.compile(r"\t")
_TRAILING = re.compile(r"(?<![ \t])[ \t]+(?=\r?$)", re.M)  # linear: starts only where a run starts
_FOLDER_NAME = re.compile(r"^[a-z0-9_]+$")
_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
_LICENSE_LINE = re.compile(r"^[ \t]*licen[sc]e(?: of the work)?[ \t]*:[ \t]*(\S.*)$", re.I | re.M)
_LICENSE_NOISE = re.compile(r"\b(license|licence|international)\b", re.I)


@dataclass(frozen=True)
class SeedEntry:
    """One question with its answer (and context), and where the question is in the file."""

    question: str
    answer: str
    context: str | None
    path: NodePath  # of the question node
    context_path: NodePath | None = None
    context_key: str = ""  # the context, normalised
    key: SeedKey = ()  # what makes a seed the same as another: see `seed_entries`


def normal_text(text: str) -> str:
    return " ".join(text.lower().split())


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else ""


def seed_entries(data: dict[str, Any]) -> list[SeedEntry]:
    """Every question/answer pair of a file of any version, with its place. A seed's key is
    its question, within its context if it has one (grounded skills ask one question of many
    contexts)."""
    entries = []
    examples = data.get("seed_examples")
    for index, example in enumerate(examples if isinstance(examples, list) else []):
        if not isinstance(example, dict):
            continue
        base = ("seed_examples", index)
        context = example.get("context") if isinstance(example.get("context"), str) else None
        context_key = normal_text(context) if context else ""
        context_path = base + ("context",) if context is not None else None
        pairs = example.get("questions_and_answers")
        places: list[tuple[Any, tuple[Any, ...]]]
        if isinstance(pairs, list):
            places = [(pair, base + ("questions_and_answers", n, "question")) for n, pair in enumerate(pairs)]
        else:
            places = [(example, base + ("question",))]
        for pair, path in places:
            if not isinstance(pair, dict):
                continue
            question = _as_text(pair.get("question"))
            question_key = normal_text(question)
            key = (context_key, question_key) if question_key else ()
            entries.append(
                SeedEntry(question, _as_text(pair.get("answer")), context, path, context_path, context_key, key)
            )
    return entries


def _match_findings(parsed: Parsed, regex: re.Pattern[str], code: str, message: str, cap: int) -> list[Finding]:
    """A finding per match, the first `cap` of them placed, the rest counted in the last one."""
    text = parsed.text or ""
    found: list[Finding] = []
    extra = 0
    for match in regex.finditer(text):
        if len(found) < cap:
            found.append(finding(parsed.path, *line_column(text, match.start()), code, message))
        else:
            extra += 1
    if extra:
        last = found[-1]
        found[-1] = finding(last.path, last.line, last.column, code, f"{message} (and {extra} more lines like this)")
    return found


def whitespace_findings(parsed: Parsed, cap: int) -> list[Finding]:
    text = parsed.text or ""
    found: list[Finding] = []
    if "\t" in text:
        found += _match_findings(parsed, _TAB, "P001", "tab character: use spaces", cap)
    if " \n" in text or " \r" in text or text.endswith((" ", "\t")):  # the scan only when it can find something
        found += _match_findings(parsed, _TRAILING, "P002", "trailing whitespace: remove it", cap)
    if text and not text.endswith("\n"):
        found.append(
            finding(parsed.path, *line_column(text, len(text)), "P003", "add a newline at the end of the file")
        )
    elif text.endswith("\n\n") or text.endswith("\n\r\n"):
        end = len(text.rstrip("\r\n")) + 1
        found.append(
            finding(parsed.path, *line_column(text, end), "P003", "remove the blank lines at the end of the file")
        )
    return found


def _strings(value: object, path: NodePath = ()) -> Iterator[tuple[NodePath, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, path + (index,))


def empty_findings(parsed: Parsed, kind: str, version: int) -> list[Finding]:
    """P020 for each empty text; a key the schema requires is never to be removed, so its
    finding says what the schema wants written there instead."""
    found = []
    for path, text in _strings(parsed.data):
        if text.strip():
            continue
        required, description = key_rule(kind, version, path)
        if required:
            wanted = description or "the text"
            change = f"write {wanted} (version {version} requires the key)"
        else:
            change = "write the text or remove the key"
        found.append(finding(parsed.path, *parsed.position(path), "P020", f"`{dotted(path)}` is empty: {change}"))
    return found


def _context_words(entry: SeedEntry) -> int:
    """The words of a seed's context, as `word_count` counts them, from its normalised form
    (the same words joined by single spaces): no second split of a long text."""
    return entry.context_key.count(" ") + 1 if entry.context_key else 0


def budget_findings(parsed: Parsed, kind: str, entries: list[SeedEntry], settings: ValidateSettings) -> list[Finding]:
    found = []
    if kind == "knowledge":
        seen_contexts = set()
        for entry in entries:
            if entry.context_path and entry.context_path not in seen_contexts:
                seen_contexts.add(entry.context_path)
                count, limit = _context_words(entry), settings.context_words
                if count > limit:
                    found.append(
                        finding(
                            parsed.path,
                            *parsed.position(entry.context_path),
                            "P010",
                            f"this context has {count} words, over {limit}: shorten it or split it in two",
                        )
                    )
            count, limit = word_count(entry.question) + word_count(entry.answer), settings.qa_words
            if count > limit:
                found.append(
                    finding(
                        parsed.path,
                        *parsed.position(entry.path),
                        "P011",
                        f"this question and its answer have {count} words, over {limit}: shorten them",
                    )
                )
    else:
        # a context several seeds share (InstructLab's grounded skills repeat one per seed) counts once
        contexts = {entry.context_key: entry for entry in entries if entry.context_key}
        total = sum(word_count(e.question) + word_count(e.answer) for e in entries) + sum(
            map(_context_words, contexts.values())
        )
        limit = settings.skill_words
        if total > limit:
            found.append(
                finding(
                    parsed.path,
                    *parsed.position(("seed_examples",), key=True),
                    "P012",
                    f"the seed examples have {total} words in all, over {limit}: shorten or drop some",
                )
            )
    return found


def duplicate_findings(parsed: Parsed, entries: list[SeedEntry], settings: ValidateSettings) -> list[Finding]:
    """Exact repeats (P030), then near repeats (P031): seeds of the same context whose
    question-and-answer words nearly coincide."""
    found = []
    first_of: dict[SeedKey, SeedEntry] = {}
    kept: dict[str, list[tuple[SeedEntry, frozenset[str]]]] = {}
    per_context = Counter(entry.context_key for entry in entries if entry.key)
    for entry in entries:
        key = entry.key
        if not key:
            continue
        place = parsed.position(entry.path)
        if key in first_of:
            line = parsed.position(first_of[key].path)[0]
            found.append(
                finding(
                    parsed.path,
                    *place,
                    "P030",
                    f"this question repeats the one at line {line}: remove it or ask something else",
                )
            )
            continue
        first_of[key] = entry
        if len(entries) > settings.near_duplicate_max_seeds:
            continue  # pairwise comparison grows with the square; the schema caps seeds anyway
        if per_context[entry.context_key] == 1:
            continue  # alone in its context (a grounded skill's seed): nothing to be near
        bag = frozenset(words(f"{entry.question} {entry.answer}"))
        same_context = kept.setdefault(entry.context_key, [])
        for other, other_bag in same_context:
            if bag and other_bag and jaccard(bag, other_bag) >= settings.near_duplicate:
                line = parsed.position(other.path)[0]
                found.append(
                    finding(
                        parsed.path,
                        *place,
                        "P031",
                        f"this seed nearly repeats the one at line {line}: vary it or remove one",
                    )
                )
                break
        same_context.append((entry, bag))
    return found


def kind_segment_index(parts: tuple[str, ...]) -> int | None:
    for index in range(len(parts) - 1, -1, -1):
        if parts[index] in KINDS:
            return index
    return None


def kind_and_folders(parts: list[str]) -> tuple[str | None, list[str]]:
    """From an absolute file path's parts: its kind and the folder names below the kind folder."""
    index = kind_segment_index(tuple(parts[:-1]))
    return (None, []) if index is None else (parts[index], parts[index + 1 : -1])


def name_findings(display: str, parts: list[str]) -> list[Finding]:
    found = []
    if parts[-1] != QNA_NAME:
        found.append(finding(display, 1, 1, "P050", f"rename '{parts[-1]}' to '{QNA_NAME}'"))
    kind, folders = kind_and_folders(parts)
    if kind is None:
        found.append(
            finding(
                display,
                1,
                1,
                "P052",
                f"move the leaf under one of the folders {', '.join(KINDS)}; its kind comes from the path",
            )
        )
    for name in folders:
        if not _FOLDER_NAME.match(name):
            suggestion = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_") or "leaf"
            found.append(
                finding(
                    display,
                    1,
                    1,
                    "P051",
                    f"folder '{name}': use lowercase letters, digits and underscores, e.g. '{suggestion}'",
                )
            )
    return found


def normal_license(name: str) -> str:
    return "-".join(_LICENSE_NOISE.sub(" ", name).split()).lower()


def covered_by_repository_license(leaf_id: str, settings: ValidateSettings) -> bool:
    """Whether [validate] repository_license covers a leaf (content written for the
    repository itself, under one of repository_license_folders): its default attribution."""
    folders = [folder.strip("/") for folder in settings.repository_license_folders]
    return bool(settings.repository_license) and any(
        leaf_id == folder or leaf_id.startswith(f"{folder}/") for folder in folders
    )


def attribution_findings(display: str, folder: Path, settings: ValidateSettings) -> list[Finding]:
    path = os.path.join(folder, ATTRIBUTION_NAME)
    allowed = settings.licenses
    allowed_text = ", ".join(allowed)
    try:
        info = os.lstat(path)
        size = info.st_size if stat.S_ISREG(info.st_mode) else -1
    except OSError:
        size = -1
    if size < 0:  # missing, or not a regular file (a symbolic link is T003's)
        if not settings.require_attribution:
            return []
        default = ""
        if settings.repository_license and covered_by_repository_license(leaf_id(folder / QNA_NAME), settings):
            default = (
                f", or accept the default ([validate] repository_license, {settings.repository_license}): "
                "taxon migrate --accept-defaults writes it"
            )
        return [
            finding(
                display,
                1,
                1,
                "P040",
                f"add {ATTRIBUTION_NAME} beside the qna.yaml: title, link, 'License of the work: <SPDX id>' "
                f"({allowed_text}), creator names{default}",
            )
        ]
    with open(path, "rb") as handle:  # read at its size: read(max_file_bytes) would allocate the cap whole
        text = handle.read(min(size, settings.max_file_bytes)).decode("utf-8", errors="replace")
    allowed_by_normal = {normal_license(name): name for name in allowed}
    named = [name.strip() for name in _LICENSE_LINE.findall(text)]
    if not named:
        if any(re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text, re.I) for name in allowed):
            return []
        return [
            finding(
                display,
                1,
                1,
                "P041",
                f"{ATTRIBUTION_NAME} names no license: add a line 'License of the work: <SPDX id>', one of "
                f"[validate] licenses ({allowed_text})",
            )
        ]
    return [
        finding(
            display,
            1,
            1,
            "P041",
            f"{ATTRIBUTION_NAME} names the license '{name}', which is not in [validate] licenses of taxon.toml "
            f"({allowed_text}): use content under one of them, or add the license there if the project accepts it",
        )
        for name in dict.fromkeys(named)
        if normal_license(name) not in allowed_by_normal
    ]


_OVER_CAPS: list[str] = []  # a leaf folder past the listing caps: its patterns are not matched


def _listed_names(parsed: Parsed, folder: Path, caps: DocumentsSettings, found: list[Finding]) -> list[str]:
    """The names of a leaf folder's own files, for in-tree patterns; past the listing caps,
    D018 (once, at the patterns) and _OVER_CAPS."""
    try:
        listing = in_tree_files(folder, ListingCaps(caps.max_listed_files, caps.max_depth))
    except DocumentProblem as over:
        place = parsed.position(("document", "patterns"))
        found.append(finding(parsed.path, *place, over.problem.rule, over.problem.message))
        return _OVER_CAPS
    return [file.name for file in listing if file.link is None]


def document_findings(parsed: Parsed, folder: Path) -> list[Finding]:
    document = parsed.data.get("document")
    if not isinstance(document, dict):
        return []
    found = []
    repo, commit, patterns = document.get("repo"), document.get("commit"), document.get("patterns")
    if isinstance(repo, str) and not repo.startswith("https://"):
        found.append(
            finding(
                parsed.path,
                *parsed.position(("document", "repo")),
                "P060",
                f"document repo '{repo[:80]}' is not https: use its https:// URL",
            )
        )
    if commit is not None and not (isinstance(commit, str) and _FULL_SHA.match(commit)):
        found.append(
            finding(
                parsed.path,
                *parsed.position(("document", "commit")),
                "P061",
                f"commit '{str(commit)[:80]}' is not a full SHA: write all 40 hex digits (git rev-parse)",
            )
        )
    in_tree = repo is None and commit is None
    caps = DocumentsSettings()  # the schema's caps: the policy rules read no config
    patterns = patterns if isinstance(patterns, list) else []
    too_many = pattern_count_problem(len(patterns), caps.max_patterns)
    if too_many:
        found.append(finding(parsed.path, *parsed.position(("document", "patterns")), too_many.rule, too_many.message))
        return found
    names: list[str] | None = None  # the leaf's own files, listed once, for in-tree patterns
    for index, pattern in enumerate(patterns):
        if not isinstance(pattern, str) or not pattern.strip():
            continue
        place = parsed.position(("document", "patterns", index))
        escape = escape_problem(pattern)
        refused = None if escape else pattern_problem(pattern)
        if escape:
            found.append(finding(parsed.path, *place, "P062", f"pattern '{pattern[:80]}' {escape}"))
        elif refused:
            found.append(finding(parsed.path, *place, "P064", f"pattern '{pattern[:80]}' {refused}"))
        elif in_tree:
            if names is None:
                names = _listed_names(parsed, folder, caps, found)
            if names is _OVER_CAPS or any(compile_pattern(pattern).matches(name) for name in names):
                continue
            found.append(
                finding(
                    parsed.path,
                    *place,
                    "P063",
                    f"pattern '{pattern[:80]}' matches no file in {folder}: add the document beside the qna.yaml",
                )
            )
    return found
