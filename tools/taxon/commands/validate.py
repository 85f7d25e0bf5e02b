"""`taxon validate [PATH ...]`: check qna.yaml files against their schema and the policy rules.

Exit 0 when there is no error (warnings allowed), 1 when there is one, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from taxon.commands._options import config_or_defaults
from taxon.core.errors import EXIT_FAILED, EXIT_OK, UsageError
from taxon.core.findings import Finding
from taxon.core.settings import Config, ValidateSettings
from taxon.qna.layout import decisions_root, decisions_root_of
from taxon.qna.taxonomy import Leaf, iter_qna_files, leaf_id
from taxon.validate.engine import FileReport, LeafCheck, Report, validate_paths
from taxon.validate.report import FORMATS, render


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="*", type=Path, metavar="PATH", help="qna.yaml files or folders to walk (default: taxonomy/)"
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="output format (default: github under GitHub Actions, else text)",
    )
    parser.add_argument(
        "--latest", action="store_true", help="check every file against the newest schema, whatever version it declares"
    )
    parser.add_argument(
        "--changed", action="store_true", help="validate only the leaves changed against --base, at the newest schema"
    )
    parser.add_argument("--base", metavar="REF", help="base ref for --changed (default: origin/main, else main)")
    parser.add_argument(
        "--check-documents", action="store_true", help="also fetch and check each knowledge leaf's documents"
    )
    parser.add_argument(
        "--samples",
        type=Path,
        metavar="GEN_OUT",
        help="a generate output: warn on decisions for samples it no longer holds (R004)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="print errors and the summary only")
    parser.add_argument("--profile", default="cpu", help="config profile (default: cpu)")
    parser.add_argument("--config", type=Path, help="path of taxon.toml (default: found from here upwards)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="STAGE.KEY=VALUE",
        help="override a config value, e.g. --set validate.max_file_bytes=2000000",
    )


def _document_check(config: Config) -> LeafCheck:
    from taxon.documents import check_leaf_documents

    def check(leaf: Leaf) -> list[Finding]:
        return check_leaf_documents(leaf, config.documents) if leaf.kind == "knowledge" else []

    return check


def run(args: argparse.Namespace) -> int:
    config = config_or_defaults(args)
    fmt = args.format or ("github" if os.environ.get("GITHUB_ACTIONS") else "text")
    leaf_checks = (_document_check(config),) if args.check_documents else ()
    if args.samples is not None and not args.samples.is_dir():
        raise UsageError(
            "no such generate output", where=str(args.samples), hint="pass the --out folder of taxon generate"
        )
    generated = _generated_ids(args.samples) if args.samples else None
    settings, taxonomy = config.validate, Path(config.taxonomy.root)
    if args.changed:
        if args.paths:
            raise UsageError("--changed takes no PATH", hint="give paths or --changed, not both")
        from taxon.validate.changed import validate_changed  # git and diffs: imported when asked for

        report = validate_changed(Path.cwd(), args.base, config.taxonomy.root, settings, leaf_checks, generated)
    else:
        paths = args.paths or [taxonomy]
        if not args.paths and not paths[0].is_dir():
            raise UsageError(f"no {paths[0]}/ folder here", hint="run from the repository root or name PATHs")
        # path -> the decisions folder it is in (or is)
        decided = {path: root for path in paths if (root := decisions_root_of(path)) is not None}
        leaves = [path for path in paths if path not in decided]
        report = validate_paths(leaves, settings, latest=args.latest, leaf_checks=leaf_checks) if leaves else Report()
        if not args.paths and decisions_root(taxonomy).is_dir():
            decided[decisions_root(taxonomy)] = decisions_root(taxonomy)
        if decided:
            report.decisions += _decision_reports(decided, taxonomy, settings, generated)
    sys.stdout.write(render(report, fmt, args.quiet))
    return EXIT_FAILED if report.errors else EXIT_OK


# The decision checks' modules are imported when there are decisions to check: a plain
# validate of a tree starts about 15 ms sooner without them.


def _generated_ids(samples: Path) -> dict[str, set[str]]:
    from taxon.validate.decisions import generated_ids

    return generated_ids(samples)


def _decision_reports(
    decided: dict[Path, Path], taxonomy: Path, settings: ValidateSettings, generated: dict[str, set[str]] | None
) -> list[FileReport]:
    """The reports of every decision file under the decided paths (path -> its decisions folder)."""
    from taxon.qna.decisions import decision_files
    from taxon.validate.decisions import check_decisions

    known = {leaf_id(path) for path in iter_qna_files(taxonomy)} if taxonomy.is_dir() else None
    reports = []
    for path, root in decided.items():
        files = decision_files(path) if path.is_dir() and not path.is_symlink() else [path]
        reports += check_decisions(files, root, settings, known, generated)
    return reports
