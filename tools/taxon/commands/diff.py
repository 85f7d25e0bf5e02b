"""`taxon diff [--base REF] [--json]`: the leaves this branch adds, modifies, renames or
deletes, against the merge-base with REF, working tree and untracked files included."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from taxon.core.config import find_config, load_config
from taxon.core.errors import EXIT_OK, TaxonError
from taxon.core.github import log_name
from taxon.diff import LeafChanges, changed_leaves
from taxon.qna.layout import TAXONOMY_DIR


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base",
        metavar="REF",
        help="compare with the merge-base of REF and HEAD (default: origin/main, else main)",
    )
    parser.add_argument("--json", action="store_true", help="print the changes as one JSON object")
    parser.add_argument("--repo", type=Path, default=Path("."), help="a folder inside the repository (default: here)")


def run(args: argparse.Namespace) -> int:
    changes = changed_leaves(args.repo, base=args.base, taxonomy_dir=_taxonomy_dir(args.repo))
    print(json.dumps(changes.to_json(), indent=2) if args.json else format_text(changes))
    return EXIT_OK


def _taxonomy_dir(start: Path) -> str:
    """[taxonomy] root from taxon.toml when there is one; a plain taxonomy fork has none."""
    path = find_config(start)
    if path is None:
        return TAXONOMY_DIR
    try:
        return load_config(path=path).taxonomy.root
    except TaxonError:
        return TAXONOMY_DIR


def format_text(changes: LeafChanges) -> str:
    lines = [f"base: {log_name(changes.base)} (merge-base {changes.base_commit[:12]})"]
    lines += [f"added     {log_name(path.as_posix())}" for path in changes.added]
    lines += [f"modified  {log_name(path.as_posix())}" for path in changes.modified]
    lines += [f"renamed   {log_name(old.as_posix())} -> {log_name(new.as_posix())}" for old, new in changes.renamed]
    lines += [f"deleted   {log_name(path.as_posix())}" for path in changes.deleted]
    if changes.is_empty():
        lines.append("no leaf changed")
    lines += [f"other     {log_name(path.as_posix())}" for path in changes.other_paths]
    return "\n".join(lines)
