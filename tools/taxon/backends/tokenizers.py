"""The tokenizer that sizes document chunks: [generate] chunk_tokenizer, else the teacher's.
Loaded once per model path."""

from __future__ import annotations

from functools import cache

from taxon.backends.models import resolve_model
from taxon.core.errors import MissingExtra


def chunk_tokenizer(config: dict):
    spec = config["generate"].get("chunk_tokenizer") or config["generate"]["teacher"]
    return _tokenizer(resolve_model(spec, config))


@cache
def _tokenizer(model: str):
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise MissingExtra("transformers", "train") from None
    return AutoTokenizer.from_pretrained(model)
