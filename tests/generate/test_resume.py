"""Cache and resume: reruns ask nothing, a changed leaf alone regenerates, a killed run
resumes to exactly the files of an uninterrupted one."""

import json
import shutil
from pathlib import Path

import pytest
from generate_helpers import BIRD_QUESTIONS, write_skill

from support.scripted_teacher import ScriptedTeacher
from taxon.core.errors import TaxonError
from taxon.core.store import read_jsonl
from taxon.generate.run import LeavesFailed, generate_leaves
from taxon.qna.layout import STATS_NAME, SUMMARY_NAME
from taxon.qna.taxonomy import load_leaves


def files_of(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def three_leaves(root: Path) -> Path:
    write_skill(root, "birds", BIRD_QUESTIONS)
    write_skill(root, "trees", ["Which trees lose leaves in autumn?", "How tall do oak trees grow?"], task="Trees")
    write_skill(
        root,
        "rewrite",
        ["Rewrite the text simply", "Make this easier to read"],
        context="The elucidation of intricate interplay remains a focal point.",
        task="Rewrite texts simply",
    )
    return root


def test_rerun_with_nothing_changed_makes_zero_calls(tmp_path, make_config):
    leaves = load_leaves(three_leaves(tmp_path / "taxonomy"))
    config = make_config(leaves_per_batch=2, batch_size=5)
    first = ScriptedTeacher()
    generate_leaves(leaves, tmp_path / "out", config, first, quiet=True)
    before = files_of(tmp_path / "out")

    again = ScriptedTeacher()  # same output folder: finished leaves are skipped whole
    result = generate_leaves(load_leaves(tmp_path / "taxonomy"), tmp_path / "out", config, again, quiet=True)
    assert first.calls > 0 and again.calls == result.calls == result.cached_units == 0
    assert files_of(tmp_path / "out") == before

    elsewhere = ScriptedTeacher()  # a new output folder: every unit comes from the cache
    result = generate_leaves(leaves, tmp_path / "elsewhere", config, elsewhere, quiet=True)
    assert elsewhere.calls == result.calls == 0 and result.cached_units > 0
    assert files_of(tmp_path / "elsewhere") == before


def test_a_changed_leaf_alone_regenerates(tmp_path, make_config):
    root = three_leaves(tmp_path / "taxonomy")
    config = make_config()
    generate_leaves(load_leaves(root), tmp_path / "out", config, ScriptedTeacher(), quiet=True)
    untouched = {k: v for k, v in files_of(tmp_path / "out").items() if "trees" not in k and k != SUMMARY_NAME}

    write_skill(root, "trees", ["Which trees lose leaves in autumn?", "Why is tree bark rough?"], task="Trees")
    teacher = ScriptedTeacher()
    generate_leaves(load_leaves(root), tmp_path / "out", config, teacher, quiet=True)

    alone = ScriptedTeacher()
    trees = [leaf for leaf in load_leaves(root) if "trees" in leaf.leaf_id]
    generate_leaves(trees, tmp_path / "alone", make_config(cache_dir=str(tmp_path / "fresh")), alone, quiet=True)
    # only the new seed's units are new: the unchanged seed's questions and answers are reused
    assert 0 < teacher.calls < alone.calls
    assert all("Which trees" not in r.messages[-1]["content"] for r in teacher.requests)
    assert {k: v for k, v in files_of(tmp_path / "out").items() if k in untouched} == untouched
    assert files_of(tmp_path / "out/compositional_skills/trees") == files_of(
        tmp_path / "alone/compositional_skills/trees"
    )


@pytest.mark.parametrize("kill_after", [1, 4, 9, 17, 30])
def test_killed_run_resumes_to_the_same_files(tmp_path, make_config, kill_after):
    leaves = load_leaves(three_leaves(tmp_path / "taxonomy"))
    config = make_config(batch_size=3, leaves_per_batch=1)
    generate_leaves(leaves, tmp_path / "whole", config, ScriptedTeacher(), quiet=True)
    shutil.rmtree(config.generate.cache_dir)

    dying = ScriptedTeacher(fail_after=kill_after, failure=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        generate_leaves(leaves, tmp_path / "resumed", config, dying, quiet=True)
    resuming = ScriptedTeacher()
    generate_leaves(leaves, tmp_path / "resumed", config, resuming, quiet=True)
    assert files_of(tmp_path / "resumed") == files_of(tmp_path / "whole")


def test_endpoint_down_keeps_finished_leaves(tmp_path, make_config):
    leaves = load_leaves(three_leaves(tmp_path / "taxonomy"))
    config = make_config(leaves_per_batch=1)
    down = ScriptedTeacher(fail_after=30, failure=TaxonError("the teacher endpoint failed 6 times"))
    with pytest.raises(TaxonError, match="endpoint failed"):
        generate_leaves(leaves, tmp_path / "out", config, down, quiet=True)
    finished = sorted(p.parent.name for p in (tmp_path / "out").rglob(STATS_NAME))
    assert finished == ["birds"]  # leaves run in path order: birds, grounded/rewrite, trees
    resumed = ScriptedTeacher()
    generate_leaves(leaves, tmp_path / "out", config, resumed, quiet=True)
    assert 0 < resumed.calls < down.calls + resumed.calls


def test_leaf_with_nothing_kept_fails_after_the_others(tmp_path, make_config):
    root = three_leaves(tmp_path / "taxonomy")
    write_skill(root, "broken", ["Say something [refuse]", "Say more [answer-refuse]"], task="Say something")
    with pytest.raises(LeavesFailed) as failure:
        generate_leaves(
            load_leaves(root), tmp_path / "out", make_config(leaves_per_batch=1), ScriptedTeacher(), quiet=True
        )
    result = failure.value.result
    assert list(result.errors) == ["compositional_skills/broken"]
    assert "kept 0 of 4 samples" in str(failure.value) and "refusal 4" in str(failure.value)
    stats = json.loads((tmp_path / "out/compositional_skills/broken" / STATS_NAME).read_text())
    assert stats["kept"] == 0 and stats["dropped"] == {"refusal": 4} and "error" in stats
    assert read_jsonl(tmp_path / "out/compositional_skills/broken/samples.jsonl") == []
    assert all(result.leaves[leaf]["kept"] > 0 for leaf in result.leaves if "broken" not in leaf)
    summary = json.loads((tmp_path / "out" / SUMMARY_NAME).read_text())
    assert set(summary["leaves"]) == set(result.leaves)


def test_failed_requests_are_tried_again(tmp_path, make_config):
    write_skill(tmp_path / "taxonomy", "birds", BIRD_QUESTIONS + ["What do owls eat? [error]"])
    leaves = load_leaves(tmp_path / "taxonomy")
    config = make_config()
    generate_leaves(leaves, tmp_path / "out", config, ScriptedTeacher(), quiet=True)
    again = ScriptedTeacher()
    result = generate_leaves(leaves, tmp_path / "out", config, again, quiet=True)
    assert again.calls == 1 and result.leaves["compositional_skills/birds"]["dropped"] == {"error": 1}
