"""`taxon config show [--profile P] [--set K=V] [--json]`: the resolved config of a profile,
every setting with where its value came from (default, taxon.toml, the profile, --set)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from taxon.commands._options import add_config_arguments, overrides_from_sets
from taxon.core.errors import EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["show"], help="show: print the resolved config")
    parser.add_argument("--json", action="store_true", help="one JSON object per setting: key, value, source")
    add_config_arguments(parser)


def _toml_value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)  # strings, numbers, booleans and lists read the same in TOML


def run(args: argparse.Namespace) -> int:
    from taxon.core.config import config_sources

    config, rows = config_sources(args.profile, args.config, overrides_from_sets(args.set))
    if args.json:
        for key, value, source in rows:
            print(json.dumps({"key": key, "value": value, "source": source}, ensure_ascii=False))
        return EXIT_OK
    print(f"# profile {config.profile or args.profile}, from {args.config or config.config_path}")
    table = None
    for key, value, source in rows:
        section, name = key.rsplit(".", 1)
        if section != table:
            print(f"\n[{section}]")
            table = section
        line = f"{name} = {_toml_value(value)}"
        print(f"{line:<48}  # {source}")
    return EXIT_OK
