"""The transformers backend on the tiny model: continuous batching, prefix reuse and the dtype
change nothing but speed."""

import pytest

from taxon.backends import make_teacher
from taxon.backends.base import ChatRequest
from taxon.core.errors import UsageError
from taxon.core.settings import build_config

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


@pytest.fixture(scope="module")
def bf16_teacher(sharp_model_dir):
    from taxon.backends.transformers import TransformersTeacher

    return TransformersTeacher(str(sharp_model_dir), batch_size=4, dtype="bfloat16")


def test_batched_greedy_equals_one_at_a_time(local_teacher):
    greedy = requests(max_tokens=10, temperature=0.0)
    batched = local_teacher.chat(greedy)
    assert batched == one_at_a_time(local_teacher, greedy)
    assert len({c.text for c in batched}) > 1  # the model really answers differently


def test_bfloat16_greedy_continuous_batching_equals_one_at_a_time(bf16_teacher):
    import torch

    assert bf16_teacher.model.dtype == torch.bfloat16
    greedy = [
        ChatRequest(r.messages, max_tokens=3 + 2 * i, temperature=0.0) for i, r in enumerate(requests() * 2)
    ]  # 12 requests through 4 rows: rows retire at different steps and the next ones join
    batched = bf16_teacher.chat(greedy)
    assert batched == one_at_a_time(bf16_teacher, greedy)
    assert len({c.text for c in batched}) > 1


def test_a_request_added_mid_batch_answers_as_if_alone(local_teacher):
    """Requests join a running batch between decode steps, with a shorter or longer prompt
    than the rows already there, and answer exactly as they would alone."""
    late = requests(max_tokens=8, temperature=1.0, top_p=0.9, seed=11)
    early = requests(max_tokens=12, temperature=0.0)[:2]
    done = {}
    loop = local_teacher.decode_loop()
    for index, request in enumerate(early):
        loop.add(request, lambda completion, index=index: done.__setitem__(("early", index), completion))
    for _ in range(3):
        assert loop.step()
    for index, request in enumerate(late[:3]):
        loop.add(request, lambda completion, index=index: done.__setitem__(("late", index), completion))
    assert loop.step() and len(loop.rows) == 4 and len(loop.waiting) == 1  # batch_size 4: one waits
    while loop.step():
        pass
    assert [done["early", i] for i in range(2)] == one_at_a_time(local_teacher, early)
    assert [done["late", i] for i in range(3)] == one_at_a_time(local_teacher, late[:3])
    assert not loop.busy and loop.cache is None


def test_text_streams_in_pieces_that_join_to_the_completion(local_teacher):
    whole = local_teacher.chat(requests(max_tokens=12, temperature=0.0)[:1])[0]
    stop = whole.text[5:7]
    asked = requests(max_tokens=12, temperature=0.0) + [
        ChatRequest(({"role": "user", "content": QUESTIONS[0]},), max_tokens=12, temperature=0.0, stop=(stop,))
    ]
    pieces: dict[int, list[str]] = {}
    completions = local_teacher.chat(asked, on_text=lambda index, piece: pieces.setdefault(index, []).append(piece))
    for index, completion in enumerate(completions):
        assert "".join(pieces[index]) == completion.text
    assert completions[-1].text == whole.text[: whole.text.index(stop)] and len(pieces[0]) > 1


def test_logprobs_of_the_tokens_kept(local_teacher):
    [plain, scored] = local_teacher.chat(
        [
            ChatRequest(({"role": "user", "content": "bird"},), max_tokens=6, temperature=0.0, logprobs=k)
            for k in (None, 3)
        ]
    )
    assert plain.logprobs is None and scored.text == plain.text
    assert "".join(t.token for t in scored.logprobs) == scored.text
    for token in scored.logprobs:
        assert len(token.top) == 3 and token.top[0] == (token.token, token.logprob) and token.logprob <= 0


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


CONTEXT = "A skill turns five seed examples into many training samples. " * 3


