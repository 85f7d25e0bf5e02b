"""Teacher backends and the factory the pipelines call: `make_teacher(config)`.

The backend is `generate.backend` (transformers | openai | vllm), the model
`generate.teacher`, and the backend's parameters the `[teacher]` table.
Each backend module (and torch, transformers, vllm) is imported only when chosen.
"""

from __future__ import annotations

import typing

from taxon.backends.base import ChatRequest, Completion, LocalModel, Messages, Teacher
from taxon.core.errors import UsageError
from taxon.core.settings import (
    Config,
    GenerateSettings,
    InferenceDtype,
    LocalBackend,
    ModelsSettings,
    TeacherBackend,
    TeacherSettings,
)

BACKENDS: tuple[TeacherBackend, ...] = typing.get_args(TeacherBackend)
LOCAL_BACKENDS: tuple[LocalBackend, ...] = typing.get_args(LocalBackend)

__all__ = [
    "BACKENDS",
    "LOCAL_BACKENDS",
    "ChatRequest",
    "Completion",
    "Messages",
    "Teacher",
    "http_teacher",
    "local_model",
    "make_teacher",
    "teacher_name",
]


def _teacher_spec(generate: GenerateSettings) -> str:
    if not generate.teacher:
        raise UsageError(
            "no teacher model is set", hint="set generate.teacher in taxon.toml or --set generate.teacher=..."
        )
    return generate.teacher


def teacher_name(generate: GenerateSettings, models: ModelsSettings) -> str:
    """The name make_teacher's teacher will have, without loading a model or reaching an
    endpoint: cache keys need it even when every unit is already done."""
    spec = _teacher_spec(generate)
    if generate.backend == "openai":
        return f"openai:{spec}"
    from taxon.backends.models import local_teacher_name, resolve_model

    return local_teacher_name(generate.backend, spec, resolve_model(spec, models))


def make_teacher(config: Config) -> Teacher:
    """The teacher of `generate.backend` over `generate.teacher`, with the [teacher] parameters."""
    from taxon.backends.models import resolve_model

    generate, params = config.generate, config.teacher
    spec = _teacher_spec(generate)
    if generate.backend == "openai":
        return http_teacher(spec, params.base_url, params.api_key_env, params)
    if generate.backend == "vllm":
        from taxon.backends.vllm import import_vllm

        import_vllm()  # the missing-extra message before any model download
    return local_model(
        generate.backend,
        resolve_model(spec, config.models),
        spec=spec,
        batch_size=params.batch_size,
        threads=params.threads,
        tensor_parallel_size=params.tensor_parallel_size,
        seed=generate.seed,
        dtype=params.dtype,
    )


def http_teacher(model: str, base_url: str, api_key_env: str, transport: TeacherSettings) -> Teacher:
    """A model behind an OpenAI-compatible endpoint, reached as the [teacher] table says
    (concurrency, timeouts, retries): the teacher, or evaluation's chat judge."""
    from taxon.backends.openai import OpenAITeacher

    return OpenAITeacher(
        model=model,
        base_url=base_url,
        api_key_env=api_key_env,
        concurrency=transport.concurrency,
        timeout_s=transport.timeout_s,
        retries=transport.retries,
        backoff_s=transport.backoff_s,
    )


def local_model(
    backend: LocalBackend,
    model_path: str,
    *,
    spec: str | None = None,
    batch_size: int = 8,
    threads: int = 0,
    tensor_parallel_size: int = 1,
    seed: int = 0,
    gpu_memory_utilization: float = 0.9,  # vLLM's own default: one engine, the GPU to itself
    dtype: InferenceDtype = "auto",
) -> LocalModel:
    """A model run in this process: the teacher of generate, the answerer of evaluate, the
    model behind serve and chat."""
    if backend == "transformers":
        from taxon.backends.transformers import TransformersTeacher

        return TransformersTeacher(model_path, spec=spec, batch_size=batch_size, threads=threads, dtype=dtype)
    from taxon.backends.vllm import VLLMTeacher

    return VLLMTeacher(
        model_path,
        spec=spec,
        tensor_parallel_size=tensor_parallel_size,
        seed=seed,
        gpu_memory_utilization=gpu_memory_utilization,
        dtype=dtype,
    )
