"""The maintainers' decision files (decisions/<leaf id>/<sample id>.yaml): each read with the
safe loader and checked field by field (R001), in its place (R002), for a leaf that still
exists (R003) and, given a generate output, for a sample it still holds (R004). Decisions that
no longer apply are warnings: they are kept for the record and never applied to other content."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from taxon.core.errors import TaxonError
from taxon.core.rules import finding
from taxon.core.settings import ValidateSettings
from taxon.core.store import read_jsonl
from taxon.qna.decisions import decision_files, read_decision, row_sample_id
from taxon.qna.layout import DROPPED_NAME, SAMPLES_NAME
from taxon.qna.samples import leaf_sample_dirs
from taxon.validate.engine import FileReport


def _display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def generated_ids(generate_dir: Path) -> dict[str, set[str]]:
    """leaf id -> the ids of every sample (kept or dropped) a generate output holds."""
    found: dict[str, set[str]] = {}
    for folder in leaf_sample_dirs(Path(generate_dir)):
        leaf_id = folder.relative_to(generate_dir).as_posix()
        ids = found.setdefault(leaf_id, set())
        for name in (SAMPLES_NAME, DROPPED_NAME):
            if (folder / name).is_file():
                try:
                    ids.update(row_sample_id(row) for row in read_jsonl(folder / name))
                except (OSError, TaxonError):
                    continue
    return found


def check_decisions(
    files: Iterable[Path],
    root: Path,
    settings: ValidateSettings,
    leaf_ids: set[str] | None = None,
    generated: dict[str, set[str]] | None = None,
) -> list[FileReport]:
    """One report per decision file. `leaf_ids`: the leaves of the taxonomy (a decision for
    another is R003); `generated`: the sample ids of a generate output (R004 for a decided
    leaf it holds but not the decided sample)."""
    reports = []
    for path in files:
        shown = _display(path)
        decision, findings = read_decision(path, root, shown, settings)
        if decision is not None and leaf_ids is not None and decision.leaf not in leaf_ids:
            findings.append(
                finding(shown, 1, 1, "R003", f"no leaf {decision.leaf} in the taxonomy: remove the decision or move it")
            )
        elif (
            decision is not None
            and generated is not None
            and decision.sample not in generated.get(decision.leaf, {decision.sample})
        ):
            findings.append(
                finding(
                    shown,
                    1,
                    1,
                    "R004",
                    f"the samples of {decision.leaf} no longer hold {decision.sample}: its content changed; "
                    "decide on the new sample and remove this file",
                )
            )
        reports.append(FileReport(shown, findings))
    return reports


def validate_decisions_folder(
    root: Path, settings: ValidateSettings, leaf_ids: set[str] | None, generated: dict[str, set[str]] | None
) -> list[FileReport]:
    return check_decisions(decision_files(root), root, settings, leaf_ids, generated)