@pytest.mark.parametrize("shared_context", [False, True])
def test_loglikelihood_matches_a_direct_computation(local_teacher, shared_context):
    """Scores from prefix trees (a shared context, a question with several answers, answers
    beginning alike, each computed once) equal the plain pass over each whole sequence."""
    import torch

    from taxon.backends.transformers import common_prefix_length

    context = CONTEXT if shared_context else ""
    items = [([{"role": "user", "content": context + q}], "Paris is the capital of France.") for q in QUESTIONS]
    items.append(([{"role": "user", "content": context + "Count"}], "1 2"))
    items += [(items[0][0], "Paris is the capital of Italy."), (items[0][0], "")]
    scores = local_teacher.answer_loglikelihood(items)
    tokenizer, model = local_teacher.tokenizer, local_teacher.model
    prompts = [local_teacher.prompt_ids(messages) for messages, _ in items]
    assert (common_prefix_length(prompts) > len(CONTEXT) // 10) == shared_context
    for (messages, answer), score in zip(items, scores):
        prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"] or [tokenizer.eos_token_id]
        with torch.no_grad():
            logits = model(torch.tensor([prompt_ids + answer_ids])).logits[0]
        logprobs = torch.log_softmax(logits, dim=-1)
        expected = sum(logprobs[len(prompt_ids) + i - 1, token].item() for i, token in enumerate(answer_ids))
        assert score == pytest.approx(expected / len(answer_ids), abs=1e-4)


def test_bfloat16_loglikelihood_with_a_shared_prefix_is_close_to_float32(local_teacher, bf16_teacher):
    items = [([{"role": "user", "content": CONTEXT + q}], "Paris is the capital of France.") for q in QUESTIONS]
    for exact, rounded in zip(local_teacher.answer_loglikelihood(items), bf16_teacher.answer_loglikelihood(items)):
        assert rounded == pytest.approx(exact, abs=0.1, rel=0.02)


def test_prefix_trees_hold_each_shared_prefix_once_and_fill_rows_up_to_their_capacity():
    import torch

    from taxon.backends.transformers import prefix_tree_rows

    sequences = [[1, 2, 3, 4], [1, 2, 5], [1, 2, 3, 6], [1, 2, 3, 4], [7, 8], [1, 9, 9, 9, 9, 9]]
    first, second = prefix_tree_rows(sequences, capacity=8)
    assert first.items == [0, 3, 2, 1]  # sorted: [1,2,3,4] twice, [1,2,3,6], [1,2,5]
    assert first.tokens == [1, 2, 3, 4, 6, 5] and first.depths == [0, 1, 2, 3, 3, 2]
    assert first.paths[0] == first.paths[3] == [0, 1, 2, 3] and first.paths[2] == [0, 1, 2, 4]
    assert first.ends == [6, 6, 5, 4, 5, 6]  # a node's span: itself and what grows from it
    visible = first.mask(torch.float32)[0, 0] == 0
    assert visible[4].tolist() == [True, True, True, False, True, False]  # 6 sees 1 2 3 and itself, not 4
    assert second.items == [5, 4] and second.tokens == [1, 9, 9, 9, 9, 9, 7, 8]  # the next one overflowed
    assert prefix_tree_rows([[1] * 20], capacity=8)[0].tokens == [1] * 20  # a longer sequence alone


def test_dtype_is_float32_where_asked_and_checked(sharp_model_dir):
    import torch

    from taxon.backends.transformers import TransformersTeacher, native_cpu_bfloat16, torch_dtype

    assert TransformersTeacher(str(sharp_model_dir), dtype="float32").model.dtype == torch.float32
    assert torch_dtype("auto", str(sharp_model_dir), "cpu") == (
        torch.bfloat16 if native_cpu_bfloat16() else torch.float32
    )
    with pytest.raises(UsageError, match="unknown dtype 'half'"):
        torch_dtype("half", str(sharp_model_dir), "cpu")


def test_factory_builds_a_named_transformers_teacher(sharp_model_dir):
    config = {
        "generate": {"backend": "transformers", "teacher": str(sharp_model_dir)},
        "teacher": {"batch_size": 2, "threads": 1},
    }
    teacher = make_teacher(build_config(config, "test"))
    assert teacher.batch_size == 2
    assert teacher.name.startswith(f"transformers:{sharp_model_dir}@") and len(teacher.name.rsplit("@", 1)[1]) == 12
