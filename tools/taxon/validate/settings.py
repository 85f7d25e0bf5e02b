"""The validator's limits and thresholds: the [validate] table of taxon.toml (schema and
defaults in taxon.core.settings), for a fork without taxon.toml too."""

from __future__ import annotations

from taxon.core.settings import check_config


def validate_settings(config: dict | None = None) -> dict:
    """[validate] checked, with the schema's defaults for what it leaves out."""
    table = (config or {}).get("validate") or {}
    return check_config({"validate": table}, "[validate]")["validate"]


DEFAULTS = validate_settings()
