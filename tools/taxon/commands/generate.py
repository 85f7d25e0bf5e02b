"""`taxon generate [PATH...] --out DIR`: synthetic samples for the leaves under PATHs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from taxon.commands._options import add_config_arguments, config_from_args, taxonomy_root
from taxon.core.errors import EXIT_FAILED, EXIT_OK, TaxonError, UsageError
from taxon.qna.taxonomy import iter_qna_files, load_leaf


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="qna.yaml files or folders (default: the taxonomy root from the config)",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder: <out>/<leaf_id>/samples.jsonl ...")
    parser.add_argument("--backend", help="teacher backend: transformers, openai or vllm")
    parser.add_argument("--teacher", help="teacher model (a Hugging Face id, local folder or packaged:NAME)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars (for CI)")
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from taxon.generate.run import LeavesFailed, generate_leaves

    chosen = {key: getattr(args, key) for key in ("backend", "teacher") if getattr(args, key)}
    config = config_from_args(args, {"generate": chosen})
    leaves = [load_leaf(path) for path in _qna_files(args.paths or [taxonomy_root(args, config)])]
    try:
        result = generate_leaves(leaves, args.out, config, quiet=args.quiet)
    except LeavesFailed as failure:
        _print_table(failure.result.leaves)
        raise
    _print_table(result.leaves)
    print(f"{len(result.leaves)} leaves, {result.calls} teacher requests, {result.cached_units} units from the cache")
    return EXIT_OK if not result.errors else EXIT_FAILED


def _qna_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if not path.exists():
            raise UsageError(f"no such file or folder: {path}")
        found = iter_qna_files(path)
        if not found:
            raise TaxonError(f"no qna.yaml under {path}")
        files += [f for f in found if f not in files]
    return files


def _print_table(leaves: dict[str, dict[str, Any]]) -> None:
    from rich.table import Column, Table

    from taxon.core.progress import console

    table = Table(Column("leaf", no_wrap=True), "generated", "kept", Column("dropped", min_width=20), "error")
    for leaf_id, stats in leaves.items():
        dropped = ", ".join(f"{reason} {n}" for reason, n in stats["dropped"].items())
        table.add_row(leaf_id, str(stats["generated"]), str(stats["kept"]), dropped, stats.get("error", ""))
    console().print(table)
