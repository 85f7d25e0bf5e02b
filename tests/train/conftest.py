"""A small taxonomy and generated samples for it, for the train tests."""

import json
from pathlib import Path

import pytest
from train_setup import KNOWLEDGE, SKILL

from taxon.qna.layout import SAMPLES_NAME
from taxon.qna.samples import make_sample
from taxon.qna.taxonomy import load_leaves


@pytest.fixture(scope="session")
def taxonomy_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("taxonomy")
    for relative, text in {
        "compositional_skills/math/numbers/qna.yaml": SKILL,
        "knowledge/science/birds/chickadee/qna.yaml": KNOWLEDGE,
    }.items():
        (root / relative).parent.mkdir(parents=True)
        (root / relative).write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def leaves(taxonomy_dir):
    return load_leaves(taxonomy_dir)


@pytest.fixture(scope="session")
def generated_dir(tmp_path_factory, leaves) -> Path:
    """40 generated samples per leaf, short enough for rows of 96 tokens."""
    root = tmp_path_factory.mktemp("generated")
    for number, leaf in enumerate(leaves):
        rows = [
            make_sample(
                f"Question {number}.{n}: what is {n} plus {n % 7}?",
                f"{n} plus {n % 7} equals {n + n % 7}. " + "yes " * (n % 9),
                None,
                {"leaf": leaf.leaf_id, "kind": leaf.kind, "seed": 0, "source": "generated"},
            )
            for n in range(40)
        ]
        folder = root / leaf.leaf_id
        folder.mkdir(parents=True)
        (folder / SAMPLES_NAME).write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return root
