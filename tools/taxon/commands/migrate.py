"""`taxon migrate PATH... [--report] [--accept-defaults]`: upgrade qna.yaml files of versions
1-3 to version 4 in place, keeping comments and key order, and say what a person must still
do to each file for it to pass `taxon validate --latest`, all of it at once.

--report prints one table for the whole tree (what migrate did, seeds to add, attribution,
license, other fixes, the command that checks the file again) and a summary; --format json
gives the same as data. --accept-defaults writes the defaults taxon.toml allows (an
attribution.txt naming [validate] repository_license for leaves under its folders).

Exit 0 when every file is at version 4 and passes validation afterwards, 1 when some need a person."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from taxon.commands._options import add_config_arguments, config_or_defaults
from taxon.core.errors import EXIT_FAILED, EXIT_OK
from taxon.core.github import log_safe
from taxon.migrate import migrate_paths, report_json, report_markdown, summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="qna.yaml files or folders to walk")
    parser.add_argument(
        "--report", action="store_true", help="one table of what each file needs from a person, and a summary"
    )
    parser.add_argument(
        "--format", choices=("markdown", "json"), default="markdown", help="of --report (default: markdown)"
    )
    parser.add_argument(
        "--accept-defaults",
        action="store_true",
        help="write the defaults taxon.toml allows (attribution.txt from [validate] repository_license)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="print only files that need a person")
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    results = migrate_paths(args.paths, config_or_defaults(args).validate, accept_defaults=args.accept_defaults)
    if args.report:
        sys.stdout.write(report_json(results) if args.format == "json" else log_safe(report_markdown(results)))
    else:
        for result in results:
            if result.needs or result.defaults or not args.quiet:
                print(log_safe(result.describe()))
        print(summary(results))
    return EXIT_FAILED if any(result.needs for result in results) else EXIT_OK
