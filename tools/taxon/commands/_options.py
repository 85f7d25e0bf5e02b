"""Options every stage command shares: the config profile, file and overrides, the taxonomy."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taxon.core.config import CONFIG_NAME, DEFAULT_PROFILE, find_config, load_config, parse_override
from taxon.core.settings import Config, build_config, deep_merge
from taxon.core.shipped import shipped_path

if TYPE_CHECKING:
    from taxon.qna.taxonomy import Leaf


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default=DEFAULT_PROFILE, help="config profile (default: %(default)s)")
    parser.add_argument("--config", type=Path, help="path of taxon.toml (default: found here or above)")
    parser.add_argument("--set", action="append", default=[], metavar="STAGE.KEY=VALUE", help="override a setting")


def overrides_from_sets(sets: list[str]) -> dict[str, Any]:
    """The `--set stage.key=value` flags as one nested dict."""
    overrides: dict[str, Any] = {}
    for text in sets:
        overrides = deep_merge(overrides, parse_override(text))
    return overrides


def config_from_args(args: argparse.Namespace, flags: dict[str, Any] | None = None) -> Config:
    """The profile's config; `--set` flags win over the config file, dedicated flags
    (`flags`, e.g. {"train": {"threads": 1}}) win over both."""
    overrides = deep_merge(overrides_from_sets(args.set), flags or {})
    return load_config(args.profile, args.config, overrides)


def config_or_defaults(args: argparse.Namespace) -> Config:
    """The config of the taxon.toml here, or the schema's defaults (a plain taxonomy fork may have none)."""
    overrides = overrides_from_sets(args.set)
    if args.config or find_config() is not None:
        return load_config(args.profile, args.config, overrides)
    return build_config(overrides, "--set")


def taxonomy_root(args: argparse.Namespace, config: Config) -> Path:
    """--taxonomy, else [taxonomy] root beside taxon.toml."""
    if getattr(args, "taxonomy", None):
        return Path(args.taxonomy)
    return Path(config.config_path).parent / config.taxonomy.root


def chosen_leaves(args: argparse.Namespace, config: Config) -> list[Leaf]:
    """The leaves of the taxonomy root that [pipeline] leaves chooses (all when it is empty):
    train, evaluate and publish, as the pipeline launches them with its resolved config."""
    from taxon.qna.taxonomy import load_leaves

    return load_leaves(taxonomy_root(args, config), config.pipeline.leaves)


# taxon serve and taxon chat: a model and the teacher's torch threads
MODEL_HELP = "model folder, GGUF file, hub id or 'packaged:smollm2' (default: generate.teacher)"


def add_model_config_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--threads", type=int, help="torch threads for a local model (default: teacher.threads)")


def model_config_from_args(args: argparse.Namespace) -> Config:
    """As config_from_args; outside a taxon repository (no --config, no taxon.toml here or
    above) the taxon.toml shipped with taxon gives the defaults, as `vllm serve DIR` needs none."""
    threads = {"teacher": {"threads": args.threads}} if args.threads is not None else {}
    # torch's OpenMP threads wait for work by spinning: on a machine shared with other work
    # they spin against it (bench/serve_threads.py). Sleeping instead costs nothing when idle.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if args.config is None and find_config() is None:
        args.config = shipped_path(CONFIG_NAME)
    return config_from_args(args, threads)
