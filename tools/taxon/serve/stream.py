"""A streamed reply: server-sent events in OpenAI's chunk format over HTTP/1.1 chunked
transfer encoding, ending in `data: [DONE]`. The headers (and, for chat, each choice's role)
go out with the first event, so an error before it can still be a plain error reply."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Protocol

from taxon.backends.base import TokenLogprob
from taxon.serve.replies import Reply, Shape


class Output(Protocol):
    def write(self, data: bytes, /) -> object: ...

    def flush(self) -> object: ...


class StreamWriter:
    def __init__(
        self,
        begin: Callable[[], None],
        out: Output,
        shape: Shape,
        reply_id: str,
        model: str,
        choices: int,
        include_usage: bool,
    ):
        self.begin, self.out, self.shape, self.choices = begin, out, shape, choices
        self.include_usage = include_usage
        self.head = {"id": reply_id, "object": shape.chunk_object, "created": int(time.time()), "model": model}
        self.offsets = [0] * choices
        self.started = False

    def base(self, choices: list[Reply]) -> Reply:
        return self.head | {"choices": choices} | ({"usage": None} if self.include_usage else {})

    def _start(self) -> None:
        self.started = True
        self.begin()
        if self.shape.chat:
            role = {"delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
            for i in range(self.choices):
                self.event(self.base([{"index": i} | role]))

    def event(self, data: Reply | str) -> None:
        if not self.started:
            self._start()
        payload = data if isinstance(data, str) else json.dumps(data)
        self._write(f"data: {payload}\n\n".encode())

    def text(self, index: int, piece: str, logprob: TokenLogprob | None = None) -> None:
        self.event(self.base([self.shape.delta(index, piece, logprob, None, self.offsets[index])]))
        self.offsets[index] += len(piece)

    def finish(self, index: int, reason: str) -> None:
        self.event(self.base([self.shape.delta(index, None, None, reason, self.offsets[index])]))

    def usage(self, usage: Reply) -> None:
        self.event(self.base([]) | {"usage": usage})

    def end(self) -> None:
        self.event("[DONE]")
        self.out.write(b"0\r\n\r\n")
        self.out.flush()

    def _write(self, data: bytes) -> None:
        self.out.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.out.flush()
