"""Training throughput: taxon's padding-free packed trainer against a plain Hugging Face
`Trainer` with its default padding (to the longest sample of each batch of 8), side by side
on the same model, LoRA settings and samples (goal: at least 1.5x the real tokens/s), and
against TRL's SFTTrainer at its best CPU settings (packing "bfd", completion-only loss, rows
of train.pack_tokens, train.rows_per_step rows a step, the precision taxon trains in: bf16
where the CPU has it natively, float32 here; goal: 1.3x), when TRL is installed
(`pip install 'taxon[bench]'`).

The samples are the seed examples of the demo taxonomy (skills and knowledge with its
context), minus the held-out share; the model is the packaged SmolLM2-135M-Instruct. Each
variant runs in its own process, so peak memory (max RSS, or CUDA peak) is its own.
Real tokens are sample tokens; padding is the rest of what the model computes.

    python bench/train.py [--quick] [--base SPEC] [--samples N] [--threads N]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from summary import emit
from taxon.core.config import load_config
from taxon.core.settings import Config, TrainSettings
from taxon.qna.layout import SAMPLES_NAME
from taxon.qna.samples import seed_samples
from taxon.qna.taxonomy import load_leaves

REPO = Path(__file__).resolve().parents[1]
# One pass over the samples, no checkpoints: the loop itself is measured.
BENCH_TRAIN = {"epochs": 1, "max_steps": 0, "checkpoint_every": 0, "resume": False}
VARIANTS = {
    # name: (runner, train overrides, label)
    "trainer": ("trainer", {"autocast": "none", "frozen_dtype": "float32"}, "HF Trainer, padding to longest, fp32"),
    "trainer-bf16": ("trainer", {"autocast": "bf16", "frozen_dtype": "float32"}, "HF Trainer, padding, bf16=True"),
    "taxon-fp32": ("taxon", {"autocast": "none", "frozen_dtype": "float32"}, "taxon, packed padding-free, fp32"),
    # the cpu profile's precision (train.autocast = "auto"): bf16 where the CPU has it natively, else float32
    "taxon": ("taxon", {}, "taxon, packed, the cpu profile (default)"),
    "trl": ("trl", {}, "TRL SFTTrainer, packing bfd, completion loss, same precision"),
}
QUICK_VARIANTS = ("trainer", "taxon", "trl")


def bench_config(threads: int, train: dict) -> Config:
    return load_config("cpu", REPO / "taxon.toml", {"train": {**BENCH_TRAIN, "threads": threads, **train}})


def write_samples(folder: Path, count: int) -> Path:
    """The first `count` seed samples of the demo taxonomy, as one generated-samples file."""
    rows = [sample for leaf in load_leaves(REPO / "taxonomy") for sample in seed_samples(leaf)][:count]
    leaf_folder = folder / "bench"
    leaf_folder.mkdir(parents=True)
    (leaf_folder / SAMPLES_NAME).write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return folder


def peak_memory_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run_arguments(train_config: TrainSettings) -> dict:
    """What the Trainer and TRL runs share: epochs, learning rate, precision, seed, no output."""
    import torch

    from taxon.train.loop import resolved_autocast

    device = "cuda" if torch.cuda.is_available() else "cpu"
    return {
        "num_train_epochs": train_config.epochs,
        "learning_rate": train_config.learning_rate,
        "bf16": resolved_autocast(train_config.autocast, device) == "bf16",
        "use_cpu": device == "cpu",
        "save_strategy": "no",
        "report_to": "none",
        "logging_steps": 10**9,
        "disable_tqdm": True,
        "seed": train_config.seed,
    }


def run_trainer(base: str, data: Path, config: Config) -> dict:
    """A plain Trainer on the same tokenized samples: labels -100 outside assistant turns,
    DataCollatorForSeq2Seq padding each batch to its longest sample."""
    import torch
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    import taxon.train.model as model_module
    from taxon.train.data import build_training_set

    train_config = config.train
    if train_config.threads:
        torch.set_num_threads(train_config.threads)
    tokenizer = model_module.load_tokenizer(base)
    training_set = build_training_set(data, [], None, tokenizer, config)
    rows = [
        {"input_ids": list(s.input_ids), "attention_mask": [1] * len(s), "labels": [-100, *s.targets[:-1]]}
        for s in training_set.samples
    ]
    model = model_module.build(base, train_config, "cuda" if torch.cuda.is_available() else "cpu")
    padding = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)
    counted = {"real": 0, "computed": 0}

    def collate(features):
        batch = padding(features)
        counted["real"] += int(batch["attention_mask"].sum())
        counted["computed"] += batch["attention_mask"].numel()
        return batch

    with tempfile.TemporaryDirectory() as scratch:
        arguments = TrainingArguments(
            output_dir=scratch,
            per_device_train_batch_size=8,
            **_run_arguments(train_config),
        )
        trainer = Trainer(model=model, args=arguments, train_dataset=rows, data_collator=collate)
        started = time.perf_counter()
        trainer.train()
        elapsed = time.perf_counter() - started
    return {
        "samples": len(rows),
        "real_tokens": counted["real"],
        "real_token_fraction": counted["real"] / counted["computed"],
        "tokens_per_s": counted["real"] / elapsed,
        "elapsed_s": elapsed,
        "peak_memory_mb": peak_memory_mb(),
    }


def run_trl(base: str, data: Path, config: Config) -> dict:
    """TRL's SFTTrainer on the same tokenized samples and LoRA model: best-fit-decreasing
    packing into rows of pack_tokens, loss on the assistant tokens only, in the precision taxon
    trains in (bf16 autocast where the profile asks for it)."""
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    import taxon.train.model as model_module
    from taxon.train.data import build_training_set

    train_config = config.train
    if train_config.threads:
        torch.set_num_threads(train_config.threads)
    tokenizer = model_module.load_tokenizer(base)
    training_set = build_training_set(data, [], None, tokenizer, config)
    rows = Dataset.from_list(
        [
            {"input_ids": list(s.input_ids), "completion_mask": [int(t != -100) for t in [-100, *s.targets[:-1]]]}
            for s in training_set.samples
        ]
    )
    model = model_module.build(base, train_config, "cuda" if torch.cuda.is_available() else "cpu")
    with tempfile.TemporaryDirectory() as scratch:
        arguments = SFTConfig(
            output_dir=scratch,
            packing=True,
            packing_strategy="bfd",
            max_length=train_config.pack_tokens,
            completion_only_loss=True,
            per_device_train_batch_size=train_config.rows_per_step,
            **_run_arguments(train_config),
            dataset_kwargs={"skip_prepare_dataset": False},
        )
        trainer = SFTTrainer(model=model, args=arguments, train_dataset=rows, processing_class=tokenizer)
        started = time.perf_counter()
        trainer.train()
        elapsed = time.perf_counter() - started
    tokens = sum(len(s.input_ids) for s in training_set.samples)
    return {
        "samples": len(rows),
        "real_tokens": tokens,
        "real_token_fraction": 1.0,  # packed without padding
        "tokens_per_s": tokens / elapsed,
        "elapsed_s": elapsed,
        "peak_memory_mb": peak_memory_mb(),
    }


def run_taxon(base: str, data: Path, config: Config) -> dict:
    from taxon.train import train

    with tempfile.TemporaryDirectory() as out:
        result = train(data, [], base, Path(out), config, quiet=True).summary
    return {
        "samples": result["samples"]["used"],
        "real_tokens": result["tokens"],
        "real_token_fraction": result["real_token_fraction"],
        "tokens_per_s": result["tokens_per_s"],
        "elapsed_s": result["elapsed_s"],
        "peak_memory_mb": result["peak_memory_mb"],
        "pack_fill": result["pack_fill"],
    }


def run_variant(name: str, base: str, data: Path, threads: int) -> dict:
    """Run one variant in a fresh process and return its figures."""
    command = [
        sys.executable,
        __file__,
        "--variant",
        name,
        "--base",
        base,
        "--data",
        str(data),
        "--threads",
        str(threads),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"variant {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="64 samples, the two default variants")
    parser.add_argument("--base", default="packaged:smollm2", help="base model spec (default: %(default)s)")
    parser.add_argument("--samples", type=int, help="seed samples to train on (default: 64 quick, all otherwise)")
    # One thread: on a shared 2-core machine torch's two threads run 2-10x slower when the other core is busy.
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads per variant, 0: torch's choice (default: 1)"
    )
    parser.add_argument("--variant", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.variant:
        runner, overrides, _ = VARIANTS[args.variant]
        config = bench_config(args.threads, overrides)
        figures = {"trainer": run_trainer, "taxon": run_taxon, "trl": run_trl}[runner](args.base, args.data, config)
        print(json.dumps(figures))
        return 0

    from taxon.backends.models import resolve_model

    base = resolve_model(args.base, bench_config(args.threads, {}).models)
    names = QUICK_VARIANTS if args.quick else tuple(VARIANTS)
    if importlib.util.find_spec("trl") is None:
        print("TRL SFTTrainer: skipped, trl is not installed (pip install 'taxon[bench]')")
        names = tuple(name for name in names if name != "trl")
    count = args.samples or (64 if args.quick else 10**9)
    with tempfile.TemporaryDirectory() as scratch:
        data = write_samples(Path(scratch), count)
        results = {name: run_variant(name, base, data, args.threads) for name in names}
    print(f"base model: {args.base}; LoRA; threads: {args.threads or 'torch default'}")
    print(f"{'variant':<54}{'samples':>8}{'real tok':>10}{'real %':>8}{'tok/s':>9}{'vs Trainer':>11}{'peak MB':>9}")
    baseline = results["trainer"]["tokens_per_s"]
    for name, figures in results.items():
        print(
            f"{VARIANTS[name][2]:<54}{figures['samples']:>8}{figures['real_tokens']:>10}"
            f"{figures['real_token_fraction']:>8.1%}{figures['tokens_per_s']:>9.0f}"
            f"{figures['tokens_per_s'] / baseline:>10.2f}x{figures['peak_memory_mb']:>9.0f}"
        )
    speedup = results["taxon"]["tokens_per_s"] / baseline
    print(
        f"taxon vs plain Trainer: {speedup:.2f}x real tokens/s (goal >= 1.5x): {'met' if speedup >= 1.5 else 'NOT met'}"
    )
    print(
        f"taxon real-token fraction {results['taxon']['real_token_fraction']:.1%} (goal >= 95%), "
        f"rows {results['taxon']['pack_fill']:.1%} full"
    )
    taxon, trainer = results["taxon"], results["trainer"]
    emit(
        "training real tokens/s (LoRA, packaged model)",
        f"{taxon['tokens_per_s']:.0f} tok/s, peak {taxon['peak_memory_mb']:.0f} MB",
        f"plain Trainer {trainer['tokens_per_s']:.0f} tok/s, peak {trainer['peak_memory_mb']:.0f} MB",
        ">= 1.5x",
        speedup >= 1.5,
    )
    if "trl" in results:
        trl = results["trl"]
        emit(
            "training real tokens/s against TRL SFTTrainer (packing bfd, completion loss, same precision)",
            f"{taxon['tokens_per_s']:.0f} tok/s",
            f"TRL {trl['tokens_per_s']:.0f} tok/s ({taxon['tokens_per_s'] / trl['tokens_per_s']:.2f}x)",
            ">= 1.3x",
            taxon["tokens_per_s"] >= 1.3 * trl["tokens_per_s"],
        )
    emit(
        "training real-token fraction",
        f"{taxon['real_token_fraction']:.1%}",
        f"plain Trainer {trainer['real_token_fraction']:.1%}",
        ">= 95 %",
        taxon["real_token_fraction"] >= 0.95,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
