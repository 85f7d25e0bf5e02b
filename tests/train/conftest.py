"""A small taxonomy, generated samples for it, and the repo's config shrunk for the tiny model."""

import json
from pathlib import Path

import pytest

from taxon.config import load_config
from taxon.samples import SAMPLES_NAME, make_sample
from taxon.taxonomy import load_leaves

REPO = Path(__file__).resolve().parents[2]

SKILL = """\
version: 3
created_by: tester
task_description: Answer questions about numbers.
seed_examples:
  - question: What is 1 plus 2?
    answer: 1 plus 2 equals 3.
  - question: What is 2 times 3?
    answer: 2 times 3 equals 6.
  - question: Is 5 more than 4?
    answer: Yes, 5 is more than 4.
"""

KNOWLEDGE = """\
version: 3
created_by: tester
domain: birds
document_outline: The chickadee.
document:
  repo: https://example.com/docs
  commit: 0123456789abcdef0123456789abcdef01234567
  patterns: ["*.md"]
seed_examples:
  - context: The black-capped chickadee is a small bird of North American forests.
    questions_and_answers:
      - question: What is the chickadee?
        answer: The chickadee is a small bird.
      - question: Where does the chickadee live?
        answer: The chickadee lives in North American forests.
"""

# Tiny-model settings: rows of 96 tokens, 3 rows a step, one thread, float32 throughout.
SMALL = {
    "epochs": 2,
    "pack_tokens": 96,
    "max_sample_tokens": 96,
    "rows_per_step": 3,
    "learning_rate": 1e-2,
    "lora_rank": 4,
    "lora_alpha": 8,
    "autocast": "none",
    "frozen_dtype": "float32",
    "checkpoint_every": 0,
    "threads": 1,
}


def small_config(**train) -> dict:
    return load_config("cpu", REPO / "taxon.toml", {"train": {**SMALL, **train}})


def set_flags(**train) -> list[str]:
    """The same settings as --set flags, for the CLI in a subprocess."""
    return [f"--set=train.{key}={json.dumps(value)}" for key, value in {**SMALL, **train}.items()]


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
