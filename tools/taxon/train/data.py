"""The training set: every generated sample and the seed examples, minus the held-out rows
evaluation uses, a leaf with few rows repeated up to a floor, and an optional replay set;
rendered with the base model's chat template and tokenized with a next-token target at every
position (-100 outside assistant turns)."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taxon.backends.transformers import common_prefix_length
from taxon.core.errors import TaxonError
from taxon.core.settings import Config
from taxon.core.store import hash_value
from taxon.qna.heldout import HELD_OUT, NEAR_HELD_OUT, training_split
from taxon.qna.samples import answer_of, bare_question, collect_samples, make_sample, question_id, question_of
from taxon.qna.taxonomy import Leaf

BUILTIN_REPLAY = Path(__file__).resolve().parents[1] / "data" / "general_chat.jsonl"  # written for taxon
IGNORE = -100  # the target of a position that is not trained (cross_entropy's ignore_index)


@dataclass(frozen=True)
class Encoded:
    """One tokenized sample: its tokens and, at each position, the next token to learn or IGNORE."""

    input_ids: tuple[int, ...]
    targets: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def target_count(self) -> int:
        return sum(1 for target in self.targets if target != IGNORE)


@dataclass
class TrainingSet:
    samples: list[Encoded]
    dataset_hash: str  # over the messages of the samples used, in order
    # used (repeats too), trimmed, dropped {reason: n}, held_out, by_source (each row once),
    # repeated (rows trained again to reach min_rows_per_leaf) and repeated_by_leaf
    counts: dict[str, Any] = field(default_factory=dict)
    held_out: list[Encoded] = field(default_factory=list)  # the held-out rows, for the eval loss (never trained)

    @property
    def prompt_prefix(self) -> int:
        """How many leading tokens every sample shares with no target among them: the chat
        template's opening (SmolLM2's default system prompt and the user turn's start: 24 of a sample's ~90)."""
        first_targets = (next(i for i, t in enumerate(sample.targets) if t != IGNORE) for sample in self.samples)
        return min(common_prefix_length([sample.input_ids for sample in self.samples]), *first_targets)


def replay_mix(replay: Path | None, share: float, taxonomy_rows: int, seed: int) -> list[dict[str, Any]]:
    """General chat rows mixed in against forgetting: `share` of the taxonomy's row count,
    drawn without repeats from the replay file (default: the set shipped with taxon), in a
    seeded order."""
    if share <= 0:
        return []
    rows = collect_samples(None, [], Path(replay) if replay else BUILTIN_REPLAY)
    random.Random(f"{seed}:replay").shuffle(rows)
    return rows[: round(share * taxonomy_rows)]


def asked_bare(row: dict[str, Any], context_share: float) -> dict[str, Any]:
    """A knowledge seed outside `context_share` (picked by its question's hash) as its bare
    question: asked without its context it trains remembering, not reading. Other rows as
    they are."""
    metadata = row.get("metadata") or {}
    if metadata.get("source") != "seed" or metadata.get("kind") != "knowledge":
        return row
    question = bare_question(row)
    if question == question_of(row) or int(question_id(row)[16:32], 16) / 2**64 < context_share:
        return row
    return make_sample(question, answer_of(row), None, metadata)


def _render(tokenizer: Any, messages: list[dict[str, Any]], add_generation_prompt: bool = False) -> str:
    text: str = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
    return text


def assistant_spans(tokenizer: Any, messages: list[dict[str, Any]]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of its assistant turns (content and
    end-of-turn marker), found by rendering each prefix with the template itself."""
    text = _render(tokenizer, messages)
    spans = []
    for index, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        before = _render(tokenizer, messages[:index], add_generation_prompt=True) if index else ""
        through = _render(tokenizer, messages[: index + 1]).rstrip()
        if not text.startswith(before) or not text.startswith(through):
            raise TaxonError(
                "the base model's chat template does not render conversations prefix by prefix",
                hint="use a base model whose chat template appends one turn at a time",
            )
        spans.append((len(before), len(through)))
    return text, spans


def encode(
    tokenizer: Any, messages: list[dict[str, Any]], max_tokens: int, overlong: str
) -> tuple[Encoded | None, str]:
    """(sample, "ok" | "trimmed") or (None, reason it was dropped)."""
    if not any(m.get("role") == "assistant" for m in messages):
        return None, "no_assistant_turn"
    text, spans = assistant_spans(tokenizer, messages)
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(encoding["input_ids"])
    trained = [any(start <= begin < end for start, end in spans) for begin, _ in encoding["offset_mapping"]]
    status = "ok"
    if len(ids) > max_tokens:
        if overlong == "drop":
            return None, "too_long"
        ids, trained, status = ids[:max_tokens], trained[:max_tokens], "trimmed"
    targets = [ids[i + 1] if trained[i + 1] else IGNORE for i in range(len(ids) - 1)] + [IGNORE]
    if all(target == IGNORE for target in targets):
        return None, "no_answer_left_after_trim" if status == "trimmed" else "no_answer_tokens"
    return Encoded(tuple(ids), tuple(targets)), status


def build_training_set(
    dataset_dir: Path | None, leaves: list[Leaf], replay: Path | None, tokenizer: Any, config: Config
) -> TrainingSet:
    """The training samples: the generated ones and the leaves' seeds, minus what the held-out
    split keeps for evaluation, each leaf's rows repeated in turn up to `min_rows_per_leaf`,
    then `replay_share` of replay rows; encoded by `tokenizer`."""
    settings = config.train
    if getattr(tokenizer, "chat_template", None) is None:
        raise TaxonError("the base model's tokenizer has no chat template", hint="choose an instruct/chat base model")
    if not getattr(tokenizer, "is_fast", False):
        raise TaxonError("the base model needs a fast tokenizer (character offsets find the assistant turns)")
    rows = collect_samples(dataset_dir, leaves, None)
    split = training_split(leaves, dataset_dir, config.dataset.eval_share, rows)
    samples: list[Encoded] = []
    used_messages: list[Any] = []
    used_keys: set[str] = set()
    held_out_samples: list[Encoded] = []
    held_out, trimmed, seeds_bare = 0, 0, 0
    dropped: Counter[str] = Counter()
    by_source: Counter[str] = Counter()
    by_leaf: dict[str, list[int]] = {}  # leaf -> the positions of its rows in samples

    def take(row: dict[str, Any]) -> None:
        nonlocal held_out, trimmed, seeds_bare
        side = split.side(row)
        if side == HELD_OUT:
            held_out += 1
            encoded, _ = encode(tokenizer, row["messages"], settings.max_sample_tokens, settings.overlong)
            if encoded is not None and encoded.target_count:
                held_out_samples.append(encoded)
            return
        if side == NEAR_HELD_OUT:  # a reworded held-out question: evaluation would be fooled
            dropped[NEAR_HELD_OUT] += 1
            return
        bare = asked_bare(row, settings.seed_context_share)
        seeds_bare += bare is not row
        key = hash_value(bare["messages"])
        if key in used_keys:  # a seed asked bare is what generation's seed_bare form made already
            dropped["duplicate"] += 1
            return
        used_keys.add(key)
        encoded, status = encode(tokenizer, bare["messages"], settings.max_sample_tokens, settings.overlong)
        if encoded is None:
            dropped[status] += 1
            return
        trimmed += status == "trimmed"
        metadata = bare.get("metadata") or {}
        if metadata.get("leaf") and metadata.get("source") != "replay":
            by_leaf.setdefault(str(metadata["leaf"]), []).append(len(samples))
        samples.append(encoded)
        used_messages.append(bare["messages"])
        by_source[metadata.get("source") or "generated"] += 1

    for row in rows:
        take(row)
    repeated = repeat_to_floor(by_leaf, settings.min_rows_per_leaf)
    for position in (position for positions in repeated.values() for position in positions):
        samples.append(samples[position])
        used_messages.append(used_messages[position])
    repeats = {leaf: len(positions) for leaf, positions in repeated.items()}
    # replay keeps its share of what is trained: a repeated row is taxonomy text trained once more
    for row in replay_mix(replay, settings.replay_share, len(rows) + sum(repeats.values()), settings.seed):
        take(row)
    if not samples:
        raise TaxonError(
            "no training samples left", hint=f"held out: {held_out}, dropped: {dict(dropped) or 0}; check --data"
        )
    counts = {
        "used": len(samples),
        "trimmed": trimmed,
        "dropped": dict(sorted(dropped.items())),
        "held_out": held_out,
        "seeds_asked_bare": seeds_bare,
        "by_source": dict(sorted(by_source.items())),
        "repeated": sum(repeats.values()),
        "repeated_by_leaf": dict(sorted(repeats.items())),
    }
    return TrainingSet(samples, hash_value(used_messages), counts, held_out_samples)


def repeat_to_floor(by_leaf: dict[str, list[int]], floor: int) -> dict[str, list[int]]:
    """leaf -> the positions to train once more, for each leaf with fewer rows than `floor`:
    its rows in turn (first, second, ..., first again) until it has `floor`."""
    return {
        leaf: [positions[turn % len(positions)] for turn in range(floor - len(positions))]
        for leaf, positions in by_leaf.items()
        if 0 < len(positions) < floor
    }
