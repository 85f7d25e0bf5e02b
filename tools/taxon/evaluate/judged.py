"""A judge-scored chat set, as MT-bench grades single answers: the candidate and the first
baseline answer open prompts (writing, roleplay, reasoning, math, coding, extraction, STEM,
humanities; taxon/data/chat_prompts.jsonl, or evaluate.chat_file), and a judge model behind an
OpenAI-compatible endpoint rates each answer from 1 to 10 after giving its reasons. Opt-in:
`evaluate.judge_model` names the judge (a judge worth the name is a large model, so the gpu
profile's comment shows it; `taxon serve JUDGE` or vLLM serves one). A reply without a rating
is counted as unrated, never as a score; ratings are compared with paired bootstrap intervals
over the prompts both models got rated. Verdicts are cached like answers."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

from taxon.backends.base import ChatRequest, Messages, Teacher
from taxon.core.errors import TaxonError
from taxon.core.settings import EvaluateSettings, TeacherSettings
from taxon.core.store import atomic_write_json, hash_value, read_jsonl
from taxon.evaluate.answers import Progress, cached_outputs
from taxon.evaluate.bootstrap import paired_bootstrap

BUILTIN_CHAT = Path(__file__).resolve().parent.parent / "data" / "chat_prompts.jsonl"
JUDGE_INSTRUCTIONS = (
    "You grade one answer of an AI assistant to a user's message. Judge how helpful, correct, relevant "
    "and clear it is, and whether it does what the message asks, at the length the message calls for. "
    "First explain your judgement in two or three sentences. Then give a rating from 1 (useless or wrong) "
    "to 10 (excellent) on a line of its own, written exactly as: Rating: [[N]]"
)
RATING = re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]")


def read_chat_prompts(path: Path | None) -> list[dict[str, str]]:
    """{"id", "category", "prompt"} rows; the shipped set when no file is given."""
    path = Path(path) if path else BUILTIN_CHAT
    hint = 'rows look like {"id": "w1", "category": "writing", "prompt": "Write ..."}'
    try:
        rows = read_jsonl(path, hint=hint)
    except OSError as error:
        raise TaxonError(f"cannot read the chat set: {error}", where=str(path), hint="set evaluate.chat_file")
    for number, row in enumerate(rows, 1):
        if not isinstance(row.get("prompt"), str) or not row["prompt"].strip():
            raise TaxonError(f"chat row {number} has no prompt", where=str(path), hint=hint)
    return [
        {"id": str(row.get("id", number)), "category": str(row.get("category", "general")), "prompt": row["prompt"]}
        for number, row in enumerate(rows, 1)
    ]


def judge_messages(prompt: str, answer: str) -> Messages:
    return [
        {"role": "system", "content": JUDGE_INSTRUCTIONS},
        {
            "role": "user",
            "content": f"[User's message]\n{prompt}\n\n[Assistant's answer]\n{answer}\n[End of the answer]",
        },
    ]


def parse_rating(text: str) -> float | None:
    """The last [[N]] of the reply, when 1 <= N <= 10; None otherwise (unrated)."""
    found = RATING.findall(text or "")
    if not found:
        return None
    value = float(found[-1])
    return value if 1 <= value <= 10 else None


def _judge(settings: EvaluateSettings, transport: TeacherSettings) -> Teacher:
    """The judge's endpoint, reached as the [teacher] table reaches one (concurrency, retries, timeouts)."""
    from taxon.backends import http_teacher

    return http_teacher(settings.judge_model, settings.judge_base_url, settings.judge_api_key_env, transport)


def _verdicts(
    cache_dir: Path, settings: EvaluateSettings, transport: TeacherSettings, conversations: list[Messages]
) -> list[str]:
    """The judge's replies, each cached by the judge's name and the conversation it graded."""
    replies: dict[int, str] = {}
    paths = {}
    for index, messages in enumerate(conversations):
        key = hash_value({"judge": settings.judge_model, "messages": list(messages)})
        paths[index] = Path(cache_dir) / f"{key}.json"
        if paths[index].is_file():
            replies[index] = json.loads(paths[index].read_text(encoding="utf-8"))["reply"]
    missing = [index for index in range(len(conversations)) if index not in replies]
    if missing:
        requests = [ChatRequest(tuple(conversations[i]), max_tokens=512, temperature=0.0) for i in missing]
        try:
            completions = _judge(settings, transport).chat(requests)
        except TaxonError as error:
            raise TaxonError(
                f"the judge {settings.judge_model} could not be asked: {error.message.replace('teacher', 'judge')}",
                hint="check evaluate.judge_base_url and evaluate.judge_model (or turn the judged chat set off: "
                'evaluate.judge_model = ""); the answers and verdicts so far are kept',
            ) from error
        for index, completion in zip(missing, completions):
            replies[index] = completion.text
            atomic_write_json(paths[index], {"judge": settings.judge_model, "reply": completion.text})
    return [replies[index] for index in range(len(conversations))]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def judged_chat(
    models: dict[str, str], out_dir: Path, settings: EvaluateSettings, transport: TeacherSettings, progress: Progress
) -> dict[str, Any]:
    """models: name -> local path (the candidate first). The report's "chat" entry: the judge,
    each model's mean rating (overall and by category) and unrated count, the candidate's paired
    interval against each other model, and every prompt with its answers, ratings and reasons."""
    prompts = read_chat_prompts(Path(settings.chat_file) if settings.chat_file else None)
    conversations = [[{"role": "user", "content": row["prompt"]}] for row in prompts]
    answer_settings = replace(settings, max_new_tokens=settings.chat_max_new_tokens)
    answers = {
        model: cached_outputs(Path(out_dir) / "answers", path, conversations, [], answer_settings, progress).answers
        for model, path in models.items()
    }
    graded = [judge_messages(row["prompt"], answers[model][i]) for model in models for i, row in enumerate(prompts)]
    replies = iter(_verdicts(Path(out_dir) / "judge", settings, transport, graded))
    verdicts = {model: [next(replies) for _ in prompts] for model in models}
    ratings = {model: [parse_rating(reply) for reply in verdicts[model]] for model in models}
    candidate, *others = list(models)
    comparisons = {}
    for other in others:
        both = [
            (mine, theirs)
            for mine, theirs in zip(ratings[candidate], ratings[other])
            if mine is not None and theirs is not None
        ]
        interval = paired_bootstrap(
            [mine for mine, _ in both],
            [theirs for _, theirs in both],
            settings.n_resamples,
            settings.seed,
            settings.confidence,
        )
        comparisons[other] = interval.to_json() if interval else None
    by_category: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for model in models:
        for row, rating in zip(prompts, ratings[model]):
            if rating is not None:
                by_category[row["category"]][model].append(rating)
    return {
        "judge": settings.judge_model,
        "file": Path(settings.chat_file or BUILTIN_CHAT).name,
        "n": len(prompts),
        "scores": {model: _mean([r for r in ratings[model] if r is not None]) for model in models},
        "unrated": {model: sum(r is None for r in ratings[model]) for model in models},
        "by_category": {
            category: {model: _mean(values) for model, values in per_model.items()}
            for category, per_model in sorted(by_category.items())
        },
        "comparisons": comparisons,
        "items": [
            {
                **row,
                "answers": {model: answers[model][i] for model in models},
                "ratings": {model: ratings[model][i] for model in models},
                "reasons": {model: verdicts[model][i] for model in models},
            }
            for i, row in enumerate(prompts)
        ],
    }
