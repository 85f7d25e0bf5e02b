"""What reproduces the card's multiple-choice figures from the bundle alone: the evaluation's
lm-evaluation-harness tasks in eval/lm_eval/ with their data paths relative to the bundle (the
evaluation wrote them absolute, for its own run), and the command line that scores the
bundle's model on them from the bundle's folder, as the evaluation did (chat template, dtype)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from taxon.core.store import atomic_write_text
from taxon.qna.layout import HARNESS_DIR

BUNDLE_HARNESS_DIR = f"eval/{HARNESS_DIR}"
LM_EVAL_INSTALL = "pip install 'lm_eval[hf]==0.4.13'"


def copy_harness_tasks(eval_dir: Path, bundle: Path) -> list[str]:
    """The task files into bundle/eval/lm_eval/; returns what `--tasks` takes to score every
    set: the knowledge group (its acc is the report's knowledge total) and the tasks outside it."""
    source, target = Path(eval_dir) / HARNESS_DIR, Path(bundle) / BUNDLE_HARNESS_DIR
    if not source.is_dir():
        return []
    tasks: list[str] = []
    grouped: set[str] = set()
    for path in sorted(source.glob("*.yaml")):
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        if "group" in config:
            tasks.insert(0, config["group"])
            grouped.update(config["task"])
        else:
            data = Path(config["dataset_kwargs"]["data_files"]["test"]).name
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / data, target / data)
            config["dataset_kwargs"]["data_files"]["test"] = f"{BUNDLE_HARNESS_DIR}/{data}"
            tasks.append(config["task"])
        atomic_write_text(target / path.name, yaml.safe_dump(config, sort_keys=False))
    return [task for task in tasks if task not in grouped]


def lm_eval_command(tasks: list[str], dtype: str) -> str:
    """The lm-eval command line, run in the bundle's folder, that gives the card's acc."""
    return (
        f"lm_eval --model hf --model_args pretrained=.,dtype={dtype} --include_path {BUNDLE_HARNESS_DIR} "
        f"--tasks {','.join(tasks)} --apply_chat_template --batch_size 16"
    )
