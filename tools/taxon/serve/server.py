"""`taxon serve`: an OpenAI-compatible server over a local transformers model.

Endpoints: `GET /v1/models`, `POST /v1/chat/completions` and `POST /v1/completions` (max_tokens,
temperature, top_p, seed, stop, n, logprobs/top_logprobs, and streaming as server-sent events
with `stream_options.include_usage`), and one extension, `POST /v1/taxon/loglikelihood`
({"items": [{"messages", "answer"}]} -> {"data": [{"index", "mean_logprob"}]}), which the
openai teacher finds with its probe. One worker thread owns the model: a request joins the
running batch between two decode steps and is answered as soon as its row finishes. `Limits`
caps what one client may ask (tokens, choices, connections, stalled sockets) and holds the
optional API key. Errors are JSON bodies in OpenAI's shape with a proper status code.
"""

from __future__ import annotations

import hmac
import json
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from taxon.backends.base import ChatRequest, Completion, TokenLogprob

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


@dataclass(frozen=True)
class Limits:
    """What one client may ask of the server, so that no request starves the others."""

    max_tokens: int = 2048  # per choice
    max_prompt_tokens: int = 4096
    max_n: int = 8  # choices per request (times prompts, for /v1/completions)
    max_connections: int = 32  # open at once; the next one gets a 503
    timeout_s: float = 60.0  # a socket read or write that stalls longer drops the connection
    api_key: str | None = None  # when set, every request needs "Authorization: Bearer <key>"


MAX_SEED = 2**63 - 1
MAX_TOP_LOGPROBS = 20
CHARS_PER_TOKEN_CAP = 16  # a prompt longer than this many characters per allowed token is refused untokenized


@dataclass(frozen=True)
class Ask:
    """A chat or completions body, parsed: one ChatRequest per choice, `n` per prompt."""

    requests: list[ChatRequest]
    n: int
    stream: bool
    include_usage: bool


def _integer(body: dict, key: str, default: int | None, low: int, high: int) -> int | None:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RequestError(400, f"{key} must be an integer from {low} to {high}", key)
    return value


def _logprobs_count(body: dict, chat: bool) -> int | None:
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


def _prompts(body: dict) -> list[str]:
    raw = body.get("prompt")
    prompts = [raw] if isinstance(raw, str) else raw
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) and p for p in prompts):
        raise RequestError(400, "prompt must be a non-empty string or a non-empty list of them", "prompt")
    for flag in ("echo", "suffix"):
        if body.get(flag):
            raise RequestError(400, f"{flag} is not supported by taxon serve", flag)
    if body.get("best_of") not in (None, 1):
        raise RequestError(400, "best_of is not supported by taxon serve", "best_of")
    return prompts


def _check_prompt_length(text_length: int, limits: Limits, param: str) -> None:
    if text_length > limits.max_prompt_tokens * CHARS_PER_TOKEN_CAP:
        raise RequestError(400, f"the prompt is longer than {limits.max_prompt_tokens} tokens", param)


def parse_ask(body: dict, chat: bool, default_max_tokens: int, limits: Limits = Limits()) -> Ask:
    """A /v1/chat/completions (`chat`) or /v1/completions body as the requests to generate."""
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is None:
        max_tokens = min(default_max_tokens, limits.max_tokens)
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= limits.max_tokens:
        raise RequestError(400, f"max_tokens must be an integer from 1 to {limits.max_tokens}", "max_tokens")
    n = _integer(body, "n", 1, 1, limits.max_n)
    seed = _integer(body, "seed", None, 0, MAX_SEED)
    stream = body.get("stream") or False
    options = body.get("stream_options")
    if not isinstance(stream, bool) or (options is not None and (not stream or not isinstance(options, dict))):
        raise RequestError(400, "stream must be true or false; stream_options only with stream: true", "stream")
    if chat:
        messages = parse_messages(body.get("messages"))
        _check_prompt_length(sum(len(m["content"]) for m in messages), limits, "messages")
        prompts: list[tuple[tuple[dict, ...], str | None]] = [(messages, None)]
    else:
        texts = _prompts(body)
        if len(texts) * n > limits.max_n:
            raise RequestError(400, f"prompts times n must be at most {limits.max_n}", "n")
        for text in texts:
            _check_prompt_length(len(text), limits, "prompt")
        prompts = [((), text) for text in texts]
    common = dict(
        max_tokens=max_tokens,
        temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
        top_p=_number(body, "top_p", 1.0, 0.0, 1.0),
        stop=_stop_strings(body.get("stop")),
        logprobs=_logprobs_count(body, chat),
    )
    requests = [
        # each choice its own seed, so n choices of one seeded request differ and repeat
        ChatRequest(
            messages=messages, prompt=prompt, seed=None if seed is None else (seed + j) % (MAX_SEED + 1), **common
        )
        for messages, prompt in prompts
        for j in range(n)
    ]
    return Ask(requests, n, stream, bool((options or {}).get("include_usage")))


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


