"""The in-process transformers teacher: continuous batching on CPU (or one GPU), the CPU default.

Up to `batch_size` requests decode together, one token per step. A row that finishes leaves
the batch at once and the next waiting request takes its place between two steps: its prompt is
prefilled alone, its KV cache padded on the left to the batch's length and stacked onto the
batch's. Every row's tokens stay contiguous at the right end of its cache row, and positions
are passed explicitly, so padding changes nothing but the work skipped. Each row samples from
its own torch.Generator seeded by its request, with its own temperature, top_p, max_tokens and
stop strings, so a request's output does not depend on the rows it ran beside: exactly in
float32; in bfloat16 a batch's kernels can round differently from one row's, so a sampled token
may now and then differ (the tests' greedy answers match).

The model runs in bfloat16 where the hardware computes it natively, else float32, unless
`dtype` says otherwise (see `torch_dtype`).
"""

from __future__ import annotations

import contextlib
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from taxon.backends.allocator import keep_freed_memory
from taxon.backends.base import ChatRequest, Completion, Messages, TokenLogprob
from taxon.backends.models import is_gguf_file, local_teacher_name, quiet_transformers
from taxon.backends.stops import StopMatcher
from taxon.core.errors import TaxonError, UsageError

DTYPES = ("auto", "bfloat16", "float16", "float32")
TOP_K = 256  # top-p sampling looks within the TOP_K likeliest tokens (a full sort per step is slow)
SCORING_ROW_TOKENS = 1024  # tokens of one packed prefix tree of scored sequences
PROMPT_CHUNK_TOKENS = 256  # a prompt scored token by token goes through the model this many at a time
# Below this a temperature samples greedily, its limit (vLLM's floor too): dividing by 1e-300
# in float32 is a division by zero, and the NaN probabilities failed every row of the batch.
MIN_TEMPERATURE = 1e-5


def torch_dtype(setting: str, model_path: str, device: str) -> Any:
    """The dtype a model runs inference in. "auto": on a GPU the model's own 16-bit dtype from
    its config (else bfloat16); on a CPU bfloat16 where it computes bfloat16 natively
    (AVX512-BF16 or AMX), else float32: on an AVX2-only CPU bfloat16 matrix products are
    emulated, 3-7x slower than float32 (measured here on 2 EPYC cores)."""
    import torch

    if setting not in DTYPES:
        raise UsageError(f"unknown dtype '{setting}'", hint=f"set teacher.dtype to one of: {', '.join(DTYPES)}")
    if setting != "auto":
        return getattr(torch, setting)
    if device != "cuda":
        return torch.bfloat16 if native_cpu_bfloat16() else torch.float32
    if is_gguf_file(model_path):
        return torch.bfloat16
    from transformers import AutoConfig

    try:
        configured = AutoConfig.from_pretrained(model_path).dtype
    except (OSError, ValueError) as error:
        raise TaxonError(f"cannot read the model's config: {error}", where=model_path, hint="check the model folder")
    return torch.float16 if configured in (torch.float16, "float16") else torch.bfloat16


def native_cpu_bfloat16() -> bool:
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, check, lambda: False)() for check in checks)


