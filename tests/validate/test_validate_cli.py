"""`taxon validate` and `taxon rules` from the command line: output formats, the JSON contract,
exit codes, the real corpus, changed leaves, and what the command imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.git import git
from support.leaves import CORPUS, REPO, knowledge_text, need, skill_text
from taxon.cli import main
from taxon.core.rules import END_MARKER, RULES, START_MARKER, markdown_table, with_rules_table


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


@pytest.fixture(autouse=True)
def no_github_env(monkeypatch):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


def test_json_contract_lists_every_file_once_also_unreadable_ones(capsys, make_leaf, skill_leaf, tmp_path):
    broken = make_leaf("compositional_skills/a/broken", "created_by: [unclosed\n")
    binary = make_leaf("compositional_skills/a/binary", "x")
    binary.write_bytes(b"\xff\xfe\x00\x00garbage")
    code, out = run_cli(capsys, "validate", "--format", "json", str(tmp_path / "taxonomy"), str(skill_leaf))
    result = json.loads(out)
    assert code == 1
    assert set(result) == {"files", "tree", "decisions", "summary"} and result["tree"] == result["decisions"] == []
    assert [entry["path"] for entry in result["files"]] == sorted(str(p) for p in (broken, binary, skill_leaf))
    for entry in result["files"]:
        assert set(entry) == {"path", "findings"}
        for found in entry["findings"]:
            assert set(found) == {"rule", "severity", "line", "column", "message"}
            assert found["line"] >= 1 and found["column"] >= 1 and found["message"]
    rules = {entry["path"]: [f["rule"] for f in entry["findings"]] for entry in result["files"]}
    assert rules[str(broken)] == ["Y001"] and rules[str(binary)] == ["Y003"] and rules[str(skill_leaf)] == []
    assert result["summary"] == {"files": 3, "tree": 0, "decisions": 0, "errors": 2, "warnings": 0}


def test_exit_codes(capsys, skill_leaf, tmp_path, monkeypatch):
    assert run_cli(capsys, "validate", str(skill_leaf))[0] == 0
    code, out = run_cli(capsys, "validate", str(tmp_path / "missing" / "qna.yaml"))
    assert code == 1 and "1 files checked, 1 errors" in out and "Y012" in out  # only: it cannot be read
    with pytest.raises(SystemExit) as raised:
        main(["validate", "--format", "xml", str(skill_leaf)])
    assert raised.value.code == 2
    monkeypatch.chdir(tmp_path / "taxonomy")
    assert main(["validate"]) == 2  # no taxonomy/ folder here
    monkeypatch.chdir(tmp_path)
    code, out = run_cli(capsys, "validate")
    assert code == 0 and "1 files checked, 0 errors, 0 warnings: passed" in out


def test_warnings_alone_pass(capsys, make_leaf, tmp_path):
    make_leaf("compositional_skills/a/one", skill_text())
    make_leaf("foundational_skills/b/two", skill_text())
    code, out = run_cli(capsys, "validate", str(tmp_path / "taxonomy"))
    assert code == 0 and "T002" in out and "2 warnings: passed" in out


def test_text_format_names_path_line_column_and_rule(capsys, make_leaf):
    path = make_leaf("compositional_skills/a/dup", "created_by: a\ncreated_by: b\n")
    code, out = run_cli(capsys, "validate", str(path))
    assert code == 1 and f"{path}:2:1: error Y010 duplicate key 'created_by'" in out


def test_github_format_is_automatic_under_actions(capsys, make_leaf, monkeypatch):
    path = make_leaf("compositional_skills/a/dup", "created_by: a\ncreated_by: b\n")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code, out = run_cli(capsys, "validate", str(path))
    assert code == 1 and f"::error file={path},line=2,col=1,title=Y010 duplicate key::duplicate key" in out


def test_sarif_2_1_0(capsys, make_leaf):
    path = make_leaf("compositional_skills/a/dup", "created_by: a\ncreated_by: b\n")
    code, out = run_cli(capsys, "validate", "--format", "sarif", str(path))
    sarif = json.loads(out)
    assert code == 1 and sarif["version"] == "2.1.0" and "sarif-2.1.0" in sarif["$schema"]
    run = sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules][: len(RULES)] == list(RULES)
    result = next(r for r in run["results"] if r["ruleId"] == "Y010")
    assert rules[result["ruleIndex"]]["id"] == "Y010" and result["level"] == "error"
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 2, "startColumn": 1}


def test_config_overrides_reach_the_limits(capsys, skill_leaf):
    code, out = run_cli(capsys, "validate", "--set", "validate.max_file_bytes=10", str(skill_leaf))
    assert code == 1 and "Y002" in out


def test_latest_checks_older_files_at_version_4(capsys, make_leaf):
    path = make_leaf("compositional_skills/a/old", skill_text(version=3))
    assert run_cli(capsys, "validate", str(path))[0] == 0
    code, out = run_cli(capsys, "validate", "--latest", str(path))
    assert code == 1 and "S008" in out and "taxon migrate" in out


def test_the_real_corpus_gets_a_verdict_for_each_of_its_16_files(capsys):
    corpus = need(CORPUS)
    code, out = run_cli(capsys, "validate", "--format", "json", str(corpus))
    result = json.loads(out)
    leaves = result["files"]
    paths = [entry["path"] for entry in leaves]
    assert code in (0, 1) and len(paths) == len(set(paths)) == 16 == result["summary"]["files"]
    assert sorted(Path(p).relative_to(corpus) for p in paths) == sorted(
        p.relative_to(corpus) for p in corpus.rglob("qna.yaml")
    )
    for entry in leaves:
        assert not any(f["rule"].startswith(("Y", "S")) for f in entry["findings"]), entry
    # The note that came with the vendored corpus is no leaf file: listed apart, T003 and nothing else.
    others = {
        Path(entry["path"]).relative_to(corpus).as_posix(): [f["rule"] for f in entry["findings"]]
        for entry in result["tree"]
    }
    assert others == {"LICENSE-NOTE.md": ["T003"]}
    code, out = run_cli(capsys, "validate", str(corpus))
    assert "16 files checked, 1 files outside any leaf" in out


def test_rules_command_prints_the_table(capsys):
    code, out = run_cli(capsys, "rules")
    assert code == 0 and all(code in out for code in RULES)
    code, out = run_cli(capsys, "rules", "--markdown")
    assert code == 0 and out == markdown_table() and out.startswith("| Code | Severity | Rule | Why |")


def test_contributing_rules_table_is_generated_from_the_rules():
    document = (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert START_MARKER in document and END_MARKER in document
    assert with_rules_table(document) == document, "run: taxon rules --write CONTRIBUTING.md"


def test_rules_write_regenerates_only_the_marked_block(capsys, tmp_path):
    path = tmp_path / "CONTRIBUTING.md"
    path.write_text(f"# Title\n\nintro\n\n## Rules\n\n{START_MARKER}\nstale\n{END_MARKER}\n\nafter\n")
    assert main(["rules", "--write", str(path)]) == 0
    text = path.read_text()
    assert text.startswith("# Title\n\nintro\n") and text.endswith(f"{END_MARKER}\n\nafter\n")
    assert markdown_table() in text and "stale" not in text
    empty = tmp_path / "NEW.md"
    main(["rules", "--write", str(empty)])
    assert empty.read_text().startswith(f"## Rules\n\n{START_MARKER}\n")


def test_validate_starts_without_heavy_imports(skill_leaf):
    probe = (
        "import sys; from taxon.cli import main; code = main(['validate', '-q', sys.argv[1]]); "
        "heavy = [m for m in ('torch', 'transformers', 'peft', 'git', 'rich', 'ruamel', 'httpx') if m in sys.modules]; "
        "print('HEAVY', heavy); raise SystemExit(code)"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(skill_leaf)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout


def test_changed_validates_changed_leaves_at_the_newest_version(capsys, make_leaf, tmp_path, monkeypatch):
    kept = make_leaf("compositional_skills/a/kept", skill_text())
    gone = make_leaf("knowledge/a/gone", knowledge_text(), files={"animals.md": "# Animals\n"})
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "--all")
    git(tmp_path, "commit", "-q", "-m", "base")
    git(tmp_path, "checkout", "-q", "-b", "feature")
    added = make_leaf("compositional_skills/a/added", skill_text(version=3).replace("Describe the", "Paint the"))
    make_leaf("foundational_skills/b/copycat", skill_text())
    git(tmp_path, "rm", "-q", "-r", str(gone.parent))
    monkeypatch.chdir(tmp_path)
    code, out = run_cli(capsys, "validate", "--changed", "--base", "main", "--format", "json")
    result = json.loads(out)
    by_path = {entry["path"]: [(f["rule"], f["severity"]) for f in entry["findings"]] for entry in result["files"]}
    added_path = os.path.relpath(added, tmp_path)
    gone_path = os.path.relpath(gone, tmp_path)
    assert code == 1 and os.path.relpath(kept, tmp_path) not in by_path
    assert by_path[added_path] == [("S008", "error")]
    assert by_path[gone_path] == [("C001", "info")]
    # unchanged leaves are not validated, but a changed leaf that repeats one is told so
    copycat_findings = next(
        entry["findings"] for entry in result["files"] if entry["path"].endswith("copycat/qna.yaml")
    )
    assert [f["rule"] for f in copycat_findings] == ["T002"]
    assert os.path.relpath(kept, tmp_path) in copycat_findings[0]["message"]
    assert result["summary"] == {"files": 3, "tree": 0, "decisions": 0, "errors": 1, "warnings": 1}


def test_check_documents_adds_the_document_findings(capsys, knowledge_leaf, tmp_path):
    (tmp_path / "taxon.toml").write_text((REPO / "taxon.toml").read_text())
    code, out = run_cli(
        capsys,
        "validate",
        "--check-documents",
        "--config",
        str(tmp_path / "taxon.toml"),
        "--format",
        "json",
        str(knowledge_leaf),
    )
    assert code == 0 and json.loads(out)["files"][0]["findings"] == []
    (knowledge_leaf.parent / "animals.md").unlink()
    (knowledge_leaf.parent / "animals.bin").write_bytes(b"\x00\x01")
    knowledge_leaf.write_text(knowledge_text().replace("- animals.md", "- animals.*"))
    code, out = run_cli(
        capsys,
        "validate",
        "--check-documents",
        "--config",
        str(tmp_path / "taxon.toml"),
        "--format",
        "json",
        str(knowledge_leaf),
    )
    rules = [f["rule"] for f in json.loads(out)["files"][0]["findings"]]
    assert code == 1 and any(rule.startswith("D") for rule in rules), rules


def test_a_schema_folder_without_the_schemas_is_an_error_with_a_hint_not_a_traceback(
    capsys, skill_leaf, tmp_path, monkeypatch
):
    from taxon.validate.schemas import validator

    monkeypatch.setenv("TAXON_SCHEMA_DIR", str(tmp_path / "empty"))
    validator.cache_clear()
    try:
        code = main(["validate", str(skill_leaf)])
    finally:
        validator.cache_clear()
    error = capsys.readouterr().err
    assert code == 1 and "no schema for compositional_skills" in error and "TAXON_SCHEMA_DIR" in error
    assert "Traceback" not in error
