"""`taxon evaluate --candidate M --baseline B [--baseline B2 ...] --data GEN_OUT --out DIR`:
score a candidate against baselines on the taxonomy's held-out questions and the general
probe; exit 1 when the regression gate fails."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from taxon.commands._options import add_config_arguments, chosen_leaves, config_from_args
from taxon.core.errors import EXIT_FAILED, EXIT_OK
from taxon.core.github import log_safe
from taxon.qna.layout import REPORT_MD


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--candidate", required=True, metavar="MODEL", help="the model to judge: a folder or hub id")
    parser.add_argument(
        "--baseline",
        action="append",
        required=True,
        metavar="MODEL",
        help="a model to compare with (repeatable): the base model, a previous bundle folder",
    )
    parser.add_argument("--data", type=Path, required=True, metavar="GEN_OUT", help="the generate output folder")
    parser.add_argument("--taxonomy", type=Path, help="taxonomy folder (default: taxonomy.root)")
    parser.add_argument("--out", type=Path, required=True, help="folder for report.json, report.md, deltas.png")
    parser.add_argument(
        "--changed",
        nargs="+",
        action="extend",
        default=[],
        metavar="LEAF",
        help="leaf ids this change touched: the gate requires each to improve",
    )
    parser.add_argument(
        "--questions",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="your own questions with their answers (JSONL or YAML rows of question and answer; repeatable): "
        "scored as the knowledge facts are, reported apart from the taxonomy's figures",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from taxon.evaluate import evaluate
    from taxon.publish.bundle import gguf_files_to_evaluate

    config = config_from_args(args)
    leaves = chosen_leaves(args, config)
    # the GGUF files publish would ship (publish.gguf, publish.quantize), each scored beside the candidate
    gguf_files = gguf_files_to_evaluate(Path(args.candidate), Path(args.out) / "gguf", config.publish)
    report = evaluate(
        args.candidate,
        args.baseline,
        args.data,
        leaves,
        args.out,
        config,
        changed_leaves=args.changed,
        quiet=args.quiet,
        gguf_files=gguf_files,
        questions=args.questions,
    )
    print((Path(args.out) / REPORT_MD).read_text(encoding="utf-8"))
    print(f"reports in {args.out}: report.json, report.md, deltas.png")
    if not report.passed:
        print("taxon evaluate: the gate failed:", file=sys.stderr)
        for reason in report.gate.reasons:
            print(log_safe(f"  - {reason}"), file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
