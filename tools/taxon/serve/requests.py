"""What a client may ask of `taxon serve`, parsed and checked before any of it reaches the
model: the chat and completions bodies as the backend's ChatRequests, the scoring extension's
items, each within the caps of [serve]. A request outside them is a RequestError, answered
with its status and an OpenAI-style error body; nothing here touches the model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from taxon.backends.base import ChatRequest, Messages
from taxon.core.settings import ServeSettings

ROLES = ("system", "user", "assistant")
MAX_SEED = 2**63 - 1
MAX_TOP_LOGPROBS = 20
MAX_STOPS = 4
CHARS_PER_TOKEN_CAP = 16  # a prompt longer than this many characters per allowed token is refused untokenized
MAX_SCHEMA_CHARS = 64_000  # a response_format's JSON schema, as sent

Body = dict[str, Any]


class RequestError(Exception):
    """A request we answer with an error status and an OpenAI-style error body."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.param = param
        self.code = code

    def body(self) -> Body:
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        return {"error": {"message": str(self), "type": kind, "param": self.param, "code": self.code}}


@dataclass(frozen=True)
class Choice:
    """One answer to generate: the backend's request, and a completions prompt sent as token
    ids (then `request.prompt` is its decoded text only for echo, and these ids are the prompt)."""

    request: ChatRequest
    prompt_ids: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Ask:
    """A chat or completions body, parsed: `n` choices per prompt, prompt-major."""

    choices: list[Choice]
    n: int
    stream: bool
    include_usage: bool
    echo: bool = False  # completions: the prompt comes back before the answer, with its logprobs


# -- pieces ---------------------------------------------------------------------------------


def _content_text(content: object, index: int) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        return "".join(str(part.get("text", "")) for part in content)
    raise RequestError(400, f"messages[{index}].content must be a string or a list of text parts", "messages")


def parse_messages(raw: object, param: str = "messages") -> Messages:
    if not isinstance(raw, list) or not raw:
        raise RequestError(400, f"{param} must be a non-empty list", param)
    messages = []
    for index, message in enumerate(raw):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise RequestError(400, f"{param}[{index}] needs a role, one of {', '.join(ROLES)}", param)
        messages.append({"role": message["role"], "content": _content_text(message.get("content"), index)})
    return messages


def _number(body: Body, key: str, default: float, low: float, high: float) -> float:
    value = body.get(key)
    if value is None:
        return default
    # NaN fails the comparison too (json.loads reads "NaN")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise RequestError(400, f"{key} must be a number from {low:g} to {high:g}", key)
    return float(value)


def _integer(body: Body, key: str, default: int | None, low: int, high: int) -> int | None:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RequestError(400, f"{key} must be an integer from {low} to {high}", key)
    return value


def _stop_strings(raw: object, caps: ServeSettings) -> tuple[str, ...]:
    if raw is None:
        return ()
    stops = [raw] if isinstance(raw, str) else raw
    if (
        not isinstance(stops, list)
        or len(stops) > MAX_STOPS
        or not all(isinstance(s, str) and 0 < len(s) <= caps.max_stop_chars for s in stops)
    ):
        raise RequestError(
            400,
            f"stop must be a string or a list of up to {MAX_STOPS} strings of 1 to {caps.max_stop_chars} characters",
            "stop",
        )
    return tuple(stops)


def _logprobs_count(body: Body, chat: bool) -> int | None:
    """How many alternatives per token the body asks for: chat's `logprobs: true` with
    `top_logprobs`, completions' integer `logprobs`; None for no logprobs."""
    if not chat:
        return _integer(body, "logprobs", None, 0, MAX_TOP_LOGPROBS)
    wanted = body.get("logprobs")
    if wanted is not None and not isinstance(wanted, bool):
        raise RequestError(400, "logprobs must be true or false", "logprobs")
    top = _integer(body, "top_logprobs", None, 0, MAX_TOP_LOGPROBS)
    if top is not None and not wanted:
        raise RequestError(400, "top_logprobs needs logprobs: true", "top_logprobs")
    return (top or 0) if wanted else None


def _check_length(text_length: int, caps: ServeSettings, param: str) -> None:
    if text_length > caps.max_prompt_tokens * CHARS_PER_TOKEN_CAP:
        raise RequestError(400, f"the prompt is longer than {caps.max_prompt_tokens} tokens", param)


def _prompts(body: Body, caps: ServeSettings, vocab_size: int) -> list[str | tuple[int, ...]]:
    """/v1/completions' `prompt`: a string, a list of strings, a list of token ids or a list of
    such lists (as lm-eval sends them), each checked against the prompt cap."""
    raw = body.get("prompt")
    if isinstance(raw, str) or (isinstance(raw, list) and raw and all(isinstance(t, int) for t in raw)):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise RequestError(
            400, "prompt must be a string, a list of strings or token ids, or a list of either", "prompt"
        )
    prompts: list[str | tuple[int, ...]] = []
    for prompt in raw:
        if isinstance(prompt, str) and prompt:
            _check_length(len(prompt), caps, "prompt")
            prompts.append(prompt)
        elif isinstance(prompt, list) and prompt and all(_token_id(t, vocab_size) for t in prompt):
            if len(prompt) > caps.max_prompt_tokens:
                raise RequestError(
                    400, f"the prompt has {len(prompt)} tokens, more than {caps.max_prompt_tokens}", "prompt"
                )
            prompts.append(tuple(prompt))
        else:
            raise RequestError(400, f"each prompt must be a non-empty string or token ids below {vocab_size}", "prompt")
    if body.get("suffix"):
        raise RequestError(400, "suffix is not supported by taxon serve", "suffix")
    if body.get("best_of") not in (None, 1):
        raise RequestError(400, "best_of is not supported by taxon serve", "best_of")
    return prompts


