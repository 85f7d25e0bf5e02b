"""serve.stream alone: the SSE writer's bytes, chunked, into a buffer."""

import io
import json

from taxon.backends.base import TokenLogprob
from taxon.serve.replies import CHAT, TEXT
from taxon.serve.stream import StreamWriter


def events(raw: bytes) -> list:
    """The data lines of a chunked SSE body."""
    body, rest = b"", raw
    while rest:
        size, rest = rest.split(b"\r\n", 1)
        length = int(size, 16)
        body, rest = body + rest[:length], rest[length + 2 :]
        if not length:
            break
    lines = [line.removeprefix("data: ") for line in body.decode().split("\n\n") if line]
    return [line if line == "[DONE]" else json.loads(line) for line in lines]


def test_chat_stream_starts_with_roles_and_ends_done():
    out, begun = io.BytesIO(), []
    writer = StreamWriter(lambda: begun.append(True), out, CHAT, "id-1", "tiny", 2, include_usage=True)
    assert not writer.started
    writer.text(1, "Hel")
    writer.text(1, "lo")
    writer.finish(1, "stop")
    writer.usage({"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3})
    writer.end()
    sent = events(out.getvalue())
    assert begun == [True] and sent[-1] == "[DONE]" and out.getvalue().endswith(b"0\r\n\r\n")
    assert [e["choices"][0]["delta"] for e in sent[:2]] == [{"role": "assistant", "content": ""}] * 2
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in sent[2:4]) == "Hello"
    assert sent[4]["choices"][0]["finish_reason"] == "stop" and sent[4]["usage"] is None
    assert sent[5]["choices"] == [] and sent[5]["usage"]["total_tokens"] == 3


def test_text_stream_offsets_and_logprobs():
    out = io.BytesIO()
    writer = StreamWriter(lambda: None, out, TEXT, "id-2", "tiny", 1, include_usage=False)
    writer.text(0, "ab", TokenLogprob("ab", -0.5, (("ab", -0.5),)))
    writer.text(0, "c", TokenLogprob("c", -1.0, (("d", -0.1),)))
    writer.end()
    first, second, done = events(out.getvalue())
    assert first["choices"][0]["logprobs"]["text_offset"] == [0] and second["choices"][0]["logprobs"][
        "text_offset"
    ] == [2]
    assert (
        second["choices"][0]["logprobs"]["top_logprobs"] == [{"d": -0.1}] and "usage" not in first and done == "[DONE]"
    )
