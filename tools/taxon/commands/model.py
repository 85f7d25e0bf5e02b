"""`taxon model prepare [SPEC]`: prepare a model once (the packaged default by default) and
print its folder. `taxon model path SPEC`: print where a model spec resolves, preparing nothing."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from taxon.backends.models import PACKAGED_PREFIX, is_prepared, packaged_model_dir, resolve_model
from taxon.commands._options import add_config_arguments, config_from_args
from taxon.core.errors import EXIT_FAILED, EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    prepare = actions.add_parser("prepare", help="prepare a model (default: [models] base) and print its folder")
    prepare.add_argument("spec", nargs="?", help="packaged:NAME, a local folder or a Hugging Face id")
    path = actions.add_parser("path", help="print the folder or id a model spec resolves to, preparing nothing")
    path.add_argument("spec", help="packaged:NAME, a local folder or a Hugging Face id")
    for action in (prepare, path):
        add_config_arguments(action)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    spec = args.spec or config.models.base
    if args.action == "prepare" or not spec.startswith(PACKAGED_PREFIX):
        print(resolve_model(spec, config.models))
        return EXIT_OK
    folder = packaged_model_dir(spec.removeprefix(PACKAGED_PREFIX), Path(config.models.cache_dir))
    print(folder)
    if not is_prepared(folder):
        print(f"not prepared yet: run taxon model prepare {spec}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
