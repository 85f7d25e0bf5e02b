"""What one model gives the evaluation, through the teacher backends (transformers batches
continuously on CPU, vLLM on GPU), with the model loaded once: greedy answers to conversations, and the summed
log-likelihood of continuations (multiple-choice options, held-out text). Cached in the eval
folder by a hash of the model's files and the inputs, so a killed evaluation resumes without
redoing what it finished."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taxon.backends import local_model
from taxon.backends.base import ChatRequest, LocalModel
from taxon.backends.models import model_fingerprint
from taxon.core.errors import TaxonError
from taxon.core.settings import EvaluateSettings
from taxon.core.store import atomic_write_json, hash_value

Conversation = list[dict[str, Any]]
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Scoring:
    """A continuation to score after a conversation (rendered with the model's chat template)."""

    messages: tuple[dict[str, Any], ...]
    continuation: str


@dataclass
class ModelOutputs:
    answers: list[str]  # one greedy answer per conversation
    logprobs: list[float]  # summed log-probability of each scoring's continuation tokens
    tokens: list[int]  # how many tokens each continuation has


def _answerer(model_path: str, settings: EvaluateSettings) -> LocalModel:
    return local_model(
        settings.backend,
        model_path,
        batch_size=settings.batch_size,
        seed=settings.seed,
        gpu_memory_utilization=settings.vllm_gpu_memory_utilization,
        dtype=settings.dtype,
    )


def _continuation_tokens(tokenizer: Any, text: str) -> int:
    """Tokens of a continuation as both local backends count them (an empty one scores end of turn)."""
    return len(tokenizer(text, add_special_tokens=False)["input_ids"]) or 1


def run_model(
    model_path: str,
    conversations: list[Conversation],
    scorings: list[Scoring],
    settings: EvaluateSettings,
    progress: Progress,
    limits: list[int] | None = None,
) -> ModelOutputs:
    answerer = _answerer(model_path, settings)
    limits = limits or [settings.max_new_tokens] * len(conversations)
    try:
        requests = [ChatRequest(tuple(c), max_tokens=limit, temperature=0.0) for c, limit in zip(conversations, limits)]
        answers = [completion.text.strip() for completion in answerer.chat(requests, progress)] if requests else []
        means = (
            answerer.answer_loglikelihood([(list(s.messages), s.continuation) for s in scorings]) if scorings else []
        )
        if means is None:
            raise TaxonError(f"{answerer.name} cannot score answers by log-likelihood", where=model_path)
        progress(len(scorings))
        tokens = [_continuation_tokens(answerer.tokenizer, s.continuation) for s in scorings]
    finally:
        if close := getattr(answerer, "close", None):
            close()
    # the backends give the mean over the continuation's tokens; multiple choice compares sums
    return ModelOutputs(answers, [mean * count for mean, count in zip(means, tokens)], tokens)


def cached_outputs(
    cache_dir: Path,
    model_path: str,
    conversations: list[Conversation],
    scorings: list[Scoring],
    settings: EvaluateSettings,
    progress: Progress,
    limits: list[int] | None = None,
) -> ModelOutputs:
    """`limits`: each conversation's answer length (evaluate.max_new_tokens for all when None)."""
    limits = limits or [settings.max_new_tokens] * len(conversations)
    key = hash_value(
        {
            "model": model_fingerprint(model_path),
            "conversations": conversations,
            "scorings": [[list(s.messages), s.continuation] for s in scorings],
            "backend": settings.backend,
            "dtype": settings.dtype,
            "limits": limits,
        }
    )
    path = Path(cache_dir) / f"{key}.json"
    if path.is_file():
        cached = json.loads(path.read_text(encoding="utf-8"))
        progress(len(conversations) + len(scorings))
        return ModelOutputs(cached["answers"], cached["logprobs"], cached["tokens"])
    outputs = run_model(model_path, conversations, scorings, settings, progress, limits)
    atomic_write_json(
        path,
        {"model": model_path, "answers": outputs.answers, "logprobs": outputs.logprobs, "tokens": outputs.tokens},
    )
    return outputs
