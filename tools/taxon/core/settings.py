"""The schema of taxon.toml: one frozen dataclass per table, every key with its type, its
default and, where the type alone does not say it, its allowed values (a Literal) or range
(Annotated with AtLeast, Positive or Between). `build_config` checks a whole config against it
once and returns one `Config`: an unknown key, in the file, a profile or `--set`, is a usage
error naming its dotted path and the closest valid key; a value of the wrong type or out of
range names the type or values allowed. Code reads its table as typed attributes, never with
defaults of its own.

A new setting is one field here (type, default, a comment where the name needs one) and its
line in taxon.toml (tests/core/test_config.py checks that the two agree).
"""

from __future__ import annotations

import copy
import difflib
import functools
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Annotated, Any, Literal, TypeVar

from taxon.core.errors import UsageError

# Allowed values, shared with the code that branches on them.
TeacherBackend = Literal["transformers", "openai", "vllm"]
LocalBackend = Literal["transformers", "vllm"]
InferenceDtype = Literal["auto", "bfloat16", "float16", "float32"]  # auto: see backends.transformers.torch_dtype
WeightDtype = Literal["float32", "bfloat16", "float16"]
JudgeMode = Literal["auto", "loglikelihood", "generated", "none"]
DocumentForm = Literal[  # generate/derived.py
    "section",
    "sentence_topic",
    "sentence_continue",
    "sentence_fact",
    "fact_clause",
    "fact_echo",
    "subject_lookup",
    "seed_bare",
]
TrainMethod = Literal["lora", "full"]
LrSchedule = Literal["cosine", "linear", "constant"]
Overlong = Literal["trim", "drop"]
Autocast = Literal["auto", "bf16", "none"]
WrongAnswer = Literal["drop", "repair"]  # generate.on_wrong_answer
SkillJudge = Literal["loglikelihood", "generated"]  # evaluate.skill_judge
GgufQuantization = Literal["q8_0", "q5_1", "q5_0", "q4_1", "q4_0"]  # the gguf package's quantisers


@dataclass(frozen=True)
class AtLeast:
    low: int

    def problem(self, value: float) -> str | None:
        return None if value >= self.low else f"must be at least {self.low}"


@dataclass(frozen=True)
class Positive:
    def problem(self, value: float) -> str | None:
        return None if value > 0 else "must be a positive number"


@dataclass(frozen=True)
class Between:
    low: float
    high: float

    def problem(self, value: float) -> str | None:
        return None if self.low <= value <= self.high else f"must be between {self.low:g} and {self.high:g}"


Count = Annotated[int, AtLeast(1)]
Share = Annotated[float, Between(0.0, 1.0)]
PositiveInt = Annotated[int, Positive()]
PositiveFloat = Annotated[float, Positive()]


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
    licenses: tuple[str, ...] = ("CC0-1.0", "CC-BY-4.0", "CC-BY-SA-4.0", "CDLA-Permissive-2.0", "Apache-2.0", "MIT")
    require_attribution: bool = True  # P040; false: only an attribution.txt that is there is checked (P041)
    repository_license: str = ""  # content written for the repository itself: the default attribution's license
    repository_license_folders: tuple[str, ...] = ("foundational_skills",)


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
    allow_file_urls: bool = False  # test-only: lets tests serve repositories from tmp folders
    # document repository URL (or prefix ending in /) -> git URL or folder (taxon.documents.mirrors);
    # left out of == and hash (the settings stay hashable): where a pinned commit comes from changes nothing
    mirrors: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class GenerateSettings:
    backend: TeacherBackend = "transformers"
    teacher: str = "packaged:smollm2"
    cache_dir: str = ".taxon-cache/generate"
    seed: int = 42
    questions_per_seed: Count = 5
    contexts_per_seed: int = 5
    questions_per_chunk: Annotated[int, AtLeast(0)] = 3  # 0: no teacher questions on passages
    seeds_per_chunk: int = 2
    knowledge_chunk_share: Share = 0.2
    document_forms: tuple[DocumentForm, ...] = ("section", "sentence_fact", "fact_echo", "subject_lookup", "seed_bare")
    chunk_tokenizer: str = ""
    max_new_tokens: Count = 256
    answer_length_factor: PositiveFloat = 1.5  # a leaf's answers may run to this many times its longest seed answer
    list_max_new_tokens: Count = 512
    judge_max_new_tokens: Count = 16
    temperature: float = 0.7
    top_p: float = 0.95
    judge_temperature: float = 0.0
    judge: JudgeMode = "auto"
    judge_below_seeds: float = 1.0
    judge_min_context_gain: float = 0.0
    judge_min_score: int = 4
    on_wrong_answer: WrongAnswer = "repair"  # a checker knows the answer and the teacher's is wrong
    checker_variants_per_seed: Annotated[int, AtLeast(0)] = 2  # a checkable leaf's seeds with new numbers
    checker_variants_reshaped_share: Share = 0.5  # of those, numbers in other shapes than the seed's
    on_topic_min_overlap: float = 0.15
    agreement_samples: Annotated[int, AtLeast(0)] = 2
    dedup_threshold: float = 0.8
    min_kept_per_leaf: int = 1
    batch_size: Count = 32
    leaves_per_batch: Count = 8
    max_teacher_calls: Count = 200_000  # per run: a contribution cannot make one run cost more


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
    dtype: InferenceDtype = "auto"


