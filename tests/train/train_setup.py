"""Settings and texts shared by the train tests (a module of its own: every test folder has a conftest)."""

import json
from pathlib import Path

from taxon.core.config import load_config
from taxon.core.settings import Config

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

# Tiny-model settings: LoRA, rows of 96 tokens, 3 rows a step, one thread, float32 throughout.
SMALL = {
    "method": "lora",
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


def small_config(**train) -> Config:
    return load_config("cpu", REPO / "taxon.toml", {"train": {**SMALL, **train}})


def set_flags(**train) -> list[str]:
    """The same settings as --set flags, for the CLI in a subprocess."""
    return [f"--set=train.{key}={json.dumps(value)}" for key, value in {**SMALL, **train}.items()]
