"""Units of work and the runner that does them: each unit is keyed by a hash of everything
that determines its result; the runner answers from the cache where it can and sends the
rest to the teacher in batches, storing each finished result before the next batch."""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from taxon.backends.base import ChatRequest, Completion, Teacher
from taxon.core.errors import TaxonError
from taxon.core.store import hash_value
from taxon.generate.cache import UnitCache
from taxon.generate.judge import generated_verdict, loglikelihood_verdict

# Bump when the units change meaning (what a request asks, what a cached result holds): every
# unit key includes it. Filtering changes need no bump: the cache holds raw teacher replies.
PIPELINE_VERSION = "1"


@dataclass(frozen=True)
class ChatUnit:
    """One chat completion; the result is the completion as a dict."""

    key: str
    leaf: str
    request: ChatRequest


@dataclass(frozen=True)
class JudgeUnit:
    """One judgement of an answer: by log-likelihood of `answer` after `messages` (and after
    `bare_messages`, the question without its context, where there is a context), or by the
    teacher's rating in reply to `rating_request`; the result is a verdict (see judge.py)."""

    key: str
    leaf: str
    messages: tuple[dict[str, Any], ...]
    bare_messages: tuple[dict[str, Any], ...] | None
    answer: str
    rating_request: ChatRequest


def unit_key(step: str, teacher: str, templates: list[Any], request: ChatRequest, extra: object = None) -> str:
    return hash_value(
        {
            "pipeline": PIPELINE_VERSION,
            "step": step,
            "teacher": teacher,
            "templates": [template.identity for template in templates],
            "request": asdict(request),
            "extra": extra,
        }
    )


def request_seed(base_seed: int, messages: tuple[dict[str, Any], ...]) -> int:
    """A per-request sampling seed, fixed by the run seed and the prompt."""
    return int(hash_value([base_seed, list(messages)])[:8], 16)


def _completion_dict(completion: Completion) -> dict[str, Any]:
    return {
        "text": completion.text,
        "finish_reason": completion.finish_reason,
        "error": completion.error,
        "tokens": completion.tokens,
    }


class UnitRunner:
    def __init__(
        self,
        teacher: Teacher | None,  # None when every unit is cached: a finished run needs no model
        cache: UnitCache,
        batch_size: int,
        judge_mode: str,
        on_done: Callable[[int], None] = lambda n: None,
        max_calls: int | None = None,
    ):
        self._teacher = teacher
        self.cache = cache
        self.batch_size = batch_size
        # "auto" settles on the first judge batch that reaches the teacher
        self.judge_mode = judge_mode
        self.on_done = on_done  # called with a count as units finish: requests as the teacher answers them
        self.calls = 0  # requests sent to the teacher: completions plus likelihood items
        self.max_calls = max_calls  # generate.max_teacher_calls: no batch goes past it
        self.cached = 0
        self.reported = 0  # units of the current batch the teacher reported finished

    @property
    def teacher(self) -> Teacher:
        if self._teacher is None:  # generate_leaves makes one whenever a leaf is left to do
            raise TaxonError("units to send, but no teacher")
        return self._teacher

    def run(self, units: list[Any]) -> list[dict[str, Any]]:
        results: list[dict[str, Any] | None] = [self.cache.get(unit.key) for unit in units]
        missing = [index for index, result in enumerate(results) if result is None]
        self.cached += len(units) - len(missing)
        if len(units) > len(missing):
            self.on_done(len(units) - len(missing))
        for start in range(0, len(missing), self.batch_size):
            batch = [units[i] for i in missing[start : start + self.batch_size]]
            self._check_budget(len(batch))
            self.reported = 0
            for index, result in zip(missing[start : start + self.batch_size], self._do(batch)):
                results[index] = result
            if len(batch) > self.reported:  # units the teacher did not report one by one (scores)
                self.on_done(len(batch) - self.reported)
        return typing.cast(list[dict[str, Any]], results)  # every slot filled: from the cache or the teacher

    def _answered(self, count: int) -> None:
        """The teacher's report of requests finished within a batch (from its thread, maybe)."""
        self.reported += count
        self.on_done(count)

    def _check_budget(self, units: int) -> None:
        """Refuse a batch that could take the run past generate.max_teacher_calls (a judge
        unit may cost two calls); what was done stays in the unit cache for a rerun."""
        if self.max_calls is not None and self.calls + 2 * units > self.max_calls:
            raise TaxonError(
                f"this run reached its cap of {self.max_calls} teacher calls (generate.max_teacher_calls) "
                f"after {self.calls}",
                hint="check the leaves' size (taxon validate --check-documents), or raise the cap for this run",
            )

    def _do(self, batch: list[Any]) -> list[dict[str, Any]]:
        chats = [unit for unit in batch if isinstance(unit, ChatUnit)]
        judges = [unit for unit in batch if isinstance(unit, JudgeUnit)]
        done = dict(zip((u.key for u in chats), map(_completion_dict, self._chat([u.request for u in chats]))))
        done.update(zip((u.key for u in judges), self._judge(judges)))
        for unit in batch:
            result = done[unit.key]
            if not _failed(result):  # a failed request is tried again by the next run
                self.cache.put(unit.key, result)
        return [done[unit.key] for unit in batch]

    def _chat(self, requests: list[ChatRequest]) -> list[Completion]:
        if not requests:
            return []
        self.calls += len(requests)
        completions = self.teacher.chat(requests, progress=self._answered)
        if len(completions) != len(requests):
            raise TaxonError(
                f"teacher {self.teacher.name} returned {len(completions)} completions for {len(requests)} requests"
            )
        return completions

    def _judge(self, units: list[JudgeUnit]) -> list[dict[str, Any]]:
        if not units:
            return []
        if self.judge_mode in ("auto", "loglikelihood"):
            items = [(list(u.messages), u.answer) for u in units]
            bare = [(list(u.bare_messages), u.answer) for u in units if u.bare_messages]
            logprobs = self.teacher.answer_loglikelihood(items + bare)
            if logprobs is not None:
                self.calls += len(items) + len(bare)
                self.judge_mode = "loglikelihood"
                bare_logprobs = iter(logprobs[len(items) :])
                return [
                    loglikelihood_verdict(logprob, next(bare_logprobs) if unit.bare_messages else None)
                    for unit, logprob in zip(units, logprobs)
                ]
            if self.judge_mode == "loglikelihood":
                raise TaxonError(
                    f"teacher {self.teacher.name} can't score answers by log-likelihood",
                    hint='set generate.judge = "generated" (or "auto")',
                )
            self.judge_mode = "generated"
        return [generated_verdict(_completion_dict(c)) for c in self._chat([u.rating_request for u in units])]


def _failed(result: dict[str, Any]) -> bool:
    return "error" in (result.get("finish_reason"), result.get("problem"))
