"""The bundle's model as one GGUF file for llama.cpp (and an Ollama Modelfile beside it).

transformers reads GGUF but can't write it, so the file is written here with the `gguf`
package's GGUFWriter, for the Llama architecture (SmolLM2, Llama, Granite-free Llama kin):
the hyperparameters under `llama.*`, the byte-level BPE tokenizer under `tokenizer.ggml.*`
with the chat template, and the weights under llama.cpp's tensor names, in the model's own
dtype (bf16 or f16; f32 otherwise) with norms in f32 as llama.cpp wants them. llama.cpp
rotates queries and keys in the interleaved layout of the original Llama weights, so q_proj
and k_proj are permuted from Hugging Face's half-split layout (transformers' GGUF loader
undoes exactly this).
"""

from __future__ import annotations

import json
import typing
import unicodedata
from pathlib import Path
from typing import Any

from taxon.core.errors import MissingExtra, TaxonError
from taxon.core.settings import GgufQuantization, PublishSettings
from taxon.core.store import atomic_write_text

GGUF_NAME = "model.gguf"
MODELFILE_NAME = "Modelfile"
# publish.quantize's types: llama.cpp's block formats that the `gguf` package quantises itself
# (numpy ports of ggml's reference quantisers). The K-quants (Q4_K_M ...) need llama.cpp's own
# llama-quantize, which no registry package here ships as a maintained binary.
QUANT_TYPES: tuple[str, ...] = typing.get_args(GgufQuantization)

