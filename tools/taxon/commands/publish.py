"""`taxon publish [RUN] --to DIR | hf://ORG/NAME`: build a verified model bundle from a run
(train output, eval report, generated dataset) in a folder, or upload it to the Hub."""

from __future__ import annotations

import argparse
from pathlib import Path

from taxon.commands._options import add_config_arguments, chosen_leaves, config_from_args
from taxon.core.errors import EXIT_OK, UsageError
from taxon.qna.layout import REPORT_JSON, RunLayout


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run",
        nargs="?",
        type=Path,
        help="a run folder holding train/, evaluate/ and generate/ (each can be given on its own instead)",
    )
    parser.add_argument("--to", required=True, metavar="DEST", help="a bundle folder, or hf://ORG/NAME")
    parser.add_argument("--train", type=Path, help="the train output folder (default: RUN/train)")
    parser.add_argument("--eval", type=Path, help="the evaluate output folder (default: RUN/evaluate when present)")
    parser.add_argument("--data", type=Path, help="the generate output folder (default: RUN/generate)")
    parser.add_argument("--taxonomy", type=Path, help="taxonomy folder (default: taxonomy.root)")
    parser.add_argument(
        "--gguf", action="store_true", help="add model.gguf for llama.cpp and an Ollama Modelfile (publish.gguf)"
    )
    add_config_arguments(parser)


def _folders(args: argparse.Namespace) -> tuple[Path, Path | None, Path]:
    run = args.run
    if run is None and not (args.train and args.data):
        raise UsageError("give a run folder, or --train and --data", hint="taxon publish RUN --to DEST")
    train = args.train or RunLayout(run).train_dir
    evaluation = args.eval or (
        RunLayout(run).eval_dir if run and (RunLayout(run).eval_dir / REPORT_JSON).is_file() else None
    )
    data = args.data or RunLayout(run).generate_dir
    return train, evaluation, data


def run(args: argparse.Namespace) -> int:
    from taxon.publish import publish
    from taxon.publish.hub import hub_repo

    config = config_from_args(args, {"publish": {"gguf": True}} if args.gguf else {})
    train, evaluation, data = _folders(args)
    leaves = chosen_leaves(args, config)
    bundle = publish(train, evaluation, data, leaves, config, args.to)
    repo_id = hub_repo(args.to)
    print(f"bundle verified: {bundle}" + ("" if evaluation else " (published without an evaluation)"))
    if repo_id:
        print(f"uploaded to https://huggingface.co/{repo_id}")
    return EXIT_OK
