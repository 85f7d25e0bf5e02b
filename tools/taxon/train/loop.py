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

from taxon.core.errors import TaxonError, UsageError
from taxon.core.progress import Task, tracker
from taxon.train import checkpoint
from taxon.train.data import IGNORE, TrainingSet
from taxon.train.distributed import Context, all_sums, set_gradient_sync
from taxon.train.packing import Plan, rank_share, row_arrays, row_mask

EXIT_PREEMPTED = 75  # EX_TEMPFAIL: stopped by SIGTERM after saving a checkpoint; rerun to resume
SCHEDULES = ("cosine", "linear", "constant")


class Preempted(TaxonError):
    exit_code = EXIT_PREEMPTED


@dataclass
class LoopResult:
    log: list[dict] = field(default_factory=list)  # one row per optimizer step, from step 1
    real_tokens: int = 0  # sample tokens run in this session, all ranks
    computed_tokens: int = 0  # sample tokens run in this session, with rows repeated to even out ranks
    elapsed_s: float = 0.0
    resumed_from: int = 0
    shared_prefix: int = 0  # prompt tokens each row held once for all its samples


class StopFlag:
    """Set by SIGTERM (a preemption notice); the loop checks it between steps."""

    def __init__(self):
        self.raised = False

    @contextlib.contextmanager
    def installed(self):
        def handler(signum, frame):
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


def make_optimizer(model, train_config: dict, total_steps: int):
    import torch

    schedule = train_config["lr_schedule"]
    if schedule not in SCHEDULES:
        raise TaxonError(f"train.lr_schedule must be one of {', '.join(SCHEDULES)}, not '{schedule}'")
    parameters = [p for p in model.parameters() if p.requires_grad]
    # on a CPU the fused kernel: a full fine-tuning step of SmolLM2-135M's optimizer took 0.06 s
    # against 0.4-0.5 s per-tensor (a tenth of the demo's training time); GPUs keep torch's default
    on_cpu = all(p.device.type == "cpu" for p in parameters)
    optimizer = torch.optim.AdamW(
        parameters,
        lr=float(train_config["learning_rate"]),
        weight_decay=float(train_config["weight_decay"]),
        fused=True if on_cpu else None,
    )
    warmup = round(float(train_config["warmup_share"]) * total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, warmup, schedule)
    )
    return optimizer, scheduler


AUTOCAST = ("auto", "bf16", "none")


def resolved_autocast(setting: str, device_type: str) -> str:
    """What training computes in, "bf16" or "none". "auto": bf16 on a GPU that has it and on a
    CPU that computes bfloat16 natively (AVX512-BF16, AMX: 1.5x float32's tokens/s on the demo
    here); none on an AVX2-only CPU, where bfloat16 is emulated and a step ran 8x slower."""
    import torch

    if setting not in AUTOCAST:
        raise UsageError(f"train.autocast must be one of {', '.join(AUTOCAST)}, not '{setting}'")
    if setting != "auto":
        return setting
    if device_type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "none"
    from taxon.backends.transformers import native_cpu_bfloat16

    return "bf16" if native_cpu_bfloat16() else "none"


