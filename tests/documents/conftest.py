import pytest

from taxon.core.config import load_config


@pytest.fixture
def documents_config(tmp_path, repo_root) -> dict:
    """The repository's config with caches in tmp and file:// repositories allowed (test-only)."""
    return load_config(
        path=repo_root / "taxon.toml",
        overrides={"documents": {"cache_dir": str(tmp_path / "cache"), "allow_file_urls": True}},
    )
