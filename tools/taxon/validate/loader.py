"""Safe loading of qna.yaml files. (Placeholder: the full hostile-input loader replaces this.)"""

from __future__ import annotations

from pathlib import Path

import yaml

from taxon.errors import TaxonError


def load_qna(path: Path) -> dict:
    """Parsed qna.yaml as a dict, or TaxonError saying why it can't be read."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise TaxonError(f"cannot read: {error}", where=str(path), hint=f"run: taxon validate {path}")
    if not isinstance(data, dict):
        raise TaxonError("not a mapping", where=str(path), hint=f"run: taxon validate {path}")
    return data
