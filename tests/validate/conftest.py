"""Fixtures of the validate tests: leaves written into a temporary taxonomy."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.leaves import ATTRIBUTION, knowledge_text, skill_text


@pytest.fixture
def make_leaf(tmp_path: Path):
    """make_leaf('knowledge/zoo/otters', text) -> path of the qna.yaml written there, with an
    attribution.txt (pass attribution=None for none) and any extra files {name: text}."""

    def make(
        folder: str, text: str, attribution: str | None = ATTRIBUTION, files: dict | None = None, name: str = "qna.yaml"
    ) -> Path:
        leaf = tmp_path / "taxonomy" / folder
        leaf.mkdir(parents=True, exist_ok=True)
        (leaf / name).write_text(text, encoding="utf-8")
        if attribution is not None:
            (leaf / "attribution.txt").write_text(attribution, encoding="utf-8")
        for file_name, content in (files or {}).items():
            (leaf / file_name).write_text(content, encoding="utf-8")
        return leaf / name

    return make


@pytest.fixture
def knowledge_leaf(make_leaf):
    """A valid version 4 knowledge leaf with an in-tree document."""
    return make_leaf("knowledge/zoo/animals", knowledge_text(), files={"animals.md": "# Animals\n\nOtters swim.\n"})


@pytest.fixture
def skill_leaf(make_leaf):
    return make_leaf("compositional_skills/writing/describe", skill_text())