def load_model(model_path: str, threads: int = 0, dtype: str = "auto") -> tuple[Any, Any]:
    """(tokenizer, model) ready for left-padded batches."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if threads:
        torch.set_num_threads(threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        keep_freed_memory()
    chosen = torch_dtype(dtype, model_path, device)
    folder, gguf = model_path, {}
    if is_gguf_file(model_path):  # its weights dequantised; its tokenizer and chat template as the file has them
        folder, gguf = str(Path(model_path).parent), {"gguf_file": Path(model_path).name}
    try:
        with quiet_transformers() if gguf else contextlib.nullcontext():
            tokenizer = AutoTokenizer.from_pretrained(folder, **gguf)
            model = AutoModelForCausalLM.from_pretrained(folder, dtype=chosen, **gguf).to(device).eval()
    except (OSError, ValueError) as error:
        raise TaxonError(f"cannot load the model: {error}", where=model_path, hint="check the model folder or id")
    if not tokenizer.chat_template:
        raise TaxonError("the model's tokenizer has no chat template", where=model_path)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, model


class TransformersTeacher:
    def __init__(
        self, model_path: str, spec: str | None = None, batch_size: int = 8, threads: int = 0, dtype: str = "auto"
    ):
        self.tokenizer, self.model = load_model(model_path, threads, dtype)
        self.batch_size = max(1, int(batch_size))
        self.name = local_teacher_name("transformers", spec or model_path, model_path)
        generation = self.model.generation_config
        eos = generation.eos_token_id if generation.eos_token_id is not None else []
        self.eos_ids = frozenset({*(eos if isinstance(eos, list) else [eos]), self.tokenizer.eos_token_id})
        self._grammar_tokenizer: Any = None

    def grammar_tokenizer(self) -> Any:
        """The tokenizer as llguidance sees it, for requests with a grammar (built once, ~1 s)."""
        if self._grammar_tokenizer is None:
            import llguidance.hf

            self._grammar_tokenizer = llguidance.hf.from_tokenizer(
                self.tokenizer, n_vocab=self.model.get_output_embeddings().weight.shape[0]
            )
        return self._grammar_tokenizer

    def prompt_ids(self, messages: Messages) -> list[int]:
        text = self.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
        ids: list[int] = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids

    def request_ids(self, request: ChatRequest) -> list[int]:
        """A chat request's templated messages, or a completion request's raw prompt."""
        if request.prompt is not None:
            ids: list[int] = self.tokenizer(request.prompt)["input_ids"] or [self.tokenizer.eos_token_id]
            return ids
        return self.prompt_ids(list(request.messages))

    def decode_loop(self) -> DecodeLoop:
        return DecodeLoop(self)

    def chat(
        self,
        requests: list[ChatRequest],
        progress: Callable[[int], None] | None = None,
        on_text: Callable[[int, str], None] | None = None,
    ) -> list[Completion]:
        """One completion per request, continuously batched. `on_text(index, piece)` gets each
        request's text as it grows; its pieces joined are the completion's text."""
        results: list[Completion | None] = [None] * len(requests)

        def finished(index: int, completion: Completion) -> None:
            results[index] = completion
            if progress:
                progress(1)

        loop = self.decode_loop()
        prompts = [self.request_ids(r) for r in requests]
        for index in sorted(range(len(requests)), key=lambda i: len(prompts[i])):  # less padding per prefill
            loop.add(
                requests[index],
                partial(finished, index),
                partial(on_text, index) if on_text else None,
                prompt=prompts[index],
            )
        while loop.step():
            pass
        return [result for result in results if result is not None]  # every request finishes

    def completion(
        self, request: ChatRequest, ids: list[int], prompt_tokens: int, logprobs: list[TokenLogprob] | None = None
    ) -> Completion:
        """The completion of generated `ids`: cut after an end-of-turn token and before the
        first stop string."""
        ended = next((i for i, token in enumerate(ids) if token in self.eos_ids), None)
        if ended is not None:
            ids = ids[: ended + 1]
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        cuts = [text.index(s) for s in request.stop if s in text]
        if cuts:
            text = text[: min(cuts)]
        finish = "stop" if ended is not None or cuts or len(ids) < request.max_tokens else "length"
        # an end-of-turn token keeps its logprob (its text is ""), as vLLM's do: an echoed
        # prompt's reader (lm-eval) counts on one logprob per generated token
        kept_tokens = len(ids) if ended is not None and not cuts else self._tokens_in(ids, text)
        kept = None if logprobs is None else tuple(logprobs[:kept_tokens])
        return Completion(text=text, finish_reason=finish, tokens=len(ids), prompt_tokens=prompt_tokens, logprobs=kept)

    def _tokens_in(self, ids: list[int], text: str) -> int:
        """How many of `ids` contribute to `text` (a cut prefix of their decoded text)."""
        for count in range(len(ids)):
            if len(self.tokenizer.decode(ids[:count], skip_special_tokens=True)) >= len(text):
                return count
        return len(ids)

    def answer_loglikelihood(self, items: list[tuple[Messages, str]]) -> list[float]:
        """Mean log-probability of each answer's tokens after its chat-templated messages.
        The sequences (prompt and answer) are packed as prefix trees, rows of at most
        SCORING_ROW_TOKENS tokens: a prefix several sequences share (the system prompt, a
        context, a question asked with several options) is computed once, each token attending
        to its own sequence's tokens alone, at its own position."""
        import torch

        pairs = [(self.prompt_ids(messages), self._answer_ids(answer)) for messages, answer in items]
        sequences = [prompt + answer for prompt, answer in pairs]
        results: list[float] = [float("nan")] * len(items)
        for row in prefix_tree_rows(sequences, SCORING_ROW_TOKENS):
            keep = sorted({row.paths[i][depth] for i in row.items for depth in _scored_depths(pairs[i])})
            at = {node: place for place, node in enumerate(keep)}
            with torch.inference_mode():
                logits = self.model(
                    input_ids=torch.tensor([row.tokens], device=self.model.device),
                    position_ids=torch.tensor([row.depths], device=self.model.device),
                    attention_mask=row.mask(self.model.dtype).to(self.model.device),
                    use_cache=False,
                    logits_to_keep=torch.tensor(keep, device=self.model.device),
                ).logits[0]
                logprobs = logits.float().log_softmax(dim=-1)
            for i in row.items:
                places = [at[row.paths[i][depth]] for depth in _scored_depths(pairs[i])]
                scored = logprobs[torch.tensor(places), torch.tensor(pairs[i][1])]
                results[i] = scored.mean().item()
        return results

    def prompt_logprobs(self, ids: list[int], top: int) -> list[TokenLogprob]:
        """Each prompt token after the first with its log-probability given the tokens before
        it and its `top` likeliest alternatives (an echoed completion's prompt logprobs). The
        prompt goes through the model in chunks over a growing cache: the logits of a chunk,
        not of the whole prompt, are in memory at once."""
        import torch

        device = self.model.device
        cache = None
        logprobs: list[TokenLogprob] = []
        for start in range(0, len(ids) - 1, PROMPT_CHUNK_TOKENS):
            chunk = ids[start : start + PROMPT_CHUNK_TOKENS]
            with torch.inference_mode():
                output = self.model(
                    input_ids=torch.tensor([chunk], device=device),
                    position_ids=torch.arange(start, start + len(chunk), device=device)[None],
                    cache=cache,
                    use_cache=True,
                )
            cache = output.cache
            scores = output.logits[0].float().log_softmax(dim=-1).cpu()
            for offset, row in enumerate(scores[: len(ids) - 1 - start]):
                logprobs.append(token_logprob(self.tokenizer.decode, row, ids[start + offset + 1], top))
        return logprobs

    def _answer_ids(self, answer: str) -> list[int]:
        ids = self.tokenizer(answer, add_special_tokens=False)["input_ids"]
        return ids or [self.tokenizer.eos_token_id]  # an empty answer: score the end of turn


