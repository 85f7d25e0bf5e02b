"""The in-process vLLM teacher: batch generation on GPUs, for teachers too big for the CPU.
`tensor_parallel_size` spreads one model over several GPUs. vLLM is imported only here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from taxon.backends.base import ChatRequest, Completion, Messages
from taxon.backends.models import local_teacher_name
from taxon.core.errors import MissingExtra

FINISH_REASONS = {"stop": "stop", "length": "length"}  # anything else ("abort") is an error


def import_vllm() -> Any:
    try:
        import vllm
    except ImportError:
        raise MissingExtra("vllm", "gpu") from None
    return vllm


class VLLMTeacher:
    def __init__(
        self,
        model_path: str,
        spec: str | None = None,
        tensor_parallel_size: int = 1,
        seed: int = 0,
        gpu_memory_utilization: float = 0.9,
        dtype: str = "auto",
    ):
        vllm = import_vllm()
        self._vllm = vllm
        self.llm = vllm.LLM(
            model=model_path,
            tensor_parallel_size=int(tensor_parallel_size),
            seed=seed,
            gpu_memory_utilization=float(gpu_memory_utilization),
            dtype=dtype,  # vLLM's "auto": the config's dtype, float16 for a float32 model
        )
        self.tokenizer = self.llm.get_tokenizer()
        self.name = local_teacher_name("vllm", spec or model_path, model_path)

    def _sampling_params(self, request: ChatRequest) -> Any:
        return self._vllm.SamplingParams(
            n=1,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            seed=request.seed,
            stop=list(request.stop) or None,
        )

    def chat(
        self,
        requests: list[ChatRequest],
        progress: Callable[[int], None] | None = None,
        on_text: Callable[[int, str], None] | None = None,
    ) -> list[Completion]:
        """vLLM's offline engine doesn't stream: `on_text` gets each request's whole text."""
        if not requests:
            return []
        outputs = self.llm.chat(
            [list(r.messages) for r in requests],
            sampling_params=[self._sampling_params(r) for r in requests],
            use_tqdm=False,
        )
        completions = []
        for output in outputs:
            generated = output.outputs[0]
            finish = FINISH_REASONS.get(generated.finish_reason)
            completions.append(
                Completion(
                    text=generated.text,
                    finish_reason=finish or "error",
                    error=None if finish else f"finish_reason {generated.finish_reason!r}",
                    tokens=len(generated.token_ids),
                    prompt_tokens=len(output.prompt_token_ids or []),
                )
            )
        if on_text:
            for index, completion in enumerate(completions):
                on_text(index, completion.text)
        if progress:
            progress(len(completions))
        return completions

    def answer_loglikelihood(self, items: list[tuple[Messages, str]]) -> list[float]:
        """Mean log-probability of the answer tokens, from vLLM's prompt_logprobs over the
        chat-templated prompt followed by the answer (which always include the actual token)."""
        if not items:
            return []
        prompts, answer_lengths = [], []
        for messages, answer in items:
            prompt = self.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
            prompt_ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
            answer_ids = self.tokenizer(answer, add_special_tokens=False)["input_ids"] or [self.tokenizer.eos_token_id]
            prompts.append({"prompt_token_ids": prompt_ids + answer_ids})
            answer_lengths.append(len(answer_ids))
        scoring = self._vllm.SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=0.0)
        outputs = self.llm.generate(prompts, sampling_params=scoring, use_tqdm=False)
        scores = []
        for output, length in zip(outputs, answer_lengths):
            ids = output.prompt_token_ids[-length:]
            position_logprobs = output.prompt_logprobs[-length:]
            scores.append(sum(lp[token].logprob for lp, token in zip(position_logprobs, ids)) / length)
        return scores

    def close(self) -> None:
        """Free this engine's GPU memory, so that the next model can load (evaluate loads several)."""
        import gc

        import torch

        del self.llm
        gc.collect()
        torch.cuda.empty_cache()
