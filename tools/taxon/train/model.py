"""The model being trained: the base model with LoRA adapters (peft) or all weights trainable."""

from __future__ import annotations

import importlib.util

from taxon.backends.allocator import keep_freed_memory
from taxon.core.errors import TaxonError, UsageError
from taxon.train.distributed import decoder_layers

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


def training_dtype(train_config: dict) -> str:
    """LoRA keeps the frozen base in `frozen_dtype` (bfloat16 halves its memory and skips
    autocast's per-call weight casts) with float32 adapters; full fine-tuning keeps float32
    master weights."""
    if train_config["method"] == "full":
        return "float32"
    dtype = train_config["frozen_dtype"]
    if dtype not in DTYPES:
        raise UsageError(f"train.frozen_dtype must be one of {', '.join(DTYPES)}, not '{dtype}'")
    return dtype


def stored_dtype(base_model: str):
    """The dtype the base model's weights are stored in (what the merged model is saved in)."""
    import torch
    from transformers import AutoConfig

    dtype = getattr(AutoConfig.from_pretrained(base_model), "dtype", None)
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype, None)
    return dtype if isinstance(dtype, torch.dtype) else torch.float32


def load_model(base_model: str, dtype, attention: str):
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(base_model, dtype=dtype, attn_implementation=attention)
    except (OSError, ValueError, ImportError) as error:
        raise TaxonError(f"cannot load the base model: {error}", where=base_model)
    model.config.use_cache = False  # a cache turns off packed-sequence masking
    return model


def freeze_lowest(model, count: int) -> None:
    """The input embeddings (and an output head tied to them) and the lowest `count` decoder
    layers frozen: no gradient reaches below the first trainable layer."""
    layers = decoder_layers(model)
    if not 0 <= count < len(layers):
        raise UsageError(
            f"train.frozen_layers must be from 0 to {len(layers) - 1} (the model has {len(layers)} layers)"
        )
    for module in (model.get_input_embeddings(), *layers[:count]):
        module.requires_grad_(False)


def make_trainable(model, train_config: dict):
    """LoRA adapters on the configured modules (the base frozen), or the whole model but its
    lowest train.frozen_layers layers."""
    method = train_config["method"]
    if method not in METHODS:
        raise UsageError(f"train.method must be one of {', '.join(METHODS)}, not '{method}'")
    frozen = int(train_config["frozen_layers"])
    if method == "full":
        if frozen:
            freeze_lowest(model, frozen)
        return model
    if frozen:
        raise UsageError('train.frozen_layers is for train.method = "full" (LoRA freezes the base already)')
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


def build(base_model: str, train_config: dict, device_type: str, seed: int, dtype=None):
    """The trainable model, identical on every rank and every rerun (adapter init from the
    seed); the base weights in `dtype` when given, else in the training dtype."""
    import torch

    if dtype is None:
        dtype = getattr(torch, training_dtype(train_config))
    if device_type == "cpu":
        keep_freed_memory()
    attention = attention_implementation(train_config["attention"], device_type)
    model = load_model(base_model, dtype, attention)
    torch.manual_seed(seed)
    return make_trainable(model, train_config)


def trained_weights(model) -> dict:
    """Full (unsharded) CPU tensors of the trainable weights: a collective under FSDP, empty
    off rank 0. A tied weight is one parameter but two state-dict entries, and the helper's
    frozen filter lets the second through, so names are checked against the parameters."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=True, ignore_frozen_params=True)
    weights = get_model_state_dict(model, options=options)
    trainable = {name for name, parameter in model.named_parameters() if parameter.requires_grad}
    return {name: tensor for name, tensor in weights.items() if name in trainable}
