"""A whole run, a cached rerun, a changed leaf, and --from / --to."""

import json
import os
import shutil

import pytest

from support.pipeline_runs import BundleWatcher, run_dir, run_in_process, run_pipeline_cli, sample_files, stage_statuses
from taxon.cli import main
from taxon.pipeline import STAGES
from taxon.publish import verify_bundle

# One worker runs the pipeline tests (`-n 2 --dist loadgroup`): they share the reference run.
pytestmark = pytest.mark.xdist_group("pipeline")


def test_a_full_run_publishes_a_verified_bundle(reference):
    assert stage_statuses(reference.stdout) == dict.fromkeys(STAGES, "done")
    assert verify_bundle(reference.run / "bundle") == []
    assert sorted(path.stem for path in (reference.run / "stages").glob("*.json")) == sorted(STAGES)
    generate = json.loads((reference.run / "stages" / "generate.json").read_text())["figures"]
    assert generate["kept"] > 0 and generate["teacher_calls"] == reference.calls - 1  # and the endpoint probe
    assert f"bundle: {reference.run / 'bundle'}" in reference.stdout


def test_a_second_run_is_cached_and_asks_the_teacher_nothing(reference, teacher, monkeypatch, capsys):
    before = teacher.chat_requests
    code, out, err = run_in_process(reference.repo, monkeypatch, capsys)
    assert code == 0, out + err
    assert stage_statuses(out) == dict.fromkeys(STAGES, "cached")
    assert teacher.chat_requests == before
    assert verify_bundle(reference.run / "bundle") == []


