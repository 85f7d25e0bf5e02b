"""Validate qna.yaml files and folders: safe load, schema, policy, then tree-wide rules.

One bad file never stops the others, and every input file gets exactly one FileReport, also
one that could not be read."""

from __future__ import annotations

import gc
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from operator import attrgetter
from pathlib import Path
from typing import Any

from taxon.core.findings import ERROR, WARNING, Finding
from taxon.core.rules import finding
from taxon.core.settings import ValidateSettings
from taxon.qna.loader import Parsed, read_qna
from taxon.qna.taxonomy import Leaf, leaf_from_data
from taxon.validate import policy
from taxon.validate.files import Listing, is_qna_name, tree_file_findings, walk
from taxon.validate.schemas import LATEST, VERSIONS, declared_version, schema_findings
from taxon.validate.tree import LeafQuestions, leaf_questions, tree_findings
from taxon.validate.workers import ForkedMap

LeafCheck = Callable[[Leaf], list[Finding]]  # e.g. the documents check of --check-documents


@dataclass
class FileReport:
    path: str
    findings: list[Finding] = field(default_factory=list)

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "findings": [f.to_json() for f in self.findings]}


@dataclass
class Report:
    """`files`: one report per qna.yaml validated. `tree`: the other files found under the
    taxonomy, which belong to no leaf (T003): kept apart so that `files` counts leaves.
    `decisions`: one report per maintainer's decision file (taxon.validate.decisions)."""

    files: list[FileReport] = field(default_factory=list)
    tree: list[FileReport] = field(default_factory=list)
    decisions: list[FileReport] = field(default_factory=list)  # maintainers' decision files (R rules)

    @property
    def reports(self) -> list[FileReport]:
        return self.files + self.tree + self.decisions

    @property
    def errors(self) -> int:
        return sum(report.count(ERROR) for report in self.reports)

    @property
    def warnings(self) -> int:
        return sum(report.count(WARNING) for report in self.reports)

    def summary(self) -> dict[str, Any]:
        return {
            "files": len(self.files),
            "tree": len(self.tree),
            "decisions": len(self.decisions),
            "errors": self.errors,
            "warnings": self.warnings,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "files": [report.to_json() for report in self.files],
            "tree": [report.to_json() for report in self.tree],
            "decisions": [report.to_json() for report in self.decisions],
            "summary": self.summary(),
        }

    def file(self, path: str) -> FileReport | None:
        return next((report for report in self.reports if report.path == path), None)

    def add(self, findings: Iterable[Finding]) -> None:
        """Findings about files that may have no report yet (files that are not leaves)."""
        for found in findings:
            report = self.file(found.path)
            if report is None:
                report = FileReport(found.path)
                (self.files if is_qna_name(Path(found.path).name) else self.tree).append(report)
            if found not in report.findings:
                report.findings.append(found)


@dataclass(frozen=True)
class Target:
    """One file to validate, as displayed, with findings found while looking for it."""

    path: Path
    display: str
    findings: tuple[Finding, ...] = ()


def collect_targets(paths: Iterable[Path], found_in: dict[Path, list[Target]] | None = None) -> list[Target]:
    """The files to validate: each path itself, or every qna.yaml-like file in a folder
    (symlinked folders are not followed but reported). Each file once, in order. `found_in`:
    what the walks of folders found already (`_listing_targets`, in any order)."""
    targets: dict[str, Target] = {}
    for path in paths:
        path = Path(path)
        if path.is_dir() and not path.is_symlink():
            found = (found_in or {}).get(path)
            if found is None:
                found = [target for listing in walk(path) for target in _listing_targets(path, listing)]
            found = sorted(found, key=lambda target: target.display)
        else:
            found = [Target(path, str(path))]
        for target in found:
            targets.setdefault(os.path.abspath(target.path), target)
    return list(targets.values())


