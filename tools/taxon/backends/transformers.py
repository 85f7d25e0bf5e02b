"""The in-process transformers teacher: batched generation on CPU (or one GPU), the CPU default.

Requests are sorted by prompt length and generated `batch_size` at a time with left padding.
Sampling is done by a logits processor that draws each row from its own torch.Generator
seeded by that request's seed, so a request's output does not depend on which batch it
landed in, and temperature, top_p, max_tokens and stop strings are all per request.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from taxon.backends import local_teacher_name
from taxon.backends.base import ChatRequest, Completion, Messages, TokenLogprob
from taxon.core.errors import TaxonError


def load_model(model_path: str, threads: int = 0):
    """(tokenizer, model) ready for batched left-padded generation."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if threads:
        torch.set_num_threads(threads)
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_path)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).to(device).eval()
    except (OSError, ValueError) as error:
        raise TaxonError(f"cannot load the model: {error}", where=model_path, hint="check the model folder or id")
    if not tokenizer.chat_template:
        raise TaxonError("the model's tokenizer has no chat template", where=model_path)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, model


TOP_K = 256


class _RowSampler:
    """A logits processor that picks each row's next token itself (argmax at temperature 0,
    else top-p sampling from the row's generator) and leaves only that token possible, so
    the greedy search around it just follows. For rows that asked for logprobs it records
    each chosen token's log-probability and the row's likeliest tokens from the raw scores."""

    def __init__(self, requests: list[ChatRequest]):
        import torch

        self.logprob_rows = [(row, r.logprobs) for row, r in enumerate(requests) if r.logprobs is not None]
        self.logprobs: list[list[tuple[int, float, list[tuple[int, float]]]]] = [[] for _ in requests]

        self.temperatures = torch.tensor([max(r.temperature, 0.0) for r in requests]).unsqueeze(1)
        self.top_ps = torch.tensor([r.top_p for r in requests]).unsqueeze(1)
        self.generators = [
            torch.Generator().manual_seed(r.seed if r.seed is not None else random.getrandbits(63)) for r in requests
        ]

    def __call__(self, input_ids, scores):
        import torch

        scores = scores.float().cpu()
        chosen = scores.argmax(dim=-1)
        sampled_rows = (self.temperatures.squeeze(1) > 0).nonzero().flatten().tolist()
        if sampled_rows:
            probs = torch.softmax(scores / self.temperatures.clamp(min=1e-5), dim=-1)
            # top-p within the TOP_K likeliest tokens: a full sort of the vocabulary per row and
            # step cost a quarter of generation time, and the nucleus is far smaller than TOP_K.
            sorted_probs, order = probs.topk(min(TOP_K, probs.shape[-1]), dim=-1)
            outside_top_p = sorted_probs.cumsum(dim=-1) - sorted_probs > self.top_ps
            sorted_probs[outside_top_p] = 0.0
            for row in sampled_rows:
                pick = torch.multinomial(sorted_probs[row], 1, generator=self.generators[row])
                chosen[row] = order[row, pick]
        if self.logprob_rows:
            self._record(scores, chosen)
        forced = torch.full_like(scores, float("-inf"))
        forced[torch.arange(len(chosen)), chosen] = 0.0
        return forced.to(input_ids.device)

    def _record(self, scores, chosen) -> None:
        import torch

        rows = [row for row, _ in self.logprob_rows]
        logprobs = torch.log_softmax(scores[rows], dim=-1)
        most = max(k for _, k in self.logprob_rows)
        top_values, top_ids = logprobs.topk(most, dim=-1) if most else (None, None)
        for i, (row, k) in enumerate(self.logprob_rows):
            token = int(chosen[row])
            top = [(int(t), float(v)) for t, v in zip(top_ids[i, :k], top_values[i, :k])] if k else []
            self.logprobs[row].append((token, float(logprobs[i, token]), top))


class _RowLimits:
    """Stopping criteria per row: its own max_tokens and stop strings. Records where each row
    stopped, since generate pads the rest of a finished row."""

    def __init__(self, requests: list[ChatRequest], prompt_length: int, tokenizer):
        self.requests = requests
        self.prompt_length = prompt_length
        self.tokenizer = tokenizer
        self.stopped_at: list[int | None] = [None] * len(requests)

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        generated = input_ids.shape[1] - self.prompt_length
        done = []
        for row, request in enumerate(self.requests):
            stop = generated >= request.max_tokens or self._hit_stop(input_ids[row], request, generated)
            if stop and self.stopped_at[row] is None:
                self.stopped_at[row] = generated
            done.append(stop)
        return torch.tensor(done, device=input_ids.device)

    def _hit_stop(self, ids, request: ChatRequest, generated: int) -> bool:
        if not request.stop:
            return False
        # A stop string of n characters spans at most 4n byte-level tokens.
        window = min(generated, 4 * max(len(s) for s in request.stop) + 4)
        tail = self.tokenizer.decode(ids[len(ids) - window :], skip_special_tokens=True)
        return any(s in tail for s in request.stop)


