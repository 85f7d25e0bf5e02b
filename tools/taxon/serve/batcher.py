"""The one thread that touches the model. Chats join the model's running batch between two
decode steps (continuous batching: a finished row is answered at once and its place given to
the next request). Scoring jobs that arrive within `window_s` of one another are one
answer_loglikelihood call, run between two steps; an echoed prompt's logprobs likewise, one
prompt at a time. A request over `max_prompt_tokens` after tokenizing fails alone with a 400;
when a step fails, each chat it held is run again alone (unless some of its text went out
already), so one bad request never fails the others.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

from taxon.backends.base import ChatRequest, Completion, Messages, TokenLogprob
from taxon.serve.requests import Choice, RequestError

OnText = Callable[[str], None]


class Cancellable(Protocol):
    cancelled: bool


class DecodeLoop(Protocol):
    """The backend's continuous batch (taxon.backends.transformers.DecodeLoop)."""

    rows: list[Any]
    waiting: Any  # the requests not yet in a row

    @property
    def busy(self) -> bool: ...

    def add(
        self,
        request: ChatRequest,
        on_done: Callable[[Completion], None],
        on_text: OnText | None = None,
        *,
        prompt: list[int] | None = None,
    ) -> Cancellable: ...

    def step(self) -> bool: ...


class ServedModel(Protocol):
    """What the server needs of a local model (taxon.backends.transformers.TransformersTeacher)."""

    name: str
    batch_size: int
    tokenizer: Any  # a transformers tokenizer: the server's tokenize endpoints and echoed prompts

    def decode_loop(self) -> DecodeLoop: ...

    def request_ids(self, request: ChatRequest) -> list[int]: ...

    def answer_loglikelihood(self, items: list[tuple[Messages, str]]) -> list[float]: ...

    def prompt_logprobs(self, ids: list[int], top: int) -> list[TokenLogprob]: ...


@dataclass(eq=False)  # hashed by identity: the set of running chats
class ChatJob:
    choice: Choice
    result: Future[Completion]
    on_text: OnText | None = None  # the text as it grows (called on the model thread)
    streamed: bool = False  # some of its text has gone out
    row: Cancellable | None = None  # its row in the decode loop, once added


@dataclass(eq=False)
class ScoreJob:
    items: list[tuple[Messages, str]]
    result: Future[list[float]]


@dataclass(eq=False)
class PromptJob:
    choice: Choice
    result: Future[tuple[list[int], list[TokenLogprob]]]


@dataclass(eq=False)
class Cancel:
    result: Future[Completion]  # the chat's, as chat() returned it


Job = ChatJob | ScoreJob | PromptJob | Cancel