def _autocast(train_config: dict, context: Context):
    import torch

    if train_config["autocast"] == "bf16":
        return torch.autocast(context.device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def row_loss(
    model, row: tuple[int, ...], training_set: TrainingSet, train_config: dict, context: Context, shared_prefix: int = 0
):
    """Summed cross-entropy over the row's trained tokens, and the row's sample tokens (each
    sample counted whole, its shared prefix included). Logits are computed only at the trained
    positions (logits_to_keep), which saves most of the vocabulary projection."""
    import torch
    import torch.nn.functional as F

    input_ids, positions, targets = row_arrays(row, training_set.samples, shared_prefix)
    targets_tensor = torch.tensor(targets, device=context.device)
    keep = (targets_tensor != IGNORE).nonzero().squeeze(1)
    mask = row_mask(positions, shared_prefix)
    with _autocast(train_config, context):
        logits = model(
            input_ids=torch.tensor([input_ids], device=context.device),
            position_ids=torch.tensor([positions], device=context.device),
            attention_mask=None if mask is None else mask.to(context.device),
            use_cache=False,
            logits_to_keep=keep,
        ).logits
    loss = F.cross_entropy(logits[0].float(), targets_tensor[keep], reduction="sum")
    return loss, sum(len(training_set.samples[i]) for i in row)


def shared_prompt_prefix(model, training_set: TrainingSet, train_config: dict) -> int:
    """The prompt prefix rows hold once (train.share_prompt_prefix) where the attention takes a
    mask: sdpa; flash attention keeps packed samples apart by their position ids alone."""
    if not train_config["share_prompt_prefix"] or model.config._attn_implementation != "sdpa":
        return 0
    return training_set.prompt_prefix


@contextmanager
def _progress(total: int, start: int, enabled: bool) -> Iterator[Task | None]:
    if not enabled:
        yield None
        return
    with tracker() as steps:
        yield steps.task("training", total=total, completed=start, loss="-", speed="-")


def run(
    model,
    training_set: TrainingSet,
    plan: Plan,
    config: dict,
    context: Context,
    checkpoint_root: Path,
    state: dict,
    resume: bool,
    show_progress: bool,
) -> LoopResult:
    """Train through the plan from the newest matching checkpoint (when resuming) to the end.
    `state` (run_key and anything else to keep) is stored in every checkpoint."""
    import torch

    train_config = config["train"]
    optimizer, scheduler = make_optimizer(model, train_config, plan.total_steps)
    result = LoopResult()
    found = checkpoint.latest(checkpoint_root, state["run_key"]) if resume else None
    if found is not None:
        saved = checkpoint.load(found, model, optimizer, scheduler, context)
        result.resumed_from, result.log = saved["step"], saved["log"]
    else:
        torch.manual_seed(int(train_config["seed"]) + context.rank)  # dropout differs per rank
    every = int(train_config["checkpoint_every"])
    keep = int(train_config["keep_checkpoints"])
    max_grad_norm = float(train_config["max_grad_norm"])
    result.shared_prefix = shared_prompt_prefix(model, training_set, train_config)
    model.train()
    started = time.perf_counter()
    with (
        StopFlag().installed() as stop,
        _progress(plan.total_steps, result.resumed_from, show_progress and context.is_main) as task,
    ):
        for step in range(result.resumed_from, plan.total_steps):
            share = rank_share(plan.steps[step], context.rank, context.world)
            loss_sum = 0.0
            for index, (row, weight) in enumerate(share):
                set_gradient_sync(model, index == len(share) - 1, context)
                loss, length = row_loss(model, row, training_set, train_config, context, result.shared_prefix)
                (loss * (weight * context.world / plan.step_targets[step])).backward()
                loss_sum += loss.item() * weight
                result.computed_tokens += length
                result.real_tokens += length if weight else 0
            if max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], max_grad_norm)
            lr = optimizer.param_groups[0]["lr"]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            elapsed = time.perf_counter() - started
            # one collective: the step's loss, the tokens so far, and whether any rank got SIGTERM
            loss_total, tokens_so_far, stops = all_sums([loss_sum, result.real_tokens, stop.raised], context)
            entry = {
                "step": step + 1,
                "epoch": plan.step_epochs[step],
                "loss": loss_total / plan.step_targets[step],
                "lr": lr,
                "tokens": sum(len(training_set.samples[i]) for row in plan.steps[step] for i in row),
                "elapsed_s": round(elapsed, 3),
            }
            result.log.append(entry)
            if task:
                speed = f"{tokens_so_far / elapsed:,.0f} tok/s" if elapsed else "-"
                task.advance(loss=f"{entry['loss']:.4f}", speed=speed)
            stopping = stops > 0
            done = step + 1 == plan.total_steps
            if not done and (stopping or (every > 0 and (step + 1) % every == 0)):
                checkpoint.save(
                    checkpoint_root, step + 1, model, optimizer, scheduler, {**state, "log": result.log}, context, keep
                )
            if stopping and not done:
                raise Preempted(
                    f"stopped by SIGTERM after step {step + 1} of {plan.total_steps}; checkpoint saved",
                    hint="rerun the same command to resume",
                )
    result.elapsed_s = time.perf_counter() - started
    totals = all_sums([result.real_tokens, result.computed_tokens], context)
    result.real_tokens, result.computed_tokens = (int(total) for total in totals)
    return result
