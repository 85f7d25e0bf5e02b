"""`taxon serve` at the HTTP level: the OpenAI shapes, and JSON errors with proper statuses."""

import threading

import httpx
import pytest


def post(server, path, body=None, **kwargs):
    return httpx.post(f"{server.url}/{path}", json=body, timeout=30, **kwargs)


def test_models_lists_the_served_model(served):
    listing = httpx.get(f"{served.url}/models").json()
    assert [m["id"] for m in listing["data"]] == ["tiny"]


def test_chat_completion_shape(served):
    body = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "temperature": 0}
    reply = post(served, "chat/completions", body).json()
    choice = reply["choices"][0]
    assert reply["object"] == "chat.completion" and reply["model"] == "tiny"
    assert choice["message"]["role"] == "assistant" and isinstance(choice["message"]["content"], str)
    assert choice["finish_reason"] in ("stop", "length")
    usage = reply["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["completion_tokens"] <= 4


def test_requests_arriving_together_each_get_their_own_answer(served):
    def ask(question, into):
        body = {"messages": [{"role": "user", "content": question}], "max_tokens": 6, "temperature": 0}
        into[question] = post(served, "chat/completions", body).json()["choices"][0]["message"]["content"]

    questions = ["bird", "1 2 3", "What is the capital of France?", "judge"]
    together, alone = {}, {}
    threads = [threading.Thread(target=ask, args=(q, together)) for q in questions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for question in questions:
        ask(question, alone)
    assert together == alone


@pytest.mark.parametrize(
    "body, status, param",
    [
        ({"messages": []}, 400, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, 400, "messages"),
        ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, 400, "max_tokens"),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": 9}, 400, "temperature"),
        ({"messages": [{"role": "user", "content": "x"}], "n": 99}, 400, "n"),
        ({"messages": [{"role": "user", "content": "x"}], "stream": "yes"}, 400, "stream"),
        ({"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2}, 400, "top_logprobs"),
        ({"messages": [{"role": "user", "content": "x"}], "seed": -1}, 400, "seed"),
        ({"messages": [{"role": "user", "content": "x"}], "seed": 2**64}, 400, "seed"),
        ({"messages": [{"role": "user", "content": "x"}], "stop": [1]}, 400, "stop"),
        ({"model": "other", "messages": [{"role": "user", "content": "x"}]}, 404, "model"),
    ],
)
def test_bad_requests_get_json_errors(served, body, status, param):
    reply = post(served, "chat/completions", body)
    assert reply.status_code == status
    assert reply.json()["error"]["param"] == param


def test_not_json_unknown_path_and_method(served):
    reply = httpx.post(f"{served.url}/chat/completions", content=b"{oops", timeout=30)
    assert reply.status_code == 400 and "JSON" in reply.json()["error"]["message"]
    assert post(served, "embeddings", {"input": "x"}).status_code == 404
    assert post(served, "completions", {"prompt": "x", "suffix": "y"}).status_code == 400


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("GET", "/v1/chat/completions", "POST"),
        ("GET", "/v1/completions/", "POST"),
        ("PUT", "/v1/taxon/loglikelihood", "POST"),
        ("POST", "/v1/models", "GET"),
        ("DELETE", "/v1/models", "GET"),
        ("PATCH", "/health", "GET"),
        ("HEAD", "/tokenize", "POST"),
        ("GET", "/v1/completions?x=1", "POST"),
    ],
)
def test_a_wrong_method_is_a_405_naming_the_right_one(served, method, path, allowed):
    origin = served.url.removesuffix("/v1")
    reply = httpx.request(method, origin + path, timeout=30)
    assert reply.status_code == 405 and reply.headers["Allow"] == allowed
    if method != "HEAD":
        assert allowed in reply.json()["error"]["message"]


def test_loglikelihood_extension(served, local_teacher):
    items = [{"messages": [{"role": "user", "content": "Capital?"}], "answer": "Paris"}]
    reply = post(served, "taxon/loglikelihood", {"items": items}).json()
    expected = local_teacher.answer_loglikelihood([(items[0]["messages"], "Paris")])
    assert reply["data"][0]["mean_logprob"] == pytest.approx(expected[0], abs=1e-5)
    assert post(served, "taxon/loglikelihood", {"items": [{"messages": []}]}).status_code == 400
