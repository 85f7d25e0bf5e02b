from pathlib import Path

import pytest

from taxon.core.config import load_config
from taxon.core.settings import Config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def make_config(tmp_path):
    def make(eval_share: float = 0.0, **generate) -> Config:
        """The cpu profile with these generate settings; no seed held out unless asked."""
        settings = {
            "cache_dir": str(tmp_path / "cache"),
            "questions_per_seed": 3,
            "contexts_per_seed": 2,
            "questions_per_chunk": 3,  # the cpu profile asks none: these tests drive the teacher's path
            "min_kept_per_leaf": 1,
            **generate,
        }
        return load_config("cpu", REPO / "taxon.toml", {"generate": settings, "dataset": {"eval_share": eval_share}})

    return make
