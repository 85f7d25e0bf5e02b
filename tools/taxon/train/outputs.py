"""What a training run leaves behind, in Hugging Face layout and without pickle:
adapter/ (LoRA runs), model/ (merged, with tokenizer and chat template), train_log.jsonl,
loss.png, tensorboard/ (when the `tensorboard` extra is installed: written live, step by step)
and result.json (written last: its presence means the run is complete)."""

from __future__ import annotations

import importlib.util
import io
import shutil
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


# log row key -> TensorBoard tag, as HF Trainer names them
TENSORBOARD_TAGS = {
    "loss": "train/loss",
    "lr": "train/learning_rate",
    "grad_norm": "train/grad_norm",
    "tokens": "train/tokens",
    "epoch": "train/epoch",
    "eval_loss": "eval/loss",
}


def tensorboard_installed() -> bool:
    return importlib.util.find_spec("tensorboard") is not None


class TensorBoardLog:
    """The training log as TensorBoard events, written a step at a time while training runs
    (flushed each step, so `tensorboard --logdir` follows it live). It starts afresh: a resumed
    run's folder is rewritten from the checkpoint's log, so no step is there twice. Does nothing
    when tensorboard isn't installed."""

    def __init__(self, folder: Path | None, rows: list[dict[str, Any]]) -> None:
        self.writer: Any = None
        if folder is None or not tensorboard_installed():
            return
        from torch.utils.tensorboard import SummaryWriter

        shutil.rmtree(folder, ignore_errors=True)
        self.writer = SummaryWriter(log_dir=str(folder))
        started = time.time() - (rows[-1]["elapsed_s"] if rows else 0.0)  # earlier steps: times counted back
        for row in rows:
            self.add(row, walltime=started + row["elapsed_s"])

    def add(self, row: dict[str, Any], walltime: float | None = None) -> None:
        if self.writer is None:
            return
        for key, tag in TENSORBOARD_TAGS.items():
            if row.get(key) is not None:
                self.writer.add_scalar(tag, row[key], row["step"], walltime=walltime)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def write_tensorboard(out_dir: Path, rows: list[dict[str, Any]]) -> bool:
    """The whole log as TensorBoard events in tensorboard/ (a finished run's, on request:
    `taxon train --tensorboard`); False when tensorboard isn't installed."""
    if not tensorboard_installed():
        return False
    with atomic_dir(Path(out_dir) / TENSORBOARD_DIR) as folder:
        log = TensorBoardLog(folder, rows)
        log.close()
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
