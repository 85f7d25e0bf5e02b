"""`taxon validate --changed`: the leaves a branch changes, at the newest schema, with its
deletions and renames reported as info findings (C001, C002)."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from taxon.core.rules import finding
from taxon.core.settings import ValidateSettings
from taxon.diff import changed_leaves
from taxon.qna.layout import DECISIONS_DIR
from taxon.qna.taxonomy import iter_qna_files, leaf_id
from taxon.validate.decisions import check_decisions
from taxon.validate.engine import FileReport, LeafCheck, Report, validate_paths
from taxon.validate.files import misplaced, tree_file_findings


def _display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def validate_changed(
    repo: Path,
    base: str | None,
    taxonomy_dir: str,
    settings: ValidateSettings,
    leaf_checks: tuple[LeafCheck, ...],
    generated: dict[str, set[str]] | None = None,
) -> Report:
    """The leaves changed against base, at the newest version; deletions and renames as info;
    the decision files changed (decisions/ beside the taxonomy folder) with their rules."""
    changes = changed_leaves(repo, base, taxonomy_dir=taxonomy_dir)
    root = Path(changes.repo_root)
    paths = [Path(_display(root / path)) for path in changes.to_validate()]
    context = [Path(_display(root / taxonomy_dir))] if (root / taxonomy_dir).is_dir() else []
    report = validate_paths(paths, settings, latest=True, leaf_checks=leaf_checks, tree_context=context)
    for path in paths:
        report.add(tree_file_findings(path.parent))
    taxonomy = PurePosixPath(taxonomy_dir)
    for path in changes.other_paths:
        relative = PurePosixPath(path.as_posix())
        if taxonomy not in relative.parents or not os.path.lexists(root / path):
            continue
        if reason := misplaced(relative.relative_to(taxonomy), set()):
            report.add([finding(_display(root / path), 1, 1, "T003", reason)])
    decisions = PurePosixPath(taxonomy_dir).parent / DECISIONS_DIR
    changed_decisions = [
        root / path
        for path in changes.other_paths
        if decisions in PurePosixPath(path.as_posix()).parents and os.path.lexists(root / path)
    ]
    if changed_decisions:
        known = {leaf_id(path) for path in iter_qna_files(root / taxonomy_dir)}
        files = [Path(_display(path)) for path in changed_decisions]
        report.decisions += check_decisions(files, Path(_display(root / decisions)), settings, known, generated)
    for old, new in changes.renamed:
        file = report.file(_display(root / new))
        if file is not None:
            file.findings.insert(0, finding(file.path, 1, 1, "C002", f"renamed from {_display(root / old)}"))
    for path in changes.deleted:
        shown = _display(root / path)
        report.files.append(FileReport(shown, [finding(shown, 1, 1, "C001", f"leaf deleted against {changes.base}")]))
    return report
