"""`taxon serve`: an OpenAI-compatible chat-completions server over a local transformers model.

Endpoints: `GET /v1/models`, `POST /v1/chat/completions` (messages, max_tokens, temperature,
top_p, seed, stop, n=1; no streaming), and one extension, `POST /v1/taxon/loglikelihood`
({"items": [{"messages", "answer"}]} -> {"data": [{"index", "mean_logprob"}]}), which the
openai teacher finds with its probe. Requests arriving together are generated as one batch:
one worker thread owns the model and collects what arrives within a short window.
Errors are JSON bodies in OpenAI's shape with a proper status code.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from taxon.backends.base import ChatRequest

MAX_BODY_BYTES = 8 * 1024 * 1024
ROLES = ("system", "user", "assistant")


class RequestError(Exception):
    """A request we answer with an error status and an OpenAI-style error body."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.param = param
        self.code = code

    def body(self) -> dict:
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        return {"error": {"message": str(self), "type": kind, "param": self.param, "code": self.code}}


# -- request parsing ----------------------------------------------------------------------


def _content_text(content, index: int) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        return "".join(str(part.get("text", "")) for part in content)
    raise RequestError(400, f"messages[{index}].content must be a string or a list of text parts", "messages")


def parse_messages(raw) -> tuple[dict, ...]:
    if not isinstance(raw, list) or not raw:
        raise RequestError(400, "messages must be a non-empty list", "messages")
    messages = []
    for index, message in enumerate(raw):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise RequestError(400, f"messages[{index}] needs a role, one of {', '.join(ROLES)}", "messages")
        messages.append({"role": message["role"], "content": _content_text(message.get("content"), index)})
    return tuple(messages)


def _number(body: dict, key: str, default: float, low: float, high: float) -> float:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise RequestError(400, f"{key} must be a number from {low:g} to {high:g}", key)
    return float(value)


def _stop_strings(raw) -> tuple[str, ...]:
    if raw is None:
        return ()
    stops = [raw] if isinstance(raw, str) else raw
    if not isinstance(stops, list) or len(stops) > 4 or not all(isinstance(s, str) and s for s in stops):
        raise RequestError(400, "stop must be a string or a list of up to 4 non-empty strings", "stop")
    return tuple(stops)


def parse_chat_request(body: dict, default_max_tokens: int) -> ChatRequest:
    if body.get("stream"):
        raise RequestError(400, "streaming is not supported by taxon serve", "stream")
    if body.get("n", 1) != 1:
        raise RequestError(400, "only n=1 is supported", "n")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is None:
        max_tokens = default_max_tokens
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise RequestError(400, "max_tokens must be a positive integer", "max_tokens")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise RequestError(400, "seed must be an integer", "seed")
    return ChatRequest(
        messages=parse_messages(body.get("messages")),
        max_tokens=max_tokens,
        temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
        top_p=_number(body, "top_p", 1.0, 0.0, 1.0),
        seed=seed,
        stop=_stop_strings(body.get("stop")),
    )


def parse_loglikelihood_items(body: dict) -> list[tuple[list[dict], str]]:
    items = body.get("items")
    if not isinstance(items, list):
        raise RequestError(400, "items must be a list of {messages, answer}", "items")
    parsed = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("answer"), str):
            raise RequestError(400, f"items[{index}] needs messages and a string answer", "items")
        parsed.append((list(parse_messages(item.get("messages"))), item["answer"]))
    return parsed


# -- the model worker ---------------------------------------------------------------------


@dataclass
class _Job:
    kind: str  # "chat" | "loglikelihood"
    payload: object  # a ChatRequest, or a list of (messages, answer)
    result: Future


class Batcher:
    """The one thread that touches the model. Jobs that arrive within `window_s` of the
    first one are run together: chats as one teacher.chat call (batched inside), scoring
    items as one answer_loglikelihood call."""

    def __init__(self, teacher, max_jobs: int, window_s: float):
        self.teacher = teacher
        self.max_jobs = max(1, max_jobs)
        self.window_s = window_s
        self.jobs: queue.Queue[_Job | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="taxon-serve-model", daemon=True)
        self.thread.start()

    def submit(self, kind: str, payload) -> Future:
        job = _Job(kind, payload, Future())
        self.jobs.put(job)
        return job.result

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join()

    def _collect(self, first: _Job) -> tuple[list[_Job], bool]:
        batch, deadline = [first], time.monotonic() + self.window_s
        while len(batch) < self.max_jobs:
            try:
                job = self.jobs.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if job is None:
                return batch, True
            batch.append(job)
        return batch, False

    def _run(self) -> None:
        closing = False
        while not closing:
            first = self.jobs.get()
            if first is None:
                return
            batch, closing = self._collect(first)
            chats = [job for job in batch if job.kind == "chat"]
            scorings = [job for job in batch if job.kind == "loglikelihood"]
            self._settle(chats, lambda chats=chats: self.teacher.chat([job.payload for job in chats]))
            self._settle(scorings, lambda scorings=scorings: self._score(scorings))

    def _score(self, jobs: list[_Job]) -> list[list[float]]:
        items = [item for job in jobs for item in job.payload]
        scores = self.teacher.answer_loglikelihood(items)
        per_job, start = [], 0
        for job in jobs:
            per_job.append(scores[start : start + len(job.payload)])
            start += len(job.payload)
        return per_job

    @staticmethod
    def _settle(jobs: list[_Job], compute) -> None:
        if not jobs:
            return
        try:
            results = compute()
        except Exception as error:  # the model failed: every waiting request gets a 500
            for job in jobs:
                job.result.set_exception(error)
            return
        for job, result in zip(jobs, results):
            job.result.set_result(result)


