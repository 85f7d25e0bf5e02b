"""A leaf's knowledge documents: one pass that selects files by pattern, checks links, type
and size, and reads them, collecting every problem on the way. `load_leaf_documents` (for
generate) fails on any error; `check_leaf_documents` (for validate) reports them as findings."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from taxon.core.characters import hidden_runs
from taxon.core.errors import TaxonError
from taxon.core.findings import ERROR, Finding
from taxon.core.github import log_name
from taxon.core.settings import DocumentsSettings
from taxon.documents.patterns import Pattern, compile_pattern, escape_problem, pattern_problem
from taxon.documents.readers import Reader, TextLimits, reader_for
from taxon.documents.records import IN_TREE, Document, DocumentProblem, Problem
from taxon.documents.sources import ListingCaps, SourceFile, list_source, read_all, with_sizes
from taxon.qna.layout import name_problem
from taxon.qna.taxonomy import Leaf


def load_leaf_documents(leaf: Leaf, settings: DocumentsSettings) -> list[Document]:
    """The leaf's documents, in name order; TaxonError listing every error when any."""
    documents, problems = gather_documents(leaf, settings)
    errors = [problem for problem in problems if problem.severity == ERROR]
    if errors:
        raise TaxonError(
            "knowledge documents unusable:\n" + "\n".join(f"  {p.rule} {p.message}" for p in errors),
            where=str(leaf.qna_path),
            hint=f"run: taxon validate --check-documents {leaf.qna_path}",
        )
    return documents


def pattern_count_problem(count: int, cap: int) -> Problem | None:
    """D018 for more patterns than [documents] max_patterns: checked before anything is listed
    (plain `taxon validate` reports it; generate stops on it)."""
    if count <= cap:
        return None
    return Problem(
        "D018",
        f"document lists {count} patterns, over max_patterns ({cap}): "
        "name the files with fewer patterns, such as 'docs/**/*.md'",
    )


def check_leaf_documents(leaf: Leaf, settings: DocumentsSettings) -> list[Finding]:
    """Findings for `taxon validate --check-documents`, at the `document` key's line (the
    pattern count is plain validate's to report)."""
    _, problems = gather_documents(leaf, settings)
    patterns = leaf.document.patterns if leaf.document else []
    counted = pattern_count_problem(len(patterns), settings.max_patterns)
    problems = [problem for problem in problems if problem != counted]
    if not problems:
        return []
    lines = _qna_lines(leaf.qna_path)
    findings = []
    for problem in problems:
        line, column = _place(lines, problem.pattern)
        findings.append(Finding(str(leaf.qna_path), line, column, problem.rule, problem.severity, problem.message))
    return sorted(findings)


def gather_documents(leaf: Leaf, settings: DocumentsSettings) -> tuple[list[Document], list[Problem]]:
    ref = leaf.document
    if ref is None:
        return [], []
    too_many = pattern_count_problem(len(ref.patterns), settings.max_patterns)
    if too_many:
        return [], [too_many]
    problems = [problem for problem in map(_pattern_check, ref.patterns) if problem]
    refused = {problem.pattern for problem in problems}
    patterns = [pattern for pattern in ref.patterns if pattern not in refused]
    if not ref.patterns:
        problems.append(Problem("D004", "document lists no patterns: add patterns like '*.md'"))
    caps = ListingCaps(settings.max_listed_files, settings.max_depth)
    try:
        source, files = list_source(leaf.folder, ref, settings, caps)
        selected, unmatched = _select(files, patterns)
        if len(selected) > settings.max_selected_files:
            raise DocumentProblem(
                "D018",
                f"the patterns select {len(selected)} files in {_where(source)}, over max_selected_files "
                f"({settings.max_selected_files}): narrow them or split the leaf",
            )
    except DocumentProblem as error:
        return [], problems + [error.problem]
    problems += [
        Problem(
            "D004",
            f"document pattern '{pattern}' matches no file in {_where(source)}: fix or remove it",
            pattern=pattern,
        )
        for pattern in unmatched
    ]
    documents, read_problems = _read_files(selected, source, settings)
    return documents, problems + read_problems + _chunk_budget_problems(documents, settings)


CHARS_PER_TOKEN = 4  # a fair average for English text: the estimate validate can make without a tokenizer


