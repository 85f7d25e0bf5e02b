"""What each stage is keyed by: a change reruns the stages it affects and no other."""

import json
import shutil

import pytest

from support.pipeline_runs import run_in_process, stage_statuses
from taxon.publish import verify_bundle

pytestmark = pytest.mark.xdist_group("pipeline")


def test_a_new_base_model_reruns_train_and_keeps_generate(
    copy_reference, tiny_model_dir, teacher, tmp_path, monkeypatch, capsys
):
    repo = copy_reference(("validate", "generate", "train"))
    other = shutil.copytree(tiny_model_dir, tmp_path / "other-base")
    before = teacher.chat_requests
    code, out, err = run_in_process(repo, monkeypatch, capsys, "--to", "train", "--set", f'models.base="{other}"')
    assert code == 0, out + err
    assert stage_statuses(out) == {
        "validate": "cached",
        "generate": "cached",
        "train": "done",
        "evaluate": "not run",
        "publish": "not run",
    }
    assert teacher.chat_requests == before
    assert json.loads((repo / "runs/cpu/train/result.json").read_text())["base_model"] == str(other)


def test_another_taxon_release_reruns_the_stages_through_their_own_caches(copy_reference, teacher, monkeypatch, capsys):
    import taxon

    repo = copy_reference(("validate", "generate", "train"))
    result = (repo / "runs/cpu/train/result.json").read_text()
    before = teacher.chat_requests
    monkeypatch.setattr(taxon, "__version__", f"{taxon.__version__}.post1")
    code, out, err = run_in_process(repo, monkeypatch, capsys, "--to", "train")
    assert code == 0, out + err
    assert [stage_statuses(out)[name] for name in ("validate", "generate", "train")] == ["done"] * 3
    # the generation units and the finished training run are the stages' own caches: reused
    assert teacher.chat_requests == before
    assert (repo / "runs/cpu/train/result.json").read_text() == result


def test_a_changed_probe_set_reruns_evaluate(copy_reference, monkeypatch, capsys):
    repo = copy_reference(("validate", "generate", "train", "evaluate"))
    with open(repo / "probe.jsonl", "a", encoding="utf-8") as probe:
        probe.write(json.dumps({"question": "What is 2 plus 2?", "choices": ["4", "5"], "answer": 0}) + "\n")
    code, out, err = run_in_process(repo, monkeypatch, capsys, "--to", "evaluate")
    assert code == 0, out + err
    assert stage_statuses(out)["evaluate"] == "done"
    report = json.loads((repo / "runs/cpu/evaluate/report.json").read_text())
    assert report["sets"]["general/probe"]["n"] == 4


@pytest.mark.slow
def test_a_changed_replay_file_reruns_train(copy_reference, monkeypatch, capsys):
    repo = copy_reference(("validate", "generate", "train"))
    replay = repo / "replay.jsonl"
    row = {"messages": [{"role": "user", "content": "Say hello."}, {"role": "assistant", "content": "Hello."}]}
    replay.write_text(json.dumps(row) + "\n", encoding="utf-8")
    flags = ("--to", "train", "--set", 'train.replay="replay.jsonl"')
    code, out, err = run_in_process(repo, monkeypatch, capsys, *flags)
    assert code == 0 and stage_statuses(out)["train"] == "done", out + err

    row["messages"][1]["content"] = "Hello there."
    replay.write_text(json.dumps(row) + "\n", encoding="utf-8")
    code, out, err = run_in_process(repo, monkeypatch, capsys, *flags)
    assert code == 0 and stage_statuses(out)["train"] == "done", out + err
    code, out, err = run_in_process(repo, monkeypatch, capsys, *flags)
    assert code == 0 and stage_statuses(out)["train"] == "cached", out + err


GATE_FAILS = (
    "--set",
    'pipeline.changed_leaves=["compositional_skills/linguistics/plural_nouns"]',
    "--set",
    "evaluate.gate.changed_must_improve=true",
)  # the tiny model improves on nothing


def test_changed_leaves_rerun_evaluate_and_a_failed_gate_stops_the_run(copy_reference, monkeypatch, capsys):
    repo = copy_reference(("validate", "generate", "train", "evaluate", "publish"))
    code, out, err = run_in_process(repo, monkeypatch, capsys, *GATE_FAILS)
    assert code == 1, out + err
    assert stage_statuses(out) == {
        "validate": "cached",
        "generate": "cached",
        "train": "cached",
        "evaluate": "failed",
        "publish": "not run",
    }
    assert (
        "evaluate failed: the evaluation gate failed: changed leaf compositional_skills/linguistics/plural_nouns" in err
    )
    assert "Traceback" not in out + err
    report = json.loads((repo / "runs/cpu/evaluate/report.json").read_text())
    assert report["gate"]["passed"] is False


