"""Each policy rule on real leaves written to temp folders, and the tree-wide rules."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from support.leaves import knowledge_text, skill_text
from taxon.core.settings import ValidateSettings, plain
from taxon.validate import engine
from taxon.validate.engine import validate_paths

DEFAULTS = ValidateSettings()


def findings_of(path, **options):
    report = validate_paths([path], **options)
    assert len(report.files) == 1
    return report.files[0].findings


def rules(findings) -> list[str]:
    return [f.rule for f in findings]


def test_valid_leaves_have_no_findings(knowledge_leaf, skill_leaf):
    assert findings_of(knowledge_leaf, latest=True) == []
    assert findings_of(skill_leaf, latest=True) == []


def test_whitespace_hygiene(make_leaf):
    text = (
        skill_text()
        .replace("created_by: tester", "created_by: tester  ")
        .replace("in one sentence.\n", "in one\tsentence.\n", 1)
    )
    found = findings_of(make_leaf("compositional_skills/a/tabs", text.rstrip("\n")))
    assert rules(found) == ["P002", "P001", "P003"]
    assert [(f.line, f.column) for f in found] == [(1, 19), (3, 44), (14, 75)]
    assert rules(findings_of(make_leaf("compositional_skills/a/blank_end", skill_text() + "\n\n"))) == ["P003"]


def test_trailing_whitespace_findings_are_capped_per_file(make_leaf):
    text = skill_text().replace("\n", "  \n")
    found = findings_of(
        make_leaf("compositional_skills/a/many", text), settings=ValidateSettings(max_findings_per_rule=5)
    )
    assert rules(found) == ["P002"] * 5
    assert "(and 9 more lines like this)" in found[-1].message


def test_word_budgets(make_leaf):
    long_context = knowledge_text().replace(
        "The otter lives near water and", "word " * 501 + "The otter lives near water and"
    )
    found = findings_of(make_leaf("knowledge/a/long_context", long_context, files={"animals.md": "x\n"}))
    assert rules(found) == ["P010"] and "over 500" in found[0].message and found[0].line == 6
    long_pair = knowledge_text().replace("answer: The otter eats fish.", "answer: " + " ".join(["fish"] * 250))
    found = findings_of(make_leaf("knowledge/a/long_pair", long_pair, files={"animals.md": "x\n"}))
    assert rules(found) == ["P011"] and found[0].line == 11
    long_skill = skill_text().replace("letters.", "letters. " + " ".join(["word"] * 470))
    found = findings_of(make_leaf("compositional_skills/a/long", long_skill))
    assert rules(found) == ["P012"] and "over 2300" in found[0].message and found[0].line == 4


def test_empty_and_whitespace_only_values(make_leaf):
    text = skill_text().replace("answer: The otter is an animal called otter with 5 letters.", 'answer: "   "')
    found = findings_of(make_leaf("compositional_skills/a/empty", text))
    assert rules(found) == ["P020"] and (found[0].line, found[0].column) == (6, 13)
    assert found[0].message == (
        "`seed_examples[0].answer` is empty: write the answer the model should give (version 4 requires the key)"
    )


def test_an_empty_required_key_is_never_to_be_removed(make_leaf):
    """Every schema version requires task_description: P020 says what to write there (52
    files of the 2024 corpus leave it empty), and offers removal only for optional keys."""
    for version in (1, 2, 3, 4):
        text = skill_text(version=version if version > 1 else None).replace(
            "task_description: Describe an animal in one sentence.", "task_description: ''"
        )
        found = findings_of(make_leaf(f"compositional_skills/a/v{version}", text))
        assert rules(found) == ["P020"], version
        assert "remove" not in found[0].message
        assert f"write one or two sentences on what the skill teaches (version {version} requires" in found[0].message
    optional = skill_text().replace("    answer: The otter", "    context: ''\n    answer: The otter")
    found = findings_of(make_leaf("compositional_skills/a/optional", optional))
    assert [f.message for f in found] == ["`seed_examples[0].context` is empty: write the text or remove the key"]


def test_a_context_several_seeds_share_counts_once_in_the_skill_budget(make_leaf):
    """InstructLab's grounded skills repeat one long context in each seed: 5 x 600 words
    counted once is 600 + the pairs, under 2300; five different ones are over."""
    passage = " ".join(f"word{n}" for n in range(600))

    def grounded(contexts: list[str]) -> str:
        seeds = "".join(
            f"  - context: {context}\n    question: What is point {n} of the passage?\n"
            f"    answer: Point {n} is word{n}.\n"
            for n, context in enumerate(contexts)
        )
        return f"created_by: tester\nversion: 4\ntask_description: Read a passage.\nseed_examples:\n{seeds}"

    assert findings_of(make_leaf("compositional_skills/grounded/shared", grounded([passage] * 5))) == []
    different = [f"{passage} variant{n}" for n in range(5)]
    found = findings_of(make_leaf("compositional_skills/grounded/different", grounded(different)))
    assert rules(found) == ["P012"] and "3060 words" in found[0].message


def test_real_files_get_corrected_messages(tmp_path):
    """On the 147 files of the 2024 corpus: the 22 grounded extraction skills pass the skill
    budget but one (whose answers alone are long), P020 never says to remove a required key,
    and the escaped private-use characters are named, each one, where they are written."""
    from support.leaves import CORPUS_2024, need

    report = validate_paths([need(CORPUS_2024)])
    found = [f for file in report.files for f in file.findings]
    budget = [f.path for f in found if f.rule == "P012"]
    assert [path.split("2024-08/")[1] for path in budget] == [
        "compositional_skills/extraction/technical_paper/equations/markdown/qna.yaml"
    ]
    empties = [f for f in found if f.rule == "P020"]
    assert len(empties) == 52 and not [f for f in empties if "remove" in f.message]
    escaped = [f for f in found if f.rule == "Y015"]
    assert len(escaped) == 15
    for f in escaped:
        assert all(code in f.message for code in ("U+F020", "U+F0C9", "U+F0C8")), f.message
        line = Path(f.path).read_text(encoding="utf-8").splitlines()[f.line - 1]
        assert line[f.column - 1 :].startswith(("\\uF020", "\\uF0C9", "\\uF0C8")), (f, line)


def test_exact_and_near_duplicate_seeds(make_leaf):
    exact = skill_text().replace("Describe the heron in one sentence.", "describe the OTTER  in one sentence.")
    found = findings_of(make_leaf("compositional_skills/a/exact", exact))
    assert rules(found) == ["P030"] and found[0].line == 7 and "line 5" in found[0].message
    near = skill_text(seeds=5).replace(
        "Describe the heron in one sentence.\n    answer: The heron is an animal called heron with 5 letters.",
        "Describe the otter in one short sentence.\n    answer: The otter is an animal called otter with 5 letters.",
    )
    found = findings_of(make_leaf("compositional_skills/a/near", near))
    assert rules(found) == ["P031"] and found[0].severity == "warning" and found[0].line == 7


def test_one_question_asked_of_many_contexts_is_not_a_duplicate(make_leaf):
    text = (
        "\n".join(
            [
                "created_by: tester",
                "version: 4",
                "task_description: Rewrite a sentence.",
                "seed_examples:",
                *[
                    f"  - context: Sentence number {n} about {animal}.\n    question: Rewrite this sentence.\n"
                    f"    answer: Rewritten sentence {n} about {animal}."
                    for n, animal in enumerate("abcde")
                ],
            ]
        )
        + "\n"
    )
    assert findings_of(make_leaf("compositional_skills/grounded/rewrite", text)) == []


def test_attribution_and_license(make_leaf):
    assert rules(findings_of(make_leaf("compositional_skills/a/none", skill_text(), attribution=None))) == ["P040"]
    real_style = (
        "Title of work: Black-capped chickadee\nLicense of the work: CC-BY-SA-4.0\nCreator names: Wikipedia Authors\n"
    )
    assert findings_of(make_leaf("compositional_skills/a/real", skill_text(), attribution=real_style)) == []
    spaced = "License of the work: CC BY-SA 4.0 International\n"
    assert findings_of(make_leaf("compositional_skills/a/spaced", skill_text(), attribution=spaced)) == []
    non_commercial = "Title of work: synonyms\nLicense of the work: CC BY-NC-SA 4.0\n"
    found = findings_of(make_leaf("compositional_skills/a/nc", skill_text(), attribution=non_commercial))
    assert rules(found) == ["P041"] and "CC BY-NC-SA 4.0" in found[0].message
    assert "not in [validate] licenses of taxon.toml (CC0-1.0, " in found[0].message
    silent = "Title of work: something\nCreator names: someone\n"
    found = findings_of(make_leaf("compositional_skills/a/silent", skill_text(), attribution=silent))
    assert rules(found) == ["P041"] and "names no license" in found[0].message
    assert "[validate] licenses" in found[0].message


def test_file_names_other_than_qna_yaml_are_found_and_flagged(make_leaf, tmp_path):
    make_leaf("compositional_skills/a/yml", skill_text(), name="qna.yml")
    make_leaf("compositional_skills/a/upper", skill_text().replace("Describe the", "Sketch the"), name="QnA.yaml")
    report = validate_paths([tmp_path / "taxonomy"])
    assert {f.path.split("taxonomy/")[1]: rules(f.findings) for f in report.files} == {
        "compositional_skills/a/upper/QnA.yaml": ["P050"],
        "compositional_skills/a/yml/qna.yml": ["P050"],
    }


def test_folder_names_and_kind_folder(make_leaf, tmp_path):
    found = findings_of(make_leaf("compositional_skills/Writing-Tips/ok_part", skill_text()))
    assert rules(found) == ["P051"] and "'writing_tips'" in found[0].message
    stray = tmp_path / "elsewhere" / "qna.yaml"
    stray.parent.mkdir()
    stray.write_text(skill_text())
    assert rules(findings_of(stray)) == ["P052"]


def test_document_references(make_leaf):
    def document(repo, commit, pattern):
        return f"document:\n  repo: {repo}\n  commit: {commit}\n  patterns:\n    - {pattern}"

    good_sha = "0123456789abcdef0123456789abcdef01234567"
    text = knowledge_text(version=3, document=document("http://example.org/docs", "abc1234", "../secret.md"))
    found = findings_of(make_leaf("knowledge/a/refs", text))
    assert rules(found) == ["P060", "P061", "P062"]
    assert [f.line for f in found] == [52, 53, 55]
    text = knowledge_text(document=document("http://example.org/docs", good_sha, "/etc/passwd"))
    found = findings_of(make_leaf("knowledge/a/refs4", text), latest=True)
    assert rules(found) == ["P060", "P062"]  # the schema's own pattern errors are not repeated
    found = findings_of(make_leaf("knowledge/a/missing_doc", knowledge_text()))
    assert rules(found) == ["P063"] and "animals.md" in found[0].message


def test_same_question_in_two_leaves_warns_naming_both(make_leaf, tmp_path):
    first = make_leaf("compositional_skills/a/first", skill_text())
    other = (
        skill_text()
        .replace("heron", "crane")
        .replace("badger", "mole")
        .replace("falcon", "eagle")
        .replace("salamander", "newt")
    )
    second = make_leaf("compositional_skills/a/second", other)
    report = validate_paths([tmp_path / "taxonomy"])
    by_path = {f.path: f.findings for f in report.files}
    assert rules(by_path[str(first)]) == ["T001"] and str(second) in by_path[str(first)][0].message
    assert rules(by_path[str(second)]) == ["T001"] and str(first) in by_path[str(second)][0].message
    assert by_path[str(first)][0].line == 5 and report.errors == 0


def test_leaves_whose_seeds_nearly_coincide_warn_once_per_pair(make_leaf, tmp_path):
    first = make_leaf("compositional_skills/a/first", skill_text())
    copy = tmp_path / "taxonomy/foundational_skills/b/copy"
    shutil.copytree(first.parent, copy)
    report = validate_paths([tmp_path / "taxonomy"])
    for file, other in ((report.files[0], copy / "qna.yaml"), (report.files[1], first)):
        assert rules(file.findings) == ["T002"] and str(other) in file.findings[0].message
    assert report.warnings == 2 and report.errors == 0


def _many_leaves(make_leaf, tmp_path: Path) -> Path:
    for number in range(6):
        make_leaf(f"compositional_skills/many/leaf_{number}", skill_text().replace("Describe", f"Describe {number}"))
    make_leaf("compositional_skills/many/broken", "a: [\n")
    (tmp_path / "taxonomy/compositional_skills/many/notes.txt").write_text("a stray file\n")  # T003
    return tmp_path / "taxonomy"


def test_a_large_tree_checked_in_processes_reports_the_same(make_leaf, tmp_path):
    taxonomy = _many_leaves(make_leaf, tmp_path)
    serial = validate_paths([taxonomy])
    parallel = validate_paths([taxonomy], settings=ValidateSettings(parallel_from=2, workers=2))
    assert parallel.to_json() == serial.to_json() and serial.errors == 2  # the broken leaf, the stray file
    assert [report.findings[0].rule for report in serial.tree] == ["T003"]


def test_a_worker_that_dies_costs_time_not_findings(make_leaf, tmp_path, monkeypatch):
    taxonomy = _many_leaves(make_leaf, tmp_path)
    serial = validate_paths([taxonomy])
    parent, check_file = os.getpid(), engine.check_file

    def dies_in_a_worker(*args, **kwargs):
        if os.getpid() != parent:
            os._exit(1)  # as if killed (out of memory) on the first file it took
        return check_file(*args, **kwargs)

    monkeypatch.setattr(engine, "check_file", dies_in_a_worker)
    parallel = validate_paths([taxonomy], settings=ValidateSettings(parallel_from=2, workers=3))
    assert parallel.to_json() == serial.to_json()


def test_taxon_toml_states_every_default():
    import tomllib

    from support.paths import REPO

    assert tomllib.loads((REPO / "taxon.toml").read_text())["validate"] == plain(DEFAULTS)


def test_findings_of_one_rule_are_capped_per_file_with_a_count(make_leaf):
    text = skill_text() + "".join(f"extra_{n}: ''\n" for n in range(30))
    found = findings_of(make_leaf("compositional_skills/a/flood", text))
    empties = [f for f in found if f.rule == "P020"]
    assert len(empties) == DEFAULTS.max_findings_per_rule
    assert empties[-1].message.endswith("(and 10 more findings of P020 in this file)")
    assert len([f for f in found if f.rule == "S002"]) == DEFAULTS.max_findings_per_rule
