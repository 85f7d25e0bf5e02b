import pytest

from taxon.core.settings import DocumentsSettings


@pytest.fixture
def document_settings(tmp_path) -> DocumentsSettings:
    """[documents] with the cache in tmp and file:// repositories allowed (test-only)."""
    return DocumentsSettings(cache_dir=str(tmp_path / "cache"), allow_file_urls=True)
