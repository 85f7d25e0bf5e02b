"""The schema files are valid draft 2020-12, read the real corpus at its declared versions,
and their errors become findings on the offending node with a message saying what to change."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from support.leaves import CORPUS, CORPUS_2024, knowledge_text, need, skill_text
from taxon.qna.loader import parse_text
from taxon.qna.taxonomy import KINDS
from taxon.validate.schemas import LATEST, VERSIONS, schema_dir, schema_files, schema_findings, validator


def test_every_version_has_a_schema_for_every_kind():
    assert sorted(p.relative_to(schema_dir()).as_posix() for p in schema_files()) == sorted(
        f"v{version}/{kind}.json" for version in VERSIONS for kind in KINDS
    )


@pytest.mark.parametrize("path", schema_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_schema_files_are_valid_draft_2020_12(path):
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert schema["$id"].endswith(f"/{path.parent.name}/{path.name}")


def _subschemas(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _subschemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _subschemas(value)


@pytest.mark.parametrize("kind", KINDS)
def test_version_4_bounds_every_string_and_list(kind):
    schema = json.loads((schema_dir() / f"v{LATEST}" / f"{kind}.json").read_text())
    nodes = list(_subschemas(schema))
    for node in nodes:
        if node.get("type") == "string":
            assert "maxLength" in node, node
        if node.get("type") == "array":
            assert "maxItems" in node, node


def _kind_of(path):
    return next(part for part in reversed(path.parts) if part in KINDS)


@pytest.mark.parametrize("corpus", [CORPUS, CORPUS_2024], ids=["2025", "2024-08"])
def test_real_files_pass_the_schema_of_their_declared_version(corpus):
    for path in sorted(need(corpus).rglob("qna.yaml")):
        parsed = parse_text(path.read_text(encoding="utf-8"), str(path))
        version = parsed.data.get("version", 1)
        assert schema_findings(parsed, _kind_of(path), version) == [], path


def check(text: str, kind: str, version: int = LATEST, declared=None):
    parsed = parse_text(text, "qna.yaml")
    assert parsed.ok, parsed.findings
    return schema_findings(parsed, kind, version, declared)


def rules(findings) -> list[str]:
    return [f.rule for f in findings]


def test_valid_leaves_of_each_kind_pass_version_4():
    assert check(skill_text(), "compositional_skills") == []
    assert check(skill_text(), "foundational_skills") == []
    assert check(knowledge_text(), "knowledge") == []
    external = "document:\n  repo: https://github.com/org/docs\n  commit: " + "a" * 40 + "\n  patterns:\n    - '*.md'"
    assert check(knowledge_text(document=external), "knowledge") == []


def test_version_3_skill_needs_five_unique_seeds():
    found = check(skill_text(version=3, seeds=4), "compositional_skills", 3)
    assert rules(found) == ["S004"] and "add 1 more" in found[0].message and found[0].line == 4
    repeated = (
        skill_text(version=3) + skill_text(version=3).split("seed_examples:\n")[1].split("\n  - question")[0] + "\n"
    )
    found = check(repeated, "compositional_skills", 3)
    assert rules(found) == ["S007"] and found[0].line == 15
    assert found[0].message == "`seed_examples[5]` repeats `seed_examples[0]` (line 5) exactly: remove the copy"


def test_version_1_skill_without_version_key_needs_one_seed():
    assert check(skill_text(version=None, seeds=1), "compositional_skills", 1) == []


def test_knowledge_version_3_needs_three_questions_per_context_and_a_document():
    text = knowledge_text(version=3, document="")
    text = text.replace("      - question: What is the name of the otter?\n        answer: Its name is otter.\n", "")
    found = check(text, "knowledge", 3)
    assert sorted(rules(found)) == ["S001", "S004"]
    missing = next(f for f in found if f.rule == "S001")
    assert "`document`" in missing.message and missing.line == 1
    few = next(f for f in found if f.rule == "S004")
    assert "questions_and_answers" in few.message and few.line == 8


def test_missing_and_unknown_keys_say_what_to_change():
    text = skill_text().replace("task_description:", "task_descripton:")
    found = check(text, "compositional_skills")
    assert {f.rule for f in found} == {"S001", "S002"}
    unknown = next(f for f in found if f.rule == "S002")
    assert (unknown.line, unknown.column) == (3, 1) and "task_descripton" in unknown.message
    assert "add the key `task_description`" in next(f for f in found if f.rule == "S001").message


def test_wrong_types_and_empty_values_point_at_the_node():
    found = check(
        skill_text()
        .replace("answer: The otter", "answer:\n    other: The otter")
        .replace("    other: The otter is an animal called otter with 5 letters.\n", "\n"),
        "compositional_skills",
    )
    assert rules(found) == ["S003"] and "is empty" in found[0].message and found[0].line == 6
    found = check(skill_text().replace("created_by: tester", "created_by: 12"), "compositional_skills")
    assert rules(found) == ["S003"] and "quotes" in found[0].message and (found[0].line, found[0].column) == (1, 13)


def test_version_4_document_rules():
    no_commit = "document:\n  repo: https://github.com/org/docs\n  patterns:\n    - a.md"
    found = check(knowledge_text(document=no_commit), "knowledge")
    assert rules(found) == ["S001"] and "`commit`" in found[0].message
    short = "document:\n  repo: https://github.com/org/docs\n  commit: abc123\n  patterns:\n    - a.md"
    found = check(knowledge_text(document=short), "knowledge")
    assert rules(found) == ["S006"] and "40-hex" in found[0].message


def test_version_4_bounds_long_text():
    found = check(skill_text().replace("Describe an animal in one sentence.", "word " * 500), "compositional_skills")
    assert rules(found) == ["S005"] and "at most 2000" in found[0].message and found[0].line == 3


def test_latest_on_an_older_file_says_to_migrate_once():
    found = check(skill_text(version=3), "compositional_skills", LATEST, declared=3)
    assert rules(found) == ["S008"] and "taxon migrate" in found[0].message and found[0].line == 2


def test_foundational_schema_refers_to_the_compositional_one():
    assert validator(3, "foundational_skills").is_valid(parse_text(skill_text(version=3), "q").data)
    assert not validator(3, "foundational_skills").is_valid({"version": 3})


def _jsonschema_errors(version: int, kind: str, data) -> set:
    from referencing import Registry, Resource

    documents = [json.loads(path.read_text()) for path in sorted((schema_dir() / f"v{version}").glob("*.json"))]
    registry = Registry().with_resources((doc["$id"], Resource.from_contents(doc)) for doc in documents)
    schema = next(doc for doc in documents if doc["$id"].endswith(f"/{kind}.json"))
    return {
        (tuple(e.absolute_path), e.validator) for e in Draft202012Validator(schema, registry=registry).iter_errors(data)
    }


def _checker_errors(version: int, kind: str, data) -> set:
    return {(e.absolute_path, e.validator) for e in validator(version, kind).iter_errors(data)}


def _broken_documents():
    skill = parse_text(skill_text(), "q").data
    knowledge = parse_text(knowledge_text(), "q").data
    seed = skill["seed_examples"][0]
    yield "compositional_skills", skill
    yield "knowledge", knowledge
    yield "compositional_skills", {**skill, "version": True, "created_by": None, "extra": 1}
    yield "compositional_skills", {**skill, "seed_examples": {"question": "q"}}
    yield "compositional_skills", {**skill, "seed_examples": ["text", 3, [seed], {**seed, "answer": 5}] + [seed] * 2}
    yield "foundational_skills", {**skill, "task_description": "x" * 3000, "seed_examples": [seed] * 60}
    yield "knowledge", {**knowledge, "document": {"repo": "http://x", "patterns": ["../a", 3], "other": 1}}
    yield "knowledge", {**knowledge, "document": {"commit": "abc", "patterns": []}}
    yield "knowledge", {**knowledge, "seed_examples": [{"context": 1, "questions_and_answers": "no"}] * 2}
    yield (
        "knowledge",
        {**knowledge, "seed_examples": [{"context": "c", "questions_and_answers": [{"question": "q"}] * 12}]},
    )
    yield "knowledge", [knowledge]
    yield "knowledge", "just text"


def test_the_checker_reports_what_jsonschema_reports_on_broken_documents():
    for kind, data in _broken_documents():
        for version in VERSIONS:
            assert _checker_errors(version, kind, data) == _jsonschema_errors(version, kind, data), (
                version,
                kind,
                data,
            )


@pytest.mark.parametrize("corpus", [CORPUS, CORPUS_2024], ids=["2025", "2024-08"])
def test_the_checker_reports_what_jsonschema_reports_on_the_corpus_at_every_version(corpus):
    for path in sorted(need(corpus).rglob("qna.yaml")):
        data = parse_text(path.read_text(encoding="utf-8"), str(path)).data
        for version in VERSIONS:
            assert _checker_errors(version, _kind_of(path), data) == _jsonschema_errors(
                version, _kind_of(path), data
            ), path


def test_the_checker_refuses_keywords_it_does_not_know():
    from taxon.validate.checker import Checker

    with pytest.raises(ValueError, match="oneOf"):
        Checker({"type": "object", "properties": {"a": {"oneOf": [{"type": "string"}]}}}, {})


def test_patterns_mean_what_ecma_regex_means_so_a_final_newline_is_refused():
    """JSON Schema patterns are ECMA-262 regexes (check-jsonschema runs them with regress):
    `$` is the end of the text. Python's `$` also matches before a final newline."""
    regress = pytest.importorskip("regress")
    from taxon.validate.checker import _pattern

    schema_patterns = {
        node["pattern"]
        for path in sorted(schema_dir().glob("v*/*.json"))
        for node in _nodes(json.loads(path.read_text()))
        if isinstance(node.get("pattern"), str)
    }
    texts = ["https://example.org/r", "https://example.org/r\n", "a" * 40, "a" * 40 + "\n", "docs/*.md", "../x", "x\n"]
    for pattern in schema_patterns | {"a$b|c$", "[$]x", "\\$$"}:
        for text in texts + ["$x", "c", "$"]:
            ours = _pattern(pattern).search(text) is not None
            assert ours == (regress.Regex(pattern).find(text) is not None), (pattern, text)
    knowledge = parse_text(knowledge_text(), "q").data
    document = {"repo": "https://example.org/r\n", "commit": "a" * 40 + "\n", "patterns": ["*.md"]}
    errors = _checker_errors(LATEST, "knowledge", {**knowledge, "document": document})
    assert {(("document", "repo"), "pattern"), (("document", "commit"), "pattern")} <= errors


def _nodes(value):
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _nodes(item)
    elif isinstance(value, list):
        for item in value:
            yield from _nodes(item)
