import json

import pytest
import torch
from safetensors.torch import load_file
from train_setup import small_config
from transformers import AutoModelForCausalLM, AutoTokenizer

from taxon.train import train

PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt"}


# The default LoRA setup: a bfloat16 frozen base, float32 adapters, bfloat16 autocast.
DEFAULT_LORA = {"lora_dropout": 0.1, "frozen_dtype": "bfloat16", "autocast": "bf16"}


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory, generated_dir, leaves, tiny_model_dir):
    out = tmp_path_factory.mktemp("lora-run")
    return train(generated_dir, leaves, str(tiny_model_dir), out, small_config(**DEFAULT_LORA), quiet=True), out


def test_lora_run_writes_the_hugging_face_layout_without_pickle(lora_run):
    result, out = lora_run
    for name in (
        "adapter/adapter_model.safetensors",
        "adapter/adapter_config.json",
        "model/model.safetensors",
        "model/config.json",
        "model/generation_config.json",
        "model/tokenizer.json",
        "train_log.jsonl",
        "loss.png",
        "result.json",
    ):
        assert (out / name).is_file(), name
    assert not (out / "checkpoints").exists()
    assert not [p for p in out.rglob("*") if p.suffix in PICKLE_SUFFIXES]
    summary = json.loads((out / "result.json").read_text())
    assert summary == result.summary
    assert summary["steps"] == result.steps > 0
    assert summary["real_token_fraction"] >= 0.95
    assert summary["samples"]["used"] > 80 * 0.6 and summary["samples"]["held_out"] > 0
    assert summary["tokens"] > 0 and summary["tokens_per_s"] > 0 and summary["peak_memory_mb"] > 0
    assert summary["config"]["method"] == "lora" and summary["dataset_hash"] == result.dataset_hash
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in log] == list(range(1, result.steps + 1))
    assert log[-1]["loss"] == result.final_loss < log[0]["loss"]
    assert 0 < log[-1]["lr"] < max(row["lr"] for row in log) <= summary["config"]["learning_rate"]  # warmup, cosine
    assert (out / "loss.png").read_bytes().startswith(b"\x89PNG")


def test_merged_model_is_base_plus_adapter_and_chats(lora_run, tiny_model_dir):
    from peft import PeftModel

    _, out = lora_run
    tokenizer = AutoTokenizer.from_pretrained(out / "model")
    assert tokenizer.chat_template
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is 1 plus 2?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )["input_ids"]
    merged = AutoModelForCausalLM.from_pretrained(out / "model").eval()
    assert merged.dtype == torch.float32  # merged into the base as stored, not the bfloat16 training copy
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    adapted = PeftModel.from_pretrained(base, out / "adapter").eval()
    with torch.no_grad():
        torch.testing.assert_close(merged(ids).logits, adapted(ids).logits, rtol=1e-4, atol=1e-4)
    assert merged.generate(ids, max_new_tokens=3, do_sample=False).shape[1] > ids.shape[1]


def test_a_finished_run_is_not_trained_again(lora_run, generated_dir, leaves, tiny_model_dir):
    result, out = lora_run
    before = (out / "model" / "model.safetensors").stat().st_mtime_ns
    again = train(generated_dir, leaves, str(tiny_model_dir), out, small_config(**DEFAULT_LORA), quiet=True)
    assert again.summary == result.summary
    assert (out / "model" / "model.safetensors").stat().st_mtime_ns == before


def test_full_fine_tuning_changes_every_weight_and_writes_no_adapter(tmp_path, generated_dir, leaves, tiny_model_dir):
    result = train(
        generated_dir,
        leaves,
        str(tiny_model_dir),
        tmp_path,
        small_config(method="full", max_steps=3, learning_rate=1e-3),
        quiet=True,
    )
    assert result.adapter_dir is None and not (tmp_path / "adapter").exists()
    assert result.steps == 3
    base = load_file(tiny_model_dir / "model.safetensors")
    tuned = load_file(tmp_path / "model" / "model.safetensors")
    assert tuned.keys() == base.keys()
    assert all(not torch.equal(tuned[name], base[name]) for name in base if "layers.0.mlp" in name)


def test_frozen_layers_keep_the_embeddings_and_the_lowest_layers_of_the_base(
    tmp_path, generated_dir, leaves, tiny_model_dir
):
    train(
        generated_dir,
        leaves,
        str(tiny_model_dir),
        tmp_path,
        small_config(method="full", frozen_layers=1, max_steps=3, learning_rate=1e-3),
        quiet=True,
    )
    base = load_file(tiny_model_dir / "model.safetensors")
    tuned = load_file(tmp_path / "model" / "model.safetensors")
    assert tuned.keys() == base.keys()
    for name in base:
        frozen = "embed_tokens" in name or "layers.0." in name
        assert torch.equal(tuned[name], base[name]) == frozen, name


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"method": "full", "frozen_layers": 2}, "train.frozen_layers must be from 0 to 1 (the model has 2 layers)"),
        ({"method": "lora", "frozen_layers": 1}, 'train.frozen_layers is for train.method = "full"'),
    ],
)
def test_frozen_layers_out_of_range_or_with_lora_are_usage_errors(
    tmp_path, generated_dir, leaves, tiny_model_dir, settings, message
):
    from taxon.core.errors import UsageError

    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        train(generated_dir, leaves, str(tiny_model_dir), tmp_path, small_config(**settings), quiet=True)


def test_autocast_auto_is_what_this_machine_computes_and_the_run_records_it(
    tmp_path, generated_dir, leaves, tiny_model_dir
):
    from taxon.backends.transformers import native_cpu_bfloat16
    from taxon.core.errors import UsageError

    result = train(
        generated_dir, leaves, str(tiny_model_dir), tmp_path, small_config(autocast="auto", max_steps=1), quiet=True
    )
    summary = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
    assert summary["config"]["autocast"] == ("bf16" if native_cpu_bfloat16() else "none")
    assert result.steps == 1
    with pytest.raises(UsageError, match=r"train\.autocast must be one of auto, bf16, none, not 'fp8'"):
        small_config(autocast="fp8")  # refused at load, before any training
