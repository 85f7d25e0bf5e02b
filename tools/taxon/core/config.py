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
from pathlib import Path
from typing import Any

from taxon.core.errors import UsageError
from taxon.core.settings import Config, build_config, deep_merge

CONFIG_NAME = "taxon.toml"

DEFAULT_PROFILE = "cpu"


def find_config(start: Path | None = None) -> Path | None:
    folder = Path(start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / CONFIG_NAME).is_file():
            return candidate / CONFIG_NAME
    return None


def load_config(
    profile: str = DEFAULT_PROFILE, path: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> Config:
    """The config of one profile, with `overrides` ({table: {key: value}}, from `--set` and
    flags) laid over it; `path` is a taxon.toml (default: found here or above) or a run's
    resolved config.json."""
    path = Path(path) if path else find_config()
    if path is None:
        raise UsageError(f"no {CONFIG_NAME} found here or above", hint="run from the repository root")
    if path.suffix == ".json":
        return _load_resolved(path, overrides)
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
    config = build_config(deep_merge(raw, profiles[profile]), str(path))
    run_keys = {"profile": profile, "config_path": str(path)}
    return config.with_overrides({**(overrides or {}), **run_keys}, "--set" if overrides else str(path))


def _load_resolved(path: Path, overrides: Mapping[str, Any] | None) -> Config:
    """A config already merged for one profile, as the pipeline records it in its run folder
    (`<run>/config.json`) and hands it to the processes it launches."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read config: {error}", where=str(path))
    if not isinstance(config, dict):
        raise UsageError("a resolved config must be a JSON object", where=str(path))
    return build_config(deep_merge(config, overrides or {}), str(path))


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
