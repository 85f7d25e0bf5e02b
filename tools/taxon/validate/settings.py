"""The validator's limits and thresholds: defaults here, overridden by [validate] in taxon.toml."""

from __future__ import annotations

DEFAULTS: dict = {
    "max_file_bytes": 1_000_000,  # larger files are refused unread (Y002)
    "max_depth": 10,  # deepest nesting of mappings and lists (Y009)
    "max_findings_per_rule": 20,  # per file, then one "and N more" finding
    "context_words": 500,  # a knowledge context (P010)
    "qa_words": 250,  # one question with its answer (P011)
    "skill_words": 2300,  # all seeds of a skill file together (P012)
    "near_duplicate": 0.9,  # word-set similarity of two seeds in one file (P031)
    "near_duplicate_max_seeds": 500,  # files with more seeds skip P031 (it compares every pair)
    "tree_overlap": 0.8,  # share of questions two leaves have in common (T002)
    "parallel_from": 300,  # files; from this many on, several processes share the work
    "workers": 0,  # processes for a large tree; 0: one per CPU, at most 4
    "licenses": ["CC0-1.0", "CC-BY-4.0", "CC-BY-SA-4.0", "CDLA-Permissive-2.0", "Apache-2.0", "MIT"],
}


def validate_settings(config: dict | None = None) -> dict:
    """DEFAULTS overridden by the config's [validate] table (unknown keys are kept)."""
    return {**DEFAULTS, **((config or {}).get("validate") or {})}
