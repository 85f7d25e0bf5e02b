"""Kill a training run (SIGKILL after a checkpoint, or SIGTERM), rerun it, and get the same
weights as a run that was never interrupted."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file
from train_setup import REPO, set_flags, small_config

from taxon.train import EXIT_PREEMPTED, train

# Many small steps, so the run is still going when the test stops it; dropout on, so the
# RNG state must come back too.
LONG = {
    "epochs": 2,
    "rows_per_step": 1,
    "pack_tokens": 48,
    "max_sample_tokens": 48,
    "checkpoint_every": 4,
    "lora_dropout": 0.1,
    "learning_rate": 2e-3,
}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, generated_dir, leaves, tiny_model_dir):
    out = tmp_path_factory.mktemp("uninterrupted")
    result = train(generated_dir, leaves, str(tiny_model_dir), out, small_config(**LONG), quiet=True)
    assert result.steps > 40
    return load_file(out / "adapter" / "adapter_model.safetensors")


def command(out, generated_dir, taxonomy_dir, tiny_model_dir) -> list[str]:
    return [
        sys.executable,
        "-m",
        "taxon",
        "train",
        "--data",
        str(generated_dir),
        "--taxonomy",
        str(taxonomy_dir),
        "--out",
        str(out),
        "--base",
        str(tiny_model_dir),
        "--config",
        str(REPO / "taxon.toml"),
        "--quiet",
        *set_flags(**LONG),
    ]


def checkpoints(out) -> list[int]:
    return sorted(int(p.name.removeprefix("step-")) for p in (out / "checkpoints").glob("step-*"))


def stop_after_a_checkpoint_past(step: int, process: subprocess.Popen, out, sig: int) -> None:
    deadline = time.monotonic() + 120
    while not [saved for saved in checkpoints(out) if saved > step]:
        assert process.poll() is None, "the run ended before its next checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(sig)


def test_killed_then_preempted_run_ends_with_the_weights_of_an_uninterrupted_one(
    tmp_path, uninterrupted, generated_dir, taxonomy_dir, tiny_model_dir
):
    argv = command(tmp_path, generated_dir, taxonomy_dir, tiny_model_dir)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    killed = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stop_after_a_checkpoint_past(0, killed, tmp_path, signal.SIGKILL)
    killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL
    killed_at = checkpoints(tmp_path)[-1]

    preempted = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stop_after_a_checkpoint_past(killed_at, preempted, tmp_path, signal.SIGTERM)
    _, stderr = preempted.communicate(timeout=120)
    assert preempted.returncode == EXIT_PREEMPTED, stderr
    assert "rerun the same command to resume" in stderr
    assert not (tmp_path / "result.json").exists()
    preempted_at = checkpoints(tmp_path)[-1]
    assert preempted_at > killed_at

    resumed = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert f'"resumed_from_step": {preempted_at}' in (tmp_path / "result.json").read_text()
    weights = load_file(tmp_path / "adapter" / "adapter_model.safetensors")
    assert weights.keys() == uninterrupted.keys()
    for name, tensor in uninterrupted.items():
        torch.testing.assert_close(weights[name], tensor, rtol=1e-5, atol=1e-6)
