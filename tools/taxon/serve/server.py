"""`taxon serve`'s HTTP layer: an OpenAI-compatible server over a local transformers model.

Endpoints: `GET /v1/models`; `POST /v1/chat/completions` and `POST /v1/completions`
(max_tokens, temperature, top_p, seed, stop, n, logprobs/top_logprobs, response_format held by
constrained decoding, completions' echo with prompt logprobs and token-id prompts, and
streaming as server-sent events with `stream_options.include_usage`); one extension,
`POST /v1/taxon/loglikelihood` ({"items": [{"messages", "answer"}]} -> {"data": [{"index",
"mean_logprob"}]}), which the openai teacher finds with its probe; vLLM's `GET /tokenizer_info`,
`POST /tokenize` and `POST /detokenize`, which lm-eval's API models use; `GET /health` and
Prometheus' `GET /metrics`. A wrong method is a 405 naming the allowed ones.

One worker thread owns the model (batcher.py). [serve]'s caps bound what one client may ask;
each connection must deliver each whole request within `request_timeout_s` of being ready
for it, so slow sockets cannot hold the connection slots. Errors are JSON bodies in OpenAI's
shape with a proper status code; a client that hangs up costs a line at most, no traceback.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import queue
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from taxon.backends.base import Completion, TokenLogprob
from taxon.core.settings import ServeSettings
from taxon.serve.batcher import Batcher, ServedModel
from taxon.serve.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from taxon.serve.metrics import ServeMetrics
from taxon.serve.replies import CHAT, TEXT, Echo, Reply, Shape, usage
from taxon.serve.requests import (
    CHARS_PER_TOKEN_CAP,
    Ask,
    Body,
    Choice,
    RequestError,
    parse_ask,
    parse_scoring,
)
from taxon.serve.stream import StreamWriter

MAX_BODY_BYTES = 8 * 1024 * 1024


def key_digest(api_key: str) -> bytes:
    return hashlib.sha256(f"Bearer {api_key}".encode()).digest()


def key_matches(authorization: str, digest: bytes) -> bool:
    """Compared as digests of one length, so the time taken tells nothing of the key's length."""
    return hmac.compare_digest(hashlib.sha256(authorization.encode()).digest(), digest)


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        model: ServedModel,
        model_name: str,
        default_max_tokens: int,
        settings: ServeSettings,
        *,
        api_key: str | None = None,
        batch_window_s: float = 0.01,
        dtype: str = "",
    ):
        super().__init__(address, Handler)
        self.model = model
        self.model_name = model_name
        self.default_max_tokens = default_max_tokens
        self.settings = settings
        self.dtype = dtype
        self.key_digest = key_digest(api_key) if api_key else None
        self.metrics = ServeMetrics(model.batch_size)
        self.batcher = Batcher(model, batch_window_s, settings.max_prompt_tokens, self.metrics.step)
        self.connection_slots = threading.BoundedSemaphore(settings.max_connections)
        self.log_requests = False
        self.created = int(time.time())

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def process_request(self, request: Any, client_address: Any) -> None:
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

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connection_slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up or stalled is no news; anything else is one line, no traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return
        sys.stderr.write(f"taxon serve: {client_address[0]}: {type(error).__name__}: {error}\n")

    def server_close(self) -> None:
        super().server_close()
        self.batcher.close()


class DeadlineReader(io.RawIOBase):
    """A connection's reading side, which gives up at `deadline`: a client sending a byte now
    and then cannot keep a request open past it, as a plain socket timeout would let it."""

    def __init__(self, connection: socket.socket, stall_s: float):
        self.connection = connection
        self.stall_s = stall_s  # the socket's timeout again after each read: writes keep it
        self.deadline = float("inf")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the request was not sent in time")
        self.connection.settimeout(min(remaining, self.stall_s))
        try:
            return self.connection.recv_into(buffer)
        finally:
            self.connection.settimeout(self.stall_s)


