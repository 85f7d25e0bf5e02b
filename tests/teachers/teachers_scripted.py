"""A small scripted OpenAI-compatible endpoint (stdlib only) for exact HTTP behaviours:
each chat request gets what `reply(body, call)` says; the probe's 1-token call always succeeds."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes | dict | None = None  # None: a normal completion echoing the last user message
    headers: dict = field(default_factory=dict)
    delay_s: float = 0.0


def completion_body(text: str, finish_reason: str = "stop") -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


class ScriptedEndpoint:
    def __init__(self, reply=None, models=("scripted",), chat_path="/v1/chat/completions", probe_ok=True):
        self.reply = reply or (lambda body, call: Reply())
        self.models = list(models)
        self.chat_path = chat_path
        self.probe_ok = probe_ok
        self.calls: list[dict] = []  # chat bodies, probe excluded
        self.arrivals: list[float] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.server.block_on_close = False
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _answer(self, path: str, body: dict | None) -> Reply:
        if path == "/v1/models":
            return Reply(body={"object": "list", "data": [{"id": m, "object": "model"} for m in self.models]})
        if path != self.chat_path or body is None:
            return Reply(404, {"error": {"message": "not found"}})
        if body.get("model") not in self.models:
            return Reply(404, {"error": {"message": "model not found"}})
        if body.get("max_tokens") == 1 and self.probe_ok:
            return Reply(body=completion_body("OK", "length"))
        with self.lock:
            call = len(self.calls)
            self.calls.append(body)
            self.arrivals.append(time.monotonic())
        return self.reply(body, call)

    def _handler(self):
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _serve(self, body):
                with endpoint.lock:
                    endpoint.in_flight += 1
                    endpoint.max_in_flight = max(endpoint.max_in_flight, endpoint.in_flight)
                try:
                    reply = endpoint._answer(self.path, body)
                    if reply.delay_s:
                        time.sleep(reply.delay_s)
                finally:
                    with endpoint.lock:
                        endpoint.in_flight -= 1
                payload = reply.body
                if payload is None:
                    payload = completion_body("echo: " + body["messages"][-1]["content"])
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(reply.status)
                    for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def do_GET(self):
                self._serve(None)

            def do_POST(self):
                self._serve(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))

        return Handler
