"""Teacher backends and the factory the pipelines call: `make_teacher(config)`.

The backend is `config["generate"]["backend"]` (transformers | openai | vllm), the model
`config["generate"]["teacher"]`, and the backend's parameters the `[teacher]` table.
Each backend module (and torch, transformers, vllm) is imported only when chosen.
"""

from __future__ import annotations

from pathlib import Path

from taxon.backends.base import ChatRequest, Completion, Messages, Teacher
from taxon.core.errors import UsageError
from taxon.core.store import hash_tree

BACKENDS = ("transformers", "openai", "vllm")
LOCAL_BACKENDS = ("transformers", "vllm")

__all__ = [
    "BACKENDS",
    "ChatRequest",
    "Completion",
    "Messages",
    "Teacher",
    "local_model",
    "make_teacher",
    "teacher_name",
]


def folder_revision(model_path: str) -> str | None:
    """A short hash of a local model folder's files, so a retrained model at the same path
    gets a new teacher name (and caches keyed by it go stale); None for a hub id."""
    path = Path(model_path)
    return hash_tree(path, "*")[:12] if path.is_dir() else None


def local_teacher_name(backend: str, spec: str, model_path: str) -> str:
    """backend:spec@revision, the revision a hash of the local folder (none for a hub id)."""
    revision = folder_revision(model_path)
    return f"{backend}:{spec}" + (f"@{revision}" if revision else "")


def teacher_name(config: dict) -> str:
    """The name make_teacher's teacher will have, without loading a model or reaching an
    endpoint: cache keys need it even when every unit is already done."""
    generate = config.get("generate", {})
    backend, spec = generate.get("backend", "transformers"), generate.get("teacher")
    if not spec:
        raise UsageError(
            "no teacher model is set", hint="set generate.teacher in taxon.toml or --set generate.teacher=..."
        )
    if backend == "openai":
        return f"openai:{spec}"
    from taxon.backends.models import resolve_model

    return local_teacher_name(backend, spec, resolve_model(spec, config))


def make_teacher(config: dict) -> Teacher:
    generate = config.get("generate", {})
    backend = generate.get("backend", "transformers")
    spec = generate.get("teacher")
    params = config.get("teacher", {})
    if not spec:
        raise UsageError(
            "no teacher model is set", hint="set generate.teacher in taxon.toml or --set generate.teacher=..."
        )
    from taxon.backends.models import resolve_model

    if backend == "openai":
        from taxon.backends.openai import OpenAITeacher

        return OpenAITeacher(
            model=spec,
            base_url=params.get("base_url", "http://127.0.0.1:8000/v1"),
            api_key_env=params.get("api_key_env", ""),
            concurrency=params.get("concurrency", 8),
            timeout_s=params.get("timeout_s", 120),
            retries=params.get("retries", 5),
            backoff_s=params.get("backoff_s", 1.0),
        )
    if backend in LOCAL_BACKENDS:
        if backend == "vllm":
            from taxon.backends.vllm import import_vllm

            import_vllm()  # the missing-extra message before any model download
        return local_model(
            backend,
            resolve_model(spec, config),
            spec=spec,
            batch_size=params.get("batch_size", 8),
            threads=params.get("threads", 0),
            tensor_parallel_size=params.get("tensor_parallel_size", 1),
            seed=generate.get("seed", 0),
            dtype=params.get("dtype", "auto"),
        )
    raise UsageError(
        f"unknown teacher backend '{backend}'", hint=f"set generate.backend to one of: {', '.join(BACKENDS)}"
    )


def local_model(
    backend: str,
    model_path: str,
    *,
    spec: str | None = None,
    batch_size: int = 8,
    threads: int = 0,
    tensor_parallel_size: int = 1,
    seed: int = 0,
    gpu_memory_utilization: float = 0.9,
    dtype: str = "auto",
) -> Teacher:
    """A model run in this process: the teacher of generate, the answerer of evaluate, the
    model behind serve and chat."""
    if backend == "transformers":
        from taxon.backends.transformers import TransformersTeacher

        return TransformersTeacher(model_path, spec=spec, batch_size=batch_size, threads=threads, dtype=dtype)
    if backend == "vllm":
        from taxon.backends.vllm import VLLMTeacher

        return VLLMTeacher(
            model_path,
            spec=spec,
            tensor_parallel_size=tensor_parallel_size,
            seed=seed,
            gpu_memory_utilization=gpu_memory_utilization,
            dtype=dtype,
        )
    raise UsageError(f"unknown local backend '{backend}'", hint=f"use one of: {', '.join(LOCAL_BACKENDS)}")
