"""`taxon rules`: the table of validation rules (code, severity, rationale), as text or
markdown; `--write FILE` regenerates the table between the rules markers of FILE."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from taxon.core.errors import EXIT_OK
from taxon.core.rules import markdown_table, text_table, write_rules_table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown")
    parser.add_argument(
        "--write",
        type=Path,
        metavar="FILE",
        help="regenerate the table between <!-- rules:start --> and <!-- rules:end --> in FILE",
    )


def run(args: argparse.Namespace) -> int:
    if args.write:
        changed = write_rules_table(args.write)
        print(f"{args.write}: rules table {'updated' if changed else 'already up to date'}")
        return EXIT_OK
    sys.stdout.write(markdown_table() if args.markdown else text_table())
    return EXIT_OK
