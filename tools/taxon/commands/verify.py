"""`taxon verify BUNDLE [--sha256sums-digest D]`: regular files only, no code or pickle,
checksums, a manifest coherent with the files and, with D (the sha256 of SHA256SUMS as the
release recorded it), the very bundle released."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from taxon.core.errors import EXIT_FAILED, EXIT_OK
from taxon.core.github import log_name, log_safe


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", type=Path, help="a bundle folder written by taxon publish")
    parser.add_argument(
        "--sha256sums-digest",
        metavar="SHA256",
        help="the sha256 of SHA256SUMS from outside the bundle, HEX or sha256:HEX: the digest of the release's "
        "taxon-model-TAG.SHA256SUMS asset (attested by the release job), also named in its notes and hub commit",
    )


def run(args: argparse.Namespace) -> int:
    from taxon.publish.verify import sums_digest, verify_bundle

    problems = verify_bundle(args.bundle, args.sha256sums_digest)
    bundle = log_name(str(args.bundle))
    if problems:
        print(f"taxon verify: {bundle}: {len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print(log_safe(f"  - {problem}"), file=sys.stderr)
        return EXIT_FAILED
    print(f"ok: {bundle} (SHA256SUMS sha256 {sums_digest(args.bundle)})")
    return EXIT_OK