@pytest.mark.slow
def test_a_changed_leaf_alone_regenerates_and_the_stages_after_it_rerun(reference, teacher, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(reference.repo, repo)
    qna = repo / "taxonomy/compositional_skills/linguistics/plural_nouns/qna.yaml"
    qna.write_text(qna.read_text().replace("Plural of cactus?", "What is the plural of cactus?"))
    teacher.prompts.clear()
    before = teacher.chat_requests

    with BundleWatcher(run_dir(repo) / "bundle") as watcher:  # the old bundle is replaced whole
        completed = run_pipeline_cli(repo)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert watcher.problems == [] and watcher.looks > 0
    assert stage_statuses(completed.stdout) == dict.fromkeys(STAGES, "done")
    calls = teacher.chat_requests - before
    assert 0 < calls < reference.calls
    asked = [prompt for prompt in teacher.prompts if prompt != "Reply with OK."]  # the endpoint probe
    assert asked and all("plural" in prompt.lower() for prompt in asked)
    changed = "compositional_skills/linguistics/plural_nouns/"
    new, old = sample_files(run_dir(repo) / "generate"), sample_files(reference.run / "generate")
    assert {k: v for k, v in new.items() if not k.startswith(changed)} == {
        k: v for k, v in old.items() if not k.startswith(changed)
    }
    assert new[changed + "samples.jsonl"] != old[changed + "samples.jsonl"]
    assert verify_bundle(run_dir(repo) / "bundle") == []


def test_to_generate_runs_validate_and_generate_only(copy_reference, reference, monkeypatch, capsys):
    repo = copy_reference(unit_cache=True)  # every unit cached: no teacher calls but the probe
    code, out, err = run_in_process(repo, monkeypatch, capsys, "--to", "generate")
    assert code == 0, out + err
    assert stage_statuses(out) == {
        "validate": "done",
        "generate": "done",
        "train": "not run",
        "evaluate": "not run",
        "publish": "not run",
    }
    assert sorted(path.stem for path in (run_dir(repo) / "stages").glob("*.json")) == ["generate", "validate"]
    assert not (run_dir(repo) / "train").exists() and not (run_dir(repo) / "bundle").exists()
    assert sample_files(run_dir(repo) / "generate") == sample_files(reference.run / "generate")


@pytest.mark.slow
def test_from_train_builds_on_a_finished_generate_stage(copy_reference, reference, teacher, monkeypatch, capsys):
    repo = copy_reference(("validate", "generate"))
    before = teacher.chat_requests
    code, out, err = run_in_process(repo, monkeypatch, capsys, "--from", "train")
    assert code == 0, out + err
    assert stage_statuses(out) == {
        "validate": "not run",
        "generate": "not run",
        "train": "done",
        "evaluate": "done",
        "publish": "done",
    }
    assert teacher.chat_requests == before
    assert verify_bundle(run_dir(repo) / "bundle") == []


def test_from_train_without_a_generate_stage_is_refused(copy_reference, monkeypatch, capsys):
    repo = copy_reference(("validate",))
    code, out, err = run_in_process(repo, monkeypatch, capsys, "--from", "train")
    assert code == 2
    assert "the generate stage has not run" in err and "--from generate" in err
    assert not (run_dir(repo) / "train").exists()


def test_from_train_after_the_taxonomy_changed_is_refused(copy_reference, monkeypatch, capsys):
    repo = copy_reference(("validate", "generate"))
    qna = repo / "taxonomy/foundational_skills/reasoning/arithmetic/odd_or_even/qna.yaml"
    qna.write_text(qna.read_text().replace("37 is odd.", "37 is an odd number."))
    code, out, err = run_in_process(repo, monkeypatch, capsys, "--from", "train")
    assert code == 2 and "the validate stage is out of date" in err
    assert not (run_dir(repo) / "train").exists()


def test_a_new_teacher_address_keeps_generate_cached(copy_reference, monkeypatch, capsys):
    repo = copy_reference(("validate", "generate"))
    code, out, err = run_in_process(
        repo,
        monkeypatch,
        capsys,
        "--to",
        "generate",
        "--set",
        'teacher.base_url="http://127.0.0.1:9/v1"',
        "--set",
        "teacher.timeout_s=1",
    )
    assert code == 0, out + err
    assert stage_statuses(out)["generate"] == "cached"


def test_an_unknown_stage_is_a_usage_error(reference, monkeypatch, capsys):
    monkeypatch.chdir(reference.repo)
    with pytest.raises(SystemExit) as exit_:
        main(["pipeline", "--from", "training"])
    assert exit_.value.code == 2
    code, out, err = run_in_process(reference.repo, monkeypatch, capsys, "--from", "publish", "--to", "train")
    assert code == 2 and "--from publish comes after --to train" in err


def test_an_invalid_taxonomy_stops_the_run_at_validate(copy_reference, teacher, monkeypatch, capsys):
    repo = copy_reference()
    qna = repo / "taxonomy/foundational_skills/reasoning/arithmetic/odd_or_even/qna.yaml"
    qna.write_text(qna.read_text().replace("task_description:", "task_descriptoin:"))
    before = teacher.chat_requests
    code, out, err = run_in_process(repo, monkeypatch, capsys)
    assert code == 1, out + err
    assert stage_statuses(out) == {"validate": "failed", **dict.fromkeys(STAGES[1:], "not run")}
    assert "validate failed: the taxonomy has" in err and "odd_or_even/qna.yaml" in err and "Traceback" not in err
    assert teacher.chat_requests == before and not (run_dir(repo) / "generate").exists()


BROKEN_LEAF = "compositional_skills/imported/escaped"  # an old InstructLab file: version 1, 3 seeds, an escape
BROKEN_TEXT = "created_by: someone\ntask_description: ''\nseed_examples:\n" + "".join(
    f'  - question: "Question {n} \\uF020?"\n    answer: Answer {n}.\n' for n in range(3)
)


def test_leaves_runs_on_the_leaves_that_are_ready_and_names_the_others(copy_reference, reference, monkeypatch, capsys):
    """An imported tree with a leaf that fails validation: the whole-tree run stops at
    validate (saying how to run on the ready leaves, each finding one line); --leaves runs
    the two skill leaves, validates those alone and names the leaves it left out."""
    repo = copy_reference(unit_cache=True)
    broken = repo / "taxonomy" / BROKEN_LEAF / "qna.yaml"
    broken.parent.mkdir(parents=True)
    broken.write_text(BROKEN_TEXT)
    code, out, err = run_in_process(repo, monkeypatch, capsys, "--to", "generate")
    assert code == 1 and stage_statuses(out)["validate"] == "failed"
    findings = [line for line in err.splitlines() if line.startswith(str(broken))]
    assert {line.split()[2] for line in findings} >= {"P040", "S004", "S008", "P020", "Y015"}, err
    assert all(len(line) > 160 or line.endswith(")") for line in findings)  # whole lines, not wrapped
    assert "or run on the leaves that are ready: taxon pipeline --leaves PATTERN" in err
    chosen = ("compositional_skills/linguistics", "foundational_skills/reasoning/arithmetic/odd_*")
    code, out, err = run_in_process(repo, monkeypatch, capsys, "--to", "generate", "--leaves", *chosen)
    assert code == 0, out + err
    assert stage_statuses(out) == {"validate": "done", "generate": "done", **dict.fromkeys(STAGES[2:], "not run")}
    leaves = json.loads((run_dir(repo) / "leaves.json").read_text())
    assert leaves == {
        "patterns": list(chosen),
        "leaves": [
            "compositional_skills/linguistics/plural_nouns",
            "foundational_skills/reasoning/arithmetic/odd_or_even",
        ],
        "left_out": [BROKEN_LEAF, "knowledge/science/fictional_species/marrowick_finch"],
    }
    assert f"leaves: 2 of 4 chosen by {' '.join(chosen)}; left out (not validated, generated, trained on" in out
    assert f"{BROKEN_LEAF}, knowledge/science/fictional_species/marrowick_finch (" in out
    assert sorted(path.parent.name for path in (run_dir(repo) / "generate").glob("*/*/*/stats.json")) == [
        "plural_nouns"
    ]
    assert "left_out=2" in out
    code, out, err = run_in_process(repo, monkeypatch, capsys, "--to", "generate", "--leaves", "knowledge/nothing_here")
    assert code == 2 and "no leaf under" in err and "'knowledge/nothing_here'" in err


def test_the_published_bundle_is_readable_as_the_umask_allows(reference):
    old = os.umask(0o022)
    os.umask(old)
    expected_others = 0o044 & ~old  # group and others may read unless the umask forbids it
    paths = [reference.run / "bundle", *(reference.run / "bundle").rglob("*")]
    unreadable = [
        str(path.relative_to(reference.run))
        for path in paths
        if path.stat().st_mode & expected_others != expected_others
    ]
    assert unreadable == []