@dataclass(eq=False)  # hashed by identity: the set of running chats
class _Job:
    kind: str  # "chat" | "loglikelihood"
    payload: object  # a ChatRequest, or a list of (messages, answer)
    result: Future
    on_text: Callable[[str], None] | None = None  # a chat's text as it grows (called on the model thread)
    streamed: bool = False  # some of its text has gone out


class Batcher:
    """The one thread that touches the model. Chats join the teacher's running batch between
    two decode steps (continuous batching: a finished row is answered at once and its place
    given to the next request). Scoring jobs that arrive within `window_s` of one another are
    one answer_loglikelihood call, run between two steps. A chat whose prompt is over
    `max_prompt_tokens` fails alone; when a step fails, each chat it held is run again alone
    (unless some of its text went out already), so one bad request never fails the others."""

    def __init__(self, teacher, window_s: float, max_prompt_tokens: int = Limits.max_prompt_tokens):
        self.teacher = teacher
        self.max_prompt_tokens = max_prompt_tokens
        self.window_s = window_s
        self.loop = teacher.decode_loop()
        self.running: set[_Job] = set()  # chats added to the loop and not yet answered
        self.jobs: queue.Queue[_Job | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="taxon-serve-model", daemon=True)
        self.thread.start()

    def submit(self, kind: str, payload, on_text: Callable[[str], None] | None = None) -> Future:
        job = _Job(kind, payload, Future(), on_text)
        self.jobs.put(job)
        return job.result

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join()

    def _arrived(self, wait: bool) -> tuple[list[_Job], bool]:
        """The jobs queued now (with `wait`: the next one and those within the window after it),
        and whether close() was called."""
        arrived: list[_Job] = []
        if wait:
            first = self.jobs.get()
            if first is None:
                return arrived, True
            arrived.append(first)
        deadline = time.monotonic() + (self.window_s if wait else 0.0)
        while True:
            try:
                job = self.jobs.get(timeout=max(0.0, deadline - time.monotonic())) if wait else self.jobs.get_nowait()
            except queue.Empty:
                return arrived, False
            if job is None:
                return arrived, True
            arrived.append(job)

    def _run(self) -> None:
        closing = False
        while not closing or self.loop.busy:  # on close, the chats in flight are still answered
            if not closing:
                arrived, closing = self._arrived(wait=not self.loop.busy)
                for job in arrived:
                    if job.kind == "chat" and self._prompt_fits(job):
                        self.running.add(job)
                        self._add(self.loop, job)
                self._settle([job for job in arrived if job.kind == "loglikelihood"], self._score)
            if self.loop.busy:
                try:
                    self.loop.step()
                except Exception as error:
                    failed, self.running = self.running, set()
                    for job in failed:
                        self._alone(job, error)

    def _add(self, loop, job: _Job) -> None:
        def on_text(piece: str) -> None:
            job.streamed = job.streamed or bool(piece)
            if job.on_text:
                job.on_text(piece)

        def on_done(completion) -> None:
            self.running.discard(job)
            job.result.set_result(completion)

        loop.add(job.payload, on_done, on_text)

    def _alone(self, job: _Job, error: Exception) -> None:
        """A chat of a failed step, run again alone: a 500 if it fails alone too (or if it had
        streamed text already, which a second run can't take back)."""
        if job.streamed:
            job.result.set_exception(error)
            return
        loop = self.teacher.decode_loop()
        self._add(loop, job)
        try:
            while loop.step():
                pass
        except Exception as alone_error:  # the model fails on this request: it gets a 500
            job.result.set_exception(alone_error)

    def _prompt_fits(self, job: _Job) -> bool:
        length = len(self.teacher.request_ids(job.payload))
        if length <= self.max_prompt_tokens:
            return True
        job.result.set_exception(
            RequestError(400, f"the prompt has {length} tokens, more than {self.max_prompt_tokens}", "messages")
        )
        return False

    def _score(self, jobs: list[_Job]) -> list[list[float]]:
        items = [item for job in jobs for item in job.payload]
        scores = self.teacher.answer_loglikelihood(items)
        per_job, start = [], 0
        for job in jobs:
            per_job.append(scores[start : start + len(job.payload)])
            start += len(job.payload)
        return per_job

    def _settle(self, jobs: list[_Job], compute) -> None:
        if not jobs:
            return
        try:
            results = compute(jobs)
        except Exception as error:
            if len(jobs) > 1:  # find the one that fails: each alone
                for job in jobs:
                    self._settle([job], compute)
            else:  # the model failed on this request: it gets a 500
                jobs[0].result.set_exception(error)
            return
        for job, result in zip(jobs, results):
            job.result.set_result(result)


