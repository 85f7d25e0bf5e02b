"""Files of the repository's top level that the package reads: schema/, taxon.toml and the
workflows. In a checkout (an editable install) they are read where they are; a wheel ships
copies under the environment's share/taxon/ (pyproject's data-files), so no link inside the
package points out of it."""

from __future__ import annotations

import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[3]  # tools/taxon/core/ -> the repository
INSTALLED = Path(sys.prefix) / "share" / "taxon"


def shipped_path(relative: str) -> Path:
    """The checkout's own copy when this package runs from a checkout, else the wheel's."""
    if (CHECKOUT / "pyproject.toml").is_file() and (CHECKOUT / relative).exists():
        return CHECKOUT / relative
    return INSTALLED / relative
