"""taxon train: fine-tune the base model on generated samples, seed examples and a replay set.

On several GPUs or nodes, launch it with torchrun (FSDP2):
    torchrun --nproc_per_node 8 -m taxon train --data GEN_OUT --out DIR --profile gpu
Exit code 75 means stopped by SIGTERM with a checkpoint saved: rerun the same command to resume.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from taxon.commands._options import add_config_arguments, chosen_leaves, config_from_args
from taxon.core.errors import EXIT_OK
from taxon.core.settings import Config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, type=Path, help="generate output folder (<leaf_id>/samples.jsonl)")
    parser.add_argument("--taxonomy", type=Path, help="taxonomy root, for the seed examples (default: taxonomy.root)")
    parser.add_argument("--out", required=True, type=Path, help="output folder (adapter/, model/, result.json, ...)")
    parser.add_argument("--base", help="base model: folder, hub id or packaged:smollm2 (default: models.base)")
    parser.add_argument("--replay", type=Path, help="JSONL of general chat rows mixed in to keep the base's skills")
    parser.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="continue from the newest checkpoint in --out (default: train.resume)",
    )
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: train.threads; 0: torch's choice)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    parser.add_argument(
        "--tensorboard",
        action="store_true",
        help="write a finished run's TensorBoard events anew from its log (a run writes them live as it trains)",
    )
    add_config_arguments(parser)


def _config(args: argparse.Namespace) -> Config:
    flags = {"resume": args.resume, "threads": args.threads}
    return config_from_args(args, {"train": {k: v for k, v in flags.items() if v is not None}})


def _base_model(spec: str, config: Config) -> str:
    if Path(spec).is_dir():
        return spec
    from taxon.backends.models import resolve_model

    return resolve_model(spec, config.models)


def run(args: argparse.Namespace) -> int:
    from taxon.train import train

    config = _config(args)
    base_model = _base_model(args.base or config.models.base, config)
    leaves = chosen_leaves(args, config)
    result = train(
        args.data,
        leaves,
        base_model,
        args.out,
        config,
        replay=args.replay,
        quiet=args.quiet,
        tensorboard=args.tensorboard,
    )
    if not args.quiet and os.environ.get("RANK", "0") == "0":
        print(f"model: {result.model_dir}", file=sys.stderr)
    return EXIT_OK
