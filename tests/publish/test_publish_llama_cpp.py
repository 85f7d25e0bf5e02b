"""The bundle in llama.cpp's own converter (convert_hf_to_gguf.py from the llama-cpp-python
source on PyPI): it reads the published SmolLM2 folder (transformers 5's configs with the 4.x
keys beside them) and writes the very tensors, rope base and context length of the bundle's
model.gguf. The packaged SmolLM2, since the converter knows a tokenizer by its checksum."""

import json
import os
from pathlib import Path

import pytest

from support.llama_cpp import convert
from support.runs import make_config, make_dataset, make_taxonomy
from taxon.backends.models import prepare_packaged_model
from taxon.publish import publish

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def smollm_bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("llama-cpp")
    base = prepare_packaged_model(REPO / ".taxon-cache" / "models")
    train = root / "train"
    (train / "model").mkdir(parents=True)
    for path in base.iterdir():  # the base as the trained model, its weights linked, not copied
        os.symlink(path, train / "model" / path.name)
    result = {"base_model": str(base), "steps": 1, "tokens": 1, "real_token_fraction": 1.0, "final_loss": 1.0}
    (train / "result.json").write_text(json.dumps({**result, "dataset_hash": "0" * 64, "config": {"method": "full"}}))
    leaves = make_taxonomy(root / "taxonomy")
    config = make_config().with_overrides({"publish": {"gguf": True, "name": "smollm-check"}})
    return publish(train, None, make_dataset(root / "generate", leaves), leaves, config, str(root / "bundle"))


@pytest.mark.slow
def test_llama_cpps_converter_reads_the_bundle_as_our_gguf_writes_it(smollm_bundle, tmp_path):
    import gguf
    import numpy as np

    done = convert(smollm_bundle, tmp_path / "converted.gguf")
    assert done.returncode == 0, done.stderr[-3000:]
    theirs, ours = gguf.GGUFReader(tmp_path / "converted.gguf"), gguf.GGUFReader(smollm_bundle / "model.gguf")
    their_tensors, our_tensors = ({t.name: t for t in reader.tensors} for reader in (theirs, ours))
    assert set(their_tensors) == set(our_tensors) and len(our_tensors) == 272
    for name, tensor in our_tensors.items():
        assert (
            tensor.tensor_type == their_tensors[name].tensor_type == gguf.GGMLQuantizationType.BF16 or tensor.data.ndim
        )
        assert np.array_equal(tensor.data, their_tensors[name].data), name
    for key in ("llama.rope.freq_base", "llama.context_length", "llama.block_count", "tokenizer.ggml.eos_token_id"):
        assert theirs.fields[key].contents() == ours.fields[key].contents(), key
    assert ours.fields["llama.rope.freq_base"].contents() == 100000.0
    assert theirs.fields["tokenizer.ggml.tokens"].contents() == ours.fields["tokenizer.ggml.tokens"].contents()