class TransformersTeacher:
    def __init__(self, model_path: str, spec: str | None = None, batch_size: int = 8, threads: int = 0):
        self.tokenizer, self.model = load_model(model_path, threads)
        self.batch_size = max(1, int(batch_size))
        self.name = local_teacher_name("transformers", spec or model_path, model_path)
        generation = self.model.generation_config
        eos = generation.eos_token_id if generation.eos_token_id is not None else []
        self.eos_ids = sorted({*(eos if isinstance(eos, list) else [eos]), self.tokenizer.eos_token_id})

    def prompt_ids(self, messages: Messages) -> list[int]:
        text = self.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def request_ids(self, request: ChatRequest) -> list[int]:
        """The prompt's token ids: a raw completion prompt as is, else the chat-templated messages."""
        if request.prompt is not None:
            return self.tokenizer(request.prompt)["input_ids"]
        return self.prompt_ids(request.messages)

    def chat(
        self,
        requests: list[ChatRequest],
        progress: Callable[[int], None] | None = None,
        on_text: Callable[[int, str], None] | None = None,
    ) -> list[Completion]:
        prompts = [self.request_ids(r) for r in requests]
        results: list[Completion | None] = [None] * len(requests)
        for batch in _length_sorted_batches(prompts, self.batch_size):
            completions = self._generate([requests[i] for i in batch], [prompts[i] for i in batch])
            for index, completion in zip(batch, completions):
                results[index] = completion
                if on_text:  # a batch's texts arrive whole when it ends
                    on_text(index, completion.text)
            if progress:
                progress(len(batch))
        return results

    def _generate(self, requests: list[ChatRequest], prompts: list[list[int]]) -> list[Completion]:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

        inputs = self.tokenizer.pad({"input_ids": prompts}, padding=True, return_tensors="pt").to(self.model.device)
        prompt_length = inputs["input_ids"].shape[1]
        limits = _RowLimits(requests, prompt_length, self.tokenizer)
        sampler = _RowSampler(requests)
        config = GenerationConfig(
            max_new_tokens=max(r.max_tokens for r in requests),
            do_sample=False,
            eos_token_id=self.eos_ids,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        with torch.inference_mode():
            output = self.model.generate(
                **inputs,
                generation_config=config,
                logits_processor=LogitsProcessorList([sampler]),
                stopping_criteria=StoppingCriteriaList([limits]),
            )
        completions = []
        for row, request in enumerate(requests):
            ids = output[row, prompt_length:].tolist()[: limits.stopped_at[row] or None]
            completions.append(self._completion(request, ids, len(prompts[row]), sampler.logprobs[row]))
        return completions

    def _completion(self, request: ChatRequest, ids: list[int], prompt_tokens: int, logprobs=()) -> Completion:
        ended = next((i for i, token in enumerate(ids) if token in self.eos_ids), None)
        if ended is not None:
            ids = ids[: ended + 1]
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        cuts = [text.index(s) for s in request.stop if s in text]
        if cuts:
            text = text[: min(cuts)]
        finish = "stop" if ended is not None or cuts or len(ids) < request.max_tokens else "length"
        token_logprobs = None
        if request.logprobs is not None:
            kept = self._tokens_in(ids, text) if cuts else len(ids)
            token_logprobs = tuple(self._token_logprob(step) for step in logprobs[:kept])
        return Completion(
            text=text, finish_reason=finish, tokens=len(ids), prompt_tokens=prompt_tokens, logprobs=token_logprobs
        )

    def _tokens_in(self, ids: list[int], text: str) -> int:
        """How many of the generated tokens it takes to spell `text` (the answer cut at a stop string)."""
        for count in range(len(ids) + 1):
            if len(self.tokenizer.decode(ids[:count], skip_special_tokens=True)) >= len(text):
                return count
        return len(ids)

    def _token_logprob(self, step: tuple[int, float, list[tuple[int, float]]]) -> TokenLogprob:
        token, logprob, top = step
        decode = self.tokenizer.decode
        return TokenLogprob(decode([token]), logprob, tuple((decode([t]), value) for t, value in top))

    def answer_loglikelihood(self, items: list[tuple[Messages, str]]) -> list[float]:
        """Mean log-probability of the answer's tokens after the chat-templated messages and
        the assistant prefix. Left padding puts every answer at the end of its row, so only
        the last positions' logits are computed."""
        import torch

        pairs = [(self.prompt_ids(messages), self._answer_ids(answer)) for messages, answer in items]
        sequences = [prompt + answer for prompt, answer in pairs]
        results: list[float] = [float("nan")] * len(items)
        for batch in _length_sorted_batches(sequences, self.batch_size):
            inputs = self.tokenizer.pad(
                {"input_ids": [sequences[i] for i in batch]}, padding=True, return_tensors="pt"
            ).to(self.model.device)
            mask = inputs["attention_mask"]
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            longest_answer = max(len(pairs[i][1]) for i in batch)
            with torch.inference_mode():
                logits = self.model(**inputs, position_ids=positions, logits_to_keep=longest_answer + 1).logits
            logprobs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
            targets = inputs["input_ids"][:, -longest_answer:]
            token_logprobs = logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
            for row, index in enumerate(batch):
                length = len(pairs[index][1])
                results[index] = token_logprobs[row, longest_answer - length :].mean().item()
        return results

    def _answer_ids(self, answer: str) -> list[int]:
        ids = self.tokenizer(answer, add_special_tokens=False)["input_ids"]
        return ids or [self.tokenizer.eos_token_id]  # an empty answer: score the end of turn


def _length_sorted_batches(sequences: list[list[int]], batch_size: int) -> list[list[int]]:
    """Indices of the sequences grouped into batches of similar length (least padding)."""
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
