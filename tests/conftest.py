import os
from pathlib import Path

import pytest

from support.paths import REPO

# Tests share two cores with each other: one torch thread each, no tokenizer thread pools.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The same suite under a GitHub runner (the pull-request workflow's test job, act): the runner's
# variables would change defaults (validate's output format, log groups) and point `taxon
# gitops` at the job's own event and files. Tests that need them set their own (gitops/runner.py).
for _name in [name for name in os.environ if name.startswith(("GITHUB_", "RUNNER_", "ACTIONS_"))]:
    del os.environ[_name]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny Llama model with a BPE tokenizer and a chat template, saved as safetensors."""
    from support.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture
def repo_root() -> Path:
    return REPO
