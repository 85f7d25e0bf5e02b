"""A bundle loads the same under transformers 4.x and 5.x (a second venv with 4.57, built once
under .taxon-cache/venvs), and carries what vLLM reads from a model folder."""

import json
import shutil
import subprocess
import sys

import pytest

from support import read_bundle
from support.runs import make_config, make_dataset, make_taxonomy, make_train_run
from support.tiny_model import CORPUS, build_tiny_model
from support.transformers4 import transformers4_python
from taxon.publish import publish

READER = read_bundle.__file__
ROPE_THETA = 100000.0  # SmolLM2's; transformers 4.x reading the 5.x layout falls back to 10000


@pytest.fixture(scope="module")
def compat_bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("compat")
    base = build_tiny_model(root / "base", rope_theta=ROPE_THETA, max_positions=2048)
    leaves = make_taxonomy(root / "taxonomy")
    dataset = make_dataset(root / "generate", leaves)
    train = make_train_run(root / "train", base)
    bundle = publish(train, None, dataset, leaves, make_config(), str(root / "bundle"))
    return bundle, train / "model"


@pytest.fixture(scope="module")
def long_ids(compat_bundle):
    from transformers import AutoTokenizer

    ids = AutoTokenizer.from_pretrained(compat_bundle[0])(" ".join(CORPUS * 3))["input_ids"]
    assert len(ids) >= 1200
    return ids[:1200]


def _read(python, folder, long_ids) -> dict:
    done = subprocess.run([str(python), READER, str(folder), json.dumps(long_ids)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_transformers_4_and_5_read_the_bundle_alike(compat_bundle, long_ids):
    bundle, _ = compat_bundle
    new, old = _read(sys.executable, bundle, long_ids), _read(transformers4_python(), bundle, long_ids)
    assert new["transformers"].startswith("5.") and old["transformers"].startswith("4.")
    assert old["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert (old["chat"], old["ids"], old["eos_token"]) == (new["chat"], new["ids"], new["eos_token"])
    assert old["rope_theta"] == new["rope_theta"] == ROPE_THETA
    assert old["logits"] == pytest.approx(new["logits"], abs=1e-4)
    assert old["far_logits"] == pytest.approx(new["far_logits"], abs=1e-5)
    assert old["nll_after_1000"] == pytest.approx(new["nll_after_1000"], abs=1e-5)


def test_without_the_4x_keys_transformers_4_misreads_the_folder(compat_bundle, long_ids, tmp_path):
    """The control: the folder as transformers 5 saved it (the training run's model) fails the
    check above, so the check can see the fault it guards against."""
    bundle, trained = compat_bundle
    as_saved = tmp_path / "as-saved"
    shutil.copytree(bundle, as_saved)
    for name in ("config.json", "tokenizer_config.json"):
        shutil.copy(trained / name, as_saved / name)
    new, old = _read(sys.executable, as_saved, long_ids), _read(transformers4_python(), as_saved, long_ids)
    assert "TokenizersBackend" in old["tokenizer_error"]
    assert old["rope_theta"] == 10000.0 and new["rope_theta"] == ROPE_THETA
    assert max(abs(a - b) for a, b in zip(old["far_logits"], new["far_logits"])) > 1e-3


def test_the_bundle_has_the_layout_vllm_reads(compat_bundle):
    """vLLM's model loader: an architecture it registers, the dtype, rope and context length
    from config.json, the generation config's stop ids, safetensors weights, a fast tokenizer."""
    bundle, _ = compat_bundle
    config = json.loads((bundle / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"] and config["model_type"] == "llama"
    assert config["torch_dtype"] == config["dtype"]
    assert config["rope_theta"] == config["rope_parameters"]["rope_theta"] == ROPE_THETA
    assert config["max_position_embeddings"] == 2048
    generation = json.loads((bundle / "generation_config.json").read_text())
    assert generation["eos_token_id"] is not None
    assert list(bundle.glob("*.safetensors")) and not list(bundle.glob("*.bin"))
    assert (bundle / "tokenizer.json").is_file()
    tokenizer_config = json.loads((bundle / "tokenizer_config.json").read_text())
    assert tokenizer_config["tokenizer_class"] == "PreTrainedTokenizerFast"
