"""`taxon serve` driven by the official `openai` client: streaming with usage, n choices,
/v1/completions, logprobs, stop strings and seeds, each against the same server."""

import openai
import pytest

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def client(served):
    return openai.OpenAI(base_url=served.url, api_key="unused", max_retries=0)


def test_a_stream_adds_up_to_the_plain_answer(client):
    plain = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=8, temperature=0)
    chunks = list(
        client.chat.completions.create(
            model="tiny",
            messages=MESSAGES,
            max_tokens=8,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [plain.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage == plain.usage
    assert all(c.usage is None for c in chunks[:-1])


def test_n_choices_with_a_seed_differ_and_repeat(client):
    def ask():
        reply = client.chat.completions.create(
            model="tiny", messages=MESSAGES, max_tokens=8, temperature=1.5, n=3, seed=7
        )
        return [choice.message.content for choice in sorted(reply.choices, key=lambda c: c.index)], reply.usage

    first, usage = ask()
    assert ask()[0] == first and len(set(first)) > 1
    assert usage.completion_tokens <= 3 * 8 and usage.prompt_tokens > 0


def test_streamed_choices_each_add_up(client):
    stream = client.chat.completions.create(
        model="tiny", messages=MESSAGES, max_tokens=6, temperature=1.5, n=2, seed=3, stream=True
    )
    texts = {0: "", 1: ""}
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
    plain = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=6, temperature=1.5, n=2, seed=3)
    assert texts == {c.index: c.message.content for c in plain.choices}


def test_chat_logprobs_match_the_tokens(client):
    reply = client.chat.completions.create(
        model="tiny", messages=MESSAGES, max_tokens=5, temperature=0, logprobs=True, top_logprobs=3
    )
    choice = reply.choices[0]
    tokens = choice.logprobs.content
    assert "".join(t.token for t in tokens) == choice.message.content
    for token in tokens:
        assert len(token.top_logprobs) == 3 and token.logprob <= 0
        # greedy: the chosen token is the likeliest one
        assert token.top_logprobs[0].token == token.token
        assert token.top_logprobs[0].logprob == pytest.approx(token.logprob)


def test_streamed_logprobs_come_token_by_token(client):
    chunks = list(
        client.chat.completions.create(
            model="tiny", messages=MESSAGES, max_tokens=5, temperature=0, logprobs=True, top_logprobs=1, stream=True
        )
    )
    pieces = [c.choices[0] for c in chunks if c.choices and c.choices[0].delta.content]
    assert pieces and all(len(p.logprobs.content) == 1 for p in pieces)
    assert all(p.logprobs.content[0].token == p.delta.content for p in pieces)


def test_text_completions_plain_streamed_and_with_logprobs(client):
    prompts = ["The black-capped chickadee is", "1 2 3 4"]
    reply = client.completions.create(model="tiny", prompt=prompts, max_tokens=6, temperature=0, logprobs=2)
    assert reply.object == "text_completion" and [c.index for c in reply.choices] == [0, 1]
    for choice in reply.choices:
        assert "".join(choice.logprobs.tokens) == choice.text
        assert choice.logprobs.text_offset[0] == 0 and all(len(top) == 2 for top in choice.logprobs.top_logprobs)
    streamed = "".join(
        c.choices[0].text
        for c in client.completions.create(model="tiny", prompt=prompts[0], max_tokens=6, temperature=0, stream=True)
        if c.choices
    )
    assert streamed == reply.choices[0].text


def test_stop_cuts_the_answer_before_the_stop_string(client):
    whole = client.completions.create(model="tiny", prompt="1 2 3", max_tokens=12, temperature=0).choices[0]
    assert len(whole.text) > 2
    stop = whole.text[2:4]
    cut = client.completions.create(model="tiny", prompt="1 2 3", max_tokens=12, temperature=0, stop=[stop])
    choice = cut.choices[0]
    assert choice.text == whole.text[: whole.text.index(stop)] and choice.finish_reason == "stop"


def test_seed_repeats_a_sampled_answer(client):
    def sample(seed):
        return (
            client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=10, temperature=1.5, seed=seed)
            .choices[0]
            .message.content
        )

    assert sample(11) == sample(11)
    assert len({sample(seed) for seed in range(4)}) > 1


def test_errors_reach_the_client_as_openai_errors(client):
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=10**9)
    assert "max_tokens" in str(raised.value)
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="gpt-4", prompt="x")