@dataclass(frozen=True)
class TrainSettings:
    seed: int = 42
    method: TrainMethod = "lora"
    frozen_layers: int = 0
    epochs: Count = 2
    max_steps: int = 0
    learning_rate: float = 0.0002
    lr_schedule: LrSchedule = "cosine"
    warmup_share: float = 0.05
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    pack_tokens: Count = 512
    rows_per_step: Count = 8
    share_prompt_prefix: bool = True
    max_sample_tokens: Count = 512
    overlong: Overlong = "trim"
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    frozen_dtype: WeightDtype = "bfloat16"
    autocast: Autocast = "auto"
    attention: str = "auto"  # auto, or a transformers attention implementation: sdpa, eager, flash_attention_2
    checkpoint_every: int = 50
    keep_checkpoints: Count = 2
    threads: int = 0
    resume: bool = True
    nproc_per_node: int | str = 1  # or what torchrun takes: "gpu" (one per GPU)
    replay: str = ""
    replay_share: float = 0.1
    seed_context_share: float = 0.2
    min_rows_per_leaf: Annotated[int, AtLeast(0)] = 0  # a leaf's rows repeated in turn up to this many

    def __post_init__(self) -> None:
        if self.max_sample_tokens > self.pack_tokens:
            raise UsageError("train.max_sample_tokens must not exceed train.pack_tokens (a sample must fit a row)")


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
    backend: LocalBackend = "transformers"
    max_per_leaf: int = 50
    probe_file: str = ""
    text_file: str = ""
    heldout_max_jaccard: float = 0.6
    lm_eval: bool = False
    benchmarks: tuple[str, ...] = ()  # lm-eval registry tasks (mmlu, arc_easy ...); () = none
    benchmark_include_path: str = ""  # a folder of more lm-eval task files for evaluate.benchmarks
    benchmark_limit: Annotated[int, AtLeast(0)] = 0  # items per benchmark task (lm-eval's --limit); 0 = all
    judge_model: str = ""  # a model at judge_base_url that rates chat answers 1-10; "" = no judged chat set
    judge_base_url: str = "http://127.0.0.1:8000/v1"
    judge_api_key_env: str = ""
    chat_file: str = ""  # the judged chat prompts; "" = taxon/data/chat_prompts.jsonl
    chat_max_new_tokens: Count = 512
    max_new_tokens: int = 64
    batch_size: int = 16
    dtype: InferenceDtype = "auto"
    vllm_gpu_memory_utilization: float = 0.3
    n_resamples: int = 2000
    confidence: float = 0.95
    seed: int = 0
    answer_length_factor: PositiveFloat = 1.5  # a leaf's answers may run to this many times its longest seed answer
    skill_min_items: int = 10  # checker-made questions top a checkable skill leaf up to this many scored items
    skill_judge: SkillJudge = "loglikelihood"  # how free-form skill answers are judged
    skill_judge_model: str = ""  # "" = the teacher (generate.teacher), the base when it is served over HTTP
    skill_judge_min_share: float = (
        0.5  # loglikelihood: an answer's PMI with its question, as a share of the reference's
    )
    skill_judge_max_new_tokens: int = 256  # generated: the verdict with its rationale
    gate: EvaluateGateSettings = field(default_factory=EvaluateGateSettings)


