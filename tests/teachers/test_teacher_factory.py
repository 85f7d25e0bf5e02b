"""The factory's choices and its clear errors."""

import importlib.util

import pytest

from taxon.backends import make_teacher
from taxon.core.errors import MissingExtra, UsageError


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")
def test_vllm_without_vllm_is_a_clear_missing_extra():
    config = {"generate": {"backend": "vllm", "teacher": "some/model"}, "teacher": {"tensor_parallel_size": 2}}
    with pytest.raises(MissingExtra) as raised:
        make_teacher(config)
    assert "'vllm'" in raised.value.message and "taxon[gpu]" in raised.value.hint


def test_unknown_backend_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown teacher backend 'llamafile'"):
        make_teacher({"generate": {"backend": "llamafile", "teacher": "x"}, "teacher": {}})


def test_light_import():
    import subprocess
    import sys

    code = "import sys, taxon.backends; print({'torch', 'transformers', 'httpx'} & set(sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "set()"
