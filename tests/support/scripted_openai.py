"""A small OpenAI-compatible chat-completions server in a thread, replying as the scripted
teacher does, so the pipelines run through real HTTP where exact text matters."""

from __future__ import annotations

import json
import threading
import time
from http.server import ThreadingHTTPServer

from support.json_http import JSONHandler
from support.scripted_teacher import ScriptedTeacher
from taxon.backends.base import ChatRequest


class ScriptedServer:
    def __init__(self, latency_s: float = 0.0, loglikelihood: bool = True):
        self.teacher = ScriptedTeacher(loglikelihood=loglikelihood)
        self.latency_s = latency_s
        self.chat_requests = 0
        self.lock = threading.Lock()
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}/v1"

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.http.shutdown()
        self.http.server_close()

    def _handler(self):
        server = self

        class Handler(JSONHandler):
            def do_GET(self):
                if self.path == "/v1/models":
                    return self._reply(200, {"object": "list", "data": [{"id": "scripted"}]})
                self._reply(404, {"error": "not found"})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path == "/v1/chat/completions":
                    time.sleep(server.latency_s)
                    with server.lock:
                        server.chat_requests += 1
                    request = ChatRequest(messages=tuple(body["messages"]), max_tokens=body.get("max_tokens", 16))
                    completion = server.teacher.reply(request)
                    return self._reply(
                        200,
                        {
                            "choices": [
                                {
                                    "index": 0,
                                    "finish_reason": completion.finish_reason
                                    if completion.finish_reason != "error"
                                    else "stop",
                                    "message": {"role": "assistant", "content": completion.text},
                                }
                            ],
                            "usage": {"completion_tokens": len(completion.text.split()), "prompt_tokens": 1},
                        },
                    )
                if self.path == "/v1/taxon/loglikelihood" and server.teacher.supports_loglikelihood:
                    items = [(item["messages"], item["answer"]) for item in body["items"]]
                    scores = server.teacher.answer_loglikelihood(items) if items else []
                    return self._reply(200, {"data": [{"index": i, "mean_logprob": s} for i, s in enumerate(scores)]})
                self._reply(404, {"error": "not found"})

        return Handler
