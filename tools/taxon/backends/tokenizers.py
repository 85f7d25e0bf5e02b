"""The tokenizer that sizes document chunks: [generate] chunk_tokenizer, else the teacher's.
Loaded once per model path."""

from __future__ import annotations

from functools import cache
from typing import Any

from taxon.backends.models import resolve_model
from taxon.core.errors import MissingExtra
from taxon.core.settings import GenerateSettings, ModelsSettings


def chunk_tokenizer(generate: GenerateSettings, models: ModelsSettings) -> Any:
    return _tokenizer(resolve_model(generate.chunk_tokenizer or generate.teacher, models))


@cache
def _tokenizer(model: str) -> Any:
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise MissingExtra("transformers", "train") from None
    return AutoTokenizer.from_pretrained(model)
