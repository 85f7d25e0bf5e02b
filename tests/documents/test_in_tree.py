"""In-tree documents (schema v4): patterns relative to the leaf folder, never leaving it."""

from __future__ import annotations

import hashlib
import os

import pytest
from document_helpers import make_leaf

from taxon.core.errors import TaxonError
from taxon.core.findings import ERROR
from taxon.core.settings import DocumentsSettings
from taxon.documents import check_leaf_documents, load_leaf_documents
from taxon.documents.patterns import compile_pattern

BIRDS = "# Chickadees\n\nThe black-capped chickadee is a small bird.\n"


def test_in_tree_documents_in_name_order(tmp_path, document_settings):
    leaf = make_leaf(
        tmp_path,
        {"patterns": ["*.md", "notes/**/*.txt"]},
        {"b.md": BIRDS, "a.md": "\ufeffFirst", "notes/x/deep.txt": "deep", "notes/skip.pdf": b"%PDF", "c.yaml": "x: 1"},
    )
    nested = leaf.folder / "sub"  # a leaf of its own: its files are not this leaf's documents
    nested.mkdir()
    (nested / "qna.yaml").write_text("version: 4\n")
    (nested / "inner.md").write_text("inner")

    documents = load_leaf_documents(leaf, document_settings)

    assert [(d.name, d.text, d.source) for d in documents] == [
        ("a.md", "First", "in-tree"),
        ("b.md", BIRDS, "in-tree"),
        ("notes/x/deep.txt", "deep", "in-tree"),
    ]
    assert documents[1].sha256 == hashlib.sha256(BIRDS.encode()).hexdigest()


def test_dot_dot_pattern_and_symlink_out_of_the_folder_are_refused(tmp_path, document_settings):
    secret = tmp_path / "secret.md"
    secret.write_text("the runner's secret")
    leaf = make_leaf(tmp_path, {"patterns": ["../*.md", "*.md", "/etc/*"]}, {"birds.md": BIRDS})
    os.symlink(secret, leaf.folder / "leak.md")
    os.symlink(tmp_path, leaf.folder / "linked")

    findings = check_leaf_documents(leaf, document_settings)

    assert sorted((f.rule, f.severity) for f in findings) == [("D005", ERROR), ("D005", ERROR), ("D006", ERROR)]
    assert [f.message.split(" is a")[0] for f in findings if f.rule == "D006"] == ["leak.md"]
    with pytest.raises(TaxonError) as error:
        load_leaf_documents(leaf, document_settings)
    assert "the runner's secret" not in str(error.value) and "--check-documents" in str(error.value)


def test_findings_point_at_the_document_key_and_pattern(tmp_path, document_settings):
    leaf = make_leaf(tmp_path, {"patterns": ["*.md", "missing/*.txt"]}, {"birds.md": BIRDS})
    lines = leaf.qna_path.read_text().splitlines()

    [finding] = check_leaf_documents(leaf, document_settings)

    assert finding.rule == "D004" and "missing/*.txt" in finding.message
    assert "missing/*.txt" in lines[finding.line - 1]
    assert lines[finding.line - 1][finding.column - 1 :].startswith("missing/*.txt")


def test_a_leaf_without_documents_has_none(tmp_path, document_settings):
    leaf = make_leaf(tmp_path, {"patterns": ["*.md"]}, {"birds.md": BIRDS})
    leaf.document = None
    assert load_leaf_documents(leaf, document_settings) == []
    assert check_leaf_documents(leaf, document_settings) == []


def test_a_config_without_a_documents_table_uses_the_defaults(tmp_path):
    leaf = make_leaf(tmp_path, {"patterns": ["*.md"]}, {"birds.md": BIRDS})
    assert [d.name for d in load_leaf_documents(leaf, DocumentsSettings())] == ["birds.md"]


@pytest.mark.parametrize(
    "pattern, name, matches",
    [
        ("*.md", "a.md", True),
        ("*.md", "docs/a.md", False),
        ("**/*.md", "a.md", True),
        ("**/*.md", "x/y/a.md", True),
        ("docs/[ab].md", "docs/a.md", True),
        ("docs/[!ab].md", "docs/a.md", False),
        ("a?c", "a/c", False),
    ],
)
def test_patterns_are_globs_anchored_at_the_folder(pattern, name, matches):
    assert compile_pattern(pattern).matches(name) is matches


def test_an_invalid_glob_is_a_finding(tmp_path, document_settings):
    leaf = make_leaf(tmp_path, {"patterns": ["[z-a].md", "*.md"]}, {"birds.md": BIRDS})
    assert [(f.rule, "backwards" in f.message) for f in check_leaf_documents(leaf, document_settings)] == [
        ("D013", True)
    ]
