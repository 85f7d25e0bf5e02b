from pathlib import Path

import pytest
from teachers_scripted import ScriptedEndpoint


@pytest.fixture(scope="session")
def sharp_model_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny model with its weights scaled up: its greedy answers vary with the prompt
    (the fixture's small random weights answer every prompt with the same token)."""
    import shutil

    import torch
    from transformers import AutoModelForCausalLM

    folder = tmp_path_factory.mktemp("sharp-model")
    shutil.copytree(tiny_model_dir, folder, dirs_exist_ok=True)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() == 2:
                parameter.mul_(8)
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def local_teacher(sharp_model_dir):
    """float32 on every machine: the batching tests compare exact arithmetic. Under "auto" a CPU
    with native bfloat16 computes in bfloat16, where a batch's kernels round differently from one
    row's, and a sampled token at temperature 1 can flip (bf16_teacher covers that dtype)."""
    from taxon.backends.transformers import TransformersTeacher

    return TransformersTeacher(str(sharp_model_dir), batch_size=4, dtype="float32")


@pytest.fixture(scope="session")
def served(sharp_model_dir):
    """`taxon serve` on the sharp tiny model, in a thread, on a free port."""
    from support.served import serving
    from taxon.backends.transformers import TransformersTeacher

    # float32 as local_teacher, which the served answers and scores are compared with
    with serving(TransformersTeacher(str(sharp_model_dir), spec="tiny", batch_size=4, dtype="float32")) as server:
        yield server


@pytest.fixture
def scripted():
    endpoints = []

    def start(reply=None, **options) -> ScriptedEndpoint:
        endpoint = ScriptedEndpoint(reply, **options)
        endpoints.append(endpoint)
        return endpoint

    yield start
    for endpoint in endpoints:
        endpoint.close()
