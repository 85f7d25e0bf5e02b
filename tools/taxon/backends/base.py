"""What every teacher backend offers the pipelines: batched chat completions, and (where the
backend can) the mean token log-likelihood of an answer, for scoring with a small teacher."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

Messages = list[dict[str, Any]]  # [{"role": "system"|"user"|"assistant", "content": str}, ...]


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[dict[str, Any], ...]
    max_tokens: int = 256
    temperature: float = 0.7
    top_p: float = 0.95
    seed: int | None = None
    stop: tuple[str, ...] = field(default_factory=tuple)
    prompt: str | None = None  # a raw completion prompt, tokenized as is (no chat template); messages then ()
    logprobs: int | None = None  # None: no logprobs; k: each generated token's logprob and its k likeliest
    grammar: str | None = None  # an llguidance grammar the answer must match (taxon serve's response_format)


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token with its log-probability under the model's raw distribution (before
    temperature and top-p) and the `top` likeliest tokens at that step, as (text, logprob)."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str  # "stop" | "length" | "error"
    error: str | None = None
    tokens: int = 0  # generated tokens
    prompt_tokens: int = 0
    logprobs: tuple[TokenLogprob, ...] | None = None  # one per generated token, when the request asked


class Teacher(Protocol):
    name: str  # recorded in sample metadata and in cache keys: backend, model and revision

    def chat(
        self,
        requests: list[ChatRequest],
        progress: Callable[[int], None] | None = None,
        on_text: Callable[[int, str], None] | None = None,
    ) -> list[Completion]:
        """One completion per request, in order. A failed request is a Completion with
        finish_reason "error"; an unreachable backend (after retries) raises TaxonError.
        `progress(n)` is called as requests finish, n being how many just finished;
        `on_text(index, piece)` as request `index`'s text grows (pieces joined = its text)."""

    def answer_loglikelihood(self, items: list[tuple[Messages, str]]) -> list[float] | None:
        """Mean token log-probability of each answer given its messages, or None when the
        backend can't compute it (then pipelines judge with generated scores)."""


class LocalModel(Teacher, Protocol):
    """A model loaded in this process (transformers, vLLM), with its tokenizer."""

    tokenizer: Any
