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