def common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """The length of the prefix all sequences share (that of their lexicographic extremes)."""
    low, high = min(map(tuple, sequences)), max(map(tuple, sequences))
    length = 0
    while length < min(len(low), len(high)) and low[length] == high[length]:
        length += 1
    return length


def _scored_depths(pair: tuple[list[int], list[int]]) -> range:
    """The positions whose next-token logits score the answer: from the prompt's last token."""
    prompt, answer = pair
    return range(len(prompt) - 1, len(prompt) + len(answer) - 1)


@dataclass
class PrefixTreeRow:
    """Sequences packed as one prefix tree in depth-first order: a token shared by several
    sequences' prefixes is one node. A node's subtree is the nodes from it up to `ends[node]`,
    so a node's ancestors are the nodes whose span holds it."""

    tokens: list[int] = field(default_factory=list)
    depths: list[int] = field(default_factory=list)  # a node's position in its sequences
    ends: list[int] = field(default_factory=list)
    items: list[int] = field(default_factory=list)  # the sequences packed here
    paths: dict[int, list[int]] = field(default_factory=dict)  # sequence -> its nodes, by depth

    def mask(self, dtype: Any) -> Any:
        """[1, 1, query, key], additive: each node attends to itself and its ancestors."""
        import torch

        node = torch.arange(len(self.tokens))
        ends = torch.tensor(self.ends)
        visible = (node[None, :] <= node[:, None]) & (node[:, None] < ends[None, :])
        return torch.zeros(visible.shape, dtype=dtype).masked_fill(~visible, torch.finfo(dtype).min)[None, None]


