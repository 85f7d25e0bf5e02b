"""Fault injection: SIGKILL during generate, train and publish, SIGTERM during train, and a
teacher endpoint that goes down. Each resumed run must end with the outputs of the
uninterrupted reference run, and the published bundle is never seen half-written."""

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from support.pipeline_runs import (
    BundleWatcher,
    PipelineServer,
    assert_same_adapter,
    make_repo,
    run_dir,
    run_in_process,
    run_pipeline_cli,
    sample_files,
    stage_statuses,
    start_pipeline,
)
from taxon.pipeline import STAGES
from taxon.publish import verify_bundle

pytestmark = [pytest.mark.xdist_group("pipeline"), pytest.mark.slow]
WAIT_S = 240  # for a run to reach the moment of the fault: ample on a loaded machine


def kill_when(process: subprocess.Popen, ready, sig=signal.SIGKILL) -> tuple[bool, str]:
    """Send `sig` once ready() is true: (whether it was sent before the run ended, stderr)."""
    deadline = time.monotonic() + WAIT_S
    while process.poll() is None and time.monotonic() < deadline:
        if ready():
            process.send_signal(sig)
            return True, process.communicate(timeout=WAIT_S)[1]
        time.sleep(0.001)
    process.kill()
    return False, process.communicate()[1]


def assert_same_outputs(repo: Path, reference) -> None:
    run = run_dir(repo)
    assert sample_files(run / "generate") == sample_files(reference.run / "generate")
    assert_same_adapter(run / "train", reference.run / "train")
    assert verify_bundle(run / "bundle") == []


@pytest.mark.parametrize("share", [0.05, 0.5], ids=["early", "halfway"])
def test_sigkill_during_generate_resumes_to_the_same_outputs(share, tmp_path, teacher, tiny_model_dir, reference):
    repo = make_repo(tmp_path / "repo", teacher.base_url, tiny_model_dir)
    before = teacher.chat_requests
    teacher.reached.clear()
    teacher.signal_at = before + max(2, int(reference.calls * share))
    try:
        assert kill_when(start_pipeline(repo), teacher.reached.is_set)[0]
    finally:
        teacher.signal_at = None
    killed_calls = teacher.settle() - before
    assert not (run_dir(repo) / "stages" / "generate.json").exists()
    kept_units = any((repo / ".taxon-cache" / "generate").rglob("*.json*"))
    assert kept_units or share < 0.5, "no finished unit was kept"

    before = teacher.chat_requests
    with BundleWatcher(run_dir(repo) / "bundle") as watcher:
        completed = run_pipeline_cli(repo)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert stage_statuses(completed.stdout) == {"validate": "cached", **dict.fromkeys(STAGES[1:], "done")}
    rerun_calls = teacher.chat_requests - before
    if kept_units:
        assert rerun_calls < reference.calls
    else:
        assert rerun_calls == reference.calls
    assert reference.calls <= killed_calls + rerun_calls
    assert_same_outputs(repo, reference)
    assert watcher.problems == []


TRAIN_MOMENTS = {
    "after-a-checkpoint": lambda train: any((train / "checkpoints").glob("step-*")),
    "writing-a-second-checkpoint": lambda train: (
        any((train / "checkpoints").glob("step-*")) and any((train / "checkpoints").glob(".step-*.partial"))
    ),
    "saving-the-outputs": lambda train: (train / "adapter").exists(),  # result.json comes last
}


