"""How replies are spelled: chat (`message` / `delta`) or text completions (`text`), whole or
as stream chunks, their logprobs in each endpoint's own shape, usage, and an echoed prompt."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from taxon.backends.base import Completion, TokenLogprob

Reply = dict[str, Any]


def _bytes(text: str) -> list[int]:
    return list(text.encode())


def chat_logprobs(tokens: Iterable[TokenLogprob]) -> Reply:
    return {
        "content": [
            {
                "token": t.token,
                "logprob": t.logprob,
                "bytes": _bytes(t.token),
                "top_logprobs": [{"token": a, "logprob": v, "bytes": _bytes(a)} for a, v in t.top],
            }
            for t in tokens
        ]
    }


def text_logprobs(tokens: Sequence[TokenLogprob], offset: int = 0) -> Reply:
    offsets = []
    for t in tokens:
        offsets.append(offset)
        offset += len(t.token)
    return {
        "tokens": [t.token for t in tokens],
        "token_logprobs": [t.logprob for t in tokens],
        "top_logprobs": [dict(t.top) for t in tokens],
        "text_offset": offsets,
    }


@dataclass(frozen=True)
class Echo:
    """An echoed prompt: its text, its first token, and each later token with its logprob."""

    text: str
    first: str
    logprobs: list[TokenLogprob] | None  # None when the request asked for no logprobs


@dataclass(frozen=True)
class Shape:
    object: str
    chunk_object: str
    id_prefix: str
    chat: bool

    def choice(self, index: int, completion: Completion, echo: Echo | None = None) -> Reply:
        if self.chat:
            logprobs = chat_logprobs(completion.logprobs) if completion.logprobs is not None else None
            message = {"role": "assistant", "content": completion.text}
            return {"index": index, "message": message, "finish_reason": completion.finish_reason, "logprobs": logprobs}
        text, tokens = completion.text, completion.logprobs
        if echo is not None:
            text = echo.text + text
            if echo.logprobs is not None:
                tokens = (TokenLogprob(echo.first, 0.0), *echo.logprobs, *(tokens or ()))
        reply = text_logprobs(tokens) if tokens is not None else None
        if reply is not None and echo is not None and echo.logprobs is not None:
            reply["token_logprobs"][0] = reply["top_logprobs"][0] = None  # the first token has none
        return {"index": index, "text": text, "finish_reason": completion.finish_reason, "logprobs": reply}

    def delta(
        self, index: int, text: str | None, logprob: TokenLogprob | None, finish: str | None, offset: int
    ) -> Reply:
        if self.chat:
            delta = {} if text is None else {"content": text}
            logprobs = chat_logprobs([logprob]) if logprob else None
            return {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        return {
            "index": index,
            "text": text or "",
            "logprobs": text_logprobs([logprob], offset) if logprob else None,
            "finish_reason": finish,
        }


CHAT = Shape("chat.completion", "chat.completion.chunk", "chatcmpl", chat=True)
TEXT = Shape("text_completion", "text_completion", "cmpl", chat=False)


def usage(completions: Sequence[Completion], n: int) -> Reply:
    """Each prompt counted once however many choices it has, as OpenAI does."""
    prompt_tokens = sum(c.prompt_tokens for c in completions[::n])
    completion_tokens = sum(c.tokens for c in completions)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
