"""Where the repository and the shared InstructLab corpus are (../shared beside the checkout;
TAXON_SHARED names another place, e.g. for a worktree one folder deeper)."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("TAXON_SHARED") or REPO.parent / "shared")
CORPUS = SHARED / "corpus" / "instructlab-taxonomy"
CORPUS_2024 = SHARED / "corpus" / "instructlab-taxonomy-2024-08"
