"""The [generate] settings the pipelines use, read once from the config and checked."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from taxon.core.errors import UsageError
from taxon.core.settings import GenerateSettings, check_config

JUDGE_MODES = ("auto", "loglikelihood", "generated", "none")
DOCUMENT_FORMS = (
    "section",
    "sentence_topic",
    "sentence_continue",
    "sentence_fact",
    "fact_clause",
    "fact_echo",
    "subject_lookup",
    "seed_bare",
)  # derived.py
TEACHER_KEYS = ("backend", "teacher")  # read by make_teacher


@dataclass(frozen=True)
class Settings(GenerateSettings):
    """[generate] with the checks that go beyond types; the keys and defaults are the schema's."""

    @classmethod
    def from_config(cls, config: dict) -> Settings:
        table = check_config({"generate": config.get("generate") or {}}, "[generate]")["generate"]
        settings = cls(**table)
        if settings.judge not in JUDGE_MODES:
            raise UsageError(f"generate.judge must be one of {', '.join(JUDGE_MODES)}, not '{settings.judge}'")
        unknown = [form for form in settings.document_forms if form not in DOCUMENT_FORMS]
        if unknown:
            raise UsageError(
                f"generate.document_forms: unknown form {unknown[0]!r}", hint=f"known: {', '.join(DOCUMENT_FORMS)}"
            )
        if settings.on_wrong_answer not in ("repair", "drop"):
            raise UsageError(f"generate.on_wrong_answer must be repair or drop, not '{settings.on_wrong_answer}'")
        if settings.answer_length_factor <= 0:
            raise UsageError("generate.answer_length_factor must be above 0")
        if settings.questions_per_chunk < 0:
            raise UsageError("generate.questions_per_chunk must be 0 or more")
        if settings.checker_variants_per_seed < 0:
            raise UsageError("generate.checker_variants_per_seed must be 0 or more")
        if settings.agreement_samples < 0:
            raise UsageError("generate.agreement_samples must be 0 or more")
        if not 0.0 <= settings.knowledge_chunk_share <= 1.0:
            raise UsageError("generate.knowledge_chunk_share must be between 0 and 1")
        for name in (
            "questions_per_seed",
            "batch_size",
            "leaves_per_batch",
            "list_max_new_tokens",
            "max_new_tokens",
            "judge_max_new_tokens",
            "max_teacher_calls",
        ):
            if getattr(settings, name) < 1:
                raise UsageError(f"generate.{name} must be at least 1")
        return settings

    @property
    def cache_path(self) -> Path:
        return Path(self.cache_dir)

    def recorded(self) -> dict:
        """What goes into stats.json: every parameter but where the cache lives."""
        values = asdict(self)
        for name in ("cache_dir", "max_teacher_calls", *TEACHER_KEYS):  # a cap changes no output
            del values[name]
        return values


def _same_type(default: object, value: object) -> bool:
    if isinstance(default, tuple):
        return isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value)
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))