def _token_id(value: object, vocab_size: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < vocab_size


def response_grammar(body: Body) -> str | None:
    """`response_format` as the llguidance grammar the answer must match: json_object (any JSON
    object) or json_schema (its `schema`); "text" or none, no grammar. A schema llguidance
    cannot compile is a 400 naming llguidance's reason."""
    import llguidance

    spec = body.get("response_format")
    if spec is None:
        return None
    kind = spec.get("type") if isinstance(spec, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        schema: object = {"type": "object"}
    elif kind == "json_schema":
        wrapper = spec.get("json_schema") if isinstance(spec, dict) else None
        schema = wrapper.get("schema", {}) if isinstance(wrapper, dict) else None
        if not isinstance(schema, dict):
            raise RequestError(400, "response_format.json_schema needs a schema object", "response_format")
    else:
        raise RequestError(400, "response_format.type must be text, json_object or json_schema", "response_format")
    text = json.dumps(schema)
    if len(text) > MAX_SCHEMA_CHARS:
        raise RequestError(
            400, f"the response_format schema is longer than {MAX_SCHEMA_CHARS} characters", "response_format"
        )
    try:
        # compact JSON: a model free to add whitespace can add it until max_tokens
        grammar = llguidance.LLMatcher.grammar_from_json_schema(text, overrides={"whitespace_flexible": False})
    except ValueError as error:
        raise RequestError(400, f"response_format: {error}", "response_format")
    problem = llguidance.LLMatcher.validate_grammar(grammar)
    if problem:
        raise RequestError(400, f"response_format: {problem}", "response_format")
    return grammar


def _refuse_tools(body: Body) -> None:
    if body.get("tools") or body.get("functions"):
        raise RequestError(
            400,
            "taxon serve does not call tools: it renders no tool definitions and parses no tool calls",
            "tools",
        )
    if body.get("tool_choice") not in (None, "none"):
        raise RequestError(400, "tool_choice needs tools, which taxon serve does not call", "tool_choice")


# -- bodies ---------------------------------------------------------------------------------


def parse_ask(body: Body, chat: bool, default_max_tokens: int, caps: ServeSettings, vocab_size: int = 2**31) -> Ask:
    """A /v1/chat/completions (`chat`) or /v1/completions body as the answers to generate."""
    echo = False if chat else body.get("echo") or False
    if not isinstance(echo, bool):
        raise RequestError(400, "echo must be true or false", "echo")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is None:
        max_tokens = min(default_max_tokens, caps.max_tokens)
    least = 0 if echo else 1  # echo with max_tokens 0 scores the prompt alone
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not least <= max_tokens <= caps.max_tokens:
        raise RequestError(400, f"max_tokens must be an integer from {least} to {caps.max_tokens}", "max_tokens")
    n = _integer(body, "n", 1, 1, caps.max_n) or 1
    seed = _integer(body, "seed", None, 0, MAX_SEED)
    stream = body.get("stream") or False
    options = body.get("stream_options")
    if not isinstance(stream, bool) or (options is not None and (not stream or not isinstance(options, dict))):
        raise RequestError(400, "stream must be true or false; stream_options only with stream: true", "stream")
    if echo and stream:
        raise RequestError(400, "echo is not supported with stream: true", "echo")
    _refuse_tools(body)
    base = ChatRequest(
        messages=(),
        max_tokens=max_tokens,
        temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
        top_p=_number(body, "top_p", 1.0, 0.0, 1.0),
        stop=_stop_strings(body.get("stop"), caps),
        logprobs=_logprobs_count(body, chat),
        grammar=response_grammar(body),
    )
    prompts: list[Choice] = []
    if chat:
        messages = parse_messages(body.get("messages"))
        _check_length(sum(len(m["content"]) for m in messages), caps, "messages")
        prompts.append(Choice(replace(base, messages=tuple(messages))))
    else:
        texts = _prompts(body, caps, vocab_size)
        if len(texts) * n > caps.max_n:
            raise RequestError(400, f"prompts times n must be at most {caps.max_n}", "n")
        for text in texts:
            if isinstance(text, str):
                prompts.append(Choice(replace(base, prompt=text)))
            else:
                prompts.append(Choice(replace(base, prompt=""), prompt_ids=text))
    choices = [
        # each choice its own seed, so n choices of one seeded request differ and repeat
        replace(choice, request=replace(choice.request, seed=None if seed is None else (seed + j) % (MAX_SEED + 1)))
        for choice in prompts
        for j in range(n)
    ]
    return Ask(choices, n, stream, bool((options or {}).get("include_usage")), echo)


def parse_scoring(body: Body, caps: ServeSettings) -> list[tuple[Messages, str]]:
    """/v1/taxon/loglikelihood's items, at most `max_scored_items`, each (messages and answer
    together) within the prompt cap; the token count is checked again after tokenizing."""
    items = body.get("items")
    if not isinstance(items, list):
        raise RequestError(400, "items must be a list of {messages, answer}", "items")
    if len(items) > caps.max_scored_items:
        raise RequestError(400, f"items must be at most {caps.max_scored_items}", "items")
    parsed = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("answer"), str):
            raise RequestError(400, f"items[{index}] needs messages and a string answer", "items")
        messages = parse_messages(item.get("messages"), f"items[{index}].messages")
        _check_length(sum(len(m["content"]) for m in messages) + len(item["answer"]), caps, "items")
        parsed.append((messages, item["answer"]))
    return parsed
