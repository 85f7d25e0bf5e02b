"""`taxon review decide LEAF ID --keep|--drop|--fix TEXT`: a maintainer's decision on one
generated sample, written to decisions/<leaf>/<id>.yaml beside the taxonomy (commit it; the
next run honours it). The sample is looked up in a generate output, so a mistyped id is
refused instead of recorded."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from taxon.commands._options import add_config_arguments, config_from_args, taxonomy_root
from taxon.core.errors import EXIT_OK, UsageError
from taxon.qna.decisions import (
    DROP,
    FIX,
    KEEP,
    LOGIN,
    SAMPLE_ID,
    decision_for,
    decision_path,
    find_samples,
    write_decision,
)
from taxon.qna.layout import decisions_root, default_run_dir

REVIEWER_ENV = "TAXON_REVIEWER"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("leaf", help="the leaf id, e.g. compositional_skills/linguistics/plural_nouns")
    parser.add_argument("sample", metavar="ID", help="the sample id (12 hex digits: the review page, the PR comment)")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--keep", action="store_true", help="train it, whatever the filters say")
    action.add_argument("--drop", action="store_true", help="never train it")
    action.add_argument("--fix", metavar="TEXT", help="train it with this answer instead")
    parser.add_argument("--reason", default="", help="why, for the record")
    parser.add_argument("--by", help=f"your GitHub login (default: ${REVIEWER_ENV})")
    parser.add_argument(
        "--samples",
        type=Path,
        metavar="GEN_OUT",
        help="the generate output holding it (default: runs/<profile>/generate)",
    )
    parser.add_argument(
        "--taxonomy", type=Path, help="taxonomy folder (default: taxonomy.root); decisions/ is beside it"
    )
    add_config_arguments(parser)


def _reviewer(given: str | None) -> str:
    login = given or os.environ.get(REVIEWER_ENV)
    if not login:
        raise UsageError(
            "who decides? no GitHub login given", hint=f"pass --by LOGIN, or once: export {REVIEWER_ENV}=LOGIN"
        )
    if not LOGIN.fullmatch(login):
        raise UsageError(f"'{login[:60]}' is not a GitHub login", hint="letters, digits and single hyphens")
    return login


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if not SAMPLE_ID.fullmatch(args.sample):
        raise UsageError(
            f"'{args.sample[:40]}' is not a sample id", hint="12 lowercase hex digits, as the review page shows"
        )
    generated = args.samples or default_run_dir(Path(config.config_path), config.profile) / "generate"
    if not (generated / args.leaf).is_dir():
        raise UsageError(
            f"no samples of {args.leaf} in {generated}",
            hint="pass --samples with the --out folder of taxon generate (or run taxon pipeline --to generate)",
        )
    row = find_samples(generated, [args.sample], args.leaf).get(args.sample)
    if row is None:
        raise UsageError(
            f"no sample {args.sample} among the samples of {args.leaf} in {generated}",
            hint="copy the id from the review page or the pull-request comment",
        )
    action = KEEP if args.keep else DROP if args.drop else FIX
    if action == FIX and not args.fix.strip():
        raise UsageError("--fix needs the answer to train instead")
    root = decisions_root(taxonomy_root(args, config))
    replaced = decision_path(root, args.leaf, args.sample).is_file()
    decision = decision_for(row, action, _reviewer(args.by), args.fix, args.reason)
    path = write_decision(root, decision)
    print(f"{'replaced' if replaced else 'wrote'} {path}: {action} {args.sample} by {decision.by}")
    print(f"commit it: git add {path} && git commit -m 'decisions: {action} {args.sample}'")
    text = (args.fix if action == FIX else args.reason) or ""
    if "\n" not in text:  # a maintainer's decision counts on another's pull request through a comment
        print(f"on a contributor's pull request, comment instead: /taxon {action} {args.sample} {text}".rstrip())
    return EXIT_OK
