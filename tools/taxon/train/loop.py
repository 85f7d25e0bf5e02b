"""The optimizer loop: packed rows through the model, loss on assistant tokens only,
gradient accumulation over a step's rows, checkpoints every N steps and on SIGTERM.

The loss of a step is the sum of the cross-entropy over every trained token of the step,
on all ranks, divided by their count (known from the plan, so no rank waits for another to
learn it). FSDP averages gradients over ranks, so each rank scales its part by the world size.
"""

from __future__ import annotations

import contextlib
import math
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import taxon.train.checkpoint as checkpoint
from taxon.core.errors import TaxonError
from taxon.core.progress import Task, tracker
from taxon.core.settings import Autocast, TrainSettings
from taxon.train.data import IGNORE, Encoded, TrainingSet
from taxon.train.distributed import Context, all_sums, set_gradient_sync
from taxon.train.packing import Plan, rank_share, row_arrays, row_mask

EXIT_PREEMPTED = 75  # EX_TEMPFAIL: stopped by SIGTERM after saving a checkpoint; rerun to resume


class Preempted(TaxonError):
    exit_code = EXIT_PREEMPTED


@dataclass
class LoopResult:
    log: list[dict[str, Any]] = field(default_factory=list)  # one row per optimizer step, from step 1
    real_tokens: int = 0  # sample tokens run in this session, all ranks
    computed_tokens: int = 0  # sample tokens run in this session, with rows repeated to even out ranks
    elapsed_s: float = 0.0
    resumed_from: int = 0
    shared_prefix: int = 0  # prompt tokens each row held once for all its samples


class StopFlag:
    """Set by SIGTERM (a preemption notice); the loop checks it between steps."""

    def __init__(self) -> None:
        self.raised = False

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopFlag]:
        def handler(signum: int, frame: object) -> None:
            self.raised = True

        try:
            previous = signal.signal(signal.SIGTERM, handler)
        except ValueError:  # not the main thread: nobody can deliver the signal here anyway
            yield self
            return
        try:
            yield self
        finally:
            signal.signal(signal.SIGTERM, previous)


def lr_factor(step: int, total: int, warmup: int, schedule: str) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * progress))
    if schedule == "linear":
        return 1 - progress
    return 1.0


def make_optimizer(model: Any, settings: TrainSettings, total_steps: int) -> tuple[Any, Any]:
    import torch

    parameters = [p for p in model.parameters() if p.requires_grad]
    # on a CPU the fused kernel: a full fine-tuning step of SmolLM2-135M's optimizer took 0.06 s
    # against 0.4-0.5 s per-tensor (a tenth of the demo's training time); GPUs keep torch's default
    on_cpu = all(p.device.type == "cpu" for p in parameters)
    optimizer = torch.optim.AdamW(
        parameters,
        lr=settings.learning_rate,
        weight_decay=settings.weight_decay,
        fused=True if on_cpu else None,
    )
    warmup = round(settings.warmup_share * total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, warmup, settings.lr_schedule)
    )
    return optimizer, scheduler


def resolved_autocast(setting: Autocast, device_type: str) -> Autocast:
    """What training computes in, "bf16" or "none". "auto": bf16 on a GPU that has it and on a
    CPU that computes bfloat16 natively (AVX512-BF16, AMX: 1.5x float32's tokens/s on the demo
    here); none on an AVX2-only CPU, where bfloat16 is emulated and a step ran 8x slower."""
    import torch

    if setting != "auto":
        return setting
    if device_type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "none"
    from taxon.backends.transformers import native_cpu_bfloat16

    return "bf16" if native_cpu_bfloat16() else "none"


def _autocast(autocast: Autocast, context: Context) -> contextlib.AbstractContextManager[Any]:
    import torch

    if autocast == "bf16":
        autocast_bf16: contextlib.AbstractContextManager[Any] = torch.autocast(
            context.device.type, dtype=torch.bfloat16
        )
        return autocast_bf16
    return contextlib.nullcontext()


