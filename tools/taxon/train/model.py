"""The model being trained: the base model with LoRA adapters (peft) or all weights trainable."""

from __future__ import annotations

import importlib.util
from typing import Any

from taxon.backends.allocator import keep_freed_memory
from taxon.core.errors import TaxonError, UsageError
from taxon.core.settings import TrainSettings
from taxon.train.distributed import decoder_layers


def attention_implementation(requested: str, device_type: str) -> str:
    """Flash attention's varlen kernel on GPUs where it is installed, sdpa otherwise; both
    keep packed samples apart from the position ids alone."""
    if requested != "auto":
        return requested
    if device_type == "cuda" and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def load_tokenizer(base_model: str) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(base_model)
    except (OSError, ValueError) as error:
        raise TaxonError(f"cannot load the base model's tokenizer: {error}", where=base_model)


def training_dtype(settings: TrainSettings) -> str:
    """LoRA keeps the frozen base in `frozen_dtype` (bfloat16 halves its memory and skips
    autocast's per-call weight casts) with float32 adapters; full fine-tuning keeps float32
    master weights."""
    return "float32" if settings.method == "full" else settings.frozen_dtype


def stored_dtype(base_model: str) -> Any:
    """The dtype the base model's weights are stored in (what the merged model is saved in)."""
    import torch
    from transformers import AutoConfig

    dtype = getattr(AutoConfig.from_pretrained(base_model), "dtype", None)
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype, None)
    return dtype if isinstance(dtype, torch.dtype) else torch.float32


def load_model(base_model: str, dtype: Any, attention: str) -> Any:
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(base_model, dtype=dtype, attn_implementation=attention)
    except (OSError, ValueError, ImportError) as error:
        raise TaxonError(f"cannot load the base model: {error}", where=base_model)
    model.config.use_cache = False  # a cache turns off packed-sequence masking
    return model


def freeze_lowest(model: Any, count: int) -> None:
    """The input embeddings (and an output head tied to them) and the lowest `count` decoder
    layers frozen: no gradient reaches below the first trainable layer."""
    layers = decoder_layers(model)
    if not 0 <= count < len(layers):
        raise UsageError(
            f"train.frozen_layers must be from 0 to {len(layers) - 1} (the model has {len(layers)} layers)"
        )
    for module in (model.get_input_embeddings(), *layers[:count]):
        module.requires_grad_(False)


def make_trainable(model: Any, settings: TrainSettings) -> Any:
    """LoRA adapters on the configured modules (the base frozen), or the whole model but its
    lowest train.frozen_layers layers."""
    frozen = settings.frozen_layers
    if settings.method == "full":
        if frozen:
            freeze_lowest(model, frozen)
        return model
    if frozen:
        raise UsageError('train.frozen_layers is for train.method = "full" (LoRA freezes the base already)')
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=settings.lora_rank,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=list(settings.lora_targets),
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(model, lora)
    except ValueError as error:
        raise UsageError(f"cannot add LoRA adapters: {error}", hint="check train.lora_targets")


def build(base_model: str, settings: TrainSettings, device_type: str, dtype: Any = None) -> Any:
    """The trainable model, identical on every rank and every rerun (adapter init from the
    seed); the base weights in `dtype` when given, else in the training dtype."""
    import torch

    if dtype is None:
        dtype = getattr(torch, training_dtype(settings))
    if device_type == "cpu":
        keep_freed_memory()
    attention = attention_implementation(settings.attention, device_type)
    model = load_model(base_model, dtype, attention)
    torch.manual_seed(settings.seed)
    return make_trainable(model, settings)


def trained_weights(model: Any) -> dict[str, Any]:
    """Full (unsharded) CPU tensors of the trainable weights: a collective under FSDP, empty
    off rank 0. A tied weight is one parameter but two state-dict entries, and the helper's
    frozen filter lets the second through, so names are checked against the parameters."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=True, ignore_frozen_params=True)
    weights = get_model_state_dict(model, options=options)
    trainable = {name for name, parameter in model.named_parameters() if parameter.requires_grad}
    return {name: tensor for name, tensor in weights.items() if name in trainable}