def _listing_targets(root: Path, listing: Listing) -> list[Target]:
    """The targets of one folder of a walk; hidden folders are no part of the taxonomy (T003
    says so) and are not looked into."""
    links = [name for name, link in listing.folders if link and not name.startswith(".")]
    leaves = [name for name, _ in listing.files if is_qna_name(name)]
    if not (links or leaves) or any(part.startswith(".") for part in listing.relative.split("/")):
        return []  # most folders of a tree hold neither: no path is made for them
    # str(root / relative / name), written out: two joins of Paths a file took a fifth of the walk
    top = str(root)
    prefix = "" if top == "." else top if top.endswith(os.sep) else top + os.sep
    folder = prefix + (listing.relative.replace("/", os.sep) + os.sep if listing.relative else "")
    found = []
    for name in links:
        display = folder + name
        message = "this folder is a symbolic link: replace it with a real folder"
        found.append(Target(Path(display), display, (finding(display, 1, 1, "Y011", message),)))
    for name in leaves:
        display = folder + name
        found.append(Target(Path(display), display))
    return found


@dataclass
class Checked:
    """One file's report and what tree-wide rules need from it."""

    report: FileReport
    questions: LeafQuestions | None = None


def check_file(
    target: Target,
    settings: ValidateSettings = ValidateSettings(),
    latest: bool = False,
    leaf_checks: tuple[LeafCheck, ...] = (),
) -> Checked:
    findings = list(target.findings)
    if findings:  # already refused while collecting (a symlinked folder)
        return Checked(FileReport(target.display, findings))
    absolute = os.path.abspath(target.path)
    if os.path.lexists(target.path):  # a missing file gets one finding, not its name's too
        findings += policy.name_findings(target.display, absolute.split(os.sep))
    parsed = read_qna(target.path, settings, target.display)
    found, questions = check_parsed(parsed, target.path, settings, latest, leaf_checks)
    return Checked(FileReport(target.display, _ordered(findings + found, settings.max_findings_per_rule)), questions)


def check_parsed(
    parsed: Parsed,
    path: Path,
    settings: ValidateSettings = ValidateSettings(),
    latest: bool = False,
    leaf_checks: tuple[LeafCheck, ...] = (),
) -> tuple[list[Finding], LeafQuestions | None]:
    """The findings of a file already read (from disk, or text in memory such as a migrated
    file before it is written) that sits at `path`, and what tree-wide rules need from it."""
    absolute = Path(os.path.abspath(path))
    kind, _ = policy.kind_and_folders(str(absolute).split(os.sep))
    findings = list(parsed.findings)
    questions = None
    if parsed.text is not None:
        findings += policy.whitespace_findings(parsed, settings.max_findings_per_rule)
    if parsed.ok:
        entries = policy.seed_entries(parsed.data)
        if kind:
            findings += _schema_check(parsed, kind, latest)
            version = _checked_version(parsed, latest)
            findings += _policy_check(parsed, absolute.parent, kind, version, entries, settings)
            if leaf_checks:
                leaf = leaf_from_data(Path(path), parsed.data)
                for check in leaf_checks:
                    findings += check(leaf)
        questions = _questions(parsed, entries)
    return findings, questions


def _schema_check(parsed: Parsed, kind: str, latest: bool) -> list[Finding]:
    declared = declared_version(parsed.data)
    if latest:
        return schema_findings(parsed, kind, LATEST, declared)
    if type(declared) is not int or declared not in VERSIONS:
        return [
            finding(
                parsed.path,
                *parsed.position(("version",)),
                "S008",
                f"unknown version {declared!r}: write `version: {LATEST}` (versions {VERSIONS[0]}-{LATEST} exist)",
            )
        ]
    return schema_findings(parsed, kind, declared)


def _checked_version(parsed: Parsed, latest: bool) -> int:
    """The schema version the file is held to: its own, else (--latest, or none that exists) the newest."""
    declared = declared_version(parsed.data)
    return declared if not latest and type(declared) is int and declared in VERSIONS else LATEST


def _policy_check(
    parsed: Parsed, folder: Path, kind: str, version: int, entries: list[policy.SeedEntry], settings: ValidateSettings
) -> list[Finding]:
    return [
        *policy.empty_findings(parsed, kind, version),
        *policy.budget_findings(parsed, kind, entries, settings),
        *policy.duplicate_findings(parsed, entries, settings),
        *policy.document_findings(parsed, folder),
        *policy.attribution_findings(parsed.path, folder, settings),
    ]


_PLACE = attrgetter("line", "column", "rule", "message")


