"""`taxon init DIR --source URL [--rev TAG_OR_COMMIT]`: start a new taxonomy repository in DIR,
taxon pinned to one commit (a tag is resolved once, a branch refused)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from taxon.core.errors import EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from taxon.scaffold import DEFAULT_REV

    parser.add_argument("dir", type=Path, help="the new repository's folder (absent or empty)")
    parser.add_argument(
        "--source",
        required=True,
        help="taxon's git repository (an https:// URL or a local clone): the hook and the workflows install taxon from it",
    )
    parser.add_argument(
        "--rev",
        default=DEFAULT_REV,
        help="the tag or full commit of taxon to pin; a tag is resolved to its commit once (default: %(default)s)",
    )
    parser.add_argument(
        "--unverified",
        action="store_true",
        help="pin a full commit SHA even when the source cannot be reached to check it",
    )
    parser.add_argument("--name", help="the repository's name in its README and docs (default: DIR's name)")


def run(args: argparse.Namespace) -> int:
    from taxon.core.github import annotation
    from taxon.scaffold import init_repository, resolve_pin

    pin = resolve_pin(args.source, args.rev, unverified=args.unverified)
    written = init_repository(args.dir, pin, args.name)
    if not pin.verified:
        warning = (
            f"commit {pin.commit} was pinned UNVERIFIED: {pin.source} could not show that it has it. "
            "Check it before the first push: a wrong pin fails every workflow's install."
        )
        print(f"WARNING: {warning}", file=sys.stderr)
        print(annotation("warning", warning, title="Unverified pin"), file=sys.stderr)
    named = f"{args.rev} = {pin.commit}" if args.rev != pin.commit else pin.commit
    print(f"created {len(written)} files in {args.dir}, taxon pinned to {named} of {pin.source}")
    print(f"next: cd {args.dir} && git init && taxon validate && pre-commit install")
    return EXIT_OK