@dataclass(frozen=True)
class PublishSettings:
    name: str = ""
    dtype: Literal["base", "float32", "bfloat16", "float16"] = "base"
    gguf: bool = False
    quantize: tuple[GgufQuantization, ...] = ()  # GGUF files beside model.gguf, model.<type>.gguf each
    min_fact_retention: Share = 0.0  # the gate: each GGUF file keeps this share of the candidate's known facts
    max_shard_size: str = "2GB"
    license: str = "apache-2.0"
    language: tuple[str, ...] = ("en",)  # the cards' language (ISO 639-1 codes)
    base_model_id: str = "HuggingFaceTB/SmolLM2-135M-Instruct"
    datasets: tuple[str, ...] = ()
    tags: tuple[str, ...] = ("instructlab", "synthetic-data")
    require_passed_gate: bool = True
    hub_staging_dir: str = ".taxon-cache/bundles"
    hub_private: bool = False
    hub_dataset: bool = True  # hf://ORG/NAME also uploads dataset/ as ORG/NAME-dataset, linked from the card


@dataclass(frozen=True)
class ReviewSettings:
    samples_per_leaf: int = 3
    message_chars: int = 600
    require_decisions: Share = 0.0  # share of a changed leaf's teacher-written samples decided before training


@dataclass(frozen=True)
class ServeSettings:
    max_tokens: PositiveInt = 2048
    max_prompt_tokens: PositiveInt = 4096
    max_n: PositiveInt = 8
    max_connections: PositiveInt = 32
    timeout_s: PositiveFloat = 60.0
    request_timeout_s: PositiveFloat = 15.0
    max_scored_items: PositiveInt = 64
    max_stop_chars: PositiveInt = 256
    api_key_env: str = "TAXON_SERVE_API_KEY"


@dataclass(frozen=True)
class PipelineSettings:
    leaves: tuple[str, ...] = ()  # leaf ids, globs or folders the run is over; () = all
    changed_leaves: tuple[str, ...] = ()
    previous_bundle: str = ""


@dataclass(frozen=True)
class Config:
    """The whole config of one run: a table per stage, and the profile and file it came from
    (the run keys, "" for a config built in code)."""

    taxonomy: TaxonomySettings = field(default_factory=TaxonomySettings)
    validate: ValidateSettings = field(default_factory=ValidateSettings)
    models: ModelsSettings = field(default_factory=ModelsSettings)
    documents: DocumentsSettings = field(default_factory=DocumentsSettings)
    generate: GenerateSettings = field(default_factory=GenerateSettings)
    teacher: TeacherSettings = field(default_factory=TeacherSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    dataset: DatasetSettings = field(default_factory=DatasetSettings)
    evaluate: EvaluateSettings = field(default_factory=EvaluateSettings)
    publish: PublishSettings = field(default_factory=PublishSettings)
    review: ReviewSettings = field(default_factory=ReviewSettings)
    serve: ServeSettings = field(default_factory=ServeSettings)
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    profile: str = ""
    config_path: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON values (lists for tuples): what a run records in
        `config.json` and what `build_config` reads back."""
        values: dict[str, Any] = plain(self)
        return values

    def with_overrides(self, overrides: Mapping[str, Any], where: str = "--set") -> Config:
        """This config with `{table: {key: value}}` laid over it, checked as `--set` is."""
        return build_config(deep_merge(self.to_dict(), overrides), where)


# Keys of a Config that are not tables of the file.
RUN_KEYS = ("profile", "config_path")
SECTIONS: dict[str, type] = {
    name: hint for name, hint in typing.get_type_hints(Config).items() if is_dataclass(hint) and isinstance(hint, type)
}

SettingsT = TypeVar("SettingsT")


def build_config(tables: Mapping[str, Any], where: str) -> Config:
    """One Config from `{table: {key: value}}` (and the run keys), checked: what the tables
    leave out takes the schema's default. Raises UsageError on an unknown table or key (naming
    the closest valid one), a value of the wrong type or outside its allowed values."""
    for name in tables:
        if name not in SECTIONS and name not in RUN_KEYS:
            _unknown(name, list(SECTIONS), where)
    sections: dict[str, Any] = {
        name: _build(schema, _table(tables.get(name), name, where), name, where) for name, schema in SECTIONS.items()
    }
    run_keys = {name: _check_value(tables[name], str, name, where) for name in RUN_KEYS if name in tables}
    return Config(**sections, **run_keys)


def plain(value: Any) -> Any:
    """A settings dataclass (or a value in one) as plain JSON values: dicts, lists, scalars."""
    if is_dataclass(value) and not isinstance(value, type):
        return {item.name: plain(getattr(value, item.name)) for item in fields(value)}
    if isinstance(value, (tuple, list)):
        return [plain(item) for item in value]
    return value


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `override` laid over it, table by table."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _table(value: Any, dotted: str, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise UsageError(f"[{dotted}] must be a table, not {value!r}", where=where)
    return value


@functools.cache
def _hints(schema: type) -> dict[str, Any]:
    """A table's field types, resolved once a process (a config is built a few times a run)."""
    return typing.get_type_hints(schema, include_extras=True)