Route = Callable[["Handler"], Reply | None]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: ModelServer

    @property
    def timeout(self) -> float:  # type: ignore[override]  # StreamRequestHandler sets it on the socket
        return self.server.settings.timeout_s

    def setup(self) -> None:
        super().setup()
        self.reader = DeadlineReader(self.connection, self.server.settings.timeout_s)
        self.rfile = io.BufferedReader(self.reader)
        self.status = 0

    def handle_one_request(self) -> None:
        self.reader.deadline = time.monotonic() + self.server.settings.request_timeout_s
        super().handle_one_request()

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log_requests:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    # -- routing ------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def do_PATCH(self) -> None:
        self._route("PATCH")

    def do_HEAD(self) -> None:
        self._route("HEAD")

    def _route(self, method: str) -> None:
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        methods = ROUTES.get(path)
        started = time.monotonic()
        try:
            if methods is None:
                self.close_connection = True  # an unread body may follow
                raise RequestError(404, f"no endpoint {path}; this server offers {', '.join(sorted(ROUTES))}")
            route = methods.get(method)
            if route is None:
                self.close_connection = True
                raise MethodNotAllowed(path, sorted(methods))
            self._authorize(path)
            reply = route(self)
            if reply is not None:  # a streamed reply has been written already
                self._reply(200, reply)
        except RequestError as error:
            self._reply(error.status, error.body(), error.headers() if isinstance(error, MethodNotAllowed) else {})
        except (ConnectionError, TimeoutError):  # the client left, or stalled
            self.close_connection = True
        except Exception as error:  # a failure inside the model: the client gets a 500, the server lives
            self._reply(500, RequestError(500, f"{type(error).__name__}: {error}").body())
        finally:
            self.server.metrics.answered(path if methods else "other", self.status, time.monotonic() - started)

    def _authorize(self, path: str) -> None:
        digest = self.server.key_digest
        if digest is None or path == "/health":
            return
        if not key_matches(self.headers.get("Authorization", ""), digest):
            self.close_connection = True  # an unread body may follow
            raise RequestError(401, "a valid API key is required: Authorization: Bearer <key>", code="invalid_api_key")

    def _reply(self, status: int, body: Reply | bytes, headers: dict[str, str] | None = None, kind: str = "") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.status = status
        self.send_response(status)
        self.send_header("Content-Type", kind or "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _read_json(self) -> Body:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            raise RequestError(411, "a Content-Length header is required")
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            raise RequestError(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        data = self.rfile.read(int(length))
        if len(data) < int(length):
            raise ConnectionError("the client left before sending its body")
        try:
            body = json.loads(data)
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

    # -- endpoints ----------------------------------------------------------------------------

    def models(self) -> Reply:
        model = {"id": self.server.model_name, "object": "model", "created": self.server.created, "owned_by": "taxon"}
        return {"object": "list", "data": [model]}

    def health(self) -> Reply:
        if not self.server.batcher.alive:
            raise RequestError(503, "the model thread has stopped")
        # batch_invariant: whether a greedy answer is the same whatever else is in the batch
        return {
            "status": "ok",
            "model": self.server.model_name,
            "dtype": self.server.dtype,
            "batch_invariant": self.server.dtype == "float32",
        }

    def metrics(self) -> None:
        self._reply(200, self.server.metrics.exposition(), kind=METRICS_CONTENT_TYPE)

    def chat(self) -> Reply | None:
        body = self._read_json()
        return self._generate(parse_ask(body, True, self.server.default_max_tokens, self.server.settings), CHAT)

    def completions(self) -> Reply | None:
        body = self._read_json()
        vocab = len(self.server.model.tokenizer)
        return self._generate(parse_ask(body, False, self.server.default_max_tokens, self.server.settings, vocab), TEXT)

    def loglikelihood(self) -> Reply:
        items = parse_scoring(self._read_json(), self.server.settings)
        scores = self.server.batcher.score(items).result() if items else []
        return {
            "object": "list",
            "model": self.server.model_name,
            "data": [{"index": i, "mean_logprob": score} for i, score in enumerate(scores)],
        }

    def tokenizer_info(self) -> Reply:
        tokenizer = self.server.model.tokenizer
        return {
            "eos_token": tokenizer.eos_token,
            "bos_token": tokenizer.bos_token,
            "pad_token": tokenizer.pad_token,
            "chat_template": tokenizer.chat_template,
            "model_max_length": self.server.settings.max_prompt_tokens,
        }

    def tokenize(self) -> Reply:
        body = self._read_json()
        prompt, special = body.get("prompt"), body.get("add_special_tokens", True)
        if not isinstance(prompt, str) or not isinstance(special, bool):
            raise RequestError(400, "tokenize needs a string prompt (and add_special_tokens true or false)", "prompt")
        if len(prompt) > self.server.settings.max_prompt_tokens * CHARS_PER_TOKEN_CAP:
            raise RequestError(
                400, f"the prompt is longer than {self.server.settings.max_prompt_tokens} tokens", "prompt"
            )
        tokens = self.server.model.tokenizer(prompt, add_special_tokens=special)["input_ids"]
        return {"tokens": tokens, "count": len(tokens), "max_model_len": self.server.settings.max_prompt_tokens}

    def detokenize(self) -> Reply:
        tokens = self._read_json().get("tokens")
        vocab = len(self.server.model.tokenizer)
        if (
            not isinstance(tokens, list)
            or len(tokens) > self.server.settings.max_prompt_tokens
            or not all(isinstance(t, int) and not isinstance(t, bool) and 0 <= t < vocab for t in tokens)
        ):
            raise RequestError(
                400, f"tokens must be at most {self.server.settings.max_prompt_tokens} ids below {vocab}", "tokens"
            )
        return {"prompt": self.server.model.tokenizer.decode(tokens)}

    # -- generation -----------------------------------------------------------------------------

    def _generate(self, ask: Ask, shape: Shape) -> Reply | None:
        reply_id = f"{shape.id_prefix}-{uuid.uuid4().hex}"
        if ask.stream:
            self._stream(ask, shape, reply_id)
            return None
        batcher = self.server.batcher
        echoes = [self._echo(choice) for choice in ask.choices] if ask.echo else [None] * len(ask.choices)
        futures = [batcher.chat(c) if c.request.max_tokens else None for c in ask.choices]
        completions = [_succeeded(f.result()) if f else _nothing(echo) for f, echo in zip(futures, echoes)]
        answer = usage(completions, ask.n)
        self.server.metrics.tokens(answer["prompt_tokens"], answer["completion_tokens"])
        return {
            "id": reply_id,
            "object": shape.object,
            "created": int(time.time()),
            "model": self.server.model_name,
            "choices": [shape.choice(i, c, e) for i, (c, e) in enumerate(zip(completions, echoes))],
            "usage": answer,
        }

    def _echo(self, choice: Choice) -> Echo:
        """The prompt to put before an echoed answer: its text, and (when logprobs were asked)
        each of its tokens' logprobs, computed on the model thread."""
        request, tokenizer = choice.request, self.server.model.tokenizer
        if request.logprobs is None:
            return Echo(
                tokenizer.decode(list(choice.prompt_ids)) if choice.prompt_ids else request.prompt or "", "", None
            )
        ids, logprobs = self.server.batcher.prompt_logprobs(choice).result()
        text = tokenizer.decode(ids) if choice.prompt_ids is not None else request.prompt or ""
        return Echo(text, tokenizer.decode(ids[:1]), logprobs)

    def _stream(self, ask: Ask, shape: Shape, reply_id: str) -> None:
        """Text arrives through each job's on_text as the backend produces it; whatever part of
        a finished answer was not streamed (a backend that can't stream, or one asked for
        logprobs, which go out token by token) follows when it finishes. An error before the
        first event is a plain error reply; after it, an error event ends the stream."""
        events: queue.Queue[tuple[int, str | None]] = queue.Queue()
        per_token = ask.choices[0].request.logprobs is not None
        futures: list[Future[Completion]] = []
        for i, choice in enumerate(ask.choices):

            def on_text(piece: str, i: int = i) -> None:
                events.put((i, piece))

            def on_done(_: Future[Completion], i: int = i) -> None:
                events.put((i, None))

            futures.append(self.server.batcher.chat(choice, None if per_token else on_text))
            futures[-1].add_done_callback(on_done)

        def begin() -> None:
            self.status = 200
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()

        writer = StreamWriter(
            begin, self.wfile, shape, reply_id, self.server.model_name, len(futures), ask.include_usage
        )
        started = time.monotonic()
        streamed = [""] * len(futures)
        completions: list[Completion | None] = [None] * len(futures)
        try:
            while any(c is None for c in completions):
                i, piece = events.get()
                if piece is not None:
                    if not any(streamed):
                        self.server.metrics.first_token.observe(time.monotonic() - started)
                    streamed[i] += piece
                    writer.text(i, piece)
                    continue
                completion = completions[i] = _succeeded(futures[i].result())
                for text, logprob in _rest(completion, streamed[i], per_token):
                    writer.text(i, text, logprob)
                writer.finish(i, completion.finish_reason)
        except (ConnectionError, TimeoutError):  # the client left: its rows stop generating
            self.close_connection = True
            for future in futures:
                self.server.batcher.cancel(future)
            return
        except Exception as error:
            if not writer.started:
                raise
            failure = (
                error if isinstance(error, RequestError) else RequestError(500, f"{type(error).__name__}: {error}")
            )
            writer.event(failure.body())
            writer.end()
            return
        done = [c for c in completions if c is not None]
        answer = usage(done, ask.n)
        self.server.metrics.tokens(answer["prompt_tokens"], answer["completion_tokens"])
        if ask.include_usage:
            writer.usage(answer)
        writer.end()


class MethodNotAllowed(RequestError):
    def __init__(self, path: str, allowed: list[str]):
        super().__init__(405, f"{path} takes {' or '.join(allowed)}")
        self.allowed = allowed

    def headers(self) -> dict[str, str]:
        return {"Allow": ", ".join(self.allowed)}


ROUTES: dict[str, dict[str, Route]] = {
    "/v1/models": {"GET": Handler.models},
    "/v1/chat/completions": {"POST": Handler.chat},
    "/v1/completions": {"POST": Handler.completions},
    "/v1/taxon/loglikelihood": {"POST": Handler.loglikelihood},
    "/health": {"GET": Handler.health},
    "/metrics": {"GET": Handler.metrics},
    "/tokenizer_info": {"GET": Handler.tokenizer_info},
    "/tokenize": {"POST": Handler.tokenize},
    "/detokenize": {"POST": Handler.detokenize},
}


def _succeeded(completion: Completion) -> Completion:
    if completion.finish_reason == "error":
        raise RequestError(500, completion.error or "generation failed")
    return completion


def _nothing(echo: Echo | None) -> Completion:
    """An echoed prompt with max_tokens 0: no answer after it."""
    prompt_tokens = 1 + len(echo.logprobs or ()) if echo else 0
    return Completion(
        "", "length", prompt_tokens=prompt_tokens, logprobs=() if echo and echo.logprobs is not None else None
    )


def _rest(completion: Completion, streamed: str, per_token: bool) -> list[tuple[str, TokenLogprob | None]]:
    """The pieces of a finished answer still to send: token by token with their logprobs, or
    the text after what was already streamed."""
    if per_token:
        return [(token.token, token) for token in completion.logprobs or ()]
    rest = completion.text[len(streamed) :] if completion.text.startswith(streamed) else ""
    return [(rest, None)] if rest else []


def make_server(
    model_path: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    settings: ServeSettings,
    model_name: str | None = None,
    batch_size: int = 8,
    threads: int = 0,
    batch_window_s: float = 0.01,
    max_new_tokens: int = 256,
    api_key: str | None = None,
    dtype: str = "auto",
) -> ModelServer:
    """A server over a local model, bound but not yet serving: call `serve_forever()`
    (in a thread in tests) and `shutdown()` + `server_close()` to stop it. Port 0 picks a free port."""
    from taxon.backends.transformers import TransformersTeacher

    teacher = TransformersTeacher(model_path, spec=model_name, batch_size=batch_size, threads=threads, dtype=dtype)
    computed = str(teacher.model.dtype).removeprefix("torch.")
    return ModelServer(
        (host, port),
        teacher,
        model_name or str(model_path),
        max_new_tokens,
        settings,
        api_key=api_key,
        batch_window_s=batch_window_s,
        dtype=computed,
    )