_LAYER_TENSORS = {
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_TOP_TENSORS = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight"}

# ChatML (SmolLM2, Qwen, the tests' tiny model) in Ollama's Go template language; a model with
# another template gets none, and Ollama reads the GGUF's tokenizer.chat_template instead.
CHATML_TEMPLATE = (
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"
)


def gguf_tensor_name(hf_name: str) -> str | None:
    """llama.cpp's name for a Hugging Face Llama weight; None for lm_head (tied or not, handled apart)."""
    if hf_name in _TOP_TENSORS:
        return _TOP_TENSORS[hf_name]
    if hf_name == "lm_head.weight":
        return "output.weight"
    parts = hf_name.split(".")
    if parts[:2] == ["model", "layers"] and parts[-1] == "weight":
        inner = ".".join(parts[3:-1])
        if inner in _LAYER_TENSORS:
            return f"blk.{parts[2]}.{_LAYER_TENSORS[inner]}.weight"
    return None


def _permute(weight: Any, heads: int) -> Any:
    """Hugging Face's rotary layout (halves) to llama.cpp's (interleaved pairs), per head."""
    return (
        weight.reshape(heads, 2, weight.shape[0] // heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)
    )


def _pre_tokenizer(tokenizer_json: dict[str, Any]) -> str:
    """llama.cpp's pre-tokenizer name: SmolLM's splits digits one by one before byte-level BPE."""
    pre = tokenizer_json.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", [pre])
    if any(step.get("type") == "Digits" and step.get("individual_digits") for step in steps):
        return "smollm"
    return "gpt-2"


def write_gguf(model_dir: Path, out: Path, name: str, dtype: str = "auto") -> Path:
    """`out/model.gguf` from the Hugging Face Llama model in `model_dir`, its weights in `dtype`
    ("auto": as stored)."""
    try:
        import gguf
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as error:
        raise MissingExtra(error.name or "gguf", "train") from None

    config, tokenizer_json = _exportable(Path(model_dir))
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    file_type, weight_type = {
        torch.bfloat16: (gguf.LlamaFileType.MOSTLY_BF16, gguf.GGMLQuantizationType.BF16),
        torch.float16: (gguf.LlamaFileType.MOSTLY_F16, gguf.GGMLQuantizationType.F16),
    }.get(next(model.parameters()).dtype, (gguf.LlamaFileType.ALL_F32, gguf.GGMLQuantizationType.F32))
    path = Path(out) / GGUF_NAME
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_file_type(file_type)
    _add_hyperparameters(writer, config)
    _add_tokenizer(writer, tokenizer, tokenizer_json, config.vocab_size)
    _add_tensors(writer, model.state_dict(), config, weight_type, model_dir)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _exportable(model_dir: Path) -> tuple[Any, dict[str, Any]]:
    """The model's config and tokenizer.json, when this export knows them: a Llama model with
    a byte-level BPE fast tokenizer."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_dir)
    if config.model_type != "llama":
        raise TaxonError(
            f"GGUF export knows the Llama architecture only, not '{config.model_type}'",
            where=str(model_dir),
            hint="publish without --gguf, or convert with llama.cpp's convert_hf_to_gguf.py",
        )
    tokenizer_file = model_dir / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise TaxonError("GGUF export needs a fast tokenizer (tokenizer.json)", where=str(model_dir))
    tokenizer_json: dict[str, Any] = json.loads(tokenizer_file.read_text(encoding="utf-8"))
    if tokenizer_json.get("model", {}).get("type") != "BPE":
        raise TaxonError("GGUF export knows byte-level BPE tokenizers only", where=str(tokenizer_file))
    return config, tokenizer_json


def _head_counts(config: Any) -> tuple[int, int]:
    """(attention heads, key-value heads)."""
    return config.num_attention_heads, config.num_key_value_heads or config.num_attention_heads


def _add_hyperparameters(writer: Any, config: Any) -> None:
    heads, kv_heads = _head_counts(config)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_dimension_count(getattr(config, "head_dim", None) or config.hidden_size // heads)
    writer.add_rope_freq_base(float(getattr(config, "rope_theta", None) or config.rope_parameters["rope_theta"]))
    writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    writer.add_vocab_size(config.vocab_size)


def _add_tokenizer(writer: Any, tokenizer: Any, tokenizer_json: dict[str, Any], vocab_size: int) -> None:
    """The vocabulary, its special tokens, the BPE merges and the chat template."""
    import gguf

    specials = set(tokenizer.all_special_ids) | {
        token_id for token_id, added in tokenizer.added_tokens_decoder.items() if added.special
    }
    vocab = tokenizer.convert_ids_to_tokens(list(range(vocab_size)))
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(_pre_tokenizer(tokenizer_json))
    writer.add_token_list([token if token is not None else f"[PAD{i}]" for i, token in enumerate(vocab)])
    writer.add_token_types(
        [gguf.TokenType.CONTROL if i in specials else gguf.TokenType.NORMAL for i in range(vocab_size)]
    )
    merges = tokenizer_json["model"].get("merges", [])
    writer.add_token_merges([" ".join(merge) if isinstance(merge, list) else merge for merge in merges])
    for token_id, add in (
        (tokenizer.bos_token_id, writer.add_bos_token_id),
        (tokenizer.eos_token_id, writer.add_eos_token_id),
        (tokenizer.unk_token_id, writer.add_unk_token_id),
        (tokenizer.pad_token_id, writer.add_pad_token_id),
    ):
        if token_id is not None:
            add(token_id)
    writer.add_add_bos_token(False)
    if tokenizer.chat_template:
        writer.add_chat_template(tokenizer.chat_template)


def _add_tensors(writer: Any, state: dict[str, Any], config: Any, weight_type: Any, model_dir: Path) -> None:
    """Every weight under its llama.cpp name, q and k projections permuted to llama.cpp's rope
    layout, norms in float32 and the rest in the model's own 16-bit type (or float32)."""
    import gguf
    import numpy as np

    heads, kv_heads = _head_counts(config)
    tied = bool(getattr(config, "tie_word_embeddings", False))
    for hf_name, tensor in state.items():
        if hf_name == "lm_head.weight" and tied:
            continue
        gguf_name = gguf_tensor_name(hf_name)
        if gguf_name is None:
            raise TaxonError(f"GGUF export: no llama.cpp name for the weight {hf_name}", where=str(model_dir))
        data = tensor.detach().float().numpy()
        if hf_name.endswith("q_proj.weight"):
            data = _permute(data, heads)
        elif hf_name.endswith("k_proj.weight"):
            data = _permute(data, kv_heads)
        if data.ndim == 1 or weight_type == gguf.GGMLQuantizationType.F32:
            writer.add_tensor(gguf_name, np.ascontiguousarray(data, dtype=np.float32))
        else:
            packed = gguf.quants.quantize(np.ascontiguousarray(data), weight_type)
            writer.add_tensor(gguf_name, packed, raw_shape=packed.shape, raw_dtype=weight_type)


def quantized_name(quant_type: str) -> str:
    return f"model.{quant_type}.gguf"


def quantize_gguf(source: Path, out: Path, quant_type: str) -> Path:
    """`source` (a 16- or 32-bit GGUF written by write_gguf) with its matrices in `quant_type`,
    every key and the tokenizer kept. Norms stay float32, as llama.cpp keeps them; the output
    matrix (the embedding when tied) is q8_0 in the 4- and 5-bit files, where llama-quantize
    would choose q6_K, which the `gguf` package cannot write."""
    try:
        import gguf
        import numpy as np
    except ImportError as error:
        raise MissingExtra(error.name or "gguf", "train") from None
    if quant_type not in QUANT_TYPES:
        raise TaxonError(
            f"unknown GGUF quantisation '{quant_type}'",
            hint=f"publish.quantize takes: {', '.join(QUANT_TYPES)}",
        )
    weight_type = gguf.GGMLQuantizationType[quant_type.upper()]
    output_type = weight_type if quant_type == "q8_0" else gguf.GGMLQuantizationType.Q8_0
    reader = gguf.GGUFReader(str(source))
    path = Path(out) / quantized_name(quant_type)
    writer = gguf.GGUFWriter(str(path), reader.fields["general.architecture"].contents())
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name == "general.architecture":
            continue
        if field.name == "general.file_type":
            writer.add_file_type(gguf.LlamaFileType[f"MOSTLY_{quant_type.upper()}"])
            continue
        value_type = field.types[0]
        sub_type = field.types[-1] if value_type == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), value_type, sub_type=sub_type)
    block = gguf.GGML_QUANT_SIZES[weight_type][0]
    has_output = any(tensor.name == "output.weight" for tensor in reader.tensors)
    for tensor in reader.tensors:
        shape = tuple(int(size) for size in reversed(tensor.shape))
        data = gguf.quants.dequantize(tensor.data, tensor.tensor_type).reshape(shape).astype(np.float32)
        if data.ndim == 1 or shape[-1] % block:
            writer.add_tensor(tensor.name, data)
            continue
        is_output = tensor.name == "output.weight" or (not has_output and tensor.name == "token_embd.weight")
        packed = gguf.quants.quantize(data, output_type if is_output else weight_type)
        writer.add_tensor(
            tensor.name, packed, raw_shape=packed.shape, raw_dtype=output_type if is_output else weight_type
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_gguf_files(
    model_dir: Path, out: Path, name: str, quantize: list[str], dtype: str = "auto"
) -> dict[str, Path]:
    """model.gguf in `dtype` (as stored: "auto") and one model.<type>.gguf per quantisation, by
    type ("" for model.gguf)."""
    files = {"": write_gguf(model_dir, out, name, dtype)}
    for quant_type in dict.fromkeys(quantize):
        files[quant_type] = quantize_gguf(files[""], out, quant_type)
    return files


def modelfile_text(model_dir: Path) -> str:
    """An Ollama Modelfile for model.gguf: its chat template and stop tokens."""
    from transformers import AutoTokenizer, GenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    stops = {tokenizer.eos_token} if tokenizer.eos_token else set()
    try:
        eos = GenerationConfig.from_pretrained(model_dir).eos_token_id
    except OSError:
        eos = None
    for token_id in eos if isinstance(eos, list) else [eos] if eos is not None else []:
        stops.add(tokenizer.convert_ids_to_tokens(token_id))
    chatml = "<|im_start|>" in (tokenizer.chat_template or "")
    if chatml:
        stops.add("<|im_end|>")
    lines = [f"FROM ./{GGUF_NAME}", ""]
    if chatml:
        lines += [f"TEMPLATE {_block(CHATML_TEMPLATE, 'TEMPLATE')}", ""]
        default_system = _default_system(tokenizer)
        if default_system:  # Ollama puts it first when a conversation has no system message
            lines += [f"SYSTEM {_block(default_system, 'SYSTEM (the chat template default system prompt)')}", ""]
    else:
        lines += ["# No TEMPLATE: Ollama reads the chat template stored in the GGUF file.", ""]
    lines += [f"PARAMETER stop {_quoted(stop, 'a stop token (eos)')}" for stop in sorted(stops)]
    return "\n".join(lines) + "\n"


# Ollama's Modelfile has no escapes: a """...""" value ends at the first """ a line ends with, a
# "..." value at the first " a line ends with, and a character Go's strconv.IsPrint rejects
# (controls, format characters, spaces other than U+0020) is dropped (its parser,
# parser/parser.go). A field that cannot be written as itself is refused, never escaped into
# something else: a model's tokenizer is not ours to trust.
def _printable(value: str, allowed: str) -> bool:
    return all(char in allowed or unicodedata.category(char)[0] in "LMNPS" for char in value)


def _block(value: str, field: str) -> str:
    """A multi-line value in triple quotes; TaxonError when it cannot be one."""
    if '"""' in value or not _printable(value, " \n\t"):
        raise _refused(field, value, 'holds """ or a character Ollama drops (a control or format character)')
    return f'"""{value}"""'


def _quoted(value: str, field: str) -> str:
    """A one-line value in double quotes; TaxonError when it cannot be one."""
    if not value or '"' in value or not _printable(value, " "):
        raise _refused(field, value, "is empty or holds a quote, a line break or a character Ollama drops")
    return f'"{value}"'


def _refused(field: str, value: str, why: str) -> TaxonError:
    return TaxonError(
        f"the Ollama Modelfile's {field} {why} ({value[:60]!r}): the Modelfile has no escapes, so it would "
        "add or change instructions; it is not written",
        hint="fix the tokenizer's chat template or special tokens, or publish without --gguf",
    )


def _default_system(tokenizer: Any) -> str | None:
    """The system message a ChatML template adds when a conversation has none (SmolLM2's does)."""
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": "x"}], tokenize=False)
    opening = "<|im_start|>system\n"
    if not rendered.startswith(opening) or "<|im_end|>" not in rendered:
        return None
    return rendered[len(opening) : rendered.index("<|im_end|>")] or None


def wanted_quantizations(settings: PublishSettings) -> list[str] | None:
    """The GGUF files publish writes: None for none, else the quantisations beside model.gguf."""
    quantize: list[str] = list(settings.quantize)
    return quantize if settings.gguf or quantize else None


def write_gguf_and_modelfile(model_dir: Path, out: Path, name: str, quantize: list[str]) -> dict[str, Path]:
    """model.gguf, a model.<type>.gguf per quantisation and the Modelfile; file name -> path."""
    files = write_gguf_files(model_dir, out, name, quantize)
    atomic_write_text(Path(out) / MODELFILE_NAME, modelfile_text(model_dir))
    return {path.name: path for path in files.values()}