def test_a_failed_gate_publishes_when_the_gate_is_not_required(copy_reference, monkeypatch, capsys):
    repo = copy_reference(("validate", "generate", "train"))
    not_required = ("--set", "publish.require_passed_gate=false")
    code, out, err = run_in_process(repo, monkeypatch, capsys, *GATE_FAILS, *not_required)
    assert code == 0, out + err
    assert stage_statuses(out)["publish"] == "done"
    assert json.loads((repo / "runs/cpu/stages/evaluate.json").read_text())["figures"]["gate"] == "failed"
    assert verify_bundle(repo / "runs/cpu/bundle") == []

    code, out, err = run_in_process(repo, monkeypatch, capsys, *GATE_FAILS)  # required again: it stops
    assert code == 1 and stage_statuses(out)["evaluate"] == "failed", out + err


def _decide_on_plural_nouns(repo, action: str, fixed: str | None = None, count: int = 1) -> list[str]:
    """Decisions on the first `count` kept teacher-written samples of the plural nouns leaf."""
    from taxon.qna.decisions import decision_for, write_decision

    leaf = "compositional_skills/linguistics/plural_nouns"
    rows = [json.loads(line) for line in (repo / "runs/cpu/generate" / leaf / "samples.jsonl").read_text().splitlines()]
    chosen = [row for row in rows if row["metadata"]["source"] == "generated" and not row["metadata"].get("decision")]
    decided = []
    for row in chosen[:count]:
        decision = decision_for(row, action, "alice", fixed)
        write_decision(repo / "decisions", decision)
        decided.append(decision.sample)
    return decided


def test_a_new_decision_retrains_without_asking_the_teacher(copy_reference, teacher, monkeypatch, capsys):
    repo = copy_reference(("validate", "generate", "train"), unit_cache=True)
    from taxon.backends.openai import PROBE_MESSAGES

    (dropped,) = _decide_on_plural_nouns(repo, "drop")
    asked = len(teacher.prompts)
    code, out, err = run_in_process(repo, monkeypatch, capsys, "--to", "train")
    assert code == 0, out + err
    assert [stage_statuses(out)[name] for name in ("validate", "generate", "train")] == ["done"] * 3
    # re-derived from the unit cache: the teacher was only asked whether it is there
    assert teacher.prompts[asked:] == [PROBE_MESSAGES[-1]["content"]]
    leaf = repo / "runs/cpu/generate/compositional_skills/linguistics/plural_nouns"
    assert dropped not in (leaf / "samples.jsonl").read_text() and dropped in (leaf / "dropped.jsonl").read_text()
    assert json.loads((leaf / "stats.json").read_text())["decisions"]["drop"] == 1
    code, out, err = run_in_process(repo, monkeypatch, capsys, "--to", "train")
    assert [stage_statuses(out)[name] for name in ("validate", "generate", "train")] == ["cached"] * 3


def test_require_decisions_stops_training_and_says_how_many_are_left(copy_reference, monkeypatch, capsys):
    repo = copy_reference(("validate", "generate", "train"), unit_cache=True)
    leaf = "compositional_skills/linguistics/plural_nouns"
    written = json.loads((repo / "runs/cpu/generate" / leaf / "stats.json").read_text())["decisions"]["teacher_written"]
    assert written >= 2
    flags = ("--to", "train", "--set", "review.require_decisions=1.0", "--set", f'pipeline.changed_leaves=["{leaf}"]')
    code, out, err = run_in_process(repo, monkeypatch, capsys, *flags)
    assert code == 1 and stage_statuses(out)["train"] == "failed"
    assert "[review] require_decisions = 1: 1 changed leaf(s) lack decisions: " in err
    assert f"{leaf}: 0 of {written} teacher-written samples decided, {written} more needed" in err
    assert "taxon review decide" in err

    _decide_on_plural_nouns(repo, "keep", count=written)
    code, out, err = run_in_process(repo, monkeypatch, capsys, *flags)
    assert code == 0, out + err
    assert stage_statuses(out)["train"] == "done"


def test_a_broken_decision_fails_validation_with_its_place(copy_reference, monkeypatch, capsys):
    repo = copy_reference(("validate",))
    folder = repo / "decisions/compositional_skills/linguistics/plural_nouns"
    folder.mkdir(parents=True)
    (folder / "0123456789ab.yaml").write_text('version: 1\nid: "0123456789ab"\nsurprise: "!"\n')
    code, out, err = run_in_process(repo, monkeypatch, capsys, "--to", "validate")
    assert code == 1 and stage_statuses(out)["validate"] == "failed"
    assert "0123456789ab.yaml:3:1: error R001 unknown field 'surprise'" in err
