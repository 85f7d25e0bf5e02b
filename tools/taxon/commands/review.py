"""`taxon review GEN_OUT [--html FILE] [--comment FILE]`: the review page and the pull-request
comment for a generate output folder."""

from __future__ import annotations

from pathlib import Path

from taxon.commands._options import add_config_arguments, config_from_args
from taxon.core.errors import EXIT_OK
from taxon.core.store import atomic_write_text
from taxon.review.comment import render_comment
from taxon.review.data import load_review
from taxon.review.page import render_page_html


def add_arguments(parser) -> None:
    parser.add_argument("gen_out", type=Path, help="the --out folder of taxon generate")
    parser.add_argument("--taxonomy", type=Path, help="taxonomy root the leaves come from (their seeds are shown)")
    parser.add_argument("--html", type=Path, help="write the review page here (default: review.html)")
    parser.add_argument("--comment", type=Path, help="write the pull-request comment (markdown) here")
    parser.add_argument("--artifact-url", help="link to the artifact holding the dataset and the page")
    parser.add_argument("--commit", help="the pull request commit the samples were made from")
    add_config_arguments(parser)


def run(args) -> int:
    settings = config_from_args(args)["review"]
    data = load_review(args.gen_out, args.taxonomy)
    html_path = args.html or (None if args.comment else Path("review.html"))
    if html_path:
        atomic_write_text(html_path, render_page_html(data))
        print(f"review page: {html_path}")
    if args.comment:
        markdown = render_comment(
            data,
            artifact_url=args.artifact_url,
            commit=args.commit,
            samples_per_leaf=settings["samples_per_leaf"],
            message_chars=settings["message_chars"],
        )
        atomic_write_text(args.comment, markdown)
        print(f"comment: {args.comment} ({len(markdown)} characters)")
    return EXIT_OK
