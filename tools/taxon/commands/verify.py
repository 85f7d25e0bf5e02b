"""`taxon verify BUNDLE`: checksums, no pickle files, a manifest coherent with the files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from taxon.core.errors import EXIT_FAILED, EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", type=Path, help="a bundle folder written by taxon publish")


def run(args: argparse.Namespace) -> int:
    from taxon.publish.verify import verify_bundle

    problems = verify_bundle(args.bundle)
    if problems:
        print(f"taxon verify: {args.bundle}: {len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_FAILED
    print(f"ok: {args.bundle}")
    return EXIT_OK
