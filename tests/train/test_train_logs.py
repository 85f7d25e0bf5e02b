"""What a training run tells its watchers: plain progress lines off a terminal, and the log as
TensorBoard events beside train_log.jsonl and loss.png."""

import contextlib
import io
import json

import pytest
from train_setup import REPO

from taxon.cli import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory, generated_dir, taxonomy_dir, tiny_model_dir):
    out = tmp_path_factory.mktemp("train-logs")
    stderr = io.StringIO()  # not a terminal: the plain lines
    with contextlib.redirect_stderr(stderr):
        code = main(
            ["train", "--config", str(REPO / "taxon.toml"), "--data", str(generated_dir), "--taxonomy"]
            + [str(taxonomy_dir), "--out", str(out), "--base", str(tiny_model_dir), "--threads", "1", "--no-resume"]
            + ["--set", "train.max_steps=3", "--set", "train.pack_tokens=96", "--set", "train.max_sample_tokens=96"]
        )
    assert code == 0
    return out, stderr.getvalue()


def test_off_a_terminal_progress_is_plain_lines_with_counts(trained):
    _, stderr = trained
    lines = [line for line in stderr.splitlines() if line.startswith("training: ")]
    assert lines and lines[-1].startswith("training: 3/3 (100%), loss ")
    assert "tok/s" in lines[-1] and "\x1b[" not in stderr  # no terminal control codes
    assert len(lines) <= 3


def test_the_log_is_also_tensorboard_events(trained):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, _ = trained
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    assert {"train/loss", "train/learning_rate", "train/tokens", "train/epoch"} <= set(events.Tags()["scalars"])
    losses = events.Scalars("train/loss")
    assert [e.step for e in losses] == [row["step"] for row in log]
    assert [e.value for e in losses] == pytest.approx([row["loss"] for row in log])


def _scalars(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    return {tag: [(event.step, event.value) for event in events.Scalars(tag)] for tag in tags}


def test_tensorboard_is_written_live_reset_on_resume_and_rewritten_on_request(
    generated_dir, taxonomy_dir, tiny_model_dir, tmp_path
):
    """Read with tensorboard's own reader while `taxon train` runs: the steps arrive as they are
    made; a SIGTERM'd run resumed has every step once; a finished run's events come back with
    --tensorboard. Grad norm each step, eval loss (the held-out rows) at each epoch's end."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "train"
    command = [sys.executable, "-m", "taxon", "train", "--config", str(REPO / "taxon.toml"), "--data"]
    command += [str(generated_dir), "--taxonomy", str(taxonomy_dir), "--out", str(out), "--base", str(tiny_model_dir)]
    command += ["--threads", "1", "--quiet", "--set", "train.max_steps=300", "--set", "train.epochs=50"]
    command += [
        "--set",
        "train.rows_per_step=1",
        "--set",
        "train.pack_tokens=96",
        "--set",
        "train.max_sample_tokens=96",
    ]
    command += ["--set", "train.checkpoint_every=0"]
    running = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    seen: list = []
    deadline = time.monotonic() + 120
    while running.poll() is None and len(seen) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
        if (out / "tensorboard").is_dir():
            seen = _scalars(out / "tensorboard").get("train/loss", [])
    assert running.poll() is None and len(seen) >= 3, "no steps while training ran"
    running.send_signal(signal.SIGTERM)
    assert running.wait(timeout=120) == 75, running.stderr.read()
    stopped = [step for step, _ in _scalars(out / "tensorboard")["train/loss"]]
    assert stopped == list(range(1, len(stopped) + 1)) and 3 <= len(stopped) < 300

    assert subprocess.run(command, capture_output=True).returncode == 0  # resumes from the SIGTERM checkpoint
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    scalars = _scalars(out / "tensorboard")
    assert [step for step, _ in scalars["train/loss"]] == list(range(1, 301))  # each step once
    assert [value for _, value in scalars["train/loss"]] == pytest.approx([row["loss"] for row in log])
    assert len(scalars["train/grad_norm"]) == 300 and all(value > 0 for _, value in scalars["train/grad_norm"])
    evaluated = [row["step"] for row in log if row.get("eval_loss") is not None]
    assert [step for step, _ in scalars["eval/loss"]] == evaluated and evaluated[-1] == 300 and len(evaluated) > 2
    assert [value for _, value in scalars["eval/loss"]] == pytest.approx(
        [row["eval_loss"] for row in log if row.get("eval_loss") is not None]
    )

    import shutil

    shutil.rmtree(out / "tensorboard")
    assert subprocess.run([*command, "--tensorboard"], capture_output=True).returncode == 0  # cached: no training
    assert _scalars(out / "tensorboard")["train/loss"] == scalars["train/loss"]
