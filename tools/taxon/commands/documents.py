"""`taxon documents LEAF_OR_DIR... [--chunks]`: the knowledge documents of leaves as generate
will see them, and with --chunks how the teacher's tokenizer cuts them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from taxon.backends.tokenizers import chunk_tokenizer
from taxon.commands._options import add_config_arguments, config_from_args
from taxon.core.errors import EXIT_FAILED, EXIT_OK, TaxonError
from taxon.core.github import log_safe
from taxon.core.progress import console as make_console
from taxon.core.settings import DocumentsSettings
from taxon.documents import chunk_documents, load_leaf_documents
from taxon.documents.records import Document
from taxon.qna.taxonomy import load_leaves

PREVIEW_CHARS = 70


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, metavar="LEAF_OR_DIR", help="qna.yaml files or folders")
    parser.add_argument("--chunks", action="store_true", help="also list the chunks, cut by the teacher's tokenizer")
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    console = make_console()
    tokenizer = chunk_tokenizer(config.generate, config.models) if args.chunks else None
    failed = False
    for leaf in (leaf for path in args.paths for leaf in load_leaves(path)):
        if leaf.document is None:
            continue
        try:
            documents = load_leaf_documents(leaf, config.documents)
        except TaxonError as error:
            print(log_safe(f"taxon documents: error: {error}"), file=sys.stderr)
            failed = True
            continue
        console.print(f"[bold]{escape(leaf.leaf_id)}[/bold]  {escape(str(leaf.qna_path))}")
        table = Table()
        for column in ("document", "source", "characters", "sha256"):
            table.add_column(column)
        for document in documents:
            table.add_row(escape(document.name), escape(document.source), str(len(document.text)), document.sha256[:12])
        console.print(table)
        if tokenizer is not None:
            console.print(_chunk_table(documents, tokenizer, config.documents))
    return EXIT_FAILED if failed else EXIT_OK


def _chunk_table(documents: list[Document], tokenizer: Any, settings: DocumentsSettings) -> Table:
    size, overlap = settings.chunk_tokens, settings.chunk_overlap
    table = Table(caption=f"chunks of at most {size} tokens, overlap {overlap}", caption_justify="left")
    for column in ("chunk", "document", "tokens", "starts with"):
        table.add_column(column)
    for chunk in chunk_documents(documents, tokenizer, size, overlap):
        preview = " ".join(chunk.text.split())[:PREVIEW_CHARS]
        span = f"{chunk.token_start}-{chunk.token_end}"
        table.add_row(str(chunk.index), escape(chunk.document), span, escape(preview))
    return table
