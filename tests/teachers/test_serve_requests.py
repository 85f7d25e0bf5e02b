"""serve.requests alone: bodies parsed into the backend's requests, without a model."""

import pytest

from taxon.core.settings import ServeSettings
from taxon.serve.requests import RequestError, parse_ask, parse_scoring

CAPS = ServeSettings()
USER = [{"role": "user", "content": "hi"}]


def test_chat_body_becomes_one_request_per_choice_with_its_own_seed():
    ask = parse_ask({"messages": USER, "n": 3, "seed": 5, "temperature": 0.5, "stop": "x"}, True, 16, CAPS)
    assert [c.request.seed for c in ask.choices] == [5, 6, 7] and ask.n == 3
    assert all(
        c.request.messages == ({"role": "user", "content": "hi"},) and c.request.stop == ("x",) for c in ask.choices
    )
    assert ask.choices[0].request.max_tokens == 16


def test_completions_take_strings_and_token_ids():
    ask = parse_ask({"prompt": [[1, 2, 3], "text"], "echo": True, "max_tokens": 0, "logprobs": 1}, False, 16, CAPS, 100)
    assert ask.echo and [c.prompt_ids for c in ask.choices] == [(1, 2, 3), None]
    assert ask.choices[1].request.prompt == "text" and ask.choices[0].request.max_tokens == 0
    for prompt in ([[1, 2, 100]], [[True]], [[]], [["a"]], 5):
        with pytest.raises(RequestError):
            parse_ask({"prompt": prompt}, False, 16, CAPS, 100)


@pytest.mark.parametrize(
    "extra, param",
    [
        ({"max_tokens": 0}, "max_tokens"),  # 0 only with echo
        ({"temperature": float("nan")}, "temperature"),
        ({"top_p": float("inf")}, "top_p"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"response_format": {"type": "xml"}}, "response_format"),
        ({"response_format": {"type": "json_schema", "json_schema": {"schema": "nope"}}}, "response_format"),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"schema": {"type": "object", "x": "y" * 70_000}},
                }
            },
            "response_format",
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "frobnicate"}}}},
            "response_format",
        ),
    ],
)
def test_what_is_refused(extra, param):
    with pytest.raises(RequestError) as raised:
        parse_ask({"messages": USER, **extra}, True, 16, CAPS)
    assert raised.value.status == 400 and raised.value.param == param


def test_response_formats_become_grammars():
    plain = parse_ask({"messages": USER, "response_format": {"type": "text"}}, True, 16, CAPS)
    assert plain.choices[0].request.grammar is None
    for spec in (
        {"type": "json_object"},
        {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "integer"}}},
    ):
        assert parse_ask({"messages": USER, "response_format": spec}, True, 16, CAPS).choices[0].request.grammar


def test_scoring_items_are_capped():
    item = {"messages": USER, "answer": "a"}
    assert parse_scoring({"items": [item] * CAPS.max_scored_items}, CAPS)
    with pytest.raises(RequestError):
        parse_scoring({"items": [item] * (CAPS.max_scored_items + 1)}, CAPS)