def _build(schema: type[SettingsT], table: Mapping[str, Any], dotted: str, where: str) -> SettingsT:
    known = [item.name for item in fields(typing.cast(Any, schema))]
    hints = _hints(typing.cast(type, schema))
    for key in table:
        if key not in known:
            _unknown(f"{dotted}.{key}", [f"{dotted}.{name}" for name in known], where)
    values: dict[str, Any] = {}
    for name in known:
        hint = hints[name]
        if is_dataclass(hint) and isinstance(hint, type):
            values[name] = _build(hint, _table(table.get(name), f"{dotted}.{name}", where), f"{dotted}.{name}", where)
        elif name in table:
            values[name] = _check_value(table[name], hint, f"{dotted}.{name}", where)
    try:
        return schema(**values)
    except UsageError as error:  # a check across keys (__post_init__)
        raise UsageError(error.message, where=where, hint=error.hint) from None


def _check_value(value: Any, hint: Any, dotted: str, where: str) -> Any:
    """The value as the schema holds it (an int as a float, a list as a tuple), or UsageError."""
    constraints: tuple[Any, ...] = ()
    if typing.get_origin(hint) is Annotated:
        hint, *extras = typing.get_args(hint)
        constraints = tuple(extras)
    if typing.get_origin(hint) is Literal:
        allowed = typing.get_args(hint)
        if isinstance(value, str) and value in allowed:
            return value
        raise UsageError(f"{dotted} must be one of {', '.join(map(str, allowed))}, not {value!r}", where=where)
    checked = _check_type(value, hint, dotted, where)
    for constraint in constraints:
        if problem := constraint.problem(checked):
            raise UsageError(f"{dotted} {problem}, not {value!r}", where=where)
    return checked


def _check_type(value: Any, hint: Any, dotted: str, where: str) -> Any:
    kinds = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for kind in kinds:
        origin = typing.get_origin(kind) or kind
        if origin is dict:
            if isinstance(value, Mapping) and all(isinstance(item, str) for pair in value.items() for item in pair):
                return dict(value)
            continue
        if origin is tuple:
            if isinstance(value, (list, tuple)):
                (item_hint, _) = typing.get_args(kind)
                return tuple(
                    _check_value(item, item_hint, f"{dotted}[{index}]", where) for index, item in enumerate(value)
                )
            continue
        if origin is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if origin is int and isinstance(value, bool):
            continue
        if isinstance(value, origin):
            return value
    names = " or ".join(_type_name(kind) for kind in kinds)
    raise UsageError(f"{dotted} must be {names}, not {value!r}", where=where)


def _type_name(kind: Any) -> str:
    if typing.get_origin(kind) is dict:
        return "a table of str to str"
    if typing.get_origin(kind) is tuple:
        item = typing.get_args(kind)[0]
        allowed = typing.get_args(item) if typing.get_origin(item) is Literal else ()
        return f"a list of {', '.join(allowed)}" if allowed else f"a list of {_type_name(item)}"
    return str(getattr(kind, "__name__", kind))


def _unknown(dotted: str, valid: list[str], where: str) -> None:
    close = difflib.get_close_matches(dotted, valid, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}?" if close else f"valid here: {', '.join(sorted(valid))}"
    raise UsageError(f"unknown setting {dotted}", where=where, hint=hint)
