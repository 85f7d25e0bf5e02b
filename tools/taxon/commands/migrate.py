"""`taxon migrate PATH...`: upgrade qna.yaml files of versions 1-3 to version 4 in place,
keeping comments and key order; says what a person must add where it can't be done alone.

Exit 0 when every file is at version 4 afterwards, 1 when some need a person."""

from __future__ import annotations

import argparse
from pathlib import Path

from taxon.core.errors import EXIT_FAILED, EXIT_OK
from taxon.migrate import migrate_paths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="qna.yaml files or folders to walk")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only files that need a person")


def run(args: argparse.Namespace) -> int:
    results = migrate_paths(args.paths)
    for result in results:
        if result.needs or not args.quiet:
            print(result.describe())
    written = sum(result.written for result in results)
    blocked = sum(bool(result.needs) for result in results)
    print(
        f"{len(results)} files: {written} migrated, {blocked} need a person, "
        f"{len(results) - written - blocked} already at the newest version"
    )
    return EXIT_FAILED if blocked else EXIT_OK
