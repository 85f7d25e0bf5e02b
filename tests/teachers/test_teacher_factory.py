"""The factory's choices and its clear errors."""

import importlib.util

import pytest

from taxon.backends import make_teacher
from taxon.core.errors import MissingExtra, UsageError
from taxon.core.settings import build_config


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")
def test_vllm_without_vllm_is_a_clear_missing_extra():
    config = build_config(
        {"generate": {"backend": "vllm", "teacher": "some/model"}, "teacher": {"tensor_parallel_size": 2}}, "test"
    )
    with pytest.raises(MissingExtra) as raised:
        make_teacher(config)
    assert "'vllm'" in raised.value.message and "taxon[gpu]" in raised.value.hint


def test_unknown_backend_is_a_usage_error_at_load():
    with pytest.raises(
        UsageError, match=r"generate\.backend must be one of transformers, openai, vllm, not 'llamafile'"
    ):
        build_config({"generate": {"backend": "llamafile", "teacher": "x"}}, "test")


def test_no_teacher_model_is_a_usage_error():
    with pytest.raises(UsageError, match="no teacher model is set"):
        make_teacher(build_config({"generate": {"teacher": ""}}, "test"))


def test_light_import():
    import subprocess
    import sys

    code = "import sys, taxon.backends; print({'torch', 'transformers', 'httpx'} & set(sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "set()"
