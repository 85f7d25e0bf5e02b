"""The OpenAI-compatible teacher: any chat-completions endpoint (vLLM, llama.cpp server, TGI,
a hosted API, or `taxon serve`). Never the legacy completions API.

One global concurrency limit for the whole run, a timeout per request, retries with
exponential backoff and jitter on 429, 5xx and connection errors (Retry-After honoured).
A capability probe at start fails fast and clearly when the endpoint is down or is not a
chat-completions endpoint. A reply that can't be used (malformed JSON, no choices, a
refusal, a content filter) becomes an error Completion: the pipelines count and drop it.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

import httpx

from taxon.backends.base import ChatRequest, Completion, Messages
from taxon.core.errors import TaxonError, UsageError

T = TypeVar("T")

LOGLIKELIHOOD_PATH = "taxon/loglikelihood"  # our extension, served by `taxon serve`
LOGLIKELIHOOD_CHUNK = 32  # items per scoring request, so one request stays well inside the timeout
PROBE_MESSAGES = [{"role": "user", "content": "Reply with OK."}]
STOP_REASONS = {"stop", "eos", "eos_token", "stop_sequence", "end_turn", None}
LENGTH_REASONS = {"length", "max_tokens"}


class Unreachable(TaxonError):
    """The endpoint kept failing (connection errors, 429 or 5xx) through every retry."""


class Rejected(Exception):
    """The endpoint answered a request with a 4xx other than 429: retrying won't help."""

    def __init__(self, status: int, body: str):
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status


class TimedOut(Exception):
    """Every try of one request ran past the timeout."""


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["retry-after"]))
    except (KeyError, ValueError):
        return None  # absent, or an HTTP date: fall back to our own backoff


def _json_object(response: httpx.Response) -> dict[str, Any]:
    data = json.loads(response.content)
    if not isinstance(data, dict):
        raise ValueError("the reply is not a JSON object")
    return data


def completion_from_reply(data: dict[str, Any]) -> Completion:
    """A chat-completions reply body as a Completion; anything unusable as an error one."""
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return Completion("", "error", error="the reply has no choices")
    choice = choices[0]
    message: dict[str, Any] = choice["message"] if isinstance(choice.get("message"), dict) else {}
    usage: dict[str, Any] = data["usage"] if isinstance(data.get("usage"), dict) else {}
    tokens: int = usage["completion_tokens"] if isinstance(usage.get("completion_tokens"), int) else 0
    prompt_tokens: int = usage["prompt_tokens"] if isinstance(usage.get("prompt_tokens"), int) else 0
    reason = choice.get("finish_reason")
    if message.get("refusal"):
        return Completion("", "error", error=f"refused: {message['refusal']}", tokens=tokens)
    if not isinstance(message.get("content"), str):
        return Completion("", "error", error="the reply has no message content", tokens=tokens)
    if reason in LENGTH_REASONS:
        finish = "length"
    elif reason in STOP_REASONS:
        finish = "stop"
    else:
        return Completion(message["content"], "error", error=f"finish_reason {reason!r}", tokens=tokens)
    return Completion(message["content"], finish, tokens=tokens, prompt_tokens=prompt_tokens)