# -- HTTP ---------------------------------------------------------------------------------


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address, teacher, model_name: str, default_max_tokens: int, batcher: Batcher, limits: Limits):
        super().__init__(address, _Handler)
        self.teacher = teacher
        self.model_name = model_name
        self.default_max_tokens = default_max_tokens
        self.batcher = batcher
        self.limits = limits
        self.connection_slots = threading.BoundedSemaphore(limits.max_connections)
        self.log_requests = False
        self.created = int(time.time())

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"

    def process_request(self, request, client_address) -> None:
        """At most `max_connections` open at once; the next one is told so and closed."""
        if not self.connection_slots.acquire(blocking=False):
            body = json.dumps(RequestError(503, "too many connections; retry later").body()).encode()
            head = f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
            try:
                request.settimeout(1.0)
                request.sendall(head.encode() + b"\r\nRetry-After: 1\r\nConnection: close\r\n\r\n" + body)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connection_slots.release()

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

    @property
    def timeout(self) -> float:  # StreamRequestHandler sets it on the socket: a stalled client is dropped
        return self.server.limits.timeout_s

    def log_message(self, format, *args) -> None:
        if self.server.log_requests:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    def _handle(self, route) -> None:
        try:
            self._authorize()
            reply = route()
            if reply is not None:  # a streamed reply has been written already
                self._reply(200, reply)
        except RequestError as error:
            self._reply(error.status, error.body())
        except ConnectionError:  # the client left
            self.close_connection = True
        except Exception as error:  # a failure inside the model: the client gets a 500, the server lives
            self._reply(500, RequestError(500, f"{type(error).__name__}: {error}").body())

    def _authorize(self) -> None:
        key = self.server.limits.api_key
        if key is None:
            return
        given = self.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {key}".encode()):
            self.close_connection = True  # an unread body may follow
            raise RequestError(401, "a valid API key is required: Authorization: Bearer <key>", code="invalid_api_key")

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
        routes = {
            "/v1/chat/completions": self._chat,
            "/v1/completions": self._completions,
            "/v1/taxon/loglikelihood": self._loglikelihood,
        }
        self._handle(routes.get(self.path.rstrip("/"), self._not_found))

    def _not_allowed(self) -> None:
        self.close_connection = True
        self._reply(405, RequestError(405, f"{self.command} is not allowed here").body())

    do_PUT = do_DELETE = do_PATCH = _not_allowed

    def _not_found(self) -> dict:
        self.close_connection = True  # an unread body may follow
        raise RequestError(
            404, f"no endpoint {self.path}; this server offers /v1/models, /v1/chat/completions and /v1/completions"
        )

    def _models(self) -> dict:
        model = {"id": self.server.model_name, "object": "model", "created": self.server.created, "owned_by": "taxon"}
        return {"object": "list", "data": [model]}

    def _chat(self) -> dict | None:
        return self._generate(
            parse_ask(self._read_json(), True, self.server.default_max_tokens, self.server.limits), CHAT
        )

    def _completions(self) -> dict | None:
        ask = parse_ask(self._read_json(), False, self.server.default_max_tokens, self.server.limits)
        return self._generate(ask, TEXT)

    def _generate(self, ask: Ask, shape: _Shape) -> dict | None:
        reply_id = f"{shape.id_prefix}-{uuid.uuid4().hex}"
        if ask.stream:
            self._stream(ask, shape, reply_id)
            return None
        futures = [self.server.batcher.submit("chat", request) for request in ask.requests]
        completions = [_succeeded(future.result()) for future in futures]
        return {
            "id": reply_id,
            "object": shape.object,
            "created": int(time.time()),
            "model": self.server.model_name,
            "choices": [shape.choice(i, c) for i, c in enumerate(completions)],
            "usage": _usage(ask, completions),
        }

    def _stream(self, ask: Ask, shape: _Shape, reply_id: str) -> None:
        """Server-sent events in OpenAI's chunk format, ending in `data: [DONE]`. Text arrives
        through each job's on_text as the backend produces it; whatever part of a finished
        answer was not streamed (a backend that can't stream, or one asked for logprobs, which
        go out token by token) follows when it finishes. An error before the first event is a
        plain error reply; after it, an error event ends the stream."""
        events: queue.Queue[tuple[int, str | None]] = queue.Queue()
        per_token = ask.requests[0].logprobs is not None
        futures = [
            self.server.batcher.submit(
                "chat", request, None if per_token else lambda piece, i=i: events.put((i, piece))
            )
            for i, request in enumerate(ask.requests)
        ]
        for i, future in enumerate(futures):
            future.add_done_callback(lambda _, i=i: events.put((i, None)))
        chunk = _ChunkWriter(self, shape, reply_id, self.server.model_name, ask)
        streamed = [""] * len(futures)
        completions: list[Completion | None] = [None] * len(futures)
        try:
            while any(c is None for c in completions):
                i, piece = events.get()
                if piece is not None:
                    streamed[i] += piece
                    chunk.text(i, piece)
                    continue
                completion = completions[i] = _succeeded(futures[i].result())
                for piece, logprob in _rest(completion, streamed[i], per_token):
                    chunk.text(i, piece, logprob)
                chunk.finish(i, completion.finish_reason)
        except ConnectionError:  # the client left: nothing more to tell it
            self.close_connection = True
            return
        except Exception as error:
            if not chunk.started:
                raise
            failure = (
                error if isinstance(error, RequestError) else RequestError(500, f"{type(error).__name__}: {error}")
            )
            chunk.event(failure.body())
            chunk.end()
            return
        if ask.include_usage:
            chunk.event(chunk.base([]) | {"usage": _usage(ask, completions)})
        chunk.end()

    def _loglikelihood(self) -> dict:
        items = parse_loglikelihood_items(self._read_json())
        scores = self.server.batcher.submit("loglikelihood", items).result() if items else []
        return {
            "object": "list",
            "model": self.server.model_name,
            "data": [{"index": i, "mean_logprob": score} for i, score in enumerate(scores)],
        }


