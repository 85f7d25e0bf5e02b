"""The one config file, `taxon.toml` at the repo root: every model and parameter of every
stage, with profiles (`cpu`, `gpu`) layered over shared defaults. Flags override it.

Layout: top-level tables are stages ([generate], [train], ...); [profiles.NAME.STAGE]
tables override them key by key. `load_config` merges the file, the profile and the flags
and checks the result once against the schema (taxon.core.settings): a frozen `Config`.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from taxon.core.errors import UsageError
from taxon.core.settings import SECTIONS, Config, build_config, deep_merge

CONFIG_NAME = "taxon.toml"

DEFAULT_PROFILE = "cpu"


def find_config(start: Path | None = None) -> Path | None:
    folder = Path(start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / CONFIG_NAME).is_file():
            return candidate / CONFIG_NAME
    return None


DEFAULT_SOURCE = "default"
SET_SOURCE = "--set"


@dataclass(frozen=True)
class Layer:
    """Tables load_config lays over the schema's defaults, and where they come from."""

    source: str  # taxon.toml, "profile NAME", --set, or the path of a run's resolved config.json
    tables: Mapping[str, Any]


def config_layers(
    profile: str = DEFAULT_PROFILE, path: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> tuple[Path, list[Layer]]:
    """The config file found (or given) and what load_config merges, lowest first: taxon.toml's
    tables, the profile's, then `overrides`; for a run's resolved config.json, its tables then
    `overrides`."""
    path = Path(path) if path else find_config()
    if path is None:
        raise UsageError(f"no {CONFIG_NAME} found here or above", hint="run from the repository root")
    if path.suffix == ".json":
        return path, [Layer(str(path), _read_resolved(path)), Layer(SET_SOURCE, overrides or {})]
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise UsageError(f"cannot read config: {error}", where=str(path))
    profiles = raw.pop("profiles", {})
    if profile not in profiles:
        raise UsageError(
            f"unknown profile '{profile}'", where=str(path), hint=f"choose one of: {', '.join(sorted(profiles))}"
        )
    for name, table in profiles.items():  # every profile, so a typo in one not chosen is found too
        build_config(deep_merge(raw, table), f"{path} [profiles.{name}]")
    return path, [
        Layer(CONFIG_NAME, raw),
        Layer(f"profile {profile}", profiles[profile]),
        Layer(SET_SOURCE, overrides or {}),
    ]


def load_config(
    profile: str = DEFAULT_PROFILE, path: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> Config:
    """The config of one profile, with `overrides` ({table: {key: value}}, from `--set` and
    flags) laid over it; `path` is a taxon.toml (default: found here or above) or a run's
    resolved config.json."""
    return _merged(*config_layers(profile, path, overrides), profile)


def _merged(path: Path, layers: list[Layer], profile: str) -> Config:
    """The layers merged and checked once: the file's (and its profile's) problems named with
    the file, the overrides' with --set."""
    *from_file, sets = layers
    merged: dict[str, Any] = {}
    for layer in from_file:
        merged = deep_merge(merged, layer.tables)
    config = build_config(merged, str(path))
    if path.suffix == ".json":  # a run's resolved config carries its own profile and file
        return config.with_overrides(sets.tables, SET_SOURCE) if sets.tables else config
    run_keys = {"profile": profile, "config_path": str(path)}
    config = config.with_overrides({**sets.tables, **run_keys}, SET_SOURCE if sets.tables else str(path))
    return _anchored(config, path.resolve().parent)


def _anchored(config: Config, folder: Path) -> Config:
    """The folders [documents] mirrors names relative to taxon.toml, made absolute: a command
    run from another folder, or a stage reading the run's config.json, finds them too."""
    mirrors = {
        key: target if "://" in target or Path(target).expanduser().is_absolute() else str(folder / target)
        for key, target in config.documents.mirrors.items()
    }
    return replace(config, documents=replace(config.documents, mirrors=mirrors))


def config_sources(
    profile: str = DEFAULT_PROFILE, path: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> tuple[Config, list[tuple[str, Any, str]]]:
    """The config load_config gives, and each of its settings as (dotted key, value, where it
    came from): the last layer that set it (config_layers), else the schema's default."""
    path, layers = config_layers(profile, path, overrides)
    config = _merged(path, layers, profile)
    set_by = [(layer.source, _dotted(layer.tables)) for layer in reversed(layers)]
    rows = []
    for key, value in _dotted({name: table for name, table in config.to_dict().items() if name in SECTIONS}).items():
        source = next((name for name, keys in set_by if key in keys), DEFAULT_SOURCE)
        rows.append((key, value, source))
    return config, rows


def _dotted(tables: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"train": {"epochs": 2}} -> {"train.epochs": 2}, nested tables flattened."""
    flat: dict[str, Any] = {}
    for key, value in tables.items():
        if isinstance(value, Mapping):
            flat.update(_dotted(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _read_resolved(path: Path) -> dict[str, Any]:
    """A config already merged for one profile, as the pipeline records it in its run folder
    (`<run>/config.json`) and hands it to the processes it launches."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read config: {error}", where=str(path))
    if not isinstance(config, dict):
        raise UsageError("a resolved config must be a JSON object", where=str(path))
    return config


def parse_override(text: str) -> dict[str, Any]:
    """`stage.key=value` from a `--set` flag into a nested dict; the value is read as TOML."""
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise UsageError(f"bad --set '{text}'", hint="write --set stage.key=value, e.g. --set train.epochs=2")
    dotted, raw_value = text.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw_value}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw_value
    result: dict[str, Any] = {}
    node = result
    *parents, last = dotted.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return result
