"""The [generate] settings the pipelines use, read once from the config and checked."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

from taxon.core.errors import UsageError

JUDGE_MODES = ("auto", "loglikelihood", "generated", "none")
DOCUMENT_FORMS = ("section", "sentence_topic", "sentence_continue", "seed_bare")  # see derived.py
TEACHER_KEYS = ("backend", "teacher")  # read by make_teacher


@dataclass(frozen=True)
class Settings:
    cache_dir: str = ".taxon-cache/generate"
    seed: int = 42
    questions_per_seed: int = 5  # new questions asked for per skill seed
    contexts_per_seed: int = 5  # new contexts asked for per grounded skill seed
    questions_per_chunk: int = 3  # questions asked for per (chunk, seed example) call
    seeds_per_chunk: int = 2  # seed examples paired with each chunk; 0 = all
    knowledge_chunk_share: float = 0.2  # share of teacher-made knowledge samples that show their chunk
    document_forms: tuple[str, ...] = DOCUMENT_FORMS  # knowledge samples derived without the teacher
    chunk_tokenizer: str = ""  # tokenizer for chunking; "" = the teacher model's
    max_new_tokens: int = 256  # per answer
    list_max_new_tokens: int = 512  # per list of questions or contexts
    judge_max_new_tokens: int = 16
    temperature: float = 0.7
    top_p: float = 0.95
    judge_temperature: float = 0.0
    judge: str = "auto"  # auto | loglikelihood | generated | none
    judge_min_logprob: float = -2.5  # loglikelihood judge: keep when mean token logprob >= this
    judge_min_context_gain: float = 0.0  # ... and, with a context, when it gains this much from it
    judge_min_score: int = 4  # generated judge: keep when the 1-5 score >= this
    on_topic_min_overlap: float = 0.15  # share of a question's content words found in its reference
    dedup_threshold: float = 0.8  # token-set Jaccard of question+answer at which a sample is a near-duplicate
    min_kept_per_leaf: int = 1  # a leaf keeping fewer samples is an error
    batch_size: int = 32  # requests per teacher call (and per cache write)
    leaves_per_batch: int = 8  # leaves advanced together, so their requests share batches

    @classmethod
    def from_config(cls, config: dict) -> Settings:
        section = dict(config.get("generate", {}))
        known = {f.name: f for f in fields(cls)}
        values = {}
        for name, value in section.items():
            if name in TEACHER_KEYS:
                continue
            if name not in known:
                raise UsageError(f"unknown setting generate.{name}", hint=f"known: {', '.join(sorted(known))}")
            default = known[name].default
            if not _same_type(default, value):
                raise UsageError(f"generate.{name} must be of type {type(default).__name__}, not {value!r}")
            values[name] = type(default)(value)
        settings = cls(**values)
        if settings.judge not in JUDGE_MODES:
            raise UsageError(f"generate.judge must be one of {', '.join(JUDGE_MODES)}, not '{settings.judge}'")
        unknown = [form for form in settings.document_forms if form not in DOCUMENT_FORMS]
        if unknown:
            raise UsageError(
                f"generate.document_forms: unknown form {unknown[0]!r}", hint=f"known: {', '.join(DOCUMENT_FORMS)}"
            )
        if not 0.0 <= settings.knowledge_chunk_share <= 1.0:
            raise UsageError("generate.knowledge_chunk_share must be between 0 and 1")
        for name in (
            "questions_per_seed",
            "questions_per_chunk",
            "batch_size",
            "leaves_per_batch",
            "list_max_new_tokens",
            "max_new_tokens",
            "judge_max_new_tokens",
        ):
            if getattr(settings, name) < 1:
                raise UsageError(f"generate.{name} must be at least 1")
        return settings

    @property
    def cache_path(self) -> Path:
        return Path(self.cache_dir)

    def recorded(self) -> dict:
        """What goes into stats.json: every parameter but where the cache lives."""
        values = {name: list(value) if isinstance(value, tuple) else value for name, value in asdict(self).items()}
        del values["cache_dir"]
        return values


def _same_type(default: object, value: object) -> bool:
    if isinstance(default, tuple):
        return isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value)
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))
