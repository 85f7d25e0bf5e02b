"""The multiple-choice sets as lm-evaluation-harness tasks (a YAML file and its JSONL data per
set, `output_type: multiple_choice`, a local JSON dataset) in the eval folder, and, with
`evaluate.lm_eval = true`, a run of them through the `lm-eval` package on each local model:
the same questions scored by the harness everyone else uses, next to our own figure."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from taxon.core.errors import MissingExtra, UsageError
from taxon.core.settings import EvaluateSettings
from taxon.core.store import atomic_write_jsonl, atomic_write_text
from taxon.evaluate.items import KNOWLEDGE, PROBE, EvalSet
from taxon.evaluate.sets import is_user_set

TASK_PREFIX = "taxon_"
KNOWLEDGE_GROUP = "taxon_knowledge"  # every knowledge leaf's task, weighted by size: the report's knowledge total


def task_name(set_id: str) -> str:
    return TASK_PREFIX + re.sub(r"\W+", "_", set_id).strip("_")


def task_config(name: str, data_file: str) -> dict[str, Any]:
    """A task over a JSONL file: `data_file` absolute here, relative to the bundle in a bundle
    (lm-eval hands it to `datasets`, which reads a relative path from the working folder)."""
    return {
        "task": name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": data_file}},
        "test_split": "test",
        "output_type": "multiple_choice",
        "doc_to_text": "{{question}}",
        "doc_to_choice": "choices",
        "doc_to_target": "gold",
        "target_delimiter": "",
        "metric_list": [
            {"metric": "acc", "aggregation": "mean", "higher_is_better": True},
            {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True},
        ],
        "metadata": {"version": 1.0},
    }


def write_harness_tasks(eval_sets: list[EvalSet], folder: Path) -> dict[str, str]:
    """set id -> task name, for every multiple-choice set with items; files in `folder`."""
    tasks = {}
    for eval_set in eval_sets:
        if eval_set.kind not in (KNOWLEDGE, PROBE) or not eval_set.items:
            continue
        name = task_name(eval_set.set_id)
        data_file = Path(folder) / f"{name}.jsonl"
        rows = [
            {"id": item.id, "question": item.question, "choices": list(item.choices), "gold": item.gold}
            for item in eval_set.items
        ]
        atomic_write_jsonl(data_file, rows)
        config = task_config(name, str(data_file.resolve()))
        atomic_write_text(Path(folder) / f"{name}.yaml", yaml.safe_dump(config, sort_keys=False))
        tasks[eval_set.set_id] = name
    knowledge = [
        tasks[s.set_id] for s in eval_sets if s.kind == KNOWLEDGE and s.set_id in tasks and not is_user_set(s.set_id)
    ]
    if knowledge:
        atomic_write_text(
            Path(folder) / f"{KNOWLEDGE_GROUP}.yaml", yaml.safe_dump(group_config(knowledge), sort_keys=False)
        )
    return tasks


def group_config(tasks: list[str]) -> dict[str, Any]:
    """The knowledge leaves' tasks as one group whose acc is the report's knowledge total."""
    return {
        "group": KNOWLEDGE_GROUP,
        "task": tasks,
        "aggregate_metric_list": [
            {"metric": metric, "aggregation": "mean", "weight_by_size": True} for metric in ("acc", "acc_norm")
        ],
        "metadata": {"version": 1.0},
    }


def _simple_evaluate(
    path: str,
    tasks: list[str],
    manager: Any,
    settings: EvaluateSettings,
    dtype: str,
    chat_template: bool,
    limit: int | None,
) -> Any:
    """lm_eval.simple_evaluate on one local model folder: model `hf` (vLLM's own with
    evaluate.backend = vllm)."""
    import lm_eval
    import torch

    if not Path(path).is_dir():
        raise UsageError(f"lm-eval runs on local model folders, not '{path}'", hint="evaluate a model folder")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    vllm = settings.backend == "vllm"
    model_args = {"pretrained": str(path), "dtype": dtype}
    if not vllm:
        model_args["device"] = device
    return lm_eval.simple_evaluate(
        model="vllm" if vllm else "hf",
        model_args=model_args,
        tasks=tasks,
        task_manager=manager,
        batch_size=settings.batch_size if not vllm else "auto",
        apply_chat_template=chat_template,
        limit=limit,
        log_samples=False,
    )


def _task_manager(include_path: str | None) -> Any:
    try:
        from lm_eval.tasks import TaskManager
    except ImportError:
        raise MissingExtra("lm_eval", "train") from None
    return TaskManager(include_path=include_path)


def run_harness(
    tasks: dict[str, str], folder: Path, model_paths: dict[str, str], settings: EvaluateSettings
) -> dict[str, Any]:
    """model -> set id -> {"acc", "acc_norm"} from `lm_eval.simple_evaluate` (model `hf`,
    the chat template applied as our own scoring does, float32 as the transformers backend)."""
    if not tasks:
        return {}
    manager = _task_manager(str(Path(folder).resolve()))
    results = {}
    for model, path in model_paths.items():
        output = _simple_evaluate(
            path, list(tasks.values()), manager, settings, "float32", chat_template=True, limit=None
        )
        results[model] = {
            set_id: {
                "acc": output["results"][name]["acc,none"],
                "acc_norm": output["results"][name]["acc_norm,none"],
            }
            for set_id, name in tasks.items()
        }
    return results


def run_benchmarks(model_paths: dict[str, str], settings: EvaluateSettings, dtype: str) -> dict[str, Any]:
    """evaluate.benchmarks: tasks of lm-evaluation-harness's own registry (mmlu, arc_easy,
    hellaswag ..., their data fetched from the Hugging Face Hub by the harness; more task
    folders with evaluate.benchmark_include_path), scored as the harness scores them (its
    prompts and few-shot settings, no chat template) on each model: model -> task -> metric ->
    value, with the tasks and the per-task limit."""
    tasks = list(settings.benchmarks)
    manager = _task_manager(settings.benchmark_include_path or None)
    unknown = [task for task in tasks if task not in manager.all_tasks]
    if unknown:
        raise UsageError(
            f"evaluate.benchmarks names tasks lm-evaluation-harness does not have: {', '.join(unknown)}",
            hint="see `lm_eval --tasks list`; a folder of your own task files goes in evaluate.benchmark_include_path",
        )
    limit = settings.benchmark_limit or None
    results = {}
    for model, path in model_paths.items():
        output = _simple_evaluate(path, tasks, manager, settings, dtype, chat_template=False, limit=limit)
        results[model] = {
            task: {
                metric.removesuffix(",none"): value
                for metric, value in figures.items()
                if isinstance(value, int | float)
                and not isinstance(value, bool)
                and "stderr" not in metric
                and metric != "alias"
            }
            for task, figures in output["results"].items()
        }
    return {"tasks": tasks, "limit": limit, "results": results}
