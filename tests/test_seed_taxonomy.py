"""The seed taxonomy: enough leaves of every kind, in-tree documents, and short answers in a
steady house style, since the demo trains a 135M model on it on a CPU in minutes."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from taxon.qna.taxonomy import KINDS, load_leaves

REPO = Path(__file__).resolve().parents[1]
TAXONOMY = REPO / "taxonomy"
LICENSES = ("CC0-1.0", "CC-BY-4.0", "CC-BY-SA-4.0", "CDLA-Permissive-2.0", "Apache-2.0", "MIT")
MAX_ANSWER_WORDS = 25  # one or two short sentences: learnable by a small model in minutes
# A file CONTRIBUTING.md shows, marked with its path: <!-- example: PATH --> then a fenced block.
EXAMPLE = re.compile(r"<!-- example: (\S+) -->\n```\w*\n(.*?)```", re.S)


@pytest.fixture(scope="module")
def leaves():
    return load_leaves(TAXONOMY)


def test_at_least_twelve_leaves_across_the_three_kinds(leaves):
    kinds = Counter(leaf.kind for leaf in leaves)
    assert len(leaves) >= 12
    assert set(kinds) == set(KINDS)


def test_at_least_three_knowledge_leaves_with_in_tree_documents(leaves):
    in_tree = [
        leaf
        for leaf in leaves
        if leaf.kind == "knowledge"
        and leaf.document is not None
        and leaf.document.repo is None
        and any(path.is_file() for pattern in leaf.document.patterns for path in leaf.folder.glob(pattern))
    ]
    assert len(in_tree) >= 3


def test_every_leaf_is_version_4_with_an_allowed_license(leaves):
    for leaf in leaves:
        assert leaf.version == 4, leaf.leaf_id
        attribution = (leaf.folder / "attribution.txt").read_text(encoding="utf-8")
        assert any(f"License of the work: {spdx}\n" in attribution for spdx in LICENSES), leaf.leaf_id


def test_no_question_appears_in_two_leaves(leaves):
    owners = Counter(question for leaf in leaves for question in {seed.question for seed in leaf.seeds})
    assert [question for question, count in owners.items() if count > 1] == []


def test_knowledge_contexts_are_excerpts_of_their_documents(leaves):
    for leaf in leaves:
        if leaf.kind != "knowledge":
            continue
        paths = [path for pattern in leaf.document.patterns for path in leaf.folder.glob(pattern)]
        documents = "\n".join(path.read_text(encoding="utf-8") for path in paths)
        assert 300 <= len(documents.split()) <= 800, leaf.leaf_id
        for seed in leaf.seeds:
            assert seed.context in documents, (leaf.leaf_id, seed.question)


def test_answers_are_short(leaves):
    long_answers = [
        (leaf.leaf_id, seed.question)
        for leaf in leaves
        for seed in leaf.seeds
        if len(seed.answer.split()) > MAX_ANSWER_WORDS
    ]
    assert long_answers == []


def validate_latest(root: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "taxon", "validate", "--latest", "taxonomy"]
    return subprocess.run(command, cwd=root, capture_output=True, text=True)


def test_taxon_validate_latest_passes():
    result = validate_latest(REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_contributing_examples_are_valid_leaves(tmp_path):
    examples = EXAMPLE.findall((REPO / "CONTRIBUTING.md").read_text(encoding="utf-8"))
    assert {Path(path).name for path, _ in examples} == {"qna.yaml", "attribution.txt", "document.md"}
    for path, body in examples:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(body, encoding="utf-8")

    result = validate_latest(tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 files checked, 0 errors, 0 warnings" in result.stdout


def test_contributing_keeps_the_generated_rules_table_under_its_heading():
    text = (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert text.index("## Rules") < text.index("<!-- rules:start -->") < text.index("<!-- rules:end -->")
