"""Where the repository and the shared InstructLab corpus are."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus" / "instructlab-taxonomy"
CORPUS_2024 = SHARED / "corpus" / "instructlab-taxonomy-2024-08"