def trainers_of(train: Path) -> list[str]:
    """The command lines of live processes training into `train` (Linux's /proc)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if " train " in command and str(train) in command:
            found.append(command)
    return found


@pytest.mark.parametrize("moment", TRAIN_MOMENTS)
def test_sigkill_during_train_resumes_from_its_checkpoint(moment, copy_reference, reference):
    repo = copy_reference(("validate", "generate"))
    train = run_dir(repo) / "train"
    assert kill_when(start_pipeline(repo), lambda: TRAIN_MOMENTS[moment](train))[0]
    deadline = time.monotonic() + 10
    while trainers_of(train) and time.monotonic() < deadline:  # the training process dies with the pipeline
        time.sleep(0.05)
    assert trainers_of(train) == []
    assert not (train / "result.json").exists(), "training ended before the kill"

    completed = run_pipeline_cli(repo)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert stage_statuses(completed.stdout) == {
        "validate": "cached",
        "generate": "cached",
        "train": "done",
        "evaluate": "done",
        "publish": "done",
    }
    result = json.loads((run_dir(repo) / "train" / "result.json").read_text())
    assert result["resumed_from_step"] >= 1
    assert_same_outputs(repo, reference)


def test_sigterm_during_train_saves_and_exits_preempted(copy_reference, reference):
    from taxon.train import EXIT_PREEMPTED

    repo = copy_reference(("validate", "generate"))
    checkpoints = run_dir(repo) / "train" / "checkpoints"
    process = start_pipeline(repo)
    signalled, stderr = kill_when(process, lambda: any(checkpoints.glob("step-*")), signal.SIGTERM)
    assert signalled and process.returncode == EXIT_PREEMPTED, stderr
    assert "train failed" in stderr and "SIGTERM" in stderr and "Traceback" not in stderr

    completed = run_pipeline_cli(repo)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert_same_outputs(repo, reference)


def test_sigkill_during_evaluate_resumes_to_the_same_report(copy_reference, reference):
    repo = copy_reference(("validate", "generate", "train"))
    evaluation = run_dir(repo) / "evaluate"
    assert kill_when(start_pipeline(repo), lambda: (evaluation / "answers").exists())[0]
    assert not (evaluation / "report.json").exists(), "evaluation ended before the kill"

    completed = run_pipeline_cli(repo)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert stage_statuses(completed.stdout)["evaluate"] == "done"
    report, expected = ((run / "evaluate" / "report.json").read_text() for run in (run_dir(repo), reference.run))
    # the same candidate model in another folder: the report names it by its path
    assert report.replace(str(run_dir(repo)), str(reference.run)) == expected
    assert_same_outputs(repo, reference)


def test_sigkill_during_publish_never_shows_a_partial_bundle(copy_reference, reference):
    repo = copy_reference(("validate", "generate", "train", "evaluate"))
    run = run_dir(repo)
    for _attempt in range(5):  # publishing the tiny model takes a moment: catch it building
        with BundleWatcher(run / "bundle") as watcher:
            killed, _ = kill_when(start_pipeline(repo), lambda: any(run.glob(".bundle.*.partial")))
        assert watcher.problems == []
        if killed and not (run / "bundle").exists():
            break
        (run / "stages" / "publish.json").unlink(missing_ok=True)
        shutil.rmtree(run / "bundle", ignore_errors=True)
    else:
        pytest.fail("the publish stage never ran long enough to be killed")

    with BundleWatcher(run / "bundle") as watcher:
        completed = run_pipeline_cli(repo)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert stage_statuses(completed.stdout)["publish"] == "done"
    assert watcher.problems == [] and watcher.looks > 0
    assert not list(run.glob(".bundle.*.partial"))
    assert_same_outputs(repo, reference)


@pytest.mark.parametrize("failure", ["answers-503", "stops-listening"])
def test_a_teacher_that_goes_down_fails_clearly_and_the_rerun_resumes(failure, tmp_path, tiny_model_dir, reference):
    limit = reference.calls // 2
    with PipelineServer(
        **{"answers-503": {"down_after": limit}, "stops-listening": {"stop_after": limit}}[failure]
    ) as dying:
        repo = make_repo(tmp_path / "repo", dying.base_url, tiny_model_dir)
        failed = run_pipeline_cli(repo)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Traceback" not in failed.stderr + failed.stdout
    assert f"generate failed: the teacher endpoint {dying.base_url} failed 2 times" in failed.stderr
    assert stage_statuses(failed.stdout) == {
        "validate": "done",
        "generate": "failed",
        "train": "not run",
        "evaluate": "not run",
        "publish": "not run",
    }
    assert any((repo / ".taxon-cache" / "generate").rglob("*.json*")), "the finished units were not kept"

    with PipelineServer(port=dying.port) as back:
        completed = run_pipeline_cli(repo)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert 0 < back.chat_requests < reference.calls
    assert_same_outputs(repo, reference)


def test_killed_after_generate_finished_resumes_without_the_teacher(copy_reference, reference, monkeypatch, capsys):
    repo = copy_reference(("validate", "generate"))
    (run_dir(repo) / "stages" / "generate.json").unlink()  # killed after the samples, before the stage's marker
    dead = ("--set", 'teacher.base_url="http://127.0.0.1:9/v1"')  # nothing listens on port 9 (discard)
    code, out, err = run_in_process(repo, monkeypatch, capsys, "--to", "generate", *dead)
    assert code == 0, out + err
    assert stage_statuses(out)["generate"] == "done"
    assert sample_files(run_dir(repo) / "generate") == sample_files(reference.run / "generate")
