"""The transformers backend on the tiny model: batching changes nothing but speed."""

import pytest

from taxon.backends import make_teacher
from taxon.backends.base import ChatRequest

QUESTIONS = [
    "What is the capital of France?",
    "hi",
    "A skill turns five seed examples into many training samples. Rewrite it politely.",
    "1 2 3",
    "bird",
    "judge the score",
]


def requests(**options):
    return [ChatRequest(({"role": "user", "content": q},), **options) for q in QUESTIONS]


def one_at_a_time(teacher, items, method="chat"):
    return [getattr(teacher, method)([item])[0] for item in items]


def test_batched_greedy_equals_one_at_a_time(local_teacher):
    greedy = requests(max_tokens=10, temperature=0.0)
    batched = local_teacher.chat(greedy)
    assert batched == one_at_a_time(local_teacher, greedy)
    assert len({c.text for c in batched}) > 1  # the model really answers differently


def test_seeded_sampling_does_not_depend_on_the_batch(local_teacher):
    sampled = requests(max_tokens=10, temperature=1.0, top_p=0.9, seed=5)
    batched = local_teacher.chat(sampled)
    assert batched == one_at_a_time(local_teacher, sampled)
    assert batched == local_teacher.chat(sampled[::-1])[::-1]


def test_max_tokens_and_stop_strings_per_request(local_teacher):
    first_question = requests(max_tokens=12, temperature=0.0)[:1] + requests(max_tokens=3, temperature=0.0)[:1]
    [long, short] = local_teacher.chat(first_question)
    assert long.finish_reason == "length" and long.tokens == 12
    assert short.finish_reason == "length" and short.tokens == 3 and long.text.startswith(short.text)
    stop = long.text[4:6]
    [stopped] = local_teacher.chat(
        [ChatRequest(({"role": "user", "content": QUESTIONS[0]},), max_tokens=12, temperature=0.0, stop=(stop,))]
    )
    assert stopped.finish_reason == "stop" and stopped.text == long.text[: long.text.index(stop)]


def test_progress_counts_every_request(local_teacher):
    done = []
    local_teacher.chat(requests(max_tokens=2, temperature=0.0), progress=done.append)
    assert sum(done) == len(QUESTIONS)


def test_loglikelihood_matches_a_direct_computation(local_teacher):
    import torch

    items = [([{"role": "user", "content": q}], "Paris is the capital of France.") for q in QUESTIONS]
    items.append(([{"role": "user", "content": "Count"}], "1 2"))
    scores = local_teacher.answer_loglikelihood(items)
    tokenizer, model = local_teacher.tokenizer, local_teacher.model
    for (messages, answer), score in zip(items, scores):
        prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = model(torch.tensor([prompt_ids + answer_ids])).logits[0]
        logprobs = torch.log_softmax(logits, dim=-1)
        expected = sum(logprobs[len(prompt_ids) + i - 1, token].item() for i, token in enumerate(answer_ids))
        assert score == pytest.approx(expected / len(answer_ids), abs=1e-4)


def test_factory_builds_a_named_transformers_teacher(sharp_model_dir):
    config = {
        "generate": {"backend": "transformers", "teacher": str(sharp_model_dir)},
        "teacher": {"batch_size": 2, "threads": 1},
    }
    teacher = make_teacher(config)
    assert teacher.batch_size == 2
    assert teacher.name.startswith(f"transformers:{sharp_model_dir}@") and len(teacher.name.rsplit("@", 1)[1]) == 12