def prefix_tree_rows(sequences: list[list[int]], capacity: int) -> list[PrefixTreeRow]:
    """The sequences in sorted order (each one's longest shared prefix is then with the one
    before it), packed into prefix trees of at most `capacity` nodes (a longer sequence alone)."""
    rows: list[PrefixTreeRow] = []
    row = PrefixTreeRow()
    path: list[int] = []  # the current sequence's nodes, by depth
    previous: list[int] = []
    for index in sorted(range(len(sequences)), key=lambda i: sequences[i]):
        sequence = sequences[index]
        shared = common_prefix_length([previous, sequence]) if row.items else 0
        if row.items and len(row.tokens) + len(sequence) - shared > capacity:
            rows.append(row)
            row, path, shared = PrefixTreeRow(), [], 0
        for node in path[shared:]:  # the branches this sequence leaves end here
            row.ends[node] = len(row.tokens)
        del path[shared:]
        for depth in range(shared, len(sequence)):
            path.append(len(row.tokens))
            row.tokens.append(sequence[depth])
            row.depths.append(depth)
            row.ends.append(-1)
        row.items.append(index)
        row.paths[index] = path[: len(sequence)]
        previous = sequence
    if row.items:
        rows.append(row)
    for finished in rows:
        finished.ends = [len(finished.tokens) if end < 0 else end for end in finished.ends]
    return rows


# -- continuous batching -----------------------------------------------------------------------


@dataclass(eq=False)
class _Row:
    request: ChatRequest
    prompt: list[int]
    on_done: Callable[[Completion], None]
    on_text: Callable[[str], None] | None
    generator: object = None  # a torch.Generator seeded by the request
    ids: list[int] = field(default_factory=list)
    logprobs: list[TokenLogprob] | None = None
    shown: str = ""  # the text passed to on_text so far
    stops: StopMatcher | None = None
    matcher: Any = None  # the llguidance matcher of a request with a grammar
    cancelled: bool = False  # set from any thread: the row ends at its next token (its reader left)


