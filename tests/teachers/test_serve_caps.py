"""`taxon serve`'s caps: tokens asked for, prompt length, seeds, a failing request alone in
its batch, stalled sockets, the connection cap and the optional API key."""

import contextlib
import socket
import threading
import time

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


# -- issue 28.3: every endpoint capped, and variants of each attack -------------------------


def score(server, items):
    return httpx.post(f"{server.url}/taxon/loglikelihood", json={"items": items}, timeout=60)


def item(content="Capital?", answer="Paris", messages=None):
    return {"messages": messages or [{"role": "user", "content": content}], "answer": answer}


@pytest.mark.parametrize(
    "items",
    [
        [item()] * 9,  # more items than the cap
        [item()] * 1000,
        [item(answer="Paris " * 20_000)],  # a long answer, refused before tokenizing
        [item(content="bird " * 40_000)],  # a long question
        [item(messages=[{"role": "user", "content": "bird " * 2_000}] * 20)],  # long only in sum
        [item(), item(answer="bird " * 30)],  # over the token cap only once tokenized
        [item(messages=[{"role": "user", "content": "x"}] * 10, answer="judge " * 10)],
    ],
)
def test_scoring_is_capped_in_items_and_tokens(start, items):
    server = start(max_scored_items=8, max_prompt_tokens=24)
    reply = score(server, items)
    assert reply.status_code == 400 and reply.json()["error"]["param"].startswith("items")
    assert score(server, [item()] * 8).status_code == 200


def test_a_refused_scoring_request_leaves_a_concurrent_chat_alone(start):
    server = start(max_prompt_tokens=64)
    replies = {}
    threads = [
        threading.Thread(target=lambda: replies.setdefault("big", score(server, [item(answer="x" * 6_000_000)]))),
        threading.Thread(target=lambda: replies.setdefault("chat", chat(server))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert replies["big"].status_code in (400, 413) and replies["chat"].status_code == 200


@pytest.mark.parametrize(
    "stop",
    [
        "Z" * 250_000,
        ["Z" * 250_000] * 4,
        ["a", "b", "Z" * 257],
        ["a", "b", "c", "d", "e"],  # more stop strings than allowed
        [""],
        ["ok", 3],
    ],
)
def test_stop_strings_are_capped(start, stop):
    server = start(max_stop_chars=256)
    for path, body in (("chat/completions", {"messages": QUESTION}), ("completions", {"prompt": "bird"})):
        reply = httpx.post(f"{server.url}/{path}", json={**body, "stop": stop, "max_tokens": 4}, timeout=30)
        assert reply.status_code == 400 and reply.json()["error"]["param"] == "stop"


def test_the_longest_allowed_stop_strings_still_stream(start):
    server = start(max_stop_chars=256)
    stops = ["Z" * 255 + "Y", "Q" * 256, "bird" * 64, "\u00e9" * 256]
    streamed = "".join(
        c.choices[0].delta.content or ""
        for c in openai.OpenAI(base_url=server.url, api_key="x").chat.completions.create(
            model="tiny", messages=QUESTION, max_tokens=12, temperature=0, stop=stops, stream=True
        )
        if c.choices
    )
    assert streamed == chat(server, max_tokens=12, stop=stops).json()["choices"][0]["message"]["content"]


@pytest.mark.parametrize("temperature", [1e-300, 5e-324, 1e-45, 1e-38, 1e-7])
def test_a_tiny_temperature_is_greedy_and_fails_no_one(start, temperature):
    """Three victims (two streaming) in the same batch as the tiny temperature: all answered."""
    server = start(window_s=0.3)
    client = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0)
    replies = {}

    def victim(name, stream):
        ask = dict(model="tiny", messages=[{"role": "user", "content": name}], max_tokens=6, temperature=1.0, seed=1)
        if stream:
            replies[name] = "".join(
                c.choices[0].delta.content or ""
                for c in client.chat.completions.create(**ask, stream=True)
                if c.choices
            )
        else:
            replies[name] = client.chat.completions.create(**ask).choices[0].message.content

    def tiny():
        replies["tiny"] = chat(server, temperature=temperature, max_tokens=6)

    threads = [
        threading.Thread(target=victim, args=(q, s)) for q, s in (("bird", True), ("1 2 3", True), ("judge", False))
    ]
    threads.append(threading.Thread(target=tiny))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert replies["tiny"].status_code == 200
    greedy = chat(server, temperature=0, max_tokens=6).json()["choices"][0]["message"]["content"]
    assert replies["tiny"].json()["choices"][0]["message"]["content"] == greedy
    assert all(isinstance(replies[name], str) for name in ("bird", "1 2 3", "judge"))


def slow_sockets(server, count):
    """Sockets that hold a connection slot with a request that never completes: one sends its
    request line a byte at a time, one a whole head and then its body a byte at a time, one
    nothing at all, ..."""
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 400\r\n\r\n"
    plans = [b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n", head + b"{" * 400, b""]
    sockets = []
    for index in range(count):
        connection = socket.create_connection(server.server_address[:2], timeout=30)
        plan = plans[index % len(plans)]
        if plan.startswith(b"POST"):
            connection.sendall(head)  # the head at once, then the body drips
            plan = plan[len(head) :]
        sockets.append((connection, plan))
    return sockets


def test_slow_sockets_cannot_hold_every_slot(start):
    server = start(max_connections=3, request_timeout_s=1.0)
    sockets = slow_sockets(server, 3)
    dropped = set()
    deadline = time.monotonic() + 20
    while len(dropped) < len(sockets) and time.monotonic() < deadline:
        for index, (connection, plan) in enumerate(sockets):
            if index in dropped:
                continue
            try:
                if plan:
                    connection.sendall(plan[:1])
                    sockets[index] = (connection, plan[1:])
                connection.settimeout(0.05)
                if connection.recv(1024) == b"":
                    dropped.add(index)
            except (TimeoutError, BlockingIOError):
                pass
            except OSError:  # reset: dropped too
                dropped.add(index)
        time.sleep(0.1)
    assert dropped == {0, 1, 2}
    for _ in range(50):
        if httpx.get(f"{server.url}/models", timeout=30).status_code == 200:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the slots were not given back")
    for connection, _ in sockets:
        connection.close()


def test_a_slow_socket_does_not_cut_a_prompt_client(start):
    server = start(request_timeout_s=1.0)
    with httpx.Client(timeout=30) as client:  # one keep-alive connection, idle between requests
        for _ in range(3):
            assert client.get(f"{server.url}/models").status_code == 200
            time.sleep(0.3)


@pytest.mark.parametrize("given", ["", "s", "s3cre", "s3cret" * 100, "Bearer s3cre", "Bearer s3cretX"])
def test_the_key_is_compared_as_digests_of_one_length(monkeypatch, given):
    """hmac.compare_digest returns early on inputs of different lengths: the key's length
    would show in the time taken. The server compares 32-byte digests, whatever was sent."""
    import hmac

    from taxon.serve.server import key_digest, key_matches

    compared = []
    real = hmac.compare_digest

    def recording(a, b):
        compared.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    assert not key_matches(given, key_digest("s3cret"))
    assert key_matches("Bearer s3cret", key_digest("s3cret"))
    assert compared == [(32, 32), (32, 32)]
