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
