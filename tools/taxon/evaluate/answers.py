"""Batched greedy answers of one model to many conversations: transformers (left-padded
batches, the model's own chat template) on CPU, vLLM on GPU. Answers are cached in the eval
folder by a hash of the model's files, the conversations and the generation settings, so a
killed evaluation resumes without regenerating what it finished."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from taxon.backends import LOCAL_BACKENDS, local_model
from taxon.backends.base import ChatRequest
from taxon.backends.models import model_fingerprint
from taxon.core.errors import TaxonError
from taxon.core.store import atomic_write_json, hash_value

Conversation = list[dict]
Progress = Callable[[int], None]


def generate_answers(
    model_path: str, conversations: list[Conversation], settings: dict, max_new_tokens: int, progress: Progress
) -> list[str]:
    """Greedy answers through the teacher backends: transformers batches on CPU, vLLM on GPU."""
    if not conversations:
        return []
    answerer = _answerer(model_path, settings)
    requests = [ChatRequest(tuple(c), max_tokens=max_new_tokens, temperature=0.0) for c in conversations]
    try:
        return [completion.text.strip() for completion in answerer.chat(requests, progress)]
    finally:
        if hasattr(answerer, "close"):
            answerer.close()


def _answerer(model_path: str, settings: dict):
    backend = settings.get("backend", "transformers")
    if backend not in LOCAL_BACKENDS:
        raise TaxonError(f"unknown evaluate.backend '{backend}'", hint="use transformers or vllm")
    return local_model(
        backend,
        model_path,
        batch_size=int(settings["batch_size"]),
        seed=int(settings.get("seed", 0)),
        gpu_memory_utilization=float(settings.get("vllm_gpu_memory_utilization", 0.9)),
    )


def cached_answers(
    cache_dir: Path,
    model_path: str,
    conversations: list[Conversation],
    settings: dict,
    max_new_tokens: int,
    progress: Progress,
) -> list[str]:
    key = hash_value(
        {
            "model": model_fingerprint(model_path),
            "conversations": conversations,
            "backend": settings.get("backend", "transformers"),
            "max_new_tokens": max_new_tokens,
        }
    )
    path = Path(cache_dir) / f"{key}.json"
    if path.is_file():
        answers = [item["answer"] for item in json.loads(path.read_text(encoding="utf-8"))["items"]]
        progress(len(answers))
        return answers
    answers = generate_answers(model_path, conversations, settings, max_new_tokens, progress)
    items = [{"messages": conversation, "answer": answer} for conversation, answer in zip(conversations, answers)]
    atomic_write_json(path, {"model": model_path, "items": items})
    return answers
