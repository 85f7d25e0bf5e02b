"""The bundle's configs as every reader takes them, not only the transformers that wrote them.

transformers 5 writes `rope_parameters` without a top-level `rope_theta` and names its own
`TokenizersBackend` as the tokenizer class. transformers 4.x then fails to load the tokenizer
and, worse, silently reads rope_theta as 10000: SmolLM2's is 100000, and past position 1,000
its mean NLL went 0.65 -> 2.55 nats/token. vLLM and llama.cpp's converter read the same keys.
So a bundle also carries the 4.x spellings: `rope_theta` (and `rope_scaling` for a scaled
rope), `torch_dtype` beside `dtype`, and `PreTrainedTokenizerFast` (the class both majors
load tokenizer.json with, unchanged). transformers 5 reads these as it reads its own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from taxon.core.store import atomic_write_json

# transformers 5's name for a tokenizer loaded from tokenizer.json; 4.x knows it as this
TOKENIZER_CLASS_ALIASES = {"TokenizersBackend": "PreTrainedTokenizerFast"}


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def compatible_config(config: dict[str, Any]) -> dict[str, Any]:
    """config.json with the keys transformers 4.x (and vLLM's older readers) take."""
    config = dict(config)
    rope = config.get("rope_parameters")
    if isinstance(rope, dict) and "rope_theta" in rope:
        config.setdefault("rope_theta", rope["rope_theta"])
        scaling = {key: value for key, value in rope.items() if key != "rope_theta"}
        if scaling.get("rope_type", "default") != "default":
            config.setdefault("rope_scaling", scaling)
    if "dtype" in config:
        config.setdefault("torch_dtype", config["dtype"])
    return config


def compatible_tokenizer_config(tokenizer_config: dict[str, Any]) -> dict[str, Any]:
    tokenizer_config = dict(tokenizer_config)
    name = tokenizer_config.get("tokenizer_class")
    if name in TOKENIZER_CLASS_ALIASES:
        tokenizer_config["tokenizer_class"] = TOKENIZER_CLASS_ALIASES[name]
    return tokenizer_config


def make_compatible(model_dir: Path) -> None:
    """Rewrite a model folder's config.json and tokenizer_config.json for both majors."""
    for name, convert in (("config.json", compatible_config), ("tokenizer_config.json", compatible_tokenizer_config)):
        path = Path(model_dir) / name
        values = _read(path)
        if values and convert(values) != values:
            atomic_write_json(path, convert(values))
