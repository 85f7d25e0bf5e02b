"""`taxon review GEN_OUT [--html FILE] [--comment FILE]`: the review page and the pull-request
comment for a generate output folder."""

from __future__ import annotations

import argparse
from pathlib import Path, PurePosixPath

from taxon.commands._options import add_config_arguments, config_from_args
from taxon.core.errors import EXIT_OK
from taxon.core.store import atomic_write_text
from taxon.qna.layout import DECISIONS_DIR
from taxon.review.comment import render_comment, render_failure_comment
from taxon.review.data import load_review
from taxon.review.page import render_page_html


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("gen_out", type=Path, help="the --out folder of taxon generate")
    parser.add_argument("--taxonomy", type=Path, help="taxonomy root the leaves come from (their seeds are shown)")
    parser.add_argument("--html", type=Path, help="write the review page here (default: review.html)")
    parser.add_argument("--comment", type=Path, help="write the pull-request comment (markdown) here")
    parser.add_argument("--artifact-url", help="link to the artifact holding the dataset and the page")
    parser.add_argument("--commit", help="the pull request commit the samples were made from")
    parser.add_argument("--generate-log", type=Path, help="the output of the taxon generate run")
    parser.add_argument(
        "--generate-outcome",
        default="success",
        help="the generate step's outcome; any other than success (failure, skipped): the comment shows the end "
        "of --generate-log and the run's link, and says so when there is no output at all",
    )
    parser.add_argument("--run-url", help="the workflow run whose log holds the whole output")
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    settings = config.review
    failed = args.generate_outcome != "success"
    failure_log = (_read_log(args.generate_log) if args.generate_log else "") if failed else None
    if failure_log is not None and not args.gen_out.is_dir():
        if args.comment:
            atomic_write_text(args.comment, render_failure_comment(failure_log, args.run_url, args.commit))
            print(f"comment: {args.comment} (generation failed before any output: its error and the log's link)")
        else:
            print(f"no review page: generation failed before writing {args.gen_out}")
        return EXIT_OK
    data = load_review(args.gen_out, args.taxonomy)
    data.decisions_dir = (PurePosixPath(config.taxonomy.root).parent / DECISIONS_DIR).as_posix()
    html_path = args.html or (None if args.comment else Path("review.html"))
    if html_path:
        atomic_write_text(html_path, render_page_html(data))
        print(f"review page: {html_path}")
    if args.comment:
        markdown = render_comment(
            data,
            artifact_url=args.artifact_url,
            commit=args.commit,
            samples_per_leaf=settings.samples_per_leaf,
            message_chars=settings.message_chars,
            failure_log=failure_log,
            run_url=args.run_url,
            require_decisions=settings.require_decisions,
        )
        atomic_write_text(args.comment, markdown)
        print(f"comment: {args.comment} ({len(markdown)} characters)")
    return EXIT_OK


def _read_log(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