def row_loss(
    model: Any,
    row: tuple[int, ...],
    training_set: TrainingSet,
    autocast: Autocast,
    context: Context,
    shared_prefix: int = 0,
) -> tuple[Any, int]:
    """Summed cross-entropy over the row's trained tokens, and the row's sample tokens (each
    sample counted whole, its shared prefix included). Logits are computed only at the trained
    positions (logits_to_keep), which saves most of the vocabulary projection."""
    import torch
    import torch.nn.functional as F

    input_ids, positions, targets = row_arrays(row, training_set.samples, shared_prefix)
    targets_tensor = torch.tensor(targets, device=context.device)
    keep = (targets_tensor != IGNORE).nonzero().squeeze(1)
    mask = row_mask(positions, shared_prefix)
    with _autocast(autocast, context):
        logits = model(
            input_ids=torch.tensor([input_ids], device=context.device),
            position_ids=torch.tensor([positions], device=context.device),
            attention_mask=None if mask is None else mask.to(context.device),
            use_cache=False,
            logits_to_keep=keep,
        ).logits
    loss = F.cross_entropy(logits[0].float(), targets_tensor[keep], reduction="sum")
    return loss, sum(len(training_set.samples[i]) for i in row)


def held_out_loss(model: Any, samples: list[Encoded], autocast: Autocast, context: Context) -> float | None:
    """Cross-entropy per answer token over the held-out rows (TensorBoard's eval/loss), in eval
    mode: dropout off, no random draw, so training goes on exactly as without it."""
    import torch

    if not samples:
        return None
    held_out = TrainingSet(samples, "", {})
    model.eval()
    total = 0.0
    with torch.no_grad():
        for index in range(len(samples)):
            loss, _ = row_loss(model, (index,), held_out, autocast, context)
            total += loss.item()
    model.train()
    return total / sum(sample.target_count for sample in samples)


def _grad_norm(total: Any) -> float:
    """clip_grad_norm_'s total norm as a number (a DTensor's under FSDP)."""
    return float(total.full_tensor() if hasattr(total, "full_tensor") else total)


def shared_prompt_prefix(model: Any, training_set: TrainingSet, settings: TrainSettings) -> int:
    """The prompt prefix rows hold once (train.share_prompt_prefix) where the attention takes a
    mask: sdpa; flash attention keeps packed samples apart by their position ids alone."""
    if not settings.share_prompt_prefix or model.config._attn_implementation != "sdpa":
        return 0
    return training_set.prompt_prefix


@contextmanager
def _progress(total: int, start: int, enabled: bool) -> Iterator[Task | None]:
    if not enabled:
        yield None
        return
    with tracker() as steps:
        yield steps.task("training", total=total, completed=start, loss="-", speed="-")


@dataclass(frozen=True)
class Trainee:
    """The model being trained with its optimizer and learning-rate schedule."""

    model: Any
    optimizer: Any
    scheduler: Any


@dataclass(frozen=True)
class Checkpointing:
    """Where a run's checkpoints go, the run they belong to, and whether to resume from them."""

    root: Path
    run_key: str  # stored in every checkpoint: only a checkpoint of the same run is resumed
    resume: bool
    every: int  # optimizer steps between checkpoints; 0: only on SIGTERM
    keep: int

    def save(self, step: int, trainee: Trainee, log: list[dict[str, Any]], context: Context) -> None:
        state = {"run_key": self.run_key, "log": log}
        checkpoint.save(self.root, step, trainee.model, trainee.optimizer, trainee.scheduler, state, context, self.keep)

    def restore(self, trainee: Trainee, context: Context) -> dict[str, Any] | None:
        """The saved state of the newest checkpoint of this run, loaded into `trainee`; None
        when not resuming or there is none."""
        found = checkpoint.latest(self.root, self.run_key) if self.resume else None
        if found is None:
            return None
        return checkpoint.load(found, trainee.model, trainee.optimizer, trainee.scheduler, context)


