"""What a training run leaves behind, in Hugging Face layout and without pickle:
adapter/ (LoRA runs), model/ (merged, with tokenizer and chat template), train_log.jsonl,
loss.png, tensorboard/ (when the `tensorboard` extra is installed) and result.json (written
last: its presence means the run is complete)."""

from __future__ import annotations

import importlib.util
import io
import time
from pathlib import Path
from typing import Any

from taxon.core.store import atomic_dir, atomic_write_bytes, atomic_write_json, atomic_write_jsonl
from taxon.qna.layout import (
    ADAPTER_DIR,
    LOSS_PLOT_NAME,
    MODEL_DIR,
    TENSORBOARD_DIR,
    TRAIN_LOG_NAME,
    TRAIN_RESULT_NAME,
)


def save_models(model: Any, tokenizer: Any, out_dir: Path, base_model: str, save_dtype: Any) -> None:
    """The adapter (when LoRA) and the merged model, each folder moved into place whole."""
    out_dir = Path(out_dir)
    if hasattr(model, "merge_and_unload"):
        model.peft_config["default"].base_model_name_or_path = base_model
        with atomic_dir(out_dir / ADAPTER_DIR) as folder:
            model.save_pretrained(folder)
        model = model.merge_and_unload()
    model = model.to(save_dtype)
    model.config.use_cache = True  # the merged model is for generation
    with atomic_dir(out_dir / MODEL_DIR) as folder:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)


def write_log(out_dir: Path, rows: list[dict[str, Any]]) -> None:
    atomic_write_jsonl(Path(out_dir) / TRAIN_LOG_NAME, rows)


def write_tensorboard(out_dir: Path, rows: list[dict[str, Any]]) -> bool:
    """The log as TensorBoard scalars (train/loss, train/learning_rate, train/tokens, train/epoch,
    the tags HF Trainer writes) in tensorboard/, written whole from the finished log so a resumed
    run has no doubled steps; False when tensorboard isn't installed."""
    if importlib.util.find_spec("tensorboard") is None:
        return False
    from torch.utils.tensorboard import SummaryWriter

    started = time.time() - (rows[-1]["elapsed_s"] if rows else 0.0)
    with atomic_dir(Path(out_dir) / TENSORBOARD_DIR) as folder:
        writer = SummaryWriter(log_dir=str(folder))
        for row in rows:
            for tag, key in (("loss", "loss"), ("learning_rate", "lr"), ("tokens", "tokens"), ("epoch", "epoch")):
                writer.add_scalar(f"train/{tag}", row[key], row["step"], walltime=started + row["elapsed_s"])
        writer.close()
    return True


def plot_loss(out_dir: Path, rows: list[dict[str, Any]], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4), dpi=100)
    steps = [row["step"] for row in rows]
    losses = [row["loss"] for row in rows]
    axes.plot(steps, losses, linewidth=1, label="loss per step")
    window = max(1, len(rows) // 20)
    if window > 1:
        trailing = [losses[max(0, i - window + 1) : i + 1] for i in range(len(losses))]
        axes.plot(steps, [sum(part) / len(part) for part in trailing], linewidth=2, label=f"mean of {window} steps")
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("loss (assistant tokens)")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    atomic_write_bytes(Path(out_dir) / LOSS_PLOT_NAME, buffer.getvalue())


def write_result(out_dir: Path, result: dict[str, Any]) -> None:
    atomic_write_json(Path(out_dir) / TRAIN_RESULT_NAME, result)
