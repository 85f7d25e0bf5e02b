"""The FSDP2 path: two CPU processes on gloo under torchrun train the same model as one process."""

import os
import subprocess
import sys

import torch
from safetensors.torch import load_file
from train_setup import REPO, set_flags, small_config

from taxon.train import train

# Four rows a step split over two ranks; no dropout, so both runs compute the same sums.
SETTINGS = {"rows_per_step": 4, "max_steps": 6, "lora_dropout": 0.0, "checkpoint_every": 3}


def test_two_process_fsdp_run_matches_a_single_process_run(
    tmp_path, generated_dir, leaves, taxonomy_dir, tiny_model_dir
):
    single = train(
        generated_dir, leaves, str(tiny_model_dir), tmp_path / "single", small_config(**SETTINGS), quiet=True
    )

    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    argv = [
        *torchrun,
        "-m",
        "taxon",
        "train",
        "--data",
        str(generated_dir),
        "--taxonomy",
        str(taxonomy_dir),
        "--out",
        str(tmp_path / "fsdp"),
        "--base",
        str(tiny_model_dir),
        "--config",
        str(REPO / "taxon.toml"),
        "--quiet",
        *set_flags(**SETTINGS),
    ]
    done = subprocess.run(argv, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]

    summary = (tmp_path / "fsdp" / "result.json").read_text()
    assert '"world_size": 2' in summary
    assert f'"steps": {single.steps}' in summary
    expected = load_file(tmp_path / "single" / "adapter" / "adapter_model.safetensors")
    sharded = load_file(tmp_path / "fsdp" / "adapter" / "adapter_model.safetensors")
    assert sharded.keys() == expected.keys()
    for name, tensor in expected.items():
        torch.testing.assert_close(sharded[name], tensor, rtol=1e-3, atol=1e-4)