def run(
    model: Any,
    training_set: TrainingSet,
    plan: Plan,
    settings: TrainSettings,
    context: Context,
    checkpoints: Checkpointing,
    show_progress: bool,
    tensorboard_dir: Path | None = None,
) -> LoopResult:
    """Train through the plan from the newest checkpoint of this run (when resuming) to the end.
    Each step's log row goes to TensorBoard as it is made (`tensorboard_dir`, on the main
    process); the eval loss on the held-out rows is measured at the end of each epoch."""
    import torch

    from taxon.train.outputs import TensorBoardLog

    trainee = Trainee(model, *make_optimizer(model, settings, plan.total_steps))
    result = LoopResult()
    if saved := checkpoints.restore(trainee, context):
        result.resumed_from, result.log = saved["step"], saved["log"]
    else:
        torch.manual_seed(settings.seed + context.rank)  # dropout differs per rank
    result.shared_prefix = shared_prompt_prefix(model, training_set, settings)
    model.train()
    started = time.perf_counter()
    board = TensorBoardLog(tensorboard_dir if context.is_main else None, result.log)
    with (
        StopFlag().installed() as stop,
        _progress(plan.total_steps, result.resumed_from, show_progress and context.is_main) as task,
        contextlib.closing(board),
    ):
        for step in range(result.resumed_from, plan.total_steps):
            lr = trainee.optimizer.param_groups[0]["lr"]
            loss_sum, grad_norm = _optimizer_step(
                trainee, training_set, plan.steps[step], plan.step_targets[step], settings, context, result
            )
            elapsed = time.perf_counter() - started
            # one collective: the step's loss, the tokens so far, and whether any rank got SIGTERM
            loss_total, tokens_so_far, stops = all_sums([loss_sum, result.real_tokens, stop.raised], context)
            entry = {
                "step": step + 1,
                "epoch": plan.step_epochs[step],
                "loss": loss_total / plan.step_targets[step],
                "lr": lr,
                "tokens": sum(len(training_set.samples[i]) for row in plan.steps[step] for i in row),
                "grad_norm": grad_norm,
                "elapsed_s": round(elapsed, 3),
            }
            done = step + 1 == plan.total_steps
            if done or plan.step_epochs[step + 1] != plan.step_epochs[step]:
                entry["eval_loss"] = held_out_loss(model, training_set.held_out, settings.autocast, context)
            result.log.append(entry)
            board.add(entry)
            if task:
                speed = f"{tokens_so_far / elapsed:,.0f} tok/s" if elapsed else "-"
                task.advance(loss=f"{entry['loss']:.4f}", speed=speed)
            stopping = stops > 0
            if not done and (stopping or (checkpoints.every > 0 and (step + 1) % checkpoints.every == 0)):
                checkpoints.save(step + 1, trainee, result.log, context)
            if stopping and not done:
                raise Preempted(
                    f"stopped by SIGTERM after step {step + 1} of {plan.total_steps}; checkpoint saved",
                    hint="rerun the same command to resume",
                )
    result.elapsed_s = time.perf_counter() - started
    totals = all_sums([result.real_tokens, result.computed_tokens], context)
    result.real_tokens, result.computed_tokens = (int(total) for total in totals)
    return result


def _optimizer_step(
    trainee: Trainee,
    training_set: TrainingSet,
    rows: list[tuple[int, ...]],
    target_tokens: int,
    settings: TrainSettings,
    context: Context,
    result: LoopResult,
) -> tuple[float, float]:
    """One optimizer step over this rank's share of the step's rows, the loss scaled by the
    step's trained tokens on all ranks; returns this rank's loss sum and the gradient norm
    before clipping (HF Trainer's grad_norm), and counts its tokens into `result`."""
    import torch

    model = trainee.model
    share = rank_share(rows, context.rank, context.world)
    loss_sum = 0.0
    for index, (row, weight) in enumerate(share):
        set_gradient_sync(model, index == len(share) - 1, context)
        loss, length = row_loss(model, row, training_set, settings.autocast, context, result.shared_prefix)
        (loss * (weight * context.world / target_tokens)).backward()
        loss_sum += loss.item() * weight
        result.computed_tokens += length
        result.real_tokens += length if weight else 0
    # an infinite limit scales by 1.0: the norm measured, no clipping
    limit = settings.max_grad_norm if settings.max_grad_norm > 0 else math.inf
    total_norm = torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], limit)
    trainee.optimizer.step()
    trainee.scheduler.step()
    trainee.optimizer.zero_grad(set_to_none=True)
    return loss_sum, _grad_norm(total_norm)
