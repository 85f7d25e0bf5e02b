"""Batched greedy answers of one model to many conversations: transformers (left-padded
batches, the model's own chat template) on CPU, vLLM on GPU. Answers are cached in the eval
folder by a hash of the model's files, the conversations and the generation settings, so a
killed evaluation resumes without regenerating what it finished."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from taxon.errors import MissingExtra, TaxonError
from taxon.store import atomic_write_json, hash_tree, hash_value

Conversation = list[dict]
Progress = Callable[[int], None]


def model_fingerprint(path: str) -> str:
    """The hash of a local model folder's top-level files (weights, config, tokenizer), or the hub id."""
    return hash_tree(Path(path), "*") if Path(path).is_dir() else path


def generate_answers(
    model_path: str, conversations: list[Conversation], settings: dict, max_new_tokens: int, progress: Progress
) -> list[str]:
    if not conversations:
        return []
    backend = settings.get("backend", "transformers")
    if backend == "transformers":
        return _transformers_answers(model_path, conversations, max_new_tokens, int(settings["batch_size"]), progress)
    if backend == "vllm":
        answers = _vllm_answers(model_path, conversations, max_new_tokens, settings)
        progress(len(answers))
        return answers
    raise TaxonError(f"unknown evaluate.backend '{backend}'", hint="use transformers or vllm")


def cached_answers(
    cache_dir: Path,
    model_path: str,
    conversations: list[Conversation],
    settings: dict,
    max_new_tokens: int,
    progress: Progress,
) -> list[str]:
    key = hash_value(
        {
            "model": model_fingerprint(model_path),
            "conversations": conversations,
            "backend": settings.get("backend", "transformers"),
            "max_new_tokens": max_new_tokens,
        }
    )
    path = Path(cache_dir) / f"{key}.json"
    if path.is_file():
        answers = [item["answer"] for item in json.loads(path.read_text(encoding="utf-8"))["items"]]
        progress(len(answers))
        return answers
    answers = generate_answers(model_path, conversations, settings, max_new_tokens, progress)
    items = [{"messages": conversation, "answer": answer} for conversation, answer in zip(conversations, answers)]
    atomic_write_json(path, {"model": model_path, "items": items})
    return answers


def _transformers_answers(
    model_path: str, conversations: list[Conversation], max_new_tokens: int, batch_size: int, progress: Progress
) -> list[str]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model_path)
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()
    except (OSError, ValueError) as error:
        raise TaxonError(f"cannot load the model: {error}", where=model_path, hint="check the model folder or id")
    if not tokenizer.chat_template:
        raise TaxonError("the model's tokenizer has no chat template", where=model_path)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    # Greedy decoding: sampling settings from the model's generation config would only warn.
    for name in ("temperature", "top_p", "top_k"):
        setattr(model.generation_config, name, None)
    texts = [tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in conversations]
    # Similar lengths in a batch: less padding to compute over.
    order = sorted(range(len(texts)), key=lambda index: len(texts[index]))
    answers = [""] * len(texts)
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        encoded = tokenizer([texts[i] for i in batch], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            output = model.generate(
                **encoded, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id
            )
        for index, row in zip(batch, output[:, encoded["input_ids"].shape[1] :]):
            answers[index] = tokenizer.decode(row, skip_special_tokens=True).strip()
        progress(len(batch))
    return answers


def _vllm_answers(model_path: str, conversations: list[Conversation], max_new_tokens: int, settings: dict) -> list[str]:
    try:
        from vllm import LLM, SamplingParams
    except ImportError:
        raise MissingExtra("vllm", "gpu") from None
    import gc

    llm = LLM(
        model=model_path,
        seed=int(settings.get("seed", 0)),
        gpu_memory_utilization=float(settings["vllm_gpu_memory_utilization"]),
    )
    outputs = llm.chat(conversations, SamplingParams(temperature=0.0, max_tokens=max_new_tokens), use_tqdm=False)
    answers = [output.outputs[0].text.strip() for output in outputs]
    # One engine at a time: free this model's GPU memory before the next model loads.
    del llm
    gc.collect()
    import torch

    torch.cuda.empty_cache()
    return answers