def _chunk_budget_problems(documents: list[Document], settings: DocumentsSettings) -> list[Problem]:
    """D016 when the documents would make more chunks than [documents] max_chunks_per_leaf,
    estimated from their length (generate counts them exactly with the teacher's tokenizer):
    each chunk costs teacher calls, and one large leaf could cost a run thousands."""
    step = max(1, settings.chunk_tokens - settings.chunk_overlap)
    estimate = sum(-(-max(1, len(d.text) // CHARS_PER_TOKEN - settings.chunk_overlap) // step) for d in documents)
    if estimate <= settings.max_chunks_per_leaf:
        return []
    return [
        Problem(
            "D016",
            f"the documents would make about {estimate} chunks, over max_chunks_per_leaf "
            f"({settings.max_chunks_per_leaf}): split the leaf or narrow its patterns",
        )
    ]


def _pattern_check(pattern: str) -> Problem | None:
    """D005 for a pattern that could reach outside the leaf folder or repository, D013 for
    one over the caps of taxon.documents.patterns."""
    if not pattern.strip() or escape_problem(pattern):
        return Problem(
            "D005",
            f"document pattern '{pattern}' points outside the leaf folder or repository: "
            "write a relative pattern without '..', like 'docs/*.md'",
            pattern=pattern,
        )
    problem = pattern_problem(pattern)
    return Problem("D013", f"document pattern '{pattern}' {problem}: fix it", pattern=pattern) if problem else None


def _read_files(
    files: list[SourceFile], source: str, settings: DocumentsSettings
) -> tuple[list[Document], list[Problem]]:
    """Every check that needs no bytes first (name, links, type), then the sizes (a fetched
    commit's selected blobs are fetched for them, within max_leaf_bytes) against the caps,
    then the chosen files read together (one git process for a fetched commit) and their
    text extracted within the character caps."""
    problems: list[Problem] = []
    readable = []
    for file in files:
        try:
            readable.append((file, _reader_of(file)))
        except DocumentProblem as error:
            problems.append(error.problem)
    try:
        sized = with_sizes([file for file, _ in readable], settings.max_leaf_bytes)
    except DocumentProblem as error:
        return [], problems + [error.problem]
    chosen, total_bytes = [], 0
    for file, (_, reader) in zip(sized, readable, strict=True):
        size = file.size or 0
        if size > settings.max_file_bytes:
            problems.append(
                Problem(
                    "D007",
                    f"{file.name} has {size} bytes, over max_file_bytes ({settings.max_file_bytes}): "
                    "split it or narrow the pattern",
                )
            )
            continue
        if total_bytes + size > settings.max_leaf_bytes:
            problems.append(
                Problem(
                    "D008",
                    f"documents exceed max_leaf_bytes ({settings.max_leaf_bytes}) at {file.name}: "
                    "split the leaf or narrow its patterns",
                )
            )
            break
        chosen.append((file, reader))
        total_bytes += size
    contents = read_all([file for file, _ in chosen])
    documents: list[Document] = []
    leaf_chars = 0
    for file, reader in chosen:
        limits = TextLimits.within(settings, leaf_chars)
        try:
            data = contents[file.name]
            if isinstance(data, DocumentProblem):
                raise data
            text = reader(file.name, data, limits)
        except DocumentProblem as error:
            problems.append(error.problem)
            if error.problem.rule == "D018" and limits.cap_name == "max_leaf_chars":
                break  # the leaf's text budget is spent: the other files are not read
            continue
        leaf_chars += len(text)
        problems += _character_problems(file.name, text)
        documents.append(Document(file.name, text, source, hashlib.sha256(data).hexdigest()))
    return documents, problems


def _character_problems(name: str, text: str, limit: int = 20) -> list[Problem]:
    """D014 at each run of characters a reviewer cannot see (taxon.core.characters), the
    first `limit` of them, the last one shown counting the rest."""
    problems: list[Problem] = []
    more = hidden = 0
    line, counted_to = 1, 0
    for run in hidden_runs(text):
        hidden += len(run.text)
        if len(problems) == limit:
            more += 1
            continue
        line += text.count("\n", counted_to, run.start)
        counted_to = run.start
        column = run.start - text.rfind("\n", 0, run.start)
        problems.append(Problem("D014", f"{name}:{line}:{column}: invisible characters {run.summary()}: remove them"))
    if more:
        last = problems[-1]
        problems[-1] = Problem("D014", f"{last.message}; {more} more runs after this one ({hidden} characters in all)")
    return problems


def _select(files: list[SourceFile], patterns: list[str]) -> tuple[list[SourceFile], list[str]]:
    """Files matching any pattern, in name order, and the patterns that matched none."""
    compiled: list[Pattern] = [compile_pattern(pattern) for pattern in patterns]
    selected, used = [], set()
    for file in sorted(files, key=lambda file: file.name):
        matching = [pattern.text for pattern in compiled if pattern.matches(file.name)]
        if matching:
            selected.append(file)
            used.update(matching)
    return selected, [pattern for pattern in patterns if pattern not in used]


def _reader_of(file: SourceFile) -> Reader:
    """The reader for a file that may be read by its name: usable, not a link, a known type."""
    unusable = name_problem(file.name)
    if unusable:
        raise DocumentProblem("D017", f"{log_name(file.name)}: {unusable}")
    if file.link is not None:
        raise DocumentProblem("D006", f"{file.name} is a {file.link}, which is never followed: commit the file itself")
    return reader_for(file.name)


def _where(source: str) -> str:
    return "the leaf folder" if source == IN_TREE else source


def _qna_lines(path: Path) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


DOCUMENT_KEY = re.compile(r"document\s*:")


def _place(lines: list[str], pattern: str | None) -> tuple[int, int]:
    """Line and column of the pattern's item under the top-level `document` key (the item
    that is exactly the pattern, else the first that holds it), else of the key, else 1, 1."""
    start = next((number for number, line in enumerate(lines) if DOCUMENT_KEY.match(line)), None)
    if start is None:
        return 1, 1
    end = next(
        (
            number
            for number in range(start + 1, len(lines))
            if lines[number] and not lines[number][0].isspace() and not lines[number].startswith("-")
        ),
        len(lines),
    )
    if pattern:
        section = range(start + 1, end)
        exact = [number for number in section if _item_text(lines[number]) == pattern]
        holding = [number for number in section if pattern in lines[number]]
        for number in exact or holding:
            return number + 1, lines[number].find(pattern) + 1
    return start + 1, 1


def _item_text(line: str) -> str | None:
    """The text of a YAML list item `- value`, unquoted; None for any other line."""
    stripped = line.strip()
    if not stripped.startswith("- "):
        return None
    value = stripped[2:].strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return value
