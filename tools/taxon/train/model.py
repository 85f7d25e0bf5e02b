"""The model being trained: the base model with LoRA adapters (peft) or all weights trainable."""

from __future__ import annotations

import importlib.util

from taxon.errors import TaxonError, UsageError

METHODS = ("lora", "full")
DTYPES = ("float32", "bfloat16", "float16")


def attention_implementation(requested: str, device_type: str) -> str:
    """Flash attention's varlen kernel on GPUs where it is installed, sdpa otherwise; both
    keep packed samples apart from the position ids alone."""
    if requested != "auto":
        return requested
    if device_type == "cuda" and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def load_tokenizer(base_model: str):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(base_model)
    except (OSError, ValueError) as error:
        raise TaxonError(f"cannot load the base model's tokenizer: {error}", where=base_model)


def load_model(base_model: str, train_config: dict, device_type: str):
    import torch
    from transformers import AutoModelForCausalLM

    dtype = train_config["dtype"]
    if dtype not in DTYPES:
        raise UsageError(f"train.dtype must be one of {', '.join(DTYPES)}, not '{dtype}'")
    try:
        model = AutoModelForCausalLM.from_pretrained(
            base_model,
            dtype=getattr(torch, dtype),
            attn_implementation=attention_implementation(train_config["attention"], device_type),
        )
    except (OSError, ValueError, ImportError) as error:
        raise TaxonError(f"cannot load the base model: {error}", where=base_model)
    model.config.use_cache = False  # a cache turns off packed-sequence masking
    return model


def make_trainable(model, train_config: dict):
    """LoRA adapters on the configured modules (the base frozen), or the whole model."""
    method = train_config["method"]
    if method not in METHODS:
        raise UsageError(f"train.method must be one of {', '.join(METHODS)}, not '{method}'")
    if method == "full":
        return model
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=int(train_config["lora_rank"]),
        lora_alpha=int(train_config["lora_alpha"]),
        lora_dropout=float(train_config["lora_dropout"]),
        target_modules=list(train_config["lora_targets"]),
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(model, lora)
    except ValueError as error:
        raise UsageError(f"cannot add LoRA adapters: {error}", hint="check train.lora_targets")


def build(base_model: str, train_config: dict, device_type: str, seed: int):
    """The trainable model, identical on every rank and every rerun (adapter init from the seed)."""
    import torch

    model = load_model(base_model, train_config, device_type)
    torch.manual_seed(seed)
    return make_trainable(model, train_config)


def trainable_names(model) -> list[str]:
    return [name for name, parameter in model.named_parameters() if parameter.requires_grad]
