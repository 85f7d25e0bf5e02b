"""The openai backend over real HTTP: against `taxon serve` on the tiny model, and against a
scripted endpoint for retries, give-up, bad replies, timeouts and the concurrency limit."""

import pytest
from teachers_scripted import Reply, completion_body

from taxon.backends import make_teacher
from taxon.backends.base import ChatRequest
from taxon.core.errors import TaxonError
from taxon.core.settings import build_config


def openai_teacher(url, model="scripted", **params):
    settings = {"base_url": url, "retries": 2, "backoff_s": 0.001, "timeout_s": 5, "concurrency": 4, **params}
    return make_teacher(
        build_config({"generate": {"backend": "openai", "teacher": model}, "teacher": settings}, "test")
    )


def ask(text, **options):
    return ChatRequest(({"role": "user", "content": text},), **options)


# -- against taxon serve -------------------------------------------------------------------


def test_served_greedy_answers_match_the_local_backend(served, local_teacher):
    teacher = openai_teacher(served.url, model="tiny")
    requests = [ask(q, max_tokens=8, temperature=0.0) for q in ("What is the capital of France?", "1 2 3", "bird")]
    remote = teacher.chat(requests)
    local = local_teacher.chat(requests)
    assert [c.text for c in remote] == [c.text for c in local]
    assert [c.finish_reason for c in remote] == [c.finish_reason for c in local]
    assert all(c.tokens > 0 and c.prompt_tokens > 0 for c in remote)
    assert teacher.name == "openai:tiny"


def test_served_sampling_follows_the_seed(served):
    teacher = openai_teacher(served.url, model="tiny")
    requests = [ask("Rewrite the sentence politely.", max_tokens=10, temperature=1.0, seed=s) for s in (1, 1, 2)]
    first, again, other = (c.text for c in teacher.chat(requests))
    assert first == again != other


def test_served_loglikelihood_through_the_extension(served, local_teacher):
    teacher = openai_teacher(served.url, model="tiny")
    assert teacher.supports_loglikelihood
    items = [
        ([{"role": "user", "content": "Capital of France?"}], "Paris is the capital."),
        ([{"role": "user", "content": "Count"}], "1 2 3"),
    ]
    assert teacher.answer_loglikelihood(items) == pytest.approx(local_teacher.answer_loglikelihood(items), abs=1e-5)


def test_unknown_model_on_serve_is_a_clear_error(served):
    with pytest.raises(TaxonError, match="does not serve the model 'other'") as raised:
        openai_teacher(served.url, model="other")
    assert "tiny" in raised.value.hint


# -- against a scripted endpoint -----------------------------------------------------------


def test_429_is_retried_after_retry_after(scripted):
    busy = Reply(429, {"error": "slow down"}, {"Retry-After": "1"})
    endpoint = scripted(lambda body, call: busy if call == 0 else Reply())
    [completion] = openai_teacher(endpoint.url).chat([ask("hello")])
    assert completion.text == "echo: hello" and completion.finish_reason == "stop"
    assert len(endpoint.calls) == 2
    assert endpoint.arrivals[1] - endpoint.arrivals[0] >= 0.9  # waited as told, not the 1 ms backoff


def test_500s_until_give_up_raise_a_clear_error(scripted):
    endpoint = scripted(lambda body, call: Reply(500, {"error": "boom"}))
    teacher = openai_teacher(endpoint.url, retries=2)
    with pytest.raises(TaxonError, match="failed 3 times; last: HTTP 500") as raised:
        teacher.chat([ask("hello")])
    assert "rerun to resume" in raised.value.hint
    assert len(endpoint.calls) == 3


def test_endpoint_down_fails_the_probe_clearly():
    with pytest.raises(TaxonError, match="failed 2 times; last: ConnectError"):
        openai_teacher("http://127.0.0.1:9/v1", retries=1)


def test_not_a_chat_endpoint_fails_the_probe(scripted):
    endpoint = scripted(chat_path="/v1/completions")
    with pytest.raises(TaxonError, match="not a chat-completions endpoint"):
        openai_teacher(endpoint.url)


@pytest.mark.parametrize(
    "reply, error",
    [
        (Reply(body=b"{not json"), "malformed reply"),
        (Reply(body={"choices": []}), "no choices"),
        (
            Reply(body={"choices": [{"message": {"role": "assistant", "content": None, "refusal": "I can't"}}]}),
            "refused: I can't",
        ),
        (Reply(body=completion_body("bad", "content_filter")), "content_filter"),
        (Reply(400, {"error": {"message": "bad request"}}), "HTTP 400"),
    ],
)
def test_unusable_replies_become_error_completions(scripted, reply, error):
    endpoint = scripted(lambda body, call: reply if body["messages"][0]["content"] == "one" else Reply())
    first, second = openai_teacher(endpoint.url).chat([ask("one"), ask("two")])
    assert first.finish_reason == "error" and error in first.error
    assert second.finish_reason == "stop"


def test_slow_reply_times_out_as_an_error_completion(scripted):
    endpoint = scripted(lambda body, call: Reply(delay_s=3) if body["messages"][0]["content"] == "slow" else Reply())
    slow, fast = openai_teacher(endpoint.url, timeout_s=0.3, retries=1).chat([ask("slow"), ask("fast")])
    assert slow.finish_reason == "error" and "no reply within 0.3 s" in slow.error
    assert fast.text == "echo: fast"


def test_concurrency_never_exceeds_the_limit(scripted):
    endpoint = scripted(lambda body, call: Reply(delay_s=0.05))
    done = []
    teacher = openai_teacher(endpoint.url, concurrency=3)
    completions = teacher.chat([ask(str(i)) for i in range(15)], progress=done.append)
    assert [c.text for c in completions] == [f"echo: {i}" for i in range(15)]
    assert sum(done) == 15
    assert 1 < endpoint.max_in_flight <= 3


def test_request_carries_the_sampling_parameters_and_key(scripted, monkeypatch):
    monkeypatch.setenv("TEST_TEACHER_KEY", "sekret")
    endpoint = scripted()
    teacher = openai_teacher(endpoint.url, api_key_env="TEST_TEACHER_KEY")
    teacher.chat([ask("hi", max_tokens=7, temperature=0.2, top_p=0.5, seed=3, stop=("\n",))])
    body = endpoint.calls[0]
    assert body["max_tokens"] == 7 and body["temperature"] == 0.2 and body["top_p"] == 0.5
    assert body["seed"] == 3 and body["stop"] == ["\n"] and body["n"] == 1
    assert teacher.headers == {"Authorization": "Bearer sekret"}


def test_missing_key_variable_is_a_usage_error(scripted, monkeypatch):
    monkeypatch.delenv("TEST_TEACHER_KEY", raising=False)
    with pytest.raises(TaxonError, match="TEST_TEACHER_KEY"):
        openai_teacher(scripted().url, api_key_env="TEST_TEACHER_KEY")


def test_loglikelihood_is_none_without_the_extension(scripted):
    teacher = openai_teacher(scripted().url)
    assert teacher.answer_loglikelihood([([{"role": "user", "content": "q"}], "a")]) is None
