"""The schema of taxon.toml: one frozen dataclass per table, every key with its type and its
default. `load_config` checks a config against it (an unknown key, in the file or in `--set`,
is a usage error naming the closest valid key) and fills what the file leaves out, so code
reads every key without defaults of its own. Stages read their table typed with `settings_of`.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any, TypeVar

from taxon.core.errors import UsageError


@dataclass(frozen=True)
class TaxonomySettings:
    root: str = "taxonomy"


@dataclass(frozen=True)
class ValidateSettings:
    max_file_bytes: int = 1_000_000
    max_depth: int = 10
    max_findings_per_rule: int = 20
    context_words: int = 500
    qa_words: int = 250
    skill_words: int = 2300
    near_duplicate: float = 0.9
    near_duplicate_max_seeds: int = 500
    tree_overlap: float = 0.8
    parallel_from: int = 300
    workers: int = 0
    licenses: list[str] = field(
        default_factory=lambda: ["CC0-1.0", "CC-BY-4.0", "CC-BY-SA-4.0", "CDLA-Permissive-2.0", "Apache-2.0", "MIT"]
    )


@dataclass(frozen=True)
class ModelsSettings:
    base: str = "packaged:smollm2"
    cache_dir: str = ".taxon-cache/models"


@dataclass(frozen=True)
class DocumentsSettings:
    cache_dir: str = ".taxon-cache/documents"
    chunk_tokens: int = 400
    chunk_overlap: int = 50
    max_file_bytes: int = 2_000_000
    max_leaf_bytes: int = 10_000_000
    max_pr_files: int = 500  # taxon gitops export-pr: the most files and bytes
    max_pr_bytes: int = 50_000_000  # a pull request's changed leaves may hold
    max_chunks_per_leaf: int = 2_000  # each chunk costs teacher calls: cap a leaf's documents
    max_patterns: int = 20  # a leaf's document patterns (each is matched against every file listed)
    max_listed_files: int = 10_000  # files a leaf folder or fetched commit may list
    max_depth: int = 24  # folders deep, in a leaf folder or fetched commit
    max_selected_files: int = 500  # files a leaf's patterns may select (each is fetched and read)
    max_pdf_pages: int = 2_000  # pages of one PDF
    max_document_chars: int = 2_000_000  # text extracted from one document
    max_leaf_chars: int = 10_000_000  # text extracted from a leaf's documents together
    fetch_timeout_s: float = 120.0
    allow_file_urls: bool = False


@dataclass(frozen=True)
class GenerateSettings:
    backend: str = "transformers"
    teacher: str = "packaged:smollm2"
    cache_dir: str = ".taxon-cache/generate"
    seed: int = 42
    questions_per_seed: int = 5
    contexts_per_seed: int = 5
    questions_per_chunk: int = 3
    seeds_per_chunk: int = 2
    knowledge_chunk_share: float = 0.2
    document_forms: list[str] = field(
        default_factory=lambda: ["section", "sentence_continue", "sentence_fact", "seed_bare"]
    )
    chunk_tokenizer: str = ""
    max_new_tokens: int = 256
    list_max_new_tokens: int = 512
    judge_max_new_tokens: int = 16
    temperature: float = 0.7
    top_p: float = 0.95
    judge_temperature: float = 0.0
    judge: str = "auto"
    judge_below_seeds: float = 1.0
    judge_min_context_gain: float = 0.0
    judge_min_score: int = 4
    on_topic_min_overlap: float = 0.15
    agreement_samples: int = 2
    dedup_threshold: float = 0.8
    min_kept_per_leaf: int = 1
    batch_size: int = 32
    leaves_per_batch: int = 8
    max_teacher_calls: int = 200_000  # per run: a contribution cannot make one run cost more


@dataclass(frozen=True)
class TeacherSettings:
    base_url: str = "http://127.0.0.1:8000/v1"
    api_key_env: str = ""
    concurrency: int = 8
    timeout_s: float = 120.0
    retries: int = 5
    backoff_s: float = 1.0
    batch_size: int = 8
    threads: int = 0
    max_new_tokens: int = 256
    tensor_parallel_size: int = 1
    dtype: str = "auto"


@dataclass(frozen=True)
class TrainSettings:
    seed: int = 42
    method: str = "lora"
    frozen_layers: int = 0
    epochs: int = 2
    max_steps: int = 0
    learning_rate: float = 0.0002
    lr_schedule: str = "cosine"
    warmup_share: float = 0.05
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    pack_tokens: int = 512
    rows_per_step: int = 8
    share_prompt_prefix: bool = True
    max_sample_tokens: int = 512
    overlong: str = "trim"
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_targets: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    frozen_dtype: str = "bfloat16"
    autocast: str = "auto"
    attention: str = "auto"
    checkpoint_every: int = 50
    keep_checkpoints: int = 2
    threads: int = 0
    resume: bool = True
    nproc_per_node: int | str = 1
    replay: str = ""
    replay_share: float = 0.1
    seed_context_share: float = 0.2


@dataclass(frozen=True)
class DatasetSettings:
    eval_share: float = 0.2


@dataclass(frozen=True)
class EvaluateGateSettings:
    probe_max_drop: float = 0.05
    text_max_loss_rise: float = 0.1
    changed_must_improve: bool = True
    changed_min_delta: float = 0.0


@dataclass(frozen=True)
class EvaluateSettings:
    backend: str = "transformers"
    max_per_leaf: int = 50
    probe_file: str = ""
    text_file: str = ""
    heldout_max_jaccard: float = 0.6
    lm_eval: bool = False
    max_new_tokens: int = 64
    batch_size: int = 16
    dtype: str = "auto"
    vllm_gpu_memory_utilization: float = 0.3
    n_resamples: int = 2000
    confidence: float = 0.95
    seed: int = 0
    gate: EvaluateGateSettings = field(default_factory=EvaluateGateSettings)


@dataclass(frozen=True)
class PublishSettings:
    name: str = ""
    dtype: str = "base"
    gguf: bool = False
    max_shard_size: str = "2GB"
    license: str = "apache-2.0"
    base_model_id: str = "HuggingFaceTB/SmolLM2-135M-Instruct"
    datasets: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=lambda: ["instructlab", "synthetic-data"])
    require_passed_gate: bool = True
    hub_staging_dir: str = ".taxon-cache/bundles"
    hub_private: bool = False


@dataclass(frozen=True)
class ReviewSettings:
    samples_per_leaf: int = 3
    message_chars: int = 600


@dataclass(frozen=True)
class ServeSettings:
    max_tokens: int = 2048
    max_prompt_tokens: int = 4096
    max_n: int = 8
    max_connections: int = 32
    timeout_s: float = 60.0
    request_timeout_s: float = 15.0
    max_scored_items: int = 64
    max_stop_chars: int = 256
    api_key_env: str = "TAXON_SERVE_API_KEY"


@dataclass(frozen=True)
class PipelineSettings:
    changed_leaves: list[str] = field(default_factory=list)
    previous_bundle: str = ""


SECTIONS: dict[str, type] = {
    "taxonomy": TaxonomySettings,
    "validate": ValidateSettings,
    "models": ModelsSettings,
    "documents": DocumentsSettings,
    "generate": GenerateSettings,
    "teacher": TeacherSettings,
    "train": TrainSettings,
    "dataset": DatasetSettings,
    "evaluate": EvaluateSettings,
    "publish": PublishSettings,
    "review": ReviewSettings,
    "serve": ServeSettings,
    "pipeline": PipelineSettings,
}
# Keys load_config adds to a merged config; not tables of the file.
RUN_KEYS = ("profile", "config_path")

SettingsT = TypeVar("SettingsT")


def check_config(config: dict[str, Any], where: str) -> dict[str, Any]:
    """The config with every table and key of the schema, checked; raises UsageError on an
    unknown table or key (naming the closest valid one) or a value of the wrong type."""
    checked: dict[str, Any] = {key: config[key] for key in RUN_KEYS if key in config}
    for name in config:
        if name not in SECTIONS and name not in RUN_KEYS:
            _unknown(name, list(SECTIONS), where)
    for name, schema in SECTIONS.items():
        table = config.get(name) or {}
        if not isinstance(table, dict):
            raise UsageError(f"[{name}] must be a table, not {table!r}", where=where)
        checked[name] = _check_table(schema, table, name, where)
    return checked


def settings_of(config: dict[str, Any], name: str, schema: type[SettingsT] | None = None) -> SettingsT:
    """One table of a checked config as its dataclass."""
    return _build(schema or SECTIONS[name], config[name])


def _check_table(schema: type, table: dict, dotted: str, where: str) -> dict:
    known = [f.name for f in fields(schema)]
    hints = typing.get_type_hints(schema)
    for key in table:
        if key not in known:
            _unknown(f"{dotted}.{key}", [f"{dotted}.{name}" for name in known], where)
    defaults = asdict(schema())
    checked = {}
    for name in known:
        hint = hints[name]
        if is_dataclass(hint):
            checked[name] = _check_table(typing.cast(type, hint), table.get(name) or {}, f"{dotted}.{name}", where)
        elif name in table:
            checked[name] = _check_value(table[name], hint, f"{dotted}.{name}", where)
        else:
            checked[name] = defaults[name]
    return checked


def _check_value(value: Any, hint: Any, dotted: str, where: str) -> Any:
    allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for kind in allowed:
        origin = typing.get_origin(kind) or kind
        if origin is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if origin is int and isinstance(value, bool):
            continue
        if isinstance(value, origin):
            if origin is list and not all(isinstance(item, str) for item in value):
                continue
            return value
    names = " or ".join(getattr(kind, "__name__", str(kind)) for kind in allowed)
    raise UsageError(f"{dotted} must be {names}, not {value!r}", where=where)


def _unknown(dotted: str, valid: list[str], where: str) -> None:
    close = difflib.get_close_matches(dotted, valid, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}?" if close else f"valid here: {', '.join(sorted(valid))}"
    raise UsageError(f"unknown setting {dotted}", where=where, hint=hint)


def _build(schema: type[SettingsT], table: dict) -> SettingsT:
    hints = typing.get_type_hints(schema)
    values = {name: _build(hints[name], value) if is_dataclass(hints[name]) else value for name, value in table.items()}
    return schema(**values)


def defaults(name: str) -> dict[str, Any]:
    """One table's defaults as a plain dict, for code called without a config."""
    return asdict(SECTIONS[name]())