def _ordered(findings: list[Finding], cap: int) -> list[Finding]:
    """Sorted by place, at most `cap` of each rule (the last one counting the rest), with a
    schema pattern error dropped where a policy rule says the same thing more precisely at
    the same node (document repo, commit and patterns)."""
    policy_places = {(f.line, f.column) for f in findings if f.rule.startswith("P06")}
    kept = [f for f in findings if not (f.rule == "S006" and (f.line, f.column) in policy_places)]
    kept.sort(key=_PLACE)
    if len(kept) <= cap:
        return kept
    per_rule = Counter(f.rule for f in kept)
    if max(per_rule.values()) <= cap:
        return kept
    shown: list[Finding] = []
    seen: Counter[str] = Counter()
    for f in kept:
        seen[f.rule] += 1
        if seen[f.rule] < cap or seen[f.rule] == cap == per_rule[f.rule]:
            shown.append(f)
        elif seen[f.rule] == cap:
            more = per_rule[f.rule] - cap
            shown.append(replace(f, message=f"{f.message} (and {more} more findings of {f.rule} in this file)"))
    return shown


def validate_paths(
    paths: Iterable[Path],
    settings: ValidateSettings = ValidateSettings(),
    latest: bool = False,
    leaf_checks: tuple[LeafCheck, ...] = (),
    tree_context: Iterable[Path] = (),
) -> Report:
    """Validate files and folders. Tree-wide rules run over everything validated together and
    the leaves under `tree_context` (e.g. the whole taxonomy when only changed leaves are
    validated); findings are reported for the validated files only. In every folder given,
    each file with no place in a leaf gets a report of its own (T003)."""
    paths = [Path(path) for path in paths]
    folders = [path for path in paths if path.is_dir() and not path.is_symlink()]
    workers = 1 if leaf_checks else settings.workers or min(os.cpu_count() or 1, 4)
    checkers = ForkedMap(partial(_check_named, settings=settings, latest=latest), workers, settings.parallel_from)
    with _collector_paused(), closing(checkers):
        checkers.feed(str(path) for path in paths if path not in folders)
        walks: dict[Path, list[Listing]] = {}
        found_in: dict[Path, list[Target]] = {}
        for folder in folders:  # the files found first are checked while the walk goes on
            found_in[folder] = []

            def feed(listing: Listing, root: Path = folder, found: list[Target] = found_in[folder]) -> None:
                targets = _listing_targets(root, listing)
                found += targets
                checkers.feed(target.display for target in targets if not target.findings)

            walks[folder] = walk(folder, feed)
        targets = collect_targets(paths, found_in)

        def misplaced_files() -> list[Finding]:  # T003: needs the walks only, found while files are checked
            return [found for given, listings in walks.items() for found in tree_file_findings(given, listings)]

        done, misplaced = checkers.finish(misplaced_files)
        checked = [done.get(target.display) or check_file(target, settings, latest, leaf_checks) for target in targets]
        report = Report([item.report for item in checked])
        report.add(misplaced)
        validated = {os.path.abspath(target.path) for target in targets}
        questions = [item.questions for item in checked if item.questions and item.questions.questions]
        questions += _context_questions(tree_context, validated, settings)
        by_path = {item.report.path: item.report for item in checked}
        touched = set()
        for found in tree_findings(questions, settings.tree_overlap):
            if found.path in by_path:
                by_path[found.path].findings.append(found)
                touched.add(found.path)
        for path in touched:
            by_path[path].findings = _ordered(by_path[path].findings, settings.max_findings_per_rule)
        return report


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off: a tree's checks allocate objects by the hundred thousand
    and free them by reference count, so its passes (in the forked workers too) find nothing
    to collect (the bench tree: about 30 ms of 0.9 s, the peak memory the same)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _questions(parsed: Parsed, entries: list[policy.SeedEntry]) -> LeafQuestions:
    return leaf_questions(parsed.path, [(entry.key, parsed.position(entry.path)) for entry in entries])


def _context_questions(paths: Iterable[Path], skip: set[str], settings: ValidateSettings) -> list[LeafQuestions]:
    found = []
    for target in collect_targets(paths):
        if target.findings or os.path.abspath(target.path) in skip:
            continue
        parsed = read_qna(target.path, settings, target.display)
        if parsed.ok:
            found.append(_questions(parsed, policy.seed_entries(parsed.data)))
    return found


def _check_named(display: str, settings: ValidateSettings, latest: bool) -> Checked:
    """check_file of a path as the walk displays it (what workers are sent)."""
    return check_file(Target(Path(display), display), settings, latest)