class OpenAITeacher:
    def __init__(
        self,
        model: str,
        base_url: str = "http://127.0.0.1:8000/v1",
        api_key_env: str = "",
        concurrency: int = 8,
        timeout_s: float = 120.0,
        retries: int = 5,
        backoff_s: float = 1.0,
    ):
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.concurrency = max(1, int(concurrency))
        self.timeout_s = float(timeout_s)
        self.retries = max(0, int(retries))
        self.backoff_s = float(backoff_s)
        self.api_key_env = api_key_env
        self.headers = {}
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise UsageError(
                    f"the environment variable {api_key_env} holding the teacher's API key is not set",
                    hint=f'export {api_key_env}=... (or set teacher.api_key_env = "" for an endpoint without a key)',
                )
            self.headers["Authorization"] = f"Bearer {key}"
        self.name = f"openai:{model}"
        self.served_models: list[str] = []
        self.supports_loglikelihood = False
        self._http: httpx.AsyncClient | None = None  # open only while a call runs
        self._run(self._probe)

    # -- transport ------------------------------------------------------------------------

    def _run(self, work: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run `work(*args)` in a fresh event loop with one client for all its requests."""

        async def with_client() -> T:
            limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
            async with httpx.AsyncClient(
                base_url=self.base_url + "/", headers=self.headers, timeout=httpx.Timeout(self.timeout_s), limits=limits
            ) as self._http:
                return await work(*args)

        return asyncio.run(with_client())

    @property
    def _client(self) -> httpx.AsyncClient:
        if self._http is None:  # only `_run`'s work sends
            raise RuntimeError("a request outside OpenAITeacher._run")
        return self._http

    async def _send(
        self, method: str, path: str, body: dict[str, Any] | None = None, stream: bool = False
    ) -> httpx.Response:
        """One request with the retries: the 2xx response (its body unread when `stream`), or
        Rejected (4xx), TimedOut, Unreachable."""
        problem, delay = "", 0.0
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(delay)
            delay = self.backoff_s * 2**attempt * random.uniform(0.5, 1.5)
            try:
                client = self._client
                response = await client.send(client.build_request(method, path, json=body), stream=stream)
                if stream and response.status_code >= 400:
                    await response.aread()
                    await response.aclose()
            except httpx.TimeoutException:
                problem = "timeout"
                continue
            except httpx.TransportError as error:
                problem = f"{type(error).__name__}: {error}"
                continue
            if response.status_code == 429 or response.status_code >= 500:
                problem = f"HTTP {response.status_code}: {response.text[:200]}"
                retry_after = _retry_after(response)
                delay = delay if retry_after is None else retry_after
                continue
            if response.status_code >= 400:
                raise Rejected(response.status_code, response.text)
            return response
        if problem == "timeout":
            raise TimedOut(f"no reply within {self.timeout_s:g} s, {self.retries + 1} tries")
        raise Unreachable(
            f"the teacher endpoint {self.base_url} failed {self.retries + 1} times; last: {problem}",
            hint="check that the server is up and the base_url is right; finished work is kept, rerun to resume",
        )

    # -- probe ----------------------------------------------------------------------------

    async def _probe(self) -> None:
        try:
            listing = _json_object(await self._send("GET", "models"))
            self.served_models = [str(m.get("id")) for m in listing.get("data", []) if isinstance(m, dict)]
        except (Rejected, ValueError):
            pass  # some servers don't list models; the chat probe below decides
        except TimedOut as error:
            raise Unreachable(f"the teacher endpoint {self.base_url} did not answer: {error}")
        await self._probe_chat()
        self.supports_loglikelihood = await self._probe_loglikelihood()

    async def _probe_chat(self) -> None:
        body = {"model": self.model, "messages": PROBE_MESSAGES, "max_tokens": 1, "temperature": 0}
        try:
            data = _json_object(await self._send("POST", "chat/completions", body))
        except Rejected as error:
            raise self._rejection(error)
        except TimedOut as error:
            raise Unreachable(f"the teacher endpoint {self.base_url} did not answer: {error}")
        except ValueError:
            data = {}
        if not isinstance(data.get("choices"), list):
            raise TaxonError(
                f"{self.base_url}/chat/completions did not answer like an OpenAI chat-completions endpoint",
                hint="point teacher.base_url at the API root that serves /chat/completions (usually ending in /v1)",
            )

    def _rejection(self, error: Rejected) -> TaxonError:
        if error.status in (401, 403):
            return TaxonError(
                f"the teacher endpoint {self.base_url} refused our credentials ({error})",
                hint=f"set the API key in the environment variable named by teacher.api_key_env "
                f"({self.api_key_env or 'not set'})",
            )
        if error.status in (404, 405) and self.served_models and self.model not in self.served_models:
            return TaxonError(
                f"the teacher endpoint {self.base_url} does not serve the model '{self.model}'",
                hint=f"set generate.teacher to one of: {', '.join(map(str, self.served_models))}",
            )
        if error.status in (404, 405):
            return TaxonError(
                f"{self.base_url}/chat/completions is not a chat-completions endpoint ({error})",
                hint="point teacher.base_url at the API root that serves /chat/completions (usually ending in /v1)",
            )
        return TaxonError(f"the teacher endpoint {self.base_url} rejected a minimal chat request ({error})")

    async def _probe_loglikelihood(self) -> bool:
        try:
            data = _json_object(await self._send("POST", LOGLIKELIHOOD_PATH, {"model": self.model, "items": []}))
        except (Rejected, TimedOut, ValueError):
            return False
        return isinstance(data.get("data"), list)

    # -- the protocol ---------------------------------------------------------------------

    def chat(
        self,
        requests: list[ChatRequest],
        progress: Callable[[int], None] | None = None,
        on_text: Callable[[int, str], None] | None = None,
    ) -> list[Completion]:
        return self._run(self._chat_all, requests, progress, on_text)

    async def _chat_all(
        self,
        requests: list[ChatRequest],
        progress: Callable[[int], None] | None,
        on_text: Callable[[int, str], None] | None,
    ) -> list[Completion]:
        limit = asyncio.Semaphore(self.concurrency)

        async def one(index: int, request: ChatRequest) -> Completion:
            async with limit:
                completion = await self._chat_one(request, partial(on_text, index) if on_text else None)
            if progress:
                progress(1)
            return completion

        tasks = [asyncio.create_task(one(index, request)) for index, request in enumerate(requests)]
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            for task in tasks:
                task.cancel()  # after an Unreachable, stop the others at once
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _chat_one(self, request: ChatRequest, on_text: Callable[[str], None] | None = None) -> Completion:
        body = {
            "model": self.model,
            "messages": list(request.messages),
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "n": 1,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.stop:
            body["stop"] = list(request.stop)
        try:
            if on_text:
                return await self._chat_streamed(body, on_text)
            response = await self._send("POST", "chat/completions", body)
            return completion_from_reply(_json_object(response))
        except (Rejected, TimedOut) as error:
            return Completion("", "error", error=str(error))
        except ValueError as error:
            return Completion("", "error", error=f"malformed reply: {error}")

    async def _chat_streamed(self, body: dict[str, Any], on_text: Callable[[str], None]) -> Completion:
        """A chat completion streamed as server-sent events, each piece of text handed to
        `on_text` as it arrives; retried only until its first byte."""
        body = body | {"stream": True, "stream_options": {"include_usage": True}}
        response = await self._send("POST", "chat/completions", body, stream=True)
        text = ""
        reply: dict[str, Any] = {}
        usage: dict[str, Any] = {}
        try:
            async for line in response.aiter_lines():
                if not line.startswith("data:") or line[5:].strip() == "[DONE]":
                    continue
                event = json.loads(line[5:])
                if not isinstance(event, dict):
                    raise ValueError("an event is not a JSON object")
                usage = event.get("usage") or usage
                for choice in event.get("choices") or []:
                    piece = (choice.get("delta") or {}).get("content")
                    if isinstance(piece, str) and piece:
                        text += piece
                        on_text(piece)
                    reply = choice if choice.get("finish_reason") else reply
        except httpx.HTTPError as error:
            return Completion(text, "error", error=f"the stream broke: {type(error).__name__}: {error}")
        finally:
            await response.aclose()
        message = {"role": "assistant", "content": text}
        return completion_from_reply({"choices": [{**reply, "message": message}], "usage": usage})

    def answer_loglikelihood(self, items: list[tuple[Messages, str]]) -> list[float] | None:
        if not self.supports_loglikelihood:
            return None
        return self._run(self._loglikelihood, items)

    async def _loglikelihood(self, items: list[tuple[Messages, str]]) -> list[float]:
        scores: list[float] = []
        for start in range(0, len(items), LOGLIKELIHOOD_CHUNK):
            chunk = items[start : start + LOGLIKELIHOOD_CHUNK]
            body = {
                "model": self.model,
                "items": [{"messages": list(messages), "answer": answer} for messages, answer in chunk],
            }
            try:
                data = _json_object(await self._send("POST", LOGLIKELIHOOD_PATH, body))
                rows = sorted(data["data"], key=lambda row: row["index"])
                scores += [float(row["mean_logprob"]) for row in rows]
            except (Rejected, TimedOut, ValueError, KeyError, TypeError) as error:
                raise TaxonError(f"the teacher endpoint {self.base_url} failed to score answers: {error}")
        return scores