def _succeeded(completion: Completion) -> Completion:
    if completion.finish_reason == "error":
        raise RequestError(500, completion.error or "generation failed")
    return completion


def _usage(ask: Ask, completions: list[Completion]) -> dict:
    """Each prompt counted once however many choices it has, as OpenAI does."""
    prompt_tokens = sum(c.prompt_tokens for c in completions[:: ask.n])
    completion_tokens = sum(c.tokens for c in completions)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _rest(completion: Completion, streamed: str, per_token: bool) -> list[tuple[str, TokenLogprob | None]]:
    """The pieces of a finished answer still to send: token by token with their logprobs, or
    the text after what was already streamed."""
    if per_token:
        return [(token.token, token) for token in completion.logprobs or ()]
    rest = completion.text[len(streamed) :] if completion.text.startswith(streamed) else ""
    return [(rest, None)] if rest else []


# -- reply shapes -------------------------------------------------------------------------


def _bytes(text: str) -> list[int]:
    return list(text.encode())


def _chat_logprobs(tokens: Iterable[TokenLogprob]) -> dict:
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


def _text_logprobs(tokens: Iterable[TokenLogprob], offset: int = 0) -> dict:
    tokens = list(tokens)
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
class _Shape:
    """How one endpoint spells its replies: chat (`message`/`delta`) or text completions (`text`)."""

    object: str
    chunk_object: str
    id_prefix: str
    chat: bool

    def choice(self, index: int, completion: Completion) -> dict:
        if self.chat:
            logprobs = _chat_logprobs(completion.logprobs) if completion.logprobs is not None else None
            message = {"role": "assistant", "content": completion.text}
            return {"index": index, "message": message, "finish_reason": completion.finish_reason, "logprobs": logprobs}
        logprobs = _text_logprobs(completion.logprobs) if completion.logprobs is not None else None
        return {
            "index": index,
            "text": completion.text,
            "finish_reason": completion.finish_reason,
            "logprobs": logprobs,
        }

    def delta(self, index: int, text: str | None, logprob: TokenLogprob | None, finish: str | None, offset: int):
        if self.chat:
            delta = {} if text is None else {"content": text}
            logprobs = _chat_logprobs([logprob]) if logprob else None
            return {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        logprobs = _text_logprobs([logprob], offset) if logprob else None
        return {"index": index, "text": text or "", "logprobs": logprobs, "finish_reason": finish}


CHAT = _Shape("chat.completion", "chat.completion.chunk", "chatcmpl", chat=True)
TEXT = _Shape("text_completion", "text_completion", "cmpl", chat=False)


class _ChunkWriter:
    """Writes one streamed reply: SSE events in HTTP/1.1 chunked transfer encoding, the
    headers (and, for chat, each choice's role) sent with the first event."""

    def __init__(self, handler: _Handler, shape: _Shape, reply_id: str, model: str, ask: Ask):
        self.handler, self.shape, self.ask = handler, shape, ask
        self.head = {"id": reply_id, "object": shape.chunk_object, "created": int(time.time()), "model": model}
        self.offsets = [0] * len(ask.requests)
        self.started = False

    def base(self, choices: list[dict]) -> dict:
        return self.head | {"choices": choices} | ({"usage": None} if self.ask.include_usage else {})

    def _start(self) -> None:
        self.started = True
        handler = self.handler
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Cache-Control", "no-cache")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        if self.shape.chat:
            role = {"delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
            for i in range(len(self.ask.requests)):
                self.event(self.base([{"index": i} | role]))

    def event(self, data: dict | str) -> None:
        if not self.started:
            self._start()
        payload = data if isinstance(data, str) else json.dumps(data)
        self._write(f"data: {payload}\n\n".encode())

    def text(self, index: int, piece: str, logprob: TokenLogprob | None = None) -> None:
        self.event(self.base([self.shape.delta(index, piece, logprob, None, self.offsets[index])]))
        self.offsets[index] += len(piece)

    def finish(self, index: int, reason: str) -> None:
        self.event(self.base([self.shape.delta(index, None, None, reason, self.offsets[index])]))

    def end(self) -> None:
        self.event("[DONE]")
        self.handler.wfile.write(b"0\r\n\r\n")
        self.handler.wfile.flush()

    def _write(self, data: bytes) -> None:
        self.handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.handler.wfile.flush()


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
    limits: Limits = Limits(),
    dtype: str = "auto",
) -> ModelServer:
    """A server over a local model, bound but not yet serving: call `serve_forever()`
    (in a thread in tests) and `shutdown()` + `server_close()` to stop it. Port 0 picks a free port."""
    from taxon.backends.transformers import TransformersTeacher

    teacher = TransformersTeacher(model_path, spec=model_name, batch_size=batch_size, threads=threads, dtype=dtype)
    batcher = Batcher(teacher, window_s=batch_window_s, max_prompt_tokens=limits.max_prompt_tokens)
    try:
        return ModelServer((host, port), teacher, model_name or str(model_path), max_new_tokens, batcher, limits)
    except OSError:
        batcher.close()
        raise
