"""lm-evaluation-harness's API models (`local-chat-completions`, `local-completions`) against
`taxon serve`, offline, on a task file written in the test: the harness's generations must be
the server's own greedy answers, so exact_match is 1."""

import json

import openai
import pytest

lm_eval = pytest.importorskip("lm_eval")

QUESTIONS = ["What is the capital of France?", "bird", "1 2 3 4", "Rewrite the sentence politely."]
MAX_TOKENS = 8


def write_task(folder, name, targets):
    data = folder / f"{name}.jsonl"
    data.write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in zip(QUESTIONS, targets)))
    (folder / f"{name}.yaml").write_text(
        f"""task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{question}}}}"
doc_to_target: "{{{{answer}}}}"
generation_kwargs:
  until: ["\\n\\n"]
  max_gen_toks: {MAX_TOKENS}
  do_sample: false
  temperature: 0
metric_list:
  - metric: exact_match
"""
    )


@pytest.mark.parametrize("model", ["local-chat-completions", "local-completions"])
def test_lm_eval_scores_the_served_model(served, tmp_path, monkeypatch, model):
    from lm_eval.tasks import TaskManager

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "datasets"))
    client = openai.OpenAI(base_url=served.url, api_key="unused", max_retries=0)
    chat = model == "local-chat-completions"
    ask = dict(model="tiny", max_tokens=MAX_TOKENS, temperature=0, seed=1234, stop=["\n\n", "<|endoftext|>"])
    if chat:
        targets = [
            client.chat.completions.create(messages=[{"role": "user", "content": q}], **ask).choices[0].message.content
            for q in QUESTIONS
        ]
    else:
        targets = [client.completions.create(prompt=q, **ask).choices[0].text for q in QUESTIONS]
    name = f"taxon_{model.replace('-', '_')}"
    write_task(tmp_path, name, targets)
    endpoint = "chat/completions" if chat else "completions"
    results = lm_eval.simple_evaluate(
        model=model,
        model_args=f"model=tiny,base_url={served.url}/{endpoint},num_concurrent=2,max_retries=1,"
        "tokenizer_backend=none,tokenized_requests=False",
        tasks=[name],
        task_manager=TaskManager(include_path=str(tmp_path)),
        apply_chat_template=chat,
        log_samples=True,
    )
    responses = [sample["filtered_resps"][0] for sample in results["samples"][name]]
    assert sorted(responses) == sorted(targets)
    assert results["results"][name]["exact_match,none"] == 1.0


def write_choice_task(folder, name):
    rows = [
        {"question": "What is the capital of France?", "choices": ["Paris", "bird", "1 2 3"], "gold": 0},
        {"question": "Count: 1 2 3", "choices": ["4 5 6", "chickadee", "politely"], "gold": 0},
        {"question": "The black-capped chickadee is a", "choices": ["small bird", "capital", "number"], "gold": 0},
        {"question": "Rewrite the sentence", "choices": ["politely", "plus minus", "forests"], "gold": 0},
    ]
    data = folder / f"{name}.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    (folder / f"{name}.yaml").write_text(
        f"""task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{question}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: gold
metric_list:
  - metric: acc
  - metric: acc_norm
"""
    )


def test_lm_eval_multiple_choice_through_echo_matches_the_hf_model(served, sharp_model_dir, tmp_path, monkeypatch):
    """local-completions scores each choice from /v1/completions with echo and prompt logprobs,
    tokenizing through the server's /tokenize (vLLM's endpoints): its log-likelihoods are those
    of lm-eval's own `hf` model on the same folder, and so its acc."""
    from lm_eval.tasks import TaskManager

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "datasets"))
    write_choice_task(tmp_path, "taxon_choice")
    runs = {}
    for model, args in (
        ("local-completions", f"model=tiny,base_url={served.url}/completions,num_concurrent=2,max_retries=1"),
        ("hf", f"pretrained={sharp_model_dir},dtype=float32,device=cpu"),
    ):
        runs[model] = lm_eval.simple_evaluate(
            model=model,
            model_args=args,
            tasks=["taxon_choice"],
            task_manager=TaskManager(include_path=str(tmp_path)),
            log_samples=True,
        )
    served_run, local_run = runs["local-completions"], runs["hf"]
    for served_sample, local_sample in zip(
        sorted(served_run["samples"]["taxon_choice"], key=lambda s: s["doc_id"]),
        sorted(local_run["samples"]["taxon_choice"], key=lambda s: s["doc_id"]),
    ):
        served_scores = [score for score, _ in (r[0] for r in served_sample["resps"])]
        local_scores = [score for score, _ in (r[0] for r in local_sample["resps"])]
        assert served_scores == pytest.approx(local_scores, abs=1e-3), (
            served_sample["arguments"],
            served_scores,
            local_scores,
        )
    for metric in ("acc,none", "acc_norm,none"):
        assert served_run["results"]["taxon_choice"][metric] == local_run["results"]["taxon_choice"][metric]


def test_echo_with_prompt_logprobs_through_the_openai_client(served):
    client = openai.OpenAI(base_url=served.url, api_key="unused", max_retries=0)
    prompt = "The black-capped chickadee is a small bird"
    reply = client.completions.create(model="tiny", prompt=prompt, max_tokens=2, echo=True, logprobs=2, temperature=0)
    choice = reply.choices[0]
    plain = client.completions.create(model="tiny", prompt=prompt, max_tokens=2, temperature=0).choices[0]
    assert choice.text == prompt + plain.text
    tokens = choice.logprobs.tokens
    assert "".join(tokens) == choice.text and choice.logprobs.token_logprobs[0] is None
    assert choice.logprobs.top_logprobs[0] is None and all(
        1 <= len(top) <= 2 for top in choice.logprobs.top_logprobs[1:]
    )  # keyed by text: alike tokens are one key
    assert all(lp <= 0 for lp in choice.logprobs.token_logprobs[1:])
    scored = client.completions.create(model="tiny", prompt=prompt, max_tokens=0, echo=True, logprobs=0)
    assert scored.choices[0].text == prompt
    assert scored.choices[0].logprobs.token_logprobs[1:] == pytest.approx(
        choice.logprobs.token_logprobs[1 : len(tokens) - 2], abs=1e-4
    )
