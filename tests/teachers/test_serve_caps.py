"""`taxon serve`'s caps: tokens asked for, prompt length, seeds, a failing request alone in
its batch, stalled sockets, the connection cap and the optional API key."""

import contextlib
import socket
import threading

import httpx
import openai
import pytest

from support.served import serving
from taxon.cli import main
from taxon.serve.server import ModelServer

QUESTION = [{"role": "user", "content": "bird"}]


@pytest.fixture(scope="module")
def poisoned_teacher(sharp_model_dir):
    """The real model, which fails (as a model can) on any batch holding the word 'poison'."""
    from taxon.backends.transformers import TransformersTeacher

    teacher = TransformersTeacher(str(sharp_model_dir), batch_size=4)

    def fall_over(module, args, kwargs):
        if any("poison" in teacher.tokenizer.decode(row) for row in kwargs["input_ids"]):
            raise RuntimeError("the model fell over")

    teacher.model.register_forward_pre_hook(fall_over, with_kwargs=True)
    return teacher


@pytest.fixture
def start(poisoned_teacher):
    with contextlib.ExitStack() as servers:

        def start(window_s: float = 0.01, api_key: str | None = None, **caps) -> ModelServer:
            return servers.enter_context(serving(poisoned_teacher, window_s=window_s, api_key=api_key, **caps))

        yield start


def chat(server, messages=QUESTION, headers=None, **body):
    body = {"messages": messages, "max_tokens": 4, "temperature": 0, **body}
    return httpx.post(f"{server.url}/chat/completions", json=body, headers=headers, timeout=30)


def test_max_tokens_and_n_are_capped(start):
    server = start(max_tokens=16, max_n=2)
    assert chat(server, max_tokens=16).status_code == 200
    assert chat(server, max_tokens=10**9).json()["error"]["param"] == "max_tokens"
    assert chat(server, n=3).json()["error"]["param"] == "n"
    prompts = {"prompt": ["a", "b", "c"], "max_tokens": 2}
    assert httpx.post(f"{server.url}/completions", json=prompts, timeout=30).status_code == 400


def test_long_prompts_are_refused_before_and_after_tokenizing(start):
    server = start(max_prompt_tokens=24)
    assert chat(server).status_code == 200
    counted = chat(server, messages=[{"role": "user", "content": "bird " * 30}])  # 150 chars, over 24 tokens
    assert counted.status_code == 400 and "tokens" in counted.json()["error"]["message"]
    huge = chat(server, messages=[{"role": "user", "content": "x" * 1_000_000}])  # refused untokenized
    assert huge.status_code == 400 and huge.json()["error"]["param"] == "messages"


def test_one_failing_request_never_fails_its_batch(start):
    server = start(window_s=0.5)
    questions = ["bird", "poison", "1 2 3", "judge"]
    replies = {}

    def ask(question):
        replies[question] = chat(server, messages=[{"role": "user", "content": question}])

    threads = [threading.Thread(target=ask, args=(q,)) for q in questions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert replies["poison"].status_code == 500 and "fell over" in replies["poison"].json()["error"]["message"]
    for question in ("bird", "1 2 3", "judge"):
        alone = chat(server, messages=[{"role": "user", "content": question}]).json()
        assert replies[question].json()["choices"][0]["message"] == alone["choices"][0]["message"]


def test_a_stalled_client_is_dropped(start):
    server = start(timeout_s=0.5)
    with socket.create_connection(server.server_address[:2], timeout=30) as stalled:
        stalled.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        assert stalled.recv(1024) == b""  # the server closed it
    assert chat(server).status_code == 200


def test_connections_over_the_cap_get_a_503(start):
    server = start(max_connections=2)
    idle = [socket.create_connection(server.server_address[:2], timeout=30) for _ in range(2)]
    # both slots are held once the server has accepted them: a third connection is turned away
    refused = None
    for _ in range(200):
        reply = chat(server)
        if reply.status_code == 503:
            refused = reply
            break
    assert refused is not None and refused.headers["Retry-After"] == "1"
    for connection in idle:
        connection.close()
    for _ in range(200):
        if chat(server).status_code == 200:
            break
    else:
        pytest.fail("the slots were not given back when the idle connections closed")


def test_the_api_key(start):
    server = start(api_key="s3cret")
    assert chat(server).status_code == 401
    assert chat(server, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert chat(server, headers={"Authorization": "Bearer s3cret"}).status_code == 200
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server.url, api_key="wrong", max_retries=0).models.list()
    assert openai.OpenAI(base_url=server.url, api_key="s3cret").models.list().data[0].id == "tiny"


def test_the_caps_are_checked_positive(repo_root, capsys):
    for cap in ("max_n=0", "request_timeout_s=-1", "max_scored_items=0", "max_stop_chars=0"):
        assert main(["serve", "x", "--config", str(repo_root / "taxon.toml"), "--set", f"serve.{cap}"]) == 2
        assert f"serve.{cap.split('=')[0]} must be a positive number" in capsys.readouterr().err
