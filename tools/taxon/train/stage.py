"""Training: fine-tune a base model on the generated samples, the seed examples and an optional
replay set, with LoRA (default) or all weights, on one process or many under `torchrun`
(FSDP2). See `train()`; the output layout is in taxon.train.outputs.

Multi-GPU / multi-node: `torchrun --nproc_per_node 8 [--nnodes N ...] -m taxon train ...`.
"""

from __future__ import annotations

import json
import resource
import shutil
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taxon.core.settings import Config, TrainSettings, plain
from taxon.core.store import hash_value
from taxon.qna.layout import ADAPTER_DIR, MODEL_DIR, TENSORBOARD_DIR, TRAIN_LOG_NAME, TRAIN_RESULT_NAME
from taxon.qna.taxonomy import Leaf

if TYPE_CHECKING:
    from taxon.train.data import TrainingSet
    from taxon.train.distributed import Context
    from taxon.train.loop import LoopResult
    from taxon.train.packing import Plan

# Settings that change how a run goes, not what it computes: a checkpoint stays valid across them.
RUNTIME_KEYS = ("threads", "resume", "checkpoint_every", "keep_checkpoints", "share_prompt_prefix")


@dataclass(frozen=True)
class TrainResult:
    out_dir: Path
    model_dir: Path
    adapter_dir: Path | None  # None for full fine-tuning
    steps: int
    tokens: int
    real_token_fraction: float
    final_loss: float
    dataset_hash: str
    summary: dict[str, Any]  # the contents of result.json

    @classmethod
    def from_summary(cls, out_dir: Path, summary: dict[str, Any]) -> TrainResult:
        out_dir = Path(out_dir)
        return cls(
            out_dir=out_dir,
            model_dir=out_dir / MODEL_DIR,
            adapter_dir=out_dir / ADAPTER_DIR if summary["config"]["method"] == "lora" else None,
            steps=summary["steps"],
            tokens=summary["tokens"],
            real_token_fraction=summary["real_token_fraction"],
            final_loss=summary["final_loss"],
            dataset_hash=summary["dataset_hash"],
            summary=summary,
        )


def computing_settings(settings: TrainSettings) -> dict[str, Any]:
    """The [train] keys that change what a run computes (all but RUNTIME_KEYS), as plain values."""
    return {key: value for key, value in plain(settings).items() if key not in RUNTIME_KEYS}


def _run_key(dataset_hash: str, base_model: str, settings: TrainSettings) -> str:
    return hash_value({"dataset": dataset_hash, "base": base_model, "train": computing_settings(settings)})