class DecodeLoop:
    """Rows decoding together, for one thread. `add` queues a request; each `step` lets queued
    requests into free rows and decodes one token for every row; a finished row's `on_done`
    gets its Completion at once. If a step raises, every queued and running request is dropped."""

    def __init__(self, teacher: TransformersTeacher):
        self.teacher = teacher
        self.waiting: deque[_Row] = deque()
        self.rows: list[_Row] = []
        self.cache: Any = None  # the rows' DynamicCache, [rows, heads, columns, dim] per layer
        self.mask: Any = None  # [rows, columns]: 1 where a row has a token
        self.positions: Any = None  # [rows]: the position of each row's next input token
        self.last: Any = None  # [rows]: each row's newest token, the next step's input
        self.plain_layers = True  # False for sliding-window caches: rows then join only an empty batch

    @property
    def busy(self) -> bool:
        return bool(self.rows or self.waiting)

    def add(
        self,
        request: ChatRequest,
        on_done: Callable[[Completion], None],
        on_text: Callable[[str], None] | None = None,
        *,
        prompt: list[int] | None = None,
    ) -> _Row:
        import torch

        seed = request.seed if request.seed is not None else random.getrandbits(63)
        row = _Row(request, prompt or self.teacher.request_ids(request), on_done, on_text)
        row.generator = torch.Generator().manual_seed(seed)
        row.logprobs = [] if request.logprobs is not None else None
        row.stops = StopMatcher(request.stop) if request.stop else None
        if request.grammar is not None:
            import llguidance

            row.matcher = llguidance.LLMatcher(self.teacher.grammar_tokenizer(), request.grammar)
            if row.matcher.is_error():
                raise ValueError(f"the grammar does not compile: {row.matcher.get_error()}")
        self.waiting.append(row)
        return row

    def step(self) -> bool:
        """One decode step (after admitting queued requests); False when nothing is left."""
        try:
            self._admit()
            if self.rows:
                self._decode()
        except BaseException:
            self.waiting.clear()
            self._keep([])
            raise
        return self.busy

    def _admit(self) -> None:
        import torch

        free = self.teacher.batch_size - len(self.rows)
        if not self.waiting or free <= 0 or (self.rows and not self.plain_layers):
            return
        joining = [self.waiting.popleft() for _ in range(min(free, len(self.waiting)))]
        model, device = self.teacher.model, self.teacher.model.device
        inputs = self.teacher.tokenizer.pad({"input_ids": [r.prompt for r in joining]}, return_tensors="pt").to(device)
        mask = inputs["attention_mask"]
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            output = model(**inputs, position_ids=positions, use_cache=True, logits_to_keep=1)
        cache = output.cache
        tokens = self._pick(output.logits[:, -1], joining)
        staying = [i for i, row in enumerate(joining) if not self._append(row, int(tokens[i]))]
        if len(staying) < len(joining):
            index = torch.tensor(staying, device=device, dtype=torch.long)
            cache.batch_select_indices(index)
            mask, positions, tokens = mask[index], positions[index], tokens[index]
        if not staying:
            return
        self.plain_layers = all(type(layer).__name__ == "DynamicLayer" for layer in cache.layers)
        next_positions = positions[:, -1] + 1
        if not self.rows:
            self.cache, self.mask, self.positions, self.last = cache, mask, next_positions, tokens
        else:
            self._stack(cache, mask)
            self.positions = torch.cat([self.positions, next_positions])
            self.last = torch.cat([self.last, tokens])
        self.rows += [joining[i] for i in staying]

    def _stack(self, cache: Any, mask: Any) -> None:
        """Stack the joining rows' cache under the batch's, left-padding the shorter one."""
        import torch
        import torch.nn.functional as F

        width = max(self.mask.shape[1], mask.shape[1])

        def padded(tensor: Any, columns_dim: int) -> Any:
            missing = width - tensor.shape[columns_dim]
            if not missing:
                return tensor
            pad = [0, 0] * (tensor.dim() - 1 - columns_dim % tensor.dim()) + [missing, 0]
            return F.pad(tensor, pad)

        for mine, theirs in zip(self.cache.layers, cache.layers):
            mine.keys = torch.cat([padded(mine.keys, -2), padded(theirs.keys, -2)])
            mine.values = torch.cat([padded(mine.values, -2), padded(theirs.values, -2)])
        self.mask = torch.cat([padded(self.mask, -1), padded(mask, -1)])

    def _decode(self) -> None:
        import torch

        self.mask = torch.cat([self.mask, self.mask.new_ones(len(self.rows), 1)], dim=1)
        with torch.inference_mode():
            output = self.teacher.model(
                input_ids=self.last.unsqueeze(1),
                attention_mask=self.mask,
                position_ids=self.positions.unsqueeze(1),
                cache=self.cache,
                use_cache=True,
            )
        self.cache = output.cache
        self.positions = self.positions + 1
        self.last = self._pick(output.logits[:, -1], self.rows).to(self.last.device)
        self._keep([i for i, row in enumerate(self.rows) if not self._append(row, int(self.last[i]))])

    def _keep(self, staying: list[int]) -> None:
        """Drop every row but `staying`, and the leading columns no remaining row uses."""
        import torch

        if not staying:
            self.rows, self.cache, self.mask, self.positions, self.last = [], None, None, None, None
            return
        if len(staying) == len(self.rows):
            return
        index = torch.tensor(staying, device=self.mask.device, dtype=torch.long)
        self.cache.batch_select_indices(index)
        self.mask, self.positions, self.last = self.mask[index], self.positions[index], self.last[index]
        self.rows = [self.rows[i] for i in staying]
        unused = int(self.mask.any(dim=0).long().argmax())
        if unused and self.plain_layers:
            for layer in self.cache.layers:
                layer.keys, layer.values = layer.keys[:, :, unused:], layer.values[:, :, unused:]
            self.mask = self.mask[:, unused:]

    def _pick(self, logits: Any, rows: list[_Row]) -> Any:
        """Each row's next token: argmax at temperature 0, else top-p sampling from the row's
        own generator; plus the logprobs a row asked for, from the raw logits."""
        import torch

        scores = logits.float().cpu()
        allowed = self._grammar_masked(scores, rows)
        chosen = allowed.argmax(dim=-1)
        sampled = [i for i, row in enumerate(rows) if row.request.temperature >= MIN_TEMPERATURE]
        if sampled:
            temperatures = torch.tensor([rows[i].request.temperature for i in sampled]).unsqueeze(1)
            top_ps = torch.tensor([rows[i].request.top_p for i in sampled]).unsqueeze(1)
            probs = torch.softmax(allowed[sampled] / temperatures, dim=-1)
            sorted_probs, order = probs.topk(min(TOP_K, probs.shape[-1]), dim=-1)
            sorted_probs[sorted_probs.cumsum(dim=-1) - sorted_probs > top_ps] = 0.0
            for j, i in enumerate(sampled):
                pick = torch.multinomial(sorted_probs[j], 1, generator=rows[i].generator)
                chosen[i] = order[j, pick]
        for i, row in enumerate(rows):
            if row.logprobs is not None:
                logprobs = scores[i].log_softmax(dim=-1)
                row.logprobs.append(
                    token_logprob(self.teacher.tokenizer.decode, logprobs, int(chosen[i]), row.request.logprobs)
                )
            if row.matcher is not None:
                row.matcher.consume_token(int(chosen[i]))
        return chosen

    def _grammar_masked(self, scores: Any, rows: list[_Row]) -> Any:
        """The scores with every token a row's grammar forbids next at -inf (the logprobs a
        row asked for stay those of the raw distribution)."""
        import torch

        constrained = [i for i, row in enumerate(rows) if row.matcher is not None]
        if not constrained:
            return scores
        masked = scores.clone()
        for i in constrained:
            bits = torch.frombuffer(bytearray(rows[i].matcher.compute_bitmask()), dtype=torch.uint8)
            allowed = ((bits[:, None] >> torch.arange(8, dtype=torch.uint8)) & 1).flatten().bool()
            vocabulary = min(len(allowed), masked.shape[-1])
            masked[i, :vocabulary][~allowed[:vocabulary]] = float("-inf")
            masked[i, vocabulary:] = float("-inf")
        return masked

    def _append(self, row: _Row, token: int) -> bool:
        """Add a row's new token; True (and the row's completion delivered) when it is done."""
        row.ids.append(token)
        request = row.request
        done = token in self.teacher.eos_ids or len(row.ids) >= request.max_tokens or row.cancelled
        done = done or (row.matcher is not None and row.matcher.is_stopped())
        text = ""
        if not done and (row.stops or row.on_text):
            # what can no longer change: not an incomplete character
            text = self.teacher.tokenizer.decode(row.ids, skip_special_tokens=True).rstrip("\ufffd")
            done = row.stops is not None and row.stops.feed(text)
        if done:
            completion = self.teacher.completion(request, row.ids, len(row.prompt), row.logprobs)
            if row.on_text:
                row.on_text(completion.text[len(row.shown) :] if completion.text.startswith(row.shown) else "")
            row.on_done(completion)
        elif row.on_text:
            self._show(row, text)
        return done

    def _show(self, row: _Row, text: str) -> None:
        """Pass on the text that can no longer change: not an incomplete character, nor a
        tail that could be the start of a stop string."""
        held = row.stops.held if row.stops else 0
        text = text[: len(text) - held]
        if row.on_text and len(text) > len(row.shown) and text.startswith(row.shown):
            row.on_text(text[len(row.shown) :])
            row.shown = text


def token_logprob(decode: Callable[..., str], logprobs: Any, token: int, alternatives: int | None) -> TokenLogprob:
    """A token's log-probability in a row of log-probabilities, with its `alternatives` likeliest;
    special tokens read as "", as in the completion's text."""
    top = logprobs.topk(alternatives) if alternatives else None
    return TokenLogprob(
        token=decode([token], skip_special_tokens=True),
        logprob=float(logprobs[token]),
        top=tuple((decode([int(t)], skip_special_tokens=True), float(lp)) for lp, t in zip(*top)) if top else (),
    )