class Batcher:
    def __init__(
        self,
        model: ServedModel,
        window_s: float,
        max_prompt_tokens: int,
        on_step: Callable[[int, int], None] | None = None,
    ):
        self.model = model
        self.max_prompt_tokens = max_prompt_tokens
        self.window_s = window_s
        self.on_step = on_step  # called after each decode step: the rows it decoded, the rows left
        self.loop = model.decode_loop()
        self.running: set[ChatJob] = set()  # chats added to the loop and not yet answered
        self.jobs: queue.Queue[Job | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="taxon-serve-model", daemon=True)
        self.thread.start()

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()

    def chat(self, choice: Choice, on_text: OnText | None = None) -> Future[Completion]:
        job = ChatJob(choice, Future(), on_text)
        self.jobs.put(job)
        return job.result

    def cancel(self, result: Future[Completion]) -> None:
        """A chat whose client left: its row ends at its next token, freeing its place."""
        self.jobs.put(Cancel(result))

    def score(self, items: list[tuple[Messages, str]]) -> Future[list[float]]:
        job = ScoreJob(items, Future())
        self.jobs.put(job)
        return job.result

    def prompt_logprobs(self, choice: Choice) -> Future[tuple[list[int], list[TokenLogprob]]]:
        """A prompt's token ids, and each token's logprob after the first (with the request's
        `logprobs` alternatives)."""
        job = PromptJob(choice, Future())
        self.jobs.put(job)
        return job.result

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join()

    def _arrived(self, wait: bool) -> tuple[list[Job], bool]:
        """The jobs queued now (with `wait`: the next one and those within the window after it),
        and whether close() was called."""
        arrived: list[Job] = []
        if wait:
            first = self.jobs.get()
            if first is None:
                return arrived, True
            arrived.append(first)
        deadline = time.monotonic() + (self.window_s if wait else 0.0)
        while True:
            try:
                job = self.jobs.get(timeout=max(0.0, deadline - time.monotonic())) if wait else self.jobs.get_nowait()
            except queue.Empty:
                return arrived, False
            if job is None:
                return arrived, True
            arrived.append(job)

    def _run(self) -> None:
        closing = False
        while not closing or self.loop.busy:  # on close, the chats in flight are still answered
            if not closing:
                arrived, closing = self._arrived(wait=not self.loop.busy)
                for job in arrived:
                    if isinstance(job, ChatJob) and self._chat_fits(job):
                        self._add(self.loop, job)
                    elif isinstance(job, PromptJob):
                        self._prompt_logprobs(job)
                    elif isinstance(job, Cancel):
                        for running in self.running:
                            if running.result is job.result and running.row is not None:
                                running.row.cancelled = True
                self._score([job for job in arrived if isinstance(job, ScoreJob) and self._items_fit(job)])
            if self.loop.busy:
                rows = min(self.model.batch_size, len(self.loop.rows) + len(self.loop.waiting))
                try:
                    self.loop.step()
                except Exception as error:
                    failed, self.running = self.running, set()
                    for job in failed:
                        self._alone(job, error)
                if self.on_step:
                    self.on_step(rows, len(self.loop.rows))

    def _add(self, loop: DecodeLoop, job: ChatJob) -> None:
        def on_text(piece: str) -> None:
            job.streamed = job.streamed or bool(piece)
            if job.on_text:
                job.on_text(piece)

        def on_done(completion: Completion) -> None:
            self.running.discard(job)
            job.result.set_result(completion)

        prompt = list(job.choice.prompt_ids) if job.choice.prompt_ids is not None else None
        try:
            job.row = loop.add(job.choice.request, on_done, on_text, prompt=prompt)
        except Exception as error:  # a request the backend refuses (a grammar it cannot hold)
            job.result.set_exception(RequestError(400, f"{type(error).__name__}: {error}"))
            return
        if loop is self.loop:
            self.running.add(job)

    def _alone(self, job: ChatJob, error: Exception) -> None:
        """A chat of a failed step, run again alone: a 500 if it fails alone too (or if it had
        streamed text already, which a second run can't take back)."""
        if job.streamed:
            job.result.set_exception(error)
            return
        loop = self.model.decode_loop()
        self._add(loop, job)
        try:
            while loop.step():
                pass
        except Exception as alone_error:  # the model fails on this request: it gets a 500
            job.result.set_exception(alone_error)

    def _prompt_ids(self, choice: Choice, result: Future[Any]) -> list[int] | None:
        """The choice's prompt as token ids; None (and a 400 set) when it is over the cap."""
        request = choice.request
        ids = list(choice.prompt_ids) if choice.prompt_ids is not None else self.model.request_ids(request)
        if len(ids) <= self.max_prompt_tokens:
            return ids
        param = "prompt" if request.prompt is not None else "messages"
        result.set_exception(
            RequestError(400, f"the prompt has {len(ids)} tokens, more than {self.max_prompt_tokens}", param)
        )
        return None

    def _chat_fits(self, job: ChatJob) -> bool:
        return self._prompt_ids(job.choice, job.result) is not None

    def _prompt_logprobs(self, job: PromptJob) -> None:
        ids = self._prompt_ids(job.choice, job.result)
        if ids is None:
            return
        try:
            job.result.set_result((ids, self.model.prompt_logprobs(ids, job.choice.request.logprobs or 0)))
        except Exception as error:  # the model failed on this request: it gets a 500
            job.result.set_exception(error)

    def _items_fit(self, job: ScoreJob) -> bool:
        for index, (messages, answer) in enumerate(job.items):
            length = len(self.model.request_ids(ChatRequest(tuple(messages)))) + len(
                self.model.request_ids(ChatRequest((), prompt=answer))
            )
            if length > self.max_prompt_tokens:
                message = f"items[{index}] has {length} tokens, more than {self.max_prompt_tokens}"
                job.result.set_exception(RequestError(400, message, "items"))
                return False
        return True

    def _score(self, jobs: list[ScoreJob]) -> None:
        """The scoring jobs in one call; if it fails, each alone, so only the one that fails
        gets its error (a 500)."""
        if not jobs:
            return
        try:
            scores = self.model.answer_loglikelihood([item for job in jobs for item in job.items])
        except Exception as error:
            if len(jobs) > 1:
                for job in jobs:
                    self._score([job])
            else:
                jobs[0].result.set_exception(error)
            return
        start = 0
        for job in jobs:
            job.result.set_result(scores[start : start + len(job.items)])
            start += len(job.items)
