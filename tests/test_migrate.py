"""`taxon migrate` on copies of the 2024-08 corpus and on small files: what can be migrated
passes schema v4 with only the upgrade changed; what can't is left alone with a clear list."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from support.leaves import ATTRIBUTION, CORPUS_2024, need, skill_text
from taxon.cli import main
from taxon.migrate import ATTRIBUTION as NEEDS_ATTRIBUTION
from taxon.migrate import FIX, FLAT_KNOWLEDGE_NEEDS, SEEDS, migrate_file, migrate_paths
from taxon.qna.loader import read_qna
from taxon.qna.taxonomy import kind_of
from taxon.validate.schemas import LATEST, schema_findings


@pytest.fixture(scope="module")
def migrated_corpus(tmp_path_factory):
    copy = tmp_path_factory.mktemp("corpus") / "taxonomy"
    shutil.copytree(need(CORPUS_2024), copy)
    originals = {path: path.read_text(encoding="utf-8") for path in copy.rglob("qna.yaml")}
    return copy, originals, migrate_paths([copy])


def test_every_corpus_file_is_migrated_or_says_what_a_person_must_add(migrated_corpus):
    _, originals, results = migrated_corpus
    assert sorted(result.path for result in results) == sorted(originals)
    written = [result for result in results if result.written]
    waiting = [result for result in results if result.action == "waits"]
    assert len(written) == 18 and len(waiting) == 129 and len(written) + len(waiting) == len(results)
    for result in waiting:
        assert result.path.read_text(encoding="utf-8") == originals[result.path], "a waiting file is left as it was"
        assert result.needs and all(need.message.strip() for need in result.needs)
    # what validate --latest would say of each, all at once: 146 lack an attribution.txt
    assert sum(any(need.what == NEEDS_ATTRIBUTION for need in r.needs) for r in results) == 143


def test_migrated_files_pass_schema_v4_and_change_only_the_upgrade(migrated_corpus):
    _, originals, results = migrated_corpus
    for result in (r for r in results if r.written):
        parsed = read_qna(result.path)
        assert parsed.ok and parsed.data["version"] == LATEST
        assert schema_findings(parsed, kind_of(result.path), LATEST) == [], result.path
        old = yaml.safe_load(originals[result.path])
        assert parsed.data == {**old, "version": LATEST}, "the data is unchanged apart from the version"
        added = set(parsed.text.splitlines()) - set(originals[result.path].splitlines())
        assert added == {f"version: {LATEST}"}, result.path


def test_knowledge_without_contexts_explains_what_to_add(migrated_corpus):
    _, _, results = migrated_corpus
    knowledge = [r for r in results if "knowledge" in r.path.parts]
    assert knowledge and all(not r.written for r in knowledge)
    assert all(r.needs[0].message == FLAT_KNOWLEDGE_NEEDS for r in knowledge)
    assert "context" in FLAT_KNOWLEDGE_NEEDS and "questions_and_answers" in FLAT_KNOWLEDGE_NEEDS


def test_short_skills_say_how_many_seeds_to_add(migrated_corpus):
    _, _, results = migrated_corpus
    seeds = [item for r in results for item in r.needs if item.what == SEEDS]
    assert "`seed_examples` has 3 items, at least 5 needed: add 2 more" in [item.message for item in seeds]
    assert sum(item.count for item in seeds) == 357 and len(seeds) == 127


def test_nothing_hides_behind_an_invisible_character(migrated_corpus):
    """A file with escaped private-use characters was 'fix line 12' and nothing else, then
    its seeds, then the rest (three rounds): now every need in one go, placed in the file as
    it is on disk (the upgrade that would add a line is not written yet)."""
    copy, originals, results = migrated_corpus
    result = next(r for r in results if r.path.parts[-4:-1] == ("extraction", "annual_report", "bullet_points"))
    assert [need.what for need in result.needs] == [NEEDS_ATTRIBUTION, SEEDS, FIX, FIX, FIX]
    assert [need.rule for need in result.needs] == ["P040", "S004", "Y015", "Y015", "Y015"]
    lines = originals[result.path].splitlines()
    for escaped in result.needs[2:]:
        assert lines[escaped.line - 1][escaped.column - 1 :].startswith("\\uF020"), escaped
    result = next(r for r in results if r.path.parts[-4:-1] == ("extraction", "abstractive", "abstract"))
    empty = next(need for need in result.needs if need.rule == "P020")
    assert originals[result.path].splitlines()[empty.line - 1].startswith("task_description: ''")


def leaf(tmp_path: Path, folder: str, text: str, attribution: str | None = ATTRIBUTION) -> Path:
    path = tmp_path / "taxonomy" / folder / "qna.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    if attribution is not None:
        (path.parent / "attribution.txt").write_text(attribution, encoding="utf-8")
    return path


def test_comments_key_order_and_formatting_are_kept(tmp_path):
    text = "# A skill about animals\n" + skill_text(version=2).replace(
        "task_description:", "# what the skill teaches\ntask_description:"
    ).replace("version: 2", "version: 2  # bumped by migrate")
    path = leaf(tmp_path, "compositional_skills/a/commented", text)
    result = migrate_file(path)
    assert result.written and result.from_version == 2
    assert path.read_text() == text.replace("version: 2  #", f"version: {LATEST}  #")


def test_version_1_knowledge_with_contexts_renames_task_description(tmp_path):
    text = (
        "created_by: me\ndomain: zoo\ntask_description: Animals. # the outline\nseed_examples:\n"
        + "".join(
            f"  - context: Context {n}.\n    questions_and_answers:\n"
            + "".join(f"      - question: Q{n}{m}?\n        answer: A{n}{m}.\n" for m in range(3))
            for n in range(5)
        )
        + "document:\n  repo: https://github.com/org/docs\n  commit: "
        + "ab" * 20
        + "\n  patterns:\n    - a.md\n"
    )
    renamed = leaf(tmp_path, "knowledge/b/renamed", text.replace("created_by: me\n", "created_by: me\nversion: 2\n"))
    result = migrate_file(renamed)
    assert result.written
    assert "document_outline: Animals. # the outline\n" in renamed.read_text()


def test_unusual_layout_falls_back_to_a_round_trip(tmp_path):
    seeds = ", ".join(f"{{question: Q{n}?, answer: A{n}.}}" for n in range(5))
    path = leaf(
        tmp_path, "compositional_skills/a/flow", f"{{created_by: me, task_description: T, seed_examples: [{seeds}]}}\n"
    )
    result = migrate_file(path)
    assert result.written
    data = read_qna(path).data
    assert data["version"] == LATEST and list(data)[1:] == ["created_by", "task_description", "seed_examples"]


def test_unreadable_and_current_files_are_not_touched(tmp_path):
    broken = leaf(tmp_path, "compositional_skills/a/broken", "a: [\n")
    result = migrate_file(broken)
    assert not result.written and result.action == "blocked"
    assert "Y001" not in result.needs[0].message and "line 2" in result.needs[0].message
    current = leaf(tmp_path, "compositional_skills/a/current", skill_text())
    result = migrate_file(current)
    assert not result.written and not result.needs and "already" in result.describe()


def test_migrate_command_exit_codes(tmp_path, capsys):
    ok = leaf(tmp_path, "compositional_skills/a/ok", skill_text(version=None))
    assert main(["migrate", str(ok)]) == 0
    assert "migrated from version 1 to 4" in capsys.readouterr().out
    short = leaf(tmp_path, "compositional_skills/a/short", skill_text(version=None, seeds=2))
    assert main(["migrate", str(tmp_path / "taxonomy")]) == 1
    out = capsys.readouterr().out
    assert f"{short}: not migrated (version 1); a person must:\n  - `seed_examples` has 2 items" in out
    assert out.splitlines()[-1].startswith(
        "2 files: 0 upgraded to version 4, 1 already at it, 1 waiting for a person, 0 blocked; 1 ready"
    )
    assert "A person must: add 3 seed examples to 1 files." in out


def test_the_report_is_one_table_with_the_command_that_checks_each_file_again(tmp_path, capsys):
    short = leaf(tmp_path, "compositional_skills/a/short", skill_text(version=2, seeds=3), attribution=None)
    nc = "Title of work: x\nLicense of the work: CC BY-NC-SA 4.0\n"
    licensed = leaf(tmp_path, "compositional_skills/a/licensed", skill_text(version=3), attribution=nc)
    done = leaf(tmp_path, "compositional_skills/a/done", skill_text(version=3))
    assert main(["migrate", "--report", str(tmp_path / "taxonomy")]) == 1
    table = capsys.readouterr().out.split("\n\n")[0].splitlines()
    assert table[0] == "| file | migrate did | seeds to add | attribution | license | also to fix | check again |"
    rows = {line.split(" | ")[0].strip("|` "): line.split(" | ")[1:] for line in table[2:]}
    assert rows[str(short)] == [
        "2 → 4 once it passes the schema",
        "2",
        "add attribution.txt",
        "",
        "",
        f"`taxon migrate {short}` |",
    ]
    assert rows[str(licensed)][:4] == [
        "3 → 4",
        "",
        "",
        "attribution.txt names the license 'CC BY-NC-SA 4.0', which is not in [validate] licenses of taxon.toml",
    ]
    assert rows[str(licensed)][-1] == f"`taxon validate --latest {licensed}` |"
    assert rows[str(done)] == ["3 → 4", "", "", "", "", " |"]
    assert main(["migrate", "--report", "--format", "json", str(tmp_path / "taxonomy")]) == 1
    report = json.loads(capsys.readouterr().out)
    by_path = {entry["path"]: entry for entry in report["files"]}
    assert by_path[str(short)]["needs"][1] | {"message": ""} == {
        "what": "seeds",
        "message": "",
        "line": 4,
        "column": 1,
        "rule": "S004",
        "count": 2,
    }
    assert by_path[str(done)]["needs"] == [] and by_path[str(done)]["action"] == "current"
    assert "3 ready" not in report["summary"] and "1 ready" in report["summary"]


def test_foundational_skills_accept_the_repository_license_when_taxon_toml_says_so(tmp_path, capsys):
    """InstructLab's foundational skills carry no attribution.txt: with [validate]
    repository_license the report offers one naming it, --accept-defaults writes it, and
    validate passes; without the setting nothing is offered. require_attribution = false
    drops P040 altogether."""
    foundational = leaf(tmp_path, "foundational_skills/reasoning/odd", skill_text(version=3), attribution=None)
    compositional = leaf(
        tmp_path, "compositional_skills/a/other", skill_text(version=3).replace("heron", "crane"), None
    )
    taxonomy = str(tmp_path / "taxonomy")
    main(["migrate", "--report", "--format", "json", taxonomy])
    offered = {e["path"]: e["offered"] for e in json.loads(capsys.readouterr().out)["files"]}
    assert offered == {str(foundational): [], str(compositional): []}
    license_set = ["--set", "validate.repository_license=Apache-2.0"]
    main(["migrate", "--report", "--format", "json", *license_set, taxonomy])
    report = {e["path"]: e for e in json.loads(capsys.readouterr().out)["files"]}
    assert report[str(foundational)]["offered"] == ["attribution.txt naming Apache-2.0 ([validate] repository_license)"]
    assert "or accept the default" in report[str(foundational)]["needs"][0]["message"]
    assert report[str(compositional)]["offered"] == []
    assert not (foundational.parent / "attribution.txt").exists()
    assert main(["migrate", "--accept-defaults", *license_set, taxonomy]) == 1  # the compositional one still needs one
    attribution = (foundational.parent / "attribution.txt").read_text()
    assert "License of the work: Apache-2.0\nCreator names: tester\n" in attribution
    assert f"{foundational}: already version 4\n  default written: attribution.txt naming Apache-2.0" in (
        capsys.readouterr().out
    )
    assert main(["validate", "--latest", str(foundational)]) == 0
    capsys.readouterr()
    assert main(["migrate", "--set", "validate.require_attribution=false", taxonomy]) == 0