def _finished(out_dir: Path, run_key: str) -> dict[str, Any] | None:
    try:
        summary = json.loads((out_dir / TRAIN_RESULT_NAME).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return summary if summary.get("run_key") == run_key and (out_dir / MODEL_DIR).is_dir() else None


def _peak_memory_mb(context: Context) -> float:
    import torch

    if context.device.type == "cuda":
        return float(torch.cuda.max_memory_allocated(context.device)) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _model_for_saving(model: Any, base_model: str, settings: TrainSettings, context: Context) -> Any:
    """The trained model as a plain module on rank 0 (None elsewhere). LoRA: the adapter
    weights on a fresh base in its stored dtype, so the merge happens at full precision;
    full: the weights themselves, gathered in full (a collective) when sharded."""
    from taxon.train.model import build, stored_dtype, trained_weights

    if not (settings.method == "lora" or context.sharded):
        return model
    weights = trained_weights(model)
    if not context.is_main:
        return None
    fresh = build(base_model, settings, "cpu", dtype=stored_dtype(base_model))
    unexpected = fresh.load_state_dict(weights, strict=False).unexpected_keys
    if unexpected:
        raise RuntimeError(f"trained weights the fresh model lacks: {unexpected[:3]}")
    return fresh


def train(
    dataset_dir: Path,
    leaves: list[Leaf],
    base_model: str,
    out_dir: Path,
    config: Config,
    replay: Path | None = None,
    quiet: bool = False,
    tensorboard: bool = False,
) -> TrainResult:
    """Fine-tune `base_model` (a local folder or Hugging Face id) on the generated samples under
    dataset_dir, the leaves' seed examples and the replay rows, minus held-out rows.
    Resumes from the newest checkpoint of the same run under out_dir unless train.resume is
    false; a run that already finished returns its result without training again.
    Raises Preempted (exit code EXIT_PREEMPTED) after saving a checkpoint on SIGTERM.
    `tensorboard`: a finished run's TensorBoard events are written anew from its log (a run
    writes them live as it trains)."""
    import torch

    import taxon.train.distributed as distributed
    from taxon.train.checkpoint import CHECKPOINTS_NAME
    from taxon.train.data import build_training_set
    from taxon.train.loop import Checkpointing, resolved_autocast, run
    from taxon.train.model import build, load_tokenizer

    # peft asks transformers a deprecated question on every load; the warning is theirs to fix.
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    out_dir = Path(out_dir)
    context = distributed.setup()
    try:
        # what "auto" means on this machine, before the run key: a run is keyed by what it computes
        settings = replace(config.train, autocast=resolved_autocast(config.train.autocast, context.device.type))
        if quiet or not context.is_main:
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()
        if settings.threads > 0:
            torch.set_num_threads(settings.threads)
        tokenizer = load_tokenizer(base_model)
        training_set = build_training_set(dataset_dir, leaves, replay, tokenizer, config)
        plan = _plan(training_set, settings)
        run_key = _run_key(training_set.dataset_hash, base_model, settings)
        if settings.resume and (summary := _finished(out_dir, run_key)):
            if tensorboard and context.is_main:
                _rewrite_tensorboard(out_dir)
            return TrainResult.from_summary(out_dir, summary)
        model = build(base_model, settings, context.device.type)
        model.to(context.device)
        if context.sharded:
            distributed.shard_model(model, context)
        checkpoints = Checkpointing(
            out_dir / CHECKPOINTS_NAME, run_key, settings.resume, settings.checkpoint_every, settings.keep_checkpoints
        )
        result = run(model, training_set, plan, settings, context, checkpoints, not quiet, out_dir / TENSORBOARD_DIR)
        final = _model_for_saving(model, base_model, settings, context)
        if context.is_main:
            summary = _summary(base_model, run_key, training_set, plan, result, settings, context)
            _write_outputs(out_dir, final, tokenizer, base_model, result.log, summary)
            shutil.rmtree(checkpoints.root, ignore_errors=True)  # the run is complete
            if not quiet:
                _print_summary(summary)
        distributed.barrier(context)
        return TrainResult.from_summary(out_dir, json.loads((out_dir / TRAIN_RESULT_NAME).read_text(encoding="utf-8")))
    finally:
        distributed.teardown(context)


def _rewrite_tensorboard(out_dir: Path) -> None:
    from taxon.core.errors import MissingExtra
    from taxon.core.store import read_jsonl
    from taxon.train.outputs import write_tensorboard

    if not write_tensorboard(out_dir, read_jsonl(out_dir / TRAIN_LOG_NAME)):
        raise MissingExtra("tensorboard", "tensorboard")


def _plan(training_set: TrainingSet, settings: TrainSettings) -> Plan:
    from taxon.train.packing import plan_epochs

    plan = plan_epochs(
        training_set.samples, settings.pack_tokens, settings.rows_per_step, settings.epochs, settings.seed
    )
    return plan.first(settings.max_steps) if settings.max_steps > 0 else plan


def _summary(
    base_model: str,
    run_key: str,
    training_set: TrainingSet,
    plan: Plan,
    result: LoopResult,
    settings: TrainSettings,
    context: Context,
) -> dict[str, Any]:
    from taxon.train.packing import fill_fraction

    return {
        "base_model": base_model,
        "run_key": run_key,
        "steps": plan.total_steps,
        "epochs": settings.epochs,
        "tokens": sum(row["tokens"] for row in result.log),
        "target_tokens": sum(plan.step_targets),
        "real_token_fraction": result.real_tokens / max(1, result.computed_tokens),
        "pack_fill": fill_fraction(plan, training_set.samples, settings.pack_tokens),
        "shared_prefix_tokens": result.shared_prefix,
        "final_loss": result.log[-1]["loss"],
        "dataset_hash": training_set.dataset_hash,
        "samples": training_set.counts,
        "config": plain(settings),
        "method": settings.method,
        "world_size": context.world,
        "device": context.device.type,
        "resumed_from_step": result.resumed_from,
        "elapsed_s": round(result.elapsed_s, 3),
        "tokens_per_s": result.real_tokens / result.elapsed_s if result.elapsed_s else 0.0,
        "peak_memory_mb": round(_peak_memory_mb(context), 1),
    }


def _write_outputs(
    out_dir: Path, model: Any, tokenizer: Any, base_model: str, log: list[dict[str, Any]], summary: dict[str, Any]
) -> None:
    from taxon.train.model import stored_dtype
    from taxon.train.outputs import plot_loss, save_models, write_log, write_result

    save_models(model, tokenizer, out_dir, base_model, stored_dtype(base_model))
    write_log(out_dir, log)
    plot_loss(out_dir, log, f"{summary['method']} on {Path(base_model).name}")
    write_result(out_dir, summary)


def _print_summary(summary: dict[str, Any]) -> None:
    from taxon.core.progress import console

    samples = summary["samples"]
    console(stderr=True).print(
        f"trained {summary['steps']} steps on {samples['used']} samples "
        f"({samples['trimmed']} trimmed, {sum(samples['dropped'].values())} dropped, {samples['held_out']} held out): "
        f"final loss {summary['final_loss']:.4f}, real tokens {summary['real_token_fraction']:.1%} "
        f"(rows {summary['pack_fill']:.1%} full), {summary['tokens_per_s']:,.0f} tokens/s, "
        f"peak memory {summary['peak_memory_mb']:,.0f} MB"
    )
