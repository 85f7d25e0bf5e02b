"""`taxon init DIR --source URL [--rev REV]`: start a new taxonomy repository in DIR."""

from __future__ import annotations

import argparse
from pathlib import Path

from taxon.core.errors import EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from taxon.scaffold import DEFAULT_REV

    parser.add_argument("dir", type=Path, help="the new repository's folder (absent or empty)")
    parser.add_argument(
        "--source",
        required=True,
        help="taxon's git repository (a URL or a local clone): the hook and the workflows install taxon from it",
    )
    parser.add_argument("--rev", default=DEFAULT_REV, help="the tag or commit of taxon to pin (default: %(default)s)")
    parser.add_argument("--name", help="the repository's name in its README and docs (default: DIR's name)")


def run(args: argparse.Namespace) -> int:
    from taxon.scaffold import init_repository

    written = init_repository(args.dir, args.source, args.rev, args.name)
    print(f"created {len(written)} files in {args.dir}, taxon pinned to {args.rev} of {args.source}")
    print(f"next: cd {args.dir} && git init && taxon validate && pre-commit install")
    return EXIT_OK
