"""Real inputs for the evaluate and publish tests: a taxonomy folder in a git repository,
a generate output folder, a candidate model and a training run (adapter + merged model)."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import yaml

from taxon.core.settings import Config, build_config
from taxon.qna.layout import SAMPLES_NAME, STATS_NAME
from taxon.qna.samples import make_sample
from taxon.qna.taxonomy import leaf_from_data

LEAF_TOPICS = {
    "compositional_skills/writing/polite": ("Make this polite: {}", "Could you please {}?"),
    "compositional_skills/math/doubling": ("What is twice {}?", "Twice {} is double that number."),
}
WORDS = [
    "close the door",
    "send the file",
    "call me back",
    "move the chair",
    "wait here",
    "open the window",
    "check the mail",
    "fix the light",
    "read the note",
    "pass the salt",
]


def make_config(**evaluate_overrides) -> Config:
    evaluate = {
        "backend": "transformers",
        "max_per_leaf": 0,
        "probe_file": "",
        "text_file": "",
        "heldout_max_jaccard": 0.6,
        "lm_eval": False,
        "max_new_tokens": 6,
        "batch_size": 16,
        "n_resamples": 300,
        "confidence": 0.95,
        "seed": 0,
        "gate": {
            "probe_max_drop": 0.05,
            "text_max_loss_rise": 0.1,
            "changed_must_improve": True,
            "changed_min_delta": 0.0,
        },
    }
    evaluate.update(evaluate_overrides)
    tables = {
        "taxonomy": {"root": "taxonomy"},
        "dataset": {"eval_share": 0.5},
        "generate": {"teacher": "scripted", "seed": 42},
        "train": {"seed": 42},
        "evaluate": evaluate,
        "publish": {
            "max_shard_size": "2GB",
            "license": "apache-2.0",
            "base_model_id": "HuggingFaceTB/SmolLM2-135M-Instruct",
            "datasets": [],
            "tags": ["test"],
            "require_passed_gate": True,
            "hub_staging_dir": "",
            "hub_private": False,
        },
    }
    return build_config(tables, "tests/support/runs.py")


KNOWLEDGE_LEAF = "knowledge/sports/quillball"
KNOWLEDGE_DOCUMENT = """# Quillball

Quillball was invented in 1962 by Hector Vane in the town of Morrowfield.
A quillball pitch is 40 metres long and 25 metres wide.
Each team has seven players, and a match lasts 50 minutes.
The ball, called the quill, weighs 180 grams.
The first league, the Morrowfield League, began in 1971.
A goal scores 4 points, and a post hit scores 1 point.
The Vane Cup has been played every two years since 1980.
"""
KNOWLEDGE_SEEDS = [
    ("Who invented quillball?", "Quillball was invented by Hector Vane."),
    ("When was quillball invented?", "Quillball was invented in 1962."),
    ("How long is a quillball pitch?", "A quillball pitch is 40 metres long."),
    ("How many players are in a quillball team?", "A quillball team has seven players."),
    ("How long does a quillball match last?", "A quillball match lasts 50 minutes."),
    ("What is the quillball ball called?", "The quillball ball is called the quill."),
]


def make_knowledge_leaf(root: Path):
    data = {
        "version": 4,
        "created_by": "tests",
        "domain": "sports",
        "document_outline": "Quillball, an invented game",
        "seed_examples": [
            {
                "context": KNOWLEDGE_DOCUMENT.split("\n\n", 1)[1],
                "questions_and_answers": [{"question": q, "answer": a} for q, a in KNOWLEDGE_SEEDS],
            }
        ],
        "document": {"patterns": ["*.md"]},
    }
    path = Path(root) / KNOWLEDGE_LEAF / "qna.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    (path.parent / "document.md").write_text(KNOWLEDGE_DOCUMENT, encoding="utf-8")
    return leaf_from_data(path, data)


def make_taxonomy(root: Path, leaf_ids=tuple(LEAF_TOPICS), knowledge: bool = False) -> list:
    """Leaves on disk (the skill leaves of LEAF_TOPICS, and with `knowledge` the quillball
    leaf and its document), committed in a git repository."""
    leaves = [make_knowledge_leaf(root)] if knowledge else []
    for leaf_id in leaf_ids:
        question, answer = LEAF_TOPICS[leaf_id]
        data = {
            "version": 3,
            "task_description": f"teach {leaf_id}",
            "created_by": "tests",
            "seed_examples": [{"question": question.format(w), "answer": answer.format(w)} for w in WORDS[:6]],
        }
        path = Path(root) / leaf_id / "qna.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        leaves.append(leaf_from_data(path, data))
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "taxonomy"], check=True)
    return leaves


def make_dataset(folder: Path, leaves: list) -> Path:
    """A generate output folder: per leaf samples.jsonl and stats.json, and summary.json."""
    summary = {"leaves": {}, "teacher": "scripted", "config": {}}
    for leaf in leaves:
        if leaf.leaf_id not in LEAF_TOPICS:
            continue
        question, answer = LEAF_TOPICS[leaf.leaf_id]
        samples = [
            make_sample(
                question.format(w.upper()),
                answer.format(w.upper()),
                None,
                {
                    "leaf": leaf.leaf_id,
                    "kind": leaf.kind,
                    "seed": 0,
                    "chunk": None,
                    "teacher": "scripted",
                    "pipeline_version": 1,
                    "judge_score": 5.0,
                    "source": "generated",
                },
            )
            for w in WORDS
        ]
        leaf_dir = Path(folder) / leaf.leaf_id
        leaf_dir.mkdir(parents=True, exist_ok=True)
        (leaf_dir / SAMPLES_NAME).write_text("".join(json.dumps(s) + "\n" for s in samples), encoding="utf-8")
        stats = {
            "leaf": leaf.leaf_id,
            "kind": leaf.kind,
            "generated": len(samples),
            "kept": len(samples),
            "dropped": {},
        }
        (leaf_dir / STATS_NAME).write_text(json.dumps(stats), encoding="utf-8")
        summary["leaves"][leaf.leaf_id] = stats
    (Path(folder) / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return Path(folder)


def make_train_run(folder: Path, base_dir: Path) -> Path:
    """A training run as `taxon train` writes it: a LoRA adapter on the base model, the merged
    model (weights, config, tokenizer, generation config) and result.json."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(folder)
    torch.manual_seed(1)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base_dir),
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )
    model.save_pretrained(folder / "adapter")
    merged = model.merge_and_unload()
    merged.save_pretrained(folder / "model")
    AutoTokenizer.from_pretrained(base_dir).save_pretrained(folder / "model")
    result = {
        "base_model": str(base_dir),
        "steps": 3,
        "tokens": 1200,
        "real_token_fraction": 0.97,
        "final_loss": 1.5,
        "dataset_hash": "0" * 64,
        "config": {"method": "lora"},
    }
    (folder / "result.json").write_text(json.dumps(result), encoding="utf-8")
    (folder / "train_log.jsonl").write_text('{"step": 1, "loss": 2.0}\n', encoding="utf-8")
    return folder


def scripted_scores(n: int, shift: float, seed: int = 1) -> tuple[list[float], list[float]]:
    """Paired score arrays: the candidate is the baseline shifted by `shift`, plus noise."""
    rng = random.Random(seed)
    baseline = [rng.random() for _ in range(n)]
    candidate = [value + shift + rng.gauss(0, 0.05) for value in baseline]
    return candidate, baseline
