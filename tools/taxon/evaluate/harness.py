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
from taxon.evaluate.sets import KNOWLEDGE, PROBE, EvalSet, is_user_set

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


def run_harness(
    tasks: dict[str, str], folder: Path, model_paths: dict[str, str], settings: EvaluateSettings
) -> dict[str, Any]:
    """model -> set id -> {"acc", "acc_norm"} from `lm_eval.simple_evaluate` (model `hf`,
    the chat template applied as our own scoring does, float32 as the transformers backend)."""
    if not tasks:
        return {}
    try:
        import lm_eval
        from lm_eval.tasks import TaskManager
    except ImportError:
        raise MissingExtra("lm_eval", "train") from None
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    results = {}
    manager = TaskManager(include_path=str(Path(folder).resolve()))
    for model, path in model_paths.items():
        if not Path(path).is_dir():
            raise UsageError(f"lm-eval runs on local model folders, not '{path}'", hint="set evaluate.lm_eval = false")
        output = lm_eval.simple_evaluate(
            model="hf",
            model_args={"pretrained": str(path), "dtype": "float32", "device": device},
            tasks=list(tasks.values()),
            task_manager=manager,
            batch_size=settings.batch_size,
            apply_chat_template=True,
            log_samples=False,
        )
        results[model] = {
            set_id: {
                "acc": output["results"][name]["acc,none"],
                "acc_norm": output["results"][name]["acc_norm,none"],
            }
            for set_id, name in tasks.items()
        }
    return results
