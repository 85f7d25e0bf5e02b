"""T003: under taxonomy/ only leaf folders with their qna.yaml, attribution.txt and, for
knowledge, documents; every other file is an error naming its path. Real files in tmp folders."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from taxon.validate.engine import validate_paths

REPO = Path(__file__).resolve().parents[2]
SKILL = "compositional_skills/grounded/extraction/event_dates"
KNOWLEDGE = "knowledge/geography/fictional_towns/brindlemoor"


def t003(root: Path) -> dict[str, str]:
    report = validate_paths([root])
    return {
        os.path.relpath(f.path, root): f.message for file in report.reports for f in file.findings if f.rule == "T003"
    }


@pytest.fixture
def taxonomy(tmp_path: Path) -> Path:
    root = tmp_path / "taxonomy"
    for leaf in (SKILL, KNOWLEDGE):
        shutil.copytree(REPO / "taxonomy" / leaf, root / leaf)
    return root


def test_a_clean_tree_has_no_finding(taxonomy):
    assert t003(taxonomy) == {}
    (taxonomy / KNOWLEDGE / "more").mkdir()
    (taxonomy / KNOWLEDGE / "more" / "notes.txt").write_text("documents may sit in subfolders\n")
    (taxonomy / KNOWLEDGE / "paper.PDF").write_bytes(b"%PDF-1.4\n")
    assert t003(taxonomy) == {}


def test_the_seed_taxonomy_passes():
    assert t003(REPO / "taxonomy") == {}


def test_every_file_without_a_place_is_named(taxonomy):
    stray = {
        "README.md": "in no leaf folder",
        "knowledge/geography/notes.md": "in no leaf folder",
        f"{SKILL}/document.md": "no place in a leaf",
        f"{KNOWLEDGE}/run.sh": "no place in a leaf",
        f"{KNOWLEDGE}/.gitattributes": "hidden",
        f"{KNOWLEDGE}/.hidden/qna.yaml": "hidden",
        "objects/pack/x.pack": "in no leaf folder",
    }
    for path in stray:
        (taxonomy / path).parent.mkdir(parents=True, exist_ok=True)
        (taxonomy / path).write_text("x\n")
    found = t003(taxonomy)
    assert set(found) == set(stray)
    for path, words in stray.items():
        assert words in found[path] and found[path].endswith("remove it")


def test_a_symlink_or_fifo_is_refused(taxonomy):
    (taxonomy / KNOWLEDGE / "link.md").symlink_to(taxonomy / KNOWLEDGE / "document.md")
    os.mkfifo(taxonomy / KNOWLEDGE / "pipe.md")
    found = t003(taxonomy)
    assert set(found) == {f"{KNOWLEDGE}/link.md", f"{KNOWLEDGE}/pipe.md"}
    assert all("not a regular file" in message for message in found.values())
