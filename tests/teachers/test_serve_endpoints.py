"""`taxon serve`'s operational side: /health, Prometheus /metrics, a client that hangs up,
JSON mode held by constrained decoding, tools refused, and the commands from a bare folder."""

import json
import os
import socket
import subprocess
import sys
import time

import httpx
import jsonschema
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.paths import REPO

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def client(served):
    return openai.OpenAI(base_url=served.url, api_key="unused", max_retries=0)


def origin(server):
    return server.url.removesuffix("/v1")


def test_health(served):
    reply = httpx.get(f"{origin(served)}/health", timeout=30)
    assert reply.status_code == 200 and reply.json()["status"] == "ok"
    assert reply.json()["batch_invariant"] is True  # the fixture computes in float32


def test_metrics_count_requests_tokens_batches_and_latency(served, client):
    def samples():
        text = httpx.get(f"{origin(served)}/metrics", timeout=30).text
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
        }

    before = samples()
    reply = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=5, temperature=0)
    list(client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=5, temperature=0, stream=True))
    after = samples()

    def grew(name, labels=()):
        return after.get((name, labels), 0) - before.get((name, labels), 0)

    assert grew("taxon_serve_requests_total", (("endpoint", "/v1/chat/completions"), ("status", "200"))) == 2
    assert grew("taxon_serve_completion_tokens_total") == 2 * reply.usage.completion_tokens
    assert grew("taxon_serve_prompt_tokens_total") == 2 * reply.usage.prompt_tokens
    assert grew("taxon_serve_batch_occupancy_count") >= reply.usage.completion_tokens
    assert grew("taxon_serve_request_seconds_count", (("endpoint", "/v1/chat/completions"),)) == 2
    assert grew("taxon_serve_time_to_first_token_seconds_count") == 1


def test_a_client_that_hangs_up_leaves_no_traceback(served, capfd):
    body = json.dumps({"model": "tiny", "messages": MESSAGES, "max_tokens": 40, "stream": True}).encode()
    for stream in (True, False):
        data = body if stream else body.replace(b'"stream": true', b'"stream": false')
        for _ in range(3):
            with socket.create_connection(served.server_address[:2], timeout=30) as connection:
                connection.sendall(
                    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(data)}\r\n\r\n".encode()
                    + data
                )
                if stream:
                    connection.recv(64)  # the first bytes of the stream, then gone
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        with socket.create_connection(served.server_address[:2], timeout=30) as connection:  # half a body
            connection.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 99\r\n\r\n{")
    time.sleep(1.5)
    assert httpx.get(f"{served.url}/models", timeout=30).status_code == 200
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize(
    "schema",
    [
        {
            "type": "object",
            "properties": {"name": {"type": "string", "maxLength": 12}, "age": {"type": "integer", "maximum": 150}},
            "required": ["name", "age"],
            "additionalProperties": False,
        },
        {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 3},
        {
            "type": "object",
            "properties": {"ok": {"type": "boolean"}},
            "required": ["ok"],
            "additionalProperties": False,
        },
        {"enum": ["yes", "no"]},
    ],
)
def test_json_schema_is_held_by_constrained_decoding(client, schema):
    """The tiny model's own answers are noise; every one is valid against the schema (bounded
    strings and numbers, or noise would run to max_tokens inside one)."""
    for seed in range(3):
        reply = client.chat.completions.create(
            model="tiny",
            messages=MESSAGES,
            max_tokens=200,
            temperature=1.0,
            seed=seed,
            response_format={"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}},
        )
        choice = reply.choices[0]
        assert choice.finish_reason == "stop", choice.message.content
        jsonschema.validate(json.loads(choice.message.content), schema)


def test_json_object_is_a_json_object_whole_or_cut(client, served):
    """Any JSON object: the noisy model's keys are unbounded strings, so some answers run to
    max_tokens inside one; those that end are objects, and a cut one is an object's start."""
    plain = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=8, temperature=0).choices[0]
    with pytest.raises(ValueError):
        json.loads(plain.message.content)  # unconstrained, the tiny model writes no JSON
    ended = []
    for seed in range(5):
        ask = dict(model="tiny", messages=MESSAGES, max_tokens=60, temperature=1.0, seed=seed)
        choice = client.chat.completions.create(**ask, response_format={"type": "json_object"}).choices[0]
        streamed = "".join(
            c.choices[0].delta.content or ""
            for c in client.chat.completions.create(**ask, response_format={"type": "json_object"}, stream=True)
            if c.choices
        )
        assert streamed == choice.message.content and choice.message.content.startswith("{")
        if choice.finish_reason == "stop":
            ended.append(json.loads(choice.message.content))
    assert ended and all(isinstance(answer, dict) for answer in ended)
    reply = httpx.post(
        f"{served.url}/completions",
        json={"prompt": "1 2 3", "max_tokens": 60, "seed": 0, "response_format": {"type": "json_object"}},
        timeout=60,
    ).json()
    assert reply["choices"][0]["text"].startswith("{")


def test_tools_are_refused_not_ignored(client):
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object", "properties": {}}}}]
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="tiny", messages=MESSAGES, tools=tools)
    assert "tool" in str(raised.value)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model="tiny",
            messages=MESSAGES,
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "nonsense"}}},
        )


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_and_chat_from_a_folder_without_taxon_toml(sharp_model_dir, tmp_path):
    """Built-in defaults: no taxon.toml here or above (a tmp folder), none given."""
    taxon = [sys.executable, "-m", "taxon"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "tools")}
    answered = subprocess.run(
        [*taxon, "chat", str(sharp_model_dir), "--prompt", "bird", "--max-tokens", "4", "--temperature", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert answered.returncode == 0 and answered.stdout.strip(), answered.stderr
    port = free_port()
    server = subprocess.Popen(
        [*taxon, "serve", str(sharp_model_dir), "--port", str(port), "--threads", "1", "--dtype", "float32"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(600):
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read()
                time.sleep(0.1)
        assert health.json()["dtype"] == "float32"
        models = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x").models.list()
        assert models.data[0].id == str(sharp_model_dir)
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert not (tmp_path / "taxon.toml").exists()


def test_a_stream_whose_client_left_stops_generating(served, client):
    def steps():
        text = httpx.get(f"{origin(served)}/metrics", timeout=30).text
        found = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
        return found["taxon_serve_batch_occupancy_count"], found["taxon_serve_running_rows"]

    ask = {"model": "tiny", "messages": MESSAGES, "max_tokens": 600, "temperature": 0}
    whole = client.chat.completions.create(**ask).usage.completion_tokens
    assert whole == 600  # greedy, the tiny model repeats itself to the end
    before, _ = steps()
    data = json.dumps(ask | {"stream": True}).encode()
    with socket.create_connection(served.server_address[:2], timeout=30) as connection:
        connection.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
            + f"Content-Length: {len(data)}\r\n\r\n".encode()
            + data
        )
        connection.recv(256)
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # a reset
    for _ in range(600):
        taken, running = steps()
        if running == 0 and taken > before:
            break
        time.sleep(0.05)
    assert taken - before < whole / 2