# -- HTTP ---------------------------------------------------------------------------------


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address, teacher, model_name: str, default_max_tokens: int, batcher: Batcher):
        super().__init__(address, _Handler)
        self.teacher = teacher
        self.model_name = model_name
        self.default_max_tokens = default_max_tokens
        self.batcher = batcher
        self.log_requests = False
        self.created = int(time.time())

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"

    def server_close(self) -> None:
        super().server_close()
        self.batcher.close()


class JSONHandler(BaseHTTPRequestHandler):
    """Answers in JSON, quietly: the base of this server's handler and of the scripted
    endpoints that tests and benches stand up."""

    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def log_message(self, format, *args) -> None:
        pass

    def _reply(self, status: int, body: dict | bytes) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Handler(JSONHandler):
    protocol_version = "HTTP/1.1"
    server: ModelServer

    def log_message(self, format, *args) -> None:
        if self.server.log_requests:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    def _handle(self, route) -> None:
        try:
            self._reply(200, route())
        except RequestError as error:
            self._reply(error.status, error.body())
        except Exception as error:  # a failure inside the model: the client gets a 500, the server lives
            self._reply(500, RequestError(500, f"{type(error).__name__}: {error}").body())

    def _read_json(self) -> dict:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            raise RequestError(411, "a Content-Length header is required")
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            raise RequestError(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        try:
            body = json.loads(self.rfile.read(int(length)))
        except (ValueError, UnicodeDecodeError):
            raise RequestError(400, "the body is not valid JSON")
        if not isinstance(body, dict):
            raise RequestError(400, "the body must be a JSON object")
        model = body.get("model")
        if model is not None and model != self.server.model_name:
            raise RequestError(
                404,
                f"the model '{model}' is not served here; this server serves '{self.server.model_name}'",
                "model",
                "model_not_found",
            )
        return body

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._handle(self._models)
        else:
            self._handle(self._not_found)

    def do_POST(self) -> None:
        routes = {"/v1/chat/completions": self._chat, "/v1/taxon/loglikelihood": self._loglikelihood}
        self._handle(routes.get(self.path.rstrip("/"), self._not_found))

    def _not_allowed(self) -> None:
        self.close_connection = True
        self._reply(405, RequestError(405, f"{self.command} is not allowed here").body())

    do_PUT = do_DELETE = do_PATCH = _not_allowed

    def _not_found(self) -> dict:
        self.close_connection = True  # an unread body may follow
        raise RequestError(404, f"no endpoint {self.path}; this server offers /v1/models and /v1/chat/completions")

    def _models(self) -> dict:
        model = {"id": self.server.model_name, "object": "model", "created": self.server.created, "owned_by": "taxon"}
        return {"object": "list", "data": [model]}

    def _chat(self) -> dict:
        request = parse_chat_request(self._read_json(), self.server.default_max_tokens)
        completion = self.server.batcher.submit("chat", request).result()
        if completion.finish_reason == "error":
            raise RequestError(500, completion.error or "generation failed")
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.server.model_name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": completion.text},
                    "finish_reason": completion.finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": completion.prompt_tokens,
                "completion_tokens": completion.tokens,
                "total_tokens": completion.prompt_tokens + completion.tokens,
            },
        }

    def _loglikelihood(self) -> dict:
        items = parse_loglikelihood_items(self._read_json())
        scores = self.server.batcher.submit("loglikelihood", items).result() if items else []
        return {
            "object": "list",
            "model": self.server.model_name,
            "data": [{"index": i, "mean_logprob": score} for i, score in enumerate(scores)],
        }


def make_server(
    model_path: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    model_name: str | None = None,
    batch_size: int = 8,
    threads: int = 0,
    batch_window_s: float = 0.01,
    max_new_tokens: int = 256,
) -> ModelServer:
    """A server over a local model, bound but not yet serving: call `serve_forever()`
    (in a thread in tests) and `shutdown()` + `server_close()` to stop it. Port 0 picks a free port."""
    from taxon.backends.transformers import TransformersTeacher

    teacher = TransformersTeacher(model_path, spec=model_name, batch_size=batch_size, threads=threads)
    batcher = Batcher(teacher, max_jobs=batch_size, window_s=batch_window_s)
    try:
        return ModelServer((host, port), teacher, model_name or str(model_path), max_new_tokens, batcher)
    except OSError:
        batcher.close()
        raise
