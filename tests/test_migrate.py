"""`taxon migrate` on copies of the 2024-08 corpus and on small files: what can be migrated
passes schema v4 with only the upgrade changed; what can't is left alone with a clear list."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from support.leaves import CORPUS_2024, need, skill_text
from taxon.cli import main
from taxon.migrate import FLAT_KNOWLEDGE_NEEDS, migrate_file, migrate_paths
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
    blocked = [result for result in results if result.needs]
    assert written and blocked and len(written) + len(blocked) == len(results)
    for result in blocked:
        assert result.path.read_text(encoding="utf-8") == originals[result.path], "a blocked file is left as it was"
        assert all(need.strip() for need in result.needs)


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
    assert all(r.needs[0] == FLAT_KNOWLEDGE_NEEDS for r in knowledge)
    assert "context" in FLAT_KNOWLEDGE_NEEDS and "questions_and_answers" in FLAT_KNOWLEDGE_NEEDS


def test_short_skills_say_how_many_seeds_to_add(migrated_corpus):
    _, _, results = migrated_corpus
    messages = [need for r in results for need in r.needs]
    assert "`seed_examples` has 3 items, at least 5 needed: add 2 more" in messages


def leaf(tmp_path: Path, folder: str, text: str) -> Path:
    path = tmp_path / "taxonomy" / folder / "qna.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
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
    assert not result.written and "Y001" not in result.needs[0] and "line 2" in result.needs[0]
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
    assert f"{short}: not migrated; a person must:\n  - `seed_examples` has 2 items" in out
    assert "2 files: 0 migrated, 1 need a person, 1 already at the newest version" in out
